//! The real aws-sdk-directconnect client (dxctl's adapter) over HTTP against an in-process simulator.

use dxctl::aws::{ClientSettings, DirectConnect, NewPeer, SdkDirectConnect};
use dxctl::model::{AddressFamily, Asn, PeerState, Scope, Secret, VifId};
use dxctl::sim::{self, SimOptions, World};

use super::support::repo;

async fn seed_sim() -> (sim::RunningSim, SdkDirectConnect) {
    let world = World::load(&repo().join("examples/seed/world.json")).unwrap();
    let running = sim::start(
        world,
        SimOptions {
            provision_delay: Some(std::time::Duration::from_secs(60)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let dc = SdkDirectConnect::new(&ClientSettings {
        endpoint_url: Some(running.endpoint_url()),
        static_credentials: Some(("AKIDTEST".into(), "secret".into())),
        region: Some("us-east-1".into()),
        profile: None,
        ..ClientSettings::default()
    })
    .await;
    (running, dc)
}

#[tokio::test]
async fn four_byte_asn_round_trips_through_asn_long() {
    let (running, dc) = seed_sim().await;
    let vif = VifId("dxvif-fg1vuj3d".into());
    let peer = NewPeer {
        family: AddressFamily::Ipv6,
        asn: Asn::parse("64086.59904").unwrap(),
        auth_key: Some(Secret::new("key-123456")),
        amazon_address: None,
        customer_address: None,
    };
    let created = dc
        .create_bgp_peer(&Scope::region("us-east-1"), &vif, &peer)
        .await
        .unwrap();
    let new = created
        .peers
        .iter()
        .find(|p| p.family == AddressFamily::Ipv6)
        .unwrap();
    assert_eq!(new.asn.get(), 4_200_000_000);
    assert_eq!(new.state, PeerState::Pending);
    assert_eq!(new.auth_key.as_ref().unwrap().expose(), "key-123456");

    let described = dc
        .describe_virtual_interfaces(&Scope::region("us-east-1"))
        .await
        .unwrap();
    assert_eq!(described.len(), 1);
    assert_eq!(described[0].peers.len(), 2);
    assert!(
        dc.describe_virtual_interfaces(&Scope::region("eu-west-1"))
            .await
            .unwrap()
            .is_empty(),
        "region comes from the SigV4 scope"
    );
    running.stop().await.unwrap();
}

#[tokio::test]
async fn service_errors_carry_code_and_message() {
    let (running, dc) = seed_sim().await;
    let peer = NewPeer {
        family: AddressFamily::Ipv4,
        asn: Asn::new(65001).unwrap(),
        auth_key: None,
        amazon_address: None,
        customer_address: None,
    };
    let err = dc
        .create_bgp_peer(
            &Scope::region("us-east-1"),
            &VifId("dxvif-fg1vuj3d".into()),
            &peer,
        )
        .await
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("DirectConnectClientException"), "{text}");
    assert!(text.contains("logical redundancy"), "{text}");
    let facts = dc
        .describe_logical_redundancy(&Scope::region("us-east-1"))
        .await
        .unwrap();
    assert_eq!(facts.get("dxcon-fguhmqlc").map(|r| r.as_str()), Some("no"));
    running.stop().await.unwrap();
}

#[tokio::test]
async fn pasted_cli_v2_timestamps_reach_the_sdk_as_epoch_seconds() {
    // AWS CLI v2 prints loaIssueTime as ISO 8601; the world keeps it and serves epoch seconds, which is what the
    // SDK's JSON deserializer accepts for a timestamp (a string there fails DescribeConnections, and dxctl with it).
    let mut text = std::fs::read_to_string(repo().join("examples/seed/world.json")).unwrap();
    text = text.replace(
        r#""connectionState": "available","#,
        r#""connectionState": "available", "loaIssueTime": "2023-11-14T22:13:20+00:00","#,
    );
    let world = World::parse(&text).unwrap();
    let running = sim::start(world, SimOptions::default()).await.unwrap();
    let dc = SdkDirectConnect::new(&ClientSettings {
        endpoint_url: Some(running.endpoint_url()),
        static_credentials: Some(("AKIDTEST".into(), "secret".into())),
        region: Some("us-east-1".into()),
        profile: None,
        ..ClientSettings::default()
    })
    .await;
    let out = dc
        .client("us-east-1")
        .describe_connections()
        .send()
        .await
        .unwrap();
    let loa = out.connections()[0].loa_issue_time().unwrap();
    assert_eq!(loa.secs(), 1_700_000_000);
    let facts = dc
        .describe_logical_redundancy(&Scope::region("us-east-1"))
        .await
        .unwrap();
    assert_eq!(facts.get("dxcon-fguhmqlc").map(|r| r.as_str()), Some("no"));
    running.stop().await.unwrap();
}
