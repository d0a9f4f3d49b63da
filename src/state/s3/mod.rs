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
pub use lock::release_held;
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
    /// The bytes of a state write whose outcome is unknown (it failed, but may have landed): a later read that finds
    /// exactly these bytes found this run's own write, not someone else's.
    pending: Mutex<Option<Vec<u8>>>,
}

/// What a GetObject found.
enum Got {
    Found {
        bytes: Vec<u8>,
        etag: String,
    },
    Absent,
    /// The latest version is a delete marker (a versioned bucket): the object was there and was deleted.
    Deleted,
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

/// Runs `once` again while it answers a 409 (`conflicted`), at most `CONFLICT_TRIES` times in all, pausing from
/// `CONFLICT_PAUSE` and doubling; the last answer stands.
fn past_conflicts<T>(mut once: impl FnMut() -> Result<T>, conflicted: fn(&T) -> bool) -> Result<T> {
    let mut pause = CONFLICT_PAUSE;
    let mut answer = once()?;
    for _ in 1..CONFLICT_TRIES {
        if !conflicted(&answer) {
            break;
        }
        std::thread::sleep(pause);
        pause *= 2;
        answer = once()?;
    }
    Ok(answer)
}

fn kept_conflicting(action: RemoteAction, object: String) -> StateError {
    StateError::Remote {
        action,
        object,
        source: S3Failure::other("concurrent requests kept conflicting (HTTP 409)"),
    }
}

fn new_bridge(settings: &S3Settings) -> Result<Bridge> {
    Bridge::new().map_err(|e| StateError::Remote {
        action: RemoteAction::Configure,
        object: settings.url(),
        source: S3Failure::other(format!("cannot start its client: {e}")),
    })
}

impl S3State {
    /// Opens the store: the AWS config chain (with the settings' profile, region and endpoint) is read now; S3 is
    /// first reached by the first load, write or lock.
    pub fn open(settings: S3Settings, call_timeout: Option<Duration>) -> Result<S3State> {
        let bridge = new_bridge(&settings)?;
        let client = bridge.run(client_for(settings.clone(), call_timeout))?;
        let client = client.map_err(|problem| StateError::Remote {
            action: RemoteAction::Configure,
            object: settings.url(),
            source: S3Failure::other(problem),
        })?;
        Ok(S3State::assemble(settings, client, bridge))
    }

    /// The store over a client the caller built (tests hand in one with fixed credentials and endpoint).
    pub fn with_client(settings: S3Settings, client: Client) -> Result<S3State> {
        let bridge = new_bridge(&settings)?;
        Ok(S3State::assemble(settings, client, bridge))
    }

