//! The machine view: a versioned JSON schema (documented in the README). Sensitive values are left out and named.

use serde_json::{json, Map, Value};

use crate::model::{ObservedPeer, PeerSpec};
use crate::plan::Plan;

/// Bumped on any incompatible change to the schema.
pub const JSON_FORMAT_VERSION: &str = "1.0";

fn before(peer: &ObservedPeer) -> Value {
    json!({
        "bgp_peer_id": peer.bgp_peer_id,
        "address_family": peer.family.as_str(),
        "asn": peer.asn.get(),
        "amazon_address": peer.amazon_address,
        "customer_address": peer.customer_address,
        "state": peer.state.as_str(),
    })
}

fn after(spec: &PeerSpec) -> Value {
    let mut m = Map::new();
    m.insert("address_family".into(), json!(spec.family.as_str()));
    if !spec.sensitive.contains("asn") {
        m.insert("asn".into(), json!(spec.asn.get()));
    }
    for (field, value) in [
        ("amazon_address", &spec.amazon_address),
        ("customer_address", &spec.customer_address),
    ] {
        if !spec.sensitive.contains(field) {
            m.insert(field.into(), json!(value));
        }
    }
    Value::Object(m)
}

/// The plan as JSON: `format_version`, then every change with its address, actions, before, after, reason and
/// sensitive fields, then unmanaged peers, warnings, refusals and the summary.
pub fn json(plan: &Plan) -> Value {
    let changes: Vec<Value> = plan
        .changes
        .iter()
        .map(|c| {
            let mut sensitive: Vec<&str> = c
                .action
                .desired()
                .map(|d| d.sensitive.iter().copied().collect())
                .unwrap_or_default();
            if !sensitive.contains(&"auth_key") {
                sensitive.push("auth_key");
            }
            json!({
                "address": c.address.0,
                "virtual_interface_id": c.vif.0,
                "region": c.scope.region,
                "profile": c.scope.profile,
                "actions": c.action.names(),
                "state": c.action.waiting_on().map(|s| s.as_str()),
                "deposed": c.action.deposed(),
                "step": c.step,
                "reason": c.reason_text(),
                "forces_replacement": c.action.forces(),
                "before": c.action.live().map(before),
                "after": c.action.desired().map(after),
                "sensitive": sensitive,
            })
        })
        .collect();
    json!({
        "format_version": JSON_FORMAT_VERSION,
        "changes": changes,
        "unmanaged": plan.unmanaged.iter().map(|u| json!({
            "virtual_interface_id": u.vif.0,
            "peer": before(&u.peer),
        })).collect::<Vec<_>>(),
        "settled_calls": plan.settlements.iter().map(|st| json!({
            "address": st.address.0,
            "call": st.call,
            "settled": st.settles(),
            "outcome": st.outcome,
            "description": st.describe(),
        })).collect::<Vec<_>>(),
        "moves": plan.moves,
        "warnings": plan.warnings,
        "refusals": plan.refusals.iter().map(|r| json!({
            "address": r.address,
            "rule": r.rule,
            "message": r.message,
            "location": r.location.to_string(),
        })).collect::<Vec<_>>(),
        "summary": plan.summary(),
    })
}
