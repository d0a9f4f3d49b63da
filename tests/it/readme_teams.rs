//! The README's "Try it locally" block of the Teams section, run as printed: a local S3, a sandbox apply, a migrate
//! to S3, and a plan that finds nothing to do from the bucket.

use std::process::Command;

use super::support::*;

/// The first ```sh block after `heading` in the README.
fn block_after(heading: &str) -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let at = readme
        .find(heading)
        .unwrap_or_else(|| panic!("README has no {heading}"));
    let rest = &readme[at..];
    let start = rest.find("```sh\n").expect("a sh block") + "```sh\n".len();
    let end = rest[start..].find("```").expect("the block ends");
    rest[start..start + end].to_string()
}

#[test]
fn the_readme_teams_walkthrough_runs_as_printed() {
    let script = block_after("### Try it locally");
    assert!(script.contains("state migrate --to s3://"), "{script}");
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    for dir in ["examples", "tests"] {
        std::os::unix::fs::symlink(repo().join(dir), cwd.join(dir)).unwrap();
    }
    let bin_dir = bin().parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    hermetic(&mut cmd)
        .current_dir(cwd)
        .env("PATH", path)
        .args(["-euo", "pipefail", "-c", &script]);
    let out = run(&mut cmd);
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    assert!(
        out.stdout.contains("Migrated the state")
            && out
                .stdout
                .contains("virtual_interface.dxvif-fg1vuj3d.bgp_peer.v6"),
        "{}",
        out.stdout
    );
    let old = std::fs::read_to_string(cwd.join("state/dxctl.state.json")).unwrap();
    assert!(
        old.contains("\"moved_to\": \"s3://acme-network-state/dx/prod.state.json\""),
        "the old file names the new home: {old}"
    );
}
