//! The machine view: a versioned JSON schema (documented in the README). Sensitive values are left out and named.

use serde_json::{json, Map, Value};

use crate::config::Diagnostics;
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

/// Config errors as a JSON document, for `plan --json`: `format_version` and `errors[]`, each with `file`, `line`
/// and `column` (null for a mistake on the command line or a file that cannot be read), `rule`, `message` and `hint` (null when there is none).
pub fn config_errors(diagnostics: &Diagnostics) -> Value {
    let errors: Vec<Value> = diagnostics
        .items
        .iter()
        .map(|d| {
            let located = !d.is_command_line() && d.location.line > 0;
            json!({
                "file": d.location.file,
                "line": located.then_some(d.location.line),
                "column": located.then_some(d.location.column),
                "rule": d.rule,
                "message": d.message,
                "hint": d.hint,
            })
        })
        .collect();
    json!({
        "format_version": JSON_FORMAT_VERSION,
        "errors": errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Diagnostic;
    use crate::model::Location;

    #[test]
    fn config_errors_carry_location_rule_message_and_hint() {
        let located = Diagnostic::new(
            Location {
                file: "cfg/main.hcl".into(),
                line: 2,
                column: 12,
            },
            "region-empty",
            "`region` is empty",
        )
        .with_hint("name an AWS region");
        let flag = Diagnostic::on_command_line(
            "undeclared-variable",
            "--var x=…: no variable `x` is declared",
        );
        let doc = config_errors(&Diagnostics {
            items: vec![located, flag],
            sources: vec![],
        });
        assert_eq!(
            doc,
            json!({
                "format_version": JSON_FORMAT_VERSION,
                "errors": [
                    {"file": "cfg/main.hcl", "line": 2, "column": 12, "rule": "region-empty",
                     "message": "`region` is empty", "hint": "name an AWS region"},
                    {"file": "(command line)", "line": null, "column": null, "rule": "undeclared-variable",
                     "message": "--var x=…: no variable `x` is declared", "hint": null},
                ]
            })
        );
    }
}
