//! Poll-loop tests with a scripted Direct Connect: calls per round per scope, timeouts, failures and interrupts.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;

use super::poll::{self, Wait, WaitOptions, Waited};
use super::progress::Lines;
use super::readiness::{Goal, Unreachable};
use crate::aws::{AwsError, DirectConnect, NewPeer, Operation};
use crate::model::{AddressFamily, Asn, ObservedPeer, ObservedVif, PeerState, Scope, VifId};

/// Peers of each region turn `final_state` on the `ready_after`-th describe of that region.
struct Scripted {
    peers: Vec<(String, VifId, String)>,
    ready_after: usize,
    final_state: Option<PeerState>,
    calls: Mutex<BTreeMap<String, usize>>,
}

impl DirectConnect for Scripted {
    async fn describe_virtual_interfaces(
        &self,
        scope: &Scope,
    ) -> Result<Vec<ObservedVif>, AwsError> {
        let n = {
            let mut calls = self.calls.lock().unwrap();
            let n = calls.entry(scope.region.clone()).or_default();
            *n += 1;
            *n
        };
        let state = if n >= self.ready_after {
            self.final_state.clone()
        } else {
            Some(PeerState::Pending)
        };
        let mut vifs: BTreeMap<VifId, ObservedVif> = BTreeMap::new();
        for (r, vif, id) in self.peers.iter().filter(|(r, _, _)| *r == scope.region) {
            let v = vifs.entry(vif.clone()).or_insert_with(|| ObservedVif {
                id: vif.clone(),
                scope: Scope::region(r.clone()),
                state: "available".into(),
                vif_type: "public".into(),
                connection_id: None,
                peers: vec![],
            });
            if let Some(state) = &state {
                v.peers.push(ObservedPeer {
                    bgp_peer_id: Some(id.clone()),
                    family: AddressFamily::Ipv6,
                    asn: Asn::new(64600).unwrap(),
                    auth_key: None,
                    amazon_address: None,
                    customer_address: None,
                    state: state.clone(),
                    bgp_status: crate::model::BgpStatus::Unknown,
                });
            }
        }
        Ok(vifs.into_values().collect())
    }

    async fn describe_logical_redundancy(
        &self,
        _: &Scope,
    ) -> Result<BTreeMap<String, crate::model::Redundancy>, AwsError> {
        Err(AwsError::not_scripted(Operation::DescribeConnections))
    }

    async fn delete_bgp_peer(
        &self,
        _: &Scope,
        _: &VifId,
        _: &str,
    ) -> Result<ObservedVif, AwsError> {
        Err(AwsError::not_scripted(Operation::DeleteBgpPeer))
    }

    async fn create_bgp_peer(
        &self,
        _: &Scope,
        _: &VifId,
        _: &NewPeer,
    ) -> Result<ObservedVif, AwsError> {
        Err(AwsError::not_scripted(Operation::CreateBgpPeer))
    }
}

fn scripted(
    regions: usize,
    vifs: usize,
    peers: usize,
    ready_after: usize,
    final_state: Option<PeerState>,
) -> Scripted {
    let mut all = Vec::new();
    for r in 0..regions {
        for v in 0..vifs {
            for p in 0..peers {
                all.push((
                    format!("region-{r}"),
                    VifId(format!("dxvif-{r}x{v}")),
                    format!("dxpeer-{r}-{v}-{p}"),
                ));
            }
        }
    }
    Scripted {
        peers: all,
        ready_after,
        final_state,
        calls: Mutex::new(BTreeMap::new()),
    }
}

/// Waits on every scripted peer at once, as concurrent VIF runs would.
/// What each scripted peer is waited for.
#[derive(Clone, Copy)]
enum Until {
    Available,
    Gone,
}

async fn wait_all(
    dc: &Scripted,
    until: Until,
    options: WaitOptions,
    cancel: watch::Receiver<bool>,
) -> Vec<Waited> {
    let (poller, rx) = poll::channel();
    let waits = futures::future::join_all(dc.peers.iter().map(|(r, vif, id)| {
        let poller = poller.clone();
        let scope = Scope::region(r.clone());
        async move {
            poller
                .wait(Wait {
                    address: id,
                    scope: &scope,
                    vif,
                    goal: match until {
                        Until::Available => Goal::Available {
                            id: id.clone(),
                            visible_by_ms: 0,
                        },
                        Until::Gone => Goal::Gone { id: id.clone() },
                    },
                    state: Some(PeerState::Pending),
                    public: true,
                })
                .await
        }
    }));
    drop(poller);
    let progress = Lines { quiet: true };
    let (outcomes, ()) = tokio::join!(waits, poll::run(dc, rx, options, &progress, cancel));
    outcomes
}

