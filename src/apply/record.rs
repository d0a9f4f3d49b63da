//! Writes state after every completed step, so a killed apply leaves a state file that tells the truth.
//! Steps finishing together share one write (group commit): no step returns before a write that includes it.

use std::collections::BTreeSet;
use std::sync::Mutex;

use crate::model::{PeerAddress, VifId};
use crate::state::{Call, Intent, PeerRecord, State, StateStore};

pub struct Recorder<S> {
    store: S,
    /// The state in memory, and how many changes it has had.
    state: Mutex<(State, u64)>,
    /// Held while writing; the number of changes the file on disk includes.
    saved: tokio::sync::Mutex<u64>,
}

impl<S: StateStore + Clone + Send + 'static> Recorder<S> {
    pub fn new(store: S, state: State) -> Self {
        Recorder {
            store,
            state: Mutex::new((state, 0)),
            saved: tokio::sync::Mutex::new(0),
        }
    }

    async fn update(&self, change: impl FnOnce(&mut State)) -> anyhow::Result<()> {
        let mine = {
            let mut guard = self.state.lock().expect("state poisoned");
            change(&mut guard.0);
            guard.1 += 1;
            guard.1
        };
        let mut saved = self.saved.lock().await;
        if *saved >= mine {
            // A write that started after this change already included it.
            return Ok(());
        }
        let (mut snapshot, version) = {
            let guard = self.state.lock().expect("state poisoned");
            (guard.0.clone(), guard.1)
        };
        // The write (with its fsync) runs off the executor, so other VIFs' steps go on meanwhile.
        let store = self.store.clone();
        let snapshot =
            tokio::task::spawn_blocking(move || store.save(&mut snapshot).map(|()| snapshot))
                .await??;
        {
            let mut guard = self.state.lock().expect("state poisoned");
            guard.0.serial = snapshot.serial;
            guard.0.lineage = snapshot.lineage;
        }
        *saved = version;
        Ok(())
    }

    pub fn has(&self, address: &PeerAddress, id: &str) -> bool {
        let guard = self.state.lock().expect("state poisoned");
        guard.0.peer(address).is_some_and(|r| r.bgp_peer_id == id)
    }

    /// Records `record`, keeping (and extending with `deposes`) the deposed ids of the address's previous record.
    pub async fn record(
        &self,
        mut record: PeerRecord,
        deposes: Option<&str>,
    ) -> anyhow::Result<()> {
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
            // The peer is recorded: the intent that made it is settled.
            state.clear_intent(&record.address);
            state.upsert(record);
        })
        .await
    }

    /// Records (and writes) that a call is about to be sent, before it is sent.
    pub async fn intend(&self, intent: Intent) -> anyhow::Result<()> {
        self.update(|state| state.set_intent(intent)).await
    }

    /// Drops the intent for `address`: its outcome is settled and nothing else records it.
    pub async fn settle(&self, address: &PeerAddress) -> anyhow::Result<()> {
        if self.intent(address).is_none() {
            return Ok(());
        }
        self.update(|state| state.clear_intent(address)).await
    }

    pub fn intent(&self, address: &PeerAddress) -> Option<Intent> {
        let guard = self.state.lock().expect("state poisoned");
        guard.0.intent(address).cloned()
    }

    /// Peer ids the state records on `vif` for addresses other than `address` (current or deposed).
    pub fn owned_elsewhere(&self, vif: &VifId, address: &PeerAddress) -> BTreeSet<String> {
        let guard = self.state.lock().expect("state poisoned");
        guard
            .0
            .peers
            .iter()
            .filter(|r| &r.virtual_interface_id == vif && &r.address != address)
            .flat_map(|r| std::iter::once(r.bgp_peer_id.clone()).chain(r.deposed.iter().cloned()))
            .collect()
    }

    pub async fn remove(&self, address: &PeerAddress) -> anyhow::Result<()> {
        self.update(|state| {
            state.remove(address);
            state.clear_intent(address);
        })
        .await
    }

    pub async fn remove_deposed(&self, address: &PeerAddress, id: &str) -> anyhow::Result<()> {
        self.update(|state| {
            if let Some(mut r) = state.peer(address).cloned() {
                r.deposed.retain(|d| d != id);
                state.upsert(r);
            }
            // The delete of this deposed peer is settled.
            let deleting_it = state.intent(address).is_some_and(
                |i| matches!(&i.call, Call::DeleteBGPPeer { bgp_peer_id } if bgp_peer_id == id),
            );
            if deleting_it {
                state.clear_intent(address);
            }
        })
        .await
    }

    /// Writes the state as it stands (an apply whose only change is settling earlier intents).
    pub async fn flush(&self) -> anyhow::Result<()> {
        self.update(|_| {}).await
    }

    pub fn into_state(self) -> State {
        self.state.into_inner().expect("state poisoned").0
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::model::{AddressFamily, Asn};

    /// A store whose writes are slow, like an fsync, and counted.
    #[derive(Clone, Default)]
    struct Slow {
        saves: Arc<AtomicUsize>,
        last: Arc<Mutex<State>>,
    }

    impl StateStore for Slow {
        fn load(&self) -> anyhow::Result<State> {
            Ok(self.last.lock().unwrap().clone())
        }
        fn save(&self, state: &mut State) -> anyhow::Result<()> {
            std::thread::sleep(std::time::Duration::from_millis(30));
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_steps_share_writes_and_none_is_lost() {
        let store = Slow::default();
        let recorder = Recorder::new(store.clone(), State::default());
        let steps = (0..12).map(|i| {
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
        });
        let started = std::time::Instant::now();
        futures::future::join_all(steps).await;
        assert_eq!(store.last.lock().unwrap().peers.len(), 12);
        let saves = store.saves.load(Ordering::SeqCst);
        assert!(saves < 12, "writes were shared: {saves} for 12 steps");
        assert!(
            started.elapsed() < std::time::Duration::from_millis(12 * 30),
            "steps did not wait on each other's writes one by one"
        );
    }
}
