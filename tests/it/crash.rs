//! Crash safety: `kill -9` an apply at a pseudo-random moment, then apply again. After every kill the state file
//! parses, the state (file plus journal, whose last line the kill may have torn) loads and names only peers AWS
//! has, the second apply converges and leaves no journal, the world holds exactly one live peer per declared
//! `bgp_peer`, the state names every declared peer, and a third `plan --detailed-exitcode` finds nothing to do.
//!
//! Two phases, each against a simulator whose describes lag by up to 2s (eventual consistency): creating 14 peers
//! from nothing, and changing them: five replaced create-before-destroy, one destroy-before-create, three deleted.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::support::*;

/// How many kills per phase.
const SEEDS: u64 = 16;
/// Seeds run at once (each has its own simulator; they mostly wait).
const WORKERS: usize = 4;
/// The longest any one dxctl run may take before the test gives up on it.
const RUN_LIMIT: Duration = Duration::from_secs(90);
pub(super) const VIFS: usize = 6;
/// The simulator's consistency window.
pub(super) const WINDOW_MS: u64 = 2_000;

/// One `bgp_peer` block of the test configuration.
pub(super) struct Declared {
    vif: String,
    label: &'static str,
    family: &'static str,
    asn: u64,
    amazon: Option<String>,
    customer: Option<String>,
}

impl Declared {
    fn address(&self) -> String {
        format!("virtual_interface.{}.bgp_peer.{}", self.vif, self.label)
    }

    /// Whether a peer of the world is this declared peer: same family and ASN, and the same addresses where the
    /// config gives them.
    fn matches(&self, peer: &Value) -> bool {
        let same = |wanted: &Option<String>, field: &str| {
            wanted.as_deref().is_none_or(|w| {
                peer[field]
                    .as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(w))
            })
        };
        peer["addressFamily"] == self.family
            && asn_of(peer) == Some(self.asn)
            && same(&self.amazon, "amazonAddress")
            && same(&self.customer, "customerAddress")
    }
}

pub(super) fn vif_id(i: usize) -> String {
    format!("dxvif-crash{i:03}")
}

/// 14 peers on 6 VIFs: an IPv4 peer with explicit addresses and an IPv6 peer on each (one with a 4-byte ASN),
/// and an IPv4 peer without addresses on every other VIF; the last VIF, on a connection without logical redundancy
/// next to its unmanaged IPv4 peer, has only the IPv6 one.
pub(super) fn declared() -> Vec<Declared> {
    let mut peers = Vec::new();
    for i in 0..VIFS {
        let n = i as u64;
        if i == VIFS - 1 {
            peers.push(Declared {
                vif: vif_id(i),
                label: "v6",
                family: "ipv6",
                asn: 4_200_000_000 + n,
                amazon: None,
                customer: None,
            });
            continue;
        }
        peers.push(Declared {
            vif: vif_id(i),
            label: "v4_static",
            family: "ipv4",
            asn: 65100 + n,
            amazon: Some(format!("169.254.{}.1/30", 10 + i)),
            customer: Some(format!("169.254.{}.2/30", 10 + i)),
        });
        if i % 2 == 0 {
            peers.push(Declared {
                vif: vif_id(i),
                label: "v4_auto",
                family: "ipv4",
                asn: 65200 + n,
                amazon: None,
                customer: None,
            });
        }
        peers.push(Declared {
            vif: vif_id(i),
            label: "v6",
            family: "ipv6",
            asn: 64600 + n,
            amazon: None,
            customer: None,
        });
    }
    peers
}

/// The change: every explicit-address IPv4 peer gets a new ASN (replaced create-before-destroy), the last VIF's
/// IPv6 peer too (destroy-before-create: no logical redundancy, and the unmanaged peer keeps the VIF up), and the
/// address-less IPv4 peers are dropped (deleted).
fn changed() -> Vec<Declared> {
    declared()
        .into_iter()
        .filter(|d| d.label != "v4_auto")
        .map(|d| match d.label {
            "v4_static" => Declared {
                asn: d.asn + 200,
                ..d
            },
            "v6" if d.vif == vif_id(VIFS - 1) => Declared {
                asn: d.asn + 1,
                ..d
            },
            _ => d,
        })
        .collect()
}

