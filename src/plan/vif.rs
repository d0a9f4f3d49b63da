//! Identity for one VIF: which observed peer each declared or owned peer is, and what that means.

use std::collections::BTreeSet;

use super::{
    matches, schedule, Action, Attribute, Change, Forgotten, Incarnation, Order, Plan, Reason,
    Refusal, Rule, Unmanaged, Warning,
};
use crate::model::{
    BgpStatus, Location, Observed, ObservedPeer, ObservedVif, PeerAddress, PeerSpec, PeerState,
    Scope, VifId, VifSpec, VifType,
};
use crate::state::PeerRecord;

/// The fields on which an existing peer differs from its spec; any difference forces replacement.
fn differences(spec: &PeerSpec, peer: &ObservedPeer) -> Vec<Attribute> {
    let mut out = Vec::new();
    if spec.family != peer.family {
        out.push(Attribute::AddressFamily);
    }
    if spec.asn != peer.asn {
        out.push(Attribute::Asn);
    }
    let differs = |want: &Option<String>, have: &Option<String>| {
        want.as_ref()
            .is_some_and(|w| have.as_ref().is_none_or(|h| !h.eq_ignore_ascii_case(w)))
    };
    if differs(&spec.amazon_address, &peer.amazon_address) {
        out.push(Attribute::AmazonAddress);
    }
    if differs(&spec.customer_address, &peer.customer_address) {
        out.push(Attribute::CustomerAddress);
    }
    // Compared in memory only; neither key is ever printed or stored.
    if let (Some(want), Some(have)) = (&spec.auth_key, &peer.auth_key) {
        if want != have {
            out.push(Attribute::AuthKey);
        }
    }
    out
}

fn unusable(seen: &ObservedVif) -> bool {
    seen.state.is_unusable()
}

/// Plans one declared VIF: `seen` is how AWS describes it (if at all), `records` the peers dxctl owns on it.
pub(super) fn plan_declared(
    spec: &VifSpec,
    seen: Option<&ObservedVif>,
    observed: &Observed,
    records: Vec<&PeerRecord>,
    plan: &mut Plan,
) {
    let Some(seen) = usable(spec, seen, observed, plan) else {
        return;
    };
    // Ids dxctl owns on this VIF, including deposed ones: none of them is ever adopted for another address.
    let mut owned_ids: BTreeSet<&str> = records.iter().map(|r| r.bgp_peer_id.as_str()).collect();
    owned_ids.extend(deposed_ids(&records));
    let mut vif = Declared {
        spec,
        seen,
        observed,
        records: &records,
        owned_ids,
        taken: BTreeSet::new(),
        changes: Vec::new(),
    };
    let mut peers: Vec<&PeerSpec> = spec.peers.iter().collect();
    peers.sort_by(|a, b| a.label.cmp(&b.label));
    for want in peers {
        vif.declared_peer(want, plan);
    }
    vif.undeclared_peers();
    vif.deposed_peers(plan);
    vif.unmanaged_peers(plan);
    vif.public_asn_warnings(plan);
    schedule::order(seen, observed, &spec.location, vif.changes, plan);
}

/// The VIF as described, or a refusal when it is missing or cannot take peer changes.
fn usable<'a>(
    spec: &VifSpec,
    seen: Option<&'a ObservedVif>,
    observed: &Observed,
    plan: &mut Plan,
) -> Option<&'a ObservedVif> {
    let refuse = |rule, message| Refusal {
        location: spec.location.clone(),
        address: format!("virtual_interface.{}", spec.id),
        rule,
        message,
    };
    match seen.filter(|v| v.scope == spec.scope) {
        None => {
            plan.refusals.push(refuse(
                Rule::VifNotFound,
                format!(
                    "virtual interface {} does not exist in {}{}",
                    spec.id,
                    spec.scope,
                    vif_hint(spec, observed)
                ),
            ));
            None
        }
        Some(seen) if unusable(seen) => {
            plan.refusals.push(refuse(
                Rule::VifUnusable,
                format!(
                    "virtual interface {} is {}; its BGP peers cannot be changed",
                    spec.id, seen.state
                ),
            ));
            None
        }
        Some(seen) => Some(seen),
    }
}

/// Where a VIF that is not in its region may be: the same id in another described region, or a near id in its own.
fn vif_hint(spec: &VifSpec, observed: &Observed) -> String {
    if let Some(elsewhere) = observed
        .vifs
        .iter()
        .find(|v| v.id == spec.id && v.scope != spec.scope)
    {
        return format!(
            "; it exists in {}: check the provider this block uses",
            elsewhere.scope
        );
    }
    observed
        .vifs
        .iter()
        .filter(|v| v.scope == spec.scope)
        .map(|v| (strsim::jaro_winkler(&spec.id.0, &v.id.0), &v.id))
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, id)| format!("; did you mean {id}?"))
        .unwrap_or_default()
}

