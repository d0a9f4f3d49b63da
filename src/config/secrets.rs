//! Finds the secret literals config files hold before anything else reads them, so the redaction point knows them
//! even when a file does not parse or the block around them is refused. A value counts when it follows a name that
//! looks like a key (a password, a token, a misspelt `auth_key`), the `default` of a file that declares a sensitive
//! variable, or the name of a sensitive variable (a variable file left in the config directory): a `"string"`
//! (closed or not), a `'string'`, a heredoc, or the strings of a `[list]` or `{object}`; with or without `=` (or `:`),
//! anywhere on a line (inside an object, after a comment sign). Expressions (`env("NAME")`, `var.x`) are not secret
//! text.

use std::collections::{BTreeSet, HashMap};

/// The most text a `[list]` or `{object}` value is searched for strings.
const COLLECTION_LIMIT: usize = 64 * 1024;

/// Whether an attribute name looks like it holds a secret.
fn secret_name(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["key", "secret", "pass", "token"]
        .iter()
        .any(|w| k.contains(w))
        || strsim::jaro_winkler(&k, "auth_key") > 0.8
}

/// Whether a line says `sensitive = true`.
fn says_sensitive(line: &str) -> bool {
    let l = line.trim();
    l.starts_with("sensitive")
        && l.split('=')
            .nth(1)
            .is_some_and(|v| v.trim().starts_with("true"))
}

/// The names of the variables `text` declares `sensitive = true` (line by line; it need not parse).
pub fn sensitive_variables(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.trim().strip_prefix("variable") {
            current = rest.split('"').nth(1).map(str::to_string);
        } else if says_sensitive(line) {
            out.extend(current.take());
        }
    }
    out
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

/// Skips spaces and tabs (not newlines) from `i`.
fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    i
}

/// The string starting at the quote `b[start]`: its value (unescaped), its raw text, where it ends (after the
/// closing quote, or at the end of the line) and whether it was closed.
fn string_at(text: &str, start: usize) -> (String, String, usize, bool) {
    let quote = text.as_bytes()[start] as char;
    let mut value = String::new();
    let mut chars = text[start + 1..].char_indices();
    while let Some((i, c)) = chars.next() {
        let at = start + 1 + i;
        match c {
            '\n' => {
                let raw = text[start + 1..at].trim_end_matches('\r').to_string();
                return (value.trim_end().to_string(), raw, at, false);
            }
            c if c == quote => return (value, text[start + 1..at].to_string(), at + 1, true),
            '\\' if quote == '"' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, 'r')) => value.push('\r'),
                Some((_, u @ ('u' | 'U'))) => {
                    let n = if u == 'u' { 4 } else { 8 };
                    let hex: String = chars.clone().take(n).map(|(_, h)| h).collect();
                    match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                        Some(ch) if hex.len() == n => {
                            value.push(ch);
                            for _ in 0..n {
                                chars.next();
                            }
                        }
                        _ => value.push(u),
                    }
                }
                Some((_, other)) => value.push(other),
                None => {}
            },
            c => value.push(c),
        }
    }
    let raw = text[start + 1..].to_string();
    (value.trim_end().to_string(), raw, text.len(), false)
}

/// Adds a string's value (and its raw text when it differs) to `out`.
fn push_string(text: &str, start: usize, out: &mut Vec<String>) -> usize {
    let (value, raw, end, _) = string_at(text, start);
    if raw != value {
        out.push(raw);
    }
    out.push(value);
    end
}

/// The secret value that follows a secret name ending at `i`, if it is literal text.
fn value_after(text: &str, i: usize, out: &mut Vec<String>) {
    let b = text.as_bytes();
    let mut j = skip_blanks(b, i);
    if b[j..].starts_with(b"==") {
        return;
    }
    if j < b.len() && (b[j] == b'=' || b[j] == b':') {
        j = skip_blanks(b, j + 1);
    }
    let Some(&c) = b.get(j) else {
        return;
    };
    match c {
        b'"' | b'\'' => {
            push_string(text, j, out);
        }
        b'<' if b[j..].starts_with(b"<<") => heredoc(text, j + 2, out),
        b'[' | b'{' => {
            let mut depth = 0usize;
            let mut k = j;
            let end = (j + COLLECTION_LIMIT).min(b.len());
            while k < end {
                match b[k] {
                    b'[' | b'{' => depth += 1,
                    b']' | b'}' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return;
                        }
                    }
                    b'"' => {
                        k = push_string(text, k, out);
                        continue;
                    }
                    _ => {}
                }
                k += 1;
            }
        }
        _ => {}
    }
}

/// A heredoc whose `<<` ends at `i`: every line of its body (trimmed), and the whole body.
fn heredoc(text: &str, i: usize, out: &mut Vec<String>) {
    let rest = &text[i..];
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let delimiter: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if delimiter.is_empty() {
        return;
    }
    let Some(newline) = rest.find('\n') else {
        return;
    };
    let mut body = Vec::new();
    for line in rest[newline + 1..].lines() {
        if line.trim() == delimiter {
            // An unclosed heredoc is a syntax error shown at its end, not a reason to mask the rest of the file.
            out.extend(body.iter().map(|l: &&str| l.trim().to_string()));
            out.push(body.join("\n"));
            return;
        }
        body.push(line);
    }
}

