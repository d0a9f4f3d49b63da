//! The record of which peers dxctl manages: the in-memory `State`, the `Change`s apply makes to it, and the
//! `StateStore` and `StateLocking` traits a backend implements (the local file, and an S3 object for teams; `Store`
//! picks one), and the `StateError` they fail with.

mod error;
mod file;
pub mod intent;
mod journal;
mod local;
pub mod lock;
mod s3;
mod store;

use serde::{Deserialize, Serialize};

pub use error::{Access, RemoteAction, Result, S3Failure, StateError, StateId};
pub use file::{from_text, to_text, Moved, Unreadable, FORMAT_VERSION};
pub use intent::{Call, Creation, Intent};
pub use local::{write_atomically, LocalStateFile};
pub use lock::{LockInfo, StateLock, StateLocking};
pub use s3::{check_bucket, check_key, release_held, S3Settings, S3State};
pub use store::{Backend, Store};

use crate::model::{AddressFamily, Asn, PeerAddress, VifId};

/// What dxctl knows about the peers it manages. It deliberately has no field that could hold an auth key.
///
/// `peers` and `intents` are kept sorted by address, each address at most once: lookups are binary searches and
/// writes never re-sort. The stores keep it so; code that builds a `State` by hand calls `normalize` (or uses
/// `upsert` and `set_intent`). How it is written down is the store's business (see `file` and `journal`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    /// A random id fixed when the state is first written; it tells apart unrelated states.
    pub lineage: String,
    /// How many commits made this state: each write of the whole state, and each group of changes committed to
    /// the journal, adds one. Folding the journal into the state file (compaction) keeps it, so the same serial
    /// always means the same content, and a saved plan names the state it was made from.
    pub serial: u64,
    pub peers: Vec<PeerRecord>,
    /// Calls sent (or about to be) whose outcome is not yet settled: at most one per address.
    pub intents: Vec<Intent>,
}

/// One peer dxctl manages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerRecord {
    pub address: PeerAddress,
    pub virtual_interface_id: VifId,
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    pub bgp_peer_id: String,
    pub address_family: AddressFamily,
    pub asn: Asn,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amazon_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_address: Option<String>,
    /// Earlier incarnations of this peer that a replacement still has to delete (kept across a crash).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deposed: Vec<String>,
    /// For a peer recorded recently: the moment (ms since the epoch) by which every describe lists it. A describe
    /// that started earlier may lag behind (eventual consistency), so its silence does not mean the peer is gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed_by_ms: Option<u64>,
}

/// One change to a `State`, as apply makes it and the journal records it. Like the state, it holds no secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Change {
    /// Records the peer, replacing any record at its address.
    PutPeer(PeerRecord),
    /// Forgets the peer at the address.
    RemovePeer(PeerAddress),
    /// Records the intent, replacing any intent for its address.
    PutIntent(Intent),
    /// Drops the intent for the address.
    ClearIntent(PeerAddress),
}

impl State {
    /// What a loaded state must hold to be acted on: every address once, every peer id once (whether current or
    /// deposed), a deposed id never also a record's current one, at most one intent per address, records on the
    /// VIF their address names. A state that breaks these could make apply delete a peer it should keep.
    pub fn check(&self) -> Result<(), String> {
        let mut addresses = std::collections::BTreeSet::new();
        let mut ids: std::collections::BTreeMap<&str, &PeerAddress> =
            std::collections::BTreeMap::new();
        for r in &self.peers {
            if !addresses.insert(&r.address) {
                return Err(format!("{} is recorded twice", r.address));
            }
            let prefix = format!("virtual_interface.{}.bgp_peer.", r.virtual_interface_id);
            if !r.address.0.starts_with(&prefix) {
                return Err(format!(
                    "{} is recorded on virtual interface {}",
                    r.address, r.virtual_interface_id
                ));
            }
            for id in std::iter::once(&r.bgp_peer_id).chain(&r.deposed) {
                if let Some(other) = ids.insert(id, &r.address) {
                    return Err(format!(
                        "peer {id} appears twice (under {other} and under {}); a peer is owned once, current or \
                         deposed",
                        r.address
                    ));
                }
            }
        }
        if self.serial == u64::MAX {
            return Err(format!(
                "its serial is {}, which cannot grow further",
                self.serial
            ));
        }
        let mut intents = std::collections::BTreeSet::new();
        for i in &self.intents {
            if !intents.insert(&i.address) {
                return Err(format!("{} has two intents", i.address));
            }
        }
        Ok(())
    }

