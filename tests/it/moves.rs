//! Refactors without outages: a renamed peer block, a VIF block moved to another file or provider alias, and `moved`
//! blocks for renames the planner cannot work out alone. Each plans 0 to add and 0 to destroy, applies with no
//! CreateBGPPeer or DeleteBGPPeer, and leaves "No changes".

use serde_json::json;

use super::sim_env::Env;
use super::support::*;

const FAST: &[&str] = &["apply", "--auto-approve", "--poll-interval", "50ms"];
const NO_CHANGES: &str = "No changes. Your infrastructure matches the configuration.";

fn writes(env: &Env) -> usize {
    env.sim.count("CreateBGPPeer") + env.sim.count("DeleteBGPPeer")
}

/// Two IPv4 peers with the same ASN on a VIF with logical redundancy, told apart by their addresses.
const TWINS_HCL: &str = r#"provider "aws" {
  region = "us-east-1"
}

virtual_interface "dxvif-fg1vuj3d" {
  bgp_peer "v4" {
    address_family   = "ipv4"
    asn              = 65000
    amazon_address   = "169.254.255.1/30"
    customer_address = "169.254.255.2/30"
  }

  bgp_peer "left" {
    address_family   = "ipv4"
    asn              = 65010
    amazon_address   = "169.254.10.1/30"
    customer_address = "169.254.10.2/30"
  }

  bgp_peer "right" {
    address_family   = "ipv4"
    asn              = 65010
    amazon_address   = "169.254.11.1/30"
    customer_address = "169.254.11.2/30"
  }
}
"#;

/// The twins renamed to `a` (its addresses left out, so both old peers match it) and `b` (only `right` matches):
/// no rename is unambiguous.
fn renamed_twins() -> String {
    TWINS_HCL
        .replace(
            "bgp_peer \"left\" {\n    address_family   = \"ipv4\"\n    asn              = 65010\n    amazon_address   = \"169.254.10.1/30\"\n    customer_address = \"169.254.10.2/30\"\n",
            "bgp_peer \"a\" {\n    address_family   = \"ipv4\"\n    asn              = 65010\n",
        )
        .replace("bgp_peer \"right\"", "bgp_peer \"b\"")
}

