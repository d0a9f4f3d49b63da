//! Eventual consistency: recent versions of the VIF list, so a describe can answer with the world as it was a
//! moment ago, the way AWS's read path may lag its write path.

use std::collections::VecDeque;
use std::sync::Arc;

use super::super::world::{Transition, Vif};
use super::index::Positions;
use super::lifecycle::{self, Listing, Timing};

/// The VIF list and its scheduled steps at one moment. VIFs unchanged between versions are shared, so recording a
/// version costs a pointer per VIF, not a copy of the world.
struct Version {
    at_ms: u64,
    vifs: Vec<Arc<Vif>>,
    pending: Vec<Transition>,
}

/// Versions kept for as long as the widest consistency window needs them.
#[derive(Default)]
pub struct History {
    versions: VecDeque<Version>,
}

impl History {
    /// Records the world as it is at `now_ms`, forgetting versions no view within `window_ms` can need.
    pub fn remember(
        &mut self,
        now_ms: u64,
        window_ms: u64,
        vifs: &[Arc<Vif>],
        pending: &[Transition],
    ) {
        if window_ms == 0 {
            self.versions.clear();
            return;
        }
        self.versions.push_back(Version {
            at_ms: now_ms,
            vifs: vifs.to_vec(),
            pending: pending.to_vec(),
        });
        // Keep the newest version at or before the oldest moment a view may show, and everything after it.
        let oldest_view = now_ms.saturating_sub(window_ms);
        while self.versions.len() > 1 && self.versions[1].at_ms <= oldest_view {
            self.versions.pop_front();
        }
    }

    /// Whether a version has been recorded (the first change records the world before it).
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }

    /// The VIF list as it stood at `at_ms`: the newest version recorded by then, with its due steps replayed.
    /// `None` when nothing older than `at_ms` is known (the live world is then the answer).
    pub fn view_at(&self, at_ms: u64, timing: Timing) -> Option<Vec<Arc<Vif>>> {
        let version = self
            .versions
            .iter()
            .rev()
            .find(|v| v.at_ms <= at_ms)
            .or_else(|| self.versions.front())?;
        let mut vifs = version.vifs.clone();
        let mut pending = version.pending.clone();
        lifecycle::advance(
            &mut vifs,
            &mut pending,
            at_ms,
            timing,
            &mut LazyPositions(None),
        );
        Some(vifs)
    }
}

/// VIF positions found when a replayed step first needs one: most views replay no step.
struct LazyPositions(Option<Positions>);

impl Listing for LazyPositions {
    fn position(&mut self, vifs: &[Arc<Vif>], id: &str) -> Option<usize> {
        self.0.get_or_insert_with(|| Positions::build(vifs)).get(id)
    }

    fn vif_removed(&mut self, _vifs: &[Arc<Vif>], _removed: &Vif) {
        self.0 = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::world::Peer;

    fn vifs(peers: usize) -> Vec<Arc<Vif>> {
        vec![Arc::new(Vif {
            virtual_interface_id: "dxvif-a".into(),
            bgp_peers: (0..peers)
                .map(|i| Peer {
                    bgp_peer_id: Some(format!("dxpeer-{i}")),
                    bgp_peer_state: Some("pending".into()),
                    ..Peer::default()
                })
                .collect(),
            ..Vif::default()
        })]
    }

    const TIMING: Timing = Timing {
        retention_ms: 60_000,
    };

    #[test]
    fn a_view_shows_the_version_of_its_moment() {
        let mut h = History::default();
        h.remember(1_000, 2_000, &vifs(1), &[]);
        h.remember(2_000, 2_000, &vifs(2), &[]);
        h.remember(3_000, 2_000, &vifs(3), &[]);
        let peers = |at| h.view_at(at, TIMING).unwrap()[0].bgp_peers.len();
        assert_eq!(peers(1_500), 1);
        assert_eq!(peers(2_000), 2);
        assert_eq!(peers(2_999), 2);
        assert_eq!(peers(3_500), 3);
        // Older than anything recorded: the oldest version (never fresher than the live world).
        assert_eq!(peers(10), 1);
    }

    #[test]
    fn steps_due_by_the_moment_are_replayed() {
        let mut h = History::default();
        let pending = vec![Transition {
            virtual_interface_id: "dxvif-a".into(),
            bgp_peer_id: Some("dxpeer-0".into()),
            to: "available".into(),
            at_epoch_ms: 1_500,
        }];
        h.remember(1_000, 5_000, &vifs(1), &pending);
        assert_eq!(
            h.view_at(1_499, TIMING).unwrap()[0].bgp_peers[0].state(),
            "pending"
        );
        assert_eq!(
            h.view_at(1_500, TIMING).unwrap()[0].bgp_peers[0].state(),
            "available"
        );
    }

    #[test]
    fn old_versions_are_dropped_but_the_one_a_view_needs_is_kept() {
        let mut h = History::default();
        for t in 0..100u64 {
            h.remember(t * 1_000, 2_500, &vifs(t as usize % 5), &[]);
        }
        assert!(h.versions.len() <= 4, "{}", h.versions.len());
        // The moment 2.5s before the last version is still answerable from a version at or before it.
        assert_eq!(
            h.view_at(99_000 - 2_500, TIMING).unwrap()[0]
                .bgp_peers
                .len(),
            96 % 5
        );
        h.remember(100_000, 0, &vifs(1), &[]);
        assert!(h.is_empty(), "a zero window keeps nothing");
    }

    #[test]
    fn versions_share_the_vifs_that_did_not_change() {
        let other = Arc::new(Vif {
            virtual_interface_id: "dxvif-b".into(),
            ..Vif::default()
        });
        let mut live = vec![vifs(1).remove(0), other];
        let mut h = History::default();
        h.remember(1_000, 5_000, &live, &[]);
        Arc::make_mut(&mut live[0]).bgp_peers.clear();
        h.remember(2_000, 5_000, &live, &[]);
        let (old, new) = (&h.versions[0].vifs, &h.versions[1].vifs);
        assert!(Arc::ptr_eq(&old[1], &new[1]), "the unchanged VIF is shared");
        assert!(!Arc::ptr_eq(&old[0], &new[0]));
        assert_eq!(
            h.view_at(1_500, TIMING).unwrap()[0].bgp_peers.len(),
            1,
            "the older version kept its peer"
        );
    }
}
