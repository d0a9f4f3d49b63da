//! The README's first command, end to end: sandbox plan and apply on the seed example.

use super::support::*;

fn sandbox_world_copy(cwd: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(cwd.join("state/sandbox/world.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn seed_example_applies_then_plans_no_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let world = repo().join("examples/seed/world.json");
    let config = repo().join("examples/seed");
    let world_before = std::fs::read(&world).unwrap();

    let out = run(dxctl(cwd)
        .arg("--sandbox")
        .arg(&world)
        .arg("plan")
        .arg(&config)
        .arg("--detailed-exitcode"));
    assert_eq!(out.code, 2, "changes present: {}", out.stderr);
    insta::assert_snapshot!("seed_plan", out.stdout);

    let out = run(dxctl(cwd)
        .arg("--sandbox")
        .arg(&world)
        .args(["apply", "--auto-approve"])
        .arg(&config));
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    assert!(
        out.stdout
            .contains("Plan: 1 to adopt, 1 to add, 0 to change, 0 to destroy."),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("Apply complete! Resources: 1 added, 0 changed, 0 destroyed, 1 adopted."),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("bgp_peer.v6: Available [id=dxpeer-"),
        "progress: {}",
        out.stderr
    );

    // The evolving world shows the IPv6 peer available with a /125 pair.
    let copy = sandbox_world_copy(cwd);
    let peers = copy["virtualInterfaces"][0]["bgpPeers"].as_array().unwrap();
    let v6 = peers
        .iter()
        .find(|p| p["addressFamily"] == "ipv6")
        .expect("ipv6 peer");
    assert_eq!(v6["bgpPeerState"], "available");
    assert!(v6["amazonAddress"].as_str().unwrap().ends_with("/125"));
    assert!(v6["customerAddress"].as_str().unwrap().ends_with("/125"));
    let generated_key = v6["authKey"].as_str().unwrap().to_string();

    // State records the peer with its id and never an auth key.
    let state = std::fs::read_to_string(cwd.join("state/dxctl.state.json")).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert_eq!(parsed["peers"][1]["bgp_peer_id"], v6["bgpPeerId"]);
    assert_eq!(
        parsed["peers"][0]["bgp_peer_id"], "dxpeer-fg1v4v4e",
        "the existing peer was adopted"
    );
    assert_eq!(
        parsed["peers"][1]["address"],
        "virtual_interface.dxvif-fg1vuj3d.bgp_peer.v6"
    );
    assert!(
        !state.contains(&generated_key) && !state.to_lowercase().contains("auth"),
        "{state}"
    );
    assert!(!out.stdout.contains(&generated_key) && !out.stderr.contains(&generated_key));

    let out = run(dxctl(cwd)
        .arg("--sandbox")
        .arg(&world)
        .arg("plan")
        .arg(&config)
        .arg("--detailed-exitcode"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "No changes. Your infrastructure matches the configuration.\n"
    );

    // The tracked example world is never written.
    assert_eq!(std::fs::read(&world).unwrap(), world_before);

    // --sandbox-reset starts over from the seed world.
    let out = run(dxctl(cwd)
        .arg("--sandbox")
        .arg(&world)
        .arg("--sandbox-reset")
        .arg("plan")
        .arg(&config));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("1 to add"), "{}", out.stdout);
    // The state named peers of the old world: it is set aside, and the plan adopts the seed world's peer again.
    assert!(out.stdout.contains("1 to adopt"), "{}", out.stdout);
    assert!(
        out.stderr
            .contains("Sandbox reset: the state of the old world was moved to"),
        "{}",
        out.stderr
    );
    assert!(cwd.join("state/dxctl.state.json.before-reset").exists());
    assert!(!cwd.join("state/dxctl.state.json").exists());
}

#[test]
fn auth_key_from_env_never_leaks() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let world = seed_world(cwd, "200ms");
    let secret = "S3cr3t-from-env-0123456789";
    let config = config_dir(
        cwd,
        "cfg",
        &SEED_HCL.replace(
            "asn            = 64600",
            "asn            = 64600\n    auth_key       = env(\"DX_V6_KEY\")",
        ),
    );
    for args in [
        vec!["-v", "validate"],
        vec!["-v", "plan"],
        vec!["-v", "plan", "--json"],
        vec!["-v", "apply", "--auto-approve", "--poll-interval", "50ms"],
        vec!["-v", "plan"],
    ] {
        let out = run(dxctl(cwd)
            .env("DX_V6_KEY", secret)
            .arg("--sandbox")
            .arg(&world)
            .args(&args)
            .arg(&config));
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        assert!(
            !out.stdout.contains(secret) && !out.stderr.contains(secret),
            "{args:?} leaked the key"
        );
    }
    let state = std::fs::read_to_string(cwd.join("state/dxctl.state.json")).unwrap();
    assert!(!state.contains(secret));
    // AWS (the simulator) did receive it: the key was sent, not dropped.
    let copy = sandbox_world_copy(cwd);
    assert!(copy.to_string().contains(secret));
}

#[test]
fn timeout_names_waiting_peers_and_resume_does_not_recreate() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let world = seed_world(cwd, "1h");
    let config = config_dir(cwd, "cfg", SEED_HCL);
    let out = run(dxctl(cwd)
        .arg("--sandbox")
        .arg(&world)
        .args([
            "apply",
            "--auto-approve",
            "--timeout",
            "1s",
            "--poll-interval",
            "100ms",
        ])
        .arg(&config));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("apply failed: 1 change(s) failed"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "virtual_interface.dxvif-fg1vuj3d.bgp_peer.v6: timed out waiting for dxpeer-"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("(last state pending)"),
        "{}",
        out.stderr
    );
    // The accepted create is already in state.
    let state = std::fs::read_to_string(cwd.join("state/dxctl.state.json")).unwrap();
    assert!(state.contains("bgp_peer.v6"));

    // Planning again waits for the pending peer; it does not plan a second create.
    let out = run(dxctl(cwd)
        .arg("--sandbox")
        .arg(&world)
        .arg("plan")
        .arg(&config));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("is pending"), "{}", out.stdout);
    assert!(out.stdout.contains("Plan: 0 to add"), "{}", out.stdout);
    let copy = sandbox_world_copy(cwd);
    assert_eq!(
        copy["virtualInterfaces"][0]["bgpPeers"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "no duplicate peer"
    );
}

#[test]
fn apply_without_terminal_or_auto_approve_refuses() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let world = seed_world(cwd, "100ms");
    let out = run(dxctl(cwd)
        .arg("--sandbox")
        .arg(&world)
        .arg("apply")
        .arg(repo().join("examples/seed")));
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("--auto-approve"), "{}", out.stderr);
    let copy = sandbox_world_copy(cwd);
    assert_eq!(
        copy["virtualInterfaces"][0]["bgpPeers"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "nothing created"
    );
}

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(
        run(dxctl(tmp.path()).args(["plan", "--no-such-flag"])).code,
        1
    );
    let help = run(dxctl(tmp.path()).args(["apply", "--help"]));
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("--auto-approve"));
}