    /// Sorts `peers` and `intents` by address, as lookups expect (stable: duplicates stay for `check` to name).
    pub fn normalize(&mut self) {
        if !self.peers.is_sorted_by(|a, b| a.address <= b.address) {
            self.peers.sort_by(|a, b| a.address.cmp(&b.address));
        }
        if !self.intents.is_sorted_by(|a, b| a.address <= b.address) {
            self.intents.sort_by(|a, b| a.address.cmp(&b.address));
        }
    }

    fn peer_index(&self, address: &PeerAddress) -> Result<usize, usize> {
        self.peers.binary_search_by(|p| p.address.cmp(address))
    }

    fn intent_index(&self, address: &PeerAddress) -> Result<usize, usize> {
        self.intents.binary_search_by(|i| i.address.cmp(address))
    }

    pub fn peer(&self, address: &PeerAddress) -> Option<&PeerRecord> {
        self.peer_index(address).ok().map(|i| &self.peers[i])
    }

    /// The records on `vif`: one contiguous run of the sorted list, since an address starts with its VIF.
    pub fn on_vif<'a>(&'a self, vif: &'a VifId) -> impl Iterator<Item = &'a PeerRecord> + 'a {
        let prefix = format!("virtual_interface.{vif}.bgp_peer.");
        let start = self
            .peers
            .partition_point(|p| p.address.0.as_str() < prefix.as_str());
        let len = self.peers[start..].partition_point(|p| p.address.0.starts_with(&prefix));
        self.peers[start..start + len]
            .iter()
            .filter(move |p| &p.virtual_interface_id == vif)
    }

    pub fn remove(&mut self, address: &PeerAddress) {
        if let Ok(i) = self.peer_index(address) {
            self.peers.remove(i);
        }
    }

    pub fn intent(&self, address: &PeerAddress) -> Option<&Intent> {
        self.intent_index(address).ok().map(|i| &self.intents[i])
    }

    /// Records `intent`, replacing any earlier one for its address.
    pub fn set_intent(&mut self, intent: Intent) {
        match self.intent_index(&intent.address) {
            Ok(i) => self.intents[i] = intent,
            Err(i) => self.intents.insert(i, intent),
        }
    }

    pub fn clear_intent(&mut self, address: &PeerAddress) {
        if let Ok(i) = self.intent_index(address) {
            self.intents.remove(i);
        }
    }

    /// Records or replaces the peer at `record.address`, keeping the list sorted.
    pub fn upsert(&mut self, record: PeerRecord) {
        match self.peer_index(&record.address) {
            Ok(i) => self.peers[i] = record,
            Err(i) => self.peers.insert(i, record),
        }
    }

    /// Makes `change`.
    pub fn apply(&mut self, change: Change) {
        match change {
            Change::PutPeer(record) => self.upsert(record),
            Change::RemovePeer(address) => self.remove(&address),
            Change::PutIntent(intent) => self.set_intent(intent),
            Change::ClearIntent(address) => self.clear_intent(&address),
        }
    }
}

/// What every store does to a state it is about to write whole: fix its lineage on first write, and count the
/// commit. `name` (a path or URL) names the state if its serial cannot grow.
fn next_commit(state: &mut State, name: impl Into<std::path::PathBuf>) -> Result<()> {
    if state.lineage.is_empty() {
        use rand::Rng;
        let bytes: [u8; 16] = rand::rng().random();
        state.lineage = bytes.iter().map(|b| format!("{b:02x}")).collect();
    }
    state.serial = state
        .serial
        .checked_add(1)
        .ok_or_else(|| StateError::SerialExhausted {
            path: name.into(),
            serial: state.serial,
        })?;
    Ok(())
}

/// Where state lives: the local file, or an S3 object (`Store` picks one). Writes need the lock (`StateLocking`).
///
/// A store may keep a journal: after a `save`, apply appends each group of changes to it (`journal`), which costs
/// what the changes cost rather than what the whole state costs, and folds it into the state proper at the end
/// (`compact`). A store without one makes every commit a `save`.
pub trait StateStore {
    /// The current state: everything committed (the state file, plus the journal if one is left), or an empty
    /// state if none was written yet. It only reads, so it needs no lock.
    fn load(&self) -> Result<State>;

    /// Writes the whole `state`, bumping its serial (and fixing its lineage on first write), and drops any
    /// journal: `state` was loaded through it, so it holds what the journal held.
    fn save(&self, state: &mut State) -> Result<()>;

    /// A journal for changes made on top of `saved`, which this store has just saved; `None` if the store keeps
    /// no journal.
    fn journal(&self, saved: &State) -> Result<Option<Box<dyn Journal>>> {
        let _ = saved;
        Ok(None)
    }

