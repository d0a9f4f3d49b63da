//! The S3 state store, for teams whose CI runners share nothing but a bucket. The state is one object, and every
//! write is a compare-and-swap: `If-Match` on the ETag this run read (`If-None-Match: *` when it read none), so an
//! update is never lost, not even when two runs both believe they hold the lock. The lock is a second object,
//! `<key>.lock`, created with `If-None-Match: *` and deleted with `If-Match` on its own ETag.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use super::file::{self, Unreadable};
use super::lock::{Attempt, LockInfo, StateLock, StateLocking};
use super::{RemoteAction, Result, S3Failure, State, StateError, StateStore, FORMAT_VERSION};

/// Where the state object is, and how to reach it (anything unset comes from the AWS config chain).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct S3Settings {
    pub bucket: String,
    pub key: String,
    pub region: Option<String>,
    pub profile: Option<String>,
    /// An S3-compatible endpoint; path-style addressing is used with it.
    pub endpoint: Option<String>,
    /// Writes are encrypted with this KMS key (SSE-KMS) when set.
    pub kms_key_id: Option<String>,
}

impl S3Settings {
    /// `s3://bucket/key`, checked as `check` does.
    pub fn from_url(url: &str) -> std::result::Result<S3Settings, String> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| format!("`{url}` is not an s3://BUCKET/KEY URL"))?;
        let (bucket, key) = rest
            .split_once('/')
            .ok_or_else(|| format!("`{url}` names no key: write s3://BUCKET/KEY"))?;
        let settings = S3Settings {
            bucket: bucket.to_string(),
            key: key.to_string(),
            ..S3Settings::default()
        };
        check_bucket(&settings.bucket)?;
        check_key(&settings.key)?;
        Ok(settings)
    }

    /// `s3://bucket/key`, as messages name the state.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    fn lock_key(&self) -> String {
        format!("{}.lock", self.key)
    }
}

/// S3's bucket naming rules (general purpose buckets): 3 to 63 lowercase letters, digits, dots and hyphens, starting
/// and ending with a letter or digit.
pub fn check_bucket(bucket: &str) -> std::result::Result<(), String> {
    let ok_chars = bucket
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    let ends_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !(3..=63).contains(&bucket.len())
        || !ok_chars
        || !ends_ok(bucket.chars().next())
        || !ends_ok(bucket.chars().last())
        || bucket.contains("..")
    {
        return Err(format!(
            "`{bucket}` is not a valid S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens, \
             starting and ending with a letter or digit)"
        ));
    }
    Ok(())
}

/// A state key: a non-empty object name of at most 1,024 bytes, not a "folder" (ending in `/`).
pub fn check_key(key: &str) -> std::result::Result<(), String> {
    if key.is_empty() || key.ends_with('/') || key.len() > 1024 || key.contains('\0') {
        return Err(format!(
            "`{key}` is not a usable state key: name an object, e.g. network/dxctl.state.json"
        ));
    }
    Ok(())
}

/// The S3 store. Clones share one client and one record of the state version this run read.
#[derive(Clone)]
pub struct S3State {
    inner: Arc<Inner>,
}

struct Inner {
    settings: S3Settings,
    client: Client,
    bridge: Bridge,
    /// The version of the state object this run read first, or last wrote itself: what its next write replaces.
    base: Mutex<Base>,
}

/// What this run knows of the state object's version.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Base {
    /// Not read yet: a write then only creates the object, never replaces one.
    Unread,
    /// Read, and there was none.
    Absent,
    /// Read (or written by this run) with this ETag.
    At(String),
}

impl std::fmt::Debug for S3State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3State")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

/// How a conditional write can go.
enum Written {
    Done {
        etag: String,
    },
    /// 412: the condition did not hold (the object changed, or exists when it must not).
    PreconditionFailed,
    /// 409: a concurrent conditional write to the same key; worth trying again.
    Conflicted,
}

/// A write's condition.
#[derive(Clone)]
enum Condition {
    /// Only if there is no such object (`If-None-Match: *`).
    Absent,
    /// Only if the object still has this ETag (`If-Match`).
    Unchanged(String),
}

/// Attempts per S3 call (the SDK retries throttling, 5xx answers and lost connections with backoff).
const S3_ATTEMPTS: u32 = 6;

