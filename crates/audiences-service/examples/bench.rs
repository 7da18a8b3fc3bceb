//! The measuring side of `cargo xtask bench` (which builds this in release
//! and drives it); not a tool of its own.
//!
//! ```text
//! bench seed DATABASE_URL COUNT             demo data plus COUNT prospects in the ready audience
//! bench serve-pair DATABASE_URL PORT PORT   the generated router, and a hand-written axum handler
//!                                           doing the same work, over one store
//! bench pages DATABASE_URL REPS             one page of 100 at depths 0, 10k, 100k, 500k and the
//!                                           last, keyset against OFFSET (JSON lines)
//! bench export BASE_URL KEY client|raw      every prospect of the ready audience, pages of 100
//! bench serde COUNT                         serde_json serialize and parse of COUNT prospects
//! bench drive URL CONNECTIONS REQUESTS      GET URL that many times over that many connections:
//!                                           requests/s, p50, p99 (JSON); fails on a non-200
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use audiences_server::runtime::{RouterLimits, TraceId};
use audiences_service::cursor::CursorCodec;
use audiences_service::demo::{self, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID};
use audiences_service::limits::{KeyRateLimiter, RateLimits};
use audiences_service::service::Service;
use audiences_service::store::{AnyStore, AudienceState, Position, Store, StoreLimits};
use audiences_types::{AudienceProspectListSuccessResponse, AudienceProspectPage};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

const KEY: &str = "ak_bench_0123456789abcdef0123456789abcdef";

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("bench: {message}");
    std::process::exit(1)
}

fn limits() -> RateLimits {
    RateLimits {
        per_second: std::num::NonZeroU32::new(u32::MAX).unwrap(),
        burst: std::num::NonZeroU32::new(u32::MAX).unwrap(),
    }
}

async fn open(url: &str) -> AnyStore {
    let limits = StoreLimits {
        query_timeout: Duration::from_secs(600),
        max_connections: 16,
    };
    AnyStore::open(url, limits)
        .await
        .unwrap_or_else(|error| fail(error))
}

fn peak_rss_kib() -> u64 {
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

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["seed", url, count] => seed(url, count.parse().unwrap_or_else(|error| fail(error))).await,
        ["serve-pair", url, generated, handwritten] => serve_pair(url, generated, handwritten).await,
        ["pages", url, reps] => pages(url, reps.parse().unwrap_or_else(|error| fail(error))).await,
        ["export", base, key, mode] => export(base, key, mode).await,
        ["drive", url, connections, requests] => {
            let parse = |text: &str| text.parse::<usize>().unwrap_or_else(|error| fail(error));
            drive(url, parse(connections), parse(requests)).await;
        }
        ["serde", count] => serde_speed(count.parse().unwrap_or_else(|error| fail(error))),
        _ => fail("see the module docs for the commands"),
    }
}

async fn seed(url: &str, count: u32) {
    let store = open(url).await;
    let started = Instant::now();
    if demo::seed(&store, Some(KEY.to_owned()))
        .await
        .unwrap_or_else(|error| fail(error))
        .is_none()
    {
        fail("the database is not empty");
    }
    let extra = count.saturating_sub(demo::READY_AUDIENCE_SIZE);
    demo::insert_prospects(&store, READY_AUDIENCE_ID, demo::READY_AUDIENCE_SIZE, extra)
        .await
        .unwrap_or_else(|error| fail(error));
    println!(
        "{{\"seeded\":{count},\"seconds\":{:.1}}}",
        started.elapsed().as_secs_f64()
    );
}

/// What the hand-written handler needs: the same store, limiter and cursor
/// codec as the service.
struct Baseline {
    store: AnyStore,
    limiter: KeyRateLimiter,
    cursors: CursorCodec,
}

#[derive(serde::Deserialize)]
struct PageQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

