//! Scheduled lifecycle steps (pending → available → BGP up; deleting → deleted → gone) applied to a list of VIFs,
//! so the live world and an older snapshot replayed to a moment in time follow the same rules.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use super::super::world::{Peer, Transition, Vif};

/// A peer or VIF step names its target state; these are the targets that are not API states.
pub const REMOVED: &str = "removed";
pub const BGP_UP: &str = "bgp-up";

/// How long the steps that steps schedule take, in milliseconds.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// `deleted` → no longer listed.
    pub retention_ms: u64,
}

/// What [`advance`] needs beside the list: where a VIF is, and word of what leaves the list (the live world's
/// index keeps up with it; a replayed snapshot only needs positions).
pub trait Listing {
    /// Where the VIF with this id is in `vifs`.
    fn position(&mut self, vifs: &[Arc<Vif>], id: &str) -> Option<usize>;
    /// A peer of `vif` left the list (its deleted retention ended).
    fn peer_removed(&mut self, _vif: &str, _peer: &Peer) {}
    /// `removed` left the list, its peers with it; `vifs` is the list without it.
    fn vif_removed(&mut self, _vifs: &[Arc<Vif>], _removed: &Vif) {}
}

/// Applies every step due at `until_ms`, earliest first (steps a step schedules included; among equal times, in
/// the order they were scheduled); returns whether anything changed. Steps not due stay in `pending`, in order.
pub fn advance(
    vifs: &mut Vec<Arc<Vif>>,
    pending: &mut Vec<Transition>,
    until_ms: u64,
    timing: Timing,
    listing: &mut impl Listing,
) -> bool {
    if !pending.iter().any(|t| t.at_epoch_ms <= until_ms) {
        return false;
    }
    // Due steps in a heap keyed by (time, scheduling order); the rest stay pending in their order.
    let mut due: Vec<Option<Transition>> = Vec::new();
    let mut queue = BinaryHeap::new();
    let mut enqueue = |t: Transition, due: &mut Vec<Option<Transition>>| {
        queue.push(Reverse((t.at_epoch_ms, due.len())));
        due.push(Some(t));
    };
    for t in std::mem::take(pending) {
        if t.at_epoch_ms <= until_ms {
            enqueue(t, &mut due);
        } else {
            pending.push(t);
        }
    }
    // Each step is applied once and schedules at most one later step: bounded by twice the steps due.
    while let Some(Reverse((_, i))) = queue.pop() {
        let Some(t) = due.get_mut(i).and_then(Option::take) else {
            continue;
        };
        let scheduled = pending.len();
        apply(vifs, pending, &t, timing, listing);
        // A step it scheduled that is due already joins the queue, after everything scheduled before it.
        let mut k = scheduled;
        while k < pending.len() {
            if pending[k].at_epoch_ms <= until_ms {
                let t = pending.remove(k);
                queue.push(Reverse((t.at_epoch_ms, due.len())));
                due.push(Some(t));
            } else {
                k += 1;
            }
        }
    }
    true
}

