//! The fault matrix: "never a duplicate peer" against a simulator that is awkward in every way that makes it hard.
//!
//! Each run is one seed of one (shape, fault): a fresh simulator whose describes lag by up to 2.5s (eventual
//! consistency), where a fault hits 60% of requests: on the far side of the effect (a 500 after the write took, an
//! uncoded 502 after it took, a connection dropped after it took, or a write held past the client's timeout that
//! lands later), or on the near side
//! (a 500 or a dropped connection before anything ran). dxctl applies a new peer on each of three VIFs; then the
//! faults are switched off and a clean apply runs; then `plan --detailed-exitcode`.
//! Across all runs: no duplicate peer ever (checked after each apply), no peer dxctl created left unmanaged, every
//! state file parses, and every run converges to "No changes".
//!
//! `FAULT_MATRIX_DXCTL=/path/to/dxctl` runs the matrix with another dxctl as the applier (an older build, to measure
//! the "before"); flags that build lacks are then left out. `FAULT_MATRIX_SEEDS` sets the seeds per (shape, fault).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::support::*;

/// Seeds per (shape, fault): 3 shapes x 5 faults x 4 seeds = 60 runs.
const SEEDS: u64 = 4;
/// Runs at once (they mostly wait).
const WORKERS: usize = 6;
/// The longest one dxctl command may take before the run counts as hung.
const RUN_LIMIT: Duration = Duration::from_secs(120);
const VIFS_PER_RUN: usize = 3;
const NEW_ASN: u64 = 65501;
const WINDOW: &str = "2500ms";

#[derive(Clone, Copy, Debug)]
enum Shape {
    /// A new IPv4 peer with explicit addresses next to an IPv6 peer, without logical redundancy: a blind resend is
    /// refused by AWS (one peer per family), so the duplicate cannot happen but the apply fails.
    Ipv4Explicit,
    /// A new IPv4 peer with AWS-assigned addresses on a connection with logical redundancy: a blind resend makes a
    /// second peer.
    Ipv4Assigned,
    /// A new IPv6 peer on a connection with logical redundancy: a blind resend makes a second peer.
    Ipv6Redundant,
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// A 500 after the write took effect.
    ServerErrorAfter,
    /// A 502 without an AWS error code (a load balancer's page) after the write took effect.
    BadGatewayAfter,
    /// The connection closed after the write took effect.
    DropAfter,
    /// The write held past the client's timeout, landing after it gave up.
    LateWrite,
    /// A 500 or a dropped connection before the write: the lost answer hides that nothing happened.
    Before,
}

impl Fault {
    /// The `sim serve` flags: each far-side fault at 0.6 of requests; the near-side mix at 0.3 + 0.3, so a lost
    /// answer there means the call did not happen (and the applier cannot tell the two apart).
    fn flags(self) -> Vec<String> {
        let f = |s: &str| vec!["--fault".to_string(), s.to_string()];
        match self {
            Fault::ServerErrorAfter => f("server-error-after=0.6"),
            Fault::BadGatewayAfter => f("bad-gateway-after=0.6"),
            Fault::DropAfter => f("drop=0.6"),
            Fault::LateWrite => [f("late-write=0.6"), f("late-write-delay=1300ms")].concat(),
            Fault::Before => [f("server-error=0.3"), f("drop-before=0.3")].concat(),
        }
    }
}

const SHAPES: [Shape; 3] = [
    Shape::Ipv4Explicit,
    Shape::Ipv4Assigned,
    Shape::Ipv6Redundant,
];
const FAULTS: [Fault; 5] = [
    Fault::ServerErrorAfter,
    Fault::BadGatewayAfter,
    Fault::DropAfter,
    Fault::LateWrite,
    Fault::Before,
];

fn vif_id(k: usize) -> String {
    format!("dxvif-fmtx{k:04}")
}

