//! The local state store: the JSON state file, written atomically (temp file, fsync, rename) with a `.backup` of
//! the previous version, plus the journal apply appends to between whole writes.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::file::{self, Unreadable};
use super::journal::{self, Contents, LocalJournal, Mismatch, Replayed};
use super::{Access, Journal, Result, State, StateError, StateId, StateStore, FORMAT_VERSION};

/// The state file at `path`, its journal `<path>.journal`, its lock `<path>.lock` (see `lock`) and its
/// `<path>.backup`.
#[derive(Clone, Debug)]
pub struct LocalStateFile {
    path: PathBuf,
}

impl LocalStateFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LocalStateFile { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn journal_path(&self) -> PathBuf {
        journal::path_for(&self.path)
    }

    /// The state file alone (without its journal), checked; `None` if there is none.
    fn read_file(&self) -> Result<Option<State>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StateError::io(Access::ReadStateFile, &self.path)(e)),
        };
        let state = match file::from_text(&text) {
            Ok(state) => state,
            Err(Unreadable::Malformed(source)) => {
                return Err(StateError::Malformed {
                    path: self.path.clone(),
                    source,
                })
            }
            Err(Unreadable::Version(found)) => {
                return Err(StateError::UnsupportedVersion {
                    path: self.path.clone(),
                    found,
                    supported: FORMAT_VERSION,
                })
            }
            Err(Unreadable::Moved(moved)) => {
                return Err(StateError::Moved {
                    state: self.path.display().to_string(),
                    to: moved.moved_to,
                })
            }
        };
        state.check().map_err(|problem| StateError::Inconsistent {
            path: self.path.clone(),
            journal: None,
            problem,
        })?;
        Ok(Some(state))
    }

    /// The journal's bytes, `None` if there is none. Anything but a regular file there is refused, never read
    /// (a FIFO would block).
    fn read_journal(&self) -> Result<Option<Vec<u8>>> {
        let path = self.journal_path();
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StateError::io(Access::ReadJournal, &path)(e)),
            Ok(meta) if !meta.is_file() => return Err(StateError::JournalNotAFile { path }),
            Ok(_) => {}
        }
        std::fs::read(&path)
            .map(Some)
            .map_err(StateError::io(Access::ReadJournal, &path))
    }

    fn bad_line(&self, bad: journal::BadLine) -> StateError {
        StateError::JournalBadLine {
            journal: self.journal_path(),
            line: bad.line,
            problem: bad.problem,
            path: self.path.clone(),
        }
    }

    fn other_state(&self, lineage: String, base_serial: u64, file: Option<&State>) -> StateError {
        StateError::OtherState {
            journal: self.journal_path(),
            lineage,
            base_serial,
            path: self.path.clone(),
            file: file.map(|s| StateId {
                lineage: s.lineage.clone(),
                serial: s.serial,
            }),
        }
    }

    /// Writes `state` as it is (no serial bump), keeping the previous file as `.backup`.
    fn write_whole(&self, state: &State) -> Result<()> {
        let dir = parent_dir(&self.path);
        std::fs::create_dir_all(&dir).map_err(StateError::io(Access::CreateDir, &dir))?;
        let text = file::to_text(state).map_err(StateError::Encode)?;
        write_atomically(&self.path, text.as_bytes(), true)
            .map_err(StateError::io(Access::WriteStateFile, &self.path))
    }

    /// Replaces the state file with a marker naming the state's new home (after `state migrate` copied it there), so
    /// nobody acts on the old copy; the last state stays as `.backup`. Needs the lock.
    pub fn mark_moved(&self, moved: &super::Moved) -> Result<()> {
        let text = moved.to_text().map_err(StateError::Encode)?;
        write_atomically(&self.path, text.as_bytes(), true)
            .map_err(StateError::io(Access::WriteStateFile, &self.path))?;
        self.remove_journal()
    }

    fn remove_journal(&self) -> Result<()> {
        let path = self.journal_path();
        match std::fs::remove_file(&path) {
            Ok(()) => {
                sync_dir_of(&path);
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StateError::io(Access::RemoveJournal, &path)(e)),
        }
    }
}

