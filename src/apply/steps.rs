//! One VIF's changes, one after another: create, delete, replace, adopt, wait and forget, each resolving
//! throttling, transitioning states and lost answers without ever sending a create twice blindly.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::sync::{watch, Semaphore};

use super::poll::{Poller, Wait, Waited};
use super::progress::{Event, Progress};
use super::readiness::Goal;
use super::record::Recorder;
use super::Outcome;
use crate::aws::{DirectConnect, Failure, FailureKind, NewPeer};
use crate::model::{ObservedPeer, PeerSpec, PeerState};
use crate::plan::{matches, Action, Change, Order};
use crate::state::{PeerRecord, StateStore};

/// Attempts at one call when AWS says "not now" (throttled, transitioning) or the answer is lost.
const MAX_ATTEMPTS: u32 = 8;

pub struct Ctx<'a, D, S: StateStore> {
    pub dc: &'a D,
    pub recorder: &'a Recorder<S>,
    pub poller: Poller,
    pub semaphore: &'a Semaphore,
    pub progress: &'a dyn Progress,
    pub cancel: watch::Receiver<bool>,
}

type StepResult = Result<Outcome, String>;

/// How a step left off: finished, or accepted and now provisioning (waited for at the end of its VIF).
enum Started {
    Finished(Outcome),
    Provisioning { id: String, state: PeerState },
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250 * 2u64.pow(attempt.min(6))).min(Duration::from_secs(15))
}

impl<D: DirectConnect, S: StateStore + Clone + Send + 'static> Ctx<'_, D, S> {
    fn interrupted(&self) -> bool {
        *self.cancel.borrow()
    }

    fn say(&self, address: &str, kind: &'static str, message: impl Into<String>) {
        self.progress.event(Event::new(address, kind, message));
    }