fn failure(status: StatusCode, code: &str, trace_id: &TraceId) -> Response {
    let body = serde_json::json!({
        "success": false, "data": null,
        "error": { "code": code, "message": code, "details": null },
        "traceId": trace_id.as_str(),
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The same work as the generated router plus the service, written by hand
/// the way an axum user would.
async fn handwritten(
    State(baseline): State<Arc<Baseline>>,
    Path((group, audience)): Path<(String, String)>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let trace_id = TraceId::generate();
    let Some(secret) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    else {
        return failure(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", &trace_id);
    };
    let key = match baseline
        .store
        .key_by_hash(&audiences_service::keys::hash(secret))
        .await
    {
        Ok(Some(key)) => key,
        Ok(None) => return failure(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", &trace_id),
        Err(_) => return failure(StatusCode::BAD_GATEWAY, "UPSTREAM_ERROR", &trace_id),
    };
    if !key
        .permissions
        .iter()
        .any(|permission| permission == "prospects:read")
    {
        return failure(StatusCode::FORBIDDEN, "FORBIDDEN", &trace_id);
    }
    let Ok(rate) = baseline.limiter.check(&key.id) else {
        return failure(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", &trace_id);
    };
    if key.account_group_id != group {
        return failure(StatusCode::NOT_FOUND, "NOT_FOUND", &trace_id);
    }
    match baseline.store.audience_state(&group, &audience).await {
        Ok(Some(AudienceState::Ready)) => {}
        Ok(_) => return failure(StatusCode::NOT_FOUND, "NOT_FOUND", &trace_id),
        Err(_) => return failure(StatusCode::BAD_GATEWAY, "UPSTREAM_ERROR", &trace_id),
    }
    let after = match query
        .cursor
        .as_deref()
        .map(|cursor| baseline.cursors.decode(&audience, cursor))
    {
        None => None,
        Some(Ok(position)) => Some(position),
        Some(Err(_)) => return failure(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", &trace_id),
    };
    let limit = query.limit.unwrap_or(25).clamp(1, 100);
    let page = match baseline.store.page(&audience, after.as_ref(), limit).await {
        Ok(page) => page,
        Err(_) => return failure(StatusCode::BAD_GATEWAY, "UPSTREAM_ERROR", &trace_id),
    };
    let next_cursor = page
        .rows
        .last()
        .filter(|_| page.has_more)
        .and_then(|last| baseline.cursors.encode(&audience, &last.position));
    let body = AudienceProspectListSuccessResponse {
        data: AudienceProspectPage {
            has_more: next_cursor.is_some(),
            next_cursor,
            items: page.rows.into_iter().map(|row| row.prospect).collect(),
        },
        error: None,
        success: true,
        trace_id: trace_id.as_str().to_owned(),
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    (
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::HeaderName::from_static("x-trace-id"),
                trace_id.as_str().to_owned(),
            ),
            (
                header::HeaderName::from_static("x-ratelimit-remaining"),
                rate.remaining.to_string(),
            ),
        ],
        bytes,
    )
        .into_response()
}

async fn serve_pair(url: &str, generated_port: &str, handwritten_port: &str) {
    let store = open(url).await;
    let secret = demo::cursor_secret(&store)
        .await
        .unwrap_or_else(|error| fail(error));
    let service = Arc::new(Service::new(
        store.clone(),
        CursorCodec::new(secret.clone()),
        limits(),
    ));
    let generated = audiences_service::app(service, RouterLimits::default(), None);
    let baseline = Arc::new(Baseline {
        store,
        limiter: KeyRateLimiter::new(limits()),
        cursors: CursorCodec::new(secret),
    });
    let handwritten_app = axum::Router::new()
        .route(
            "/v1/accounts/{group}/audiences/{audience}/prospects",
            axum::routing::get(handwritten),
        )
        .with_state(baseline);
    let bind = |port: &str| format!("127.0.0.1:{port}");
    let first = tokio::net::TcpListener::bind(bind(generated_port))
        .await
        .unwrap_or_else(|error| fail(error));
    let second = tokio::net::TcpListener::bind(bind(handwritten_port))
        .await
        .unwrap_or_else(|error| fail(error));
    println!("ready");
    let (a, b) = tokio::join!(
        axum::serve(first, generated),
        axum::serve(second, handwritten_app)
    );
    a.and(b).unwrap_or_else(|error| fail(error));
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

async fn pages(url: &str, reps: usize) {
    let store = open(url).await;
    let total = store
        .prospect_count(READY_AUDIENCE_ID)
        .await
        .unwrap_or_else(|error| fail(error));
    let total = u32::try_from(total).unwrap_or_else(|error| fail(error));
    let depths: Vec<u32> = [0, 10_000, 100_000, 500_000, total.saturating_sub(100)]
        .into_iter()
        .filter(|depth| *depth + 100 <= total)
        .collect();
    // Rounds over every depth, so that a noisy moment hits all depths alike.
    let mut keyset = vec![Vec::new(); depths.len()];
    let mut offset = vec![Vec::new(); depths.len()];
    for _ in 0..reps {
        for (slot, depth) in depths.iter().enumerate() {
            let after = (*depth > 0).then(|| demo::stored(depth - 1).position);
            let started = Instant::now();
            let page = store
                .page(READY_AUDIENCE_ID, after.as_ref(), 100)
                .await
                .unwrap_or_else(|error| fail(error));
            keyset[slot].push(started.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(
                page.rows.first().map(|row| &row.position),
                Some(&demo::stored(*depth).position)
            );
            let started = Instant::now();
            let first = offset_page(&store, *depth).await;
            offset[slot].push(started.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(first, Some(demo::stored(*depth).position));
        }
    }
    for (slot, depth) in depths.iter().enumerate() {
        let minimum = |samples: &[f64]| samples.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "{{\"store\":\"{}\",\"depth\":{depth},\"keyset_ms\":{:.3},\"keyset_min_ms\":{:.3},\"offset_ms\":{:.3}}}",
            store.kind(),
            median(keyset[slot].clone()),
            minimum(&keyset[slot]),
            median(offset[slot].clone())
        );
    }
}

/// The naive baseline: the same page by OFFSET, with the same row decoding.
async fn offset_page(store: &AnyStore, depth: u32) -> Option<Position> {
    const SQL: &str = "SELECT created_at, id, data FROM prospects WHERE audience_id = $1 \
                       ORDER BY created_at, id LIMIT 100 OFFSET $2";
    let rows: Vec<(i64, String, String)> = match store {
        AnyStore::Sqlite(sqlite) => sqlx::query_as(SQL)
            .bind(READY_AUDIENCE_ID)
            .bind(i64::from(depth))
            .fetch_all(sqlite.pool())
            .await
            .unwrap_or_else(|error| fail(error)),
        AnyStore::Postgres(postgres) => sqlx::query_as(SQL)
            .bind(READY_AUDIENCE_ID)
            .bind(i64::from(depth))
            .fetch_all(postgres.pool())
            .await
            .unwrap_or_else(|error| fail(error)),
    };
    for (_, _, data) in &rows {
        let _: audiences_types::AudienceProspect =
            serde_json::from_str(data).unwrap_or_else(|error| fail(error));
    }
    rows.first().map(|(created_at, id, _)| Position {
        created_at: *created_at,
        id: id.clone(),
    })
}

async fn export(base: &str, key: &str, mode: &str) {
    use futures_util::TryStreamExt;
    let started = Instant::now();
    let count: u64 = match mode {
        "client" => {
            let client = audiences_client::AudiencesClient::builder(base)
                .api_key(key)
                .build()
                .unwrap_or_else(|error| fail(error));
            let mut items = std::pin::pin!(
                client
                    .prospects(ACCOUNT_GROUP_ID, READY_AUDIENCE_ID)
                    .page_size(100)
                    .items()
            );
            let mut count = 0;
            while let Some(prospect) = items.try_next().await.unwrap_or_else(|error| fail(error)) {
                std::hint::black_box(&prospect);
                count += 1;
            }
            count
        }
        "raw" => {
            let http = reqwest::Client::new();
            let mut cursor: Option<String> = None;
            let mut count = 0;
            loop {
                let mut url = format!(
                    "{base}/v1/accounts/{ACCOUNT_GROUP_ID}/audiences/{READY_AUDIENCE_ID}/prospects?limit=100"
                );
                if let Some(cursor) = &cursor {
                    url.push_str("&cursor=");
                    url.push_str(cursor);
                }
                let bytes = http
                    .get(&url)
                    .bearer_auth(key)
                    .send()
                    .await
                    .unwrap_or_else(|error| fail(error))
                    .bytes()
                    .await
                    .unwrap_or_else(|error| fail(error));
                let page: AudienceProspectListSuccessResponse =
                    serde_json::from_slice(&bytes).unwrap_or_else(|error| fail(error));
                count += page.data.items.len() as u64;
                std::hint::black_box(&page);
                match page.data.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            count
        }
        other => fail(format!("unknown mode {other}")),
    };
    println!(
        "{{\"mode\":\"{mode}\",\"prospects\":{count},\"seconds\":{:.3},\"peak_rss_kib\":{}}}",
        started.elapsed().as_secs_f64(),
        peak_rss_kib()
    );
}

fn serde_speed(count: u32) {
    let prospects: Vec<_> = (0..count).map(demo::prospect).collect();
    let started = Instant::now();
    let texts: Vec<String> = prospects
        .iter()
        .map(|prospect| serde_json::to_string(prospect).unwrap_or_default())
        .collect();
    let serialize = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for text in &texts {
        let prospect: audiences_types::AudienceProspect =
            serde_json::from_str(text).unwrap_or_else(|error| fail(error));
        std::hint::black_box(prospect);
    }
    let parse = started.elapsed().as_secs_f64();
    println!(
        "{{\"prospects\":{count},\"serialize_per_s\":{:.0},\"parse_per_s\":{:.0},\"bytes_per_prospect\":{}}}",
        f64::from(count) / serialize,
        f64::from(count) / parse,
        texts.iter().map(String::len).sum::<usize>() / texts.len().max(1)
    );
}

async fn drive(url: &str, connections: usize, requests: usize) {
    let per_connection = requests.div_ceil(connections);
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let url = url.to_owned();
            tokio::spawn(async move {
                let http = reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .build()
                    .unwrap_or_else(|error| fail(error));
                let mut latencies = Vec::with_capacity(per_connection);
                for _ in 0..per_connection {
                    let sent = Instant::now();
                    let response = http
                        .get(&url)
                        .bearer_auth(KEY)
                        .send()
                        .await
                        .unwrap_or_else(|error| fail(error));
                    if response.status() != StatusCode::OK {
                        fail(format!("status {} from {url}", response.status()));
                    }
                    response.bytes().await.unwrap_or_else(|error| fail(error));
                    latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap_or_else(|error| fail(error)));
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let at = |fraction: f64| latencies[((latencies.len() - 1) as f64 * fraction) as usize];
    println!(
        "{{\"requests\":{},\"rps\":{:.1},\"p50_ms\":{:.3},\"p99_ms\":{:.3}}}",
        latencies.len(),
        latencies.len() as f64 / seconds,
        at(0.5),
        at(0.99)
    );
}
