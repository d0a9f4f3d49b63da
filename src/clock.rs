//! Wall-clock time as milliseconds since the Unix epoch: what intents, describes and the simulator's lifecycles are
//! compared by, across processes and restarts.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

// tokio's clock: the same as std's in a running program, and paused and advanced by hand in tests.
use tokio::time::Instant;

/// The wall clock read once per process, and the real monotonic clock at that moment. Real, never tokio's: a paused
/// test runtime's clock runs ahead of real time, and an anchor taken there would lie in every other runtime's future
/// (their time since it would read zero until they caught up, so deadlines computed from it would never pass).
static ANCHOR: OnceLock<(u64, std::time::Instant)> = OnceLock::new();

/// Milliseconds since the Unix epoch: the wall clock at the first call, advanced by the monotonic clock since.
/// Within one process it never jumps (an NTP step or a resumed VM cannot make a lost call look settled early);
/// across processes and hosts it is as good as their wall clocks, so `--settle-window` must cover their skew.
pub fn now_ms() -> u64 {
    let (wall, at) = ANCHOR.get_or_init(|| {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        (wall, std::time::Instant::now())
    });
    let since = Instant::now().into_std().saturating_duration_since(*at);
    wall.saturating_add(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
}

/// `ms` as an RFC 3339 UTC time, for people.
pub fn rfc3339(ms: u64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{ms} ms after the epoch"))
}