    /// Runs one VIF's changes in order. API calls are serialised; waiting for a new peer to become available
    /// is not: those waits are collected and awaited together at the end (in the shared batched poll loop).
    pub async fn run_vif<'c>(
        &self,
        changes: Vec<&'c Change>,
        mut known: BTreeSet<String>,
        public: bool,
    ) -> Vec<(&'c Change, Outcome)> {
        let mut out = Vec::new();
        let mut waits: Vec<(&'c Change, String, PeerState)> = Vec::new();
        let mut blocked: Option<String> = None;
        for c in changes {
            if let Some(why) = &blocked {
                out.push((c, Outcome::Skipped(why.clone())));
                continue;
            }
            if self.interrupted() && !matches!(c.action, Action::NoOp) {
                out.push((c, Outcome::Skipped("interrupted before it started".into())));
                continue;
            }
            let address = c.address.to_string();
            match self.step(c, &mut known, public).await {
                Ok(Started::Finished(o)) => out.push((c, o)),
                Ok(Started::Provisioning { id, state }) => waits.push((c, id, state)),
                Err(cause) => {
                    self.say(&address, "failed", format!("failed: {cause}"));
                    blocked = Some(format!("an earlier step on {} failed", c.vif));
                    out.push((c, Outcome::Failed(cause)));
                }
            }
        }
        let waited = futures::future::join_all(
            waits
                .iter()
                .map(|(c, id, state)| self.wait_available(c, id, state.clone(), public)),
        )
        .await;
        for ((c, _, _), result) in waits.into_iter().zip(waited) {
            let outcome = result.unwrap_or_else(|cause| {
                self.say(&c.address.0, "failed", format!("failed: {cause}"));
                Outcome::Failed(cause)
            });
            out.push((c, outcome));
        }
        out
    }

    async fn step(
        &self,
        c: &Change,
        known: &mut BTreeSet<String>,
        public: bool,
    ) -> Result<Started, String> {
        let address = c.address.to_string();
        match &c.action {
            Action::Wait(state) => {
                let peer = c.current.as_ref().expect("wait has a peer");
                self.say(
                    &address,
                    "start",
                    format!("Waiting for peer {} ({state})...", id_of(peer)),
                );
                // It exists and matches: record it now, so a kill while waiting loses nothing.
                if !self.recorder.has(&c.address, id_of(peer)) {
                    self.record(c, peer, None).await?;
                }
                Ok(Started::Provisioning {
                    id: id_of(peer).to_string(),
                    state: state.clone(),
                })
            }
            Action::Create => {
                self.say(&address, "start", "Creating...");
                let (id, state) = self.create(c, known, None).await?;
                Ok(Started::Provisioning { id, state })
            }
            _ => self
                .step_inner(c, known, public)
                .await
                .map(Started::Finished),
        }
    }

    async fn step_inner(
        &self,
        c: &Change,
        known: &mut BTreeSet<String>,
        public: bool,
    ) -> StepResult {
        let address = c.address.to_string();
        match &c.action {
            Action::NoOp => Ok(Outcome::Done),
            Action::Forget => {
                self.recorder
                    .remove(&c.address)
                    .await
                    .map_err(|e| format!("{e:#}"))?;
                self.say(&address, "done", "Forgotten (no longer exists in AWS)");
                Ok(Outcome::Done)
            }
            Action::Adopt => {
                let peer = c.current.as_ref().expect("adopt has a peer");
                self.record(c, peer, None).await?;
                self.say(&address, "done", format!("Adopted [id={}]", id_of(peer)));
                Ok(Outcome::Done)
            }
            Action::Delete => {
                let peer = c.current.as_ref().expect("delete has a peer");
                self.say(
                    &address,
                    "start",
                    format!("Destroying [id={}]...", id_of(peer)),
                );
                self.delete(c, peer, public).await?;
                if c.deposed {
                    self.recorder
                        .remove_deposed(&c.address, id_of(peer))
                        .await
                        .map_err(|e| format!("{e:#}"))?;
                } else {
                    self.recorder
                        .remove(&c.address)
                        .await
                        .map_err(|e| format!("{e:#}"))?;
                }
                self.say(&address, "done", "Destruction complete");
                Ok(Outcome::Done)
            }
            Action::Create | Action::Wait(_) => unreachable!("handled by step"),
            Action::Replace(order) => {
                let old = c.current.as_ref().expect("replace has a peer");
                self.say(
                    &address,
                    "start",
                    format!("Replacing [id={}] ({})...", id_of(old), order_text(*order)),
                );
                match order {
                    Order::CreateBeforeDestroy => {
                        let (id, state) = self.create(c, known, Some(id_of(old))).await?;
                        let outcome = self.wait_available(c, &id, state, public).await?;
                        if outcome != Outcome::Done {
                            return Ok(outcome);
                        }
                        self.delete(c, old, public).await?;
                        self.recorder
                            .remove_deposed(&c.address, id_of(old))
                            .await
                            .map_err(|e| format!("{e:#}"))?;
                        self.say(&address, "done", format!("Replacement complete [id={id}]"));
                        Ok(Outcome::Done)
                    }
                    Order::DestroyBeforeCreate => {
                        self.delete(c, old, public).await?;
                        let (id, state) = self.create(c, known, None).await?;
                        self.wait_available(c, &id, state, public).await
                    }
                }
            }
        }
    }

    async fn record(
        &self,
        c: &Change,
        peer: &ObservedPeer,
        deposes: Option<&str>,
    ) -> Result<(), String> {
        let record = PeerRecord {
            address: c.address.clone(),
            virtual_interface_id: c.vif.clone(),
            region: c.scope.region.clone(),
            profile: c.scope.profile.clone(),
            bgp_peer_id: id_of(peer).to_string(),
            address_family: peer.family,
            asn: peer.asn,
            amazon_address: peer.amazon_address.clone(),
            customer_address: peer.customer_address.clone(),
            deposed: vec![],
        };
        self.recorder
            .record(record, deposes)
            .await
            .map_err(|e| format!("{e:#}"))
    }

    /// CreateBGPPeer once; after a lost answer or a 5xx, describes the VIF and adopts the peer if the create took.
    /// Records the new peer (deposing `deposes`) before returning its id.
    async fn create(
        &self,
        c: &Change,
        known: &mut BTreeSet<String>,
        deposes: Option<&str>,
    ) -> Result<(String, PeerState), String> {
        let spec = c.desired.as_ref().expect("create has a spec");
        let address = c.address.to_string();
        let new = NewPeer {
            family: spec.family,
            asn: spec.asn,
            auth_key: spec.auth_key.clone(),
            amazon_address: spec.amazon_address.clone(),
            customer_address: spec.customer_address.clone(),
        };
        for attempt in 0..MAX_ATTEMPTS {
            let result = {
                let _permit = self.semaphore.acquire().await.map_err(|e| e.to_string())?;
                self.dc.create_bgp_peer(&c.scope, &c.vif, &new).await
            };
            let found = match result {
                Ok(vif) => fresh(&vif.peers, known, spec)
                    .ok_or("CreateBGPPeer succeeded but the returned virtual interface shows no new matching peer")?,
                Err(e) => {
                    let failure = Failure::of(&e).cloned();
                    match failure.as_ref().map(|f| f.kind) {
                        Some(FailureKind::Transitioning | FailureKind::Throttled) => {
                            self.say(&address, "step", format!("{}; retrying in {:?}", failure.expect("some"), backoff(attempt)));
                            tokio::time::sleep(backoff(attempt)).await;
                            continue;
                        }
                        Some(FailureKind::Server | FailureKind::Lost) => {
                            // The create may have taken: look before sending it again.
                            self.say(&address, "step", format!("CreateBGPPeer's answer was lost ({}); checking whether it took", failure.expect("some")));
                            tokio::time::sleep(backoff(attempt)).await;
                            match self.describe_vif_peers(c).await {
                                Some(peers) => match fresh(&peers, known, spec) {
                                    Some(p) => {
                                        self.say(&address, "step", format!("found the peer it created [id={}]", id_of(&p)));
                                        p
                                    }
                                    None => continue,
                                },
                                None => continue,
                            }
                        }
                        _ => return Err(format!("CreateBGPPeer failed: {e:#}")),
                    }
                }
            };
            let id = id_of(&found).to_string();
            known.insert(id.clone());
            self.record(c, &found, deposes).await?;
            self.say(
                &address,
                "step",
                format!("Created [id={id}, state {}]", found.state),
            );
            return Ok((id, found.state));
        }
        Err(format!(
            "CreateBGPPeer did not succeed after {MAX_ATTEMPTS} attempts"
        ))
    }

    async fn describe_vif_peers(&self, c: &Change) -> Option<Vec<ObservedPeer>> {
        let _permit = self.semaphore.acquire().await.ok()?;
        let vifs = self.dc.describe_virtual_interfaces(&c.scope).await.ok()?;
        vifs.into_iter().find(|v| v.id == c.vif).map(|v| v.peers)
    }

    /// DeleteBGPPeer once it is allowed (the peer available), then waits until it is gone.
    async fn delete(&self, c: &Change, peer: &ObservedPeer, public: bool) -> Result<(), String> {
        let address = c.address.to_string();
        let id = id_of(peer);
        if peer.state != PeerState::Available {
            match self
                .wait_for(c, id, Goal::Available, peer.state.clone(), public)
                .await
            {
                Waited::Ready(_) => {}
                other => {
                    return Err(format!(
                        "could not delete {id}: it never became available ({other:?})"
                    ))
                }
            }
        }
        let mut attempt = 0;
        loop {
            let result = {
                let _permit = self.semaphore.acquire().await.map_err(|e| e.to_string())?;
                self.dc.delete_bgp_peer(&c.scope, &c.vif, id).await
            };
            match result {
                Ok(_) => break,
                Err(e) => {
                    let failure = Failure::of(&e).cloned();
                    let kind = failure.as_ref().map(|f| f.kind);
                    attempt += 1;
                    if attempt >= MAX_ATTEMPTS {
                        return Err(format!(
                            "DeleteBGPPeer failed after {MAX_ATTEMPTS} attempts: {e:#}"
                        ));
                    }
                    match kind {
                        Some(FailureKind::Transitioning | FailureKind::Throttled) => {
                            self.say(
                                &address,
                                "step",
                                format!(
                                    "{}; retrying in {:?}",
                                    failure.expect("some"),
                                    backoff(attempt)
                                ),
                            );
                            tokio::time::sleep(backoff(attempt)).await;
                        }
                        Some(FailureKind::Server | FailureKind::Lost) => {
                            tokio::time::sleep(backoff(attempt)).await;
                            let gone = self.describe_vif_peers(c).await.map(|peers| {
                                peers
                                    .iter()
                                    .find(|p| p.bgp_peer_id.as_deref() == Some(id))
                                    .is_none_or(|p| p.state.is_gone())
                            });
                            if gone == Some(true) {
                                break;
                            }
                        }
                        _ if failure.as_ref().is_some_and(|f| {
                            f.message.contains("already deleting")
                                || f.message.contains("already deleted")
                        }) =>
                        {
                            break
                        }
                        _ => return Err(format!("DeleteBGPPeer failed: {e:#}")),
                    }
                }
            }
        }
        match self
            .wait_for(c, id, Goal::Gone, PeerState::Deleting, public)
            .await
        {
            Waited::Ready(_) => Ok(()),
            Waited::Interrupted => Err("interrupted while waiting for the deletion".into()),
            other => Err(format!("peer {id} did not go away: {other:?}")),
        }
    }

    async fn wait_for(
        &self,
        c: &Change,
        id: &str,
        goal: Goal,
        state: PeerState,
        public: bool,
    ) -> Waited {
        self.poller
            .wait(Wait {
                address: &c.address.0,
                scope: &c.scope,
                vif: &c.vif,
                id,
                goal,
                state,
                public,
            })
            .await
    }

    async fn wait_available(
        &self,
        c: &Change,
        id: &str,
        state: PeerState,
        public: bool,
    ) -> StepResult {
        let address = c.address.to_string();
        if state == PeerState::Available {
            self.say(&address, "done", format!("Available [id={id}]"));
            return Ok(Outcome::Done);
        }
        match self.wait_for(c, id, Goal::Available, state, public).await {
            Waited::Ready(peer) => {
                let addrs = peer
                    .map(|p| format!(", amazon_address={}, customer_address={}", p.amazon_address.unwrap_or_default(), p.customer_address.unwrap_or_default()))
                    .unwrap_or_default();
                self.say(&address, "done", format!("Available [id={id}{addrs}]"));
                Ok(Outcome::Done)
            }
            Waited::AwaitingApproval => {
                self.say(&address, "approval", format!("Awaiting AWS approval [id={id}, state verifying]"));
                Ok(Outcome::AwaitingApproval)
            }
            Waited::Failed(reason) => Err(reason),
            Waited::TimedOut(last) => Err(format!("timed out waiting for {id} to become available (last state {last})")),
            Waited::Interrupted => Ok(Outcome::Skipped(format!("interrupted while waiting for {id}; it is recorded and the next apply waits for it"))),
        }
    }
}

/// A peer on the VIF that was not there before and matches the spec: the one a create made.
fn fresh(
    peers: &[ObservedPeer],
    known: &BTreeSet<String>,
    spec: &PeerSpec,
) -> Option<ObservedPeer> {
    peers
        .iter()
        .find(|p| p.bgp_peer_id.as_ref().is_some_and(|id| !known.contains(id)) && matches(spec, p))
        .cloned()
}

fn id_of(peer: &ObservedPeer) -> &str {
    peer.bgp_peer_id.as_deref().unwrap_or("?")
}

fn order_text(order: Order) -> &'static str {
    match order {
        Order::CreateBeforeDestroy => "create before destroy",
        Order::DestroyBeforeCreate => "destroy before create",
    }
}
