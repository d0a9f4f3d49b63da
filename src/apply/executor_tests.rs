//! The step executor against a scripted Direct Connect, on tokio's paused clock: each test scripts how AWS answers
//! each CreateBGPPeer and DeleteBGPPeer, lets peers provision and delete on the (virtual) clock, and checks the calls
//! sent, the order of the state writes (an intent before every call, the record after), and the outcome.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::apply::{execute, ApplyError, Controls, Lines, Options, Summary, WaitOptions};
use crate::aws::{AwsError, DirectConnect, FailureKind, NewPeer, Operation};
use crate::model::{
    AddressFamily, Asn, BgpStatus, Location, Observed, ObservedPeer, ObservedVif, PeerAddress,
    PeerSpec, PeerState, Redundancy, Scope, VifId,
};
use crate::plan::{Action, Attribute, Change, Incarnation, Order, Plan, Reason};
use crate::state::{Call, PeerRecord, State, StateStore};

const VIF: &str = "dxvif-script";
const PROVISION: Duration = Duration::from_secs(3);
const DELETION: Duration = Duration::from_secs(2);
/// How long after a created peer is available its BGP session comes up.
const BGP_UP: Duration = Duration::from_secs(4);

/// How the scripted service answers one call.
#[derive(Clone, Debug)]
enum Answer {
    /// It takes effect and the answer arrives.
    Ok,
    /// Throttled: nothing happens.
    Throttled,
    /// It takes effect, then the connection drops.
    LostAfterEffect,
    /// (Create only) It takes effect, someone else creates a lookalike meanwhile, then the connection drops.
    LostAfterEffectWithTwin,
    /// The connection drops before it takes effect.
    LostBeforeEffect,
    /// A 4xx refusal with this message: nothing happens.
    Rejected(&'static str),
    /// (Delete only) The peer is already deleted: it is marked deleted and the call refused as such.
    AlreadyGone,
    /// No answer comes for an hour (the call hangs in flight).
    Hangs,
}

/// One peer of the scripted VIF, with the moments its state changes on the paused clock.
struct Peer {
    seen: ObservedPeer,
    available_at: Option<Instant>,
    deleted_at: Option<Instant>,
}

impl Peer {
    fn now(&self) -> ObservedPeer {
        let now = Instant::now();
        let mut p = self.seen.clone();
        p.state = match (self.deleted_at, self.available_at) {
            (Some(at), _) if now >= at => PeerState::Deleted,
            (Some(_), _) => PeerState::Deleting,
            (None, Some(at)) if now >= at => PeerState::Available,
            (None, Some(_)) => PeerState::Pending,
            (None, None) => p.state,
        };
        if let Some(at) = self.available_at {
            let up = p.state == PeerState::Available && now >= at + BGP_UP;
            p.bgp_status = if up { BgpStatus::Up } else { BgpStatus::Down };
        }
        p
    }
}

/// What the service saw: each call, and whether the state last written held its intent when it arrived.
#[derive(Debug, PartialEq, Eq)]
struct Sent {
    operation: &'static str,
    intent_written_first: bool,
}

struct Service {
    creates: Mutex<VecDeque<Answer>>,
    deletes: Mutex<VecDeque<Answer>>,
    peers: Mutex<Vec<Peer>>,
    sent: Mutex<Vec<Sent>>,
    next_id: Mutex<u32>,
    store: Memory,
}

fn observed_peer(id: &str, family: AddressFamily, asn: u32, state: PeerState) -> ObservedPeer {
    ObservedPeer {
        bgp_peer_id: Some(id.into()),
        family,
        asn: Asn::new(u64::from(asn)).unwrap(),
        auth_key: None,
        amazon_address: Some("2001:db8::1/125".into()),
        customer_address: Some("2001:db8::2/125".into()),
        state,
        bgp_status: BgpStatus::Unknown,
    }
}

fn lost(effect: &str) -> AwsError {
    AwsError::failed(
        Operation::CreateBgpPeer,
        FailureKind::Lost,
        None,
        &format!("no response: connection closed {effect}"),
    )
}

fn refused(kind: FailureKind, message: &str) -> AwsError {
    AwsError::failed(
        Operation::CreateBgpPeer,
        kind,
        Some("DirectConnectClientException"),
        message,
    )
}

impl Service {
    fn new(
        store: &Memory,
        creates: Vec<Answer>,
        deletes: Vec<Answer>,
        peers: Vec<ObservedPeer>,
    ) -> Service {
        Service {
            creates: Mutex::new(creates.into()),
            deletes: Mutex::new(deletes.into()),
            peers: Mutex::new(
                peers
                    .into_iter()
                    .map(|seen| Peer {
                        seen,
                        available_at: None,
                        deleted_at: None,
                    })
                    .collect(),
            ),
            sent: Mutex::new(Vec::new()),
            next_id: Mutex::new(0),
            store: store.clone(),
        }
    }

