//! One VIF's changes, one after another: create, delete, replace, adopt, wait and forget. Every CreateBGPPeer and
//! DeleteBGPPeer is recorded as an intent before it is sent; when its answer is lost (5xx, dropped connection,
//! timeout) it is never sent again until describes have settled what happened.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;

use super::error::{ApplyError, Interruption, RecordError, Skip};
use super::pace::Pacer;
use super::poll::{Poller, Wait, Waited};
use super::progress::{Event, Progress};
use super::readiness::Goal;
use super::record::Recorder;
use super::retry::Backoff;
use super::Outcome;
use crate::aws::{AwsError, DirectConnect, Failure, FailureKind, NewPeer, Operation};
use crate::clock::{now_ms, rfc3339};
use crate::model::{ObservedPeer, PeerSpec, PeerState};
use crate::plan::intents::{Created, Deleted};
use crate::plan::{Action, Change, Forgotten, Incarnation, Kind, Order};
use crate::state::{Call, Creation, Intent, PeerRecord, StateError, StateStore};

/// Sends of one call, counting the ones AWS refused for now (throttled, transitioning) and the ones settled as
/// not having happened. The apply's deadline usually ends a hopeless run sooner.
const MAX_SENDS: u32 = 60;

const CREATE: Operation = Operation::CreateBgpPeer;
const DELETE: Operation = Operation::DeleteBgpPeer;

/// The clocks an apply keeps.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// How long after a call ends its effect may take to show in describes (eventual consistency, late writes).
    pub settle: Duration,
    /// The most one call may take; a write-ahead intent is conclusive only after sent + this + `settle`.
    pub call_timeout: Duration,
    /// When the whole apply gives up.
    pub deadline: Instant,
    /// The polling interval: a call refused as "transitioning" is tried again at least this often, since what it
    /// waits for (another peer provisioning) is what the polls watch.
    pub poll: Duration,
}

pub struct Ctx<'a, D, S: StateStore> {
    pub dc: &'a D,
    pub recorder: &'a Recorder<S>,
    pub poller: Poller,
    pub semaphore: &'a Semaphore,
    pub pacer: &'a Pacer,
    pub progress: &'a dyn Progress,
    pub cancel: watch::Receiver<bool>,
    /// Turning true (a second Ctrl-C) stops waiting for calls in flight.
    pub abort: watch::Receiver<bool>,
    pub timing: Timing,
}

/// Why a step stopped early.
enum Stop {
    /// Boxed: a failure is rare, and `Step` results are passed around on every step.
    Failed(Box<ApplyError>),
    /// Ctrl-C: nothing was lost; the state says what the next apply resumes from.
    Interrupted(Interruption),
}

impl From<ApplyError> for Stop {
    fn from(e: ApplyError) -> Stop {
        Stop::Failed(Box::new(e))
    }
}

/// A state write that failed: nothing more is sent for this VIF.
impl From<StateError> for Stop {
    fn from(e: StateError) -> Stop {
        Stop::from(ApplyError::Record(RecordError::new(e)))
    }
}

type Step<T> = Result<T, Stop>;

/// What one send of a mutating call came to.
enum Sent<T> {
    /// AWS answered: the call took effect.
    Answered(T),
    /// Refused before it ran (throttled, transitioning): send it again.
    RefusedForNow,
    /// Failed: lost (it may have taken effect) or rejected for good.
    Failed(Failure),
}

