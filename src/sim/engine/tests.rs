//! Simulator rule and lifecycle tests, run on the engine without HTTP.

use serde_json::json;

use super::*;

fn seed() -> Engine {
    let world = World::parse(include_str!("../../../examples/seed/world.json")).unwrap();
    Engine::new(world, Some(Duration::from_millis(1000)))
}

fn create(engine: &mut Engine, peer: Value) -> Result<Value, ApiError> {
    engine
        .handle(
            "CreateBGPPeer",
            "us-east-1",
            &json!({"virtualInterfaceId": "dxvif-fg1vuj3d", "newBGPPeer": peer}),
            1_000,
        )
        .map(|o| o.body)
}

fn message(r: Result<Value, ApiError>) -> String {
    let e = r.unwrap_err();
    assert_eq!(e.code, "DirectConnectClientException");
    e.message
}

#[test]
fn seed_ipv6_create_matches_the_reference_example() {
    let mut e = seed();
    let body = create(&mut e, json!({"asn": 64600, "addressFamily": "ipv6"})).unwrap();
    let vif = &body["virtualInterface"];
    assert_eq!(vif["virtualInterfaceId"], "dxvif-fg1vuj3d");
    assert_eq!(vif["vlan"], 125);
    let peers = vif["bgpPeers"].as_array().unwrap();
    assert_eq!(peers.len(), 2);
    let new = &peers[1];
    assert_eq!(new["bgpPeerState"], "pending");
    assert_eq!(new["bgpStatus"], "down");
    assert_eq!(new["asn"], 64600);
    assert_eq!(new["amazonAddress"], "2001:db8:1100:2f0:0:1:9cb4:4211/125");
    assert_eq!(
        new["customerAddress"],
        "2001:db8:1100:2f0:0:1:9cb4:4216/125"
    );
    let key = new["authKey"].as_str().unwrap();
    assert!((6..=80).contains(&key.len()));
    assert!(new["bgpPeerId"].as_str().unwrap().starts_with("dxpeer-"));
}

#[test]
fn lifecycle_pending_then_available_after_the_delay() {
    let mut e = seed();
    create(&mut e, json!({"asn": 64600, "addressFamily": "ipv6"})).unwrap();
    assert!(!e.advance(1_999));
    assert_eq!(
        e.world.virtual_interfaces[0].bgp_peers[1].state(),
        "pending"
    );
    assert!(e.advance(2_000));
    assert_eq!(
        e.world.virtual_interfaces[0].bgp_peers[1].state(),
        "available"
    );
}

#[test]
fn ipv6_with_addresses_is_refused() {
    let mut e = seed();
    let m = message(create(
        &mut e,
        json!({"asn": 64600, "addressFamily": "ipv6", "customerAddress": "2001:db8::2/125"}),
    ));
    assert!(m.contains("IPv6"), "{m}");
}

#[test]
fn family_exclusivity_depends_on_logical_redundancy() {
    let mut e = seed();
    let m = message(create(
        &mut e,
        json!({"asn": 65001, "addressFamily": "ipv4"}),
    ));
    assert!(m.contains("logical redundancy"), "{m}");
    e.world.connections[0].has_logical_redundancy = Some("yes".into());
    let body = create(&mut e, json!({"asn": 65001, "addressFamily": "ipv4"})).unwrap();
    let new = &body["virtualInterface"]["bgpPeers"][1];
    // Neither address given: a /30 from 169.254.0.0/16 is assigned.
    assert_eq!(new["amazonAddress"], "169.254.0.1/30");
    assert_eq!(new["customerAddress"], "169.254.0.2/30");
}

