//! `dxctl completions SHELL` and `dxctl man`: generated from the same clap definition as the parser.

use std::process::ExitCode;

use clap::CommandFactory as _;

use anyhow::Context as _;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::printer::Printer;

/// Prints the completion script for `args.shell`.
pub fn completions(args: &CompletionsArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "dxctl", &mut script);
    printer.data(&String::from_utf8(script)?)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the man page, `dxctl(1)`, or writes it and one page per command (`dxctl-plan.1`, ...) into a directory.
pub fn man(args: &ManArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    match &args.out_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(Cli::command(), dir)
                .with_context(|| format!("cannot write the man pages to {}", dir.display()))?;
            printer.status(&format!("Man pages written to {}", dir.display()));
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut page)?;
            printer.data(&String::from_utf8(page)?)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
