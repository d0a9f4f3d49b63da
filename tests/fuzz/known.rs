//! Panics found in files this branch does not change (src/config, src/state, src/sim/sigv4.rs, src/sim/server.rs):
//! each is excluded by location so fuzzing goes on past it, and each has an ignored test with its minimized input
//! that passes once the panic is fixed (run them with `cargo test --test fuzz -- --ignored`).

use crate::runner::Known;
use crate::targets;

/// hcl-rs evaluates arithmetic with hcl-primitives' `Number`, whose integer `+`, `-`, `*` overflow (a panic with
/// overflow checks, as in `cargo run`; a wrong value in release), whose `%` by zero or `i64::MIN % -1` panics in
/// every build, and whose `/` by zero trips a debug assertion (an infinite "finite" number in release).
/// src/config/eval.rs hands it any expression in a config or variables file.
pub const CONFIG: &[Known] = &[
    Known {
        location: "hcl-primitives-",
        message: "attempt to",
    },
    Known {
        location: "hcl-primitives-",
        message: "value.is_finite()",
    },
];

/// `LocalStateFile::save` does `state.serial += 1`: a state file whose serial is u64::MAX panics on the next write
/// (with overflow checks; in release the serial wraps to 0).
pub const STATE: &[Known] = &[Known {
    location: "src/state/local.rs:",
    message: "attempt to add with overflow",
}];

pub const SIGV4: &[Known] = &[];

fn config_with_asn(expr: &str) -> String {
    format!("virtual_interface \"dxvif-abc123\" {{\n  bgp_peer \"p\" {{\n    address_family = \"ipv6\"\n    asn = {expr}\n  }}\n}}\n")
}

#[test]
#[ignore = "panics in hcl-primitives (number.rs:244) until src/config/eval.rs guards arithmetic"]
fn config_remainder_by_zero() {
    targets::config_hcl(config_with_asn("65 % 0").as_bytes());
}

#[test]
#[ignore = "panics in hcl-primitives (number.rs:245) until src/config/eval.rs guards arithmetic"]
fn config_remainder_overflow() {
    targets::config_hcl(config_with_asn("-9223372036854775808 % -1").as_bytes());
}

#[test]
#[ignore = "panics with overflow checks in hcl-primitives (number.rs:208) until src/config/eval.rs guards arithmetic"]
fn config_subtraction_overflow() {
    targets::config_hcl(config_with_asn("1 - 9223372036854775808").as_bytes());
}

#[test]
#[ignore = "panics with overflow checks in hcl-primitives (number.rs:224) until src/config/eval.rs guards arithmetic"]
fn config_multiplication_overflow() {
    targets::config_hcl(config_with_asn("4294967296 * 4294967296").as_bytes());
}

#[test]
#[ignore = "panics with debug assertions in hcl-primitives (number.rs:48) until src/config/eval.rs guards arithmetic"]
fn config_division_by_zero() {
    targets::config_hcl(config_with_asn("64 / 0").as_bytes());
}

#[test]
#[ignore = "panics in hcl-primitives (number.rs:244) until src/config/variables.rs guards arithmetic"]
fn var_file_remainder_by_zero() {
    targets::var_file(b"peer_asn = 7 % 0\n");
}

#[test]
#[ignore = "panics with overflow checks at src/state/local.rs:57 until save refuses or saturates a maximal serial"]
fn state_serial_at_u64_max() {
    let mut state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(format!("{}/tests/fuzz/corpus/state.json", targets::REPO)).unwrap(),
    )
    .unwrap();
    state["serial"] = serde_json::json!(u64::MAX);
    targets::state_file(state.to_string().as_bytes());
}
