//! Write-ahead intents: before dxctl sends a call that has no idempotency token (CreateBGPPeer, DeleteBGPPeer), the
//! state records what it is about to do, so a lost answer or a kill always leaves evidence to settle it by.

use serde::{Deserialize, Serialize};

use crate::model::{AddressFamily, Asn, ObservedPeer, PeerAddress, VifId};

/// A call that was sent (or was about to be) and whose outcome the state does not yet reflect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intent {
    /// The peer address the call is for; at most one intent per address.
    pub address: PeerAddress,
    pub virtual_interface_id: VifId,
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    pub call: Call,
    /// When the call was sent, in milliseconds since the Unix epoch.
    pub sent_at_ms: u64,
    /// A DescribeVirtualInterfaces that starts at or after this moment shows the call's effect if it had one: the
    /// latest the call can have ended (sent + call timeout) plus the settle window for eventual consistency.
    pub conclusive_after_ms: u64,
}

/// The call an intent is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "operation", deny_unknown_fields)]
pub enum Call {
    CreateBGPPeer(Creation),
    DeleteBGPPeer { bgp_peer_id: String },
}

/// What a CreateBGPPeer asked for, and how to tell the peer it made from the ones that were there before.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Creation {
    pub address_family: AddressFamily,
    pub asn: Asn,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amazon_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_address: Option<String>,
    /// Every peer id on the VIF when the call was sent: the new peer is not among them.
    pub known_peer_ids: Vec<String>,
    /// The peer this one replaces (create before destroy); it becomes deposed once the new one is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deposes: Option<String>,
}

impl Creation {
    /// Whether `peer` can be the one this call created: not there before, and the same family, ASN and
    /// (where the call gave them) addresses. Its state does not matter here.
    pub fn made(&self, peer: &ObservedPeer) -> bool {
        let same = |wanted: &Option<String>, seen: &Option<String>| {
            wanted
                .as_ref()
                .is_none_or(|w| seen.as_ref().is_some_and(|s| s.eq_ignore_ascii_case(w)))
        };
        peer.bgp_peer_id
            .as_ref()
            .is_some_and(|id| !self.known_peer_ids.contains(id))
            && peer.family == self.address_family
            && peer.asn == self.asn
            && same(&self.amazon_address, &peer.amazon_address)
            && same(&self.customer_address, &peer.customer_address)
    }
}

impl Intent {
    /// What the intent says in one line, for plans and `state list`.
    pub fn describe(&self) -> String {
        match &self.call {
            Call::CreateBGPPeer(c) => format!(
                "CreateBGPPeer ({} ASN {}) on {}",
                c.address_family, c.asn, self.virtual_interface_id
            ),
            Call::DeleteBGPPeer { bgp_peer_id } => format!(
                "DeleteBGPPeer {bgp_peer_id} on {}",
                self.virtual_interface_id
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PeerState;

    fn creation() -> Creation {
        Creation {
            address_family: AddressFamily::Ipv4,
            asn: Asn::new(65001).unwrap(),
            amazon_address: None,
            customer_address: Some("169.254.1.2/30".into()),
            known_peer_ids: vec!["dxpeer-old".into()],
            deposes: None,
        }
    }

    fn peer(id: &str, asn: u64, customer: &str) -> ObservedPeer {
        ObservedPeer {
            bgp_peer_id: Some(id.into()),
            family: AddressFamily::Ipv4,
            asn: Asn::new(asn).unwrap(),
            auth_key: None,
            amazon_address: Some("169.254.1.1/30".into()),
            customer_address: Some(customer.into()),
            state: PeerState::Pending,
            bgp_status: crate::model::BgpStatus::Unknown,
        }
    }

    #[test]
    fn a_made_peer_is_new_and_matches_what_was_asked() {
        let c = creation();
        assert!(c.made(&peer("dxpeer-new", 65001, "169.254.1.2/30")));
        assert!(
            !c.made(&peer("dxpeer-old", 65001, "169.254.1.2/30")),
            "there before"
        );
        assert!(
            !c.made(&peer("dxpeer-new", 65002, "169.254.1.2/30")),
            "other ASN"
        );
        assert!(
            !c.made(&peer("dxpeer-new", 65001, "169.254.9.2/30")),
            "other address"
        );
    }

    #[test]
    fn intents_round_trip_and_refuse_unknown_fields() {
        let intent = Intent {
            address: PeerAddress("virtual_interface.dxvif-a.bgp_peer.v4".into()),
            virtual_interface_id: VifId("dxvif-a".into()),
            region: "us-east-1".into(),
            profile: None,
            call: Call::CreateBGPPeer(creation()),
            sent_at_ms: 1,
            conclusive_after_ms: 2,
        };
        let text = serde_json::to_string(&intent).unwrap();
        assert!(text.contains("\"operation\":\"CreateBGPPeer\""), "{text}");
        assert_eq!(serde_json::from_str::<Intent>(&text).unwrap(), intent);
        let tampered = text.replace("\"sent_at_ms\"", "\"extra\":1,\"sent_at_ms\"");
        assert!(serde_json::from_str::<Intent>(&tampered).is_err());
    }
}
