//! `dxctl apply`: plan, confirm, then create the planned peers and wait until they are available.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;
use std::time::Duration;

use super::{load_config, observe_and_plan, refused, Session};
use crate::apply::{self, WaitOptions};
use crate::cli::{ApplyArgs, GlobalArgs};
use crate::printer::Printer;
use crate::render;

pub async fn apply(
    global: &GlobalArgs,
    args: &ApplyArgs,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let config = load_config(&args.dir, &args.vars)?;
    let session = Session::open(global, &config, printer).await?;
    let result = run(&session, global, args, &config, printer).await;
    let closed = session.close().await;
    let code = result?;
    closed?;
    Ok(code)
}

async fn run(
    session: &Session,
    global: &GlobalArgs,
    args: &ApplyArgs,
    config: &crate::config::Config,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let mut planned = observe_and_plan(session, config, printer).await?;
    if !planned.plan.refusals.is_empty() {
        eprint!("{}", render::refusals(&planned.plan));
        return Err(refused(&planned.plan));
    }
    printer.data(&render::human(&planned.plan))?;
    if !planned.plan.has_changes() {
        printer.data("\nApply complete! Resources: 0 added, 0 changed, 0 destroyed.\n")?;
        return Ok(ExitCode::SUCCESS);
    }
    if !args.auto_approve && !confirm()? {
        anyhow::bail!("apply cancelled; nothing was changed");
    }
    let wait = WaitOptions {
        interval: args.poll_interval.unwrap_or(if global.sandbox.is_some() {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(5)
        }),
        timeout: args.timeout,
    };
    let summary = apply::execute(
        &session.dc,
        &planned.plan,
        &planned.observed,
        &session.store,
        &mut planned.state,
        wait,
        printer,
    )
    .await?;
    if !summary.failures.is_empty() {
        let mut msg = format!(
            "apply failed: {} of {} planned changes failed ({} added):",
            summary.failures.len(),
            planned.plan.actions.len(),
            summary.added
        );
        for (address, cause) in &summary.failures {
            msg.push_str(&format!("\n  {address}: {cause}"));
        }
        anyhow::bail!(msg);
    }
    printer.data(&format!(
        "\nApply complete! Resources: {} added, 0 changed, 0 destroyed.\n",
        summary.added
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// Asks on the terminal; refuses outright when there is none.
fn confirm() -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "apply needs --auto-approve when stdin is not a terminal; nothing was changed"
        );
    }
    eprint!("\nDo you want to perform these actions?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ");
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}
