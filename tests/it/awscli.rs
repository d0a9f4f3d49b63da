//! Conformance: awscli (botocore, which nobody on this team wrote) against `dxctl sim serve`, on the reference's own example.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

use super::support::*;

/// awscli from PyPI (`tests/requirements.txt`), run as `python3 -m awscli` so no PATH shim is needed.
/// Its absence is a failure, not a skip.
fn aws(sim: &SimProcess) -> Command {
    let probe = Command::new("python3")
        .args(["-m", "awscli", "--version"])
        .output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "awscli is required for the conformance tests: python3 -m pip install -r tests/requirements.txt"
    );
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "awscli"]);
    hermetic(&mut cmd)
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret")
        .args([
            "--endpoint-url",
            &sim.url(),
            "--region",
            "us-east-1",
            "--output",
            "json",
            "directconnect",
        ]);
    cmd
}

/// The output of the reference page's example, as printed there (the VIF with both peers, the new one pending).
const REFERENCE_OUTPUT: &str = r#"{"virtualInterface":{"virtualInterfaceState":"available","asn":65000,"vlan":125,"customerAddress":"169.254.255.2/30","ownerAccount":"123456789012","connectionId":"dxcon-fguhmqlc","addressFamily":"ipv4","virtualGatewayId":"vgw-f9eb0c90","virtualInterfaceId":"dxvif-fg1vuj3d","authKey":"0xC_ukbCerl6EYA0example","routeFilterPrefixes":[],"location":"EqDC2",
"bgpPeers":[{"bgpStatus":"down","customerAddress":"169.254.255.2/30","addressFamily":"ipv4","authKey":"0xC_ukbCerl6EYA0uexample","bgpPeerState":"available","amazonAddress":"169.254.255.1/30","asn":65000},
{"bgpStatus":"down","customerAddress":"2001:db8:1100:2f0:0:1:9cb4:4216/125","addressFamily":"ipv6","authKey":"0xS27kAIU_VHPjjAexample","bgpPeerState":"pending","amazonAddress":"2001:db8:1100:2f0:0:1:9cb4:4211/125","asn":64600}],
"amazonAddress":"169.254.255.1/30","virtualInterfaceType":"private","virtualInterfaceName":"Test"}}"#;

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn create_bgp_peer_reproduces_the_reference_example() {
    let tmp = tempfile::tempdir().unwrap();
    let world = seed_world(tmp.path(), "5s");
    let sim = SimProcess::start(&world, tmp.path(), &[]);
    let out = aws(&sim)
        .args([
            "create-bgp-peer",
            "--virtual-interface-id",
            "dxvif-fg1vuj3d",
            "--new-bgp-peer",
            "asn=64600,addressFamily=ipv6",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let want: Value = serde_json::from_str(REFERENCE_OUTPUT).unwrap();

    let (g, w) = (&got["virtualInterface"], &want["virtualInterface"]);
    assert!(
        keys(g).is_superset(&keys(w)),
        "missing VIF fields: {:?}",
        keys(w).difference(&keys(g)).collect::<Vec<_>>()
    );
    for field in [
        "virtualInterfaceId",
        "connectionId",
        "vlan",
        "asn",
        "virtualInterfaceType",
        "virtualInterfaceState",
        "location",
    ] {
        assert_eq!(g[field], w[field], "{field}");
    }
    let (gp, wp) = (
        g["bgpPeers"].as_array().unwrap(),
        w["bgpPeers"].as_array().unwrap(),
    );
    assert_eq!(gp.len(), 2);
    for (gpeer, wpeer) in gp.iter().zip(wp) {
        assert!(
            keys(gpeer).is_superset(&keys(wpeer)),
            "peer fields: {gpeer}"
        );
        for field in [
            "addressFamily",
            "asn",
            "bgpPeerState",
            "bgpStatus",
            "amazonAddress",
            "customerAddress",
        ] {
            assert_eq!(gpeer[field], wpeer[field], "{field}");
        }
        let key = gpeer["authKey"].as_str().unwrap();
        assert!((6..=80).contains(&key.len()));
    }
    assert_eq!(
        sim.requests()[0]["operation"],
        "CreateBGPPeer",
        "awscli sends OvertureService.CreateBGPPeer"
    );
}

#[test]
fn ipv6_with_customer_address_is_a_client_exception_awscli_recognises() {
    let tmp = tempfile::tempdir().unwrap();
    let world = seed_world(tmp.path(), "5s");
    let sim = SimProcess::start(&world, tmp.path(), &[]);
    let out = aws(&sim)
        .args([
            "create-bgp-peer",
            "--virtual-interface-id",
            "dxvif-fg1vuj3d",
            "--new-bgp-peer",
            "asn=64600,addressFamily=ipv6,customerAddress=2001:db8:1100:2f0:0:1:9cb4:4216/125",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("An error occurred (DirectConnectClientException) when calling the CreateBGPPeer operation"),
        "{stderr}"
    );
    assert_eq!(
        sim.world()["virtualInterfaces"][0]["bgpPeers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn unsupported_operation_is_a_json_error() {
    let tmp = tempfile::tempdir().unwrap();
    let world = seed_world(tmp.path(), "5s");
    let sim = SimProcess::start(&world, tmp.path(), &[]);
    let out = aws(&sim).args(["describe-locations"]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("(UnknownOperationException)"), "{stderr}");
    let describe = aws(&sim)
        .args(["describe-virtual-interfaces"])
        .output()
        .unwrap();
    assert!(describe.status.success(), "the simulator keeps serving");
}
