//! The waiting loop: each round makes one DescribeVirtualInterfaces per scope, covering every peer waited on there.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use futures::future::join_all;
use rand::Rng;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::progress::{Event, Progress};
use super::readiness::{readiness, Goal, Readiness, Unreachable};
use crate::aws::DirectConnect;
use crate::model::{ObservedPeer, PeerState, Scope, VifId};
use crate::plan::intents::{Created, Deleted};

#[derive(Clone, Copy, Debug)]
pub struct WaitOptions {
    pub interval: Duration,
    /// The deadline for the whole apply, counted from its start.
    pub timeout: Duration,
}

/// How a wait ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Waited {
    Ready(Option<ObservedPeer>),
    /// A lost create's outcome.
    Created(Created),
    /// A lost delete's outcome.
    Deleted(Deleted),
    /// Still `verifying` on a public VIF at the deadline: AWS has to approve it.
    AwaitingApproval,
    Failed(Unreachable),
    /// The deadline passed; the last state seen (`None`: not listed, or a lost call still unsettled).
    TimedOut(Option<PeerState>),
    /// Ctrl-C: stopped waiting; the peer is recorded and the next run resumes.
    Interrupted,
}

/// One wait registered with the poll loop.
pub struct Waiter {
    address: String,
    scope: Scope,
    vif: VifId,
    goal: Goal,
    last: Option<PeerState>,
    public: bool,
    since: Instant,
    reported: Instant,
    done: oneshot::Sender<Waited>,
}

/// Hands waits to the poll loop.
#[derive(Clone)]
pub struct Poller {
    tx: mpsc::UnboundedSender<Waiter>,
}

pub struct Wait<'a> {
    pub address: &'a str,
    pub scope: &'a Scope,
    pub vif: &'a VifId,
    pub goal: Goal,
    /// The state last seen, if any.
    pub state: Option<PeerState>,
    pub public: bool,
}

impl Poller {
    pub async fn wait(&self, w: Wait<'_>) -> Waited {
        let (done, rx) = oneshot::channel();
        let now = Instant::now();
        let waiter = Waiter {
            address: w.address.to_string(),
            scope: w.scope.clone(),
            vif: w.vif.clone(),
            goal: w.goal,
            last: w.state,
            public: w.public,
            since: now,
            reported: now,
            done,
        };
        if self.tx.send(waiter).is_err() {
            return Waited::Interrupted;
        }
        rx.await.unwrap_or(Waited::Interrupted)
    }
}

/// How often a peer still waiting is reported though its state has not changed.
const REPORT_EVERY: Duration = Duration::from_secs(10);

pub fn channel() -> (Poller, mpsc::UnboundedReceiver<Waiter>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Poller { tx }, rx)
}

