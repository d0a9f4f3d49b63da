//! Planner tests: each decision and refusal, determinism, and convergence after an apply.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::model::{Asn, ObservedPeer, ObservedVif, PeerSpec, Scope, VifSpec};
use crate::state::PeerRecord;

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
        sensitive: Default::default(),
    }
}

fn seen(id: &str, family: AddressFamily, asn: u64, state: PeerState) -> ObservedPeer {
    ObservedPeer {
        bgp_peer_id: Some(id.into()),
        family,
        asn: Asn::new(asn).unwrap(),
        auth_key: None,
        amazon_address: Some("169.254.255.1/30".into()),
        customer_address: Some("169.254.255.2/30".into()),
        state,
    }
}

fn desired(peers: Vec<PeerSpec>) -> Desired {
    Desired {
        vifs: vec![VifSpec {
            id: VifId("dxvif-a".into()),
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
            id: VifId("dxvif-a".into()),
            scope: Scope::region("us-east-1"),
            state: "available".into(),
            vif_type: "private".into(),
            connection_id: Some("dxcon-1".into()),
            peers,
        }],
        logical_redundancy: redundancy
            .map(|r| BTreeMap::from([("dxcon-1".to_string(), r.to_string())]))
            .unwrap_or_default(),
    }
}

use AddressFamily::{Ipv4, Ipv6};

#[test]
fn seed_plans_one_create_and_one_noop() {
    let d = desired(vec![spec("v4", Ipv4, 65000), spec("v6", Ipv6, 64600)]);
    let o = observed(
        vec![seen("dxpeer-1", Ipv4, 65000, PeerState::Available)],
        Some("no"),
    );
    let p = plan(&d, &o, &State::default());
    assert!(p.refusals.is_empty());
    assert_eq!(p.actions.len(), 2);
    assert_eq!(
        p.actions[0].kind,
        ActionKind::NoOp {
            bgp_peer_id: Some("dxpeer-1".into())
        }
    );
    assert_eq!(p.actions[1].kind, ActionKind::Create);
    assert_eq!(
        p.actions[1].address.0,
        "virtual_interface.dxvif-a.bgp_peer.v6"
    );
    assert_eq!(p.to_add(), 1);
}

#[test]
fn pending_peer_is_waited_for_not_recreated() {
    let d = desired(vec![spec("v6", Ipv6, 64600)]);
    let o = observed(
        vec![seen("dxpeer-2", Ipv6, 64600, PeerState::Pending)],
        None,
    );
    let p = plan(&d, &o, &State::default());
    assert_eq!(
        p.actions[0].kind,
        ActionKind::Wait {
            bgp_peer_id: Some("dxpeer-2".into()),
            state: PeerState::Pending
        }
    );
    assert_eq!(p.to_add(), 0);
    assert!(p.has_changes());
}

#[test]
fn deleted_peer_does_not_match() {
    let d = desired(vec![spec("v6", Ipv6, 64600)]);
    let o = observed(
        vec![seen("dxpeer-2", Ipv6, 64600, PeerState::Deleted)],
        None,
    );
    assert_eq!(
        plan(&d, &o, &State::default()).actions[0].kind,
        ActionKind::Create
    );
}

#[test]
fn addresses_must_match_when_given() {
    let mut s = spec("v4", Ipv4, 65000);
    s.amazon_address = Some("169.254.9.1/30".into());
    s.customer_address = Some("169.254.9.2/30".into());
    let o = observed(
        vec![seen("dxpeer-1", Ipv4, 65000, PeerState::Available)],
        Some("yes"),
    );
    assert_eq!(
        plan(&desired(vec![s]), &o, &State::default()).actions[0].kind,
        ActionKind::Create
    );
}

#[test]
fn second_peer_in_family_is_refused_without_logical_redundancy() {
    let d = desired(vec![spec("other", Ipv4, 65001)]);
    for redundancy in [Some("no"), Some("unknown"), None] {
        let o = observed(
            vec![seen("dxpeer-1", Ipv4, 65000, PeerState::Available)],
            redundancy,
        );
        let p = plan(&d, &o, &State::default());
        assert_eq!(p.refusals.len(), 1, "{redundancy:?}");
        assert_eq!(p.refusals[0].rule, "family-exclusive");
        assert_eq!(p.refusals[0].location.line, 7);
        assert!(p.actions.is_empty());
    }
    let o = observed(
        vec![seen("dxpeer-1", Ipv4, 65000, PeerState::Available)],
        Some("yes"),
    );
    let p = plan(&d, &o, &State::default());
    assert!(p.refusals.is_empty());
    assert_eq!(p.actions[0].kind, ActionKind::Create);
}

