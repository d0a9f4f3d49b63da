//! "No key is ever printed", tried from the outside: every error path this test can reach, run with distinctive
//! marker secrets (one per source, so a finding names the source that leaked), and every byte dxctl printed or
//! wrote grepped for them, as is, JSON- and Debug-escaped, and (for markers holding a `"`) by their runs between
//! quotes, which survive any escaping: stdout, stderr, and every file under the case's directory (state, backup,
//! plan file, lock, request log) except the ones the test wrote itself (configs, variable and key files) and world
//! files (the simulator's and the sandbox's copy: AWS data, keys included, by design). Each case also asserts how
//! each run ended and what it reported, so a case that stops reaching its path fails instead of passing vacuously.
//!
//! Cases run in parallel worker threads, each in its own directory with its own simulator or fake endpoint, all on
//! loopback; every dxctl run is bounded. Run with `--nocapture` to see the case table.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::support::*;

// One marker per source. Each is at least 12 characters and none contains another. Two hold a `"`, so their
// JSON-escaped form differs from the raw one and both are looked for.
/// A literal `auth_key = "..."` in a config file.
const LITERAL: &str = "MKliteral-\"q\"-7c1e0a";
/// A literal under a misspelt or misplaced key-like name (`authkey`, `auth-key`, `peer = { auth_key = ... }`).
const MISSPELT: &str = "MKmisspelt-4f2a9d";
/// The body of a heredoc `auth_key = <<EOT`.
const HEREDOC: &str = "MKheredoc-b81c3e";
/// A sensitive variable's value from `DXCTL_VAR_k`.
const VAR_ENV: &str = "MKvar-env-2d94f1";
/// A sensitive variable's value from `--var k=...`.
const VAR_CLI: &str = "MKvar-cli-90ae37";
/// A sensitive variable's value from `--var-file`.
const VAR_FILE: &str = "MKvar-file-5be0c2";
/// A sensitive variable's `default`.
const VAR_DEFAULT: &str = "MKvar-default-e61f08";
/// An environment variable read by `env("DX_KEY")` (and set, unreferenced, in every run).
const ENV: &str = "MKenv-fn-3a7d5c";
/// `AWS_SECRET_ACCESS_KEY`, set in every run (the SDK's credential, and read by `env()` in some configs).
const AWS_SECRET: &str = "MKaws-secret-c4f81b";
/// The content of a file read by `file()`.
const FILE: &str = "MKfile-fn-71b9e6";
/// A BGP peer's `authKey` as AWS (the simulator, or a fake endpoint) describes it.
const DESCRIBED: &str = "MKdescribed-\"d\"-0c5a77";
/// A virtual interface's own `authKey` as AWS describes it.
const DESCRIBED_VIF: &str = "MKvif-described-a9e312";
/// The part of a key after another, shorter key it starts with (masking the shorter first must not leave it).
const TAIL: &str = "MKtail-after-prefix-6d0b";

const MARKERS: &[(&str, &str)] = &[
    ("literal auth_key", LITERAL),
    ("misspelt key attribute", MISSPELT),
    ("heredoc auth_key", HEREDOC),
    ("sensitive var via DXCTL_VAR_k", VAR_ENV),
    ("sensitive var via --var", VAR_CLI),
    ("sensitive var via --var-file", VAR_FILE),
    ("sensitive var default", VAR_DEFAULT),
    ("env()", ENV),
    ("AWS_SECRET_ACCESS_KEY", AWS_SECRET),
    ("file()", FILE),
    ("described peer authKey", DESCRIBED),
    ("described VIF authKey", DESCRIBED_VIF),
    ("tail of a longer key", TAIL),
];

/// The longest one dxctl run may take.
const LIMIT: Duration = Duration::from_secs(60);
const WORKERS: usize = 8;
const VIF: &str = "dxvif-fgsecre1";

/// A string literal in HCL (the escapes the markers need are JSON's).
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// The forms a marker may take in output: as is, JSON-escaped and Debug-escaped (without the quotes).
fn forms(marker: &str) -> Vec<String> {
    let json = serde_json::to_string(marker).unwrap();
    let debug = format!("{marker:?}");
    let mut out = vec![
        marker.to_string(),
        json[1..json.len() - 1].to_string(),
        debug[1..debug.len() - 1].to_string(),
    ];
    out.sort();
    out.dedup();
    out
}

/// The runs of a marker between the characters escaping changes (`"`, `\\`) that are long enough to be
/// distinctive: found after any number of escapings (a JSON body quoted in a Debug string, say).
fn fragments(marker: &str) -> Vec<String> {
    marker
        .split(['"', '\\'])
        .filter(|f| f.len() >= 10 && f.len() < marker.len())
        .map(str::to_string)
        .collect()
}

/// Every (source, form) found in `bytes`, with a little context.
fn find_markers(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut found = Vec::new();
    for (source, marker) in MARKERS {
        let mut looked = forms(marker);
        looked.extend(fragments(marker));
        for form in looked {
            if let Some(at) = text.find(&form) {
                let start = text.floor_char_boundary(at.saturating_sub(60));
                let end = text.ceil_char_boundary((at + form.len() + 20).min(text.len()));
                found.push(format!(
                    "{source} marker {form:?} in: ...{}...",
                    text[start..end].replace('\n', "\\n")
                ));
                break;
            }
        }
    }
    found
}

/// One case's working state: its directory, what the test wrote there, and what dxctl printed.
struct Ctx {
    dir: PathBuf,
    runs_dir: PathBuf,
    written: BTreeSet<PathBuf>,
    /// Files that hold keys by design (a simulator or sandbox world), with why.
    exempt: BTreeSet<PathBuf>,
    /// (label, bytes) of everything dxctl printed, plus snapshots taken mid-run (lock info).
    outputs: Vec<(String, Vec<u8>)>,
    problems: Vec<String>,
    runs: usize,
    /// Fixture cases: whether some run's stderr showed a starred snippet (the planted key was in view).
    starred: bool,
}

impl Ctx {
    fn new(dir: &Path) -> Ctx {
        let runs_dir = dir.join(".runs");
        std::fs::create_dir_all(&runs_dir).unwrap();
        Ctx {
            dir: dir.to_path_buf(),
            runs_dir,
            written: BTreeSet::new(),
            exempt: BTreeSet::new(),
            outputs: Vec::new(),
            problems: Vec::new(),
            runs: 0,
            starred: false,
        }
    }

    /// Writes a file the test owns (never grepped).
    fn write(&mut self, rel: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        self.written.insert(path.clone());
        path
    }

    /// A config directory `name/` holding `main.hcl`.
    fn config(&mut self, name: &str, hcl: &str) -> PathBuf {
        self.write(&format!("{name}/main.hcl"), hcl);
        self.dir.join(name)
    }

    /// A world file for the simulator (holds keys by design).
    fn world(&mut self, world: &Value) -> PathBuf {
        let path = self.write("world.json", serde_json::to_string_pretty(world).unwrap());
        self.exempt.insert(path.clone());
        path
    }

