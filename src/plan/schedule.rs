//! Orders one VIF's changes so that every step is legal when it runs, or refuses what no order allows.
//!
//! AWS refuses a second peer in one address family without logical redundancy, and refuses to delete a
//! VIF's last peer. Creates go first (sessions stay up), then deletes; a replacement is create-before-destroy
//! when the family may hold two peers, destroy-before-create when another peer keeps the VIF alive.

use super::{Action, Change, Kind, Order, Plan, Reason, Refusal, Rule};
use crate::model::{AddressFamily, Location, Observed, ObservedVif};

/// What one order of steps achieves.
struct Outcome {
    steps: Vec<(usize, Option<Order>)>,
    stuck: Vec<usize>,
}

fn simulate(changes: &[Change], live: &[AddressFamily], redundancy: bool) -> Outcome {
    let mut live = live.to_vec();
    let allowed = |live: &[AddressFamily], f: AddressFamily| redundancy || !live.contains(&f);
    let remove = |live: &mut Vec<AddressFamily>, f: Option<AddressFamily>| {
        if let Some(i) = live.iter().position(|x| Some(*x) == f) {
            live.remove(i);
        }
    };
    // The family a create or replace adds, and the one a delete or replace removes.
    let family = |c: &Change| c.action.desired().map(|d| d.family);
    let old_family = |c: &Change| c.action.live().map(|p| p.family);
    let mut steps: Vec<(usize, Option<Order>)> = Vec::new();
    let mut pending: Vec<usize> = Vec::new();
    for (i, c) in changes.iter().enumerate() {
        match c.action.kind() {
            Kind::Create | Kind::Delete | Kind::Replace(_) => pending.push(i),
            _ => steps.push((i, None)),
        }
    }
    loop {
        let before = pending.len();
        pending.retain(|&i| {
            let c = &changes[i];
            let Some(new) = family(c) else {
                return true;
            };
            match c.action.kind() {
                Kind::Create if allowed(&live, new) => {
                    live.push(new);
                    steps.push((i, None));
                    false
                }
                Kind::Replace(_) if allowed(&live, new) => {
                    live.push(new);
                    remove(&mut live, old_family(c));
                    steps.push((i, Some(Order::CreateBeforeDestroy)));
                    false
                }
                _ => true,
            }
        });
        pending.retain(|&i| {
            let c = &changes[i];
            match c.action.kind() {
                Kind::Delete if live.len() > 1 => {
                    remove(&mut live, old_family(c));
                    steps.push((i, None));
                    false
                }
                Kind::Replace(_) if live.len() > 1 => {
                    let Some(new) = family(c) else {
                        return true;
                    };
                    let mut after = live.clone();
                    remove(&mut after, old_family(c));
                    if allowed(&after, new) {
                        after.push(new);
                        live = after;
                        steps.push((i, Some(Order::DestroyBeforeCreate)));
                        false
                    } else {
                        true
                    }
                }
                _ => true,
            }
        });
        if pending.is_empty() || pending.len() == before {
            break;
        }
    }
    Outcome {
        steps,
        stuck: pending,
    }
}

pub(super) fn order(
    seen: &ObservedVif,
    observed: &Observed,
    vif_location: &Location,
    changes: Vec<Change>,
    plan: &mut Plan,
) {
    // Owned peers a lagging describe does not list yet are live too.
    let unlisted = changes
        .iter()
        .filter_map(|c| c.action.live())
        .filter(|p| p.state.as_str() == super::vif::NOT_LISTED_YET);
    let live: Vec<AddressFamily> = seen
        .peers
        .iter()
        .filter(|p| !p.state.is_gone())
        .chain(unlisted)
        .map(|p| p.family)
        .collect();
    let known = observed.redundancy(seen);
    let outcome = simulate(&changes, &live, known.unwrap_or(false));
    if known.is_none() {
        // The facts matter only if they could change the outcome.
        let optimistic = simulate(&changes, &live, true);
        if optimistic.stuck.len() != outcome.stuck.len() || optimistic.steps != outcome.steps {
            plan.missing_facts.insert(seen.scope.clone());
        }
    }
    for &i in &outcome.stuck {
        let c = &changes[i];
        let location = c
            .action
            .desired()
            .map_or_else(|| vif_location.clone(), |d| d.location.clone());
        let parent = seen.connection_id.as_deref().unwrap_or("connection");
        let (rule, message) = match &c.action {
            Action::Create { desired } => (
                Rule::FamilyExclusive,
                format!(
                    "{} already has an {} peer ({}) and its {parent} does not have logical redundancy (hasLogicalRedundancy is {}); a second {} peer is not allowed",
                    seen.id,
                    desired.family,
                    family_peers(seen, desired.family),
                    observed.redundancy_text(seen),
                    desired.family
                ),
            ),
            Action::Delete { live, .. } => (
                Rule::LastPeer,
                match c.reason {
                    Reason::VifRemovedFromConfig => format!(
                        "its virtual_interface block was removed, but deleting {} would leave {} with no BGP peer, and AWS refuses to delete a virtual interface's last peer; to stop managing {} without touching AWS, run `dxctl state rm {}`, or put the block back",
                        live.id(), seen.id, seen.id, seen.id
                    ),
                    Reason::RemovedFromConfig => format!(
                        "its block was removed, but deleting {} would leave {} with no BGP peer, and AWS refuses to delete a virtual interface's last peer; to stop managing it without touching AWS, run `dxctl state rm {}`, or keep a peer in the configuration",
                        live.id(), seen.id, c.address
                    ),
                    _ => format!("deleting it would leave {} with no BGP peer, and AWS refuses to delete a virtual interface's last peer; keep a peer in the configuration or delete the virtual interface", seen.id),
                },
            ),
            _ => (
                Rule::ReplaceImpossible,
                format!(
                    "it must be replaced ({} changed), but it is the only BGP peer on {} and {parent} has no logical redundancy (hasLogicalRedundancy is {}): neither create-before-destroy nor destroy-before-create is allowed",
                    c.action.forces().iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", "),
                    seen.id,
                    observed.redundancy_text(seen)
                ),
            ),
        };
        plan.refusals.push(Refusal {
            location,
            address: c.address.0.clone(),
            rule,
            message,
        });
    }
    for (step, (i, order)) in outcome.steps.into_iter().enumerate() {
        let mut c = changes[i].clone();
        c.step = step;
        if let (Some(order), Action::Replace { order: planned, .. }) = (order, &mut c.action) {
            *planned = order;
            plan.warnings.push(super::Warning {
                address: c.address.0.clone(),
                message: "replacing this peer interrupts its BGP session".into(),
            });
        }
        plan.changes.push(c);
    }
}

/// The live peers of `family` on the VIF, by id, for refusals that name them.
fn family_peers(seen: &ObservedVif, family: AddressFamily) -> String {
    let ids: Vec<&str> = seen
        .peers
        .iter()
        .filter(|p| !p.state.is_gone() && p.family == family)
        .map(|p| p.id())
        .collect();
    if ids.is_empty() {
        "being created by this plan".into()
    } else {
        ids.join(", ")
    }
}
