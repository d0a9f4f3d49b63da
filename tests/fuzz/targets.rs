//! The fuzz targets: each takes arbitrary bytes and drives one loader or decoder the way the CLI or the simulator
//! does, then everything downstream that reads its result (rendering, saving, answering); plus each one's seeds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use dxctl::config::{self, Inputs, SourceFile};
use dxctl::model::Observed;
use dxctl::plan::Plan;
use dxctl::saved_plan::SavedPlan;
use dxctl::sim::protocol::{self, ApiError, Wire};
use dxctl::sim::Engine;
use dxctl::sim::{rpcv2, sigv4, World};
use dxctl::state::{LocalStateFile, State, StateStore};
use serde_json::{json, Value};

use crate::mutate::{dictionary, Material};

/// The time the request seeds were signed at (their `x-amz-date`, 2026-01-01T00:00:00Z), as the simulator's clock
/// when verifying them, so fuzzing reaches the signature check instead of stopping at the 15-minute skew window.
pub fn seed_time() -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_600)
}

pub const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The moment the engine targets run at (the seed worlds' pending transitions are around it).
pub const NOW_MS: u64 = 1_700_000_000_000;

fn read(path: impl AsRef<Path>) -> Vec<u8> {
    let path = Path::new(REPO).join(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn files_under(dir: &str, ext: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, ext, out);
            } else if path.extension().is_some_and(|x| x == ext) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(REPO).join(dir), ext, &mut out);
    out.sort();
    out
}

/// A scratch directory per thread on tmpfs when there is one (the state and plan targets write and fsync files).
fn scratch() -> PathBuf {
    thread_local! {
        static DIR: tempfile::TempDir = {
            let shm = Path::new("/dev/shm");
            let dir = if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() };
            dir.expect("scratch directory")
        };
    }
    DIR.with(|d| d.path().to_path_buf())
}

/// A directory for the whole run (held in a static, so never removed): under target/tmp, not the system's temp.
fn lasting_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("fuzz-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("a directory under target/tmp")
}

/// Paths `file()` or a saved plan's `config_dir` must not reach: reading a device or a kernel file can block forever.
fn reaches_devices(bytes: &[u8]) -> bool {
    [&b"/dev"[..], b"/proc", b"/sys", b"/run"]
        .iter()
        .any(|p| bytes.windows(p.len()).any(|w| w == *p))
}

// ---------------------------------------------------------------- config

/// The directory the config targets' files live in: `file()` reads `key.txt`, `empty.txt` and `latin1.txt` there.
struct ConfigContext {
    dir: tempfile::TempDir,
    inputs: Inputs,
    /// The multi-region example, the fixed config the variables-file target loads.
    example: Vec<(String, String)>,
}

fn config_context() -> &'static ConfigContext {
    static CTX: OnceLock<ConfigContext> = OnceLock::new();
    CTX.get_or_init(|| {
        let dir = lasting_dir();
        std::fs::write(dir.path().join("key.txt"), "0xSecretKeyFromFile\n").unwrap();
        std::fs::write(dir.path().join("empty.txt"), "").unwrap();
        std::fs::write(dir.path().join("latin1.txt"), b"caf\xe9\r\n").unwrap();
        let env = BTreeMap::from([
            (
                "DXCTL_VAR_eu_auth_key".to_string(),
                "0xEuKeyFromEnv".to_string(),
            ),
            ("DXCTL_VAR_peer_asn".to_string(), "4200000000".to_string()),
            ("DX_KEY".to_string(), "0xKeyFromEnvironment".to_string()),
            ("EMPTY".to_string(), String::new()),
            ("UNICODE".to_string(), "ключ-é😀".to_string()),
        ]);
        let mut example = Vec::new();
        for path in files_under("examples/multi-region", "hcl") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = String::from_utf8(std::fs::read(&path).unwrap()).unwrap();
            let at = dir.path().join(&name);
            std::fs::write(&at, &text).unwrap();
            example.push((at.display().to_string(), text));
        }
        example.push((
            dir.path().join("typed.hcl").display().to_string(),
            TYPED_VARIABLES.to_string(),
        ));
        ConfigContext {
            dir,
            inputs: Inputs {
                vars: vec![],
                var_files: vec![],
                env,
            },
            example,
        }
    })
}

