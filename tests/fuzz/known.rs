//! Panics fuzzing once found, kept as regression tests with their minimized inputs, and the list of panics still
//! excluded by location (empty: every one found so far is fixed). A new exclusion needs a reproducer test here.

use crate::runner::Known;
use crate::targets;
use dxctl::config::{self, Inputs, SourceFile};

/// Panics in config evaluation that fuzzing steps past. None: src/config contains hcl-primitives' arithmetic panics
/// (`%` by zero, `i64::MIN % -1`, overflowing `+ - *`, `/` by zero) and reports them as located errors.
pub const CONFIG: &[Known] = &[];

/// Panics in state loading and saving that fuzzing steps past. None: the serial is checked arithmetic.
pub const STATE: &[Known] = &[];

pub const SIGV4: &[Known] = &[];

fn config_with_asn(expr: &str) -> String {
    format!("virtual_interface \"dxvif-abc123\" {{\n  bgp_peer \"p\" {{\n    address_family = \"ipv6\"\n    asn = {expr}\n  }}\n}}\n")
}

/// The expression no longer panics, and the config is refused with an error at the `asn` line (line 4).
fn refused_at_asn_line(expr: &str) {
    targets::config_hcl(config_with_asn(expr).as_bytes());
    let src = SourceFile::new("main.hcl".to_string(), config_with_asn(expr));
    let inputs = Inputs {
        vars: vec![],
        var_files: vec![],
        env: Default::default(),
    };
    let err = config::load_sources(&[src], &inputs).expect_err(expr);
    let text = err.to_string();
    assert!(text.contains("main.hcl:4"), "{expr}: {text}");
}

#[test]
fn config_remainder_by_zero() {
    refused_at_asn_line("65 % 0");
}

#[test]
fn config_remainder_overflow() {
    refused_at_asn_line("-9223372036854775808 % -1");
}

#[test]
fn config_subtraction_overflow() {
    refused_at_asn_line("1 - 9223372036854775808");
}

#[test]
fn config_multiplication_overflow() {
    refused_at_asn_line("4294967296 * 4294967296");
}

#[test]
fn config_division_by_zero() {
    refused_at_asn_line("64 / 0");
}

#[test]
fn var_file_remainder_by_zero() {
    targets::var_file(b"peer_asn = 7 % 0\n");
}

#[test]
fn state_serial_at_u64_max() {
    let mut state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(format!("{}/tests/fuzz/corpus/state.json", targets::REPO)).unwrap(),
    )
    .unwrap();
    state["serial"] = serde_json::json!(u64::MAX);
    targets::state_file(state.to_string().as_bytes());
}

/// Found by the long sim_world run: a world with `"amazonSideAsn": -0` loaded, and the world written from it
/// (`-0.0`) did not load again. `-0` is now refused as no integer.
#[test]
fn world_with_a_negative_zero() {
    let world = std::fs::read_to_string(format!(
        "{}/tests/fuzz/corpus/world-rich.json",
        targets::REPO
    ))
    .unwrap();
    let world: serde_json::Value = serde_json::from_str(&world).unwrap();
    let mut text = serde_json::to_string_pretty(&world).unwrap();
    let field = "\"vlan\": ";
    let at = text.find(field).expect("a vlan");
    text.insert_str(at, "\"amazonSideAsn\": -0,\n      ");
    assert!(dxctl::sim::World::parse(&text).is_err(), "{text}");
    targets::sim_world(text.as_bytes());
}
