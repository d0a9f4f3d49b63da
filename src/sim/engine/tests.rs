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

/// The seed's VIF, to change by hand (its id and peers stay, so the indexes need no rebuild).
fn vif_mut(e: &mut Engine) -> &mut Vif {
    std::sync::Arc::make_mut(&mut e.world.virtual_interfaces[0])
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
    // The router configuration, as on the reference page (with this run's generated key).
    let expected = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<logical_connection id=\"dxvif-fg1vuj3d\">\n <vlan>125</vlan>\n \
         <customer_address>169.254.255.2/30</customer_address>\n <amazon_address>169.254.255.1/30</amazon_address>\n \
         <bgp_asn>65000</bgp_asn>\n <bgp_auth_key>0xC_ukbCerl6EYA0uexample</bgp_auth_key>\n \
         <ipv6_customer_address>2001:db8:1100:2f0:0:1:9cb4:4216/125</ipv6_customer_address>\n \
         <ipv6_amazon_address>2001:db8:1100:2f0:0:1:9cb4:4211/125</ipv6_amazon_address>\n <ipv6_bgp_asn>64600</ipv6_bgp_asn>\n \
         <ipv6_bgp_auth_key>{key}</ipv6_bgp_auth_key>\n <amazon_bgp_asn>7224</amazon_bgp_asn>\n \
         <connection_type>private</connection_type>\n</logical_connection>\n"
    );
    assert_eq!(vif["customerRouterConfig"].as_str().unwrap(), expected);
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
    vif_mut(&mut e).virtual_interface_type = Some("public".into());
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
        vif_mut(&mut e).virtual_interface_state = Some(state.into());
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

fn peer_state(e: &Engine, id: &str) -> Option<String> {
    e.world
        .virtual_interfaces
        .iter()
        .flat_map(|v| &v.bgp_peers)
        .find(|p| p.bgp_peer_id.as_deref() == Some(id))
        .map(|p| p.state().to_string())
}

fn redundant_seed() -> Engine {
    let mut e = seed();
    e.world.connections[0].has_logical_redundancy = Some("yes".into());
    e
}

fn delete(e: &mut Engine, input: Value, now: u64) -> Result<Value, ApiError> {
    e.handle("DeleteBGPPeer", "us-east-1", &input, now)
        .map(|o| o.body)
}

#[test]
fn delete_peer_lifecycle_and_rules() {
    let mut e = redundant_seed();
    let body = create(&mut e, json!({"asn": 65001, "addressFamily": "ipv4"})).unwrap();
    let new_id = body["virtualInterface"]["bgpPeers"][1]["bgpPeerId"]
        .as_str()
        .unwrap()
        .to_string();
    // Still pending: refused as transitioning.
    let m = message(delete(
        &mut e,
        json!({"virtualInterfaceId": "dxvif-fg1vuj3d", "bgpPeerId": new_id}),
        1_500,
    ));
    assert!(m.contains("transitioning state"), "{m}");
    e.advance(2_000);
    // By asn + customerAddress.
    let body = delete(&mut e, json!({"virtualInterfaceId": "dxvif-fg1vuj3d", "asn": 65001, "customerAddress": "169.254.0.2/30"}), 2_000).unwrap();
    assert_eq!(
        body["virtualInterface"]["bgpPeers"][1]["bgpPeerState"],
        "deleting"
    );
    // The remaining peer is now the last live one.
    let m = message(delete(
        &mut e,
        json!({"virtualInterfaceId": "dxvif-fg1vuj3d", "bgpPeerId": "dxpeer-fg1v4v4e"}),
        2_100,
    ));
    assert!(
        m.contains("The last BGP Peer on a Virtual Interface cannot be deleted"),
        "{m}"
    );
    let m = message(delete(
        &mut e,
        json!({"virtualInterfaceId": "dxvif-fg1vuj3d", "bgpPeerId": new_id}),
        2_100,
    ));
    assert!(m.contains("already deleting"), "{m}");
    e.advance(2_999);
    assert_eq!(peer_state(&e, &new_id).as_deref(), Some("deleting"));
    e.advance(3_000);
    assert_eq!(peer_state(&e, &new_id).as_deref(), Some("deleted"));
    let retention = DEFAULT_DELETED_RETENTION.as_millis() as u64;
    e.advance(3_000 + retention - 1);
    assert_eq!(
        peer_state(&e, &new_id).as_deref(),
        Some("deleted"),
        "still listed as deleted"
    );
    e.advance(3_000 + retention);
    assert_eq!(
        peer_state(&e, &new_id),
        None,
        "gone once the retention is over"
    );
    let m = message(delete(
        &mut e,
        json!({"virtualInterfaceId": "dxvif-fg1vuj3d", "bgpPeerId": "dxpeer-nope"}),
        3_000 + retention,
    ));
    assert!(m.contains("does not exist"), "{m}");
}

