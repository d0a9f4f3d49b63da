//! Pure readiness predicates: what one describe of a VIF means for an apply that waits on one of its peers, or on
//! the outcome of a call whose answer was lost.

use std::collections::BTreeSet;

use crate::model::{BgpStatus, ObservedPeer, PeerState};
use crate::plan::intents::{settle_create, settle_delete, Created, Deleted};
use crate::state::Creation;

/// What the apply is waiting for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Goal {
    /// A created (or adopted) peer becoming `available`. Until `visible_by_ms` an eventually consistent describe may
    /// not list it yet; after that, a peer missing from the list has vanished.
    Available { id: String, visible_by_ms: u64 },
    /// A deleted peer becoming `deleted` or disappearing.
    Gone { id: String },
    /// A peer about to be deleted settling: `available` (it can be deleted), or already deleting, deleted or gone
    /// (nothing left to delete).
    Deletable { id: String, visible_by_ms: u64 },
    /// The VIF having no peer mid-change (`pending` or `deleting`): what a call refused as "transitioning" waits for.
    Quiet,
    /// An available peer's BGP session coming up (`bgpStatus` `up`), given up on by a describe that starts at or
    /// after `give_up_at_ms` (`apply --wait-bgp-up`). Missing from the list before `visible_by_ms` is waited out.
    BgpUp {
        id: String,
        visible_by_ms: u64,
        give_up_at_ms: u64,
    },
    /// The outcome of a CreateBGPPeer whose answer was lost.
    Created {
        creation: Creation,
        /// Peer ids other addresses own on the VIF: never taken for this one.
        owned: BTreeSet<String>,
        conclusive_after_ms: u64,
    },
    /// The outcome of a DeleteBGPPeer whose answer was lost.
    Deleted {
        id: String,
        conclusive_after_ms: u64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// An `Available` or `Gone` goal is reached (with the peer as described, if listed).
    Ready(Option<ObservedPeer>),
    /// A lost create's outcome is known.
    Created(Created),
    /// A lost delete's outcome is known.
    Deleted(Deleted),
    /// Not yet: the peer's state (`None`: not listed yet), or no describe late enough to tell.
    Waiting(Option<PeerState>),
    /// It will never get there.
    Failed(Unreachable),
}

/// Why a peer will never become available.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unreachable {
    #[error("the peer vanished from its virtual interface")]
    Vanished,
    #[error("the peer went to {0} instead of available")]
    WentTo(PeerState),
    /// (`Goal::BgpUp`) The time allowed ran out; the peer's last `bgpStatus` and state.
    #[error("its BGP session was not up in time (bgpStatus {bgp}, state {state})")]
    BgpNotUp { bgp: BgpStatus, state: PeerState },
}

