//! `dxctl state rm`, `state mv`, `state pull` and `state push`: change what dxctl manages, or move the state
//! itself, without touching AWS. Writers hold the state lock, fold any journal a killed apply left, and refuse an
//! address with an unsettled call (its outcome decides what the record should say).

use std::collections::BTreeSet;
use std::process::ExitCode;

use crate::cli::{GlobalArgs, StateMvArgs, StatePushArgs, StateRmArgs};
use crate::model::{PeerAddress, VifId};
use crate::plan::moves::is_peer_address;
use crate::printer::Printer;
use crate::state::{lock, PeerRecord, State, StateStore, Store};

/// Loads the state under the lock; the lock is released when the returned guard drops.
pub(super) fn locked(
    global: &GlobalArgs,
    store: &Store,
    operation: &str,
) -> anyhow::Result<(Box<dyn crate::state::StateLock>, State)> {
    let held = lock::acquire_blocking(store, operation, global.lock_timeout)?;
    store.recover()?;
    let state = store.load()?;
    Ok((held, state))
}

/// The closest managed address to `wanted`, for "did you mean".
fn did_you_mean(state: &State, wanted: &str) -> String {
    state
        .peers
        .iter()
        .map(|p| (strsim::jaro_winkler(wanted, &p.address.0), &p.address))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, a)| format!("; did you mean {a}?"))
        .unwrap_or_else(|| "; `dxctl state list` shows what is managed".into())
}

/// The records a target names: one peer's address, or every peer of a VIF id.
fn targeted(state: &State, target: &str) -> anyhow::Result<Vec<PeerRecord>> {
    if target.starts_with("virtual_interface.") {
        if !is_peer_address(target) {
            anyhow::bail!(
                "{target} is not a peer address (virtual_interface.<vif id>.bgp_peer.<label>) or a VIF id"
            );
        }
        return match state.peer(&PeerAddress(target.to_string())) {
            Some(r) => Ok(vec![r.clone()]),
            None => anyhow::bail!("{target} is not managed{}", did_you_mean(state, target)),
        };
    }
    let vif = VifId(target.to_string());
    let records: Vec<PeerRecord> = state.on_vif(&vif).cloned().collect();
    if records.is_empty() {
        anyhow::bail!(
            "no managed peer is on {target}{}",
            did_you_mean(state, &format!("virtual_interface.{target}"))
        );
    }
    Ok(records)
}

/// Refuses an address whose last call's answer was lost: until a plan settles it, nobody knows what the record
/// should say.
fn refuse_unsettled(state: &State, address: &PeerAddress) -> anyhow::Result<()> {
    if let Some(intent) = state.intent(address) {
        anyhow::bail!(
            "{address} has a call whose answer was lost ({}); run `dxctl plan` or `dxctl apply` to settle it first",
            intent.describe()
        );
    }
    Ok(())
}

pub fn rm(
    global: &GlobalArgs,
    store: &Store,
    args: &StateRmArgs,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let (held, mut state) = locked(global, store, "state rm")?;
    let mut chosen: BTreeSet<PeerAddress> = BTreeSet::new();
    let mut lines = String::new();
    for target in &args.targets {
        for r in targeted(&state, target)? {
            refuse_unsettled(&state, &r.address)?;
            if chosen.insert(r.address.clone()) {
                lines.push_str(&format!(
                    "{} {} ({}, {} ASN {})\n",
                    if args.dry_run {
                        "Would remove"
                    } else {
                        "Removed"
                    },
                    r.address,
                    r.bgp_peer_id,
                    r.address_family,
                    r.asn
                ));
                if !r.deposed.is_empty() {
                    lines.push_str(&format!(
                        "  with its deposed peer(s) {}: dxctl will no longer delete them\n",
                        r.deposed.join(", ")
                    ));
                }
            }
        }
    }
    if args.dry_run {
        printer.data(&format!(
            "{lines}Dry run: the state was not changed ({} peer(s)).\n",
            chosen.len()
        ))?;
        held.release()?;
        return Ok(ExitCode::SUCCESS);
    }
    for address in &chosen {
        state.remove(address);
    }
    store.save(&mut state)?;
    held.release()?;
    printer.data(&format!(
        "{lines}Removed {} peer(s) from the state. AWS was not touched: the peers keep running, and dxctl lists \
         them as unmanaged (or adopts them again while the config still declares them).\n",
        chosen.len()
    ))?;
    Ok(ExitCode::SUCCESS)
}

