//! Where output goes: data (plans, summaries) to stdout, status and progress to stderr, so pipes get only data;
//! all of it through the redaction point (`redact`).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

#[derive(Clone, Copy, Debug)]
pub struct Printer {
    verbosity: Verbosity,
}

impl Printer {
    pub fn new(verbosity: Verbosity) -> Printer {
        Printer { verbosity }
    }

    /// Data for stdout. A closed pipe is not an error worth a message; the caller decides.
    pub fn data(&self, text: &str) -> std::io::Result<()> {
        crate::redact::stdout(text)
    }

    /// A status line for stderr, unless quiet.
    pub fn status(&self, line: &str) {
        if self.verbosity != Verbosity::Quiet {
            crate::redact::stderr(&format!("{line}\n"));
        }
    }

    /// An error report for stderr, shown even when quiet.
    pub fn error(&self, text: &str) {
        crate::redact::stderr(text);
    }

    /// A warning line for stderr, shown even when quiet: something the user must not miss.
    pub fn warning(&self, line: &str) {
        crate::redact::stderr(&format!("{line}\n"));
    }

    /// A detail line shown only with `-v`.
    pub fn detail(&self, line: &str) {
        if self.verbosity == Verbosity::Verbose {
            crate::redact::stderr(&format!("{line}\n"));
        }
    }
}
