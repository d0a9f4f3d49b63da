//! The waiting loop: each round makes one DescribeVirtualInterfaces per region, covering every in-flight peer there.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures::future::join_all;

use super::readiness::{self, Readiness};
use crate::aws::DirectConnect;
use crate::model::{PeerAddress, PeerState, Scope, VifId};
use crate::printer::Printer;

/// A peer the apply waits on.
#[derive(Clone, Debug)]
pub struct Tracked {
    pub address: PeerAddress,
    pub vif: VifId,
    pub scope: Scope,
    pub bgp_peer_id: String,
    pub last_state: PeerState,
    pub since: Instant,
    pub outcome: Option<Result<(), String>>,
}

#[derive(Clone, Copy, Debug)]
pub struct WaitOptions {
    pub interval: Duration,
    pub timeout: Duration,
}

/// How often a peer that is still waiting is reported even when its state has not changed.
const STILL_EVERY: Duration = Duration::from_secs(10);

/// Polls until every tracked peer is ready or failed. Returns `Err` listing the waiting peers on timeout.
pub async fn wait_all<D: DirectConnect>(
    dc: &D,
    tracked: &mut [Tracked],
    options: WaitOptions,
    printer: &Printer,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + options.timeout;
    let mut last_report = Instant::now();
    loop {
        let scopes: BTreeSet<Scope> = tracked
            .iter()
            .filter(|t| t.outcome.is_none())
            .map(|t| t.scope.clone())
            .collect();
        if scopes.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        if now >= deadline {
            let waiting: Vec<String> = tracked
                .iter()
                .filter(|t| t.outcome.is_none())
                .map(|t| format!("  {} ({}): {}", t.address, t.bgp_peer_id, t.last_state))
                .collect();
            anyhow::bail!(
                "timed out after {} waiting for {} BGP peer{} to become available:\n{}",
                humantime::format_duration(options.timeout),
                waiting.len(),
                if waiting.len() == 1 { "" } else { "s" },
                waiting.join("\n")
            );
        }
        tokio::time::sleep(options.interval.min(deadline - now)).await;

        let described = join_all(scopes.iter().map(|s| dc.describe_virtual_interfaces(s))).await;
        let report_still = last_report.elapsed() >= STILL_EVERY;
        if report_still {
            last_report = Instant::now();
        }
        for (scope, result) in scopes.iter().zip(described) {
            let vifs = match result {
                Ok(vifs) => vifs,
                Err(e) => {
                    // The SDK already retried; a failed round is reported and the next round tries again.
                    printer.status(&format!("warning: polling {scope} failed: {e:#}"));
                    continue;
                }
            };
            for t in tracked
                .iter_mut()
                .filter(|t| t.outcome.is_none() && &t.scope == scope)
            {
                let peer = vifs.iter().find(|v| v.id == t.vif).and_then(|v| {
                    v.peers
                        .iter()
                        .find(|p| p.bgp_peer_id.as_deref() == Some(&t.bgp_peer_id))
                });
                let elapsed =
                    humantime::format_duration(Duration::from_secs(t.since.elapsed().as_secs()));
                match readiness::creation(peer) {
                    Readiness::Ready => {
                        t.last_state = PeerState::Available;
                        t.outcome = Some(Ok(()));
                        let addrs = peer
                            .map(|p| {
                                format!(
                                    ", amazon_address={}, customer_address={}",
                                    p.amazon_address.as_deref().unwrap_or("-"),
                                    p.customer_address.as_deref().unwrap_or("-")
                                )
                            })
                            .unwrap_or_default();
                        printer.status(&format!(
                            "{}: Creation complete after {elapsed} [id={}{addrs}]",
                            t.address, t.bgp_peer_id
                        ));
                    }
                    Readiness::Waiting(state) => {
                        if state != t.last_state || report_still {
                            printer.status(&format!(
                                "{}: Still creating... [{elapsed} elapsed, state {state}]",
                                t.address
                            ));
                        }
                        t.last_state = state;
                    }
                    Readiness::Failed(reason) => {
                        printer.status(&format!("{}: Creation failed: {reason}", t.address));
                        t.outcome = Some(Err(reason));
                    }
                }
            }
        }
    }
}