    fn assemble(settings: S3Settings, client: Client, bridge: Bridge) -> S3State {
        S3State {
            inner: Arc::new(Inner {
                settings,
                client,
                bridge,
                base: Mutex::new(Base::Unread),
                pending: Mutex::new(None),
            }),
        }
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

    /// The object at `key`: its bytes and ETag, absent, or deleted.
    fn get(&self, key: String, action: RemoteAction) -> Result<Got> {
        let (client, bucket) = (
            self.inner.client.clone(),
            self.inner.settings.bucket.clone(),
        );
        let object = format!("s3://{bucket}/{key}");
        let got = self.inner.bridge.run(async move {
            match client.get_object().bucket(bucket).key(key).send().await {
                Ok(out) => {
                    let etag = etag_of(out.e_tag())?;
                    match out.body.collect().await {
                        Ok(bytes) => Ok(Got::Found {
                            bytes: bytes.to_vec(),
                            etag,
                        }),
                        Err(e) => Err(S3Failure::other(format!("reading its body failed: {e}"))),
                    }
                }
                Err(e) if is_absent(&e) && is_delete_marker(&e) => Ok(Got::Deleted),
                Err(e) if is_absent(&e) => Ok(Got::Absent),
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
        past_conflicts(
            || self.put_once(&key, &bytes, &condition, action, &object),
            |w| matches!(w, Written::Conflicted),
        )
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
        let replaces = matches!(condition, Condition::Unchanged(_));
        let sent = self.inner.bridge.run(async move {
            match request.send().await {
                Ok(out) => Ok(Written::Done {
                    etag: etag_of(out.e_tag())?,
                }),
                Err(e) => match status(&e) {
                    Some(412) => Ok(Written::PreconditionFailed),
                    // If-Match on an object that is gone: AWS answers 404 (some servers 412); either way the
                    // version this run read is not there any more.
                    Some(404) if replaces && e.code() != Some("NoSuchBucket") => {
                        Ok(Written::PreconditionFailed)
                    }
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
    /// already gone counts as deleted (the SDK may have retried a delete whose first answer was lost). A 409 is tried
    /// again, as for writes.
    fn delete_lock(&self, etag: &str) -> Result<bool> {
        match past_conflicts(
            || self.delete_lock_once(etag),
            |d| matches!(d, Deleted::Conflicted),
        )? {
            Deleted::Yes => Ok(true),
            // Another ETag now: unless that lock is gone too, it is someone else's.
            Deleted::NotThatOne => Ok(self.holder()?.is_none()),
            Deleted::Conflicted => Err(kept_conflicting(RemoteAction::Unlock, self.lock_url())),
        }
    }

    fn delete_lock_once(&self, etag: &str) -> Result<Deleted> {
        let request = self
            .inner
            .client
            .delete_object()
            .bucket(&self.inner.settings.bucket)
            .key(self.inner.settings.lock_key())
            .if_match(etag);
        let deleted = self.inner.bridge.run(async move {
            match request.send().await {
                Ok(_) => Ok(Deleted::Yes),
                Err(e) if status(&e) == Some(404) && e.code() != Some("NoSuchBucket") => {
                    Ok(Deleted::Yes)
                }
                Err(e) if status(&e) == Some(412) => Ok(Deleted::NotThatOne),
                Err(e) if status(&e) == Some(409) => Ok(Deleted::Conflicted),
                Err(e) => Err(S3Failure::of(&e)),
            }
        })?;
        deleted.map_err(|source| StateError::Remote {
            action: RemoteAction::Unlock,
            object: self.lock_url(),
            source,
        })
    }

    /// The lock object's holder and ETag, `None` when nobody holds it. Lock info that cannot be read is shown with
    /// the object's ETag as its ID, so `force-unlock` can still clear it.
    fn holder(&self) -> Result<Option<(LockInfo, String)>> {
        let Got::Found { bytes, etag } =
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

/// Whether a 404 came with `x-amz-delete-marker: true`: the latest version of the object is a delete marker.
fn is_delete_marker<E>(e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> bool {
    e.raw_response()
        .and_then(|r| r.headers().get("x-amz-delete-marker"))
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The ETag S3 answered with; without one there is nothing to compare-and-swap on.
fn etag_of(etag: Option<&str>) -> std::result::Result<String, S3Failure> {
    match etag {
        Some(etag) if !etag.is_empty() => Ok(etag.to_string()),
        _ => Err(S3Failure::other(
            "the answer carried no ETag, which dxctl needs to compare-and-swap the state",
        )),
    }
}

/// How a conditional delete went.
enum Deleted {
    Yes,
    NotThatOne,
    Conflicted,
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
        let (parsed, seen, own) =
            match self.get(self.inner.settings.key.clone(), RemoteAction::Read)? {
                // Not every server marks a GetObject of a deleted object (moto does not); a HeadObject says.
                Got::Absent if self.deleted()? => {
                    return Err(StateError::RemoteDeleted { state: self.url() })
                }
                Got::Absent => (Ok(State::default()), Base::Absent, false),
                Got::Deleted => return Err(StateError::RemoteDeleted { state: self.url() }),
                Got::Found { bytes, etag } => {
                    let own = self.pending().as_deref() == Some(bytes.as_slice());
                    (self.parse(&bytes), Base::At(etag), own)
                }
            };
        let mut base = self.base();
        match &*base {
            Base::Unread => *base = seen,
            known if *known == seen => {}
            // This run's own write, whose answer was lost: it landed after all.
            _ if own => {
                *base = seen;
                *self.pending() = None;
            }
            // Someone wrote it since this run read it: acting on the newer state with what this run decided from
            // the older one could undo their change.
            _ => return Err(self.conflict()),
        }
        parsed
    }

    fn save(&self, state: &mut State) -> Result<()> {
        super::next_commit(state, self.url())?;
        let text = file::to_text(state).map_err(StateError::Encode)?;
        self.write_state(text.into_bytes())
    }
}

impl S3State {
    /// Replaces the state object with a marker naming the state's new home (after `state migrate` copied it there),
    /// by compare-and-swap like any write; the last state stays as the object's previous version. Needs the lock.
    pub fn mark_moved(&self, moved: &super::Moved) -> Result<()> {
        let text = moved.to_text().map_err(StateError::Encode)?;
        self.write_state(text.into_bytes())
    }

    /// Replaces the state object with `bytes` by compare-and-swap on the version this run read.
    fn write_state(&self, bytes: Vec<u8>) -> Result<()> {
        let condition = match &*self.base() {
            Base::Unread | Base::Absent => Condition::Absent,
            Base::At(etag) => Condition::Unchanged(etag.clone()),
        };
        *self.pending() = Some(bytes.clone());
        let key = self.inner.settings.key.clone();
        let written = self.put(key.clone(), bytes.clone(), condition, RemoteAction::Write)?;
        let done = |this: &S3State, etag: String| {
            *this.base() = Base::At(etag);
            *this.pending() = None;
            Ok(())
        };
        match written {
            Written::Done { etag } => done(self, etag),
            Written::Conflicted => Err(kept_conflicting(RemoteAction::Write, self.url())),
            // An earlier attempt of this very write may have landed with its answer lost (the SDK then tried again
            // and met its own write): that is success, not a conflict.
            Written::PreconditionFailed => match self.get(key, RemoteAction::Read)? {
                Got::Found { bytes: there, etag } if there == bytes => done(self, etag),
                _ => Err(self.conflict()),
            },
        }
    }

    /// Whether the state object's latest version is a delete marker (HeadObject answers 404 marked as one).
    fn deleted(&self) -> Result<bool> {
        let request = self
            .inner
            .client
            .head_object()
            .bucket(&self.inner.settings.bucket)
            .key(&self.inner.settings.key);
        let headed = self.inner.bridge.run(async move {
            match request.send().await {
                Ok(_) => Ok(false),
                Err(e) if is_delete_marker(&e) => Ok(true),
                Err(e) if status(&e) == Some(404) => Ok(false),
                Err(e) => Err(S3Failure::of(&e)),
            }
        })?;
        headed.map_err(|source| StateError::Remote {
            action: RemoteAction::Read,
            object: self.url(),
            source,
        })
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Option<Vec<u8>>> {
        self.inner
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

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
            Err(Unreadable::Moved(moved)) => {
                return Err(StateError::Moved {
                    state: self.url(),
                    to: moved.moved_to,
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