/// Three VIFs, each with one unmanaged peer, on a connection with or without logical redundancy.
fn world(shape: Shape, seed: u64) -> Value {
    let redundant = !matches!(shape, Shape::Ipv4Explicit);
    let vifs: Vec<Value> = (0..VIFS_PER_RUN)
        .map(|k| {
            let existing = match shape {
                // The family the new peer does not use, so AWS allows exactly one new IPv4 peer.
                Shape::Ipv4Explicit => json!({
                    "bgpPeerId": format!("dxpeer-fmold{k:03}"), "addressFamily": "ipv6", "asn": 64600,
                    "amazonAddress": format!("2001:db8:ffff::{:x}/125", k * 8 + 1),
                    "customerAddress": format!("2001:db8:ffff::{:x}/125", k * 8 + 6),
                    "authKey": "0xexistingkey", "bgpPeerState": "available", "bgpStatus": "up"
                }),
                Shape::Ipv4Assigned | Shape::Ipv6Redundant => json!({
                    "bgpPeerId": format!("dxpeer-fmold{k:03}"), "addressFamily": "ipv4", "asn": 65000,
                    "amazonAddress": "169.254.250.1/30", "customerAddress": "169.254.250.2/30",
                    "authKey": "0xexistingkey", "bgpPeerState": "available", "bgpStatus": "up"
                }),
            };
            json!({
                "virtualInterfaceId": vif_id(k),
                "virtualInterfaceName": format!("matrix-{k}"),
                "virtualInterfaceType": "private",
                "virtualInterfaceState": "available",
                "connectionId": "dxcon-fmtx0001",
                "ownerAccount": "123456789012",
                "vlan": 400 + k,
                "region": "us-east-1",
                "bgpPeers": [existing]
            })
        })
        .collect();
    json!({
        "virtualInterfaces": vifs,
        "connections": [{
            "connectionId": "dxcon-fmtx0001", "connectionName": "matrix", "connectionState": "available",
            "region": "us-east-1", "hasLogicalRedundancy": if redundant { "yes" } else { "no" }
        }],
        "sim": {"seed": seed, "provisionDelay": "500ms", "deletionDelay": "300ms"}
    })
}

fn config(shape: Shape) -> String {
    let mut hcl = String::from("provider \"aws\" {\n  region = \"us-east-1\"\n}\n");
    for k in 0..VIFS_PER_RUN {
        let body = match shape {
            Shape::Ipv4Explicit => format!(
                "    address_family   = \"ipv4\"\n    asn              = {NEW_ASN}\n    amazon_address   = \"169.254.{o}.1/30\"\n    customer_address = \"169.254.{o}.2/30\"\n",
                o = 10 + k
            ),
            Shape::Ipv4Assigned => {
                format!("    address_family = \"ipv4\"\n    asn            = {NEW_ASN}\n")
            }
            Shape::Ipv6Redundant => {
                format!("    address_family = \"ipv6\"\n    asn            = {NEW_ASN}\n")
            }
        };
        write!(
            hcl,
            "\nvirtual_interface \"{}\" {{\n  bgp_peer \"new\" {{\n{body}  }}\n}}\n",
            vif_id(k)
        )
        .unwrap();
    }
    hcl
}

/// The applier under test, and whether it is an older build without this flags.
fn applier() -> (PathBuf, bool) {
    match std::env::var_os("FAULT_MATRIX_DXCTL") {
        Some(path) => (PathBuf::from(path), true),
        None => (bin(), false),
    }
}

fn asn_of(peer: &Value) -> u64 {
    peer["asnLong"]
        .as_u64()
        .filter(|a| *a > 0)
        .or_else(|| peer["asn"].as_u64())
        .unwrap_or(0)
}

fn is_live(peer: &Value) -> bool {
    !matches!(peer["bgpPeerState"].as_str(), Some("deleting" | "deleted"))
}

