//! Client-side pacing: each (region, operation) lane sends as fast as AWS allows and no faster. A throttle sets the
//! lane's rate a little below the rate that was getting through; every success raises it gently again (additive
//! increase, multiplicative decrease), so an apply converges on the service's limit instead of retrying into it.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::aws::Operation;
use crate::model::Scope;

/// The slowest a lane ever goes, calls per second.
const MIN_RATE: f64 = 0.2;
/// After a throttle: this share of the rate that was getting through.
const BACK_OFF: f64 = 0.9;
/// After each success: the rate grows by this factor while well below the rate last throttled at...
const CLIMB: f64 = 1.05;
/// ...and by this one near or above it.
const PROBE: f64 = 1.01;
/// How far back successes count when measuring the rate that gets through.
const WINDOW: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Lane {
    /// Calls per second, or `None` until the first throttle.
    rate: Option<f64>,
    /// When the next call may go.
    next: Option<Instant>,
    /// When recent calls succeeded.
    successes: VecDeque<Instant>,
    /// The last time the rate was lowered; throttles of calls already in flight then do not lower it again.
    lowered: Option<Instant>,
    /// The paced rate that was last throttled: the service's limit is about there.
    ceiling: Option<f64>,
}

impl Lane {
    /// Forgets successes older than `WINDOW`.
    fn forget_old(&mut self, now: Instant) {
        while self
            .successes
            .front()
            .is_some_and(|t| now.duration_since(*t) > WINDOW)
        {
            self.successes.pop_front();
        }
    }

    /// The rate that got through over the last `WINDOW` (a burst the service allowed counts as spread over it).
    fn measured(&mut self, now: Instant) -> Option<f64> {
        self.forget_old(now);
        (self.successes.len() >= 2).then(|| self.successes.len() as f64 / WINDOW.as_secs_f64())
    }
}

/// A slot given at this moment.
pub struct Ticket(Instant);

/// Pacing lanes for one apply, keyed by scope and operation.
#[derive(Default)]
pub struct Pacer {
    lanes: Mutex<HashMap<(Scope, Operation), Lane>>,
}

impl Pacer {
    /// Waits for this lane's next slot. Slots are taken one at a time when they come, never booked ahead, so a
    /// rate that rises meanwhile shortens every wait still to come.
    pub async fn slot(&self, scope: &Scope, operation: Operation) -> Ticket {
        loop {
            let busy_until = {
                let mut lanes = self
                    .lanes
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let lane = lanes.entry((scope.clone(), operation)).or_default();
                let now = Instant::now();
                let Some(rate) = lane.rate else {
                    return Ticket(now);
                };
                match lane.next {
                    Some(next) if next > now => next,
                    _ => {
                        lane.next = Some(now + Duration::from_secs_f64(1.0 / rate));
                        return Ticket(now);
                    }
                }
            };
            tokio::time::sleep_until(busy_until).await;
        }
    }

    /// Whether a slot is still good: the lane was not slowed down since it was given (a call that waited for a
    /// permit meanwhile must take a new, paced slot).
    pub fn still_good(&self, scope: &Scope, operation: Operation, ticket: &Ticket) -> bool {
        let lanes = self
            .lanes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        lanes
            .get(&(scope.clone(), operation))
            .and_then(|l| l.lowered)
            .is_none_or(|lowered| lowered <= ticket.0)
    }

    /// The call went through.
    pub fn succeeded(&self, scope: &Scope, operation: Operation) {
        let mut lanes = self
            .lanes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let lane = lanes.entry((scope.clone(), operation)).or_default();
        let now = Instant::now();
        lane.successes.push_back(now);
        lane.forget_old(now);
        let ceiling = lane.ceiling;
        if let Some(rate) = &mut lane.rate {
            *rate *= match ceiling {
                // Nothing known yet: find the limit quickly.
                None => CLIMB * CLIMB,
                Some(c) if *rate < BACK_OFF * c => CLIMB,
                Some(_) => PROBE,
            };
        }
    }

