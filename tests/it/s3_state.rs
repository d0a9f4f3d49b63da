//! The shared S3 state, end to end: the real binary against the simulator and moto's S3 on loopback. Many runs at
//! once, a run killed while it holds the lock, a state written behind a run's back, moving a state to S3 and back,
//! and where the backend is configured.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::s3_server::{MotoS3, Version};
use super::sim_env::world;
use super::support::*;

const BUCKET: &str = "net-state";
const KEY: &str = "prod/dxctl.state.json";
const LOCK_KEY: &str = "prod/dxctl.state.json.lock";
const STATE: &str = "s3://net-state/prod/dxctl.state.json";
const FAST: &[&str] = &["apply", "--auto-approve", "--poll-interval", "50ms"];

struct S3Env {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    sim: SimProcess,
    s3: MotoS3,
    cfg: std::path::PathBuf,
}

impl S3Env {
    fn new(delay: &str, hcl: &str) -> S3Env {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let sim = SimProcess::start(&world(&dir, delay, "no", json!({})), &dir, &[]);
        let s3 = MotoS3::start(&dir);
        s3.create_bucket(BUCKET, true);
        let cfg = config_dir(&dir, "cfg", hcl);
        S3Env {
            _tmp: tmp,
            dir,
            sim,
            s3,
            cfg,
        }
    }

    /// dxctl on the simulator, with S3 reachable through the AWS config chain; `--state` is the caller's.
    fn bare(&self, args: &[&str]) -> Command {
        let mut cmd = dxctl(&self.dir);
        self.s3.env(&mut cmd);
        cmd.args(["--endpoint-url", &self.sim.url()]).args(args);
        cmd
    }

    /// dxctl on the shared state.
    fn dxctl(&self, args: &[&str]) -> Command {
        let mut cmd = self.bare(&["--state", STATE]);
        cmd.args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        run(self.dxctl(args).arg(&self.cfg))
    }

    fn state(&self) -> Value {
        serde_json::from_str(&self.s3.text(BUCKET, KEY)).unwrap()
    }