pub fn mv(
    global: &GlobalArgs,
    store: &Store,
    args: &StateMvArgs,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    for address in [&args.from, &args.to] {
        if !is_peer_address(address) {
            anyhow::bail!(
                "{address} is not a peer address: write virtual_interface.<vif id>.bgp_peer.<label>"
            );
        }
    }
    let (from, to) = (PeerAddress(args.from.clone()), PeerAddress(args.to.clone()));
    if from == to {
        anyhow::bail!("{from} and {to} are the same address");
    }
    let (held, mut state) = locked(global, store, "state mv")?;
    let Some(record) = state.peer(&from).cloned() else {
        anyhow::bail!("{from} is not managed{}", did_you_mean(&state, &from.0));
    };
    let vif_prefix = format!(
        "virtual_interface.{}.bgp_peer.",
        record.virtual_interface_id
    );
    if !to.0.starts_with(&vif_prefix) {
        anyhow::bail!(
            "{from} cannot move to {to}: a BGP peer belongs to its virtual interface ({})",
            record.virtual_interface_id
        );
    }
    if let Some(there) = state.peer(&to) {
        anyhow::bail!(
            "{to} is already managed (peer {}); `dxctl state rm {to}` first if it should go",
            there.bgp_peer_id
        );
    }
    refuse_unsettled(&state, &from)?;
    crate::plan::moves::apply(
        &mut state,
        &[crate::plan::moves::Move {
            from: from.clone(),
            to: to.clone(),
            bgp_peer_id: record.bgp_peer_id.clone(),
            why: crate::plan::moves::MoveWhy::Renamed,
        }],
    );
    store.save(&mut state)?;
    held.release()?;
    printer.data(&format!(
        "Moved {from} to {to} (peer {}). AWS was not touched.\n",
        record.bgp_peer_id
    ))?;
    Ok(ExitCode::SUCCESS)
}

pub fn pull(store: &Store, printer: &Printer) -> anyhow::Result<ExitCode> {
    let state = store.load()?;
    printer.data(&crate::state::to_text(&state)?)?;
    Ok(ExitCode::SUCCESS)
}

pub fn push(
    global: &GlobalArgs,
    store: &Store,
    args: &StatePushArgs,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.file.display()))?;
    let mut pushed = match crate::state::from_text(&text) {
        Ok(state) => state,
        Err(crate::state::Unreadable::Malformed(e)) => {
            anyhow::bail!("{} is not a dxctl state: {e}", args.file.display())
        }
        Err(crate::state::Unreadable::Moved(moved)) => anyhow::bail!(
            "{} is not a state but the marker `state migrate` leaves: the state moved to {}",
            args.file.display(),
            moved.moved_to
        ),
        Err(crate::state::Unreadable::Version(v)) => anyhow::bail!(
            "{} is state format version {v}; this dxctl reads version {}",
            args.file.display(),
            crate::state::FORMAT_VERSION
        ),
    };
    pushed
        .check()
        .map_err(|problem| anyhow::anyhow!("{} is inconsistent: {problem}", args.file.display()))?;
    let (held, current) = locked(global, store, "state push")?;
    let fresh =
        current.lineage.is_empty() && current.peers.is_empty() && current.intents.is_empty();
    if !args.force && !fresh {
        if pushed.lineage != current.lineage {
            anyhow::bail!(
                "{} is another state (lineage {}) than {} (lineage {}); nothing was pushed (--force replaces it anyway)",
                args.file.display(),
                pushed.lineage,
                store.name(),
                current.lineage
            );
        }
        if pushed.serial < current.serial {
            anyhow::bail!(
                "{} is at serial {}, behind the state's {}: it would undo later changes; nothing was pushed \
                 (`dxctl state pull` the current state, or --force)",
                args.file.display(),
                pushed.serial,
                current.serial
            );
        }
        if pushed.serial == current.serial && pushed != current {
            anyhow::bail!(
                "{} has the state's serial {} but other content: two copies diverged; nothing was pushed (--force \
                 picks this one)",
                args.file.display(),
                pushed.serial
            );
        }
    }
    if pushed.lineage.is_empty() {
        pushed.lineage = current.lineage.clone();
    }
    // Past any serial the store has written, so the pushed content is never mistaken for an older one.
    pushed.serial = pushed.serial.max(current.serial);
    store.save(&mut pushed)?;
    held.release()?;
    printer.data(&format!(
        "Pushed {} to {} (serial {}, {} peer(s)). AWS was not touched.\n",
        args.file.display(),
        store.name(),
        pushed.serial,
        pushed.peers.len()
    ))?;
    Ok(ExitCode::SUCCESS)
}
