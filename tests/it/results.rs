//! Seeing results: `state list`/`show`/`state show`, `status` and its exit codes, apply's summary of assigned
//! addresses (on an 80-column pseudo-terminal too), `--wait-bgp-up`, and `apply --json`'s events.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{config_dir, dxctl, hermetic, run, seed_world, Output, SimProcess, SEED_HCL};

const V4: &str = "virtual_interface.dxvif-fg1vuj3d.bgp_peer.v4";
const V6: &str = "virtual_interface.dxvif-fg1vuj3d.bgp_peer.v6";

/// The seed world with its IPv4 peer's session up, fast lifecycles, and `sim serve` with `extra` flags.
struct Env {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    sim: SimProcess,
    cfg: PathBuf,
}

impl Env {
    fn new(extra: &[&str]) -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let world = seed_world(&dir, "100ms");
        let mut w: Value = serde_json::from_str(&std::fs::read_to_string(&world).unwrap()).unwrap();
        w["virtualInterfaces"][0]["bgpPeers"][0]["bgpStatus"] = "up".into();
        w["sim"]["bgpUpDelay"] = "100ms".into();
        std::fs::write(&world, w.to_string()).unwrap();
        let sim = SimProcess::start(&world, &dir, extra);
        let cfg = config_dir(&dir, "cfg", SEED_HCL);
        Env {
            _tmp: tmp,
            dir,
            sim,
            cfg,
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = dxctl(&self.dir);
        cmd.args(["--endpoint-url", &self.sim.url(), "--state"])
            .arg(self.dir.join("state.json"))
            .args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        run(&mut self.cmd(args))
    }

    /// `args` followed by the config directory.
    fn run_cfg(&self, args: &[&str]) -> Output {
        run(self.cmd(args).arg(&self.cfg))
    }

