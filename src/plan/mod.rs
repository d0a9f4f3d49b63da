//! The pure planner: compares Desired with Observed and Owned, and says what to do for each peer, in what order, and why.

pub mod intents;
mod schedule;
mod vif;

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

/// What the planner decided for one peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// CreateBGPPeer.
    Create,
    /// DeleteBGPPeer of a peer dxctl owns that the config no longer declares.
    Delete,
    /// Delete and create: a change to the ASN, an address or the auth key.
    Replace(Order),
    /// An existing peer that matches the config becomes managed, with no API call.
    Adopt,
    /// Exists and matches.
    NoOp,
    /// Exists but is still being provisioned: wait for it (and adopt it), never create it again.
    Wait(PeerState),
    /// dxctl's record of a peer that no longer exists is dropped, with no API call.
    Forget,
}

impl Action {
    /// The Terraform-style action list used in JSON.
    pub fn names(&self) -> Vec<&'static str> {
        match self {
            Action::Create => vec!["create"],
            Action::Delete => vec!["delete"],
            Action::Replace(Order::CreateBeforeDestroy) => vec!["create", "delete"],
            Action::Replace(Order::DestroyBeforeCreate) => vec!["delete", "create"],
            Action::Adopt => vec!["adopt"],
            Action::NoOp => vec!["no-op"],
            Action::Wait(_) => vec!["wait"],
            Action::Forget => vec!["forget"],
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
    pub reason: String,
    /// The peer the config asks for (none for Delete and Forget).
    pub desired: Option<PeerSpec>,
    /// The existing peer this change keeps, adopts, waits for or deletes (none for Create).
    pub current: Option<ObservedPeer>,
    /// The fields whose change forces a replacement.
    pub forces: Vec<&'static str>,
    /// Position among the changes of its VIF, which run one after another in this order.
    pub step: usize,
    /// A delete of an earlier incarnation left behind by an interrupted replacement.
    pub deposed: bool,
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
    pub rule: &'static str,
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
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.add += 1,
                Action::Delete => s.destroy += 1,
                Action::Replace(_) => {
                    s.add += 1;
                    s.destroy += 1;
                }
                Action::Adopt => s.adopt += 1,
                Action::Wait(_) => s.wait += 1,
                Action::Forget => s.forget += 1,
                Action::NoOp => {}
            }
        }
        s
    }

    /// Whether applying would call AWS, wait on anything, or change state.
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::NoOp)
            || self.settlements.iter().any(intents::Settlement::settles)
    }

    /// Creates of an earlier apply whose outcome no describe could tell yet.
    pub fn unsettled(&self) -> impl Iterator<Item = &intents::Settlement> {
        self.settlements.iter().filter(|s| !s.settles())
    }
}

/// Settles the state's intents (see [`intents::resolve`]), then plans every declared peer and every owned one. Pure:
/// no I/O, no randomness, and the only clock is when the describes started.
pub fn plan(desired: &Desired, observed: &Observed, owned: &State) -> Plan {
    let resolution = intents::resolve(owned, observed);
    let mut plan = plan_settled(desired, observed, &resolution.state);
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
                rule: "ambiguous-intent",
                message: format!("an earlier {}: {}", s.call, s.describe()),
            });
        }
    }
    plan.settlements = resolution.settlements;
    plan
}

/// Plans against a state whose intents are settled.
fn plan_settled(desired: &Desired, observed: &Observed, owned: &State) -> Plan {
    let mut plan = Plan::default();
    let declared: BTreeSet<&VifId> = desired.vifs.iter().map(|v| &v.id).collect();
    for spec in &desired.vifs {
        let records = owned
            .peers
            .iter()
            .filter(|r| r.virtual_interface_id == spec.id)
            .collect();
        vif::plan_declared(spec, observed, records, &mut plan);
    }
    // VIFs whose whole block left the config: their owned peers go too.
    let mut orphans: BTreeMap<&VifId, Vec<&crate::state::PeerRecord>> = BTreeMap::new();
    for r in owned
        .peers
        .iter()
        .filter(|r| !declared.contains(&r.virtual_interface_id))
    {
        orphans.entry(&r.virtual_interface_id).or_default().push(r);
    }
    for (id, records) in orphans {
        vif::plan_orphaned(id, observed, records, &mut plan);
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
