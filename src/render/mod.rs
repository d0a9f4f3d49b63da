//! Renders plans for people, in Terraform's vocabulary; secrets always appear as `(sensitive)`.

use std::fmt::Write;

use crate::plan::{ActionKind, Plan};

/// The human view of a plan, ending with Terraform's summary line.
pub fn human(plan: &Plan) -> String {
    let mut out = String::new();
    let creates: Vec<_> = plan.creates().collect();
    let waits: Vec<_> = plan
        .actions
        .iter()
        .filter(|a| matches!(a.kind, ActionKind::Wait { .. }))
        .collect();
    if !creates.is_empty() {
        out.push_str("dxctl will perform the following actions:\n");
        for a in &creates {
            let s = &a.spec;
            let known_later = "(known after apply)".to_string();
            let quoted =
                |v: &Option<String>| v.as_ref().map_or(known_later.clone(), |v| format!("{v:?}"));
            let fields = [
                ("address_family", format!("{:?}", s.family.as_str())),
                ("amazon_address", quoted(&s.amazon_address)),
                ("asn", s.asn.to_string()),
                ("auth_key", "(sensitive)".to_string()),
                ("bgp_peer_id", known_later.clone()),
                ("customer_address", quoted(&s.customer_address)),
                ("virtual_interface_id", format!("{:?}", a.vif.0)),
            ];
            let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            let _ = writeln!(out, "\n  # {} will be created", a.address);
            let _ = writeln!(out, "  # ({}; region {})", a.reason, a.scope);
            let _ = writeln!(out, "  + bgp_peer {:?} {{", s.label);
            for (k, v) in fields {
                let _ = writeln!(out, "      + {k:<width$} = {v}");
            }
            out.push_str("    }\n");
        }
        out.push('\n');
    }
    if !waits.is_empty() {
        out.push_str(
            "Still being provisioned; apply waits for these and creates nothing for them:\n",
        );
        for a in &waits {
            if let ActionKind::Wait { bgp_peer_id, state } = &a.kind {
                let _ = writeln!(
                    out,
                    "  ~ {} [id={}] is {state}",
                    a.address,
                    bgp_peer_id.as_deref().unwrap_or("?")
                );
            }
        }
        out.push('\n');
    }
    if creates.is_empty() && waits.is_empty() {
        out.push_str("No changes. Your infrastructure matches the configuration.\n");
    } else {
        let _ = writeln!(
            out,
            "Plan: {} to add, 0 to change, 0 to destroy.",
            creates.len()
        );
    }
    out
}

/// Refusals as located errors, one per line.
pub fn refusals(plan: &Plan) -> String {
    let mut out = String::new();
    for r in &plan.refusals {
        let _ = writeln!(
            out,
            "{}: error[{}]: {}: {}",
            r.location, r.rule, r.address, r.message
        );
    }
    out
}
