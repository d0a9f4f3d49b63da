//! Shared test harness: a hermetic `dxctl` command, a `dxctl sim serve` child process, and fixture files.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use dxctl::sim::sigv4::{sign_request, Credential};

use serde_json::Value;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_dxctl"))
}

/// Removes every AWS variable the developer's shell may carry, and keeps the SDK off the metadata service.
pub fn hermetic(cmd: &mut Command) -> &mut Command {
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_") || key.starts_with("DXCTL_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("NO_COLOR", "1")
}

/// `dxctl` run from `cwd`, with test credentials in the environment (never used in sandbox mode).
pub fn dxctl(cwd: &Path) -> Command {
    let mut cmd = Command::new(bin());
    hermetic(&mut cmd)
        .current_dir(cwd)
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret")
        .stdin(Stdio::null());
    cmd
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run dxctl");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The seed world with a chosen provisioning delay, written into `dir`.
pub fn seed_world(dir: &Path, delay: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("examples/seed/world.json")).unwrap();
    let mut world: Value = serde_json::from_str(&text).unwrap();
    world["sim"]["provisionDelay"] = Value::String(delay.into());
    let path = dir.join("world.json");
    std::fs::write(&path, serde_json::to_string_pretty(&world).unwrap()).unwrap();
    path
}

/// A config directory holding one `main.hcl`.
pub fn config_dir(dir: &Path, name: &str, hcl: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join("main.hcl"), hcl).unwrap();
    path
}

pub const SEED_HCL: &str = r#"provider "aws" {
  region = "us-east-1"
}

virtual_interface "dxvif-fg1vuj3d" {
  bgp_peer "v4" {
    address_family   = "ipv4"
    asn              = 65000
    amazon_address   = "169.254.255.1/30"
    customer_address = "169.254.255.2/30"
  }

  bgp_peer "v6" {
    address_family = "ipv6"
    asn            = 64600
  }
}
"#;

/// The port a server child wrote to `port_file` once it listened; fails the test after `limit`.
pub fn wait_for_port(port_file: &Path, limit: Duration, what: &str) -> u16 {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(port) = std::fs::read_to_string(port_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return port;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not write its port file {}",
            port_file.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `dxctl sim serve` as a child process on an ephemeral loopback port; killed on drop.
pub struct SimProcess {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
    /// The world's first `sim.credentials` key, which signs admin requests.
    pub admin_key: Option<Credential>,
}

impl SimProcess {
    pub fn start(world: &Path, dir: &Path, extra: &[&str]) -> SimProcess {
        let port_file = dir.join("sim.port");
        let log = dir.join("requests.jsonl");
        let _ = std::fs::remove_file(&port_file);
        let mut cmd = Command::new(bin());
        hermetic(&mut cmd)
            .args(["sim", "serve", "--world"])
            .arg(world)
            .arg("--port-file")
            .arg(&port_file)
            .arg("--request-log")
            .arg(&log)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().expect("spawn dxctl sim serve");
        let port = wait_for_port(&port_file, Duration::from_secs(20), "the simulator");
        let admin_key = std::fs::read_to_string(world)
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .and_then(|w| serde_json::from_value(w["sim"]["credentials"][0].clone()).ok());
        SimProcess {
            child,
            port,
            log,
            admin_key,
        }
    }

    /// The simulator's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The operations logged so far, in order.
    pub fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("request log line is JSON"))
            .collect()
    }

    pub fn count(&self, operation: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r["operation"] == operation)
            .count()
    }

    /// Replaces the simulator's faults (`POST /_sim/faults`); `{}` turns them all off.
    pub fn set_faults(&self, faults: &Value) {
        let (status, body) = self.admin("POST", "/_sim/faults", &faults.to_string());
        assert_eq!(status, 200, "POST /_sim/faults: {body}");
    }

    pub fn world(&self) -> Value {
        let (status, body) = self.admin("GET", "/_sim/world", "");
        assert_eq!(status, 200, "GET /_sim/world: {body}");
        serde_json::from_str(&body).expect("world JSON")
    }

    /// One admin request (`/_sim/...`), SigV4-signed with the world's first `sim.credentials` key when it has
    /// any (admin routes then need it): (status, body).
    pub fn admin(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let signer = self.admin_key.as_ref().map(|key| (key, SystemTime::now()));
        admin_request(self.port, method, path, body, signer)
    }
}

/// A raw HTTP/1.1 request to `/_sim/...` on the simulator at `port` (so the harness needs no HTTP client crate),
/// signed by `signer` (key, signing time) when given: (status, body).
pub fn admin_request(
    port: u16,
    method: &str,
    path: &str,
    body: &str,
    signer: Option<(&Credential, SystemTime)>,
) -> (u16, String) {
    use std::io::{Read, Write};
    let host = format!("127.0.0.1:{port}");
    let mut headers = vec![("host".to_string(), host.clone())];
    if !body.is_empty() {
        headers.push(("content-type".to_string(), "application/json".to_string()));
    }
    if let Some((key, time)) = signer {
        let unsigned: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let url = format!("http://{host}{path}");
        let added = sign_request(
            method,
            &url,
            &unsigned,
            body.as_bytes(),
            key,
            "us-east-1",
            "directconnect",
            time,
        )
        .expect("sign admin request");
        headers.extend(added);
    }
    let mut request = format!("{method} {path} HTTP/1.1\r\n");
    for (name, value) in &headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ));
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").expect("HTTP response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("HTTP status line: {head}"));
    (status, body.to_string())
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How a bounded run ended: its exit code (`None`: killed at the limit) and its output.
pub struct Finished {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` to completion with its output in files `<name>.stdout`/`.stderr` under `dir`; kills it after `limit`.
pub fn run_bounded(mut cmd: Command, dir: &Path, name: &str, limit: Duration) -> Finished {
    let out = dir.join(format!("{name}.stdout"));
    let err = dir.join(format!("{name}.stderr"));
    cmd.stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .stdin(Stdio::null());
    let mut child = cmd.spawn().expect("spawn dxctl");
    let deadline = Instant::now() + limit;
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status.code().unwrap_or(-1));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Finished {
        code,
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
    }
}
