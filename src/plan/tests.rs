//! Planner tests: a fixture matrix of every decision and refusal (human and JSON snapshots), and properties.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::model::{
    AddressFamily, Asn, Location, MovedBlock, ObservedPeer, ObservedVif, PeerSpec, Scope, Secret,
    VifSpec,
};
use crate::state::PeerRecord;

use AddressFamily::{Ipv4, Ipv6};

const VIF: &str = "dxvif-a";

fn spec(label: &str, family: AddressFamily, asn: u64) -> PeerSpec {
    PeerSpec {
        label: label.into(),
        family,
        asn: Asn::new(asn).unwrap(),
        auth_key: None,
        amazon_address: None,
        customer_address: None,
        location: Location {
            file: "main.hcl".into(),
            line: 7,
            column: 3,
        },
        sensitive: ["auth_key"].into(),
    }
}

fn peer(id: &str, family: AddressFamily, asn: u64, state: PeerState) -> ObservedPeer {
    let n = id.bytes().map(u32::from).sum::<u32>() % 250;
    ObservedPeer {
        bgp_peer_id: Some(id.into()),
        family,
        asn: Asn::new(asn).unwrap(),
        auth_key: Some(Secret::new(format!("key-of-{id}"))),
        amazon_address: Some(format!("169.254.{n}.1/30")),
        customer_address: Some(format!("169.254.{n}.2/30")),
        state,
        bgp_status: crate::model::BgpStatus::Unknown,
    }
}

fn desired(peers: Vec<PeerSpec>) -> Desired {
    Desired {
        moved: vec![],
        vifs: vec![VifSpec {
            id: VifId(VIF.into()),
            scope: Scope::region("us-east-1"),
            peers,
            location: Location {
                file: "main.hcl".into(),
                line: 5,
                column: 1,
            },
        }],
    }
}

fn observed(peers: Vec<ObservedPeer>, redundancy: Option<&str>) -> Observed {
    Observed {
        vifs: vec![ObservedVif {
            id: VifId(VIF.into()),
            scope: Scope::region("us-east-1"),
            state: "available".into(),
            vif_type: "private".into(),
            connection_id: Some("dxcon-1".into()),
            peers,
        }],
        logical_redundancy: redundancy
            .map(|r| BTreeMap::from([("dxcon-1".to_string(), r.into())]))
            .unwrap_or_default(),
        ..Observed::default()
    }
}

fn owned(entries: &[(&str, &ObservedPeer)]) -> State {
    let mut state = State::default();
    for (label, p) in entries {
        state.upsert(record(label, p));
    }
    state
}

fn record(label: &str, p: &ObservedPeer) -> PeerRecord {
    PeerRecord {
        address: PeerAddress::new(&VifId(VIF.into()), label),
        virtual_interface_id: VifId(VIF.into()),
        region: "us-east-1".into(),
        profile: None,
        bgp_peer_id: p.bgp_peer_id.clone().unwrap(),
        address_family: p.family,
        asn: p.asn,
        amazon_address: p.amazon_address.clone(),
        customer_address: p.customer_address.clone(),
        deposed: vec![],
        listed_by_ms: None,
    }
}

