//! Errors a network engineer understands, through the real binary: connection, endpoint, credential, expired-token
//! and permission failures as one line of cause and one of advice (the whole chain only at `-v`), and config
//! mistakes located where they are.

use std::path::Path;

use serde_json::Value;

use super::support::*;

/// A world whose `sim` section has `settings` added.
fn world_with(dir: &Path, settings: Value) -> std::path::PathBuf {
    let path = seed_world(dir, "100ms");
    let mut world: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for (key, value) in settings.as_object().unwrap() {
        world["sim"][key] = value.clone();
    }
    std::fs::write(&path, world.to_string()).unwrap();
    path
}

fn plan_against(dir: &Path, endpoint: &str, extra: &[&str]) -> Output {
    let cfg = config_dir(dir, "cfg", SEED_HCL);
    run(dxctl(dir)
        .args(extra)
        .args(["--endpoint-url", endpoint, "plan"])
        .arg(&cfg))
}

#[test]
fn a_closed_port_says_cannot_connect_and_asks_about_the_endpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let out = plan_against(tmp.path(), "http://127.0.0.1:1", &["--quiet"]);
    assert_eq!(out.code, 1);
    assert!(!out.stderr.contains("DispatchFailure"), "{}", out.stderr);
    insta::assert_snapshot!("closed_port", out.stderr);
}

#[test]
fn an_endpoint_without_a_scheme_is_refused_at_once_with_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let out = plan_against(tmp.path(), "127.0.0.1:8080", &[]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!("endpoint_without_scheme", out.stderr);
}

#[test]
fn no_credentials_at_all_says_so_and_how_to_give_some() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_dir(tmp.path(), "cfg", SEED_HCL);
    let mut cmd = std::process::Command::new(bin());
    hermetic(&mut cmd).current_dir(tmp.path());
    let out = run(cmd
        .args(["--endpoint-url", "http://127.0.0.1:1", "plan"])
        .arg(&cfg));
    assert_eq!(out.code, 1);
    insta::assert_snapshot!("no_credentials", out.stderr);
    // -v adds the whole chain: the SDK's error, naming the providers tried.
    let mut cmd = std::process::Command::new(bin());
    hermetic(&mut cmd).current_dir(tmp.path());
    let out = run(cmd
        .args(["-v", "--endpoint-url", "http://127.0.0.1:1", "plan"])
        .arg(&cfg));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("Error: no AWS credentials found\n"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "  error chain: cannot read the current Direct Connect configuration (tried once)"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("  SDK error: dispatch failure"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("Ec2InstanceMetadata"), "{}", out.stderr);
}

#[test]
fn an_expired_session_token_says_refresh_your_credentials() {
    let tmp = tempfile::tempdir().unwrap();
    let world = world_with(
        tmp.path(),
        serde_json::json!({"expiredAccessKeys": ["AKIDTEST"]}),
    );
    let sim = SimProcess::start(&world, tmp.path(), &[]);
    let out = plan_against(tmp.path(), &sim.url(), &[]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!("expired_token", out.stderr);
    assert_eq!(
        sim.count("DescribeVirtualInterfaces"),
        1,
        "a refusal for good is not retried"
    );
    assert!(!out.stderr.contains("test-secret"));
}

#[test]
fn a_permission_refusal_names_the_call_region_and_iam_action_and_stops_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let world = world_with(
        tmp.path(),
        serde_json::json!({"deniedOperations": ["DescribeVirtualInterfaces"]}),
    );
    let sim = SimProcess::start(&world, tmp.path(), &[]);
    let out = plan_against(tmp.path(), &sim.url(), &[]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!("access_denied", out.stderr);
    assert_eq!(
        sim.count("DescribeVirtualInterfaces"),
        1,
        "a refusal for good is not retried"
    );
    let out = plan_against(tmp.path(), &sim.url(), &["-v"]);
    assert!(
        out.stderr.contains("AccessDeniedException: User: arn:aws:iam::123456789012:user/dxctl-sim is not authorized to perform: directconnect:DescribeVirtualInterfaces"),
        "-v shows AWS's own words:\n{}",
        out.stderr
    );
}

const VAR_HCL: &str = r#"variable "our_asn" {
  type = number
}

variable "key" {
  type      = string
  sensitive = true
}

provider "aws" {
  region = "us-east-1"
}

