//! The S3 state when things break: injected S3 faults on both sides of every write (the write did not run; it ran
//! and the answer was lost; a 409 conflict), and `kill -9` of an apply at pseudo-random moments. In both, the lock
//! never has two holders, no peer is created twice, and the state ends equal to the world. The world is
//! `crash.rs`'s: 14 peers to create on 6 VIFs, describes lagging up to 2s.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::crash::{check_world, config_hcl, declared, kill_delay, landing, world, WINDOW_MS};
use super::s3_server::MotoS3;
use super::support::*;

const BUCKET: &str = "crash-state";
/// Peers the config creates.
const CREATES: usize = 14;
const APPLY: &[&str] = &[
    "apply",
    "--auto-approve",
    "--poll-interval",
    "100ms",
    "--timeout",
    "60s",
    "--settle-window",
    "3s",
];
/// The longest any one run may take.
const RUN_LIMIT: Duration = Duration::from_secs(90);

/// One simulator and one state key on a shared S3.
struct Case<'a> {
    dir: PathBuf,
    sim: SimProcess,
    s3: &'a MotoS3,
    key: String,
    cfg: PathBuf,
}

impl<'a> Case<'a> {
    fn new(root: &Path, name: &str, world_file: &Path, s3: &'a MotoS3) -> Case<'a> {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let sim = SimProcess::start(world_file, &dir, &[]);
        let cfg = config_dir(&dir, "cfg", &config_hcl(&declared()));
        Case {
            dir,
            sim,
            s3,
            key: format!("{name}/dxctl.state.json"),
            cfg,
        }
    }

    fn url(&self) -> String {
        format!("s3://{BUCKET}/{}", self.key)
    }

    fn lock_key(&self) -> String {
        format!("{}.lock", self.key)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = dxctl(&self.dir);
        self.s3.env(&mut cmd);
        cmd.args(["--call-timeout", "2s", "--endpoint-url", &self.sim.url()])
            .args(["--state", &self.url()])
            .args(args);
        cmd
    }

    /// A command on the config (apply, plan).
    fn on_config(&self, args: &[&str]) -> Command {
        let mut cmd = self.command(args);
        cmd.arg(&self.cfg);
        cmd
    }

    /// Runs to the end, or fails the test after `RUN_LIMIT`.
    fn run(&self, args: &[&str]) -> Output {
        let mut child = self
            .on_config(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + RUN_LIMIT;
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("dxctl {args:?} did not finish in {RUN_LIMIT:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The lock's ID, when a lock object is there.
    fn lock_id(&self) -> Option<String> {
        let (bytes, _) = self.s3.get(BUCKET, &self.lock_key())?;
        let info: Value = serde_json::from_slice(&bytes).unwrap();
        Some(info["id"].as_str().unwrap().to_string())
    }

    /// The state as stored: it parses as a dxctl state and passes its own checks, or is absent.
    fn stored(&self) -> Result<Option<dxctl::state::State>, String> {
        let Some((bytes, _)) = self.s3.get(BUCKET, &self.key) else {
            return Ok(None);
        };
        let text = String::from_utf8(bytes).map_err(|_| "the state is not UTF-8".to_string())?;
        let state =
            dxctl::state::from_text(&text).map_err(|_| format!("unreadable state: {text}"))?;
        state
            .check()
            .map_err(|e| format!("inconsistent state: {e}"))?;
        Ok(Some(state))
    }

    /// Server-side mutual exclusion on this key: lock creates and deletes that took effect alternate, and every
    /// state write that took effect was conditional and made while the lock was held.
    fn lock_discipline(&self) -> Result<(), String> {
        let (lock, state) = (
            format!("/{BUCKET}/{}", self.lock_key()),
            format!("/{BUCKET}/{}", self.key),
        );
        let mut held = false;
        for r in self.s3.requests() {
            if !matches!(r["effect"].as_u64(), Some(200 | 204)) {
                continue;
            }
            match (r["method"].as_str(), r["path"].as_str()) {
                (Some("PUT"), Some(p)) if p == lock => {
                    if held {
                        return Err(format!("two lock holders at once: {r}"));
                    }
                    held = true;
                }
                (Some("DELETE"), Some(p)) if p == lock => held = false,
                (Some("PUT"), Some(p)) if p == state => {
                    if !held {
                        return Err(format!("a state write outside the lock: {r}"));
                    }
                    if !(r["if_match"].is_string() || r["if_none_match"] == "*") {
                        return Err(format!("an unconditional state write: {r}"));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The end: the world has exactly the declared peers once each, the state names exactly those, a plan finds
    /// nothing to do, and the lock is free.
    fn converged(&self) -> Result<(), String> {
        let ids = check_world(&self.sim.world(), &declared())?;
        let state = self.stored()?.ok_or("no state")?;
        let mut recorded: Vec<(String, String)> = state
            .peers
            .iter()
            .map(|p| (p.address.0.clone(), p.bgp_peer_id.clone()))
            .collect();
        recorded.sort();
        let mut live = ids;
        live.sort();
        if recorded != live {
            return Err(format!("state {recorded:?}\nworld {live:?}"));
        }
        let (accepted, _) = landing(&self.sim);
        if accepted != CREATES {
            return Err(format!(
                "{accepted} creates accepted where {CREATES} are needed"
            ));
        }
        // Nothing left to do, once a describe can no longer lag behind the apply.
        std::thread::sleep(Duration::from_millis(WINDOW_MS));
        let plan = self.run(&["plan", "--detailed-exitcode"]);
        if plan.code != 0 {
            return Err(format!(
                "the last plan exited {}: {}{}",
                plan.code, plan.stdout, plan.stderr
            ));
        }
        if self.lock_id().is_some() {
            return Err("the lock was left held".into());
        }
        self.lock_discipline()
    }
}

fn setup() -> (tempfile::TempDir, PathBuf, MotoS3) {
    let tmp = tempfile::tempdir().unwrap();
    let world_file = tmp.path().join("world.json");
    std::fs::write(&world_file, world().to_string()).unwrap();
    let s3 = MotoS3::start(tmp.path());
    s3.create_bucket(BUCKET, true);
    (tmp, world_file, s3)
}

/// S3 fails a fifth of all object requests at random (before running them, after running them, or with a 409) while
/// applies run; a run that fails or finds the lock of a run that died is followed by another (after `force-unlock`,
/// as an operator would). The S3 client's retries, the own-write checks and the compare-and-swap keep every promise.
#[test]
fn s3_faults_on_both_sides_of_every_write_lose_nothing_and_create_nothing_twice() {
    let (tmp, world_file, s3) = setup();
    let case = Case::new(tmp.path(), "faults", &world_file, &s3);
    s3.set_faults(
        &json!({"before_rate": 0.12, "after_rate": 0.12, "conflict_rate": 0.06, "seed": 7}),
    );
    let mut runs = Vec::new();
    let mut done = false;
    for _ in 0..8 {
        let out = case.run(APPLY);
        runs.push(format!(
            "exit {}: {}",
            out.code,
            out.stderr.lines().last().unwrap_or_default()
        ));
        if out.code == 0 {
            done = true;
            break;
        }
        if let Some(id) = case.lock_id() {
            assert_eq!(
                run(&mut case.command(&["state", "force-unlock", &id])).code,
                0
            );
        }
    }
    s3.set_faults(&json!({}));
    assert!(done, "no apply finished under faults:\n{}", runs.join("\n"));
    let faults: Vec<Value> = s3
        .requests()
        .into_iter()
        .filter(|r| !r["fault"].is_null())
        .collect();
    for kind in ["before", "after", "conflict"] {
        assert!(
            faults.iter().any(|r| r["fault"] == kind),
            "no {kind} fault fired; the test would prove nothing"
        );
    }
    let lost_answers = faults
        .iter()
        .filter(|r| r["fault"] == "after" && r["method"] == "PUT")
        .count();
    // A write that ran with its answer lost, then met by its own retry (412): dxctl must see it as its own.
    let log = s3.requests();
    let own_writes_met = log
        .windows(2)
        .filter(|w| {
            w[0]["fault"] == "after"
                && w[0]["method"] == "PUT"
                && w[1]["path"] == w[0]["path"]
                && w[1]["status"] == 412
        })
        .count();
    assert!(
        own_writes_met > 0,
        "no retried write met its own landed attempt; the test would prove little"
    );
    eprintln!(
        "{} faults over {} S3 requests ({lost_answers} writes that ran with their answer lost, {own_writes_met} \
         retries met their own write); runs: {}",
        faults.len(),
        s3.requests().len(),
        runs.join(" | ")
    );
    if let Err(problem) = case.converged() {
        panic!("{problem}\nruns:\n{}", runs.join("\n"));
    }
}

/// How many kills.
const SEEDS: u64 = 8;
const WORKERS: usize = 4;

/// `kill -9` of an apply at pseudo-random moments over its whole length. After each kill the state object parses
/// and names only peers AWS has; a next run refuses while the dead run's lock is there, `force-unlock` clears it,
/// and the run after converges.
#[test]
fn s3_apply_killed_at_random_moments_recovers_after_force_unlock() {
    let (tmp, world_file, s3) = setup();
    let calibration = Case::new(tmp.path(), "calibration", &world_file, &s3);
    let started = Instant::now();
    let first = calibration.run(APPLY);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let span_ms = started.elapsed().as_millis() as u64 * 6 / 5;
    calibration.converged().unwrap();

    let next = std::sync::atomic::AtomicU64::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| loop {
                let seed = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if seed >= SEEDS {
                    break;
                }
                // Spread over the whole apply: crash.rs's delays are for twice as many seeds.
                let delay = kill_delay(seed * 2, span_ms);
                if let Err(problem) = one_kill(tmp.path(), &world_file, &s3, seed, delay) {
                    failures
                        .lock()
                        .unwrap()
                        .push(format!("seed {seed} (kill at {delay:?}): {problem}"));
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn one_kill(
    root: &Path,
    world_file: &Path,
    s3: &MotoS3,
    seed: u64,
    delay: Duration,
) -> Result<(), String> {
    let case = Case::new(root, &format!("kill{seed}"), world_file, s3);
    let mut child = case
        .on_config(APPLY)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let finished = child.try_wait().unwrap().is_some();
    let _ = child.kill();
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(60));

    // What the kill left parses, and names only peers AWS has.
    let known: Vec<String> = case.sim.world()["virtualInterfaces"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|v| v["bgpPeers"].as_array().unwrap())
        .filter_map(|p| p["bgpPeerId"].as_str().map(str::to_string))
        .collect();
    if let Some(state) = case.stored()? {
        for r in &state.peers {
            if !known.contains(&r.bgp_peer_id) {
                return Err(format!(
                    "after the kill the state names {}, unknown to AWS",
                    r.bgp_peer_id
                ));
            }
        }
    }
    let (accepted, polling) = landing(&case.sim);
    eprintln!(
        "seed {seed}: kill at {delay:?}: {}; {accepted} creates accepted{}; lock {}; state {} peers",
        if finished { "after it finished" } else { "mid-run" },
        if polling { ", polling" } else { "" },
        if case.lock_id().is_some() { "left" } else { "free" },
        case.stored()?.map_or(0, |s| s.peers.len())
    );
    // The dead run's lock stops the next one until it is cleared.
    if let Some(id) = case.lock_id() {
        if finished {
            return Err("a run that finished left its lock".into());
        }
        let refused = case.run(APPLY);
        if refused.code != 1
            || !refused
                .stderr
                .contains(&format!("is locked by pid {}", child.id()))
        {
            return Err(format!(
                "the next run was not refused by the dead run's lock: {}",
                refused.stderr
            ));
        }
        let unlocked = run(&mut case.command(&["state", "force-unlock", &id]));
        if unlocked.code != 0 {
            return Err(format!("force-unlock failed: {}", unlocked.stderr));
        }
    }
    let second = case.run(APPLY);
    if second.code != 0 {
        return Err(format!(
            "the second apply exited {}: {}",
            second.code, second.stderr
        ));
    }
    case.converged()
}