/// How often a 409 (a concurrent conditional write) is tried again, and the first pause.
const CONFLICT_TRIES: u32 = 5;
const CONFLICT_PAUSE: Duration = Duration::from_millis(100);

impl S3State {
    /// Opens the store: the AWS config chain (with the settings' profile, region and endpoint) is read now; S3 is
    /// first reached by the first load, write or lock.
    pub fn open(settings: S3Settings, call_timeout: Option<Duration>) -> Result<S3State> {
        let bridge = Bridge::new().map_err(|e| StateError::Remote {
            action: RemoteAction::Connect,
            object: settings.url(),
            source: S3Failure::other(format!("cannot start its client: {e}")),
        })?;
        let client = bridge.run(client_for(settings.clone(), call_timeout))?;
        let client = client.map_err(|problem| StateError::Remote {
            action: RemoteAction::Connect,
            object: settings.url(),
            source: S3Failure::other(problem),
        })?;
        Ok(S3State::assemble(settings, client, bridge))
    }

    /// The store over a client the caller built (tests hand in one with fixed credentials and endpoint).
    pub fn with_client(settings: S3Settings, client: Client) -> Result<S3State> {
        let bridge = Bridge::new().map_err(|e| StateError::Remote {
            action: RemoteAction::Connect,
            object: settings.url(),
            source: S3Failure::other(format!("cannot start its client: {e}")),
        })?;
        Ok(S3State::assemble(settings, client, bridge))
    }

    fn assemble(settings: S3Settings, client: Client, bridge: Bridge) -> S3State {
        S3State {
            inner: Arc::new(Inner {
                settings,
                client,
                bridge,
                base: Mutex::new(Base::Unread),
            }),
        }
    }

    pub fn settings(&self) -> &S3Settings {
        &self.inner.settings
    }

    fn url(&self) -> String {
        self.inner.settings.url()
    }

    fn lock_url(&self) -> String {
        format!(
            "s3://{}/{}",
            self.inner.settings.bucket,
            self.inner.settings.lock_key()
        )
    }

    fn base(&self) -> std::sync::MutexGuard<'_, Base> {
        self.inner
            .base
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The object at `key`: its bytes and ETag, `None` when there is none.
    fn get(&self, key: String, action: RemoteAction) -> Result<Option<(Vec<u8>, String)>> {
        let (client, bucket) = (
            self.inner.client.clone(),
            self.inner.settings.bucket.clone(),
        );
        let object = format!("s3://{bucket}/{key}");
        let got = self.inner.bridge.run(async move {
            match client.get_object().bucket(bucket).key(key).send().await {
                Ok(out) => {
                    let etag = out.e_tag().unwrap_or_default().to_string();
                    match out.body.collect().await {
                        Ok(bytes) => Ok(Some((bytes.to_vec(), etag))),
                        Err(e) => Err(S3Failure::other(format!("reading its body failed: {e}"))),
                    }
                }
                Err(e) if is_absent(&e) => Ok(None),
                Err(e) => Err(S3Failure::of(&e)),
            }
        })?;
        got.map_err(|source| StateError::Remote {
            action,
            object,
            source,
        })
    }

    /// Writes `bytes` at `key` if `condition` holds; a 409 is tried again a few times before it is reported.
    fn put(
        &self,
        key: String,
        bytes: Vec<u8>,
        condition: Condition,
        action: RemoteAction,
    ) -> Result<Written> {
        let object = format!("s3://{}/{key}", self.inner.settings.bucket);
        let mut pause = CONFLICT_PAUSE;
        for _ in 1..CONFLICT_TRIES {
            match self.put_once(&key, &bytes, &condition, action, &object)? {
                Written::Conflicted => std::thread::sleep(pause),
                done => return Ok(done),
            }
            pause *= 2;
        }
        self.put_once(&key, &bytes, &condition, action, &object)
    }

