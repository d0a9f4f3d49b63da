//! Crash safety: `kill -9` an apply at a pseudo-random moment, then apply again. After every kill the state file
//! parses, the second apply converges, the world holds exactly one live peer per declared `bgp_peer`, the state
//! names every declared peer, and a third `plan --detailed-exitcode` finds nothing to do.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::support::*;

/// How many kills.
const SEEDS: u64 = 20;
/// The kill delays (from spawning the apply) spread over `0..SPAN_MS`: a little more than one uninterrupted apply
/// of this world (1.0 to 1.4s: process start, describes, 15 creates at 20ms latency, 300ms of provisioning).
const SPAN_MS: u64 = 1500;
/// The longest any one dxctl run may take before the test gives up on it.
const RUN_LIMIT: Duration = Duration::from_secs(60);
const VIFS: usize = 6;

/// One `bgp_peer` block of the test configuration.
struct Declared {
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

fn vif_id(i: usize) -> String {
    format!("dxvif-crash{i:03}")
}

/// 15 peers on 6 VIFs: an IPv4 peer with explicit addresses and an IPv6 peer on each (one with a 4-byte ASN),
/// and an IPv4 peer without addresses on every other VIF.
fn declared() -> Vec<Declared> {
    let mut peers = Vec::new();
    for i in 0..VIFS {
        let n = i as u64;
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
            asn: if i == VIFS - 1 {
                4_200_000_000 + n
            } else {
                64600 + n
            },
            amazon: None,
            customer: None,
        });
    }
    peers
}

