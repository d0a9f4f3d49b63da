//! The pure planner: compares Desired with Observed and Owned and says what to do for each peer, and why.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{
    AddressFamily, Desired, Location, Observed, ObservedPeer, ObservedVif, PeerAddress, PeerSpec,
    PeerState, Scope, VifId,
};
use crate::state::State;

/// What the planner decided for one desired peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionKind {
    /// The peer does not exist: CreateBGPPeer.
    Create,
    /// The peer exists and is available: nothing to do.
    NoOp { bgp_peer_id: Option<String> },
    /// The peer exists but is still being provisioned: wait for it, never create it again.
    Wait {
        bgp_peer_id: Option<String>,
        state: PeerState,
    },
}

/// One planned step with its reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    pub address: PeerAddress,
    pub vif: VifId,
    pub scope: Scope,
    pub spec: PeerSpec,
    pub kind: ActionKind,
    pub reason: String,
}

/// A desired change that cannot be made, with the rule that forbids it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub location: Location,
    pub address: String,
    pub rule: &'static str,
    pub message: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub refusals: Vec<Refusal>,
}

impl Plan {
    pub fn creates(&self) -> impl Iterator<Item = &Action> {
        self.actions.iter().filter(|a| a.kind == ActionKind::Create)
    }
    pub fn to_add(&self) -> usize {
        self.creates().count()
    }
    /// Whether applying would call AWS or wait on anything.
    pub fn has_changes(&self) -> bool {
        self.actions
            .iter()
            .any(|a| !matches!(a.kind, ActionKind::NoOp { .. }))
    }
}

/// The regions whose connection and LAG facts (`hasLogicalRedundancy`) the plan depends on
/// but `observed` lacks: those where a second peer in one family would be refused without them.
pub fn scopes_needing_redundancy_facts(
    desired: &Desired,
    observed: &Observed,
    owned: &State,
) -> BTreeSet<Scope> {
    let draft = plan(desired, observed, owned);
    draft
        .refusals
        .iter()
        .filter(|r| r.rule == "family-exclusive")
        .filter_map(|r| {
            desired.vifs.iter().find(|v| {
                r.address
                    .starts_with(&format!("virtual_interface.{}.", v.id))
            })
        })
        .filter(|v| {
            observed
                .vif(&v.id)
                .is_some_and(|seen| observed.redundancy(seen).is_none())
        })
        .map(|v| v.scope.clone())
        .collect()
}

/// Plans every declared peer. Pure: no I/O, no clock, no randomness.
pub fn plan(desired: &Desired, observed: &Observed, owned: &State) -> Plan {
    let mut plan = Plan::default();
    for vif in &desired.vifs {
        let Some(seen) = observed.vif(&vif.id).filter(|v| v.scope == vif.scope) else {
            plan.refusals.push(Refusal {
                location: vif.location.clone(),
                address: format!("virtual_interface.{}", vif.id),
                rule: "vif-not-found",
                message: format!(
                    "virtual interface {} does not exist in {}",
                    vif.id, vif.scope
                ),
            });
            continue;
        };
        if matches!(seen.state.as_str(), "deleted" | "deleting" | "rejected") {
            plan.refusals.push(Refusal {
                location: vif.location.clone(),
                address: format!("virtual_interface.{}", vif.id),
                rule: "vif-unusable",
                message: format!(
                    "virtual interface {} is {}; BGP peers cannot be added to it",
                    vif.id, seen.state
                ),
            });
            continue;
        }
        plan_vif(vif, seen, observed, owned, &mut plan);
    }
    plan
}

fn plan_vif(
    vif: &crate::model::VifSpec,
    seen: &ObservedVif,
    observed: &Observed,
    owned: &State,
    plan: &mut Plan,
) {
    let mut taken: BTreeSet<usize> = BTreeSet::new();
    let mut live_per_family: BTreeMap<AddressFamily, usize> = BTreeMap::new();
    for p in seen.peers.iter().filter(|p| !p.state.is_gone()) {
        *live_per_family.entry(p.family).or_default() += 1;
    }
    let mut peers: Vec<&PeerSpec> = vif.peers.iter().collect();
    peers.sort_by(|a, b| a.label.cmp(&b.label));
    for spec in peers {
        let address = PeerAddress::new(&vif.id, &spec.label);
        let owned_id = owned.peer(&address).map(|r| r.bgp_peer_id.as_str());
        let found = find_match(spec, &seen.peers, &taken, owned_id);
        let (kind, reason) = match found {
            Some(i) => {
                taken.insert(i);
                let peer = &seen.peers[i];
                let id = peer.bgp_peer_id.clone();
                match peer.state {
                    PeerState::Available => (
                        ActionKind::NoOp { bgp_peer_id: id },
                        "exists with the same family, ASN and addresses".to_string(),
                    ),
                    ref state => (
                        ActionKind::Wait {
                            bgp_peer_id: id,
                            state: state.clone(),
                        },
                        format!("exists and is {state}; apply waits for it to become available"),
                    ),
                }
            }
            None => {
                let existing = *live_per_family.get(&spec.family).unwrap_or(&0);
                if existing >= 1 && observed.redundancy(seen) != Some(true) {
                    plan.refusals.push(Refusal {
                        location: spec.location.clone(),
                        address: address.0.clone(),
                        rule: "family-exclusive",
                        message: format!(
                            "{} already has an {} peer and its {} does not have logical redundancy (hasLogicalRedundancy is {}); a second {} peer is not allowed",
                            vif.id,
                            spec.family,
                            seen.connection_id.as_deref().unwrap_or("connection"),
                            observed.redundancy_text(seen),
                            spec.family,
                        ),
                    });
                    continue;
                }
                *live_per_family.entry(spec.family).or_default() += 1;
                (
                    ActionKind::Create,
                    "no live peer on the virtual interface matches".to_string(),
                )
            }
        };
        plan.actions.push(Action {
            address,
            vif: vif.id.clone(),
            scope: vif.scope.clone(),
            spec: spec.clone(),
            kind,
            reason,
        });
    }
}

/// Whether an observed peer satisfies a desired one: same family and ASN, and the same
/// addresses wherever the config gives them.
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

/// The observed peer for a spec: the one dxctl owns if it still matches, else the first match.
fn find_match(
    spec: &PeerSpec,
    peers: &[ObservedPeer],
    taken: &BTreeSet<usize>,
    owned_id: Option<&str>,
) -> Option<usize> {
    let candidates = || {
        peers
            .iter()
            .enumerate()
            .filter(|(i, p)| !taken.contains(i) && matches(spec, p))
    };
    owned_id
        .and_then(|id| candidates().find(|(_, p)| p.bgp_peer_id.as_deref() == Some(id)))
        .or_else(|| candidates().next())
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests;
