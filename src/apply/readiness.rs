//! Pure readiness predicates: what a described peer's state means for an apply that waits on it.

use crate::model::{ObservedPeer, PeerState};

/// What the apply is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Goal {
    /// A created (or adopted) peer becoming `available`.
    Available,
    /// A deleted peer becoming `deleted` or disappearing.
    Gone,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Not yet (`pending`, `verifying`, `deleting`, or a state we do not know).
    Waiting(PeerState),
    /// It will never get there.
    Failed(String),
}

/// Readiness of a peer given what the latest describe showed (`None`: no longer on its VIF).
pub fn readiness(goal: Goal, peer: Option<&ObservedPeer>) -> Readiness {
    match (goal, peer.map(|p| &p.state)) {
        (Goal::Available, None) => {
            Readiness::Failed("the peer vanished from its virtual interface".into())
        }
        (Goal::Available, Some(PeerState::Available)) => Readiness::Ready,
        (Goal::Available, Some(s @ (PeerState::Deleting | PeerState::Deleted))) => {
            Readiness::Failed(format!("the peer went to {s} instead of available"))
        }
        (Goal::Gone, None | Some(PeerState::Deleted)) => Readiness::Ready,
        (_, Some(other)) => Readiness::Waiting(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AddressFamily, Asn};

    fn peer(state: PeerState) -> ObservedPeer {
        ObservedPeer {
            bgp_peer_id: Some("dxpeer-1".into()),
            family: AddressFamily::Ipv6,
            asn: Asn::new(64600).unwrap(),
            auth_key: None,
            amazon_address: None,
            customer_address: None,
            state,
        }
    }

    #[test]
    fn creation_states() {
        let r = |s| readiness(Goal::Available, Some(&peer(s)));
        assert_eq!(r(PeerState::Available), Readiness::Ready);
        assert_eq!(
            r(PeerState::Pending),
            Readiness::Waiting(PeerState::Pending)
        );
        assert_eq!(
            r(PeerState::Verifying),
            Readiness::Waiting(PeerState::Verifying)
        );
        assert!(matches!(r(PeerState::Deleted), Readiness::Failed(_)));
        assert!(matches!(r(PeerState::Deleting), Readiness::Failed(_)));
        assert!(matches!(
            readiness(Goal::Available, None),
            Readiness::Failed(_)
        ));
    }

    #[test]
    fn deletion_states() {
        let r = |s| readiness(Goal::Gone, Some(&peer(s)));
        assert_eq!(r(PeerState::Deleted), Readiness::Ready);
        assert_eq!(readiness(Goal::Gone, None), Readiness::Ready);
        assert_eq!(
            r(PeerState::Deleting),
            Readiness::Waiting(PeerState::Deleting)
        );
        assert_eq!(
            r(PeerState::Available),
            Readiness::Waiting(PeerState::Available)
        );
    }
}
