//! Conformance: clients nobody on the team wrote, boto3 (tests/conformance/test_boto3.py, and over Smithy RPC v2 CBOR
//! tests/conformance/test_boto3_cbor.py) and the AWS SDK for JavaScript v3 (tests/conformance/js/check.mjs), against
//! `dxctl sim serve` on purpose-built worlds.
//!
//! Each world below is a fixture of the boto3 suite (or of check.mjs): it names itself in `conformanceFixture`, and
//! the suite runs the test classes written for it. Worlds that need different `sim` settings get their own simulator
//! process; fixtures that differ only in those settings run in parallel, so the whole part stays well under a minute.
//! The clients are required: their absence is a failure that says how to install them, never a skip.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use super::support::*;

fn conformance_dir() -> PathBuf {
    repo().join("tests/conformance")
}

fn write_world(dir: &Path, world: &Value) -> PathBuf {
    let path = dir.join("world.json");
    std::fs::write(&path, serde_json::to_string_pretty(world).unwrap()).unwrap();
    path
}

/// An IPv4 peer with the /30 169.254.`octet`.0/30 (amazon .1, customer .2).
fn p4(id: &str, asn: u64, octet: u8, state: &str) -> Value {
    // As AWS answers: a 4-byte ASN has asn 0 and the value in asnLong.
    let short = if asn > 65535 { 0 } else { asn };
    let mut peer = json!({
        "bgpPeerId": id,
        "addressFamily": "ipv4",
        "asn": short,
        "asnLong": asn,
        "authKey": format!("key-{id}"),
        "amazonAddress": format!("169.254.{octet}.1/30"),
        "customerAddress": format!("169.254.{octet}.2/30"),
        "bgpPeerState": state,
        "bgpStatus": "down",
    });
    if state == "available" {
        peer["bgpStatus"] = json!("up");
    }
    peer
}

/// An IPv6 peer with a /125 outside the simulator's pool (2001:db8:ffff::/64).
fn p6(id: &str, asn: u64, block: u16, state: &str) -> Value {
    let base = block * 8;
    json!({
        "bgpPeerId": id,
        "addressFamily": "ipv6",
        "asn": asn,
        "asnLong": asn,
        "authKey": format!("key-{id}"),
        "amazonAddress": format!("2001:db8:ffff::{:x}/125", base + 1),
        "customerAddress": format!("2001:db8:ffff::{:x}/125", base + 6),
        "bgpPeerState": state,
        "bgpStatus": "down",
    })
}

/// A VIF in us-east-1 whose VIF-level fields mirror its first peer, as AWS shows them.
fn vif(id: &str, parent: &str, kind: &str, vlan: u16, state: &str, peers: Vec<Value>) -> Value {
    let first = peers.first().cloned().unwrap_or(json!({}));
    let mut v = json!({
        "ownerAccount": "123456789012",
        "virtualInterfaceId": id,
        "location": "EqDC2",
        "connectionId": parent,
        "virtualInterfaceType": kind,
        "virtualInterfaceName": format!("conf-{id}"),
        "vlan": vlan,
        "asn": first["asn"],
        "asnLong": first["asnLong"],
        "amazonSideAsn": 64512,
        "authKey": first["authKey"],
        "amazonAddress": first["amazonAddress"],
        "customerAddress": first["customerAddress"],
        "addressFamily": first["addressFamily"],
        "virtualInterfaceState": state,
        "mtu": 1500,
        "jumboFrameCapable": false,
        "routeFilterPrefixes": [],
        "bgpPeers": peers,
        "region": "us-east-1",
        "awsDeviceV2": "EqDC2-123h49s71dabc",
        "awsLogicalDeviceId": "EqDC2-2bx0xl6qbdkdm",
    });
    if kind == "private" {
        v["virtualGatewayId"] = json!("vgw-cf000001");
    }
    v
}

fn in_region(mut v: Value, region: &str) -> Value {
    v["region"] = json!(region);
    v
}

fn connection(id: &str, region: &str, redundancy: &str) -> Value {
    json!({
        "ownerAccount": "123456789012",
        "connectionId": id,
        "connectionName": format!("conf-{id}"),
        "connectionState": "available",
        "region": region,
        "location": "EqDC2",
        "bandwidth": "1Gbps",
        "loaIssueTime": 1700000000,
        "hasLogicalRedundancy": redundancy,
    })
}

/// A connection as AWS CLI v2 prints it: `loaIssueTime` an ISO 8601 string (the simulator serves epoch seconds).
fn pasted_connection(id: &str) -> Value {
    let mut c = connection(id, "us-east-1", "no");
    c["loaIssueTime"] = json!("2023-11-14T22:13:20+00:00");
    c
}

