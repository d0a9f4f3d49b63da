//! The local state journal, `<state>.journal`: an append-only file of group commits on top of the state file, so a
//! commit during apply costs what its changes cost, not what the whole state costs.
//!
//! Line 1 is a header naming the state it continues (`{"journal":1,"lineage":…,"base_serial":N}`); every other
//! line is one group commit (`{"serial":N+1,"changes":[…]}`), written with one `write` and fsynced before any step
//! in it returns. Only newline-terminated lines count: a torn last line is a commit that never returned and is
//! ignored, which drops the whole group at once, as a torn state file write would have.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Access, Change, Journal, Result, State, StateError};

const JOURNAL_FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    journal: u32,
    lineage: String,
    base_serial: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Commit<'a> {
    serial: u64,
    changes: std::borrow::Cow<'a, [Change]>,
}

/// Where the journal of the state file at `state` lives.
pub fn path_for(state: &Path) -> PathBuf {
    let mut path = state.as_os_str().to_owned();
    path.push(".journal");
    PathBuf::from(path)
}

/// What a journal holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Contents {
    /// Nothing committed: no file, an empty one, or only a torn header.
    Empty,
    /// Commits on top of the state `lineage` at `base_serial`; `last_serial` is the last one's.
    Commits {
        lineage: String,
        base_serial: u64,
        last_serial: u64,
    },
}

/// A line that is not what the journal should hold.
#[derive(Debug, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based.
    pub line: usize,
    pub problem: String,
}

/// The complete (newline-terminated) lines of `bytes`; a last line without its newline is a torn write.
fn complete_lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let end = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    bytes[..end]
        .split(|b| *b == b'\n')
        .take(bytes[..end].iter().filter(|b| **b == b'\n').count())
        .enumerate()
        .map(|(i, line)| (i + 1, line))
}

fn header(bytes: &[u8]) -> Result<Option<Header>, BadLine> {
    match complete_lines(bytes).next() {
        None => Ok(None),
        Some((line, text)) => {
            let header: Header = serde_json::from_slice(text).map_err(|e| BadLine {
                line,
                problem: format!("not a journal header ({e})"),
            })?;
            if header.journal != JOURNAL_FORMAT {
                return Err(BadLine {
                    line,
                    problem: format!(
                        "journal format {} (this dxctl reads {JOURNAL_FORMAT})",
                        header.journal
                    ),
                });
            }
            Ok(Some(header))
        }
    }
}

/// Each commit in order, checked to continue the one before; `each` sees its serial and changes.
fn commits(
    bytes: &[u8],
    base_serial: u64,
    mut each: impl FnMut(u64, Vec<Change>),
) -> Result<u64, BadLine> {
    let mut serial = base_serial;
    for (line, text) in complete_lines(bytes).skip(1) {
        let commit: Commit<'_> = serde_json::from_slice(text).map_err(|e| BadLine {
            line,
            problem: format!("not a journal entry ({e})"),
        })?;
        if Some(commit.serial) != serial.checked_add(1) {
            return Err(BadLine {
                line,
                problem: format!("serial {} does not follow serial {serial}", commit.serial),
            });
        }
        serial = commit.serial;
        each(serial, commit.changes.into_owned());
    }
    Ok(serial)
}

/// The journal's header and last serial, without applying anything.
pub fn contents(bytes: &[u8]) -> Result<Contents, BadLine> {
    let Some(header) = header(bytes)? else {
        return Ok(Contents::Empty);
    };
    let last_serial = commits(bytes, header.base_serial, |_, _| {})?;
    Ok(Contents::Commits {
        lineage: header.lineage,
        base_serial: header.base_serial,
        last_serial,
    })
}

/// What replaying a journal over a state file did.
#[derive(Debug, PartialEq, Eq)]
pub enum Replayed {
    /// Nothing committed in it.
    Empty,
    /// The state file already holds everything in it (it was written after the journal started).
    Stale,
    /// `commits` group commits applied.
    Applied { commits: u64 },
}

