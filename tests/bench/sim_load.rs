//! Simulator load benchmark: `cargo bench --bench sim_load`. Under `cargo test` (no `--bench` argument) it runs
//! the checks of `load_checks` instead: the same load at a small scale, without timing.
//!
//! Starts the Direct Connect simulator in-process on 127.0.0.1 (ephemeral port) with a generated world, then
//! drives it with many concurrent SDK clients (one `aws_sdk_directconnect::Client` and one tokio task each)
//! sending a mixed load: DescribeVirtualInterfaces (all and by id), DescribeConnections, CreateBGPPeer of
//! uniquely identifiable peers and DeleteBGPPeer of peers the same client created. It prints throughput,
//! latency percentiles and errors by code, checks the final world for lost updates, and measures the same
//! mix from a single client in the same run as a baseline. Exits 1 on any failed request, malformed answer
//! or lost update.
//!
//! Environment (all optional):
//! - `DXCTL_LOAD_REQUESTS` (20000): requests of the concurrent phase, split evenly over the clients.
//! - `DXCTL_LOAD_CLIENTS` (64): concurrent clients.
//! - `DXCTL_LOAD_BASELINE_REQUESTS` (4000): requests of the single-client baseline.
//! - `DXCTL_LOAD_VIFS` (64) and `DXCTL_LOAD_REGIONS` (`us-east-1,eu-west-1`): the generated world.
//! - `DXCTL_LOAD_SEED` (1): seeds each client's request sequence.
//! - `DXCTL_LOAD_THREADS` (the number of cores): tokio worker threads.
//! - `DXCTL_LOAD_PERSIST` (unset): `1` makes the simulator write its world to a temporary file after every
//!   change, as the sandbox does, and checks afterwards that the file matches the world in memory.
//! - `DXCTL_LOAD_REQUEST_LOG` (unset): `1` turns on the simulator's request log (a temporary file) and checks
//!   it has one line per request sent.

mod load_checks;
mod load_common;

use std::collections::BTreeMap;
use std::process::ExitCode;

use load_common::{
    api_matches_world, generate_world, lost_updates, ms, persisted_matches, request_log_matches,
    run_load, start_sim, Latencies, LoadOutcome, LoadPlan, Op, MAX_CREATES,
};

struct Config {
    requests: usize,
    clients: usize,
    baseline_requests: usize,
    vifs: usize,
    regions: Vec<String>,
    seed: u64,
    threads: Option<usize>,
    persist: bool,
    request_log: bool,
}

fn env_number(name: &str, default: usize, min: usize, max: usize) -> Result<usize, String> {
    let value = match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse::<usize>()
            .map_err(|e| format!("{name}={text:?}: {e}"))?,
        Err(_) => default,
    };
    if !(min..=max).contains(&value) {
        return Err(format!("{name}={value}: expected {min}..={max}"));
    }
    Ok(value)
}

impl Config {
    fn from_env() -> Result<Config, String> {
        let max_requests = MAX_CREATES / 2;
        let regions: Vec<String> = std::env::var("DXCTL_LOAD_REGIONS")
            .unwrap_or_else(|_| "us-east-1,eu-west-1".into())
            .split(',')
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .collect();
        if regions.is_empty() {
            return Err("DXCTL_LOAD_REGIONS names no region".into());
        }
        let vifs = env_number("DXCTL_LOAD_VIFS", 64, 1, 4000)?;
        if vifs < regions.len() {
            return Err(format!(
                "DXCTL_LOAD_VIFS={vifs}: at least one VIF per region ({})",
                regions.len()
            ));
        }
        let threads = match std::env::var("DXCTL_LOAD_THREADS") {
            Ok(_) => Some(env_number("DXCTL_LOAD_THREADS", 2, 1, 256)?),
            Err(_) => None,
        };
        Ok(Config {
            requests: env_number("DXCTL_LOAD_REQUESTS", 20_000, 1, max_requests)?,
            clients: env_number("DXCTL_LOAD_CLIENTS", 64, 1, 4096)?,
            baseline_requests: env_number("DXCTL_LOAD_BASELINE_REQUESTS", 4_000, 1, max_requests)?,
            vifs,
            regions,
            seed: env_number("DXCTL_LOAD_SEED", 1, 0, usize::MAX)? as u64,
            threads,
            persist: env_number("DXCTL_LOAD_PERSIST", 0, 0, 1)? == 1,
            request_log: env_number("DXCTL_LOAD_REQUEST_LOG", 0, 0, 1)? == 1,
        })
    }
}