const FAST: WaitOptions = WaitOptions {
    interval: Duration::from_millis(1),
    timeout: Duration::from_secs(30),
};

fn never_cancelled() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    std::mem::forget(tx);
    rx
}

#[tokio::test]
async fn one_describe_per_scope_per_round_whatever_the_peer_count() {
    let dc = scripted(3, 4, 3, 3, Some(PeerState::Available));
    let outcomes = wait_all(&dc, Until::Available, FAST, never_cancelled()).await;
    assert_eq!(outcomes.len(), 36);
    assert!(outcomes.iter().all(|o| matches!(o, Waited::Ready(Some(_)))));
    let calls = dc.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 3);
    assert!(
        calls.values().all(|n| *n == 3),
        "3 rounds x 3 scopes, not per peer: {calls:?}"
    );
}

#[tokio::test]
async fn deadline_reports_last_state_or_awaiting_approval() {
    let dc = scripted(1, 2, 1, usize::MAX, Some(PeerState::Available));
    let options = WaitOptions {
        interval: Duration::from_millis(5),
        timeout: Duration::from_millis(40),
    };
    let outcomes = wait_all(&dc, Until::Available, options, never_cancelled()).await;
    assert_eq!(
        outcomes,
        vec![Waited::TimedOut(Some(PeerState::Pending)); 2]
    );

    let dc = scripted(1, 1, 1, 1, Some(PeerState::Verifying));
    let outcomes = wait_all(&dc, Until::Available, options, never_cancelled()).await;
    assert_eq!(
        outcomes,
        vec![Waited::AwaitingApproval],
        "verifying on a public VIF at the deadline"
    );
}