fn config_hcl(peers: &[Declared]) -> String {
    let mut hcl = String::from("provider \"aws\" {\n  region = \"us-east-1\"\n}\n");
    for i in 0..VIFS {
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

/// Six private VIFs, each with one unmanaged IPv4 peer (ASN 65000), on three connections and two LAGs that all
/// have logical redundancy; peers take 300ms to provision and every response is 20ms late.
fn world() -> Value {
    let parents = [
        "dxcon-crash1",
        "dxcon-crash2",
        "dxcon-crash3",
        "dxlag-crash1",
        "dxlag-crash2",
        "dxlag-crash1",
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
    let connections: Vec<Value> = (1..=3)
        .map(|i| {
            json!({
                "connectionId": format!("dxcon-crash{i}"),
                "connectionName": format!("crash-connection-{i}"),
                "connectionState": "available",
                "ownerAccount": "123456789012",
                "region": "us-east-1",
                "location": "EqDC2",
                "bandwidth": "10Gbps",
                "hasLogicalRedundancy": "yes"
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
        "sim": {"provisionDelay": "300ms", "seed": 7, "faults": {"latency": "20ms"}}
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

/// The kill delay for a seed: seed `s` lands in the `s`-th of `SEEDS` equal slices of `0..SPAN_MS`, at an offset
/// drawn from splitmix64, so the kills are reproducible and still cover the whole apply.
fn kill_delay(seed: u64) -> Duration {
    let slice = SPAN_MS / SEEDS;
    let mut x = seed.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    Duration::from_millis(seed * slice + x % slice)
}

struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` to completion with its output in files under `dir`; kills it and says so after `RUN_LIMIT`.
fn run_bounded(mut cmd: Command, dir: &Path, name: &str) -> Finished {
    let out = dir.join(format!("{name}.stdout"));
    let err = dir.join(format!("{name}.stderr"));
    cmd.stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    let mut child = cmd.spawn().expect("spawn dxctl");
    let deadline = Instant::now() + RUN_LIMIT;
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status.code().unwrap_or(-1));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Finished {
        code,
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
    }
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
fn check_world(world: &Value, peers: &[Declared]) -> Result<Vec<(String, String)>, String> {
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
fn landing(sim: &SimProcess) -> (usize, bool) {
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

fn one_seed(seed: u64, root: &Path, world_path: &Path, config: &Path) -> SeedResult {
    let peers = declared();
    let dir = root.join(format!("seed{seed:02}"));
    std::fs::create_dir_all(&dir).unwrap();
    let sim = SimProcess::start(world_path, &dir, &[]);
    let state_path: PathBuf = dir.join("state").join("state.json");
    let command = |args: &[&str]| {
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
        "30s",
        "--settle-window",
        "3s",
    ];
    let delay = kill_delay(seed);
    let mut problems: Vec<String> = Vec::new();

    // The first apply, killed with SIGKILL after `delay`.
    let mut first = command(&apply_args);
    first.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = first.spawn().expect("spawn dxctl apply");
    std::thread::sleep(delay);
    let finished_first = child.try_wait().unwrap().is_some();
    let _ = child.kill();
    let _ = child.wait();
    // A request already inside the simulator (sleeping out its latency) still runs and is logged.
    std::thread::sleep(Duration::from_millis(60));
    let (accepted, polling) = landing(&sim);
    let stage = if finished_first {
        "after it finished".to_string()
    } else if polling {
        format!("while polling ({accepted} created)")
    } else if accepted == 0 {
        "before any create".to_string()
    } else {
        format!("between creates ({accepted} created)")
    };
    let mut line = format!("seed {seed:2}: kill at {:4}ms {stage}", delay.as_millis());

    // The state file, if the kill left one, parses, and names only peers AWS accepted.
    let world_after_kill = sim.world();
    let killed_state = read_state(&state_path).unwrap_or_else(|e| {
        problems.push(format!("after the kill: {e}"));
        None
    });
    let recorded = killed_state
        .as_ref()
        .map_or(0, |s| s["peers"].as_array().unwrap().len());
    write!(line, "; state after kill: {recorded} peers").unwrap();
    if let Some(state) = &killed_state {
        let known: Vec<&str> = world_after_kill["virtualInterfaces"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|v| v["bgpPeers"].as_array().unwrap())
            .filter_map(|p| p["bgpPeerId"].as_str())
            .collect();
        for rec in state["peers"].as_array().unwrap() {
            let id = rec["bgp_peer_id"].as_str().unwrap();
            if !known.contains(&id) {
                problems.push(format!(
                    "after the kill the state names {id}, which the world does not have"
                ));
            }
        }
    }
    let creates_before = sim.count("CreateBGPPeer");

    // The second apply converges.
    let second_started = Instant::now();
    let second = run_bounded(command(&apply_args), &dir, "second");
    let creates = sim.count("CreateBGPPeer") - creates_before;
    write!(
        line,
        "; second run: {creates} creates in {:.1}s",
        second_started.elapsed().as_secs_f64()
    )
    .unwrap();
    match second.code {
        Some(0) if second.stdout.contains("Apply complete!") => {}
        None => problems.push("the second apply did not finish within 60s".into()),
        Some(code) => problems.push(format!("the second apply exited {code}")),
    }
    let (total, _) = landing(&sim);
    if total != peers.len() {
        problems.push(format!(
            "{total} CreateBGPPeer calls accepted in all ({accepted} before the kill) for {} declared peers",
            peers.len()
        ));
    }

    // Exactly one live, available peer per declared peer, and no duplicates.
    let world = sim.world();
    let ids = check_world(&world, &peers).unwrap_or_else(|e| {
        problems.push(e);
        Vec::new()
    });

    // The state parses and records every declared peer, with the id of the peer that is live.
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
        }
    }

    // Nothing left to do.
    let third = run_bounded(command(&["plan", "--detailed-exitcode"]), &dir, "plan");
    if third.code != Some(0) {
        problems.push(format!(
            "plan --detailed-exitcode after the second apply: {}",
            output_summary(&third)
        ));
    }

    if problems.is_empty() {
        line.push_str("; converged");
        return SeedResult {
            line,
            failure: None,
        };
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
    SeedResult {
        line,
        failure: Some(failure),
    }
}

#[test]
fn apply_killed_at_random_moments_recovers_without_duplicates() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let world_path = root.join("world.json");
    std::fs::write(&world_path, serde_json::to_string_pretty(&world()).unwrap()).unwrap();
    let config = config_dir(root, "cfg", &config_hcl(&declared()));

    let mut failures = Vec::new();
    for seed in 0..SEEDS {
        let result = one_seed(seed, root, &world_path, &config);
        let mark = if result.failure.is_some() {
            "FAIL"
        } else {
            "ok"
        };
        eprintln!("{mark:4} {}", result.line);
        failures.extend(result.failure);
    }
    eprintln!(
        "{SEEDS} kills in {:.1}s, {} failed",
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