    /// The ids of the peers on the VIF that are not being deleted.
    fn live_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.sim.world()["virtualInterfaces"][0]["bgpPeers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| !matches!(p["bgpPeerState"].as_str(), Some("deleting" | "deleted")))
            .map(|p| p["bgpPeerId"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    }

    fn state_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.state()["peers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["bgp_peer_id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    }

    /// The moto requests on `key` of `method` that got `status`.
    fn served(&self, method: &str, key: &str, status: u64) -> Vec<Value> {
        let path = format!("/{BUCKET}/{key}");
        self.s3
            .requests()
            .into_iter()
            .filter(|r| {
                r["method"] == method && r["path"] == path.as_str() && r["status"] == status
            })
            .collect()
    }
}

/// Waits (bounded) until `done` holds.
fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> Output {
    let out = child.wait_with_output().unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The server's serial log proves mutual exclusion: successful creates and deletes of the lock object alternate,
/// every state write lands while some run holds the lock, and every one is conditional.
fn assert_lock_discipline(env: &S3Env) -> usize {
    let lock_path = format!("/{BUCKET}/{LOCK_KEY}");
    let state_path = format!("/{BUCKET}/{KEY}");
    let mut held = false;
    let (mut acquisitions, mut writes) = (0, 0);
    for r in env.s3.requests() {
        // What happened to the object, whatever the client was told (a fault may hide a write that ran).
        let ok = matches!(r["effect"].as_u64(), Some(200 | 204));
        if r["path"] == lock_path.as_str() && ok {
            match r["method"].as_str() {
                Some("PUT") => {
                    assert!(!held, "two holders at once: {r}");
                    assert_eq!(r["if_none_match"], "*", "{r}");
                    held = true;
                    acquisitions += 1;
                }
                Some("DELETE") => {
                    assert!(held, "a release without a holder: {r}");
                    assert!(r["if_match"].is_string(), "an unconditional unlock: {r}");
                    held = false;
                }
                _ => {}
            }
        }
        if r["path"] == state_path.as_str() && r["method"] == "PUT" && ok {
            assert!(held, "a state write outside the lock: {r}");
            assert!(
                r["if_match"].is_string() || r["if_none_match"] == "*",
                "an unconditional state write: {r}"
            );
            writes += 1;
        }
    }
    assert!(!held, "the lock was left held");
    assert!(acquisitions > 0);
    writes
}

/// Eight runs plan and apply on one S3 state at once: one holder at a time, no update lost, no peer created twice,
/// and the state ends equal to the world.
#[test]
fn eight_runs_at_once_on_one_s3_state_serialise_and_lose_nothing() {
    let env = S3Env::new("300ms", SEED_HCL);
    let started = Instant::now();
    let mut children = Vec::new();
    for i in 0..8 {
        let mut apply = env.dxctl(FAST);
        apply.args(["--lock-timeout", "120s"]).arg(&env.cfg);
        children.push(("apply", i, spawn(apply)));
        let mut plan = env.dxctl(&["plan"]);
        plan.arg(&env.cfg);
        children.push(("plan", i, spawn(plan)));
    }
    for (what, i, child) in children {
        let out = finish(child);
        assert_eq!(out.code, 0, "{what} #{i}: {}\n{}", out.stderr, out.stdout);
    }
    let writes = assert_lock_discipline(&env);
    assert_eq!(
        env.served("PUT", LOCK_KEY, 200).len(),
        8,
        "each apply held the lock once; plans never take it"
    );
    assert_eq!(
        env.sim.count("CreateBGPPeer"),
        1,
        "the v6 peer was created once"
    );
    let state = env.state();
    assert_eq!(
        state["serial"].as_u64().unwrap() as usize,
        writes,
        "every write built on the one before it (a lost update would leave a serial gap)"
    );
    assert_eq!(
        env.state_ids(),
        env.live_ids(),
        "the state equals the world"
    );
    // Versioning keeps every write: each version is one serial, none twice.
    let mut serials: Vec<u64> = env
        .s3
        .versions(BUCKET, KEY)
        .iter()
        .filter_map(|v| match v {
            Version::Put { version_id } => Some(version_id),
            Version::Deleted => None,
        })
        .map(|id| {
            let v: Value = serde_json::from_str(&env.s3.version_text(BUCKET, KEY, id)).unwrap();
            assert_eq!(v["lineage"], state["lineage"]);
            v["serial"].as_u64().unwrap()
        })
        .collect();
    serials.sort();
    assert_eq!(serials, (1..=writes as u64).collect::<Vec<_>>());
    let again = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stderr, again.stdout);
    eprintln!(
        "8 applies and 8 plans at once: {:.1}s; {} lock acquisitions, {} refused lock creates (412), {} state writes, \
         {} S3 requests",
        started.elapsed().as_secs_f64(),
        env.served("PUT", LOCK_KEY, 200).len(),
        env.served("PUT", LOCK_KEY, 412).len(),
        writes,
        env.s3.requests().len()
    );
}

/// A run killed with SIGKILL while it holds the lock (at two moments: before it wrote anything, and once its create
/// was sent) leaves the lock behind; the next run refuses, naming the dead holder and its lock ID; `force-unlock`
/// clears it; the run after converges without creating anything twice.
#[test]
fn a_run_killed_holding_the_s3_lock_is_cleared_by_force_unlock_and_the_next_run_converges() {
    for moment in ["lock taken", "create sent"] {
        let env = S3Env::new("2s", SEED_HCL);
        let mut apply = env.dxctl(FAST);
        apply.arg(&env.cfg);
        let mut child = spawn(apply);
        match moment {
            "lock taken" => wait_until("the lock is taken", Duration::from_secs(30), || {
                !env.served("PUT", LOCK_KEY, 200).is_empty()
            }),
            _ => wait_until("the create is sent", Duration::from_secs(30), || {
                env.sim.count("CreateBGPPeer") > 0
            }),
        }
        child.kill().unwrap();
        let _ = child.wait();
        let lock: Value = serde_json::from_str(&env.s3.text(BUCKET, LOCK_KEY)).unwrap();
        let id = lock["id"].as_str().unwrap().to_string();
        assert_eq!(
            lock["pid"],
            child.id(),
            "{moment}: the lock names the killed run"
        );

        let refused = env.run(FAST);
        assert_eq!(refused.code, 1, "{moment}: {}", refused.stderr);
        assert!(
            refused
                .stderr
                .contains(&format!("is locked by pid {}", child.id()))
                && refused.stderr.contains(&id)
                && refused.stderr.contains("dxctl state force-unlock"),
            "{moment}: {}",
            refused.stderr
        );
        let wrong = run(&mut env.dxctl(&["state", "force-unlock", "0123456789abcdef"]));
        assert_eq!(wrong.code, 1, "{}", wrong.stderr);
        assert!(wrong.stderr.contains("does not match"), "{}", wrong.stderr);
        let unlocked = run(&mut env.dxctl(&["state", "force-unlock", &id]));
        assert_eq!(unlocked.code, 0, "{}", unlocked.stderr);
        assert!(
            unlocked
                .stdout
                .contains(&format!("Lock {id} on {STATE} removed")),
            "{}",
            unlocked.stdout
        );
        assert!(env.s3.get(BUCKET, LOCK_KEY).is_none());

        let converged = env.run(FAST);
        assert_eq!(converged.code, 0, "{moment}: {}", converged.stderr);
        assert_eq!(
            env.sim.count("CreateBGPPeer"),
            1,
            "{moment}: never created twice"
        );
        assert_eq!(env.state_ids(), env.live_ids(), "{moment}");
        assert!(env.s3.get(BUCKET, LOCK_KEY).is_none(), "{moment}: released");
        assert_lock_discipline(&env);
    }
}

/// The seed config without its IPv6 peer.
fn v4_only_hcl() -> String {
    let v6 =
        "\n  bgp_peer \"v6\" {\n    address_family = \"ipv6\"\n    asn            = 64600\n  }\n";
    assert!(SEED_HCL.contains(v6));
    SEED_HCL.replace(v6, "")
}

/// The state written behind an apply's back (someone restores an old copy mid-run) is never overwritten: the run's
/// next write fails its compare-and-swap and says so. The next run then adopts the peer the interrupted one made.
#[test]
fn a_state_written_behind_an_applys_back_is_detected_and_never_overwritten() {
    let env = S3Env::new("300ms", &v4_only_hcl());
    assert_eq!(env.run(FAST).code, 0);
    let before = env.s3.text(BUCKET, KEY);
    env.set_config(SEED_HCL);
    // Each create is held 3s before it runs, so the state can be changed between the run's two writes.
    env.sim
        .set_faults(&json!({"lateWriteRate": 1.0, "lateWriteDelay": "3s"}));
    let writes_before = env.served("PUT", KEY, 200).len();
    let mut apply = env.dxctl(FAST);
    apply.arg(&env.cfg);
    let child = spawn(apply);
    wait_until(
        "the run records its intent",
        Duration::from_secs(30),
        || env.served("PUT", KEY, 200).len() > writes_before,
    );
    env.s3.put(BUCKET, KEY, before.as_bytes());
    let out = finish(child);
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("was changed by another writer after this run read it")
            && out.stderr.contains("apply failed: 1 change(s) failed")
            && out.stderr.contains("adopts the peers this run made"),
        "{}",
        out.stderr
    );
    assert_eq!(env.s3.text(BUCKET, KEY), before, "the other write stands");
    assert_eq!(env.served("PUT", KEY, 412).len(), 1, "one refused write");

    env.sim.set_faults(&json!({}));
    let next = env.run(FAST);
    assert_eq!(next.code, 0, "{}", next.stderr);
    assert_eq!(
        env.sim.count("CreateBGPPeer"),
        1,
        "adopted, not created again"
    );
    assert_eq!(env.state_ids(), env.live_ids());
}

/// A local state moves to S3 and back. Each old home keeps only a marker naming the new one, which every command
/// refuses to plan from; a home that already holds a state is never overwritten; pull and push work on S3.
#[test]
fn state_migrate_moves_a_local_state_to_s3_and_back() {
    let env = S3Env::new("50ms", SEED_HCL);
    let local = env.dir.join("local.json");
    let local_arg = local.to_str().unwrap();
    let mut first = env.bare(&["--state", local_arg]);
    first.args(FAST).arg(&env.cfg);
    assert_eq!(run(&mut first).code, 0);
    let lineage = serde_json::from_str::<Value>(&std::fs::read_to_string(&local).unwrap()).unwrap()
        ["lineage"]
        .clone();
    let plan_on = |state: &str| {
        let mut plan = env.bare(&["--state", state, "plan", "--detailed-exitcode"]);
        plan.arg(&env.cfg);
        run(&mut plan)
    };

    let out = run(&mut env.bare(&["--state", local_arg, "state", "migrate", "--to", STATE]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!("to {STATE}")),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("backend \"s3\""),
        "the next step is named: {}",
        out.stderr
    );
    assert_eq!(env.state()["lineage"], lineage);
    assert_eq!(
        plan_on(STATE).code,
        0,
        "nothing to do from the migrated state"
    );
    // The old file names the new home and is refused; its last state is the backup.
    let old = plan_on(local_arg);
    assert_eq!(old.code, 1);
    assert!(
        old.stderr
            .contains(&format!("was moved to {STATE} by `dxctl state migrate`")),
        "{}",
        old.stderr
    );
    let backup: Value =
        serde_json::from_str(&std::fs::read_to_string(env.dir.join("local.json.backup")).unwrap())
            .unwrap();
    assert_eq!(backup["lineage"], lineage);

    // pull prints the object's state; push of that copy continues it; another lineage is refused.
    let pulled = run(&mut env.dxctl(&["state", "pull"]));
    assert_eq!(pulled.code, 0, "{}", pulled.stderr);
    assert_eq!(
        serde_json::from_str::<Value>(&pulled.stdout).unwrap(),
        env.state()
    );
    let copy = env.dir.join("pulled.json");
    std::fs::write(&copy, &pulled.stdout).unwrap();
    let pushed = run(env.dxctl(&["state", "push"]).arg(&copy));
    assert_eq!(pushed.code, 0, "{}", pushed.stderr);
    assert!(
        pushed.stdout.contains(&format!("to {STATE}")),
        "{}",
        pushed.stdout
    );
    let mut foreign: Value = serde_json::from_str(&pulled.stdout).unwrap();
    foreign["lineage"] = "0123456789abcdef0123456789abcdef".into();
    std::fs::write(&copy, foreign.to_string()).unwrap();
    let refused = run(env.dxctl(&["state", "push"]).arg(&copy));
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("is another state"),
        "{}",
        refused.stderr
    );

