//! The state lock, which any command that may write state holds: the `StateLocking` trait a store provides (so a
//! remote backend can bring its own lock), the shared waiting loop, and the local file store's lock (an OS advisory
//! lock on `<state>.lock`, plus a lock-info file naming the holder).

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{Access, LocalStateFile, Result, StateError};

/// Who holds the lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    pub pid: u32,
    pub host: String,
    pub operation: String,
    pub time: String,
    /// Who started it: the CI actor (`GITHUB_ACTOR`) or the login name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub who: Option<String>,
}

impl LockInfo {
    /// This process, about to do `operation`, with a fresh random id.
    pub fn new(operation: &str) -> LockInfo {
        let id: String = (0..16)
            .map(|_| format!("{:x}", rand::rng().random_range(0..16u8)))
            .collect();
        LockInfo {
            id,
            pid: std::process::id(),
            host: host(),
            operation: operation.to_string(),
            time: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            who: who(),
        }
    }
}

/// The person or CI actor running dxctl, for lock messages.
fn who() -> Option<String> {
    ["GITHUB_ACTOR", "USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
}

/// A held lock. Dropping it releases it (best effort); `release` says whether that worked.
pub trait StateLock: Send {
    fn info(&self) -> &LockInfo;
    fn release(self: Box<Self>) -> Result<()>;
}

/// What one try at the lock found.
pub enum Attempt {
    Acquired(Box<dyn StateLock>),
    /// Someone else holds it; who, if they said.
    Held(Option<LockInfo>),
}

/// The lock a state store provides. Each call tries once and does not wait; `acquire` waits.
pub trait StateLocking {
    /// Takes the lock for `info` if it is free.
    fn try_lock(&self, info: &LockInfo) -> Result<Attempt>;
    /// The current holder, if there is one and it said who it is.
    fn lock_info(&self) -> Result<Option<LockInfo>>;
    /// Clears a lock whose holder is gone. Refuses when nobody holds it (`NotLocked`), when `id` does not match
    /// (`WrongLockId`), or when its holder is still alive (`StillHeld`).
    fn force_unlock(&self, id: &str) -> Result<()>;
    /// The state the lock guards, as messages name it.
    fn locked_name(&self) -> String;
    /// How long a waiting `acquire` pauses between tries: a local lock is cheap to try, a remote one is requests.
    fn retry_interval(&self) -> Duration {
        RETRY
    }
}

/// How often a waiting `acquire` tries again.
const RETRY: Duration = Duration::from_millis(100);

/// Takes the lock, waiting up to `timeout` for another holder to finish. The waiting sleeps on the async clock and
/// each try runs on the blocking pool, so the executor is never blocked. Still held at the timeout: `Locked`.
pub async fn acquire<L: StateLocking + Clone + Send + 'static>(
    store: &L,
    operation: &str,
    timeout: Duration,
) -> Result<Box<dyn StateLock>> {
    let info = LockInfo::new(operation);
    let started = tokio::time::Instant::now();
    loop {
        let attempt = {
            let (store, info) = (store.clone(), info.clone());
            tokio::task::spawn_blocking(move || store.try_lock(&info)).await??
        };
        match next(store, attempt, started.elapsed(), timeout)? {
            Next::Acquired(lock) => return Ok(lock),
            Next::WaitFor(pause) => tokio::time::sleep(pause).await,
        }
    }
}

/// What comes after one try at the lock.
enum Next {
    Acquired(Box<dyn StateLock>),
    WaitFor(Duration),
}

/// The lock, or the pause before the next try; once `timeout` has passed, `Locked` with the holder.
fn next<L: StateLocking>(
    store: &L,
    attempt: Attempt,
    waited: Duration,
    timeout: Duration,
) -> Result<Next> {
    match attempt {
        Attempt::Acquired(lock) => Ok(Next::Acquired(lock)),
        Attempt::Held(holder) if waited >= timeout => Err(StateError::Locked {
            state: store.locked_name(),
            holder: holder.map(Box::new),
        }),
        Attempt::Held(_) => Ok(Next::WaitFor(store.retry_interval().min(timeout - waited))),
    }
}

/// [`acquire`] for commands that do only file work (the state commands): each try and each wait blocks the calling
/// thread.
pub fn acquire_blocking<L: StateLocking>(
    store: &L,
    operation: &str,
    timeout: Duration,
) -> Result<Box<dyn StateLock>> {
    let info = LockInfo::new(operation);
    let started = std::time::Instant::now();
    loop {
        match next(store, store.try_lock(&info)?, started.elapsed(), timeout)? {
            Next::Acquired(lock) => return Ok(lock),
            Next::WaitFor(pause) => std::thread::sleep(pause),
        }
    }
}