/// Variables of every type, used by the config, so a variables file's values reach validation.
const TYPED_VARIABLES: &str = r#"
variable "flag" {
  type    = bool
  default = false
}
variable "count_of" {
  type = number
  default = 1
}
variable "anything" {
  default = 65000
}
variable "label" {
  type = string
  default = "x"
}
variable "secret" {
  type      = string
  sensitive = true
  default   = "0xDefaultSecret"
}
virtual_interface "dxvif-typed001" {
  bgp_peer "t" {
    address_family   = "ipv4"
    asn              = var.count_of
    amazon_address   = "169.254.9.1/30"
    customer_address = "169.254.9.2/30"
    auth_key         = var.secret
  }
  bgp_peer "u" {
    address_family = "ipv6"
    asn            = var.anything
    auth_key       = "${var.label}-${var.secret}"
  }
}
"#;

/// Covers what the examples do not: env() and file() in every form, heredocs, interpolation, conditionals, for
/// expressions and functions hcl-rs does not know.
const CONFIG_EXTRA_SEED: &str = r#"
variable "asn" {
  type        = number
  default     = 64512
  description = "the ASN"
}
variable "key" {
  type      = string
  sensitive = true
  default   = env("DX_KEY", "0xFallbackKey")
}
provider "aws" {
  alias   = "eu"
  region  = "eu-west-1"
  profile = "prod"
}
provider "aws" {
  region = env("EMPTY", "us-east-1")
}
virtual_interface "dxvif-fg1vuj3d" {
  provider = aws.eu
  bgp_peer "a" {
    address_family   = "ipv4"
    asn              = var.asn + 1
    amazon_address   = "169.254.255.1/30"
    customer_address = "169.254.255.2/30"
    auth_key         = file("key.txt")
  }
  bgp_peer "b" {
    address_family = true ? "ipv6" : "ipv4"
    asn            = "4200000000"
    auth_key       = <<EOT
${var.key}-${env("UNICODE")}
EOT
  }
  bgp_peer "c" {
    address_family = "ipv4"
    asn            = [for x in [1, 2] : x][0] * 65000
    auth_key       = "%{ if var.asn > 1 }0xLongEnough%{ else }short%{ endif }"
    amazon_address   = "10.0.0.1/31"
    customer_address = "10.0.0.0/31"
  }
}
virtual_interface "dxvif-second01" {
  provider = aws
  bgp_peer "d" {
    address_family = "ipv6"
    asn            = 64512.0
    auth_key       = file("empty.txt")
  }
  bgp_peer "e" {
    address_family = "ipv6"
    asn            = 65000
    auth_key       = upper(file("latin1.txt"))
  }
}
"#;

const HCL_TOKENS: &[&str] = &[
    "variable",
    "provider",
    "virtual_interface",
    "bgp_peer",
    "\"aws\"",
    "{",
    "}",
    "{\n",
    "\n}\n",
    "=",
    "\n",
    "${",
    "%{",
    "%{ endif }",
    "~}",
    "env(\"DX_KEY\")",
    "env(\"NOPE\")",
    "env()",
    "env(\"A\", \"b\", \"c\")",
    "file(\"key.txt\")",
    "file(\"missing.txt\")",
    "file(\"latin1.txt\")",
    "file(\".\")",
    "file(\"\")",
    "var.",
    "var.asn",
    "var.key",
    "var.nope",
    "aws.eu",
    "aws.nope",
    "<<EOT\n",
    "<<-EOT\n",
    "\nEOT\n",
    "alias",
    "region",
    "profile",
    "type",
    "default",
    "sensitive",
    "description",
    "true",
    "false",
    "null",
    "[",
    "]",
    "(",
    ")",
    "?",
    ":",
    "for",
    "in",
    "if",
    "...",
    ".*",
    "[*]",
    "//",
    "/*",
    "*/",
    "#",
    "\"",
    "\\",
    "\\u",
    "\\U0001F600",
    "$${",
    "%%{",
    "address_family",
    "asn",
    "amazon_address",
    "customer_address",
    "auth_key",
    "\"ipv4\"",
    "\"ipv6\"",
    "\"169.254.255.1/30\"",
    "\"2001:db8::1/125\"",
    "\"dxvif-fg1vuj3d\"",
    "\"0x\"",
    "number",
    "string",
    "bool",
    "any",
    "list(string)",
    "1.5",
    "0x10",
    "1e3",
    "-",
    "!",
    "&&",
    "||",
    "==",
    "%",
    "/",
    "*",
    "upper(",
    "length(",
];

