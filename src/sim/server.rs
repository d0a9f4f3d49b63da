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

use super::connections::{Conn, Connections, ServerLimits, TrackedBody, TrackedIo};
use super::engine::RequestFault;
use super::protocol::{self, ApiError, Wire};
use super::request_log::LogEntry;
use super::world::Faults;
use super::{now_ms, rpcv2, sigv4, Shared};

/// Lets a handler close its own connection without answering (the "dropped connection" fault).
#[derive(Clone)]
struct KillSwitch(Arc<Notify>);

/// The most a request body may be (axum's default for the `Bytes` extractor, which the handlers use).
const BODY_LIMIT: usize = 2 * 1024 * 1024;

pub async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    limits: ServerLimits,
    mut shutdown: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/", post(json11))
        .route("/_sim/world", get(dump_world))
        .route("/_sim/approve", post(approve))
        .route("/_sim/faults", post(set_faults))
        .fallback(rpcv2_or_unknown)
        .with_state(shared);
    let connections = Arc::new(Connections::new(limits.max_connections));
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors and the like: keep serving the connections we have.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        // At the cap this closes the connection idle longest, or waits for a request in flight to end.
        let conn = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            conn = connections.admit() => conn,
        };
        tokio::spawn(serve_connection(
            stream,
            app.clone(),
            conn,
            connections.clone(),
            limits,
        ));
    }
}

/// Takes the connection off the registry however its task ends.
struct Registered(Arc<Conn>, Arc<Connections>);

impl Drop for Registered {
    fn drop(&mut self) {
        self.1.remove(&self.0);
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    app: Router,
    conn: Arc<Conn>,
    connections: Arc<Connections>,
    limits: ServerLimits,
) {
    let _registered = Registered(conn.clone(), connections);
    let io = TokioIo::new(TrackedIo {
        inner: stream,
        conn: conn.clone(),
    });
    let service = {
        let conn = conn.clone();
        hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            conn.request_started();
            let (app, conn) = (app.clone(), conn.clone());
            async move {
                let response = match read_body(req, limits.header_timeout).await {
                    Ok(mut req) => {
                        req.extensions_mut().insert(KillSwitch(conn.kill.clone()));
                        app.oneshot(req).await.unwrap_or_else(|e| match e {})
                    }
                    Err(refusal) => refusal,
                };
                Ok::<_, Infallible>(response.map(|body| TrackedBody::wrap(body, conn)))
            }
        })
    };
    let http = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
    tokio::pin!(http);
    loop {
        let deadline = conn.deadline(&limits);
        tokio::select! {
            _ = &mut http => return,
            _ = conn.kill.notified() => return,
            _ = conn.changed() => {}
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)),
                if deadline.is_some() => {
                // Header or idle timeout, unless the connection moved on meanwhile.
                if conn.deadline(&limits).is_some_and(|d| d <= tokio::time::Instant::now()) {
                    return;
                }
            }
        }
    }
}

