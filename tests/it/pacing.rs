//! Pacing: an apply of many new peers against a simulator that limits CreateBGPPeer per region converges with no
//! failed peer, the applier slowing to the limit instead of retrying into it. (How close to peers / rate it gets is a
//! benchmark figure: tests/bench/pacing.sh.)

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::support::*;

const VIFS: usize = 60;

fn world() -> Value {
    let vifs: Vec<Value> = (0..VIFS)
        .map(|i| {
            json!({
                "virtualInterfaceId": format!("dxvif-pace{i:04}"),
                "virtualInterfaceType": "private",
                "virtualInterfaceState": "available",
                "connectionId": "dxcon-pace0001",
                "vlan": 100 + i,
                "region": "us-east-1",
                "bgpPeers": [{
                    "bgpPeerId": format!("dxpeer-pace{i:04}"), "addressFamily": "ipv4", "asn": 65000,
                    "amazonAddress": "169.254.250.1/30", "customerAddress": "169.254.250.2/30",
                    "authKey": "0xexistingkey", "bgpPeerState": "available", "bgpStatus": "up"
                }]
            })
        })
        .collect();
    json!({
        "virtualInterfaces": vifs,
        "connections": [{"connectionId": "dxcon-pace0001", "region": "us-east-1", "hasLogicalRedundancy": "yes"}],
        "sim": {"provisionDelay": "200ms"}
    })
}

fn config() -> String {
    let mut hcl = String::from("provider \"aws\" {\n  region = \"us-east-1\"\n}\n");
    for i in 0..VIFS {
        write!(
            hcl,
            "\nvirtual_interface \"dxvif-pace{i:04}\" {{\n  bgp_peer \"v6\" {{\n    address_family = \"ipv6\"\n    asn = 65001\n  }}\n}}\n"
        )
        .unwrap();
    }
    hcl
}

#[test]
fn an_apply_paces_itself_to_the_create_rate_limit_and_fails_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let world_path = tmp.path().join("world.json");
    std::fs::write(&world_path, world().to_string()).unwrap();
    let cfg = config_dir(tmp.path(), "cfg", &config());
    let sim = SimProcess::start(
        &world_path,
        tmp.path(),
        &["--rate-limit", "CreateBGPPeer=10/5"],
    );
    let out = run(dxctl(tmp.path())
        .arg("--endpoint-url")
        .arg(sim.url())
        .args([
            "--state",
            "state.json",
            "apply",
            "--auto-approve",
            "--poll-interval",
            "200ms",
        ])
        .arg(&cfg));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!("Resources: {VIFS} added")),
        "{}",
        out.stdout
    );
    let requests = sim.requests();
    let accepted = requests
        .iter()
        .filter(|r| r["operation"] == "CreateBGPPeer" && r["status"] == 200)
        .count();
    let throttled = requests
        .iter()
        .filter(|r| r["operation"] == "CreateBGPPeer" && r["fault"] == "rate-limit")
        .count();
    assert_eq!(accepted, VIFS, "one accepted create per peer, no duplicate");
    // Pacing keeps throttled calls to a fraction of the work, where blind retries would hit the wall again and again.
    assert!(
        throttled < VIFS / 2,
        "{throttled} throttled creates for {VIFS} peers:\n{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("pacing CreateBGPPeer"),
        "the applier says it paces: {}",
        out.stderr
    );
}