    // Into a home that holds a state: refused, nothing copied.
    let occupied = env.dir.join("occupied.json");
    std::fs::copy(env.dir.join("local.json.backup"), &occupied).unwrap();
    let refused = run(&mut env.dxctl(&["state", "migrate", "--to", occupied.to_str().unwrap()]));
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("already holds a state"),
        "{}",
        refused.stderr
    );
    assert_eq!(env.state()["lineage"], lineage, "the S3 state is untouched");

    // And back over the marker in the old file; now S3 holds the marker.
    let back = run(&mut env.dxctl(&["state", "migrate", "--to", local_arg]));
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert_eq!(plan_on(local_arg).code, 0);
    let from_s3 = plan_on(STATE);
    assert_eq!(from_s3.code, 1);
    assert!(
        from_s3
            .stderr
            .contains(&format!("was moved to {local_arg}")),
        "{}",
        from_s3.stderr
    );
    assert_eq!(env.sim.count("CreateBGPPeer"), 1);
    assert!(
        env.s3.get(BUCKET, LOCK_KEY).is_none(),
        "both locks released"
    );
}

/// A state object deleted behind dxctl's back is never taken for "no state yet": between runs (a delete marker
/// in a versioned bucket), and during a run (its next write finds no version to replace, which AWS answers with 404).
#[test]
fn a_deleted_s3_state_is_refused_not_started_over() {
    let env = S3Env::new("2s", &v4_only_hcl());
    assert_eq!(env.run(FAST).code, 0);
    env.s3.delete(BUCKET, KEY);
    let out = env.run(&["plan"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("was deleted (its latest version is a delete marker)"),
        "{}",
        out.stderr
    );

    // Restored, then deleted while an apply waits for its new peer.
    let versions = env.s3.versions(BUCKET, KEY);
    let Some(Version::Put { version_id }) = versions
        .iter()
        .rev()
        .find(|v| matches!(v, Version::Put { .. }))
    else {
        panic!("a stored version: {versions:?}");
    };
    let last = env.s3.version_text(BUCKET, KEY, version_id);
    env.s3.put(BUCKET, KEY, last.as_bytes());
    env.set_config(SEED_HCL);
    // The create is held 3s before it runs, so the state can be deleted between the run's two writes.
    env.sim
        .set_faults(&json!({"lateWriteRate": 1.0, "lateWriteDelay": "3s"}));
    let writes = env.served("PUT", KEY, 200).len();
    let child = spawn({
        let mut apply = env.dxctl(FAST);
        apply.arg(&env.cfg);
        apply
    });
    wait_until(
        "the run records its intent",
        Duration::from_secs(30),
        || env.served("PUT", KEY, 200).len() > writes,
    );
    env.s3.delete(BUCKET, KEY);
    let out = finish(child);
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stderr.contains("was changed by another writer"),
        "{}",
        out.stderr
    );
}

