//! The Direct Connect simulator: an HTTP server speaking AWS JSON 1.1 on loopback, for tests and sandbox rehearsals.

mod engine;
mod protocol;
mod request_log;
pub mod sigv4;
pub mod world;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::oneshot;

pub use engine::{Engine, DEFAULT_PROVISION_DELAY};
pub use protocol::ApiError;
pub use world::World;

use request_log::{LogEntry, RequestLog};

/// How to run a simulator.
#[derive(Clone, Debug, Default)]
pub struct SimOptions {
    pub listen: Option<SocketAddr>,
    /// Overrides the world's `sim.provisionDelay`.
    pub provision_delay: Option<Duration>,
    pub request_log: Option<PathBuf>,
    /// Write the world here (atomically) after every change: the sandbox's evolving copy.
    pub persist_to: Option<PathBuf>,
}

struct Shared {
    engine: Mutex<Engine>,
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
        log,
        persist_to: options.persist_to,
    });
    persist(&shared, true)?;
    let app = Router::new()
        .route("/", post(handle))
        .route("/_sim/world", get(dump_world))
        .fallback(unknown_route)
        .with_state(shared.clone());
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    Ok(RunningSim {
        addr,
        shared,
        shutdown: Some(tx),
        task,
    })
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn persist(shared: &Shared, force: bool) -> anyhow::Result<()> {
    let Some(path) = &shared.persist_to else {
        return Ok(());
    };
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

async fn handle(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let started = SystemTime::now();
    let mut entry = LogEntry::new(started);
    let result = dispatch(&shared, &headers, &body, &mut entry);
    let response = match result {
        Ok(resp) => resp,
        Err(err) => {
            entry.error_code = Some(err.code.to_string());
            err.into_response()
        }
    };
    entry.status = response.status().as_u16();
    if let Some(log) = &shared.log {
        log.write(&entry);
    }
    response
}

fn dispatch(
    shared: &Shared,
    headers: &HeaderMap,
    body: &[u8],
    entry: &mut LogEntry,
) -> Result<Response, ApiError> {
    let op = protocol::operation(headers)?;
    entry.operation = Some(op.clone());
    let region = protocol::region(headers)?;
    entry.region = Some(region.clone());
    let input: serde_json::Value = if body.is_empty() {
        serde_json::json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| {
            ApiError::other(
                StatusCode::BAD_REQUEST,
                "SerializationException",
                format!("Request body is not valid JSON: {e}"),
            )
        })?
    };
    entry.virtual_interface_id = input
        .get("virtualInterfaceId")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let outcome = {
        let mut engine = shared.engine.lock().expect("sim world poisoned");
        let now = now_ms();
        let advanced = engine.advance(now);
        let outcome = engine.handle(&op, &region, &input, now)?;
        (outcome.body, outcome.changed || advanced)
    };
    if outcome.1 {
        if let Err(e) = persist(shared, true) {
            return Err(ApiError::other(
                StatusCode::INTERNAL_SERVER_ERROR,
                "DirectConnectServerException",
                format!("{e:#}"),
            ));
        }
    }
    Ok(protocol::ok(outcome.0))
}

async fn dump_world(State(shared): State<Arc<Shared>>) -> Response {
    let text = {
        let mut engine = shared.engine.lock().expect("sim world poisoned");
        engine.advance(now_ms());
        engine.world.to_json()
    };
    ([("content-type", "application/json")], text).into_response()
}

async fn unknown_route() -> Response {
    ApiError::other(
        StatusCode::NOT_FOUND,
        "UnknownOperationException",
        "Direct Connect is served at POST / with an X-Amz-Target header",
    )
    .into_response()
}