#[tokio::test]
async fn peers_ending_deleted_fail_and_deletions_complete_when_gone() {
    let dc = scripted(1, 1, 2, 2, Some(PeerState::Deleted));
    let outcomes = wait_all(&dc, Until::Available, FAST, never_cancelled()).await;
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, Waited::Failed(Unreachable::WentTo(PeerState::Deleted)))));
    let dc = scripted(1, 1, 2, 2, None);
    let outcomes = wait_all(&dc, Until::Gone, FAST, never_cancelled()).await;
    assert!(
        outcomes.iter().all(|o| *o == Waited::Ready(None)),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn an_interrupt_releases_every_wait() {
    let dc = scripted(2, 2, 2, usize::MAX, Some(PeerState::Available));
    let (tx, rx) = watch::channel(false);
    let options = WaitOptions {
        interval: Duration::from_millis(5),
        timeout: Duration::from_secs(30),
    };
    let stopper = async {
        tokio::time::sleep(Duration::from_millis(30)).await;
        tx.send(true).unwrap();
    };
    let (outcomes, ()) = tokio::join!(wait_all(&dc, Until::Available, options, rx), stopper);
    assert_eq!(outcomes, vec![Waited::Interrupted; 8]);
}

#[tokio::test]
async fn a_dropped_interrupt_sender_is_not_an_interrupt() {
    let dc = scripted(1, 2, 1, 2, Some(PeerState::Available));
    let (tx, rx) = watch::channel(false);
    drop(tx);
    let outcomes = tokio::time::timeout(
        Duration::from_secs(10),
        wait_all(&dc, Until::Available, FAST, rx),
    )
    .await
    .expect("the loop neither spins nor hangs");
    assert!(
        outcomes.iter().all(|o| matches!(o, Waited::Ready(Some(_)))),
        "{outcomes:?}"
    );
    assert_eq!(dc.calls.lock().unwrap()["region-0"], 2);
}

mod ambiguous {
    //! The executor against a scripted Direct Connect whose CreateBGPPeer answers are lost: it settles each lost
    //! call by describing, never sends a create again while the outcome may be pending, and leaves the intent in the
    //! state when it cannot tell.

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tokio::sync::watch;

    use crate::apply::{execute, ApplyError, Controls, Options, WaitOptions};
    use crate::aws::{AwsError, DirectConnect, FailureKind, NewPeer, Operation, Unusable};
    use crate::model::{
        AddressFamily, Asn, Location, Observed, ObservedPeer, ObservedVif, PeerAddress, PeerSpec,
        PeerState, Scope, VifId,
    };
    use crate::plan::{Action, Change, Plan, Reason};
    use crate::state::{Call, State, StateStore};

    const VIF: &str = "dxvif-amb";

    /// What the scripted service does with each CreateBGPPeer.
    #[derive(Clone, Copy)]
    enum Create {
        /// Makes the peer, then the answer is lost.
        TakesEffectThenLost,
        /// The answer is lost and nothing happened; the next create succeeds.
        LostWithoutEffectThenOk,
        /// Makes the peer and answers, but the answer cannot be read (not a classified failure).
        TakesEffectAnswerUnreadable,
    }

    struct Service {
        create: Create,
        /// Describes fail (the settling describes are lost too).
        describes_fail: bool,
        creates: AtomicUsize,
        peers: Mutex<Vec<ObservedPeer>>,
    }

    impl Service {
        fn new(create: Create, describes_fail: bool) -> Service {
            Service {
                create,
                describes_fail,
                creates: AtomicUsize::new(0),
                peers: Mutex::new(vec![peer("dxpeer-old", AddressFamily::Ipv4, 65000)]),
            }
        }

        fn vif(&self) -> ObservedVif {
            ObservedVif {
                id: VifId(VIF.into()),
                scope: Scope::region("us-east-1"),
                state: "available".into(),
                vif_type: "private".into(),
                connection_id: Some("dxcon-amb".into()),
                peers: self.peers.lock().unwrap().clone(),
            }
        }
    }

    fn peer(id: &str, family: AddressFamily, asn: u64) -> ObservedPeer {
        ObservedPeer {
            bgp_peer_id: Some(id.into()),
            family,
            asn: Asn::new(asn).unwrap(),
            auth_key: None,
            amazon_address: Some("2001:db8::1/125".into()),
            customer_address: Some("2001:db8::6/125".into()),
            state: PeerState::Available,
            bgp_status: crate::model::BgpStatus::Unknown,
        }
    }

    fn lost() -> AwsError {
        AwsError::failed(
            Operation::CreateBgpPeer,
            FailureKind::Lost,
            None,
            "no response: connection closed",
        )
    }

    impl DirectConnect for Service {
        async fn describe_virtual_interfaces(
            &self,
            _: &Scope,
        ) -> Result<Vec<ObservedVif>, AwsError> {
            if self.describes_fail {
                return Err(AwsError::failed(
                    Operation::DescribeVirtualInterfaces,
                    FailureKind::Lost,
                    None,
                    "connection closed",
                ));
            }
            Ok(vec![self.vif()])
        }

        async fn describe_logical_redundancy(
            &self,
            _: &Scope,
        ) -> Result<std::collections::BTreeMap<String, crate::model::Redundancy>, AwsError>
        {
            Err(AwsError::not_scripted(Operation::DescribeConnections))
        }

        async fn delete_bgp_peer(
            &self,
            _: &Scope,
            _: &VifId,
            _: &str,
        ) -> Result<ObservedVif, AwsError> {
            Err(AwsError::not_scripted(Operation::DeleteBgpPeer))
        }

        async fn create_bgp_peer(
            &self,
            _: &Scope,
            _: &VifId,
            new: &NewPeer,
        ) -> Result<ObservedVif, AwsError> {
            let n = self.creates.fetch_add(1, Ordering::SeqCst) + 1;
            let made = peer(
                &format!("dxpeer-new{n}"),
                new.family,
                u64::from(new.asn.get()),
            );
            match (self.create, n) {
                (Create::TakesEffectThenLost, _) => {
                    self.peers.lock().unwrap().push(made);
                    Err(lost())
                }
                (Create::LostWithoutEffectThenOk, 1) => Err(lost()),
                (Create::LostWithoutEffectThenOk, _) => {
                    self.peers.lock().unwrap().push(made);
                    Ok(self.vif())
                }
                (Create::TakesEffectAnswerUnreadable, _) => {
                    self.peers.lock().unwrap().push(made);
                    Err(Unusable::NoVirtualInterface(Operation::CreateBgpPeer).into())
                }
            }
        }
    }

    #[derive(Clone, Default)]
    struct Memory(Arc<Mutex<State>>);

    impl StateStore for Memory {
        fn load(&self) -> crate::state::Result<State> {
            Ok(self.0.lock().unwrap().clone())
        }
        fn save(&self, state: &mut State) -> crate::state::Result<()> {
            state.serial += 1;
            *self.0.lock().unwrap() = state.clone();
            Ok(())
        }
    }

    fn create_plan() -> Plan {
        let vif = VifId(VIF.into());
        Plan {
            changes: vec![Change {
                address: PeerAddress::new(&vif, "v6"),
                vif,
                scope: Scope::region("us-east-1"),
                action: Action::Create {
                    desired: PeerSpec {
                        label: "v6".into(),
                        family: AddressFamily::Ipv6,
                        asn: Asn::new(64600).unwrap(),
                        auth_key: None,
                        amazon_address: None,
                        customer_address: None,
                        location: Location::default(),
                        sensitive: Default::default(),
                    },
                },
                reason: Reason::NoMatch { lost: None },
                step: 0,
            }],
            ..Plan::default()
        }
    }

    async fn run(service: &Service, store: &Memory) -> crate::apply::Summary {
        let plan = create_plan();
        let observed = Observed {
            vifs: vec![service.vif()],
            ..Observed::default()
        };
        let (_tx, cancel) = watch::channel(false);
        let progress = super::Lines { quiet: true };
        execute(
            service,
            &plan,
            &observed,
            store.clone(),
            State::default(),
            Options {
                parallelism: 4,
                wait: WaitOptions {
                    interval: Duration::from_millis(5),
                    timeout: Duration::from_millis(600),
                },
                settle: Duration::from_millis(60),
                call_timeout: Duration::from_millis(10),
                wait_bgp_up: None,
            },
            Controls {
                progress: &progress,
                cancel,
                abort: watch::channel(false).1,
            },
        )
        .await
    }

    #[tokio::test]
    async fn a_lost_create_that_took_effect_is_found_and_recorded_never_sent_twice() {
        let service = Service::new(Create::TakesEffectThenLost, false);
        let store = Memory::default();
        let summary = run(&service, &store).await;
        assert!(summary.failures.is_empty(), "{:?}", summary.failures);
        assert_eq!(summary.added, 1);
        assert_eq!(service.creates.load(Ordering::SeqCst), 1, "sent once");
        let state = store.load().unwrap();
        assert_eq!(state.peers[0].bgp_peer_id, "dxpeer-new1");
        assert!(state.intents.is_empty());
    }

    #[tokio::test]
    async fn a_lost_create_that_did_not_happen_is_sent_again_only_once_settled_absent() {
        let service = Service::new(Create::LostWithoutEffectThenOk, false);
        let store = Memory::default();
        let summary = run(&service, &store).await;
        assert!(summary.failures.is_empty(), "{:?}", summary.failures);
        assert_eq!(service.creates.load(Ordering::SeqCst), 2);
        assert_eq!(store.load().unwrap().peers[0].bgp_peer_id, "dxpeer-new2");
        assert_eq!(
            service.peers.lock().unwrap().len(),
            2,
            "one new peer, no duplicate"
        );
    }

    /// An answer that came but could not be read is no proof that nothing happened: it is settled like a lost one.
    #[tokio::test]
    async fn an_unreadable_answer_is_settled_by_describing_never_taken_as_a_failure() {
        let service = Service::new(Create::TakesEffectAnswerUnreadable, false);
        let store = Memory::default();
        let summary = run(&service, &store).await;
        assert!(summary.failures.is_empty(), "{:?}", summary.failures);
        assert_eq!(service.creates.load(Ordering::SeqCst), 1, "sent once");
        assert_eq!(store.load().unwrap().peers[0].bgp_peer_id, "dxpeer-new1");
    }

    #[tokio::test]
    async fn when_no_describe_can_settle_it_the_outcome_is_unknown_and_the_intent_stays() {
        let service = Service::new(Create::TakesEffectThenLost, true);
        let store = Memory::default();
        let summary = run(&service, &store).await;
        assert_eq!(
            service.creates.load(Ordering::SeqCst),
            1,
            "never sent again"
        );
        let (address, cause) = &summary.failures[0];
        assert_eq!(address, "virtual_interface.dxvif-amb.bgp_peer.v6");
        assert!(
            matches!(cause, ApplyError::CreateUnsettled { .. }),
            "{cause:?}"
        );
        let state = store.load().unwrap();
        assert!(state.peers.is_empty());
        assert!(matches!(
            &state.intents[..],
            [i] if matches!(&i.call, Call::CreateBGPPeer(c) if c.known_peer_ids == vec!["dxpeer-old".to_string()])
        ));
    }
}