/// Fixture "main": one small VIF per rule, so test classes never see each other's changes.
/// The ids are the ones tests/conformance/test_boto3.py uses.
fn main_world() -> Value {
    let (no, yes, desc, eu) = (
        "dxcon-cfno0001",
        "dxcon-cfye0001",
        "dxcon-cfds0001",
        "dxcon-cfeu0001",
    );
    let mut desc1 = vif(
        "dxvif-cfds0001",
        desc,
        "private",
        101,
        "available",
        vec![p4("dxpeer-cfds0001", 65000, 101, "available")],
    );
    desc1["tags"] = json!([{"key": "team", "value": "network"}]);
    let vifs = vec![
        // Describe.
        desc1,
        vif(
            "dxvif-cfds0002",
            desc,
            "private",
            102,
            "available",
            vec![p4("dxpeer-cfds0002", 4200000010, 102, "available")],
        ),
        vif(
            "dxvif-cfds0003",
            desc,
            "private",
            103,
            "deleted",
            vec![p4("dxpeer-cfds0003", 65000, 103, "deleted")],
        ),
        // VIF states that freeze peers (on a redundant connection, so only the state can refuse).
        vif(
            "dxvif-cfrj0001",
            yes,
            "private",
            104,
            "rejected",
            vec![
                p4("dxpeer-cfrj0001", 65000, 104, "available"),
                p6("dxpeer-cfrj0002", 65000, 104, "available"),
            ],
        ),
        vif(
            "dxvif-cfdg0001",
            yes,
            "private",
            105,
            "deleting",
            vec![
                p4("dxpeer-cfdg0001", 65000, 105, "available"),
                p6("dxpeer-cfdg0002", 65000, 105, "available"),
            ],
        ),
        // Region split.
        in_region(
            vif(
                "dxvif-cfeu0001",
                eu,
                "private",
                101,
                "available",
                vec![p4("dxpeer-cfeu0001", 65000, 150, "available")],
            ),
            "eu-west-1",
        ),
        // Address-family exclusivity.
        vif(
            "dxvif-cfaf0001",
            no,
            "private",
            201,
            "available",
            vec![p4("dxpeer-cfaf0001", 65000, 201, "available")],
        ),
        vif(
            "dxvif-cfaf0002",
            no,
            "private",
            202,
            "available",
            vec![
                p4("dxpeer-cfaf0002", 65000, 202, "available"),
                p6("dxpeer-cfaf0003", 65000, 202, "deleted"),
            ],
        ),
        vif(
            "dxvif-cfre0001",
            yes,
            "private",
            201,
            "available",
            vec![p4("dxpeer-cfre0001", 65000, 203, "available")],
        ),
        vif(
            "dxvif-cflg0001",
            "dxlag-cfye0001",
            "private",
            201,
            "available",
            vec![p4("dxpeer-cflg0001", 65000, 204, "available")],
        ),
        vif(
            "dxvif-cfic0001",
            "dxcon-cfic0001",
            "private",
            201,
            "available",
            vec![p4("dxpeer-cfic0001", 65000, 205, "available")],
        ),
        // Address rules.
        vif(
            "dxvif-cfv60001",
            yes,
            "private",
            202,
            "available",
            vec![p4("dxpeer-cfv60001", 65000, 206, "available")],
        ),
        vif(
            "dxvif-cfv40001",
            yes,
            "private",
            203,
            "available",
            vec![p6("dxpeer-cfv40001", 65000, 206, "available")],
        ),
        // authKey and ASN rules.
        vif(
            "dxvif-cfak0001",
            yes,
            "private",
            204,
            "available",
            vec![p4("dxpeer-cfak0001", 65000, 207, "available")],
        ),
        vif(
            "dxvif-cfas0001",
            yes,
            "private",
            205,
            "available",
            vec![p4("dxpeer-cfas0001", 65000, 208, "available")],
        ),
        // Public VIFs.
        vif(
            "dxvif-cfpb0001",
            yes,
            "public",
            206,
            "available",
            vec![p6("dxpeer-cfpb0001", 65500, 209, "available")],
        ),
        vif(
            "dxvif-cfpb0002",
            no,
            "public",
            203,
            "available",
            vec![p4("dxpeer-cfpb0002", 64513, 210, "available")],
        ),
        // DeleteBGPPeer.
        vif(
            "dxvif-cfdl0001",
            no,
            "private",
            204,
            "available",
            vec![
                p4("dxpeer-cfdl0001", 65000, 211, "available"),
                p6("dxpeer-cfdl0002", 65000, 211, "available"),
            ],
        ),
        vif(
            "dxvif-cfdl0002",
            yes,
            "private",
            207,
            "available",
            vec![
                p4("dxpeer-cfdl0003", 65000, 20, "available"),
                p4("dxpeer-cfdl0004", 65002, 21, "available"),
                p4("dxpeer-cfdl0005", 4200000020, 22, "available"),
            ],
        ),
        vif(
            "dxvif-cfuk0001",
            yes,
            "private",
            210,
            "available",
            vec![
                p4("dxpeer-cfuk0001", 65000, 40, "available"),
                p4("dxpeer-cfuk0002", 65005, 41, "available"),
            ],
        ),
        vif(
            "dxvif-cfls0001",
            no,
            "private",
            205,
            "available",
            vec![
                p4("dxpeer-cfls0001", 65000, 112, "available"),
                p6("dxpeer-cfls0002", 65000, 112, "deleted"),
            ],
        ),
        vif(
            "dxvif-cfls0002",
            no,
            "private",
            206,
            "available",
            vec![p4("dxpeer-cfls0003", 65000, 113, "available")],
        ),
        vif(
            "dxvif-cfpd0001",
            yes,
            "private",
            208,
            "available",
            vec![
                p4("dxpeer-cfpd0001", 65000, 30, "available"),
                p4("dxpeer-cfpd0002", 65003, 31, "pending"),
                p4("dxpeer-cfpd0003", 65004, 32, "deleting"),
            ],
        ),
        vif(
            "dxvif-cfpd0002",
            yes,
            "public",
            209,
            "available",
            vec![
                p6("dxpeer-cfpd0004", 64512, 212, "available"),
                p6("dxpeer-cfpd0005", 64514, 213, "verifying"),
            ],
        ),
        // DeleteVirtualInterface and lifecycles.
        vif(
            "dxvif-cfdv0001",
            no,
            "private",
            207,
            "available",
            vec![p4("dxpeer-cfdv0001", 65000, 114, "available")],
        ),
        vif(
            "dxvif-cflc0001",
            no,
            "private",
            208,
            "available",
            vec![p4("dxpeer-cflc0001", 65000, 115, "available")],
        ),
    ];
    json!({
        "conformanceFixture": "main",
        "virtualInterfaces": vifs,
        "connections": [
            connection(no, "us-east-1", "no"),
            connection(yes, "us-east-1", "yes"),
            pasted_connection(desc),
            connection(eu, "eu-west-1", "no"),
        ],
        "lags": [
            {"lagId": "dxlag-cfye0001", "lagName": "conf-lag", "lagState": "available", "region": "us-east-1",
             "location": "EqDC2", "ownerAccount": "123456789012", "numberOfConnections": 2,
             "connectionsBandwidth": "10Gbps", "hasLogicalRedundancy": "yes"},
            {"lagId": "dxlag-cfeu0001", "lagName": "conf-lag-eu", "lagState": "available", "region": "eu-west-1",
             "location": "EqLD5", "ownerAccount": "123456789012", "hasLogicalRedundancy": "no"},
        ],
        "interconnects": [
            {"interconnectId": "dxcon-cfic0001", "interconnectName": "conf-interconnect",
             "interconnectState": "available", "region": "us-east-1", "location": "EqDC2", "bandwidth": "10Gbps",
             "hasLogicalRedundancy": "unknown"},
            {"interconnectId": "dxcon-cficeu01", "interconnectName": "conf-interconnect-eu",
             "interconnectState": "available", "region": "eu-west-1", "location": "EqLD5", "bandwidth": "10Gbps",
             "hasLogicalRedundancy": "no"},
        ],
        "sim": {
            "provisionDelay": "200ms",
            "deletionDelay": "500ms",
            "deletedRetention": "1s",
            "publicAsnAllowList": [7224],
            "seed": 7,
        },
    })
}

