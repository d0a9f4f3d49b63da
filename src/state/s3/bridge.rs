//! A runtime of the S3 store's own, so the store's blocking methods (the `StateStore` traits are synchronous, like
//! file I/O) can wait for the async SDK from anywhere.

use std::future::Future;

use super::super::{RemoteAction, Result, S3Failure, StateError};

/// A runtime of the store's own, so its blocking methods work from anywhere: a plain thread, the blocking pool, or
/// an async task of the command's runtime (which it then blocks briefly, as reading a local state file would).
pub(super) struct Bridge(Option<tokio::runtime::Runtime>);

impl Bridge {
    pub(super) fn new() -> std::io::Result<Bridge> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("dxctl-state-s3")
            .enable_all()
            .build()?;
        Ok(Bridge(Some(runtime)))
    }

    /// Runs `work` on the store's runtime and waits for it.
    pub(super) fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T> {
        let gone = || StateError::Remote {
            action: RemoteAction::Connect,
            object: "S3".into(),
            source: S3Failure::other("the S3 client stopped"),
        };
        let runtime = self.0.as_ref().ok_or_else(gone)?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = tx.send(work.await);
        });
        rx.recv().map_err(|_| gone())
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
