//! Hostile or unlucky input: each case ends in a clear error and exit code, never a hang or a panic, sends nothing to
//! AWS, and overwrites nothing it should not.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::support::*;

const LIMIT: Duration = Duration::from_secs(30);

/// A config whose one peer's auth key is `file(<path>)`.
fn file_config(dir: &Path, path: &str) -> std::path::PathBuf {
    config_dir(
        dir,
        "cfg",
        &format!(
            "provider \"aws\" {{\n  region = \"us-east-1\"\n}}\n\nvirtual_interface \"dxvif-fg1vuj3d\" {{\n  bgp_peer \"v6\" {{\n    address_family = \"ipv6\"\n    asn            = 64600\n    auth_key       = file(\"{path}\")\n  }}\n}}\n"
        ),
    )
}

fn validate(dir: &Path, config: &Path) -> Finished {
    let mut cmd = dxctl(dir);
    cmd.arg("validate").arg(config);
    run_bounded(cmd, dir, "validate", LIMIT)
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success());
}

#[test]
fn file_reads_only_small_regular_files_and_never_hangs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    mkfifo(&dir.join("pipe"));
    std::fs::create_dir(dir.join("a-dir")).unwrap();
    std::fs::write(dir.join("big.key"), "k".repeat(64 * 1024 + 1)).unwrap();
    let cases = [
        ("/dev/zero", "not a regular file"),
        ("/dev/urandom", "not a regular file"),
        ("../pipe", "not a regular file"),
        ("../a-dir", "not a regular file"),
        ("../big.key", "file() reads at most 65536"),
    ];
    for (path, expected) in cases {
        let config = file_config(dir, path);
        let out = validate(dir, &config);
        assert_eq!(out.code, Some(1), "{path}: {}", out.stderr);
        assert!(out.stderr.contains(expected), "{path}:\n{}", out.stderr);
        assert!(
            out.stderr.contains("error[evaluation]") && out.stderr.contains("main.hcl:9"),
            "a located error for {path}:\n{}",
            out.stderr
        );
    }
}

#[test]
fn a_dangling_config_file_is_an_error_never_a_missing_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let config = config_dir(dir, "cfg", SEED_HCL);
    std::os::unix::fs::symlink(dir.join("nowhere.hcl"), config.join("peers.hcl")).unwrap();
    let world = seed_world(dir, "100ms");
    let sim = SimProcess::start(&world, dir, &[]);
    let mut cmd = dxctl(dir);
    cmd.args(["--endpoint-url", &sim.url(), "plan"])
        .arg(&config);
    let out = run_bounded(cmd, dir, "plan", LIMIT);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("peers.hcl is a link to nothing readable"),
        "{}",
        out.stderr
    );
    assert_eq!(sim.requests().len(), 0, "nothing sent to AWS");
}