/// The seed world (examples/seed/world.json) as a fixture, with the given delays.
fn seed_fixture(name: &str, provision: &str, deletion: &str) -> Value {
    let text = std::fs::read_to_string(repo().join("examples/seed/world.json")).unwrap();
    let mut world: Value = serde_json::from_str(&text).unwrap();
    world["conformanceFixture"] = json!(name);
    world["sim"]["provisionDelay"] = json!(provision);
    world["sim"]["deletionDelay"] = json!(deletion);
    world
}

fn approval_world() -> Value {
    json!({
        "conformanceFixture": "approval",
        "virtualInterfaces": [
            vif("dxvif-cfma0001", "dxcon-cfye0001", "public", 101, "available",
                vec![p6("dxpeer-cfma0001", 64512, 1, "available")]),
            vif("dxvif-cfma0002", "dxcon-cfye0001", "private", 102, "available",
                vec![p4("dxpeer-cfma0002", 65000, 102, "available")]),
        ],
        "connections": [connection("dxcon-cfye0001", "us-east-1", "yes")],
        "sim": {"provisionDelay": "200ms", "deletionDelay": "300ms", "manualApproval": true, "seed": 11},
    })
}

const SIGV4_SECRET: &str = "conformance/Secret+Key/0123456789abcdefghij";
const SIGV4_SECRET_2: &str = "second/conformance/secret/ABCDEFGHIJ012345";

fn sigv4_world() -> Value {
    let mut world = seed_fixture("sigv4", "200ms", "300ms");
    world["sim"]["credentials"] = json!([
        {"accessKeyId": "AKIDCONFORMANCE01", "secretAccessKey": SIGV4_SECRET},
        {"accessKeyId": "AKIDCONFORMANCE02", "secretAccessKey": SIGV4_SECRET_2},
    ]);
    world
}

/// Runs the boto3 suite against `sim` (the classes for the world's fixture) and returns its report.
/// Fails with the suite's output unless it ran every class in `classes`, all passing, none skipped.
fn run_boto3(sim: &SimProcess, world: &Path, classes: &[&str]) -> String {
    run_python_suite("test_boto3", sim, world, classes)
}

/// Runs the Python unittest module `module` (in tests/conformance) as `run_boto3` describes.
fn run_python_suite(module: &str, sim: &SimProcess, world: &Path, classes: &[&str]) -> String {
    let probe = Command::new("python3")
        .args(["-c", "import boto3, botocore"])
        .output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "boto3 is required for the conformance tests: python3 -m pip install -r tests/requirements.txt"
    );
    let mut cmd = Command::new("python3");
    hermetic(&mut cmd)
        .args(["-m", "unittest", "-v", module])
        .current_dir(conformance_dir())
        .env("DXCTL_SIM_URL", sim.url())
        .env("DXCTL_SIM_WORLD", world)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    let out = run(&mut cmd);
    let report = format!(
        "boto3 conformance suite (python3 -m unittest -v {module} in tests/conformance, DXCTL_SIM_URL={}, DXCTL_SIM_WORLD={}):\n{}{}",
        sim.url(),
        world.display(),
        out.stdout,
        out.stderr
    );
    assert_eq!(out.code, 0, "{report}");
    assert!(
        out.stderr.lines().any(|l| l.starts_with("Ran ")) && out.stderr.contains("\nOK"),
        "{report}"
    );
    assert!(
        !out.stderr.contains("skipped"),
        "no check may be skipped:\n{report}"
    );
    for class in classes {
        assert!(
            out.stderr.contains(&format!("{module}.{class}")),
            "class {class} did not run:\n{report}"
        );
    }
    report
}