/// One declared VIF being planned: which described peers are spoken for, and the changes so far.
struct Declared<'a> {
    spec: &'a VifSpec,
    seen: &'a ObservedVif,
    observed: &'a Observed,
    records: &'a [&'a PeerRecord],
    owned_ids: BTreeSet<&'a str>,
    /// Indexes of described peers some change already accounts for.
    taken: BTreeSet<usize>,
    changes: Vec<Change>,
}

impl Declared<'_> {
    fn change(&self, address: PeerAddress, action: Action, reason: Reason) -> Change {
        Change {
            address,
            vif: self.spec.id.clone(),
            scope: self.spec.scope.clone(),
            action,
            reason,
            step: 0,
        }
    }

    /// The live peer a record owns (its index, unless only its record stands in for it: not listed yet).
    fn live(&self, r: &PeerRecord) -> Option<(Option<usize>, ObservedPeer)> {
        let listed = self.seen.peers.iter().enumerate().find(|(_, p)| {
            !p.state.is_gone() && p.bgp_peer_id.as_deref() == Some(r.bgp_peer_id.as_str())
        });
        match listed {
            Some((i, p)) => Some((Some(i), p.clone())),
            None => {
                not_yet_listed(r, self.seen, self.observed, &self.spec.scope).map(|p| (None, p))
            }
        }
    }

    /// A declared peer: kept, waited for or replaced when dxctl owns it; otherwise adopted, waited for, replaced
    /// or created after matching the unmanaged peers; refused when several match.
    fn declared_peer(&mut self, want: &PeerSpec, plan: &mut Plan) {
        let address = PeerAddress::new(&self.spec.id, &want.label);
        let record = self.records.iter().find(|r| r.address == address);
        if let Some((i, live)) = record.and_then(|r| self.live(r)) {
            self.taken.extend(i);
            let desired = want.clone();
            let forces = differences(want, &live);
            let (action, reason) = if !forces.is_empty() {
                (
                    Action::Replace {
                        desired,
                        live,
                        order: Order::CreateBeforeDestroy,
                        forces,
                    },
                    Reason::Changed,
                )
            } else if live.state == PeerState::Available {
                (Action::NoOp { desired, live }, Reason::Matches)
            } else {
                (Action::Wait { desired, live }, Reason::Provisioning)
            };
            self.changes.push(self.change(address, action, reason));
            return;
        }
        let lost = record.map(|r| r.bgp_peer_id.clone());
        let candidates: Vec<(usize, &ObservedPeer)> = self
            .seen
            .peers
            .iter()
            .enumerate()
            .filter(|(i, p)| {
                !self.taken.contains(i)
                    && !p
                        .bgp_peer_id
                        .as_deref()
                        .is_some_and(|id| self.owned_ids.contains(id))
                    && matches(want, p)
            })
            .collect();
        match candidates.as_slice() {
            [] => {
                let create = Action::Create {
                    desired: want.clone(),
                };
                self.changes
                    .push(self.change(address, create, Reason::NoMatch { lost }));
            }
            [(i, live)] => {
                let i = *i;
                let (desired, live) = (want.clone(), (*live).clone());
                let forces = differences(want, &live);
                let (action, reason) = if !forces.is_empty() {
                    (
                        Action::Replace {
                            desired,
                            live,
                            order: Order::CreateBeforeDestroy,
                            forces,
                        },
                        Reason::UnmanagedKeyDiffers { lost },
                    )
                } else if live.state == PeerState::Available {
                    (Action::Adopt { desired, live }, Reason::Adoptable { lost })
                } else {
                    (
                        Action::Wait { desired, live },
                        Reason::AdoptableWhenReady { lost },
                    )
                };
                self.taken.insert(i);
                self.changes.push(self.change(address, action, reason));
            }
            many => plan.refusals.push(Refusal {
                location: want.location.clone(),
                address: address.0.clone(),
                rule: Rule::AmbiguousMatch,
                message: format!(
                    "{} unmanaged peers on {} match family {} and ASN {}; give customer_address to say which one is meant",
                    many.len(),
                    self.spec.id,
                    want.family,
                    want.asn
                ),
            }),
        }
    }

    /// Owned peers the config no longer declares: deleted, or forgotten when they no longer exist.
    fn undeclared_peers(&mut self) {
        let declared: BTreeSet<PeerAddress> = self
            .spec
            .peers
            .iter()
            .map(|p| PeerAddress::new(&self.spec.id, &p.label))
            .collect();
        for r in self
            .records
            .iter()
            .filter(|r| !declared.contains(&r.address))
        {
            let change = match self.live(r) {
                Some((i, live)) => {
                    self.taken.extend(i);
                    let delete = Action::Delete {
                        live,
                        incarnation: Incarnation::Current,
                    };
                    self.change(r.address.clone(), delete, Reason::RemovedFromConfig)
                }
                None => {
                    let forget = Action::Forget {
                        forgotten: Forgotten::Owned {
                            bgp_peer_id: r.bgp_peer_id.clone(),
                        },
                    };
                    self.change(r.address.clone(), forget, Reason::Vanished)
                }
            };
            self.changes.push(change);
        }
    }

    /// Deposed peers (left by an interrupted replacement): deleted while live, forgotten once gone; refused when
    /// one is what another declared peer asks for.
    fn deposed_peers(&mut self, plan: &mut Plan) {
        let spec = self.spec;
        for (i, peer, record) in deposed_peers(self.seen, self.records) {
            self.taken.insert(i);
            // A deposed peer is an earlier incarnation of its own address; one that is what another declared peer
            // (one that owns nothing yet) asks for means the state is not to be trusted here.
            let other = spec.peers.iter().find(|want| {
                let address = PeerAddress::new(&spec.id, &want.label);
                address != record.address
                    && !self.records.iter().any(|r| r.address == address)
                    && matches(want, peer)
            });
            if let Some(want) = other {
                plan.refusals.push(Refusal {
                    location: want.location.clone(),
                    address: record.address.0.clone(),
                    rule: Rule::StateConflict,
                    message: format!(
                        "the state lists peer {} as deposed by {} (to delete), but it is what {} declares; dxctl \
                         will not delete it. Check the state file (its previous version is kept as .backup)",
                        peer.id(),
                        record.address,
                        PeerAddress::new(&spec.id, &want.label)
                    ),
                });
                continue;
            }
            let delete = Action::Delete {
                live: peer.clone(),
                incarnation: Incarnation::Deposed,
            };
            let change = self.change(record.address.clone(), delete, Reason::LeftByReplacement);
            self.changes.push(change);
        }
        let gone = deposed_gone(self.seen, self.observed, self.records);
        self.changes.extend(gone.into_iter().map(|mut c| {
            c.scope = spec.scope.clone();
            c
        }));
    }

    /// Live peers neither declared nor owned: listed, never touched.
    fn unmanaged_peers(&self, plan: &mut Plan) {
        for (i, peer) in self.seen.peers.iter().enumerate() {
            let owned = peer
                .bgp_peer_id
                .as_deref()
                .is_some_and(|id| self.owned_ids.contains(id));
            if !self.taken.contains(&i) && !owned && !peer.state.is_gone() {
                plan.unmanaged.push(Unmanaged {
                    vif: self.spec.id.clone(),
                    peer: peer.clone(),
                });
            }
        }
    }

    /// A new peer with a public ASN on a public VIF is refused by AWS unless the ASN is allow-listed for the VIF.
    fn public_asn_warnings(&self, plan: &mut Plan) {
        if self.seen.vif_type != VifType::Public {
            return;
        }
        for c in &self.changes {
            let (Action::Create { desired } | Action::Replace { desired, .. }) = &c.action else {
                continue;
            };
            let asn = desired.asn;
            if !asn.is_private() {
                plan.warnings.push(Warning {
                    address: c.address.0.clone(),
                    message: format!("ASN {asn} is public: AWS refuses it on this public VIF (CreateBGPPeer fails) unless it is on the allow list for the VIF; a private ASN (64512-65534, 4200000000-4294967294) needs none"),
                });
            }
        }
    }
}