pub(super) fn config_hcl(peers: &[Declared]) -> String {
    let mut hcl = String::from("provider \"aws\" {\n  region = \"us-east-1\"\n}\n");
    for i in 0..VIFS {
        if !peers.iter().any(|p| p.vif == vif_id(i)) {
            continue;
        }
        write!(hcl, "\nvirtual_interface \"{}\" {{\n", vif_id(i)).unwrap();
        for p in peers.iter().filter(|p| p.vif == vif_id(i)) {
            write!(
                hcl,
                "  bgp_peer \"{}\" {{\n    address_family = \"{}\"\n    asn = {}\n",
                p.label, p.family, p.asn
            )
            .unwrap();
            if let (Some(a), Some(c)) = (&p.amazon, &p.customer) {
                write!(
                    hcl,
                    "    amazon_address = \"{a}\"\n    customer_address = \"{c}\"\n"
                )
                .unwrap();
            }
            hcl.push_str("  }\n");
        }
        hcl.push_str("}\n");
    }
    hcl
}

/// Six private VIFs, each with one unmanaged IPv4 peer (ASN 65000), on three connections and two LAGs that have
/// logical redundancy and one connection that has not; peers take 300ms to provision, every response is 20ms late,
/// and describes may show the world up to 2s ago.
pub(super) fn world() -> Value {
    let parents = [
        "dxcon-crash1",
        "dxcon-crash2",
        "dxcon-crash3",
        "dxlag-crash1",
        "dxlag-crash2",
        "dxcon-crash4",
    ];
    let vifs: Vec<Value> = (0..VIFS)
        .map(|i| {
            let amazon = format!("169.254.{}.1/30", 200 + i);
            let customer = format!("169.254.{}.2/30", 200 + i);
            json!({
                "virtualInterfaceId": vif_id(i),
                "virtualInterfaceName": format!("crash-{i}"),
                "virtualInterfaceType": "private",
                "virtualInterfaceState": "available",
                "connectionId": parents[i],
                "ownerAccount": "123456789012",
                "location": "EqDC2",
                "vlan": 300 + i,
                "asn": 65000,
                "addressFamily": "ipv4",
                "amazonAddress": amazon,
                "customerAddress": customer,
                "virtualGatewayId": "vgw-f9eb0c90",
                "region": "us-east-1",
                "bgpPeers": [{
                    "bgpPeerId": format!("dxpeer-crash{i:03}"),
                    "bgpStatus": "up",
                    "bgpPeerState": "available",
                    "addressFamily": "ipv4",
                    "asn": 65000,
                    "amazonAddress": amazon,
                    "customerAddress": customer,
                    "authKey": "0xC_ukbCerl6EYA0uexample"
                }]
            })
        })
        .collect();
    let connections: Vec<Value> = (1..=4)
        .map(|i| {
            json!({
                "connectionId": format!("dxcon-crash{i}"),
                "connectionName": format!("crash-connection-{i}"),
                "connectionState": "available",
                "ownerAccount": "123456789012",
                "region": "us-east-1",
                "location": "EqDC2",
                "bandwidth": "10Gbps",
                "hasLogicalRedundancy": if i == 4 { "no" } else { "yes" }
            })
        })
        .collect();
    let lags: Vec<Value> = (1..=2)
        .map(|i| {
            json!({
                "lagId": format!("dxlag-crash{i}"),
                "lagName": format!("crash-lag-{i}"),
                "lagState": "available",
                "ownerAccount": "123456789012",
                "region": "us-east-1",
                "location": "EqDC2",
                "connectionsBandwidth": "10Gbps",
                "numberOfConnections": 2,
                "hasLogicalRedundancy": "yes"
            })
        })
        .collect();
    json!({
        "virtualInterfaces": vifs,
        "connections": connections,
        "lags": lags,
        "sim": {
            "provisionDelay": "300ms", "deletionDelay": "300ms", "seed": 7,
            "consistencyWindow": format!("{WINDOW_MS}ms"), "faults": {"latency": "20ms"}
        }
    })
}

