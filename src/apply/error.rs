//! Why a change failed or was not run, as data: the summary, the progress events and the tests match on these,
//! and their words are written once, here.

use std::fmt;
use std::sync::Arc;

use super::poll::Waited;
use super::readiness::Unreachable;
use crate::aws::{Failure, Operation};
use crate::error_chain::Chain;
use crate::model::{PeerState, VifId};
use crate::plan::intents::Settlement;
use crate::state::StateError;

/// A state write that failed, shared by the steps that waited on it.
pub type RecordError = Arc<StateError>;

/// Why a change failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ApplyError {
    /// AWS refused the call for good (a rule, a bad request).
    #[error("{operation} failed: {failure}")]
    Refused {
        operation: Operation,
        failure: Failure,
    },
    /// AWS kept refusing the call for now (throttled, transitioning) until the apply's deadline.
    #[error(
        "{operation} was still refused (throttled or transitioning) when the apply's --timeout passed"
    )]
    StillRefused { operation: Operation },
    /// Every send was refused for now, or settled as not having happened.
    #[error("{operation}{} did not succeed after {sends} sends", peer_suffix(.peer))]
    OutOfSends {
        operation: Operation,
        peer: Option<String>,
        sends: u32,
    },
    /// A lost create did take effect, but its peer is already gone.
    #[error("CreateBGPPeer took effect, but the peer it made ({id}) is {state}")]
    MadeThenGone { id: String, state: PeerState },
    /// A lost create, and more than one new peer could be the one it made.
    #[error(
        "create outcome ambiguous: CreateBGPPeer's answer was lost, and more than one new peer could be the one \
         it made ({}); dxctl does not guess. The state keeps the call; delete the peer that is not wanted and the \
         next apply adopts the one left",
        .candidates.join(", ")
    )]
    AmbiguousCreate { candidates: Vec<String> },
    /// A lost create that no describe could settle in time; its intent stays in the state.
    #[error(
        "create outcome unknown: CreateBGPPeer's answer was lost and no describe could settle it before the \
         apply's deadline ({}); the state records the call, and the next plan adopts the peer if it appears or \
         creates it once it is settled absent",
        WaitEnd(.waited)
    )]
    CreateUnsettled { waited: Waited },
    /// A lost delete that no describe could settle in time.
    #[error(
        "delete outcome unknown: DeleteBGPPeer's answer was lost and no describe could settle it before the \
         apply's deadline ({})",
        WaitEnd(.waited)
    )]
    DeleteUnsettled { waited: Waited },
    #[error("could not delete {id}: it never became available ({})", WaitEnd(.waited))]
    NeverDeletable { id: String, waited: Waited },
    #[error("peer {id} did not go away: {}", WaitEnd(.waited))]
    NotGone { id: String, waited: Waited },
    #[error("timed out waiting for {id} to become available ({})", WaitEnd(.waited))]
    NotAvailable { id: String, waited: Waited },
    /// The peer will never become available.
    #[error("{0}")]
    Unreachable(Unreachable),
    /// An earlier apply's lost create that is still unsettled: nothing is created for its address until it is.
    #[error("create outcome unknown: {}", .0.describe())]
    Unsettled(Settlement),
    /// The state could not be written before anything was sent.
    #[error("cannot write the state: {}", Chain(.0.as_ref() as &StateError))]
    StateWrite(RecordError),
    /// A state write failed: nothing more is sent for this VIF.
    #[error("{}", Chain(.0.as_ref() as &StateError))]
    Record(RecordError),
    /// The state could not be completed at the end: a local journal not folded in (nothing is lost: the journal
    /// keeps it), or a remote state's final write refused.
    #[error("{}", fold_failure(.0))]
    Fold(RecordError),
}

fn fold_failure(e: &StateError) -> String {
    if e.is_remote() {
        format!("cannot confirm the final state: {}", Chain(e))
    } else {
        format!(
            "cannot fold the state journal into the state file: {}; the journal keeps every change, and the next \
             apply folds it in",
            Chain(e)
        )
    }
}

impl ApplyError {
    /// Whether the state refused this run's write because another writer changed it (a failed compare-and-swap):
    /// the state then lacks this run's last steps.
    pub fn is_state_conflict(&self) -> bool {
        matches!(
            self,
            ApplyError::StateWrite(e) | ApplyError::Record(e) | ApplyError::Fold(e)
                if matches!(e.as_ref(), StateError::Conflict { .. })
        )
    }
}

/// Why a change was not run, or stopped before it finished; nothing was lost, and the next apply resumes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Skip {
    #[error("an earlier step on {0} failed")]
    EarlierStepFailed(VifId),
    #[error(transparent)]
    Interrupted(#[from] Interruption),
}

/// Where a Ctrl-C stopped a change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Interruption {
    #[error("interrupted before it started")]
    BeforeStart,
    #[error("interrupted before {0} was sent")]
    BeforeSend(Operation),
    #[error(
        "aborted while {0} was in flight; the state keeps the call, and the next apply settles it before sending \
         anything"
    )]
    InFlight(Operation),
    #[error(
        "interrupted while settling a lost CreateBGPPeer; the state records it, and the next apply settles it \
         before creating anything"
    )]
    SettlingCreate,
    #[error("interrupted while settling a lost DeleteBGPPeer; the next apply settles it")]
    SettlingDelete,
    #[error("interrupted while waiting for {0} to become available before deleting it")]
    BeforeDelete(String),
    #[error("interrupted while waiting for {0} to be deleted; the next apply resumes")]
    Deleting(String),
    #[error("interrupted while waiting for {0}; it is recorded and the next apply waits for it")]
    Provisioning(String),
}

fn peer_suffix(peer: &Option<String>) -> String {
    peer.as_ref().map(|p| format!(" {p}")).unwrap_or_default()
}

/// How a wait that did not reach its goal ended, in words.
struct WaitEnd<'a>(&'a Waited);

impl fmt::Display for WaitEnd<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Waited::TimedOut(Some(state)) => write!(f, "last state {state}"),
            Waited::TimedOut(None) => f.write_str("nothing conclusive was described"),
            Waited::Failed(reason) => write!(f, "{reason}"),
            Waited::AwaitingApproval => f.write_str("awaiting AWS approval"),
            other => write!(f, "{other:?}"),
        }
    }
}