    fn vif(&self) -> ObservedVif {
        ObservedVif {
            id: VifId(VIF.into()),
            scope: Scope::region("us-east-1"),
            state: "available".into(),
            vif_type: "private".into(),
            connection_id: Some("dxcon-script".into()),
            peers: self.peers.lock().unwrap().iter().map(Peer::now).collect(),
        }
    }

    fn log(&self, operation: &'static str, intended: impl Fn(&Call) -> bool) {
        let written = self.store.last();
        self.sent.lock().unwrap().push(Sent {
            operation,
            intent_written_first: written.intents.iter().any(|i| intended(&i.call)),
        });
    }

    fn sent(&self) -> Vec<&'static str> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.operation)
            .collect()
    }

    fn live(&self) -> Vec<ObservedPeer> {
        self.vif()
            .peers
            .into_iter()
            .filter(|p| !p.state.is_gone())
            .collect()
    }
}

impl DirectConnect for Service {
    async fn describe_virtual_interfaces(&self, _: &Scope) -> Result<Vec<ObservedVif>, AwsError> {
        Ok(vec![self.vif()])
    }

    async fn describe_logical_redundancy(
        &self,
        _: &Scope,
    ) -> Result<std::collections::BTreeMap<String, Redundancy>, AwsError> {
        Ok([("dxcon-script".to_string(), Redundancy::Yes)].into())
    }

    async fn create_bgp_peer(
        &self,
        _: &Scope,
        _: &VifId,
        new: &NewPeer,
    ) -> Result<ObservedVif, AwsError> {
        self.log("CreateBGPPeer", |c| matches!(c, Call::CreateBGPPeer(_)));
        let answer = self
            .creates
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Answer::Ok);
        let make = || {
            let mut n = self.next_id.lock().unwrap();
            *n += 1;
            let mut seen = observed_peer(
                &format!("dxpeer-new{n}"),
                new.family,
                new.asn.get(),
                PeerState::Pending,
            );
            seen.customer_address = Some(format!("2001:db8::{n}a/125"));
            self.peers.lock().unwrap().push(Peer {
                seen,
                available_at: Some(Instant::now() + PROVISION),
                deleted_at: None,
            });
        };
        match answer {
            Answer::Ok => {
                make();
                Ok(self.vif())
            }
            Answer::LostAfterEffect => {
                make();
                Err(lost("after the effect"))
            }
            Answer::LostAfterEffectWithTwin => {
                make();
                make();
                Err(lost("after the effect"))
            }
            Answer::LostBeforeEffect => Err(lost("before the effect")),
            Answer::Throttled => Err(refused(FailureKind::Throttled, "Rate exceeded")),
            Answer::Rejected(message) => Err(refused(FailureKind::Rejected, message)),
            Answer::AlreadyGone => Err(refused(FailureKind::Rejected, "not scripted for creates")),
            Answer::Hangs => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Err(lost("after an hour"))
            }
        }
    }

    async fn delete_bgp_peer(
        &self,
        _: &Scope,
        _: &VifId,
        id: &str,
    ) -> Result<ObservedVif, AwsError> {
        self.log(
            "DeleteBGPPeer",
            |c| matches!(c, Call::DeleteBGPPeer { bgp_peer_id } if bgp_peer_id == id),
        );
        let answer = self
            .deletes
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Answer::Ok);
        let start = |at: Instant| {
            for p in self.peers.lock().unwrap().iter_mut() {
                if p.seen.bgp_peer_id.as_deref() == Some(id) {
                    p.deleted_at = Some(at);
                }
            }
        };
        match answer {
            Answer::Ok => {
                start(Instant::now() + DELETION);
                Ok(self.vif())
            }
            Answer::LostAfterEffect => {
                start(Instant::now() + DELETION);
                Err(lost("after the effect"))
            }
            Answer::LostBeforeEffect | Answer::LostAfterEffectWithTwin => {
                Err(lost("before the effect"))
            }
            Answer::Throttled => Err(refused(FailureKind::Throttled, "Rate exceeded")),
            Answer::Rejected(message) => Err(refused(FailureKind::Rejected, message)),
            Answer::Hangs => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Err(lost("after an hour"))
            }
            Answer::AlreadyGone => {
                start(Instant::now());
                Err(refused(
                    FailureKind::AlreadyGone,
                    "BGP peer is already deleted",
                ))
            }
        }
    }
}