/// A peer's ASN from whichever field carries it (`asnLong` for 4-byte ASNs, where `asn` is 0).
fn asn_of(peer: &Value) -> Option<u64> {
    peer["asnLong"]
        .as_u64()
        .filter(|a| *a > 0)
        .or_else(|| peer["asn"].as_u64().filter(|a| *a > 0))
}

fn peer_state(peer: &Value) -> &str {
    peer["bgpPeerState"].as_str().unwrap_or("available")
}

fn is_live(peer: &Value) -> bool {
    !matches!(peer_state(peer), "deleting" | "deleted")
}

/// The kill delay for a seed: seed `s` lands in the `s`-th of `SEEDS` equal slices of `0..span_ms`, at an offset
/// drawn from splitmix64, so the kills are reproducible and still cover the whole apply.
pub(super) fn kill_delay(seed: u64, span_ms: u64) -> Duration {
    let slice = (span_ms / SEEDS).max(1);
    let mut x = seed.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    Duration::from_millis(seed * slice + x % slice)
}

/// Checks the state file, if there is one, parses with its four top-level fields; returns it.
fn read_state(path: &Path) -> Result<Option<Value>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let state: Value = serde_json::from_str(&text)
        .map_err(|e| format!("state file does not parse: {e}\n{text}"))?;
    let ok = state["format_version"].as_u64() == Some(1)
        && state["lineage"].as_str().is_some_and(|l| !l.is_empty())
        && state["serial"].as_u64().is_some_and(|s| s >= 1)
        && state["peers"].as_array().is_some_and(|peers| {
            peers
                .iter()
                .all(|p| p["address"].is_string() && p["bgp_peer_id"].is_string())
        });
    if !ok {
        return Err(format!(
            "state file lacks format_version/lineage/serial/peers:\n{text}"
        ));
    }
    Ok(Some(state))
}

/// The world's live peers of one VIF.
fn live_peers<'w>(world: &'w Value, vif: &str) -> Vec<&'w Value> {
    world["virtualInterfaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["virtualInterfaceId"] == vif)
        .flat_map(|v| v["bgpPeers"].as_array().unwrap())
        .filter(|p| is_live(p))
        .collect()
}

fn peers_summary(world: &Value) -> String {
    let mut s = String::new();
    for v in world["virtualInterfaces"].as_array().unwrap() {
        write!(
            s,
            "\n  {}:",
            v["virtualInterfaceId"].as_str().unwrap_or("?")
        )
        .unwrap();
        for p in v["bgpPeers"].as_array().unwrap() {
            write!(
                s,
                " [{} {} {} {} {}]",
                p["bgpPeerId"].as_str().unwrap_or("?"),
                p["addressFamily"].as_str().unwrap_or("?"),
                asn_of(p).unwrap_or(0),
                p["customerAddress"].as_str().unwrap_or("-"),
                peer_state(p)
            )
            .unwrap();
        }
    }
    s
}

