//! Renames without outages: which owned records change address before planning, so a peer whose block was renamed
//! (or moved by a `moved` block) is kept, never deleted and created again. Pure, like the rest of the planner.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{matches, Refusal, Rule};
use crate::model::{Desired, Location, MovedBlock, Observed, PeerAddress, PeerSpec, VifId};
use crate::state::{PeerRecord, State};

/// One owned record that takes a new address, with no API call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Move {
    pub from: PeerAddress,
    pub to: PeerAddress,
    pub bgp_peer_id: String,
    pub why: MoveWhy,
}

/// Why a record moves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum MoveWhy {
    /// A `moved { from, to }` block says so.
    Block { location: Location },
    /// Its address left the config, and exactly one new declared peer on the same VIF matches its live peer (and
    /// it is the only such record for that peer).
    Renamed,
}

/// The moves the config asks for or implies, and the `moved` blocks that cannot be followed. Moves never cross
/// VIFs (a BGP peer belongs to its VIF), and never overwrite an owned address.
pub fn moves(desired: &Desired, observed: &Observed, owned: &State) -> (Vec<Move>, Vec<Refusal>) {
    let declared: BTreeMap<PeerAddress, (&VifId, &PeerSpec)> = desired
        .vifs
        .iter()
        .flat_map(|v| {
            v.peers
                .iter()
                .map(move |p| (PeerAddress::new(&v.id, &p.label), (&v.id, p)))
        })
        .collect();
    let mut out = Vec::new();
    let mut refusals = Vec::new();
    // Addresses taken once the moves so far are made, and records already moved.
    let mut taken: BTreeSet<PeerAddress> = owned.peers.iter().map(|r| r.address.clone()).collect();
    let mut moved: BTreeSet<PeerAddress> = BTreeSet::new();
    for block in &desired.moved {
        match follow(block, owned, &taken, &moved) {
            Ok(Some(record)) => {
                taken.remove(&record.address);
                taken.insert(block.to.clone());
                moved.insert(record.address.clone());
                out.push(Move {
                    from: record.address.clone(),
                    to: block.to.clone(),
                    bgp_peer_id: record.bgp_peer_id.clone(),
                    why: MoveWhy::Block {
                        location: block.location.clone(),
                    },
                });
            }
            Ok(None) => {}
            Err((rule, message)) => refusals.push(Refusal {
                location: block.location.clone(),
                address: block.from.0.clone(),
                rule,
                message,
            }),
        }
    }
    out.extend(renames(&declared, observed, owned, &taken, &moved));
    (out, refusals)
}

/// The record a `moved` block moves: `None` when its `from` is not owned (already moved, or never was).
fn follow<'s>(
    block: &MovedBlock,
    owned: &'s State,
    taken: &BTreeSet<PeerAddress>,
    moved: &BTreeSet<PeerAddress>,
) -> Result<Option<&'s PeerRecord>, (Rule, String)> {
    let Some(record) = owned.peer(&block.from) else {
        return Ok(None);
    };
    if moved.contains(&block.from) {
        return Err((
            Rule::MovedConflict,
            format!("{} is moved by more than one `moved` block", block.from),
        ));
    }
    if vif_of(&block.to).as_deref() != Some(record.virtual_interface_id.0.as_str()) {
        return Err((
            Rule::MovedAcrossVifs,
            format!(
                "{} cannot move to {}: a BGP peer belongs to its virtual interface ({})",
                block.from, block.to, record.virtual_interface_id
            ),
        ));
    }
    if taken.contains(&block.to) {
        return Err((
            Rule::MovedConflict,
            format!(
                "{} cannot move to {}: dxctl already manages a peer there (`dxctl state rm` one of them first)",
                block.from, block.to
            ),
        ));
    }
    Ok(Some(record))
}

/// The VIF id in a peer address, `virtual_interface.<vif>.bgp_peer.<label>`.
fn vif_of(address: &PeerAddress) -> Option<String> {
    let rest = address.0.strip_prefix("virtual_interface.")?;
    let (vif, label) = rest.split_once(".bgp_peer.")?;
    (!vif.is_empty() && !label.is_empty() && !label.contains('.')).then(|| vif.to_string())
}

/// Whether `address` is a well-formed peer address.
pub fn is_peer_address(address: &str) -> bool {
    vif_of(&PeerAddress(address.to_string())).is_some()
}

/// Unambiguous renames: per VIF, the owned records whose address left the config against the declared peers that
/// nothing owns yet, paired only when each is the other's single match.
fn renames(
    declared: &BTreeMap<PeerAddress, (&VifId, &PeerSpec)>,
    observed: &Observed,
    owned: &State,
    taken: &BTreeSet<PeerAddress>,
    moved: &BTreeSet<PeerAddress>,
) -> Vec<Move> {
    let seen = observed.by_id();
    let mut out = Vec::new();
    let mut orphans: BTreeMap<&VifId, Vec<&PeerRecord>> = BTreeMap::new();
    for r in &owned.peers {
        if !declared.contains_key(&r.address) && !moved.contains(&r.address) && r.deposed.is_empty()
        {
            orphans.entry(&r.virtual_interface_id).or_default().push(r);
        }
    }
    let mut newcomers: BTreeMap<&VifId, Vec<(&PeerAddress, &PeerSpec)>> = BTreeMap::new();
    for (address, (vif, spec)) in declared {
        if !taken.contains(address) {
            newcomers.entry(vif).or_default().push((address, spec));
        }
    }
    for (vif, records) in orphans {
        let (Some(wanted), Some(live)) = (newcomers.get(vif), seen.get(vif)) else {
            continue;
        };
        // Each orphan's live peer, if listed and not gone.
        let lives: Vec<_> = records
            .iter()
            .filter_map(|r| {
                live.peers
                    .iter()
                    .find(|p| p.bgp_peer_id.as_deref() == Some(r.bgp_peer_id.as_str()))
                    .filter(|p| !p.state.is_gone())
                    .map(|p| (*r, p))
            })
            .collect();
        for (record, peer) in &lives {
            let candidates: Vec<_> = wanted.iter().filter(|(_, s)| matches(s, peer)).collect();
            let [(to, spec)] = candidates.as_slice() else {
                continue;
            };
            let rivals = lives.iter().filter(|(_, p)| matches(spec, p)).count();
            if rivals == 1 {
                out.push(Move {
                    from: record.address.clone(),
                    to: (*to).clone(),
                    bgp_peer_id: record.bgp_peer_id.clone(),
                    why: MoveWhy::Renamed,
                });
            }
        }
    }
    out
}

/// `state` with the moves made: each record (and any intent of its address) takes its new address.
pub fn apply(state: &mut State, moves: &[Move]) {
    for m in moves {
        let Some(mut record) = state.peer(&m.from).cloned() else {
            continue;
        };
        state.remove(&m.from);
        record.address = m.to.clone();
        state.upsert(record);
        if let Some(mut intent) = state.intent(&m.from).cloned() {
            state.clear_intent(&m.from);
            intent.address = m.to.clone();
            state.set_intent(intent);
        }
    }
}