#[test]
fn create_vifs_return_the_documented_shapes_and_go_available() {
    let mut e = seed();
    let private = e
        .handle(
            "CreatePrivateVirtualInterface",
            "us-east-1",
            &json!({"connectionId": "dxcon-fguhmqlc", "newPrivateVirtualInterface": {"virtualInterfaceName": "p", "vlan": 200, "asn": 65100, "virtualGatewayId": "vgw-1"}}),
            0,
        )
        .unwrap()
        .body;
    assert_eq!(
        private["virtualInterfaceState"], "pending",
        "bare VirtualInterface"
    );
    assert_eq!(private["vlan"], 200);
    assert_eq!(private["bgpPeers"][0]["bgpPeerState"], "pending");
    assert_eq!(private["region"], "us-east-1");
    let transit = e
        .handle(
            "CreateTransitVirtualInterface",
            "us-east-1",
            &json!({"connectionId": "dxcon-fguhmqlc", "newTransitVirtualInterface": {"virtualInterfaceName": "t", "vlan": 201, "asnLong": 4200000000_i64, "directConnectGatewayId": "gw"}}),
            0,
        )
        .unwrap()
        .body;
    assert_eq!(
        transit["virtualInterface"]["virtualInterfaceType"], "transit",
        "wrapped"
    );
    assert_eq!(transit["virtualInterface"]["asn"], 0);
    let public = e
        .handle(
            "CreatePublicVirtualInterface",
            "us-east-1",
            &json!({"connectionId": "dxcon-fguhmqlc", "newPublicVirtualInterface": {"virtualInterfaceName": "pub", "vlan": 202, "asn": 65200, "amazonAddress": "203.0.113.1/30", "customerAddress": "203.0.113.2/30"}}),
            0,
        )
        .unwrap()
        .body;
    assert_eq!(public["virtualInterfaceState"], "verifying");
    let id = private["virtualInterfaceId"].as_str().unwrap().to_string();
    e.advance(1_000);
    let vif = e
        .world
        .virtual_interfaces
        .iter()
        .find(|v| v.virtual_interface_id == id)
        .unwrap();
    assert_eq!(vif.state(), "available");
    assert_eq!(vif.bgp_peers[0].state(), "available");
    // VLAN reuse and an unknown connection are refused.
    let dup = e.handle(
        "CreatePrivateVirtualInterface",
        "us-east-1",
        &json!({"connectionId": "dxcon-fguhmqlc", "newPrivateVirtualInterface": {"virtualInterfaceName": "p2", "vlan": 200, "asn": 65100}}),
        0,
    );
    assert!(message(dup.map(|o| o.body)).contains("VLAN 200"));
    let unknown = e.handle(
        "CreatePrivateVirtualInterface",
        "us-east-1",
        &json!({"connectionId": "dxcon-nope", "newPrivateVirtualInterface": {"virtualInterfaceName": "p3", "vlan": 9, "asn": 65100}}),
        0,
    );
    assert!(message(unknown.map(|o| o.body)).contains("does not exist"));
}

#[test]
fn delete_vif_goes_deleting_then_deleted_and_refuses_peer_changes() {
    let mut e = seed();
    let body = e
        .handle(
            "DeleteVirtualInterface",
            "us-east-1",
            &json!({"virtualInterfaceId": "dxvif-fg1vuj3d"}),
            0,
        )
        .unwrap()
        .body;
    assert_eq!(body, json!({"virtualInterfaceState": "deleting"}));
    assert!(message(create(
        &mut e,
        json!({"asn": 64600, "addressFamily": "ipv6"})
    ))
    .contains("deleting"));
    e.advance(1_000);
    assert_eq!(e.world.virtual_interfaces[0].state(), "deleted");
    assert_eq!(
        e.world.virtual_interfaces[0].bgp_peers[0].state(),
        "deleted"
    );
}