    fn put_once(
        &self,
        key: &str,
        bytes: &[u8],
        condition: &Condition,
        action: RemoteAction,
        object: &str,
    ) -> Result<Written> {
        let settings = &self.inner.settings;
        let mut request = self
            .inner
            .client
            .put_object()
            .bucket(&settings.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(bytes.to_vec()));
        request = match condition {
            Condition::Absent => request.if_none_match("*"),
            Condition::Unchanged(etag) => request.if_match(etag),
        };
        if let Some(kms) = &settings.kms_key_id {
            request = request
                .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
                .ssekms_key_id(kms);
        }
        let sent = self.inner.bridge.run(async move {
            match request.send().await {
                Ok(out) => Ok(Written::Done {
                    etag: out.e_tag().unwrap_or_default().to_string(),
                }),
                Err(e) => match status(&e) {
                    Some(412) => Ok(Written::PreconditionFailed),
                    Some(409) => Ok(Written::Conflicted),
                    _ => Err(S3Failure::of(&e)),
                },
            }
        })?;
        sent.map_err(|source| StateError::Remote {
            action,
            object: object.to_string(),
            source,
        })
    }

    /// Deletes the lock object if it still has `etag`: `Ok(false)` when someone else's lock is there now. A lock
    /// already gone counts as deleted (the SDK may have retried a delete whose first answer was lost).
    fn delete_lock(&self, etag: &str) -> Result<bool> {
        let request = self
            .inner
            .client
            .delete_object()
            .bucket(&self.inner.settings.bucket)
            .key(self.inner.settings.lock_key())
            .if_match(etag);
        let deleted = self.inner.bridge.run(async move {
            match request.send().await {
                Ok(_) => Ok(Some(true)),
                Err(e) if status(&e) == Some(404) => Ok(Some(true)),
                Err(e) if status(&e) == Some(412) => Ok(None),
                Err(e) => Err(S3Failure::of(&e)),
            }
        })?;
        match deleted {
            Ok(Some(done)) => Ok(done),
            // 412: another ETag now; unless that lock is gone too, it is someone else's.
            Ok(None) => Ok(self.holder()?.is_none()),
            Err(source) => Err(StateError::Remote {
                action: RemoteAction::Unlock,
                object: self.lock_url(),
                source,
            }),
        }
    }

    /// The lock object's holder and ETag, `None` when nobody holds it. Lock info that cannot be read is shown with
    /// the object's ETag as its ID, so `force-unlock` can still clear it.
    fn holder(&self) -> Result<Option<(LockInfo, String)>> {
        let Some((bytes, etag)) =
            self.get(self.inner.settings.lock_key(), RemoteAction::ReadLock)?
        else {
            return Ok(None);
        };
        let info = serde_json::from_slice(&bytes).unwrap_or_else(|_| LockInfo {
            id: etag.trim_matches('"').to_string(),
            pid: 0,
            host: "unknown (the lock object holds no dxctl lock info)".into(),
            operation: "unknown".into(),
            time: "unknown".into(),
            who: None,
        });
        Ok(Some((info, etag)))
    }

    fn conflict(&self) -> StateError {
        StateError::Conflict { state: self.url() }
    }
}

