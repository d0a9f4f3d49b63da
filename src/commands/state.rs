//! `dxctl state list` and `dxctl state force-unlock`.

use std::process::ExitCode;

use crate::cli::{GlobalArgs, StateCommand, StateShowArgs};
use crate::printer::Printer;
use crate::state::{LocalStateFile, State, StateLocking, StateStore};

pub fn state(
    global: &GlobalArgs,
    command: &StateCommand,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    match command {
        StateCommand::List(_) => list(&LocalStateFile::new(&global.state).load()?, printer)?,
        StateCommand::Show(args) => return show(global, args, printer),
        StateCommand::Rm(args) => return super::state_edit::rm(global, args, printer),
        StateCommand::Mv(args) => return super::state_edit::mv(global, args, printer),
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

/// One line per managed peer (address, id, family, ASN, region), then one per unsettled call (intent).
pub fn list(state: &State, printer: &Printer) -> anyhow::Result<()> {
    let mut out = String::new();
    for p in &state.peers {
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}{}\n",
            p.address,
            p.bgp_peer_id,
            p.address_family,
            p.asn,
            p.region,
            if p.deposed.is_empty() {
                String::new()
            } else {
                format!("\tdeposed: {}", p.deposed.join(","))
            }
        ));
    }
    for i in &state.intents {
        out.push_str(&format!(
            "{}	intent: {}, sent {}, settled by a describe from {}\n",
            i.address,
            i.describe(),
            crate::clock::rfc3339(i.sent_at_ms),
            crate::clock::rfc3339(i.conclusive_after_ms)
        ));
    }
    printer.data(&out)?;
    Ok(())
}

/// `dxctl state show ADDRESS`.
pub fn show(
    global: &GlobalArgs,
    args: &StateShowArgs,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let _ = (global, args, printer);
    anyhow::bail!("dxctl state show is not built yet")
}