/// Reads the whole request body, allowing `timeout` for it (a body trickled in slowly holds a connection as a
/// trickled head would); a body too slow or too large gets its HTTP refusal, and the connection then closes.
async fn read_body(
    req: hyper::Request<hyper::body::Incoming>,
    timeout: std::time::Duration,
) -> Result<hyper::Request<Body>, Response> {
    let (parts, body) = req.into_parts();
    let refuse = |status: StatusCode, text: &'static str| {
        (status, [("connection", "close")], text).into_response()
    };
    match tokio::time::timeout(timeout, axum::body::to_bytes(Body::new(body), BODY_LIMIT)).await {
        Ok(Ok(bytes)) => Ok(hyper::Request::from_parts(parts, Body::from(bytes))),
        Ok(Err(_)) => Err(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large or unreadable\n",
        )),
        Err(_) => Err(refuse(
            StatusCode::REQUEST_TIMEOUT,
            "request body not received in time\n",
        )),
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
    let latency = shared.lock_engine().world.sim.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let call = match read_call(&shared, wire, &method, &uri, &headers, &body, &mut entry) {
        Ok(call) => call,
        Err(err) => return finish(&shared, wire, entry, Err(err)),
    };
    let (fault, late_by) = {
        let mut engine = shared.lock_engine();
        let now = now_ms();
        if engine.advance(now) {
            // Lifecycle steps replay from the saved world too, so they are saved without waiting.
            shared.note_change(&mut engine);
        }
        let fault = if engine.within_rate_limit(&call.operation, &call.region, now) {
            engine.roll_fault(&call.operation).map(Decision::Fault)
        } else {
            Some(Decision::RateLimited)
        };
        (fault, engine.world.sim.faults.late_write_delay())
    };
    entry.fault = fault.map(|f| f.name().to_string());
    let refused = |err: ApiError| Some(Err(err));
    let answer = match fault {
        Some(Decision::RateLimited | Decision::Fault(RequestFault::Throttle)) => {
            refused(throttled())
        }
        Some(Decision::Fault(RequestFault::ServerErrorBefore)) => refused(server_error()),
        Some(Decision::Fault(RequestFault::Transitioning)) => refused(ApiError::client(format!(
            "{} is in a transitioning state.",
            call.subject()
        ))),
        Some(Decision::Fault(RequestFault::DropBefore)) => None,
        Some(Decision::Fault(RequestFault::LateWrite)) => {
            // The write lands after the delay whether or not the caller is still there, so it runs in its own task.
            let (tx, rx) = oneshot::channel();
            let shared = shared.clone();
            tokio::spawn(async move {
                tokio::time::sleep(late_by).await;
                let result = execute(&shared, &call).await;
                let _ = tx.send(finish(&shared, wire, entry, result));
            });
            return rx.await.unwrap_or_else(|_| wire.error(server_error()));
        }
        Some(Decision::Fault(RequestFault::ServerErrorAfter)) => {
            let _ = execute(&shared, &call).await;
            refused(server_error())
        }
        Some(Decision::Fault(RequestFault::BadGatewayAfter)) => {
            let _ = execute(&shared, &call).await;
            entry.status = 502;
            if let Some(log) = &shared.log {
                log.write(&entry);
            }
            return bad_gateway();
        }
        Some(Decision::Fault(RequestFault::DropAfter)) => {
            // Logged with the status it would have had; the caller never sees it.
            let result = execute(&shared, &call).await;
            finish(&shared, wire, entry, result);
            return hang_up(wire, kill).await;
        }
        None => Some(execute(&shared, &call).await),
    };
    match answer {
        Some(result) => finish(&shared, wire, entry, result),
        None => {
            // Dropped before anything ran: logged with status 0.
            if let Some(log) = &shared.log {
                log.write(&entry);
            }
            hang_up(wire, kill).await
        }
    }
}

/// Closes the connection without answering (the "dropped connection" faults).
async fn hang_up(wire: Wire, kill: Option<Extension<KillSwitch>>) -> Response {
    if let Some(Extension(KillSwitch(kill))) = kill {
        kill.notify_one();
        std::future::pending::<()>().await;
    }
    wire.error(server_error())
}

/// A fault, or the operation's rate limit, decided for one request.
#[derive(Clone, Copy)]
enum Decision {
    RateLimited,
    Fault(RequestFault),
}

impl Decision {
    fn name(self) -> &'static str {
        match self {
            Decision::RateLimited => "rate-limit",
            Decision::Fault(f) => f.name(),
        }
    }
}

fn throttled() -> ApiError {
    ApiError::other(
        StatusCode::BAD_REQUEST,
        "ThrottlingException",
        "Rate exceeded",
    )
}

/// What a load balancer answers when the service behind it fails: an HTML page, no AWS error code.
fn bad_gateway() -> Response {
    (
        StatusCode::BAD_GATEWAY,
        [("content-type", "text/html")],
        "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>\n",
    )
        .into_response()
}

fn server_error() -> ApiError {
    ApiError::other(
        StatusCode::INTERNAL_SERVER_ERROR,
        "DirectConnectServerException",
        "An internal error occurred (injected by the simulator)",
    )
}

/// One API call, read off the wire and authenticated.
struct Call {
    operation: String,
    region: String,
    input: serde_json::Value,
}

impl Call {
    /// What a "transitioning" refusal names.
    fn subject(&self) -> String {
        let field = |name: &str| self.input.get(name).and_then(|v| v.as_str());
        match (field("virtualInterfaceId"), field("connectionId")) {
            (Some(v), _) => format!("Virtual interface {v}"),
            (None, Some(c)) => format!("Connection {c}"),
            (None, None) => "The resource".to_string(),
        }
    }
}

