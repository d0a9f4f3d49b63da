//! The record of which peers dxctl manages, behind a small `StateStore` trait so a remote backend can follow.

pub mod intent;
mod local;
pub mod lock;

use serde::{Deserialize, Serialize};

pub use intent::{Call, Creation, Intent};
pub use local::{write_atomically, LocalStateFile};
pub use lock::{LockInfo, StateLock, StateLocking};

use crate::model::{AddressFamily, Asn, PeerAddress, VifId};

pub const FORMAT_VERSION: u32 = 1;

/// The state file's contents. It deliberately has no field that could hold an auth key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub format_version: u32,
    /// A random id fixed when the state is first written; it tells apart unrelated states.
    pub lineage: String,
    /// Increases by one on every write.
    pub serial: u64,
    pub peers: Vec<PeerRecord>,
    /// Calls sent (or about to be) whose outcome is not yet settled: at most one per address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
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

impl Default for State {
    fn default() -> Self {
        State {
            format_version: FORMAT_VERSION,
            lineage: String::new(),
            serial: 0,
            peers: Vec::new(),
            intents: Vec::new(),
        }
    }
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

    pub fn peer(&self, address: &PeerAddress) -> Option<&PeerRecord> {
        self.peers.iter().find(|p| &p.address == address)
    }

    pub fn remove(&mut self, address: &PeerAddress) {
        self.peers.retain(|p| &p.address != address);
    }

    pub fn intent(&self, address: &PeerAddress) -> Option<&Intent> {
        self.intents.iter().find(|i| &i.address == address)
    }

    /// Records `intent`, replacing any earlier one for its address.
    pub fn set_intent(&mut self, intent: Intent) {
        self.clear_intent(&intent.address.clone());
        self.intents.push(intent);
        self.intents.sort_by(|a, b| a.address.cmp(&b.address));
    }

    pub fn clear_intent(&mut self, address: &PeerAddress) {
        self.intents.retain(|i| &i.address != address);
    }

    /// Records or replaces the peer at `record.address`, keeping the list sorted.
    pub fn upsert(&mut self, record: PeerRecord) {
        self.peers.retain(|p| p.address != record.address);
        self.peers.push(record);
        self.peers.sort_by(|a, b| a.address.cmp(&b.address));
    }
}

/// Where state lives. Local files now; a remote backend later.
pub trait StateStore {
    /// The current state, or an empty one if none was written yet.
    fn load(&self) -> anyhow::Result<State>;
    /// Writes `state` atomically, bumping its serial (and fixing its lineage on first write).
    fn save(&self, state: &mut State) -> anyhow::Result<()>;
}
