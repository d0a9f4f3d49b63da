//! Settling intents: adopt what a lost create made, wait while no describe can tell, forget what did not happen.

use super::*;
use crate::model::{AddressFamily, Asn, ObservedVif, PeerState, VifId};

const VIF: &str = "dxvif-a";

fn peer(id: &str, asn: u64, state: PeerState) -> ObservedPeer {
    ObservedPeer {
        bgp_peer_id: Some(id.into()),
        family: AddressFamily::Ipv6,
        asn: Asn::new(asn).unwrap(),
        auth_key: None,
        amazon_address: Some(format!("2001:db8::{asn:x}1/125")),
        customer_address: Some(format!("2001:db8::{asn:x}6/125")),
        state,
        bgp_status: crate::model::BgpStatus::Unknown,
    }
}

fn observed(peers: Vec<ObservedPeer>, described_at: u64) -> Observed {
    let scope = Scope::region("us-east-1");
    let mut o = Observed {
        vifs: vec![ObservedVif {
            id: VifId(VIF.into()),
            scope: scope.clone(),
            state: "available".into(),
            vif_type: "private".into(),
            connection_id: Some("dxcon-a".into()),
            peers,
        }],
        ..Observed::default()
    };
    o.described_at_ms.insert(scope, described_at);
    o
}

fn address(label: &str) -> PeerAddress {
    PeerAddress::new(&VifId(VIF.into()), label)
}

fn create_intent(label: &str, asn: u64, known: &[&str], deposes: Option<&str>) -> Intent {
    Intent {
        address: address(label),
        virtual_interface_id: VifId(VIF.into()),
        region: "us-east-1".into(),
        profile: None,
        call: Call::CreateBGPPeer(Creation {
            address_family: AddressFamily::Ipv6,
            asn: Asn::new(asn).unwrap(),
            amazon_address: None,
            customer_address: None,
            known_peer_ids: known.iter().map(|s| s.to_string()).collect(),
            deposes: deposes.map(str::to_string),
        }),
        sent_at_ms: 1_000,
        conclusive_after_ms: 5_000,
    }
}

fn record(label: &str, id: &str, asn: u64) -> PeerRecord {
    PeerRecord {
        address: address(label),
        virtual_interface_id: VifId(VIF.into()),
        region: "us-east-1".into(),
        profile: None,
        bgp_peer_id: id.into(),
        address_family: AddressFamily::Ipv6,
        asn: Asn::new(asn).unwrap(),
        amazon_address: None,
        customer_address: None,
        deposed: vec![],
        listed_by_ms: None,
    }
}

fn state(records: Vec<PeerRecord>, intents: Vec<Intent>) -> State {
    State {
        peers: records,
        intents,
        ..State::default()
    }
}

#[test]
fn a_lost_create_whose_peer_appears_is_adopted_at_its_address() {
    let s = state(
        vec![],
        vec![create_intent("v6", 64600, &["dxpeer-old"], None)],
    );
    let o = observed(
        vec![
            peer("dxpeer-old", 64600, PeerState::Available),
            peer("dxpeer-new", 64600, PeerState::Pending),
        ],
        2_000,
    );
    let r = resolve(&s, &o);
    assert!(r.state.intents.is_empty());
    let rec = r.state.peer(&address("v6")).expect("recorded");
    assert_eq!(rec.bgp_peer_id, "dxpeer-new");
    assert_eq!(
        r.settlements[0].outcome,
        Outcome::Adopted {
            bgp_peer_id: "dxpeer-new".into(),
            state: "pending".into()
        }
    );
    // Settling again changes nothing.
    let again = resolve(&r.state, &o);
    assert_eq!(again.state, r.state);
    assert!(again.settlements.is_empty());
}

#[test]
fn absent_is_only_conclusive_from_a_describe_that_started_late_enough() {
    let s = state(vec![], vec![create_intent("v6", 64600, &[], None)]);
    let early = resolve(&s, &observed(vec![], 4_999));
    assert_eq!(
        early.settlements[0].outcome,
        Outcome::Unknown {
            conclusive_after_ms: 5_000
        }
    );
    assert_eq!(early.state, s, "an unknown intent stays");
    assert!(!early.settlements[0].settles());
    let late = resolve(&s, &observed(vec![], 5_000));
    assert_eq!(late.settlements[0].outcome, Outcome::NotCreated);
    assert!(late.state.intents.is_empty());
}

#[test]
fn a_peer_that_was_there_before_or_belongs_elsewhere_is_never_taken() {
    // dxpeer-x matches, but another address owns it; dxpeer-old was known when the call was sent.
    let s = state(
        vec![record("other", "dxpeer-x", 64600)],
        vec![create_intent("v6", 64600, &["dxpeer-old"], None)],
    );
    let o = observed(
        vec![
            peer("dxpeer-old", 64600, PeerState::Available),
            peer("dxpeer-x", 64600, PeerState::Available),
        ],
        9_000,
    );
    let r = resolve(&s, &o);
    assert_eq!(r.settlements[0].outcome, Outcome::NotCreated);
    assert!(r.state.peer(&address("v6")).is_none());
}

