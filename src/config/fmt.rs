//! Canonical formatting on hcl-edit's lossless tree: two-space indents, aligned `=`, one blank line at most, comments kept.

use hcl_edit::repr::{Decor, Decorate};
use hcl_edit::structure::{Body, Structure};

/// Formats one file's text. Idempotent; keeps every comment.
pub fn format(text: &str) -> Result<String, hcl_edit::parser::Error> {
    let mut body = hcl_edit::parser::parse_body(text)?;
    format_body(&mut body, 0);
    let mut out = body.to_string();
    // One newline at the end of the file, none for an empty one.
    out.truncate(out.trim_end().len());
    if !out.is_empty() {
        out.push('\n');
    }
    Ok(out)
}

fn format_body(body: &mut Body, depth: usize) {
    let indent = "  ".repeat(depth);
    let n = body.len();
    // Which structures start a new alignment group: blocks, and attributes after a blank line or a block.
    let mut widths = vec![0usize; n];
    let mut group_start = 0;
    for i in 0..=n {
        let breaks = match body.get(i) {
            None => true,
            Some(Structure::Block(_)) => true,
            Some(attribute @ Structure::Attribute(_)) => {
                i == 0
                    || matches!(body.get(i - 1), Some(Structure::Block(_)))
                    || has_blank_line(prefix(attribute.decor()))
            }
        };
        if breaks {
            let width = (group_start..i)
                .filter_map(|j| body.get(j).and_then(Structure::as_attribute))
                .map(|a| a.key.as_str().len())
                .max()
                .unwrap_or(0);
            for w in widths.iter_mut().take(i).skip(group_start) {
                *w = width;
            }
            group_start = i;
        }
    }
    for (i, width) in widths.into_iter().enumerate() {
        let Some(structure) = body.get_mut(i) else {
            break;
        };
        let new_prefix = normalize_lines(prefix(structure.decor()), &indent, i > 0);
        let new_suffix = inline_comment(suffix(structure.decor()));
        structure.decor_mut().set_prefix(new_prefix);
        structure.decor_mut().set_suffix(new_suffix);
        match structure {
            Structure::Attribute(attr) => {
                let pad = " ".repeat(width.saturating_sub(attr.key.as_str().len()) + 1);
                attr.key.decor_mut().set_prefix("");
                attr.key.decor_mut().set_suffix(pad);
                let value_suffix = inline_comment(suffix(attr.value.decor()));
                attr.value.decor_mut().set_prefix(" ");
                attr.value.decor_mut().set_suffix(value_suffix);
            }
            Structure::Block(block) => {
                block.ident.decor_mut().set_prefix("");
                block.ident.decor_mut().set_suffix(" ");
                for label in &mut block.labels {
                    label.decor_mut().set_prefix("");
                    label.decor_mut().set_suffix(" ");
                }
                if block.body.is_empty()
                    && !has_comment(suffix(block.body.decor()))
                    && !has_comment(prefix(block.body.decor()))
                {
                    continue;
                }
                let open = inline_comment(prefix(block.body.decor()));
                let inner = "  ".repeat(depth + 1);
                let close = format!(
                    "{}{indent}",
                    normalize_lines(suffix(block.body.decor()), &inner, false)
                        .trim_end_matches([' '])
                );
                block.body.decor_mut().set_prefix(open);
                block.body.decor_mut().set_suffix(close);
                block.body.set_prefer_oneline(false);
                format_body(&mut block.body, depth + 1);
            }
        }
    }
}

fn prefix(decor: &Decor) -> &str {
    decor.prefix().map(|s| &**s).unwrap_or("")
}

fn suffix(decor: &Decor) -> &str {
    decor.suffix().map(|s| &**s).unwrap_or("")
}

fn has_comment(text: &str) -> bool {
    text.lines().any(|l| !l.trim().is_empty())
}

fn has_blank_line(prefix: &str) -> bool {
    prefix
        .split('\n')
        .rev()
        .skip(1)
        .any(|l| l.trim().is_empty())
}

