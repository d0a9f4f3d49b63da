//! The same state and lock tests, run on both stores: the local file and S3 (on loopback: moto's server, and
//! SeaweedFS's). Whatever the planner and apply rely on a store for is checked here once for each, through the
//! `Store` both commands use.

use std::time::{Duration, Instant};

use dxctl::state::lock::acquire_blocking;
use dxctl::state::{
    LocalStateFile, PeerRecord, S3Settings, S3State, State, StateError, StateLocking, StateStore,
    Store,
};

use super::s3_server::{S3Kind, S3Server};

/// A way to open stores on one state, and to put bytes in place of it behind the store's back.
trait Home {
    fn open(&self) -> Store;
    fn overwrite(&self, bytes: &[u8]);
}

struct LocalHome(std::path::PathBuf);

impl Home for LocalHome {
    fn open(&self) -> Store {
        Store::Local(LocalStateFile::new(&self.0))
    }
    fn overwrite(&self, bytes: &[u8]) {
        std::fs::create_dir_all(self.0.parent().unwrap()).unwrap();
        std::fs::write(&self.0, bytes).unwrap();
    }
}

struct S3Home<'a> {
    s3: &'a S3Server,
    bucket: String,
    key: String,
}

impl<'a> S3Home<'a> {
    /// The state at `key` in the bucket `net-state`.
    fn new(s3: &'a S3Server, key: &str) -> S3Home<'a> {
        S3Home {
            s3,
            bucket: "net-state".into(),
            key: key.into(),
        }
    }
}

impl Home for S3Home<'_> {
    fn open(&self) -> Store {
        let settings = S3Settings {
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            ..S3Settings::default()
        };
        Store::S3(S3State::with_client(settings, self.s3.new_client()).unwrap())
    }
    fn overwrite(&self, bytes: &[u8]) {
        self.s3.put(&self.bucket, &self.key, bytes);
    }
}

fn record(label: &str, id: &str) -> PeerRecord {
    serde_json::from_value(serde_json::json!({
        "address": format!("virtual_interface.dxvif-a.bgp_peer.{label}"),
        "virtual_interface_id": "dxvif-a",
        "region": "us-east-1",
        "bgp_peer_id": id,
        "address_family": "ipv4",
        "asn": 65000,
    }))
    .unwrap()
}

/// An empty state first; each save bumps the serial, fixes the lineage once, and loads back as written.
fn saves_round_trip(home: &dyn Home) {
    let store = home.open();
    let mut state = store.load().unwrap();
    assert_eq!(state, State::default());
    state.upsert(record("a", "dxpeer-1"));
    store.save(&mut state).unwrap();
    assert_eq!((state.serial, state.lineage.len()), (1, 32));
    let lineage = state.lineage.clone();
    state.upsert(record("b", "dxpeer-2"));
    store.save(&mut state).unwrap();
    assert_eq!(state.serial, 2);
    assert_eq!(state.lineage, lineage);
    let fresh = home.open();
    assert_eq!(fresh.load().unwrap(), state);
    // Recovering a state no run left half-written changes nothing.
    fresh.recover().unwrap();
    assert_eq!(home.open().load().unwrap(), state);
}

/// One holder at a time: a second one waits, then fails naming the first, as data and in words.
fn the_lock_is_exclusive_and_names_its_holder(home: &dyn Home) {
    let (one, two) = (home.open(), home.open());
    let first = acquire_blocking(&one, "apply", Duration::ZERO).unwrap();
    assert_eq!(two.lock_info().unwrap().as_ref(), Some(first.info()));
    let started = Instant::now();
    let err = acquire_blocking(&two, "apply", Duration::from_millis(300))
        .err()
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300), "it waited");
    let StateError::Locked { state, holder } = &err else {
        panic!("not a lock conflict: {err}");
    };
    assert_eq!(holder.as_deref(), Some(first.info()));
    assert_eq!(state, &two.locked_name());
    let text = err.to_string();
    assert!(text.contains(&first.info().id), "{text}");
    assert!(text.contains("is locked by pid"), "{text}");
    first.release().unwrap();
    assert_eq!(two.lock_info().unwrap(), None);
    let again = acquire_blocking(&two, "state rm", Duration::ZERO).unwrap();
    assert_eq!(one.lock_info().unwrap().unwrap().id, again.info().id);
    // Dropping a lock releases it too.
    drop(again);
    assert_eq!(one.lock_info().unwrap(), None);
}

