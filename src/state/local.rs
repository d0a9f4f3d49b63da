//! The local state store: the JSON state file, written atomically (temp file, fsync, rename) with a `.backup` of
//! the previous version.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rand::Rng;

use super::file::{self, Unreadable};
use super::{State, StateStore, FORMAT_VERSION};

/// The state file at `path`, its lock `<path>.lock` (see `lock`) and its `<path>.backup`.
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

    /// What to say after a problem: nothing was changed, and where earlier versions are.
    fn earlier_versions(&self) -> String {
        format!(
            "Nothing was changed; the previous version is kept as {}.backup",
            self.path.display()
        )
    }

    /// The state file, checked; `None` if there is none.
    fn read_file(&self) -> anyhow::Result<Option<State>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot read state file {}", self.path.display()))
            }
        };
        let state = match file::from_text(&text) {
            Ok(state) => state,
            Err(Unreadable::Malformed(e)) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "state file {} is not valid dxctl state (the previous version is kept as {}.backup)",
                    self.path.display(),
                    self.path.display()
                )))
            }
            Err(Unreadable::Version(v)) => anyhow::bail!(
                "state file {} has format_version {v}; this dxctl reads version {FORMAT_VERSION}",
                self.path.display()
            ),
        };
        state.check().map_err(|problem| {
            anyhow::anyhow!(
                "state file {} is inconsistent: {problem}. {}",
                self.path.display(),
                self.earlier_versions()
            )
        })?;
        Ok(Some(state))
    }

    /// Writes `state` as it is (no serial bump), keeping the previous file as `.backup`.
    fn write_whole(&self, state: &State) -> anyhow::Result<()> {
        let dir = parent_dir(&self.path);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let text = file::to_text(state)?;
        write_atomically(&self.path, text.as_bytes(), true)
            .with_context(|| format!("cannot write state file {}", self.path.display()))
    }
}

impl StateStore for LocalStateFile {
    fn load(&self) -> anyhow::Result<State> {
        Ok(self.read_file()?.unwrap_or_default())
    }

    fn save(&self, state: &mut State) -> anyhow::Result<()> {
        if state.lineage.is_empty() {
            let bytes: [u8; 16] = rand::rng().random();
            state.lineage = bytes.iter().map(|b| format!("{b:02x}")).collect();
        }
        state.serial = state.serial.checked_add(1).ok_or_else(|| {
            anyhow::anyhow!(
                "state file {} has serial {}, which cannot grow further",
                self.path.display(),
                state.serial
            )
        })?;
        self.write_whole(state)
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

    #[test]
    fn corrupt_state_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, "{not json").unwrap();
        let err = LocalStateFile::new(&path).load().unwrap_err();
        assert!(format!("{err:#}").contains("s.json"), "{err:#}");
    }
}