#[test]
fn a_symlinked_state_file_is_written_through_and_special_files_are_never_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let world = seed_world(dir, "100ms");
    let sim = SimProcess::start(&world, dir, &[]);
    let config = config_dir(dir, "cfg", SEED_HCL);
    std::fs::create_dir(dir.join("real")).unwrap();
    std::os::unix::fs::symlink("real/dxctl.state.json", dir.join("link.json")).unwrap();
    let mut cmd = dxctl(dir);
    cmd.args([
        "--endpoint-url",
        &sim.url(),
        "--state",
        "link.json",
        "apply",
        "--auto-approve",
        "--poll-interval",
        "100ms",
    ])
    .arg(&config);
    let out = run_bounded(cmd, dir, "apply", LIMIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let link = std::fs::symlink_metadata(dir.join("link.json")).unwrap();
    assert!(link.file_type().is_symlink(), "the link is still a link");
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("real/dxctl.state.json")).unwrap())
            .unwrap();
    assert_eq!(
        state["peers"].as_array().unwrap().len(),
        2,
        "the target holds the state"
    );

    // `plan --out` onto a FIFO (a stand-in for /dev/full): refused, and the FIFO is still a FIFO.
    mkfifo(&dir.join("fifo"));
    let mut cmd = dxctl(dir);
    cmd.args([
        "--endpoint-url",
        &sim.url(),
        "--state",
        "link.json",
        "plan",
        "--out",
        "fifo",
    ])
    .arg(&config);
    let out = run_bounded(cmd, dir, "plan-out", LIMIT);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("is not a regular file; refusing to replace it"),
        "{}",
        out.stderr
    );
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(dir.join("fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
}

/// A state made to mislead: each is refused on load with the problem named and the backup pointed at, before any
/// change is planned.
#[test]
fn crafted_state_files_are_refused_before_anything_is_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let world = seed_world(dir, "100ms");
    let sim = SimProcess::start(&world, dir, &[]);
    let config = config_dir(dir, "cfg", SEED_HCL);
    let record = |address: &str, id: &str, deposed: &[&str]| {
        serde_json::json!({
            "address": format!("virtual_interface.dxvif-fg1vuj3d.bgp_peer.{address}"),
            "virtual_interface_id": "dxvif-fg1vuj3d", "region": "us-east-1", "bgp_peer_id": id,
            "address_family": "ipv4", "asn": 65000, "deposed": deposed
        })
    };
    let state = |serial: u64, peers: Vec<Value>| {
        serde_json::json!({"format_version": 1, "lineage": "0123456789abcdef0123456789abcdef",
            "serial": serial, "peers": peers})
    };
    let cases = [
        (
            "one id under two addresses",
            state(
                3,
                vec![
                    record("v4", "dxpeer-fg1v4v4e", &[]),
                    record("v6", "dxpeer-fg1v4v4e", &[]),
                ],
            ),
            "appears twice",
        ),
        (
            "a deposed id that another record owns",
            state(
                3,
                vec![
                    record("old", "dxpeer-zzzz0000", &["dxpeer-fg1v4v4e"]),
                    record("v4", "dxpeer-fg1v4v4e", &[]),
                ],
            ),
            "appears twice",
        ),
        (
            "serial at its maximum",
            state(u64::MAX, vec![]),
            "cannot grow further",
        ),
    ];
    for (name, crafted, expected) in cases {
        let path = dir.join(format!("{}.json", name.replace(' ', "-")));
        let text = serde_json::to_string_pretty(&crafted).unwrap();
        std::fs::write(&path, &text).unwrap();
        let mut cmd = dxctl(dir);
        cmd.args(["--endpoint-url", &sim.url(), "--state"])
            .arg(&path)
            .args(["apply", "--auto-approve"])
            .arg(&config);
        let out = run_bounded(cmd, dir, "apply", LIMIT);
        assert_eq!(out.code, Some(1), "{name}: {}", out.stderr);
        assert!(out.stderr.contains(expected), "{name}:\n{}", out.stderr);
        assert!(
            out.stderr.contains(".backup"),
            "{name}: points at the backup"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            text,
            "{name}: the state is untouched"
        );
    }
    let mutating = sim
        .requests()
        .iter()
        .filter(|r| {
            r["operation"]
                .as_str()
                .is_some_and(|o| !o.starts_with("Describe"))
        })
        .count();
    assert_eq!(mutating, 0, "nothing changed at AWS");
}

/// A deposed entry naming a peer that another declared peer asks for (and owns nothing yet): never deleted.
#[test]
fn a_deposed_entry_that_names_a_declared_peer_is_refused_not_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let world = seed_world(dir, "100ms");
    let sim = SimProcess::start(&world, dir, &[]);
    let config = config_dir(dir, "cfg", SEED_HCL);
    // The seed's IPv4 peer is what `v4` declares; a crafted record for `v6` claims it as deposed.
    let state = serde_json::json!({"format_version": 1, "lineage": "0123456789abcdef0123456789abcdef", "serial": 1,
        "peers": [{"address": "virtual_interface.dxvif-fg1vuj3d.bgp_peer.v6", "virtual_interface_id": "dxvif-fg1vuj3d",
            "region": "us-east-1", "bgp_peer_id": "dxpeer-gone0000", "address_family": "ipv6", "asn": 64600,
            "deposed": ["dxpeer-fg1v4v4e"]}]});
    std::fs::write(dir.join("state.json"), state.to_string()).unwrap();
    let mut cmd = dxctl(dir);
    cmd.args([
        "--endpoint-url",
        &sim.url(),
        "--state",
        "state.json",
        "apply",
        "--auto-approve",
    ])
    .arg(&config);
    let out = run_bounded(cmd, dir, "apply", LIMIT);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("error[state-conflict]"),
        "{}",
        out.stderr
    );
    assert_eq!(
        sim.count("DeleteBGPPeer"),
        0,
        "the declared peer was not deleted"
    );
}

