//! Saved plans pin secrets: a plan saved with one auth key is refused at apply when the key resolves to another
//! value, naming the peer, and the plan file holds a keyed fingerprint, never the key.

use serde_json::json;

use super::sim_env::Env;
use super::support::*;

const KEYED_HCL: &str = r#"provider "aws" {
  region = "us-east-1"
}

variable "v6_key" {
  sensitive = true
}

virtual_interface "dxvif-fg1vuj3d" {
  bgp_peer "v4" {
    address_family   = "ipv4"
    asn              = 65000
    amazon_address   = "169.254.255.1/30"
    customer_address = "169.254.255.2/30"
  }

  bgp_peer "v6" {
    address_family = "ipv6"
    asn            = 64600
    auth_key       = var.v6_key
  }
}
"#;

const FIRST_KEY: &str = "pinned-key-7Qx9w2";
const OTHER_KEY: &str = "changed-key-Jb4k1z";

#[test]
fn a_saved_plan_is_refused_when_a_secret_changed_and_holds_no_secret() {
    let env = Env::new("50ms", "no", json!({}), KEYED_HCL);
    let plan_file = env.dir.join("tfplan.json");
    let mut save = env.dxctl(&["plan", "--out"]);
    save.arg(&plan_file)
        .arg(&env.cfg)
        .env("DXCTL_VAR_v6_key", FIRST_KEY);
    let saved = run(&mut save);
    assert_eq!(saved.code, 0, "{}", saved.stderr);
    let text = std::fs::read_to_string(&plan_file).unwrap();
    assert!(!text.contains(FIRST_KEY), "the plan file holds the key");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let prints = doc["secret_fingerprints"].as_object().unwrap();
    assert!(
        prints.contains_key("virtual_interface.dxvif-fg1vuj3d.bgp_peer.v6 auth_key"),
        "{prints:?}"
    );

    let mut apply = env.dxctl(&["apply", "--poll-interval", "50ms"]);
    apply.arg(&plan_file).env("DXCTL_VAR_v6_key", OTHER_KEY);
    let refused = run(&mut apply);
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains(
            "saved plan is stale: a secret changed: auth_key of virtual_interface.dxvif-fg1vuj3d.bgp_peer.v6"
        ),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains(OTHER_KEY) && !refused.stdout.contains(OTHER_KEY));
    assert_eq!(env.sim.count("CreateBGPPeer"), 0, "nothing was sent");

    // The same key as when saved: the plan applies, and the peer has that key.
    let mut apply = env.dxctl(&["apply", "--poll-interval", "50ms"]);
    apply.arg(&plan_file).env("DXCTL_VAR_v6_key", FIRST_KEY);
    let applied = run(&mut apply);
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    let keys: Vec<String> = env
        .live()
        .iter()
        .filter(|p| p["addressFamily"] == "ipv6")
        .map(|p| p["authKey"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(keys, [FIRST_KEY]);
}
