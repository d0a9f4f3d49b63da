//! Fuzzing every loader and decoder for panics, on stable Rust: proptest drives arbitrary bytes and mutations of
//! valid inputs (and generated engine scripts) through each target, catching panics and shrinking them to minimal
//! reproducers. `cargo test --test fuzz` runs a short fixed-seed pass of each; `FUZZ_SECONDS=600` runs each for that
//! long (see tests/bench/fuzz.sh), printing executions per target.

mod engine;
mod known;
mod mutate;
mod regressions;
mod runner;
mod targets;

use proptest::strategy::Strategy;

use mutate::Material;
use runner::{Budget, Known, Report};

/// Cases per target in the default (test suite) run: a few seconds each in a debug build.
const DEFAULT_CASES: u32 = 1_500;

fn finish(report: Report) {
    let line = report.line();
    eprintln!("{line}");
    if let Ok(dir) = std::env::var("FUZZ_REPORT_DIR") {
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(
            std::path::Path::new(&dir).join(format!("{}.txt", report.target)),
            format!("{line}\n"),
        );
    }
    let panics: Vec<String> = report
        .findings
        .iter()
        .map(|f| {
            format!(
                "{}: {} (minimized input: {:?})",
                f.location,
                f.message,
                String::from_utf8_lossy(&f.input)
            )
        })
        .collect();
    assert!(
        panics.is_empty(),
        "fuzz {}: {} new panic(s), minimized inputs also in target/fuzz-findings/:\n{}",
        report.target,
        panics.len(),
        panics.join("\n")
    );
}

fn fuzz_bytes(name: &'static str, material: Material, run: fn(&[u8]), known: &[Known], cases: u32) {
    let budget = Budget::from_env(cases);
    let strategy = mutate::input(material.json);
    let report = runner::fuzz(
        name,
        &budget,
        strategy,
        |input| material.build(input),
        run,
        known,
    );
    finish(report);
}

/// Runs `f` on a thread with the stack the code under test has in the CLI (the main thread's 8 MiB) or in the
/// simulator (a tokio worker's 2 MiB), so deep nesting overflows here exactly when it would there.
fn on_stack(mb: usize, f: impl FnOnce() + Send + 'static) {
    let handle = std::thread::Builder::new()
        .stack_size(mb << 20)
        .spawn(f)
        .expect("fuzz thread");
    if let Err(panic) = handle.join() {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn config_hcl() {
    on_stack(8, || {
        fuzz_bytes(
            "config_hcl",
            targets::config_material(),
            targets::config_hcl,
            known::CONFIG,
            DEFAULT_CASES,
        )
    });
}

#[test]
fn var_file() {
    on_stack(8, || {
        fuzz_bytes(
            "var_file",
            targets::var_file_material(),
            targets::var_file,
            known::CONFIG,
            DEFAULT_CASES,
        )
    });
}

#[test]
fn state_file() {
    on_stack(8, || {
        fuzz_bytes(
            "state_file",
            targets::state_material(),
            targets::state_file,
            known::STATE,
            DEFAULT_CASES,
        )
    });
}

#[test]
fn saved_plan() {
    on_stack(8, || {
        fuzz_bytes(
            "saved_plan",
            targets::plan_material(),
            targets::saved_plan,
            &[],
            DEFAULT_CASES,
        )
    });
}

#[test]
fn sim_json11() {
    on_stack(2, || {
        fuzz_bytes(
            "sim_json11",
            targets::request_material(dxctl::sim::protocol::Wire::Json11),
            targets::sim_json11,
            known::SIGV4,
            DEFAULT_CASES,
        )
    });
}

#[test]
fn sim_rpcv2() {
    on_stack(2, || {
        fuzz_bytes(
            "sim_rpcv2",
            targets::request_material(dxctl::sim::protocol::Wire::RpcV2Cbor),
            targets::sim_rpcv2,
            known::SIGV4,
            DEFAULT_CASES,
        )
    });
}

#[test]
fn sim_world() {
    on_stack(8, || {
        fuzz_bytes(
            "sim_world",
            targets::world_material(),
            targets::sim_world,
            &[],
            DEFAULT_CASES,
        )
    });
}

#[test]
fn sim_engine() {
    on_stack(2, || {
        let budget = Budget::from_env(DEFAULT_CASES / 5);
        let strategy = engine::script().boxed();
        let report = runner::fuzz(
            "sim_engine",
            &budget,
            strategy,
            Clone::clone,
            engine::sim_engine,
            &[],
        );
        finish(report);
    });
}
