//! The measuring side of `cargo xtask bench` and `cargo xtask load` (which
//! build this in release and drive it); not a tool of its own.
//!
//! ```text
//! bench seed DATABASE_URL COUNT          demo data plus COUNT prospects in the ready audience
//! bench serve DATABASE_URL PORT PORT PORT
//!                                        on three ports of one process: the generated router
//!                                        and the service; a hand-written axum handler doing
//!                                        the same work over the same store; and the ceiling,
//!                                        a handler answering the same first page from memory
//! bench pages DATABASE_URL REPS          one page of 100 at depths 0, 10k, 100k, 500k and the
//!                                        last, keyset against OFFSET (JSON lines)
//! bench export BASE_URL KEY client|client-gzip|sequential
//!                                        every prospect of the ready audience in pages of 100:
//!                                        the client's walk (gzip off, or asked for), or a
//!                                        strictly sequential loop
//! bench wire BASE_URL KEY               the first page of 100 on the wire, as is and gzipped
//!                                        (bytes, JSON)
//! bench serde COUNT                      serde_json serialize and typed parse of COUNT prospects
//! bench walk BASE_URL KEY GROUP AUDIENCE PAGE_SIZE PAUSE_MS
//!                                        the client's walk of an audience, pausing after each
//!                                        page (for `cargo xtask cluster --check`): prints the
//!                                        prospects seen, the distinct ones and the pages, or
//!                                        the error and its status (JSON)
//! bench limits POSTGRES_URL [REDIS_ADDRESS]
//!                                        a shared rate limit's cost and accuracy: the store's
//!                                        PostgreSQL statement, and the same GCRA as a Redis
//!                                        script (JSON lines)
//! bench drive URL... [--connections N] [--requests N | --seconds S] [--key KEY]...
//!             [--allow STATUS]... [--trace-ids]
//!                                        the load driver: GET the URLs in turn over N keep-alive
//!                                        connections (plain HTTP/1.1, as lean as wrk; with
//!                                        several keys, connection n uses the n-th); prints
//!                                        requests/s and latency percentiles (JSON); fails on a
//!                                        status other than 200 and the allowed ones, and with
//!                                        --trace-ids on a missing or repeated X-Trace-Id
//! ```

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use audiences_server::runtime::{RawJsonArray, RouterLimits, TraceId};
use audiences_service::cursor::CursorCodec;
use audiences_service::demo::{self, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID};
use audiences_service::keys::{KEY_CACHE_TTL, KeyCache};
use audiences_service::limits::{KeyRateLimiter, RateLimits};
use audiences_service::service::Service;
use audiences_service::store::{AnyStore, KeyRecord, PageOutcome, Position, Store, StoreLimits};
use audiences_types::AudienceProspectListSuccessResponse;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The service binary's allocator (src/main.rs), so that `serve` is the
/// service as it runs; the client side of the bench (`export`, `serde`,
/// `drive`) runs on it too, baselines included.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

fn parse<T: std::str::FromStr>(text: &str) -> T
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .unwrap_or_else(|error| fail(format!("`{text}`: {error}")))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["seed", url, count] => seed(url, parse(count)).await,
        ["serve", url, generated, handwritten, ceiling] => serve(url, generated, handwritten, ceiling).await,
        ["pages", url, reps] => pages(url, parse(reps)).await,
        ["export", base, key, mode] => export(base, key, mode).await,
        ["wire", base, key] => wire(base, key).await,
        ["serde", count] => serde_speed(parse(count)),
        ["walk", base, key, group, audience, page_size, pause_ms] => {
            walk(base, key, group, audience, parse(page_size), parse(pause_ms)).await;
        }
        ["limits", postgres] => shared_limits(postgres, None).await,
        ["limits", postgres, redis] => shared_limits(postgres, Some(redis)).await,
        ["drive", rest @ ..] => drive(DriveOptions::parse(rest)).await,
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

