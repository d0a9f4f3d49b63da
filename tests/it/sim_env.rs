//! A simulator on loopback with the seed world (delay, logical redundancy and `sim` settings chosen per test), a
//! config directory and a state file: the setting most end-to-end tests run dxctl in.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::support::*;

/// The seed world with a few changes: delay, logical redundancy, and any extra `sim` settings.
pub fn world(dir: &Path, delay: &str, redundancy: &str, sim: Value) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("examples/seed/world.json")).unwrap();
    let mut w: Value = serde_json::from_str(&text).unwrap();
    w["connections"][0]["hasLogicalRedundancy"] = redundancy.into();
    w["sim"]["provisionDelay"] = delay.into();
    w["sim"]["deletionDelay"] = "100ms".into();
    if let Value::Object(extra) = sim {
        for (k, v) in extra {
            w["sim"][k] = v;
        }
    }
    let path = dir.join("world.json");
    std::fs::write(&path, w.to_string()).unwrap();
    path
}

pub struct Env {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub sim: SimProcess,
    pub cfg: PathBuf,
}

impl Env {
    pub fn new(delay: &str, redundancy: &str, sim: Value, hcl: &str) -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let w = world(&dir, delay, redundancy, sim);
        let sim = SimProcess::start(&w, &dir, &[]);
        let cfg = config_dir(&dir, "cfg", hcl);
        Env {
            _tmp: tmp,
            dir,
            sim,
            cfg,
        }
    }

    pub fn dxctl(&self, args: &[&str]) -> Command {
        let mut cmd = dxctl(&self.dir);
        cmd.args(["--endpoint-url", &self.sim.url(), "--state"])
            .arg(self.dir.join("state.json"))
            .args(args);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        run(self.dxctl(args).arg(&self.cfg))
    }

    pub fn set_config(&self, hcl: &str) {
        std::fs::write(self.cfg.join("main.hcl"), hcl).unwrap();
    }

    pub fn peers(&self) -> Vec<Value> {
        self.sim.world()["virtualInterfaces"][0]["bgpPeers"]
            .as_array()
            .unwrap()
            .clone()
    }

    pub fn live(&self) -> Vec<Value> {
        self.peers()
            .into_iter()
            .filter(|p| !matches!(p["bgpPeerState"].as_str(), Some("deleting" | "deleted")))
            .collect()
    }

    pub fn state(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.dir.join("state.json")).unwrap())
            .unwrap()
    }
}