/// A state store that keeps every state written, in order.
#[derive(Clone, Default)]
struct Memory(Arc<Mutex<Vec<State>>>);

impl Memory {
    fn writes(&self) -> Vec<State> {
        self.0.lock().unwrap().clone()
    }
    fn last(&self) -> State {
        self.0.lock().unwrap().last().cloned().unwrap_or_default()
    }
}

impl StateStore for Memory {
    fn load(&self) -> crate::state::Result<State> {
        Ok(self.last())
    }
    fn save(&self, state: &mut State) -> crate::state::Result<()> {
        state.serial += 1;
        self.0.lock().unwrap().push(state.clone());
        Ok(())
    }
}

fn address(label: &str) -> PeerAddress {
    PeerAddress::new(&VifId(VIF.into()), label)
}

fn spec(label: &str, family: AddressFamily, asn: u32) -> PeerSpec {
    PeerSpec {
        label: label.into(),
        family,
        asn: Asn::new(u64::from(asn)).unwrap(),
        auth_key: None,
        amazon_address: None,
        customer_address: None,
        location: Location::default(),
        sensitive: Default::default(),
    }
}

fn change(label: &str, action: Action, reason: Reason) -> Change {
    Change {
        address: address(label),
        vif: VifId(VIF.into()),
        scope: Scope::region("us-east-1"),
        action,
        reason,
        step: 0,
    }
}

/// The change most tests run: create the IPv6 peer `v6` (ASN 64600), which nothing matches yet.
fn create_v6() -> Change {
    change(
        "v6",
        Action::Create {
            desired: spec("v6", AddressFamily::Ipv6, 64600),
        },
        Reason::NoMatch { lost: None },
    )
}

fn record(label: &str, peer: &ObservedPeer) -> PeerRecord {
    PeerRecord {
        address: address(label),
        virtual_interface_id: VifId(VIF.into()),
        region: "us-east-1".into(),
        profile: None,
        bgp_peer_id: peer.id().to_string(),
        address_family: peer.family,
        asn: peer.asn,
        amazon_address: peer.amazon_address.clone(),
        customer_address: peer.customer_address.clone(),
        deposed: vec![],
        listed_by_ms: None,
    }
}

/// Runs `changes` against `service` from `state`, with a 5-minute (virtual) deadline.
async fn run(service: &Service, changes: Vec<Change>, state: State) -> Summary {
    let (_cancel, cancel) = watch::channel(false);
    let (_abort, abort) = watch::channel(false);
    let timing = Timing {
        call_timeout: Duration::from_secs(20),
        wait_bgp_up: None,
    };
    run_with(service, changes, state, cancel, abort, timing).await
}

/// The per-run options the tests vary.
struct Timing {
    call_timeout: Duration,
    wait_bgp_up: Option<Duration>,
}

async fn run_with(
    service: &Service,
    changes: Vec<Change>,
    state: State,
    cancel: watch::Receiver<bool>,
    abort: watch::Receiver<bool>,
    timing: Timing,
) -> Summary {
    let plan = Plan {
        changes,
        ..Plan::default()
    };
    let observed = Observed {
        vifs: vec![service.vif()],
        ..Observed::default()
    };
    execute(
        service,
        &plan,
        &observed,
        service.store.clone(),
        state,
        Options {
            parallelism: 4,
            wait: WaitOptions {
                interval: Duration::from_secs(1),
                timeout: Duration::from_secs(300),
            },
            settle: Duration::from_secs(5),
            call_timeout: timing.call_timeout,
            wait_bgp_up: timing.wait_bgp_up,
        },
        Controls {
            progress: &Lines { quiet: true },
            cancel,
            abort,
        },
    )
    .await
}

