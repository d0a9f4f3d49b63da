//! Saving the world off the request path (the sandbox's evolving copy). A writer task takes a snapshot whenever the
//! world changed and writes it (temp file, fsync, rename) on tokio's blocking pool, so changes made meanwhile are
//! coalesced into the next write. A request that changed the world answers only once a save covering its change has
//! landed, so the file holds every acknowledged write; yet neither an executor thread nor the world lock ever waits
//! on the disk.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::engine::Engine;
use super::world::World;
use super::{SaveError, SimError};

/// How far saving has got: the newest change a save attempt covered, and its error if it failed.
#[derive(Clone, Debug, Default)]
struct Saved {
    through: u64,
    error: Option<SaveError>,
}

/// Takes the world as it is, and the number of changes it includes (under the engine lock, so both agree).
pub type Snapshot = Box<dyn Fn() -> Result<(u64, World), SaveError> + Send + Sync>;

/// The request side of the writer: counts changes, and waits for them to be saved.
pub struct Saver {
    /// Changes so far. Counted only under the engine lock (see [`Saver::note_change`]), so a snapshot taken under
    /// it covers exactly the changes counted by then.
    changes: watch::Sender<u64>,
    saved: watch::Receiver<Saved>,
    writer: Mutex<Option<(oneshot::Sender<()>, JoinHandle<()>)>>,
}

impl Saver {
    /// A saver, and its writer's side; [`Saver::start`] spawns the writer.
    pub fn new() -> (Saver, Writer) {
        let (changes, changes_rx) = watch::channel(0);
        let (saved_tx, saved) = watch::channel(Saved::default());
        let saver = Saver {
            changes,
            saved,
            writer: Mutex::new(None),
        };
        (
            saver,
            Writer {
                changes: changes_rx,
                saved: saved_tx,
            },
        )
    }

    /// Spawns the writer on the current runtime: it saves to `path` what `snapshot` returns.
    pub fn start(&self, writer: Writer, path: PathBuf, snapshot: Snapshot) {
        let (stop_tx, stop) = oneshot::channel();
        let task = tokio::spawn(writer.run(path, Arc::new(snapshot), stop));
        if let Ok(mut slot) = self.writer.lock() {
            *slot = Some((stop_tx, task));
        }
    }

    /// Counts a change to the world and returns its number. The `&mut Engine` is the world lock's guard: a change
    /// is counted while the world that holds it is locked.
    pub fn note_change(&self, _locked: &mut Engine) -> u64 {
        let mut number = 0;
        self.changes.send_modify(|n| {
            *n += 1;
            number = *n;
        });
        number
    }

    /// The number of changes counted so far; the `&Engine` is the world lock's guard, as for `note_change`.
    pub fn counted(&self, _locked: &Engine) -> u64 {
        *self.changes.borrow()
    }

    /// Waits until a save covering change `number` has landed; its error if that save failed.
    pub async fn saved(&self, number: u64) -> Result<(), SaveError> {
        let mut saved = self.saved.clone();
        let outcome = saved
            .wait_for(|s| s.through >= number)
            .await
            .map(|s| s.error.clone());
        match outcome {
            Ok(None) => Ok(()),
            Ok(Some(error)) => Err(error),
            Err(_) => Err(SaveError::Stopped),
        }
    }

    /// Saves the world as it is now (whether or not it changed), and waits for it to land.
    pub async fn flush(&self, engine: &Mutex<Engine>) -> Result<(), SimError> {
        let number = {
            let mut engine = engine.lock().map_err(|_| SimError::WorldPoisoned)?;
            self.note_change(&mut engine)
        };
        Ok(self.saved(number).await?)
    }

    /// Stops the writer once it is idle (call [`Saver::flush`] first to save the last changes).
    pub async fn stop(&self) {
        let writer = self.writer.lock().ok().and_then(|mut slot| slot.take());
        if let Some((stop, task)) = writer {
            let _ = stop.send(());
            let _ = task.await;
        }
    }
}

/// The writer task's side of a [`Saver`].
pub struct Writer {
    changes: watch::Receiver<u64>,
    saved: watch::Sender<Saved>,
}

