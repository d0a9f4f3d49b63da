//! Where output goes: data (plans, summaries) to stdout, status and progress to stderr, so pipes get only data.

use std::io::Write;

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
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()
    }

    /// A status line for stderr, unless quiet.
    pub fn status(&self, line: &str) {
        if self.verbosity != Verbosity::Quiet {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }

    /// A detail line shown only with `-v`.
    pub fn detail(&self, line: &str) {
        if self.verbosity == Verbosity::Verbose {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }
}
