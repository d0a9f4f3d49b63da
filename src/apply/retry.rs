//! One retry policy: how long a call AWS refused for now (throttled, transitioning) waits before it is sent again,
//! how far the poll loop backs off while describes fail, how a plan paces its describe rounds, and which failures
//! are worth another try at all.

use std::time::Duration;

use crate::aws::{AwsError, FailureKind};

/// Exponential backoff: `base`, doubling per attempt, never above `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// CreateBGPPeer and DeleteBGPPeer refused for now: 250 ms, 500 ms, ... up to 15 s.
    pub const CALLS: Backoff = Backoff {
        base: Duration::from_millis(250),
        max: Duration::from_secs(15),
    };

    /// A plan's rounds of describes: 500 ms, 1 s, 2 s, ...
    pub const DESCRIBES: Backoff = Backoff {
        base: Duration::from_millis(500),
        max: Duration::from_secs(8),
    };

    /// The poll loop: its interval while describes succeed, doubling per failed round up to 30 s.
    pub fn polls(interval: Duration) -> Backoff {
        Backoff {
            base: interval,
            max: Duration::from_secs(30).max(interval),
        }
    }

    /// The pause before attempt `attempt + 1` (attempt 0 waits `base`).
    pub fn delay(&self, attempt: u32) -> Duration {
        self.base
            .saturating_mul(2u32.saturating_pow(attempt.min(16)))
            .min(self.max)
    }
}

/// Whether a describe that failed this way may succeed when asked again. A refusal for good (no permission, a
/// bad request, an unknown region) answers the same every time; throttles, server errors, lost answers and
/// unusable answers (a listing cut short, say) may not.
pub fn worth_retrying(e: &AwsError) -> bool {
    e.failure().is_none_or(|f| f.kind != FailureKind::Rejected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::{Failure, Operation};
    use crate::model::Scope;

    #[test]
    fn only_refusals_for_good_are_not_worth_retrying() {
        let call = |kind| AwsError::Call {
            operation: Operation::DescribeVirtualInterfaces,
            scope: Scope::region("eu-west-1"),
            failure: Failure {
                kind,
                code: None,
                message: String::new(),
            },
        };
        assert!(!worth_retrying(&call(FailureKind::Rejected)));
        for kind in [
            FailureKind::Throttled,
            FailureKind::Server,
            FailureKind::Lost,
            FailureKind::Transitioning,
            FailureKind::AlreadyGone,
        ] {
            assert!(worth_retrying(&call(kind)), "{kind:?}");
        }
        assert!(worth_retrying(&AwsError::RepeatedToken {
            operation: Operation::DescribeLags,
            scope: Scope::region("eu-west-1"),
        }));
    }

    #[test]
    fn doubles_from_base_and_stops_at_max() {
        let b = Backoff::CALLS;
        let ms: Vec<u128> = (0..9).map(|a| b.delay(a).as_millis()).collect();
        assert_eq!(ms, [250, 500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(15));
        let polls = Backoff::polls(Duration::from_secs(5));
        assert_eq!(polls.delay(0), Duration::from_secs(5));
        assert_eq!(polls.delay(3), Duration::from_secs(30));
        // An interval longer than the cap is never shortened by a failure.
        assert_eq!(
            Backoff::polls(Duration::from_secs(60)).delay(2),
            Duration::from_secs(60)
        );
    }
}
