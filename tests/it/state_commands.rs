//! `state rm` and `state mv` change what dxctl manages and never touch AWS; the refusal for a removed VIF block names
//! the `state rm` way out.

use serde_json::json;

use super::sim_env::Env;
use super::support::*;

const FAST: &[&str] = &["apply", "--auto-approve", "--poll-interval", "50ms"];
const V6: &str = "virtual_interface.dxvif-fg1vuj3d.bgp_peer.v6";
const V4: &str = "virtual_interface.dxvif-fg1vuj3d.bgp_peer.v4";

fn writes(env: &Env) -> usize {
    env.sim.count("CreateBGPPeer") + env.sim.count("DeleteBGPPeer")
}

fn addresses(env: &Env) -> Vec<String> {
    env.state()["peers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["address"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn state_rm_stops_managing_and_a_removed_vif_block_is_then_left_alone() {
    let env = Env::new("50ms", "no", json!({}), SEED_HCL);
    assert_eq!(env.run(FAST).code, 0);
    let before = writes(&env);
    let live_before = env.live().len();

    // Removing the whole VIF block would delete its last peer: refused, with the way out.
    env.set_config("provider \"aws\" {\n  region = \"us-east-1\"\n}\n");
    let refused = env.run(&["plan"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("(state): error[last-peer]")
            && refused
                .stderr
                .contains("run `dxctl state rm dxvif-fg1vuj3d`"),
        "{}",
        refused.stderr
    );

    // A dry run changes nothing.
    let dry = run(&mut env.dxctl(&["state", "rm", "--dry-run", "dxvif-fg1vuj3d"]));
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(
        dry.stdout.contains(&format!("Would remove {V4}")),
        "{}",
        dry.stdout
    );
    assert_eq!(addresses(&env).len(), 2);

    let rm = run(&mut env.dxctl(&["state", "rm", "dxvif-fg1vuj3d"]));
    assert_eq!(rm.code, 0, "{}", rm.stderr);
    assert!(
        rm.stdout.contains(&format!("Removed {V6}")) && rm.stdout.contains("Removed 2 peer(s)"),
        "{}",
        rm.stdout
    );
    assert!(addresses(&env).is_empty());
    let plan = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert_eq!(writes(&env), before, "state rm touches no peer");
    assert_eq!(env.live().len(), live_before);
}

#[test]
fn state_rm_of_a_declared_peer_is_adopted_again_and_unknown_addresses_get_a_suggestion() {
    let env = Env::new("50ms", "no", json!({}), SEED_HCL);
    assert_eq!(env.run(FAST).code, 0);
    let before = writes(&env);
    let typo = run(&mut env.dxctl(&[
        "state",
        "rm",
        "virtual_interface.dxvif-fg1vuj3d.bgp_peer.v7",
    ]));
    assert_eq!(typo.code, 1);
    assert!(
        typo.stderr.contains(&format!("did you mean {V6}?")),
        "{}",
        typo.stderr
    );
    let not_address = run(&mut env.dxctl(&["state", "rm", "virtual_interface.dxvif-fg1vuj3d"]));
    assert_eq!(not_address.code, 1);
    assert!(
        not_address.stderr.contains("is not a peer address"),
        "{}",
        not_address.stderr
    );

    let rm = run(&mut env.dxctl(&["state", "rm", V6]));
    assert_eq!(rm.code, 0, "{}", rm.stderr);
    assert_eq!(addresses(&env), [V4]);
    let plan = env.run(&["plan"]);
    assert!(
        plan.stdout.contains("Plan: 1 to adopt, 0 to add"),
        "{}",
        plan.stdout
    );
    assert_eq!(env.run(FAST).code, 0);
    assert_eq!(addresses(&env).len(), 2);
    assert_eq!(writes(&env), before);
}

#[test]
fn state_mv_renames_a_record_so_a_renamed_block_plans_nothing() {
    let env = Env::new("50ms", "no", json!({}), SEED_HCL);
    assert_eq!(env.run(FAST).code, 0);
    let before = writes(&env);
    let to = "virtual_interface.dxvif-fg1vuj3d.bgp_peer.ipv6_primary";
    let mv = run(&mut env.dxctl(&["state", "mv", V6, to]));
    assert_eq!(mv.code, 0, "{}", mv.stderr);
    assert!(
        mv.stdout.contains(&format!("Moved {V6} to {to}")),
        "{}",
        mv.stdout
    );
    env.set_config(&SEED_HCL.replace("bgp_peer \"v6\"", "bgp_peer \"ipv6_primary\""));
    let plan = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);

    for (args, says) in [
        (
            vec![to, "virtual_interface.dxvif-other.bgp_peer.x"],
            "a BGP peer belongs to its virtual interface",
        ),
        (vec![to, V4], "is already managed"),
        (
            vec![V6, "virtual_interface.dxvif-fg1vuj3d.bgp_peer.y"],
            "is not managed",
        ),
        (vec![to, to], "are the same address"),
        (vec!["v6", to], "is not a peer address"),
    ] {
        let mut cmd_args = vec!["state", "mv"];
        cmd_args.extend(args.iter().copied());
        let out = run(&mut env.dxctl(&cmd_args));
        assert_eq!(out.code, 1, "{args:?}");
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
    assert_eq!(writes(&env), before);
}

/// Ctrl-C while waiting for the state lock (apply, or a state command) exits 130 at once, having changed nothing.
#[cfg(unix)]
#[test]
fn sigint_while_waiting_for_the_state_lock_exits_130() {
    let env = Env::new("50ms", "no", json!({}), SEED_HCL);
    assert_eq!(env.run(FAST).code, 0);
    let state_before = std::fs::read(env.dir.join("state.json")).unwrap();
    let store = dxctl::state::LocalStateFile::new(env.dir.join("state.json"));
    let dxctl::state::lock::Attempt::Acquired(_held) =
        dxctl::state::StateLocking::try_lock(&store, &dxctl::state::LockInfo::new("apply (test)"))
            .unwrap()
    else {
        panic!("the state lock is free")
    };
    for args in [
        vec!["--lock-timeout", "120s", "apply", "--auto-approve"],
        vec!["--lock-timeout", "120s", "state", "rm", V6],
    ] {
        let mut cmd = env.dxctl(&args);
        if args.contains(&"apply") {
            cmd.arg(&env.cfg);
        }
        let child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let status = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "{args:?}: {stderr}");
        assert!(stderr.contains("Interrupted"), "{args:?}: {stderr}");
    }
    assert_eq!(
        std::fs::read(env.dir.join("state.json")).unwrap(),
        state_before,
        "nothing changed"
    );
}

#[test]
fn state_pull_and_push_move_a_state_and_refuse_what_would_undo_changes() {
    let env = Env::new("50ms", "no", json!({}), SEED_HCL);
    assert_eq!(env.run(FAST).code, 0);
    let pulled = run(&mut env.dxctl(&["state", "pull"]));
    assert_eq!(pulled.code, 0, "{}", pulled.stderr);
    let copy = env.dir.join("copy.json");
    std::fs::write(&copy, &pulled.stdout).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&pulled.stdout).unwrap();
    assert_eq!(doc["peers"].as_array().unwrap().len(), 2);

    // Into an empty state elsewhere: accepted.
    let other = env.dir.join("other.json");
    let mut push = env.dxctl(&["state", "push"]);
    push.arg(&copy).args(["--state"]).arg(&other);
    let pushed = run(&mut push);
    assert_eq!(pushed.code, 0, "{}", pushed.stderr);
    let moved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&other).unwrap()).unwrap();
    assert_eq!(moved["lineage"], doc["lineage"]);
    assert_eq!(moved["peers"], doc["peers"]);

    // The original moves on (a state rm), so the copy is behind: refused, then forced.
    assert_eq!(run(&mut env.dxctl(&["state", "rm", V6])).code, 0);
    let mut stale = env.dxctl(&["state", "push"]);
    stale.arg(&copy);
    let refused = run(&mut stale);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("behind the state's"),
        "{}",
        refused.stderr
    );
    assert_eq!(addresses(&env), [V4], "nothing was pushed");
    let mut forced = env.dxctl(&["state", "push", "--force"]);
    forced.arg(&copy);
    assert_eq!(run(&mut forced).code, 0);
    assert_eq!(addresses(&env).len(), 2);

    // Another lineage is refused.
    let mut foreign = doc.clone();
    foreign["lineage"] = "0123456789abcdef0123456789abcdef".into();
    foreign["serial"] = 1_000.into();
    let foreign_path = env.dir.join("foreign.json");
    std::fs::write(&foreign_path, foreign.to_string()).unwrap();
    let mut other_lineage = env.dxctl(&["state", "push"]);
    other_lineage.arg(&foreign_path);
    let out = run(&mut other_lineage);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("is another state (lineage"),
        "{}",
        out.stderr
    );
    let garbage = env.dir.join("garbage.json");
    std::fs::write(&garbage, "{\"format_version\": 1, \"peers\": 3}").unwrap();
    let mut bad = env.dxctl(&["state", "push"]);
    bad.arg(&garbage);
    let out = run(&mut bad);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("is not a dxctl state"),
        "{}",
        out.stderr
    );
}
