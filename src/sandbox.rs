//! Sandbox mode: an in-process simulator on loopback, seeded from a world file whose evolving copy lives beside the state.

use std::path::{Path, PathBuf};

use crate::sim::{self, RunningSim, SimError, SimOptions, World, WorldError};

pub const ACCESS_KEY: &str = "AKIDDXCTLSANDBOX";
pub const SECRET_KEY: &str = "dxctl-sandbox-secret";
pub const DEFAULT_REGION: &str = "us-east-1";

/// Why the sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The seed world or the evolving copy cannot be read or is invalid.
    #[error(transparent)]
    World(#[from] WorldError),
    /// The directory of the evolving copy (`path` is the copy) cannot be created.
    #[error("cannot create {path}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write sandbox world {path}")]
    WriteWorld {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Sim(#[from] SimError),
}

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
) -> Result<(RunningSim, PathBuf), SandboxError> {
    let copy = copy_path(world, state);
    if reset || !copy.exists() {
        let seed = World::load(world)?;
        if let Some(parent) = copy.parent() {
            std::fs::create_dir_all(parent).map_err(|source| SandboxError::CreateDir {
                path: copy.clone(),
                source,
            })?;
        }
        crate::state::write_atomically(&copy, seed.to_json().as_bytes(), false).map_err(
            |source| SandboxError::WriteWorld {
                path: copy.clone(),
                source,
            },
        )?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_seed_world_is_a_world_error_and_leaves_no_copy() {
        let dir = tempfile::tempdir().unwrap();
        let (world, state) = (
            dir.path().join("nowhere.json"),
            dir.path().join("dxctl.state.json"),
        );
        let Err(err) = start(&world, &state, false, false).await else {
            panic!("a sandbox started from a missing world");
        };
        assert!(
            matches!(&err, SandboxError::World(WorldError::Read { path, .. }) if *path == world),
            "{err:?}"
        );
        assert!(!copy_path(&world, &state).exists());
    }

    #[tokio::test]
    async fn an_unwritable_copy_is_refused_by_kind() {
        let dir = tempfile::tempdir().unwrap();
        let world = dir.path().join("world.json");
        std::fs::write(&world, "{}").unwrap();
        // A file where the sandbox directory should be.
        std::fs::write(dir.path().join("sandbox"), "").unwrap();
        let state = dir.path().join("dxctl.state.json");
        let Err(err) = start(&world, &state, false, false).await else {
            panic!("a sandbox started without its copy");
        };
        assert!(
            matches!(&err, SandboxError::CreateDir { path, .. } if *path == copy_path(&world, &state)),
            "{err:?}"
        );
    }
}