/// How a step left off: finished, or accepted and now provisioning (waited for at the end of its VIF).
enum Started {
    Finished(Outcome),
    Provisioning { id: String, state: PeerState },
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
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
        let mut blocked: Option<Skip> = None;
        for c in changes {
            if let Some(why) = &blocked {
                out.push((c, Outcome::Skipped(why.clone())));
                continue;
            }
            if self.interrupted() && c.action.kind() != Kind::NoOp {
                out.push((c, Outcome::Skipped(Interruption::BeforeStart.into())));
                continue;
            }
            let address = c.address.to_string();
            match self.step(c, &mut known, public).await {
                Ok(Started::Finished(o)) => out.push((c, o)),
                Ok(Started::Provisioning { id, state }) => waits.push((c, id, state)),
                Err(Stop::Failed(cause)) => {
                    self.say(&address, "failed", format!("failed: {cause}"));
                    blocked = Some(Skip::EarlierStepFailed(c.vif.clone()));
                    out.push((c, Outcome::Failed(*cause)));
                }
                Err(Stop::Interrupted(why)) => {
                    self.say(&address, "note", why.to_string());
                    blocked = Some(Interruption::BeforeStart.into());
                    out.push((c, Outcome::Skipped(why.into())));
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
            let outcome = match result {
                Ok(o) => o,
                Err(Stop::Failed(cause)) => {
                    self.say(&c.address.0, "failed", format!("failed: {cause}"));
                    Outcome::Failed(*cause)
                }
                Err(Stop::Interrupted(why)) => Outcome::Skipped(why.into()),
            };
            out.push((c, outcome));
        }
        out
    }

    async fn step(&self, c: &Change, known: &mut BTreeSet<String>, public: bool) -> Step<Started> {
        let address = c.address.to_string();
        match &c.action {
            Action::Wait { live, .. } => {
                let id = live.id();
                self.say(
                    &address,
                    "start",
                    format!("Waiting for peer {id} ({})...", live.state),
                );
                // It exists and matches: record it now, so a kill while waiting loses nothing.
                if !self.recorder.has(&c.address, id) {
                    self.record(c, live, None).await?;
                }
                Ok(Started::Provisioning {
                    id: id.to_string(),
                    state: live.state.clone(),
                })
            }
            Action::Create { desired } => {
                self.say(&address, "start", "Creating...");
                let (id, state) = self.create(c, desired, known, None, public).await?;
                Ok(Started::Provisioning { id, state })
            }
            Action::NoOp { .. } => Ok(Started::Finished(Outcome::Done)),
            Action::Forget {
                forgotten: Forgotten::Deposed { peer },
            } => {
                self.recorder.remove_deposed(&c.address, peer.id()).await?;
                self.say(
                    &address,
                    "done",
                    format!(
                        "Forgotten deposed peer {} (already {})",
                        peer.id(),
                        peer.state
                    ),
                );
                Ok(Started::Finished(Outcome::Done))
            }
            Action::Forget {
                forgotten: Forgotten::Owned { .. },
            } => {
                self.recorder.remove(&c.address).await?;
                self.say(&address, "done", "Forgotten (no longer exists in AWS)");
                Ok(Started::Finished(Outcome::Done))
            }
            Action::Adopt { live, .. } => {
                self.record(c, live, None).await?;
                self.say(&address, "done", format!("Adopted [id={}]", live.id()));
                Ok(Started::Finished(Outcome::Done))
            }
            Action::Delete { live, incarnation } => {
                self.say(
                    &address,
                    "start",
                    format!("Destroying [id={}]...", live.id()),
                );
                self.delete(c, live, public).await?;
                match incarnation {
                    Incarnation::Deposed => {
                        self.recorder.remove_deposed(&c.address, live.id()).await?;
                    }
                    Incarnation::Current => self.recorder.remove(&c.address).await?,
                }
                self.say(&address, "done", "Destruction complete");
                Ok(Started::Finished(Outcome::Done))
            }
            Action::Replace {
                desired,
                live,
                order,
                ..
            } => self
                .replace(c, desired, live, *order, known, public)
                .await
                .map(Started::Finished),
        }
    }

    async fn replace(
        &self,
        c: &Change,
        spec: &PeerSpec,
        old: &ObservedPeer,
        order: Order,
        known: &mut BTreeSet<String>,
        public: bool,
    ) -> Step<Outcome> {
        let address = c.address.to_string();
        self.say(
            &address,
            "start",
            format!("Replacing [id={}] ({})...", old.id(), order_text(order)),
        );
        match order {
            Order::CreateBeforeDestroy => {
                let (id, state) = self.create(c, spec, known, Some(old.id()), public).await?;
                let outcome = self.wait_available(c, &id, state, public).await?;
                if !matches!(outcome, Outcome::Done) {
                    return Ok(outcome);
                }
                self.delete(c, old, public).await?;
                self.recorder.remove_deposed(&c.address, old.id()).await?;
                self.say(&address, "done", format!("Replacement complete [id={id}]"));
                Ok(Outcome::Done)
            }
            Order::DestroyBeforeCreate => {
                self.delete(c, old, public).await?;
                let (id, state) = self.create(c, spec, known, None, public).await?;
                self.wait_available(c, &id, state, public).await
            }
        }
    }

    async fn record(&self, c: &Change, peer: &ObservedPeer, deposes: Option<&str>) -> Step<()> {
        let record = PeerRecord {
            address: c.address.clone(),
            virtual_interface_id: c.vif.clone(),
            region: c.scope.region.clone(),
            profile: c.scope.profile.clone(),
            bgp_peer_id: peer.id().to_string(),
            address_family: peer.family,
            asn: peer.asn,
            amazon_address: peer.amazon_address.clone(),
            customer_address: peer.customer_address.clone(),
            deposed: vec![],
            listed_by_ms: Some(now_ms().saturating_add(millis(self.timing.settle))),
        };
        Ok(self.recorder.record(record, deposes).await?)
    }

    fn intent(&self, c: &Change, call: Call) -> Intent {
        let sent = now_ms();
        Intent {
            address: c.address.clone(),
            virtual_interface_id: c.vif.clone(),
            region: c.scope.region.clone(),
            profile: c.scope.profile.clone(),
            call,
            sent_at_ms: sent,
            conclusive_after_ms: sent
                .saturating_add(millis(self.timing.call_timeout))
                .saturating_add(millis(self.timing.settle)),
        }
    }

    /// Gives up on a call AWS keeps refusing for now, once the apply's deadline has passed.
    fn check_deadline(&self, operation: Operation) -> Step<()> {
        if Instant::now() >= self.timing.deadline {
            return Err(ApplyError::StillRefused { operation }.into());
        }
        Ok(())
    }

    /// CreateBGPPeer, with a write-ahead intent. Returns the new peer's id and state once it is recorded.
    async fn create(
        &self,
        c: &Change,
        spec: &PeerSpec,
        known: &mut BTreeSet<String>,
        deposes: Option<&str>,
        public: bool,
    ) -> Step<(String, PeerState)> {
        let new = NewPeer {
            family: spec.family,
            asn: spec.asn,
            auth_key: spec.auth_key.clone(),
            amazon_address: spec.amazon_address.clone(),
            customer_address: spec.customer_address.clone(),
        };
        for attempt in 0..MAX_SENDS {
            let owned = self.recorder.owned_elsewhere(&c.vif, &c.address);
            let creation = Creation {
                address_family: spec.family,
                asn: spec.asn,
                amazon_address: spec.amazon_address.clone(),
                customer_address: spec.customer_address.clone(),
                known_peer_ids: known
                    .iter()
                    .chain(&owned)
                    .cloned()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
                deposes: deposes.map(str::to_string),
            };
            let call = Call::CreateBGPPeer(creation.clone());
            let sent = self
                .send(c, CREATE, attempt, call, || {
                    self.dc.create_bgp_peer(&c.scope, &c.vif, &new)
                })
                .await?;
            let failure = match sent {
                Sent::RefusedForNow => continue,
                Sent::Answered(vif) => {
                    // The answer settles it only when exactly one live peer can be the one this call made.
                    let mut made = vif.peers.iter().filter(|p| {
                        !p.state.is_gone()
                            && creation.made(p)
                            && !p.bgp_peer_id.as_ref().is_some_and(|id| owned.contains(id))
                    });
                    let made = match (made.next(), made.next()) {
                        (Some(one), None) => Some(one),
                        _ => None,
                    };
                    match made {
                        Some(peer) => return self.created(c, peer, known, deposes).await,
                        // An answer that does not single out the new peer settles nothing: treat it as lost.
                        None => Failure {
                            kind: FailureKind::Lost,
                            code: None,
                            message: "CreateBGPPeer's answer does not single out the new peer"
                                .into(),
                        },
                    }
                }
                Sent::Failed(failure) => failure,
            };
            match failure.kind {
                FailureKind::Server | FailureKind::Lost => {
                    match self
                        .settle_create(c, &creation, &owned, &failure, public)
                        .await?
                    {
                        Some(peer) => return self.created(c, &peer, known, deposes).await,
                        None => continue,
                    }
                }
                _ => {
                    self.recorder.settle(&c.address).await?;
                    return Err(ApplyError::Refused {
                        operation: CREATE,
                        failure,
                    }
                    .into());
                }
            }
        }
        self.recorder.settle(&c.address).await?;
        Err(ApplyError::OutOfSends {
            operation: CREATE,
            peer: None,
            sends: MAX_SENDS,
        }
        .into())
    }

    /// Records the peer a create made (settling its intent) and returns its id and state.
    async fn created(
        &self,
        c: &Change,
        peer: &ObservedPeer,
        known: &mut BTreeSet<String>,
        deposes: Option<&str>,
    ) -> Step<(String, PeerState)> {
        let id = peer.id().to_string();
        known.insert(id.clone());
        self.record(c, peer, deposes).await?;
        self.say(
            &c.address.0,
            "step",
            format!("Created [id={id}, state {}]", peer.state),
        );
        Ok((id, peer.state.clone()))
    }

    /// After a create's answer was lost: waits until describes show the peer it made (`Some`), or show it absent
    /// from a describe that started late enough to be sure (`None`: send it again).
    async fn settle_create(
        &self,
        c: &Change,
        creation: &Creation,
        owned: &BTreeSet<String>,
        failure: &Failure,
        public: bool,
    ) -> Step<Option<ObservedPeer>> {
        let address = c.address.to_string();
        let conclusive = now_ms().saturating_add(millis(self.timing.settle));
        self.say(
            &address,
            "step",
            format!(
                "CreateBGPPeer's answer was lost ({failure}); it may have taken effect, so it is not sent again \
                 until describes settle it (by {} at the latest)",
                rfc3339(conclusive)
            ),
        );
        let goal = Goal::Created {
            creation: creation.clone(),
            owned: owned.clone(),
            conclusive_after_ms: conclusive,
        };
        match self.wait_for(c, goal, None, public).await {
            Waited::Created(Created::Made(peer)) => {
                self.say(
                    &address,
                    "step",
                    format!("found the peer it created [id={}]", peer.id()),
                );
                Ok(Some(peer))
            }
            Waited::Created(Created::MadeThenGone(peer)) => {
                self.recorder.settle(&c.address).await?;
                Err(ApplyError::MadeThenGone {
                    id: peer.id().to_string(),
                    state: peer.state,
                }
                .into())
            }
            Waited::Created(Created::NotMade) => {
                self.say(
                    &address,
                    "step",
                    "settled: it did not take effect; sending it again",
                );
                Ok(None)
            }
            Waited::Created(Created::Ambiguous(candidates)) => {
                Err(ApplyError::AmbiguousCreate { candidates }.into())
            }
            Waited::Interrupted => Err(Stop::Interrupted(Interruption::SettlingCreate)),
            waited => Err(ApplyError::CreateUnsettled { waited }.into()),
        }
    }

    /// DeleteBGPPeer once it is allowed (the peer available), with a write-ahead intent; then waits until it is gone.
    async fn delete(&self, c: &Change, peer: &ObservedPeer, public: bool) -> Step<()> {
        let address = c.address.to_string();
        let id = peer.id();
        let mut already_going = false;
        if peer.state != PeerState::Available {
            let goal = Goal::Deletable {
                id: id.to_string(),
                visible_by_ms: now_ms().saturating_add(millis(self.timing.settle)),
            };
            match self
                .wait_for(c, goal, Some(peer.state.clone()), public)
                .await
            {
                Waited::Ready(Some(_)) => {}
                Waited::Ready(None) => {
                    // An earlier apply's delete (or someone else's) got there first.
                    self.say(
                        &address,
                        "step",
                        format!("{id} is already deleting or gone"),
                    );
                    already_going = true;
                }
                Waited::Interrupted => {
                    return Err(Stop::Interrupted(Interruption::BeforeDelete(
                        id.to_string(),
                    )))
                }
                waited => {
                    return Err(ApplyError::NeverDeletable {
                        id: id.to_string(),
                        waited,
                    }
                    .into())
                }
            }
        }
        // Nothing to send when an earlier delete got there first.
        if !already_going {
            self.delete_call(c, id, public).await?;
        }
        let goal = Goal::Gone { id: id.to_string() };
        match self
            .wait_for(c, goal, Some(PeerState::Deleting), public)
            .await
        {
            Waited::Ready(_) => Ok(()),
            Waited::Interrupted => Err(Stop::Interrupted(Interruption::Deleting(id.to_string()))),
            waited => Err(ApplyError::NotGone {
                id: id.to_string(),
                waited,
            }
            .into()),
        }
    }

    /// DeleteBGPPeer until AWS accepts it (or says the peer is already going), settling lost answers first.
    async fn delete_call(&self, c: &Change, id: &str, public: bool) -> Step<()> {
        let address = c.address.to_string();
        for attempt in 0..MAX_SENDS {
            let call = Call::DeleteBGPPeer {
                bgp_peer_id: id.to_string(),
            };
            let sent = self
                .send(c, DELETE, attempt, call, || {
                    self.dc.delete_bgp_peer(&c.scope, &c.vif, id)
                })
                .await?;
            let failure = match sent {
                Sent::Answered(_) => return Ok(()),
                Sent::RefusedForNow => continue,
                Sent::Failed(f) if f.kind == FailureKind::AlreadyGone => return Ok(()),
                Sent::Failed(f) => f,
            };
            if !matches!(failure.kind, FailureKind::Server | FailureKind::Lost) {
                self.recorder.settle(&c.address).await?;
                return Err(ApplyError::Refused {
                    operation: DELETE,
                    failure,
                }
                .into());
            }
            let conclusive = now_ms().saturating_add(millis(self.timing.settle));
            self.say(
                &address,
                "step",
                format!(
                    "DeleteBGPPeer's answer was lost ({failure}); not sending it again until describes settle it \
                     (by {} at the latest)",
                    rfc3339(conclusive)
                ),
            );
            let goal = Goal::Deleted {
                id: id.to_string(),
                conclusive_after_ms: conclusive,
            };
            match self.wait_for(c, goal, None, public).await {
                Waited::Deleted(Deleted::Took) => return Ok(()),
                Waited::Deleted(_) => {
                    self.say(
                        &address,
                        "step",
                        "settled: it did not take effect; sending it again",
                    );
                }
                Waited::Interrupted => return Err(Stop::Interrupted(Interruption::SettlingDelete)),
                waited => return Err(ApplyError::DeleteUnsettled { waited }.into()),
            }
        }
        self.recorder.settle(&c.address).await?;
        Err(ApplyError::OutOfSends {
            operation: DELETE,
            peer: Some(id.to_string()),
            sends: MAX_SENDS,
        }
        .into())
    }

    /// One send of a call that has no idempotency token. First it stops when interrupted or past the deadline
    /// (settling the intent an earlier send left: that send was refused or settled as not having happened). Then it
    /// takes a permit and the lane's pacing slot, writes the intent, and sends, so the intent's time is the time of
    /// sending. A refusal for now (throttled, transitioning) nothing came of: the intent is settled, the lane slowed
    /// or the step backed off, and it comes back as `RefusedForNow`. Anything else is the caller's to settle.
    async fn send<T, Fut>(
        &self,
        c: &Change,
        operation: Operation,
        attempt: u32,
        call: Call,
        send: impl FnOnce() -> Fut,
    ) -> Step<Sent<T>>
    where
        Fut: std::future::Future<Output = Result<T, AwsError>>,
    {
        if self.interrupted() {
            self.recorder.settle(&c.address).await?;
            return Err(Stop::Interrupted(Interruption::BeforeSend(operation)));
        }
        if let Err(stop) = self.check_deadline(operation) {
            self.recorder.settle(&c.address).await?;
            return Err(stop);
        }
        // The lane's slot first (no permit is held while a slow lane waits), then a permit; a slot the lane was
        // slowed down after is taken again.
        let permit = loop {
            let ticket = self.pacer.slot(&c.scope, operation).await;
            // The semaphore is never closed: no permit means the apply is being torn down.
            let Ok(permit) = self.semaphore.acquire().await else {
                return Err(Stop::Interrupted(Interruption::BeforeSend(operation)));
            };
            if self.pacer.still_good(&c.scope, operation, &ticket) {
                break permit;
            }
        };
        // The intent promises the call ends within --call-timeout of its time: hold the call to that, however long
        // writing the intent took.
        let deadline = Instant::now() + self.timing.call_timeout;
        self.recorder.intend(self.intent(c, call)).await?;
        tracing::debug!(%operation, scope = %c.scope, address = %c.address, attempt, "sending");
        let mut abort = self.abort.clone();
        let answer = tokio::select! {
            answer = tokio::time::timeout_at(deadline, send()) => answer,
            // A second Ctrl-C: stop waiting for the answer. The call may still take effect, so its intent stays in
            // the state, and the next apply settles it before sending anything for this address.
            _ = abort.wait_for(|aborted| *aborted) => {
                return Err(Stop::Interrupted(Interruption::InFlight(operation)));
            }
        };
        let result = match answer {
            Ok(result) => result,
            Err(_) => Err(AwsError::Call {
                operation,
                scope: c.scope.clone(),
                failure: Failure {
                    kind: FailureKind::Lost,
                    code: None,
                    message: format!(
                        "no answer within --call-timeout ({:?})",
                        self.timing.call_timeout
                    ),
                },
            }),
        };
        drop(permit);
        match &result {
            Ok(_) => tracing::debug!(%operation, address = %c.address, "answered"),
            Err(e) => tracing::debug!(%operation, address = %c.address, error = %e, "failed"),
        }
        let failure = match result {
            Ok(answer) => {
                self.pacer.succeeded(&c.scope, operation);
                return Ok(Sent::Answered(answer));
            }
            // Anything but a classified failure came after the request was sent (an answer that could not be
            // read, say): the call may have taken effect.
            Err(AwsError::Call { failure, .. }) => failure,
            Err(e) => Failure {
                kind: FailureKind::Lost,
                code: None,
                message: e.to_string(),
            },
        };
        let address = c.address.to_string();
        match failure.kind {
            FailureKind::Throttled => {
                self.recorder.settle(&c.address).await?;
                self.pacer.throttled(&c.scope, operation);
                let rate = self.pacer.rate(&c.scope, operation).unwrap_or(0.0);
                self.say(
                    &address,
                    "step",
                    format!(
                        "{failure}; pacing {operation} in {} at {rate:.1}/s",
                        c.scope
                    ),
                );
                Ok(Sent::RefusedForNow)
            }
            FailureKind::Transitioning => {
                self.recorder.settle(&c.address).await?;
                // Usually another peer of the VIF is still provisioning or deleting: wait for the polls to see
                // the VIF quiet (no call of our own), then a short pause in case the refusal had another cause.
                self.say(
                    &address,
                    "step",
                    format!(
                        "{failure}; waiting until no peer of {} is mid-change",
                        c.vif
                    ),
                );
                if let Waited::Interrupted = self.wait_for(c, Goal::Quiet, None, false).await {
                    return Err(Stop::Interrupted(Interruption::BeforeSend(operation)));
                }
                tokio::time::sleep(Backoff::CALLS.delay(attempt).min(self.timing.poll)).await;
                Ok(Sent::RefusedForNow)
            }
            _ => Ok(Sent::Failed(failure)),
        }
    }

    async fn wait_for(
        &self,
        c: &Change,
        goal: Goal,
        state: Option<PeerState>,
        public: bool,
    ) -> Waited {
        self.poller
            .wait(Wait {
                address: &c.address.0,
                scope: &c.scope,
                vif: &c.vif,
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
    ) -> Step<Outcome> {
        let address = c.address.to_string();
        if state == PeerState::Available {
            self.say(&address, "done", format!("Available [id={id}]"));
            return Ok(Outcome::Done);
        }
        // An eventually consistent describe may not list a peer this new for up to the settle window.
        let goal = Goal::Available {
            id: id.to_string(),
            visible_by_ms: now_ms().saturating_add(millis(self.timing.settle)),
        };
        match self.wait_for(c, goal, Some(state), public).await {
            Waited::Ready(peer) => {
                let addrs = peer
                    .map(|p| {
                        format!(
                            ", amazon_address={}, customer_address={}",
                            p.amazon_address.unwrap_or_default(),
                            p.customer_address.unwrap_or_default()
                        )
                    })
                    .unwrap_or_default();
                self.say(&address, "done", format!("Available [id={id}{addrs}]"));
                Ok(Outcome::Done)
            }
            Waited::AwaitingApproval => {
                self.say(
                    &address,
                    "approval",
                    format!("Awaiting AWS approval [id={id}, state verifying]"),
                );
                Ok(Outcome::AwaitingApproval)
            }
            Waited::Failed(reason) => Err(ApplyError::Unreachable(reason).into()),
            Waited::Interrupted => Ok(Outcome::Skipped(
                Interruption::Provisioning(id.to_string()).into(),
            )),
            waited => Err(ApplyError::NotAvailable {
                id: id.to_string(),
                waited,
            }
            .into()),
        }
    }
}

fn order_text(order: Order) -> &'static str {
    match order {
        Order::CreateBeforeDestroy => "create before destroy",
        Order::DestroyBeforeCreate => "destroy before create",
    }
}