/// What one phase measured and found.
struct Phase {
    clients: usize,
    described_peers: f64,
    rps: f64,
    latency: Latencies,
    /// Failed requests, malformed answers and lost updates.
    failures: usize,
}

async fn run_phase(cfg: &Config, label: &str, clients: usize, requests: usize) -> Phase {
    let regions: Vec<&str> = cfg.regions.iter().map(String::as_str).collect();
    let seed = generate_world(cfg.vifs, &regions, "yes", 2);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let persist_to = cfg.persist.then(|| dir.path().join("world.json"));
    let log = cfg.request_log.then(|| dir.path().join("requests.jsonl"));
    let sim = start_sim(seed.world.clone(), persist_to.clone(), log.clone()).await;
    let plan = LoadPlan {
        clients,
        requests,
        seed: cfg.seed,
    };
    let outcome = run_load(&sim, &seed, &plan).await;
    let world = sim.world();
    let lost = lost_updates(&world, &seed, &outcome);
    // Other consistency checks: the request log, the API's view and the persisted file against the world.
    let mut other = Vec::new();
    if let Some(path) = &log {
        other.extend(request_log_matches(path, &outcome));
    }
    other.extend(api_matches_world(&sim, &seed).await);
    if let Some(path) = &persist_to {
        other.extend(persisted_matches(path, &world));
    }
    let live_at_end = world
        .virtual_interfaces
        .iter()
        .flat_map(|v| &v.bgp_peers)
        .filter(|p| p.is_live())
        .count();
    if let Err(e) = sim.stop().await {
        other.push(format!("the simulator did not stop cleanly: {e:#}"));
    }

    println!();
    println!(
        "== {label}: {clients} client(s), {requests} requests, {} VIFs in {} region(s), {} tokio worker thread(s){} ==",
        cfg.vifs,
        cfg.regions.len(),
        tokio::runtime::Handle::current().metrics().num_workers(),
        match (cfg.persist, cfg.request_log) {
            (true, true) => ", world persisted after every change, request log on",
            (true, false) => ", world persisted after every change",
            (false, true) => ", request log on",
            (false, false) => "",
        }
    );
    let phase = report(&outcome, live_at_end, &lost, &other);
    println!(
        "RESULT {label}: {}",
        if phase.failures == 0 { "ok" } else { "FAILED" }
    );
    phase
}

