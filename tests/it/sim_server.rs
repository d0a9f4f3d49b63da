//! dxctl against `dxctl sim serve` over HTTP: endpoint selection, batched polling, and no calls for bad config.

use super::support::*;

#[test]
fn apply_via_endpoint_url_polls_once_per_region_per_round() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let world = seed_world(cwd, "600ms");
    let sim = SimProcess::start(&world, cwd, &[]);
    let config = config_dir(cwd, "cfg", SEED_HCL);
    let out = run(dxctl(cwd)
        .args([
            "--endpoint-url",
            &sim.url(),
            "apply",
            "--auto-approve",
            "--poll-interval",
            "100ms",
        ])
        .arg(&config));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(sim.count("CreateBGPPeer"), 1);
    assert_eq!(
        sim.count("DescribeConnections"),
        0,
        "redundancy facts are not needed for the seed"
    );
    // One describe to observe, then one per polling round (about 600ms / 100ms), never one per peer.
    let describes = sim.count("DescribeVirtualInterfaces");
    assert!((2..=12).contains(&describes), "describes: {describes}");
    assert!(sim.requests().iter().all(|r| r["region"] == "us-east-1"));
    let world = sim.world();
    let v6 = &world["virtualInterfaces"][0]["bgpPeers"][1];
    assert_eq!(v6["bgpPeerState"], "available");
}

#[test]
fn standard_endpoint_variable_selects_the_simulator() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let world = seed_world(cwd, "100ms");
    let sim = SimProcess::start(&world, cwd, &[]);
    let config = config_dir(cwd, "cfg", SEED_HCL);
    let out = run(dxctl(cwd)
        .env("AWS_ENDPOINT_URL_DIRECT_CONNECT", sim.url())
        .args(["plan", "--detailed-exitcode"])
        .arg(&config));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("Plan: 1 to adopt, 1 to add, 0 to change, 0 to destroy."),
        "{}",
        out.stdout
    );
    assert_eq!(sim.count("DescribeVirtualInterfaces"), 1);
}

#[test]
fn invalid_config_exits_1_with_location_and_sends_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let world = seed_world(cwd, "100ms");
    let sim = SimProcess::start(&world, cwd, &[]);
    let bad = SEED_HCL.replace(
        "asn            = 64600",
        "asn            = 64600\n    customer_address = \"2001:db8::2/125\"",
    );
    let config = config_dir(cwd, "bad", &bad);
    for cmd in ["plan", "apply"] {
        let url = sim.url();
        let mut args = vec!["--endpoint-url", url.as_str(), cmd];
        if cmd == "apply" {
            args.push("--auto-approve");
        }
        let out = run(dxctl(cwd).args(&args).arg(&config));
        assert_eq!(out.code, 1, "{cmd}: {}", out.stderr);
        assert!(
            out.stderr.contains("error[ipv6-addresses]") && out.stderr.contains("main.hcl:16:5"),
            "{cmd}: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty());
    }
    assert_eq!(
        sim.requests().len(),
        0,
        "no API call at all for an invalid config"
    );
}

#[test]
fn second_peer_without_logical_redundancy_is_refused_before_any_create() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let world = seed_world(cwd, "100ms");
    let sim = SimProcess::start(&world, cwd, &[]);
    let hcl = SEED_HCL.replace(
        "  bgp_peer \"v6\" {",
        "  bgp_peer \"v4b\" {\n    address_family = \"ipv4\"\n    asn = 65001\n  }\n\n  bgp_peer \"v6\" {",
    );
    let config = config_dir(cwd, "cfg", &hcl);
    let out = run(dxctl(cwd)
        .args(["--endpoint-url", &sim.url(), "apply", "--auto-approve"])
        .arg(&config));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("main.hcl:13:3: error[family-exclusive]"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("hasLogicalRedundancy is no"),
        "{}",
        out.stderr
    );
    assert_eq!(sim.count("CreateBGPPeer"), 0, "nothing half-applied");
    assert_eq!(sim.count("DescribeConnections"), 1);
}

#[test]
fn missing_vif_is_refused_at_its_config_line() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let world = seed_world(cwd, "100ms");
    let sim = SimProcess::start(&world, cwd, &[]);
    let config = config_dir(
        cwd,
        "cfg",
        &SEED_HCL.replace("dxvif-fg1vuj3d", "dxvif-missing1"),
    );
    let out = run(dxctl(cwd)
        .args(["--endpoint-url", &sim.url(), "plan"])
        .arg(&config));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("main.hcl:5:1: error[vif-not-found]"),
        "{}",
        out.stderr
    );
}

#[test]
fn peers_on_many_vifs_are_polled_in_one_describe_per_round() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    // The seed world plus three more VIFs in the same region, each on a connection of its own.
    let text = std::fs::read_to_string(seed_world(cwd, "500ms")).unwrap();
    let mut world: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut hcl = String::from("provider \"aws\" {\n  region = \"us-east-1\"\n}\n");
    for i in 1..=3 {
        let mut vif = world["virtualInterfaces"][0].clone();
        vif["virtualInterfaceId"] = format!("dxvif-extra{i}").into();
        vif["connectionId"] = format!("dxcon-extra{i}").into();
        vif["bgpPeers"][0]["bgpPeerId"] = format!("dxpeer-extra{i}").into();
        world["virtualInterfaces"].as_array_mut().unwrap().push(vif);
        hcl.push_str(&format!(
            "virtual_interface \"dxvif-extra{i}\" {{\n  bgp_peer \"v6\" {{\n    address_family = \"ipv6\"\n    asn = 64600\n  }}\n}}\n"
        ));
    }
    let world_path = cwd.join("many.json");
    std::fs::write(&world_path, world.to_string()).unwrap();
    let sim = SimProcess::start(&world_path, cwd, &[]);
    let config = config_dir(cwd, "cfg", &hcl);
    let out = run(dxctl(cwd)
        .args([
            "--endpoint-url",
            &sim.url(),
            "apply",
            "--auto-approve",
            "--poll-interval",
            "100ms",
        ])
        .arg(&config));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("Resources: 3 added"), "{}", out.stdout);
    assert_eq!(sim.count("CreateBGPPeer"), 3);

    // After the last create, describes come one per polling round: never two in the same round.
    let requests = sim.requests();
    let last_create = requests
        .iter()
        .rposition(|r| r["operation"] == "CreateBGPPeer")
        .unwrap();
    let times: Vec<time::OffsetDateTime> = requests[last_create + 1..]
        .iter()
        .filter(|r| r["operation"] == "DescribeVirtualInterfaces")
        .map(|r| {
            time::OffsetDateTime::parse(
                r["time"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap()
        })
        .collect();
    assert!(times.len() >= 2, "polled {} times", times.len());
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= time::Duration::milliseconds(80),
            "two describes {gap} apart: one per peer, not per round"
        );
    }
}
