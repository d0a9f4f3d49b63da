//! `dxctl state list`, `state show` and `state force-unlock` (`rm` and `mv` are in `state_edit`).

use std::process::ExitCode;

use crate::cli::{GlobalArgs, StateCommand, StateShowArgs};
use crate::printer::Printer;
use crate::render;
use crate::state::{LocalStateFile, State, StateLocking, StateStore};

pub fn state(
    global: &GlobalArgs,
    command: &StateCommand,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    match command {
        StateCommand::List(args) => list(
            &LocalStateFile::new(&global.state).load()?,
            args.json,
            printer,
        )?,
        StateCommand::Show(args) => return show(global, args, printer),
        StateCommand::Rm(args) => return super::state_edit::rm(global, args, printer),
        StateCommand::Mv(args) => return super::state_edit::mv(global, args, printer),
        StateCommand::Pull => return super::state_edit::pull(global, printer),
        StateCommand::Push(args) => return super::state_edit::push(global, args, printer),
        StateCommand::ForceUnlock { id } => {
            LocalStateFile::new(&global.state).force_unlock(id)?;
            printer.data(&format!(
                "Lock {id} on {} removed.\n",
                global.state.display()
            ))?;
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
pub fn show(
    global: &GlobalArgs,
    args: &StateShowArgs,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let state = LocalStateFile::new(&global.state).load()?;
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