/// Comment lines re-indented, blank lines collapsed to one (none at the start unless `keep_blank`), then the indent.
/// A `/* */` comment's body is kept byte for byte: only the whitespace around whole lines changes.
fn normalize_lines(text: &str, indent: &str, keep_blank: bool) -> String {
    let mut segments: Vec<&str> = logical_lines(text);
    let last = segments.pop().unwrap_or("");
    let mut out = String::new();
    let mut blank = false;
    let mut started = false;
    for line in segments {
        let line = line.trim();
        if line.is_empty() {
            blank = true;
            continue;
        }
        if blank && (started || keep_blank) {
            out.push('\n');
        }
        blank = false;
        started = true;
        out.push_str(indent);
        out.push_str(line);
        out.push('\n');
    }
    if blank && (started || keep_blank) {
        out.push('\n');
    }
    // Text before the structure on its own line (an inline `/* */` comment) stays, re-indented.
    let rest = last.trim();
    out.push_str(indent);
    if !rest.is_empty() {
        out.push_str(rest);
        out.push(' ');
    }
    out
}

/// `text` split at its newlines, except those inside a `/* */` comment (a `/*` after `#` or `//` opens none).
fn logical_lines(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    let mut line_comment = false;
    while i < b.len() {
        match b[i] {
            b'\n' => {
                out.push(&text[start..i]);
                start = i + 1;
                line_comment = false;
            }
            b'#' => line_comment = true,
            b'/' if b.get(i + 1) == Some(&b'/') => line_comment = true,
            b'/' if !line_comment && b.get(i + 1) == Some(&b'*') => {
                match text[i + 2..].find("*/") {
                    Some(n) => i += 2 + n + 1,
                    None => i = b.len(),
                }
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&text[start.min(text.len())..]);
    out
}

/// A trailing comment kept with one space before it; whitespace dropped.
fn inline_comment(text: &str) -> String {
    let t = text.trim();
    if t.is_empty() {
        String::new()
    } else {
        format!(" {t}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSY: &str = "# head comment\n\n\n\nprovider   \"aws\"   {\n region=\"us-east-1\" # where\n}\nvirtual_interface \"dxvif-a\" {\n      # the v6 peer\n  bgp_peer \"v6\"{\n address_family = \"ipv6\"\n        asn = 64600\n\n\n   auth_key = env(\"K\") // inline\n  # closing comment\n  }\n}\n# tail\n";

    #[test]
    fn formats_keeps_comments_and_is_idempotent() {
        let once = format(MESSY).unwrap();
        let expected = "# head comment\n\nprovider \"aws\" {\n  region = \"us-east-1\" # where\n}\nvirtual_interface \"dxvif-a\" {\n  # the v6 peer\n  bgp_peer \"v6\" {\n    address_family = \"ipv6\"\n    asn            = 64600\n\n    auth_key = env(\"K\") // inline\n    # closing comment\n  }\n}\n# tail\n";
        assert_eq!(once, expected, "got:\n{once}");
        assert_eq!(format(&once).unwrap(), once);
    }

    #[test]
    fn block_comment_bodies_are_left_alone() {
        let text = "provider \"aws\" {\n      /* keep\n         this   indent\n\t  and this\n   */\n region = \"us-east-1\"\n}\n/*\ntop\n  level */\nvariable \"x\" {\n  default = 1 /* a\n     b */\n}\n";
        let once = format(text).unwrap();
        let expected = "provider \"aws\" {\n  /* keep\n         this   indent\n\t  and this\n   */\n  region = \"us-east-1\"\n}\n/*\ntop\n  level */\nvariable \"x\" {\n  default = 1 /* a\n     b */\n}\n";
        assert_eq!(once, expected, "got:\n{once}");
        assert_eq!(format(&once).unwrap(), once);
        // A `/*` inside a line comment opens nothing.
        let text = "# not /* a comment\n  # still a line\nx = 1\n";
        assert_eq!(
            format(text).unwrap(),
            "# not /* a comment\n# still a line\nx = 1\n"
        );
    }

    #[test]
    fn syntax_errors_are_reported() {
        assert!(format("a = ").is_err());
    }
}
