//! A compact markdown view for pull-request comments.

use std::fmt::Write;

use crate::plan::{Kind, Plan};

pub fn markdown(plan: &Plan) -> String {
    let s = plan.summary();
    let mut out = format!(
        "### dxctl plan: {} to add, {} to change, {} to destroy{}\n\n",
        s.add,
        s.change,
        s.destroy,
        if s.adopt > 0 {
            format!(", {} to adopt", s.adopt)
        } else {
            String::new()
        }
    );
    let rows: Vec<_> = plan
        .changes
        .iter()
        .filter(|c| c.action.kind() != Kind::NoOp)
        .collect();
    if !plan.moves.is_empty() {
        out.push_str("**Moved** (a managed peer takes a new address; no API call)\n\n");
        for m in &plan.moves {
            let _ = writeln!(out, "- `{}` → `{}` (peer {})", m.from, m.to, m.bgp_peer_id);
        }
        out.push('\n');
    }
    if rows.is_empty() && plan.moves.is_empty() {
        out.push_str("No changes. Your infrastructure matches the configuration.\n");
    } else if !rows.is_empty() {
        out.push_str("| | Address | Action | Reason |\n|---|---|---|---|\n");
        for c in rows {
            let sign = match c.action.kind() {
                Kind::Create => "+",
                Kind::Delete => "-",
                Kind::Replace(_) => "-/+",
                Kind::Adopt => "<=",
                Kind::Wait => "~",
                Kind::Forget => "x",
                Kind::NoOp => "",
            };
            let reason = c.reason_text().replace('|', "\\|");
            let _ = writeln!(
                out,
                "| `{sign}` | `{}` | {} | {reason} |",
                c.address,
                c.action.names().join(", then ")
            );
        }
    }
    if !plan.settlements.is_empty() {
        out.push_str("\n**Calls of an earlier apply whose answers were lost**\n\n");
        for st in &plan.settlements {
            let _ = writeln!(out, "- `{}`: {}: {}", st.address, st.call, st.describe());
        }
    }
    if !plan.warnings.is_empty() {
        out.push_str("\n**Warnings**\n\n");
        for w in &plan.warnings {
            let _ = writeln!(out, "- `{}`: {}", w.address, w.message);
        }
    }
    if !plan.refusals.is_empty() {
        out.push_str("\n**Refused** (the plan cannot be applied)\n\n");
        for r in &plan.refusals {
            let _ = writeln!(
                out,
                "- `{}` at {}: `{}` {}",
                r.address, r.location, r.rule, r.message
            );
        }
    }
    out
}
