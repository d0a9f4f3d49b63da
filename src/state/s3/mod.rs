//! The S3 state store, for teams whose CI runners share nothing but a bucket. The state is one object, and every
//! write is a compare-and-swap: `If-Match` on the ETag this run read (`If-None-Match: *` when it read none), so an
//! update is never lost, not even when two runs both believe they hold the lock. The lock is a second object,
//! `<key>.lock`, created with `If-None-Match: *` and deleted with `If-Match` on its own ETag.

mod bridge;
mod client;
mod lock;
mod settings;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use super::file::{self, Unreadable};
use super::lock::LockInfo;
use super::{RemoteAction, Result, S3Failure, State, StateError, StateStore, FORMAT_VERSION};
use bridge::Bridge;
use client::client_for;
pub use settings::{check_bucket, check_key, S3Settings};

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