#[test]
fn redundancy_facts_are_asked_for_only_when_needed() {
    let d = desired(vec![spec("v4", Ipv4, 65000), spec("v6", Ipv6, 64600)]);
    let o = observed(
        vec![seen("dxpeer-1", Ipv4, 65000, PeerState::Available)],
        None,
    );
    assert!(scopes_needing_redundancy_facts(&d, &o, &State::default()).is_empty());
    let d = desired(vec![spec("v4", Ipv4, 65000), spec("v4b", Ipv4, 65001)]);
    assert_eq!(
        scopes_needing_redundancy_facts(&d, &o, &State::default())
            .into_iter()
            .collect::<Vec<_>>(),
        vec![Scope::region("us-east-1")]
    );
}

#[test]
fn missing_or_unusable_vif_is_refused_at_its_location() {
    let d = desired(vec![spec("v6", Ipv6, 64600)]);
    let p = plan(&d, &Observed::default(), &State::default());
    assert_eq!(p.refusals[0].rule, "vif-not-found");
    assert_eq!(p.refusals[0].location.line, 5);
    for state in ["deleted", "deleting", "rejected"] {
        let mut o = observed(vec![], None);
        o.vifs[0].state = state.into();
        assert_eq!(
            plan(&d, &o, &State::default()).refusals[0].rule,
            "vif-unusable"
        );
    }
    let mut o = observed(vec![], None);
    o.vifs[0].scope = Scope::region("eu-west-1");
    assert_eq!(
        plan(&d, &o, &State::default()).refusals[0].rule,
        "vif-not-found"
    );
}

#[test]
fn owned_peer_is_preferred_among_lookalikes() {
    let d = desired(vec![spec("v4", Ipv4, 65000)]);
    let o = observed(
        vec![
            seen("dxpeer-a", Ipv4, 65000, PeerState::Available),
            seen("dxpeer-b", Ipv4, 65000, PeerState::Available),
        ],
        Some("yes"),
    );
    let mut state = State::default();
    state.upsert(PeerRecord {
        address: PeerAddress::new(&VifId("dxvif-a".into()), "v4"),
        virtual_interface_id: VifId("dxvif-a".into()),
        region: "us-east-1".into(),
        profile: None,
        bgp_peer_id: "dxpeer-b".into(),
        address_family: Ipv4,
        asn: Asn::new(65000).unwrap(),
        amazon_address: None,
        customer_address: None,
    });
    assert_eq!(
        plan(&d, &o, &state).actions[0].kind,
        ActionKind::NoOp {
            bgp_peer_id: Some("dxpeer-b".into())
        }
    );
    assert_eq!(
        plan(&d, &o, &State::default()).actions[0].kind,
        ActionKind::NoOp {
            bgp_peer_id: Some("dxpeer-a".into())
        }
    );
}

fn arb_family() -> impl Strategy<Value = AddressFamily> {
    prop_oneof![Just(Ipv4), Just(Ipv6)]
}

fn arb_state() -> impl Strategy<Value = PeerState> {
    prop_oneof![
        Just(PeerState::Available),
        Just(PeerState::Pending),
        Just(PeerState::Verifying),
        Just(PeerState::Deleted),
        Just(PeerState::Deleting)
    ]
}

proptest! {
    /// Planning is deterministic, and once the creates have happened (and peers are available) nothing is left to do.
    #[test]
    fn deterministic_and_converges(
        wanted in prop::collection::vec((arb_family(), 64512u64..64520), 0..5),
        existing in prop::collection::vec((arb_family(), 64512u64..64520, arb_state()), 0..5),
        redundant in any::<bool>(),
    ) {
        let specs: Vec<PeerSpec> = wanted.iter().enumerate().map(|(i, (f, a))| spec(&format!("p{i}"), *f, *a)).collect();
        let peers: Vec<ObservedPeer> = existing.iter().enumerate().map(|(i, (f, a, s))| seen(&format!("dxpeer-{i}"), *f, *a, s.clone())).collect();
        let d = desired(specs);
        let mut o = observed(peers, Some(if redundant { "yes" } else { "no" }));
        let state = State::default();
        let first = plan(&d, &o, &state);
        prop_assert_eq!(&first, &plan(&d, &o, &state));

        // Apply: creates appear and everything provisioned becomes available.
        for (i, a) in first.creates().enumerate() {
            let mut p = seen(&format!("dxpeer-new{i}"), a.spec.family, a.spec.asn.get() as u64, PeerState::Available);
            p.amazon_address = None;
            p.customer_address = None;
            o.vifs[0].peers.push(p);
        }
        for p in &mut o.vifs[0].peers {
            if matches!(p.state, PeerState::Pending | PeerState::Verifying) {
                p.state = PeerState::Available;
            }
        }
        let second = plan(&d, &o, &state);
        prop_assert!(!second.has_changes(), "second plan still has changes: {:?}", second);
        prop_assert_eq!(second.refusals.len(), first.refusals.len());
    }
}