/// Fixture "main": operations, rules, lifecycles, regions and protocol details.
#[test]
fn boto3_operations_rules_lifecycles_and_regions() {
    let tmp = tempfile::tempdir().unwrap();
    let world = write_world(tmp.path(), &main_world());
    let sim = SimProcess::start(&world, tmp.path(), &[]);
    run_boto3(
        &sim,
        &world,
        &[
            "Describe",
            "Regions",
            "AddressFamilyRule",
            "AddressRules",
            "AuthKeyAndAsnRules",
            "PublicVifRules",
            "DeleteBgpPeer",
            "VirtualInterfaces",
            "Lifecycles",
            "Protocol",
        ],
    );

    // botocore's wire names for every operation, as the simulator logged them.
    let requests = sim.requests();
    for op in [
        "DescribeVirtualInterfaces",
        "DescribeConnections",
        "DescribeLags",
        "DescribeInterconnects",
        "CreateBGPPeer",
        "DeleteBGPPeer",
        "CreatePrivateVirtualInterface",
        "CreatePublicVirtualInterface",
        "CreateTransitVirtualInterface",
        "DeleteVirtualInterface",
    ] {
        assert!(
            requests.iter().any(|r| r["operation"] == op),
            "request log has no {op}"
        );
    }
    for r in &requests {
        // An unsigned request has no credential scope, hence no region to log.
        let unsigned = r["errorCode"] == "MissingAuthenticationTokenException";
        for field in ["time", "region", "operation", "status"] {
            assert!(
                r.get(field).is_some() || (field == "region" && unsigned),
                "request log line without {field}: {r}"
            );
        }
    }
    assert!(requests.iter().any(|r| r["region"] == "eu-west-1"));
    // The log never carries bodies or keys: none of the auth keys the suite sent.
    let log = std::fs::read_to_string(&sim.log).unwrap();
    for secret in ["private-vif-key", "kkkkkkkkkkkk", "key-dxpeer-"] {
        assert!(!log.contains(secret), "request log leaks {secret:?}");
    }
}

/// Fixture "seed": the reference page's create-bgp-peer example, end to end, with boto3.
#[test]
fn boto3_seed_example_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let world = write_world(tmp.path(), &seed_fixture("seed", "200ms", "300ms"));
    let sim = SimProcess::start(&world, tmp.path(), &[]);
    run_boto3(&sim, &world, &["SeedExample"]);
}

/// Fixture "seed-slow": a new peer stays pending for the whole run, so deleting it must be refused.
#[test]
fn boto3_pending_peer_refuses_deletion() {
    let tmp = tempfile::tempdir().unwrap();
    let world = write_world(tmp.path(), &seed_fixture("seed-slow", "60s", "300ms"));
    let sim = SimProcess::start(&world, tmp.path(), &[]);
    run_boto3(&sim, &world, &["PendingPeer"]);
}

/// Fixture "approval": sim.manualApproval and POST /_sim/approve.
#[test]
fn boto3_manual_approval() {
    let tmp = tempfile::tempdir().unwrap();
    let world = write_world(tmp.path(), &approval_world());
    let sim = SimProcess::start(&world, tmp.path(), &[]);
    run_boto3(&sim, &world, &["ManualApproval"]);
}

/// Fixture "sigv4": with sim.credentials, signatures are verified the way AWS does.
#[test]
fn boto3_sigv4_verification() {
    let tmp = tempfile::tempdir().unwrap();
    let world = write_world(tmp.path(), &sigv4_world());
    let sim = SimProcess::start(&world, tmp.path(), &[]);
    run_boto3(&sim, &world, &["SigV4"]);
    let log = std::fs::read_to_string(&sim.log).unwrap();
    for secret in [SIGV4_SECRET, SIGV4_SECRET_2] {
        assert!(!log.contains(secret), "request log leaks a secret key");
    }
    let codes: Vec<String> = sim
        .requests()
        .iter()
        .filter_map(|r| r["errorCode"].as_str().map(str::to_string))
        .collect();
    assert!(
        codes.iter().any(|c| c == "InvalidSignatureException"),
        "refused signatures are logged: {codes:?}"
    );
}

/// Runs each job on its own thread (each with its own simulator); the failures are reported together, by name.
fn in_parallel(jobs: Vec<(String, Box<dyn FnOnce() + Send>)>) {
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .into_iter()
            .map(|(name, job)| (name, s.spawn(job)))
            .collect();
        handles
            .into_iter()
            .filter_map(|(name, h)| {
                h.join().err().map(|e| {
                    let msg = e
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    format!("--- {name} ---\n{msg}")
                })
            })
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A boto3 fixture as a job for [`in_parallel`]: its own simulator (with `flags`), its classes, then `check` on
/// the simulator (its request log, its world).
fn boto3_job(
    world: Value,
    flags: &'static [&'static str],
    classes: &'static [&'static str],
    check: impl FnOnce(&SimProcess) + Send + 'static,
) -> (String, Box<dyn FnOnce() + Send>) {
    let name = world["conformanceFixture"].as_str().unwrap().to_string();
    let job = move || {
        let tmp = tempfile::tempdir().unwrap();
        let path = write_world(tmp.path(), &world);
        let sim = SimProcess::start(&path, tmp.path(), flags);
        run_boto3(&sim, &path, classes);
        check(&sim);
    };
    (name, Box::new(job))
}

/// `(operation, fault, status)` of every request the simulator logged with a fault.
fn logged_faults(sim: &SimProcess) -> Vec<(String, String, u64)> {
    sim.requests()
        .iter()
        .filter_map(|r| {
            Some((
                r["operation"].as_str()?.to_string(),
                r["fault"].as_str()?.to_string(),
                r["status"].as_u64()?,
            ))
        })
        .collect()
}

fn assert_logged(sim: &SimProcess, operation: &str, fault: &str, status: u64) {
    let logged = logged_faults(sim);
    assert!(
        logged
            .iter()
            .any(|(o, f, s)| o == operation && f == fault && *s == status),
        "no {operation} logged with fault {fault:?} and status {status}: {logged:?}"
    );
}