/// Polls until every sender is gone and no wait is left. Rounds are `interval` apart (with ±10% jitter),
/// backing off exponentially while describes fail.
pub async fn run<D: DirectConnect>(
    dc: &D,
    mut rx: mpsc::UnboundedReceiver<Waiter>,
    options: WaitOptions,
    progress: &dyn Progress,
    mut cancel: watch::Receiver<bool>,
) {
    let deadline = Instant::now() + options.timeout;
    let mut waiters: Vec<Waiter> = Vec::new();
    let backoff = super::retry::Backoff::polls(options.interval);
    let mut failed_rounds = 0u32;
    let mut round = 0u64;
    // Once the interrupt sender is gone no interrupt can come; stop listening for one.
    let mut listening = true;
    loop {
        if waiters.is_empty() {
            tokio::select! {
                w = rx.recv() => match w {
                    Some(w) => waiters.push(w),
                    None => return,
                },
                changed = cancel.changed(), if listening => listening = changed.is_ok(),
            }
        }
        while let Ok(w) = rx.try_recv() {
            waiters.push(w);
        }
        if *cancel.borrow() {
            for w in waiters.drain(..) {
                let _ = w.done.send(Waited::Interrupted);
            }
            continue;
        }
        let now = Instant::now();
        if now >= deadline {
            for w in waiters.drain(..) {
                let verifying = w.last == Some(PeerState::Verifying);
                let outcome = if w.public && verifying && matches!(w.goal, Goal::Available { .. }) {
                    Waited::AwaitingApproval
                } else {
                    Waited::TimedOut(w.last.clone())
                };
                let _ = w.done.send(outcome);
            }
            continue;
        }
        let jitter = rand::rng().random_range(0.9..1.1);
        let pause = backoff
            .delay(failed_rounds)
            .mul_f64(jitter)
            .min(deadline - now);
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            changed = cancel.changed(), if listening => {
                listening = changed.is_ok();
                continue;
            }
        }
        while let Ok(w) = rx.try_recv() {
            waiters.push(w);
        }
        let mut by_scope: BTreeMap<Scope, Vec<usize>> = BTreeMap::new();
        for (i, w) in waiters.iter().enumerate() {
            by_scope.entry(w.scope.clone()).or_default().push(i);
        }
        let scopes: Vec<Scope> = by_scope.keys().cloned().collect();
        round += 1;
        let described = join_all(scopes.iter().map(|s| async move {
            let started = crate::clock::now_ms();
            dc.describe_virtual_interfaces(s)
                .await
                .map(|vifs| (started, vifs))
        }))
        .await;
        let mut failed_round = false;
        let mut finished: Vec<(usize, Waited)> = Vec::new();
        for (scope, result) in scopes.iter().zip(described) {
            let (started, vifs) = match result {
                Ok(described) => described,
                Err(e) => {
                    failed_round = true;
                    progress.event(Event::new(
                        "",
                        "note",
                        format!("warning: polling {scope} failed, backing off: {e:#}"),
                    ));
                    continue;
                }
            };
            progress.event(Event {
                kind: "poll",
                message: format!(
                    "round {round}: described {} virtual interfaces in {scope}; {} waits pending there",
                    vifs.len(),
                    by_scope[scope].len()
                ),
                round: Some(round),
                scope: Some(scope.to_string()),
                vifs: Some(vifs.len()),
                pending: Some(by_scope[scope].len()),
                ..Event::default()
            });
            // One index per describe: each waiter finds its VIF without scanning the region.
            let mut listed: HashMap<&VifId, &[ObservedPeer]> = HashMap::with_capacity(vifs.len());
            for v in &vifs {
                listed.entry(&v.id).or_insert(v.peers.as_slice());
            }
            for &i in &by_scope[scope] {
                let w = &mut waiters[i];
                let peers = listed.get(&w.vif).copied();
                match readiness(&w.goal, peers, started) {
                    Readiness::Ready(peer) => {
                        if let Some(p) = &peer {
                            progress.event(Event::observed(&w.address, p));
                        }
                        finished.push((i, Waited::Ready(peer)));
                    }
                    Readiness::Created(c) => finished.push((i, Waited::Created(c))),
                    Readiness::Deleted(d) => finished.push((i, Waited::Deleted(d))),
                    Readiness::Failed(reason) => finished.push((i, Waited::Failed(reason))),
                    Readiness::Waiting(state) => {
                        if state != w.last || w.reported.elapsed() >= REPORT_EVERY {
                            let bgp = match &w.goal {
                                Goal::BgpUp { id, .. } => Some(
                                    peers
                                        .unwrap_or_default()
                                        .iter()
                                        .find(|p| p.bgp_peer_id.as_deref() == Some(id.as_str()))
                                        .map_or("unknown", |p| p.bgp_status.as_str())
                                        .to_string(),
                                ),
                                _ => None,
                            };
                            let shown = match (&state, &w.goal, &bgp) {
                                (Some(s), _, Some(bgp)) => format!("{s}, BGP {bgp}"),
                                (Some(s), _, None) => s.as_str().to_string(),
                                (None, Goal::Created { .. } | Goal::Deleted { .. }, _) => {
                                    "outcome not yet known".to_string()
                                }
                                (None, _, _) => "not listed yet".to_string(),
                            };
                            let mut event = Event::waiting(&w.address, &shown, w.since.elapsed());
                            if let Some(bgp) = bgp {
                                event.state = state.as_ref().map(|s| s.as_str().to_string());
                                event.bgp_status = Some(bgp);
                            }
                            progress.event(event);
                            w.reported = Instant::now();
                        }
                        w.last = state;
                    }
                }
            }
        }
        failed_rounds = if failed_round { failed_rounds + 1 } else { 0 };
        finished.sort_by_key(|(i, _)| std::cmp::Reverse(*i));
        for (i, outcome) in finished {
            let w = waiters.swap_remove(i);
            let _ = w.done.send(outcome);
        }
    }
}