/// In sandbox mode a plan reads the evolving world and never writes it back (it would roll back an apply running
/// meanwhile); starting the sandbox over takes the state lock.
#[test]
fn a_sandbox_plan_never_rewrites_the_world() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let world = seed_world(dir, "100ms");
    let config = config_dir(dir, "cfg", SEED_HCL);
    let apply = run(dxctl(dir)
        .arg("--sandbox")
        .arg(&world)
        .args(["apply", "--auto-approve"])
        .arg(&config));
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    let copy = dir.join("state/sandbox/world.json");
    let before = std::fs::read(&copy).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let plan = run(dxctl(dir)
        .arg("--sandbox")
        .arg(&world)
        .arg("plan")
        .arg(&config));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        before,
        "the plan left the world as it was"
    );

    // While an apply holds the state, a plan that would start the sandbox over is refused.
    let store = dxctl::state::LocalStateFile::new(dir.join("state/dxctl.state.json"));
    let dxctl::state::lock::Attempt::Acquired(_held) =
        dxctl::state::StateLocking::try_lock(&store, &dxctl::state::LockInfo::new("apply (test)"))
            .unwrap()
    else {
        panic!("the state lock is free")
    };
    let reset = run(dxctl(dir)
        .arg("--sandbox")
        .arg(&world)
        .args(["--sandbox-reset", "plan"])
        .arg(&config));
    assert_eq!(reset.code, 1, "{}", reset.stderr);
    assert!(reset.stderr.contains("lock"), "{}", reset.stderr);
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        before,
        "the world was not reset"
    );
}

#[test]
fn a_saved_plan_holds_no_sensitive_value_and_still_applies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let world = seed_world(dir, "100ms");
    let sim = SimProcess::start(&world, dir, &[]);
    let address = "169.254.255.2/30";
    let hcl = SEED_HCL
        .replace(
            "customer_address = \"169.254.255.2/30\"",
            "customer_address = var.customer",
        )
        .replace(
            "virtual_interface",
            "variable \"customer\" {\n  type      = string\n  sensitive = true\n}\n\nvirtual_interface",
        );
    let cfg = config_dir(dir, "cfg", &hcl);
    let planfile = dir.join("saved.plan");
    let at = |args: &[&str]| {
        let mut cmd = dxctl(dir);
        cmd.args(["--endpoint-url", &sim.url(), "--region", "us-east-1"])
            .env("DXCTL_VAR_customer", address)
            .args(args);
        cmd
    };
    let mut plan = at(&["plan", "--out"]);
    plan.arg(&planfile).arg(&cfg);
    let planned = run_bounded(plan, dir, "plan --out", LIMIT);
    assert_eq!(planned.code, Some(0), "{}", planned.stderr);
    assert!(planned.stdout.contains("bgp_peer.v4"), "{}", planned.stdout);
    let saved = std::fs::read_to_string(&planfile).unwrap();
    assert!(
        saved.contains("customer_address") && saved.contains("(sensitive)"),
        "{saved}"
    );
    assert!(!saved.contains(address), "the plan file holds {address}");
    let show = run_bounded(
        at(&["show", planfile.to_str().unwrap()]),
        dir,
        "show",
        LIMIT,
    );
    assert_eq!(show.code, Some(0), "{}", show.stderr);
    assert!(!show.stdout.contains(address) && !show.stderr.contains(address));
    let mut apply = at(&["apply", "--poll-interval", "50ms"]);
    apply.arg(&planfile);
    let applied = run_bounded(apply, dir, "apply PLANFILE", LIMIT);
    assert_eq!(
        applied.code,
        Some(0),
        "{}{}",
        applied.stdout,
        applied.stderr
    );
    assert!(
        applied.stdout.contains("Apply complete"),
        "{}",
        applied.stdout
    );
    assert!(!applied.stdout.contains(address) && !applied.stderr.contains(address));
}