#[test]
fn a_made_peer_that_died_settles_the_intent_without_adopting() {
    let s = state(vec![], vec![create_intent("v6", 64600, &[], None)]);
    let r = resolve(
        &s,
        &observed(vec![peer("dxpeer-new", 64600, PeerState::Deleted)], 2_000),
    );
    assert!(matches!(
        r.settlements[0].outcome,
        Outcome::CreatedThenGone { .. }
    ));
    assert!(r.state.intents.is_empty());
    assert!(r.state.peers.is_empty());
}

#[test]
fn an_interrupted_create_before_destroy_deposes_the_old_peer() {
    let s = state(
        vec![record("v6", "dxpeer-old", 64600)],
        vec![create_intent(
            "v6",
            64600,
            &["dxpeer-old"],
            Some("dxpeer-old"),
        )],
    );
    let o = observed(
        vec![
            peer("dxpeer-old", 64600, PeerState::Available),
            peer("dxpeer-new", 64600, PeerState::Available),
        ],
        2_000,
    );
    let rec = resolve(&s, &o).state.peer(&address("v6")).cloned().unwrap();
    assert_eq!(rec.bgp_peer_id, "dxpeer-new");
    assert_eq!(rec.deposed, vec!["dxpeer-old".to_string()]);
}

#[test]
fn delete_intents_are_settled_by_what_the_peer_shows() {
    let intent = |id: &str| Intent {
        call: Call::DeleteBGPPeer {
            bgp_peer_id: id.into(),
        },
        ..create_intent("v6", 64600, &[], None)
    };
    let cases = [
        (Some(PeerState::Deleting), 1_000, Outcome::Deleted),
        (None, 1_000, Outcome::Deleted),
        (Some(PeerState::Available), 1_000, Outcome::DeleteUnknown),
        (Some(PeerState::Available), 5_000, Outcome::NotDeleted),
    ];
    for (seen, at, want) in cases {
        let peers = seen
            .map(|s| peer("dxpeer-1", 64600, s))
            .into_iter()
            .collect();
        let r = resolve(
            &state(vec![], vec![intent("dxpeer-1")]),
            &observed(peers, at),
        );
        assert_eq!(r.settlements[0].outcome, want);
        assert!(
            r.state.intents.is_empty(),
            "a delete is settled by the plan either way"
        );
    }
}

#[test]
fn the_planner_never_lists_an_adopted_peer_as_unmanaged() {
    use crate::model::{Desired, Location, PeerSpec, VifSpec};
    let s = state(vec![], vec![create_intent("v6", 64600, &[], None)]);
    let o = observed(vec![peer("dxpeer-new", 64600, PeerState::Available)], 2_000);
    let r = resolve(&s, &o);
    // The config no longer declares the peer: the adopted record is deleted, not left unmanaged.
    let desired = Desired {
        moved: vec![],
        vifs: vec![VifSpec {
            id: VifId(VIF.into()),
            scope: Scope::region("us-east-1"),
            peers: vec![PeerSpec {
                label: "keep".into(),
                family: AddressFamily::Ipv4,
                asn: Asn::new(65000).unwrap(),
                auth_key: None,
                amazon_address: None,
                customer_address: None,
                location: Location::default(),
                sensitive: Default::default(),
            }],
            location: Location::default(),
        }],
    };
    let plan = crate::plan::plan(&desired, &o, &r.state);
    assert!(plan.unmanaged.is_empty(), "{:?}", plan.unmanaged);
    assert!(plan
        .changes
        .iter()
        .any(|c| c.address == address("v6") && c.action.kind() == crate::plan::Kind::Delete));
}

#[test]
fn when_more_than_one_new_peer_could_be_the_one_made_nothing_is_adopted() {
    let s = state(
        vec![],
        vec![create_intent("v6", 64600, &["dxpeer-old"], None)],
    );
    let o = observed(
        vec![
            peer("dxpeer-a", 64600, PeerState::Available),
            peer("dxpeer-b", 64600, PeerState::Pending),
            peer("dxpeer-c", 64600, PeerState::Deleted),
        ],
        9_000,
    );
    let r = resolve(&s, &o);
    assert_eq!(
        r.settlements[0].outcome,
        Outcome::Ambiguous {
            candidates: vec!["dxpeer-a".into(), "dxpeer-b".into()]
        }
    );
    assert!(!r.settlements[0].settles());
    assert_eq!(r.state, s, "the intent stays and nothing is recorded");
    // One of them deleted by hand: the one left is adopted.
    let o = observed(
        vec![
            peer("dxpeer-a", 64600, PeerState::Deleting),
            peer("dxpeer-b", 64600, PeerState::Available),
        ],
        9_000,
    );
    assert_eq!(
        resolve(&s, &o)
            .state
            .peer(&address("v6"))
            .unwrap()
            .bgp_peer_id,
        "dxpeer-b"
    );
}
