//! dxctl: AWS Direct Connect BGP peering as code, with a built-in Direct Connect simulator.

pub mod apply;
pub mod aws;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod model;
pub mod observe;
pub mod plan;
pub mod printer;
pub mod redact;
pub mod render;
pub mod sandbox;
pub mod saved_plan;
pub mod sim;
pub mod state;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, SimCommand};
use printer::{Printer, Verbosity};

/// Parses arguments, runs the command and turns every error into exit code 1, in one place.
pub fn main() -> ExitCode {
    redact::install_panic_hook();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Usage errors exit 1 (2 is reserved for `plan --detailed-exitcode`); --help and --version exit 0.
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let verbosity = if cli.global.quiet {
        Verbosity::Quiet
    } else if cli.global.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let printer = Printer::new(verbosity);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            redact::stderr(&format!("Error: cannot start the async runtime: {e}\n"));
            return ExitCode::from(1);
        }
    };
    let color = !cli.global.no_color
        && std::env::var_os("NO_COLOR").is_none()
        && std::io::stderr().is_terminal();
    match runtime.block_on(run(&cli, &printer)) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            match e.downcast_ref::<config::Diagnostics>() {
                Some(diags) => redact::stderr(&format!("{}\n", diags.render(color))),
                None => redact::stderr(&format!("Error: {e:#}\n")),
            }
            ExitCode::from(1)
        }
    }
}

async fn run(cli: &Cli, printer: &Printer) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Plan(args) => commands::plan::plan(&cli.global, args, printer).await,
        Command::Apply(args) => commands::apply::apply(&cli.global, args, printer).await,
        Command::Validate(args) => commands::validate::validate(args, printer),
        Command::Show(args) => commands::show::show(&cli.global, args, printer),
        Command::State(command) => commands::state::state(&cli.global, command, printer),
        Command::Fmt(args) => commands::fmt::fmt(args, printer),
        Command::Sim(SimCommand::Serve(args)) => commands::sim::serve(args, printer).await,
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}
