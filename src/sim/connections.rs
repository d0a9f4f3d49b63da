//! Connection limits for the simulator's HTTP server: a request head must be complete within the header timeout of
//! its first byte (and its body within as long again), a connection with no request in progress is closed after the
//! idle timeout, and at most `max_connections` are open at once.
//!
//! hyper's own `header_read_timeout` is not used: it restarts whenever a keep-alive connection goes idle, so it would
//! close idle connections after the (short) header timeout instead of the (long) idle timeout.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::PoisonError;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use hyper::body::{Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// File descriptors kept free beside the connections (listener, request log, world saves, stdio).
const RESERVED_FDS: u64 = 64;

/// How long a connection may take over a request, or sit between requests, and how many may be open at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// From a request's first byte to the end of its head; the body then gets as long again.
    pub header_timeout: Duration,
    /// A connection with no request in progress (never used, or kept alive after a response) is closed after this.
    pub idle_timeout: Duration,
    /// Open connections at most. At the cap, a new connection closes the one that has waited longest for a request
    /// (connections that never completed a request first, then idle keep-alive ones); when every connection has a
    /// request in flight, new ones wait in the listen backlog until one ends.
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl ServerLimits {
    /// Lowers `max_connections` to what the process's open-file limit leaves room for; says so when it does.
    pub fn fit_to_fd_limit(&mut self) -> Option<String> {
        let limit = fd_soft_limit()?;
        let room = usize::try_from(limit.saturating_sub(RESERVED_FDS).max(1)).unwrap_or(usize::MAX);
        if self.max_connections <= room {
            return None;
        }
        let wanted = std::mem::replace(&mut self.max_connections, room);
        Some(format!(
            "warning: --max-connections {wanted} does not fit the open-file limit ({limit}, ulimit -n); \
             serving at most {room} connections"
        ))
    }
}

/// The soft `RLIMIT_NOFILE`, from /proc (Linux); `None` where unknown or unlimited.
fn fd_soft_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Where a connection is between requests.
#[derive(Clone, Copy, Debug)]
enum Phase {
    /// Waiting for a request (since `since`); `served`: a response has gone out on it before.
    Idle { since: Instant, served: bool },
    /// Some of a request head has arrived, the first byte at `since`.
    Head { since: Instant, served: bool },
    /// A request is being read, handled or answered.
    Busy,
}

/// One open connection, as the accept loop and its own task see it.
pub struct Conn {
    id: u64,
    phase: Mutex<Phase>,
    /// Wakes the connection's task to recompute its deadline.
    changed: Notify,
    /// Closes the connection without answering (eviction, and the "dropped connection" faults).
    pub kill: Arc<Notify>,
    /// The registry's "a slot may be free" signal.
    freed: Arc<Notify>,
}

impl Conn {
    fn set(&self, phase: Phase) {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner) = phase;
        self.changed.notify_one();
    }

    /// Bytes arrived: the first of a request head starts its clock.
    fn bytes_arrived(&self) {
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        if let Phase::Idle { served, .. } = *phase {
            *phase = Phase::Head {
                since: Instant::now(),
                served,
            };
            drop(phase);
            self.changed.notify_one();
        }
    }

    /// hyper has parsed a request head and calls the service.
    pub fn request_started(&self) {
        self.set(Phase::Busy);
    }

    /// The response has been handed to hyper in full: the connection waits for the next request.
    fn response_finished(&self) {
        self.set(Phase::Idle {
            since: Instant::now(),
            served: true,
        });
        self.freed.notify_waiters();
    }

    /// When the connection is to be closed unless something happens first; `None` while a request is in progress.
    pub fn deadline(&self, limits: &ServerLimits) -> Option<Instant> {
        match *self.phase.lock().unwrap_or_else(PoisonError::into_inner) {
            Phase::Idle { since, .. } => Some(since + limits.idle_timeout),
            Phase::Head { since, .. } => Some(since + limits.header_timeout),
            Phase::Busy => None,
        }
    }

    /// Waits until [`Conn::deadline`] may have changed.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// The order in which connections make room at the cap, lowest first; `None`: never (a request is in flight).
    fn eviction_rank(&self) -> Option<(bool, Instant)> {
        match *self.phase.lock().unwrap_or_else(PoisonError::into_inner) {
            Phase::Idle { since, served } | Phase::Head { since, served } => Some((served, since)),
            Phase::Busy => None,
        }
    }
}

/// The open connections and the cap on them.
pub struct Connections {
    max: usize,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Conn>>>,
    freed: Arc<Notify>,
}

impl Connections {
    pub fn new(max: usize) -> Connections {
        Connections {
            max: max.max(1),
            next_id: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
            freed: Arc::new(Notify::new()),
        }
    }

