//! Loader tests: valid configs load; each broken rule is reported at its file and line.

use super::*;
use proptest::prelude::*;

fn load(text: &str) -> Result<Config, Diagnostics> {
    load_with(text, &Inputs::default())
}

fn load_with(text: &str, inputs: &Inputs) -> Result<Config, Diagnostics> {
    load_sources(&[SourceFile::new("main.hcl", text)], inputs)
}

fn inputs(env: &[(&str, &str)], vars: &[(&str, &str)]) -> Inputs {
    Inputs {
        vars: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        var_files: vec![],
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn errors(text: &str) -> Vec<(&'static str, usize)> {
    match load(text) {
        Ok(_) => vec![],
        Err(d) => d.items.iter().map(|d| (d.rule, d.location.line)).collect(),
    }
}

const SEED: &str = r#"provider "aws" {
  region = "us-east-1"
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
    asn            = "64086.59904"
    auth_key       = "abcdef"
  }
}
"#;

#[test]
fn seed_config_loads() {
    let config = load(SEED).unwrap();
    assert_eq!(config.providers[0].region.as_deref(), Some("us-east-1"));
    assert!(!config.needs_fallback_region());
    let desired = config.desired("ignored");
    assert_eq!(desired.vifs.len(), 1);
    let vif = &desired.vifs[0];
    assert_eq!(vif.scope.region, "us-east-1");
    assert_eq!(vif.peers.len(), 2);
    assert_eq!(vif.peers[1].asn.get(), 4_200_000_000);
    assert_eq!(vif.peers[1].auth_key.as_ref().unwrap().expose(), "abcdef");
    assert_eq!(vif.peers[0].location.line, 6);
}

fn peer(body: &str) -> String {
    format!("virtual_interface \"dxvif-abc\" {{\n  bgp_peer \"p\" {{\n{body}\n  }}\n}}\n")
}

#[test]
fn each_rule_is_located() {
    // Peer attributes start on line 3 inside `peer(...)`.
    let cases: Vec<(String, &str, usize)> = vec![
        (peer("address_family = \"ipv6\"\nasn = 64600\namazon_address = \"2001:db8::1/125\""), "ipv6-addresses", 5),
        (peer("address_family = \"ipv7\"\nasn = 64600"), "address-family", 3),
        (peer("address_family = \"ipv4\"\nasn = 0"), "asn", 4),
        (peer("address_family = \"ipv4\"\nasn = 4294967295"), "asn", 4),
        (peer("address_family = \"ipv4\"\nasn = \"1.2.3\""), "asn", 4),
        (peer("address_family = \"ipv4\"\nasn = -3"), "asn", 4),
        (peer("address_family = \"ipv4\"\nasn = 65000\nauth_key = \"short\""), "auth-key-length", 5),
        (peer(&format!("address_family = \"ipv4\"\nasn = 65000\nauth_key = \"{}\"", "k".repeat(81))), "auth-key-length", 5),
        (peer("address_family = \"ipv4\"\nasn = 65000\namazon_address = \"169.254.0.1/30\""), "ipv4-address-pair", 5),
        (peer("address_family = \"ipv4\"\nasn = 65000\ncustomer_address = \"169.254.0.2/30\""), "ipv4-address-pair", 5),
        (peer("address_family = \"ipv4\"\nasn = 65000\namazon_address = \"169.254.0.1\"\ncustomer_address = \"169.254.0.2/30\""), "address-cidr", 5),
        (peer("address_family = \"ipv4\"\nasn = 65000\namazon_address = \"169.254.0.1/30\"\ncustomer_address = \"169.254.9.2/30\""), "ipv4-same-subnet", 6),
        (peer("address_family = \"ipv4\"\nasn = 65000\namazon_address = \"169.254.0.1/30\"\ncustomer_address = \"169.254.0.1/30\""), "ipv4-distinct-hosts", 6),
        (peer("asn = 65000"), "missing-attribute", 2),
        (peer("address_family = \"ipv4\""), "missing-attribute", 2),
        (peer("address_family = \"ipv4\"\nasn = 65000\nauth_kye = \"abcdefgh\""), "unknown-attribute", 5),
        (peer("address_family = 4\nasn = 65000"), "type", 3),
        (peer("address_family = \"ipv4\"\nasn = 65000\nauth_key = env(\"DXCTL_TEST_SURELY_UNSET_VAR\")"), "evaluation", 5),
        ("virtual_interface \"dxvif-a\" {\n  bgp_peer \"x\" {\n    address_family = \"ipv6\"\n    asn = 1\n  }\n  bgp_peer \"x\" {\n    address_family = \"ipv4\"\n    asn = 1\n  }\n}\n".into(), "duplicate-label", 6),
        ("virtual_interface \"dxvif-a\" {\n  bgp_peer \"x\" {\n    address_family = \"ipv6\"\n    asn = 1\n  }\n  bgp_peer \"y\" {\n    address_family = \"ipv6\"\n    asn = 1\n  }\n}\n".into(), "duplicate-peer", 6),
        ("virtual_interface \"dxvif-a\" {}\nvirtual_interface \"dxvif-a\" {}\n".into(), "duplicate-vif", 2),
        ("virtual_interface \"vif-1\" {}\n".into(), "vif-id", 1),
        ("virtual_interfac \"dxvif-a\" {}\n".into(), "unknown-block", 1),
        ("provider \"aws\" {\n  regoin = \"x\"\n}\n".into(), "unknown-attribute", 2),
        ("provider \"aws\" {}\nprovider \"aws\" {}\n".into(), "duplicate-provider", 2),
        ("virtual_interface \"dxvif-a\" {\n  bgp_peer \"x\" {\n    asn = \n  }\n}\n".into(), "syntax", 3),
    ];
    for (text, rule, line) in cases {
        let got = errors(&text);
        assert!(
            got.contains(&(rule, line)),
            "expected {rule} at line {line}, got {got:?} for:\n{text}"
        );
    }
}

