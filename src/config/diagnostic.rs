//! Located config errors: file, line, column, a source snippet with the span marked, the rule and a hint.

use std::fmt;
use std::io::Write as _;
use std::ops::Range;

use codespan_reporting::diagnostic::{Diagnostic as Report, Label};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor};

use super::SourceFile;
use crate::model::Location;

/// The "file" of a mistake made on the command line or in the environment.
const COMMAND_LINE: &str = "(command line)";

/// One config mistake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub location: Location,
    /// Byte span in the file, when known, for the snippet.
    pub span: Option<Range<usize>>,
    /// A stable kebab-case rule id, e.g. `ipv6-addresses`.
    pub rule: &'static str,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(location: Location, rule: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            location,
            span: None,
            rule,
            message: message.into(),
            hint: None,
        }
    }

    /// A mistake in a command-line flag or environment variable (`--var`, `DXCTL_VAR_*`): no file to point at.
    pub fn on_command_line(rule: &'static str, message: impl Into<String>) -> Self {
        Diagnostic::new(
            Location {
                file: COMMAND_LINE.into(),
                line: 0,
                column: 0,
            },
            rule,
            message,
        )
    }

    /// Whether the mistake is on the command line (or in the environment) rather than in a file.
    pub fn is_command_line(&self) -> bool {
        self.location.file == COMMAND_LINE && self.location.line == 0
    }

    /// A diagnostic at a span of `src`.
    pub fn at(
        src: &SourceFile,
        span: Option<Range<usize>>,
        rule: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            location: src.span_location(span.clone()),
            span,
            rule,
            message: message.into(),
            hint: None,
        }
    }

    /// A parse error of a file whose text is never shown (a `--var-file`: its lines are values, often secret).
    pub fn syntax_unquoted(src: &SourceFile, e: &hcl_edit::parser::Error) -> Self {
        let (location, message, _, _) = syntax_problem(src, e);
        Diagnostic::new(location, "syntax", message)
            .with_hint("the line is not shown: a variable file holds values that may be secret")
    }

    /// A parse error from hcl-edit, located where the mistake is: at the opening quote of a string left unclosed
    /// (the parser notices it only lines later), else at the parser's offset with the offending line as the hint.
    pub fn syntax(src: &SourceFile, e: &hcl_edit::parser::Error) -> Self {
        let (location, message, offset, unterminated) = syntax_problem(src, e);
        let mut d = Diagnostic::new(location, "syntax", message);
        d.span = Some(offset..offset);
        match unterminated {
            true => d.with_hint(
                "a quoted string must end on the line it starts on: add the closing `\"` (use a heredoc, <<EOT, \
                 for text on several lines)",
            ),
            false => d.with_hint(format!("this line reads: {}", e.line().trim())),
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Where a syntax error is, what it is, its byte offset, and whether it is an unclosed string: one before the
/// parser's position is the mistake (the parser reads on into the following lines and stops somewhere later).
fn syntax_problem(
    src: &SourceFile,
    e: &hcl_edit::parser::Error,
) -> (Location, String, usize, bool) {
    let loc = e.location();
    match unterminated_string(&src.text).filter(|at| *at <= loc.offset()) {
        Some(at) => (
            src.span_location(Some(at..at + 1)),
            "invalid HCL: unterminated string".to_string(),
            at,
            true,
        ),
        None => (
            src.at(loc.line(), loc.column()),
            format!("invalid HCL: {}", e.message()),
            loc.offset(),
            false,
        ),
    }
}

/// The byte offset of the opening quote of the first quoted string that is not closed on its line, outside
/// comments and heredocs. Quoted HCL strings cannot span lines; interpolations (`${…}`, `%{…}`) may hold strings.
pub fn unterminated_string(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'#' => i = line_end(b, i),
            b'/' if b.get(i + 1) == Some(&b'/') => i = line_end(b, i),
            b'/' if b.get(i + 1) == Some(&b'*') => {
                // An unclosed comment is the parser's to report.
                i = text[i + 2..].find("*/").map(|n| i + 2 + n + 2)?;
            }
            b'<' if b.get(i + 1) == Some(&b'<') => i = heredoc_end(text, i).unwrap_or(i + 2),
            b'"' => match string_end(b, i) {
                Ok(end) => i = end,
                Err(at) => return Some(at),
            },
            _ => i += 1,
        }
    }
    None
}

fn line_end(b: &[u8], from: usize) -> usize {
    b[from..]
        .iter()
        .position(|c| *c == b'\n')
        .map_or(b.len(), |n| from + n)
}

/// After the closing line of a heredoc that starts at `start` (`<<EOT` or `<<-EOT`), or `None` when `<<` starts
/// none.
fn heredoc_end(text: &str, start: usize) -> Option<usize> {
    let rest = &text[start + 2..];
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let ident_len = rest
        .bytes()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
        .count();
    let (ident, after) = rest.split_at(ident_len);
    if ident.is_empty()
        || !after
            .trim_start_matches([' ', '\t', '\r'])
            .starts_with('\n')
    {
        return None;
    }
    let mut at = text.len() - after.len();
    for line in after.split_inclusive('\n').skip(1) {
        at += line.len();
        if line.trim() == ident {
            return Some(at);
        }
    }
    // Unclosed: the parser reports it.
    Some(text.len())
}

