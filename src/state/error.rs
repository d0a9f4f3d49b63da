//! Why a state operation failed, as data: the stores, the journal and the lock say which file, line, lineage or
//! lock holder is at fault, so a caller (`state force-unlock`, a remote backend, a test) can act on the kind of
//! failure instead of parsing text. Each message reads as the text dxctl always printed; an underlying error is
//! the `source`, which `{:#}` prints after a `: `, never part of the message itself.

use std::fmt;
use std::path::PathBuf;

use super::LockInfo;

/// The state layer's result.
pub type Result<T, E = StateError> = std::result::Result<T, E>;

/// What dxctl was doing with a file when the OS refused; it reads as the verb phrase of the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    ReadStateFile,
    WriteStateFile,
    ReadJournal,
    AppendJournal,
    RemoveJournal,
    /// The directory the state (or its lock) lives in.
    CreateDir,
    OpenLockFile,
    /// Taking the OS lock on the lock file.
    Lock,
    WriteLockInfo,
    RemoveLockInfo,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::ReadStateFile => "read state file",
            Access::WriteStateFile => "write state file",
            Access::ReadJournal => "read state journal",
            Access::AppendJournal => "append to",
            Access::RemoveJournal => "remove state journal",
            Access::CreateDir => "create",
            Access::OpenLockFile => "open lock file",
            Access::Lock => "lock",
            Access::WriteLockInfo => "write",
            Access::RemoveLockInfo => "remove",
        })
    }
}

/// What dxctl was doing with a remote (S3) state when it failed; it reads as the verb phrase of the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoteAction {
    /// Setting up the client (the AWS config chain).
    Configure,
    /// Running a call at all (the client's own runtime).
    Connect,
    Read,
    Write,
    Lock,
    ReadLock,
    Unlock,
}

impl fmt::Display for RemoteAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RemoteAction::Configure => "set up the S3 client for",
            RemoteAction::Connect => "reach",
            RemoteAction::Read => "read state",
            RemoteAction::Write => "write state",
            RemoteAction::Lock => "take the state lock",
            RemoteAction::ReadLock => "read the state lock",
            RemoteAction::Unlock => "release the state lock",
        })
    }
}

/// Why S3 refused or could not be reached: its HTTP status, error code and message, when it gave them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Failure {
    pub status: Option<u16>,
    pub code: Option<String>,
    pub message: String,
}