#[test]
fn manual_approval_keeps_public_peers_verifying() {
    let mut e = seed();
    vif_mut(&mut e).virtual_interface_type = Some("public".into());
    e.world.sim.manual_approval = true;
    let body = create(&mut e, json!({"asn": 64600, "addressFamily": "ipv6"})).unwrap();
    let id = body["virtualInterface"]["bgpPeers"][1]["bgpPeerId"]
        .as_str()
        .unwrap()
        .to_string();
    e.advance(1_000_000);
    assert_eq!(peer_state(&e, &id).as_deref(), Some("verifying"));
    assert_eq!(e.approve(Some(&id), 2_000), 1);
    assert_eq!(peer_state(&e, &id).as_deref(), Some("available"));
}

#[test]
fn faults_are_deterministic_from_the_seed() {
    let roll = |seed: u64| {
        let mut e = seed_with(|w| {
            w.sim.seed = Some(seed);
            w.sim.faults.throttle_rate = 0.3;
            w.sim.faults.transitioning_rate = 0.3;
        });
        (0..200)
            .map(|i| {
                e.roll_fault(if i % 2 == 0 {
                    "CreateBGPPeer"
                } else {
                    "DescribeLags"
                })
            })
            .collect::<Vec<_>>()
    };
    let a = roll(7);
    assert_eq!(a, roll(7));
    assert_ne!(a, roll(8));
    let throttled = a
        .iter()
        .filter(|f| **f == Some(RequestFault::Throttle))
        .count();
    assert!(
        (30..=90).contains(&throttled),
        "about 30% of 200: {throttled}"
    );
    // Transitioning never hits a read.
    assert!(a
        .iter()
        .skip(1)
        .step_by(2)
        .all(|f| *f != Some(RequestFault::Transitioning)));
}

#[test]
fn stuck_and_end_deleted_peers() {
    let mut e = seed_with(|w| w.sim.faults.stuck_pending_rate = 1.0);
    let body = create(&mut e, json!({"asn": 64600, "addressFamily": "ipv6"})).unwrap();
    let id = body["virtualInterface"]["bgpPeers"][1]["bgpPeerId"]
        .as_str()
        .unwrap()
        .to_string();
    e.advance(u64::MAX / 2);
    assert_eq!(peer_state(&e, &id).as_deref(), Some("pending"));

    let mut e = seed_with(|w| w.sim.faults.end_deleted_rate = 1.0);
    let body = create(&mut e, json!({"asn": 64600, "addressFamily": "ipv6"})).unwrap();
    let id = body["virtualInterface"]["bgpPeers"][1]["bgpPeerId"]
        .as_str()
        .unwrap()
        .to_string();
    e.advance(2_000);
    assert_eq!(peer_state(&e, &id).as_deref(), Some("deleted"));
}

fn seed_with(change: impl FnOnce(&mut World)) -> Engine {
    let mut world = World::parse(include_str!("../../../examples/seed/world.json")).unwrap();
    change(&mut world);
    Engine::new(world, Some(Duration::from_millis(1000)))
}

#[test]
fn describe_by_unknown_id_is_refused_and_interconnects_are_listed() {
    let mut e = seed_with(|w| {
        w.interconnects.push(serde_json::from_value(json!({"interconnectId": "dxcon-ic1", "hasLogicalRedundancy": "yes", "region": "us-east-1"})).unwrap());
    });
    let ics = e
        .handle("DescribeInterconnects", "us-east-1", &json!({}), 0)
        .unwrap()
        .body;
    assert_eq!(ics["interconnects"][0]["interconnectId"], "dxcon-ic1");
    for (op, field) in [
        ("DescribeConnections", "connectionId"),
        ("DescribeLags", "lagId"),
        ("DescribeInterconnects", "interconnectId"),
    ] {
        let r = e.handle(op, "us-east-1", &json!({ field: "dx-unknown" }), 0);
        let what = op.trim_start_matches("Describe").trim_end_matches('s');
        let m = message(r.map(|o| o.body));
        assert_eq!(
            m,
            format!("Could not find {what} with ID dx-unknown"),
            "{op}"
        );
    }
}

