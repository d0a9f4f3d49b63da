//! The pure planner: compares Desired with Observed and Owned, and says what to do for each peer, in what order, and why.

pub mod intents;
pub mod moves;
mod schedule;
mod vif;
mod why;

pub use why::{Attribute, Reason, Rule};

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::model::{
    Desired, Location, Observed, ObservedPeer, PeerAddress, PeerSpec, PeerState, Scope, VifId,
};
use crate::state::State;

/// Which of the two peers of a replacement exists first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Order {
    /// The new peer is created, then the old one deleted (needs logical redundancy).
    CreateBeforeDestroy,
    /// The old peer is deleted, then the new one created (needs another live peer on the VIF).
    DestroyBeforeCreate,
}

/// What the planner decided for one peer, with the peers the decision is about. Each variant holds exactly what its
/// step needs, so the executor and the views never ask for a peer or a spec that may be missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// CreateBGPPeer.
    Create { desired: PeerSpec },
    /// An existing peer that matches the config becomes managed, with no API call.
    Adopt {
        desired: PeerSpec,
        live: ObservedPeer,
    },
    /// Exists and matches.
    NoOp {
        desired: PeerSpec,
        live: ObservedPeer,
    },
    /// Exists but is still being provisioned (its state is `live.state`): wait for it (and adopt it), never create
    /// it again.
    Wait {
        desired: PeerSpec,
        live: ObservedPeer,
    },
    /// Delete and create: a change to the ASN, an address or the auth key.
    Replace {
        desired: PeerSpec,
        live: ObservedPeer,
        order: Order,
        /// The attributes whose change forces the replacement.
        forces: Vec<Attribute>,
    },
    /// DeleteBGPPeer of a peer dxctl owns that the config no longer declares, or of a deposed one.
    Delete {
        live: ObservedPeer,
        incarnation: Incarnation,
    },
    /// dxctl's record of a peer that no longer exists is dropped, with no API call.
    Forget { forgotten: Forgotten },
}

/// Which peer of an address a delete is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Incarnation {
    /// The peer the address owns.
    Current,
    /// An earlier peer of the address, left behind by an interrupted replacement.
    Deposed,
}

/// The record a forget drops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Forgotten {
    /// The address's own peer, which no longer exists.
    Owned { bgp_peer_id: String },
    /// A deposed peer, already deleted or no longer listed (as last seen, or as recorded).
    Deposed { peer: ObservedPeer },
}

/// An action without its payload, for counting and matching.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Create,
    Adopt,
    NoOp,
    Wait,
    Replace(Order),
    Delete,
    Forget,
}

impl Action {
    pub fn kind(&self) -> Kind {
        match self {
            Action::Create { .. } => Kind::Create,
            Action::Adopt { .. } => Kind::Adopt,
            Action::NoOp { .. } => Kind::NoOp,
            Action::Wait { .. } => Kind::Wait,
            Action::Replace { order, .. } => Kind::Replace(*order),
            Action::Delete { .. } => Kind::Delete,
            Action::Forget { .. } => Kind::Forget,
        }
    }

    /// The Terraform-style action list used in JSON.
    pub fn names(&self) -> Vec<&'static str> {
        match self.kind() {
            Kind::Create => vec!["create"],
            Kind::Delete => vec!["delete"],
            Kind::Replace(Order::CreateBeforeDestroy) => vec!["create", "delete"],
            Kind::Replace(Order::DestroyBeforeCreate) => vec!["delete", "create"],
            Kind::Adopt => vec!["adopt"],
            Kind::NoOp => vec!["no-op"],
            Kind::Wait => vec!["wait"],
            Kind::Forget => vec!["forget"],
        }
    }

    /// The peer the config asks for (none for Delete and Forget).
    pub fn desired(&self) -> Option<&PeerSpec> {
        match self {
            Action::Create { desired }
            | Action::Adopt { desired, .. }
            | Action::NoOp { desired, .. }
            | Action::Wait { desired, .. }
            | Action::Replace { desired, .. } => Some(desired),
            Action::Delete { .. } | Action::Forget { .. } => None,
        }
    }

    /// The existing peer this change keeps, adopts, waits for, replaces or deletes, or the deposed one it forgets.
    pub fn live(&self) -> Option<&ObservedPeer> {
        match self {
            Action::Adopt { live, .. }
            | Action::NoOp { live, .. }
            | Action::Wait { live, .. }
            | Action::Replace { live, .. }
            | Action::Delete { live, .. } => Some(live),
            Action::Forget {
                forgotten: Forgotten::Deposed { peer },
            } => Some(peer),
            Action::Create { .. }
            | Action::Forget {
                forgotten: Forgotten::Owned { .. },
            } => None,
        }
    }

    /// The attributes whose change forces a replacement (empty unless Replace).
    pub fn forces(&self) -> &[Attribute] {
        match self {
            Action::Replace { forces, .. } => forces,
            _ => &[],
        }
    }

    /// Whether the change is about a deposed peer (an earlier incarnation of its address).
    pub fn deposed(&self) -> bool {
        matches!(
            self,
            Action::Delete {
                incarnation: Incarnation::Deposed,
                ..
            } | Action::Forget {
                forgotten: Forgotten::Deposed { .. }
            }
        )
    }

    /// The state a Wait waits out.
    pub fn waiting_on(&self) -> Option<&PeerState> {
        match self {
            Action::Wait { live, .. } => Some(&live.state),
            _ => None,
        }
    }
}

/// One planned change, with everything the executor needs and the reason it exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub address: PeerAddress,
    pub vif: VifId,
    pub scope: Scope,
    pub action: Action,
    pub reason: Reason,
    /// Position among the changes of its VIF, which run one after another in this order.
    pub step: usize,
}