impl StateStore for LocalStateFile {
    fn load(&self) -> Result<State> {
        let mut state = self.read_file()?;
        let Some(bytes) = self.read_journal()? else {
            return Ok(state.unwrap_or_default());
        };
        match journal::replay(&bytes, state.as_mut()) {
            Ok(Replayed::Empty | Replayed::Stale) => {}
            Ok(Replayed::Applied { .. }) => {
                if let Some(state) = &state {
                    state.check().map_err(|problem| StateError::Inconsistent {
                        path: self.path.clone(),
                        journal: Some(self.journal_path()),
                        problem,
                    })?;
                }
            }
            Err(Mismatch::Line(bad)) => return Err(self.bad_line(bad)),
            Err(Mismatch::OtherState {
                lineage,
                base_serial,
            }) => return Err(self.other_state(lineage, base_serial, state.as_ref())),
        }
        Ok(state.unwrap_or_default())
    }

    fn save(&self, state: &mut State) -> Result<()> {
        super::next_commit(state, self.path.clone())?;
        self.write_whole(state)?;
        // Only after the state file holds everything: a kill in between leaves a stale journal, which load skips.
        self.remove_journal()
    }

    fn journal(&self, saved: &State) -> Result<Option<Box<dyn Journal>>> {
        Ok(Some(Box::new(LocalJournal::new(
            self.journal_path(),
            saved,
        ))))
    }

    fn compact(&self, state: &State) -> Result<()> {
        let Some(bytes) = self.read_journal()? else {
            return Ok(());
        };
        match journal::contents(&bytes).map_err(|bad| self.bad_line(bad))? {
            Contents::Empty => {}
            Contents::Commits {
                lineage,
                base_serial,
                last_serial,
            } => {
                if lineage != state.lineage {
                    return Err(self.other_state(lineage, base_serial, Some(state)));
                }
                if state.serial < last_serial {
                    return Err(StateError::JournalAhead {
                        journal: self.journal_path(),
                        last_serial,
                        serial: state.serial,
                    });
                }
                // At a higher serial the state file was written after the journal (it is stale): nothing to fold.
                if state.serial == last_serial {
                    self.write_whole(state)?;
                }
            }
        }
        self.remove_journal()
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Makes a file's creation or removal in its directory durable (best effort, as not every filesystem can).
pub(super) fn sync_dir_of(path: &Path) {
    if let Ok(d) = std::fs::File::open(parent_dir(path)) {
        let _ = d.sync_all();
    }
}

/// Where writing `path` must land: through any symlinks, to the file they point at (bounded, so a loop is an error).
fn write_target(path: &Path) -> std::io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = std::fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            Ok(meta) if !meta.is_file() => {
                return Err(std::io::Error::other(format!(
                    "{} is not a regular file; refusing to replace it",
                    current.display()
                )))
            }
            _ => return Ok(current),
        }
    }
    Err(std::io::Error::other(format!(
        "{}: too many levels of symbolic links",
        path.display()
    )))
}