/// Live peers with the declared ASN on each VIF: more than one is a duplicate.
fn duplicates(world: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for v in world["virtualInterfaces"].as_array().unwrap() {
        let made: Vec<&str> = v["bgpPeers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| is_live(p) && asn_of(p) == NEW_ASN)
            .filter_map(|p| p["bgpPeerId"].as_str())
            .collect();
        if made.len() > 1 {
            out.push(format!(
                "{}: {} live peers with ASN {NEW_ASN}: {made:?}",
                v["virtualInterfaceId"].as_str().unwrap_or("?"),
                made.len()
            ));
        }
    }
    out
}

/// Peers dxctl created (every peer not in the seed world) that are live but not in its state.
fn unmanaged_created(world: &Value, state: &Value) -> Vec<String> {
    let recorded: Vec<&str> = state["peers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["bgp_peer_id"].as_str())
        .collect();
    world["virtualInterfaces"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|v| v["bgpPeers"].as_array().unwrap())
        .filter(|p| is_live(p))
        .filter_map(|p| p["bgpPeerId"].as_str())
        .filter(|id| !id.starts_with("dxpeer-fmold") && !recorded.contains(id))
        .map(|id| format!("{id} was created by dxctl but is not in its state"))
        .collect()
}

/// The state file, parsed; an unreadable or invalid one is a problem.
fn parsed_state(path: &Path) -> Result<Value, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(json!({"peers": []})),
        Err(e) => return Err(format!("cannot read the state: {e}")),
    };
    let v: Value =
        serde_json::from_str(&text).map_err(|e| format!("the state does not parse: {e}"))?;
    if v["lineage"].as_str().is_none() || v["peers"].as_array().is_none() {
        return Err(format!("the state lacks lineage or peers: {text}"));
    }
    Ok(v)
}

#[derive(Default)]
struct Tally {
    runs: usize,
    faults: BTreeMap<String, usize>,
    creates_sent: usize,
    duplicates: usize,
    unmanaged: usize,
    bad_states: usize,
    not_converged: usize,
    first_exit: BTreeMap<String, usize>,
    /// Why faulty applies failed: the start of their error line.
    first_errors: BTreeMap<String, usize>,
    outcome_unknown: usize,
    problems: Vec<String>,
}