/// The local lock: the open, OS-locked `<state>.lock`, and the info file removed on release.
struct LocalLock {
    file: Option<File>,
    info_path: PathBuf,
    info: LockInfo,
}

impl LocalLock {
    fn remove_info(&mut self) -> std::io::Result<()> {
        // The info file goes first, while the OS lock is still held, so no later holder's file is removed.
        let removed = match std::fs::remove_file(&self.info_path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        };
        // Closing the file releases the OS lock.
        self.file = None;
        removed
    }
}

impl StateLock for LocalLock {
    fn info(&self) -> &LockInfo {
        &self.info
    }

    fn release(mut self: Box<Self>) -> Result<()> {
        let path = self.info_path.clone();
        self.remove_info()
            .map_err(StateError::io(Access::RemoveLockInfo, path))
    }
}

impl Drop for LocalLock {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = self.remove_info();
        }
    }
}

fn paths(state: &Path) -> (PathBuf, PathBuf) {
    let mut lock = state.as_os_str().to_owned();
    lock.push(".lock");
    let mut info = lock.clone();
    info.push(".info");
    (PathBuf::from(lock), PathBuf::from(info))
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown-host".into())
}

/// The holder the info file next to `state` names, if it names one.
fn holder(state: &Path) -> Option<LockInfo> {
    let (_, info) = paths(state);
    std::fs::read_to_string(info)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
}

impl StateLocking for LocalStateFile {
    fn try_lock(&self, info: &LockInfo) -> Result<Attempt> {
        let (lock_path, info_path) = paths(self.path());
        if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(StateError::io(Access::CreateDir, dir))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(StateError::io(Access::OpenLockFile, &lock_path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Ok(Attempt::Held(holder(self.path())))
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(StateError::Io {
                    access: Access::Lock,
                    path: lock_path,
                    source,
                })
            }
        }
        let text = serde_json::to_string_pretty(info).map_err(StateError::Encode)?;
        super::write_atomically(&info_path, text.as_bytes(), false)
            .map_err(StateError::io(Access::WriteLockInfo, &info_path))?;
        Ok(Attempt::Acquired(Box::new(LocalLock {
            file: Some(file),
            info_path,
            info: info.clone(),
        })))
    }

    fn lock_info(&self) -> Result<Option<LockInfo>> {
        Ok(holder(self.path()))
    }

    fn force_unlock(&self, id: &str) -> Result<()> {
        let state = self.path();
        let (lock_path, info_path) = paths(state);
        let current = holder(state).ok_or_else(|| StateError::NotLocked {
            state: self.locked_name(),
        })?;
        if current.id != id {
            return Err(StateError::WrongLockId {
                id: id.to_string(),
                holder: Box::new(current),
            });
        }
        if let Ok(file) = OpenOptions::new().write(true).open(&lock_path) {
            if let Err(std::fs::TryLockError::WouldBlock) = file.try_lock() {
                return Err(StateError::StillHeld {
                    holder: Box::new(current),
                });
            }
        }
        std::fs::remove_file(&info_path).map_err(StateError::io(Access::RemoveLockInfo, info_path))
    }

    fn locked_name(&self) -> String {
        self.path().display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &tempfile::TempDir) -> LocalStateFile {
        LocalStateFile::new(dir.path().join("nested/s.json"))
    }

