//! Bounds on requests that are not authenticated: no credentials, several,
//! or a key that is not a known valid one. Each such request takes a token
//! from its client address's bucket and from one global bucket (GCRA,
//! `governor`) before any key lookup, so that unknown keys, however many
//! and however distinct, never become unbounded database work; an empty
//! bucket is a 429 in the envelope with `Retry-After`. A key already known
//! valid (in the key cache) takes no token: a client's own traffic is
//! limited per key (`limits.rs`), not here.
//!
//! The address is the TCP peer's: behind a proxy every client shares the
//! proxy's, so there the global bound is what holds (or raise the per-address
//! one to the proxy's share).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use audiences_server::runtime::ApiError;
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// The bounds; `None` turns one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptLimits {
    /// Unauthenticated requests per second from one client address, with
    /// the burst it may send at once.
    pub per_address: Option<(NonZeroU32, NonZeroU32)>,
    /// Unauthenticated requests per second from all clients together.
    pub global: Option<NonZeroU32>,
}

impl Default for AttemptLimits {
    /// 20 a second from one address (200 at once), 2,000 a second in all.
    fn default() -> Self {
        Self {
            per_address: Some((nonzero(20), nonzero(200))),
            global: Some(nonzero(2_000)),
        }
    }
}

fn nonzero(value: u32) -> NonZeroU32 {
    NonZeroU32::new(value).unwrap_or(NonZeroU32::MIN)
}

/// How many takes pass between two clean-ups of idle addresses' buckets.
const CLEAN_EVERY: u64 = 4_096;

/// The buckets of [`AttemptLimits`].
pub struct AttemptLimiter {
    per_address: Option<RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock>>,
    global: Option<RateLimiter<NotKeyed, InMemoryState, DefaultClock>>,
    clock: DefaultClock,
    takes: AtomicU64,
}

impl AttemptLimiter {
    /// Buckets for `limits`.
    pub fn new(limits: AttemptLimits) -> Self {
        let clock = DefaultClock::default();
        Self {
            per_address: limits.per_address.map(|(per_second, burst)| {
                RateLimiter::dashmap_with_clock(
                    Quota::per_second(per_second).allow_burst(burst),
                    clock.clone(),
                )
            }),
            global: limits.global.map(|per_second| {
                RateLimiter::direct_with_clock(Quota::per_second(per_second), clock.clone())
            }),
            clock,
            takes: AtomicU64::new(0),
        }
    }

    /// Takes a token for one unauthenticated request from `client`: `None`,
    /// or the refusal to send, a 429 saying when to come back.
    pub fn take(&self, client: Option<IpAddr>) -> Option<ApiError> {
        if self.takes.fetch_add(1, Ordering::Relaxed) % CLEAN_EVERY == CLEAN_EVERY - 1
            && let Some(per_address) = &self.per_address
        {
            per_address.retain_recent();
            per_address.shrink_to_fit();
        }
        let refused = match (&self.per_address, client) {
            (Some(per_address), Some(client)) => per_address.check_key(&client).err(),
            _ => None,
        }
        .or_else(|| self.global.as_ref().and_then(|global| global.check().err()));
        match refused {
            None => None,
            Some(not_until) => {
                metrics::counter!(crate::metrics::UNAUTHENTICATED_LIMITED).increment(1);
                let seconds = crate::limits::ceil_seconds(not_until.wait_time_from(self.clock.now())).max(1);
                let mut refusal = ApiError::rate_limited(seconds);
                refusal.message =
                    format!("too many requests without valid credentials: retry after {seconds} s");
                Some(refusal)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_has_its_own_bucket_and_all_share_the_global_one() {
        let limiter = AttemptLimiter::new(AttemptLimits {
            per_address: Some((nonzero(1), nonzero(3))),
            global: Some(nonzero(5)),
        });
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        let two: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert!(limiter.take(Some(one)).is_none());
        }
        let refused = limiter.take(Some(one)).unwrap();
        assert_eq!(refused.status, 429);
        assert!(refused.retry_after.is_some_and(|seconds| seconds >= 1));
        // Another address has its own bucket, until the global one is empty.
        assert!(limiter.take(Some(two)).is_none());
        assert!(limiter.take(None).is_none());
        assert_eq!(limiter.take(Some(two)).unwrap().status, 429);
    }

    #[test]
    fn bounds_turned_off_never_refuse() {
        let limiter = AttemptLimiter::new(AttemptLimits {
            per_address: None,
            global: None,
        });
        for _ in 0..10_000 {
            assert!(limiter.take(Some("192.0.2.1".parse().unwrap())).is_none());
        }
    }
}