/// The config's backend block names the team's state: a sandbox run against it would record simulator peers there,
/// so it is refused unless --state says where to rehearse.
#[test]
fn a_sandbox_run_never_uses_the_teams_state_from_the_backend_block() {
    let env = S3Env::new("50ms", SEED_HCL);
    std::fs::write(
        env.cfg.join("backend.hcl"),
        format!("backend \"s3\" {{\n  bucket = \"{BUCKET}\"\n  key    = \"{KEY}\"\n}}\n"),
    )
    .unwrap();
    let world = env.dir.join("world.json");
    let mut cmd = env.bare(&[
        "--sandbox",
        world.to_str().unwrap(),
        "apply",
        "--auto-approve",
    ]);
    cmd.arg(&env.cfg);
    let out = run(&mut cmd);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains("pass --state PATH to rehearse"),
        "{}",
        out.stderr
    );
    let prefix = format!("/{BUCKET}/{KEY}");
    assert!(
        !env.s3
            .requests()
            .iter()
            .any(|r| r["path"].as_str().is_some_and(|p| p.starts_with(&prefix))),
        "the team's state and lock were never touched: {:?}",
        env.s3.requests()
    );
}

/// Someone force-unlocks a running apply's lock and another run takes it: the apply finishes, says its lock was
/// taken from it, and leaves the other run's lock alone.
#[test]
fn an_apply_whose_lock_was_force_unlocked_says_so() {
    let env = S3Env::new("2s", SEED_HCL);
    let child = spawn({
        let mut apply = env.dxctl(FAST);
        apply.arg(&env.cfg);
        apply
    });
    wait_until("the lock is taken", Duration::from_secs(30), || {
        env.s3.get(BUCKET, LOCK_KEY).is_some()
    });
    let lock: Value = serde_json::from_str(&env.s3.text(BUCKET, LOCK_KEY)).unwrap();
    let unlocked = run(&mut env.dxctl(&["state", "force-unlock", lock["id"].as_str().unwrap()]));
    assert_eq!(unlocked.code, 0, "{}", unlocked.stderr);
    // Another run takes the lock meanwhile.
    let theirs =
        br#"{"id":"fedcba9876543210","pid":1,"host":"elsewhere","operation":"apply","time":"t"}"#;
    env.s3.put(BUCKET, LOCK_KEY, theirs);
    let out = finish(child);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("was no longer held by this run"),
        "{}",
        out.stderr
    );
    assert_eq!(
        env.s3.text(BUCKET, LOCK_KEY).as_bytes(),
        theirs,
        "the other run's lock is left alone"
    );
}