    /// The call was throttled: slow the lane down (once per slot, however many calls in flight were throttled).
    pub fn throttled(&self, scope: &Scope, operation: Operation) {
        let mut lanes = self
            .lanes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let lane = lanes.entry((scope.clone(), operation)).or_default();
        let now = Instant::now();
        let slot = Duration::from_secs_f64(1.0 / lane.rate.unwrap_or(1.0));
        if lane.lowered.is_some_and(|t| now.duration_since(t) < slot) {
            return;
        }
        let through = lane.measured(now);
        // Only a paced rate that was throttled says where the limit is (a burst the service allowed does not).
        lane.ceiling = lane.rate;
        let lowered = match (lane.rate, through) {
            (Some(rate), Some(m)) => BACK_OFF * m.min(rate),
            (Some(rate), None) => rate / 2.0,
            (None, Some(m)) => BACK_OFF * m,
            (None, None) => 1.0,
        };
        lane.rate = Some(lowered.max(MIN_RATE));
        lane.lowered = Some(now);
        lane.next = Some(now + Duration::from_secs_f64(1.0 / lowered.max(MIN_RATE)));
    }

    /// The lane's current rate, for progress messages and tests.
    pub fn rate(&self, scope: &Scope, operation: Operation) -> Option<f64> {
        let lanes = self
            .lanes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        lanes.get(&(scope.clone(), operation)).and_then(|l| l.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server-side token bucket, as the simulator has.
    struct Bucket {
        rate: f64,
        burst: f64,
        tokens: f64,
        at: Instant,
    }

    impl Bucket {
        fn take(&mut self) -> bool {
            let now = Instant::now();
            self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * self.rate)
                .min(self.burst);
            self.at = now;
            if self.tokens >= 1.0 {
                self.tokens -= 1.0;
                true
            } else {
                false
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_unthrottled_lane_is_not_paced() {
        let p = Pacer::default();
        let scope = Scope::region("us-east-1");
        let start = Instant::now();
        for _ in 0..100 {
            p.slot(&scope, Operation::CreateBgpPeer).await;
            p.succeeded(&scope, Operation::CreateBgpPeer);
        }
        assert_eq!(Instant::now(), start);
        assert_eq!(p.rate(&scope, Operation::CreateBgpPeer), None);
    }

    /// Against a 5/s limit, 300 calls get through in close to 300 / 5 = 60 s of (paused, simulated) time, and the
    /// other lanes are untouched.
    #[tokio::test(start_paused = true)]
    async fn a_throttled_lane_converges_on_the_service_limit() {
        let p = Pacer::default();
        let scope = Scope::region("us-east-1");
        let mut bucket = Bucket {
            rate: 5.0,
            burst: 5.0,
            tokens: 5.0,
            at: Instant::now(),
        };
        let start = Instant::now();
        let (mut ok, mut throttled) = (0, 0);
        while ok < 300 {
            p.slot(&scope, Operation::CreateBgpPeer).await;
            if bucket.take() {
                ok += 1;
                p.succeeded(&scope, Operation::CreateBgpPeer);
            } else {
                throttled += 1;
                p.throttled(&scope, Operation::CreateBgpPeer);
            }
            assert!(ok + throttled < 3_000, "bounded");
        }
        let secs = Instant::now().duration_since(start).as_secs_f64();
        eprintln!("300 calls against 5/s: {secs:.1}s of simulated time, {throttled} throttled");
        assert!(
            (59.0..=68.0).contains(&secs),
            "{secs:.1}s for 300 calls at 5/s"
        );
        assert!(throttled < 60, "few calls wasted: {throttled}");
        assert_eq!(p.rate(&scope, Operation::DeleteBgpPeer), None);
        assert_eq!(
            p.rate(&Scope::region("eu-west-1"), Operation::CreateBgpPeer),
            None
        );
    }
}
