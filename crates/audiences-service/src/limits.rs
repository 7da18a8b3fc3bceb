//! Per-key rate limiting (GCRA): each API key has a bucket of `burst`
//! requests refilled at `per_second`. Every admitted response carries
//! `X-RateLimit-Limit`, `-Remaining` and `-Reset`; a refused one is a 429 with
//! `Retry-After` as well.
//!
//! The bucket lives in this process ([`KeyRateLimiter`], `governor`) for
//! one instance, or in PostgreSQL so that several instances on one database
//! hold a key to its limit together ([`Taken`] is its answer): the page's
//! statement takes the token too (`store/postgres_limits.rs`), one round
//! trip per request.

use std::num::NonZeroU32;
use std::time::Duration;

use audiences_server::runtime::{ApiError, RateLimitStatus};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

/// The configured limit of every key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Requests a key may make per second, sustained.
    pub per_second: NonZeroU32,
    /// Requests a key may make at once after being idle.
    pub burst: NonZeroU32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            per_second: NonZeroU32::new(50).expect("non-zero"),
            burst: NonZeroU32::new(100).expect("non-zero"),
        }
    }
}

/// A refused request: when to come back, and the headers to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// Seconds until the key may ask again (`Retry-After`), at least 1.
    pub retry_after: u64,
    /// The rate-limit headers.
    pub status: RateLimitStatus,
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        ApiError::rate_limited(refused.retry_after).with_rate_limit(refused.status)
    }
}

type Limiter = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// One bucket per API key id.
pub struct KeyRateLimiter {
    limiter: Limiter,
    clock: DefaultClock,
    limits: RateLimits,
}

/// Whole seconds, rounded up (for `Retry-After` and resets).
pub(crate) fn ceil_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

impl KeyRateLimiter {
    /// A limiter giving every key `limits`.
    pub fn new(limits: RateLimits) -> Self {
        let quota = Quota::per_second(limits.per_second).allow_burst(limits.burst);
        let clock = DefaultClock::default();
        Self {
            limiter: RateLimiter::dashmap_with_clock(quota, clock.clone())
                .with_middleware::<StateInformationMiddleware>(),
            clock,
            limits,
        }
    }

    /// The limits every key gets.
    pub fn limits(&self) -> RateLimits {
        self.limits
    }

    fn status(&self, remaining: u32) -> RateLimitStatus {
        let used = self.limits.burst.get().saturating_sub(remaining);
        let refill = Duration::from_secs(1) / self.limits.per_second.get();
        RateLimitStatus {
            limit: u64::from(self.limits.burst.get()),
            remaining: u64::from(remaining),
            reset_seconds: ceil_seconds(refill * used),
        }
    }

    /// Takes one request from `key_id`'s bucket: the headers to send, or the
    /// 429 to answer.
    pub fn check(&self, key_id: &str) -> Result<RateLimitStatus, Refused> {
        match self.limiter.check_key(&key_id.to_owned()) {
            Ok(snapshot) => Ok(self.status(snapshot.remaining_burst_capacity())),
            Err(refused) => {
                let wait = refused.wait_time_from(self.clock.now());
                let retry_after = ceil_seconds(wait).max(1);
                let mut status = self.status(0);
                status.reset_seconds = status.reset_seconds.max(retry_after);
                Err(Refused { retry_after, status })
            }
        }
    }

    /// Forgets the buckets of keys idle long enough to be full again.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// What the shared bucket said of one request (see the store's
/// `take_rate_token`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Taken {
    /// Whether the request is admitted.
    pub admitted: bool,
    /// Requests left.
    pub remaining: u64,
    /// Seconds until the bucket is full again.
    pub reset_seconds: f64,
    /// When refused, seconds until one request is admitted.
    pub retry_after_seconds: f64,
}

fn ceil_f64_seconds(seconds: f64) -> u64 {
    if seconds.is_finite() && seconds > 0.0 {
        seconds.ceil() as u64
    } else {
        0
    }
}