impl fmt::Display for S3Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.code, self.status) {
            (Some(code), Some(status)) => write!(f, "{code} (HTTP {status}): {}", self.message)?,
            (Some(code), None) => write!(f, "{code}: {}", self.message)?,
            (None, Some(status)) => write!(f, "HTTP {status}: {}", self.message)?,
            (None, None) => f.write_str(&self.message)?,
        }
        match self.code.as_deref() {
            Some("NoSuchBucket") => f.write_str(
                " (dxctl does not create the bucket: create it, with versioning on, or fix `bucket`)",
            ),
            Some("AccessDenied") => f.write_str(
                " (the credentials need s3:GetObject, s3:PutObject and s3:DeleteObject on the state key and \
                 its .lock, s3:ListBucket on the bucket, and with kms_key_id kms:GenerateDataKey and kms:Decrypt)",
            ),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for S3Failure {}

/// A state as its lineage and serial name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateId {
    pub lineage: String,
    pub serial: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A file the state is kept in could not be read, written, created or removed.
    #[error("cannot {access} {path}")]
    Io {
        access: Access,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The state file is not JSON, or not the shape of its format version.
    #[error("state file {path} is not valid dxctl state (the previous version is kept as {path}.backup)")]
    Malformed {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    /// The state file has a format version this dxctl does not read (a newer one wrote it).
    #[error("state file {path} has format_version {found}; this dxctl reads version {supported}")]
    UnsupportedVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },

    /// The state (the file alone, or with its journal replayed when `journal` is set) breaks what a state must
    /// hold (`State::check`): acting on it could delete a peer dxctl should keep.
    #[error(
        "state file {path}{} is inconsistent: {problem}. Nothing was changed; the previous version is kept as \
         {path}.backup",
        with_journal(.journal)
    )]
    Inconsistent {
        path: PathBuf,
        journal: Option<PathBuf>,
        problem: String,
    },

    /// The state's serial is at its maximum, so it cannot be saved again.
    #[error("state file {path} has serial {serial}, which cannot grow further")]
    SerialExhausted { path: PathBuf, serial: u64 },

    /// Something other than a regular file sits where the journal belongs (it is never read: a FIFO would block).
    #[error("state journal {path} is not a regular file; move it aside")]
    JournalNotAFile { path: PathBuf },

    /// A complete journal line is corrupt, or its commit does not continue the one before.
    #[error(
        "state journal {journal} line {line}: {problem}. The journal holds the changes committed after the state \
         file {path} was written, so the current state cannot be known without it. Nothing was changed; the \
         previous version is kept as {path}.backup; restore it only after checking AWS for peers created since"
    )]
    JournalBadLine {
        journal: PathBuf,
        /// 1-based.
        line: usize,
        problem: String,
        /// The state file the journal continues.
        path: PathBuf,
    },

    /// The journal continues another state (lineage `lineage` at `base_serial`) than the state file holds
    /// (`file`; `None` when there is no state file).
    #[error(
        "state journal {journal} continues lineage {lineage} serial {base_serial}, but {}: it belongs to another \
         state. Nothing was changed; move the journal aside only if {path} is the state you mean (the previous \
         version is kept as {path}.backup)",
        holds(.path, .file)
    )]
    OtherState {
        journal: PathBuf,
        lineage: String,
        base_serial: u64,
        path: PathBuf,
        file: Option<StateId>,
    },

    /// Compacting was given a state older than the journal's last commit.
    #[error(
        "cannot compact state journal {journal}: it reaches serial {last_serial}, past the state given (serial \
         {serial})"
    )]
    JournalAhead {
        journal: PathBuf,
        last_serial: u64,
        serial: u64,
    },

    /// A journal commit was appended out of order.
    #[error("journal commit {serial} does not follow {last}")]
    CommitOutOfOrder { serial: u64, last: u64 },

    /// Another holder kept the lock past the wait; `holder` is who, if they said.
    #[error(
        "the state {state} is locked by {}; wait for it to finish, retry with --lock-timeout, or, if that process \
         is gone, run `dxctl state force-unlock <ID>`",
        locked_by(.holder)
    )]
    Locked {
        state: String,
        holder: Option<Box<LockInfo>>,
    },

    /// force-unlock: nobody holds the lock (or said so).
    #[error("the state {state} is not locked")]
    NotLocked { state: String },

    /// force-unlock: the id given is not the current holder's.
    #[error(
        "lock ID {id} does not match the current lock {} (pid {} on {})",
        .holder.id,
        .holder.pid,
        .holder.host
    )]
    WrongLockId { id: String, holder: Box<LockInfo> },

    /// force-unlock: the holder is still running (it holds the OS lock), so its lock is not stale.
    #[error(
        "lock {} is still held by a running process (pid {} on {}); stop it instead",
        .holder.id,
        .holder.pid,
        .holder.host
    )]
    StillHeld { holder: Box<LockInfo> },

    /// S3 refused a call on a remote state, or could not be reached.
    #[error("cannot {action} {object}")]
    Remote {
        action: RemoteAction,
        object: String,
        #[source]
        source: S3Failure,
    },

    /// The remote state object is not a state this dxctl can act on.
    #[error(
        "the state {state} cannot be used: {problem}. Nothing was changed; with versioning on, the bucket keeps \
         its earlier versions"
    )]
    RemoteUnreadable { state: String, problem: String },

    /// The state was moved to another home by `dxctl state migrate`; its old home holds only where it went.
    #[error(
        "the state {state} was moved to {to} by `dxctl state migrate`: point dxctl at its new home (a backend \"s3\" \
         block, --state or DXCTL_STATE)"
    )]
    Moved { state: String, to: String },

    /// The remote state object was deleted (its latest version is a delete marker).
    #[error(
        "the state {state} was deleted (its latest version is a delete marker). dxctl does not start a new state \
         over a deleted one: restore the previous version in the bucket, or `dxctl state push` a copy"
    )]
    RemoteDeleted { state: String },

    /// A compare-and-swap failed: the remote state changed since this run read it.
    #[error(
        "the state {state} was changed by another writer after this run read it, so it was not overwritten \
         (a compare-and-swap on its ETag failed). Changes this run made in AWS and could not record are \
         settled by the next plan or apply, which reads the current state"
    )]
    Conflict { state: String },

    /// Releasing the lock found it gone or taken over (someone ran `force-unlock`).
    #[error(
        "the lock {id} on {state} was no longer held by this run when it finished (someone ran `dxctl state \
         force-unlock`?); the state itself is protected by compare-and-swap"
    )]
    LockLost { state: String, id: String },

    /// force-unlock: the lock changed between reading it and removing it.
    #[error(
        "the lock on {state} changed while it was being removed; nothing was removed, look again"
    )]
    LockChanged { state: String },

    /// The state, a journal entry or the lock info could not be turned into JSON.
    #[error(transparent)]
    Encode(serde_json::Error),

    /// The blocking task a store call ran on panicked or was cancelled.
    #[error(transparent)]
    Task(#[from] tokio::task::JoinError),
}

