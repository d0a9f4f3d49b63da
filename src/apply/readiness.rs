//! Pure readiness predicates: what a described peer's state means for an apply that waits on it.

use crate::model::{ObservedPeer, PeerState};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// `available`: done.
    Ready,
    /// Still provisioning (`pending`, `verifying`, or a state we do not know yet).
    Waiting(PeerState),
    /// It will never become available.
    Failed(String),
}

/// Readiness of a peer being created, given what the latest describe showed (`None`: not in the VIF any more).
pub fn creation(peer: Option<&ObservedPeer>) -> Readiness {
    match peer {
        None => Readiness::Failed("the peer vanished from its virtual interface".into()),
        Some(p) => match &p.state {
            PeerState::Available => Readiness::Ready,
            PeerState::Deleting | PeerState::Deleted => {
                Readiness::Failed(format!("the peer went to {} instead of available", p.state))
            }
            other => Readiness::Waiting(other.clone()),
        },
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
    fn states_map_to_readiness() {
        assert_eq!(
            creation(Some(&peer(PeerState::Available))),
            Readiness::Ready
        );
        assert_eq!(
            creation(Some(&peer(PeerState::Pending))),
            Readiness::Waiting(PeerState::Pending)
        );
        assert_eq!(
            creation(Some(&peer(PeerState::Verifying))),
            Readiness::Waiting(PeerState::Verifying)
        );
        assert!(matches!(
            creation(Some(&peer(PeerState::Deleted))),
            Readiness::Failed(_)
        ));
        assert!(matches!(
            creation(Some(&peer(PeerState::Deleting))),
            Readiness::Failed(_)
        ));
        assert!(matches!(creation(None), Readiness::Failed(_)));
    }
}