impl Writer {
    async fn run(
        mut self,
        path: PathBuf,
        snapshot: Arc<Snapshot>,
        mut stop: oneshot::Receiver<()>,
    ) {
        let mut through = 0;
        // One round per save; ends when stopped (or when the saver is gone).
        loop {
            tokio::select! {
                biased;
                _ = &mut stop => return,
                pending = self.changes.wait_for(|&n| n > through) => {
                    if pending.is_err() {
                        return;
                    }
                }
            }
            let requested = *self.changes.borrow_and_update();
            let (snapshot, path) = (snapshot.clone(), path.clone());
            let attempt = tokio::task::spawn_blocking(move || {
                let (covered, world) = match snapshot() {
                    Ok(taken) => taken,
                    Err(e) => return (requested, Err(e)),
                };
                let result =
                    crate::state::write_atomically(&path, world.to_json().as_bytes(), false)
                        .map_err(|source| SaveError::Write {
                            path,
                            source: Arc::new(source),
                        });
                (covered, result)
            })
            .await;
            let (covered, result) = match attempt {
                Ok(done) => done,
                Err(e) => (requested, Err(SaveError::Failed(Arc::new(e)))),
            };
            through = through.max(covered);
            self.saved.send_replace(Saved {
                through,
                error: result.err(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn engine() -> Arc<Mutex<Engine>> {
        let world = World::parse(include_str!("../../examples/seed/world.json")).unwrap();
        Arc::new(Mutex::new(Engine::new(world, None)))
    }

    /// A saver whose snapshots are counted and may be slowed down.
    fn saver(
        engine: &Arc<Mutex<Engine>>,
        path: PathBuf,
        saver: &Arc<Saver>,
        writer: Writer,
        slow: Duration,
    ) -> Arc<AtomicUsize> {
        let snapshots = Arc::new(AtomicUsize::new(0));
        let (engine, count, counter) = (engine.clone(), snapshots.clone(), saver.clone());
        saver.start(
            writer,
            path,
            Box::new(move || {
                std::thread::sleep(slow);
                count.fetch_add(1, Ordering::SeqCst);
                let engine = engine.lock().unwrap();
                Ok((counter.counted(&engine), engine.world.clone()))
            }),
        );
        snapshots
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_change_is_on_disk_when_its_wait_ends_and_changes_meanwhile_share_a_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("world.json");
        let engine = engine();
        let (s, writer) = Saver::new();
        let s = Arc::new(s);
        let snapshots = saver(
            &engine,
            path.clone(),
            &s,
            writer,
            Duration::from_millis(100),
        );
        // 20 changes while the first save is slow: at most a few writes cover them all.
        let mut waits = Vec::new();
        for i in 0..20u32 {
            let number = {
                let mut e = engine.lock().unwrap();
                e.world.sim.seed = Some(u64::from(i));
                s.note_change(&mut e)
            };
            let s = s.clone();
            let path = path.clone();
            waits.push(tokio::spawn(async move {
                s.saved(number).await.unwrap();
                // Whatever landed covers this change: its seed or a later one.
                let on_disk = World::load(&path).unwrap();
                assert!(on_disk.sim.seed.unwrap() >= u64::from(i), "change {number}");
            }));
        }
        for w in waits {
            w.await.unwrap();
        }
        let writes = snapshots.load(Ordering::SeqCst);
        assert!((1..=3).contains(&writes), "{writes} writes for 20 changes");
        s.flush(&engine).await.unwrap();
        assert_eq!(World::load(&path).unwrap().sim.seed, Some(19));
        s.stop().await;
        assert!(
            matches!(
                s.saved(s.changes.borrow().saturating_add(1)).await,
                Err(SaveError::Stopped)
            ),
            "no saves after stop"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_save_is_reported_to_the_change_it_covered() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be: the rename fails.
        let path = dir.path().join("world.json");
        std::fs::create_dir(&path).unwrap();
        let engine = engine();
        let (s, writer) = Saver::new();
        let s = Arc::new(s);
        saver(&engine, path.clone(), &s, writer, Duration::ZERO);
        let err = s.flush(&engine).await.unwrap_err();
        assert!(
            matches!(&err, SimError::Save(SaveError::Write { path: p, .. }) if *p == path),
            "{err:?}"
        );
        assert!(
            crate::error_chain::chain(&err)
                .starts_with(&format!("cannot save sandbox world {}: ", path.display())),
            "{err:?}"
        );
        s.stop().await;
    }
}