/// What the hand-written handler needs: the same store, key cache, limiter
/// and cursor codec as the service.
struct Baseline {
    store: AnyStore,
    keys: KeyCache<KeyRecord>,
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

fn header_value(value: impl ToString) -> HeaderValue {
    HeaderValue::from_str(&value.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The same work as the generated router plus the service (key cache, rate
/// limit, one store statement, stored rows passed through, the same headers),
/// written by hand the way an axum user would.
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
    let hash = audiences_service::keys::hash(secret);
    let key = match baseline.keys.get(&hash) {
        Some(key) => key,
        None => {
            let read_at = Instant::now();
            match baseline.store.key_by_hash(&hash).await {
                Ok(key) => {
                    let key = key.map(Arc::new);
                    baseline.keys.put(hash, read_at, key.clone());
                    key
                }
                Err(_) => return failure(StatusCode::BAD_GATEWAY, "UPSTREAM_ERROR", &trace_id),
            }
        }
    };
    let Some(key) = key else {
        return failure(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", &trace_id);
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
    let group = group.to_ascii_lowercase();
    let audience = audience.to_ascii_lowercase();
    if key.account_group_id != group {
        return failure(StatusCode::NOT_FOUND, "NOT_FOUND", &trace_id);
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
    let page = match baseline
        .store
        .page(&group, &audience, after.as_ref(), limit)
        .await
    {
        Ok(PageOutcome::Page(page)) => page,
        Ok(_) => return failure(StatusCode::NOT_FOUND, "NOT_FOUND", &trace_id),
        Err(_) => return failure(StatusCode::BAD_GATEWAY, "UPSTREAM_ERROR", &trace_id),
    };
    let next_cursor = page
        .last
        .as_ref()
        .filter(|_| page.has_more)
        .and_then(|last| baseline.cursors.encode(&audience, last));
    let items = page.items.finish();
    let mut body = String::with_capacity(items.as_str().len() + 256);
    body.push_str("{\"success\":true,\"data\":{\"items\":");
    body.push_str(items.as_str());
    body.push_str(",\"nextCursor\":");
    body.push_str(&serde_json::to_string(&next_cursor).unwrap_or_default());
    body.push_str(if next_cursor.is_some() {
        ",\"hasMore\":true},\"error\":null,\"traceId\":\""
    } else {
        ",\"hasMore\":false},\"error\":null,\"traceId\":\""
    });
    body.push_str(trace_id.as_str());
    body.push_str("\"}");
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("x-trace-id", header_value(trace_id.as_str()));
    headers.insert("x-ratelimit-limit", header_value(rate.limit));
    headers.insert("x-ratelimit-remaining", header_value(rate.remaining));
    headers.insert("x-ratelimit-reset", header_value(rate.reset_seconds));
    if let Some(cursor) = &next_cursor {
        headers.insert("x-next-cursor", header_value(cursor));
    }
    response
}

async fn serve(url: &str, generated_port: &str, handwritten_port: &str, ceiling_port: &str) {
    let store = open(url).await;
    let secret = demo::cursor_secret(&store)
        .await
        .unwrap_or_else(|error| fail(error));
    let service = Arc::new(Service::new(
        store.clone(),
        CursorCodec::new(secret.clone()),
        limits(),
    ));
    let generated = audiences_service::app(Arc::clone(&service), RouterLimits::default(), None);
    let baseline = Arc::new(Baseline {
        store,
        keys: KeyCache::new(KEY_CACHE_TTL),
        limiter: KeyRateLimiter::new(limits()),
        cursors: CursorCodec::new(secret),
    });
    let route = "/v1/accounts/{group}/audiences/{audience}/prospects";
    let handwritten_app = axum::Router::new()
        .route(route, axum::routing::get(handwritten))
        .with_state(Arc::clone(&baseline));
    // The ceiling: the first page of 25, as the service answers it, served
    // from memory by the same HTTP stack.
    let first_page = handwritten(
        State(baseline),
        Path((ACCOUNT_GROUP_ID.to_owned(), READY_AUDIENCE_ID.to_owned())),
        Query(PageQuery {
            limit: Some(25),
            cursor: None,
        }),
        HeaderMap::from_iter([(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer ak_bench_0123456789abcdef0123456789abcdef"),
        )]),
    )
    .await;
    if first_page.status() != StatusCode::OK {
        fail(format!("the ceiling's page: {}", first_page.status()));
    }
    let body = axum::body::to_bytes(first_page.into_body(), usize::MAX)
        .await
        .unwrap_or_else(|error| fail(error));
    let ceiling_app = axum::Router::new().route(
        route,
        axum::routing::get(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body) }
        }),
    );
    let bind = |port: &str| format!("127.0.0.1:{port}");
    let listen = |port: &str| {
        let address = bind(port);
        async move {
            tokio::net::TcpListener::bind(address)
                .await
                .unwrap_or_else(|error| fail(error))
        }
    };
    let (first, second, third) = (
        listen(generated_port).await,
        listen(handwritten_port).await,
        listen(ceiling_port).await,
    );
    println!("ready");
    let (a, b, c) = tokio::join!(
        axum::serve(first, generated),
        axum::serve(second, handwritten_app),
        axum::serve(third, ceiling_app)
    );
    a.and(b).and(c).unwrap_or_else(|error| fail(error));
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
                .page(ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, after.as_ref(), 100)
                .await
                .unwrap_or_else(|error| fail(error));
            keyset[slot].push(started.elapsed().as_secs_f64() * 1000.0);
            let PageOutcome::Page(page) = page else {
                fail("the ready audience is not ready");
            };
            let items: Vec<serde_json::Value> =
                serde_json::from_str(page.items.finish().as_str()).unwrap_or_else(|error| fail(error));
            let expected = demo::stored(*depth).position.id;
            if items.first().and_then(|item| item["id"].as_str()) != Some(expected.as_str()) {
                fail(format!(
                    "the page at depth {depth} does not start with {expected}"
                ));
            }
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

/// The naive baseline: the same page by OFFSET, rows handed over the same way.
async fn offset_page(store: &AnyStore, depth: u32) -> Option<Position> {
    const SQL: &str = "SELECT created_at, id, data FROM prospects WHERE audience_id = $1 \
                       ORDER BY created_at, id LIMIT 100 OFFSET $2";
    let rows: Vec<(i64, String, String)> = match store {
        AnyStore::Sqlite(sqlite) => sqlite
            .call("offset_page", None, move |connection| {
                let mut statement = connection.prepare_cached(SQL)?;
                let rows = statement
                    .query_map(rusqlite::params![READY_AUDIENCE_ID, i64::from(depth)], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                    })?;
                rows.collect()
            })
            .await
            .unwrap_or_else(|error| fail(error)),
        AnyStore::Postgres(postgres) => sqlx::query_as(SQL)
            .bind(READY_AUDIENCE_ID)
            .bind(i64::from(depth))
            .fetch_all(postgres.pool())
            .await
            .unwrap_or_else(|error| fail(error)),
    };
    let mut items = RawJsonArray::<audiences_types::AudienceProspect>::with_capacity(100 * 1_024);
    for (_, _, data) in &rows {
        items.push_trusted(data);
    }
    std::hint::black_box(items.finish());
    rows.first().map(|(created_at, id, _)| Position {
        created_at: *created_at,
        id: id.clone(),
    })
}

/// A plain reqwest client that never asks for gzip (reqwest does by default
/// where the workspace enables its `gzip` feature, as the client crate does).
fn identity_http() -> reqwest::Client {
    reqwest::Client::builder()
        .gzip(false)
        .build()
        .unwrap_or_else(|error| fail(error))
}

async fn wire(base: &str, key: &str) {
    let http = identity_http();
    let url =
        format!("{base}/v1/accounts/{ACCOUNT_GROUP_ID}/audiences/{READY_AUDIENCE_ID}/prospects?limit=100");
    let mut sizes = Vec::new();
    for encoding in ["identity", "gzip"] {
        let response = http
            .get(&url)
            .bearer_auth(key)
            .header(header::ACCEPT_ENCODING, encoding)
            .send()
            .await
            .unwrap_or_else(|error| fail(error));
        let coded = response
            .headers()
            .get(header::CONTENT_ENCODING)
            .is_some_and(|value| value == "gzip");
        if coded != (encoding == "gzip") {
            fail(format!("asked for {encoding}, the answer is gzipped: {coded}"));
        }
        sizes.push(response.bytes().await.unwrap_or_else(|error| fail(error)).len());
    }
    println!("{{\"identity_bytes\":{},\"gzip_bytes\":{}}}", sizes[0], sizes[1]);
}

async fn export(base: &str, key: &str, mode: &str) {
    use futures_util::TryStreamExt;
    let started = Instant::now();
    let count: u64 = match mode {
        "client" | "client-gzip" => {
            let client = audiences_client::AudiencesClient::builder(base)
                .api_key(key)
                .compression(mode == "client-gzip")
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
        "sequential" => {
            // Strictly one request at a time: the next cursor is known only
            // once the whole page is parsed.
            let http = identity_http();
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
                let page: AudienceProspectListSuccessResponse = decode(&bytes);
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

/// The client's walk, for the cluster check: it runs here rather than in
/// xtask so that the generator never depends on the code it generates.
async fn walk(base: &str, key: &str, group: &str, audience: &str, page_size: u32, pause_ms: u32) {
    use futures_util::TryStreamExt;
    let client = audiences_client::AudiencesClient::builder(base)
        .api_key(key)
        .build()
        .unwrap_or_else(|error| fail(error));
    let mut pages = std::pin::pin!(client.prospects(group, audience).page_size(page_size).pages());
    let (mut total, mut unique, mut count) = (0_usize, HashSet::new(), 0_usize);
    loop {
        match pages.try_next().await {
            Ok(Some(page)) => {
                count += 1;
                total += page.items.len();
                unique.extend(page.items.into_iter().map(|prospect| prospect.id));
                tokio::time::sleep(Duration::from_millis(u64::from(pause_ms))).await;
            }
            Ok(None) => break,
            Err(error) => {
                println!(
                    "{}",
                    serde_json::json!({
                        "error": error.to_string(),
                        "status": error.status(),
                        "total": total,
                    })
                );
                return;
            }
        }
    }
    println!(
        "{}",
        serde_json::json!({ "total": total, "unique": unique.len(), "pages": count })
    );
}

/// A JSON body decoded as the generated client decodes it: its UTF-8
/// checked once, then parsed from the `str`.
fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> T {
    let text = std::str::from_utf8(body).unwrap_or_else(|error| fail(error));
    serde_json::from_str(text).unwrap_or_else(|error| fail(error))
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
    // The same prospects as the client receives them: pages of 100 in the
    // envelope, parsed from bytes as the generated client does (UTF-8
    // checked once, then parsed from the `str`).
    let pages: Vec<Vec<u8>> = texts
        .chunks(100)
        .map(|chunk| {
            format!(
                "{{\"success\":true,\"data\":{{\"items\":[{}],\"nextCursor\":\"c\",\"hasMore\":true}},\"error\":null,\"traceId\":\"0123456789abcdef01234567\"}}",
                chunk.join(",")
            )
            .into_bytes()
        })
        .collect();
    let started = Instant::now();
    for page in &pages {
        let page: AudienceProspectListSuccessResponse = decode(page);
        std::hint::black_box(page);
    }
    let pages_parse = started.elapsed().as_secs_f64();
    println!(
        "{{\"prospects\":{count},\"serialize_per_s\":{:.0},\"parse_per_s\":{:.0},\"page_parse_per_s\":{:.0},\"bytes_per_prospect\":{}}}",
        f64::from(count) / serialize,
        f64::from(count) / parse,
        f64::from(count) / pages_parse,
        texts.iter().map(String::len).sum::<usize>() / texts.len().max(1)
    );
}

/// The GCRA of `migrations/postgres/0002_rate_limits.sql` as a Redis script
/// (microseconds by the server's clock): `{admitted, remaining}`.
const REDIS_GCRA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local span = interval * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
if new_tat - now <= span then
  redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(span / 1000) + 1000)
  return {1, math.floor((span - (new_tat - now)) / interval)}
end
return {0, 0}
"#;

/// A Redis connection speaking just enough RESP for the script.
struct Redis {
    stream: tokio::net::TcpStream,
    buffer: Vec<u8>,
}

impl Redis {
    async fn connect(address: &str) -> Self {
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .unwrap_or_else(|error| fail(format!("redis at {address}: {error}")));
        stream.set_nodelay(true).unwrap_or_else(|error| fail(error));
        Self {
            stream,
            buffer: Vec::with_capacity(256),
        }
    }

    /// Runs the script on `key`; whether the request was admitted.
    async fn take(&mut self, key: &str, interval_us: u64, burst: u32) -> bool {
        let args = [
            "EVAL",
            REDIS_GCRA,
            "1",
            key,
            &interval_us.to_string(),
            &burst.to_string(),
        ];
        let mut command = format!("*{}\r\n", args.len());
        for arg in args {
            command.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        self.stream
            .write_all(command.as_bytes())
            .await
            .unwrap_or_else(|error| fail(error));
        // The reply: *2 :admitted :remaining, or an error line.
        self.buffer.clear();
        loop {
            let mut chunk = [0_u8; 256];
            let read = self
                .stream
                .read(&mut chunk)
                .await
                .unwrap_or_else(|error| fail(error));
            if read == 0 {
                fail("redis closed the connection");
            }
            self.buffer.extend_from_slice(&chunk[..read]);
            if self.buffer.starts_with(b"-") {
                fail(String::from_utf8_lossy(&self.buffer));
            }
            if self.buffer.iter().filter(|&&byte| byte == b'\n').count() >= 3 {
                return self.buffer.starts_with(b"*2\r\n:1");
            }
        }
    }
}

/// Per call latency (serial, never refused) and accuracy under contention
/// (16 tasks on one key limited to 200/s, burst 50, for 2 s) of a shared
/// limit, on PostgreSQL through the store and on Redis.
async fn shared_limits(postgres: &str, redis: Option<&str>) {
    use std::sync::atomic::{AtomicU64, Ordering};
    let store = open(postgres).await;
    let unlimited = limits();
    let limited = RateLimits {
        per_second: std::num::NonZeroU32::new(200).unwrap(),
        burst: std::num::NonZeroU32::new(50).unwrap(),
    };
    let report = |backend: &str, mut latencies: Vec<u32>, admitted: u64, seconds: f64| {
        latencies.sort_unstable();
        let expected = f64::from(limited.burst.get()) + f64::from(limited.per_second.get()) * seconds;
        println!(
            "{{\"backend\":\"{backend}\",\"p50_us\":{:.0},\"p99_us\":{:.0},\"admitted\":{admitted},\"expected\":{expected:.0},\"seconds\":{seconds:.3}}}",
            percentile(&latencies, 0.5) * 1000.0,
            percentile(&latencies, 0.99) * 1000.0
        );
    };
    // PostgreSQL, through the store's own statement.
    let mut latencies = Vec::new();
    for _ in 0..2_000 {
        let started = Instant::now();
        store
            .take_rate_token("bench-serial", unlimited)
            .await
            .unwrap_or_else(|error| fail(error));
        latencies.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
    let admitted = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(2);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (store, admitted) = (store.clone(), Arc::clone(&admitted));
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let taken = store.take_rate_token("bench-contended", limited).await;
                    if taken.ok().flatten().is_some_and(|taken| taken.admitted) {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    report(
        "postgres",
        latencies,
        admitted.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
    );
    let Some(redis) = redis else {
        return;
    };
    let interval = |limits: RateLimits| 1_000_000 / u64::from(limits.per_second.get()).max(1);
    let mut connection = Redis::connect(redis).await;
    let mut latencies = Vec::new();
    for _ in 0..2_000 {
        let started = Instant::now();
        connection
            .take("bench-serial", interval(unlimited).max(1), unlimited.burst.get())
            .await;
        latencies.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
    let admitted = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(2);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (address, admitted) = (redis.to_owned(), Arc::clone(&admitted));
            tokio::spawn(async move {
                let mut connection = Redis::connect(&address).await;
                while Instant::now() < deadline {
                    if connection
                        .take("bench-contended", interval(limited), limited.burst.get())
                        .await
                    {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    report(
        "redis",
        latencies,
        admitted.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
    );
}

/// What `bench drive` is asked for.
struct DriveOptions {
    urls: Vec<String>,
    connections: usize,
    requests: Option<usize>,
    seconds: Option<f64>,
    keys: Vec<String>,
    allow: Vec<u16>,
    trace_ids: bool,
}

impl DriveOptions {
    fn parse(args: &[&str]) -> Self {
        let mut options = DriveOptions {
            urls: Vec::new(),
            connections: 32,
            requests: None,
            seconds: None,
            keys: Vec::new(),
            allow: Vec::new(),
            trace_ids: false,
        };
        let mut args = args.iter();
        while let Some(&arg) = args.next() {
            let mut value = || {
                *args
                    .next()
                    .unwrap_or_else(|| fail(format!("{arg} needs a value")))
            };
            match arg {
                "--connections" => options.connections = parse(value()),
                "--requests" => options.requests = Some(parse(value())),
                "--seconds" => options.seconds = Some(parse(value())),
                "--key" => options.keys.push(value().to_owned()),
                "--allow" => options.allow.push(parse(value())),
                "--trace-ids" => options.trace_ids = true,
                url if !url.starts_with("--") => options.urls.push(url.to_owned()),
                other => fail(format!("unknown option {other}")),
            }
        }
        if options.keys.is_empty() {
            options.keys.push(KEY.to_owned());
        }
        if options.urls.is_empty() || options.requests.is_some() == options.seconds.is_some() {
            fail("drive needs URLs and one of --requests and --seconds");
        }
        options
    }
}

/// `q` of the sorted latencies (in microseconds), in milliseconds: the
/// nearest rank. The one percentile function of the bench and the load run.
fn percentile(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted_us.len() as f64 * q).ceil() as usize).clamp(1, sorted_us.len());
    f64::from(sorted_us[rank - 1]) / 1000.0
}

/// What one connection saw.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
    trace_ids: Vec<String>,
    missing_trace_ids: u64,
}

/// One response read off a keep-alive connection: status, the trace id
/// header, and whether the server asked to close.
struct Answer {
    status: u16,
    trace_id: Option<String>,
    close: bool,
}

/// Reads one HTTP/1.1 response (with a Content-Length body) from `stream`
/// into `buffer`, consuming it.
async fn read_answer(stream: &mut tokio::net::TcpStream, buffer: &mut Vec<u8>) -> Result<Answer, String> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(head) = response.parse(buffer).map_err(|error| error.to_string())? {
            let mut length = None;
            let (mut trace_id, mut close) = (None, false);
            for header in response.headers.iter() {
                if header.name.eq_ignore_ascii_case("content-length") {
                    length = std::str::from_utf8(header.value)
                        .ok()
                        .and_then(|v| v.parse::<usize>().ok());
                } else if header.name.eq_ignore_ascii_case("x-trace-id") {
                    trace_id = Some(String::from_utf8_lossy(header.value).into_owned());
                } else if header.name.eq_ignore_ascii_case("connection") {
                    close = header.value.eq_ignore_ascii_case(b"close");
                }
            }
            let status = response.code.unwrap_or(0);
            let length = length.ok_or("a response without Content-Length")?;
            while buffer.len() < head + length {
                read_more(stream, buffer).await?;
            }
            buffer.drain(..head + length);
            return Ok(Answer {
                status,
                trace_id,
                close,
            });
        }
        read_more(stream, buffer).await?;
    }
}

async fn read_more(stream: &mut tokio::net::TcpStream, buffer: &mut Vec<u8>) -> Result<(), String> {
    buffer.reserve(64 * 1024);
    let read = stream.read_buf(buffer).await.map_err(|error| error.to_string())?;
    if read == 0 {
        return Err("the server closed the connection".into());
    }
    Ok(())
}

/// One keep-alive connection sending `requests` in turn until `quota` or
/// `deadline`.
async fn drive_connection(
    address: String,
    requests: Arc<Vec<Vec<u8>>>,
    quota: Option<usize>,
    deadline: Option<Instant>,
    trace_ids: bool,
) -> Result<Tally, String> {
    let connect = || async {
        let stream = tokio::net::TcpStream::connect(&address)
            .await
            .map_err(|error| format!("cannot connect to {address}: {error}"))?;
        stream.set_nodelay(true).map_err(|error| error.to_string())?;
        Ok::<_, String>(stream)
    };
    let mut stream = connect().await?;
    let mut buffer = Vec::with_capacity(64 * 1024);
    let mut tally = Tally::default();
    let mut sent = 0_usize;
    loop {
        if quota.is_some_and(|quota| sent >= quota)
            || deadline.is_some_and(|deadline| Instant::now() >= deadline)
        {
            return Ok(tally);
        }
        let started = Instant::now();
        stream
            .write_all(&requests[sent % requests.len()])
            .await
            .map_err(|error| error.to_string())?;
        let answer = read_answer(&mut stream, &mut buffer).await?;
        tally
            .latencies_us
            .push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
        *tally.statuses.entry(answer.status).or_default() += 1;
        if trace_ids {
            match answer.trace_id {
                Some(trace_id) => tally.trace_ids.push(trace_id),
                None => tally.missing_trace_ids += 1,
            }
        }
        sent += 1;
        if answer.close {
            stream = connect().await?;
            buffer.clear();
        }
    }
}

/// The load driver: see the module docs.
async fn drive(options: DriveOptions) {
    let mut address = None;
    // One list of requests per key; connection n uses key n modulo their number.
    let requests: Vec<Arc<Vec<Vec<u8>>>> = options
        .keys
        .iter()
        .map(|key| {
            Arc::new(
                options
                    .urls
                    .iter()
                    .map(|url| {
                        let rest = url
                            .strip_prefix("http://")
                            .unwrap_or_else(|| fail(format!("{url}: plain http:// URLs only")));
                        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                        address.get_or_insert_with(|| authority.to_owned());
                        let path = if path.is_empty() { "/" } else { path };
                        format!(
                            "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {key}\r\nAccept: application/json\r\n\r\n"
                        )
                        .into_bytes()
                    })
                    .collect(),
            )
        })
        .collect();
    let address = address.unwrap_or_else(|| fail("no URL"));
    let deadline = options
        .seconds
        .map(|seconds| Instant::now() + Duration::from_secs_f64(seconds));
    let quota = options
        .requests
        .map(|requests| requests.div_ceil(options.connections));
    let started = Instant::now();
    let tasks: Vec<_> = (0..options.connections)
        .map(|connection| {
            tokio::spawn(drive_connection(
                address.clone(),
                Arc::clone(&requests[connection % requests.len()]),
                quota,
                deadline,
                options.trace_ids,
            ))
        })
        .collect();
    let mut total = Tally::default();
    for task in tasks {
        let tally = task
            .await
            .unwrap_or_else(|error| fail(error))
            .unwrap_or_else(|error| fail(error));
        total.latencies_us.extend(tally.latencies_us);
        for (status, count) in tally.statuses {
            *total.statuses.entry(status).or_default() += count;
        }
        total.trace_ids.extend(tally.trace_ids);
        total.missing_trace_ids += tally.missing_trace_ids;
    }
    let seconds = started.elapsed().as_secs_f64();
    total.latencies_us.sort_unstable();
    let unique: HashSet<&String> = total.trace_ids.iter().collect();
    let statuses: Vec<String> = total
        .statuses
        .iter()
        .map(|(status, count)| format!("\"{status}\":{count}"))
        .collect();
    println!(
        "{{\"requests\":{},\"seconds\":{seconds:.3},\"rps\":{:.1},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3},\"statuses\":{{{}}},\"trace_ids\":{},\"unique_trace_ids\":{},\"missing_trace_ids\":{}}}",
        total.latencies_us.len(),
        total.latencies_us.len() as f64 / seconds,
        percentile(&total.latencies_us, 0.5),
        percentile(&total.latencies_us, 0.99),
        percentile(&total.latencies_us, 1.0),
        statuses.join(","),
        total.trace_ids.len(),
        unique.len(),
        total.missing_trace_ids
    );
    if let Some((status, _)) = total
        .statuses
        .iter()
        .find(|(status, _)| **status != 200 && !options.allow.contains(status))
    {
        fail(format!("status {status} from {}", options.urls.join(" ")));
    }
    if options.trace_ids && (unique.len() != total.trace_ids.len() || total.missing_trace_ids > 0) {
        fail("trace ids missing or repeated");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn percentiles_are_nearest_ranks() {
        let sorted: Vec<u32> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(super::percentile(&sorted, 0.5), 50.0);
        assert_eq!(super::percentile(&sorted, 0.99), 99.0);
        assert_eq!(super::percentile(&sorted, 1.0), 100.0);
        assert_eq!(super::percentile(&[7000], 0.99), 7.0);
        assert!(super::percentile(&[], 0.5).is_nan());
    }
}