fn every_call_was_intended_first(service: &Service) {
    for s in service.sent.lock().unwrap().iter() {
        assert!(
            s.intent_written_first,
            "{s:?} was sent before its intent was written"
        );
    }
}

fn existing() -> ObservedPeer {
    observed_peer(
        "dxpeer-old",
        AddressFamily::Ipv4,
        65000,
        PeerState::Available,
    )
}

#[tokio::test(start_paused = true)]
async fn a_create_writes_its_intent_first_then_records_the_peer_and_waits_until_available() {
    let store = Memory::default();
    let service = Service::new(&store, vec![Answer::Ok], vec![], vec![existing()]);
    let started = Instant::now();
    let create = create_v6();
    let summary = run(&service, vec![create], State::default()).await;
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    assert_eq!(summary.added, 1);
    assert_eq!(service.sent(), ["CreateBGPPeer"]);
    every_call_was_intended_first(&service);
    assert!(
        started.elapsed() >= PROVISION,
        "returned before the peer was available"
    );
    // Writes: the intent alone, then the record with the intent gone.
    let writes = store.writes();
    assert!(
        writes[0].peers.is_empty() && writes[0].intents.len() == 1,
        "{:?}",
        writes[0]
    );
    let last = writes.last().unwrap();
    assert!(last.intents.is_empty());
    assert_eq!(last.peers.len(), 1);
    assert_eq!(last.peers[0].bgp_peer_id, "dxpeer-new1");
    assert!(writes.iter().all(|w| w.peers.len() + w.intents.len() >= 1));
}

