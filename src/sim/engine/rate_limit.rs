//! Request rate limits as AWS applies them: one token bucket per operation and region, refilled continuously.
//! Time is passed in, so the buckets are deterministic under test.

use std::collections::HashMap;

use super::super::world::RateLimit;

struct Bucket {
    tokens: f64,
    at_ms: u64,
}

#[derive(Default)]
pub struct Buckets {
    buckets: HashMap<(String, String), Bucket>,
}

impl Buckets {
    /// Takes one token for `operation` in `region` at `now_ms`; `false` means the call is throttled.
    pub fn take(&mut self, operation: &str, region: &str, limit: RateLimit, now_ms: u64) -> bool {
        let capacity = limit.capacity();
        let bucket = self
            .buckets
            .entry((operation.to_string(), region.to_string()))
            .or_insert(Bucket {
                tokens: capacity,
                at_ms: now_ms,
            });
        let elapsed = now_ms.saturating_sub(bucket.at_ms) as f64 / 1000.0;
        bucket.tokens = (bucket.tokens + elapsed * limit.per_second).min(capacity);
        bucket.at_ms = bucket.at_ms.max(now_ms);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_steady_rate_per_operation_and_region() {
        let mut b = Buckets::default();
        let limit = RateLimit {
            per_second: 2.0,
            burst: Some(3.0),
        };
        let taken = (0..5)
            .filter(|_| b.take("CreateBGPPeer", "us-east-1", limit, 0))
            .count();
        assert_eq!(taken, 3, "the burst");
        assert!(!b.take("CreateBGPPeer", "us-east-1", limit, 499));
        assert!(b.take("CreateBGPPeer", "us-east-1", limit, 500));
        assert!(!b.take("CreateBGPPeer", "us-east-1", limit, 500));
        // Another region and another operation have their own buckets.
        assert!(b.take("CreateBGPPeer", "eu-west-1", limit, 500));
        assert!(b.take("DeleteBGPPeer", "us-east-1", limit, 500));
        // Over ten seconds, about rate x time (plus nothing beyond the burst).
        let mut ok = 0;
        for t in (600..10_600).step_by(10) {
            if b.take("CreateBGPPeer", "us-east-1", limit, t) {
                ok += 1;
            }
        }
        assert!((19..=21).contains(&ok), "{ok}");
    }
}
