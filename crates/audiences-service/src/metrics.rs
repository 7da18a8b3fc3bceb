//! Prometheus metrics of the service at `/metrics`: the runtime's request
//! metrics (per `operationId` and status, in flight, rate-limit refusals),
//! the store's query latency and the connection pool's occupancy and wait
//! time, recorded through the `metrics` facade into one process-wide
//! recorder.

use std::sync::OnceLock;

use audiences_server::runtime;
use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::store::{ACQUIRE_DURATION, AnyStore, PAGE_CACHE, PoolStats, QUERY_DURATION};

/// `db_pool_connections{state}`: open connections, `idle` or `in_use`.
pub const POOL_CONNECTIONS: &str = "db_pool_connections";
/// `key_cache_lookups_total{result}`: API key lookups answered by the
/// instance's key cache (`hit`) or by the store (`miss`).
pub const KEY_CACHE: &str = "key_cache_lookups_total";
/// `unauthenticated_limited_total`: requests without valid credentials
/// refused with a 429 by the bounds of `attempts.rs`.
pub const UNAUTHENTICATED_LIMITED: &str = "unauthenticated_limited_total";
/// `db_pool_max_connections`: the most connections the pool opens.
pub const POOL_MAX: &str = "db_pool_max_connections";

/// Latency buckets, in seconds: 100 µs to 10 s.
const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process's recorder, installed once (tests start several services).
pub fn recorder() -> Result<PrometheusHandle, String> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), BUCKETS)
                .map_err(|error| error.to_string())?
                .install_recorder()
                .map_err(|error| format!("cannot install the metrics recorder: {error}"))?;
            describe();
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".to_owned())
                .spawn(move || {
                    loop {
                        std::thread::sleep(std::time::Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                })
                .map_err(|error| error.to_string())?;
            Ok(handle)
        })
        .clone()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        runtime::metrics::REQUESTS,
        "Requests answered, by operationId and status."
    );
    describe_histogram!(
        runtime::metrics::DURATION,
        Unit::Seconds,
        "Time to answer a request, by operationId and status."
    );
    describe_gauge!(runtime::metrics::IN_FLIGHT, "Requests being answered.");
    describe_counter!(
        runtime::metrics::RATE_LIMITED,
        "Requests refused by the per-key rate limit, by operationId."
    );
    describe_histogram!(QUERY_DURATION, Unit::Seconds, "Time of a store query, by query.");
    describe_histogram!(
        ACQUIRE_DURATION,
        Unit::Seconds,
        "Time waiting for a pooled database connection."
    );
    describe_gauge!(
        POOL_CONNECTIONS,
        "Open database connections, by state (idle, in_use)."
    );
    describe_gauge!(POOL_MAX, "The most database connections the pool opens.");
    describe_counter!(
        KEY_CACHE,
        "API key lookups, by result: hit (the key cache, 1 s) or miss (the store)."
    );
    describe_counter!(
        PAGE_CACHE,
        "Pages asked of the PostgreSQL store's page cache, by result: hit (the kept page, its audience unchanged), miss (read from the database) or off."
    );
    describe_counter!(
        UNAUTHENTICATED_LIMITED,
        "Requests without valid credentials refused (429) by the per-address or global bound."
    );
}

fn record_pool(stats: PoolStats) {
    metrics::gauge!(POOL_CONNECTIONS, "state" => "idle").set(f64::from(stats.idle));
    metrics::gauge!(POOL_CONNECTIONS, "state" => "in_use")
        .set(f64::from(stats.size.saturating_sub(stats.idle)));
    metrics::gauge!(POOL_MAX).set(f64::from(stats.max));
}

/// `GET /metrics` in the Prometheus text format, the pool's gauges read at
/// each scrape.
pub fn routes(handle: PrometheusHandle, store: AnyStore) -> Router {
    let router = Router::new().route(
        "/metrics",
        get(move || {
            record_pool(store.pool_stats());
            let text = handle.render();
            async move { ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response() }
        }),
    );
    runtime::metrics::label(router, "metrics")
}