impl Taken {
    /// The answer of a GCRA bucket of `burst` requests refilled every
    /// `interval` seconds, from the database's clock `now` and its
    /// theoretical arrival time: `new_tat` when the request was admitted
    /// (the time it was moved to), else `old_tat` (where it stays). The
    /// arithmetic of `migrations/postgres/0002_rate_limits.sql`'s
    /// `rate_limit_take`, done here when the statement only moves the time.
    pub fn from_arrival_times(
        now: f64,
        new_tat: Option<f64>,
        old_tat: Option<f64>,
        interval: f64,
        burst: u32,
    ) -> Self {
        let span = interval * f64::from(burst);
        match new_tat {
            Some(new_tat) => Taken {
                admitted: true,
                remaining: ((span - (new_tat - now)) / interval + 1e-9).floor().max(0.0) as u64,
                reset_seconds: new_tat - now,
                retry_after_seconds: 0.0,
            },
            None => {
                let held = old_tat.unwrap_or(now).max(now);
                Taken {
                    admitted: false,
                    remaining: 0,
                    reset_seconds: held - now,
                    retry_after_seconds: held + interval - now - span,
                }
            }
        }
    }

    /// The headers to send, or the 429 to answer.
    pub fn into_status(self, limits: RateLimits) -> Result<RateLimitStatus, Refused> {
        let status = RateLimitStatus {
            limit: u64::from(limits.burst.get()),
            remaining: self.remaining.min(u64::from(limits.burst.get())),
            reset_seconds: ceil_f64_seconds(self.reset_seconds),
        };
        if self.admitted {
            Ok(status)
        } else {
            let retry_after = ceil_f64_seconds(self.retry_after_seconds).max(1);
            Err(Refused {
                retry_after,
                status: RateLimitStatus {
                    remaining: 0,
                    reset_seconds: status.reset_seconds.max(retry_after),
                    ..status
                },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_second: u32, burst: u32) -> KeyRateLimiter {
        KeyRateLimiter::new(RateLimits {
            per_second: NonZeroU32::new(per_second).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
        })
    }

    #[test]
    fn a_key_gets_its_burst_then_429_with_retry_after() {
        let limiter = limiter(1, 3);
        let remaining: Vec<u64> = (0..3).map(|_| limiter.check("k").unwrap().remaining).collect();
        assert_eq!(remaining, [2, 1, 0]);
        let refused = ApiError::from(limiter.check("k").unwrap_err());
        assert_eq!(refused.status.as_u16(), 429);
        assert_eq!(refused.retry_after, Some(1));
        let status = refused.rate_limit.unwrap();
        assert_eq!((status.limit, status.remaining), (3, 0));
        assert!(status.reset_seconds >= 1);
    }

    #[test]
    fn keys_have_separate_buckets() {
        let limiter = limiter(1, 1);
        limiter.check("a").unwrap();
        assert!(limiter.check("a").is_err());
        assert_eq!(limiter.check("b").unwrap().remaining, 0);
    }

    #[test]
    fn arrival_times_give_the_database_functions_answers() {
        // A bucket of 3 refilled every 0.5 s; the time moved to now + 0.5
        // (a fresh key): 2 left, full again in 0.5 s.
        let fresh = Taken::from_arrival_times(100.0, Some(100.5), None, 0.5, 3);
        assert_eq!((fresh.admitted, fresh.remaining), (true, 2));
        assert!((fresh.reset_seconds - 0.5).abs() < 1e-9);
        // The third request of a burst: none left.
        let last = Taken::from_arrival_times(100.0, Some(101.5), Some(101.0), 0.5, 3);
        assert_eq!((last.admitted, last.remaining), (true, 0));
        // Refused: the time stays at 101.5; one request is admitted again
        // 0.5 s later (101.5 + 0.5 - 100 - 1.5).
        let refused = Taken::from_arrival_times(100.0, None, Some(101.5), 0.5, 3);
        assert!(!refused.admitted);
        assert!((refused.retry_after_seconds - 0.5).abs() < 1e-9);
        assert!((refused.reset_seconds - 1.5).abs() < 1e-9);
        let status = refused.into_status(RateLimits {
            per_second: NonZeroU32::new(2).unwrap(),
            burst: NonZeroU32::new(3).unwrap(),
        });
        assert_eq!(status.unwrap_err().retry_after, 1);
    }

    #[test]
    fn reset_counts_the_time_to_refill() {
        let limiter = limiter(2, 10);
        for _ in 0..4 {
            limiter.check("k").unwrap();
        }
        // The fifth request leaves 5 used, refilled at 2 per second: 2.5 s.
        assert_eq!(limiter.check("k").unwrap().reset_seconds, 3);
    }
}
