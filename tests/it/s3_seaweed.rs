//! The shared S3 state end to end on SeaweedFS (tests/s3/seaweed_s3.py), a second S3 beside moto: the real binary
//! against the simulator, its state in a SeaweedFS bucket reached through the AWS config chain.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use super::s3_server::S3Server;
use super::sim_env::world;
use super::support::*;

const BUCKET: &str = "net-state";
const FAST: &[&str] = &["apply", "--auto-approve", "--poll-interval", "50ms"];
/// Far above a run's few seconds; a run still going then is killed and the test fails.
const LIMIT: Duration = Duration::from_secs(120);

/// One simulator and one state key in the shared bucket.
struct Case<'a> {
    s3: &'a S3Server,
    sim: SimProcess,
    dir: std::path::PathBuf,
    cfg: &'a Path,
    key: String,
}

impl<'a> Case<'a> {
    fn new(s3: &'a S3Server, root: &Path, name: &str, delay: &str, cfg: &'a Path) -> Case<'a> {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let sim = SimProcess::start(&world(&dir, delay, "no", json!({})), &dir, &[]);
        Case {
            s3,
            sim,
            dir,
            cfg,
            key: format!("{name}/dxctl.state.json"),
        }
    }

    /// dxctl on this case's simulator and state, the config last.
    fn dxctl(&self, args: &[&str]) -> Command {
        let mut cmd = dxctl(&self.dir);
        self.s3.env(&mut cmd);
        cmd.args(["--endpoint-url", &self.sim.url()])
            .args(["--state", &format!("s3://{BUCKET}/{}", self.key)])
            .args(args)
            .arg(self.cfg);
        cmd
    }

    /// Runs dxctl (bounded) and expects exit code 0.
    fn succeeds(&self, name: &str, args: &[&str]) {
        let out = run_bounded(self.dxctl(args), &self.dir, name, LIMIT);
        assert_eq!(out.code, Some(0), "{name}: {}\n{}", out.stderr, out.stdout);
    }

    /// The state equals the world, and nobody holds the lock.
    fn converged(&self) {
        let state: Value = serde_json::from_str(&self.s3.text(BUCKET, &self.key)).unwrap();
        let mut in_state: Vec<&str> = state["peers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["bgp_peer_id"].as_str().unwrap())
            .collect();
        in_state.sort();
        let world = self.sim.world();
        let mut live: Vec<&str> = world["virtualInterfaces"][0]["bgpPeers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| !matches!(p["bgpPeerState"].as_str(), Some("deleting" | "deleted")))
            .map(|p| p["bgpPeerId"].as_str().unwrap())
            .collect();
        live.sort();
        assert_eq!(in_state, live, "the state equals the world");
        assert_eq!(
            self.s3.get(BUCKET, &format!("{}.lock", self.key)),
            None,
            "no lock left behind"
        );
    }
}

/// On SeaweedFS: an apply converges and the plan after it finds nothing to do; then, on a fresh world and state,
/// two applies at once both succeed (one waits for the other's lock) and the missing peer is created once.
#[test]
fn apply_plan_and_two_applies_at_once_on_a_seaweedfs_state() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let s3 = S3Server::start_seaweed(&root.join("s3"));
    s3.create_bucket(BUCKET, true);
    let cfg = config_dir(root, "cfg", SEED_HCL);

    let one = Case::new(&s3, root, "one", "100ms", &cfg);
    one.succeeds("apply", FAST);
    one.succeeds("plan", &["plan", "--detailed-exitcode"]);
    assert_eq!(
        one.sim.count("CreateBGPPeer"),
        1,
        "the v6 peer was created once"
    );
    one.converged();

    let two = Case::new(&s3, root, "two", "300ms", &cfg);
    let mut args = FAST.to_vec();
    args.extend(["--lock-timeout", "60s"]);
    std::thread::scope(|scope| {
        let runs: Vec<_> = ["apply-a", "apply-b"]
            .map(|name| {
                let (two, args) = (&two, &args);
                scope.spawn(move || two.succeeds(name, args))
            })
            .into_iter()
            .collect();
        for run in runs {
            run.join().unwrap();
        }
    });
    assert_eq!(
        two.sim.count("CreateBGPPeer"),
        1,
        "the v6 peer was created once, by whichever apply held the lock first"
    );
    two.converged();
    two.succeeds("plan", &["plan", "--detailed-exitcode"]);
}
