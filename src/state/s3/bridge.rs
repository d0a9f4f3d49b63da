//! A runtime of the S3 store's own, so the store's blocking methods (the `StateStore` traits are synchronous, like
//! file I/O) can wait for the async SDK from anywhere.

use std::future::Future;

use super::super::{RemoteAction, Result, S3Failure, StateError};

/// A runtime of the store's own, so its blocking methods work from anywhere: a plain thread, the blocking pool, or
/// an async task of the command's runtime (which it then blocks briefly, as reading a local state file would).
/// The name of the store runtime's worker thread.
const THREAD: &str = "dxctl-state-s3";

pub(super) struct Bridge(Option<tokio::runtime::Runtime>);

impl Bridge {
    pub(super) fn new() -> std::io::Result<Bridge> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(THREAD)
            .enable_all()
            .build()?;
        Ok(Bridge(Some(runtime)))
    }

    /// Runs `work` on the store's runtime and waits for it. Never called from that runtime's own worker (it would
    /// wait for itself): the store's futures only make SDK calls.
    pub(super) fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T> {
        let failed = |why: &str| StateError::Remote {
            action: RemoteAction::Connect,
            object: "S3".into(),
            source: S3Failure::other(why),
        };
        if std::thread::current().name() == Some(THREAD) {
            return Err(failed(
                "a call from the S3 client's own thread would wait for itself",
            ));
        }
        let runtime = self
            .0
            .as_ref()
            .ok_or_else(|| failed("the S3 client stopped"))?;
        let task = runtime.spawn(work);
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = tx.send(task.await);
        });
        match rx.recv() {
            Ok(Ok(done)) => Ok(done),
            Ok(Err(e)) if e.is_panic() => Err(failed("the S3 call panicked")),
            _ => Err(failed("the S3 client stopped")),
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // Never blocks (dropping a runtime from async code would panic): its worker finishes in the background.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}