/// A waiting holder gets the lock once the first one lets go.
fn a_waiting_holder_gets_the_lock_once_it_is_released(home: &dyn Home) {
    let (one, two) = (home.open(), home.open());
    let first = acquire_blocking(&one, "apply", Duration::ZERO).unwrap();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(400));
        first.release().unwrap();
    });
    let second = acquire_blocking(&two, "apply", Duration::from_secs(20)).unwrap();
    releaser.join().unwrap();
    assert_eq!(one.lock_info().unwrap().unwrap().id, second.info().id);
    second.release().unwrap();
}

/// force-unlock refuses when nobody holds the lock and when the ID is not the holder's.
fn force_unlock_refuses_a_free_lock_and_a_wrong_id(home: &dyn Home) {
    let store = home.open();
    assert!(matches!(
        store.force_unlock("0123456789abcdef"),
        Err(StateError::NotLocked { .. })
    ));
    let held = acquire_blocking(&store, "apply", Duration::ZERO).unwrap();
    let err = home.open().force_unlock("0123456789abcdef").unwrap_err();
    assert!(
        matches!(&err, StateError::WrongLockId { holder, .. } if holder.id == held.info().id),
        "{err}"
    );
    held.release().unwrap();
}

/// A state that is not dxctl's is refused on load, never taken as empty.
fn a_corrupt_state_is_refused(home: &dyn Home) {
    home.overwrite(b"{\"format_version\": 1, \"peers\": 3}");
    let err = home.open().load().unwrap_err();
    let text = format!("{:#}", anyhow::Error::from(err));
    assert!(
        text.contains("not valid dxctl state") || text.contains("is not valid"),
        "{text}"
    );
}

/// Every contract case, each on a fresh state from `fresh`.
fn contract<'h>(fresh: &mut dyn FnMut(&str) -> Box<dyn Home + 'h>) {
    saves_round_trip(&*fresh("round-trip"));
    the_lock_is_exclusive_and_names_its_holder(&*fresh("exclusive"));
    a_waiting_holder_gets_the_lock_once_it_is_released(&*fresh("waiting"));
    force_unlock_refuses_a_free_lock_and_a_wrong_id(&*fresh("force-unlock"));
    a_corrupt_state_is_refused(&*fresh("corrupt"));
}

#[test]
fn the_local_file_store_keeps_the_state_and_lock_contract() {
    let dir = tempfile::tempdir().unwrap();
    contract(&mut |name| Box::new(LocalHome(dir.path().join(name).join("dxctl.state.json"))));
}

#[test]
fn the_s3_store_keeps_the_state_and_lock_contract() {
    s3_contract(S3Kind::Moto);
}

#[test]
fn the_s3_store_keeps_the_state_and_lock_contract_on_seaweedfs() {
    s3_contract(S3Kind::Seaweed);
}

fn s3_contract(kind: S3Kind) {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::launch(kind, dir.path());
    s3.create_bucket("net-state", true);
    contract(&mut |name| Box::new(S3Home::new(&s3, &format!("{name}/dxctl.state.json"))));
}

#[test]
fn an_s3_write_based_on_an_older_read_is_refused_and_overwrites_nothing_on_moto() {
    an_s3_write_based_on_an_older_read_is_refused_and_overwrites_nothing(S3Kind::Moto);
}

#[test]
fn an_s3_write_based_on_an_older_read_is_refused_and_overwrites_nothing_on_seaweedfs() {
    an_s3_write_based_on_an_older_read_is_refused_and_overwrites_nothing(S3Kind::Seaweed);
}

#[test]
fn s3_force_unlock_clears_a_lock_and_its_old_holder_hears_of_it_on_moto() {
    s3_force_unlock_clears_a_lock_and_its_old_holder_hears_of_it(S3Kind::Moto);
}