impl StateError {
    /// For `map_err`: the OS refused `access` to `path`.
    pub(super) fn io(
        access: Access,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> StateError {
        let path = path.into();
        move |source| StateError::Io {
            access,
            path,
            source,
        }
    }
}

impl StateError {
    /// Whether it comes from a remote (S3) state.
    pub fn is_remote(&self) -> bool {
        matches!(
            self,
            StateError::Remote { .. }
                | StateError::RemoteUnreadable { .. }
                | StateError::RemoteDeleted { .. }
                | StateError::Conflict { .. }
                | StateError::LockLost { .. }
                | StateError::LockChanged { .. }
        )
    }
}

fn with_journal(journal: &Option<PathBuf>) -> String {
    journal
        .as_ref()
        .map(|j| format!(" with its journal {}", j.display()))
        .unwrap_or_default()
}

fn holds(path: &std::path::Path, file: &Option<StateId>) -> String {
    match file {
        None => "there is no state file".to_string(),
        Some(s) => format!(
            "the state file {} holds lineage {} serial {}",
            path.display(),
            s.lineage,
            s.serial
        ),
    }
}

fn locked_by(holder: &Option<Box<LockInfo>>) -> String {
    match holder {
        None => "another dxctl process (no lock info)".to_string(),
        Some(h) => format!(
            "pid {} on {} ({}{}) since {}, lock ID {}",
            h.pid,
            h.host,
            h.operation,
            h.who
                .as_ref()
                .map(|w| format!(" by {w}"))
                .unwrap_or_default(),
            h.time,
            h.id
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `{:#}` (how the binary prints errors) shows an io failure's cause once, after the message.
    #[test]
    fn an_io_error_prints_its_cause_once_after_the_message() {
        let err = StateError::Io {
            access: Access::ReadStateFile,
            path: PathBuf::from("/s/dxctl.state.json"),
            source: std::io::Error::other("disk on fire"),
        };
        assert_eq!(
            format!("{:#}", anyhow::Error::from(err)),
            "cannot read state file /s/dxctl.state.json: disk on fire"
        );
    }

    /// The messages read word for word as dxctl printed them before they were data.
    #[test]
    fn messages_read_as_they_always_did() {
        let path = || PathBuf::from("/s/st.json");
        let journal = || PathBuf::from("/s/st.json.journal");
        let holder = LockInfo {
            id: "abc".into(),
            pid: 7,
            host: "h".into(),
            operation: "apply".into(),
            time: "t".into(),
            who: None,
        };
        let cases = [
            (
                StateError::UnsupportedVersion {
                    path: path(),
                    found: 2,
                    supported: 1,
                },
                "state file /s/st.json has format_version 2; this dxctl reads version 1",
            ),
            (
                StateError::Inconsistent {
                    path: path(),
                    journal: None,
                    problem: "p".into(),
                },
                "state file /s/st.json is inconsistent: p. Nothing was changed; the previous version is kept as \
                 /s/st.json.backup",
            ),
            (
                StateError::Inconsistent {
                    path: path(),
                    journal: Some(journal()),
                    problem: "p".into(),
                },
                "state file /s/st.json with its journal /s/st.json.journal is inconsistent: p. Nothing was changed; \
                 the previous version is kept as /s/st.json.backup",
            ),
            (
                StateError::JournalBadLine {
                    journal: journal(),
                    line: 3,
                    problem: "p".into(),
                    path: path(),
                },
                "state journal /s/st.json.journal line 3: p. The journal holds the changes committed after the state \
                 file /s/st.json was written, so the current state cannot be known without it. Nothing was \
                 changed; the previous version is kept as /s/st.json.backup; restore it only after checking AWS \
                 for peers created since",
            ),
            (
                StateError::JournalAhead {
                    journal: journal(),
                    last_serial: 9,
                    serial: 8,
                },
                "cannot compact state journal /s/st.json.journal: it reaches serial 9, past the state given \
                 (serial 8)",
            ),
            (
                StateError::Locked {
                    state: "/s/st.json".into(),
                    holder: Some(Box::new(holder)),
                },
                "the state /s/st.json is locked by pid 7 on h (apply) since t, lock ID abc; wait for it to finish, \
                 retry with --lock-timeout, or, if that process is gone, run `dxctl state force-unlock <ID>`",
            ),
            (
                StateError::Locked {
                    state: "/s/st.json".into(),
                    holder: None,
                },
                "the state /s/st.json is locked by another dxctl process (no lock info); wait for it to finish, \
                 retry with --lock-timeout, or, if that process is gone, run `dxctl state force-unlock <ID>`",
            ),
            (
                StateError::SerialExhausted {
                    path: path(),
                    serial: u64::MAX,
                },
                "state file /s/st.json has serial 18446744073709551615, which cannot grow further",
            ),
        ];
        for (err, text) in cases {
            assert_eq!(format!("{:#}", anyhow::Error::from(err)), text);
        }
    }
}
