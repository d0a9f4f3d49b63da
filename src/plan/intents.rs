//! Settling write-ahead intents from what AWS shows, purely: a create whose peer appears is adopted, a create shown
//! absent by a describe that started late enough did not happen, and anything else is not yet known.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::model::{Observed, ObservedPeer, PeerAddress, Scope};
use crate::state::{Call, Creation, Intent, PeerRecord, State};

/// What the describes say about one CreateBGPPeer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Created {
    /// It took: this is the peer it made.
    Made(ObservedPeer),
    /// It took, but the peer it made is already deleting or deleted.
    MadeThenGone(ObservedPeer),
    /// A describe that started after the call's effect must be visible does not show it: it did not happen.
    NotMade,
    /// Not yet known.
    Unknown,
    /// More than one live peer could be the one it made (same family and ASN, none there before): dxctl does not
    /// guess.
    Ambiguous(Vec<String>),
}

/// What the describes say about one DeleteBGPPeer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Deleted {
    /// It took: the peer is deleting, deleted or no longer listed.
    Took,
    /// A describe that started late enough still shows the peer live: it did not happen.
    DidNotTake,
    Unknown,
}

/// Settles a CreateBGPPeer from one describe of its VIF (`None`: the VIF is not listed) that started at
/// `described_at_ms`. Peers in `owned` belong to other addresses and are never taken for the new one.
pub fn settle_create(
    creation: &Creation,
    peers: Option<&[ObservedPeer]>,
    owned: &BTreeSet<&str>,
    described_at_ms: u64,
    conclusive_after_ms: u64,
) -> Created {
    let made: Vec<&ObservedPeer> = peers
        .unwrap_or_default()
        .iter()
        .filter(|p| creation.made(p))
        .filter(|p| {
            p.bgp_peer_id
                .as_deref()
                .is_none_or(|id| !owned.contains(id))
        })
        .collect();
    let (live, gone): (Vec<&ObservedPeer>, Vec<&ObservedPeer>) =
        made.into_iter().partition(|p| !p.state.is_gone());
    match (live.as_slice(), gone.first()) {
        ([one], _) => Created::Made((*one).clone()),
        ([], Some(dead)) => Created::MadeThenGone((*dead).clone()),
        ([], None) if described_at_ms >= conclusive_after_ms => Created::NotMade,
        ([], None) => Created::Unknown,
        (many, _) => {
            let mut ids: Vec<String> = many.iter().filter_map(|p| p.bgp_peer_id.clone()).collect();
            ids.sort();
            Created::Ambiguous(ids)
        }
    }
}

/// Settles a DeleteBGPPeer of `id` from one describe of its VIF that started at `described_at_ms`.
pub fn settle_delete(
    id: &str,
    peers: Option<&[ObservedPeer]>,
    described_at_ms: u64,
    conclusive_after_ms: u64,
) -> Deleted {
    let peer = peers
        .unwrap_or_default()
        .iter()
        .find(|p| p.bgp_peer_id.as_deref() == Some(id));
    match peer {
        None => Deleted::Took,
        Some(p) if p.state.is_gone() => Deleted::Took,
        Some(_) if described_at_ms >= conclusive_after_ms => Deleted::DidNotTake,
        Some(_) => Deleted::Unknown,
    }
}

/// How one intent was settled, for the plan to show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Settlement {
    pub address: PeerAddress,
    /// The call, e.g. "CreateBGPPeer (ipv4 ASN 65001) on dxvif-…".
    pub call: String,
    pub outcome: Outcome,
}

impl Settlement {
    /// Whether the intent is settled (and applying drops it from the state).
    pub fn settles(&self) -> bool {
        !matches!(
            self.outcome,
            Outcome::Unknown { .. } | Outcome::Ambiguous { .. }
        )
    }