fn create_at(e: &mut Engine, peer: Value, now: u64) -> Result<Value, ApiError> {
    e.handle(
        "CreateBGPPeer",
        "us-east-1",
        &json!({"virtualInterfaceId": "dxvif-fg1vuj3d", "newBGPPeer": peer}),
        now,
    )
    .map(|o| o.body)
}

fn described_peers(e: &mut Engine, now: u64) -> Vec<String> {
    let body = e
        .handle("DescribeVirtualInterfaces", "us-east-1", &json!({}), now)
        .unwrap()
        .body;
    body["virtualInterfaces"][0]["bgpPeers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["bgpPeerId"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn describes_lag_writes_by_up_to_the_consistency_window() {
    let mut e = seed_with(|w| w.sim.consistency_window = Some("2s".into()));
    let body = create_at(
        &mut e,
        json!({"asn": 64600, "addressFamily": "ipv6"}),
        10_000,
    )
    .unwrap();
    // The create's own answer is fresh.
    assert_eq!(
        body["virtualInterface"]["bgpPeers"][1]["bgpPeerState"],
        "pending"
    );
    let new = body["virtualInterface"]["bgpPeers"][1]["bgpPeerId"]
        .as_str()
        .unwrap()
        .to_string();
    let mut missed = 0;
    for i in 0..200 {
        // Within the window the new peer is sometimes missing, never anything else.
        let peers = described_peers(&mut e, 10_000 + (i % 20) * 100);
        if !peers.contains(&new) {
            missed += 1;
        }
    }
    assert!(
        (40..=190).contains(&missed),
        "a stale view now and then: {missed} of 200"
    );
    for now in [12_000, 12_001, 15_000] {
        for _ in 0..50 {
            assert!(
                described_peers(&mut e, now).contains(&new),
                "never staler than the window"
            );
        }
    }
    // Per-region override: a region without a window is always fresh.
    let mut e = seed_with(|w| {
        w.sim.consistency_window = Some("2s".into());
        w.sim
            .consistency_window_by_region
            .insert("us-east-1".into(), "0s".into());
    });
    let body = create_at(
        &mut e,
        json!({"asn": 64600, "addressFamily": "ipv6"}),
        10_000,
    )
    .unwrap();
    let new = body["virtualInterface"]["bgpPeers"][1]["bgpPeerId"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..50 {
        assert!(described_peers(&mut e, 10_001).contains(&new));
    }
}

#[test]
fn a_stale_view_replays_lifecycle_steps_to_its_moment() {
    let mut e = seed_with(|w| w.sim.consistency_window = Some("500ms".into()));
    let body = create_at(&mut e, json!({"asn": 64600, "addressFamily": "ipv6"}), 0).unwrap();
    let new = body["virtualInterface"]["bgpPeers"][1]["bgpPeerId"]
        .as_str()
        .unwrap()
        .to_string();
    // Long after provisioning (1s) and with no change since, every view shows it available.
    for _ in 0..30 {
        let body = e
            .handle("DescribeVirtualInterfaces", "us-east-1", &json!({}), 60_000)
            .unwrap()
            .body;
        let peer = body["virtualInterfaces"][0]["bgpPeers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["bgpPeerId"] == new.as_str())
            .cloned()
            .unwrap();
        assert_eq!(peer["bgpPeerState"], "available");
    }
}

#[test]
fn peer_changes_wait_while_the_vif_or_another_peer_is_mid_change() {
    let mut e = redundant_seed();
    create_at(&mut e, json!({"asn": 65001, "addressFamily": "ipv4"}), 0).unwrap();
    // Another peer is pending: a second create and a delete of the first peer are refused.
    let m = message(create_at(
        &mut e,
        json!({"asn": 65002, "addressFamily": "ipv4"}),
        500,
    ));
    assert!(m.ends_with("is in a transitioning state."), "{m}");
    assert!(m.contains("dxvif-fg1vuj3d"), "{m}");
    let m = message(delete(
        &mut e,
        json!({"virtualInterfaceId": "dxvif-fg1vuj3d", "bgpPeerId": "dxpeer-fg1v4v4e"}),
        500,
    ));
    assert!(m.contains("transitioning state"), "{m}");
    // Once it is available, both go through.
    e.advance(1_000);
    create_at(
        &mut e,
        json!({"asn": 65002, "addressFamily": "ipv4"}),
        1_000,
    )
    .unwrap();
    // The rule can be relaxed.
    let mut e = redundant_seed();
    e.world.sim.transitioning_rule = Some(crate::sim::world::TransitioningRule::Vif);
    create_at(&mut e, json!({"asn": 65001, "addressFamily": "ipv4"}), 0).unwrap();
    create_at(&mut e, json!({"asn": 65002, "addressFamily": "ipv4"}), 1).unwrap();
    // A pending VIF refuses peer changes under the default and the `vif` rule, not under `off`.
    for (rule, refused) in [
        (None, true),
        (Some(crate::sim::world::TransitioningRule::Vif), true),
        (Some(crate::sim::world::TransitioningRule::Off), false),
    ] {
        let mut e = redundant_seed();
        e.world.sim.transitioning_rule = rule;
        vif_mut(&mut e).virtual_interface_state = Some("pending".into());
        let r = create_at(&mut e, json!({"asn": 65001, "addressFamily": "ipv4"}), 0);
        assert_eq!(r.is_err(), refused, "{rule:?}");
    }
}

#[test]
fn bgp_status_goes_up_after_the_delay_unless_held_down() {
    let mut e = seed_with(|w| w.sim.bgp_up_delay = Some("3s".into()));
    let body = create_at(&mut e, json!({"asn": 64600, "addressFamily": "ipv6"}), 0).unwrap();
    let new = body["virtualInterface"]["bgpPeers"][1]["bgpPeerId"]
        .as_str()
        .unwrap()
        .to_string();
    let status = |e: &Engine| {
        e.world.virtual_interfaces[0]
            .bgp_peers
            .iter()
            .find(|p| p.bgp_peer_id.as_deref() == Some(new.as_str()))
            .and_then(|p| p.bgp_status.clone())
    };
    e.advance(1_000);
    assert_eq!(peer_state(&e, &new).as_deref(), Some("available"));
    assert_eq!(status(&e).as_deref(), Some("down"));
    e.advance(4_000);
    assert_eq!(status(&e).as_deref(), Some("up"));

    let mut e = seed_with(|w| w.sim.faults.bgp_down_rate = 1.0);
    create_at(&mut e, json!({"asn": 64600, "addressFamily": "ipv6"}), 0).unwrap();
    e.advance(1_000_000);
    assert_eq!(
        e.world.virtual_interfaces[0].bgp_peers[1]
            .bgp_status
            .as_deref(),
        Some("down")
    );
}

#[test]
fn every_fault_kind_is_drawn_and_write_only_faults_spare_reads() {
    let mut e = seed_with(|w| {
        let f = &mut w.sim.faults;
        f.throttle_rate = 0.1;
        f.server_error_rate = 0.1;
        f.drop_before_rate = 0.1;
        f.transitioning_rate = 0.1;
        f.server_error_after_rate = 0.1;
        f.bad_gateway_after_rate = 0.1;
        f.drop_rate = 0.1;
        f.late_write_rate = 0.1;
    });
    let writes: Vec<_> = (0..2_000).map(|_| e.roll_fault("CreateBGPPeer")).collect();
    let reads: Vec<_> = (0..2_000)
        .map(|_| e.roll_fault("DescribeVirtualInterfaces"))
        .collect();
    use RequestFault::*;
    for fault in [
        Throttle,
        ServerErrorBefore,
        DropBefore,
        Transitioning,
        ServerErrorAfter,
        BadGatewayAfter,
        DropAfter,
        LateWrite,
    ] {
        assert!(writes.contains(&Some(fault)), "{fault:?} on writes");
    }
    assert!(!reads.contains(&Some(Transitioning)));
    assert!(!reads.contains(&Some(LateWrite)));
    assert!(reads.contains(&Some(DropAfter)));
}

#[test]
fn rate_limits_per_operation_and_region() {
    let mut e = seed_with(|w| {
        w.sim.rate_limits.insert(
            "mutating".into(),
            crate::sim::world::RateLimit {
                per_second: 2.0,
                burst: Some(2.0),
            },
        );
        w.sim.rate_limits.insert(
            "DeleteBGPPeer".into(),
            crate::sim::world::RateLimit {
                per_second: 1.0,
                burst: None,
            },
        );
    });
    assert!(e.within_rate_limit("CreateBGPPeer", "us-east-1", 0));
    assert!(e.within_rate_limit("CreateBGPPeer", "us-east-1", 0));
    assert!(!e.within_rate_limit("CreateBGPPeer", "us-east-1", 0));
    assert!(e.within_rate_limit("CreateBGPPeer", "eu-west-1", 0));
    assert!(e.within_rate_limit("DeleteBGPPeer", "us-east-1", 0));
    assert!(!e.within_rate_limit("DeleteBGPPeer", "us-east-1", 10));
    assert!(e.within_rate_limit("DescribeVirtualInterfaces", "us-east-1", 0));
    assert!(e.within_rate_limit("CreateBGPPeer", "us-east-1", 500));
}

#[test]
fn describes_page_at_most_100_with_tokens_that_survive_changes() {
    let mut e = seed_with(|w| {
        let template = w.virtual_interfaces[0].as_ref().clone();
        for i in 0..150 {
            let mut v = template.clone();
            v.virtual_interface_id = format!("dxvif-p{i:03}");
            v.bgp_peers.clear();
            w.virtual_interfaces.push(std::sync::Arc::new(v));
        }
    });
    let first = e
        .handle(
            "DescribeVirtualInterfaces",
            "us-east-1",
            &json!({"maxResults": 1000}),
            0,
        )
        .unwrap()
        .body;
    assert_eq!(first["virtualInterfaces"].as_array().unwrap().len(), 100);
    let token = first["nextToken"].as_str().unwrap().to_string();
    // A VIF is removed from the first page's range before the second page is read.
    e.world
        .virtual_interfaces
        .retain(|v| v.virtual_interface_id != "dxvif-p010");
    e.reindex();
    let second = e
        .handle(
            "DescribeVirtualInterfaces",
            "us-east-1",
            &json!({"maxResults": 1000, "nextToken": token}),
            0,
        )
        .unwrap()
        .body;
    let ids: Vec<&str> = first["virtualInterfaces"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["virtualInterfaces"].as_array().unwrap())
        .map(|v| v["virtualInterfaceId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 151, "nothing skipped, nothing twice");
    assert!(second.get("nextToken").is_none());
    let bad = e.handle(
        "DescribeConnections",
        "us-east-1",
        &json!({"nextToken": token}),
        0,
    );
    assert!(message(bad.map(|o| o.body)).contains("nextToken"));
}

/// Creates, deletes (one by peer id alone), lifecycles and a purge on a seed world with two VIFs; returns every
/// generated id and assigned address in order.
fn allocation_scenario() -> Vec<String> {
    let mut e = seed_with(|w| {
        w.connections[0].has_logical_redundancy = Some("yes".into());
        w.sim.deleted_retention = Some("3s".into());
        w.sim.deletion_delay = Some("1s".into());
        w.sim.transitioning_rule = Some(crate::sim::world::TransitioningRule::Off);
    });
    let mut out = Vec::new();
    let mut note = |body: &Value| {
        let vif = body.get("virtualInterface").unwrap_or(body);
        let peers = vif["bgpPeers"].as_array().unwrap();
        let p = peers.last().unwrap();
        out.push(format!(
            "{} {} {} {}",
            vif["virtualInterfaceId"].as_str().unwrap(),
            p["bgpPeerId"].as_str().unwrap(),
            p["amazonAddress"].as_str().unwrap(),
            p["customerAddress"].as_str().unwrap()
        ));
        p["bgpPeerId"].as_str().unwrap().to_string()
    };
    let vif = e
        .handle(
            "CreatePrivateVirtualInterface",
            "us-east-1",
            &json!({"connectionId": "dxcon-fguhmqlc", "newPrivateVirtualInterface": {"virtualInterfaceName": "b", "vlan": 300, "asn": 65100, "addressFamily": "ipv6"}}),
            0,
        )
        .unwrap()
        .body;
    note(&vif);
    let mut v6 = Vec::new();
    for _ in 0..3 {
        let body = create_at(&mut e, json!({"asn": 64600, "addressFamily": "ipv6"}), 0).unwrap();
        v6.push(note(&body));
    }
    let body = create_at(&mut e, json!({"asn": 64601, "addressFamily": "ipv4"}), 0).unwrap();
    note(&body);
    e.advance(1_500);
    // Deleted by peer id alone (no virtualInterfaceId), then purged after the retention.
    e.handle(
        "DeleteBGPPeer",
        "us-east-1",
        &json!({"bgpPeerId": v6[1]}),
        1_500,
    )
    .unwrap();
    e.advance(10_000);
    assert_eq!(peer_state(&e, &v6[1]), None, "purged");
    for asn in [64700, 64701] {
        let body = create_at(&mut e, json!({"asn": asn, "addressFamily": "ipv6"}), 10_000).unwrap();
        note(&body);
    }
    out
}

#[test]
fn ids_and_addresses_follow_the_seed_as_before_the_indexes() {
    // Recorded with the simulator at 04f6e47, which scanned the whole world for every id and address.
    // The purged peer's /125 (…4220) is the first one handed out again.
    let expected = [
        "dxvif-d2k600no dxpeer-66gk7oxt 2001:db8:1100:2f0:0:1:9cb4:4211/125 2001:db8:1100:2f0:0:1:9cb4:4216/125",
        "dxvif-fg1vuj3d dxpeer-2iucst7c 2001:db8:1100:2f0:0:1:9cb4:4219/125 2001:db8:1100:2f0:0:1:9cb4:421e/125",
        "dxvif-fg1vuj3d dxpeer-a5aginuv 2001:db8:1100:2f0:0:1:9cb4:4221/125 2001:db8:1100:2f0:0:1:9cb4:4226/125",
        "dxvif-fg1vuj3d dxpeer-r6hfy2hx 2001:db8:1100:2f0:0:1:9cb4:4229/125 2001:db8:1100:2f0:0:1:9cb4:422e/125",
        "dxvif-fg1vuj3d dxpeer-1p8aw0xl 169.254.0.1/30 169.254.0.2/30",
        "dxvif-fg1vuj3d dxpeer-auawsnis 2001:db8:1100:2f0:0:1:9cb4:4221/125 2001:db8:1100:2f0:0:1:9cb4:4226/125",
        "dxvif-fg1vuj3d dxpeer-u4dq3ylu 2001:db8:1100:2f0:0:1:9cb4:4231/125 2001:db8:1100:2f0:0:1:9cb4:4236/125",
    ];
    assert_eq!(allocation_scenario(), expected);
}

mod index_properties {
    use super::*;
    use crate::sim::engine::index::IPV6_POOL_START;
    use proptest::prelude::*;
    use std::collections::BTreeSet;
    use std::net::Ipv6Addr;

    #[derive(Clone, Debug)]
    enum Op {
        CreateV6(usize),
        CreateV4(usize),
        /// The nth listed peer, by id, with or without its VIF's id.
        DeletePeer(usize, bool),
        CreateVif(bool),
        DeleteVif(usize),
        Advance(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0usize..8).prop_map(Op::CreateV6),
            1 => (0usize..8).prop_map(Op::CreateV4),
            3 => (0usize..64, any::<bool>()).prop_map(|(n, with_vif)| Op::DeletePeer(n, with_vif)),
            1 => any::<bool>().prop_map(Op::CreateVif),
            1 => (0usize..8).prop_map(Op::DeleteVif),
            3 => (0u64..4_000).prop_map(Op::Advance),
        ]
    }

    /// What the simulator did before its indexes: every IPv6 /125 in use, by scanning the world.
    fn lowest_free_by_scan(w: &World) -> u128 {
        let used: BTreeSet<u128> = w
            .virtual_interfaces
            .iter()
            .flat_map(|v| &v.bgp_peers)
            .flat_map(|p| [&p.amazon_address, &p.customer_address])
            .flatten()
            .filter_map(|a| a.split('/').next()?.parse::<Ipv6Addr>().ok())
            .map(|a| u128::from(a) & !7)
            .collect();
        let mut base = IPV6_POOL_START;
        while used.contains(&base) {
            base += 8;
        }
        base
    }

    fn listed_peers(w: &World) -> Vec<(String, String)> {
        w.virtual_interfaces
            .iter()
            .flat_map(|v| {
                v.bgp_peers.iter().filter_map(move |p| {
                    Some((v.virtual_interface_id.clone(), p.bgp_peer_id.clone()?))
                })
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// After any sequence of creates, deletes, lifecycle steps and purges, the incrementally kept index equals
        /// one rebuilt from scratch; a new peer's id and /125 are never those of a listed peer, and its /125 is
        /// the lowest free one, as the whole-world scan chose it.
        #[test]
        fn the_index_always_equals_a_rebuild(ops in proptest::collection::vec(op(), 1..60)) {
            let mut e = seed_with(|w| {
                w.connections[0].has_logical_redundancy = Some("yes".into());
                w.sim.deleted_retention = Some("2s".into());
                w.sim.deletion_delay = Some("500ms".into());
                w.sim.transitioning_rule = Some(crate::sim::world::TransitioningRule::Off);
            });
            let mut now = 0u64;
            let mut vlan = 300;
            for op in ops {
                let before = e.world.clone();
                let vifs: Vec<String> =
                    before.virtual_interfaces.iter().map(|v| v.virtual_interface_id.clone()).collect();
                let peers = listed_peers(&before);
                let pick = |n: usize| match vifs.len() {
                    0 => "dxvif-gone".to_string(),
                    len => vifs[n % len].clone(),
                };
                let result = match &op {
                    Op::CreateV6(n) | Op::CreateV4(n) => {
                        let family = if matches!(op, Op::CreateV6(_)) { "ipv6" } else { "ipv4" };
                        e.handle("CreateBGPPeer", "us-east-1", &json!({"virtualInterfaceId": pick(*n),
                            "newBGPPeer": {"asn": 64600, "addressFamily": family}}), now)
                    }
                    Op::DeletePeer(n, with_vif) if !peers.is_empty() => {
                        let (vif, id) = &peers[n % peers.len()];
                        let input = if *with_vif {
                            json!({"virtualInterfaceId": vif, "bgpPeerId": id})
                        } else {
                            json!({"bgpPeerId": id})
                        };
                        e.handle("DeleteBGPPeer", "us-east-1", &input, now)
                    }
                    Op::DeletePeer(..) => continue,
                    Op::CreateVif(v6) => {
                        vlan += 1;
                        let family = if *v6 { "ipv6" } else { "ipv4" };
                        e.handle("CreatePrivateVirtualInterface", "us-east-1", &json!({"connectionId": "dxcon-fguhmqlc",
                            "newPrivateVirtualInterface": {"virtualInterfaceName": "x", "vlan": vlan, "asn": 65100,
                            "addressFamily": family}}), now)
                    }
                    Op::DeleteVif(n) => e.handle("DeleteVirtualInterface", "us-east-1",
                        &json!({"virtualInterfaceId": pick(*n)}), now),
                    Op::Advance(ms) => {
                        now += ms;
                        e.advance(now);
                        prop_assert_eq!(e.index.agrees_with(&e.world.virtual_interfaces), Ok(()));
                        continue;
                    }
                };
                prop_assert_eq!(e.index.agrees_with(&e.world.virtual_interfaces), Ok(()), "after {:?}", op);
                let Ok(outcome) = result else { continue };
                let body = &outcome.body;
                let vif = body.get("virtualInterface").unwrap_or(body);
                let Some(new) = vif["bgpPeers"].as_array().and_then(|p| p.last()) else { continue };
                if matches!(op, Op::DeletePeer(..) | Op::DeleteVif(_)) {
                    continue;
                }
                let id = new["bgpPeerId"].as_str().unwrap();
                prop_assert!(!peers.iter().any(|(_, p)| p == id), "{} was listed already", id);
                if matches!(op, Op::CreateVif(_)) {
                    let vif_id = vif["virtualInterfaceId"].as_str().unwrap().to_string();
                    prop_assert!(!vifs.contains(&vif_id), "{} was listed already", vif_id);
                }
                if new["addressFamily"] == "ipv6" {
                    let amazon: Ipv6Addr = new["amazonAddress"].as_str().unwrap().trim_end_matches("/125").parse().unwrap();
                    prop_assert_eq!(u128::from(amazon) & !7, lowest_free_by_scan(&before));
                }
            }
        }
    }
}