#[test]
fn all_errors_are_reported_together() {
    let text = "virtual_interface \"dxvif-a\" {\n  bgp_peer \"x\" {\n    address_family = \"ipv6\"\n    asn = 0\n    customer_address = \"2001:db8::2/125\"\n    auth_key = \"abc\"\n  }\n}\n";
    let rules: Vec<_> = errors(text).into_iter().map(|(r, _)| r).collect();
    assert_eq!(rules, vec!["asn", "auth-key-length", "ipv6-addresses"]);
}

#[test]
fn auth_key_never_appears_in_diagnostics() {
    let text = peer("address_family = \"ipv4\"\nasn = 0\nauth_key = \"TOPSECRET-BUT-WAY-TOO-LONG-FOR-AWS-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\"");
    let err = load(&text).unwrap_err();
    assert!(!err.to_string().contains("TOPSECRET"), "{err}");
    assert!(err.to_string().contains("main.hcl:5:"), "{err}");
}

#[test]
fn env_supplies_values_and_defaults() {
    let text = peer("address_family = \"ipv4\"\nasn = 65000\nauth_key = env(\"DXCTL_TEST_SURELY_UNSET_VAR\", \"fallback-key\")");
    let config = load(&text).unwrap();
    let key = config.desired("r").vifs[0].peers[0]
        .auth_key
        .clone()
        .unwrap();
    assert_eq!(key.expose(), "fallback-key");
}

#[test]
fn did_you_mean() {
    let err = load(&peer(
        "address_family = \"ipv4\"\nasn = 65000\ncustomer_adress = \"x\"",
    ))
    .unwrap_err();
    assert!(
        err.to_string().contains("did you mean `customer_address`?"),
        "{err}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn loader_never_panics_on_arbitrary_text(text in ".{0,300}") {
        let _ = load(&text);
    }

    #[test]
    fn loader_never_panics_on_mutated_seed(pos in 0usize..SEED.len(), len in 0usize..12, insert in "[ -~\n]{0,8}") {
        let mut s = SEED.as_bytes().to_vec();
        let end = (pos + len).min(s.len());
        s.splice(pos..end, insert.bytes());
        if let Ok(text) = String::from_utf8(s) {
            let _ = load(&text);
        }
    }
}
