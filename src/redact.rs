//! The one redaction point. Every secret value the run learns (literal and described auth keys, sensitive variables,
//! `env()`/`file()` values in sensitive places) is registered here, and every byte dxctl prints goes out through
//! `stdout`/`stderr` below, which scrub them. Nothing else in the crate writes to the terminal (a test enforces it),
//! so a new message or diagnostic cannot bypass it.

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use aho_corasick::{AhoCorasick, MatchKind};

/// What a secret is replaced with.
pub const MASK: &str = "(sensitive)";

/// Values shorter than this are not scrubbed from free text (they would mask ordinary words); AWS auth keys are
/// 6 to 80 characters. Places that know which value is secret (an evaluation error quoting one) mask any length.
pub const MIN_LEN: usize = 6;

#[derive(Default)]
struct Registry {
    secrets: Vec<String>,
    /// The same, for fast membership (every describe registers every key it sees).
    known: HashSet<String>,
    /// Built on first use after a change.
    matcher: Option<AhoCorasick>,
}

fn registry() -> &'static Mutex<Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(Registry::default()))
}

/// The forms a value may take in output: as is, and escaped as JSON and Rust/HCL string literals print it.
fn forms(value: &str) -> Vec<String> {
    let json = serde_json::to_string(value).unwrap_or_default();
    let debug = format!("{value:?}");
    let mut out = vec![value.to_string()];
    for quoted in [json, debug] {
        if let Some(inner) = quoted.strip_prefix('"').and_then(|q| q.strip_suffix('"')) {
            out.push(inner.to_string());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Remembers a secret value for the rest of the process.
pub fn register(value: &str) {
    if value.chars().count() < MIN_LEN {
        return;
    }
    let mut r = registry().lock().unwrap_or_else(|p| p.into_inner());
    if r.known.contains(value) {
        return;
    }
    let mut changed = false;
    for form in forms(value) {
        if r.known.insert(form.clone()) {
            r.secrets.push(form);
            changed = true;
        }
    }
    if changed {
        r.matcher = None;
    }
}

/// `text` with every registered secret replaced by [`MASK`].
pub fn scrub(text: &str) -> Cow<'_, str> {
    let mut r = registry().lock().unwrap_or_else(|p| p.into_inner());
    if r.secrets.is_empty() {
        return Cow::Borrowed(text);
    }
    if r.matcher.is_none() {
        r.matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&r.secrets)
            .ok();
    }
    match &r.matcher {
        Some(m) if m.is_match(text) => {
            Cow::Owned(m.replace_all(text, &vec![MASK; r.secrets.len()]))
        }
        Some(_) => Cow::Borrowed(text),
        // The automaton could not be built (it cannot fail for plain strings): mask one by one.
        None => {
            let mut out = text.to_string();
            for s in &r.secrets {
                out = out.replace(s.as_str(), MASK);
            }
            Cow::Owned(out)
        }
    }
}

/// `text` with every registered secret replaced by as many `*`, so byte offsets and line breaks stay put (for
/// source snippets). Longest first: a secret that starts with a shorter one is starred whole.
pub fn mask_in_place(text: &str) -> String {
    let mut secrets = registry()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .secrets
        .clone();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_string();
    for s in &secrets {
        let stars: String = s
            .bytes()
            .map(|b| {
                if b == b'\n' || b == b'\r' {
                    b as char
                } else {
                    '*'
                }
            })
            .collect();
        out = out.replace(s.as_str(), &stars);
    }
    out
}

/// Replaces the given values (any length) in `text`: for messages that quote a value known to be secret.
pub fn mask_values(text: &str, values: &[String]) -> String {
    let mut all: Vec<String> = values
        .iter()
        .flat_map(|v| forms(v))
        .filter(|v| !v.is_empty())
        .collect();
    all.sort_by_key(|v| std::cmp::Reverse(v.len()));
    let mut out = text.to_string();
    for v in all {
        out = out.replace(v.as_str(), MASK);
    }
    out
}

/// Writes to standard output, scrubbed. The only way dxctl writes to stdout.
pub fn stdout(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(scrub(text).as_bytes())?;
    out.flush()
}

/// Writes to standard error, scrubbed. The only way dxctl writes to stderr.
pub fn stderr(text: &str) {
    let _ = std::io::stderr().lock().write_all(scrub(text).as_bytes());
}

thread_local! {
    /// Set while running code whose panics are caught and reported as errors (see [`contained`]).
    static CONTAINED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A panic [`contained`] caught.
#[derive(Debug)]
pub struct Panicked;

/// Runs `f`, turning a panic inside it into `Err` without printing it: for a dependency that panics on input it
/// was not built to refuse (hcl-rs arithmetic dividing by zero, say).
pub fn contained<T>(f: impl FnOnce() -> T) -> Result<T, Panicked> {
    CONTAINED.with(|c| c.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|_| Panicked);
    CONTAINED.with(|c| c.set(false));
    result
}

/// Panic messages go through the scrubber too.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        if CONTAINED.with(|c| c.get()) {
            return;
        }
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".into());
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        stderr(&format!(
            "dxctl panicked{location}: {payload}\nThis is a bug; please report it.\n"
        ));
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_are_scrubbed_in_every_form() {
        register("k3y-\"quoted\"-r3d4ct");
        let raw = "key k3y-\"quoted\"-r3d4ct here";
        assert_eq!(scrub(raw), "key (sensitive) here");
        let json = serde_json::to_string("k3y-\"quoted\"-r3d4ct").unwrap();
        assert!(!scrub(&json).contains("quoted"), "{}", scrub(&json));
        let masked = mask_in_place("a = \"k3y-\\\"quoted\\\"-r3d4ct\"");
        assert_eq!(masked.len(), "a = \"k3y-\\\"quoted\\\"-r3d4ct\"".len());
        assert!(!masked.contains("r3d4ct"));
    }

    #[test]
    fn snippets_star_the_longest_secret_first_and_keep_line_breaks() {
        register("ovl4p-head");
        register("ovl4p-head-and-tail");
        assert_eq!(
            mask_in_place("k = \"ovl4p-head-and-tail\""),
            format!("k = \"{}\"", "*".repeat(19))
        );
        register("h3redoc-line\n");
        assert_eq!(
            mask_in_place("<<EOT\nh3redoc-line\nEOT"),
            "<<EOT\n************\nEOT"
        );
    }

    #[test]
    fn short_values_are_left_to_places_that_know_them() {
        register("abc");
        assert_eq!(scrub("abc"), "abc");
        assert_eq!(
            mask_values("not applicable to \"abc\"", &["abc".into()]),
            "not applicable to \"(sensitive)\""
        );
    }
}
