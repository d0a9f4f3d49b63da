//! The Direct Connect simulator: an HTTP server speaking AWS JSON 1.1 and Smithy RPC v2 CBOR on loopback, for tests
//! and sandbox rehearsals.

mod connections;
mod engine;
pub mod protocol;
mod request_log;
pub mod rpcv2;
mod server;
pub mod sigv4;
pub mod world;
pub mod world_check;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::oneshot;

pub use connections::{
    ServerLimits, DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
};
pub use engine::{Engine, RequestFault, DEFAULT_DELETION_DELAY, DEFAULT_PROVISION_DELAY};
pub use protocol::ApiError;
pub use world::World;

use request_log::RequestLog;

/// How to run a simulator.
#[derive(Clone, Debug, Default)]
pub struct SimOptions {
    pub listen: Option<SocketAddr>,
    /// Overrides the world's `sim.provisionDelay`.
    pub provision_delay: Option<Duration>,
    pub request_log: Option<PathBuf>,
    /// Write the world here (atomically) after every change: the sandbox's evolving copy.
    pub persist_to: Option<PathBuf>,
    /// Header and idle timeouts, and the connection cap.
    pub limits: ServerLimits,
}

struct Shared {
    engine: Mutex<Engine>,
    /// Serialises world saves so an older snapshot never lands after a newer one.
    saving: Mutex<()>,
    log: Option<RequestLog>,
    persist_to: Option<PathBuf>,
}

/// A simulator serving in the background of the current tokio runtime.
pub struct RunningSim {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningSim {
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The world as it stands now (lifecycles advanced).
    pub fn world(&self) -> World {
        let mut engine = self.shared.engine.lock().expect("sim world poisoned");
        engine.advance(now_ms());
        engine.world.clone()
    }

    /// How long after a call ends its effect may take to show in this simulator's describes: the widest
    /// consistency window, plus the late-write delay and the latency when those faults are on.
    pub fn settle_needed(&self) -> Duration {
        let engine = self.shared.engine.lock().expect("sim world poisoned");
        let sim = &engine.world.sim;
        let late = if sim.faults.late_write_rate > 0.0 {
            sim.faults.late_write_delay()
        } else {
            Duration::ZERO
        };
        sim.max_consistency_window() + late + sim.faults.latency()
    }

    /// Stops serving and, when persisting, writes the final world.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        (&mut self.task)
            .await
            .context("simulator task panicked")??;
        persist(&self.shared, true)
    }

    /// Serves until the task ends (for `dxctl sim serve`).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await.context("simulator task panicked")??;
        Ok(())
    }
}

/// Starts a simulator on `options.listen` (default 127.0.0.1 on an ephemeral port).
pub async fn start(world: World, options: SimOptions) -> anyhow::Result<RunningSim> {
    let listen = options
        .listen
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let log = options
        .request_log
        .as_deref()
        .map(RequestLog::create)
        .transpose()?;
    let shared = Arc::new(Shared {
        engine: Mutex::new(Engine::new(world, options.provision_delay)),
        saving: Mutex::new(()),
        log,
        persist_to: options.persist_to,
    });
    persist(&shared, true)?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server::serve(listener, shared.clone(), options.limits, rx));
    Ok(RunningSim {
        addr,
        shared,
        shutdown: Some(tx),
        task,
    })
}

use crate::clock::now_ms;

fn persist(shared: &Shared, force: bool) -> anyhow::Result<()> {
    let Some(path) = &shared.persist_to else {
        return Ok(());
    };
    let _saving = shared.saving.lock().expect("sim save lock poisoned");
    let text = {
        let mut engine = shared.engine.lock().expect("sim world poisoned");
        let changed = engine.advance(now_ms());
        if !(changed || force) {
            return Ok(());
        }
        engine.world.to_json()
    };
    crate::state::write_atomically(path, text.as_bytes(), false)
        .with_context(|| format!("cannot save sandbox world {}", path.display()))
}