#[test]
fn s3_force_unlock_clears_a_lock_and_its_old_holder_hears_of_it_on_seaweedfs() {
    s3_force_unlock_clears_a_lock_and_its_old_holder_hears_of_it(S3Kind::Seaweed);
}

/// What S3 adds to the contract: a write is a compare-and-swap on the version this run read, so a writer that read
/// an older version can never overwrite a newer one, with or without the lock.
fn an_s3_write_based_on_an_older_read_is_refused_and_overwrites_nothing(kind: S3Kind) {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::launch(kind, dir.path());
    s3.create_bucket("net-state", false);
    let home = S3Home::new(&s3, "cas/dxctl.state.json");
    // Two runs read the same (absent) state; the first to write wins, the second is refused.
    let (one, two) = (home.open(), home.open());
    let (mut a, mut b) = (one.load().unwrap(), two.load().unwrap());
    a.upsert(record("a", "dxpeer-a"));
    one.save(&mut a).unwrap();
    b.upsert(record("b", "dxpeer-b"));
    let err = two.save(&mut b).unwrap_err();
    assert!(matches!(err, StateError::Conflict { .. }), "{err}");
    assert!(err.to_string().contains("was not overwritten"), "{err}");
    assert_eq!(home.open().load().unwrap(), a, "the first write stands");

    // Both read the same version; one writes; the other's write is refused.
    let (three, four) = (home.open(), home.open());
    let (mut c, mut d) = (three.load().unwrap(), four.load().unwrap());
    c.upsert(record("c", "dxpeer-c"));
    three.save(&mut c).unwrap();
    d.upsert(record("d", "dxpeer-d"));
    assert!(matches!(
        four.save(&mut d),
        Err(StateError::Conflict { .. })
    ));
    // A run's own writes follow each other.
    c.upsert(record("e", "dxpeer-e"));
    three.save(&mut c).unwrap();
    assert_eq!(home.open().load().unwrap(), c);

    // Written behind the store's back: the next load says so instead of mixing two versions, and a write is
    // refused.
    let five = home.open();
    let mut e = five.load().unwrap();
    let mut other = e.clone();
    other.upsert(record("x", "dxpeer-x"));
    let text = dxctl::state::to_text(&other).unwrap();
    home.overwrite(text.as_bytes());
    assert!(matches!(five.load(), Err(StateError::Conflict { .. })));
    e.upsert(record("f", "dxpeer-f"));
    assert!(matches!(
        five.save(&mut e),
        Err(StateError::Conflict { .. })
    ));
    assert_eq!(s3.text("net-state", "cas/dxctl.state.json"), text);

    // Deleted behind the store's back: the write finds no version to replace (AWS and moto answer 404, SeaweedFS
    // 412), and nothing is written.
    let six = home.open();
    let mut f = six.load().unwrap();
    s3.delete("net-state", "cas/dxctl.state.json");
    f.upsert(record("g", "dxpeer-g"));
    let err = six.save(&mut f).unwrap_err();
    assert!(matches!(err, StateError::Conflict { .. }), "{err}");
    assert!(s3.get("net-state", "cas/dxctl.state.json").is_none());
}

/// S3 cannot tell whether a remote holder still runs: force-unlock with the holder's ID clears the lock, and the
/// old holder then learns, on release, that it had lost it.
fn s3_force_unlock_clears_a_lock_and_its_old_holder_hears_of_it(kind: S3Kind) {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::launch(kind, dir.path());
    s3.create_bucket("net-state", false);
    let home = S3Home::new(&s3, "fu/dxctl.state.json");
    let store = home.open();
    let held = acquire_blocking(&store, "apply", Duration::ZERO).unwrap();
    home.open().force_unlock(&held.info().id).unwrap();
    assert_eq!(store.lock_info().unwrap(), None);
    let taker = acquire_blocking(&home.open(), "apply", Duration::ZERO).unwrap();
    let err = held.release().unwrap_err();
    assert!(matches!(err, StateError::LockLost { .. }), "{err}");
    assert_eq!(
        store.lock_info().unwrap().unwrap().id,
        taker.info().id,
        "the old holder's release left the new holder's lock alone"
    );
    taker.release().unwrap();
}