/// Readiness given one describe of the VIF (`peers`, or `None` when the VIF is not listed) that started at
/// `described_at_ms`.
pub fn readiness(goal: &Goal, peers: Option<&[ObservedPeer]>, described_at_ms: u64) -> Readiness {
    let find = |id: &str| {
        peers
            .unwrap_or_default()
            .iter()
            .find(|p| p.bgp_peer_id.as_deref() == Some(id))
    };
    match goal {
        Goal::Available { id, visible_by_ms } => match find(id) {
            None if described_at_ms < *visible_by_ms => Readiness::Waiting(None),
            None => Readiness::Failed(Unreachable::Vanished),
            Some(p) if p.state == PeerState::Available => Readiness::Ready(Some(p.clone())),
            Some(p) if p.state.is_gone() => Readiness::Failed(Unreachable::WentTo(p.state.clone())),
            Some(p) => Readiness::Waiting(Some(p.state.clone())),
        },
        Goal::BgpUp {
            id,
            visible_by_ms,
            give_up_at_ms,
        } => {
            let late = described_at_ms >= *give_up_at_ms;
            match find(id) {
                None if described_at_ms < *visible_by_ms && !late => Readiness::Waiting(None),
                None if described_at_ms < *visible_by_ms => {
                    Readiness::Failed(Unreachable::BgpNotUp {
                        bgp: BgpStatus::Unknown,
                        state: PeerState::Other("not listed".into()),
                    })
                }
                None => Readiness::Failed(Unreachable::Vanished),
                Some(p) if p.state.is_gone() => {
                    Readiness::Failed(Unreachable::WentTo(p.state.clone()))
                }
                Some(p) if p.state == PeerState::Available && p.bgp_status == BgpStatus::Up => {
                    Readiness::Ready(Some(p.clone()))
                }
                Some(p) if late => Readiness::Failed(Unreachable::BgpNotUp {
                    bgp: p.bgp_status.clone(),
                    state: p.state.clone(),
                }),
                Some(p) => Readiness::Waiting(Some(p.state.clone())),
            }
        }
        Goal::Deletable { id, visible_by_ms } => match find(id) {
            None if described_at_ms < *visible_by_ms => Readiness::Waiting(None),
            None => Readiness::Ready(None),
            Some(p) if p.state.is_gone() => Readiness::Ready(None),
            Some(p) if p.state == PeerState::Available => Readiness::Ready(Some(p.clone())),
            Some(p) => Readiness::Waiting(Some(p.state.clone())),
        },
        Goal::Quiet => match peers
            .unwrap_or_default()
            .iter()
            .find(|p| matches!(p.state, PeerState::Pending | PeerState::Deleting))
        {
            Some(busy) => Readiness::Waiting(Some(busy.state.clone())),
            None => Readiness::Ready(None),
        },
        Goal::Gone { id } => match find(id) {
            None => Readiness::Ready(None),
            Some(p) if p.state == PeerState::Deleted => Readiness::Ready(Some(p.clone())),
            Some(p) => Readiness::Waiting(Some(p.state.clone())),
        },
        Goal::Created {
            creation,
            owned,
            conclusive_after_ms,
        } => {
            let owned: BTreeSet<&str> = owned.iter().map(String::as_str).collect();
            match settle_create(
                creation,
                peers,
                &owned,
                described_at_ms,
                *conclusive_after_ms,
            ) {
                Created::Unknown => Readiness::Waiting(None),
                known => Readiness::Created(known),
            }
        }
        Goal::Deleted {
            id,
            conclusive_after_ms,
        } => match settle_delete(id, peers, described_at_ms, *conclusive_after_ms) {
            Deleted::Unknown => Readiness::Waiting(find(id).map(|p| p.state.clone())),
            known => Readiness::Deleted(known),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AddressFamily, Asn};

    fn peer(id: &str, state: PeerState) -> ObservedPeer {
        ObservedPeer {
            bgp_peer_id: Some(id.into()),
            family: AddressFamily::Ipv6,
            asn: Asn::new(64600).unwrap(),
            auth_key: None,
            amazon_address: None,
            customer_address: None,
            state,
            bgp_status: crate::model::BgpStatus::Unknown,
        }
    }

    fn available(state: Option<PeerState>, at: u64) -> Readiness {
        let peers: Vec<ObservedPeer> = state.map(|s| peer("dxpeer-1", s)).into_iter().collect();
        let goal = Goal::Available {
            id: "dxpeer-1".into(),
            visible_by_ms: 1_000,
        };
        readiness(&goal, Some(&peers), at)
    }

    #[test]
    fn creation_states() {
        assert!(matches!(
            available(Some(PeerState::Available), 0),
            Readiness::Ready(Some(_))
        ));
        for s in [PeerState::Pending, PeerState::Verifying] {
            assert_eq!(available(Some(s.clone()), 0), Readiness::Waiting(Some(s)));
        }
        for s in [PeerState::Deleted, PeerState::Deleting] {
            assert!(matches!(available(Some(s), 0), Readiness::Failed(_)));
        }
    }

    #[test]
    fn bgp_up_waits_for_an_available_peer_with_its_session_up_until_the_time_allowed() {
        let goal = Goal::BgpUp {
            id: "dxpeer-1".into(),
            visible_by_ms: 1_000,
            give_up_at_ms: 5_000,
        };
        let with = |state: PeerState, bgp: BgpStatus| {
            let mut p = peer("dxpeer-1", state);
            p.bgp_status = bgp;
            vec![p]
        };
        let up = with(PeerState::Available, BgpStatus::Up);
        assert!(matches!(
            readiness(&goal, Some(&up), 0),
            Readiness::Ready(Some(_))
        ));
        assert!(matches!(
            readiness(&goal, Some(&up), 9_000),
            Readiness::Ready(Some(_))
        ));
        let down = with(PeerState::Available, BgpStatus::Down);
        assert_eq!(
            readiness(&goal, Some(&down), 4_999),
            Readiness::Waiting(Some(PeerState::Available))
        );
        assert_eq!(
            readiness(&goal, Some(&down), 5_000),
            Readiness::Failed(Unreachable::BgpNotUp {
                bgp: BgpStatus::Down,
                state: PeerState::Available
            })
        );
        let gone = with(PeerState::Deleted, BgpStatus::Down);
        assert_eq!(
            readiness(&goal, Some(&gone), 0),
            Readiness::Failed(Unreachable::WentTo(PeerState::Deleted))
        );
        assert_eq!(readiness(&goal, Some(&[]), 999), Readiness::Waiting(None));
        assert_eq!(
            readiness(&goal, Some(&[]), 1_000),
            Readiness::Failed(Unreachable::Vanished)
        );
    }

    #[test]
    fn a_new_peer_may_be_missing_until_the_consistency_window_is_over() {
        assert_eq!(available(None, 999), Readiness::Waiting(None));
        assert!(matches!(available(None, 1_000), Readiness::Failed(_)));
    }

    #[test]
    fn a_peer_to_delete_is_deletable_when_available_and_needs_nothing_when_already_going() {
        let deletable = |state: Option<PeerState>, at: u64| {
            let peers: Vec<ObservedPeer> = state.map(|s| peer("dxpeer-1", s)).into_iter().collect();
            let goal = Goal::Deletable {
                id: "dxpeer-1".into(),
                visible_by_ms: 1_000,
            };
            readiness(&goal, Some(&peers), at)
        };
        assert!(matches!(
            deletable(Some(PeerState::Available), 0),
            Readiness::Ready(Some(_))
        ));
        for s in [PeerState::Deleting, PeerState::Deleted] {
            assert_eq!(deletable(Some(s), 0), Readiness::Ready(None));
        }
        assert_eq!(deletable(None, 999), Readiness::Waiting(None));
        assert_eq!(deletable(None, 1_000), Readiness::Ready(None));
        assert_eq!(
            deletable(Some(PeerState::Pending), 0),
            Readiness::Waiting(Some(PeerState::Pending))
        );
    }

    #[test]
    fn a_vif_is_quiet_when_no_peer_is_pending_or_deleting() {
        let quiet = |states: &[PeerState]| {
            let peers: Vec<ObservedPeer> =
                states.iter().map(|s| peer("dxpeer-1", s.clone())).collect();
            readiness(&Goal::Quiet, Some(&peers), 0)
        };
        assert_eq!(
            quiet(&[PeerState::Available, PeerState::Deleted]),
            Readiness::Ready(None)
        );
        assert_eq!(
            quiet(&[PeerState::Available, PeerState::Pending]),
            Readiness::Waiting(Some(PeerState::Pending))
        );
        assert_eq!(
            quiet(&[PeerState::Deleting]),
            Readiness::Waiting(Some(PeerState::Deleting))
        );
    }

    #[test]
    fn deletion_states() {
        let gone = |state: Option<PeerState>| {
            let peers: Vec<ObservedPeer> = state.map(|s| peer("dxpeer-1", s)).into_iter().collect();
            readiness(
                &Goal::Gone {
                    id: "dxpeer-1".into(),
                },
                Some(&peers),
                0,
            )
        };
        assert!(matches!(
            gone(Some(PeerState::Deleted)),
            Readiness::Ready(_)
        ));
        assert_eq!(gone(None), Readiness::Ready(None));
        assert_eq!(
            gone(Some(PeerState::Deleting)),
            Readiness::Waiting(Some(PeerState::Deleting))
        );
        assert_eq!(
            gone(Some(PeerState::Available)),
            Readiness::Waiting(Some(PeerState::Available)),
            "a stale view may still show it"
        );
    }

    #[test]
    fn a_lost_create_is_waited_on_until_it_shows_or_a_late_describe_says_it_did_not_happen() {
        let goal = Goal::Created {
            creation: Creation {
                address_family: AddressFamily::Ipv6,
                asn: Asn::new(64600).unwrap(),
                amazon_address: None,
                customer_address: None,
                known_peer_ids: vec!["dxpeer-old".into()],
                deposes: None,
            },
            owned: BTreeSet::new(),
            conclusive_after_ms: 5_000,
        };
        let old = vec![peer("dxpeer-old", PeerState::Available)];
        assert_eq!(
            readiness(&goal, Some(&old), 4_999),
            Readiness::Waiting(None)
        );
        assert_eq!(
            readiness(&goal, Some(&old), 5_000),
            Readiness::Created(Created::NotMade)
        );
        let both = vec![old[0].clone(), peer("dxpeer-new", PeerState::Pending)];
        assert!(matches!(
            readiness(&goal, Some(&both), 0),
            Readiness::Created(Created::Made(p)) if p.bgp_peer_id.as_deref() == Some("dxpeer-new")
        ));
    }
}
