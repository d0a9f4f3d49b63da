//! Loader tests: valid configs load; each broken rule is reported at its file and line.

use super::*;
use proptest::prelude::*;

use crate::model::Scope;

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
        ("backend \"gcs\" {\n  bucket = \"net-state\"\n}\n".into(), "backend-label", 1),
        ("backend \"s3\" {\n  bucket = \"net-state\"\n}\n".into(), "backend-missing", 1),
        ("backend \"s3\" {\n  bucket = \"Net_State\"\n  key = \"k.json\"\n}\n".into(), "backend-bucket", 2),
        ("backend \"s3\" {\n  bucket = \"net-state\"\n  key = \"dir/\"\n}\n".into(), "backend-key", 3),
        ("backend \"s3\" {\n  bucket = \"net-state\"\n  key = \"k.json\"\n  region = var.region\n}\n".into(), "backend-literal", 4),
        ("backend \"s3\" {\n  bucket = \"net-state\"\n  key = \"k.json\"\n  endpoint = \"localhost:9000\"\n}\n".into(), "backend-endpoint", 4),
        ("backend \"s3\" {\n  bucket = \"net-state\"\n  key = \"k.json\"\n  buckett = \"x\"\n}\n".into(), "unknown-attribute", 4),
        ("backend \"s3\" {\n  bucket = \"net-state\"\n  key = \"a.json\"\n}\nbackend \"s3\" {\n  bucket = \"net-state\"\n  key = \"b.json\"\n}\n".into(), "duplicate-backend", 5),
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
fn a_backend_block_gives_the_s3_settings_and_is_found_alone_by_backend_in() {
    let text = "backend \"s3\" {\n  bucket     = \"net-state\"\n  key        = \"prod/dx.json\"\n  region     = \"eu-west-1\"\n  kms_key_id = \"alias/dx\"\n}\n";
    let config = load(text).unwrap();
    let block = config.backend.clone().unwrap();
    assert_eq!(
        (
            block.s3.bucket.as_str(),
            block.s3.key.as_str(),
            block.s3.region.as_deref()
        ),
        ("net-state", "prod/dx.json", Some("eu-west-1"))
    );
    assert_eq!(block.s3.kms_key_id.as_deref(), Some("alias/dx"));
    assert_eq!(block.location.line, 1);
    // Read alone (state commands), even beside a config that needs variables no one set.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("backend.hcl"), text).unwrap();
    std::fs::write(
        dir.path().join("main.hcl"),
        "variable \"k\" {\n  sensitive = true\n}\nvirtual_interface \"dxvif-a\" {\n  bgp_peer \"x\" {\n    address_family = \"ipv4\"\n    asn = 65000\n    auth_key = var.k\n  }\n}\n",
    )
    .unwrap();
    let alone = super::backend_in(dir.path()).unwrap().unwrap();
    assert_eq!(alone.s3, block.s3);
    assert!(
        alone.location.file.ends_with("backend.hcl"),
        "{}",
        alone.location
    );
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(super::backend_in(empty.path()).unwrap(), None);
    std::fs::write(
        dir.path().join("backend.hcl"),
        "backend \"s3\" {\n  bucket = \"x\"\n}\n",
    )
    .unwrap();
    let err = super::backend_in(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("backend.hcl:2") || err.contains("backend.hcl:1"),
        "{err}"
    );
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

const WITH_VARS: &str = r#"variable "peer_asn" {
  type    = number
  default = 64600
}
variable "key" {
  sensitive = true
  default   = "default-key-123"
}
variable "suffix" {
  type = string
}
provider "aws" {
  region = "us-east-1"
}
provider "aws" {
  alias   = "eu"
  region  = "eu-west-1"
  profile = "network-eu"
}
virtual_interface "dxvif-a" {
  bgp_peer "v6" {
    address_family = "ipv6"
    asn            = var.peer_asn
    auth_key       = var.key
  }
}
virtual_interface "dxvif-b" {
  provider = aws.eu
  bgp_peer "v4" {
    address_family   = "ipv4"
    asn              = "64086.59904"
    amazon_address   = "169.254.${var.suffix == "x" ? 1 : 2}.1/30"
    customer_address = "169.254.${var.suffix == "x" ? 1 : 2}.2/30"
  }
}
"#;

#[test]
fn variables_take_the_documented_precedence() {
    let peer = |i: &Inputs| {
        let config = load_with(WITH_VARS, i).unwrap();
        config.desired("fallback").vifs[0].peers[0].asn.get()
    };
    let base = inputs(&[], &[("suffix", "x")]);
    assert_eq!(peer(&base), 64600, "default");
    let env = inputs(&[("DXCTL_VAR_peer_asn", "65001")], &[("suffix", "x")]);
    assert_eq!(peer(&env), 65001, "DXCTL_VAR_ beats the default");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vars.hcl");
    std::fs::write(&file, "peer_asn = 65002\n").unwrap();
    let mut from_file = env.clone();
    from_file.var_files.push(file);
    assert_eq!(peer(&from_file), 65002, "--var-file beats DXCTL_VAR_");
    let mut cli = from_file.clone();
    cli.vars.push(("peer_asn".into(), "65003".into()));
    assert_eq!(peer(&cli), 65003, "--var beats --var-file");
}