    /// The simulator's IPv6 peer: (id, amazon address, customer address).
    fn v6(&self) -> (String, String, String) {
        let world = self.sim.world();
        let peer = world["virtualInterfaces"][0]["bgpPeers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["addressFamily"] == "ipv6")
            .expect("an IPv6 peer")
            .clone();
        let s = |k: &str| peer[k].as_str().unwrap().to_string();
        (s("bgpPeerId"), s("amazonAddress"), s("customerAddress"))
    }
}

const APPLY: &[&str] = &["apply", "--auto-approve", "--poll-interval", "50ms"];

#[test]
fn state_list_show_and_status_show_addresses_ids_and_live_state() {
    let env = Env::new(&[]);
    let empty = env.run(&["state", "list"]);
    assert_eq!(empty.code, 0, "{}", empty.stderr);
    assert_eq!(empty.stdout, "");
    assert!(
        empty.stderr.contains("No peers are managed yet."),
        "{}",
        empty.stderr
    );
    let empty = env.run(&["state", "list", "--json"]);
    assert_eq!((empty.code, empty.stdout.trim()), (0, "[]"));

    let applied = env.run_cfg(&[APPLY, &["--wait-bgp-up=30s"]].concat());
    assert_eq!(applied.code, 0, "{}\n{}", applied.stdout, applied.stderr);
    let (id, amazon, customer) = env.v6();
    for line in [
        format!("  {V6}\n"),
        format!("    bgp_peer_id       {id}\n"),
        format!("    amazon_address    {amazon}\n"),
        format!("    customer_address  {customer}\n"),
        "    bgp_session       up\n".to_string(),
    ] {
        assert!(
            applied.stdout.contains(&line),
            "{line:?} missing from\n{}",
            applied.stdout
        );
    }

    // Piped: any width, one table row per peer.
    let list = env.run(&["state", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let row = list.stdout.lines().find(|l| l.starts_with(V6)).unwrap();
    for field in [&id, "ipv6", "64600", &amazon, &customer] {
        assert!(row.contains(field), "{field} missing from {row:?}");
    }
    assert!(list.stdout.starts_with("ADDRESS"), "{}", list.stdout);
    let shown = env.run(&["show"]);
    assert_eq!(shown.stdout, list.stdout);

    let json: Value = serde_json::from_str(&env.run(&["state", "list", "--json"]).stdout).unwrap();
    let entries = json.as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["address"], V4);
    let v6 = &entries[1];
    assert_eq!(v6["bgp_peer_id"], id.as_str());
    assert_eq!(v6["amazon_address"], amazon.as_str());
    assert_eq!(v6["customer_address"], customer.as_str());
    assert_eq!(v6["asn"], 64600);
    assert_eq!(v6["intent"], Value::Null);

    let one = env.run(&["state", "show", V6]);
    assert_eq!(one.code, 0, "{}", one.stderr);
    assert!(
        one.stdout
            .contains(&format!("  bgp_peer_id           {id}\n")),
        "{}",
        one.stdout
    );
    assert!(
        one.stdout.contains("  deposed               (none)\n"),
        "{}",
        one.stdout
    );
    let one: Value =
        serde_json::from_str(&env.run(&["state", "show", V6, "--json"]).stdout).unwrap();
    assert_eq!(&one, v6);
    let typo = env.run(&[
        "state",
        "show",
        "virtual_interface.dxvif-fg1vuj3d.bgp_peer.v66",
    ]);
    assert_eq!(typo.code, 1);
    assert!(
        typo.stderr.contains(&format!("did you mean {V6}?")),
        "{}",
        typo.stderr
    );

    let requests = env.sim.requests().len();
    let status = env.run_cfg(&["status"]);
    assert_eq!(status.code, 0, "{}\n{}", status.stdout, status.stderr);
    let row = status.stdout.lines().find(|l| l.starts_with(V6)).unwrap();
    assert!(row.ends_with("available  up"), "{row:?}");
    let status: Value = serde_json::from_str(&env.run_cfg(&["status", "--json"]).stdout).unwrap();
    assert_eq!(status[1]["state"], "available");
    assert_eq!(status[1]["bgp_status"], "up");
    assert_eq!(status[1]["healthy"], true);
    let sent: Vec<String> = env.sim.requests()[requests..]
        .iter()
        .map(|r| r["operation"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        sent.iter().all(|op| op == "DescribeVirtualInterfaces"),
        "status only reads: {sent:?}"
    );
}

#[test]
fn a_session_held_down_makes_status_exit_2_and_wait_bgp_up_report_it_per_peer() {
    let env = Env::new(&["--fault", "bgp-down=1"]);
    let state_file = env.dir.join("state.json");
    let applied = env.run_cfg(&[APPLY, &["--wait-bgp-up=1s"]].concat());
    assert_eq!(applied.code, 4, "{}\n{}", applied.stdout, applied.stderr);
    assert!(
        applied.stderr.contains(&format!(
            "{V6}: created, BGP session not up after 1s (bgpStatus down)"
        )),
        "{}",
        applied.stderr
    );
    assert!(
        applied.stdout.contains(
            "    bgp_session       created, BGP session not up after 1s (bgpStatus down)\n"
        ),
        "{}",
        applied.stdout
    );
    // The create is no failure: the peer is recorded, and the next plan has nothing to do.
    assert!(std::fs::read_to_string(&state_file)
        .unwrap()
        .contains("bgp_peer.v6"));
    let plan = env.run_cfg(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);

    let before = std::fs::read(&state_file).unwrap();
    let status = env.run_cfg(&["status"]);
    assert_eq!(status.code, 2, "{}\n{}", status.stdout, status.stderr);
    let row = status.stdout.lines().find(|l| l.starts_with(V6)).unwrap();
    assert!(row.ends_with("available  down"), "{row:?}");
    assert!(
        status
            .stderr
            .contains("1 of 2 managed peer(s) not available"),
        "{}",
        status.stderr
    );
    let json: Value = serde_json::from_str(&env.run_cfg(&["status", "--json"]).stdout).unwrap();
    assert_eq!(json[0]["healthy"], true);
    assert_eq!(json[1]["bgp_status"], "down");
    assert_eq!(json[1]["healthy"], false);
    assert_eq!(
        std::fs::read(&state_file).unwrap(),
        before,
        "status wrote the state"
    );

    // An unreadable account is an error (1), not a verdict on the peers.
    let mut broken = dxctl(&env.dir);
    broken
        .args([
            "--endpoint-url",
            "http://127.0.0.1:9",
            "--call-timeout",
            "2s",
            "--state",
        ])
        .arg(&state_file)
        .args(["status"])
        .arg(&env.cfg)
        .env("AWS_MAX_ATTEMPTS", "1");
    assert_eq!(run(&mut broken).code, 1);
}

#[test]
fn apply_json_events_carry_state_elapsed_time_poll_rounds_and_the_assigned_addresses() {
    let env = Env::new(&[]);
    let out = env.run_cfg(&[APPLY, &["--json"]].concat());
    assert_eq!(out.code, 0, "{}", out.stderr);
    let events: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let progress = &events[1..];
    let mut last = 0;
    for e in progress {
        let ms = e["elapsed_ms"]
            .as_u64()
            .unwrap_or_else(|| panic!("no elapsed_ms: {e}"));
        assert!(ms >= last, "elapsed_ms went back: {e}");
        last = ms;
    }
    let polls: Vec<&Value> = progress.iter().filter(|e| e["kind"] == "poll").collect();
    assert!(!polls.is_empty(), "no poll events");
    for (n, p) in polls.iter().enumerate() {
        assert_eq!(p["round"], n as u64 + 1, "{p}");
        assert_eq!(p["scope"], "us-east-1");
        assert!(p["vifs"].as_u64().unwrap() >= 1, "{p}");
        assert_eq!(p["pending"], 1, "{p}");
    }
    let (id, amazon, customer) = env.v6();
    let done = progress
        .iter()
        .find(|e| e["kind"] == "done" && e["address"] == V6)
        .expect("a done event");
    assert_eq!(done["state"], "available", "{done}");
    assert!(progress
        .iter()
        .any(|e| e["kind"] == "observed" && e["address"] == V6 && e["bgp_peer_id"] == id.as_str()));
    let peer = progress
        .iter()
        .find(|e| e["kind"] == "peer" && e["address"] == V6)
        .expect("a peer event");
    assert_eq!(peer["bgp_peer_id"], id.as_str());
    assert_eq!(peer["amazon_address"], amazon.as_str());
    assert_eq!(peer["customer_address"], customer.as_str());
    assert!(progress
        .iter()
        .any(|e| e["kind"] == "peer" && e["address"] == V4));
    assert!(events.last().unwrap()["message"]
        .as_str()
        .unwrap()
        .starts_with("Apply complete!"));
}

/// Runs `args` under a pseudo-terminal `cols` wide (stdin, stdout and stderr all on it), through python's `pty`
/// module; returns the exit code and everything the terminal received.
fn on_terminal(cols: u16, cwd: &Path, args: &[&str]) -> (i32, String) {
    const SCRIPT: &str = r#"
import fcntl, os, pty, struct, subprocess, sys, termios
cols = int(sys.argv[1])
master, slave = pty.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
child = subprocess.Popen(sys.argv[2:], stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
os.close(slave)
seen = b""
while True:
    try:
        data = os.read(master, 65536)
    except OSError:
        break
    if not data:
        break
    seen += data
sys.stdout.buffer.write(seen)
sys.exit(child.wait())
"#;
    let mut cmd = Command::new("python3");
    hermetic(&mut cmd)
        .current_dir(cwd)
        .env("TERM", "xterm-256color")
        .env_remove("COLUMNS")
        .args(["-c", SCRIPT, &cols.to_string()])
        .arg(crate::support::bin())
        .args(args);
    let out = cmd.output().expect("python3 runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n"),
    )
}

#[test]
fn on_an_80_column_terminal_apply_state_list_and_status_show_the_full_addresses() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let world = seed_world(dir, "300ms");
    let cfg = config_dir(dir, "cfg", SEED_HCL);
    let sandbox = ["--sandbox", world.to_str().unwrap()];
    let (code, seen) = on_terminal(
        80,
        dir,
        &[
            &sandbox[..],
            &["apply", "--auto-approve", cfg.to_str().unwrap()],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{seen}");
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("state/dxctl.state.json")).unwrap())
            .unwrap();
    let v6 = state["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["address"] == V6)
        .expect("v6 recorded")
        .clone();
    let field = |k: &str| v6[k].as_str().unwrap().to_string();
    let (id, amazon, customer) = (
        field("bgp_peer_id"),
        field("amazon_address"),
        field("customer_address"),
    );
    assert!(seen.contains("Apply complete!"), "{seen}");
    for line in [
        format!("    bgp_peer_id       {id}\n"),
        format!("    amazon_address    {amazon}\n"),
        format!("    customer_address  {customer}\n"),
    ] {
        assert!(line.len() <= 80, "{line:?} is wider than the terminal");
        assert!(
            seen.contains(&line),
            "{line:?} not on the terminal:\n{seen}"
        );
    }

    let (code, seen) = on_terminal(80, dir, &[&sandbox[..], &["state", "list"]].concat());
    assert_eq!(code, 0, "{seen}");
    for text in [&id, &amazon, &customer] {
        assert!(
            seen.contains(text.as_str()),
            "{text} not on the terminal:\n{seen}"
        );
    }
    assert!(
        seen.lines().all(|l| l.chars().count() <= 80),
        "a line is wider than 80:\n{seen}"
    );

    let (code, seen) = on_terminal(
        80,
        dir,
        &[&sandbox[..], &["status", cfg.to_str().unwrap()]].concat(),
    );
    // The seed's IPv4 peer has its session down.
    assert_eq!(code, 2, "{seen}");
    assert!(
        seen.contains(&format!("  AMAZON ADDRESS    {amazon}\n")),
        "{seen}"
    );
    assert!(seen.contains("  BGP               down\n"), "{seen}");
}
