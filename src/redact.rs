//! The one redaction point. Every secret value the run learns (literal and described auth keys, sensitive variables,
//! `env()`/`file()` values in sensitive places) is registered here, and every byte dxctl prints goes out through
//! `stdout`/`stderr` below, which scrub them. Nothing else in the crate writes to the terminal (a test enforces it),
//! so a new message or diagnostic cannot bypass it.

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use aho_corasick::{AhoCorasick, AhoCorasickKind};

/// What a secret is replaced with.
pub const MASK: &str = "(sensitive)";

/// Values shorter than this are not scrubbed from free text (they would mask ordinary words); AWS auth keys are
/// 6 to 80 characters. Places that know which value is secret (an evaluation error quoting one) mask any length.
pub const MIN_LEN: usize = 6;

/// Secrets are kept in levels, each with its automaton, like a binary counter: new ones gather in a pending level,
/// which becomes a level of its own once it holds this many when text is next scrubbed, and a level is merged into
/// the one before it while it is as large. Each secret is so in O(log n) automaton builds, not in one per
/// registration: an apply that learns thousands of keys (every peer it creates has one) would otherwise rebuild the
/// whole automaton after every new key. Nothing is built until text is scrubbed, so a plan that learns every key of
/// a large config and account before it prints builds one automaton for them all.
const PENDING: usize = 64;

struct Level {
    secrets: Vec<String>,
    /// `None` only if the automaton could not be built (it cannot fail for plain strings): matched one by one.
    matcher: Option<AhoCorasick>,
}

impl Level {
    /// A level searched with `kind`: a contiguous NFA for the merged levels (quick to search, quick to build), a
    /// noncontiguous one for the pending level, rebuilt after each new secret (quickest to build). Never a DFA, whose
    /// build cost would dominate an apply that learns a key per created peer.
    fn new(secrets: Vec<String>, kind: AhoCorasickKind) -> Level {
        // Standard semantics, for overlapping matches: every occurrence of every secret is found.
        let matcher = AhoCorasick::builder().kind(Some(kind)).build(&secrets).ok();
        Level { secrets, matcher }
    }

    fn spans(&self, text: &str, out: &mut Vec<(usize, usize)>) {
        match &self.matcher {
            Some(m) => out.extend(
                m.find_overlapping_iter(text)
                    .map(|found| (found.start(), found.end())),
            ),
            None => {
                for s in &self.secrets {
                    out.extend(
                        text.match_indices(s.as_str())
                            .map(|(at, _)| (at, at + s.len())),
                    );
                }
            }
        }
    }
}

#[derive(Default)]
struct Registry {
    /// Every registered form, for fast membership (every describe registers every key it sees).
    known: HashSet<String>,
    levels: Vec<Level>,
    /// Forms registered since the last level was made; their automaton is built on first use.
    pending: Vec<String>,
    pending_level: Option<Level>,
}

impl Registry {
    fn add(&mut self, form: String) {
        if !self.known.insert(form.clone()) {
            return;
        }
        self.pending.push(form);
        self.pending_level = None;
    }

    /// Makes a full pending level a level of its own, merging levels as a binary counter carries.
    fn settle(&mut self) {
        if self.pending.len() < PENDING {
            return;
        }
        self.levels.push(Level::new(
            std::mem::take(&mut self.pending),
            AhoCorasickKind::ContiguousNFA,
        ));
        while let [.., before, last] = self.levels.as_slice() {
            if last.secrets.len() < before.secrets.len() {
                break;
            }
            let (Some(last), Some(before)) = (self.levels.pop(), self.levels.pop()) else {
                break;
            };
            let mut merged = before.secrets;
            merged.extend(last.secrets);
            self.levels
                .push(Level::new(merged, AhoCorasickKind::ContiguousNFA));
        }
    }

    fn is_empty(&self) -> bool {
        self.known.is_empty()
    }

    /// Where secrets occur in `text`: the union of every occurrence of every secret, as sorted, disjoint byte ranges
    /// (an occurrence overlapping another, even of a shorter secret, is covered whole).
    fn spans(&mut self, text: &str) -> Vec<(usize, usize)> {
        self.settle();
        let mut found = Vec::new();
        for level in &self.levels {
            level.spans(text, &mut found);
        }
        if !self.pending.is_empty() {
            let pending = &self.pending;
            self.pending_level
                .get_or_insert_with(|| {
                    Level::new(pending.clone(), AhoCorasickKind::NoncontiguousNFA)
                })
                .spans(text, &mut found);
        }
        found.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(found.len());
        for (start, end) in found {
            match merged.last_mut() {
                Some(last) if start < last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        merged
    }
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
    for form in forms(value) {
        r.add(form);
    }
}

/// `text` with every registered secret replaced by [`MASK`].
pub fn scrub(text: &str) -> Cow<'_, str> {
    let mut r = registry().lock().unwrap_or_else(|p| p.into_inner());
    if r.is_empty() {
        return Cow::Borrowed(text);
    }
    let spans = r.spans(text);
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in spans {
        out.push_str(&text[at..start]);
        out.push_str(MASK);
        at = end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

/// `text` with every registered secret replaced by as many `*`, so byte offsets and line breaks stay put (for
/// source snippets). Overlapping secrets are starred whole.
pub fn mask_in_place(text: &str) -> String {
    let spans = registry()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .spans(text);
    let mut bytes = text.as_bytes().to_vec();
    for (start, end) in spans {
        for b in &mut bytes[start..end] {
            if *b != b'\n' && *b != b'\r' {
                *b = b'*';
            }
        }
    }
    // Secrets start and end on character boundaries (they are whole strings), and stars are ASCII.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
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

    #[test]
    fn thousands_of_secrets_in_many_levels_are_all_scrubbed_and_overlaps_leave_no_tail() {
        // Past PENDING secrets they live in several levels: each still masks, and the levels stay few.
        let keys: Vec<String> = (0..1000).map(|i| format!("lvl-key-{i:04}-x9q")).collect();
        for k in &keys {
            register(k);
        }
        for k in keys.iter().step_by(37) {
            assert_eq!(scrub(&format!("<{k}>")), "<(sensitive)>", "{k}");
        }
        let levels = registry().lock().unwrap().levels.len();
        assert!(levels <= 16, "{levels} levels");
        // A secret that starts inside another (registered far apart, so in different levels) is masked whole
        // with it: no tail of either survives.
        register("ovl-first-part-7q2");
        for i in 0..PENDING {
            register(&format!("ovl-filler-{i:03}-zz"));
        }
        // Scrubbing settles the full pending level, so the next secret is in another one.
        let _ = scrub("settle");
        register("part-7q2-and-tail-w8");
        let text = "x ovl-first-part-7q2-and-tail-w8 y";
        assert_eq!(scrub(text), "x (sensitive) y");
        let starred = mask_in_place(text);
        assert_eq!(starred.len(), text.len());
        assert!(
            !starred.contains("tail") && !starred.contains("first"),
            "{starred}"
        );
    }
}
