//! Ctrl-C outside an apply's steps: the command stops where it waits (describing, the state lock, the confirmation
//! prompt) and dxctl exits 130, having changed nothing. While an apply runs its steps it takes Ctrl-C over (see
//! `commands::apply`): the first stops new steps, the second stops waiting for calls in flight.

use std::sync::atomic::{AtomicBool, Ordering};

/// Exit code after an interrupt, as shells report a process stopped by SIGINT.
pub const EXIT_INTERRUPTED: u8 = 130;

static TAKEN_OVER: AtomicBool = AtomicBool::new(false);

/// While alive, Ctrl-C belongs to the apply that holds it.
pub struct TakenOver(());

impl Drop for TakenOver {
    fn drop(&mut self) {
        TAKEN_OVER.store(false, Ordering::SeqCst);
    }
}

/// Claims Ctrl-C for an apply's steps.
pub fn take_over() -> TakenOver {
    TAKEN_OVER.store(true, Ordering::SeqCst);
    TakenOver(())
}

/// Resolves at the first Ctrl-C nobody has taken over. Pending forever if the handler cannot be installed (the
/// default disposition then still stops the process).
pub async fn outside_apply() {
    loop {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        if !TAKEN_OVER.load(Ordering::SeqCst) {
            return;
        }
    }
}
