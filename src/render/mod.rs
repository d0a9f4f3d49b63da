//! Renders plans for people (Terraform's vocabulary), machines (versioned JSON) and pull requests (markdown).
//! Secrets always appear as `(sensitive)`, or not at all.

mod human;
mod json;
mod markdown;
pub mod peers;
pub mod table;

pub use human::{human, refusals};
pub use json::{config_errors, json};
pub use markdown::markdown;

use crate::model::{ObservedPeer, PeerSpec};

/// The attributes of a peer as shown in plans, in a fixed order: (name, value), secrets masked.
pub(crate) fn desired_attributes(spec: &PeerSpec) -> Vec<(&'static str, String)> {
    let shown = |field: &'static str, value: Option<String>| {
        if spec.sensitive.contains(field) && value.is_some() {
            "(sensitive)".to_string()
        } else {
            value.map_or_else(|| "(known after apply)".to_string(), |v| format!("{v:?}"))
        }
    };
    vec![
        ("address_family", format!("{:?}", spec.family.as_str())),
        (
            "amazon_address",
            shown("amazon_address", spec.amazon_address.clone()),
        ),
        (
            "asn",
            if spec.sensitive.contains("asn") {
                "(sensitive)".into()
            } else {
                spec.asn.to_string()
            },
        ),
        ("auth_key", "(sensitive)".to_string()),
        (
            "customer_address",
            shown("customer_address", spec.customer_address.clone()),
        ),
    ]
}

pub(crate) fn observed_attributes(peer: &ObservedPeer) -> Vec<(&'static str, String)> {
    let quoted = |v: &Option<String>| {
        v.as_ref()
            .map_or_else(|| "null".to_string(), |v| format!("{v:?}"))
    };
    vec![
        ("address_family", format!("{:?}", peer.family.as_str())),
        ("amazon_address", quoted(&peer.amazon_address)),
        ("asn", peer.asn.to_string()),
        ("auth_key", "(sensitive)".to_string()),
        ("customer_address", quoted(&peer.customer_address)),
    ]
}