/// Whether a GetObject failure means "no such object" (and not "no such bucket").
fn is_absent<E: ProvideErrorMetadata>(
    e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> bool {
    match e.code() {
        Some("NoSuchKey") => true,
        Some(_) => false,
        None => status(e) == Some(404),
    }
}

fn status<E>(e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

impl S3Failure {
    fn of<E>(e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> S3Failure
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let code = e.code().map(str::to_string);
        let message = match (e.message(), &code) {
            (Some(m), _) if !m.is_empty() => m.to_string(),
            _ => DisplayErrorContext(e).to_string(),
        };
        S3Failure {
            status: status(e),
            code,
            message,
        }
    }

    fn other(message: impl Into<String>) -> S3Failure {
        S3Failure {
            status: None,
            code: None,
            message: message.into(),
        }
    }
}

impl StateStore for S3State {
    fn load(&self) -> Result<State> {
        let found = self.get(self.inner.settings.key.clone(), RemoteAction::Read)?;
        let (state, seen) = match found {
            None => (State::default(), Base::Absent),
            Some((bytes, etag)) => (self.parse(&bytes)?, Base::At(etag)),
        };
        let mut base = self.base();
        match &*base {
            Base::Unread => *base = seen,
            known if *known == seen => {}
            // Someone wrote it since this run read it: acting on the newer state with what this run decided from
            // the older one could undo their change.
            _ => return Err(self.conflict()),
        }
        Ok(state)
    }

    fn save(&self, state: &mut State) -> Result<()> {
        if state.lineage.is_empty() {
            state.lineage = super::new_lineage();
        }
        state.serial = state
            .serial
            .checked_add(1)
            .ok_or_else(|| StateError::SerialExhausted {
                path: self.url().into(),
                serial: state.serial,
            })?;
        let text = file::to_text(state).map_err(StateError::Encode)?;
        let condition = match &*self.base() {
            Base::Unread | Base::Absent => Condition::Absent,
            Base::At(etag) => Condition::Unchanged(etag.clone()),
        };
        let key = self.inner.settings.key.clone();
        match self.put(
            key.clone(),
            text.clone().into_bytes(),
            condition,
            RemoteAction::Write,
        )? {
            Written::Done { etag } => {
                *self.base() = Base::At(etag);
                Ok(())
            }
            Written::Conflicted => Err(StateError::Remote {
                action: RemoteAction::Write,
                object: self.url(),
                source: S3Failure::other("concurrent writes kept conflicting (HTTP 409)"),
            }),
            Written::PreconditionFailed => {
                // An earlier attempt of this very write may have landed with its answer lost (the SDK then tried
                // again and met its own write): that is success, not a conflict.
                match self.get(key, RemoteAction::Read)? {
                    Some((bytes, etag)) if bytes == text.as_bytes() => {
                        *self.base() = Base::At(etag);
                        Ok(())
                    }
                    _ => Err(self.conflict()),
                }
            }
        }
    }
}

impl S3State {
    fn parse(&self, bytes: &[u8]) -> Result<State> {
        let text = std::str::from_utf8(bytes).map_err(|_| StateError::RemoteUnreadable {
            state: self.url(),
            problem: "it is not UTF-8 text".into(),
        })?;
        let state = match file::from_text(text) {
            Ok(state) => state,
            Err(Unreadable::Malformed(e)) => {
                return Err(StateError::RemoteUnreadable {
                    state: self.url(),
                    problem: format!("it is not valid dxctl state ({e})"),
                })
            }
            Err(Unreadable::Version(found)) => {
                return Err(StateError::RemoteUnreadable {
                    state: self.url(),
                    problem: format!(
                        "it has format_version {found}; this dxctl reads version {FORMAT_VERSION}"
                    ),
                })
            }
        };
        state
            .check()
            .map_err(|problem| StateError::RemoteUnreadable {
                state: self.url(),
                problem: format!("it is inconsistent: {problem}"),
            })?;
        Ok(state)
    }
}

/// A held S3 lock: the lock object and the ETag it was created with.
struct S3Lock {
    store: S3State,
    etag: String,
    info: LockInfo,
    released: bool,
}

impl StateLock for S3Lock {
    fn info(&self) -> &LockInfo {
        &self.info
    }

    fn release(mut self: Box<Self>) -> Result<()> {
        self.released = true;
        if self.store.delete_lock(&self.etag)? {
            Ok(())
        } else {
            Err(StateError::LockLost {
                state: self.store.url(),
                id: self.info.id.clone(),
            })
        }
    }
}

impl Drop for S3Lock {
    fn drop(&mut self) {
        if !self.released {
            let _ = self.store.delete_lock(&self.etag);
        }
    }
}

impl StateLocking for S3State {
    fn try_lock(&self, info: &LockInfo) -> Result<Attempt> {
        let body = serde_json::to_vec_pretty(info).map_err(StateError::Encode)?;
        let key = self.inner.settings.lock_key();
        // Bounded: the lock can vanish between a refused create and the read of its holder only so often.
        for _ in 0..3 {
            match self.put(
                key.clone(),
                body.clone(),
                Condition::Absent,
                RemoteAction::Lock,
            )? {
                Written::Done { etag } => return Ok(Attempt::Acquired(self.held(etag, info))),
                Written::Conflicted => return Ok(Attempt::Held(None)),
                Written::PreconditionFailed => match self.holder()? {
                    // This run's own create, landed with its answer lost.
                    Some((holder, etag)) if holder.id == info.id => {
                        return Ok(Attempt::Acquired(self.held(etag, info)))
                    }
                    Some((holder, _)) => return Ok(Attempt::Held(Some(holder))),
                    None => continue,
                },
            }
        }
        Ok(Attempt::Held(None))
    }

    fn lock_info(&self) -> Result<Option<LockInfo>> {
        Ok(self.holder()?.map(|(info, _)| info))
    }

    /// Nobody can tell from here whether a remote holder is still running: the ID is the operator's word that it
    /// is gone. The delete is conditional, so a lock taken anew meanwhile is never removed.
    fn force_unlock(&self, id: &str) -> Result<()> {
        let Some((holder, etag)) = self.holder()? else {
            return Err(StateError::NotLocked { state: self.url() });
        };
        if holder.id != id {
            return Err(StateError::WrongLockId {
                id: id.to_string(),
                holder: Box::new(holder),
            });
        }
        if self.delete_lock(&etag)? {
            Ok(())
        } else {
            Err(StateError::LockChanged { state: self.url() })
        }
    }

    fn locked_name(&self) -> String {
        self.url()
    }
}

impl S3State {
    fn held(&self, etag: String, info: &LockInfo) -> Box<dyn StateLock> {
        Box::new(S3Lock {
            store: self.clone(),
            etag,
            info: info.clone(),
            released: false,
        })
    }
}

/// The S3 client: the AWS config chain, narrowed by the settings. A custom endpoint (the settings',
/// `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`) gets path-style addressing, which S3-compatible servers expect.
async fn client_for(
    settings: S3Settings,
    call_timeout: Option<Duration>,
) -> std::result::Result<Client, String> {
    use aws_config::{BehaviorVersion, Region};
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).http_client(crate::aws::https_client());
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(endpoint) = &settings.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    if let Some(limit) = call_timeout {
        loader = loader.timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(limit)
                .build(),
        );
    }
    let sdk = loader.load().await;
    if sdk.region().is_none() {
        return Err(
            "no region for the state bucket: set `region` in the backend \"s3\" block, or AWS_REGION".into(),
        );
    }
    let custom_endpoint = settings.endpoint.is_some()
        || ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    // More attempts than the SDK's default 3: a transient failure at the end of a run would otherwise leave the
    // lock behind for someone to force-unlock, or the state without the run's last steps.
    let retries = aws_sdk_s3::config::retry::RetryConfig::standard()
        .with_max_attempts(S3_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(100));
    let conf = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(custom_endpoint)
        .retry_config(retries)
        .build();
    Ok(Client::from_conf(conf))
}