/// The secret literals in `text` (it need not parse). `sensitive` names the sensitive variables of the whole
/// config, whose values may be written as `name = "..."` in any file.
pub fn literals(text: &str, sensitive: &BTreeSet<String>) -> Vec<String> {
    // Any `sensitive = true`, even in a variable block whose label is missing.
    let declares_sensitive = text.lines().any(says_sensitive);
    let is_secret = |key: &str| {
        secret_name(key) || (declares_sensitive && key == "default") || sensitive.contains(key)
    };
    // A large config repeats a few names thousands of times: each is judged once.
    let mut judged: HashMap<&str, bool> = HashMap::new();
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if is_ident_start(c) && (i == 0 || !is_ident(b[i - 1])) {
            let start = i;
            while i < b.len() && is_ident(b[i]) {
                i += 1;
            }
            let name = &text[start..i];
            if *judged.entry(name).or_insert_with(|| is_secret(name)) {
                value_after(text, i, &mut out);
            }
            continue;
        }
        if c == b'"' {
            // A quoted name (`"auth_key" = ...`), or a string to step over.
            let (value, _, end, closed) = string_at(text, i);
            let after = skip_blanks(b, end);
            if closed
                && b.get(after).is_some_and(|&s| s == b'=' || s == b':')
                && !b[after..].starts_with(b"==")
                && is_secret(&value)
            {
                value_after(text, end, &mut out);
            }
            i = end;
            continue;
        }
        i += 1;
    }
    out.retain(|s| !s.trim().is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<String> {
        literals(text, &BTreeSet::new())
    }

    #[test]
    fn finds_key_literals_even_in_files_that_do_not_parse() {
        let text = "virtual_interface \"x\" {\n  bgp_peer \"a\" {\n    auth_key = \"s3cr3t-\\\"one\\\"\"\n    authkey = \"misspelt-2\"\n    asn = 65000\n    region = \"us-east-1\"\n  }\n  broken {{{\n";
        let got = found(text);
        assert!(got.contains(&"s3cr3t-\"one\"".to_string()), "{got:?}");
        assert!(got.contains(&"misspelt-2".to_string()), "{got:?}");
        assert!(!got.iter().any(|s| s.contains("us-east-1")), "{got:?}");
    }

    #[test]
    fn finds_keys_however_the_line_is_broken() {
        for (line, key) in [
            ("auth_key = \"unterminated-1", "unterminated-1"),
            ("auth_key \"no-equals-22\"", "no-equals-22"),
            ("auth_key: \"colon-333\"", "colon-333"),
            ("auth_key = 'single-4444'", "single-4444"),
            ("peer = { auth_key = \"in-object-5\" }", "in-object-5"),
            ("# old: auth_key = \"commented-6\"", "commented-6"),
            ("\"auth_key\" = \"quoted-name-7\"", "quoted-name-7"),
            ("auth_key = \"esc-\\u0041-88\"", "esc-A-88"),
        ] {
            let got = found(&format!("  {line}\n"));
            assert!(got.contains(&key.to_string()), "{line}: {got:?}");
        }
        let heredoc = found("  auth_key = <<-EOT\n    heredoc-line-9\n  EOT\n");
        assert!(
            heredoc.contains(&"heredoc-line-9".to_string()),
            "{heredoc:?}"
        );
    }

    #[test]
    fn defaults_count_only_in_a_file_with_a_sensitive_variable() {
        let plain = "variable \"asn\" {\n  default = \"65000\"\n}\n";
        assert!(found(plain).is_empty());
        let secret = "variable \"k\" {\n  sensitive = true\n  default = \"hunter2-hunter2\"\n}\n";
        assert_eq!(found(secret), vec!["hunter2-hunter2"]);
        let list = "variable \"k\" {\n  sensitive = true\n  default = [\"in-a-list-1\",\n \"in-a-list-2\"]\n}\n";
        assert_eq!(found(list), vec!["in-a-list-1", "in-a-list-2"]);
        // An expression is not a literal.
        assert!(found("auth_key = env(\"X_ENVIRONMENT\")\n").is_empty());
        assert!(found("auth_key = file(\"secrets/eu.key\")\n").is_empty());
    }

    #[test]
    fn a_sensitive_variable_s_value_counts_in_any_file() {
        let decl = "variable \"eu\" {\n  type      = string\n  sensitive = true\n}\n";
        let names: BTreeSet<String> = sensitive_variables(decl).into_iter().collect();
        assert_eq!(names, BTreeSet::from(["eu".to_string()]));
        assert_eq!(
            literals("eu = \"from-a-var-file\"\n", &names),
            vec!["from-a-var-file"]
        );
        assert!(literals("eu = \"from-a-var-file\"\n", &BTreeSet::new()).is_empty());
    }
}