fn read_call(
    shared: &Shared,
    wire: Wire,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    entry: &mut LogEntry,
) -> Result<Call, ApiError> {
    let operation = wire.operation(uri, headers)?;
    entry.operation = Some(operation.clone());
    let region = protocol::region(headers)?;
    entry.region = Some(region.clone());
    let (credentials, expired, denied) = {
        let engine = shared.lock_engine();
        let sim = &engine.world.sim;
        (
            sim.credentials.clone(),
            !sim.expired_access_keys.is_empty()
                && sigv4::access_key_id(headers)
                    .is_some_and(|id| sim.expired_access_keys.contains(&id)),
            sim.denied_operations.contains(&operation),
        )
    };
    if !credentials.is_empty() {
        sigv4::verify(method, uri, headers, body, &credentials)?;
    }
    if expired {
        return Err(ApiError::other(
            StatusCode::BAD_REQUEST,
            "ExpiredTokenException",
            "The security token included in the request is expired",
        ));
    }
    if denied {
        return Err(ApiError::other(
            StatusCode::BAD_REQUEST,
            "AccessDeniedException",
            format!(
                "User: arn:aws:iam::123456789012:user/dxctl-sim is not authorized to perform: directconnect:{operation}"
            ),
        ));
    }
    let input = wire.input(headers, body)?;
    entry.virtual_interface_id = input
        .get("virtualInterfaceId")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    Ok(Call {
        operation,
        region,
        input,
    })
}

/// Runs the call against the world (advancing lifecycles first). When persisting, a call that changed the world
/// returns once the world with its change is saved (on the saver's thread: nothing here waits on the disk), so an
/// answered write is on disk; a lifecycle step alone is saved without waiting, as the saved world replays it.
async fn execute(shared: &Shared, call: &Call) -> Result<serde_json::Value, ApiError> {
    let (outcome, change) = {
        let mut engine = shared.lock_engine();
        let now = now_ms();
        if engine.advance(now) {
            shared.note_change(&mut engine);
        }
        let outcome = engine.handle(&call.operation, &call.region, &call.input, now);
        let change = match &outcome {
            Ok(o) if o.changed => shared.note_change(&mut engine),
            _ => None,
        };
        (outcome, change)
    };
    saved_or_500(shared, change).await?;
    outcome.map(|o| o.body)
}

/// Logs the request and turns its result into the HTTP response.
fn finish(
    shared: &Shared,
    wire: Wire,
    mut entry: LogEntry,
    result: Result<serde_json::Value, ApiError>,
) -> Response {
    let response = match result {
        Ok(body) => wire.ok(body),
        Err(err) => {
            entry.error_code = Some(err.code.to_string());
            wire.error(err)
        }
    };
    entry.status = response.status().as_u16();
    if let Some(log) = &shared.log {
        log.write(&entry);
    }
    response
}

/// Waits for a change to be saved; a 500 if the save failed.
async fn saved_or_500(shared: &Shared, change: Option<u64>) -> Result<(), ApiError> {
    shared.saved(change).await.map_err(|e| {
        ApiError::other(
            StatusCode::INTERNAL_SERVER_ERROR,
            "DirectConnectServerException",
            crate::error_chain::chain(&e),
        )
    })
}

/// With `sim.credentials` set, an admin route needs a SigV4 signature from one of those keys (any region and service
/// name in its scope, within the clock-skew window), and is refused with the API's errors otherwise; without them,
/// admin routes are open, like the API.
fn admin_auth(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), ApiError> {
    let credentials = shared.lock_engine().world.sim.credentials.clone();
    if credentials.is_empty() {
        return Ok(());
    }
    sigv4::verify(method, uri, headers, body, &credentials)
}

fn invalid(message: impl Into<String>) -> Response {
    ApiError::other(StatusCode::BAD_REQUEST, "ValidationException", message).into_response()
}

