//! Poll-loop tests with a scripted Direct Connect: calls per round per scope, timeouts, failures and interrupts.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;

use super::poll::{self, Wait, WaitOptions, Waited};
use super::progress::Lines;
use super::readiness::Goal;
use crate::aws::{DirectConnect, NewPeer};
use crate::model::{AddressFamily, Asn, ObservedPeer, ObservedVif, PeerState, Scope, VifId};

/// Peers of each region turn `final_state` on the `ready_after`-th describe of that region.
struct Scripted {
    peers: Vec<(String, VifId, String)>,
    ready_after: usize,
    final_state: Option<PeerState>,
    calls: Mutex<BTreeMap<String, usize>>,
}

impl DirectConnect for Scripted {
    async fn describe_virtual_interfaces(&self, scope: &Scope) -> anyhow::Result<Vec<ObservedVif>> {
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
                });
            }
        }
        Ok(vifs.into_values().collect())
    }

    async fn describe_logical_redundancy(
        &self,
        _: &Scope,
    ) -> anyhow::Result<BTreeMap<String, String>> {
        anyhow::bail!("not used by the poll loop")
    }

    async fn delete_bgp_peer(&self, _: &Scope, _: &VifId, _: &str) -> anyhow::Result<ObservedVif> {
        anyhow::bail!("not used by the poll loop")
    }

    async fn create_bgp_peer(
        &self,
        _: &Scope,
        _: &VifId,
        _: &NewPeer,
    ) -> anyhow::Result<ObservedVif> {
        anyhow::bail!("not used by the poll loop")
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
        .all(|o| matches!(o, Waited::Failed(reason) if reason.contains("deleted"))));
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
