//! `apply --wait-bgp-up`: once a VIF's new peers are available, waits through the shared poll loop until their BGP
//! sessions are up, at most the time allowed. A session not up in time is reported per peer, never a failed
//! change: the peer exists and is recorded.

use std::time::Duration;

use super::poll::{Poller, Wait, Waited};
use super::progress::{Event, Progress};
use super::readiness::{Goal, Unreachable};
use super::record::Recorder;
use super::Outcome;
use crate::clock::now_ms;
use crate::model::PeerState;
use crate::plan::{Change, Kind};
use crate::state::StateStore;

/// How the wait for one peer's BGP session ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BgpWait {
    Up,
    /// Not up: why, in words ("created, BGP session not up after 5m (bgpStatus down)").
    NotUp(String),
}

/// What the peer of a change that ended `Done` went through in this apply, if it is one to wait on.
fn verb(c: &Change) -> Option<&'static str> {
    match c.action.kind() {
        Kind::Create | Kind::Replace(_) => Some("created"),
        // A peer whose create an earlier apply started.
        Kind::Wait => Some("created"),
        // Adopted and unchanged peers were there before: their sessions are `status`'s business.
        Kind::Adopt | Kind::Delete | Kind::Forget | Kind::NoOp => None,
    }
}

/// Waits for the BGP session of every peer `results` created or replaced (or waited for, an earlier apply's create).
pub async fn wait_all<S: StateStore + Clone + Send + 'static>(
    poller: &Poller,
    recorder: &Recorder<S>,
    progress: &dyn Progress,
    results: &[(&Change, Outcome)],
    allowed: Duration,
) -> Vec<(String, BgpWait)> {
    let waits = results.iter().filter_map(|(c, outcome)| {
        let verb = verb(c)?;
        if !matches!(outcome, Outcome::Done) {
            return None;
        }
        let record = recorder.peer(&c.address)?;
        Some(async move {
            let address = c.address.to_string();
            let id = record.bgp_peer_id.clone();
            progress.event(Event::new(
                &address,
                "step",
                format!(
                    "Waiting for the BGP session [id={id}, at most {}]...",
                    humantime::format_duration(allowed)
                ),
            ));
            let goal = Goal::BgpUp {
                id: id.clone(),
                visible_by_ms: record.listed_by_ms.unwrap_or(0),
                give_up_at_ms: now_ms()
                    .saturating_add(u64::try_from(allowed.as_millis()).unwrap_or(u64::MAX)),
            };
            let waited = poller
                .wait(Wait {
                    address: &address,
                    scope: &c.scope,
                    vif: &c.vif,
                    goal,
                    state: Some(PeerState::Available),
                    public: false,
                })
                .await;
            let result = judge(verb, allowed, waited);
            let event = match &result {
                BgpWait::Up => Event::new(
                    &address,
                    "done",
                    format!("Available, BGP session up [id={id}]"),
                ),
                BgpWait::NotUp(why) => Event::new(&address, "bgp", format!("{why} [id={id}]")),
            };
            progress.event(event);
            (address, result)
        })
    });
    futures::future::join_all(waits).await
}

/// What one wait came to, in words for the peer's summary line.
fn judge(verb: &str, allowed: Duration, waited: Waited) -> BgpWait {
    let after = humantime::format_duration(allowed);
    match waited {
        Waited::Ready(_) => BgpWait::Up,
        Waited::Failed(Unreachable::BgpNotUp {
            bgp,
            state: PeerState::Available,
        }) => BgpWait::NotUp(format!(
            "{verb}, BGP session not up after {after} (bgpStatus {bgp})"
        )),
        Waited::Failed(Unreachable::BgpNotUp { bgp, state }) => BgpWait::NotUp(format!(
            "{verb}, BGP session not up after {after} (state {state}, bgpStatus {bgp})"
        )),
        Waited::Failed(reason) => BgpWait::NotUp(format!(
            "{verb}, but while waiting for its BGP session {reason}"
        )),
        Waited::Interrupted => BgpWait::NotUp(format!(
            "{verb}; stopped waiting for its BGP session (interrupted)"
        )),
        _ => BgpWait::NotUp(format!(
            "{verb}, BGP session not up when the apply's --timeout ran out"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BgpStatus;

    #[test]
    fn a_session_not_up_in_time_says_what_was_done_and_how_long_it_waited() {
        let allowed = Duration::from_secs(300);
        assert_eq!(judge("created", allowed, Waited::Ready(None)), BgpWait::Up);
        assert_eq!(
            judge(
                "created",
                allowed,
                Waited::Failed(Unreachable::BgpNotUp {
                    bgp: BgpStatus::Down,
                    state: PeerState::Available
                })
            ),
            BgpWait::NotUp("created, BGP session not up after 5m (bgpStatus down)".into())
        );
        assert_eq!(
            judge("created", allowed, Waited::TimedOut(None)),
            BgpWait::NotUp("created, BGP session not up when the apply's --timeout ran out".into())
        );
    }
}
