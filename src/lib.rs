//! dxctl: AWS Direct Connect BGP peering as code, with a built-in Direct Connect simulator.
//!
//! The binary is a thin shell over this library ([`main`]). Inside, the layers run one way:
//!
//! - `cli` parses arguments into raw args; `commands` (one function per command) resolves them into a session
//!   (client, state store, sandbox) and prints through one `Printer`, whose every byte passes the redaction
//!   point (`redact`).
//! - [`config`] reads HCL into a typed [`model::Desired`]; `observe` describes AWS through the [`aws`] trait into a
//!   typed [`model::Observed`].
//! - [`plan`] is the functional core: pure, deterministic, it compares desired, observed and owned ([`state`]) and
//!   says what to do, in what order, and why (or which rule refuses it).
//! - `apply` is the imperative shell: one idempotent attempt per step, write-ahead intents in the state, readiness as
//!   pure predicates and one shared polling loop.
//! - [`sim`] is the Direct Connect simulator (AWS JSON 1.1 and Smithy RPC v2 CBOR over HTTP), used by sandbox mode
//!   and by the tests.
//! - `import` writes HCL for what exists (pure; `commands::import` describes and writes the files).
//! - Each layer fails with its own typed error (`aws::AwsError`, `state::StateError`, `config::ConfigError`,
//!   `saved_plan::SavedPlanError`, `sim::SimError`, the applier's `ApplyError`); `anyhow` joins them only in
//!   `commands` and here, and `error_chain` prints a chain in one line where no `anyhow` is at hand.
//! - `interrupt` decides what Ctrl-C means outside an apply's steps (exit 130, nothing changed); `trace` puts
//!   `tracing` events behind `-vv`/`-vvv`, through the redaction point.
//!
//! The public modules are the ones the tests, fuzz targets and benchmarks drive directly; the rest is private.

mod apply;
pub mod aws;
mod cli;
pub mod clock;
mod commands;
pub mod config;
mod error_chain;
mod import;
mod interrupt;
pub mod model;
mod observe;
pub mod plan;
mod printer;
mod redact;
mod render;
mod sandbox;
pub mod saved_plan;
pub mod sim;
pub mod state;
mod trace;

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
            // Usage errors exit 1 (2 is reserved for `plan --detailed-exitcode`); --help and --version exit 0.
            let styled = |terminal: bool| {
                if terminal && std::env::var_os("NO_COLOR").is_none() {
                    e.render().ansi().to_string()
                } else {
                    e.render().to_string()
                }
            };
            return if e.use_stderr() {
                // The parser quotes the argument it refused: a `--var` one may be a secret (`--var key:s3cret`).
                let text = styled(std::io::stderr().is_terminal());
                redact::stderr(&redact::mask_values(&text, &var_arguments()));
                ExitCode::from(1)
            } else {
                let _ = redact::stdout(&styled(std::io::stdout().is_terminal()));
                ExitCode::SUCCESS
            };
        }
    };
    let verbosity = if cli.global.quiet {
        Verbosity::Quiet
    } else if cli.global.verbose > 0 {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    trace::install(cli.global.verbose);
    let color = !cli.global.no_color && std::env::var_os("NO_COLOR").is_none();
    let printer = Printer::new(verbosity, printer::Terminal::detect(), color);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            printer.error(&format!("Error: cannot start the async runtime: {e}\n"));
            return ExitCode::from(1);
        }
    };
    let outcome = runtime.block_on(async {
        tokio::select! {
            result = run(&cli, &printer) => result,
            () = interrupt::outside_apply() => {
                printer.warning("Interrupted: stopped before changing anything.");
                Ok(ExitCode::from(interrupt::EXIT_INTERRUPTED))
            }
        }
    });
    // A prompt or a state command may still be blocked on its thread: never wait for it. An S3 lock such a command
    // holds would outlive the process (a local one dies with it): release it first.
    for state in state::release_held() {
        printer.warning(&format!("Released the state lock on {state}."));
    }
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match outcome {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            match (diagnostics(&e), aws_hint(&e)) {
                (Some(diags), _) => {
                    printer.error(&format!("{}\n", diags.render(printer.color_stderr())))
                }
                (None, Some((hint, detail))) => {
                    printer.error(&hinted(&e, &hint, detail, cli.global.verbose > 0))
                }
                (None, None) => printer.error(&format!("Error: {e:#}\n")),
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
        // On the blocking pool: reading an S3 state blocks, and Ctrl-C must still end it.
        Command::Show(args) => {
            let (global, args, printer) = (cli.global.clone(), args.clone(), *printer);
            tokio::task::spawn_blocking(move || commands::show::show(&global, &args, &printer))
                .await?
        }
        // On the blocking pool, so Ctrl-C still ends a wait for the state lock.
        Command::State(args) => {
            let (global, args, printer) = (cli.global.clone(), args.clone(), *printer);
            tokio::task::spawn_blocking(move || commands::state::state(&global, &args, &printer))
                .await?
        }
        Command::Fmt(args) => commands::fmt::fmt(args, printer),
        Command::Sim(SimCommand::Serve(args)) => commands::sim::serve(args, printer).await,
        Command::Import(args) => commands::import::import(&cli.global, args, printer).await,
        Command::Status(args) => commands::status::status(&cli.global, args, printer).await,
        Command::Completions(args) => commands::completions::completions(args, printer),
        Command::Man(args) => commands::completions::man(args, printer),
    }
}

/// The text given to every `--var` on the command line, whole and after its first `=`, for masking.
fn var_arguments() -> Vec<String> {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut out = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        let value = match arg.strip_prefix("--var=") {
            Some(v) => v,
            None if arg == "--var" => match args.get(i + 1) {
                Some(v) => v,
                None => continue,
            },
            None => continue,
        };
        out.push(value.to_string());
        if let Some((_, v)) = value.split_once('=') {
            out.push(v.to_string());
        }
    }
    // As elsewhere in free text, shorter values are left alone (they would garble the message).
    out.retain(|v| v.chars().count() >= redact::MIN_LEN);
    out
}

/// The located config diagnostics an error carries, rendered as such rather than as one line.
fn diagnostics(e: &anyhow::Error) -> Option<&config::Diagnostics> {
    e.downcast_ref::<config::Diagnostics>().or_else(|| {
        e.downcast_ref::<config::ConfigError>()
            .and_then(config::ConfigError::diagnostics)
    })
}

/// The cause and advice of a failed AWS call the user can fix (connection, endpoint, credentials, permissions),
/// with the SDK's error chain for `-v`.
fn aws_hint(e: &anyhow::Error) -> Option<(aws::Hint, Option<&str>)> {
    let aws = e.chain().find_map(|c| c.downcast_ref::<aws::AwsError>())?;
    Some((aws.hint()?, aws.detail()))
}

/// One line of cause and one of advice; the whole error chain (and the SDK's) only when `verbose`.
fn hinted(e: &anyhow::Error, hint: &aws::Hint, detail: Option<&str>, verbose: bool) -> String {
    let mut out = format!("Error: {}\n  hint: {}\n", hint.cause, hint.advice);
    if verbose {
        out.push_str(&format!("  error chain: {e:#}\n"));
        if let Some(detail) = detail {
            out.push_str(&format!("  SDK error: {detail}\n"));
        }
    } else {
        out.push_str("  (-v shows the whole error)\n");
    }
    out
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}
