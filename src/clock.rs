//! Wall-clock time as milliseconds since the Unix epoch: what intents, describes and the simulator's lifecycles are
//! compared by, across processes and restarts.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

// tokio's clock: the same as std's in a running program, and paused and advanced by hand in tests.
use tokio::time::Instant;

/// The wall clock read once per process, and the real monotonic clock at that moment. Real, never tokio's: a paused
/// test runtime's clock runs ahead of real time, and an anchor taken there would lie in every other runtime's future.
/// A runtime may still start before the anchor is taken (tests run side by side), so times before it are counted
/// back from it.
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
    ms_at(*wall, *at, Instant::now().into_std())
}

/// The wall time at `now`, given the wall time `wall` at the instant `at`. A paused test runtime made before the
/// anchor reads times before it: counted back, never clamped to the anchor (a clock stuck there would keep that
/// runtime's deadlines from passing).
fn ms_at(wall: u64, at: std::time::Instant, now: std::time::Instant) -> u64 {
    let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    match now.checked_duration_since(at) {
        Some(since) => wall.saturating_add(ms(since)),
        None => wall.saturating_sub(ms(at.duration_since(now))),
    }
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

#[cfg(test)]
mod tests {
    use super::ms_at;
    use std::time::{Duration, Instant};

    #[test]
    fn times_before_the_anchor_count_back_and_time_never_stands_still() {
        let at = Instant::now() + Duration::from_secs(10);
        let wall = 1_700_000_000_000;
        assert_eq!(ms_at(wall, at, at), wall);
        assert_eq!(
            ms_at(wall, at, at + Duration::from_millis(1500)),
            wall + 1500
        );
        let before = at - Duration::from_secs(3);
        assert_eq!(ms_at(wall, at, before), wall - 3000);
        assert!(ms_at(wall, at, before + Duration::from_secs(2)) > ms_at(wall, at, before));
    }
}