pub fn config_material() -> Material {
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    for dir in ["examples", "tests/fixtures/invalid"] {
        for path in files_under(dir, "hcl") {
            seeds.push(std::fs::read(path).unwrap());
        }
    }
    // The multi-region example as one file, so its cross-file references resolve.
    let joined: Vec<u8> = files_under("examples/multi-region", "hcl")
        .into_iter()
        .flat_map(|p| std::fs::read(p).unwrap())
        .collect();
    seeds.push(joined);
    seeds.push(CONFIG_EXTRA_SEED.as_bytes().to_vec());
    seeds.push(TYPED_VARIABLES.as_bytes().to_vec());
    let dict = dictionary(&seeds, HCL_TOKENS);
    Material {
        seeds,
        dict,
        json: false,
    }
}

/// Shows a load's outcome as the CLI would: the diagnostics rendered both ways, or the desired state.
fn show_load(result: Result<config::Config, config::Diagnostics>) {
    match result {
        Ok(config) => {
            let _ = config.needs_fallback_region();
            let _ = config.profiles();
            let desired = config.desired("us-east-1");
            let _ = format!("{desired:?}");
        }
        Err(diags) => {
            let _ = diags.render(false);
            let _ = diags.render(true);
            let _ = diags.to_string();
        }
    }
}

/// Target 1: one config file, as `load_dir` reads it (non-UTF-8 bytes are refused before parsing there; here they
/// are replaced so the parser sees the rest).
pub fn config_hcl(bytes: &[u8]) {
    if reaches_devices(bytes) {
        return;
    }
    let ctx = config_context();
    let text = String::from_utf8_lossy(bytes).into_owned();
    let src = SourceFile::new(ctx.dir.path().join("main.hcl").display().to_string(), text);
    show_load(config::load_sources(&[src], &ctx.inputs));
}

const VAR_FILE_SEED: &str = r#"peer_asn    = 64600
eu_auth_key = "0xFromVarFile"
flag        = true
count_of    = 65001
anything    = "4200000000"
label       = "prod"
secret      = env("DX_KEY")
"#;

pub fn var_file_material() -> Material {
    let seeds: Vec<Vec<u8>> = vec![
        VAR_FILE_SEED.as_bytes().to_vec(),
        b"peer_asn = 4294967294\n".to_vec(),
        b"flag = \"true\"\ncount_of = \"12\"\nanything = [1, {a = 2}]\n".to_vec(),
        b"eu_auth_key = file(\"key.txt\")\nlabel = <<EOT\nmulti\nline\nEOT\n".to_vec(),
        b"undeclared = 1\nblock {\n  a = 1\n}\n".to_vec(),
        b"label = \"${upper(\"x\")}\"\ncount_of = 1.5\nflag = null\n".to_vec(),
        b"".to_vec(),
    ];
    let dict = dictionary(&seeds, HCL_TOKENS);
    Material {
        seeds,
        dict,
        json: false,
    }
}

/// Target 2: a `--var-file`, read from disk as the CLI reads it, against a fixed config that declares variables of
/// every type.
pub fn var_file(bytes: &[u8]) {
    if reaches_devices(bytes) {
        return;
    }
    let ctx = config_context();
    let path = scratch().join("vars.hcl");
    std::fs::write(&path, bytes).expect("write the variables file");
    let files: Vec<SourceFile> = ctx
        .example
        .iter()
        .map(|(p, t)| SourceFile::new(p.clone(), t.clone()))
        .collect();
    let inputs = Inputs {
        var_files: vec![path],
        ..ctx.inputs.clone()
    };
    show_load(config::load_sources(&files, &inputs));
}

// ---------------------------------------------------------------- state

const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "null",
    "true",
    "false",
    "\"\"",
    "{}",
    "[]",
    "\\u0000",
    "\\ud83d\\ude00",
    "\\ud800",
    "\"é\"",
    "\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\"",
    "1.0",
    "-1",
    "1e2",
];

pub fn state_material() -> Material {
    let seeds: Vec<Vec<u8>> = ["state.json", "state-intents.json"]
        .iter()
        .map(|f| read(format!("tests/fuzz/corpus/{f}")))
        .collect();
    let dict = dictionary(&seeds, JSON_TOKENS);
    Material {
        seeds,
        dict,
        json: true,
    }
}