#[test]
fn variable_errors_are_located() {
    let unset = errors(WITH_VARS);
    assert!(unset.contains(&("variable-unset", 9)), "{unset:?}");
    let wrong = errors(&WITH_VARS.replace("default = 64600", "default = \"many\""));
    assert!(wrong.contains(&("variable-type", 1)), "{wrong:?}");
    let err = load_with(WITH_VARS, &inputs(&[], &[("suffix", "x"), ("nope", "1")])).unwrap_err();
    assert!(
        err.items.iter().any(|d| d.rule == "undeclared-variable"),
        "{err}"
    );
}

#[test]
fn providers_place_vifs_and_interpolation_evaluates() {
    let config = load_with(WITH_VARS, &inputs(&[], &[("suffix", "x")])).unwrap();
    let desired = config.desired("fallback");
    assert_eq!(
        desired.vifs[0].scope,
        Scope {
            region: "us-east-1".into(),
            profile: None
        }
    );
    assert_eq!(
        desired.vifs[1].scope,
        Scope {
            region: "eu-west-1".into(),
            profile: Some("network-eu".into())
        }
    );
    assert_eq!(desired.vifs[0].peers[0].label, "v6");
    assert!(desired.vifs[0].peers[0].sensitive.contains("auth_key"));
    let v4 = &desired.vifs[1].peers[0];
    assert_eq!(v4.amazon_address.as_deref(), Some("169.254.1.1/30"));
    assert_eq!(v4.asn.get(), 4_200_000_000);
    assert_eq!(
        config.profiles().into_iter().collect::<Vec<_>>(),
        vec!["network-eu".to_string()]
    );
}

#[test]
fn unknown_provider_alias_is_refused_with_a_suggestion() {
    let text = WITH_VARS.replace("provider = aws.eu", "provider = aws.euu");
    let err = load_with(&text, &inputs(&[], &[("suffix", "x")])).unwrap_err();
    let d = err
        .items
        .iter()
        .find(|d| d.rule == "unknown-provider")
        .expect("unknown-provider");
    assert_eq!(d.location.line, 28);
    assert_eq!(d.hint.as_deref(), Some("did you mean `eu`?"));
}

#[test]
fn secrets_from_env_file_and_sensitive_variables_are_marked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("key.txt"), "from-a-file-123\n").unwrap();
    let text = r#"variable "addr" {
  sensitive = true
  default   = "169.254.7.2/30"
}
virtual_interface "dxvif-a" {
  bgp_peer "a" {
    address_family   = "ipv4"
    asn              = 65000
    auth_key         = file("key.txt")
    amazon_address   = env("AMAZON_ADDR")
    customer_address = var.addr
  }
}
"#;
    let path = dir.path().join("main.hcl").display().to_string();
    let config = load_sources(
        &[SourceFile::new(path, text)],
        &inputs(&[("AMAZON_ADDR", "169.254.7.1/30")], &[]),
    )
    .unwrap();
    let peer = &config.desired("r").vifs[0].peers[0];
    assert_eq!(
        peer.auth_key.as_ref().unwrap().expose(),
        "from-a-file-123",
        "file() trims the trailing newline"
    );
    assert_eq!(
        peer.sensitive.iter().copied().collect::<Vec<_>>(),
        vec!["amazon_address", "auth_key", "customer_address"]
    );
}

#[test]
fn a_bad_secret_is_never_echoed() {
    let text = peer("address_family = \"ipv4\"\nasn = 65000\namazon_address = env(\"A\")\ncustomer_address = \"169.254.0.2/30\"");
    let err = load_with(&text, &inputs(&[("A", "not-an-address-SECRET")], &[])).unwrap_err();
    let shown = err.render(false);
    assert!(shown.contains("error[address-cidr]"), "{shown}");
    assert!(!shown.contains("SECRET"), "{shown}");
}

/// hcl-rs's arithmetic panics on `x % 0` and (with overflow checks) on overflow: each is a located error instead.
#[test]
fn arithmetic_that_would_panic_is_an_evaluation_error() {
    for expr in [
        "65 % 0",
        "-9223372036854775808 % -1",
        "1 - 9223372036854775808",
        "4294967296 * 4294967296",
        "64 / 0",
    ] {
        let text = format!(
            "virtual_interface \"dxvif-abc123\" {{\n  bgp_peer \"p\" {{\n    address_family = \"ipv6\"\n    asn = {expr}\n  }}\n}}\n"
        );
        let errs = errors(&text);
        assert!(
            errs.iter()
                .any(|(rule, line)| matches!(*rule, "evaluation" | "asn") && *line == 4),
            "{expr}: {errs:?}"
        );
    }
}

/// Only the variables an expression names are handed to its evaluation, and `var` used any other way (an index)
/// still sees them all.
#[test]
fn variables_reach_expressions_by_name_and_by_index() {
    let text = r#"
variable "asn_a" {
  default = 65001
}

variable "asn_b" {
  default = 65002
}

variable "which" {
  default = "asn_b"
}

provider "aws" {
  region = "us-east-1"
}

virtual_interface "dxvif-fg1vuj3d" {
  bgp_peer "a" {
    address_family = "ipv4"
    asn            = var.asn_a
  }

  bgp_peer "b" {
    address_family = "ipv6"
    asn            = var[var.which]
  }
}
"#;
    let config = load(text).unwrap();
    let desired = config.desired("us-east-1");
    let asns: Vec<u32> = desired.vifs[0].peers.iter().map(|p| p.asn.get()).collect();
    assert_eq!(asns, [65001, 65002]);
}
