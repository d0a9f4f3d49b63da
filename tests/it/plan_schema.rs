//! The JSON plan's schema (`examples/policy/plan.schema.json`) against real `plan --json` documents from the real
//! binary and the simulator: create and adopt, no changes, a replacement, a delete, a rename, a `moved` block, a
//! refusal and config errors. Mutated documents must fail it. The example policy check
//! (`examples/policy/check_plan.py`) runs on the same real plans.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use super::sim_env::Env;
use super::support::*;

const FAST: &[&str] = &["apply", "--auto-approve", "--poll-interval", "50ms"];
const V6: &str = "virtual_interface.dxvif-fg1vuj3d.bgp_peer.v6";

/// A change to a valid document that makes it invalid.
type Mutation = Box<dyn Fn(&mut Value)>;

fn validator() -> jsonschema::Validator {
    let path = repo().join("examples/policy/plan.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::meta::validate(&schema).expect("the schema is a valid JSON Schema");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    jsonschema::draft202012::new(&schema).expect("the schema compiles")
}

/// Parses stdout as one JSON document and checks it against the schema, naming every violation.
fn valid(v: &jsonschema::Validator, what: &str, out: &Output) -> Value {
    let doc: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: stdout is not JSON ({e}):\n{}{}",
            out.stdout, out.stderr
        )
    });
    let errors: Vec<String> = v
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}\n{doc:#}");
    doc
}

fn invalid(v: &jsonschema::Validator, what: &str, doc: &Value) {
    assert!(!v.is_valid(doc), "{what}: the schema accepts it:\n{doc:#}");
}

fn change<'a>(doc: &'a Value, address: &str) -> &'a Value {
    doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == address)
        .unwrap_or_else(|| panic!("no change for {address}:\n{doc:#}"))
}

