//! The Direct Connect simulator: an HTTP server speaking AWS JSON 1.1 and Smithy RPC v2 CBOR on loopback, for tests
//! and sandbox rehearsals.

mod connections;
mod engine;
mod error;
pub mod protocol;
mod request_log;
pub mod rpcv2;
mod saver;
mod server;
pub mod sigv4;
pub mod world;
pub mod world_check;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::PoisonError;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

pub use connections::{
    ServerLimits, DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
};
pub use engine::{Engine, RequestFault, DEFAULT_DELETION_DELAY, DEFAULT_PROVISION_DELAY};
pub use error::{SaveError, SimError};
pub use protocol::ApiError;
pub use world::{World, WorldError};

use request_log::RequestLog;
use saver::Saver;

/// How to run a simulator.
#[derive(Clone, Debug, Default)]
pub struct SimOptions {
    pub listen: Option<SocketAddr>,
    /// Overrides the world's `sim.provisionDelay`.
    pub provision_delay: Option<Duration>,
    pub request_log: Option<PathBuf>,
    /// Write the world here (atomically) after every change: the sandbox's evolving copy. A change is saved before
    /// the request that made it is answered, and the final world when the simulator stops.
    pub persist_to: Option<PathBuf>,
    /// Header and idle timeouts, and the connection cap.
    pub limits: ServerLimits,
}

struct Shared {
    /// The world. Every lock recovers a poisoned mutex: a panic while it was held is a simulator bug that fails
    /// its own request (the connection drops), and the simulator, a rehearsal tool, keeps serving the others; debug
    /// builds check the engine's indexes against the world after every operation, so such a bug does not go unseen.
    engine: Mutex<Engine>,
    /// Saves the world off the request path, when persisting.
    saver: Option<Saver>,
    log: Option<RequestLog>,
}

impl Shared {
    /// The world, locked; a poisoned lock is recovered (see [`Shared::engine`]).
    fn lock_engine(&self) -> std::sync::MutexGuard<'_, Engine> {
        self.engine.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a change to the world for saving (under the world lock, which `engine` is the guard of); its number,
    /// to wait for with [`Shared::saved`].
    fn note_change(&self, engine: &mut Engine) -> Option<u64> {
        self.saver.as_ref().map(|s| s.note_change(engine))
    }

    /// Waits until change `number` (from [`Shared::note_change`]) is saved.
    async fn saved(&self, number: Option<u64>) -> Result<(), SaveError> {
        match (&self.saver, number) {
            (Some(saver), Some(number)) => saver.saved(number).await,
            _ => Ok(()),
        }
    }
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
        let mut engine = self.shared.lock_engine();
        engine.advance(now_ms());
        engine.world.clone()
    }

    /// How long after a call ends its effect may take to show in this simulator's describes: the widest
    /// consistency window, plus the late-write delay and the latency when those faults are on.
    pub fn settle_needed(&self) -> Duration {
        let engine = self.shared.lock_engine();
        let sim = &engine.world.sim;
        let late = if sim.faults.late_write_rate > 0.0 {
            sim.faults.late_write_delay()
        } else {
            Duration::ZERO
        };
        sim.max_consistency_window() + late + sim.faults.latency()
    }

    /// Stops serving and, when persisting, writes the final world.
    pub async fn stop(mut self) -> Result<(), SimError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        (&mut self.task)
            .await
            .map_err(SimError::TaskPanicked)?
            .map_err(SimError::Serve)?;
        let Some(saver) = &self.shared.saver else {
            return Ok(());
        };
        let flushed = saver.flush(&self.shared.engine).await;
        saver.stop().await;
        flushed
    }

    /// Serves until the task ends (for `dxctl sim serve`).
    pub async fn wait(self) -> Result<(), SimError> {
        self.task
            .await
            .map_err(SimError::TaskPanicked)?
            .map_err(SimError::Serve)
    }
}

