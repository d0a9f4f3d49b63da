//! `dxctl import` against the simulator on loopback: the round trip (import, plan shows only adoptions, apply
//! records them, plan says "No changes") on the seed and multi-region examples, a 1,000-VIF world, and an account
//! whose peers another tool made; filters, the split by connection, labels kept from the state, and its errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use super::support::*;

/// `dxctl --endpoint-url <sim> import ...` in `dir`.
fn import(dir: &Path, url: &str, args: &[&str]) -> Output {
    run(dxctl(dir)
        .args(["--endpoint-url", url, "import"])
        .args(args))
}

/// The generated variables: variable name -> the BGP peer id its description names.
fn key_variables(out: &Path) -> BTreeMap<String, String> {
    let Ok(text) = std::fs::read_to_string(out.join("variables.hcl")) else {
        return BTreeMap::new();
    };
    let mut vars = BTreeMap::new();
    for block in text.split("\nvariable \"").skip(1) {
        let name = block.split('"').next().unwrap().to_string();
        let peer = block
            .split("BGP auth key of ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or_else(|| panic!("no peer id in variable {name}"))
            .to_string();
        assert!(
            block.contains("sensitive   = true") && !block.contains("default"),
            "{block}"
        );
        vars.insert(name, peer);
    }
    vars
}

/// Every described peer's auth key, by BGP peer id, from the simulator's world.
fn world_keys(world: &Value) -> BTreeMap<String, String> {
    let mut keys = BTreeMap::new();
    for vif in world["virtualInterfaces"].as_array().unwrap() {
        for peer in vif["bgpPeers"].as_array().into_iter().flatten() {
            if let (Some(id), Some(key)) = (peer["bgpPeerId"].as_str(), peer["authKey"].as_str()) {
                keys.insert(id.to_string(), key.to_string());
            }
        }
    }
    keys
}

/// A `--var-file` (outside the config directory) giving each generated key variable its peer's live key.
fn key_file(dir: &Path, out: &Path, world: &Value) -> PathBuf {
    let keys = world_keys(world);
    let mut text = String::new();
    for (name, peer) in key_variables(out) {
        let key = keys
            .get(&peer)
            .unwrap_or_else(|| panic!("{name} names {peer}, which has no key"));
        text.push_str(&format!(
            "{name} = {}\n",
            serde_json::to_string(key).unwrap()
        ));
    }
    let path = dir.join("keys.hcl");
    std::fs::write(&path, text).unwrap();
    path
}

fn with_keys(cmd: &mut Command, keys: &Path) -> Output {
    run(cmd.arg("--var-file").arg(keys))
}

/// import -> fmt --check -> plan (only adoptions or waits, no API write) -> apply -> plan ("No changes").
/// Returns the import's output.
fn round_trip(dir: &Path, sim: &SimProcess, import_args: &[&str], adopt: usize) -> Output {
    let out_dir = dir.join("imported");
    let mut args = vec!["--out", out_dir.to_str().unwrap()];
    args.extend_from_slice(import_args);
    let imported = import(dir, &sim.url(), &args);
    assert_eq!(imported.code, 0, "{}{}", imported.stdout, imported.stderr);
    assert!(imported.stdout.contains("Imported "), "{}", imported.stdout);

    let fmt = run(dxctl(dir).args(["fmt", "--check"]).arg(&out_dir));
    assert_eq!(
        fmt.code, 0,
        "generated files are not as fmt writes them: {}{}",
        fmt.stdout, fmt.stderr
    );
    let keys = key_file(dir, &out_dir, &sim.world());

    let writes = |sim: &SimProcess| sim.count("CreateBGPPeer") + sim.count("DeleteBGPPeer");
    let before = writes(sim);
    let plan = with_keys(
        dxctl(dir)
            .args(["--endpoint-url", &sim.url(), "plan", "--json"])
            .arg(&out_dir),
        &keys,
    );
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    let json: Value = serde_json::from_str(&plan.stdout).unwrap();
    let summary = &json["summary"];
    assert_eq!(
        (&summary["add"], &summary["change"], &summary["destroy"]),
        (&json!(0), &json!(0), &json!(0)),
        "{summary}"
    );
    assert_eq!(
        summary["adopt"].as_u64().unwrap() + summary["wait"].as_u64().unwrap(),
        adopt as u64,
        "{summary}"
    );
    for change in json["changes"].as_array().unwrap() {
        let action = &change["actions"];
        assert!(
            action == &json!(["adopt"]) || action == &json!(["wait"]),
            "{change}"
        );
    }
    assert!(
        json["refusals"].as_array().unwrap().is_empty(),
        "{}",
        json["refusals"]
    );

    let apply = with_keys(
        dxctl(dir)
            .args([
                "--endpoint-url",
                &sim.url(),
                "apply",
                "--auto-approve",
                "--poll-interval",
                "100ms",
            ])
            .arg(&out_dir),
        &keys,
    );
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
    // Peers that were still pending are waited for, then recorded (not counted as adopted in the summary).
    assert!(
        apply
            .stdout
            .contains("Apply complete! Resources: 0 added, 0 changed, 0 destroyed, "),
        "{}",
        apply.stdout
    );
    let list = run(dxctl(dir).args(["state", "list"]));
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert_eq!(
        list.stdout
            .lines()
            .filter(|l| l.starts_with("virtual_interface."))
            .count(),
        adopt,
        "every imported peer is managed after the apply: {}",
        list.stdout
    );
    assert_eq!(writes(sim), before, "the round trip wrote to AWS");

    let again = with_keys(
        dxctl(dir)
            .args(["--endpoint-url", &sim.url(), "plan", "--detailed-exitcode"])
            .arg(&out_dir),
        &keys,
    );
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    imported
}

#[test]
fn seed_round_trip_adopts_the_existing_peer() {
    let tmp = tempfile::tempdir().unwrap();
    let world = seed_world(tmp.path(), "100ms");
    let sim = SimProcess::start(&world, tmp.path(), &[]);
    let out = round_trip(tmp.path(), &sim, &["--regions", "us-east-1"], 1);
    assert_eq!(sim.count("CreateBGPPeer"), 0);
    let text = std::fs::read_to_string(tmp.path().join("imported/us-east-1.hcl")).unwrap();
    assert!(text.contains("bgp_peer \"ipv4\""), "{text}");
    assert!(
        text.contains("auth_key         = var.auth_key_dxvif_fg1vuj3d_ipv4"),
        "{text}"
    );
    assert!(!text.contains("0xC_ukbCerl6EYA0uexample"));
    assert!(
        out.stdout
            .contains("  providers.hcl\n  us-east-1.hcl\n  variables.hcl\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn multi_region_example_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let world = repo().join("examples/multi-region/world.json");
    let sim = SimProcess::start(&world, tmp.path(), &[]);
    round_trip(tmp.path(), &sim, &["--regions", "us-east-1,eu-west-1"], 2);
    assert_eq!(sim.count("CreateBGPPeer"), 0);
    let providers = std::fs::read_to_string(tmp.path().join("imported/providers.hcl")).unwrap();
    assert!(providers.contains("alias  = \"eu_west_1\""), "{providers}");
    let eu = std::fs::read_to_string(tmp.path().join("imported/eu-west-1.hcl")).unwrap();
    assert!(eu.contains("provider = aws.eu_west_1"), "{eu}");
}

#[test]
fn thousand_vifs_in_three_regions_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let gen = tmp.path().join("gen");
    let status = Command::new("python3")
        .arg(repo().join("tests/bench/apply/gen.py"))
        .arg("--out")
        .arg(&gen)
        .args([
            "--vifs",
            "1000",
            "--peers",
            "0",
            "--delay",
            "50ms",
            "--latency",
            "0ms",
        ])
        .args([
            "--regions",
            "us-east-1,eu-west-1,ap-southeast-2",
            "--existing-v6-every",
            "3",
        ])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let sim = SimProcess::start(&gen.join("world.json"), tmp.path(), &[]);
    let peers = world_keys(&sim.world()).len();
    assert_eq!(peers, 1334);
    let out = round_trip(
        tmp.path(),
        &sim,
        &["--regions", "us-east-1,eu-west-1,ap-southeast-2"],
        peers,
    );
    assert!(
        out.stdout.contains("Imported 1000 virtual interfaces with 1334 BGP peers from us-east-1, eu-west-1, ap-southeast-2"),
        "{}",
        out.stdout
    );
    assert_eq!(sim.count("CreateBGPPeer"), 0);
}

/// An account whose peers other tools made: awscli adds peers with AWS-assigned addresses (two IPv4 with one ASN on
/// a VIF whose LAG has logical redundancy, IPv6 with a 4-byte ASN), one of them still pending when imported; the
/// world holds a deleting peer, a deleted VIF, and two IPv6 peers with one ASN (which no config can tell apart).
#[test]
fn peers_made_by_other_tools_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let peer = |id: &str, family: &str, asn: u64, state: &str, addrs: Option<(&str, &str)>| {
        let mut p = json!({"bgpPeerId": id, "addressFamily": family, "asn": asn, "authKey": format!("key-{id}"),
                           "bgpPeerState": state, "bgpStatus": "up"});
        if let Some((a, c)) = addrs {
            p["amazonAddress"] = json!(a);
            p["customerAddress"] = json!(c);
        }
        p
    };
    let vif = |id: &str, state: &str, conn: &str, peers: Vec<Value>| {
        json!({"virtualInterfaceId": id, "virtualInterfaceName": id, "virtualInterfaceType": "private",
               "virtualInterfaceState": state, "ownerAccount": "123456789012", "connectionId": conn,
               "location": "EqDC2", "vlan": 100, "asn": 65000, "amazonSideAsn": 64512,
               "virtualGatewayId": "vgw-1", "region": "us-east-1", "bgpPeers": peers})
    };
    let world = json!({
        "virtualInterfaces": [
            vif("dxvif-brown001", "available", "dxlag-brown001", vec![
                peer("dxpeer-brown001", "ipv4", 65000, "available", Some(("169.254.1.1/30", "169.254.1.2/30"))),
                peer("dxpeer-brown002", "ipv4", 65009, "deleting", Some(("169.254.2.1/30", "169.254.2.2/30"))),
            ]),
            vif("dxvif-brown002", "available", "dxlag-brown001", vec![
                peer("dxpeer-brown003", "ipv4", 65000, "available", Some(("169.254.3.1/30", "169.254.3.2/30"))),
                peer("dxpeer-brown004", "ipv6", 65500, "available", Some(("2001:db8::1/125", "2001:db8::2/125"))),
                peer("dxpeer-brown005", "ipv6", 65500, "available", Some(("2001:db8::9/125", "2001:db8::a/125"))),
            ]),
            vif("dxvif-brown003", "deleted", "dxcon-brown003", vec![
                peer("dxpeer-brown006", "ipv4", 65000, "deleted", None),
            ]),
        ],
        "lags": [{"lagId": "dxlag-brown001", "lagName": "lag", "lagState": "available", "region": "us-east-1",
                  "location": "EqDC2", "numberOfConnections": 2, "connectionsBandwidth": "10Gbps",
                  "hasLogicalRedundancy": "yes"}],
        "connections": [{"connectionId": "dxcon-brown003", "connectionName": "c", "connectionState": "available",
                         "region": "us-east-1", "location": "EqDC2", "bandwidth": "1Gbps",
                         "hasLogicalRedundancy": "no"}],
        "sim": {"provisionDelay": "1500ms", "deletionDelay": "1h", "seed": 3, "transitioningRule": "off"}
    });
    let world_path = tmp.path().join("world.json");
    std::fs::write(&world_path, world.to_string()).unwrap();
    let sim = SimProcess::start(&world_path, tmp.path(), &[]);
    for (vif, new_peer) in [
        ("dxvif-brown001", "asn=65000,addressFamily=ipv4"),
        ("dxvif-brown001", "asnLong=4200000000,addressFamily=ipv6"),
    ] {
        awscli_create(&sim, vif, new_peer);
    }
    let out = round_trip(tmp.path(), &sim, &["--regions", "us-east-1"], 4);
    assert_eq!(sim.count("CreateBGPPeer"), 2, "only awscli's two creates");
    for skipped in [
        "Skipped dxvif-brown001: peer dxpeer-brown002 is deleting",
        "Skipped dxvif-brown003: the virtual interface is deleted",
        "Skipped dxvif-brown002: peer dxpeer-brown004 (ipv6, ASN 65500) cannot be told apart",
        "Skipped dxvif-brown002: peer dxpeer-brown005 (ipv6, ASN 65500) cannot be told apart",
    ] {
        assert!(out.stderr.contains(skipped), "{skipped}: {}", out.stderr);
    }
    assert!(
        out.stdout.contains("with 4 BGP peers from us-east-1 into")
            && out
                .stdout
                .contains("(1 virtual interface and 3 peers skipped"),
        "{}",
        out.stdout
    );
    let text = std::fs::read_to_string(tmp.path().join("imported/us-east-1.hcl")).unwrap();
    assert!(text.contains("bgp_peer \"ipv4_2\""), "{text}");
    assert!(
        text.contains("asn            = 4200000000 # asdot 64086.59904"),
        "{text}"
    );
    assert!(
        text.contains(", pending when imported"),
        "imported while the awscli peers were pending: {text}"
    );
    assert!(!text.contains("dxpeer-brown002") && !text.contains("dxvif-brown003"));
}

fn awscli_create(sim: &SimProcess, vif: &str, new_peer: &str) {
    let mut cmd = Command::new("python3");
    hermetic(&mut cmd)
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .args([
            "-m",
            "awscli",
            "--endpoint-url",
            &sim.url(),
            "--region",
            "us-east-1",
        ])
        .args([
            "directconnect",
            "create-bgp-peer",
            "--virtual-interface-id",
            vif,
        ])
        .args(["--new-bgp-peer", new_peer]);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Peers dxctl already manages keep the labels its state records, so a re-import plans no change at all.
#[test]
fn managed_peers_keep_their_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let world = repo().join("examples/multi-region/world.json");
    let sim = SimProcess::start(&world, tmp.path(), &["--provision-delay", "50ms"]);
    let apply = run(dxctl(tmp.path())
        .args([
            "--endpoint-url",
            &sim.url(),
            "apply",
            "--auto-approve",
            "--poll-interval",
            "100ms",
        ])
        .env("DXCTL_VAR_eu_auth_key", "eu-key-123456")
        .arg(repo().join("examples/multi-region")));
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
    let out_dir = tmp.path().join("imported");
    let imported = import(
        tmp.path(),
        &sim.url(),
        &[
            "--regions",
            "eu-west-1,us-east-1",
            "--split-by",
            "connection",
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    let names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        names,
        [
            "dxcon-euw1a001.hcl",
            "dxlag-use1a001.hcl",
            "providers.hcl",
            "variables.hcl"
        ]
    );
    let lag = std::fs::read_to_string(out_dir.join("dxlag-use1a001.hcl")).unwrap();
    for label in ["primary_v4", "backup_v4", "v6"] {
        assert!(
            lag.contains(&format!("bgp_peer \"{label}\"")),
            "{label}: {lag}"
        );
    }
    let keys = key_file(tmp.path(), &out_dir, &sim.world());
    let plan = with_keys(
        dxctl(tmp.path())
            .args(["--endpoint-url", &sim.url(), "plan", "--detailed-exitcode"])
            .arg(&out_dir),
        &keys,
    );
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
}

#[test]
fn filters_select_vifs_and_connections() {
    let tmp = tempfile::tempdir().unwrap();
    let world = repo().join("examples/multi-region/world.json");
    let sim = SimProcess::start(&world, tmp.path(), &[]);
    let regions = "--regions=us-east-1,eu-west-1";
    let by_vif = import(
        tmp.path(),
        &sim.url(),
        &[regions, "--vif", "dxvif-euw1a001", "--out", "a"],
    );
    assert_eq!(by_vif.code, 0, "{}", by_vif.stderr);
    let a = std::fs::read_dir(tmp.path().join("a")).unwrap().count();
    assert_eq!(a, 3, "providers, variables and eu-west-1 only");
    assert!(tmp.path().join("a/eu-west-1.hcl").exists());
    let by_conn = import(
        tmp.path(),
        &sim.url(),
        &[regions, "--connection", "dxlag-use1a001", "--out", "b"],
    );
    assert_eq!(by_conn.code, 0, "{}", by_conn.stderr);
    assert!(
        tmp.path().join("b/us-east-1.hcl").exists() && !tmp.path().join("b/eu-west-1.hcl").exists()
    );
}

#[test]
fn errors_are_one_line_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let world = seed_world(tmp.path(), "100ms");
    let sim = SimProcess::start(&world, tmp.path(), &[]);
    let one_line_error = |out: &Output, says: &str| {
        assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
        assert!(out.stdout.is_empty(), "{}", out.stdout);
        let errors: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("Error"))
            .collect();
        assert_eq!(errors.len(), 1, "{}", out.stderr);
        assert!(errors[0].contains(says), "{says}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"));
    };
    let r = ["--regions", "us-east-1"];

    let out = import(
        tmp.path(),
        &sim.url(),
        &[
            r[0],
            r[1],
            "--vif",
            "dxvif-fg1vuj3d,dxvif-nothere1",
            "--out",
            "x",
        ],
    );
    one_line_error(
        &out,
        "no virtual interface dxvif-nothere1 in the regions described",
    );
    let out = import(
        tmp.path(),
        &sim.url(),
        &[r[0], r[1], "--connection", "dxcon-nothere", "--out", "x"],
    );
    one_line_error(
        &out,
        "no virtual interface on connection or LAG dxcon-nothere",
    );
    assert!(!tmp.path().join("x").exists());

    // No region from --regions, --region or the AWS config chain.
    let out = run(dxctl(tmp.path()).args(["--endpoint-url", &sim.url(), "import", "--out", "x"]));
    one_line_error(&out, "no region to import from");

    // An --out that cannot be a directory.
    std::fs::write(tmp.path().join("file"), "").unwrap();
    let out = import(tmp.path(), &sim.url(), &[r[0], r[1], "--out", "file"]);
    one_line_error(&out, "--out file exists and is not a directory");
    let out = import(tmp.path(), &sim.url(), &[r[0], r[1], "--out", "file/sub"]);
    one_line_error(&out, "cannot create file/sub");

    // An existing file: refused, listed, and nothing else written.
    std::fs::create_dir_all(tmp.path().join("y")).unwrap();
    std::fs::write(tmp.path().join("y/us-east-1.hcl"), "# mine\n").unwrap();
    let out = import(tmp.path(), &sim.url(), &[r[0], r[1], "--out", "y"]);
    one_line_error(&out, "y already holds us-east-1.hcl; nothing was written");
    assert_eq!(std::fs::read_dir(tmp.path().join("y")).unwrap().count(), 1);
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("y/us-east-1.hcl")).unwrap(),
        "# mine\n"
    );

    // A region with nothing in it: nothing written, and said so.
    let out = import(
        tmp.path(),
        &sim.url(),
        &["--regions", "eu-west-1", "--out", "z"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("Nothing to import"), "{}", out.stdout);
    assert!(!tmp.path().join("z").exists());
    assert_eq!(sim.count("CreateBGPPeer") + sim.count("DeleteBGPPeer"), 0);
}

#[test]
fn sandbox_import_runs_as_the_readme_shows() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(dxctl(tmp.path())
        .arg("--sandbox")
        .arg(repo().join("examples/seed/world.json"))
        .args(["import", "--regions", "us-east-1", "--out", "imported"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("Imported 1 virtual interface with 1 BGP peer from us-east-1"),
        "{}",
        out.stdout
    );
    let plan = run(dxctl(tmp.path())
        .arg("--sandbox")
        .arg(repo().join("examples/seed/world.json"))
        .args(["plan", "imported"])
        .env(
            "DXCTL_VAR_auth_key_dxvif_fg1vuj3d_ipv4",
            "0xC_ukbCerl6EYA0uexample",
        ));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout
            .contains("Plan: 1 to adopt, 0 to add, 0 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
}