impl Change {
    /// Why the change exists, in words.
    pub fn reason_text(&self) -> String {
        self.reason.describe(&self.action)
    }
}

/// A peer on a declared VIF that dxctl neither declares nor owns: listed, never touched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unmanaged {
    pub vif: VifId,
    pub peer: ObservedPeer,
}

/// Something the reviewer should know that does not stop the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub address: String,
    pub message: String,
}

/// A desired change that cannot be made, with the rule that forbids it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub location: Location,
    pub address: String,
    pub rule: Rule,
    pub message: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub unmanaged: Vec<Unmanaged>,
    pub warnings: Vec<Warning>,
    pub refusals: Vec<Refusal>,
    /// Scopes whose connection and LAG facts this plan needed but did not have; observe fetches them and plans again.
    pub missing_facts: BTreeSet<Scope>,
    /// How the state's write-ahead intents (calls of an earlier apply whose answers were lost) were settled.
    pub settlements: Vec<intents::Settlement>,
    /// Managed peers that take a new address (a renamed block, a `moved` block), with no API call.
    pub moves: Vec<moves::Move>,
}

/// Terraform's summary counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    pub adopt: usize,
    pub forget: usize,
    pub wait: usize,
    #[serde(rename = "move")]
    pub moves: usize,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary {
            moves: self.moves.len(),
            ..Summary::default()
        };
        for c in &self.changes {
            match c.action.kind() {
                Kind::Create => s.add += 1,
                Kind::Delete => s.destroy += 1,
                Kind::Replace(_) => {
                    s.add += 1;
                    s.destroy += 1;
                }
                Kind::Adopt => s.adopt += 1,
                Kind::Wait => s.wait += 1,
                Kind::Forget => s.forget += 1,
                Kind::NoOp => {}
            }
        }
        s
    }

    /// Whether applying would call AWS, wait on anything, or change state.
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action.kind() != Kind::NoOp)
            || self.settlements.iter().any(intents::Settlement::settles)
            || !self.moves.is_empty()
    }

    /// Creates of an earlier apply whose outcome no describe could tell yet.
    pub fn unsettled(&self) -> impl Iterator<Item = &intents::Settlement> {
        self.settlements.iter().filter(|s| !s.settles())
    }
}

/// Settles the state's intents (see [`intents::resolve`]), then plans every declared peer and every owned one. Pure:
/// no I/O, no randomness, and the only clock is when the describes started.
pub fn plan(desired: &Desired, observed: &Observed, owned: &State) -> Plan {
    plan_and_settle(desired, observed, owned).0
}

/// [`plan`], and the state it planned against: `owned` with its settled intents applied, which is where an apply of
/// the plan starts.
pub fn plan_and_settle(desired: &Desired, observed: &Observed, owned: &State) -> (Plan, State) {
    let mut resolution = intents::resolve(owned, observed);
    let (moves, refused_moves) = moves::moves(desired, observed, &resolution.state);
    moves::apply(&mut resolution.state, &moves);
    let mut plan = plan_settled(desired, observed, &resolution.state);
    plan.refusals.extend(refused_moves);
    plan.moves = moves;
    for s in &resolution.settlements {
        if let intents::Outcome::Ambiguous { .. } = s.outcome {
            let location = desired
                .vifs
                .iter()
                .flat_map(|v| {
                    v.peers
                        .iter()
                        .map(move |p| (PeerAddress::new(&v.id, &p.label), p))
                })
                .find(|(a, _)| *a == s.address)
                .map_or_else(
                    || Location {
                        file: "(state)".into(),
                        line: 0,
                        column: 0,
                    },
                    |(_, p)| p.location.clone(),
                );
            plan.refusals.push(Refusal {
                location,
                address: s.address.0.clone(),
                rule: Rule::AmbiguousIntent,
                message: format!("an earlier {}: {}", s.call, s.describe()),
            });
        }
    }
    plan.settlements = resolution.settlements;
    (plan, resolution.state)
}

/// Plans against a state whose intents are settled. Linear in VIFs and peers: owned records are grouped by VIF and
/// observed VIFs indexed by id once, so no VIF's planning scans another's.
fn plan_settled(desired: &Desired, observed: &Observed, owned: &State) -> Plan {
    let mut plan = Plan::default();
    let seen = observed.by_id();
    let mut records: BTreeMap<&VifId, Vec<&crate::state::PeerRecord>> = BTreeMap::new();
    for r in &owned.peers {
        records.entry(&r.virtual_interface_id).or_default().push(r);
    }
    for spec in &desired.vifs {
        let mine = records.remove(&spec.id).unwrap_or_default();
        vif::plan_declared(spec, seen.get(&spec.id).copied(), observed, mine, &mut plan);
    }
    // What is left are VIFs whose whole block left the config: their owned peers go too.
    for (id, mine) in records {
        vif::plan_orphaned(id, seen.get(id).copied(), observed, mine, &mut plan);
    }
    plan
}

/// Whether an observed peer is the one a spec describes: same family and ASN, and the same addresses
/// wherever the config gives them. The auth key is not identity: a different key means replacement.
pub fn matches(spec: &PeerSpec, peer: &ObservedPeer) -> bool {
    !peer.state.is_gone()
        && spec.family == peer.family
        && spec.asn == peer.asn
        && same_address(
            spec.amazon_address.as_deref(),
            peer.amazon_address.as_deref(),
        )
        && same_address(
            spec.customer_address.as_deref(),
            peer.customer_address.as_deref(),
        )
}

fn same_address(wanted: Option<&str>, seen: Option<&str>) -> bool {
    match wanted {
        None => true,
        Some(w) => seen.is_some_and(|s| s.eq_ignore_ascii_case(w)),
    }
}

#[cfg(test)]
mod tests;
