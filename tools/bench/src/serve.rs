//! `serve`: the generated router and the service, a hand-written axum
//! handler doing the same work over the same store, and the ceiling (a
//! handler answering the same first page from memory), on three ports.

use std::sync::Arc;
use std::time::Instant;

use audiences_server::runtime::{RouterLimits, TraceId};
use audiences_service::cursor::CursorCodec;
use audiences_service::demo::{self, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID};
use audiences_service::keys::{KEY_CACHE_TTL, KeyCache};
use audiences_service::limits::KeyRateLimiter;
use audiences_service::service::Service;
use audiences_service::store::{AnyStore, KeyRecord, PageOutcome};
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::common::{fail, limits, open};

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
    trace: Option<Extension<TraceId>>,
    Path((group, audience)): Path<(String, String)>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    // The service's trace layer (around both routers) made one, and sends
    // it as `X-Trace-Id`.
    let trace_id = trace.map_or_else(TraceId::generate, |Extension(trace_id)| trace_id);
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
    let mut body = Vec::with_capacity(items.as_bytes().len() + 256);
    body.extend_from_slice(b"{\"success\":true,\"data\":{\"items\":");
    body.extend_from_slice(items.as_bytes());
    body.extend_from_slice(b",\"nextCursor\":");
    body.extend_from_slice(serde_json::to_string(&next_cursor).unwrap_or_default().as_bytes());
    body.extend_from_slice(if next_cursor.is_some() {
        b",\"hasMore\":true},\"error\":null,\"traceId\":\""
    } else {
        b",\"hasMore\":false},\"error\":null,\"traceId\":\""
    });
    body.extend_from_slice(trace_id.as_str().as_bytes());
    body.extend_from_slice(b"\"}");
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("x-ratelimit-limit", header_value(rate.limit));
    headers.insert("x-ratelimit-remaining", header_value(rate.remaining));
    headers.insert("x-ratelimit-reset", header_value(rate.reset_seconds));
    if let Some(cursor) = &next_cursor {
        headers.insert("x-next-cursor", header_value(cursor));
    }
    response
}

pub(crate) async fn serve(url: &str, generated_port: &str, handwritten_port: &str, ceiling_port: &str) {
    let store = open(url).await;
    let secret = demo::cursor_secret(&store)
        .await
        .unwrap_or_else(|error| fail(error));
    // As deployed: on PostgreSQL, each key's bucket is in the database
    // (shared by every instance), taken in the page's statement.
    let service = Arc::new(
        Service::new(store.clone(), CursorCodec::new(secret.clone()), limits()).with_shared_rate_limits(true),
    );
    let generated = audiences_service::app(Arc::clone(&service), RouterLimits::default(), None);
    let baseline = Arc::new(Baseline {
        store,
        keys: KeyCache::new(KEY_CACHE_TTL),
        limiter: KeyRateLimiter::new(limits()),
        cursors: CursorCodec::new(secret),
    });
    let route = "/v1/accounts/{group}/audiences/{audience}/prospects";
    // Everything around the operation's router is the service's own (its
    // other routes, the runtime's layers, gzip): the two differ only by
    // the router that answers the page.
    let handwritten_app = audiences_service::app_around(
        axum::Router::new()
            .route(route, axum::routing::get(handwritten))
            .with_state(Arc::clone(&baseline)),
        Arc::clone(&service),
        RouterLimits::default(),
        None,
    );
    // The ceiling: the first page of 25, as the service answers it, served
    // from memory by the same HTTP stack.
    let first_page = handwritten(
        State(baseline),
        None,
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