#[tokio::test(start_paused = true)]
async fn throttled_creates_back_off_and_are_sent_again_without_a_duplicate() {
    let store = Memory::default();
    let service = Service::new(
        &store,
        vec![Answer::Throttled, Answer::Throttled, Answer::Ok],
        vec![],
        vec![existing()],
    );
    let started = Instant::now();
    let create = create_v6();
    let summary = run(&service, vec![create], State::default()).await;
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    assert_eq!(service.sent(), ["CreateBGPPeer"; 3]);
    every_call_was_intended_first(&service);
    assert_eq!(service.live().len(), 2, "one new peer beside the old one");
    // Each refusal slowed the lane: the third send came no sooner than one 1/s slot after the second.
    assert!(started.elapsed() >= PROVISION + Duration::from_secs(1));
    assert!(store.last().intents.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_create_refused_for_good_fails_once_and_clears_its_intent() {
    let store = Memory::default();
    let service = Service::new(
        &store,
        vec![Answer::Rejected("ASN 64600 is not allowed")],
        vec![],
        vec![existing()],
    );
    let create = create_v6();
    let summary = run(&service, vec![create], State::default()).await;
    assert_eq!(service.sent(), ["CreateBGPPeer"]);
    let (failed, cause) = &summary.failures[0];
    assert_eq!(failed, &address("v6").0);
    assert!(
        matches!(cause, ApplyError::Refused { operation: Operation::CreateBgpPeer, failure }
            if failure.kind == FailureKind::Rejected && failure.message == "ASN 64600 is not allowed"),
        "{cause:?}"
    );
    let last = store.last();
    assert!(last.intents.is_empty() && last.peers.is_empty(), "{last:?}");
}

#[tokio::test(start_paused = true)]
async fn a_lost_create_is_settled_by_describing_before_anything_is_sent_again() {
    for (answer, sends, new_id) in [
        (Answer::LostAfterEffect, 1, "dxpeer-new1"),
        (Answer::LostBeforeEffect, 2, "dxpeer-new1"),
    ] {
        let store = Memory::default();
        let service = Service::new(&store, vec![answer.clone()], vec![], vec![existing()]);
        let started = Instant::now();
        let create = create_v6();
        let summary = run(&service, vec![create], State::default()).await;
        assert!(
            summary.failures.is_empty(),
            "{answer:?}: {:?}",
            summary.failures
        );
        assert_eq!(service.sent().len(), sends, "{answer:?}");
        every_call_was_intended_first(&service);
        assert_eq!(service.live().len(), 2, "{answer:?}: exactly one new peer");
        assert_eq!(store.last().peers[0].bgp_peer_id, new_id, "{answer:?}");
        if sends == 2 {
            // Not sent again before a describe that started a settle window after the loss showed nothing.
            assert!(started.elapsed() >= Duration::from_secs(5), "{answer:?}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_lost_create_with_two_lookalikes_appearing_is_never_guessed() {
    let store = Memory::default();
    let service = Service::new(
        &store,
        vec![Answer::LostAfterEffectWithTwin],
        vec![],
        vec![existing()],
    );
    let create = create_v6();
    let mut summary = run(&service, vec![create], State::default()).await;
    assert_eq!(service.sent(), ["CreateBGPPeer"], "never sent again");
    let (_, cause) = summary.failures.pop().expect("a failure");
    assert!(
        matches!(&cause, ApplyError::AmbiguousCreate { candidates } if candidates.len() == 2),
        "{cause:?}"
    );
    let last = store.last();
    assert!(last.peers.is_empty(), "neither twin is adopted: {last:?}");
    assert_eq!(
        last.intents.len(),
        1,
        "the call stays recorded for the next apply"
    );
}

#[tokio::test(start_paused = true)]
async fn a_delete_is_intended_first_sent_once_and_the_record_dropped_once_gone() {
    for answer in [Answer::Ok, Answer::LostAfterEffect, Answer::AlreadyGone] {
        let store = Memory::default();
        let keep = existing();
        let doomed = observed_peer(
            "dxpeer-doomed",
            AddressFamily::Ipv6,
            64600,
            PeerState::Available,
        );
        let service = Service::new(
            &store,
            vec![],
            vec![answer.clone()],
            vec![keep, doomed.clone()],
        );
        let mut state = State::default();
        state.upsert(record("v6", &doomed));
        let delete = change(
            "v6",
            Action::Delete {
                live: doomed,
                incarnation: Incarnation::Current,
            },
            Reason::RemovedFromConfig,
        );
        let summary = run(&service, vec![delete], state).await;
        assert!(
            summary.failures.is_empty(),
            "{answer:?}: {:?}",
            summary.failures
        );
        assert_eq!(summary.destroyed, 1, "{answer:?}");
        assert_eq!(service.sent(), ["DeleteBGPPeer"], "{answer:?}");
        every_call_was_intended_first(&service);
        let last = store.last();
        assert!(
            last.peers.is_empty() && last.intents.is_empty(),
            "{answer:?}: {last:?}"
        );
        assert_eq!(service.live().len(), 1, "{answer:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn create_before_destroy_records_the_new_peer_deposing_the_old_and_forgets_it_once_deleted() {
    let store = Memory::default();
    let old = observed_peer(
        "dxpeer-old6",
        AddressFamily::Ipv6,
        64600,
        PeerState::Available,
    );
    let service = Service::new(
        &store,
        vec![Answer::Ok],
        vec![Answer::Ok],
        vec![existing(), old.clone()],
    );
    let mut state = State::default();
    state.upsert(record("v6", &old));
    let replace = change(
        "v6",
        Action::Replace {
            desired: spec("v6", AddressFamily::Ipv6, 64601),
            live: old,
            order: Order::CreateBeforeDestroy,
            forces: vec![Attribute::Asn],
        },
        Reason::Changed,
    );
    let summary = run(&service, vec![replace], state).await;
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    assert_eq!(service.sent(), ["CreateBGPPeer", "DeleteBGPPeer"]);
    every_call_was_intended_first(&service);
    let writes = store.writes();
    let deposing = writes
        .iter()
        .position(|w| {
            w.peers
                .iter()
                .any(|r| r.bgp_peer_id == "dxpeer-new1" && r.deposed == ["dxpeer-old6"])
        })
        .expect("a write records the new peer with the old one deposed");
    let delete_intended = writes
        .iter()
        .position(|w| {
            w.intents
                .iter()
                .any(|i| matches!(&i.call, Call::DeleteBGPPeer { .. }))
        })
        .expect("the delete is intended");
    assert!(
        deposing < delete_intended,
        "the old peer is deposed before its delete is sent"
    );
    let last = writes.last().unwrap();
    assert_eq!(last.peers.len(), 1);
    assert_eq!(last.peers[0].bgp_peer_id, "dxpeer-new1");
    assert!(
        last.peers[0].deposed.is_empty() && last.intents.is_empty(),
        "{last:?}"
    );
    assert_eq!(summary.added, 1);
    assert_eq!(summary.destroyed, 1);
}

#[tokio::test(start_paused = true)]
async fn a_second_interrupt_stops_waiting_for_a_call_in_flight_and_keeps_its_intent() {
    let store = Memory::default();
    let service = Service::new(&store, vec![Answer::Hangs], vec![], vec![existing()]);
    let (cancel_tx, cancel) = watch::channel(false);
    let (abort_tx, abort) = watch::channel(false);
    let create = create_v6();
    let interrupts = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        cancel_tx.send(true).unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        abort_tx.send(true).unwrap();
    };
    let started = Instant::now();
    // A call timeout longer than the hang: only the abort can end the wait.
    let (summary, ()) = tokio::join!(
        run_with(
            &service,
            vec![create],
            State::default(),
            cancel,
            abort,
            Timing {
                call_timeout: Duration::from_secs(7200),
                wait_bgp_up: None,
            }
        ),
        interrupts
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(summary.interrupted);
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    assert_eq!(service.sent(), ["CreateBGPPeer"]);
    let last = store.last();
    assert!(last.peers.is_empty());
    assert!(
        matches!(&last.intents[..], [i] if matches!(i.call, Call::CreateBGPPeer(_))),
        "the call in flight stays recorded: {last:?}"
    );
}

/// Runs `changes` with `apply --wait-bgp-up=allowed`.
async fn run_waiting_for_bgp(
    service: &Service,
    changes: Vec<Change>,
    allowed: Duration,
) -> Summary {
    let (_cancel, cancel) = watch::channel(false);
    let (_abort, abort) = watch::channel(false);
    let timing = Timing {
        call_timeout: Duration::from_secs(20),
        wait_bgp_up: Some(allowed),
    };
    run_with(service, changes, State::default(), cancel, abort, timing).await
}

#[tokio::test(start_paused = true)]
async fn wait_bgp_up_returns_once_the_session_is_up_and_not_before() {
    let store = Memory::default();
    let service = Service::new(&store, vec![Answer::Ok], vec![], vec![existing()]);
    let started = Instant::now();
    let summary = run_waiting_for_bgp(&service, vec![create_v6()], Duration::from_secs(60)).await;
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    assert_eq!(summary.added, 1);
    assert_eq!(summary.bgp_up, [address("v6").to_string()]);
    assert!(summary.bgp_not_up.is_empty());
    let took = started.elapsed();
    assert!(
        took >= PROVISION + BGP_UP,
        "returned after {took:?}, before the session was up"
    );
    assert!(
        took < PROVISION + BGP_UP + Duration::from_secs(3),
        "took {took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_session_not_up_in_time_is_reported_per_peer_without_failing_the_create() {
    let store = Memory::default();
    let service = Service::new(&store, vec![Answer::Ok], vec![], vec![existing()]);
    let started = Instant::now();
    let summary = run_waiting_for_bgp(&service, vec![create_v6()], Duration::from_secs(2)).await;
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    assert_eq!(summary.added, 1);
    assert!(summary.bgp_up.is_empty());
    assert_eq!(
        summary.bgp_not_up,
        [(
            address("v6").to_string(),
            "created, BGP session not up after 2s (bgpStatus down)".to_string()
        )]
    );
    let took = started.elapsed();
    assert!(
        took >= PROVISION + Duration::from_secs(2),
        "gave up after {took:?}"
    );
    assert!(
        took < PROVISION + BGP_UP,
        "waited {took:?}, past the time allowed"
    );
    // The peer is recorded all the same.
    assert_eq!(store.last().peers.len(), 1);
}
