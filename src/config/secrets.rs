//! Finds the secret literals a config file holds before anything else reads it, so the redaction point knows them
//! even when the file does not parse or the block around them is refused: the string values of `auth_key` (and of
//! any attribute whose name looks like a key, a password, a token or a misspelt `auth_key`), and the defaults of a
//! file that declares a sensitive variable.

/// Whether an attribute name looks like it holds a secret.
fn secret_name(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["key", "secret", "pass", "token"]
        .iter()
        .any(|w| k.contains(w))
        || strsim::jaro_winkler(&k, "auth_key") > 0.8
}

/// The string literal at the start of `text` (after `"`), unescaped, if it is closed on this line.
fn literal(text: &str) -> Option<String> {
    let rest = text.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// The secret literals in `text`, line by line (it need not parse).
pub fn literals(text: &str) -> Vec<String> {
    let declares_sensitive = text.lines().any(|l| {
        let l = l.trim();
        l.starts_with("sensitive")
            && l.split('=')
                .nth(1)
                .is_some_and(|v| v.trim().starts_with("true"))
    });
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim().trim_matches('"');
        if !(secret_name(key) || (declares_sensitive && key == "default")) {
            continue;
        }
        if let Some(v) = literal(value.trim()) {
            out.push(v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_key_literals_even_in_files_that_do_not_parse() {
        let text = "virtual_interface \"x\" {\n  bgp_peer \"a\" {\n    auth_key = \"s3cr3t-\\\"one\\\"\"\n    authkey = \"misspelt-2\"\n    asn = 65000\n    region = \"us-east-1\"\n  }\n  broken {{{\n";
        assert_eq!(literals(text), vec!["s3cr3t-\"one\"", "misspelt-2"]);
    }

    #[test]
    fn defaults_count_only_in_a_file_with_a_sensitive_variable() {
        let plain = "variable \"asn\" {\n  default = \"65000\"\n}\n";
        assert!(literals(plain).is_empty());
        let secret = "variable \"k\" {\n  sensitive = true\n  default = \"hunter2-hunter2\"\n}\n";
        assert_eq!(literals(secret), vec!["hunter2-hunter2"]);
        // An expression is not a literal.
        assert!(literals("auth_key = env(\"X\")\n").is_empty());
    }
}
