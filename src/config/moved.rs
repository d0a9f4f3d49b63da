//! `moved { from = ..., to = ... }` blocks: a managed peer's old and new address, so a rename the planner cannot
//! work out alone (several peers alike) keeps the peer instead of deleting and creating it.

use hcl_edit::structure::Block;
use hcl_edit::Span as _;

use super::{attributes, Diagnostic, SourceFile};
use crate::model::{MovedBlock, PeerAddress};
use crate::plan::moves::is_peer_address;

const MOVED_ATTRIBUTES: &[&str] = &["from", "to"];

/// The block's move, or `None` after a located diagnostic. An address is written bare
/// (`virtual_interface.dxvif-fg1vuj3d.bgp_peer.v6`) or as a plain string.
pub(super) fn moved_block(
    src: &SourceFile,
    block: &Block,
    diags: &mut Vec<Diagnostic>,
) -> Option<MovedBlock> {
    if !block.labels.is_empty() {
        diags.push(Diagnostic::at(
            src,
            block.span(),
            "moved-label",
            "a moved block takes no label: `moved { from = ..., to = ... }`",
        ));
        return None;
    }
    let attrs = attributes(src, &block.body, MOVED_ATTRIBUTES, diags);
    let mut address = |key: &str| {
        let Some(attr) = attrs.get(key) else {
            diags.push(Diagnostic::at(
                src,
                block.span(),
                "moved-missing",
                format!("a moved block needs `{key}`"),
            ));
            return None;
        };
        let span = attr.value.span();
        let raw = span
            .clone()
            .and_then(|s| src.text.get(s))
            .unwrap_or_default()
            .trim();
        let text = raw
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .unwrap_or(raw);
        if !is_peer_address(text) || text.contains(['"', '$', '{', ' ']) {
            diags.push(
                Diagnostic::at(
                    src,
                    span,
                    "moved-address",
                    format!("`{key}` must be a peer address"),
                )
                .with_hint("write virtual_interface.<vif id>.bgp_peer.<label>, e.g. virtual_interface.dxvif-fg1vuj3d.bgp_peer.v6"),
            );
            return None;
        }
        Some(PeerAddress(text.to_string()))
    };
    let (from, to) = (address("from"), address("to"));
    let (from, to) = (from?, to?);
    if from == to {
        diags.push(Diagnostic::at(
            src,
            block.span(),
            "moved-same",
            format!("a moved block moves {from} to itself"),
        ));
        return None;
    }
    Some(MovedBlock {
        from,
        to,
        location: src.span_location(block.span()),
    })
}