    /// `dxctl` in the case directory with the secrets every run carries in its environment.
    fn cmd(&self) -> Command {
        let mut cmd = dxctl(&self.dir);
        cmd.env("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
            .env("DX_KEY", ENV);
        cmd
    }

    /// `dxctl --endpoint-url <sim> --state state/dxctl.state.json ...`.
    fn at(&self, url: &str) -> Command {
        let mut cmd = self.cmd();
        cmd.args(["--endpoint-url", url]);
        cmd
    }

    /// Runs `cmd` (bounded), keeps its output for the grep, and checks that it exited `code` and that its output
    /// says each of `says` (so the case reached its path).
    fn run(&mut self, label: &str, cmd: Command, code: i32, says: &[&str]) -> Finished {
        self.runs += 1;
        let name = format!("{:02}", self.runs);
        let out = run_bounded(cmd, &self.runs_dir, &name, LIMIT);
        self.check(label, &out, code, says);
        out
    }

    fn check(&mut self, label: &str, out: &Finished, want: i32, says: &[&str]) {
        self.outputs
            .push((format!("{label}: stdout"), out.stdout.clone().into_bytes()));
        self.outputs
            .push((format!("{label}: stderr"), out.stderr.clone().into_bytes()));
        if out.stderr.contains("**********") {
            self.starred = true;
        }
        if out.code != Some(want) {
            self.problems.push(format!(
                "{label}: exited {:?}, expected {want}\n--- stdout\n{}\n--- stderr\n{}",
                out.code, out.stdout, out.stderr
            ));
        }
        let both = format!("{}{}", out.stdout, out.stderr);
        for s in says {
            if !both.contains(s) {
                self.problems.push(format!(
                    "{label}: the output does not say {s:?} (the case did not reach its path)\n--- stdout\n{}\n--- stderr\n{}",
                    out.stdout, out.stderr
                ));
            }
        }
        if both.contains("panicked") {
            self.problems
                .push(format!("{label}: dxctl panicked:\n{both}"));
        }
    }

    fn fail(&mut self, what: impl Into<String>) {
        self.problems.push(what.into());
    }

    /// Every file under the case directory dxctl (or the simulator's request log) wrote, minus the exempt ones.
    fn written_by_dxctl(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let mut all = Vec::new();
        walk(&self.dir, &mut all);
        all.retain(|p| {
            !p.starts_with(&self.runs_dir) && !self.written.contains(p) && !self.exempt.contains(p)
        });
        all.sort();
        all
    }
}

/// One named case: the path it exercises and how to run it.
struct Case {
    name: String,
    path: String,
    body: Box<dyn Fn(&mut Ctx) + Send + Sync>,
}

fn case(name: &str, path: &str, body: impl Fn(&mut Ctx) + Send + Sync + 'static) -> Case {
    Case {
        name: name.to_string(),
        path: path.to_string(),
        body: Box::new(body),
    }
}

/// What a case came to.
struct Outcome {
    name: String,
    path: String,
    runs: usize,
    files: usize,
    leaks: Vec<String>,
    problems: Vec<String>,
    starred: bool,
}

fn run_case(c: &Case) -> Outcome {
    let tmp = tempfile::tempdir().unwrap();
    let mut ctx = Ctx::new(tmp.path());
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (c.body)(&mut ctx)));
    if let Err(e) = ran {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        ctx.fail(format!("the case itself failed: {msg}"));
    }
    let mut leaks = Vec::new();
    for (label, bytes) in &ctx.outputs {
        for f in find_markers(bytes) {
            leaks.push(format!("{label}: {f}"));
        }
    }
    let files = ctx.written_by_dxctl();
    for path in &files {
        let bytes = std::fs::read(path).unwrap_or_default();
        let rel = path.strip_prefix(&ctx.dir).unwrap_or(path).display();
        for f in find_markers(&bytes) {
            leaks.push(format!("file {rel}: {f}"));
        }
    }
    Outcome {
        name: c.name.clone(),
        path: c.path.clone(),
        runs: ctx.runs,
        files: files.len(),
        leaks,
        problems: ctx.problems,
        starred: ctx.starred,
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Configs.

const PROVIDER: &str = "provider \"aws\" {\n  region = \"us-east-1\"\n}\n";
const SENSITIVE_K: &str = "variable \"k\" {\n  type      = string\n  sensitive = true\n}\n";

/// A provider, the sensitive variable `k`, and one VIF holding `peers`.
fn with_k(peers: &str) -> String {
    format!("{PROVIDER}{SENSITIVE_K}virtual_interface \"{VIF}\" {{\n{peers}}}\n")
}

/// A peer block whose `auth_key` line is `key_line` (verbatim).
fn peer(label: &str, family: &str, asn: u32, key_line: &str) -> String {
    format!(
        "  bgp_peer \"{label}\" {{\n    address_family = \"{family}\"\n    asn            = {asn}\n    {key_line}\n  }}\n"
    )
}

/// A config with one IPv6 peer whose auth_key is `expr`.
fn key_expr(expr: &str) -> String {
    with_k(&peer("p", "ipv6", 64600, &format!("auth_key = {expr}")))
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Evaluation errors.

fn evaluation_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    // (name, path exercised, setup giving (config, environment, extra arguments), what the output must say)
    type Setup = fn(&mut Ctx) -> (String, Vec<(&'static str, String)>, Vec<String>);
    let table: Vec<(&str, &str, Setup, &[&str])> = vec![
        (
            "eval/var-plus-one",
            "auth_key = var.k + 1, k from DXCTL_VAR_k: hcl-rs quotes the operand",
            |_| {
                (
                    key_expr("var.k + 1"),
                    vec![("DXCTL_VAR_k", VAR_ENV.into())],
                    vec![],
                )
            },
            &["error[evaluation]", "cannot evaluate `auth_key`"],
        ),
        (
            "eval/var-get-attr",
            "auth_key = var.k.foo: attribute of a string",
            |_| {
                (
                    key_expr("var.k.foo"),
                    vec![("DXCTL_VAR_k", VAR_ENV.into())],
                    vec![],
                )
            },
            &["error[evaluation]"],
        ),
        (
            "eval/var-conditional",
            "auth_key = var.k ? ...: a string as a condition",
            |_| {
                (
                    key_expr("var.k ? \"aaaaaaaa\" : \"bbbbbbbb\""),
                    vec![("DXCTL_VAR_k", VAR_ENV.into())],
                    vec![],
                )
            },
            &["error[evaluation]"],
        ),
        (
            "eval/var-for",
            "auth_key = [for c in var.k : c]: a string as a collection",
            |_| {
                (
                    key_expr("[for c in var.k : c]"),
                    vec![("DXCTL_VAR_k", VAR_ENV.into())],
                    vec![],
                )
            },
            &["error[evaluation]"],
        ),
        (
            "eval/var-in-template",
            "auth_key = \"${var.k}-x\" * 2: the quoted value is longer than the secret",
            |_| {
                (
                    key_expr("\"${var.k}-x\" * 2"),
                    vec![("DXCTL_VAR_k", VAR_ENV.into())],
                    vec![],
                )
            },
            &["error[evaluation]"],
        ),
        (
            "eval/var-cli",
            "auth_key = var.k + 1, k from --var",
            |_| {
                (
                    key_expr("var.k + 1"),
                    vec![],
                    vec!["--var".into(), format!("k={VAR_CLI}")],
                )
            },
            &["error[evaluation]"],
        ),
        (
            "eval/var-file",
            "auth_key = var.k + 1, k from --var-file",
            |ctx| {
                let vf = ctx.write("vars.hcl", format!("k = {}\n", q(VAR_FILE)));
                (
                    key_expr("var.k + 1"),
                    vec![],
                    vec!["--var-file".into(), vf.display().to_string()],
                )
            },
            &["error[evaluation]"],
        ),
        (
            "eval/var-default",
            "auth_key = var.k + 1, k from its default",
            |_| {
                let hcl = format!(
                    "{PROVIDER}variable \"k\" {{\n  sensitive = true\n  default   = {}\n}}\nvirtual_interface \"{VIF}\" {{\n{}}}\n",
                    q(VAR_DEFAULT),
                    peer("p", "ipv6", 64600, "auth_key = var.k + 1")
                );
                (hcl, vec![], vec![])
            },
            &["error[evaluation]"],
        ),
        (
            "eval/var-in-asn",
            "asn = var.k + 1: a sensitive variable in a non-secret position",
            |_| {
                let hcl = with_k(
                    "  bgp_peer \"p\" {\n    address_family = \"ipv6\"\n    asn = var.k + 1\n  }\n",
                );
                (hcl, vec![("DXCTL_VAR_k", VAR_ENV.into())], vec![])
            },
            &["error[evaluation]", "cannot evaluate `asn`"],
        ),
        (
            "eval/var-in-address",
            "customer_address = var.k: a sensitive non-address reported by the address rules",
            |_| {
                let hcl = with_k(
                    "  bgp_peer \"p\" {\n    address_family = \"ipv4\"\n    asn = 65000\n    amazon_address = \"169.254.255.1/30\"\n    customer_address = var.k\n  }\n",
                );
                (hcl, vec![("DXCTL_VAR_k", VAR_ENV.into())], vec![])
            },
            &["error[address-cidr]"],
        ),
        (
            "eval/var-wrong-type",
            "a sensitive variable of type number given a string by DXCTL_VAR_k",
            |_| {
                let hcl = format!(
                    "{PROVIDER}variable \"k\" {{\n  type      = number\n  sensitive = true\n}}\nvirtual_interface \"{VIF}\" {{\n{}}}\n",
                    peer("p", "ipv6", 64600, "auth_key = \"${var.k}\"")
                );
                (hcl, vec![("DXCTL_VAR_k", VAR_ENV.into())], vec![])
            },
            &["error[variable-type]"],
        ),
        (
            "eval/var-too-long",
            "auth_key = var.k with a value over 80 characters: auth-key-length",
            |_| {
                let long = format!("{VAR_ENV}-{}", "x".repeat(80));
                (key_expr("var.k"), vec![("DXCTL_VAR_k", long)], vec![])
            },
            &["error[auth-key-length]"],
        ),
        (
            "eval/env-of-var",
            "auth_key = env(var.k): the unset variable's name is the secret",
            |_| {
                (
                    key_expr("env(var.k)"),
                    vec![("DXCTL_VAR_k", VAR_ENV.into())],
                    vec![],
                )
            },
            &["error[evaluation]"],
        ),
        (
            "eval/env-times-two",
            "auth_key = env(\"DX_KEY\") * 2",
            |_| (key_expr("env(\"DX_KEY\") * 2"), vec![], vec![]),
            &["error[evaluation]"],
        ),
        (
            "eval/env-in-template",
            "auth_key = \"${env(\"DX_KEY\")}-x\" + 1",
            |_| (key_expr("\"${env(\"DX_KEY\")}-x\" + 1"), vec![], vec![]),
            &["error[evaluation]"],
        ),
        (
            "eval/aws-secret-auth-key",
            "auth_key = env(\"AWS_SECRET_ACCESS_KEY\") + 0",
            |_| {
                (
                    key_expr("env(\"AWS_SECRET_ACCESS_KEY\") + 0"),
                    vec![],
                    vec![],
                )
            },
            &["error[evaluation]"],
        ),
        (
            "eval/aws-secret-region",
            "region = env(\"AWS_SECRET_ACCESS_KEY\") + 0: an env() value in a non-secret position",
            |_| {
                let hcl = format!(
                    "provider \"aws\" {{\n  region = env(\"AWS_SECRET_ACCESS_KEY\") + 0\n}}\nvirtual_interface \"{VIF}\" {{\n{}}}\n",
                    peer("p", "ipv6", 64600, "")
                );
                (hcl, vec![], vec![])
            },
            &["error[evaluation]", "cannot evaluate `region`"],
        ),
        (
            "eval/file-plus-zero",
            "auth_key = file(\"<abs path>\") + 0",
            |ctx| {
                let key = ctx.write("keys/dx.key", format!("{FILE}\n"));
                (
                    key_expr(&format!("file({}) + 0", q(&key.display().to_string()))),
                    vec![],
                    vec![],
                )
            },
            &["error[evaluation]"],
        ),
        (
            "eval/file-in-region",
            "region = file(\"...\") + 0: a file() value in a non-secret position",
            |ctx| {
                let key = ctx.write("keys/dx.key", format!("{FILE}\n"));
                let hcl = format!(
                    "provider \"aws\" {{\n  region = file({}) + 0\n}}\nvirtual_interface \"{VIF}\" {{\n{}}}\n",
                    q(&key.display().to_string()),
                    peer("p", "ipv6", 64600, "")
                );
                (hcl, vec![], vec![])
            },
            &["error[evaluation]", "cannot evaluate `region`"],
        ),
        (
            "eval/file-of-env",
            "auth_key = file(env(\"DX_KEY\")): the env() value is the path file() cannot read",
            |_| (key_expr("file(env(\"DX_KEY\"))"), vec![], vec![]),
            &["error[evaluation]"],
        ),
        (
            "eval/env-of-env",
            "auth_key = env(env(\"DX_KEY\")): the env() value names an unset variable",
            |_| (key_expr("env(env(\"DX_KEY\"))"), vec![], vec![]),
            &["error[evaluation]"],
        ),
    ];
    for (name, path, setup, says) in table {
        cases.push(case(name, path, move |ctx| {
            let (hcl, env, args) = setup(ctx);
            let cfg = ctx.config("cfg", &hcl);
            for sub in [&["validate"][..], &["-v", "plan"][..]] {
                let mut cmd = ctx.at("http://127.0.0.1:9");
                cmd.args(sub).args(&args).arg(&cfg);
                for (k, v) in &env {
                    cmd.env(k, v);
                }
                ctx.run(&sub.join(" "), cmd, 1, says);
            }
        }));
    }
    cases
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Snippets and hints that would show a literal key.

fn snippet_cases() -> Vec<Case> {
    let lit = format!("auth_key = {}", q(LITERAL));
    let table: Vec<(&str, &str, String, &str)> = vec![
        (
            "snippet/duplicate-label",
            "duplicate-label: the second block (shown whole) holds the key",
            with_k(&format!(
                "{}{}",
                peer("p", "ipv6", 64600, ""),
                peer("p", "ipv4", 65000, &lit)
            )),
            "error[duplicate-label]",
        ),
        (
            "snippet/duplicate-vif",
            "duplicate-vif: the second VIF block (shown whole) holds a keyed peer",
            format!(
                "{}virtual_interface \"{VIF}\" {{\n{}}}\n",
                with_k(&peer("p", "ipv6", 64600, "")),
                peer("q", "ipv4", 65000, &lit)
            ),
            "error[duplicate-vif]",
        ),
        (
            "snippet/peer-label",
            "peer-label: a two-label bgp_peer block (shown whole) holds the key",
            with_k(&peer("p", "ipv6", 64600, &lit).replace("\"p\"", "\"p\" \"extra\"")),
            "error[peer-label]",
        ),
        (
            "snippet/vif-label",
            "vif-label: an unlabelled VIF block (shown whole) holds a keyed peer",
            format!(
                "{PROVIDER}virtual_interface {{\n{}}}\n",
                peer("p", "ipv6", 64600, &lit)
            ),
            "error[vif-label]",
        ),
        (
            "snippet/provider-attribute",
            "unknown-attribute: auth_key written in the provider block",
            format!("provider \"aws\" {{\n  region = \"us-east-1\"\n  {lit}\n}}\n"),
            "error[unknown-attribute]",
        ),
        (
            "snippet/overlapping-keys",
            "duplicate-label: a shown key that starts with another, earlier key",
            {
                let short = "MKoverlap-head-1f3c";
                with_k(&format!(
                    "{}{}",
                    peer("p", "ipv6", 64600, &format!("auth_key = {}", q(short))),
                    peer("p", "ipv4", 65000, &format!("auth_key = {}", q(&format!("{short}{TAIL}"))))
                ))
            },
            "error[duplicate-label]",
        ),
        (
            "snippet/heredoc-duplicate-label",
            "duplicate-label: the shown block's key is a heredoc",
            with_k(&format!(
                "{}{}",
                peer("p", "ipv6", 64600, ""),
                peer("p", "ipv4", 65000, &format!("auth_key = <<EOT\n{HEREDOC}\nEOT"))
            )),
            "error[duplicate-label]",
        ),
        (
            "snippet/heredoc-indented",
            "vif-label: the shown block's key is an indented heredoc (<<-EOT)",
            format!(
                "{PROVIDER}virtual_interface {{\n{}}}\n",
                peer("p", "ipv6", 64600, &format!("auth_key = <<-EOT\n      {HEREDOC}\n    EOT"))
            ),
            "error[vif-label]",
        ),
        (
            "snippet/duplicate-variable-default",
            "duplicate-variable: the second sensitive variable (shown whole) has a literal default",
            format!(
                "{PROVIDER}{SENSITIVE_K}variable \"k\" {{\n  sensitive = true\n  default   = {}\n}}\n",
                q(VAR_DEFAULT)
            ),
            "error[duplicate-variable]",
        ),
        (
            "snippet/duplicate-variable-heredoc",
            "duplicate-variable: the second sensitive variable's default is a heredoc",
            format!(
                "{PROVIDER}{SENSITIVE_K}variable \"k\" {{\n  sensitive = true\n  default   = <<EOT\n{VAR_DEFAULT}\nEOT\n}}\n"
            ),
            "error[duplicate-variable]",
        ),
        (
            "snippet/variable-label-default",
            "variable-label: an unlabelled sensitive variable (shown whole) with a default",
            format!(
                "{PROVIDER}variable {{\n  sensitive = true\n  default   = {}\n}}\n",
                q(VAR_DEFAULT)
            ),
            "error[variable-label]",
        ),
        (
            "snippet/sensitive-default-list",
            "duplicate-variable: a sensitive default that is a list of strings",
            format!(
                "{PROVIDER}{SENSITIVE_K}variable \"k\" {{\n  sensitive = true\n  default   = [{}]\n}}\n",
                q(VAR_DEFAULT)
            ),
            "error[duplicate-variable]",
        ),
        (
            "syntax/unterminated-string",
            "syntax: the auth_key string is not closed (snippet and 'this line reads' hint)",
            with_k(&peer("p", "ipv6", 64600, &format!("auth_key = \"{}", &q(LITERAL)[1..q(LITERAL).len() - 1]))),
            "error[syntax]",
        ),
        (
            "syntax/missing-equals",
            "syntax: `auth_key \"...\"` without `=`",
            with_k(&peer("p", "ipv6", 64600, &format!("auth_key {}", q(LITERAL)))),
            "error[syntax]",
        ),
        (
            "syntax/missing-value",
            "syntax: `auth_key =` with the key on the next line",
            with_k(&peer("p", "ipv6", 64600, &format!("auth_key =\n      {}", q(LITERAL)))),
            "error[syntax]",
        ),
        (
            "syntax/missing-operand",
            "syntax: `auth_key = \"...\" +` with nothing after the operator",
            with_k(&peer("p", "ipv6", 64600, &format!("auth_key = {} +", q(LITERAL)))),
            "error[syntax]",
        ),
        (
            "syntax/stray-token",
            "syntax: a stray token after the key on its line",
            with_k(&peer("p", "ipv6", 64600, &format!("auth_key = {} @", q(LITERAL)))),
            "error[syntax]",
        ),
        (
            "syntax/single-quoted",
            "syntax: the key in single quotes",
            with_k(&peer("p", "ipv6", 64600, &format!("auth_key = '{}'", &q(LITERAL)[1..q(LITERAL).len() - 1]))),
            "error[syntax]",
        ),
        (
            "syntax/duplicate-attribute",
            "syntax: auth_key given twice, the second line shown",
            with_k(&peer("p", "ipv6", 64600, &format!("auth_key = {}\n    {lit}", q("MKother-key-27c4")))),
            "error[syntax]",
        ),
        (
            "syntax/colon",
            "syntax: `auth_key: \"...\"`",
            with_k(&peer("p", "ipv6", 64600, &format!("auth_key: {}", q(LITERAL)))),
            "error[syntax]",
        ),
        (
            "misspelt/authkey",
            "unknown-attribute: `authkey = \"...\"`",
            with_k(&peer("p", "ipv6", 64600, &format!("authkey = {}", q(MISSPELT)))),
            "error[unknown-attribute]",
        ),
        (
            "misspelt/auth-key-dash",
            "unknown-attribute: `auth-key = \"...\"`",
            with_k(&peer("p", "ipv6", 64600, &format!("auth-key = {}", q(MISSPELT)))),
            "error[unknown-attribute]",
        ),
        (
            "misspelt/authKey-camel",
            "unknown-attribute: `authKey = \"...\"`",
            with_k(&peer("p", "ipv6", 64600, &format!("authKey = {}", q(MISSPELT)))),
            "error[unknown-attribute]",
        ),
        (
            "misspelt/md5-password",
            "unknown-attribute: `bgp_md5 = \"...\"` next to a misspelt `auth_kye`",
            with_k(&peer(
                "p",
                "ipv6",
                64600,
                &format!("auth_kye = {}\n    bgp_md5 = {}", q(MISSPELT), q(MISSPELT)),
            )),
            "error[unknown-attribute]",
        ),
        (
            "misspelt/object-attribute",
            "unknown-attribute: `peer = { auth_key = \"...\" }` (shown whole)",
            with_k(&peer("p", "ipv6", 64600, &format!("peer = {{ auth_key = {} }}", q(MISSPELT)))),
            "error[unknown-attribute]",
        ),
        (
            "misspelt/nested-block",
            "unknown-block: `auth { key = \"...\" }` inside a peer",
            with_k(&peer("p", "ipv6", 64600, &format!("auth {{\n      key = {}\n    }}", q(MISSPELT)))),
            "error[unknown-block]",
        ),
    ];
    let mut cases = Vec::new();
    for (name, path, hcl, says) in table {
        cases.push(case(name, path, move |ctx| {
            let cfg = ctx.config("cfg", &hcl);
            let mut cmd = ctx.cmd();
            cmd.env("DXCTL_VAR_k", VAR_ENV).arg("validate").arg(&cfg);
            ctx.run("validate", cmd, 1, &[says]);
            let mut cmd = ctx.at("http://127.0.0.1:9");
            cmd.env("DXCTL_VAR_k", VAR_ENV)
                .args(["-v", "plan"])
                .arg(&cfg);
            ctx.run("-v plan", cmd, 1, &[says]);
        }));
    }

    // Variable files and --var.
    let config = with_k(&peer("p", "ipv6", 64600, "auth_key = var.k"));
    let var_files: Vec<(&str, &str, String, &str)> = vec![
        (
            "var-file/unterminated",
            "--var-file: syntax error on the line holding the value (unterminated)",
            format!("k = \"{VAR_FILE}\n"),
            "error[syntax]",
        ),
        (
            "var-file/missing-equals",
            "--var-file: syntax error on the line holding the value (no `=`)",
            format!("k {}\n", q(VAR_FILE)),
            "error[syntax]",
        ),
        (
            "var-file/evaluation",
            "--var-file: the value does not evaluate",
            format!("k = {} + 1\n", q(VAR_FILE)),
            "error[var-file]",
        ),
        (
            "var-file/block",
            "--var-file: a block instead of `name = value`",
            format!("k {{\n  value = {}\n}}\n", q(VAR_FILE)),
            "error[var-file]",
        ),
        (
            "var-file/undeclared",
            "--var-file: a value for an undeclared variable",
            format!("other = {}\n", q(VAR_FILE)),
            "error[undeclared-variable]",
        ),
    ];
    for (name, path, text, says) in var_files {
        let config = config.clone();
        cases.push(case(name, path, move |ctx| {
            let cfg = ctx.config("cfg", &config);
            let vf = ctx.write("secret.hcl", &text);
            let mut cmd = ctx.cmd();
            cmd.arg("validate").arg("--var-file").arg(&vf).arg(&cfg);
            ctx.run("validate", cmd, 1, &[says]);
        }));
    }
    {
        let config = config.clone();
        cases.push(case(
            "var-file/in-config-dir",
            "a variable file left in the config directory is read as config: unknown-attribute on `k = \"...\"`",
            move |ctx| {
                let cfg = ctx.config("cfg", &config);
                ctx.write("cfg/secrets.hcl", format!("k = {}\n", q(VAR_FILE)));
                let mut cmd = ctx.cmd();
                cmd.arg("validate").arg(&cfg);
                ctx.run("validate", cmd, 1, &["error[unknown-attribute]"]);
            },
        ));
    }
    let cli: Vec<(&str, &str, String, &str)> = vec![
        (
            "cli/var-without-equals",
            "--var NAMEVALUE without `=`: refused by the argument parser",
            format!("k{VAR_CLI}"),
            "--var",
        ),
        (
            "cli/var-without-name",
            "--var =VALUE: refused by the argument parser",
            format!("={VAR_CLI}"),
            "--var",
        ),
        (
            "cli/var-undeclared",
            "--var other=VALUE for an undeclared variable",
            format!("other={VAR_CLI}"),
            "error[undeclared-variable]",
        ),
    ];
    for (name, path, key_line) in [
        (
            "fmt/stray-token",
            "fmt and fmt --check on a file whose key line has a syntax error",
            format!("auth_key = {} @", q(LITERAL)),
        ),
        (
            "fmt/unterminated",
            "fmt and fmt --check on a file whose key string is not closed",
            format!("auth_key = \"{}", &q(LITERAL)[1..q(LITERAL).len() - 1]),
        ),
    ] {
        cases.push(case(name, path, move |ctx| {
            let cfg = ctx.config("cfg", &with_k(&peer("p", "ipv6", 64600, &key_line)));
            for args in [&["fmt", "--check"][..], &["-v", "fmt"][..]] {
                let mut cmd = ctx.cmd();
                cmd.args(args).arg(&cfg);
                ctx.run(&args.join(" "), cmd, 1, &["error[syntax]"]);
            }
        }));
    }
    for (name, path, args) in [
        (
            "not-a-plan/show-world",
            "show PLANFILE given a world file (keys in it) instead of a plan",
            &["show", "world.json"][..],
        ),
        (
            "not-a-plan/apply-world",
            "apply PLANFILE given a world file (keys in it) instead of a plan",
            &["apply", "world.json"][..],
        ),
        (
            "not-a-state/state-list",
            "state list with --state naming a world file (keys in it)",
            &["--state", "world.json", "state", "list"][..],
        ),
    ] {
        cases.push(case(name, path, move |ctx| {
            ctx.world(&keyed_world("no", "100ms", vec![]));
            let mut cmd = ctx.cmd();
            cmd.args(args);
            ctx.run(&args.join(" "), cmd, 1, &["Error"]);
        }));
    }
    for (name, path, value, says) in cli {
        let config = config.clone();
        cases.push(case(name, path, move |ctx| {
            let cfg = ctx.config("cfg", &config);
            let mut cmd = ctx.cmd();
            cmd.env("DXCTL_VAR_k", VAR_ENV)
                .args(["validate", "--var", &value])
                .arg(&cfg);
            ctx.run("validate", cmd, 1, &[says]);
        }));
    }
    cases
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Every invalid fixture, with a marker key planted in view.

fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo().join("tests/fixtures/invalid"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A peer holding the literal marker.
fn planted_peer(indent: &str) -> String {
    format!(
        "{indent}bgp_peer \"planted\" {{\n{indent}  address_family = \"ipv4\"\n{indent}  asn = 65123\n{indent}  auth_key = {}\n{indent}}}\n",
        q(LITERAL)
    )
}

/// `text` with the literal marker planted where a snippet of the fixture's error would show it: as the value of a
/// literal key (too long, when the fixture's key is too long), in every peer without a key, else in a new peer in
/// every VIF, else in a new VIF; a sensitive variable's literal default becomes a marker too.
fn plant(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    let mut planted = false;
    let sensitive = text.contains("sensitive");
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        let indent = &line[..line.len() - t.len()];
        if let Some(value) = t.strip_prefix("auth_key = \"") {
            if value.len() > 81 {
                let long = format!("{LITERAL}-{}", "k".repeat(80));
                out.push_str(&format!("{indent}auth_key = {}\n", q(&long)));
                planted = true;
                continue;
            }
        }
        if sensitive && t.starts_with("default") && t.contains('"') {
            let key = &t[..t.find('=').unwrap()];
            out.push_str(&format!("{indent}{key}= {}\n", q(VAR_DEFAULT)));
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if t.starts_with("bgp_peer") && t.ends_with('{') {
            let has_key = lines[i + 1..]
                .iter()
                .take_while(|l| l.trim() != "}")
                .any(|l| l.trim_start().starts_with("auth_key"));
            if !has_key {
                out.push_str(&format!("{indent}  auth_key = {}\n", q(LITERAL)));
                planted = true;
            }
        }
    }
    if planted {
        return out;
    }
    let mut again = String::new();
    for line in out.lines() {
        again.push_str(line);
        again.push('\n');
        if line.starts_with("virtual_interface ") && line.ends_with('{') {
            again.push_str(&planted_peer("  "));
            planted = true;
        }
    }
    if !planted {
        again.push_str(&format!(
            "\nvirtual_interface \"dxvif-fgplant1\" {{\n{}}}\n",
            planted_peer("  ")
        ));
    }
    again
}

fn fixture_cases() -> Vec<Case> {
    let names = fixture_names();
    assert!(
        names.len() >= 61,
        "invalid fixtures went missing: {names:?}"
    );
    names
        .into_iter()
        .map(|name| {
            let rule = name.split("--").next().unwrap().to_string();
            let path =
                format!("fixture {name}: error[{rule}] with a literal marker key planted in view");
            case(&format!("fixture/{name}"), &path, move |ctx| {
                let src = repo().join("tests/fixtures/invalid").join(&name);
                let mut env: Vec<(String, String)> = Vec::new();
                let mut files: Vec<_> = std::fs::read_dir(&src)
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .collect();
                files.sort();
                for file in files {
                    let bytes = std::fs::read(&file).unwrap();
                    let fname = file.file_name().unwrap().to_string_lossy().into_owned();
                    let planted = match String::from_utf8(bytes.clone()) {
                        Ok(text) => {
                            if text.contains("sensitive") {
                                for l in text.lines().filter(|l| l.starts_with("variable \"")) {
                                    let var = l.split('"').nth(1).unwrap();
                                    env.push((format!("DXCTL_VAR_{var}"), VAR_ENV.into()));
                                }
                            }
                            plant(&text).into_bytes()
                        }
                        // Not UTF-8 (the encoding fixture): append a keyed VIF as bytes.
                        Err(_) => {
                            let mut b = bytes;
                            b.extend_from_slice(
                                format!(
                                    "\nvirtual_interface \"dxvif-fgplant1\" {{\n{}}}\n",
                                    planted_peer("  ")
                                )
                                .as_bytes(),
                            );
                            b
                        }
                    };
                    ctx.write(&format!("cfg/{fname}"), planted);
                }
                let mut cmd = ctx.cmd();
                cmd.arg("validate").arg(ctx.dir.join("cfg"));
                for (k, v) in &env {
                    cmd.env(k, v);
                }
                let says = format!("error[{rule}]");
                ctx.run("validate", cmd, 1, &[&says]);
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------------------------
// 4. An answer that cannot be read, from a fake Direct Connect endpoint.

/// A one-request-per-connection HTTP/1.1 responder on loopback, answering each operation (matched by its lowercase
/// name in `X-Amz-Target`) with its body from `answers`, any other with `{}`; counts what it answered; stops when
/// dropped.
struct FakeEndpoint {
    port: u16,
    stop: Arc<AtomicBool>,
    served: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeEndpoint {
    fn start(answers: Vec<(&'static str, String)>) -> FakeEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicUsize::new(0));
        let (stop2, served2) = (stop.clone(), served.clone());
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !stop2.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        if Self::serve(stream, &answers).is_some() {
                            served2.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FakeEndpoint {
            port,
            stop,
            served,
            thread: Some(thread),
        }
    }

    fn serve(mut stream: TcpStream, answers: &[(&str, String)]) -> Option<()> {
        stream.set_nonblocking(false).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > 1 << 20 {
                return None;
            }
            let n = stream.read(&mut chunk).ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
            .min(1 << 20);
        while buf.len() < head_end + length {
            let n = stream.read(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body = answers
            .iter()
            .find(|(op, _)| head.contains(&format!("overtureservice.{op}\r")))
            .map_or("{}", |(_, b)| b.as_str());
        write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-RequestId: fake-1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .ok()?;
        stream.flush().ok()
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for FakeEndpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn described_peer(id: &str, family: &str, asn: u32) -> Value {
    let mut p = json!({
        "bgpPeerId": id, "addressFamily": family, "asn": asn, "authKey": DESCRIBED,
        "bgpPeerState": "available", "bgpStatus": "up",
    });
    if family == "ipv4" {
        p["amazonAddress"] = "169.254.10.1/30".into();
        p["customerAddress"] = "169.254.10.2/30".into();
    }
    p
}

fn unreadable_cases() -> Vec<Case> {
    // Each answer lists the keyed peers before the field that cannot be read, so they are parsed first.
    let answers: Vec<(&str, &str, String, &str)> = vec![
        (
            "unreadable/mtu-not-a-number",
            "DescribeVirtualInterfaces answer whose VIF has keyed peers and mtu \"not-a-number\"",
            format!(
                "{{\"virtualInterfaces\":[{{\"virtualInterfaceId\":\"{VIF}\",\"virtualInterfaceState\":\"available\",\"virtualInterfaceType\":\"private\",\"connectionId\":\"dxcon-fgsecre1\",\"authKey\":{},\"bgpPeers\":[{},{}],\"mtu\":\"not-a-number\"}}]}}",
                q(DESCRIBED_VIF),
                described_peer("dxpeer-fgsec001", "ipv4", 65000),
                described_peer("dxpeer-fgsec002", "ipv6", 64600),
            ),
            "could not be read",
        ),
        (
            "unreadable/truncated",
            "DescribeVirtualInterfaces answer cut off right after a keyed peer",
            format!(
                "{{\"virtualInterfaces\":[{{\"virtualInterfaceId\":\"{VIF}\",\"authKey\":{},\"bgpPeers\":[{}",
                q(DESCRIBED_VIF),
                described_peer("dxpeer-fgsec001", "ipv4", 65000),
            ),
            "could not be read",
        ),
        (
            "unreadable/peer-family",
            "DescribeVirtualInterfaces answer that parses but has a peer dxctl refuses (address family ipv7)",
            format!(
                "{{\"virtualInterfaces\":[{{\"virtualInterfaceId\":\"{VIF}\",\"virtualInterfaceState\":\"available\",\"virtualInterfaceType\":\"private\",\"connectionId\":\"dxcon-fgsecre1\",\"authKey\":{},\"bgpPeers\":[{},{}]}}]}}",
                q(DESCRIBED_VIF),
                described_peer("dxpeer-fgsec001", "ipv4", 65000),
                json!({"bgpPeerId": "dxpeer-fgsec003", "addressFamily": "ipv7", "asn": 65001, "authKey": DESCRIBED}),
            ),
            "address family",
        ),
    ];
    let config = with_k(&format!(
        "{}{}",
        peer(
            "v4",
            "ipv4",
            65000,
            "amazon_address = \"169.254.10.1/30\"\n    customer_address = \"169.254.10.2/30\""
        ),
        peer("v6", "ipv6", 64600, "auth_key = var.k")
    ));
    let mut cases: Vec<Case> = answers
        .into_iter()
        .map(|(name, path, body, says)| {
            let config = config.clone();
            case(name, path, move |ctx| {
                let fake = FakeEndpoint::start(vec![
                    ("describevirtualinterfaces", body.clone()),
                    ("describeconnections", "{\"connections\":[]}".into()),
                ]);
                let cfg = ctx.config("cfg", &config);
                for args in [
                    &["plan"][..],
                    &["-v", "plan"][..],
                    &["-vvv", "plan"][..],
                    &["plan", "--json"][..],
                ] {
                    let label = args.join(" ");
                    let mut cmd = ctx.at(&fake.url());
                    cmd.env("DXCTL_VAR_k", VAR_ENV)
                        .args(["--call-timeout", "5s"])
                        .args(args)
                        .arg(&cfg);
                    ctx.run(&label, cmd, 1, &[says]);
                }
                if fake.served.load(Ordering::Relaxed) == 0 {
                    ctx.fail("the fake endpoint was never asked");
                }
            })
        })
        .collect();
    let config = config.clone();
    cases.push(case(
        "unreadable/create-answer",
        "CreateBGPPeer answered 200 with a VIF (keyed peers, the new key among them) that does not deserialize",
        move |ctx| {
            let vif = |peers: Vec<Value>, extra: Value| {
                let mut v = json!({
                    "virtualInterfaceId": VIF, "virtualInterfaceState": "available", "virtualInterfaceType": "private",
                    "connectionId": "dxcon-fgsecre1", "authKey": DESCRIBED_VIF, "bgpPeers": peers,
                });
                if let Value::Object(m) = extra {
                    for (k, x) in m {
                        v[k] = x;
                    }
                }
                v
            };
            let listed = json!({"virtualInterfaces": [vif(vec![described_peer("dxpeer-fgsec001", "ipv4", 65000)], json!({}))]});
            let mut new_peer = described_peer("dxpeer-fgsec009", "ipv6", 64600);
            new_peer["authKey"] = VAR_ENV.into();
            let created = json!({"virtualInterface": vif(
                vec![described_peer("dxpeer-fgsec001", "ipv4", 65000), new_peer],
                json!({"mtu": "not-a-number"}),
            )});
            let fake = FakeEndpoint::start(vec![
                ("describevirtualinterfaces", listed.to_string()),
                ("describeconnections", json!({"connections": [{"connectionId": "dxcon-fgsecre1", "hasLogicalRedundancy": "no", "region": "us-east-1"}]}).to_string()),
                ("createbgppeer", created.to_string()),
            ]);
            let cfg = ctx.config("cfg", &config);
            for args in [&["-v", "apply", "--auto-approve"][..], &["-vvv", "apply", "--auto-approve"][..], &["apply", "--auto-approve", "--json"][..]] {
                let mut cmd = ctx.at(&fake.url());
                cmd.env("DXCTL_VAR_k", VAR_ENV)
                    .args(["--call-timeout", "2s"])
                    .args(args)
                    .args(["--poll-interval", "50ms", "--settle-window", "0s", "--timeout", "3s"])
                    .arg(&cfg);
                ctx.run(&args.join(" "), cmd, 1, &["HTTP 200"]);
            }
        },
    ));
    cases
}

// ---------------------------------------------------------------------------------------------------------------
// 5. Described keys, on the happy path and on failures.

/// A world whose VIF has one described, keyed IPv4 peer (and a keyed VIF), on a connection with the given logical
/// redundancy; `extra_peers` are added to the VIF.
fn keyed_world(redundancy: &str, delay: &str, extra_peers: Vec<Value>) -> Value {
    let mut peers = vec![described_peer("dxpeer-fgsec001", "ipv4", 65000)];
    peers.extend(extra_peers);
    json!({
        "virtualInterfaces": [{
            "virtualInterfaceId": VIF, "virtualInterfaceName": "secrets", "virtualInterfaceType": "private",
            "virtualInterfaceState": "available", "connectionId": "dxcon-fgsecre1", "ownerAccount": "123456789012",
            "region": "us-east-1", "location": "EqDC2", "vlan": 101, "asn": 65000, "addressFamily": "ipv4",
            "amazonAddress": "169.254.10.1/30", "customerAddress": "169.254.10.2/30", "authKey": DESCRIBED_VIF,
            "virtualGatewayId": "vgw-fgsecre1", "bgpPeers": peers
        }],
        "connections": [{
            "connectionId": "dxcon-fgsecre1", "connectionName": "secrets", "connectionState": "available",
            "region": "us-east-1", "location": "EqDC2", "bandwidth": "1Gbps", "ownerAccount": "123456789012",
            "hasLogicalRedundancy": redundancy
        }],
        "sim": { "provisionDelay": delay, "deletionDelay": "100ms", "bgpUpDelay": "50ms", "seed": 7 }
    })
}

/// The described IPv4 peer adopted as is (its key undeclared), and a new IPv6 peer keyed by the sensitive `k`.
fn adopt_and_add() -> String {
    with_k(&format!(
        "{}{}",
        peer(
            "v4",
            "ipv4",
            65000,
            "amazon_address = \"169.254.10.1/30\"\n    customer_address = \"169.254.10.2/30\""
        ),
        peer("v6", "ipv6", 64600, "auth_key = var.k")
    ))
}

const FAST: &[&str] = &["--poll-interval", "50ms"];
/// `status` on `keyed_world` after an apply: both sessions are up by then (`bgpUpDelay` 50ms), so it exits 0.
const STATUS_CODE: i32 = 0;

/// Starts a simulator on `world` in the case directory.
fn sim(ctx: &mut Ctx, world: &Value, extra: &[&str]) -> SimProcess {
    let path = ctx.world(world);
    SimProcess::start(&path, &ctx.dir, extra)
}

fn described_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    cases.push(case(
        "described/plan-outputs",
        "plan (human, -v, -q, --json, --format markdown, --detailed-exitcode) with a described key and a sensitive key to add",
        |ctx| {
            let sim = sim(ctx, &keyed_world("no", "100ms", vec![]), &[]);
            let cfg = ctx.config("cfg", &adopt_and_add());
            for (args, code) in [
                (&["plan"][..], 0),
                (&["-v", "plan"][..], 0),
                (&["plan", "--json"][..], 0),
                (&["-v", "plan", "--format", "markdown"][..], 0),
                (&["plan", "--detailed-exitcode"][..], 2),
                (&["-q", "plan"][..], 0),
            ] {
                let mut cmd = ctx.at(&sim.url());
                cmd.env("DXCTL_VAR_k", VAR_ENV).args(args).arg(&cfg);
                ctx.run(&args.join(" "), cmd, code, &["bgp_peer.v6"]);
            }
        },
    ));
    cases.push(case(
        "described/plan-out-show-apply",
        "plan --out PLANFILE, show PLANFILE, apply PLANFILE, show, state list, -v plan (no changes)",
        |ctx| {
            let sim = sim(ctx, &keyed_world("no", "100ms", vec![]), &[]);
            let cfg = ctx.config("cfg", &adopt_and_add());
            let planfile = ctx.dir.join("saved.plan");
            let mut cmd = ctx.at(&sim.url());
            cmd.env("DXCTL_VAR_k", VAR_ENV)
                .args(["-v", "plan", "--out"])
                .arg(&planfile)
                .arg(&cfg);
            ctx.run("-v plan --out", cmd, 0, &["Saved the plan"]);
            let mut cmd = ctx.at(&sim.url());
            cmd.arg("show").arg(&planfile);
            ctx.run("show PLANFILE", cmd, 0, &["Saved plan", "bgp_peer.v6"]);
            let mut cmd = ctx.at(&sim.url());
            cmd.env("DXCTL_VAR_k", VAR_ENV)
                .args(["-v", "apply"])
                .args(FAST)
                .arg(&planfile);
            ctx.run("-v apply PLANFILE", cmd, 0, &["Apply complete"]);
            let mut cmd = ctx.at(&sim.url());
            cmd.args(["-v", "show"]);
            ctx.run("show", cmd, 0, &["bgp_peer.v6"]);
            let mut cmd = ctx.at(&sim.url());
            cmd.args(["state", "list"]);
            ctx.run("state list", cmd, 0, &["bgp_peer.v4", "bgp_peer.v6"]);
            let mut cmd = ctx.at(&sim.url());
            cmd.args(["state", "list", "--json"]);
            ctx.run("state list --json", cmd, 0, &["bgp_peer.v6"]);
            let mut cmd = ctx.at(&sim.url());
            cmd.args(["state", "show"])
                .arg(format!("virtual_interface.{VIF}.bgp_peer.v6"));
            ctx.run("state show", cmd, 0, &["bgp_peer_id"]);
            for json in [false, true] {
                let mut cmd = ctx.at(&sim.url());
                cmd.env("DXCTL_VAR_k", VAR_ENV).args(["-v", "status"]);
                if json {
                    cmd.arg("--json");
                }
                cmd.arg(&cfg);
                ctx.run("-v status", cmd, STATUS_CODE, &["bgp_peer.v6"]);
            }
            let mut cmd = ctx.at(&sim.url());
            cmd.env("DXCTL_VAR_k", VAR_ENV)
                .args(["-v", "plan", "--detailed-exitcode"])
                .arg(&cfg);
            ctx.run("-v plan after apply", cmd, 0, &["No changes"]);
            if !planfile.exists() {
                ctx.fail("plan --out wrote no plan file");
            }
            if sim.count("CreateBGPPeer") != 1 {
                ctx.fail("the apply did not create the keyed peer");
            }
        },
    ));
    cases.push(case(
        "described/apply-human-and-json",
        "apply (human, -v), then a changed key's replacement with apply --json, then state list",
        |ctx| {
            let sim = sim(ctx, &keyed_world("yes", "100ms", vec![]), &[]);
            let cfg = ctx.config("cfg", &adopt_and_add());
            let mut cmd = ctx.at(&sim.url());
            cmd.env("DXCTL_VAR_k", VAR_ENV)
                .args(["-v", "apply", "--auto-approve"])
                .args(FAST)
                .arg(&cfg);
            ctx.run("-v apply", cmd, 0, &["Apply complete"]);
            // The v6 key changes (to one from env()): a replacement, streamed as JSON.
            let changed = with_k(&format!(
                "{}{}",
                peer("v4", "ipv4", 65000, "amazon_address = \"169.254.10.1/30\"\n    customer_address = \"169.254.10.2/30\""),
                peer("v6", "ipv6", 64600, "auth_key = env(\"DX_KEY\")")
            ));
            ctx.write("cfg/main.hcl", changed);
            let mut cmd = ctx.at(&sim.url());
            cmd.env("DXCTL_VAR_k", VAR_ENV)
                .args(["-v", "apply", "--auto-approve", "--json"])
                .args(FAST)
                .arg(&cfg);
            ctx.run("-v apply --json (replace)", cmd, 0, &["auth_key", "\"kind\""]);
            let mut cmd = ctx.at(&sim.url());
            cmd.args(["state", "list"]);
            ctx.run("state list", cmd, 0, &["bgp_peer.v6"]);
            if !ctx.dir.join("state/dxctl.state.json.backup").exists() {
                ctx.fail("no state .backup to grep");
            }
        },
    ));
    cases.push(case(
        "described/refused-plan",
        "plan (-v, -q, --json) and apply refused (replace-impossible): the literal key differs from the described one",
        |ctx| {
            let sim = sim(ctx, &keyed_world("no", "100ms", vec![]), &[]);
            let hcl = with_k(&peer(
                "v4",
                "ipv4",
                65000,
                &format!(
                    "amazon_address = \"169.254.10.1/30\"\n    customer_address = \"169.254.10.2/30\"\n    auth_key = {}",
                    q(LITERAL)
                ),
            ));
            let cfg = ctx.config("cfg", &hcl);
            for args in [
                &["-v", "plan"][..],
                &["-q", "plan"][..],
                &["plan", "--json"][..],
                &["-v", "apply", "--auto-approve"][..],
            ] {
                let mut cmd = ctx.at(&sim.url());
                cmd.env("DXCTL_VAR_k", VAR_ENV).args(args).arg(&cfg);
                ctx.run(&args.join(" "), cmd, 1, &["replace-impossible"]);
            }
        },
    ));
    cases.push(case(
        "described/create-refused-by-aws",
        "apply whose CreateBGPPeer AWS refuses (family-exclusive at the simulator; describes lag behind)",
        |ctx| {
            // Describes show the world as it was before an IPv4 peer dxctl does not know about was created.
            let mut world = keyed_world("no", "100ms", vec![]);
            world["virtualInterfaces"][0]["bgpPeers"] =
                json!([described_peer("dxpeer-fgsec002", "ipv6", 64600)]);
            let sim = sim(ctx, &world, &["--consistency-window", "1000h"]);
            let (status, body) = raw_create(
                sim.port,
                &json!({"virtualInterfaceId": VIF, "newBGPPeer": {
                    "asn": 65010, "addressFamily": "ipv4", "authKey": DESCRIBED}}),
            );
            if status != 200 {
                ctx.fail(format!("the hidden peer was not created: {status} {body}"));
            }
            let hcl = with_k(&format!(
                "{}{}",
                peer("v6", "ipv6", 64600, ""),
                peer("v4", "ipv4", 65000, "auth_key = env(\"DX_KEY\")")
            ));
            let cfg = ctx.config("cfg", &hcl);
            for args in [&["-v", "apply", "--auto-approve"][..], &["-vvv", "apply", "--auto-approve"][..], &["apply", "--auto-approve", "--json"][..]] {
                let mut cmd = ctx.at(&sim.url());
                cmd.env("DXCTL_VAR_k", VAR_ENV)
                    .args(args)
                    .args(FAST)
                    .args(["--timeout", "20s"])
                    .arg(&cfg);
                ctx.run(&args.join(" "), cmd, 1, &["logical redundancy"]);
            }
        },
    ));
    cases.push(case(
        "described/sigint-mid-apply",
        "SIGINT while an apply waits for a keyed peer (lock info read mid-run), then the resuming apply",
        sigint_case,
    ));
    cases.push(case(
        "described/sandbox",
        "--sandbox plan and apply with described keys (the sandbox's evolving world copy is exempt)",
        |ctx| {
            let world = ctx.world(&keyed_world("no", "100ms", vec![]));
            ctx.exempt.insert(ctx.dir.join("state/sandbox/world.json"));
            let cfg = ctx.config("cfg", &adopt_and_add());
            for (args, code, says) in [
                (&["-v", "plan"][..], 0, "bgp_peer.v6"),
                (&["-v", "apply", "--auto-approve", "--poll-interval", "50ms"][..], 0, "Apply complete"),
                (&["plan", "--json"][..], 0, "\"changes\""),
            ] {
                let mut cmd = ctx.cmd();
                cmd.env("DXCTL_VAR_k", VAR_ENV)
                    .arg("--sandbox")
                    .arg(&world)
                    .args(args)
                    .arg(&cfg);
                ctx.run(&args.join(" "), cmd, code, &[says]);
            }
        },
    ));
    cases
}

/// `dxctl import` writes HCL from described peers: their keys must reach neither its output nor its files (the
/// generated `*.hcl` are grepped like every file dxctl writes), nor the plan that adopts them.
fn import_cases() -> Vec<Case> {
    vec![case(
        "import/described-keys",
        "import (-v, --split-by connection, refused over existing files), then plan and apply of the imported config with the key from DXCTL_VAR_",
        |ctx| {
            let extra = vec![described_peer("dxpeer-fgsec002", "ipv6", 64700)];
            let sim = sim(ctx, &keyed_world("yes", "100ms", extra), &[]);
            for (args, code, says) in [
                (&["-v", "import", "--out", "imported"][..], 0, "variables.hcl"),
                (&["import", "--split-by", "connection", "--out", "by-connection"][..], 0, "dxcon-fgsecre1.hcl"),
                (&["-v", "import", "--out", "imported"][..], 1, "already holds"),
            ] {
                let mut cmd = ctx.at(&sim.url());
                cmd.args(args).args(["--regions", "us-east-1"]);
                ctx.run(&args.join(" "), cmd, code, &[says]);
            }
            for args in [&["-v", "plan"][..], &["-v", "apply", "--auto-approve"][..], &["plan", "--json"][..]] {
                let mut cmd = ctx.at(&sim.url());
                cmd.env("DXCTL_VAR_auth_key_dxvif_fgsecre1_ipv4", DESCRIBED)
                    .env("DXCTL_VAR_auth_key_dxvif_fgsecre1_ipv6", DESCRIBED)
                    .args(args)
                    .arg(ctx.dir.join("imported"));
                ctx.run(&args.join(" "), cmd, 0, &["dxvif-fgsecre1"]);
            }
            if sim.count("CreateBGPPeer") != 0 {
                ctx.fail("applying the imported config created a peer");
            }
        },
    )]
}

/// `CreateBGPPeer` sent straight to the simulator (it checks no signature unless its world lists credentials).
fn raw_create(port: u16, input: &Value) -> (u16, String) {
    let body = input.to_string();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: OvertureService.CreateBGPPeer\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/directconnect/aws4_request, SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (
        status,
        resp.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default(),
    )
}

#[cfg(unix)]
fn sigint_case(ctx: &mut Ctx) {
    let sim = sim(ctx, &keyed_world("no", "4s", vec![]), &[]);
    let cfg = ctx.config("cfg", &adopt_and_add());
    let out = ctx.runs_dir.join("sigint.stdout");
    let err = ctx.runs_dir.join("sigint.stderr");
    let mut cmd = ctx.at(&sim.url());
    cmd.env("DXCTL_VAR_k", VAR_ENV)
        .args(["-v", "apply", "--auto-approve"])
        .args(FAST)
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while sim.count("CreateBGPPeer") == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    // Whatever the running apply keeps on disk: the lock info, the state, the journal with its intent.
    let mut mid = String::new();
    for f in ctx.written_by_dxctl() {
        mid.push_str(&format!("{}:\n", f.display()));
        mid.push_str(&String::from_utf8_lossy(
            &std::fs::read(&f).unwrap_or_default(),
        ));
    }
    if !mid.contains("dxctl.state.json.lock.info") {
        ctx.fail(format!("no lock info was seen mid-apply:\n{mid}"));
    }
    if !mid.contains("dxctl.state.json.journal") {
        ctx.fail(format!("no state journal was seen mid-apply:\n{mid}"));
    }
    ctx.outputs
        .push(("files mid-apply".into(), mid.into_bytes()));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    ctx.runs += 1;
    let finished = Finished {
        code,
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
    };
    ctx.check(
        "-v apply, interrupted",
        &finished,
        130,
        &["Interrupt received"],
    );
    let mut cmd = ctx.at(&sim.url());
    cmd.env("DXCTL_VAR_k", VAR_ENV)
        .args(["-v", "apply", "--auto-approve"])
        .args(FAST)
        .arg(&cfg);
    ctx.run("-v apply, resumed", cmd, 0, &["Apply complete"]);
    let mut cmd = ctx.at(&sim.url());
    cmd.args(["state", "list"]);
    ctx.run("state list", cmd, 0, &["bgp_peer.v6"]);
    if !ctx.dir.join("state/dxctl.state.json.backup").exists() {
        ctx.fail("no state .backup to grep");
    }
}

#[cfg(not(unix))]
fn sigint_case(_: &mut Ctx) {}

// ---------------------------------------------------------------------------------------------------------------

#[test]
fn no_marker_secret_is_ever_printed_or_written() {
    let started = Instant::now();
    let mut cases = Vec::new();
    cases.extend(evaluation_cases());
    cases.extend(snippet_cases());
    cases.extend(fixture_cases());
    cases.extend(unreadable_cases());
    cases.extend(described_cases());
    cases.extend(import_cases());
    for (i, (_, a)) in MARKERS.iter().enumerate() {
        assert!(a.len() >= 12, "marker {a:?} is too short to be distinctive");
        for (_, b) in &MARKERS[i + 1..] {
            assert!(!a.contains(b) && !b.contains(a), "{a:?} and {b:?} overlap");
        }
    }
    let names: BTreeSet<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), cases.len(), "case names are unique");

    let next = AtomicUsize::new(0);
    let outcomes = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(c) = cases.get(i) else { break };
                let o = run_case(c);
                outcomes.lock().unwrap().push(o);
            });
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap();
    outcomes.sort_by(|a, b| a.name.cmp(&b.name));

    let mut table = String::new();
    let mut failures = String::new();
    let (mut runs, mut files) = (0, 0);
    let fixtures_in_view = outcomes
        .iter()
        .filter(|o| o.name.starts_with("fixture/") && o.starred)
        .count();
    for o in &outcomes {
        runs += o.runs;
        files += o.files;
        let result = if o.leaks.is_empty() && o.problems.is_empty() {
            "ok".to_string()
        } else if o.leaks.is_empty() {
            "FAILED".to_string()
        } else {
            format!("LEAK x{}", o.leaks.len())
        };
        table.push_str(&format!(
            "{:<44} {:>2} runs {:>2} files  {:<8} {}\n",
            o.name, o.runs, o.files, result, o.path
        ));
        for l in &o.leaks {
            failures.push_str(&format!("{}: LEAK {l}\n", o.name));
        }
        for p in &o.problems {
            failures.push_str(&format!("{}: {p}\n", o.name));
        }
    }
    eprintln!(
        "{table}{} cases, {runs} dxctl runs, {files} files written by dxctl grepped for {} markers; {fixtures_in_view} of 61 fixture diagnostics showed the planted key (starred); {:.1}s",
        outcomes.len(),
        MARKERS.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "\n{failures}");
}