/// Target 3: the state file, loaded, listed as `state list` lists it, saved (as every apply does) and read back.
pub fn state_file(bytes: &[u8]) {
    let dir = scratch();
    let path = dir.join("dxctl.state.json");
    std::fs::write(&path, bytes).expect("write the state file");
    let store = LocalStateFile::new(&path);
    let mut state = match store.load() {
        Ok(state) => state,
        Err(e) => {
            let _ = format!("{e:#}");
            return;
        }
    };
    let mut listing = String::new();
    for p in &state.peers {
        listing.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\n",
            p.address,
            p.bgp_peer_id,
            p.address_family,
            p.asn,
            p.region,
            p.deposed.join(",")
        ));
        let _ = state.peer(&p.address);
        let _ = state.intent(&p.address);
    }
    for i in &state.intents {
        listing.push_str(&format!(
            "{}\t{}\t{}\t{}\n",
            i.address,
            i.describe(),
            dxctl::clock::rfc3339(i.sent_at_ms),
            dxctl::clock::rfc3339(i.conclusive_after_ms)
        ));
    }
    let out = LocalStateFile::new(dir.join("saved.state.json"));
    if out.save(&mut state).is_ok() {
        let back = out.load().expect("a saved state loads again");
        assert_eq!(back, state, "a saved state reads back the same");
    }
}

// ---------------------------------------------------------------- saved plan

/// The config directory seed plans point at (the seed example, with `config_dir` rewritten to it).
fn plan_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = lasting_dir();
        std::fs::write(dir.path().join("main.hcl"), read("examples/seed/main.hcl")).unwrap();
        dir
    })
    .path()
}

pub fn plan_material() -> Material {
    let seeds: Vec<Vec<u8>> = ["plan.json", "plan-changes.json"]
        .iter()
        .map(|f| {
            let mut plan: Value =
                serde_json::from_slice(&read(format!("tests/fuzz/corpus/{f}"))).unwrap();
            plan["config_dir"] = json!(plan_dir());
            serde_json::to_vec_pretty(&plan).unwrap()
        })
        .collect();
    let dict = dictionary(&seeds, JSON_TOKENS);
    Material {
        seeds,
        dict,
        json: true,
    }
}

/// Target 4: a saved plan, read as `apply PLANFILE` and `show PLANFILE` read it, checked against a state that
/// matches it and against ones that do not (a non-ASCII lineage among them), and written back.
pub fn saved_plan(bytes: &[u8]) {
    let dir = scratch();
    let path = dir.join("plan.json");
    std::fs::write(&path, bytes).expect("write the plan file");
    let saved = match SavedPlan::read(&path) {
        Ok(saved) => saved,
        Err(e) => {
            let _ = format!("{e:#}");
            return;
        }
    };
    let _ = format!(
        "Saved plan for {} (state serial {}):\n\n{}",
        saved.config_dir.display(),
        saved.state_serial,
        saved.rendered
    );
    let matching = State {
        lineage: saved.state_lineage.clone(),
        serial: saved.state_serial,
        ..State::default()
    };
    let others = [
        State::default(),
        State {
            lineage: "0123456789abcdef0123456789abcdef".into(),
            serial: 7,
            ..State::default()
        },
        State {
            lineage: "0123456é89".into(),
            serial: u64::MAX,
            ..State::default()
        },
    ];
    let observed = Observed::default();
    let plan = Plan::default();
    if !reaches_devices(saved.config_dir.as_os_str().as_encoded_bytes()) {
        let _ = saved
            .check(&matching, &observed, &plan)
            .map_err(|e| format!("{e:#}"));
    }
    for state in &others {
        if state.lineage != saved.state_lineage || state.serial != saved.state_serial {
            let _ = saved
                .check(state, &observed, &plan)
                .map_err(|e| format!("{e:#}"));
        }
    }
    let out = dir.join("plan-out.json");
    if saved.write(&out).is_ok() {
        let back = SavedPlan::read(&out).expect("a written plan reads again");
        assert_eq!(back, saved, "a written plan reads back the same");
    }
}

// ---------------------------------------------------------------- simulator requests