/// Prints a phase's figures; returns them.
fn report(outcome: &LoadOutcome, live_at_end: usize, lost: &[String], other: &[String]) -> Phase {
    let total = outcome.samples().count();
    let errors = outcome.errors_by_code();
    let error_total: usize = errors.values().sum();
    let wall = outcome.wall.as_secs_f64();
    let rps = if wall > 0.0 { total as f64 / wall } else { 0.0 };
    let latency = Latencies::of(outcome.samples());

    println!(
        "total requests: {total} ({} ok, {error_total} failed)",
        total - error_total
    );
    if errors.is_empty() {
        println!("errors by code: none");
    } else {
        println!("errors by code:");
        for (code, n) in &errors {
            println!("  {code}: {n}");
        }
        for f in outcome.failures().take(5) {
            println!(
                "  e.g. client {} {}: {} {}",
                f.client,
                f.op.name(),
                f.code,
                f.message
            );
        }
    }
    println!("wall time: {wall:.3}s");
    println!("requests per second: {rps:.1}");
    println!(
        "latency: p50 {}  p90 {}  p99 {}  max {}",
        ms(latency.p50),
        ms(latency.p90),
        ms(latency.p99),
        ms(latency.max)
    );
    let mut by_op: BTreeMap<Op, Vec<&load_common::Sample>> = BTreeMap::new();
    for s in outcome.samples() {
        by_op.entry(s.op).or_default().push(s);
    }
    println!(
        "  {:<30} {:>7} {:>11} {:>11} {:>11} {:>11}",
        "operation", "count", "p50", "p90", "p99", "max"
    );
    for (op, samples) in &by_op {
        let l = Latencies::of(samples.iter().copied());
        println!(
            "  {:<30} {:>7} {:>11} {:>11} {:>11} {:>11}",
            op.name(),
            l.count,
            ms(l.p50),
            ms(l.p90),
            ms(l.p99),
            ms(l.max)
        );
    }
    let ok = outcome.successes_by_op();
    println!(
        "peers created: {}, deleted: {}, live peers at end: {live_at_end}, mean peers per DescribeVirtualInterfaces (all) answer: {:.1}",
        ok.get(&Op::CreatePeer).copied().unwrap_or(0),
        ok.get(&Op::DeletePeer).copied().unwrap_or(0),
        outcome.mean_described_peers()
    );
    let anomalies: Vec<&String> = outcome.anomalies().collect();
    if !anomalies.is_empty() {
        println!("malformed answers: {}", anomalies.len());
        for a in anomalies.iter().take(10) {
            println!("  {a}");
        }
    }
    println!("lost updates: {}", lost.len());
    print_some(lost);
    if other.is_empty() {
        println!("other consistency checks: ok");
    } else {
        println!("other consistency checks: {} problem(s)", other.len());
        print_some(other);
    }
    Phase {
        clients: outcome.plan.clients,
        described_peers: outcome.mean_described_peers(),
        rps,
        latency,
        failures: error_total + anomalies.len() + lost.len() + other.len(),
    }
}

fn print_some(lines: &[String]) {
    for line in lines.iter().take(20) {
        println!("  {line}");
    }
    if lines.len() > 20 {
        println!("  ... and {} more", lines.len() - 20);
    }
}

async fn run(cfg: Config) -> bool {
    println!(
        "sim_load: baseline {} requests from 1 client, then {} requests from {} clients",
        cfg.baseline_requests, cfg.requests, cfg.clients
    );
    let base = run_phase(&cfg, "baseline", 1, cfg.baseline_requests).await;
    let load = run_phase(&cfg, "load", cfg.clients, cfg.requests).await;

    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    println!();
    println!(
        "== {} clients vs {} client (same mix, same run) ==",
        load.clients, base.clients
    );
    println!(
        "throughput: {:.1} rps vs {:.1} rps = {:.2}x",
        load.rps,
        base.rps,
        ratio(load.rps, base.rps)
    );
    for (name, l, b) in [
        ("p50", load.latency.p50, base.latency.p50),
        ("p90", load.latency.p90, base.latency.p90),
        ("p99", load.latency.p99, base.latency.p99),
        ("max", load.latency.max, base.latency.max),
    ] {
        println!(
            "{name} latency: {} vs {} = {:.1}x",
            ms(l),
            ms(b),
            ratio(l.as_secs_f64(), b.as_secs_f64())
        );
    }
    println!(
        "mean peers per DescribeVirtualInterfaces (all) answer: {:.1} vs {:.1} (the concurrent clients' own peers make the world larger)",
        load.described_peers, base.described_peers
    );
    let ok = base.failures == 0 && load.failures == 0;
    println!(
        "RESULT: {}",
        if ok {
            "ok (no failed requests, no lost updates)"
        } else {
            "FAILED"
        }
    );
    ok
}

fn main() -> ExitCode {
    // `cargo bench` passes --bench; `cargo test` runs this target too, with at most a name filter.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        return load_checks::run(
            args.iter()
                .find(|a| !a.starts_with('-'))
                .map(String::as_str),
        );
    }
    let cfg = match Config::from_env() {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("sim_load: {e}");
            return ExitCode::from(2);
        }
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(n) = cfg.threads {
        builder.worker_threads(n);
    }
    let runtime = builder.build().expect("a tokio runtime");
    if runtime.block_on(run(cfg)) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
