//! Planner and executor end to end on the simulator: adopt, replace in both orders, refusals, saved plans,
//! locking, outputs, faults that must converge, approval, and Ctrl-C.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::sim_env::Env;
use super::support::*;

const FAST: &[&str] = &["apply", "--auto-approve", "--poll-interval", "50ms"];

fn with_v6_key(key: &str) -> String {
    SEED_HCL.replace(
        "asn            = 64600",
        &format!("asn            = 64600\n    auth_key       = \"{key}\""),
    )
}

#[test]
fn adopts_an_existing_matching_peer_without_any_api_call() {
    let env = Env::new("100ms", "no", serde_json::json!({}), SEED_HCL);
    let out = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stdout.contains("bgp_peer.v4 will be adopted"),
        "{}",
        out.stdout
    );
    let out = env.run(FAST);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("1 adopted"), "{}", out.stdout);
    assert_eq!(
        env.sim.count("CreateBGPPeer"),
        1,
        "only the v6 peer was created"
    );
    let state = env.state();
    assert_eq!(state["peers"][0]["bgp_peer_id"], "dxpeer-fg1v4v4e");
    assert_eq!(env.run(&["plan", "--detailed-exitcode"]).code, 0);
}

#[test]
fn auth_key_drift_replaces_create_before_destroy_with_redundancy() {
    let env = Env::new(
        "100ms",
        "yes",
        serde_json::json!({}),
        &with_v6_key("old-key-1234"),
    );
    assert_eq!(env.run(FAST).code, 0);
    let old_id = env.state()["peers"][1]["bgp_peer_id"]
        .as_str()
        .unwrap()
        .to_string();
    env.set_config(&with_v6_key("new-key-5678"));
    let out = env.run(&["plan"]);
    assert!(
        out.stdout
            .contains("must be replaced (create before destroy)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("auth_key         = (sensitive) # forces replacement"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("interrupts its BGP session"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("new-key-5678") && !out.stdout.contains("old-key-1234"));
    let out = env.run(FAST);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("1 added, 0 changed, 1 destroyed"),
        "{}",
        out.stdout
    );
    let live = env.live();
    let v6: Vec<&Value> = live
        .iter()
        .filter(|p| p["addressFamily"] == "ipv6")
        .collect();
    assert_eq!(v6.len(), 1);
    assert_eq!(v6[0]["authKey"], "new-key-5678");
    assert_ne!(v6[0]["bgpPeerId"], old_id.as_str());
    assert!(
        env.state()["peers"][1].get("deposed").is_none(),
        "nothing left deposed"
    );
    // Create came before delete in the request log.
    let ops: Vec<String> = env
        .sim
        .requests()
        .iter()
        .map(|r| r["operation"].as_str().unwrap().to_string())
        .filter(|o| o.contains("BGPPeer"))
        .collect();
    assert_eq!(&ops[ops.len() - 2..], ["CreateBGPPeer", "DeleteBGPPeer"]);
    assert_eq!(env.run(&["plan", "--detailed-exitcode"]).code, 0);
}

#[test]
fn asn_change_replaces_destroy_before_create_without_redundancy() {
    let env = Env::new("100ms", "no", serde_json::json!({}), SEED_HCL);
    assert_eq!(env.run(FAST).code, 0);
    env.set_config(&SEED_HCL.replace("asn            = 64600", "asn            = 64601"));
    let out = env.run(&["plan"]);
    assert!(
        out.stdout
            .contains("must be replaced (destroy before create)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("asn              = 64601 # forces replacement"),
        "{}",
        out.stdout
    );
    let out = env.run(FAST);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let ops: Vec<String> = env
        .sim
        .requests()
        .iter()
        .map(|r| r["operation"].as_str().unwrap().to_string())
        .filter(|o| o.contains("BGPPeer"))
        .collect();
    assert_eq!(&ops[ops.len() - 2..], ["DeleteBGPPeer", "CreateBGPPeer"]);
    let v6: Vec<Value> = env
        .live()
        .into_iter()
        .filter(|p| p["addressFamily"] == "ipv6")
        .collect();
    assert_eq!(v6.len(), 1);
    assert_eq!(v6[0]["asnLong"], 64601);
}

#[test]
fn replacing_the_only_peer_without_redundancy_is_refused() {
    let only_v4 = "provider \"aws\" {\n  region = \"us-east-1\"\n}\nvirtual_interface \"dxvif-fg1vuj3d\" {\n  bgp_peer \"v4\" {\n    address_family = \"ipv4\"\n    asn = 65000\n    auth_key = \"another-key-1\"\n  }\n}\n";
    let env = Env::new("100ms", "no", serde_json::json!({}), only_v4);
    let out = env.run(&["plan"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("error[replace-impossible]"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("main.hcl:5:3"), "{}", out.stderr);
}

#[test]
fn deleting_the_last_peer_is_refused_and_a_second_is_deleted() {
    let env = Env::new("100ms", "no", serde_json::json!({}), SEED_HCL);
    assert_eq!(env.run(FAST).code, 0);
    // Drop v6 from the config: it is deleted.
    let only_v4 = SEED_HCL
        .split("  bgp_peer \"v6\"")
        .next()
        .unwrap()
        .to_string()
        + "}\n";
    env.set_config(&only_v4);
    let out = env.run(FAST);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("0 added, 0 changed, 1 destroyed"),
        "{}",
        out.stdout
    );
    assert_eq!(env.live().len(), 1);
    // Drop v4 too: the VIF's last peer; refused at plan time, never sent.
    env.set_config("provider \"aws\" {\n  region = \"us-east-1\"\n}\nvirtual_interface \"dxvif-fg1vuj3d\" {\n}\n");
    let before = env.sim.count("DeleteBGPPeer");
    let out = env.run(FAST);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("error[last-peer]"), "{}", out.stderr);
    assert_eq!(env.sim.count("DeleteBGPPeer"), before);
    assert_eq!(
        env.state()["peers"].as_array().unwrap().len(),
        1,
        "still owned, never silently dropped"
    );
}

fn awscli_create_v6(env: &Env, asn: u32) {
    let mut cmd = Command::new("python3");
    hermetic(&mut cmd)
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .args([
            "-m",
            "awscli",
            "--endpoint-url",
            &env.sim.url(),
            "--region",
            "us-east-1",
            "directconnect",
            "create-bgp-peer",
        ])
        .args([
            "--virtual-interface-id",
            "dxvif-fg1vuj3d",
            "--new-bgp-peer",
            &format!("asn={asn},addressFamily=ipv6"),
        ]);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn saved_plans_apply_exactly_and_refuse_to_go_stale() {
    let env = Env::new("100ms", "yes", serde_json::json!({}), SEED_HCL);
    let plan_file = env.dir.join("p.json");
    let out = env.run(&["plan", "--out", plan_file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let saved = std::fs::read_to_string(&plan_file).unwrap();
    let pinned: serde_json::Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(pinned["format_version"], 2, "{saved}");
    assert!(pinned["state_serial"].is_u64(), "{saved}");
    assert!(
        pinned.get("plan").is_none(),
        "no copy of the JSON view: {saved}"
    );
    assert!(
        pinned["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["action"] == "create" && c["desired"]["asn"] == 64600),
        "{saved}"
    );
    // A plan file of the earlier format is refused in words, not misread.
    let old = env.dir.join("old.json");
    std::fs::write(
        &old,
        saved.replace("\"format_version\": 2", "\"format_version\": 1"),
    )
    .unwrap();
    let out = run(&mut env.dxctl(&["apply", old.to_str().unwrap()]));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("has format_version 1; this dxctl reads 2"),
        "{}",
        out.stderr
    );
    let shown = run(&mut env.dxctl(&["show", plan_file.to_str().unwrap()]));
    assert!(
        shown.stdout.contains("bgp_peer.v6 will be created"),
        "{}",
        shown.stdout
    );

    // Someone adds a peer in the console: the saved plan no longer describes the world.
    awscli_create_v6(&env, 64999);
    let out = run(&mut env.dxctl(&["apply", plan_file.to_str().unwrap()]));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("saved plan is stale: the Direct Connect facts it relied on changed"),
        "{}",
        out.stderr
    );
    assert_eq!(
        env.sim.count("CreateBGPPeer"),
        1,
        "only the console's create"
    );

    // A fresh plan applies exactly, then a second application of it is stale (the state moved on).
    assert_eq!(
        env.run(&["plan", "--out", plan_file.to_str().unwrap()])
            .code,
        0
    );
    let out = run(&mut env.dxctl(&[
        "apply",
        "--poll-interval",
        "50ms",
        plan_file.to_str().unwrap(),
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = run(&mut env.dxctl(&["apply", plan_file.to_str().unwrap()]));
    assert!(
        out.stderr
            .contains("saved plan is stale: the state changed"),
        "{}",
        out.stderr
    );

    // Editing the config also makes a saved plan stale.
    assert_eq!(
        env.run(&["plan", "--out", plan_file.to_str().unwrap()])
            .code,
        0
    );
    env.set_config(&format!("{SEED_HCL}\n# a reviewer's late edit\n"));
    let out = run(&mut env.dxctl(&["apply", plan_file.to_str().unwrap()]));
    assert!(
        out.stderr
            .contains("saved plan is stale: the configuration"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_second_apply_fails_fast_with_the_holders_details() {
    let env = Env::new("3s", "no", serde_json::json!({}), SEED_HCL);
    let mut first = env
        .dxctl(FAST)
        .arg(&env.cfg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let info = env.dir.join("state.json.lock.info");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !info.exists() {
        assert!(
            Instant::now() < deadline,
            "the first apply never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = Instant::now();
    let out = env.run(FAST);
    assert_eq!(out.code, 1);
    assert!(started.elapsed() < Duration::from_secs(2), "fails fast");
    assert!(
        out.stderr
            .contains(&format!("locked by pid {}", first.id())),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("lock ID"), "{}", out.stderr);
    assert!(first.wait().unwrap().success());
    assert!(
        !info.exists(),
        "the lock info is removed when the holder finishes"
    );
}

#[test]
fn json_and_markdown_plans_and_state_list() {
    let env = Env::new(
        "100ms",
        "no",
        serde_json::json!({}),
        &with_v6_key("json-secret-42"),
    );
    let out = env.run(&["plan", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stdout.contains("json-secret-42"));
    let plan: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(plan["format_version"], "1.0");
    let v6 = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "virtual_interface.dxvif-fg1vuj3d.bgp_peer.v6")
        .unwrap();
    assert_eq!(v6["actions"], serde_json::json!(["create"]));
    assert_eq!(v6["sensitive"], serde_json::json!(["auth_key"]));
    assert_eq!(plan["summary"]["add"], 1);
    let md = env.run(&["plan", "--format", "markdown"]);
    assert!(
        md.stdout
            .starts_with("### dxctl plan: 1 to add, 0 to change, 0 to destroy, 1 to adopt"),
        "{}",
        md.stdout
    );
    assert!(
        md.stdout
            .contains("| `+` | `virtual_interface.dxvif-fg1vuj3d.bgp_peer.v6` | create |"),
        "{}",
        md.stdout
    );
    assert_eq!(env.run(FAST).code, 0);
    let list = run(&mut env.dxctl(&["state", "list"]));
    assert!(
        list.stdout
            .lines()
            .any(|l| l.starts_with("virtual_interface.dxvif-fg1vuj3d.bgp_peer.v6  dxpeer-")),
        "{}",
        list.stdout
    );
    assert!(!std::fs::read_to_string(env.dir.join("state.json"))
        .unwrap()
        .contains("json-secret-42"));
}

#[test]
fn apply_converges_through_throttling_server_errors_drops_and_transitioning_states() {
    for fault in [
        serde_json::json!({"throttleRate": 0.3}),
        serde_json::json!({"serverErrorRate": 0.3}),
        serde_json::json!({"dropRate": 0.3}),
        serde_json::json!({"transitioningRate": 0.5}),
    ] {
        let mut exercised = 0;
        let mut lost_creates = 0;
        for seed in 1..=5 {
            let env = Env::new(
                "100ms",
                "yes",
                serde_json::json!({"faults": fault, "seed": seed}),
                SEED_HCL,
            );
            let out = run(env.dxctl(FAST).env("AWS_MAX_ATTEMPTS", "6").arg(&env.cfg));
            assert_eq!(out.code, 0, "{fault} seed {seed}: {}", out.stderr);
            let v6: Vec<Value> = env
                .live()
                .into_iter()
                .filter(|p| p["addressFamily"] == "ipv6")
                .collect();
            assert_eq!(
                v6.len(),
                1,
                "{fault} seed {seed}: exactly one IPv6 peer, no duplicate"
            );
            assert_eq!(v6[0]["bgpPeerState"], "available");
            let requests = env.sim.requests();
            exercised += requests.iter().filter(|r| r.get("fault").is_some()).count();
            lost_creates += requests
                .iter()
                .filter(|r| r["operation"] == "CreateBGPPeer" && r["fault"] == "drop")
                .count();
        }
        assert!(exercised > 0, "{fault}: the fault was exercised");
        if fault.get("dropRate").is_some() {
            assert!(
                lost_creates > 0,
                "a CreateBGPPeer answer was lost at least once, and no duplicate followed"
            );
        }
    }
}

#[test]
fn stuck_and_failing_peers_end_with_documented_messages() {
    let env = Env::new(
        "100ms",
        "no",
        serde_json::json!({"faults": {"stuckPendingRate": 1.0}}),
        SEED_HCL,
    );
    let out = env.run(&[
        "apply",
        "--auto-approve",
        "--poll-interval",
        "50ms",
        "--timeout",
        "1s",
    ]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("timed out waiting for dxpeer-")
            && out.stderr.contains("(last state pending)"),
        "{}",
        out.stderr
    );

    let env = Env::new(
        "100ms",
        "no",
        serde_json::json!({"faults": {"endDeletedRate": 1.0}}),
        SEED_HCL,
    );
    let out = env.run(FAST);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("the peer went to deleted instead of available"),
        "{}",
        out.stderr
    );
}

#[test]
fn public_vif_peers_await_approval_then_converge() {
    let env = Env::new(
        "100ms",
        "no",
        serde_json::json!({"manualApproval": true}),
        SEED_HCL,
    );
    // Make the VIF public via the world: restart with a patched world.
    let mut w: Value =
        serde_json::from_str(&std::fs::read_to_string(env.dir.join("world.json")).unwrap())
            .unwrap();
    w["virtualInterfaces"][0]["virtualInterfaceType"] = "public".into();
    let path = env.dir.join("public.json");
    std::fs::write(&path, w.to_string()).unwrap();
    let sim = SimProcess::start(&path, &env.dir.join("."), &[]);
    let dx = |args: &[&str]| {
        let mut cmd = dxctl(&env.dir);
        cmd.args(["--endpoint-url", &sim.url(), "--state"])
            .arg(env.dir.join("public-state.json"))
            .args(args)
            .arg(&env.cfg);
        run(&mut cmd)
    };
    let out = dx(&[
        "apply",
        "--auto-approve",
        "--poll-interval",
        "50ms",
        "--timeout",
        "1s",
    ]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stdout.contains(
            "awaiting AWS approval for 1 peer(s): virtual_interface.dxvif-fg1vuj3d.bgp_peer.v6"
        ),
        "{}",
        out.stdout
    );
    // AWS approves; the next apply waits for nothing new and records it.
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", sim.port)).unwrap();
    write!(s, "POST /_sim/approve HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.contains("\"approved\":1"), "{resp}");
    let out = dx(&["plan", "--detailed-exitcode"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

#[cfg(unix)]
#[test]
fn sigint_stops_new_work_records_in_flight_and_resumes() {
    let env = Env::new("4s", "yes", serde_json::json!({}), SEED_HCL);
    let child = env
        .dxctl(FAST)
        .arg(&env.cfg)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while env.sim.count("CreateBGPPeer") == 0 {
        assert!(Instant::now() < deadline, "apply never created");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "it does not wait for provisioning"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Interrupted."), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Interrupt received"));
    let state = env.state();
    assert!(
        state["peers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["address"] == "virtual_interface.dxvif-fg1vuj3d.bgp_peer.v6"),
        "the in-flight create is recorded"
    );
    let out = env.run(FAST);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        env.sim.count("CreateBGPPeer"),
        1,
        "resumed by waiting, not by creating again"
    );
}

/// An apply whose calls may take 8 s and whose lost calls settle 1 s after that.
const ABORTABLE_APPLY: &[&str] = &[
    "--call-timeout",
    "8s",
    "apply",
    "--auto-approve",
    "--poll-interval",
    "50ms",
    "--settle-window",
    "1s",
];

/// A second Ctrl-C while a CreateBGPPeer hangs in flight: apply stops at once, yet the lock is released and the
/// state keeps the call, so the next apply settles it and the VIF ends with one peer per declaration.
#[cfg(unix)]
#[test]
fn a_second_sigint_aborts_a_call_in_flight_but_releases_the_lock_and_keeps_the_intent() {
    let env = Env::new(
        "200ms",
        "yes",
        serde_json::json!({"faults": {"latency": "6s"}}),
        SEED_HCL,
    );
    // Progress lines name each step as it starts: wait for the create to be under way.
    let (mut child, mut stderr, seen) =
        spawn_until(env.dxctl(ABORTABLE_APPLY).arg(&env.cfg), "Creating...");
    std::thread::sleep(Duration::from_millis(300));
    let interrupt = || {
        let status = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    let started = Instant::now();
    interrupt();
    std::thread::sleep(Duration::from_millis(300));
    interrupt();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{seen}{rest}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "it did not wait out the 6s answer: {:?}",
        started.elapsed()
    );
    assert!(rest.contains("Aborting"), "{rest}");
    // The OS lock goes with the process anyway; its info file is removed only by a release.
    assert!(
        !env.dir.join("state.json.lock.info").exists(),
        "the lock was released"
    );
    let state = env.state();
    assert!(
        state["intents"].as_array().is_some_and(|i| i
            .iter()
            .any(|i| i["address"] == "virtual_interface.dxvif-fg1vuj3d.bgp_peer.v6")),
        "the call in flight is kept: {state}"
    );
    // The next apply (answers prompt again) settles the call before sending anything, and converges without a
    // duplicate.
    env.sim.set_faults(&serde_json::json!({}));
    let out = run(env.dxctl(ABORTABLE_APPLY).arg(&env.cfg));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let v6: Vec<_> = env
        .peers()
        .into_iter()
        .filter(|p| p["addressFamily"] == "ipv6" && p["bgpPeerState"] != "deleted")
        .collect();
    assert_eq!(v6.len(), 1, "one IPv6 peer: {v6:?}");
}

#[test]
fn apply_json_streams_one_event_per_line() {
    let env = Env::new("100ms", "no", serde_json::json!({}), SEED_HCL);
    let out = env.run(&[
        "apply",
        "--auto-approve",
        "--poll-interval",
        "50ms",
        "--json",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let events: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(events[0]["kind"], "plan");
    assert_eq!(events[0]["plan"]["summary"]["add"], 1);
    assert!(events
        .iter()
        .any(|e| e["kind"] == "done"
            && e["address"] == "virtual_interface.dxvif-fg1vuj3d.bgp_peer.v6"));
    assert!(events.last().unwrap()["message"]
        .as_str()
        .unwrap()
        .starts_with("Apply complete!"));
}

/// Ctrl-C while a destroy-before-create replacement waits for its delete: exit 130, and the next apply resumes (the
/// old peer gone, the new one created once).
#[test]
fn sigint_while_a_replacement_waits_for_its_delete_exits_130_and_resumes() {
    let env = Env::new(
        "100ms",
        "no",
        serde_json::json!({"deletionDelay": "3s"}),
        SEED_HCL,
    );
    assert_eq!(env.run(FAST).code, 0);
    env.set_config(&SEED_HCL.replace("asn            = 64600", "asn            = 64601"));
    let (mut child, mut stderr, seen) =
        spawn_until(env.dxctl(FAST).arg(&env.cfg), "destroy before create");
    // The delete is sent at once; its peer takes 3s to go.
    std::thread::sleep(Duration::from_millis(800));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let mut stdout = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(130), "{seen}{rest}{stdout}");
    assert!(stdout.contains("Interrupted."), "{stdout}");
    assert!(
        !stdout.contains("apply failed") && !rest.contains("apply failed"),
        "{rest}"
    );

    let out = env.run(FAST);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let v6: Vec<_> = env
        .live()
        .into_iter()
        .filter(|p| p["addressFamily"] == "ipv6")
        .collect();
    assert_eq!(v6.len(), 1, "{v6:?}");
    assert_eq!(v6[0]["asn"], 64601);
    assert!(env.run(&["plan"]).stdout.contains("No changes."));
}

/// Starts `cmd` with piped output and reads its stderr until a line contains `needle` (at most 60s): the child, the
/// rest of its stderr, and what was read.
fn spawn_until(
    cmd: &mut Command,
    needle: &str,
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStderr>,
    String,
) {
    use std::io::BufRead;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !seen.contains(needle) {
        assert!(Instant::now() < deadline, "never saw {needle:?}: {seen}");
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            panic!("ended before {needle:?}: {seen}");
        }
        seen.push_str(&line);
    }
    (child, stderr, seen)
}