/// The quoted string opening at `start` (a `"`): `Ok` with the offset after its closing quote, or `Err` with the
/// offset of the opening quote of the string (this one or one inside an interpolation) that is not closed on its
/// line.
fn string_end(b: &[u8], start: usize) -> Result<usize, usize> {
    let mut j = start + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Ok(j + 1),
            b'\n' => return Err(start),
            b'$' | b'%' if b.get(j + 1) == Some(&b[j]) && b.get(j + 2) == Some(&b'{') => j += 3,
            b'$' | b'%' if b.get(j + 1) == Some(&b'{') => {
                // An interpolation: braces nest, and its strings are strings of their own.
                let mut depth = 0usize;
                j += 1;
                loop {
                    match b.get(j) {
                        None | Some(b'\n') => return Err(start),
                        Some(b'{') => depth += 1,
                        Some(b'}') => {
                            depth -= 1;
                            if depth == 0 {
                                j += 1;
                                break;
                            }
                        }
                        Some(b'"') => {
                            j = string_end(b, j)?;
                            continue;
                        }
                        Some(_) => {}
                    }
                    j += 1;
                }
            }
            _ => j += 1,
        }
    }
    Err(start)
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_command_line() {
            write!(f, "{COMMAND_LINE}: error[{}]: {}", self.rule, self.message)?;
        } else {
            write!(
                f,
                "{}: error[{}]: {}",
                self.location, self.rule, self.message
            )?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every mistake found in one load, reported together, with the sources needed for snippets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
    /// (display path, text) of every file read.
    pub sources: Vec<(String, String)>,
}

impl Diagnostics {
    pub fn single(d: Diagnostic) -> Diagnostics {
        Diagnostics {
            items: vec![d],
            sources: vec![],
        }
    }

    /// Renders like a compiler: `error[rule]: message`, then `--> file:line:col`, the marked snippet and the hint.
    /// Colour and box-drawing characters only when `color`; plain ASCII otherwise.
    pub fn render(&self, color: bool) -> String {
        let mut files = SimpleFiles::new();
        // Snippets show the sources with every known secret starred out (offsets unchanged).
        let ids: Vec<(&str, usize)> = self
            .sources
            .iter()
            .map(|(path, text)| {
                let shown = crate::redact::mask_in_place(text);
                (path.as_str(), files.add(path.clone(), shown))
            })
            .collect();
        let config = if color {
            term::Config::default()
        } else {
            term::Config {
                chars: term::Chars::ascii(),
                ..term::Config::default()
            }
        };
        let mut out = if color {
            termcolor::Buffer::ansi()
        } else {
            termcolor::Buffer::no_color()
        };
        for d in &self.items {
            let file = ids
                .iter()
                .find(|(p, _)| *p == d.location.file)
                .map(|(_, id)| *id);
            let emitted = match (file, &d.span) {
                (Some(id), Some(span)) => {
                    let mut report = Report::error()
                        .with_code(d.rule)
                        .with_message(&d.message)
                        .with_labels(vec![Label::primary(id, span.clone())]);
                    if let Some(hint) = &d.hint {
                        report = report.with_notes(vec![format!("hint: {hint}")]);
                    }
                    term::emit_to_write_style(&mut out, &config, &files, &report).is_ok()
                }
                _ => false,
            };
            if !emitted {
                let _ = writeln!(out, "{d}\n");
            }
        }
        let n = self.items.len();
        let _ = write!(
            out,
            "{n} configuration error{}; nothing was sent to AWS",
            if n == 1 { "" } else { "s" }
        );
        crate::redact::scrub(&String::from_utf8_lossy(out.as_slice())).into_owned()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::unterminated_string;

    #[test]
    fn an_unclosed_string_is_found_where_it_opens() {
        let cases: &[(&str, Option<usize>)] = &[
            ("a = \"x\"\nb = \"y\"\n", None),
            ("a = \"x\nb = \"y\"\n", Some(4)),
            ("a = 1\nb = \"y\nc = 2\n", Some(10)),
            // Quotes in comments and heredocs are not strings.
            ("# it's \"quoted\na = 1\n", None),
            ("// \"\na = 1\n", None),
            ("/* \"\n \" */ a = \"x\n", Some(15)),
            ("a = <<EOT\n\"\nEOT\nb = \"z\"\n", None),
            ("a = <<-EOT\n  \"\n  EOT\nb = \"z\n", Some(25)),
            // Escapes and interpolations holding strings.
            ("a = \"say \\\"hi\\\"\"\n", None),
            ("a = \"${var.x == \"}\" ? 1 : 2}\"\n", None),
            ("a = \"$${not an interpolation\"\n", None),
            ("a = \"${upper(\"x)}\"\n", Some(4)),
            ("a = \"x", Some(4)),
        ];
        for (text, want) in cases {
            assert_eq!(unterminated_string(text), *want, "{text:?}");
        }
    }
}