/// The world after convergence: per VIF, exactly one live and available peer for each declared one, no two live
/// peers with the same (family, ASN, customer address where the config gives it), and nothing else but the
/// unmanaged peer. Returns the declared address -> bgpPeerId mapping.
pub(super) fn check_world(
    world: &Value,
    peers: &[Declared],
) -> Result<Vec<(String, String)>, String> {
    let mut problems = Vec::new();
    let mut ids = Vec::new();
    for i in 0..VIFS {
        let vif = vif_id(i);
        let live = live_peers(world, &vif);
        let mine: Vec<&Declared> = peers.iter().filter(|p| p.vif == vif).collect();
        let mut keys: Vec<(String, u64, Option<String>)> = live
            .iter()
            .map(|p| {
                let family = p["addressFamily"].as_str().unwrap_or("?").to_string();
                let asn = asn_of(p).unwrap_or(0);
                let explicit = mine
                    .iter()
                    .find(|d| d.family == family && d.asn == asn)
                    .is_none_or(|d| d.customer.is_some());
                let customer = explicit
                    .then(|| p["customerAddress"].as_str().map(str::to_ascii_lowercase))
                    .flatten();
                (family, asn, customer)
            })
            .collect();
        keys.sort();
        for pair in keys.windows(2) {
            if pair[0] == pair[1] {
                problems.push(format!("{vif}: duplicate live peers {:?}", pair[0]));
            }
        }
        if live.len() != mine.len() + 1 {
            problems.push(format!(
                "{vif}: {} live peers, expected {} declared + 1 unmanaged",
                live.len(),
                mine.len()
            ));
        }
        for d in &mine {
            let found: Vec<&&Value> = live.iter().filter(|p| d.matches(p)).collect();
            match found.as_slice() {
                [one] if peer_state(one) == "available" => ids.push((
                    d.address(),
                    one["bgpPeerId"].as_str().unwrap_or_default().to_string(),
                )),
                [one] => problems.push(format!(
                    "{}: its peer {} is {}, not available",
                    d.address(),
                    one["bgpPeerId"],
                    peer_state(one)
                )),
                many => problems.push(format!(
                    "{}: {} live matching peers, expected exactly 1",
                    d.address(),
                    many.len()
                )),
            }
        }
    }
    if problems.is_empty() {
        Ok(ids)
    } else {
        Err(problems.join("\n"))
    }
}

/// Where a kill landed, read from the request log.
pub(super) fn landing(sim: &SimProcess) -> (usize, bool) {
    let requests = sim.requests();
    let accepted = requests
        .iter()
        .filter(|r| r["operation"] == "CreateBGPPeer" && r["status"] == 200)
        .count();
    let last_create = requests
        .iter()
        .rposition(|r| r["operation"] == "CreateBGPPeer");
    let polling = last_create.is_some_and(|i| {
        requests[i + 1..]
            .iter()
            .any(|r| r["operation"] == "DescribeVirtualInterfaces")
    });
    (accepted, polling)
}

/// A state file in one line per peer.
fn state_summary(state: Option<&Value>) -> String {
    let Some(state) = state else {
        return " (no state file)".to_string();
    };
    let mut s = format!(" serial {}", state["serial"]);
    for p in state["peers"].as_array().into_iter().flatten() {
        write!(
            s,
            "\n  {} = {}",
            p["address"].as_str().unwrap_or("?"),
            p["bgp_peer_id"].as_str().unwrap_or("?")
        )
        .unwrap();
    }
    s
}

/// dxctl's output without the plan's attribute bodies: the action headers, the totals, and all of stderr.
fn output_summary(run: &Finished) -> String {
    let headers: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| {
            l.trim_start().starts_with('#')
                || l.trim_start().starts_with('~')
                || l.starts_with("Plan:")
                || l.starts_with("No changes")
                || l.starts_with("Apply complete")
        })
        .collect();
    format!(
        "exit {:?}\n--- stdout (plan headers)\n{}\n--- stderr\n{}",
        run.code,
        headers.join("\n"),
        run.stderr
    )
}

struct SeedResult {
    line: String,
    failure: Option<String>,
}

#[derive(Clone, Copy, Debug)]
enum Phase {
    /// Creating every declared peer from nothing.
    Create,
    /// From every declared peer in place, to the changed config: replacements in both orders and deletions.
    Change,
}

