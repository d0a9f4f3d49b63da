//! The S3 state lock: `<key>.lock`, created with `If-None-Match: *` and holding the holder's `LockInfo`, removed
//! with `If-Match` on the ETag it was created with, so nobody ever removes a lock they do not hold.

use super::{Condition, RemoteAction, S3State, Written};
use crate::state::lock::{Attempt, LockInfo, StateLock, StateLocking};
use crate::state::{Result, StateError};

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
