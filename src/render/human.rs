//! The human view: Terraform's `+`, `-`, `-/+` and summary line, attribute diffs by `similar`, colour on a terminal only.

use std::fmt::Write;

use anstyle::{AnsiColor, Style};
use similar::{ChangeTag, TextDiff};

use super::{desired_attributes, observed_attributes};
use crate::model::{ObservedPeer, PeerSpec};
use crate::plan::moves::MoveWhy;
use crate::plan::{Action, Attribute, Change, Incarnation, Order, Plan};

struct Paint {
    color: bool,
}

impl Paint {
    fn paint(&self, color: AnsiColor, text: &str) -> String {
        if !self.color {
            return text.to_string();
        }
        let style = Style::new().fg_color(Some(color.into()));
        format!("{style}{text}{style:#}")
    }
    fn bold(&self, text: &str) -> String {
        if !self.color {
            return text.to_string();
        }
        let style = Style::new().bold();
        format!("{style}{text}{style:#}")
    }
}

fn label(c: &Change) -> String {
    c.address
        .0
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_string()
}

fn block(
    out: &mut String,
    p: &Paint,
    sign: &str,
    color: AnsiColor,
    c: &Change,
    attrs: &mut [(&str, String)],
) {
    attrs.sort_by_key(|(k, _)| *k);
    let width = attrs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let _ = writeln!(out, "  {} bgp_peer {:?} {{", p.paint(color, sign), label(c));
    for (k, v) in attrs {
        let _ = writeln!(out, "      {} {k:<width$} = {v}", p.paint(color, sign));
    }
    out.push_str("    }\n");
}

/// The attribute diff of a replacement, line by line with `similar`.
fn replacement(
    out: &mut String,
    p: &Paint,
    c: &Change,
    old: &ObservedPeer,
    new: &PeerSpec,
    forces: &[Attribute],
) {
    let width = "customer_address".len();
    let line = |(k, v): &(&str, String), forced: bool| {
        let note = if forced { " # forces replacement" } else { "" };
        format!("{k:<width$} = {v}{note}\n")
    };
    // Addresses the config leaves to AWS are assigned anew: "(known after apply)".
    let after = desired_attributes(new);
    let before: String = observed_attributes(old)
        .iter()
        .map(|a| line(a, false))
        .collect();
    let after: String = after
        .iter()
        .map(|a| line(a, forces.iter().any(|f| f.as_str() == a.0)))
        .collect();
    let _ = writeln!(
        out,
        "{} bgp_peer {:?} {{",
        p.paint(AnsiColor::Yellow, "-/+"),
        label(c)
    );
    for change in TextDiff::from_lines(&before, &after).iter_all_changes() {
        let text = change.value().trim_end();
        match change.tag() {
            ChangeTag::Equal => {
                let _ = writeln!(out, "        {text}");
            }
            ChangeTag::Delete => {
                let _ = writeln!(out, "      {} {text}", p.paint(AnsiColor::Red, "-"));
            }
            ChangeTag::Insert => {
                let _ = writeln!(out, "      {} {text}", p.paint(AnsiColor::Green, "+"));
            }
        }
    }
    let _ = writeln!(
        out,
        "      {} {:<width$} = {:?} -> (known after apply)",
        p.paint(AnsiColor::Yellow, "~"),
        "bgp_peer_id",
        old.bgp_peer_id.as_deref().unwrap_or("?")
    );
    out.push_str("    }\n");
}