    /// Registers a newly accepted connection. At the cap, the connection that has waited longest for a request
    /// is closed to make room (one that never completed a request before one that did); when every open connection
    /// has a request in flight, waits for one to end or go idle.
    pub async fn admit(&self) -> Arc<Conn> {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if let Some(conn) = self.try_admit() {
                return conn;
            }
            freed.await;
        }
    }

    fn try_admit(&self) -> Option<Arc<Conn>> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.len() >= self.max {
            let victim = open
                .values()
                .filter_map(|c| c.eviction_rank().map(|rank| (rank, c.id)))
                .min()
                .map(|(_, id)| id)?;
            if let Some(victim) = open.remove(&victim) {
                victim.kill.notify_one();
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            id,
            phase: Mutex::new(Phase::Idle {
                since: Instant::now(),
                served: false,
            }),
            changed: Notify::new(),
            kill: Arc::new(Notify::new()),
            freed: self.freed.clone(),
        });
        open.insert(id, conn.clone());
        Some(conn)
    }

    /// The connection has closed.
    pub fn remove(&self, conn: &Conn) {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&conn.id);
        self.freed.notify_waiters();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.open.lock().unwrap().len()
    }
}

/// The connection's socket, telling its [`Conn`] when bytes arrive.
pub struct TrackedIo<T> {
    pub inner: T,
    pub conn: Arc<Conn>,
}

impl<T: AsyncRead + Unpin> AsyncRead for TrackedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.conn.bytes_arrived();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TrackedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A response body that tells its [`Conn`] when hyper is done with it (it is dropped then).
pub struct TrackedBody {
    inner: Body,
    conn: Arc<Conn>,
}

impl TrackedBody {
    pub fn wrap(inner: Body, conn: Arc<Conn>) -> Body {
        Body::new(TrackedBody { inner, conn })
    }
}

impl Drop for TrackedBody {
    fn drop(&mut self) {
        self.conn.response_finished();
    }
}

impl hyper::body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ServerLimits {
        ServerLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 2,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn deadlines_follow_the_phase() {
        let connections = Connections::new(2);
        let conn = connections.admit().await;
        let start = Instant::now();
        assert_eq!(
            conn.deadline(&limits()),
            Some(start + limits().idle_timeout)
        );
        tokio::time::advance(Duration::from_secs(5)).await;
        conn.bytes_arrived();
        let head = Instant::now();
        assert_eq!(
            conn.deadline(&limits()),
            Some(head + limits().header_timeout)
        );
        conn.bytes_arrived();
        assert_eq!(
            conn.deadline(&limits()),
            Some(head + limits().header_timeout),
            "the first byte counts"
        );
        conn.request_started();
        assert_eq!(
            conn.deadline(&limits()),
            None,
            "no deadline while a request is in flight"
        );
        conn.bytes_arrived();
        assert_eq!(
            conn.deadline(&limits()),
            None,
            "a body's bytes start no head clock"
        );
        tokio::time::advance(Duration::from_secs(100)).await;
        conn.response_finished();
        assert_eq!(
            conn.deadline(&limits()),
            Some(Instant::now() + limits().idle_timeout)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn at_the_cap_the_longest_waiting_unused_connection_makes_room() {
        let connections = Connections::new(2);
        let used = connections.admit().await;
        used.request_started();
        used.response_finished();
        tokio::time::advance(Duration::from_secs(1)).await;
        let unused = connections.admit().await;
        assert_eq!(connections.len(), 2);
        let newest = connections.admit().await;
        assert_eq!(connections.len(), 2, "still at the cap");
        let ids: Vec<u64> = connections.open.lock().unwrap().keys().copied().collect();
        assert!(
            ids.contains(&used.id) && ids.contains(&newest.id),
            "{ids:?}"
        );
        assert!(
            !ids.contains(&unused.id),
            "the never-used connection went first, though newer"
        );
        // Its task is told to close.
        tokio::time::timeout(Duration::from_secs(1), unused.kill.notified())
            .await
            .expect("evicted connection is killed");
    }

    #[tokio::test(start_paused = true)]
    async fn at_the_cap_with_every_request_in_flight_a_new_connection_waits() {
        let connections = Arc::new(Connections::new(1));
        let busy = connections.admit().await;
        busy.request_started();
        let waiting = tokio::spawn({
            let connections = connections.clone();
            async move { connections.admit().await }
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(
            !waiting.is_finished(),
            "no room while the only connection is busy"
        );
        busy.response_finished();
        let admitted = tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("admitted once the busy connection went idle")
            .unwrap();
        assert_ne!(admitted.id, busy.id);
        assert_eq!(connections.len(), 1);
    }

    #[test]
    fn the_cap_fits_the_open_file_limit() {
        let mut limits = ServerLimits {
            max_connections: usize::MAX,
            ..ServerLimits::default()
        };
        match fd_soft_limit() {
            Some(limit) => {
                assert!(limits.fit_to_fd_limit().is_some());
                assert!((limits.max_connections as u64) < limit);
                assert!(limits.fit_to_fd_limit().is_none(), "fits now");
            }
            None => assert!(limits.fit_to_fd_limit().is_none()),
        }
    }
}
