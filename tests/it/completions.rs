//! Shell completions, the man pages and help: generated from the same definition as the parser, so they list every
//! command, and every command's help keeps the global options under their own heading.

use super::support::*;

#[test]
fn completions_cover_every_command_for_each_shell() {
    let tmp = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = run(dxctl(tmp.path()).args(["completions", shell]));
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        for command in [
            "plan",
            "apply",
            "import",
            "status",
            "force-unlock",
            "completions",
        ] {
            assert!(out.stdout.contains(command), "{shell} lacks {command}");
        }
    }
    let bad = run(dxctl(tmp.path()).args(["completions", "tcsh"]));
    assert_eq!(bad.code, 1);
}

#[test]
fn man_prints_dxctl_1_and_writes_a_page_per_command() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(dxctl(tmp.path()).arg("man"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with(".ie") || out.stdout.contains(".TH dxctl 1"),
        "{}",
        &out.stdout[..200.min(out.stdout.len())]
    );
    assert!(out.stdout.contains("import") && out.stdout.contains("status"));
    let dir = tmp.path().join("man1");
    let wrote = run(dxctl(tmp.path()).args(["man", "--out-dir"]).arg(&dir));
    assert_eq!(wrote.code, 0, "{}", wrote.stderr);
    for page in [
        "dxctl.1",
        "dxctl-plan.1",
        "dxctl-apply.1",
        "dxctl-state-rm.1",
        "dxctl-import.1",
    ] {
        let text =
            std::fs::read_to_string(dir.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page}");
    }
}

#[test]
fn every_command_lists_global_options_under_their_own_heading() {
    let tmp = tempfile::tempdir().unwrap();
    for command in [
        &["plan"][..],
        &["apply"],
        &["state", "rm"],
        &["import"],
        &["status"],
    ] {
        let out = run(dxctl(tmp.path()).args(command).arg("--help"));
        assert_eq!(out.code, 0, "{command:?}");
        let (own, global) = out
            .stdout
            .split_once("Global options:")
            .unwrap_or_else(|| panic!("{command:?}: no Global options heading:\n{}", out.stdout));
        assert!(
            global.contains("--endpoint-url") && global.contains("--state"),
            "{command:?}"
        );
        assert!(
            !own.contains("--endpoint-url"),
            "{command:?}: a global flag among its own"
        );
    }
    for empty in [
        &["--region", "", "plan"][..],
        &["import", "--regions", ""][..],
    ] {
        let out = run(dxctl(tmp.path()).args(empty));
        assert_eq!(out.code, 1, "{empty:?}");
        assert!(out.stderr.contains("--region"), "{empty:?}: {}", out.stderr);
    }
    let vvv = run(dxctl(tmp.path()).args(["-vvv", "validate", "/nonexistent"]));
    assert_eq!(vvv.code, 1, "-vvv is accepted: {}", vvv.stderr);
    assert!(
        !vvv.stderr.contains("unexpected argument"),
        "{}",
        vvv.stderr
    );
}
