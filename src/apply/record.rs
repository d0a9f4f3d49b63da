//! Writes state after every completed step, so a killed apply leaves a state file that tells the truth.

use std::sync::Mutex;

use crate::model::PeerAddress;
use crate::state::{PeerRecord, State, StateStore};

pub struct Recorder<'s, S: StateStore> {
    store: &'s S,
    state: Mutex<State>,
}

impl<'s, S: StateStore> Recorder<'s, S> {
    pub fn new(store: &'s S, state: State) -> Self {
        Recorder {
            store,
            state: Mutex::new(state),
        }
    }

    fn update(&self, change: impl FnOnce(&mut State)) -> anyhow::Result<()> {
        let mut state = self.state.lock().expect("state poisoned");
        change(&mut state);
        self.store.save(&mut state)
    }

    pub fn has(&self, address: &PeerAddress, id: &str) -> bool {
        let state = self.state.lock().expect("state poisoned");
        state.peer(address).is_some_and(|r| r.bgp_peer_id == id)
    }

    /// Records `record`, keeping (and extending with `deposes`) the deposed ids of the address's previous record.
    pub fn record(&self, mut record: PeerRecord, deposes: Option<&str>) -> anyhow::Result<()> {
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
            state.upsert(record);
        })
    }

    pub fn remove(&self, address: &PeerAddress) -> anyhow::Result<()> {
        self.update(|state| state.remove(address))
    }

    pub fn remove_deposed(&self, address: &PeerAddress, id: &str) -> anyhow::Result<()> {
        self.update(|state| {
            if let Some(mut r) = state.peer(address).cloned() {
                r.deposed.retain(|d| d != id);
                state.upsert(r);
            }
        })
    }

    pub fn into_state(self) -> State {
        self.state.into_inner().expect("state poisoned")
    }
}
