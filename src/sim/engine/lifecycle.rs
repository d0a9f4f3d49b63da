//! Scheduled lifecycle steps (pending → available → BGP up; deleting → deleted → gone) applied to a list of VIFs,
//! so the live world and an older snapshot replayed to a moment in time follow the same rules.

use super::super::world::{Transition, Vif};

/// A peer or VIF step names its target state; these are the targets that are not API states.
pub const REMOVED: &str = "removed";
pub const BGP_UP: &str = "bgp-up";

/// How long the steps that steps schedule take, in milliseconds.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// `deleted` → no longer listed.
    pub retention_ms: u64,
}

/// Applies every step due at `until_ms`, earliest first (steps a step schedules included); returns whether
/// anything changed.
pub fn advance(
    vifs: &mut Vec<Vif>,
    pending: &mut Vec<Transition>,
    until_ms: u64,
    timing: Timing,
) -> bool {
    let mut changed = false;
    while let Some(i) = pending
        .iter()
        .enumerate()
        .filter(|(_, t)| t.at_epoch_ms <= until_ms)
        .min_by_key(|(_, t)| t.at_epoch_ms)
        .map(|(i, _)| i)
    {
        let t = pending.remove(i);
        apply(vifs, pending, &t, timing);
        changed = true;
    }
    changed
}

fn apply(vifs: &mut Vec<Vif>, pending: &mut Vec<Transition>, t: &Transition, timing: Timing) {
    let Some(index) = vifs
        .iter()
        .position(|v| v.virtual_interface_id == t.virtual_interface_id)
    else {
        return;
    };
    let later = |to: &str, after: u64| Transition {
        to: to.into(),
        at_epoch_ms: t.at_epoch_ms.saturating_add(after),
        ..t.clone()
    };
    let vif = &mut vifs[index];
    match (&t.bgp_peer_id, t.to.as_str()) {
        (None, REMOVED) => {
            vifs.remove(index);
        }
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
            vif.bgp_peers.retain(|p| p.bgp_peer_id.as_ref() != Some(id));
            vif.refresh_router_config();
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
    use crate::sim::world::Peer;

    fn world() -> Vec<Vif> {
        vec![Vif {
            virtual_interface_id: "dxvif-a".into(),
            bgp_peers: vec![Peer {
                bgp_peer_id: Some("dxpeer-1".into()),
                bgp_peer_state: Some("deleting".into()),
                bgp_status: Some("up".into()),
                ..Peer::default()
            }],
            ..Vif::default()
        }]
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
        assert!(!advance(&mut vifs, &mut pending, 999, TIMING));
        assert!(advance(&mut vifs, &mut pending, 1_000, TIMING));
        assert_eq!(vifs[0].bgp_peers[0].state(), "deleted");
        assert_eq!(vifs[0].bgp_peers[0].bgp_status.as_deref(), Some("down"));
        advance(&mut vifs, &mut pending, 60_999, TIMING);
        assert_eq!(vifs[0].bgp_peers.len(), 1, "still listed as deleted");
        advance(&mut vifs, &mut pending, 61_000, TIMING);
        assert!(vifs[0].bgp_peers.is_empty());
    }

    #[test]
    fn a_deleted_vif_is_removed_after_the_retention() {
        let mut vifs = world();
        let mut pending = vec![step(None, "deleted", 10)];
        advance(&mut vifs, &mut pending, 10, TIMING);
        assert_eq!(vifs[0].state(), "deleted");
        advance(&mut vifs, &mut pending, 60_010, TIMING);
        assert!(vifs.is_empty());
    }

    #[test]
    fn bgp_goes_up_only_on_an_available_peer() {
        let mut vifs = world();
        vifs[0].bgp_peers[0].bgp_peer_state = Some("pending".into());
        vifs[0].bgp_peers[0].bgp_status = Some("down".into());
        let mut pending = vec![
            step(Some("dxpeer-1"), "available", 5),
            step(Some("dxpeer-1"), BGP_UP, 7),
        ];
        advance(&mut vifs, &mut pending, 6, TIMING);
        assert_eq!(vifs[0].bgp_peers[0].bgp_status.as_deref(), Some("down"));
        advance(&mut vifs, &mut pending, 7, TIMING);
        assert_eq!(vifs[0].bgp_peers[0].bgp_status.as_deref(), Some("up"));

        let mut vifs = world();
        vifs[0].bgp_peers[0].bgp_status = Some("down".into());
        let mut pending = vec![step(Some("dxpeer-1"), BGP_UP, 7)];
        advance(&mut vifs, &mut pending, 7, TIMING);
        assert_eq!(
            vifs[0].bgp_peers[0].bgp_status.as_deref(),
            Some("down"),
            "a deleting peer's status is not raised"
        );
    }
}
