//! A real S3 for the state backend tests: moto's server (`moto[server]` from `tests/requirements.txt`) as a child
//! process on an ephemeral loopback port, plus a small client to look at (and meddle with) its objects.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;

use crate::support::{repo, wait_for_port};

/// Credentials the tests give both dxctl and the harness's client (moto accepts any).
pub const ACCESS_KEY: &str = "AKIDS3TEST";
pub const SECRET_KEY: &str = "s3-test-secret";

/// moto's S3 on `127.0.0.1:port`; killed on drop.
pub struct MotoS3 {
    child: Child,
    pub port: u16,
    log: std::path::PathBuf,
    runtime: tokio::runtime::Runtime,
    client: aws_sdk_s3::Client,
}

/// One stored version of an object, or a delete marker, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    Put { version_id: String },
    Deleted,
}

impl MotoS3 {
    /// Starts the server, its port file in `dir`.
    pub fn start(dir: &Path) -> MotoS3 {
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
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        MotoS3 {
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

    /// Every request served so far, in the order the (serial) server handled them.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("request log line is JSON"))
            .collect()
    }

    /// Replaces the server's injected faults (see tests/s3/moto_s3.py); `{}` turns them off.
    pub fn set_faults(&self, faults: &serde_json::Value) {
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

    /// Every version of `key` and its delete markers, oldest first (the bucket must be versioned).
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

impl Drop for MotoS3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