/// Fault injection as clients see it, one simulator per fault (rate 1, so every draw hits), on both sides of the
/// operation's effect. Some faults come from the `--fault` command-line flags, the others from the world's
/// `sim.faults`; "fault-switch" changes them while running through `POST /_sim/faults`. Each case also checks the
/// fault's name in the request log.
#[test]
fn boto3_faults() {
    type Case = (
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
        Value,
        &'static [(&'static str, &'static str, u64)],
    );
    let cases: Vec<Case> = vec![
        (
            "fault-throttle",
            &["FaultThrottle"],
            &["--fault", "throttle=1"],
            json!({}),
            &[("CreateBGPPeer", "throttle", 400)],
        ),
        (
            "fault-server-error",
            &["FaultServerError"],
            &["--fault", "server-error=1"],
            json!({}),
            &[("CreateBGPPeer", "server-error", 500)],
        ),
        (
            "fault-server-error-after",
            &["FaultServerErrorAfter"],
            &["--fault", "server-error-after=1"],
            json!({}),
            &[("CreateBGPPeer", "server-error-after", 500)],
        ),
        (
            "fault-bad-gateway-after",
            &["FaultBadGatewayAfter"],
            &["--fault", "bad-gateway-after=1"],
            json!({}),
            &[("CreateBGPPeer", "bad-gateway-after", 502)],
        ),
        (
            "fault-transitioning",
            &["FaultTransitioning"],
            &[],
            json!({"transitioningRate": 1.0}),
            &[("CreateBGPPeer", "transitioning", 400)],
        ),
        (
            "fault-drop-before",
            &["FaultDropBefore"],
            &[],
            json!({"dropBeforeRate": 1.0}),
            // Nothing ran, nothing answered: logged with status 0.
            &[("CreateBGPPeer", "drop-before", 0)],
        ),
        (
            "fault-drop",
            &["FaultDrop"],
            &[],
            json!({"dropRate": 1.0}),
            // Logged with the status it would have had.
            &[("CreateBGPPeer", "drop", 200)],
        ),
        (
            "fault-late-write",
            &["FaultLateWrite"],
            &[
                "--fault",
                "late-write=1",
                "--fault",
                "late-write-delay=1500ms",
            ],
            json!({}),
            &[
                ("CreateBGPPeer", "late-write", 200),
                ("DeleteVirtualInterface", "late-write", 200),
            ],
        ),
        (
            "fault-stuck-pending",
            &["FaultStuckPending"],
            &[],
            json!({"stuckPendingRate": 1.0}),
            &[],
        ),
        (
            "fault-end-deleted",
            &["FaultEndDeleted"],
            &[],
            json!({"endDeletedRate": 1.0}),
            &[],
        ),
        (
            "fault-bgp-down",
            &["FaultBgpDown"],
            &["--fault", "bgp-down=1"],
            json!({}),
            &[],
        ),
        (
            "fault-switch",
            &["FaultSwitch"],
            &[],
            json!({"serverErrorRate": 1.0}),
            &[
                ("DescribeVirtualInterfaces", "server-error", 500),
                ("DescribeVirtualInterfaces", "drop-before", 0),
                ("CreateBGPPeer", "server-error-after", 500),
            ],
        ),
    ];
    let jobs = cases
        .into_iter()
        .map(|(fixture, classes, flags, faults, logged)| {
            let mut world = seed_fixture(fixture, "200ms", "300ms");
            if faults != json!({}) {
                world["sim"]["faults"] = faults;
            }
            if fixture == "fault-bgp-down" {
                world["sim"]["bgpUpDelay"] = json!("200ms");
            }
            boto3_job(world, flags, classes, move |sim| {
                for (operation, fault, status) in logged {
                    assert_logged(sim, operation, fault, *status);
                }
            })
        })
        .collect();
    in_parallel(jobs);
}

fn connections(ids: &[(&str, &str, &str)]) -> Value {
    Value::Array(
        ids.iter()
            .map(|(id, region, redundancy)| connection(id, region, redundancy))
            .collect(),
    )
}

/// A VIF with one available IPv4 peer, ids `dxvif-<suffix>` and `dxpeer-<suffix>`.
fn vif1(suffix: &str, parent: &str, vlan: u16) -> Value {
    vif(
        &format!("dxvif-{suffix}"),
        parent,
        "private",
        vlan,
        "available",
        vec![p4(&format!("dxpeer-{suffix}"), 65000, 1, "available")],
    )
}

/// Fixture "consistency": a 500ms consistency window, none in eu-west-1 and 3s in us-west-2.
fn consistency_world() -> Value {
    let mut vifs: Vec<Value> = (1..=4)
        .map(|i| vif1(&format!("cs00000{i}"), "dxcon-cscs0001", 100 + i))
        .collect();
    vifs.push(in_region(
        vif1("cseu0001", "dxcon-cseu0001", 101),
        "eu-west-1",
    ));
    vifs.push(in_region(
        vif1("csw20001", "dxcon-csw20001", 101),
        "us-west-2",
    ));
    json!({
        "conformanceFixture": "consistency",
        "virtualInterfaces": vifs,
        "connections": connections(&[
            ("dxcon-cscs0001", "us-east-1", "yes"),
            ("dxcon-cseu0001", "eu-west-1", "yes"),
            ("dxcon-csw20001", "us-west-2", "yes"),
        ]),
        "sim": {
            "provisionDelay": "300ms",
            "consistencyWindow": "500ms",
            "consistencyWindowByRegion": {"eu-west-1": "0s", "us-west-2": "3s"},
            "seed": 5,
        },
    })
}

/// Eventual consistency: DescribeVirtualInterfaces may answer with the world as it was up to the region's window
/// ago, never older; mutations and their responses are always fresh.
#[test]
fn boto3_eventual_consistency() {
    let tmp = tempfile::tempdir().unwrap();
    let world = write_world(tmp.path(), &consistency_world());
    let sim = SimProcess::start(&world, tmp.path(), &[]);
    run_boto3(&sim, &world, &["EventualConsistency"]);
}

