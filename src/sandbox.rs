//! Sandbox mode: an in-process simulator on loopback, seeded from a world file whose evolving copy lives beside the state.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::sim::{self, RunningSim, SimOptions, World};

pub const ACCESS_KEY: &str = "AKIDDXCTLSANDBOX";
pub const SECRET_KEY: &str = "dxctl-sandbox-secret";
pub const DEFAULT_REGION: &str = "us-east-1";

/// The sandbox world copy for a seed world: `<state dir>/sandbox/<world file name>`.
pub fn copy_path(world: &Path, state: &Path) -> PathBuf {
    let dir = state
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = world
        .file_name()
        .map_or_else(|| "world.json".into(), |n| n.to_owned());
    dir.join("sandbox").join(name)
}

/// Starts the sandbox. The seed world file is only read, never written. With `persist` the evolving copy is
/// written after every change (apply); without, it is only read (plan), so a plan never rewrites the world under an
/// apply running meanwhile.
pub async fn start(
    world: &Path,
    state: &Path,
    reset: bool,
    persist: bool,
) -> anyhow::Result<(RunningSim, PathBuf)> {
    let copy = copy_path(world, state);
    if reset || !copy.exists() {
        let seed = World::load(world)?;
        if let Some(parent) = copy.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", copy.display()))?;
        }
        crate::state::write_atomically(&copy, seed.to_json().as_bytes(), false)
            .with_context(|| format!("cannot write sandbox world {}", copy.display()))?;
    }
    let current = World::load(&copy)?;
    let running = sim::start(
        current,
        SimOptions {
            persist_to: persist.then(|| copy.clone()),
            ..SimOptions::default()
        },
    )
    .await?;
    Ok((running, copy))
}