/// A runtime of the store's own, so its blocking methods work from anywhere: a plain thread, the blocking pool, or
/// an async task of the command's runtime (which it then blocks briefly, as reading a local state file would).
struct Bridge(Option<tokio::runtime::Runtime>);

impl Bridge {
    fn new() -> std::io::Result<Bridge> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("dxctl-state-s3")
            .enable_all()
            .build()?;
        Ok(Bridge(Some(runtime)))
    }

    /// Runs `work` on the store's runtime and waits for it.
    fn run<T: Send + 'static>(&self, work: impl Future<Output = T> + Send + 'static) -> Result<T> {
        let gone = || StateError::Remote {
            action: RemoteAction::Connect,
            object: "S3".into(),
            source: S3Failure::other("the S3 client stopped"),
        };
        let runtime = self.0.as_ref().ok_or_else(gone)?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = tx.send(work.await);
        });
        rx.recv().map_err(|_| gone())
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // Never blocks (dropping a runtime from async code would panic): its worker finishes in the background.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_into_bucket_and_key_and_bad_ones_say_why() {
        let s = S3Settings::from_url("s3://team-net-state/dx/prod.json").unwrap();
        assert_eq!(
            (s.bucket.as_str(), s.key.as_str()),
            ("team-net-state", "dx/prod.json")
        );
        assert_eq!(s.url(), "s3://team-net-state/dx/prod.json");
        assert_eq!(s.lock_key(), "dx/prod.json.lock");
        for (bad, why) in [
            ("team/dx.json", "not an s3://"),
            ("s3://team-net-state", "names no key"),
            ("s3://team-net-state/", "not a usable state key"),
            ("s3://team-net-state/dir/", "not a usable state key"),
            ("s3://Team/dx.json", "not a valid S3 bucket name"),
            ("s3://ab/dx.json", "not a valid S3 bucket name"),
            ("s3://-ab/dx.json", "not a valid S3 bucket name"),
            ("s3://a..b/dx.json", "not a valid S3 bucket name"),
        ] {
            let err = S3Settings::from_url(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
