//! Live progress of an apply: timestamped lines when not on a terminal, bars on one, JSON events with `--json`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::model::ObservedPeer;

/// One thing that happened to one peer (or to the whole run, with an empty address). With `--json` each is one
/// line; fields that do not apply are left out, and the names below are stable.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Event {
    pub address: String,
    /// `start`, `step`, `waiting`, `observed`, `done`, `failed`, `approval`, `bgp`, `note`, `poll`, `peer`.
    pub kind: &'static str,
    pub message: String,
    /// The peer's state (`pending`, `available`, ...), when known: as last described.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The peer's `bgpStatus` (`up`, `down`, `unknown`), when described.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bgp_status: Option<String>,
    /// (`waiting`) Seconds this wait has lasted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_secs: Option<u64>,
    /// Milliseconds since the apply started running changes (set by the JSON writer on every event).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<u64>,
    /// (`poll`) The round, counted from 1, the scope described (region, or profile/region) and how many VIFs it
    /// listed, and how many waits were still pending there when it started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub round: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vifs: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<usize>,
    /// (`peer`, `observed`, `bgp`) The peer's id and the addresses AWS assigned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bgp_peer_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amazon_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_address: Option<String>,
}

impl Event {
    pub fn new(
        address: impl Into<String>,
        kind: &'static str,
        message: impl Into<String>,
    ) -> Event {
        Event {
            address: address.into(),
            kind,
            message: message.into(),
            ..Event::default()
        }
    }

    pub fn waiting(address: impl Into<String>, state: &str, elapsed: Duration) -> Event {
        let secs = elapsed.as_secs();
        Event {
            address: address.into(),
            kind: "waiting",
            message: format!("Still waiting... [{secs}s elapsed, state {state}]"),
            state: Some(state.to_string()),
            elapsed_secs: Some(secs),
            ..Event::default()
        }
    }

    /// How a describe shows a peer waited on (JSON only: the human views show `waiting` and `done`).
    pub fn observed(address: impl Into<String>, peer: &ObservedPeer) -> Event {
        Event {
            address: address.into(),
            kind: "observed",
            message: format!("{}, BGP {}", peer.state, peer.bgp_status),
            state: Some(peer.state.to_string()),
            bgp_status: Some(peer.bgp_status.to_string()),
            bgp_peer_id: peer.bgp_peer_id.clone(),
            amazon_address: peer.amazon_address.clone(),
            customer_address: peer.customer_address.clone(),
            ..Event::default()
        }
    }

    /// Whether only the JSON view shows this event.
    fn machine_only(&self) -> bool {
        matches!(self.kind, "observed" | "poll" | "peer")
    }
}

pub trait Progress: Send + Sync {
    fn event(&self, e: Event);
}

/// Plain lines on stderr, each with a UTC timestamp.
pub struct Lines {
    pub quiet: bool,
}

impl Progress for Lines {
    fn event(&self, e: Event) {
        if self.quiet || e.machine_only() {
            return;
        }
        let now = time::OffsetDateTime::now_utc();
        let stamp = format!("{:02}:{:02}:{:02}", now.hour(), now.minute(), now.second());
        let line = if e.address.is_empty() {
            format!("{stamp} {}", e.message)
        } else {
            format!("{stamp} {}: {}", e.address, e.message)
        };
        crate::redact::stderr(&format!("{line}\n"));
    }
}

/// One JSON object per line on stdout, each stamped with the time since the writer was made (the apply's start)
/// and, when the event itself does not say, the peer's last known state.
pub struct JsonLines {
    start: Instant,
    states: Mutex<HashMap<String, String>>,
}

impl JsonLines {
    pub fn new() -> JsonLines {
        JsonLines {
            start: Instant::now(),
            states: Mutex::new(HashMap::new()),
        }
    }
}

impl Default for JsonLines {
    fn default() -> Self {
        JsonLines::new()
    }
}

impl JsonLines {
    /// `e` with its time since the start, and the peer's last known state when it names none.
    fn stamp(&self, mut e: Event) -> Event {
        if e.elapsed_ms.is_none() {
            e.elapsed_ms =
                Some(u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX));
        }
        if !e.address.is_empty() {
            let mut states = self
                .states
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match &e.state {
                Some(s) => {
                    states.insert(e.address.clone(), s.clone());
                }
                None => e.state = states.get(&e.address).cloned(),
            }
        }
        e
    }
}

impl Progress for JsonLines {
    fn event(&self, e: Event) {
        if let Ok(line) = serde_json::to_string(&self.stamp(e)) {
            let _ = crate::redact::stdout(&format!("{line}\n"));
        }
    }
}

/// On a terminal: one live line per peer with its state and elapsed time.
pub struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    pub fn new() -> Bars {
        Bars {
            multi: MultiProgress::new(),
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn bar(&self, address: &str) -> ProgressBar {
        let mut bars = self
            .bars
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        bars.entry(address.to_string())
            .or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new_spinner());
                // The template is a constant; were it ever refused, the default spinner still shows the message.
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix} [{elapsed}] {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(address.to_string());
                bar.enable_steady_tick(Duration::from_millis(200));
                bar
            })
            .clone()
    }
}

impl Default for Bars {
    fn default() -> Self {
        Bars::new()
    }
}

impl Progress for Bars {
    fn event(&self, e: Event) {
        if e.machine_only() {
            return;
        }
        // The bars draw on the terminal themselves: what they show is scrubbed first.
        let message = crate::redact::scrub(&e.message).into_owned();
        if e.address.is_empty() {
            let _ = self.multi.println(&message);
            return;
        }
        let bar = self.bar(&e.address);
        match e.kind {
            "done" | "failed" | "approval" | "bgp" => bar.finish_with_message(message),
            _ => bar.set_message(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_leave_out_what_does_not_apply_and_keep_their_field_names() {
        let e = Event::new("a", "start", "Creating...");
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"address": "a", "kind": "start", "message": "Creating..."})
        );
        let w = Event::waiting("a", "pending", Duration::from_secs(3));
        assert_eq!(w.state.as_deref(), Some("pending"));
        assert_eq!(w.elapsed_secs, Some(3));
        assert!(Event::new("", "poll", "").machine_only());
        assert!(!Event::new("", "done", "").machine_only());
    }

    #[tokio::test(start_paused = true)]
    async fn json_events_carry_the_time_since_the_start_and_the_last_known_state() {
        let json = JsonLines::new();
        tokio::time::advance(Duration::from_millis(1500)).await;
        let first = json.stamp(Event::new("a", "start", "Creating..."));
        assert_eq!((first.elapsed_ms, first.state), (Some(1500), None));
        json.stamp(Event::waiting("a", "pending", Duration::from_secs(1)));
        tokio::time::advance(Duration::from_millis(500)).await;
        let done = json.stamp(Event::new("a", "done", "Available"));
        assert_eq!(done.elapsed_ms, Some(2000));
        assert_eq!(done.state.as_deref(), Some("pending"));
        assert_eq!(json.stamp(Event::new("b", "start", "")).state, None);
    }
}