    #[tokio::test]
    async fn a_second_holder_fails_with_the_first_ones_details() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        let first = acquire(&store, "apply", Duration::ZERO).await.unwrap();
        assert!(dir.path().join("nested/s.json.lock").exists());
        assert_eq!(store.lock_info().unwrap().as_ref(), Some(first.info()));
        let err = acquire(&store, "apply", Duration::from_millis(250))
            .await
            .err()
            .unwrap();
        let StateError::Locked { state, holder } = &err else {
            panic!("not a lock conflict: {err}")
        };
        assert_eq!(holder.as_deref(), Some(first.info()), "the holder, as data");
        assert_eq!(state, &store.locked_name());
        let err = err.to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        assert!(err.contains(&first.info().id), "{err}");
        assert!(err.contains("s.json is locked by"), "{err}");
        assert!(matches!(
            store.force_unlock(&first.info().id),
            Err(StateError::StillHeld { holder }) if *holder == *first.info()
        ));
        first.release().unwrap();
        assert_eq!(store.lock_info().unwrap(), None);
        let again = acquire(&store, "apply", Duration::ZERO).await.unwrap();
        assert_eq!(store.lock_info().unwrap().unwrap().id, again.info().id);
    }

    /// The wait sleeps on the async clock: with the clock paused, a minute's wait passes in virtual time, with a
    /// try every 100ms; a blocking sleep would hold the test for the real minute.
    #[tokio::test(start_paused = true)]
    async fn waiting_for_a_held_lock_sleeps_on_the_async_clock_until_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        let _first = acquire(&store, "apply", Duration::ZERO).await.unwrap();
        let (started, wall) = (tokio::time::Instant::now(), std::time::Instant::now());
        let err = acquire(&store, "apply", Duration::from_secs(60))
            .await
            .err()
            .unwrap();
        assert!(err.to_string().contains("locked by"), "{err}");
        assert_eq!(started.elapsed(), Duration::from_secs(60));
        assert!(
            wall.elapsed() < Duration::from_secs(30),
            "{:?}",
            wall.elapsed()
        );
    }

    /// A waiting apply gets the lock as soon as the holder lets go, before its timeout.
    #[tokio::test(start_paused = true)]
    async fn a_waiting_holder_gets_the_lock_once_it_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        let first = acquire(&store, "apply", Duration::ZERO).await.unwrap();
        let waiter = {
            let store = store.clone();
            tokio::spawn(async move { acquire(&store, "apply", Duration::from_secs(60)).await })
        };
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!waiter.is_finished());
        drop(first);
        let started = tokio::time::Instant::now();
        let second = waiter.await.unwrap().unwrap();
        assert!(started.elapsed() <= Duration::from_millis(200));
        assert_eq!(store.lock_info().unwrap().unwrap().id, second.info().id);
    }

    #[test]
    fn force_unlock_clears_a_stale_info_file_only_once_its_holder_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        let Ok(Attempt::Acquired(lock)) = store.try_lock(&LockInfo::new("apply")) else {
            panic!("the lock is free")
        };
        let id = lock.info().id.clone();
        // As if the process died without cleaning up: the info file stays. While this process still has the lock
        // file open (and so the OS lock), unlocking is refused...
        let (_, info_path) = paths(store.path());
        let info = std::fs::read(&info_path).unwrap();
        drop(lock);
        std::fs::write(&info_path, &info).unwrap();
        let held = OpenOptions::new()
            .write(true)
            .open(dir.path().join("nested/s.json.lock"))
            .unwrap();
        held.try_lock().unwrap();
        let holder: LockInfo = serde_json::from_slice(&info).unwrap();
        let still_held = store.force_unlock(&id).unwrap_err();
        assert!(
            matches!(&still_held, StateError::StillHeld { holder: h } if **h == holder),
            "{still_held:?}"
        );
        assert_eq!(
            still_held.to_string(),
            format!(
                "lock {id} is still held by a running process (pid {} on {}); stop it instead",
                holder.pid, holder.host
            )
        );
        // A wrong id is refused whatever the holder's state, naming the current lock.
        let wrong = store.force_unlock("wrong-id").unwrap_err();
        assert!(
            matches!(&wrong, StateError::WrongLockId { id: given, holder: h } if given == "wrong-id" && **h == holder),
            "{wrong:?}"
        );
        assert_eq!(
            wrong.to_string(),
            format!(
                "lock ID wrong-id does not match the current lock {id} (pid {} on {})",
                holder.pid, holder.host
            )
        );
        // ...and once the OS lock is gone, the stale info file is cleared and the lock can be taken again.
        drop(held);
        assert!(matches!(
            store.try_lock(&LockInfo::new("apply")).unwrap(),
            Attempt::Acquired(_)
        ));
        let stale = LocalStateFile::new(dir.path().join("other.json"));
        std::fs::write(dir.path().join("other.json.lock.info"), &info).unwrap();
        stale.force_unlock(&id).unwrap();
        assert_eq!(stale.lock_info().unwrap(), None);
        let unlocked = stale.force_unlock(&id).unwrap_err();
        assert!(
            matches!(&unlocked, StateError::NotLocked { state } if state == &stale.locked_name()),
            "{unlocked:?}"
        );
        assert_eq!(
            unlocked.to_string(),
            format!("the state {} is not locked", stale.path().display())
        );
    }
}