#[test]
fn a_renamed_block_moves_its_peer_with_no_api_call() {
    let env = Env::new("50ms", "no", json!({}), SEED_HCL);
    assert_eq!(env.run(FAST).code, 0);
    let v6_id = env.state()["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["address"] == "virtual_interface.dxvif-fg1vuj3d.bgp_peer.v6")
        .map(|p| p["bgp_peer_id"].as_str().unwrap().to_string())
        .unwrap();
    let before = writes(&env);
    env.set_config(&SEED_HCL.replace("bgp_peer \"v6\"", "bgp_peer \"ipv6_primary\""));

    let plan = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains(
            "virtual_interface.dxvif-fg1vuj3d.bgp_peer.v6 has moved to virtual_interface.dxvif-fg1vuj3d.bgp_peer.ipv6_primary"
        ),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 0 to change, 0 to destroy. 1 to move."),
        "{}",
        plan.stdout
    );
    let json = env.run(&["plan", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["summary"]["move"], 1);
    assert_eq!(doc["moves"][0]["why"]["kind"], "renamed");

    let apply = env.run(FAST);
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
    assert!(apply.stdout.contains("1 moved"), "{}", apply.stdout);
    assert_eq!(writes(&env), before, "a rename makes no API write");
    let state = env.state();
    let moved = state["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["address"] == "virtual_interface.dxvif-fg1vuj3d.bgp_peer.ipv6_primary")
        .expect("the record has its new address");
    assert_eq!(moved["bgp_peer_id"], v6_id.as_str(), "the same peer");
    assert!(env.run(&["plan"]).stdout.contains(NO_CHANGES));
}

#[test]
fn a_vif_block_moved_to_another_file_and_provider_alias_changes_nothing() {
    let env = Env::new("50ms", "no", json!({}), SEED_HCL);
    assert_eq!(env.run(FAST).code, 0);
    let before = writes(&env);
    let block = SEED_HCL
        .split_once("virtual_interface")
        .map(|(_, rest)| format!("virtual_interface{rest}"))
        .unwrap();
    std::fs::write(
        env.cfg.join("main.hcl"),
        "provider \"aws\" {\n  region = \"us-east-1\"\n}\n\nprovider \"aws\" {\n  alias  = \"east\"\n  region = \"us-east-1\"\n}\n",
    )
    .unwrap();
    std::fs::write(
        env.cfg.join("edge.hcl"),
        block.replacen("{\n", "{\n  provider = aws.east\n\n", 1),
    )
    .unwrap();
    let plan = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains(NO_CHANGES), "{}", plan.stdout);
    assert_eq!(env.run(FAST).code, 0);
    assert_eq!(writes(&env), before);
}

#[test]
fn moved_blocks_settle_renames_the_planner_cannot_tell_apart() {
    let env = Env::new("50ms", "yes", json!({}), TWINS_HCL);
    let first = env.run(FAST);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    let before = writes(&env);
    let renamed = renamed_twins();
    assert!(renamed.contains("bgp_peer \"a\"") && !renamed.contains("169.254.10.1/30"));

    // Two peers alike: no rename is guessed.
    env.set_config(&renamed);
    let guess = env.run(&["plan"]);
    assert!(
        guess
            .stdout
            .contains("2 to add, 0 to change, 2 to destroy."),
        "{}",
        guess.stdout
    );

    env.set_config(&format!(
        "{renamed}\nmoved {{\n  from = virtual_interface.dxvif-fg1vuj3d.bgp_peer.left\n  to   = virtual_interface.dxvif-fg1vuj3d.bgp_peer.a\n}}\n\nmoved {{\n  from = \"virtual_interface.dxvif-fg1vuj3d.bgp_peer.right\"\n  to   = \"virtual_interface.dxvif-fg1vuj3d.bgp_peer.b\"\n}}\n"
    ));
    let plan = env.run(&["plan"]);
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 0 to change, 0 to destroy. 2 to move."),
        "{}{}",
        plan.stdout,
        plan.stderr
    );
    assert!(
        plan.stdout.contains("(the moved block at "),
        "{}",
        plan.stdout
    );
    let ids = |env: &Env| {
        let state = env.state();
        let mut ids: Vec<(String, String)> = state["peers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["address"]
                        .as_str()
                        .unwrap()
                        .rsplit('.')
                        .next()
                        .unwrap()
                        .to_string(),
                    p["bgp_peer_id"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        ids.sort();
        ids
    };
    let was = ids(&env);
    assert_eq!(env.run(FAST).code, 0);
    assert_eq!(writes(&env), before, "moves make no API write");
    let now = ids(&env);
    let id_of = |list: &[(String, String)], label: &str| {
        list.iter()
            .find(|(l, _)| l == label)
            .map(|(_, id)| id.clone())
    };
    assert_eq!(id_of(&now, "a"), id_of(&was, "left"));
    assert_eq!(id_of(&now, "b"), id_of(&was, "right"));
    // The moved blocks stay in the config, harmlessly: their `from` is no longer managed.
    assert!(env.run(&["plan"]).stdout.contains(NO_CHANGES));
}

#[test]
fn moved_blocks_that_cannot_be_followed_are_refused_before_anything_is_sent() {
    let env = Env::new("50ms", "no", json!({}), SEED_HCL);
    assert_eq!(env.run(FAST).code, 0);
    let before = writes(&env);
    env.set_config(&format!(
        "{SEED_HCL}\nmoved {{\n  from = virtual_interface.dxvif-fg1vuj3d.bgp_peer.v6\n  to   = virtual_interface.dxvif-other.bgp_peer.v6\n}}\n"
    ));
    let across = env.run(&["apply", "--auto-approve"]);
    assert_eq!(across.code, 1);
    assert!(
        across.stderr.contains("error[moved-across-vifs]")
            && across
                .stderr
                .contains("a BGP peer belongs to its virtual interface"),
        "{}",
        across.stderr
    );
    env.set_config(&format!(
        "{SEED_HCL}\nmoved {{\n  from = virtual_interface.dxvif-fg1vuj3d.bgp_peer.v6\n  to   = virtual_interface.dxvif-fg1vuj3d.bgp_peer.v4\n}}\n"
    ));
    let taken = env.run(&["plan"]);
    assert_eq!(taken.code, 1);
    assert!(
        taken.stderr.contains("error[moved-conflict]"),
        "{}",
        taken.stderr
    );
    env.set_config(&format!("{SEED_HCL}\nmoved {{\n  from = \"v6\"\n  to   = virtual_interface.dxvif-fg1vuj3d.bgp_peer.x\n}}\n"));
    let bad = env.run(&["plan"]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("[moved-address]") && bad.stderr.contains("main.hcl:"),
        "{}",
        bad.stderr
    );
    assert_eq!(writes(&env), before, "nothing was sent");
}