    /// What was found, in words.
    pub fn describe(&self) -> String {
        match &self.outcome {
            Outcome::Adopted { bgp_peer_id, state } => format!(
                "it took effect: peer {bgp_peer_id} ({state}) is dxctl's and is recorded now"
            ),
            Outcome::CreatedThenGone { bgp_peer_id, state } => {
                format!("it took effect, but the peer it made ({bgp_peer_id}) is {state}")
            }
            Outcome::NotCreated => "it did not take effect".into(),
            Outcome::Deleted => "it took effect".into(),
            Outcome::NotDeleted => "it did not take effect".into(),
            Outcome::DeleteUnknown => {
                "its effect is not visible yet; deleting again is harmless".into()
            }
            Outcome::Ambiguous { candidates } => format!(
                "it may have made any of {}: each is new and has the family and ASN asked for, and dxctl does not \
                 guess; delete the peer that is not the one wanted (or give customer_address), and the next plan \
                 adopts the one left",
                candidates.join(", ")
            ),
            Outcome::Unknown {
                conclusive_after_ms,
            } => format!(
                "its outcome is not known until {}; apply settles it before creating anything for this address",
                crate::clock::rfc3339(*conclusive_after_ms)
            ),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// The create took; its peer is now recorded (never listed as unmanaged).
    Adopted { bgp_peer_id: String, state: String },
    /// The create took, but its peer is already gone or going.
    CreatedThenGone { bgp_peer_id: String, state: String },
    /// The create did not take.
    NotCreated,
    /// The delete took.
    Deleted,
    /// The delete did not take.
    NotDeleted,
    /// A delete whose effect is not visible yet; repeating it is harmless ("already deleting" counts as done).
    DeleteUnknown,
    /// A create whose outcome no describe can tell yet; nothing is created for this address until it is settled.
    Unknown { conclusive_after_ms: u64 },
    /// A create that may have made any of these live peers; the plan refuses until only one is left.
    Ambiguous { candidates: Vec<String> },
}

/// State with every settled intent applied, and how each intent was settled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resolution {
    pub state: State,
    pub settlements: Vec<Settlement>,
}

/// Settles every intent of `state` against `observed`. Pure: the clock is the describes' start times.
pub fn resolve(state: &State, observed: &Observed) -> Resolution {
    let mut out = state.clone();
    let mut settlements = Vec::new();
    for intent in &state.intents {
        let scope = Scope {
            region: intent.region.clone(),
            profile: intent.profile.clone(),
        };
        let peers = observed
            .vifs
            .iter()
            .find(|v| v.id == intent.virtual_interface_id && v.scope == scope)
            .map(|v| v.peers.as_slice());
        let described_at = observed.described_at_ms.get(&scope).copied().unwrap_or(0);
        let outcome = match &intent.call {
            Call::CreateBGPPeer(creation) => {
                let owned = owned_elsewhere(state, intent);
                match settle_create(
                    creation,
                    peers,
                    &owned,
                    described_at,
                    intent.conclusive_after_ms,
                ) {
                    Created::Made(peer) => {
                        let id = peer.bgp_peer_id.clone().unwrap_or_default();
                        out.upsert(adopted_record(state, intent, creation, &peer));
                        Outcome::Adopted {
                            bgp_peer_id: id,
                            state: peer.state.to_string(),
                        }
                    }
                    Created::MadeThenGone(peer) => Outcome::CreatedThenGone {
                        bgp_peer_id: peer.bgp_peer_id.unwrap_or_default(),
                        state: peer.state.to_string(),
                    },
                    Created::NotMade => Outcome::NotCreated,
                    Created::Unknown => Outcome::Unknown {
                        conclusive_after_ms: intent.conclusive_after_ms,
                    },
                    Created::Ambiguous(candidates) => Outcome::Ambiguous { candidates },
                }
            }
            Call::DeleteBGPPeer { bgp_peer_id } => {
                match settle_delete(bgp_peer_id, peers, described_at, intent.conclusive_after_ms) {
                    Deleted::Took => Outcome::Deleted,
                    Deleted::DidNotTake => Outcome::NotDeleted,
                    Deleted::Unknown => Outcome::DeleteUnknown,
                }
            }
        };
        let settled = !matches!(outcome, Outcome::Unknown { .. } | Outcome::Ambiguous { .. });
        if settled {
            out.clear_intent(&intent.address);
        }
        settlements.push(Settlement {
            address: intent.address.clone(),
            call: intent.describe(),
            outcome,
        });
    }
    Resolution {
        state: out,
        settlements,
    }
}

/// Peer ids the state gives to other addresses on the intent's VIF (current or deposed).
fn owned_elsewhere<'a>(state: &'a State, intent: &Intent) -> BTreeSet<&'a str> {
    state
        .peers
        .iter()
        .filter(|r| r.virtual_interface_id == intent.virtual_interface_id)
        .filter(|r| r.address != intent.address)
        .flat_map(|r| {
            std::iter::once(r.bgp_peer_id.as_str()).chain(r.deposed.iter().map(String::as_str))
        })
        .collect()
}

/// The record of a peer an interrupted create made, keeping what the address's earlier record had to delete and
/// deposing the peer the create replaced.
fn adopted_record(
    state: &State,
    intent: &Intent,
    creation: &Creation,
    peer: &ObservedPeer,
) -> PeerRecord {
    let id = peer.bgp_peer_id.clone().unwrap_or_default();
    let mut deposed: Vec<String> = state
        .peer(&intent.address)
        .map(|old| {
            let mut d = old.deposed.clone();
            if old.bgp_peer_id != id && creation.deposes.as_deref() == Some(&old.bgp_peer_id) {
                d.push(old.bgp_peer_id.clone());
            }
            d
        })
        .unwrap_or_default();
    if let Some(old) = &creation.deposes {
        if *old != id && !deposed.contains(old) {
            deposed.push(old.clone());
        }
    }
    deposed.sort();
    deposed.dedup();
    PeerRecord {
        address: intent.address.clone(),
        virtual_interface_id: intent.virtual_interface_id.clone(),
        region: intent.region.clone(),
        profile: intent.profile.clone(),
        bgp_peer_id: id,
        address_family: peer.family,
        asn: peer.asn,
        amazon_address: peer.amazon_address.clone(),
        customer_address: peer.customer_address.clone(),
        deposed,
        // Every describe lists the peer once the intent is conclusive.
        listed_by_ms: Some(intent.conclusive_after_ms),
    }
}

#[cfg(test)]
mod tests;
