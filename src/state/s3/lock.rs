//! The S3 state lock: `<key>.lock`, created with `If-None-Match: *` and holding the holder's `LockInfo`, removed
//! with `If-Match` on the ETag it was created with, so nobody ever removes a lock they do not hold.

use std::sync::Mutex;

use super::{Condition, RemoteAction, S3State, Written};
use crate::state::lock::{Attempt, LockInfo, StateLock, StateLocking};
use crate::state::{Result, StateError};

/// The S3 locks this process holds, by lock object ETag. Unlike a local lock, which the OS drops with the process,
/// an S3 lock outlives a process that exits without releasing it: an interrupted command (its thread still
/// blocked) has it released through here before dxctl exits.
static HELD: Mutex<Vec<(String, S3State)>> = Mutex::new(Vec::new());

fn held_locks() -> std::sync::MutexGuard<'static, Vec<(String, S3State)>> {
    HELD.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn forget(etag: &str) {
    held_locks().retain(|(e, _)| e != etag);
}

/// Releases every S3 lock this process still holds (each only if it is still this process's), returning the
/// states they locked. For the exit path of an interrupted command.
pub fn release_held() -> Vec<String> {
    let held: Vec<(String, S3State)> = held_locks().drain(..).collect();
    held.into_iter()
        .filter(|(etag, store)| store.delete_lock(etag).unwrap_or(false))
        .map(|(_, store)| store.url())
        .collect()
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
        forget(&self.etag);
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
            forget(&self.etag);
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
            let written = self
                .put(
                    key.clone(),
                    body.clone(),
                    Condition::Absent,
                    RemoteAction::Lock,
                )
                .inspect_err(|_| self.clear_own(info))?;
            match written {
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

    /// Each try is a PutObject (and a GetObject of the holder): half a second apart, a 10-minute wait costs about
    /// 2,400 requests, not 12,000.
    fn retry_interval(&self) -> std::time::Duration {
        std::time::Duration::from_millis(500)
    }
}

impl S3State {
    /// After a create that failed for good, but whose first attempt may have landed: removes this run's own lock.
    fn clear_own(&self, info: &LockInfo) {
        if let Ok(Some((holder, etag))) = self.holder() {
            if holder.id == info.id {
                let _ = self.delete_lock(&etag);
            }
        }
    }

    fn held(&self, etag: String, info: &LockInfo) -> Box<dyn StateLock> {
        held_locks().push((etag.clone(), self.clone()));
        Box::new(S3Lock {
            store: self.clone(),
            etag,
            info: info.clone(),
            released: false,
        })
    }
}
