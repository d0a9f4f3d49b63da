//! Poll-loop tests with a scripted Direct Connect: calls per round per region, timeouts and failures.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::poll::{wait_all, Tracked, WaitOptions};
use crate::aws::{DirectConnect, NewPeer};
use crate::model::{
    AddressFamily, Asn, ObservedPeer, ObservedVif, PeerAddress, PeerState, Scope, VifId,
};
use crate::printer::{Printer, Verbosity};

/// Peers of each region turn `final_state` on the `ready_after`-th describe of that region.
struct Scripted {
    peers: Vec<(String, VifId, String)>,
    ready_after: usize,
    final_state: PeerState,
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
            PeerState::Pending
        };
        let mut vifs: BTreeMap<VifId, ObservedVif> = BTreeMap::new();
        for (r, vif, id) in self.peers.iter().filter(|(r, _, _)| *r == scope.region) {
            vifs.entry(vif.clone())
                .or_insert_with(|| ObservedVif {
                    id: vif.clone(),
                    scope: Scope::region(r.clone()),
                    state: "available".into(),
                    vif_type: "private".into(),
                    connection_id: None,
                    peers: vec![],
                })
                .peers
                .push(ObservedPeer {
                    bgp_peer_id: Some(id.clone()),
                    family: AddressFamily::Ipv6,
                    asn: Asn::new(64600).unwrap(),
                    auth_key: None,
                    amazon_address: None,
                    customer_address: None,
                    state: state.clone(),
                });
        }
        Ok(vifs.into_values().collect())
    }

    async fn describe_logical_redundancy(
        &self,
        _: &Scope,
    ) -> anyhow::Result<BTreeMap<String, String>> {
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

fn scenario(
    regions: usize,
    vifs_per_region: usize,
    peers_per_vif: usize,
    ready_after: usize,
    final_state: PeerState,
) -> (Scripted, Vec<Tracked>) {
    let mut peers = Vec::new();
    let mut tracked = Vec::new();
    for r in 0..regions {
        for v in 0..vifs_per_region {
            for p in 0..peers_per_vif {
                let region = format!("region-{r}");
                let vif = VifId(format!("dxvif-{r}x{v}"));
                let id = format!("dxpeer-{r}-{v}-{p}");
                tracked.push(Tracked {
                    address: PeerAddress::new(&vif, &format!("p{p}")),
                    vif: vif.clone(),
                    scope: Scope::region(region.clone()),
                    bgp_peer_id: id.clone(),
                    last_state: PeerState::Pending,
                    since: Instant::now(),
                    outcome: None,
                });
                peers.push((region, vif, id));
            }
        }
    }
    let dc = Scripted {
        peers,
        ready_after,
        final_state,
        calls: Mutex::new(BTreeMap::new()),
    };
    (dc, tracked)
}

const FAST: WaitOptions = WaitOptions {
    interval: Duration::from_millis(1),
    timeout: Duration::from_secs(30),
};

#[tokio::test]
async fn one_describe_per_region_per_round_whatever_the_peer_count() {
    let (dc, mut tracked) = scenario(3, 4, 3, 3, PeerState::Available);
    assert_eq!(tracked.len(), 36);
    wait_all(&dc, &mut tracked, FAST, &Printer::new(Verbosity::Quiet))
        .await
        .unwrap();
    assert!(tracked.iter().all(|t| t.outcome == Some(Ok(()))));
    let calls = dc.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 3);
    assert!(
        calls.values().all(|n| *n == 3),
        "3 rounds x 3 regions, not per peer: {calls:?}"
    );
}

#[tokio::test]
async fn timeout_names_every_waiting_peer_and_its_state() {
    let (dc, mut tracked) = scenario(1, 2, 1, usize::MAX, PeerState::Available);
    let options = WaitOptions {
        interval: Duration::from_millis(5),
        timeout: Duration::from_millis(40),
    };
    let err = wait_all(&dc, &mut tracked, options, &Printer::new(Verbosity::Quiet))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("timed out after 40ms waiting for 2 BGP peers"),
        "{err}"
    );
    assert!(
        err.contains("virtual_interface.dxvif-0x0.bgp_peer.p0 (dxpeer-0-0-0): pending"),
        "{err}"
    );
    assert!(
        err.contains("virtual_interface.dxvif-0x1.bgp_peer.p0 (dxpeer-0-1-0): pending"),
        "{err}"
    );
}

#[tokio::test]
async fn peers_ending_deleted_fail_instead_of_waiting_forever() {
    let (dc, mut tracked) = scenario(1, 1, 2, 2, PeerState::Deleted);
    wait_all(&dc, &mut tracked, FAST, &Printer::new(Verbosity::Quiet))
        .await
        .unwrap();
    assert!(tracked
        .iter()
        .all(|t| matches!(&t.outcome, Some(Err(reason)) if reason.contains("deleted"))));
}