pub const ACCESS_KEY: &str = "AKIDDXCTLSANDBOX";
pub const SECRET_KEY: &str = "dxctl-sandbox-secret";

fn credentials() -> &'static [sigv4::Credential] {
    static C: OnceLock<Vec<sigv4::Credential>> = OnceLock::new();
    C.get_or_init(|| {
        vec![sigv4::Credential {
            access_key_id: ACCESS_KEY.into(),
            secret_access_key: SECRET_KEY.into(),
        }]
    })
}

/// The worlds the request and engine targets run against.
pub fn worlds() -> &'static [World] {
    static W: OnceLock<Vec<World>> = OnceLock::new();
    W.get_or_init(|| {
        world_seeds()
            .iter()
            .filter_map(|text| World::parse(std::str::from_utf8(text).ok()?).ok())
            .collect()
    })
}

pub fn world_seeds() -> Vec<Vec<u8>> {
    let mut seeds = vec![
        read("examples/seed/world.json"),
        read("examples/multi-region/world.json"),
        read("tests/fuzz/corpus/world-rich.json"),
    ];
    for path in files_under("tests/fixtures/worlds", "json") {
        seeds.push(std::fs::read(path).unwrap());
    }
    seeds
}

/// A request as text: `METHOD URI`, header lines, a blank line, the body (bytes).
pub struct RawRequest {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl RawRequest {
    /// Header lines the HTTP layer would refuse are dropped, as the server never sees them.
    pub fn parse(bytes: &[u8]) -> Option<RawRequest> {
        let split = bytes.windows(4).position(|w| w == b"\r\n\r\n");
        let (head, body) = match split {
            Some(at) => (&bytes[..at], &bytes[at + 4..]),
            None => (bytes, &[][..]),
        };
        let mut lines = head
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let first = lines.next()?;
        let space = first.iter().position(|&b| b == b' ')?;
        let method = Method::from_bytes(&first[..space]).ok()?;
        let uri = Uri::try_from(&first[space + 1..]).ok()?;
        let mut headers = HeaderMap::new();
        for line in lines {
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let value = line[colon + 1..].trim_ascii();
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(&line[..colon]),
                HeaderValue::from_bytes(value),
            ) {
                headers.append(name, value);
            }
        }
        Some(RawRequest {
            method,
            uri,
            headers,
            body: body.to_vec(),
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {}\r\n", self.method, self.uri).into_bytes();
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// A request signed as an SDK signs it (at a fixed time, which the simulator accepts: it checks the scope's day).
pub fn signed_request(
    wire: Wire,
    op: &str,
    region: &str,
    body: Vec<u8>,
    sign_body: bool,
) -> RawRequest {
    use aws_credential_types::Credentials;
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    use aws_sigv4::sign::v4;
    use aws_smithy_runtime_api::client::identity::Identity;

    let host = "127.0.0.1:4566";
    let (path, mut builder) = match wire {
        Wire::Json11 => (
            "/".to_string(),
            http::Request::builder()
                .header("content-type", protocol::CONTENT_TYPE)
                .header("x-amz-target", format!("{}{op}", protocol::TARGET_PREFIX)),
        ),
        Wire::RpcV2Cbor => (
            format!("/service/{}/operation/{op}", rpcv2::SERVICE),
            http::Request::builder()
                .header("content-type", rpcv2::CONTENT_TYPE)
                .header("accept", rpcv2::CONTENT_TYPE)
                .header(rpcv2::PROTOCOL_HEADER, rpcv2::PROTOCOL),
        ),
    };
    builder = builder
        .method("POST")
        .uri(format!("http://{host}{path}"))
        .header("host", host)
        .header("x-amz-user-agent", "aws-sdk-rust/1.0 fuzz");
    let mut request = builder.body(body).expect("a request");
    let identity: Identity = Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "fuzz").into();
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_600); // 2026-01-01
    let mut settings = SigningSettings::default();
    if !sign_body {
        settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("directconnect")
        .time(time)
        .settings(settings)
        .build()
        .expect("signing parameters")
        .into();
    let signable = SignableRequest::new(
        request.method().as_str(),
        request.uri().to_string(),
        request
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.to_str().expect("ASCII header"))),
        SignableBody::Bytes(request.body()),
    )
    .expect("signable request");
    let (instructions, _) = sign(signable, &params).expect("signed").into_parts();
    instructions.apply_to_request_http1x(&mut request);
    let (parts, body) = request.into_parts();
    RawRequest {
        method: parts.method,
        uri: parts
            .uri
            .path_and_query()
            .unwrap()
            .as_str()
            .parse()
            .unwrap(),
        headers: parts.headers,
        body,
    }
}

/// Inputs for every operation the simulator serves, against the seed worlds' ids, and one it does not.
pub fn operation_inputs() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        ("DescribeVirtualInterfaces", "us-east-1", json!({})),
        (
            "DescribeVirtualInterfaces",
            "us-east-1",
            json!({"virtualInterfaceId": "dxvif-fg1vuj3d"}),
        ),
        (
            "DescribeVirtualInterfaces",
            "eu-west-1",
            json!({"connectionId": "dxcon-euw1a001", "maxResults": 1}),
        ),
        (
            "DescribeVirtualInterfaces",
            "us-east-1",
            json!({"maxResults": 1, "nextToken": "eyJsaXN0aW5nIjoiRGVzY3JpYmVWaXJ0dWFsSW50ZXJmYWNlcy91cy1lYXN0LTEvLyIsImFmdGVyIjoiZHh2aWYtYSJ9"}),
        ),
        (
            "DescribeConnections",
            "us-east-1",
            json!({"connectionId": "dxcon-fguhmqlc"}),
        ),
        (
            "DescribeLags",
            "us-east-1",
            json!({"lagId": "dxlag-use1a001"}),
        ),
        (
            "DescribeInterconnects",
            "ap-south-1",
            json!({"interconnectId": "dxb-icon0001", "maxResults": 5}),
        ),
        (
            "CreateBGPPeer",
            "us-east-1",
            json!({"virtualInterfaceId": "dxvif-fg1vuj3d", "newBGPPeer": {"asn": 64600, "addressFamily": "ipv6"}}),
        ),
        (
            "CreateBGPPeer",
            "us-east-1",
            json!({"virtualInterfaceId": "dxvif-fg1vuj3d", "newBGPPeer": {"asnLong": 4200000000u64, "addressFamily": "ipv4", "amazonAddress": "169.254.0.1/30", "customerAddress": "169.254.0.2/30", "authKey": "0xSixOrMore"}}),
        ),
        (
            "DeleteBGPPeer",
            "us-east-1",
            json!({"virtualInterfaceId": "dxvif-fg1vuj3d", "bgpPeerId": "dxpeer-fg1v4v4e"}),
        ),
        (
            "DeleteBGPPeer",
            "us-east-1",
            json!({"virtualInterfaceId": "dxvif-fg1vuj3d", "asn": 65000, "customerAddress": "169.254.255.2/30"}),
        ),
        (
            "CreatePrivateVirtualInterface",
            "us-east-1",
            json!({"connectionId": "dxcon-fguhmqlc", "newPrivateVirtualInterface": {"virtualInterfaceName": "n", "vlan": 200, "asn": 65000, "mtu": 9001, "virtualGatewayId": "vgw-1", "tags": [{"key": "k", "value": "v"}]}}),
        ),
        (
            "CreatePublicVirtualInterface",
            "us-east-1",
            json!({"connectionId": "dxcon-fguhmqlc", "newPublicVirtualInterface": {"virtualInterfaceName": "p", "vlan": 201, "asn": 65001, "addressFamily": "ipv4", "amazonAddress": "203.0.113.1/30", "customerAddress": "203.0.113.2/30", "routeFilterPrefixes": [{"cidr": "203.0.113.0/24"}]}}),
        ),
        (
            "CreateTransitVirtualInterface",
            "us-east-1",
            json!({"connectionId": "dxcon-fguhmqlc", "newTransitVirtualInterface": {"virtualInterfaceName": "t", "vlan": 202, "asnLong": 4200000000u64, "directConnectGatewayId": "dxgw-1", "mtu": 8500}}),
        ),
        (
            "DeleteVirtualInterface",
            "us-east-1",
            json!({"virtualInterfaceId": "dxvif-fg1vuj3d"}),
        ),
        (
            "DescribeTags",
            "us-east-1",
            json!({"resourceArns": ["arn:aws:directconnect:us-east-1:123456789012:dxvif/dxvif-fg1vuj3d"]}),
        ),
    ]
}