fn apply(
    vifs: &mut Vec<Arc<Vif>>,
    pending: &mut Vec<Transition>,
    t: &Transition,
    timing: Timing,
    listing: &mut impl Listing,
) {
    let id = t.virtual_interface_id.as_str();
    let listed = listing
        .position(vifs, id)
        .filter(|&i| vifs.get(i).is_some_and(|v| v.virtual_interface_id == id));
    debug_assert_eq!(
        listed,
        vifs.iter().position(|v| v.virtual_interface_id == id),
        "the listing agrees with the list"
    );
    let Some(index) = listed.or_else(|| vifs.iter().position(|v| v.virtual_interface_id == id))
    else {
        return;
    };
    let later = |to: &str, after: u64| Transition {
        to: to.into(),
        at_epoch_ms: t.at_epoch_ms.saturating_add(after),
        ..t.clone()
    };
    if (t.bgp_peer_id.is_none(), t.to.as_str()) == (true, REMOVED) {
        let removed = vifs.remove(index);
        listing.vif_removed(vifs, &removed);
        return;
    }
    // Copied first if an older version or a snapshot being saved shares it.
    let vif = Arc::make_mut(&mut vifs[index]);
    match (&t.bgp_peer_id, t.to.as_str()) {
        (None, "available") => {
            vif.virtual_interface_state = Some("available".into());
            for p in &mut vif.bgp_peers {
                if matches!(p.state(), "pending" | "verifying") {
                    p.bgp_peer_state = Some("available".into());
                }
            }
        }
        (None, state) => {
            vif.virtual_interface_state = Some(state.into());
            if state == "deleted" {
                for p in &mut vif.bgp_peers {
                    p.bgp_peer_state = Some("deleted".into());
                    p.bgp_status = Some("down".into());
                }
                pending.push(later(REMOVED, timing.retention_ms));
            }
        }
        (Some(id), REMOVED) => {
            let (gone, kept) = std::mem::take(&mut vif.bgp_peers)
                .into_iter()
                .partition::<Vec<Peer>, _>(|p| p.bgp_peer_id.as_ref() == Some(id));
            vif.bgp_peers = kept;
            vif.refresh_router_config();
            for p in &gone {
                listing.peer_removed(&vif.virtual_interface_id, p);
            }
        }
        (Some(id), step) => {
            let Some(p) = vif
                .bgp_peers
                .iter_mut()
                .find(|p| p.bgp_peer_id.as_ref() == Some(id))
            else {
                return;
            };
            match step {
                BGP_UP => {
                    if p.state() == "available" {
                        p.bgp_status = Some("up".into());
                    }
                }
                state => {
                    p.bgp_peer_state = Some(state.into());
                    if state != "available" {
                        p.bgp_status = Some("down".into());
                    }
                    if state == "deleted" {
                        pending.push(later(REMOVED, timing.retention_ms));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listing that searches the list.
    struct Scan;

    impl Listing for Scan {
        fn position(&mut self, vifs: &[Arc<Vif>], id: &str) -> Option<usize> {
            vifs.iter().position(|v| v.virtual_interface_id == id)
        }
    }

    fn world() -> Vec<Arc<Vif>> {
        vec![Arc::new(Vif {
            virtual_interface_id: "dxvif-a".into(),
            bgp_peers: vec![Peer {
                bgp_peer_id: Some("dxpeer-1".into()),
                bgp_peer_state: Some("deleting".into()),
                bgp_status: Some("up".into()),
                ..Peer::default()
            }],
            ..Vif::default()
        })]
    }

    fn step(peer: Option<&str>, to: &str, at: u64) -> Transition {
        Transition {
            virtual_interface_id: "dxvif-a".into(),
            bgp_peer_id: peer.map(str::to_string),
            to: to.into(),
            at_epoch_ms: at,
        }
    }

    const TIMING: Timing = Timing {
        retention_ms: 60_000,
    };

    #[test]
    fn a_deleted_peer_stays_listed_for_the_retention_then_goes() {
        let mut vifs = world();
        let mut pending = vec![step(Some("dxpeer-1"), "deleted", 1_000)];
        assert!(!advance(&mut vifs, &mut pending, 999, TIMING, &mut Scan));
        assert!(advance(&mut vifs, &mut pending, 1_000, TIMING, &mut Scan));
        assert_eq!(vifs[0].bgp_peers[0].state(), "deleted");
        assert_eq!(vifs[0].bgp_peers[0].bgp_status.as_deref(), Some("down"));
        advance(&mut vifs, &mut pending, 60_999, TIMING, &mut Scan);
        assert_eq!(vifs[0].bgp_peers.len(), 1, "still listed as deleted");
        advance(&mut vifs, &mut pending, 61_000, TIMING, &mut Scan);
        assert!(vifs[0].bgp_peers.is_empty());
    }

    #[test]
    fn a_deleted_vif_is_removed_after_the_retention() {
        let mut vifs = world();
        let mut pending = vec![step(None, "deleted", 10)];
        advance(&mut vifs, &mut pending, 10, TIMING, &mut Scan);
        assert_eq!(vifs[0].state(), "deleted");
        advance(&mut vifs, &mut pending, 60_010, TIMING, &mut Scan);
        assert!(vifs.is_empty());
    }

    #[test]
    fn bgp_goes_up_only_on_an_available_peer() {
        let mut vifs = world();
        Arc::make_mut(&mut vifs[0]).bgp_peers[0].bgp_peer_state = Some("pending".into());
        Arc::make_mut(&mut vifs[0]).bgp_peers[0].bgp_status = Some("down".into());
        let mut pending = vec![
            step(Some("dxpeer-1"), "available", 5),
            step(Some("dxpeer-1"), BGP_UP, 7),
        ];
        advance(&mut vifs, &mut pending, 6, TIMING, &mut Scan);
        assert_eq!(vifs[0].bgp_peers[0].bgp_status.as_deref(), Some("down"));
        advance(&mut vifs, &mut pending, 7, TIMING, &mut Scan);
        assert_eq!(vifs[0].bgp_peers[0].bgp_status.as_deref(), Some("up"));

        let mut vifs = world();
        Arc::make_mut(&mut vifs[0]).bgp_peers[0].bgp_status = Some("down".into());
        let mut pending = vec![step(Some("dxpeer-1"), BGP_UP, 7)];
        advance(&mut vifs, &mut pending, 7, TIMING, &mut Scan);
        assert_eq!(
            vifs[0].bgp_peers[0].bgp_status.as_deref(),
            Some("down"),
            "a deleting peer's status is not raised"
        );
    }

    #[test]
    fn a_vif_shared_with_an_older_version_is_copied_not_changed() {
        let mut vifs = world();
        let older = vifs.clone();
        let mut pending = vec![step(Some("dxpeer-1"), "deleted", 5)];
        advance(&mut vifs, &mut pending, 5, TIMING, &mut Scan);
        assert_eq!(vifs[0].bgp_peers[0].state(), "deleted");
        assert_eq!(
            older[0].bgp_peers[0].state(),
            "deleting",
            "the older version is as it was"
        );
        assert!(!Arc::ptr_eq(&vifs[0], &older[0]));
    }
}
