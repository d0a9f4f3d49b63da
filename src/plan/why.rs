//! Why the planner acts or refuses, as data: a change's [`Reason`] and a refusal's [`Rule`], rendered in one place.

use serde::Serialize;

use super::{Action, Forgotten};
use crate::model::ObservedPeer;

/// A peer attribute whose change forces a replacement (BGP peers cannot be updated in place).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Attribute {
    AddressFamily,
    Asn,
    AmazonAddress,
    CustomerAddress,
    AuthKey,
}

impl Attribute {
    /// The attribute's name in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Attribute::AddressFamily => "address_family",
            Attribute::Asn => "asn",
            Attribute::AmazonAddress => "amazon_address",
            Attribute::CustomerAddress => "customer_address",
            Attribute::AuthKey => "auth_key",
        }
    }
}

/// Why a change exists. The text is [`Reason::describe`]d with the change's action, which holds the peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// An owned peer exists and matches its spec.
    Matches,
    /// An owned peer matches and is still provisioning.
    Provisioning,
    /// An owned peer differs from its spec on attributes that force replacement.
    Changed,
    /// No live peer matches the spec. `lost` is dxctl's earlier peer for the address, which no longer exists.
    NoMatch { lost: Option<String> },
    /// An unmanaged peer matches the spec except for its auth key.
    UnmanagedKeyDiffers { lost: Option<String> },
    /// An unmanaged, available peer matches the spec.
    Adoptable { lost: Option<String> },
    /// An unmanaged peer matches the spec and is still provisioning.
    AdoptableWhenReady { lost: Option<String> },
    /// An owned peer's block left the configuration.
    RemovedFromConfig,
    /// An owned peer's whole virtual_interface block left the configuration.
    VifRemovedFromConfig,
    /// An owned peer no longer exists in AWS.
    Vanished,
    /// A deposed peer, left behind by an interrupted replacement, still exists.
    LeftByReplacement,
    /// A deposed peer is already deleted (`listed`) or no longer listed at all.
    DeposedGone { listed: bool },
}

impl Reason {
    /// The reason in words, as plans show it.
    pub fn describe(&self, action: &Action) -> String {
        let lost = |lost: &Option<String>| {
            lost.as_ref()
                .map(|id| format!("dxctl's peer {id} no longer exists; "))
                .unwrap_or_default()
        };
        let live = action.live();
        let id = live.map_or("?", ObservedPeer::id);
        let state = live.map_or("", |p| p.state.as_str());
        match self {
            Reason::Matches => "exists and matches".into(),
            Reason::Provisioning => format!("exists and is {state}; apply waits for it"),
            Reason::Changed => format!(
                "{} changed, and BGP peers cannot be updated in place",
                action
                    .forces()
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Reason::NoMatch { lost: l } => {
                format!("{}no live peer on the virtual interface matches", lost(l))
            }
            Reason::UnmanagedKeyDiffers { lost: l } => format!(
                "{}unmanaged peer {id} matches but its auth key differs",
                lost(l)
            ),
            Reason::Adoptable { lost: l } => format!(
                "{}peer {id} already exists and matches; it becomes managed without any API call",
                lost(l)
            ),
            Reason::AdoptableWhenReady { lost: l } => format!(
                "{}peer {id} exists and is {state}; apply waits for it and adopts it",
                lost(l)
            ),
            Reason::RemovedFromConfig => "removed from the configuration".into(),
            Reason::VifRemovedFromConfig => {
                "its virtual_interface block was removed from the configuration".into()
            }
            Reason::Vanished => {
                let id = match action {
                    Action::Forget {
                        forgotten: Forgotten::Owned { bgp_peer_id },
                    } => bgp_peer_id.as_str(),
                    _ => id,
                };
                format!("peer {id} no longer exists in AWS")
            }
            Reason::LeftByReplacement => "left behind by an interrupted replacement".into(),
            Reason::DeposedGone { listed } => format!(
                "deposed peer {id} is already {}",
                if *listed { state } else { "gone" }
            ),
        }
    }
}

/// The rule a refused change breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// The declared VIF does not exist in its region.
    VifNotFound,
    /// The declared VIF is deleted, deleting or rejected.
    VifUnusable,
    /// Several unmanaged peers match one declared peer.
    AmbiguousMatch,
    /// The state names a declared peer as deposed.
    StateConflict,
    /// A second peer in one family without logical redundancy.
    FamilyExclusive,
    /// Deleting the VIF's last peer.
    LastPeer,
    /// A replacement no order of steps allows.
    ReplaceImpossible,
    /// An earlier call whose outcome cannot be told apart.
    AmbiguousIntent,
    /// A `moved` block whose target is already managed, or one of several moving the same peer.
    MovedConflict,
    /// A `moved` block that would take a peer to another VIF.
    MovedAcrossVifs,
}

impl Rule {
    /// The rule's name, as refusals show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::VifNotFound => "vif-not-found",
            Rule::VifUnusable => "vif-unusable",
            Rule::AmbiguousMatch => "ambiguous-match",
            Rule::StateConflict => "state-conflict",
            Rule::FamilyExclusive => "family-exclusive",
            Rule::LastPeer => "last-peer",
            Rule::ReplaceImpossible => "replace-impossible",
            Rule::AmbiguousIntent => "ambiguous-intent",
            Rule::MovedConflict => "moved-conflict",
            Rule::MovedAcrossVifs => "moved-across-vifs",
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