/// `POST /_sim/faults` with a `sim.faults` object: replaces the faults from now on (tests turn them off this way).
async fn set_faults(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = admin_auth(&shared, &method, &uri, &headers, &body) {
        return refused.into_response();
    }
    let faults: Faults = match serde_json::from_slice(&body)
        .map_err(|e| e.to_string())
        .and_then(|f: Faults| {
            f.checked()
                .map(|()| f)
                .map_err(|e| crate::error_chain::chain(&e))
        }) {
        Ok(f) => f,
        Err(e) => return invalid(e),
    };
    shared.lock_engine().world.sim.faults = faults.clone();
    protocol::ok(serde_json::json!({ "faults": faults }))
}

async fn dump_world(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = admin_auth(&shared, &method, &uri, &headers, &body) {
        return refused.into_response();
    }
    let text = {
        let mut engine = shared.lock_engine();
        engine.advance(now_ms());
        engine.world.to_json()
    };
    ([("content-type", "application/json")], text).into_response()
}

/// `POST /_sim/approve` `{"bgpPeerId": "..."}`, or the empty object `{}` for every peer awaiting approval: AWS's
/// manual approval of public-VIF peers. Anything else (not JSON, not an object, another field, a `bgpPeerId` that is
/// not a non-empty string) is a 400 `ValidationException` and approves nothing.
async fn approve(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = admin_auth(&shared, &method, &uri, &headers, &body) {
        return refused.into_response();
    }
    let peer = match approve_input(&body) {
        Ok(peer) => peer,
        Err(message) => return invalid(message),
    };
    let (approved, change) = {
        let mut engine = shared.lock_engine();
        let now = now_ms();
        let advanced = engine.advance(now);
        let approved = engine.approve(peer.as_deref(), now);
        let change = if advanced || approved > 0 {
            shared.note_change(&mut engine)
        } else {
            None
        };
        (approved, change)
    };
    if let Err(e) = saved_or_500(&shared, change).await {
        return e.into_response();
    }
    protocol::ok(serde_json::json!({ "approved": approved }))
}

/// The peer `POST /_sim/approve` names, or `None` for all (only for the empty object).
fn approve_input(body: &[u8]) -> Result<Option<String>, String> {
    const EXPECTED: &str =
        r#"expected {"bgpPeerId": "dxpeer-..."}, or {} to approve every peer awaiting approval"#;
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| format!("the body is not JSON ({e}); {EXPECTED}"))?;
    let serde_json::Value::Object(fields) = value else {
        return Err(format!("the body must be a JSON object; {EXPECTED}"));
    };
    if let Some(unknown) = fields.keys().find(|k| *k != "bgpPeerId") {
        return Err(format!("unknown field {unknown:?}; {EXPECTED}"));
    }
    match fields.get("bgpPeerId") {
        None => Ok(None),
        Some(serde_json::Value::String(id)) if !id.is_empty() => Ok(Some(id.clone())),
        Some(other) => Err(format!(
            "bgpPeerId must be a non-empty string, got {other}; {EXPECTED}"
        )),
    }
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

#[cfg(test)]
mod tests {
    use super::approve_input;

    #[test]
    fn approve_takes_one_peer_or_the_empty_object() {
        assert_eq!(approve_input(b"{}"), Ok(None));
        assert_eq!(approve_input(b" { } "), Ok(None));
        assert_eq!(
            approve_input(br#"{"bgpPeerId": "dxpeer-abc"}"#),
            Ok(Some("dxpeer-abc".to_string()))
        );
        for (body, expected) in [
            (&b""[..], "not JSON"),
            (b"{", "not JSON"),
            (b"not json", "not JSON"),
            (b"null", "must be a JSON object"),
            (b"[]", "must be a JSON object"),
            (br#""dxpeer-abc""#, "must be a JSON object"),
            (
                br#"{"bgpPeerID": "dxpeer-abc"}"#,
                r#"unknown field "bgpPeerID""#,
            ),
            (
                br#"{"bgpPeerId": "dxpeer-abc", "all": true}"#,
                r#"unknown field "all""#,
            ),
            (br#"{"bgpPeerId": null}"#, "non-empty string, got null"),
            (br#"{"bgpPeerId": 7}"#, "non-empty string, got 7"),
            (br#"{"bgpPeerId": ""}"#, "non-empty string"),
        ] {
            let err = approve_input(body).expect_err(&String::from_utf8_lossy(body));
            assert!(
                err.contains(expected),
                "{}: {err}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
