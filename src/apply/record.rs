//! Writes state after every completed step, so a killed apply leaves a state that tells the truth.
//! Steps finishing together share one write (group commit): no step returns before a write that includes it.
//! The first write saves the whole state; later ones append just their changes to the store's journal (when it
//! keeps one), so a write costs what its changes cost, not what the state costs; `finish` folds the journal in.

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::model::{PeerAddress, VifId};
use crate::state::{Call, Change, Intent, Journal, PeerRecord, State, StateError, StateStore};

pub struct Recorder<S> {
    store: S,
    memory: Mutex<Memory>,
    /// Held while writing.
    writer: tokio::sync::Mutex<Writer>,
}

/// The state in memory, with what the store does not have yet.
struct Memory {
    state: State,
    /// The changes made since the last write took its share, in the order they were made.
    pending: Vec<Change>,
    /// How many updates the state has had.
    version: u64,
}

struct Writer {
    /// How many updates the store holds.
    saved: u64,
    /// Where the next commit goes; `None`: the next commit saves the whole state.
    journal: Option<Box<dyn Journal>>,
    /// Whether to ask for a journal after a save; false once the store has none, or one failed.
    journaling: bool,
}

impl<S: StateStore + Clone + Send + 'static> Recorder<S> {
    pub fn new(store: S, state: State) -> Self {
        Recorder {
            store,
            memory: Mutex::new(Memory {
                state,
                pending: Vec::new(),
                version: 0,
            }),
            writer: tokio::sync::Mutex::new(Writer {
                saved: 0,
                journal: None,
                journaling: true,
            }),
        }
    }

    /// The state in memory. A panic while it was locked poisons it, but every change is applied whole before the
    /// lock is let go (`State::apply` touches one entry), so what a poisoned lock holds is still consistent.
    fn memory(&self) -> MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes the changes `change` computes from the current state, then returns once a write includes them.
    async fn update(&self, change: impl FnOnce(&State) -> Vec<Change>) -> Result<(), StateError> {
        let mine = {
            let mut memory = self.memory();
            for c in change(&memory.state) {
                memory.state.apply(c.clone());
                memory.pending.push(c);
            }
            memory.version += 1;
            memory.version
        };
        let mut writer = self.writer.lock().await;
        if writer.saved >= mine {
            // A write that started after this change already included it.
            return Ok(());
        }
        if let Some(mut journal) = writer.journal.take() {
            let (changes, version, serial) = {
                let mut memory = self.memory();
                let changes = std::mem::take(&mut memory.pending);
                (changes, memory.version, memory.state.serial)
            };
            if changes.is_empty() {
                writer.saved = version;
                writer.journal = Some(journal);
                return Ok(());
            }
            if let Some(next) = serial.checked_add(1) {
                // The append (with its fsync) runs off the executor, so other VIFs' steps go on meanwhile.
                let appended = tokio::task::spawn_blocking(move || {
                    let result = journal.append(next, &changes);
                    (journal, result)
                })
                .await;
                if let Ok((journal, Ok(()))) = appended {
                    self.memory().state.serial = next;
                    writer.saved = version;
                    writer.journal = Some(journal);
                    return Ok(());
                }
            }
            // The journal failed (or the serial cannot grow): the whole state, which holds these changes, is
            // saved instead, now and from now on.
            writer.journaling = false;
        }
        let (mut snapshot, version) = {
            let mut memory = self.memory();
            memory.pending.clear();
            (memory.state.clone(), memory.version)
        };
        let store = self.store.clone();
        let journaling = writer.journaling;
        let (snapshot, journal) = tokio::task::spawn_blocking(move || {
            store.save(&mut snapshot)?;
            // Without a journal every commit is a save: slower, never less safe.
            let journal = if journaling {
                store.journal(&snapshot).ok().flatten()
            } else {
                None
            };
            Ok::<_, StateError>((snapshot, journal))
        })
        .await??;
        {
            let mut memory = self.memory();
            memory.state.serial = snapshot.serial;
            memory.state.lineage = snapshot.lineage;
        }
        writer.journaling = journal.is_some();
        writer.journal = journal;
        writer.saved = version;
        Ok(())
    }

    /// The record at `address`, as the state in memory holds it now.
    pub fn peer(&self, address: &PeerAddress) -> Option<PeerRecord> {
        self.memory().state.peer(address).cloned()
    }

    pub fn has(&self, address: &PeerAddress, id: &str) -> bool {
        self.memory()
            .state
            .peer(address)
            .is_some_and(|r| r.bgp_peer_id == id)
    }

    /// Records `record`, keeping (and extending with `deposes`) the deposed ids of the address's previous record.
    pub async fn record(
        &self,
        mut record: PeerRecord,
        deposes: Option<&str>,
    ) -> Result<(), StateError> {
        self.update(|state| {
            if let Some(old) = state.peer(&record.address) {
                record.deposed.extend(old.deposed.iter().cloned());
                if old.bgp_peer_id != record.bgp_peer_id
                    && deposes == Some(old.bgp_peer_id.as_str())
                {
                    record.deposed.push(old.bgp_peer_id.clone());
                }
            }
            if let Some(id) = deposes {
                if !record.deposed.iter().any(|d| d == id) && record.bgp_peer_id != id {
                    record.deposed.push(id.to_string());
                }
            }
            record.deposed.sort();
            record.deposed.dedup();
            let mut changes = Vec::with_capacity(2);
            // The peer is recorded: the intent that made it is settled.
            if state.intent(&record.address).is_some() {
                changes.push(Change::ClearIntent(record.address.clone()));
            }
            changes.push(Change::PutPeer(record));
            changes
        })
        .await
    }

    /// Records (and writes) that a call is about to be sent, before it is sent.
    pub async fn intend(&self, intent: Intent) -> Result<(), StateError> {
        self.update(|_| vec![Change::PutIntent(intent)]).await
    }

    /// Drops the intent for `address`: its outcome is settled and nothing else records it.
    pub async fn settle(&self, address: &PeerAddress) -> Result<(), StateError> {
        if self.intent(address).is_none() {
            return Ok(());
        }
        self.update(|_| vec![Change::ClearIntent(address.clone())])
            .await
    }

    pub fn intent(&self, address: &PeerAddress) -> Option<Intent> {
        self.memory().state.intent(address).cloned()
    }

    /// Peer ids the state records on `vif` for addresses other than `address` (current or deposed).
    pub fn owned_elsewhere(&self, vif: &VifId, address: &PeerAddress) -> BTreeSet<String> {
        self.memory()
            .state
            .on_vif(vif)
            .filter(|r| &r.address != address)
            .flat_map(|r| std::iter::once(r.bgp_peer_id.clone()).chain(r.deposed.iter().cloned()))
            .collect()
    }

    pub async fn remove(&self, address: &PeerAddress) -> Result<(), StateError> {
        self.update(|state| {
            let mut changes = Vec::with_capacity(2);
            if state.peer(address).is_some() {
                changes.push(Change::RemovePeer(address.clone()));
            }
            if state.intent(address).is_some() {
                changes.push(Change::ClearIntent(address.clone()));
            }
            changes
        })
        .await
    }

    pub async fn remove_deposed(&self, address: &PeerAddress, id: &str) -> Result<(), StateError> {
        self.update(|state| {
            let mut changes = Vec::with_capacity(2);
            if let Some(r) = state.peer(address) {
                if r.deposed.iter().any(|d| d == id) {
                    let mut r = r.clone();
                    r.deposed.retain(|d| d != id);
                    changes.push(Change::PutPeer(r));
                }
            }
            // The delete of this deposed peer is settled.
            let deleting_it = state.intent(address).is_some_and(
                |i| matches!(&i.call, Call::DeleteBGPPeer { bgp_peer_id } if bgp_peer_id == id),
            );
            if deleting_it {
                changes.push(Change::ClearIntent(address.clone()));
            }
            changes
        })
        .await
    }

    /// Writes the state as it stands (an apply whose only change is settling earlier intents).
    pub async fn flush(&self) -> Result<(), StateError> {
        self.update(|_| Vec::new()).await
    }

    /// The state in memory, when nothing was journaled (an apply that stopped before its first step).
    pub fn into_state(self) -> State {
        self.memory
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .state
    }

    /// Ends the run: folds the journal into the state proper, so the next reader finds one file again. Returns the
    /// state in memory, and whether folding worked (if not, the journal keeps everything and the next apply folds
    /// it in).
    pub async fn finish(self) -> (State, Result<(), StateError>) {
        let writer = self.writer.into_inner();
        let memory = self
            .memory
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        if writer.journal.is_none() && writer.journaling {
            // Never saved: there is no journal of this run.
            return (memory.state, Ok(()));
        }
        // After a failed write the store holds less than memory does; folding in reads what it holds.
        let durable = (writer.saved == memory.version).then(|| memory.state.clone());
        let store = self.store;
        let folded = tokio::task::spawn_blocking(move || match durable {
            Some(state) => store.compact(&state),
            None => store.recover(),
        })
        .await
        .map_err(StateError::from)
        .and_then(|r| r);
        (memory.state, folded)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::model::{AddressFamily, Asn};
    use crate::state::LocalStateFile;

    /// A store without a journal whose saves wait at a gate the test opens, and are counted.
    #[derive(Clone, Default)]
    struct Gated {
        open: Arc<AtomicBool>,
        saves: Arc<AtomicUsize>,
        last: Arc<Mutex<State>>,
    }

    impl StateStore for Gated {
        fn load(&self) -> crate::state::Result<State> {
            Ok(self.last.lock().unwrap().clone())
        }
        fn save(&self, state: &mut State) -> crate::state::Result<()> {
            while !self.open.load(Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            state.serial += 1;
            self.saves.fetch_add(1, Ordering::SeqCst);
            *self.last.lock().unwrap() = state.clone();
            Ok(())
        }
    }

    fn peer(i: usize) -> PeerRecord {
        let vif = VifId(format!("dxvif-{i}"));
        PeerRecord {
            address: PeerAddress::new(&vif, "p"),
            virtual_interface_id: vif,
            region: "r".into(),
            profile: None,
            bgp_peer_id: format!("dxpeer-{i}"),
            address_family: AddressFamily::Ipv6,
            asn: Asn::new(64600).unwrap(),
            amazon_address: None,
            customer_address: None,
            deposed: vec![],
            listed_by_ms: None,
        }
    }

    /// While the first write is under way, the other eleven steps' changes queue up; the next write takes them all.
    /// Exactly two writes, whatever the timing: the steps run in one task, so the first write's snapshot holds the
    /// first step's change alone, and the gate holds that write until every other step has made its change.
    #[tokio::test]
    async fn concurrent_steps_share_writes_and_none_is_lost() {
        let store = Gated::default();
        let recorder = Arc::new(Recorder::new(store.clone(), State::default()));
        let steps = tokio::spawn({
            let (recorder, store) = (recorder.clone(), store.clone());
            async move {
                futures::future::join_all((0..12).map(|i| {
                    let (recorder, store) = (&recorder, &store);
                    async move {
                        recorder.record(peer(i), None).await.unwrap();
                        // Returning means a write that includes this step has finished.
                        let id = format!("dxpeer-{i}");
                        assert!(store
                            .last
                            .lock()
                            .unwrap()
                            .peers
                            .iter()
                            .any(|p| p.bgp_peer_id == id));
                    }
                }))
                .await
            }
        });
        while recorder.memory().version < 12 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        assert_eq!(store.saves.load(Ordering::SeqCst), 0);
        store.open.store(true, Ordering::SeqCst);
        steps.await.unwrap();
        assert_eq!(store.last.lock().unwrap().peers.len(), 12);
        assert_eq!(store.saves.load(Ordering::SeqCst), 2, "writes were shared");
        assert_eq!(store.last.lock().unwrap().serial, 2);
    }

    /// A journal commit: its serial and changes.
    type Commit = (u64, Vec<Change>);

    /// A store with an in-memory journal that counts what it is asked to do, and can be told to fail an append.
    #[derive(Clone, Default)]
    struct Journaled {
        saves: Arc<AtomicUsize>,
        appends: Arc<Mutex<Vec<Commit>>>,
        compacted: Arc<Mutex<Option<State>>>,
        fail_append: Arc<AtomicUsize>,
        last: Arc<Mutex<State>>,
    }

    struct MemoryJournal(Journaled);

    impl Journal for MemoryJournal {
        fn append(&mut self, serial: u64, changes: &[Change]) -> crate::state::Result<()> {
            if self.0.appends.lock().unwrap().len() + 1 == self.0.fail_append.load(Ordering::SeqCst)
            {
                return Err(StateError::Io {
                    access: crate::state::Access::AppendJournal,
                    path: "memory.journal".into(),
                    source: std::io::Error::other("disk full"),
                });
            }
            self.0
                .appends
                .lock()
                .unwrap()
                .push((serial, changes.to_vec()));
            let mut last = self.0.last.lock().unwrap();
            for c in changes {
                last.apply(c.clone());
            }
            last.serial = serial;
            Ok(())
        }
    }

    impl StateStore for Journaled {
        fn load(&self) -> crate::state::Result<State> {
            Ok(self.last.lock().unwrap().clone())
        }
        fn save(&self, state: &mut State) -> crate::state::Result<()> {
            state.serial += 1;
            self.saves.fetch_add(1, Ordering::SeqCst);
            *self.last.lock().unwrap() = state.clone();
            Ok(())
        }
        fn journal(&self, _saved: &State) -> crate::state::Result<Option<Box<dyn Journal>>> {
            Ok(Some(Box::new(MemoryJournal(self.clone()))))
        }
        fn compact(&self, state: &State) -> crate::state::Result<()> {
            *self.compacted.lock().unwrap() = Some(state.clone());
            Ok(())
        }
    }

    #[tokio::test]
    async fn after_the_first_save_each_commit_appends_only_its_changes_and_finish_compacts() {
        let store = Journaled::default();
        let recorder = Recorder::new(store.clone(), State::default());
        for i in 0..20 {
            recorder.record(peer(i), None).await.unwrap();
        }
        recorder.remove(&peer(3).address).await.unwrap();
        assert_eq!(store.saves.load(Ordering::SeqCst), 1, "one whole save");
        let appends = store.appends.lock().unwrap().clone();
        assert_eq!(appends.len(), 20);
        assert!(
            appends.iter().all(|(_, changes)| changes.len() == 1),
            "{appends:?}"
        );
        let serials: Vec<u64> = appends.iter().map(|(s, _)| *s).collect();
        assert_eq!(
            serials,
            (2..=21).collect::<Vec<_>>(),
            "one serial per commit"
        );
        assert_eq!(appends[19].1, vec![Change::RemovePeer(peer(3).address)]);
        let (state, folded) = recorder.finish().await;
        folded.unwrap();
        assert_eq!(state.serial, 21);
        assert_eq!(state.peers.len(), 19);
        assert_eq!(store.compacted.lock().unwrap().as_ref(), Some(&state));
        assert_eq!(*store.last.lock().unwrap(), state);
    }

    #[tokio::test]
    async fn a_failed_append_falls_back_to_whole_saves_and_loses_nothing() {
        let store = Journaled::default();
        store.fail_append.store(3, Ordering::SeqCst);
        let recorder = Recorder::new(store.clone(), State::default());
        for i in 0..6 {
            recorder.record(peer(i), None).await.unwrap();
        }
        // Save, append, append, (failed append, so) save, save, save.
        assert_eq!(store.appends.lock().unwrap().len(), 2);
        assert_eq!(store.saves.load(Ordering::SeqCst), 4);
        assert_eq!(store.last.lock().unwrap().peers.len(), 6);
        let (state, folded) = recorder.finish().await;
        folded.unwrap();
        assert_eq!(*store.last.lock().unwrap(), state);
    }

    /// With the local file store: the journal holds every commit while apply runs (a reader replays it), and
    /// finishing leaves one state file with the same serial and no journal.
    #[tokio::test]
    async fn with_the_local_store_readers_see_each_commit_and_finish_leaves_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStateFile::new(dir.path().join("s.json"));
        let recorder = Recorder::new(store.clone(), store.load().unwrap());
        for i in 0..5 {
            recorder.record(peer(i), None).await.unwrap();
            let seen = store.load().unwrap();
            assert_eq!(seen.peers.len(), i + 1);
            assert_eq!(seen.serial, i as u64 + 1);
        }
        assert!(store.journal_path().exists());
        let (state, folded) = recorder.finish().await;
        folded.unwrap();
        assert!(!store.journal_path().exists());
        assert_eq!(store.load().unwrap(), state);
        assert_eq!(state.serial, 5);
    }
}
