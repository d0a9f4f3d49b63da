//! Where output goes: data (plans, summaries) to stdout, status and progress to stderr, so pipes get only data;
//! prompts on the terminal; colour decided once. All of it through the redaction point (`redact`).

use std::io::{BufRead, IsTerminal};

use crate::apply::{Bars, JsonLines, Lines, Progress};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// What the terminal allows, read once at start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Terminal {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

impl Terminal {
    /// The process's own streams.
    pub fn detect() -> Terminal {
        Terminal {
            stdin: std::io::stdin().is_terminal(),
            stdout: std::io::stdout().is_terminal(),
            stderr: std::io::stderr().is_terminal(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Printer {
    verbosity: Verbosity,
    terminal: Terminal,
    /// Colour allowed at all (no `--no-color`, no `NO_COLOR`); used only on a terminal.
    color: bool,
}

/// How apply reports progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressStyle {
    /// One JSON event per line on stdout (`--json`).
    Json,
    /// Live bars on a terminal, timestamped lines otherwise.
    Human,
}

impl Printer {
    pub fn new(verbosity: Verbosity, terminal: Terminal, color: bool) -> Printer {
        Printer {
            verbosity,
            terminal,
            color,
        }
    }

    /// Whether what goes to stdout may be coloured.
    pub fn color_stdout(&self) -> bool {
        self.color && self.terminal.stdout
    }

    /// Whether what goes to stderr may be coloured.
    pub fn color_stderr(&self) -> bool {
        self.color && self.terminal.stderr
    }

    /// How many columns stdout's terminal has; `None` when stdout is no terminal (a pipe takes any width).
    pub fn data_width(&self) -> Option<usize> {
        if !self.terminal.stdout {
            return None;
        }
        terminal_size::terminal_size_of(std::io::stdout())
            .map(|(terminal_size::Width(w), _)| usize::from(w))
            .filter(|&w| w > 0)
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

    /// Asks `question` on the terminal and returns the answer, or `None` when stdin is no terminal.
    pub fn prompt(&self, question: &str) -> std::io::Result<Option<String>> {
        if !self.terminal.stdin {
            return Ok(None);
        }
        crate::redact::stderr(question);
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        Ok(Some(answer))
    }

    /// The progress writer for an apply: JSON events on stdout, bars on a terminal, else timestamped lines (none
    /// when quiet).
    pub fn progress(&self, style: ProgressStyle) -> Box<dyn Progress> {
        match style {
            ProgressStyle::Json => Box::new(JsonLines::new()),
            ProgressStyle::Human if self.terminal.stderr && self.verbosity != Verbosity::Quiet => {
                Box::new(Bars::new())
            }
            ProgressStyle::Human => Box::new(Lines {
                quiet: self.verbosity == Verbosity::Quiet,
            }),
        }
    }
}