#[test]
fn auth_key_length_and_asn_rules() {
    let mut e = seed();
    assert!(message(create(
        &mut e,
        json!({"asn": 64600, "addressFamily": "ipv6", "authKey": "12345"})
    ))
    .contains("authKey"));
    let long = "k".repeat(81);
    assert!(message(create(
        &mut e,
        json!({"asn": 64600, "addressFamily": "ipv6", "authKey": long})
    ))
    .contains("authKey"));
    assert!(message(create(&mut e, json!({"asn": 0, "addressFamily": "ipv6"}))).contains("asn"));
    assert!(message(create(
        &mut e,
        json!({"asn": 2147483647, "addressFamily": "ipv6"})
    ))
    .contains("asnLong"));
    assert!(message(create(
        &mut e,
        json!({"asnLong": 4294967295_i64, "addressFamily": "ipv6"})
    ))
    .contains("asnLong"));
    assert!(message(create(&mut e, json!({"addressFamily": "ipv6"}))).contains("asn"));
    assert!(
        message(create(&mut e, json!({"asn": 1, "addressFamily": "ipv5"})))
            .contains("addressFamily")
    );
    // 4-byte ASN: asn reads 0, asnLong carries it; asnLong wins over asn.
    let body = create(
        &mut e,
        json!({"asn": 7, "asnLong": 4200000000_i64, "addressFamily": "ipv6", "authKey": "123456"}),
    )
    .unwrap();
    let new = &body["virtualInterface"]["bgpPeers"][1];
    assert_eq!(
        (new["asn"].as_i64(), new["asnLong"].as_i64()),
        (Some(0), Some(4_200_000_000))
    );
    assert_eq!(new["authKey"], "123456");
}

#[test]
fn ipv4_needs_both_addresses_or_neither() {
    let mut e = seed();
    e.world.connections[0].has_logical_redundancy = Some("yes".into());
    assert!(message(create(
        &mut e,
        json!({"asn": 65001, "addressFamily": "ipv4", "amazonAddress": "169.254.1.1/30"})
    ))
    .contains("both"));
}

#[test]
fn public_vif_needs_private_or_allow_listed_asn() {
    let mut e = seed();
    e.world.virtual_interfaces[0].virtual_interface_type = Some("public".into());
    assert!(message(create(
        &mut e,
        json!({"asn": 7224, "addressFamily": "ipv6"})
    ))
    .contains("allow list"));
    e.world.sim.public_asn_allow_list.push(7224);
    let body = create(&mut e, json!({"asn": 7224, "addressFamily": "ipv6"})).unwrap();
    assert_eq!(
        body["virtualInterface"]["bgpPeers"][1]["bgpPeerState"],
        "verifying"
    );
}

#[test]
fn unknown_deleted_and_rejected_vifs_are_refused() {
    let mut e = seed();
    let r = e.handle("CreateBGPPeer", "us-east-1", &json!({"virtualInterfaceId": "dxvif-nope", "newBGPPeer": {"asn": 1, "addressFamily": "ipv6"}}), 0);
    assert!(message(r.map(|o| o.body)).contains("does not exist"));
    let r = e.handle("CreateBGPPeer", "eu-west-1", &json!({"virtualInterfaceId": "dxvif-fg1vuj3d", "newBGPPeer": {"asn": 1, "addressFamily": "ipv6"}}), 0);
    assert!(
        message(r.map(|o| o.body)).contains("does not exist"),
        "VIFs are served only to their region"
    );
    for state in ["deleted", "rejected"] {
        e.world.virtual_interfaces[0].virtual_interface_state = Some(state.into());
        assert!(message(create(
            &mut e,
            json!({"asn": 64600, "addressFamily": "ipv6"})
        ))
        .contains(state));
    }
}

#[test]
fn describe_filters_by_region_and_pages() {
    let mut e = seed();
    let all = e
        .handle("DescribeVirtualInterfaces", "us-east-1", &json!({}), 0)
        .unwrap()
        .body;
    assert_eq!(all["virtualInterfaces"].as_array().unwrap().len(), 1);
    let other = e
        .handle("DescribeVirtualInterfaces", "eu-west-1", &json!({}), 0)
        .unwrap()
        .body;
    assert_eq!(other["virtualInterfaces"].as_array().unwrap().len(), 0);
    let conns = e
        .handle("DescribeConnections", "us-east-1", &json!({}), 0)
        .unwrap()
        .body;
    assert_eq!(conns["connections"][0]["hasLogicalRedundancy"], "no");
    let err = e
        .handle("DescribeVirtualGateways", "us-east-1", &json!({}), 0)
        .err()
        .unwrap();
    assert_eq!(err.code, "UnknownOperationException");
}