/// The state of an owned peer a describe does not list yet.
pub const NOT_LISTED_YET: &str = "not listed yet";

/// An owned peer missing from a describe that started before the peer is sure to be listed (it was recorded moments
/// ago and describes are eventually consistent): it is not gone, only not listed yet. Stands in for the peer, from
/// its record.
fn not_yet_listed(
    r: &PeerRecord,
    seen: &ObservedVif,
    observed: &Observed,
    scope: &Scope,
) -> Option<ObservedPeer> {
    if seen
        .peers
        .iter()
        .any(|p| p.bgp_peer_id.as_deref() == Some(r.bgp_peer_id.as_str()))
    {
        // Listed, in whatever state (a deleting or deleted one is gone, not unlisted).
        return None;
    }
    let described = observed.described_at_ms.get(scope).copied().unwrap_or(0);
    let listed_by = r.listed_by_ms?;
    (described < listed_by).then(|| ObservedPeer {
        bgp_peer_id: Some(r.bgp_peer_id.clone()),
        family: r.address_family,
        asn: r.asn,
        auth_key: None,
        amazon_address: r.amazon_address.clone(),
        customer_address: r.customer_address.clone(),
        state: PeerState::Other(NOT_LISTED_YET.into()),
        bgp_status: BgpStatus::Unknown,
    })
}