/// The human view of a plan, ending with Terraform's summary line.
pub fn human(plan: &Plan, color: bool) -> String {
    let p = Paint { color };
    let mut out = String::new();
    // What each shown change will do, and the order of a replacement; no-ops and waits are listed apart.
    let heading = |c: &Change| -> Option<(&str, &str)> {
        match &c.action {
            Action::Create { .. } => Some(("will be created", "")),
            Action::Delete {
                incarnation: Incarnation::Deposed,
                ..
            } => Some((
                "(deposed by an interrupted replacement) will be destroyed",
                "",
            )),
            Action::Delete { .. } => Some(("will be destroyed", "")),
            Action::Replace { order, .. } => Some((
                "must be replaced",
                match order {
                    Order::CreateBeforeDestroy => " (create before destroy)",
                    Order::DestroyBeforeCreate => " (destroy before create)",
                },
            )),
            Action::Adopt { .. } => Some(("will be adopted", "")),
            Action::Forget { .. } => Some(("will be forgotten", "")),
            Action::NoOp { .. } | Action::Wait { .. } => None,
        }
    };
    let shown: Vec<(&Change, (&str, &str))> = plan
        .changes
        .iter()
        .filter_map(|c| heading(c).map(|h| (c, h)))
        .collect();
    if !shown.is_empty() || !plan.moves.is_empty() {
        out.push_str("dxctl will perform the following actions:\n");
    }
    for m in &plan.moves {
        out.push('\n');
        let _ = writeln!(
            out,
            "  # {} has moved to {}",
            p.bold(&m.from.0),
            p.bold(&m.to.0)
        );
        let why = match &m.why {
            MoveWhy::Block { location } => format!("the moved block at {location}"),
            MoveWhy::Renamed => {
                "its block was renamed, and the peer matches only the new one".into()
            }
        };
        let _ = writeln!(
            out,
            "  # ({why}; peer {} is kept, with no API call)",
            m.bgp_peer_id
        );
        let _ = writeln!(
            out,
            "  {} {} => {}",
            p.paint(AnsiColor::Cyan, ">"),
            m.from,
            m.to
        );
    }
    if shown.is_empty() && !plan.moves.is_empty() {
        out.push('\n');
    }
    for (c, (what, order)) in &shown {
        out.push('\n');
        let _ = writeln!(out, "  # {} {what}{order}", p.bold(&c.address.0));
        let _ = writeln!(out, "  # ({}; {} in {})", c.reason_text(), c.vif, c.scope);
        match &c.action {
            Action::Create { desired } => {
                let mut attrs = desired_attributes(desired);
                attrs.push(("bgp_peer_id", "(known after apply)".into()));
                attrs.push(("virtual_interface_id", format!("{:?}", c.vif.0)));
                block(&mut out, &p, "+", AnsiColor::Green, c, &mut attrs);
            }
            Action::Delete { live, .. } => {
                let mut attrs = observed_attributes(live);
                attrs.push(("bgp_peer_id", format!("{:?}", live.id())));
                block(&mut out, &p, "-", AnsiColor::Red, c, &mut attrs);
            }
            Action::Replace {
                desired,
                live,
                forces,
                ..
            } => replacement(&mut out, &p, c, live, desired, forces),
            Action::Adopt { live, .. } => {
                let _ = writeln!(
                    out,
                    "  {} bgp_peer {:?} {{ bgp_peer_id = {:?} }}",
                    p.paint(AnsiColor::Cyan, "<="),
                    label(c),
                    live.id()
                );
            }
            Action::Forget { .. } | Action::NoOp { .. } | Action::Wait { .. } => {}
        }
    }
    if !shown.is_empty() {
        out.push('\n');
    }
    let waits: Vec<(&Change, &ObservedPeer)> = plan
        .changes
        .iter()
        .filter_map(|c| match &c.action {
            Action::Wait { live, .. } => Some((c, live)),
            _ => None,
        })
        .collect();
    if !waits.is_empty() {
        out.push_str(
            "Still being provisioned; apply waits for these and creates nothing for them:\n",
        );
        for (c, live) in waits {
            let _ = writeln!(
                out,
                "  ~ {} [id={}] is {}",
                c.address,
                live.id(),
                live.state
            );
        }
        out.push('\n');
    }
    if !plan.settlements.is_empty() {
        out.push_str("Calls of an earlier apply whose answers were lost (recorded in the state before they were sent):\n");
        for st in &plan.settlements {
            let _ = writeln!(
                out,
                "  {} {}: {}: {}",
                p.paint(AnsiColor::Magenta, "!"),
                st.address,
                st.call,
                st.describe()
            );
        }
        out.push('\n');
    }
    if !plan.unmanaged.is_empty() {
        out.push_str("Unmanaged peers (neither declared nor owned; dxctl never touches them):\n");
        for u in &plan.unmanaged {
            let _ = writeln!(
                out,
                "  {} {} [id={}] {} ASN {} {}",
                p.paint(AnsiColor::Blue, "?"),
                u.vif,
                u.peer.bgp_peer_id.as_deref().unwrap_or("?"),
                u.peer.family,
                u.peer.asn,
                u.peer.customer_address.as_deref().unwrap_or("")
            );
        }
        out.push('\n');
    }
    for w in &plan.warnings {
        let _ = writeln!(
            out,
            "{}: {}: {}",
            p.paint(AnsiColor::Yellow, "Warning"),
            w.address,
            w.message
        );
    }
    if !plan.warnings.is_empty() {
        out.push('\n');
    }
    let s = plan.summary();
    if !plan.has_changes() {
        out.push_str("No changes. Your infrastructure matches the configuration.\n");
    } else if s == Default::default() {
        let _ = writeln!(
            out,
            "{}",
            p.bold("Plan: only the state is updated (settled calls above).")
        );
    } else {
        let mut line = String::from("Plan: ");
        if s.adopt > 0 {
            let _ = write!(line, "{} to adopt, ", s.adopt);
        }
        let _ = write!(
            line,
            "{} to add, {} to change, {} to destroy.",
            s.add, s.change, s.destroy
        );
        if s.forget > 0 {
            let _ = write!(line, " {} to forget.", s.forget);
        }
        if s.moves > 0 {
            let _ = write!(line, " {} to move.", s.moves);
        }
        let _ = writeln!(out, "{}", p.bold(&line));
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
