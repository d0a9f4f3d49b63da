//! `dxctl state list`, `state show` and `state force-unlock` (`rm` and `mv` are in `state_edit`).

use std::process::ExitCode;

use super::state_edit;
use crate::cli::{GlobalArgs, StateArgs, StateCommand, StateShowArgs};
use crate::printer::Printer;
use crate::render;
use crate::state::{State, StateLocking, StateStore, Store};

pub fn state(global: &GlobalArgs, args: &StateArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let backend = super::backend::resolve_in(global, &args.dir, printer)?;
    let store = super::backend::open(global, &backend)?;
    match &args.command {
        StateCommand::List(list_args) => list(&store.load()?, list_args.json, printer)?,
        StateCommand::Show(show_args) => return show(&store, show_args, printer),
        StateCommand::Rm(rm) => return state_edit::rm(global, &store, rm, printer),
        StateCommand::Mv(mv) => return state_edit::mv(global, &store, mv, printer),
        StateCommand::Pull => return state_edit::pull(&store, printer),
        StateCommand::Push(push) => return state_edit::push(global, &store, push, printer),
        StateCommand::Migrate(migrate) => {
            return super::state_migrate::migrate(global, &store, &args.dir, migrate, printer)
        }
        StateCommand::ForceUnlock { id } => {
            store.force_unlock(id)?;
            printer.data(&format!("Lock {id} on {} removed.\n", store.name()))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `state list` and `show`: the managed peers as a table that fits the terminal (or a JSON array), then the
/// deposed peers and the unsettled calls. An empty state says so on stderr (`[]` with `--json`).
pub fn list(state: &State, json: bool, printer: &Printer) -> anyhow::Result<()> {
    if json {
        printer.data(&format!("{:#}\n", render::peers::state_json(state)))?;
        return Ok(());
    }
    if state.peers.is_empty() && state.intents.is_empty() {
        printer.status(NOTHING_MANAGED);
        return Ok(());
    }
    let table = render::peers::state_table(state, printer.data_width());
    printer.data(&table.text)?;
    if !table.hidden.is_empty() {
        printer.status(&format!(
            "(left out to fit the terminal: {}; `--json` or `dxctl state show ADDRESS` shows every field)",
            table.hidden.join(", ")
        ));
    }
    Ok(())
}

const NOTHING_MANAGED: &str =
    "No peers are managed yet. `dxctl apply` records the peers it creates; `dxctl import` adopts existing ones.";

/// `dxctl state show ADDRESS`: one managed peer in full (record, deposed peers, unsettled call).
pub fn show(store: &Store, args: &StateShowArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let state = store.load()?;
    let managed = render::peers::managed(&state);
    let Some(found) = managed.iter().find(|m| m.address.0 == args.address) else {
        let mut msg = format!("{} is not in the state", args.address);
        match closest(&args.address, managed.iter().map(|m| m.address.0.as_str())) {
            Some(near) => msg.push_str(&format!("; did you mean {near}?")),
            None if managed.is_empty() => msg.push_str(" (it manages no peers yet)"),
            None => msg.push_str("; `dxctl state list` lists the managed addresses"),
        }
        anyhow::bail!(msg);
    };
    if args.json {
        printer.data(&format!("{:#}\n", render::peers::managed_json(found)))?;
    } else {
        printer.data(&render::peers::managed_detail(found))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The known address most like `wanted`, if any is close enough to be a likely typo.
fn closest<'a>(wanted: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    known
        .map(|k| (strsim::jaro_winkler(wanted, k), k))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn did_you_mean_picks_the_nearest_address_and_nothing_far() {
        let known = [
            "virtual_interface.dxvif-a.bgp_peer.v4",
            "virtual_interface.dxvif-a.bgp_peer.v6",
        ];
        assert_eq!(
            closest("virtual_interface.dxvif-a.bgp_peer.v4x", known.into_iter()),
            Some(known[0])
        );
        assert_eq!(
            closest("virtual_interface.dxvif-a.bgp_peer.v66", known.into_iter()),
            Some(known[1])
        );
        assert_eq!(closest("dxvif-zzz", known.into_iter()), None);
    }
}
