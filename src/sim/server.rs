//! The simulator's HTTP side: the accept loop (which can drop a connection on purpose), the JSON 1.1 and RPC v2 CBOR
//! routes, SigV4, faults, and admin routes.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use hyper_util::rt::TokioIo;
use tokio::sync::{oneshot, Notify};
use tower::ServiceExt;

use super::engine::RequestFault;
use super::protocol::{self, ApiError, Wire};
use super::request_log::LogEntry;
use super::{now_ms, persist, rpcv2, sigv4, Shared};

/// Lets a handler close its own connection without answering (the "dropped connection" fault).
#[derive(Clone)]
struct KillSwitch(Arc<Notify>);

pub async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/", post(json11))
        .route("/_sim/world", get(dump_world))
        .route("/_sim/approve", post(approve))
        .fallback(rpcv2_or_unknown)
        .with_state(shared);
    loop {
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(serve_connection(stream, app.clone()));
                }
                // Out of file descriptors and the like: keep serving the connections we have.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
            },
        }
    }
}

async fn serve_connection(stream: tokio::net::TcpStream, app: Router) {
    let kill = Arc::new(Notify::new());
    let switch = KillSwitch(kill.clone());
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(switch.clone());
            let app = app.clone();
            async move {
                Ok::<_, Infallible>(
                    app.oneshot(req.map(Body::new))
                        .await
                        .unwrap_or_else(|e| match e {}),
                )
            }
        });
    let conn =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = conn => {}
        _ = kill.notified() => {}
    }
}

/// `POST /`: AWS JSON 1.1.
async fn json11(
    state: State<Arc<Shared>>,
    kill: Option<Extension<KillSwitch>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(Wire::Json11, state, kill, method, uri, headers, body).await
}

/// `POST {prefix?}/service/{service}/operation/{operation}`: Smithy RPC v2 CBOR; any other path is unknown.
async fn rpcv2_or_unknown(
    state: State<Arc<Shared>>,
    kill: Option<Extension<KillSwitch>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if rpcv2::route(uri.path()).is_none() {
        return unknown_route().await;
    }
    if method != Method::POST {
        return (StatusCode::METHOD_NOT_ALLOWED, [("allow", "POST")]).into_response();
    }
    handle(Wire::RpcV2Cbor, state, kill, method, uri, headers, body).await
}

async fn handle(
    wire: Wire,
    State(shared): State<Arc<Shared>>,
    kill: Option<Extension<KillSwitch>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut entry = LogEntry::new(SystemTime::now());
    entry.protocol = Some(wire.name());
    let latency = shared
        .engine
        .lock()
        .expect("sim world poisoned")
        .world
        .sim
        .faults
        .latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let result = dispatch(&shared, wire, &method, &uri, &headers, &body, &mut entry);
    let dropped = entry.fault.as_deref() == Some("drop");
    let response = match result {
        Ok(resp) => resp,
        Err(err) => {
            entry.error_code = Some(err.code.to_string());
            wire.error(err)
        }
    };
    entry.status = response.status().as_u16();
    if let Some(log) = &shared.log {
        log.write(&entry);
    }
    if let (true, Some(Extension(KillSwitch(kill)))) = (dropped, kill) {
        kill.notify_one();
        std::future::pending::<()>().await;
    }
    response
}

fn dispatch(
    shared: &Shared,
    wire: Wire,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    entry: &mut LogEntry,
) -> Result<Response, ApiError> {
    let op = wire.operation(uri, headers)?;
    entry.operation = Some(op.clone());
    let region = protocol::region(headers)?;
    entry.region = Some(region.clone());
    let credentials = shared
        .engine
        .lock()
        .expect("sim world poisoned")
        .world
        .sim
        .credentials
        .clone();
    if !credentials.is_empty() {
        sigv4::verify(method, uri, headers, body, &credentials)?;
    }
    let input: serde_json::Value = wire.input(headers, body)?;
    let vif = input
        .get("virtualInterfaceId")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    entry.virtual_interface_id = vif.clone();
    let (outcome, changed) = {
        let mut engine = shared.engine.lock().expect("sim world poisoned");
        let now = now_ms();
        let advanced = engine.advance(now);
        let fault = engine.roll_fault(&op);
        entry.fault = fault.map(|f| fault_name(f).to_string());
        match fault {
            Some(RequestFault::Throttle) => {
                return Err(ApiError::other(
                    StatusCode::BAD_REQUEST,
                    "ThrottlingException",
                    "Rate exceeded",
                ))
            }
            Some(RequestFault::ServerError) => {
                return Err(ApiError::other(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "DirectConnectServerException",
                    "An internal error occurred (injected by the simulator)",
                ))
            }
            Some(RequestFault::Transitioning) => {
                let what = match (&vif, input.get("connectionId").and_then(|c| c.as_str())) {
                    (Some(v), _) => format!("Virtual interface {v}"),
                    (None, Some(c)) => format!("Connection {c}"),
                    (None, None) => "The resource".to_string(),
                };
                return Err(ApiError::client(format!(
                    "{what} is currently in a transitioning state. Try again later."
                )));
            }
            Some(RequestFault::Drop) | None => {}
        }
        let outcome = engine.handle(&op, &region, &input, now);
        let changed = advanced || outcome.as_ref().is_ok_and(|o| o.changed);
        (outcome, changed)
    };
    if changed {
        persist_or_500(shared)?;
    }
    Ok(wire.ok(outcome?.body))
}

fn persist_or_500(shared: &Shared) -> Result<(), ApiError> {
    persist(shared, true).map_err(|e| {
        ApiError::other(
            StatusCode::INTERNAL_SERVER_ERROR,
            "DirectConnectServerException",
            format!("{e:#}"),
        )
    })
}

fn fault_name(f: RequestFault) -> &'static str {
    match f {
        RequestFault::Throttle => "throttle",
        RequestFault::ServerError => "server-error",
        RequestFault::Transitioning => "transitioning",
        RequestFault::Drop => "drop",
    }
}

async fn dump_world(State(shared): State<Arc<Shared>>) -> Response {
    let text = {
        let mut engine = shared.engine.lock().expect("sim world poisoned");
        engine.advance(now_ms());
        engine.world.to_json()
    };
    ([("content-type", "application/json")], text).into_response()
}

/// `POST /_sim/approve` `{"bgpPeerId": "..."}` (or `{}` for all): AWS's manual approval of public-VIF peers.
async fn approve(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let input: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::json!({}));
    let peer = input.get("bgpPeerId").and_then(|p| p.as_str());
    let approved = {
        let mut engine = shared.engine.lock().expect("sim world poisoned");
        engine.advance(now_ms());
        engine.approve(peer)
    };
    if let Err(e) = persist_or_500(&shared) {
        return e.into_response();
    }
    protocol::ok(serde_json::json!({ "approved": approved }))
}

async fn unknown_route() -> Response {
    ApiError::other(
        StatusCode::NOT_FOUND,
        "UnknownOperationException",
        "Direct Connect is served at POST / with an X-Amz-Target header (AWS JSON 1.1), and at \
         POST /service/OvertureService/operation/<Operation> with smithy-protocol: rpc-v2-cbor",
    )
    .into_response()
}