/// Replaces `path` with `bytes` so that a reader sees the old or the new file, never a torn one. A symlink is
/// followed and its target replaced (the link stays a link); anything but a regular file (a device, a FIFO, a
/// directory) is refused, never replaced.
pub fn write_atomically(path: &Path, bytes: &[u8], keep_backup: bool) -> std::io::Result<()> {
    let target = write_target(path)?;
    let path = target.as_path();
    let dir = parent_dir(path);
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    if keep_backup && path.exists() {
        // The backup is replaced atomically too, so a kill never leaves a torn one.
        let mut backup = path.as_os_str().to_owned();
        backup.push(".backup");
        let staged = tempfile::NamedTempFile::new_in(&dir)?;
        std::fs::copy(path, staged.path())?;
        staged.persist(PathBuf::from(backup)).map_err(|e| e.error)?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir_of(path);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AddressFamily, Asn, PeerAddress, VifId};
    use crate::state::PeerRecord;

    #[test]
    fn round_trips_and_bumps_serial_with_backup() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStateFile::new(dir.path().join("nested/dxctl.state.json"));
        let mut state = store.load().unwrap();
        assert_eq!(state.serial, 0);
        state.upsert(PeerRecord {
            address: PeerAddress("virtual_interface.dxvif-a.bgp_peer.v6".into()),
            virtual_interface_id: VifId("dxvif-a".into()),
            region: "us-east-1".into(),
            profile: None,
            bgp_peer_id: "dxpeer-1".into(),
            address_family: AddressFamily::Ipv6,
            asn: Asn::new(64600).unwrap(),
            amazon_address: None,
            customer_address: None,
            deposed: vec![],
            listed_by_ms: None,
        });
        store.save(&mut state).unwrap();
        store.save(&mut state).unwrap();
        let back = store.load().unwrap();
        assert_eq!(back, state);
        assert_eq!(back.serial, 2);
        assert_eq!(back.lineage.len(), 32);
        assert!(dir.path().join("nested/dxctl.state.json.backup").exists());
    }

    fn record(label: &str, id: &str) -> PeerRecord {
        let vif = VifId("dxvif-a".into());
        PeerRecord {
            address: PeerAddress::new(&vif, label),
            virtual_interface_id: vif,
            region: "us-east-1".into(),
            profile: None,
            bgp_peer_id: id.into(),
            address_family: AddressFamily::Ipv4,
            asn: Asn::new(65000).unwrap(),
            amazon_address: Some("169.254.1.1/30".into()),
            customer_address: Some("169.254.1.2/30".into()),
            deposed: vec![],
            listed_by_ms: Some(1_700_000_000_000),
        }
    }

    fn intent(label: &str) -> crate::state::Intent {
        let vif = VifId("dxvif-a".into());
        crate::state::Intent {
            address: PeerAddress::new(&vif, label),
            virtual_interface_id: vif,
            region: "us-east-1".into(),
            profile: None,
            call: crate::state::Call::DeleteBGPPeer {
                bgp_peer_id: "dxpeer-x".into(),
            },
            sent_at_ms: 1,
            conclusive_after_ms: 2,
        }
    }

    /// A state file (serial 1, two peers) and a journal of four commits on top; returns the store and the state
    /// after 0, 1, .. 4 commits.
    fn journaled(dir: &tempfile::TempDir) -> (LocalStateFile, Vec<State>) {
        let store = LocalStateFile::new(dir.path().join("s.json"));
        let mut state = State::default();
        state.upsert(record("b", "dxpeer-b"));
        state.upsert(record("d", "dxpeer-d"));
        store.save(&mut state).unwrap();
        let mut journal = store.journal(&state).unwrap().unwrap();
        let commits = vec![
            vec![Change::PutIntent(intent("a"))],
            vec![
                Change::ClearIntent(intent("a").address),
                Change::PutPeer(record("a", "dxpeer-a")),
            ],
            vec![Change::PutIntent(intent("d"))],
            vec![
                Change::RemovePeer(record("d", "").address),
                Change::ClearIntent(intent("d").address),
                Change::PutPeer(record("c", "dxpeer-c")),
            ],
        ];
        let mut states = vec![state.clone()];
        for changes in commits {
            for c in &changes {
                state.apply(c.clone());
            }
            state.serial += 1;
            journal.append(state.serial, &changes).unwrap();
            states.push(state.clone());
        }
        (store, states)
    }

    use crate::state::Change;

    #[test]
    fn journal_commits_replay_on_load_and_compaction_folds_them_in_keeping_the_serial() {
        let dir = tempfile::tempdir().unwrap();
        let (store, states) = journaled(&dir);
        let last = states.last().unwrap();
        let journal = std::fs::read_to_string(store.journal_path()).unwrap();
        assert_eq!(
            journal.lines().count(),
            5,
            "a header and one line per commit:\n{journal}"
        );
        assert!(!journal.to_lowercase().contains("auth"), "{journal}");
        assert_eq!(
            store.read_file().unwrap().unwrap(),
            states[0],
            "the file alone"
        );
        let loaded = store.load().unwrap();
        assert_eq!(&loaded, last);
        assert_eq!(loaded.serial, 5);
        store.compact(&loaded).unwrap();
        assert!(!store.journal_path().exists());
        assert_eq!(
            std::fs::read_to_string(store.path()).unwrap(),
            file::to_text(last).unwrap()
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("s.json.backup")).unwrap(),
            file::to_text(&states[0]).unwrap()
        );
        assert_eq!(&store.load().unwrap(), last);
        // Compacting again, with no journal, changes nothing.
        store.compact(&loaded).unwrap();
        assert_eq!(&store.load().unwrap(), last);
    }

    /// A kill can cut the journal anywhere: whatever the cut, load returns the state after the last whole commit
    /// line, never an error or a panic.
    #[test]
    fn a_torn_last_line_is_ignored_wherever_the_journal_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let (store, states) = journaled(&dir);
        let bytes = std::fs::read(store.journal_path()).unwrap();
        for cut in 0..=bytes.len() {
            let kept = &bytes[..cut];
            std::fs::write(store.journal_path(), kept).unwrap();
            let whole_lines = kept.iter().filter(|b| **b == b'\n').count();
            let commits = whole_lines.saturating_sub(1);
            let loaded = store
                .load()
                .unwrap_or_else(|e| panic!("cut at {cut}: {e:#}"));
            assert_eq!(loaded, states[commits], "cut at {cut}");
        }
        // A torn tail of garbage (a filesystem's zeroed block) is a torn line too.
        let mut zeroed = bytes.clone();
        zeroed.extend([0u8; 100]);
        std::fs::write(store.journal_path(), &zeroed).unwrap();
        assert_eq!(&store.load().unwrap(), states.last().unwrap());
        // And recovering folds in what is whole.
        store.recover().unwrap();
        assert!(!store.journal_path().exists());
        assert_eq!(&store.load().unwrap(), states.last().unwrap());
    }

    #[test]
    fn a_corrupt_middle_line_is_an_error_naming_the_journal_its_line_and_the_backup() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = journaled(&dir);
        let text = std::fs::read_to_string(store.journal_path()).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let good = lines.clone();
        lines[2] = lines[2].replacen("\"changes\"", "\"chang\"", 1);
        std::fs::write(store.journal_path(), lines.join("\n") + "\n").unwrap();
        let err = store.load().unwrap_err();
        assert!(
            matches!(&err, StateError::JournalBadLine { journal, line: 3, path, .. }
                if journal == &store.journal_path() && path == store.path()),
            "{err:?}"
        );
        let err = format!("{:#}", anyhow::Error::from(err));
        assert!(err.contains("s.json.journal line 3"), "{err}");
        assert!(err.contains("s.json.backup"), "{err}");
        // Recovering refuses too, and leaves the journal in place.
        assert!(store.recover().is_err());
        assert!(store.journal_path().exists());
        // A commit whose serial skips one is as corrupt as one that does not parse.
        let mut skipped = good.clone();
        skipped[2] = skipped[2].replacen("\"serial\":3", "\"serial\":4", 1);
        assert_ne!(skipped, good);
        std::fs::write(store.journal_path(), skipped.join("\n") + "\n").unwrap();
        let err = format!("{:#}", store.load().unwrap_err());
        assert!(
            err.contains("line 3: serial 4 does not follow serial 2"),
            "{err}"
        );
        // A corrupt header is line 1.
        let mut header = good;
        header[0] = "{\"journal\":1}".into();
        std::fs::write(store.journal_path(), header.join("\n") + "\n").unwrap();
        let err = format!("{:#}", store.load().unwrap_err());
        assert!(err.contains("line 1: not a journal header"), "{err}");
    }

    /// Loading is read-only and repeatable, and a journal the state file already holds (a kill after a save or a
    /// compaction wrote the file but before it removed the journal) is not applied twice.
    #[test]
    fn replay_is_idempotent_and_a_journal_the_file_already_holds_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let (store, states) = journaled(&dir);
        let last = states.last().unwrap();
        let journal = std::fs::read(store.journal_path()).unwrap();
        assert_eq!(store.load().unwrap(), store.load().unwrap());
        // Killed after compaction wrote the file, before the journal went.
        store.compact(&store.load().unwrap()).unwrap();
        std::fs::write(store.journal_path(), &journal).unwrap();
        assert_eq!(&store.load().unwrap(), last);
        store.recover().unwrap();
        assert!(!store.journal_path().exists());
        assert_eq!(&store.load().unwrap(), last);
        // Killed after a save wrote the file, before the journal went.
        let mut saved = store.load().unwrap();
        store.save(&mut saved).unwrap();
        std::fs::write(store.journal_path(), &journal).unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded, saved);
        assert_eq!(loaded.serial, last.serial + 1);
    }

    #[test]
    fn save_drops_the_journal_after_writing_everything_it_held() {
        let dir = tempfile::tempdir().unwrap();
        let (store, states) = journaled(&dir);
        let mut state = store.load().unwrap();
        store.save(&mut state).unwrap();
        assert!(!store.journal_path().exists());
        assert_eq!(state.serial, states.last().unwrap().serial + 1);
        assert_eq!(store.read_file().unwrap().unwrap(), state);
    }

    #[test]
    fn a_journal_of_another_state_or_that_is_no_regular_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (store, states) = journaled(&dir);
        let base = &states[0];
        // What the journal continues, and what the state file holds instead.
        let other = |err: &StateError| match err {
            StateError::OtherState {
                journal,
                lineage,
                base_serial,
                path,
                file,
            } if journal == &store.journal_path() && path == store.path() => {
                assert_eq!((lineage, *base_serial), (&base.lineage, base.serial));
                file.clone().map(|f| (f.lineage, f.serial))
            }
            _ => panic!("not a journal of another state: {err:?}"),
        };
        // The state file was replaced by an older version (serial 1 -> 0 here: behind the journal's base).
        let mut older = store.read_file().unwrap().unwrap();
        older.serial = 0;
        std::fs::write(store.path(), file::to_text(&older).unwrap()).unwrap();
        let err = store.load().unwrap_err();
        assert_eq!(other(&err), Some((base.lineage.clone(), 0)));
        let err = format!("{:#}", anyhow::Error::from(err));
        assert!(err.contains("belongs to another state"), "{err}");
        // Another lineage.
        older.serial = 1;
        older.lineage = "another".into();
        std::fs::write(store.path(), file::to_text(&older).unwrap()).unwrap();
        let err = store.load().unwrap_err();
        assert_eq!(other(&err), Some(("another".to_string(), 1)));
        assert_eq!(
            err.to_string(),
            format!(
                "state journal {} continues lineage {} serial 1, but the state file {} holds lineage another \
                 serial 1: it belongs to another state. Nothing was changed; move the journal aside only if {} is \
                 the state you mean (the previous version is kept as {}.backup)",
                store.journal_path().display(),
                base.lineage,
                store.path().display(),
                store.path().display(),
                store.path().display()
            )
        );
        // Compacting with a state of another lineage is refused the same way, and keeps the journal.
        assert_eq!(
            other(&store.compact(&older).unwrap_err()),
            Some(("another".to_string(), 1))
        );
        assert!(store.journal_path().exists());
        // No state file at all.
        std::fs::remove_file(store.path()).unwrap();
        let err = store.load().unwrap_err();
        assert_eq!(other(&err), None);
        assert!(err.to_string().contains("there is no state file"), "{err}");
        std::fs::remove_file(store.journal_path()).unwrap();
        std::fs::create_dir(store.journal_path()).unwrap();
        let err = store.load().unwrap_err();
        assert!(
            matches!(&err, StateError::JournalNotAFile { path } if path == &store.journal_path()),
            "{err:?}"
        );
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    #[test]
    fn corrupt_state_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, "{not json").unwrap();
        let err = LocalStateFile::new(&path).load().unwrap_err();
        assert!(
            matches!(&err, StateError::Malformed { path: p, .. } if p == &path),
            "{err:?}"
        );
        let err = anyhow::Error::from(err);
        assert!(format!("{err:#}").contains("s.json"), "{err:#}");
        // The parser's complaint follows the message, once.
        assert_eq!(
            format!("{err:#}").matches("key must be a string").count(),
            1,
            "{err:#}"
        );
        // A newer format is refused by its version.
        std::fs::write(&path, "{\"format_version\": 7}").unwrap();
        assert!(matches!(
            LocalStateFile::new(&path).load(),
            Err(StateError::UnsupportedVersion {
                found: 7,
                supported: FORMAT_VERSION,
                ..
            })
        ));
    }

    /// An OS error is the cause, printed once after the message (as the CLI prints errors: `{:#}`).
    #[test]
    fn an_unreadable_state_file_names_the_file_and_then_the_os_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::create_dir(&path).unwrap();
        let err = LocalStateFile::new(&path).load().unwrap_err();
        let StateError::Io {
            access: Access::ReadStateFile,
            path: p,
            source,
        } = &err
        else {
            panic!("not a read failure: {err:?}")
        };
        assert_eq!(p, &path);
        let expected = format!("cannot read state file {}: {source}", path.display());
        assert_eq!(format!("{:#}", anyhow::Error::from(err)), expected);
    }
}
