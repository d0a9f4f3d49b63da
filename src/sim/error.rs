//! The simulator's errors: starting, serving and stopping it, and saving its world.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::task::JoinError;

/// Why a simulator could not start, serve or stop.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot listen on {addr}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    /// The listening socket has no local address.
    #[error(transparent)]
    LocalAddr(io::Error),
    #[error("cannot open request log {path}")]
    RequestLog {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Accepting connections failed.
    #[error(transparent)]
    Serve(io::Error),
    #[error("simulator task panicked")]
    TaskPanicked(#[source] JoinError),
    /// A request panicked while it held the world, so there is no whole world to save.
    #[error("sim world poisoned")]
    WorldPoisoned,
    #[error(transparent)]
    Save(#[from] SaveError),
}

/// Why the world was not saved. One failed save answers every change it covered, so this is `Clone`: its causes
/// are shared.
#[derive(Clone, Debug, thiserror::Error)]
pub enum SaveError {
    /// A request panicked mid-change: better no save than a half-changed world.
    #[error("the simulator's world is poisoned; it is no longer saved")]
    Poisoned,
    #[error("cannot save sandbox world {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    /// The save itself panicked or was cancelled.
    #[error("saving the world failed")]
    Failed(#[source] Arc<JoinError>),
    /// The writer has stopped; no later change will be saved.
    #[error("the world is no longer being saved")]
    Stopped,
}