/// Ctrl-C while a state command waits for a second lock (migrate holds the source's and waits for the target's):
/// dxctl exits 130 and releases the S3 lock it held, which would otherwise outlive it.
#[test]
fn sigint_while_a_state_command_holds_an_s3_lock_releases_it() {
    let env = S3Env::new("50ms", SEED_HCL);
    assert_eq!(env.run(FAST).code, 0);
    let other_lock = "other/dxctl.state.json.lock";
    env.s3.put(
        BUCKET,
        other_lock,
        br#"{"id":"0123456789abcdef","pid":1,"host":"elsewhere","operation":"apply","time":"t"}"#,
    );
    let mut migrate = env.dxctl(&[
        "--lock-timeout",
        "60s",
        "state",
        "migrate",
        "--to",
        &format!("s3://{BUCKET}/other/dxctl.state.json"),
    ]);
    migrate.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = migrate.spawn().unwrap();
    wait_until("the source lock is taken", Duration::from_secs(30), || {
        env.s3.get(BUCKET, LOCK_KEY).is_some()
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let out = finish(child);
    assert_eq!(out.code, 130, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("Released the state lock on {STATE}")),
        "{}",
        out.stderr
    );
    assert!(
        env.s3.get(BUCKET, LOCK_KEY).is_none(),
        "the source lock was released"
    );
    assert!(
        env.s3.get(BUCKET, other_lock).is_some(),
        "the other lock is not ours to touch"
    );
}

/// The backend block names the state; its `endpoint` reaches the server without AWS_ENDPOINT_URL_S3; `--state`
/// and DXCTL_STATE win over it; state commands find it through --dir.
#[test]
fn a_backend_block_names_the_state_and_the_flag_wins_over_it() {
    let env = S3Env::new("50ms", SEED_HCL);
    std::fs::write(
        env.cfg.join("backend.hcl"),
        format!(
            "backend \"s3\" {{\n  bucket   = \"{BUCKET}\"\n  key      = \"block/dxctl.state.json\"\n  region   = \
             \"us-east-1\"\n  endpoint = \"{}\"\n  kms_key_id = \"alias/dx-state\"\n}}\n",
            env.s3.url()
        ),
    )
    .unwrap();
    let mut apply = env.bare(FAST);
    apply.env_remove("AWS_ENDPOINT_URL_S3").arg(&env.cfg);
    let out = run(&mut apply);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let state: Value =
        serde_json::from_str(&env.s3.text(BUCKET, "block/dxctl.state.json")).unwrap();
    assert_eq!(state["peers"].as_array().unwrap().len(), 2);
    assert!(
        !env.dir.join("state").exists(),
        "no local state was written"
    );
    assert_eq!(
        env.s3.encryption(BUCKET, "block/dxctl.state.json"),
        (
            Some("aws:kms".to_string()),
            Some("alias/dx-state".to_string())
        ),
        "written with SSE-KMS under the block's key"
    );

    let mut list = env.bare(&["state", "list", "--json", "--dir"]);
    list.env_remove("AWS_ENDPOINT_URL_S3").arg(&env.cfg);
    let listed = run(&mut list);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert_eq!(
        serde_json::from_str::<Value>(&listed.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A local --state wins: that state is empty, so the plan adopts both peers.
    let local = env.dir.join("mine.json");
    let mut plan = env.bare(&["--state", local.to_str().unwrap(), "plan"]);
    plan.arg(&env.cfg);
    let planned = run(&mut plan);
    assert!(planned.stdout.contains("2 to adopt"), "{}", planned.stdout);
    // So does DXCTL_STATE, and an s3:// one keeps the block's endpoint and region.
    let mut plan = env.bare(&["plan", "--detailed-exitcode"]);
    plan.env_remove("AWS_ENDPOINT_URL_S3")
        .env(
            "DXCTL_STATE",
            format!("s3://{BUCKET}/block/dxctl.state.json"),
        )
        .arg(&env.cfg);
    let same = run(&mut plan);
    assert_eq!(same.code, 0, "{}\n{}", same.stderr, same.stdout);
}

impl S3Env {
    fn set_config(&self, hcl: &str) {
        std::fs::write(self.cfg.join("main.hcl"), hcl).unwrap();
    }
}

/// S3 failures are one clear line: a missing bucket, and a server that is not there.
#[test]
fn a_missing_bucket_or_an_unreachable_s3_is_a_clear_error_and_nothing_is_sent() {
    let env = S3Env::new("50ms", SEED_HCL);
    let mut plan = env.bare(&["--state", "s3://no-such-bucket/dx.json", "plan"]);
    plan.arg(&env.cfg);
    let out = run(&mut plan);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("cannot read state s3://no-such-bucket/dx.json")
            && out.stderr.contains("NoSuchBucket")
            && out.stderr.contains("dxctl does not create the bucket"),
        "{}",
        out.stderr
    );
    let mut unreachable = env.dxctl(&["--call-timeout", "2s"]);
    unreachable
        .env("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
        .args(FAST)
        .arg(&env.cfg);
    let out = run(&mut unreachable);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains(&format!("cannot take the state lock {STATE}.lock")),
        "{}",
        out.stderr
    );
    assert_eq!(env.sim.count("CreateBGPPeer"), 0, "nothing was sent to AWS");
}

/// An auth key never reaches the bucket: not the state, not the lock, not any version, not the output, at -vvv.
#[test]
fn no_auth_key_reaches_the_bucket_or_the_output_at_any_verbosity() {
    const MARKER: &str = "S3MARKERkey7Qz9";
    let hcl = SEED_HCL.replace(
        "    asn            = 64600\n",
        "    asn            = 64600\n    auth_key       = var.bgp_key\n",
    );
    let env = S3Env::new(
        "50ms",
        &format!("variable \"bgp_key\" {{\n  sensitive = true\n}}\n\n{hcl}"),
    );
    let mut printed = String::new();
    for args in [
        &["-vvv", "plan"][..],
        &["-vvv", "apply", "--auto-approve", "--poll-interval", "50ms"],
    ] {
        let mut cmd = env.dxctl(args);
        cmd.env("DXCTL_VAR_bgp_key", MARKER).arg(&env.cfg);
        let out = run(&mut cmd);
        assert_eq!(out.code, 0, "{}", out.stderr);
        printed.push_str(&out.stdout);
        printed.push_str(&out.stderr);
    }
    assert!(!printed.contains(MARKER), "the key was printed");
    assert!(
        env.sim.world().to_string().contains(MARKER),
        "the key did reach AWS (so the test can fail)"
    );
    let mut objects = 0;
    for key in [KEY, LOCK_KEY] {
        for v in env.s3.versions(BUCKET, key) {
            if let Version::Put { version_id } = v {
                objects += 1;
                assert!(
                    !env.s3
                        .version_text(BUCKET, key, &version_id)
                        .contains(MARKER),
                    "{key}"
                );
            }
        }
    }
    assert!(
        objects >= 3,
        "every state and lock version was read ({objects})"
    );
    let log = std::fs::read_to_string(env.dir.join("s3-requests.jsonl")).unwrap();
    assert!(!log.contains(MARKER));
}
