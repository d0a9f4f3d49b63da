//! `dxctl plan`: show what apply would do, in human, JSON or markdown form, and optionally save it.

use std::process::ExitCode;

use super::{load_config, observe_and_plan, refused, Session};
use crate::cli::{Format, GlobalArgs, PlanArgs};
use crate::config::{ConfigError, Diagnostic, Diagnostics};
use crate::model::Location;
use crate::printer::Printer;
use crate::render;
use crate::saved_plan::SavedPlan;

pub async fn plan(
    global: &GlobalArgs,
    args: &PlanArgs,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let format = if args.json { Format::Json } else { args.format };
    let config = match load_config(&args.dir, &args.vars) {
        Ok(config) => config,
        Err(e) => {
            // A machine reading the plan gets the errors as JSON too; people still see them on stderr.
            if format == Format::Json {
                printer.data(&format!(
                    "{:#}\n",
                    render::config_errors(&as_diagnostics(&args.dir, &e))
                ))?;
            }
            return Err(e);
        }
    };
    let backend = super::backend::resolve(global, config.backend.as_ref(), printer)?;
    let store = super::backend::open_async(global, &backend).await?;
    // Starting a sandbox over rewrites its world: not while an apply holds the state.
    let _lock = if global.sandbox.is_some() && global.sandbox_reset {
        Some(
            crate::state::lock::acquire(&store, "plan --sandbox-reset", global.lock_timeout)
                .await?,
        )
    } else {
        None
    };
    let session = Session::open(global, &config, store, printer, false).await?;
    let result = observe_and_plan(&session, &config, printer).await;
    session.close().await?;
    let planned = result?;
    if !planned.plan.refusals.is_empty() {
        if format == Format::Json {
            printer.data(&format!("{:#}\n", render::json(&planned.plan)))?;
        }
        printer.error(&render::refusals(&planned.plan));
        return Err(refused(&planned.plan));
    }
    match format {
        Format::Human => printer.data(&render::human(&planned.plan, printer.color_stdout()))?,
        Format::Json => printer.data(&format!("{:#}\n", render::json(&planned.plan)))?,
        Format::Markdown => printer.data(&render::markdown(&planned.plan))?,
    }
    if let Some(path) = &args.out {
        SavedPlan::new(&args.dir, &planned.state, &planned.observed, &planned.plan)?.write(path)?;
        printer.status(&format!(
            "Saved the plan to {}; apply exactly it with `dxctl apply {}`",
            path.display(),
            path.display()
        ));
    }
    Ok(if args.detailed_exitcode && planned.plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// A config load's error as diagnostics: its located ones, or one for a directory or file that cannot be read.
fn as_diagnostics(dir: &std::path::Path, e: &anyhow::Error) -> Diagnostics {
    let located = e
        .downcast_ref::<ConfigError>()
        .and_then(ConfigError::diagnostics);
    match located {
        Some(d) => d.clone(),
        None => Diagnostics::single(Diagnostic::new(
            Location {
                file: dir.display().to_string(),
                line: 0,
                column: 0,
            },
            "config-unreadable",
            format!("{e:#}"),
        )),
    }
}