impl Phase {
    /// The peers before (already applied) and after.
    fn configs(self) -> (Option<Vec<Declared>>, Vec<Declared>) {
        match self {
            Phase::Create => (None, declared()),
            Phase::Change => (Some(declared()), changed()),
        }
    }

    /// CreateBGPPeer calls AWS should accept in the phase: one per new peer, one per replacement.
    fn creates(self) -> usize {
        match self {
            Phase::Create => declared().len(),
            Phase::Change => changed()
                .iter()
                .filter(|d| {
                    !declared()
                        .iter()
                        .any(|b| b.address() == d.address() && b.asn == d.asn)
                })
                .count(),
        }
    }
}

struct Setup {
    root: PathBuf,
    world: PathBuf,
    before: PathBuf,
    after: PathBuf,
}

/// One seed: the phase's starting point, an apply killed after `delay` (or run to the end with `None`), a second
/// apply and a plan; returns what happened, and how long the killed apply would have taken when it was not killed.
fn one_seed(
    phase: Phase,
    seed: u64,
    delay: Option<Duration>,
    setup: &Setup,
) -> (SeedResult, Duration) {
    let (before, peers) = phase.configs();
    let dir = setup
        .root
        .join(format!("{phase:?}-{seed:02}-{}", delay.is_some()));
    std::fs::create_dir_all(&dir).unwrap();
    let sim = SimProcess::start(&setup.world, &dir, &[]);
    let state_path: PathBuf = dir.join("state").join("state.json");
    let command = |args: &[&str], config: &Path| {
        let mut cmd = dxctl(&dir);
        cmd.args(["--call-timeout", "2s"])
            .arg("--endpoint-url")
            .arg(sim.url())
            .arg("--state")
            .arg(&state_path)
            .args(args)
            .arg(config);
        cmd
    };
    let apply_args = [
        "apply",
        "--auto-approve",
        "--poll-interval",
        "100ms",
        "--timeout",
        "60s",
        "--settle-window",
        "3s",
    ];
    let mut problems: Vec<String> = Vec::new();
    if before.is_some() {
        let setup_run = run_bounded(
            command(&apply_args, &setup.before),
            &dir,
            "setup",
            RUN_LIMIT,
        );
        if setup_run.code != Some(0) {
            problems.push(format!(
                "the setup apply failed: {}",
                output_summary(&setup_run)
            ));
        }
    }
    let accepted_before = landing(&sim).0;
    let creates_before = sim.count("CreateBGPPeer");

    // The apply, killed with SIGKILL after `delay`.
    let mut first = command(&apply_args, &setup.after);
    first.stdout(Stdio::null()).stderr(Stdio::null());
    let started = Instant::now();
    let mut child = first.spawn().expect("spawn dxctl apply");
    let finished_first = match delay {
        Some(delay) => {
            std::thread::sleep(delay);
            let finished = child.try_wait().unwrap().is_some();
            let _ = child.kill();
            let _ = child.wait();
            finished
        }
        None => {
            let status = child.wait().unwrap();
            if !status.success() {
                problems.push(format!("the uninterrupted apply exited {status}"));
            }
            true
        }
    };
    let uninterrupted = started.elapsed();
    // A request already inside the simulator (sleeping out its latency) still runs and is logged.
    std::thread::sleep(Duration::from_millis(60));
    let (accepted_total, polling) = landing(&sim);
    let accepted = accepted_total - accepted_before;
    let stage = if finished_first {
        "after it finished".to_string()
    } else if polling {
        format!("while polling ({accepted} created)")
    } else if accepted == 0 {
        "before any create".to_string()
    } else {
        format!("between creates ({accepted} created)")
    };
    let delay_ms = delay.map_or(0, |d| d.as_millis());
    let mut line = format!("{phase:?} seed {seed:2}: kill at {delay_ms:4}ms {stage}");

    // The state file, if the kill left one, parses, and names only peers AWS has (or had).
    let world_after_kill = sim.world();
    let killed_state = read_state(&state_path).unwrap_or_else(|e| {
        problems.push(format!("after the kill: {e}"));
        None
    });
    // What the next run reads: the state file plus the journal the kill may have left (its last line torn).
    let journal_path = PathBuf::from(format!("{}.journal", state_path.display()));
    let journal = std::fs::read_to_string(&journal_path).unwrap_or_default();
    let journal_lines = journal.matches('\n').count().saturating_sub(1);
    if journal.contains("uexample") || journal.to_lowercase().contains("auth") {
        problems.push(format!("the journal holds an auth key:\n{journal}"));
    }
    let loaded = dxctl::state::StateStore::load(&dxctl::state::LocalStateFile::new(&state_path))
        .unwrap_or_else(|e| {
            problems.push(format!("after the kill the state does not load: {e:#}"));
            dxctl::state::State::default()
        });
    write!(
        line,
        "; state after kill: {} peers ({journal_lines} journal commits)",
        loaded.peers.len()
    )
    .unwrap();
    let known: Vec<&str> = world_after_kill["virtualInterfaces"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|v| v["bgpPeers"].as_array().unwrap())
        .filter_map(|p| p["bgpPeerId"].as_str())
        .collect();
    for rec in &loaded.peers {
        let id = rec.bgp_peer_id.as_str();
        if !known.contains(&id) {
            problems.push(format!(
                "after the kill the state names {id}, which the world does not have"
            ));
        }
    }
    let creates_mid = sim.count("CreateBGPPeer");

    // The second apply converges.
    let second_started = Instant::now();
    let second = run_bounded(
        command(&apply_args, &setup.after),
        &dir,
        "second",
        RUN_LIMIT,
    );
    let creates = sim.count("CreateBGPPeer") - creates_mid;
    write!(
        line,
        "; second run: {creates} creates in {:.1}s",
        second_started.elapsed().as_secs_f64()
    )
    .unwrap();
    match second.code {
        Some(0) if second.stdout.contains("Apply complete!") => {}
        None => problems.push("the second apply did not finish in time".into()),
        Some(code) => problems.push(format!("the second apply exited {code}")),
    }
    let (total, _) = landing(&sim);
    let phase_accepted = total - accepted_before;
    if phase_accepted != phase.creates() {
        problems.push(format!(
            "{phase_accepted} CreateBGPPeer calls accepted in the phase ({accepted} before the kill; {} sent) where {} are needed",
            sim.count("CreateBGPPeer") - creates_before,
            phase.creates()
        ));
    }

    // Exactly one live, available peer per declared peer, no duplicates, nothing dropped from the config left.
    let world = sim.world();
    let ids = check_world(&world, &peers).unwrap_or_else(|e| {
        problems.push(e);
        Vec::new()
    });

    // The apply folded its journal into the state file.
    if journal_path.exists() {
        problems.push(format!(
            "{} is left after the second apply",
            journal_path.display()
        ));
    }

    // The state parses and records every declared peer (with the id of the peer that is live), and nothing else.
    let state = read_state(&state_path).unwrap_or_else(|e| {
        problems.push(format!("after the second apply: {e}"));
        None
    });
    match &state {
        None => problems.push("no state file after the second apply".into()),
        Some(state) => {
            let records = state["peers"].as_array().unwrap();
            for d in &peers {
                let address = d.address();
                let live = ids.iter().find(|(a, _)| *a == address).map(|(_, id)| id);
                match (
                    records.iter().find(|r| r["address"] == address.as_str()),
                    live,
                ) {
                    (None, Some(id)) => problems.push(format!(
                        "{address} (live peer {id}) is not in the state file"
                    )),
                    (None, None) => problems.push(format!("{address} is not in the state file")),
                    (Some(r), Some(id)) if r["bgp_peer_id"] != id.as_str() => {
                        problems.push(format!(
                            "{address}: state has {} but the live peer is {id}",
                            r["bgp_peer_id"]
                        ))
                    }
                    (Some(_), _) => {}
                }
            }
            for r in records {
                let address = r["address"].as_str().unwrap_or("?");
                if !peers.iter().any(|d| d.address() == address) {
                    problems.push(format!(
                        "the state still records {address}, which the config dropped"
                    ));
                }
                if r["deposed"].as_array().is_some_and(|d| !d.is_empty()) {
                    problems.push(format!(
                        "{address} still has deposed peers: {}",
                        r["deposed"]
                    ));
                }
            }
            if state["intents"].as_array().is_some_and(|i| !i.is_empty()) {
                problems.push(format!(
                    "intents left after convergence: {}",
                    state["intents"]
                ));
            }
        }
    }

    // Nothing left to do, once a describe can no longer lag behind the apply.
    std::thread::sleep(Duration::from_millis(WINDOW_MS));
    let third = run_bounded(
        command(&["plan", "--detailed-exitcode"], &setup.after),
        &dir,
        "plan",
        RUN_LIMIT,
    );
    if third.code != Some(0) {
        problems.push(format!(
            "plan --detailed-exitcode after the second apply: {}",
            output_summary(&third)
        ));
    }

    if problems.is_empty() {
        line.push_str("; converged");
        return (
            SeedResult {
                line,
                failure: None,
            },
            uninterrupted,
        );
    }
    let failure = format!(
        "{line}\n{}\nworld after the kill:{}\nstate after the kill:{}\nworld after the second apply:{}\nstate after the second apply:{}\nsecond apply: {}",
        problems.join("\n"),
        peers_summary(&world_after_kill),
        state_summary(killed_state.as_ref()),
        peers_summary(&world),
        state_summary(state.as_ref()),
        output_summary(&second),
    );
    (
        SeedResult {
            line,
            failure: Some(failure),
        },
        uninterrupted,
    )
}

