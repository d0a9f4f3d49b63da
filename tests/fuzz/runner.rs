//! Runs one target under proptest for a number of cases (default) or for `FUZZ_SECONDS`, catching every panic,
//! letting proptest shrink a panicking input to a minimal reproducer, and counting executions.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

/// A panic the target is known to have in a file this branch may not change: counted, not failed on, so fuzzing
/// goes on past it. Each one is reported with its reproducer in `known.rs`.
pub struct Known {
    /// `file:line` prefix of the panic's location, e.g. `src/state/local.rs:`.
    pub location: &'static str,
    /// A substring of the panic message.
    pub message: &'static str,
}

/// A panic seen while fuzzing: where, what, and the (shrunk) input.
#[derive(Clone, Debug)]
pub struct Finding {
    pub location: String,
    pub message: String,
    pub input: Vec<u8>,
}

thread_local! {
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

/// Panics on a fuzzing thread are recorded instead of printed (shrinking would print thousands).
fn install_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if CATCHING.get() {
                let location = info
                    .location()
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                    .unwrap_or_default();
                let message = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(non-text panic payload)".into());
                LAST_PANIC.set(Some((location, message)));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `f` on `input`, returning the panic's location and message if it panics.
pub fn catch(f: impl FnOnce()) -> Option<(String, String)> {
    install_hook();
    CATCHING.set(true);
    LAST_PANIC.set(None);
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.set(false);
    result.err().map(|_| {
        LAST_PANIC
            .take()
            .unwrap_or_else(|| ("?".into(), "?".into()))
    })
}

fn is_known(known: &[Known], seen: &[String], location: &str, message: &str) -> bool {
    let path = location.replace('\\', "/");
    known
        .iter()
        .any(|k| path.contains(k.location) && message.contains(k.message))
        || seen.iter().any(|s| s == location)
}

/// How long or how much to fuzz, from the environment.
pub struct Budget {
    pub seconds: Option<u64>,
    pub cases: u32,
    pub seed: u64,
}

impl Budget {
    /// `FUZZ_SECONDS=N` fuzzes for N seconds from a fresh seed (or `FUZZ_SEED`); otherwise `FUZZ_CASES` (default
    /// `default_cases`) cases from a fixed seed, so the test suite's short run is the same every time.
    pub fn from_env(default_cases: u32) -> Budget {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let seconds = var("FUZZ_SECONDS").filter(|s| *s > 0);
        let seed = var("FUZZ_SEED").unwrap_or_else(|| {
            if seconds.is_some() {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            } else {
                0x00f0_22ed
            }
        });
        let cases = var("FUZZ_CASES").map_or(default_cases, |c| c.min(u64::from(u32::MAX)) as u32);
        Budget {
            seconds,
            cases,
            seed,
        }
    }
}

/// What a run did.
pub struct Report {
    pub target: &'static str,
    pub executions: u64,
    pub elapsed: Duration,
    pub known_hits: u64,
    pub findings: Vec<Finding>,
    pub seed: u64,
}

impl Report {
    pub fn line(&self) -> String {
        let secs = self.elapsed.as_secs_f64();
        format!(
            "fuzz {:<12} executions {:>10}  seconds {:>7.1}  exec/s {:>8.0}  known-panics {:>6}  new-panics {}  seed {}",
            self.target,
            self.executions,
            secs,
            self.executions as f64 / secs.max(1e-9),
            self.known_hits,
            self.findings.len(),
            self.seed
        )
    }
}

/// Fuzzes `run` with inputs from `strategy` (mapped to bytes by `bytes`) within `budget`.
pub fn fuzz<S>(
    target: &'static str,
    budget: &Budget,
    strategy: S,
    bytes: impl Fn(&S::Value) -> Vec<u8>,
    run: fn(&[u8]),
    known: &[Known],
) -> Report
where
    S: Strategy,
    S::Value: std::fmt::Debug,
{
    let executions = Arc::new(AtomicU64::new(0));
    let known_hits = AtomicU64::new(0);
    let current: Arc<Mutex<Vec<u8>>> = Arc::default();
    let started = Instant::now();
    let deadline = budget.seconds.map(|s| started + Duration::from_secs(s));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    watchdog(target, executions.clone(), current.clone(), stop.clone());

    let mut findings: Vec<Finding> = Vec::new();
    let mut batch: u64 = 0;
    loop {
        let cases = match deadline {
            Some(_) => 2_000,
            None => budget
                .cases
                .saturating_sub(executions.load(Ordering::Relaxed) as u32),
        };
        if cases == 0 || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let config = Config {
            cases,
            failure_persistence: None,
            max_shrink_iters: 20_000,
            max_shrink_time: 120_000,
            rng_algorithm: RngAlgorithm::ChaCha,
            ..Config::default()
        };
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&budget.seed.to_le_bytes());
        key[8..16].copy_from_slice(&batch.to_le_bytes());
        let mut runner =
            TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &key));
        let seen: Vec<String> = findings.iter().map(|f| f.location.clone()).collect();
        let result = runner.run(&strategy, |value| {
            let input = bytes(&value);
            current.lock().unwrap().clone_from(&input);
            executions.fetch_add(1, Ordering::Relaxed);
            match catch(|| run(&input)) {
                None => Ok(()),
                Some((location, message)) if is_known(known, &seen, &location, &message) => {
                    known_hits.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
                Some((location, message)) => {
                    Err(TestCaseError::fail(format!("{location}\n{message}")))
                }
            }
        });
        match result {
            Ok(()) => {}
            Err(TestError::Fail(reason, value)) => {
                let input = bytes(&value);
                let (location, message) = reason
                    .message()
                    .split_once('\n')
                    .map(|(l, m)| (l.to_string(), m.to_string()))
                    .unwrap_or_default();
                eprintln!(
                    "fuzz {target}: PANIC at {location}: {message}\n  minimized input ({} bytes): \"{}\"",
                    input.len(),
                    String::from_utf8_lossy(&input).escape_debug(),
                );
                save_finding(target, findings.len(), &input);
                findings.push(Finding {
                    location,
                    message,
                    input,
                });
                if deadline.is_none() {
                    break;
                }
            }
            Err(TestError::Abort(reason)) => panic!("fuzz {target}: proptest aborted: {reason}"),
        }
        batch += 1;
    }
    stop.store(true, Ordering::Relaxed);
    Report {
        target,
        executions: executions.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
        known_hits: known_hits.load(Ordering::Relaxed),
        findings,
        seed: budget.seed,
    }
}

/// Minimized reproducers land in `target/fuzz-findings/` for inspection.
fn save_finding(target: &str, n: usize, input: &[u8]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-findings");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join(format!("{target}-{n}.bin")), input);
    }
}

/// A case that runs for more than a minute is a hang: print its input and abort, since it cannot be interrupted.
fn watchdog(
    target: &'static str,
    executions: Arc<AtomicU64>,
    current: Arc<Mutex<Vec<u8>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    std::thread::spawn(move || {
        let mut last = (u64::MAX, Instant::now());
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_secs(1));
            let n = executions.load(Ordering::Relaxed);
            if n != last.0 {
                last = (n, Instant::now());
            } else if last.1.elapsed() > Duration::from_secs(60) {
                let input = current.lock().map(|c| c.clone()).unwrap_or_default();
                eprintln!(
                    "fuzz {target}: HANG: one case has run for over 60 s; input ({} bytes): {}",
                    input.len(),
                    String::from_utf8_lossy(&input).escape_debug()
                );
                save_finding(target, 999, &input);
                std::process::abort();
            }
        }
    });
}