fn one_run(shape: Shape, fault: Fault, seed: u64, root: &Path, tally: &Mutex<Tally>) {
    let name = format!("{shape:?}-{fault:?}-{seed}");
    let dir = root.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    let world_path = dir.join("world.json");
    std::fs::write(&world_path, world(shape, seed).to_string()).unwrap();
    let cfg = config_dir(&dir, "cfg", &config(shape));
    let mut sim_flags: Vec<String> = vec!["--consistency-window".into(), WINDOW.into()];
    sim_flags.extend(fault.flags());
    let flags: Vec<&str> = sim_flags.iter().map(String::as_str).collect();
    let sim = SimProcess::start(&world_path, &dir, &flags);
    let state = dir.join("state.json");
    let (exe, legacy) = applier();
    let command = |args: &[&str]| {
        let mut cmd = Command::new(&exe);
        hermetic(&mut cmd)
            .current_dir(&dir)
            .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
            .env("AWS_SECRET_ACCESS_KEY", "test-secret")
            .arg("--endpoint-url")
            .arg(sim.url())
            .arg("--state")
            .arg(&state);
        if !legacy {
            cmd.args(["--call-timeout", "1s"]);
        }
        cmd.args(args);
        if !legacy && args[0] == "apply" {
            cmd.args(["--settle-window", "3s"]);
        }
        cmd.arg(&cfg);
        cmd
    };
    let apply = [
        "apply",
        "--auto-approve",
        "--poll-interval",
        "200ms",
        "--timeout",
        "60s",
    ];
    let mut problems = Vec::new();

    let first = run_bounded(command(&apply), &dir, "first", RUN_LIMIT);
    let first_exit = match first.code {
        Some(c) => c.to_string(),
        None => "hung".to_string(),
    };
    let unknown = first.stderr.contains("outcome unknown");
    let world_after_first = sim.world();
    let dup_first = duplicates(&world_after_first);
    let state_first = parsed_state(&state);

    // The faults stop; a clean apply must finish the job, and then there is nothing left to do.
    sim.set_faults(&json!({}));
    let second = run_bounded(command(&apply), &dir, "second", RUN_LIMIT);
    if second.code != Some(0) {
        problems.push(format!(
            "the clean apply exited {:?}:\n{}{}",
            second.code, second.stdout, second.stderr
        ));
    }
    // A describe may show the world up to the window ago: once that has passed, nothing is left to do.
    std::thread::sleep(Duration::from_millis(2_500));
    let plan = run_bounded(
        command(&["plan", "--detailed-exitcode"]),
        &dir,
        "plan",
        RUN_LIMIT,
    );
    let converged = plan.code == Some(0);
    if !converged {
        problems.push(format!(
            "plan --detailed-exitcode after the clean apply exited {:?}:\n{}{}",
            plan.code, plan.stdout, plan.stderr
        ));
    }
    let world = sim.world();
    let dup_final = duplicates(&world);
    let state_final = parsed_state(&state);
    let mut bad_states = 0;
    for s in [&state_first, &state_final] {
        if let Err(e) = s {
            bad_states += 1;
            problems.push(e.clone());
        }
    }
    let unmanaged = state_final
        .as_ref()
        .map(|s| unmanaged_created(&world, s))
        .unwrap_or_default();
    problems.extend(
        dup_first
            .iter()
            .map(|d| format!("after the faulty apply: {d}")),
    );
    problems.extend(
        dup_final
            .iter()
            .map(|d| format!("after the clean apply: {d}")),
    );
    problems.extend(unmanaged.iter().cloned());

    let requests = sim.requests();
    let mut t = tally.lock().unwrap();
    t.runs += 1;
    for r in &requests {
        if let Some(f) = r["fault"].as_str() {
            *t.faults.entry(f.to_string()).or_default() += 1;
        }
    }
    t.creates_sent += requests
        .iter()
        .filter(|r| r["operation"] == "CreateBGPPeer")
        .count();
    t.duplicates += dup_first.len().max(dup_final.len());
    t.unmanaged += unmanaged.len();
    t.bad_states += bad_states;
    t.not_converged += usize::from(!converged);
    *t.first_exit.entry(first_exit).or_default() += 1;
    t.outcome_unknown += usize::from(unknown);
    if let Some(line) = first.stderr.lines().find(|l| l.starts_with("Error:")) {
        let short: String = line.chars().take(70).collect();
        *t.first_errors.entry(short).or_default() += 1;
    }
    if !problems.is_empty() {
        t.problems.push(format!(
            "--- {name}\n{}\nfaulty apply (exit {:?}):\n{}",
            problems.join("\n"),
            first.code,
            first
                .stderr
                .lines()
                .rev()
                .take(15)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
}

#[test]
fn no_duplicate_peer_under_ambiguous_failures_and_eventual_consistency() {
    let seeds: u64 = std::env::var("FAULT_MATRIX_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEEDS);
    let tmp = tempfile::tempdir().unwrap();
    let jobs: Vec<(Shape, Fault, u64)> = SHAPES
        .iter()
        .flat_map(|s| FAULTS.iter().map(move |f| (*s, *f)))
        .flat_map(|(s, f)| (0..seeds).map(move |seed| (s, f, seed)))
        .collect();
    let next = AtomicUsize::new(0);
    let tally = Mutex::new(Tally::default());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some((shape, fault, seed)) = jobs.get(i).copied() else {
                    break;
                };
                one_run(shape, fault, seed, tmp.path(), &tally);
            });
        }
    });
    let t = tally.into_inner().unwrap();
    let faults: usize = t.faults.values().sum();
    eprintln!(
        "fault matrix ({}): {} runs in {:.0}s; {faults} faults injected {:?}; {} CreateBGPPeer sent; first-apply exits {:?} \
         ({} with a create outcome unknown); duplicates {}; dxctl-created peers left unmanaged {}; unparsable states {}; \
         runs not converged {}",
        applier().0.display(),
        t.runs,
        started.elapsed().as_secs_f64(),
        t.faults,
        t.creates_sent,
        t.first_exit,
        t.outcome_unknown,
        t.duplicates,
        t.unmanaged,
        t.bad_states,
        t.not_converged,
    );
    for (error, n) in &t.first_errors {
        eprintln!("  {n:3} faulty applies ended: {error}");
    }
    assert_eq!(t.runs, jobs.len());
    assert!(
        t.problems.is_empty(),
        "{} of {} runs broke a promise:\n{}",
        t.problems.len(),
        t.runs,
        t.problems.join("\n")
    );
    // The suite must actually have been hard: ambiguous faults on both sides, at scale.
    for f in [
        "server-error-after",
        "bad-gateway-after",
        "drop",
        "late-write",
        "server-error",
        "drop-before",
    ] {
        assert!(
            t.faults.get(f).copied().unwrap_or(0) >= 10,
            "too few {f} faults: {:?}",
            t.faults
        );
    }
}
