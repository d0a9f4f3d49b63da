//! Live progress of an apply: timestamped lines when not on a terminal, bars on one, JSON events with `--json`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::Serialize;

/// One thing that happened to one peer (or to the whole run, with an empty address).
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    pub address: String,
    /// `start`, `step`, `waiting`, `done`, `failed`, `approval`, `note`.
    pub kind: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_secs: Option<u64>,
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
            state: None,
            elapsed_secs: None,
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
        }
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
        if self.quiet {
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

/// One JSON object per line on stdout.
pub struct JsonLines;

impl Progress for JsonLines {
    fn event(&self, e: Event) {
        if let Ok(line) = serde_json::to_string(&e) {
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
        // The bars draw on the terminal themselves: what they show is scrubbed first.
        let message = crate::redact::scrub(&e.message).into_owned();
        if e.address.is_empty() {
            let _ = self.multi.println(&message);
            return;
        }
        let bar = self.bar(&e.address);
        match e.kind {
            "done" | "failed" | "approval" => bar.finish_with_message(message),
            _ => bar.set_message(message),
        }
    }
}
