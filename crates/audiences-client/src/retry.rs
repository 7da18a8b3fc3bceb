//! When and how long to wait before asking again.
//!
//! Transient failures (429, 502, 503, 504, connection failures and timeouts)
//! are retried with bounded exponential backoff and jitter (`backon`),
//! waiting at least what `Retry-After` asks, unless it asks for more than
//! [`RetryPolicy::max_retry_after`]. 400, 401, 403 and 404 are never
//! retried. 409 `AUDIENCE_NOT_READY` is retried only when the caller asked to
//! wait for readiness ([`RetryPolicy::wait_until_ready`]), until a deadline.

use std::future::Future;
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};

use crate::error::{Error, ErrorCode};

/// How the client retries; see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retrying).
    pub max_retries: usize,
    /// The first backoff; each next one doubles, with jitter.
    pub initial_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
    /// The longest `Retry-After` the client honours; a longer one is returned
    /// to the caller at once.
    pub max_retry_after: Duration,
    /// Randomize each backoff (recommended: spreads out clients that failed together).
    pub jitter: bool,
    /// Wait for an audience being populated (409 `AUDIENCE_NOT_READY`),
    /// asking again after each `Retry-After`, for at most this long.
    pub wait_until_ready: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
            jitter: true,
            wait_until_ready: None,
        }
    }
}

/// Hears of each wait before it starts: the failure, and the wait.
pub(crate) type Observer = dyn Fn(&Error, Duration) + Send + Sync;

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Wait this long, then try again.
    RetryAfter(Duration),
    /// Return the error.
    GiveUp,
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The same policy, also waiting up to `deadline` for an audience to be ready.
    pub fn wait_until_ready(mut self, deadline: Duration) -> Self {
        self.wait_until_ready = Some(deadline);
        self
    }

    fn backoff(&self) -> impl Iterator<Item = Duration> + use<> {
        let builder = ExponentialBuilder::default()
            .with_min_delay(self.initial_backoff)
            .with_max_delay(self.max_backoff)
            .with_factor(2.0)
            .with_max_times(self.max_retries);
        if self.jitter {
            builder.with_jitter().build()
        } else {
            builder.build()
        }
    }

    /// The decision after `error`, given the backoff left and the time spent.
    pub(crate) fn decide(
        &self,
        error: &Error,
        backoff: &mut impl Iterator<Item = Duration>,
        elapsed: Duration,
    ) -> Decision {
        let retry_after = error.retry_after();
        if error.code() == Some(&ErrorCode::AudienceNotReady) {
            let Some(deadline) = self.wait_until_ready else {
                return Decision::GiveUp;
            };
            let wait = retry_after.unwrap_or(Duration::from_secs(1));
            return if elapsed + wait <= deadline {
                Decision::RetryAfter(wait)
            } else {
                Decision::GiveUp
            };
        }
        if !error.is_transient() {
            return Decision::GiveUp;
        }
        if retry_after.is_some_and(|after| after > self.max_retry_after) {
            return Decision::GiveUp;
        }
        match backoff.next() {
            Some(delay) => Decision::RetryAfter(delay.max(retry_after.unwrap_or_default())),
            None => Decision::GiveUp,
        }
    }

    /// Runs `attempt` (given its number, from 1) until it succeeds or the
    /// policy gives up; `observer` hears of each wait before it starts.
    pub(crate) async fn run<T, F, Fut>(&self, observer: Option<&Observer>, mut attempt: F) -> Result<T, Error>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let started = Instant::now();
        let mut backoff = self.backoff();
        let mut number = 1;
        loop {
            match attempt(number).await {
                Ok(value) => return Ok(value),
                Err(error) => match self.decide(&error, &mut backoff, started.elapsed()) {
                    Decision::RetryAfter(delay) => {
                        tracing::debug!(%error, wait_ms = delay.as_millis(), "retrying");
                        if let Some(observer) = observer {
                            observer(&error, delay);
                        }
                        tokio::time::sleep(delay).await;
                        number += 1;
                    }
                    Decision::GiveUp => return Err(error),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;
    use crate::error_codes;

    fn api(status: u16, code: &str, retry_after: Option<u64>) -> Error {
        Error::Api(ApiError {
            status,
            code: ErrorCode::from(code),
            message: String::new(),
            details: None,
            trace_id: None,
            retry_after: retry_after.map(Duration::from_secs),
        })
    }

    fn fixed() -> RetryPolicy {
        RetryPolicy {
            jitter: false,
            ..RetryPolicy::default()
        }
    }

    #[test]
    fn transient_statuses_back_off_exponentially_then_give_up() {
        let policy = fixed();
        let mut backoff = policy.backoff();
        let error = api(502, error_codes::UPSTREAM_ERROR, None);
        // In whole milliseconds: backon computes in f32.
        let delays: Vec<Option<u128>> = (0..5)
            .map(|_| match policy.decide(&error, &mut backoff, Duration::ZERO) {
                Decision::RetryAfter(delay) => Some(delay.as_millis()),
                Decision::GiveUp => None,
            })
            .collect();
        assert_eq!(delays, [Some(200), Some(400), Some(800), Some(1600), None]);
    }

    #[test]
    fn client_errors_are_never_retried() {
        let policy = fixed().wait_until_ready(Duration::from_secs(60));
        for (status, code) in [
            (400, error_codes::VALIDATION_ERROR),
            (401, error_codes::UNAUTHORIZED),
            (403, error_codes::FORBIDDEN),
            (404, error_codes::NOT_FOUND),
            (500, error_codes::INTERNAL_ERROR),
        ] {
            let mut backoff = policy.backoff();
            assert_eq!(
                policy.decide(&api(status, code, Some(1)), &mut backoff, Duration::ZERO),
                Decision::GiveUp,
                "{status}"
            );
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let policy = fixed();
        let mut backoff = policy.backoff();
        assert_eq!(
            policy.decide(
                &api(429, error_codes::RATE_LIMITED, Some(3)),
                &mut backoff,
                Duration::ZERO
            ),
            Decision::RetryAfter(Duration::from_secs(3))
        );
        assert_eq!(
            policy.decide(
                &api(429, error_codes::RATE_LIMITED, Some(3_600)),
                &mut backoff,
                Duration::ZERO
            ),
            Decision::GiveUp,
            "an hour is past the 60 s cap"
        );
    }

    #[test]
    fn not_ready_waits_only_when_asked_and_until_the_deadline() {
        let not_ready = api(409, error_codes::AUDIENCE_NOT_READY, Some(30));
        let mut backoff = fixed().backoff();
        assert_eq!(
            fixed().decide(&not_ready, &mut backoff, Duration::ZERO),
            Decision::GiveUp
        );
        let waiting = fixed().wait_until_ready(Duration::from_secs(100));
        assert_eq!(
            waiting.decide(&not_ready, &mut backoff, Duration::from_secs(60)),
            Decision::RetryAfter(Duration::from_secs(30))
        );
        assert_eq!(
            waiting.decide(&not_ready, &mut backoff, Duration::from_secs(80)),
            Decision::GiveUp,
            "80 + 30 is past the deadline"
        );
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let policy = RetryPolicy::default();
        for delay in policy.backoff() {
            assert!(
                delay >= Duration::from_millis(200) && delay <= Duration::from_secs(20),
                "{delay:?}"
            );
        }
    }
}
