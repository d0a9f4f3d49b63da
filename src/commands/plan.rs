//! `dxctl plan`: show what apply would do, without changing anything.

use std::process::ExitCode;

use super::{load_config, observe_and_plan, refused, Session};
use crate::cli::{GlobalArgs, PlanArgs};
use crate::printer::Printer;
use crate::render;

pub async fn plan(
    global: &GlobalArgs,
    args: &PlanArgs,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let config = load_config(&args.dir, &args.vars)?;
    let session = Session::open(global, &config, printer).await?;
    let result = observe_and_plan(&session, &config, printer).await;
    session.close().await?;
    let planned = result?;
    if !planned.plan.refusals.is_empty() {
        eprint!("{}", render::refusals(&planned.plan));
        return Err(refused(&planned.plan));
    }
    printer.data(&render::human(&planned.plan))?;
    Ok(if args.detailed_exitcode && planned.plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