    /// Folds the journal into the state proper without changing the serial. `state` is the committed state, the
    /// one `load` returns now. Does nothing when there is no journal.
    fn compact(&self, state: &State) -> Result<()> {
        let _ = state;
        Ok(())
    }

    /// Folds in a journal a killed run left behind, so the state proper tells everything again.
    fn recover(&self) -> Result<()> {
        let state = self.load()?;
        self.compact(&state)
    }
}

/// An append-only log of group commits on top of a saved state.
pub trait Journal: Send {
    /// Durably appends one group commit: `changes`, in the order they were made, taking the state from serial
    /// `serial - 1` to `serial`. After an error the journal is not used again: the caller saves the whole state.
    fn append(&mut self, serial: u64, changes: &[Change]) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(vif: &str, label: &str, id: &str) -> PeerRecord {
        let vif = VifId(vif.into());
        PeerRecord {
            address: PeerAddress::new(&vif, label),
            virtual_interface_id: vif,
            region: "us-east-1".into(),
            profile: None,
            bgp_peer_id: id.into(),
            address_family: AddressFamily::Ipv4,
            asn: Asn::new(65000).unwrap(),
            amazon_address: None,
            customer_address: None,
            deposed: vec![],
            listed_by_ms: None,
        }
    }

    #[test]
    fn upserts_keep_the_list_sorted_and_lookups_find_every_record() {
        let mut state = State::default();
        let labels = ["m", "a", "z", "c", "b", "y"];
        for (i, label) in labels.iter().enumerate() {
            state.upsert(record("dxvif-1", label, &format!("dxpeer-{i}")));
        }
        state.upsert(record("dxvif-1", "c", "dxpeer-c2"));
        assert_eq!(state.peers.len(), labels.len());
        assert!(state.peers.is_sorted_by(|a, b| a.address < b.address));
        for label in labels {
            let address = PeerAddress::new(&VifId("dxvif-1".into()), label);
            assert_eq!(state.peer(&address).unwrap().address, address);
        }
        assert_eq!(
            state
                .peer(&PeerAddress::new(&VifId("dxvif-1".into()), "c"))
                .unwrap()
                .bgp_peer_id,
            "dxpeer-c2"
        );
        state.remove(&PeerAddress::new(&VifId("dxvif-1".into()), "m"));
        assert!(state
            .peer(&PeerAddress::new(&VifId("dxvif-1".into()), "m"))
            .is_none());
        assert_eq!(state.peers.len(), labels.len() - 1);
    }

    #[test]
    fn on_vif_lists_exactly_that_vifs_records_even_when_one_vif_id_prefixes_another() {
        let mut state = State::default();
        for (vif, label) in [
            ("dxvif-a", "x"),
            ("dxvif-ab", "x"),
            ("dxvif-a", "y"),
            ("dxvif-b", "x"),
            ("dxvif-a-1", "x"),
        ] {
            state.upsert(record(vif, label, &format!("dxpeer-{vif}-{label}")));
        }
        let ids = |vif: &str| -> Vec<String> {
            let vif = VifId(vif.into());
            state.on_vif(&vif).map(|r| r.bgp_peer_id.clone()).collect()
        };
        assert_eq!(ids("dxvif-a"), ["dxpeer-dxvif-a-x", "dxpeer-dxvif-a-y"]);
        assert_eq!(ids("dxvif-ab"), ["dxpeer-dxvif-ab-x"]);
        assert_eq!(ids("dxvif-a-1"), ["dxpeer-dxvif-a-1-x"]);
        assert!(ids("dxvif-c").is_empty());
    }

    #[test]
    fn changes_apply_like_the_methods_they_name_and_normalize_sorts_a_hand_built_state() {
        let mut state = State {
            peers: vec![
                record("dxvif-1", "b", "dxpeer-b"),
                record("dxvif-1", "a", "dxpeer-a"),
            ],
            ..State::default()
        };
        state.normalize();
        assert_eq!(state.peers[0].bgp_peer_id, "dxpeer-a");
        let a = state.peers[0].address.clone();
        state.apply(Change::RemovePeer(a.clone()));
        assert!(state.peer(&a).is_none());
        state.apply(Change::PutPeer(record("dxvif-1", "a", "dxpeer-a2")));
        assert_eq!(state.peer(&a).unwrap().bgp_peer_id, "dxpeer-a2");
        state.apply(Change::ClearIntent(a.clone()));
        assert!(state.intents.is_empty());
    }
}
