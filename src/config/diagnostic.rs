//! Located config errors: file, line, column, a source snippet with the span marked, the rule and a hint.

use std::fmt;
use std::io::Write as _;
use std::ops::Range;

use codespan_reporting::diagnostic::{Diagnostic as Report, Label};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor};

use super::SourceFile;
use crate::model::Location;

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
        let loc = e.location();
        Diagnostic::new(
            src.at(loc.line(), loc.column()),
            "syntax",
            format!("invalid HCL: {}", e.message()),
        )
        .with_hint("the line is not shown: a variable file holds values that may be secret")
    }

    /// A parse error from hcl-edit, located at its offset, with the offending line as the hint.
    pub fn syntax(src: &SourceFile, e: &hcl_edit::parser::Error) -> Self {
        let loc = e.location();
        let mut d = Diagnostic::new(
            src.at(loc.line(), loc.column()),
            "syntax",
            format!("invalid HCL: {}", e.message()),
        );
        d.span = Some(loc.offset()..loc.offset());
        d.with_hint(format!("this line reads: {}", e.line().trim()))
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: error[{}]: {}",
            self.location, self.rule, self.message
        )?;
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
