//! The executor: makes each planned CreateBGPPeer once, records it in state at once, then waits in batched polls.

mod poll;
pub mod readiness;

use std::collections::BTreeSet;
use std::time::Instant;

pub use poll::{Tracked, WaitOptions};

use crate::aws::{DirectConnect, NewPeer};
use crate::model::{Observed, ObservedPeer, PeerState};
use crate::plan::{ActionKind, Plan};
use crate::printer::Printer;
use crate::state::{PeerRecord, State, StateStore};

/// What an apply did.
#[derive(Debug, Default)]
pub struct Summary {
    pub added: usize,
    pub failures: Vec<(String, String)>,
}

/// Executes `plan`: creates, then waits for created and in-flight peers. State is saved after every accepted create.
pub async fn execute<D: DirectConnect, S: StateStore>(
    dc: &D,
    plan: &Plan,
    observed: &Observed,
    store: &S,
    state: &mut State,
    wait: WaitOptions,
    printer: &Printer,
) -> anyhow::Result<Summary> {
    let mut summary = Summary::default();
    let mut tracked: Vec<Tracked> = Vec::new();
    let mut known_ids: BTreeSet<String> = observed
        .vifs
        .iter()
        .flat_map(|v| &v.peers)
        .filter_map(|p| p.bgp_peer_id.clone())
        .collect();

    for action in &plan.actions {
        match &action.kind {
            ActionKind::NoOp { .. } => {}
            ActionKind::Wait {
                bgp_peer_id,
                state: peer_state,
            } => {
                if let Some(id) = bgp_peer_id {
                    printer.status(&format!(
                        "{}: Waiting for peer {id} ({peer_state})...",
                        action.address
                    ));
                    tracked.push(Tracked {
                        address: action.address.clone(),
                        vif: action.vif.clone(),
                        scope: action.scope.clone(),
                        bgp_peer_id: id.clone(),
                        last_state: peer_state.clone(),
                        since: Instant::now(),
                        outcome: None,
                    });
                }
            }
            ActionKind::Create => {
                if !summary.failures.is_empty() {
                    // After a failed create, start nothing new; still wait for what was accepted.
                    continue;
                }
                printer.status(&format!("{}: Creating...", action.address));
                let spec = &action.spec;
                let new = NewPeer {
                    family: spec.family,
                    asn: spec.asn,
                    auth_key: spec.auth_key.clone(),
                    amazon_address: spec.amazon_address.clone(),
                    customer_address: spec.customer_address.clone(),
                };
                let started = Instant::now();
                let vif = match dc.create_bgp_peer(&action.scope, &action.vif, &new).await {
                    Ok(vif) => vif,
                    Err(e) => {
                        let cause = format!("CreateBGPPeer failed: {e:#}");
                        printer.status(&format!("{}: {cause}", action.address));
                        summary.failures.push((action.address.to_string(), cause));
                        continue;
                    }
                };
                let created = vif.peers.iter().find(|p| {
                    p.bgp_peer_id
                        .as_ref()
                        .is_some_and(|id| !known_ids.contains(id))
                        && crate::plan::matches(spec, p)
                });
                let Some(created) = created else {
                    let cause = "CreateBGPPeer succeeded but the returned virtual interface shows no new matching peer".to_string();
                    summary.failures.push((action.address.to_string(), cause));
                    continue;
                };
                let id = created.bgp_peer_id.clone().expect("filtered on id");
                known_ids.insert(id.clone());
                state.upsert(record(action, &id, created));
                store.save(state)?;
                summary.added += 1;
                printer.status(&format!(
                    "{}: Created [id={id}, state {}]",
                    action.address, created.state
                ));
                tracked.push(Tracked {
                    address: action.address.clone(),
                    vif: action.vif.clone(),
                    scope: action.scope.clone(),
                    bgp_peer_id: id,
                    last_state: created.state.clone(),
                    since: started,
                    outcome: if created.state == PeerState::Available {
                        Some(Ok(()))
                    } else {
                        None
                    },
                });
            }
        }
    }

    poll::wait_all(dc, &mut tracked, wait, printer).await?;
    for t in &tracked {
        if let Some(Err(reason)) = &t.outcome {
            summary
                .failures
                .push((t.address.to_string(), reason.clone()));
        }
    }
    Ok(summary)
}

fn record(action: &crate::plan::Action, id: &str, peer: &ObservedPeer) -> PeerRecord {
    PeerRecord {
        address: action.address.clone(),
        virtual_interface_id: action.vif.clone(),
        region: action.scope.region.clone(),
        profile: action.scope.profile.clone(),
        bgp_peer_id: id.to_string(),
        address_family: peer.family,
        asn: peer.asn,
        amazon_address: peer.amazon_address.clone(),
        customer_address: peer.customer_address.clone(),
    }
}

#[cfg(test)]
mod tests;
