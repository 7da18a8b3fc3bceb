//! What every command of the bench binary shares: the demo key, failing
//! with a message, opening a store, reading numbers and the peak RSS.

use std::time::Duration;

use audiences_service::limits::RateLimits;
use audiences_service::store::{AnyStore, StoreLimits};

/// The demo key every command seeds and sends.
pub(crate) const KEY: &str = "ak_bench_0123456789abcdef0123456789abcdef";

/// The keys the bench seeds beside [`KEY`]: with them the driver sends as
/// many callers as connections (a shared rate limit is one row per key).
/// `tools/ops` builds the same list.
pub(crate) fn extra_keys() -> Vec<String> {
    (1..32).map(|n| format!("ak_bench_{n:032x}")).collect()
}

/// Prints `message` and exits with a failure.
pub(crate) fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("bench: {message}");
    std::process::exit(1)
}

/// Rate limits that never refuse (the bench measures, it is not limited).
pub(crate) fn limits() -> RateLimits {
    RateLimits {
        per_second: std::num::NonZeroU32::new(u32::MAX).unwrap(),
        burst: std::num::NonZeroU32::new(u32::MAX).unwrap(),
    }
}

/// The store at `url`, with waits long enough for the largest seeds.
pub(crate) async fn open(url: &str) -> AnyStore {
    let limits = StoreLimits {
        query_timeout: Duration::from_secs(600),
        max_connections: 16,
    };
    AnyStore::open(url, limits)
        .await
        .unwrap_or_else(|error| fail(error))
}

/// This process's peak resident memory (VmHWM), in KiB.
pub(crate) fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|value| value.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// `text` as a `T`, or exits naming it.
pub(crate) fn parse<T: std::str::FromStr>(text: &str) -> T
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .unwrap_or_else(|error| fail(format!("`{text}`: {error}")))
}
