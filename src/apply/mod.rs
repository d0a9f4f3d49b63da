//! The executor: runs exactly the plan's changes, each VIF's in order and VIFs in parallel, recording state after
//! every step and waiting for peers in batched polls. One idempotent attempt per step: a lost answer is
//! resolved by describing again, never by sending a create twice.

mod bgp;
mod error;
mod pace;
mod poll;
mod progress;
pub mod readiness;
mod record;
mod retry;
mod steps;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::sync::{watch, Semaphore};

use error::RecordError;
pub use error::{ApplyError, Skip};
pub use poll::WaitOptions;
pub use progress::{Bars, Event, JsonLines, Lines, Progress};
pub use retry::{worth_retrying, Backoff};

use crate::aws::DirectConnect;
use crate::model::{Observed, Scope, VifId};
use crate::plan::{Change, Plan};
use crate::state::{State, StateStore};
use pace::Pacer;
use record::Recorder;

#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub parallelism: usize,
    pub wait: WaitOptions,
    /// How long after a call ends its effect may take to show in describes; a lost call is settled only by a
    /// describe that starts this long after it.
    pub settle: Duration,
    /// The most one API call may take (the SDK gives up after it).
    pub call_timeout: Duration,
    /// (`--wait-bgp-up`) After the new peers are available, how long to wait for their BGP sessions to come up.
    pub wait_bgp_up: Option<Duration>,
}

/// What happened to one change.
#[derive(Clone, Debug)]
pub enum Outcome {
    Done,
    /// Created or replaced, and now `verifying` on a public VIF: AWS has to approve it.
    AwaitingApproval,
    Failed(ApplyError),
    /// Not run: interrupted, or an earlier step on the same VIF failed.
    Skipped(Skip),
}

#[derive(Debug, Default)]
pub struct Summary {
    pub added: usize,
    pub destroyed: usize,
    pub adopted: usize,
    /// Managed peers that took a new address (no API call).
    pub moved: usize,
    pub forgotten: usize,
    pub failures: Vec<(String, ApplyError)>,
    pub awaiting_approval: Vec<String>,
    pub skipped: Vec<(String, Skip)>,
    /// (`--wait-bgp-up`) Peers whose BGP session came up, and those not up in time with why, by address.
    pub bgp_up: Vec<String>,
    pub bgp_not_up: Vec<(String, String)>,
    pub interrupted: bool,
    pub state: State,
}

/// Where an apply reports progress, and the switch that stops it (Ctrl-C).
pub struct Controls<'a> {
    pub progress: &'a dyn Progress,
    /// Turning true stops new steps; in-flight calls finish and are recorded.
    pub cancel: watch::Receiver<bool>,
    /// Turning true (after `cancel`) stops waiting for calls in flight; their intents stay in the state.
    pub abort: watch::Receiver<bool>,
}

