//! The state lock: an OS advisory lock on `<state>.lock`, plus a lock-info file naming the holder, for any command
//! that may write state.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Who holds the lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    pub pid: u32,
    pub host: String,
    pub operation: String,
    pub time: String,
}

/// Held while alive; released (and its info file removed) on drop.
pub struct StateLock {
    _file: File,
    info_path: PathBuf,
    pub info: LockInfo,
}

impl Drop for StateLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.info_path);
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

/// The current holder, if the info file says one.
pub fn holder(state: &Path) -> Option<LockInfo> {
    let (_, info) = paths(state);
    std::fs::read_to_string(info)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
}

/// Takes the lock, waiting up to `timeout` for another holder to finish.
pub fn acquire(state: &Path, operation: &str, timeout: Duration) -> anyhow::Result<StateLock> {
    let (lock_path, info_path) = paths(state);
    if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open lock file {}", lock_path.display()))?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < timeout => {
                std::thread::sleep(
                    Duration::from_millis(100).min(timeout.saturating_sub(started.elapsed())),
                );
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let who = holder(state).map_or_else(
                    || "another dxctl process (no lock info)".to_string(),
                    |h| {
                        format!(
                            "pid {} on {} ({}) since {}, lock ID {}",
                            h.pid, h.host, h.operation, h.time, h.id
                        )
                    },
                );
                anyhow::bail!(
                    "the state {} is locked by {who}; wait for it to finish, retry with --lock-timeout, or, if that process is gone, run `dxctl state force-unlock <ID>`",
                    state.display()
                );
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", lock_path.display()))
            }
        }
    }
    let id: String = (0..16)
        .map(|_| format!("{:x}", rand::rng().random_range(0..16u8)))
        .collect();
    let info = LockInfo {
        id,
        pid: std::process::id(),
        host: host(),
        operation: operation.to_string(),
        time: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
    };
    super::write_atomically(
        &info_path,
        serde_json::to_string_pretty(&info)?.as_bytes(),
        false,
    )
    .with_context(|| format!("cannot write {}", info_path.display()))?;
    Ok(StateLock {
        _file: file,
        info_path,
        info,
    })
}

/// Clears a lock whose holder is gone. Refuses when the ID does not match, or when a live process still holds it.
pub fn force_unlock(state: &Path, id: &str) -> anyhow::Result<()> {
    let (lock_path, info_path) = paths(state);
    let current = holder(state)
        .ok_or_else(|| anyhow::anyhow!("the state {} is not locked", state.display()))?;
    if current.id != id {
        anyhow::bail!(
            "lock ID {id} does not match the current lock {} (pid {} on {})",
            current.id,
            current.pid,
            current.host
        );
    }
    if let Ok(file) = OpenOptions::new().write(true).open(&lock_path) {
        if let Err(std::fs::TryLockError::WouldBlock) = file.try_lock() {
            anyhow::bail!(
                "lock {id} is still held by a running process (pid {} on {}); stop it instead",
                current.pid,
                current.host
            );
        }
    }
    std::fs::remove_file(&info_path)
        .with_context(|| format!("cannot remove {}", info_path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_fails_with_the_first_ones_details() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        let first = acquire(&state, "apply", Duration::ZERO).unwrap();
        let err = acquire(&state, "apply", Duration::from_millis(250))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        assert!(err.contains(&first.info.id), "{err}");
        assert!(force_unlock(&state, &first.info.id)
            .unwrap_err()
            .to_string()
            .contains("still held"));
        drop(first);
        let again = acquire(&state, "apply", Duration::ZERO).unwrap();
        assert_eq!(holder(&state).unwrap().id, again.info.id);
    }

    #[test]
    fn force_unlock_clears_a_stale_info_file() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        let lock = acquire(&state, "apply", Duration::ZERO).unwrap();
        let id = lock.info.id.clone();
        std::mem::forget(lock); // as if the process died without cleaning up its info file
                                // The OS lock is still held by this process's open file, so unlocking is refused...
        assert!(force_unlock(&state, &id).is_err());
        assert!(force_unlock(&state, "wrong-id")
            .unwrap_err()
            .to_string()
            .contains("does not match"));
    }
}
