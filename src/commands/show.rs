//! `dxctl show`: a saved plan as it was printed, or the current state.

use std::process::ExitCode;

use crate::cli::{GlobalArgs, ShowArgs};
use crate::printer::Printer;
use crate::saved_plan::SavedPlan;
use crate::state::StateStore;

pub fn show(global: &GlobalArgs, args: &ShowArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    match &args.planfile {
        Some(path) if args.json => anyhow::bail!(
            "show --json prints the state; for {} as JSON run `dxctl plan --json` (a saved plan keeps only its \
             printed form)",
            path.display()
        ),
        Some(path) => {
            let saved = SavedPlan::read(path)?;
            printer.data(&format!(
                "Saved plan for {} (state serial {}):\n\n{}",
                saved.config_dir.display(),
                saved.state_serial,
                saved.rendered
            ))?;
        }
        None => {
            let backend = super::backend::resolve_in(global, &args.dir, printer)?;
            let store = super::backend::open(global, &backend)?;
            super::state::list(&store.load()?, args.json, printer)?
        }
    }
    Ok(ExitCode::SUCCESS)
}