/// Runs the plan.
pub async fn execute<D: DirectConnect, S: StateStore + Clone + Send + 'static>(
    dc: &D,
    plan: &Plan,
    observed: &Observed,
    store: S,
    state: State,
    options: Options,
    controls: Controls<'_>,
) -> Summary {
    let Controls {
        progress,
        cancel,
        abort,
    } = controls;
    // Settled intents and moves change the state before any step runs.
    let settled_intents = plan.settlements.iter().any(|s| s.settles()) || !plan.moves.is_empty();
    let recorder = Recorder::new(store, state);
    let mut summary = Summary {
        moved: plan.moves.len(),
        ..Summary::default()
    };
    // Creating anything for an address whose earlier create may yet appear could duplicate it.
    let unsettled: Vec<(String, ApplyError)> = plan
        .unsettled()
        .map(|s| (s.address.0.clone(), ApplyError::Unsettled(s.clone())))
        .collect();
    if !unsettled.is_empty() {
        summary.failures = unsettled;
        summary.state = recorder.into_state();
        return summary;
    }
    if settled_intents {
        // Peers adopted from earlier lost creates, and settled intents, are written before anything else runs.
        if let Err(e) = recorder.flush().await {
            summary.failures.push((
                "(state)".into(),
                ApplyError::StateWrite(RecordError::new(e)),
            ));
            summary.state = recorder.into_state();
            return summary;
        }
    }
    let (poller, rx) = poll::channel();
    let semaphore = Semaphore::new(options.parallelism.max(1));
    let pacer = Pacer::default();
    let timing = steps::Timing {
        settle: options.settle,
        call_timeout: options.call_timeout,
        deadline: tokio::time::Instant::now() + options.wait.timeout,
        poll: options.wait.interval,
    };
    let mut by_vif: BTreeMap<(Scope, VifId), Vec<&Change>> = BTreeMap::new();
    for c in &plan.changes {
        by_vif
            .entry((c.scope.clone(), c.vif.clone()))
            .or_default()
            .push(c);
    }
    let seen = observed.by_id();
    let vif_runs =
        futures::future::join_all(by_vif.into_iter().map(|((scope, vif), mut changes)| {
            changes.sort_by_key(|c| c.step);
            let listed = seen.get(&vif).copied();
            let known: BTreeSet<String> = listed
                .filter(|v| v.scope == scope)
                .map(|v| {
                    v.peers
                        .iter()
                        .filter_map(|p| p.bgp_peer_id.clone())
                        .collect()
                })
                .unwrap_or_default();
            let public = listed.is_some_and(|v| v.vif_type == crate::model::VifType::Public);
            let ctx = steps::Ctx {
                dc,
                recorder: &recorder,
                poller: poller.clone(),
                semaphore: &semaphore,
                pacer: &pacer,
                progress,
                cancel: cancel.clone(),
                abort: abort.clone(),
                timing,
            };
            let recorder = &recorder;
            async move {
                let out = ctx.run_vif(changes, known, public).await;
                let bgp = match options.wait_bgp_up {
                    Some(allowed) => {
                        bgp::wait_all(&ctx.poller, recorder, progress, &out, allowed).await
                    }
                    None => Vec::new(),
                };
                (out, bgp)
            }
        }));
    // The poll loop ends once every VIF run has finished and dropped its handle.
    drop(poller);
    let (results, ()) = tokio::join!(
        vif_runs,
        poll::run(dc, rx, options.wait, progress, cancel.clone())
    );
    summary.interrupted = *cancel.borrow();
    let mut changes_done = Vec::new();
    for (out, bgp) in results {
        changes_done.extend(out);
        for (address, waited) in bgp {
            match waited {
                bgp::BgpWait::Up => summary.bgp_up.push(address),
                bgp::BgpWait::NotUp(why) => summary.bgp_not_up.push((address, why)),
            }
        }
    }
    summary.bgp_up.sort();
    summary.bgp_not_up.sort();
    for (change, outcome) in changes_done {
        let address = change.address.to_string();
        match outcome {
            Outcome::Done | Outcome::AwaitingApproval => {
                use crate::plan::Kind;
                match change.action.kind() {
                    Kind::Create => summary.added += 1,
                    Kind::Delete => summary.destroyed += 1,
                    Kind::Replace(_) => {
                        summary.added += 1;
                        summary.destroyed += 1;
                    }
                    Kind::Adopt => summary.adopted += 1,
                    Kind::Forget => summary.forgotten += 1,
                    Kind::NoOp | Kind::Wait => {}
                }
                if matches!(outcome, Outcome::AwaitingApproval) {
                    summary.awaiting_approval.push(address);
                }
            }
            Outcome::Failed(cause) => summary.failures.push((address, cause)),
            Outcome::Skipped(why) => summary.skipped.push((address, why)),
        }
    }
    let (state, folded) = recorder.finish().await;
    if let Err(e) = folded {
        let fold = ApplyError::Fold(RecordError::new(e));
        // A conflict already reported for a step is the same refusal again: said once.
        let said =
            fold.is_state_conflict() && summary.failures.iter().any(|(_, c)| c.is_state_conflict());
        if !said {
            summary.failures.push(("(state)".into(), fold));
        }
    }
    summary.state = state;
    summary
}

#[cfg(test)]
mod executor_tests;
#[cfg(test)]
mod tests;