fn actions(p: &Plan) -> Vec<(String, Kind)> {
    let mut v: Vec<_> = p
        .changes
        .iter()
        .map(|c| {
            (
                c.address.0.rsplit('.').next().unwrap().to_string(),
                c.action.kind(),
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn rules(p: &Plan) -> Vec<&'static str> {
    p.refusals.iter().map(|r| r.rule.as_str()).collect()
}

/// Every case of the matrix: (name, desired, observed, owned state).
fn matrix() -> Vec<(&'static str, Desired, Observed, State)> {
    let v4 = peer("dxpeer-v4", Ipv4, 65000, PeerState::Available);
    let v6 = peer("dxpeer-v6", Ipv6, 64600, PeerState::Available);
    let mut keyed = spec("v4", Ipv4, 65000);
    keyed.auth_key = Some(Secret::new("a-new-key-123"));
    let mut moved = spec("v4", Ipv4, 65001);
    moved.customer_address = None;
    let mut public = observed(vec![v4.clone()], Some("no"));
    public.vifs[0].vif_type = "public".into();
    let mut deposed_state = owned(&[("v4", &v4)]);
    deposed_state.peers[0].bgp_peer_id = "dxpeer-new".into();
    deposed_state.peers[0].deposed = vec!["dxpeer-v4".into()];
    let new = peer("dxpeer-new", Ipv4, 65000, PeerState::Available);
    let orphan_state = owned(&[("v6", &v6)]);
    let mut gone_vif = observed(vec![v4.clone()], None);
    gone_vif.vifs[0].state = "deleted".into();
    vec![
        (
            "create",
            desired(vec![spec("v4", Ipv4, 65000), spec("v6", Ipv6, 64600)]),
            observed(vec![v4.clone()], None),
            owned(&[("v4", &v4)]),
        ),
        (
            "noop",
            desired(vec![spec("v4", Ipv4, 65000)]),
            observed(vec![v4.clone()], None),
            owned(&[("v4", &v4)]),
        ),
        (
            "adopt",
            desired(vec![spec("v4", Ipv4, 65000)]),
            observed(vec![v4.clone()], None),
            State::default(),
        ),
        (
            "wait-pending",
            desired(vec![spec("v6", Ipv6, 64600), spec("v4", Ipv4, 65000)]),
            observed(
                vec![
                    v4.clone(),
                    peer("dxpeer-p", Ipv6, 64600, PeerState::Pending),
                ],
                None,
            ),
            owned(&[("v4", &v4)]),
        ),
        (
            "deleted-ignored",
            desired(vec![spec("v4", Ipv4, 65000), spec("v6", Ipv6, 64600)]),
            observed(
                vec![
                    v4.clone(),
                    peer("dxpeer-d", Ipv6, 64600, PeerState::Deleted),
                ],
                None,
            ),
            owned(&[("v4", &v4)]),
        ),
        (
            "replace-key-create-first",
            desired(vec![keyed.clone(), spec("v6", Ipv6, 64600)]),
            observed(vec![v4.clone(), v6.clone()], Some("yes")),
            owned(&[("v4", &v4), ("v6", &v6)]),
        ),
        (
            "replace-asn-destroy-first",
            desired(vec![moved.clone(), spec("v6", Ipv6, 64600)]),
            observed(vec![v4.clone(), v6.clone()], Some("no")),
            owned(&[("v4", &v4), ("v6", &v6)]),
        ),
        (
            "replace-impossible",
            desired(vec![keyed]),
            observed(vec![v4.clone()], Some("no")),
            owned(&[("v4", &v4)]),
        ),
        (
            "delete",
            desired(vec![spec("v4", Ipv4, 65000)]),
            observed(vec![v4.clone(), v6.clone()], None),
            owned(&[("v4", &v4), ("v6", &v6)]),
        ),
        (
            "delete-last-refused",
            desired(vec![]),
            observed(vec![v4.clone()], None),
            owned(&[("v4", &v4)]),
        ),
        (
            "unmanaged",
            desired(vec![spec("v6", Ipv6, 64600)]),
            observed(vec![v4.clone(), v6.clone()], None),
            owned(&[("v6", &v6)]),
        ),
        (
            "forget",
            desired(vec![spec("v4", Ipv4, 65000)]),
            observed(vec![v4.clone()], None),
            owned(&[("v4", &v4), ("v6", &v6)]),
        ),
        (
            "family-exclusive",
            desired(vec![spec("v4", Ipv4, 65000), spec("v4b", Ipv4, 65001)]),
            observed(vec![v4.clone()], Some("no")),
            owned(&[("v4", &v4)]),
        ),
        (
            "ambiguous",
            desired(vec![spec("v4", Ipv4, 65000)]),
            observed(
                vec![
                    v4.clone(),
                    peer("dxpeer-twin", Ipv4, 65000, PeerState::Available),
                ],
                Some("yes"),
            ),
            State::default(),
        ),
        (
            "public-asn-warning",
            desired(vec![spec("v4", Ipv4, 65000), spec("v6", Ipv6, 7224)]),
            public,
            owned(&[("v4", &v4)]),
        ),
        (
            "vif-missing",
            desired(vec![spec("v4", Ipv4, 65000)]),
            Observed::default(),
            State::default(),
        ),
        (
            "vif-deleted",
            desired(vec![spec("v4", Ipv4, 65000)]),
            gone_vif,
            State::default(),
        ),
        (
            "deposed",
            desired(vec![spec("v4", Ipv4, 65000)]),
            observed(vec![v4.clone(), new], Some("yes")),
            deposed_state,
        ),
        (
            "orphaned-vif",
            Desired::default(),
            observed(vec![v4.clone(), v6.clone()], None),
            orphan_state,
        ),
    ]
}

#[test]
fn matrix_snapshots() {
    for (name, d, o, s) in matrix() {
        let plan = plan(&d, &o, &s);
        let mut text = crate::render::human(&plan, false);
        text.push_str(&crate::render::refusals(&plan));
        insta::assert_snapshot!(format!("{name}__human"), text);
        insta::assert_snapshot!(
            format!("{name}__json"),
            format!("{:#}", crate::render::json(&plan))
        );
    }
}

#[test]
fn matrix_decisions() {
    let by_name: BTreeMap<_, _> = matrix()
        .into_iter()
        .map(|(n, d, o, s)| (n, plan(&d, &o, &s)))
        .collect();
    let a = |n: &str| actions(&by_name[n]);
    assert_eq!(
        a("create"),
        vec![("v4".into(), Kind::NoOp), ("v6".into(), Kind::Create)]
    );
    assert_eq!(a("adopt"), vec![("v4".into(), Kind::Adopt)]);
    assert_eq!(a("wait-pending")[1], ("v6".into(), Kind::Wait));
    assert!(by_name["wait-pending"]
        .changes
        .iter()
        .any(|c| c.action.waiting_on() == Some(&PeerState::Pending)));
    assert_eq!(a("deleted-ignored")[1], ("v6".into(), Kind::Create));
    assert_eq!(
        a("replace-key-create-first")[0],
        ("v4".into(), Kind::Replace(Order::CreateBeforeDestroy))
    );
    assert_eq!(
        by_name["replace-key-create-first"]
            .changes
            .iter()
            .find(|c| c.action.forces() == [Attribute::AuthKey])
            .map(|c| c.address.0.clone()),
        Some("virtual_interface.dxvif-a.bgp_peer.v4".into())
    );
    assert_eq!(
        a("replace-asn-destroy-first")[0],
        ("v4".into(), Kind::Replace(Order::DestroyBeforeCreate))
    );
    assert_eq!(
        rules(&by_name["replace-impossible"]),
        vec!["replace-impossible"]
    );
    assert_eq!(
        a("delete"),
        vec![("v4".into(), Kind::NoOp), ("v6".into(), Kind::Delete)]
    );
    assert_eq!(rules(&by_name["delete-last-refused"]), vec!["last-peer"]);
    assert_eq!(by_name["unmanaged"].unmanaged.len(), 1);
    assert_eq!(
        a("forget"),
        vec![("v4".into(), Kind::NoOp), ("v6".into(), Kind::Forget)]
    );
    assert_eq!(
        rules(&by_name["family-exclusive"]),
        vec!["family-exclusive"]
    );
    assert_eq!(rules(&by_name["ambiguous"]), vec!["ambiguous-match"]);
    assert_eq!(by_name["public-asn-warning"].warnings.len(), 1);
    assert_eq!(rules(&by_name["vif-missing"]), vec!["vif-not-found"]);
    assert_eq!(rules(&by_name["vif-deleted"]), vec!["vif-unusable"]);
    let deposed = &by_name["deposed"];
    assert!(deposed.changes.iter().any(|c| matches!(
        &c.action,
        Action::Delete { live, incarnation: Incarnation::Deposed } if live.id() == "dxpeer-v4"
    )));
    assert!(
        deposed.unmanaged.is_empty(),
        "a deposed peer is never unmanaged"
    );
    assert_eq!(a("orphaned-vif"), vec![("v6".into(), Kind::Delete)]);
}

#[test]
fn missing_facts_are_asked_for_only_when_they_matter() {
    let v4 = peer("dxpeer-v4", Ipv4, 65000, PeerState::Available);
    let d = desired(vec![spec("v4", Ipv4, 65000), spec("v6", Ipv6, 64600)]);
    assert!(
        plan(&d, &observed(vec![v4.clone()], None), &State::default())
            .missing_facts
            .is_empty()
    );
    let d = desired(vec![spec("v4", Ipv4, 65000), spec("v4b", Ipv4, 65001)]);
    let p = plan(&d, &observed(vec![v4], None), &State::default());
    assert_eq!(
        p.missing_facts.into_iter().collect::<Vec<_>>(),
        vec![Scope::region("us-east-1")]
    );
}

#[test]
fn owned_peer_is_preferred_among_lookalikes_and_never_confused() {
    let a = peer("dxpeer-a", Ipv4, 65000, PeerState::Available);
    let mut b = peer("dxpeer-b", Ipv4, 65000, PeerState::Available);
    b.customer_address = a.customer_address.clone();
    b.amazon_address = a.amazon_address.clone();
    let o = observed(vec![a.clone(), b.clone()], Some("yes"));
    let d = desired(vec![spec("v4", Ipv4, 65000)]);
    let p = plan(&d, &o, &owned(&[("v4", &b)]));
    assert_eq!(
        p.changes[0].action.live().map(ObservedPeer::id),
        Some("dxpeer-b")
    );
    assert_eq!(p.unmanaged.len(), 1, "the other twin stays unmanaged");
}

/// Executes a plan on the in-memory world, as AWS and the executor would.
fn apply_in_memory(p: &Plan, o: &mut Observed, s: &mut State) {
    super::moves::apply(s, &p.moves);
    let mut next = 0;
    for c in &p.changes {
        let vif = o.vifs.iter_mut().find(|v| v.id == c.vif).unwrap();
        let mut add = |spec: &PeerSpec, vif: &mut ObservedVif| {
            next += 1;
            let mut new = peer(
                &format!("dxpeer-new{next}"),
                spec.family,
                spec.asn.get() as u64,
                PeerState::Available,
            );
            new.auth_key = spec.auth_key.clone().or(new.auth_key);
            new.amazon_address = spec.amazon_address.clone().or(new.amazon_address);
            new.customer_address = spec.customer_address.clone().or(new.customer_address);
            vif.peers.push(new.clone());
            new
        };
        let remove =
            |id: &Option<String>, vif: &mut ObservedVif| vif.peers.retain(|x| &x.bgp_peer_id != id);
        let label = c.address.0.rsplit('.').next().unwrap().to_string();
        match &c.action {
            Action::Create { desired } => {
                let new = add(desired, vif);
                s.upsert(record(&label, &new));
            }
            Action::Replace { desired, live, .. } => {
                remove(&live.bgp_peer_id, vif);
                let new = add(desired, vif);
                s.upsert(record(&label, &new));
            }
            Action::Delete { live, incarnation } => {
                remove(&live.bgp_peer_id, vif);
                match incarnation {
                    Incarnation::Deposed => s.peers.iter_mut().for_each(|r| r.deposed.clear()),
                    Incarnation::Current => s.remove(&c.address),
                }
            }
            Action::Adopt { live, .. } | Action::Wait { live, .. } => {
                let p = vif
                    .peers
                    .iter_mut()
                    .find(|x| x.bgp_peer_id == live.bgp_peer_id)
                    .unwrap();
                p.state = PeerState::Available;
                s.upsert(record(&label, p));
            }
            Action::Forget { .. } => s.remove(&c.address),
            Action::NoOp { .. } => {}
        }
    }
}

fn arb_family() -> impl Strategy<Value = AddressFamily> {
    prop_oneof![Just(Ipv4), Just(Ipv6)]
}

fn arb_state() -> impl Strategy<Value = PeerState> {
    prop_oneof![
        4 => Just(PeerState::Available),
        1 => Just(PeerState::Pending),
        1 => Just(PeerState::Deleted),
        1 => Just(PeerState::Deleting)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Deterministic; converges once applied; never deletes a VIF's last peer or touches an unmanaged one.
    #[test]
    fn deterministic_converging_and_safe(
        wanted in prop::collection::btree_map(0usize..6, (arb_family(), 64512u64..64516, any::<bool>()), 0..4),
        existing in prop::collection::vec((arb_family(), 64512u64..64516, arb_state()), 1..5),
        owned_mask in prop::collection::vec(any::<bool>(), 5),
        redundant in any::<bool>(),
    ) {
        let specs: Vec<PeerSpec> = wanted.iter().map(|(i, (f, a, keyed))| {
            let mut s = spec(&format!("p{i}"), *f, *a);
            if *keyed { s.auth_key = Some(Secret::new("wanted-key-1")); }
            s
        }).collect();
        let peers: Vec<ObservedPeer> = existing.iter().enumerate().map(|(i, (f, a, st))| peer(&format!("dxpeer-{i}"), *f, *a, st.clone())).collect();
        let mut state = State::default();
        for (i, p) in peers.iter().enumerate() {
            if owned_mask[i] && !p.state.is_gone() {
                state.upsert(record(&format!("p{i}"), p));
            }
        }
        let d = desired(specs);
        let mut o = observed(peers.clone(), Some(if redundant { "yes" } else { "no" }));
        let first = plan(&d, &o, &state);
        prop_assert_eq!(&first, &plan(&d, &o, &state));

        let owned_ids: Vec<String> = state.peers.iter().map(|r| r.bgp_peer_id.clone()).collect();
        for c in &first.changes {
            if let Action::Delete { live, .. } | Action::Replace { live, .. } = &c.action {
                let id = live.bgp_peer_id.clone().unwrap();
                let adoptable = c.action.kind() != Kind::Delete && c.action.desired().is_some();
                prop_assert!(owned_ids.contains(&id) || adoptable, "touched unmanaged peer {}", id);
            }
        }
        if first.refusals.is_empty() {
            let live_before = o.vifs[0].peers.iter().filter(|p| !p.state.is_gone()).count();
            let mut s2 = state.clone();
            apply_in_memory(&first, &mut o, &mut s2);
            let live_after = o.vifs[0].peers.iter().filter(|p| !p.state.is_gone()).count();
            prop_assert!(live_after >= 1 || live_before == 0, "the VIF lost its last peer");
            let second = plan(&d, &o, &s2);
            prop_assert!(second.refusals.is_empty(), "{:?}", second.refusals);
            prop_assert!(!second.has_changes(), "still changes after apply: {:?}", second.changes.iter().filter(|c| c.action.kind() != Kind::NoOp).collect::<Vec<_>>());
        }
    }
}

/// Eventual consistency: a peer recorded moments ago that a lagging describe does not list is waited for, never
/// created again; once a describe late enough still does not list it, it is gone.
#[test]
fn an_owned_peer_missing_from_a_lagging_describe_is_waited_for_not_recreated() {
    let v6 = peer("dxpeer-v6", Ipv6, 64600, PeerState::Available);
    let mut state = owned(&[("v6", &v6)]);
    state.peers[0].listed_by_ms = Some(10_000);
    let lagging = {
        let mut o = observed(vec![], Some("no"));
        o.described_at_ms.insert(Scope::region("us-east-1"), 9_999);
        o
    };
    let p = plan(&desired(vec![spec("v6", Ipv6, 64600)]), &lagging, &state);
    assert!(
        matches!(&actions(&p)[..], [(label, Kind::Wait)] if label == "v6")
            && p.changes[0].action.waiting_on().map(PeerState::as_str) == Some("not listed yet"),
        "{:?}",
        actions(&p)
    );
    // Dropped from the config meanwhile: it is deleted, not forgotten (another peer keeps the VIF up)...
    let other = peer("dxpeer-v4", Ipv4, 65000, PeerState::Available);
    let mut with_other = observed(vec![other], Some("no"));
    with_other.described_at_ms = lagging.described_at_ms.clone();
    let p = plan(&desired(vec![]), &with_other, &state);
    assert_eq!(actions(&p), vec![("v6".to_string(), Kind::Delete)]);
    // ...and, as the VIF's only peer, it still counts: deleting it is refused as the last peer.
    let p = plan(&desired(vec![]), &lagging, &state);
    assert_eq!(rules(&p), vec!["last-peer"]);
    let late = {
        let mut o = observed(vec![], Some("no"));
        o.described_at_ms.insert(Scope::region("us-east-1"), 10_000);
        o
    };
    let p = plan(&desired(vec![spec("v6", Ipv6, 64600)]), &late, &state);
    assert_eq!(actions(&p), vec![("v6".to_string(), Kind::Create)]);
}

/// A replacement killed after it deleted the old peer but before it said so: the deposed entry is forgotten.
#[test]
fn a_deposed_peer_that_is_already_deleted_is_forgotten() {
    let new = peer("dxpeer-new", Ipv4, 65000, PeerState::Available);
    let old = peer("dxpeer-old", Ipv4, 65000, PeerState::Deleted);
    let mut state = owned(&[("v4", &new)]);
    state.peers[0].deposed = vec!["dxpeer-old".into()];
    let o = observed(vec![new.clone(), old], Some("yes"));
    let p = plan(&desired(vec![spec("v4", Ipv4, 65000)]), &o, &state);
    let forget = p
        .changes
        .iter()
        .find(|c| c.action.kind() == Kind::Forget)
        .expect("a forget");
    assert!(forget.action.deposed());
    assert_eq!(
        forget.action.live().map(ObservedPeer::id),
        Some("dxpeer-old")
    );
    assert!(p.has_changes());
}

fn address(label: &str) -> PeerAddress {
    PeerAddress::new(&VifId(VIF.into()), label)
}

/// A renamed block whose peer matches only the new declaration, and only it, moves; the plan then keeps the peer.
#[test]
fn an_unambiguous_rename_moves_the_record_and_keeps_the_peer() {
    let v6 = peer("dxpeer-v6", Ipv6, 64600, PeerState::Available);
    let v4 = peer("dxpeer-v4", Ipv4, 65000, PeerState::Available);
    let state = owned(&[("v6", &v6), ("v4", &v4)]);
    let d = desired(vec![
        spec("ipv6_primary", Ipv6, 64600),
        spec("v4", Ipv4, 65000),
    ]);
    let p = plan(&d, &observed(vec![v6, v4], Some("no")), &state);
    assert_eq!(p.moves.len(), 1);
    assert_eq!(
        (
            &p.moves[0].from,
            &p.moves[0].to,
            p.moves[0].bgp_peer_id.as_str()
        ),
        (&address("v6"), &address("ipv6_primary"), "dxpeer-v6")
    );
    assert_eq!(
        actions(&p),
        [
            ("ipv6_primary".to_string(), Kind::NoOp),
            ("v4".to_string(), Kind::NoOp)
        ]
    );
    assert!(p.has_changes(), "the state changes");
    let (summary, mut settled) = (p.summary(), state.clone());
    assert_eq!((summary.add, summary.destroy, summary.moves), (0, 0, 1));
    moves::apply(&mut settled, &p.moves);
    assert!(
        settled.peer(&address("ipv6_primary")).is_some() && settled.peer(&address("v6")).is_none()
    );
}

/// Two old peers that both match a new declaration are never guessed between; a `moved` block decides.
#[test]
fn an_ambiguous_rename_is_not_guessed_and_a_moved_block_settles_it() {
    let mut left = peer("dxpeer-l", Ipv4, 65010, PeerState::Available);
    left.customer_address = Some("169.254.10.2/30".into());
    let mut right = peer("dxpeer-r", Ipv4, 65010, PeerState::Available);
    right.customer_address = Some("169.254.11.2/30".into());
    let state = owned(&[("left", &left), ("right", &right)]);
    let o = observed(vec![left, right], Some("yes"));
    let mut b = spec("b", Ipv4, 65010);
    b.customer_address = Some("169.254.11.2/30".into());
    let mut d = desired(vec![spec("a", Ipv4, 65010), b]);
    let guessed = plan(&d, &o, &state);
    assert!(guessed.moves.is_empty());
    assert_eq!((guessed.summary().add, guessed.summary().destroy), (2, 2));

    let block = |from: &str, to: &str| MovedBlock {
        from: address(from),
        to: address(to),
        location: Location::default(),
    };
    d.moved = vec![block("left", "a"), block("right", "b")];
    let p = plan(&d, &o, &state);
    assert_eq!(p.moves.len(), 2);
    assert!(p.refusals.is_empty(), "{:?}", p.refusals);
    assert_eq!((p.summary().add, p.summary().destroy), (0, 0));

    // Followed once, a block is history: its `from` is no longer owned.
    let mut moved = state.clone();
    moves::apply(&mut moved, &p.moves);
    let again = plan(&d, &o, &moved);
    assert!(again.moves.is_empty() && !again.has_changes());
}

#[test]
fn moved_blocks_never_cross_vifs_or_overwrite_a_managed_address() {
    let v6 = peer("dxpeer-v6", Ipv6, 64600, PeerState::Available);
    let v4 = peer("dxpeer-v4", Ipv4, 65000, PeerState::Available);
    let state = owned(&[("v6", &v6), ("v4", &v4)]);
    let o = observed(vec![v6, v4], Some("no"));
    let mut d = desired(vec![spec("v6", Ipv6, 64600), spec("v4", Ipv4, 65000)]);
    d.moved = vec![MovedBlock {
        from: address("v6"),
        to: PeerAddress("virtual_interface.dxvif-b.bgp_peer.v6".into()),
        location: Location::default(),
    }];
    assert_eq!(rules(&plan(&d, &o, &state)), ["moved-across-vifs"]);
    d.moved[0].to = address("v4");
    assert_eq!(rules(&plan(&d, &o, &state)), ["moved-conflict"]);
    d.moved = vec![
        MovedBlock {
            from: address("v6"),
            to: address("x"),
            location: Location::default(),
        },
        MovedBlock {
            from: address("v6"),
            to: address("y"),
            location: Location::default(),
        },
    ];
    assert_eq!(rules(&plan(&d, &o, &state)), ["moved-conflict"]);
}