virtual_interface "dxvif-fg1vuj3d" {
  bgp_peer "v4" {
    address_family   = "ipv4"
    asn              = var.our_asn
    auth_key         = var.key
    amazon_address   = "169.254.255.1/30"
    customer_address = "169.254.255.2/30"
  }
}
"#;

/// `validate` on one file, in a fresh directory: (exit code, stderr).
fn validate(hcl: &str, args: &[&str]) -> (i32, String) {
    let tmp = tempfile::tempdir().unwrap();
    config_dir(tmp.path(), "cfg", hcl);
    let out = run(dxctl(tmp.path()).arg("validate").arg("cfg").args(args));
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    (out.code, out.stderr)
}

#[test]
fn a_misspelt_variable_gets_did_you_mean() {
    let hcl = VAR_HCL.replace(
        "asn              = var.our_asn",
        "asn              = var.our_asm",
    );
    let (code, stderr) = validate(
        &hcl,
        &["--var", "our_asn=65000", "--var", "key=s3cret-marker-key"],
    );
    assert_eq!(code, 1);
    insta::assert_snapshot!("var_did_you_mean", stderr);
}

#[test]
fn bad_var_flags_name_the_flag_not_the_block_and_never_echo_the_value() {
    let (code, stderr) = validate(
        VAR_HCL,
        &[
            "--var",
            "our_asn=notanumber",
            "--var",
            "key=s3cret-marker-key",
            "--var",
            "our_asm=65000",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        !stderr.contains("notanumber") && !stderr.contains("s3cret-marker-key"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("-->"),
        "no snippet of a variable block:\n{stderr}"
    );
    insta::assert_snapshot!("bad_var_flags", stderr);
}

#[test]
fn an_unterminated_string_is_reported_where_it_starts() {
    let hcl = SEED_HCL.replace("\"169.254.255.1/30\"", "\"169.254.255.1/30");
    let (code, stderr) = validate(&hcl, &[]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("unterminated_string", stderr);
}

#[test]
fn an_invalid_octet_is_named() {
    let hcl = SEED_HCL.replace("169.254.255.1/30", "169.254.300.1/30");
    let (code, stderr) = validate(&hcl, &[]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("invalid_octet", stderr);
}

#[test]
fn an_empty_region_is_a_located_error() {
    let hcl = SEED_HCL.replace("region = \"us-east-1\"", "region = \"\"");
    let (code, stderr) = validate(&hcl, &[]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("empty_region", stderr);
}

#[test]
fn plan_json_prints_config_errors_as_a_json_document() {
    let tmp = tempfile::tempdir().unwrap();
    let hcl = SEED_HCL.replace("region = \"us-east-1\"", "region = \"\"");
    config_dir(tmp.path(), "cfg", &hcl);
    for args in [
        &["plan", "--json", "cfg"][..],
        &["plan", "--format", "json", "cfg"][..],
    ] {
        let out = run(dxctl(tmp.path())
            .args(["--endpoint-url", "http://127.0.0.1:1"])
            .args(args));
        assert_eq!(out.code, 1, "{args:?}");
        let doc: Value = serde_json::from_str(&out.stdout).expect("stdout is one JSON document");
        assert_eq!(doc["format_version"], "1.0");
        insta::assert_snapshot!("plan_json_config_errors", out.stdout);
        assert!(out.stderr.contains("error[region-empty]"), "{}", out.stderr);
    }
    // A --var mistake has no file line: line and column are null.
    config_dir(tmp.path(), "vars", VAR_HCL);
    let out = run(dxctl(tmp.path()).args([
        "plan",
        "--json",
        "vars",
        "--var",
        "our_asn=x",
        "--var",
        "key=s3cret-marker-key",
    ]));
    assert_eq!(out.code, 1);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["errors"][0]["rule"], "variable-type");
    assert_eq!(doc["errors"][0]["line"], Value::Null);
    assert!(!out.stdout.contains("s3cret-marker-key"));
}

#[test]
fn fmt_leaves_block_comment_bodies_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let text = "provider \"aws\" {\n      /* keep\n         this   indent\n   */\n region = \"us-east-1\"\n}\n";
    let dir = config_dir(tmp.path(), "cfg", text);
    let out = run(dxctl(tmp.path()).args(["fmt", "cfg"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.join("main.hcl")).unwrap(),
        "provider \"aws\" {\n  /* keep\n         this   indent\n   */\n  region = \"us-east-1\"\n}\n"
    );
}