/// Fixtures "transitioning", "transitioning-vif" and "transitioning-off": the same VIFs under each
/// `transitioningRule` (the default, `vif` from the world, `off` from `--transitioning-rule`).
fn transitioning_world(fixture: &str, rule: Option<&str>) -> Value {
    let yes = "dxcon-tryes001";
    let peers = |suffix: &str, n: u8| -> Vec<Value> {
        (1..=n)
            .map(|i| {
                p4(
                    &format!("dxpeer-{suffix}{i}"),
                    65000 + u64::from(i),
                    i,
                    "available",
                )
            })
            .collect()
    };
    let mut confirming = vif(
        "dxvif-trcf0001",
        yes,
        "private",
        104,
        "confirming",
        peers("trcf000", 2),
    );
    confirming["ownerAccount"] = json!("210987654321");
    let mut world = json!({
        "conformanceFixture": fixture,
        "virtualInterfaces": [
            vif("dxvif-trcr0001", yes, "private", 101, "available", peers("trcr000", 1)),
            vif("dxvif-trdl0001", yes, "private", 102, "available", peers("trdl000", 3)),
            vif("dxvif-trmx0001", yes, "private", 103, "available", peers("trmx000", 2)),
            confirming,
            vif("dxvif-trfa0001", "dxcon-trno0001", "private", 101, "available", peers("trfa000", 1)),
        ],
        "connections": connections(&[(yes, "us-east-1", "yes"), ("dxcon-trno0001", "us-east-1", "no")]),
        "sim": {"provisionDelay": "800ms", "deletionDelay": "800ms", "seed": 3},
    });
    if let Some(rule) = rule {
        world["sim"]["transitioningRule"] = json!(rule);
    }
    world
}

/// State-derived "transitioning" refusals of CreateBGPPeer and DeleteBGPPeer, under each rule.
#[test]
fn boto3_state_derived_transitioning() {
    in_parallel(vec![
        boto3_job(
            transitioning_world("transitioning", None),
            &[],
            &["TransitioningRuleDefault"],
            |_| {},
        ),
        boto3_job(
            transitioning_world("transitioning-vif", Some("vif")),
            &[],
            &["TransitioningRuleVif"],
            |_| {},
        ),
        boto3_job(
            transitioning_world("transitioning-off", None),
            &["--transitioning-rule", "off"],
            &["TransitioningRuleOff"],
            |_| {},
        ),
    ]);
}

/// `n` VIFs `dxvif-<prefix>000001`… on `parent`, VLANs 1…n.
fn many_vifs(prefix: &str, parent: &str, n: u16) -> Vec<Value> {
    (1..=n)
        .map(|i| vif1(&format!("{prefix}{i:06}"), parent, i))
        .collect()
}

fn lag(id: &str, region: &str) -> Value {
    json!({"lagId": id, "lagName": format!("conf-{id}"), "lagState": "available", "region": region,
           "location": "EqDC2", "ownerAccount": "123456789012", "numberOfConnections": 2,
           "connectionsBandwidth": "10Gbps", "hasLogicalRedundancy": "yes"})
}

fn interconnect(id: &str, region: &str) -> Value {
    json!({"interconnectId": id, "interconnectName": format!("conf-{id}"), "interconnectState": "available",
           "region": region, "location": "EqDC2", "bandwidth": "10Gbps", "hasLogicalRedundancy": "no"})
}

/// Fixture "paging": 160 VIFs, 5 connections, 3 LAGs and 3 interconnects in us-east-1 (one of each in
/// eu-west-1); deleted VIFs leave the listing quickly, so pages see VIFs come and go.
fn paging_world() -> Value {
    let mut vifs = many_vifs("pg", "dxcon-pg000001", 160);
    vifs.push(in_region(
        vif1("pgeu0001", "dxcon-pgeu0001", 1),
        "eu-west-1",
    ));
    let mut conns: Vec<Value> = (1..=5)
        .map(|i| connection(&format!("dxcon-pg00000{i}"), "us-east-1", "yes"))
        .collect();
    conns.push(connection("dxcon-pgeu0001", "eu-west-1", "yes"));
    let mut lags: Vec<Value> = (1..=3)
        .map(|i| lag(&format!("dxlag-pg00000{i}"), "us-east-1"))
        .collect();
    lags.push(lag("dxlag-pgeu0001", "eu-west-1"));
    let mut ics: Vec<Value> = (1..=3)
        .map(|i| interconnect(&format!("dxcon-pgic000{i}"), "us-east-1"))
        .collect();
    ics.push(interconnect("dxcon-pgiceu01", "eu-west-1"));
    json!({
        "conformanceFixture": "paging",
        "virtualInterfaces": vifs,
        "connections": conns,
        "lags": lags,
        "interconnects": ics,
        "sim": {"provisionDelay": "100ms", "deletionDelay": "100ms", "deletedRetention": "200ms", "seed": 9},
    })
}

/// Paging of DescribeVirtualInterfaces, DescribeConnections, DescribeLags and DescribeInterconnects.
#[test]
fn boto3_paging() {
    let tmp = tempfile::tempdir().unwrap();
    let world = write_world(tmp.path(), &paging_world());
    let sim = SimProcess::start(&world, tmp.path(), &[]);
    run_boto3(&sim, &world, &["Paging"]);
}

/// Fixture "bgp": bgpStatus goes up bgpUpDelay after a peer becomes available.
fn bgp_world() -> Value {
    let yes = "dxcon-bgye0001";
    json!({
        "conformanceFixture": "bgp",
        "virtualInterfaces": [
            vif1("bg000001", yes, 101),
            vif("dxvif-bg000002", yes, "private", 102, "available", vec![
                p4("dxpeer-bg000002", 65000, 1, "available"),
                p4("dxpeer-bg000003", 65001, 2, "available"),
            ]),
        ],
        "connections": connections(&[(yes, "us-east-1", "yes")]),
        "sim": {"provisionDelay": "300ms", "deletionDelay": "300ms", "bgpUpDelay": "500ms", "seed": 13},
    })
}

