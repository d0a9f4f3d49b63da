//! The redaction point cannot be bypassed: outside src/redact.rs no code writes to the terminal itself. Every
//! message, diagnostic and progress line goes through `redact::stdout`/`redact::stderr` (via the Printer or the
//! progress writers), which scrub every secret the run knows. This scans the sources for any other way out.

use std::path::Path;

use super::support::repo;

/// Ways to write to the terminal that would skip the scrubber.
const FORBIDDEN: &[&str] = &[
    "println!",
    "eprintln!",
    "print!(",
    "eprint!(",
    "dbg!(",
    ".print()",
    "stdout().lock()",
    "stderr().lock()",
    "io::stdout().write",
    "io::stderr().write",
    "termcolor::StandardStream",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn nothing_but_the_redaction_point_writes_to_the_terminal() {
    let mut files = Vec::new();
    rust_files(&repo().join("src"), &mut files);
    assert!(files.len() > 20, "the scan found the sources");
    let mut found = Vec::new();
    for path in files {
        let rel = path.strip_prefix(repo()).unwrap().to_path_buf();
        if rel.ends_with("redact.rs") || rel.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // Test modules may print (figures in test output); only the shipped code is held to this.
        let shipped = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (i, line) in shipped.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for pattern in FORBIDDEN {
                if line.contains(pattern) {
                    found.push(format!("{}:{}: {}", rel.display(), i + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "terminal writes that skip src/redact.rs (use Printer, or redact::stdout/stderr):\n{}",
        found.join("\n")
    );
}