/// Starts a simulator on `options.listen` (default 127.0.0.1 on an ephemeral port).
pub async fn start(world: World, options: SimOptions) -> Result<RunningSim, SimError> {
    let listen = options
        .listen
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| SimError::Listen {
            addr: listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(SimError::LocalAddr)?;
    let log = options
        .request_log
        .as_deref()
        .map(RequestLog::create)
        .transpose()?;
    let (saver, writer) = match &options.persist_to {
        Some(_) => {
            let (saver, writer) = Saver::new();
            (Some(saver), Some(writer))
        }
        None => (None, None),
    };
    let shared = Arc::new(Shared {
        engine: Mutex::new(Engine::new(world, options.provision_delay)),
        saver,
        log,
    });
    if let (Some(saver), Some(writer), Some(path)) = (&shared.saver, writer, options.persist_to) {
        saver.start(writer, path, snapshot(shared.clone()));
        if let Err(e) = saver.flush(&shared.engine).await {
            saver.stop().await;
            return Err(e);
        }
    }
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

/// What the saver writes: the world with its lifecycles advanced to now, and the changes that includes. (Taken on
/// the blocking pool; the clone is what the world lock is held for, not the serialisation or the disk.)
fn snapshot(shared: Arc<Shared>) -> saver::Snapshot {
    Box::new(move || {
        // A poisoned lock means a request panicked mid-change: better no save than a half-changed world.
        let mut engine = shared.engine.lock().map_err(|_| SaveError::Poisoned)?;
        engine.advance(now_ms());
        let counted = shared
            .saver
            .as_ref()
            .map_or(0, |saver| saver.counted(&engine));
        Ok((counted, engine.world.clone()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// One AWS JSON 1.1 call over a fresh loopback connection; the status and the JSON body.
    async fn call(
        addr: SocketAddr,
        op: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let body = body.to_string();
        let request = format!(
            "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: OvertureService.{op}\r\n\
             Content-Type: application/x-amz-json-1.1\r\nAuthorization: AWS4-HMAC-SHA256 \
             Credential=AKIDTEST/20260101/us-east-1/directconnect/aws4_request, SignedHeaders=host, Signature=00\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        let text = String::from_utf8(response).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, serde_json::from_str(body).unwrap_or_default())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_answered_write_is_already_in_the_saved_world() {
        let dir = tempfile::tempdir().unwrap();
        let path = Arc::new(dir.path().join("world.json"));
        let mut world = World::parse(include_str!("../../examples/seed/world.json")).unwrap();
        world.connections[0].has_logical_redundancy = Some("yes".into());
        world.sim.transitioning_rule = Some(world::TransitioningRule::Off);
        let sim = start(
            world,
            SimOptions {
                persist_to: Some(path.to_path_buf()),
                ..SimOptions::default()
            },
        )
        .await
        .unwrap();
        assert!(path.exists(), "the starting world is saved before serving");
        // Concurrent creates; each, once answered, is in the file as it stands (as a kill -9 would leave it).
        let calls: Vec<_> = (0..24)
            .map(|i| {
                let (addr, path) = (sim.addr, path.clone());
                tokio::spawn(async move {
                    let peer = serde_json::json!({"virtualInterfaceId": "dxvif-fg1vuj3d",
                        "newBGPPeer": {"asn": 64600 + i, "addressFamily": "ipv6"}});
                    let (status, body) = call(addr, "CreateBGPPeer", &peer).await;
                    assert_eq!(status, 200, "{body}");
                    let saved = std::fs::read_to_string(path.as_path()).unwrap();
                    let peers = body["virtualInterface"]["bgpPeers"].as_array().unwrap();
                    let mine = peers.iter().find(|p| p["asn"] == 64600 + i).unwrap()["bgpPeerId"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    assert!(
                        saved.contains(&mine),
                        "{mine} was answered but is not saved"
                    );
                })
            })
            .collect();
        for c in calls {
            c.await.unwrap();
        }
        let live = sim.world();
        sim.stop().await.unwrap();
        let saved = World::load(&path).unwrap();
        assert_eq!(saved.virtual_interfaces[0].bgp_peers.len(), 25);
        assert_eq!(
            saved.virtual_interfaces[0].bgp_peers, live.virtual_interfaces[0].bgp_peers,
            "the final save is the world at stop"
        );
    }
}