/// `python3 examples/policy/check_plan.py - ALLOW` from the repository, with the plan on stdin.
fn check_plan(dir: &Path, plan: &str, allow: &str) -> Output {
    let allow_file = dir.join("allow.txt");
    std::fs::write(&allow_file, allow).unwrap();
    let mut child = Command::new("python3")
        .current_dir(repo())
        .arg("examples/policy/check_plan.py")
        .arg("-")
        .arg(&allow_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(plan.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn real_plans_match_the_schema_and_mutated_ones_do_not() {
    let v = validator();
    let env = Env::new("50ms", "no", json!({}), SEED_HCL);

    // The seed: adopt v4, create v6.
    let out = env.run(&["plan", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let seed = valid(&v, "seed", &out);
    assert_eq!(change(&seed, V6)["actions"], json!(["create"]));
    assert_eq!(
        change(&seed, "virtual_interface.dxvif-fg1vuj3d.bgp_peer.v4")["actions"],
        json!(["adopt"])
    );

    // Mutations of that real plan fail, so the checks above can fail.
    let mutations: Vec<(&str, Mutation)> = vec![
        (
            "an unknown action",
            Box::new(|d| d["changes"][0]["actions"] = json!(["destroy"])),
        ),
        (
            "no summary",
            Box::new(|d| {
                d.as_object_mut().unwrap().remove("summary");
            }),
        ),
        (
            "no moves count",
            Box::new(|d| {
                d["summary"].as_object_mut().unwrap().remove("move");
            }),
        ),
        (
            "an unknown top-level field",
            Box::new(|d| d["extra"] = json!(true)),
        ),
        (
            "an auth key in after",
            Box::new(|d| d["changes"][1]["after"]["auth_key"] = json!("s3cret")),
        ),
        (
            "auth_key not named sensitive",
            Box::new(|d| d["changes"][0]["sensitive"] = json!([])),
        ),
        (
            "another format_version",
            Box::new(|d| d["format_version"] = json!("2.0")),
        ),
        (
            "a create with a live peer",
            Box::new(|d| d["changes"][0]["actions"] = json!(["create"])),
        ),
        (
            "a string step",
            Box::new(|d| d["changes"][0]["step"] = json!("0")),
        ),
        (
            "an ASN out of range",
            Box::new(|d| d["changes"][0]["before"]["asn"] = json!(4294967295u64)),
        ),
    ];
    assert_eq!(seed["changes"][0]["actions"], json!(["adopt"]));
    for (what, mutate) in &mutations {
        let mut doc = seed.clone();
        mutate(&mut doc);
        invalid(&v, what, &doc);
    }
    // A create-only plan (an adoption is no destroy) passes the policy with an empty allow-list.
    let policy = check_plan(&env.dir, &out.stdout, "# nothing may go\n");
    assert_eq!(policy.code, 0, "{}{}", policy.stdout, policy.stderr);
    assert_eq!(policy.stdout, "");

    // No changes.
    assert_eq!(env.run(FAST).code, 0);
    let out = env.run(&["plan", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let same = valid(&v, "no changes", &out);
    assert!(same["changes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["actions"] == json!(["no-op"])));

    // A replacement: a new ASN for v6.
    env.set_config(&SEED_HCL.replace("64600", "64601"));
    let out = env.run(&["plan", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let replace = valid(&v, "replacement", &out);
    let c = change(&replace, V6);
    assert!(
        c["actions"] == json!(["create", "delete"]) || c["actions"] == json!(["delete", "create"]),
        "{c:#}"
    );
    assert_eq!(c["forces_replacement"], json!(["asn"]));
    // The policy refuses it, naming the address, until the label or the address is allowed.
    let blocked = check_plan(&env.dir, &out.stdout, "v4\n");
    assert_eq!(blocked.code, 1, "{}{}", blocked.stdout, blocked.stderr);
    assert_eq!(blocked.stdout.lines().count(), 1, "{}", blocked.stdout);
    assert!(
        blocked
            .stdout
            .starts_with(&format!("refused: {V6}: dxpeer-"))
            && blocked.stdout.contains("replaced (")
            && blocked
                .stdout
                .contains("forced by asn; neither the address nor its label v6"),
        "{}",
        blocked.stdout
    );
    for allow in ["v6\n", &format!("# reviewed\n{V6}  # asn change\n")] {
        let allowed = check_plan(&env.dir, &out.stdout, allow);
        assert_eq!(
            allowed.code, 0,
            "{allow}: {}{}",
            allowed.stdout, allowed.stderr
        );
    }

    // A delete: v6 leaves the config.
    let start = SEED_HCL.find("  bgp_peer \"v6\"").unwrap();
    let end = SEED_HCL[start..].find("  }\n").unwrap() + start + 4;
    env.set_config(&format!("{}{}", &SEED_HCL[..start], &SEED_HCL[end..]));
    let out = env.run(&["plan", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let delete = valid(&v, "delete", &out);
    assert_eq!(change(&delete, V6)["actions"], json!(["delete"]));
    assert_eq!(change(&delete, V6)["after"], Value::Null);
    let blocked = check_plan(&env.dir, &out.stdout, "");
    assert_eq!(blocked.code, 1, "{}{}", blocked.stdout, blocked.stderr);
    assert!(blocked.stdout.contains(V6), "{}", blocked.stdout);

    // A rename, worked out by the planner.
    env.set_config(&SEED_HCL.replace("bgp_peer \"v6\"", "bgp_peer \"ipv6_primary\""));
    let out = env.run(&["plan", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let renamed = valid(&v, "rename", &out);
    assert_eq!(renamed["moves"][0]["why"], json!({"kind": "renamed"}));
    assert_eq!(renamed["summary"]["move"], 1);
    assert_eq!(check_plan(&env.dir, &out.stdout, "").code, 0);

    // A rename a `moved` block asks for.
    env.set_config(&format!(
        "{}\nmoved {{\n  from = {V6}\n  to   = virtual_interface.dxvif-fg1vuj3d.bgp_peer.x\n}}\n",
        SEED_HCL.replace("bgp_peer \"v6\"", "bgp_peer \"x\"")
    ));
    let out = env.run(&["plan", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let block = valid(&v, "moved block", &out);
    assert_eq!(block["moves"][0]["why"]["kind"], "block");
    let location = &block["moves"][0]["why"]["location"];
    assert!(
        location["file"].as_str().unwrap().ends_with("cfg/main.hcl")
            && location["line"].as_u64() > Some(0),
        "{location}"
    );

    // A refusal: plan exits 1, and still prints the plan.
    env.set_config(&format!(
        "{SEED_HCL}\nmoved {{\n  from = {V6}\n  to   = virtual_interface.dxvif-other.bgp_peer.v6\n}}\n"
    ));
    let out = env.run(&["plan", "--json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let refused = valid(&v, "refusal", &out);
    assert_eq!(refused["refusals"][0]["rule"], "moved-across-vifs");

    // Config errors: a located one, and one on the command line (line and column null).
    env.set_config(&SEED_HCL.replace("region = \"us-east-1\"", "region = \"\""));
    let out = env.run(&["plan", "--json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let errors = valid(&v, "config error", &out);
    assert_eq!(errors["errors"][0]["rule"], "region-empty");
    assert!(errors["errors"][0]["line"].is_u64());
    let not_a_plan = check_plan(&env.dir, &out.stdout, "");
    assert_eq!(
        not_a_plan.code, 2,
        "{}{}",
        not_a_plan.stdout, not_a_plan.stderr
    );
    env.set_config(SEED_HCL);
    let out = env.run(&["plan", "--json", "--var", "nope=1"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let flag = valid(&v, "command-line error", &out);
    assert_eq!(flag["errors"][0]["line"], Value::Null);
    for (what, mutate) in [
        ("no errors", json!({"errors": []})),
        ("a string line", json!({"errors": [{"line": "2"}]})),
        (
            "an unknown field",
            json!({"errors": [{"severity": "error"}]}),
        ),
    ] {
        let mut doc = errors.clone();
        if let Some(list) = mutate["errors"].as_array() {
            match list.first() {
                None => doc["errors"] = json!([]),
                Some(Value::Object(fields)) => {
                    for (k, val) in fields {
                        doc["errors"][0][k.as_str()] = val.clone();
                    }
                }
                Some(_) => unreachable!(),
            }
        }
        invalid(&v, what, &doc);
    }
}

#[test]
fn the_policy_check_refuses_unreadable_input() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = json!({
        "format_version": "1.0",
        "changes": [{"address": V6, "actions": ["delete", "create"], "before": {"bgp_peer_id": "dxpeer-1"}}],
    })
    .to_string();
    let refused = check_plan(
        tmp.path(),
        &plan,
        "virtual_interface.dxvif-other.bgp_peer.v6\n",
    );
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stdout.starts_with(&format!(
            "refused: {V6}: dxpeer-1 replaced (destroy before create)"
        )),
        "{}",
        refused.stdout
    );
    assert_eq!(check_plan(tmp.path(), "{not json", "").code, 2);
    assert_eq!(check_plan(tmp.path(), "[]", "").code, 2);
    assert_eq!(
        check_plan(
            tmp.path(),
            r#"{"format_version": "2.0", "changes": []}"#,
            ""
        )
        .code,
        2
    );
    let missing = run(Command::new("python3").current_dir(repo()).args([
        "examples/policy/check_plan.py",
        "/nonexistent/plan.json",
        "examples/policy/allow.txt",
    ]));
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(
        missing
            .stderr
            .contains("cannot read /nonexistent/plan.json"),
        "{}",
        missing.stderr
    );
}
