//! Which store a command's state lives in: chosen once (see `commands::backend` for the precedence), then used
//! through `StateStore` and `StateLocking` like any other, so planning and apply never ask where state is kept.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::lock::{Attempt, LockInfo, StateLocking};
use super::{Journal, LocalStateFile, Result, S3Settings, S3State, State, StateStore};

/// Where the state is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    Local(PathBuf),
    S3(S3Settings),
}

impl Backend {
    /// A `--state` value: `s3://BUCKET/KEY`, or a local path.
    pub fn parse(text: &str) -> std::result::Result<Backend, String> {
        if text.trim().is_empty() {
            return Err("the state location is empty: give a file path or s3://BUCKET/KEY".into());
        }
        if text.starts_with("s3://") {
            return S3Settings::from_url(text).map(Backend::S3);
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(format!(
                "`{scheme}://` state is not supported: give a file path or s3://BUCKET/KEY"
            ));
        }
        Ok(Backend::Local(PathBuf::from(text)))
    }

    /// The local state file, if the state is kept locally.
    pub fn local_path(&self) -> Option<&Path> {
        match self {
            Backend::Local(path) => Some(path),
            Backend::S3(_) => None,
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Local(path) => write!(f, "{}", path.display()),
            Backend::S3(s3) => f.write_str(&s3.url()),
        }
    }
}

/// The open store of a `Backend`.
#[derive(Clone, Debug)]
pub enum Store {
    Local(LocalStateFile),
    S3(S3State),
}

impl Store {
    /// Opens the store; for S3 this reads the AWS config chain (S3 itself is reached on first use).
    pub fn open(backend: &Backend, call_timeout: Option<Duration>) -> Result<Store> {
        Ok(match backend {
            Backend::Local(path) => Store::Local(LocalStateFile::new(path)),
            Backend::S3(settings) => Store::S3(S3State::open(settings.clone(), call_timeout)?),
        })
    }

    /// The state as messages name it: a path or an `s3://` URL.
    pub fn name(&self) -> String {
        self.locked_name()
    }

    /// Replaces the state with a marker naming its new home (after `state migrate`), so nobody acts on the old copy.
    pub fn mark_moved(&self, moved: &super::Moved) -> Result<()> {
        match self {
            Store::Local(s) => s.mark_moved(moved),
            Store::S3(s) => s.mark_moved(moved),
        }
    }

    pub fn local(&self) -> Option<&LocalStateFile> {
        match self {
            Store::Local(local) => Some(local),
            Store::S3(_) => None,
        }
    }
}

impl StateStore for Store {
    fn load(&self) -> Result<State> {
        match self {
            Store::Local(s) => s.load(),
            Store::S3(s) => s.load(),
        }
    }

    fn save(&self, state: &mut State) -> Result<()> {
        match self {
            Store::Local(s) => s.save(state),
            Store::S3(s) => s.save(state),
        }
    }

    fn journal(&self, saved: &State) -> Result<Option<Box<dyn Journal>>> {
        match self {
            Store::Local(s) => s.journal(saved),
            Store::S3(s) => s.journal(saved),
        }
    }

    fn compact(&self, state: &State) -> Result<()> {
        match self {
            Store::Local(s) => s.compact(state),
            Store::S3(s) => s.compact(state),
        }
    }

    fn recover(&self) -> Result<()> {
        match self {
            Store::Local(s) => s.recover(),
            Store::S3(s) => s.recover(),
        }
    }
}

impl StateLocking for Store {
    fn try_lock(&self, info: &LockInfo) -> Result<Attempt> {
        match self {
            Store::Local(s) => s.try_lock(info),
            Store::S3(s) => s.try_lock(info),
        }
    }

    fn lock_info(&self) -> Result<Option<LockInfo>> {
        match self {
            Store::Local(s) => s.lock_info(),
            Store::S3(s) => s.lock_info(),
        }
    }

    fn force_unlock(&self, id: &str) -> Result<()> {
        match self {
            Store::Local(s) => s.force_unlock(id),
            Store::S3(s) => s.force_unlock(id),
        }
    }

    fn locked_name(&self) -> String {
        match self {
            Store::Local(s) => s.locked_name(),
            Store::S3(s) => s.locked_name(),
        }
    }

    fn retry_interval(&self) -> Duration {
        match self {
            Store::Local(s) => s.retry_interval(),
            Store::S3(s) => s.retry_interval(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_locations_parse_as_paths_or_s3_urls_and_other_schemes_are_refused() {
        assert_eq!(
            Backend::parse("state/dx.json").unwrap(),
            Backend::Local("state/dx.json".into())
        );
        let Backend::S3(s3) = Backend::parse("s3://net-state/prod/dx.json").unwrap() else {
            panic!("an s3:// URL is an S3 backend");
        };
        assert_eq!(
            (s3.bucket.as_str(), s3.key.as_str()),
            ("net-state", "prod/dx.json")
        );
        assert!(Backend::parse("gs://b/k")
            .unwrap_err()
            .contains("not supported"));
        assert!(Backend::parse("  ").unwrap_err().contains("empty"));
        assert!(Backend::parse("s3://net-state").is_err());
    }
}