#[test]
fn boto3_bgp_status() {
    let tmp = tempfile::tempdir().unwrap();
    let world = write_world(tmp.path(), &bgp_world());
    let sim = SimProcess::start(&world, tmp.path(), &[]);
    run_boto3(&sim, &world, &["BgpStatus"]);
}

/// Fixture "rate-limit": CreateBGPPeer 1/s with a burst of 3, other mutating operations 0.2/s with a burst of 2,
/// describes unlimited.
fn rate_limit_world() -> Value {
    let yes = "dxcon-rlye0001";
    let mut vifs: Vec<Value> = (1..=6)
        .map(|i| vif1(&format!("rl00000{i}"), yes, 100 + i))
        .collect();
    vifs.push(in_region(
        vif1("rleu0001", "dxcon-rleu0001", 101),
        "eu-west-1",
    ));
    json!({
        "conformanceFixture": "rate-limit",
        "virtualInterfaces": vifs,
        "connections": connections(&[(yes, "us-east-1", "yes"), ("dxcon-rleu0001", "eu-west-1", "yes")]),
        "sim": {
            "provisionDelay": "100ms",
            "rateLimits": {
                "CreateBGPPeer": {"perSecond": 1, "burst": 3},
                "mutating": {"perSecond": 0.2, "burst": 2},
            },
            "seed": 17,
        },
    })
}

#[test]
fn boto3_rate_limits() {
    let tmp = tempfile::tempdir().unwrap();
    let world = write_world(tmp.path(), &rate_limit_world());
    let sim = SimProcess::start(&world, tmp.path(), &[]);
    run_boto3(&sim, &world, &["RateLimits"]);
    assert_logged(&sim, "CreateBGPPeer", "rate-limit", 400);
    assert_logged(&sim, "DeleteBGPPeer", "rate-limit", 400);
    for (operation, fault, _) in logged_faults(&sim) {
        assert!(
            !operation.starts_with("Describe"),
            "a describe was limited ({fault}) though only mutating operations have a limit"
        );
    }
}

/// `node tests/conformance/js/check.mjs` against a simulator on `world`; the script picks its checks by the
/// world's `conformanceFixture`.
fn run_js(sim: &SimProcess, world: &Path) {
    let js = conformance_dir().join("js");
    let probe = Command::new("node").arg("--version").output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "Node.js (20 or later) is required for the conformance tests"
    );
    assert!(
        js.join("node_modules/@aws-sdk/client-direct-connect/package.json")
            .exists(),
        "the AWS SDK for JavaScript is required for the conformance tests: npm ci --prefix tests/conformance/js"
    );
    let mut cmd = Command::new("node");
    hermetic(&mut cmd)
        .arg(js.join("check.mjs"))
        .current_dir(repo())
        .env("DXCTL_SIM_URL", sim.url())
        .env("DXCTL_SIM_WORLD", world)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    let out = run(&mut cmd);
    assert_eq!(
        out.code,
        0,
        "node tests/conformance/js/check.mjs (DXCTL_SIM_URL={}, DXCTL_SIM_WORLD={}):\n{}{}",
        sim.url(),
        world.display(),
        out.stdout,
        out.stderr
    );
    assert!(out.stdout.contains("all checks passed"), "{}", out.stdout);
}

/// The AWS SDK for JavaScript v3 (@aws-sdk/client-direct-connect from npm) on the seed example.
#[test]
fn js_sdk_seed_example() {
    let tmp = tempfile::tempdir().unwrap();
    let world = write_world(tmp.path(), &seed_fixture("js", "30s", "300ms"));
    let sim = SimProcess::start(&world, tmp.path(), &[]);
    run_js(&sim, &world);
    for op in ["DescribeVirtualInterfaces", "CreateBGPPeer"] {
        assert!(
            sim.count(op) > 0,
            "the JS SDK's {op} never reached the simulator under that name"
        );
    }
}

/// Fixture "js-realism": 150 VIFs, a CreateBGPPeer rate limit, and AWS's error texts, through the JS SDK.
fn js_realism_world() -> Value {
    let parent = "dxcon-js000001";
    json!({
        "conformanceFixture": "js-realism",
        "virtualInterfaces": many_vifs("js", parent, 150),
        "connections": connections(&[(parent, "us-east-1", "no")]),
        "lags": [lag("dxlag-js000001", "us-east-1")],
        "interconnects": [interconnect("dxcon-jsic0001", "us-east-1")],
        "sim": {
            "provisionDelay": "200ms",
            "rateLimits": {"CreateBGPPeer": {"perSecond": 0.2, "burst": 2}},
            "seed": 4,
        },
    })
}

/// The JS SDK on paging (100 per page, bad tokens), rate limits and AWS's error texts.
#[test]
fn js_sdk_paging_rate_limits_and_error_texts() {
    let tmp = tempfile::tempdir().unwrap();
    let world = write_world(tmp.path(), &js_realism_world());
    let sim = SimProcess::start(&world, tmp.path(), &[]);
    run_js(&sim, &world);
    assert_logged(&sim, "CreateBGPPeer", "rate-limit", 400);
}

