//! Minimized inputs of panics the fuzz targets found, run through the same targets so fixed ones stay fixed; and
//! checks that every target's seeds are valid, since mutations of valid inputs are what reach deep code.

use dxctl::config::{self, SourceFile};
use dxctl::saved_plan::SavedPlan;
use dxctl::sim::World;
use dxctl::state::{LocalStateFile, StateStore};

use crate::targets;

/// saved_plan.rs:152 sliced a lineage at byte 8: a plan whose `state_lineage` has a multi-byte character across
/// that byte panicked in `check` whenever the state had moved on (here: no state yet).
#[test]
fn saved_plan_with_a_non_ascii_lineage() {
    let plan = format!(
        r#"{{"format_version":1,"config_dir":{:?},"state_lineage":"0123456é89","state_serial":1,
        "config_fingerprint":"","observed_fingerprint":"","plan":null,"rendered":""}}"#,
        targets::REPO
    );
    targets::saved_plan(plan.as_bytes());
}

#[test]
fn config_seeds_load() {
    let ok = targets::config_material()
        .seeds
        .iter()
        .filter(|s| {
            let src = SourceFile::new("main.hcl", String::from_utf8_lossy(s).into_owned());
            config::load_sources(&[src], &Default::default()).is_ok()
        })
        .count();
    assert!(ok >= 2, "only {ok} config seeds load");
}

#[test]
fn var_file_seed_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vars.hcl");
    std::fs::write(&path, &targets::var_file_material().seeds[0]).unwrap();
    let files: Vec<SourceFile> =
        std::fs::read_dir(format!("{}/examples/multi-region", targets::REPO))
            .unwrap()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "hcl"))
            .map(|e| {
                SourceFile::new(
                    e.path().display().to_string(),
                    std::fs::read_to_string(e.path()).unwrap(),
                )
            })
            .collect();
    let inputs = config::Inputs {
        var_files: vec![path],
        env: [("DX_KEY".to_string(), "0xKeyFromEnvironment".to_string())].into(),
        ..Default::default()
    };
    let result = config::load_sources(&files, &inputs);
    assert!(
        result.is_err(),
        "the seed sets variables the example does not declare"
    );
    let text = result.unwrap_err().to_string();
    assert!(
        !text.contains("var-file") && !text.contains("syntax"),
        "{text}"
    );
}

#[test]
fn state_and_plan_seeds_load() {
    let dir = tempfile::tempdir().unwrap();
    for seed in targets::state_material().seeds {
        let path = dir.path().join("s.json");
        std::fs::write(&path, &seed).unwrap();
        let state = LocalStateFile::new(&path).load().unwrap();
        assert!(!state.peers.is_empty());
    }
    for seed in targets::plan_material().seeds {
        let path = dir.path().join("p.json");
        std::fs::write(&path, &seed).unwrap();
        SavedPlan::read(&path).unwrap();
    }
}

#[test]
fn world_seeds_parse() {
    assert_eq!(
        targets::worlds().len(),
        3,
        "the examples' worlds and world-rich.json"
    );
    for text in targets::world_seeds().iter().take(3) {
        World::parse(std::str::from_utf8(text).unwrap()).unwrap();
    }
}

#[test]
fn request_seeds_reach_the_engine() {
    use dxctl::sim::protocol::Wire;
    for wire in [Wire::Json11, Wire::RpcV2Cbor] {
        for seed in targets::request_material(wire).seeds {
            let req = targets::RawRequest::parse(&seed).unwrap();
            wire.operation(&req.uri, &req.headers).unwrap();
            dxctl::sim::protocol::region(&req.headers).unwrap();
            dxctl::sim::sigv4::verify_at(
                &req.method,
                &req.uri,
                &req.headers,
                &req.body,
                &[dxctl::sim::sigv4::Credential {
                    access_key_id: targets::ACCESS_KEY.into(),
                    secret_access_key: targets::SECRET_KEY.into(),
                }],
                targets::seed_time(),
            )
            .unwrap_or_else(|e| {
                panic!(
                    "{wire:?} seed signature: {e:?}\n{}",
                    String::from_utf8_lossy(&seed)
                )
            });
            wire.input(&req.headers, &req.body).unwrap();
        }
    }
}
