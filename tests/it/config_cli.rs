//! The config language through the real binary: every invalid fixture, validate, fmt, and the multi-region example.

use std::path::Path;

use super::support::*;

fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo().join("tests/fixtures/invalid"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn every_invalid_fixture_is_refused_with_its_rule_and_location_and_sends_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let world = seed_world(tmp.path(), "100ms");
    let sim = SimProcess::start(&world, tmp.path(), &[]);
    let state = tmp.path().join("state.json");
    let names = fixture_names();
    assert!(names.len() >= 50, "only {} fixtures", names.len());
    for name in names {
        let rule = name.split("--").next().unwrap();
        let dir = format!("tests/fixtures/invalid/{name}");
        let out = run(dxctl(&repo())
            .args(["--endpoint-url", &sim.url(), "--state"])
            .arg(&state)
            .args(["plan", &dir]));
        assert_eq!(out.code, 1, "{name}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{name}");
        assert!(
            out.stderr.contains(&format!("error[{rule}]")),
            "{name} does not report its rule:\n{}",
            out.stderr
        );
        assert!(
            out.stderr.contains(&format!("{dir}/")),
            "{name} does not name its file:\n{}",
            out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{name}");
        insta::assert_snapshot!(format!("invalid__{name}"), out.stderr);
    }
    assert_eq!(sim.requests().len(), 0, "no fixture caused an API call");
    assert!(!state.exists(), "no fixture touched the state");
}

#[test]
fn validate_needs_no_network_and_reports_every_error() {
    let out = run(dxctl(&repo()).args(["validate", "examples/seed"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "Success! The configuration is valid: 1 virtual interface, 2 BGP peers.\n"
    );
    let out = run(dxctl(&repo()).args(["validate", "tests/fixtures/invalid/ipv6-addresses--both"]));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("2 configuration errors"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.matches("error[ipv6-addresses]").count(), 2);
    // An endpoint that nothing listens on: validate must not try it.
    let out = run(dxctl(&repo()).args([
        "--endpoint-url",
        "http://127.0.0.1:9",
        "validate",
        "examples/seed",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

fn comments(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            l.find('#')
                .or_else(|| l.find("//"))
                .map(|i| l[i..].trim().to_string())
        })
        .collect()
}

fn hcl_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            hcl_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "hcl") {
            out.push(path);
        }
    }
}

#[test]
fn fmt_is_idempotent_and_keeps_every_comment_on_examples_and_fixtures() {
    let mut files = Vec::new();
    hcl_files(&repo().join("examples"), &mut files);
    hcl_files(&repo().join("tests/fixtures"), &mut files);
    let mut formatted = 0;
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(once) = dxctl::config::fmt::format(&text) else {
            continue;
        };
        formatted += 1;
        let twice = dxctl::config::fmt::format(&once).unwrap();
        assert_eq!(once, twice, "not idempotent: {}", path.display());
        assert_eq!(
            comments(&text),
            comments(&once),
            "comments changed in {}",
            path.display()
        );
    }
    assert!(formatted >= 50, "formatted {formatted} files");
}

#[test]
fn fmt_check_lists_files_and_fmt_rewrites_them() {
    let tmp = tempfile::tempdir().unwrap();
    let messy = "# keep me\nprovider \"aws\"{\nregion=\"us-east-1\" # and me\n}\n";
    let dir = config_dir(tmp.path(), "cfg", messy);
    let tidy = config_dir(
        tmp.path(),
        "tidy",
        "provider \"aws\" {\n  region = \"us-east-1\"\n}\n",
    );
    std::fs::copy(tidy.join("main.hcl"), dir.join("other.hcl")).unwrap();

    let out = run(dxctl(tmp.path()).args(["fmt", "--check", "cfg"]));
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stdout, "cfg/main.hcl\n",
        "only the messy file is listed"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("main.hcl")).unwrap(),
        messy,
        "--check changes nothing"
    );

    let out = run(dxctl(tmp.path()).args(["fmt", "cfg"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.join("main.hcl")).unwrap(),
        "# keep me\nprovider \"aws\" {\n  region = \"us-east-1\" # and me\n}\n"
    );
    assert_eq!(
        run(dxctl(tmp.path()).args(["fmt", "--check", "cfg"])).code,
        0
    );
    let bad = config_dir(tmp.path(), "bad", "provider \"aws\" {\n");
    let out = run(dxctl(tmp.path()).args(["fmt"]).arg(&bad));
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("error[syntax]"), "{}", out.stderr);
}

#[test]
fn multi_region_example_converges_and_its_secret_never_leaks() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let secret = "eu-Secret-Key-From-Env-42";
    let world = repo().join("examples/multi-region/world.json");
    let config = repo().join("examples/multi-region");
    let mut outputs = String::new();
    for args in [
        vec!["-v", "validate"],
        vec!["-v", "--sandbox", world.to_str().unwrap(), "plan"],
        vec![
            "-v",
            "--sandbox",
            world.to_str().unwrap(),
            "apply",
            "--auto-approve",
            "--poll-interval",
            "100ms",
        ],
        vec![
            "-v",
            "--sandbox",
            world.to_str().unwrap(),
            "plan",
            "--detailed-exitcode",
        ],
    ] {
        let out = run(dxctl(cwd)
            .env("DXCTL_VAR_eu_auth_key", secret)
            .args(&args)
            .arg(&config));
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        outputs.push_str(&out.stdout);
        outputs.push_str(&out.stderr);
    }
    assert!(outputs.contains("Resources: 3 added"), "{outputs}");
    assert!(outputs.ends_with_no_changes(), "{outputs}");
    assert!(outputs.contains("in eu-west-1") && outputs.contains("in us-east-1"));
    assert!(
        !outputs.contains(secret),
        "the secret leaked into the output"
    );
    let state = std::fs::read_to_string(cwd.join("state/dxctl.state.json")).unwrap();
    assert!(!state.contains(secret));
    // The secret did reach "AWS": the simulator's world holds it on the EU peer.
    let copy = std::fs::read_to_string(cwd.join("state/sandbox/world.json")).unwrap();
    assert!(copy.contains(secret));
}

trait NoChanges {
    fn ends_with_no_changes(&self) -> bool;
}

impl NoChanges for String {
    fn ends_with_no_changes(&self) -> bool {
        self.contains("No changes. Your infrastructure matches the configuration.")
    }
}
