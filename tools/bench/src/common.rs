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

/// The store at `url`, with waits long enough for the largest seeds; its
/// page cache as the service's (`AUDIENCES_PAGE_CACHE_MIB`, the service's
/// option, turns it off with 0).
pub(crate) async fn open(url: &str) -> AnyStore {
    let page_cache_bytes = match std::env::var("AUDIENCES_PAGE_CACHE_MIB") {
        Ok(mib) => parse::<usize>(&mib).saturating_mul(1 << 20),
        Err(_) => StoreLimits::default().page_cache_bytes,
    };
    let max_connections = match std::env::var("AUDIENCES_DB_MAX_CONNECTIONS") {
        Ok(count) => parse::<u32>(&count).max(1),
        Err(_) => StoreLimits::default().max_connections,
    };
    let limits = StoreLimits {
        query_timeout: Duration::from_secs(600),
        max_connections,
        page_cache_bytes,
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