/// Why a journal cannot be replayed over a state file.
#[derive(Debug, PartialEq, Eq)]
pub enum Mismatch {
    Line(BadLine),
    /// The journal continues another state (lineage, serial) than the state file holds.
    OtherState {
        lineage: String,
        base_serial: u64,
    },
}

/// Applies the journal `bytes` to `state`, the state file's contents (`None` when there is no state file).
pub fn replay(bytes: &[u8], state: Option<&mut State>) -> Result<Replayed, Mismatch> {
    let Some(header) = header(bytes).map_err(Mismatch::Line)? else {
        return Ok(Replayed::Empty);
    };
    let other = |header: Header| Mismatch::OtherState {
        lineage: header.lineage,
        base_serial: header.base_serial,
    };
    let Some(state) = state else {
        return Err(other(header));
    };
    if header.lineage != state.lineage || header.base_serial > state.serial {
        return Err(other(header));
    }
    if header.base_serial < state.serial {
        // Every save and compaction writes everything the journal held before dropping it; a kill between the
        // two leaves this.
        return Ok(Replayed::Stale);
    }
    let mut commits = 0;
    let last = self::commits(bytes, header.base_serial, |_, changes| {
        commits += 1;
        for change in changes {
            state.apply(change);
        }
    })
    .map_err(Mismatch::Line)?;
    state.serial = last;
    Ok(Replayed::Applied { commits })
}

/// The writer: created (with its header) on the first commit, so a save that is never followed by one leaves no
/// journal behind.
pub struct LocalJournal {
    path: PathBuf,
    lineage: String,
    base_serial: u64,
    last_serial: u64,
    file: Option<File>,
}

impl LocalJournal {
    /// A journal continuing `saved`, which the state file next to `path` now holds.
    pub fn new(path: PathBuf, saved: &State) -> LocalJournal {
        LocalJournal {
            path,
            lineage: saved.lineage.clone(),
            base_serial: saved.serial,
            last_serial: saved.serial,
            file: None,
        }
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if let Some(file) = &mut self.file {
            file.write_all(bytes)?;
            file.sync_data()?;
            return Ok(());
        }
        // `create_new` never follows a link or reuses a file: the save before removed any earlier journal.
        let mut file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&self.path)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        super::local::sync_dir_of(&self.path);
        self.file = Some(file);
        Ok(())
    }
}

impl Journal for LocalJournal {
    fn append(&mut self, serial: u64, changes: &[Change]) -> Result<()> {
        if Some(serial) != self.last_serial.checked_add(1) {
            return Err(StateError::CommitOutOfOrder {
                serial,
                last: self.last_serial,
            });
        }
        let mut bytes = Vec::new();
        if self.file.is_none() {
            serde_json::to_writer(
                &mut bytes,
                &Header {
                    journal: JOURNAL_FORMAT,
                    lineage: self.lineage.clone(),
                    base_serial: self.base_serial,
                },
            )
            .map_err(StateError::Encode)?;
            bytes.push(b'\n');
        }
        serde_json::to_writer(
            &mut bytes,
            &Commit {
                serial,
                changes: std::borrow::Cow::Borrowed(changes),
            },
        )
        .map_err(StateError::Encode)?;
        bytes.push(b'\n');
        self.write(&bytes)
            .map_err(StateError::io(Access::AppendJournal, &self.path))?;
        self.last_serial = serial;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_newline_terminated_lines_count() {
        let lines: Vec<(usize, &[u8])> = complete_lines(b"a\nbc\nd").collect();
        assert_eq!(lines, vec![(1, &b"a"[..]), (2, &b"bc"[..])]);
        assert_eq!(complete_lines(b"a\n").count(), 1);
        assert_eq!(complete_lines(b"").count(), 0);
        assert_eq!(complete_lines(b"{\"journal\":1").count(), 0);
        assert_eq!(complete_lines(b"\n\n").count(), 2);
    }

    #[test]
    fn a_torn_header_is_an_empty_journal() {
        assert_eq!(replay(b"{\"journal\":1,\"lin", None), Ok(Replayed::Empty));
        assert_eq!(contents(b""), Ok(Contents::Empty));
    }
}