const REQUEST_TOKENS: &[&str] = &[
    "\r\n",
    "\r\n\r\n",
    ": ",
    "x-amz-target",
    "OvertureService.",
    "authorization",
    "AWS4-HMAC-SHA256 ",
    "Credential=",
    "SignedHeaders=",
    "Signature=",
    "/aws4_request",
    "/directconnect/",
    "x-amz-date",
    "20260101T000000Z",
    "date",
    "Thu, 01 Jan 2026 00:00:00 GMT",
    "x-amz-content-sha256",
    "UNSIGNED-PAYLOAD",
    "content-type",
    "application/x-amz-json-1.1",
    "application/cbor",
    "accept",
    "*/*",
    "application/*",
    "smithy-protocol",
    "rpc-v2-cbor",
    "/service/OvertureService/operation/",
    "com.amazonaws.directconnect.",
    "x-amzn-target",
    "host",
    ",",
    ";",
    "/",
    "//",
    "?a=b",
    "%2F",
    "%",
    "_",
    "__",
    "9",
    "GET",
    "POST",
];

pub fn request_material(wire: Wire) -> Material {
    let mut seeds = Vec::new();
    for (op, region, input) in operation_inputs() {
        let body = match wire {
            Wire::Json11 => input.to_string().into_bytes(),
            Wire::RpcV2Cbor => rpcv2::encode(&input),
        };
        for sign_body in [true, false] {
            seeds.push(signed_request(wire, op, region, body.clone(), sign_body).to_bytes());
        }
    }
    let mut tokens: Vec<&str> = REQUEST_TOKENS.to_vec();
    tokens.extend(JSON_TOKENS);
    let mut dict = dictionary(&seeds, &tokens);
    if wire == Wire::RpcV2Cbor {
        dict.extend(CBOR_TOKENS.iter().map(|t| t.to_vec()));
        dict.push(vec![0x81; 80]);
        dict.push(vec![0x9f; 80]);
        dict.push([vec![0xbf; 1], [0x61, b'a', 0xbf].repeat(40)].concat());
        dict.push([vec![0xc1; 70], vec![0x01]].concat());
    }
    Material {
        seeds,
        dict,
        json: false,
    }
}