/// Kills over the whole length of the phase's apply: first one run to the end measures it, then `SEEDS` kills
/// spread over a little more than that.
fn kill_phase(phase: Phase) {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let world_file = root.join("world.json");
    std::fs::write(&world_file, serde_json::to_string_pretty(&world()).unwrap()).unwrap();
    let (before, after) = phase.configs();
    let setup = Setup {
        before: config_dir(&root, "before", &config_hcl(&before.unwrap_or_default())),
        after: config_dir(&root, "after", &config_hcl(&after)),
        world: world_file,
        root,
    };
    let (calibration, took) = one_seed(phase, 0, None, &setup);
    assert!(
        calibration.failure.is_none(),
        "the uninterrupted {phase:?} run failed:\n{}",
        calibration.failure.unwrap_or_default()
    );
    let span_ms = (took.as_millis() as u64) * 6 / 5;
    let next = std::sync::atomic::AtomicU64::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| loop {
                let seed = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if seed >= SEEDS {
                    break;
                }
                let (result, _) = one_seed(phase, seed, Some(kill_delay(seed, span_ms)), &setup);
                results.lock().unwrap().push((seed, result));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(seed, _)| *seed);
    let mut failures = Vec::new();
    for (_, result) in results {
        let mark = if result.failure.is_some() {
            "FAIL"
        } else {
            "ok"
        };
        eprintln!("{mark:4} {}", result.line);
        failures.extend(result.failure);
    }
    eprintln!(
        "{phase:?}: {SEEDS} kills over {span_ms}ms (an uninterrupted apply took {}ms) in {:.1}s, {} failed",
        took.as_millis(),
        started.elapsed().as_secs_f64(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {SEEDS} kills did not recover:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn apply_killed_at_random_moments_recovers_without_duplicates() {
    kill_phase(Phase::Create);
}

#[test]
fn replacements_and_deletes_killed_at_random_moments_recover() {
    kill_phase(Phase::Change);
}