fn deposed_ids<'a>(records: &[&'a PeerRecord]) -> BTreeSet<&'a str> {
    records
        .iter()
        .flat_map(|r| r.deposed.iter().map(String::as_str))
        .collect()
}

/// Forgets deposed peers that are already deleted (or no longer listed by a describe late enough to list
/// them): an interrupted replacement deleted them but was killed before it could say so in the state.
fn deposed_gone(seen: &ObservedVif, observed: &Observed, records: &[&PeerRecord]) -> Vec<Change> {
    let described = observed
        .described_at_ms
        .get(&seen.scope)
        .copied()
        .unwrap_or(0);
    let mut out = Vec::new();
    for r in records {
        for id in &r.deposed {
            let listed = seen
                .peers
                .iter()
                .find(|p| p.bgp_peer_id.as_deref() == Some(id));
            let gone = match listed {
                Some(p) => p.state.is_gone(),
                None => r.listed_by_ms.is_none_or(|by| described >= by),
            };
            if !gone {
                continue;
            }
            let peer = listed.cloned().unwrap_or_else(|| ObservedPeer {
                bgp_peer_id: Some(id.clone()),
                family: r.address_family,
                asn: r.asn,
                auth_key: None,
                amazon_address: None,
                customer_address: None,
                state: PeerState::Deleted,
                bgp_status: BgpStatus::Unknown,
            });
            out.push(Change {
                address: r.address.clone(),
                vif: r.virtual_interface_id.clone(),
                scope: seen.scope.clone(),
                action: Action::Forget {
                    forgotten: Forgotten::Deposed { peer },
                },
                reason: Reason::DeposedGone {
                    listed: listed.is_some(),
                },
                step: 0,
            });
        }
    }
    out
}

/// Live peers that records list as deposed, with the record.
fn deposed_peers<'a>(
    seen: &'a ObservedVif,
    records: &[&'a PeerRecord],
) -> Vec<(usize, &'a ObservedPeer, &'a PeerRecord)> {
    let mut out = Vec::new();
    for r in records {
        for id in &r.deposed {
            if let Some((i, p)) = seen
                .peers
                .iter()
                .enumerate()
                .find(|(_, p)| !p.state.is_gone() && p.bgp_peer_id.as_deref() == Some(id))
            {
                out.push((i, p, *r));
            }
        }
    }
    out
}

/// A VIF whose block left the config: delete the peers dxctl owns there (or forget them if gone).
pub(super) fn plan_orphaned(
    id: &VifId,
    seen: Option<&ObservedVif>,
    observed: &Observed,
    records: Vec<&PeerRecord>,
    plan: &mut Plan,
) {
    let Some(first) = records.first() else {
        return;
    };
    let scope = Scope {
        region: first.region.clone(),
        profile: first.profile.clone(),
    };
    let seen = seen.filter(|v| v.scope == scope && !unusable(v));
    let location = Location {
        file: "(state)".into(),
        line: 0,
        column: 0,
    };
    let mut changes = Vec::new();
    let records_for_deposed = records.clone();
    for r in records {
        let peer = seen.and_then(|v| {
            v.peers
                .iter()
                .find(|p| {
                    !p.state.is_gone() && p.bgp_peer_id.as_deref() == Some(r.bgp_peer_id.as_str())
                })
                .cloned()
                .or_else(|| not_yet_listed(r, v, observed, &scope))
        });
        let (action, reason) = match peer {
            Some(live) => (
                Action::Delete {
                    live,
                    incarnation: Incarnation::Current,
                },
                Reason::VifRemovedFromConfig,
            ),
            None => (
                Action::Forget {
                    forgotten: Forgotten::Owned {
                        bgp_peer_id: r.bgp_peer_id.clone(),
                    },
                },
                Reason::Vanished,
            ),
        };
        changes.push(Change {
            address: r.address.clone(),
            vif: id.clone(),
            scope: scope.clone(),
            action,
            reason,
            step: 0,
        });
    }
    if let Some(seen) = seen {
        changes.extend(deposed_gone(seen, observed, &records_for_deposed));
        for (_, peer, record) in deposed_peers(seen, &records_for_deposed) {
            changes.push(Change {
                address: record.address.clone(),
                vif: id.clone(),
                scope: scope.clone(),
                action: Action::Delete {
                    live: peer.clone(),
                    incarnation: Incarnation::Deposed,
                },
                reason: Reason::LeftByReplacement,
                step: 0,
            });
        }
    }
    match seen {
        Some(seen) => schedule::order(seen, observed, &location, changes, plan),
        None => plan.changes.extend(changes),
    }
}