/// CBOR's awkward corners: indefinite lengths and breaks, tags, simple values, half floats, 64-bit and out of range
/// integers, lengths far beyond the data.
const CBOR_TOKENS: &[&[u8]] = &[
    &[0x9f],
    &[0xbf],
    &[0xff],
    &[0x7f],
    &[0x5f],
    &[0xc1],
    &[0xc2],
    &[0xc0],
    &[0xd8, 0x20],
    &[0xf4],
    &[0xf5],
    &[0xf6],
    &[0xf7],
    &[0xf8, 0x20],
    &[0xf9, 0x7c, 0x00],
    &[0xf9, 0x7e, 0x00],
    &[0xf9, 0x00, 0x01],
    &[0xfa, 0x7f, 0x80, 0x00, 0x00],
    &[0xfb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0],
    &[0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    &[0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    &[0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    &[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    &[0xbb, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    &[0x7b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00],
    &[0x5a, 0xff, 0xff, 0xff, 0xff],
    &[0x1c],
    &[0x3f],
    &[0x62, 0xc3, 0x28],
    &[0x7f, 0x61, b'a', 0x41, b'b', 0xff],
    &[0xa1, 0x01, 0x02],
    &[0xa1, 0x61, b'k', 0xf6],
    &[0xc1, 0x61, b'x'],
    &[0xc1, 0xfb, 0x41, 0xd9, 0x5b, 0x2f, 0x00, 0x00, 0x00, 0x00],
];

/// Everything the server does with a request before and after the engine, except the network: the operation, the
/// region, the signature, the input, the engine's answer or error, encoded for the wire. Each step runs whatever the
/// step before it said, so a bad signature does not hide the decoders behind it.
fn serve_request(wire: Wire, bytes: &[u8]) {
    let Some(req) = RawRequest::parse(bytes) else {
        return;
    };
    let operation = wire.operation(&req.uri, &req.headers);
    let region = protocol::region(&req.headers);
    if let Some(auth) = req
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
    {
        let _ = protocol::region_from_authorization(auth);
    }
    let verified = sigv4::verify_at(
        &req.method,
        &req.uri,
        &req.headers,
        &req.body,
        credentials(),
        seed_time(),
    );
    let input = wire.input(&req.headers, &req.body);
    let _ = rpcv2::route(req.uri.path());
    let mut errors: Vec<ApiError> = [
        &operation.as_ref().err(),
        &region.as_ref().err(),
        &verified.as_ref().err(),
        &input.as_ref().err(),
    ]
    .into_iter()
    .flatten()
    .map(|e| (*e).clone())
    .collect();
    if let (Ok(op), Ok(input)) = (&operation, &input) {
        let region = region.clone().unwrap_or_else(|_| "us-east-1".into());
        let worlds = worlds();
        let world = worlds[req.body.len() % worlds.len()].clone();
        let mut engine = Engine::new(world, None);
        let _ = engine.roll_fault(op);
        let _ = engine.within_rate_limit(op, &region, NOW_MS);
        engine.advance(NOW_MS);
        match engine.handle(op, &region, input, NOW_MS) {
            Ok(outcome) => {
                let _ = wire.ok(outcome.body);
            }
            Err(e) => errors.push(e),
        }
    }
    for e in errors {
        let _ = wire.error(e);
    }
}

/// Target 5a: a JSON 1.1 request.
pub fn sim_json11(bytes: &[u8]) {
    serve_request(Wire::Json11, bytes);
}

/// Target 5b: a Smithy RPC v2 CBOR request; its body is also decoded on its own and re-encoded.
pub fn sim_rpcv2(bytes: &[u8]) {
    serve_request(Wire::RpcV2Cbor, bytes);
    if let Some(req) = RawRequest::parse(bytes) {
        if let Ok(value) = rpcv2::decode(&req.body) {
            let again = rpcv2::encode(&value);
            let _ = rpcv2::decode(&again);
        }
    }
}

// ---------------------------------------------------------------- world

pub fn world_material() -> Material {
    let seeds = world_seeds();
    let dict = dictionary(&seeds, JSON_TOKENS);
    Material {
        seeds,
        dict,
        json: true,
    }
}

/// Target 5d: a world file, parsed as `sim serve` and sandbox mode parse it; a world that loads is served a
/// describe, a create, a delete and a day of lifecycle, and written back.
pub fn sim_world(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let world = match World::parse(&text) {
        Ok(world) => world,
        Err(e) => {
            let _ = format!("{e:#}");
            return;
        }
    };
    let json = world.to_json();
    World::parse(&json).expect("a written world parses again");
    let vif = world
        .virtual_interfaces
        .first()
        .map(|v| (v.virtual_interface_id.clone(), v.region().to_string()));
    let parent = world.connections.first().map(|c| c.connection_id.clone());
    let mut engine = Engine::new(world, None);
    let region = vif
        .as_ref()
        .map_or("us-east-1".to_string(), |v| v.1.clone());
    let mut now = NOW_MS;
    let mut calls = vec![
        ("DescribeVirtualInterfaces", json!({})),
        ("DescribeConnections", json!({})),
        ("DescribeLags", json!({})),
        ("DescribeInterconnects", json!({})),
    ];
    if let Some((id, _)) = &vif {
        calls.push(("CreateBGPPeer", json!({"virtualInterfaceId": id, "newBGPPeer": {"asn": 65000, "addressFamily": "ipv6"}})));
        calls.push((
            "DescribeVirtualInterfaces",
            json!({"virtualInterfaceId": id}),
        ));
        calls.push((
            "DeleteBGPPeer",
            json!({"virtualInterfaceId": id, "asn": 65000}),
        ));
    }
    if let Some(conn) = parent {
        calls.push(("CreatePrivateVirtualInterface", json!({"connectionId": conn, "newPrivateVirtualInterface": {"virtualInterfaceName": "f", "vlan": 4094, "asn": 65000}})));
    }
    for (op, input) in calls {
        engine.advance(now);
        let _ = engine.roll_fault(op);
        let _ = engine.within_rate_limit(op, &region, now);
        if let Ok(out) = engine.handle(op, &region, &input, now) {
            let _ = rpcv2::encode(&out.body);
        }
        now += 1_500;
    }
    engine.approve(None, now);
    for step in [1_000, 60_000, 3_600_000, 86_400_000] {
        engine.advance(now + step);
    }
    let _ = engine.world.to_json();
}