/// Fixture "cbor": the seed world (its connection with an LOA time in epoch seconds), plus a VIF with a 4-byte ASN on a
/// connection whose LOA time is RFC 3339 text, and a VIF in eu-west-1.
fn cbor_world() -> Value {
    let mut world = seed_fixture("cbor", "200ms", "300ms");
    // Deleted peers leave the listing quickly here (the default keeps them 15 minutes).
    world["sim"]["deletedRetention"] = json!("300ms");
    world["connections"][0]["loaIssueTime"] = json!(1700000000);
    let mut cbor_connection = connection("dxcon-cbor0001", "us-east-1", "no");
    cbor_connection["loaIssueTime"] = json!("2023-11-14T22:13:20.500Z");
    for c in [
        cbor_connection,
        connection("dxcon-cboreu01", "eu-west-1", "no"),
    ] {
        world["connections"].as_array_mut().unwrap().push(c);
    }
    for v in [
        vif(
            "dxvif-cb4b0001",
            "dxcon-cbor0001",
            "private",
            301,
            "available",
            vec![p4("dxpeer-cb4b0001", 4200000010, 31, "available")],
        ),
        in_region(
            vif(
                "dxvif-cbeu0001",
                "dxcon-cboreu01",
                "private",
                302,
                "available",
                vec![p4("dxpeer-cbeu0001", 65000, 32, "available")],
            ),
            "eu-west-1",
        ),
    ] {
        world["virtualInterfaces"].as_array_mut().unwrap().push(v);
    }
    world
}

/// Runs the boto3-over-CBOR suite (tests/conformance/test_boto3_cbor.py) like `run_boto3`, then checks the
/// simulator's side of the wire: every request it logged came in as RPC v2 CBOR, except the JSON 1.1 ones in `json11`.
fn run_boto3_cbor(sim: &SimProcess, world: &Path, classes: &[&str], json11: &[&str]) -> Vec<Value> {
    run_python_suite("test_boto3_cbor", sim, world, classes);
    let requests = sim.requests();
    assert!(!requests.is_empty(), "the simulator logged no request");
    for r in &requests {
        let json11_op = json11.iter().any(|op| r["operation"] == *op);
        match r["protocol"].as_str() {
            Some("rpcv2Cbor") => {}
            Some("awsJson1_1") if json11_op => {}
            _ => panic!("a request that did not come in as rpc-v2-cbor: {r}"),
        }
    }
    requests
}

/// Fixture "cbor": boto3 over Smithy RPC v2 CBOR: describes, peers, errors, and the protocol's own rules.
#[test]
fn boto3_cbor_operations_and_protocol() {
    let tmp = tempfile::tempdir().unwrap();
    let world = write_world(tmp.path(), &cbor_world());
    let sim = SimProcess::start(&world, tmp.path(), &[]);
    let requests = run_boto3_cbor(
        &sim,
        &world,
        &["CborWire", "CborDescribe", "CborBgpPeers", "CborProtocol"],
        &["DescribeVirtualInterfaces"],
    );
    for op in [
        "DescribeVirtualInterfaces",
        "DescribeConnections",
        "CreateBGPPeer",
        "DeleteBGPPeer",
    ] {
        assert!(
            requests.iter().any(|r| r["operation"] == op
                && r["protocol"] == "rpcv2Cbor"
                && r["status"] == 200),
            "no successful rpc-v2-cbor {op} in the request log"
        );
    }
    assert!(
        requests.iter().any(|r| r["region"] == "eu-west-1"),
        "the region came from the SigV4 scope"
    );
    // Both protocols on one simulator: the suite's JSON 1.1 call is logged as such.
    assert!(requests.iter().any(|r| r["protocol"] == "awsJson1_1"));
}

/// Fixture "cbor-sigv4": with sim.credentials, CBOR requests are verified like JSON 1.1 ones.
#[test]
fn boto3_cbor_sigv4_verification() {
    let tmp = tempfile::tempdir().unwrap();
    let mut world = sigv4_world();
    world["conformanceFixture"] = json!("cbor-sigv4");
    let path = write_world(tmp.path(), &world);
    let sim = SimProcess::start(&path, tmp.path(), &[]);
    let requests = run_boto3_cbor(&sim, &path, &["CborSigV4"], &[]);
    for code in [
        "InvalidSignatureException",
        "UnrecognizedClientException",
        "MissingAuthenticationTokenException",
    ] {
        assert!(
            requests.iter().any(|r| r["errorCode"] == code),
            "no {code} in the request log"
        );
    }
    let log = std::fs::read_to_string(&sim.log).unwrap();
    for secret in [SIGV4_SECRET, SIGV4_SECRET_2] {
        assert!(!log.contains(secret), "request log leaks a secret key");
    }
}

/// Faults over CBOR, from the world's `sim.faults` (rate 1): throttling (with latency), server errors, drops.
#[test]
fn boto3_cbor_faults() {
    let cases = [
        (
            "cbor-fault-throttle",
            "CborFaultThrottle",
            json!({"throttleRate": 1.0, "latency": "150ms"}),
            "throttle",
        ),
        (
            "cbor-fault-server-error",
            "CborFaultServerError",
            json!({"serverErrorRate": 1.0}),
            "server-error",
        ),
        (
            "cbor-fault-drop",
            "CborFaultDrop",
            json!({"dropRate": 1.0}),
            "drop",
        ),
    ];
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .iter()
            .map(|(fixture, class, faults, fault)| {
                s.spawn(move || {
                    let tmp = tempfile::tempdir().unwrap();
                    let mut world = seed_fixture(fixture, "200ms", "300ms");
                    world["sim"]["faults"] = faults.clone();
                    let path = write_world(tmp.path(), &world);
                    let sim = SimProcess::start(&path, tmp.path(), &[]);
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let requests = run_boto3_cbor(&sim, &path, &[class], &[]);
                        assert!(
                            requests.iter().all(|r| r["fault"] == *fault),
                            "every request got the {fault} fault: {requests:?}"
                        );
                    }))
                    .err()
                    .map(|e| {
                        let msg = e
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default();
                        format!("--- {fixture} ---\n{msg}")
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
