//! The client against a scripted server on loopback: what it sends, how it
//! retries (with short real sleeps), what its errors carry, and how it pages.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audiences_client::{AudiencesClient, Error, ErrorCode, RetryPolicy};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::{StreamExt, TryStreamExt};
use serde_json::json;

const GROUP: &str = "6650a1b2c3d4e5f601234567";
const AUDIENCE: &str = "6650a1b2c3d4e5f60123abcd";

/// One scripted answer.
#[derive(Clone)]
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: serde_json::Value,
    delay: Duration,
}

fn page(ids: std::ops::Range<u32>, next: Option<&str>) -> Answer {
    Answer {
        status: 200,
        headers: vec![],
        body: json!({
            "success": true,
            "data": {
                "items": ids.map(prospect).collect::<Vec<_>>(),
                "nextCursor": next,
                "hasMore": next.is_some(),
            },
            "error": null,
            "traceId": "aaaaaaaaaaaaaaaaaaaaaaaa",
        }),
        delay: Duration::ZERO,
    }
}

fn failure(status: u16, code: &str, retry_after: Option<u64>) -> Answer {
    Answer {
        status,
        headers: retry_after
            .map(|seconds| vec![("retry-after", seconds.to_string())])
            .unwrap_or_default(),
        body: json!({
            "success": false,
            "data": null,
            "error": { "code": code, "message": format!("scripted {code}"), "details": null },
            "traceId": format!("{status:0>24}"),
        }),
        delay: Duration::ZERO,
    }
}

fn prospect(index: u32) -> serde_json::Value {
    json!({
        "id": format!("{index:024x}"),
        "firstName": null, "lastName": null, "name": format!("Prospect {index}"),
        "headline": null, "about": null, "photoUrl": null, "linkedinUrl": null,
        "publicIdentifier": null, "company": null, "title": null, "location": null,
        "emails": [], "premium": false, "isOpenProfile": false,
        "connectionStatus": null, "chatStatus": null
    })
}

/// What the server saw of each request.
#[derive(Debug, Clone)]
struct Seen {
    query: String,
    authorization: Option<String>,
    user_agent: Option<String>,
    traceparent: Option<String>,
    accept_encoding: Option<String>,
}

#[derive(Clone, Default)]
struct Script {
    answers: Arc<Mutex<VecDeque<Answer>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

fn seen(request: &Request) -> Seen {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
    };
    Seen {
        query: request.uri().query().unwrap_or_default().to_owned(),
        authorization: header("authorization"),
        user_agent: header("user-agent"),
        traceparent: header("traceparent"),
        accept_encoding: header("accept-encoding"),
    }
}

async fn answer(State(script): State<Script>, request: Request) -> Response {
    let seen = seen(&request);
    drop(request);
    script.seen.lock().unwrap().push(seen);
    let next = script.answers.lock().unwrap().pop_front();
    let Some(next) = next else {
        return (StatusCode::IM_A_TEAPOT, "script exhausted").into_response();
    };
    tokio::time::sleep(next.delay).await;
    let mut response = (StatusCode::from_u16(next.status).unwrap(), axum::Json(next.body)).into_response();
    for (name, value) in next.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

async fn serve(answers: Vec<Answer>) -> (String, Script) {
    let script = Script::default();
    script.answers.lock().unwrap().extend(answers);
    let app = axum::Router::new().fallback(answer).with_state(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, script)
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        jitter: true,
        ..RetryPolicy::default()
    }
}

fn client(base: &str, policy: RetryPolicy) -> AudiencesClient {
    AudiencesClient::builder(base)
        .api_key("ak_secret_value")
        .retry(policy)
        .build()
        .unwrap()
}

#[tokio::test]
async fn sends_the_key_as_bearer_and_never_shows_it() {
    let (base, script) = serve(vec![page(0..2, None)]).await;
    let client = AudiencesClient::builder(&base)
        .api_key("ak_secret_value")
        .user_agent("my-app/1.2")
        .build()
        .unwrap();
    let page = client
        .list_prospects(GROUP, AUDIENCE, Some(2), None)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.next_cursor, None);
    let seen = script.seen.lock().unwrap()[0].clone();
    assert_eq!(seen.authorization.as_deref(), Some("Bearer ak_secret_value"));
    assert_eq!(seen.user_agent.as_deref(), Some("my-app/1.2"));
    assert_eq!(seen.query, "limit=2");
    let traceparent = seen.traceparent.expect("a W3C traceparent is sent");
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!((parts[0], parts[3]), ("00", "01"), "{traceparent}");
    assert!(parts[1].len() == 32 && parts[2].len() == 16, "{traceparent}");
    assert!(
        traceparent.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()),
        "{traceparent}"
    );
    let debug = format!(
        "{client:?} {:?}",
        AudiencesClient::builder(&base).api_key("ak_secret_value")
    );
    assert!(!debug.contains("ak_secret_value"), "{debug}");
    assert!(debug.contains("<redacted>"), "{debug}");
}

#[tokio::test]
async fn transient_failures_are_retried_until_success() {
    let (base, script) = serve(vec![
        failure(429, "RATE_LIMITED", Some(0)),
        failure(502, "UPSTREAM_ERROR", None),
        failure(503, "UNAVAILABLE", None),
        page(0..1, None),
    ])
    .await;
    let page = client(&base, fast_retries())
        .list_prospects(GROUP, AUDIENCE, None, None)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(script.seen.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn retries_are_bounded() {
    let answers = (0..10).map(|_| failure(502, "UPSTREAM_ERROR", None)).collect();
    let (base, script) = serve(answers).await;
    let error = client(&base, fast_retries())
        .list_prospects(GROUP, AUDIENCE, None, None)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(&ErrorCode::UpstreamError));
    assert_eq!(
        script.seen.lock().unwrap().len(),
        4,
        "one attempt and three retries"
    );
}

#[tokio::test]
async fn client_errors_are_not_retried_and_are_typed() {
    for (status, code, expected) in [
        (400, "VALIDATION_ERROR", ErrorCode::ValidationError),
        (401, "UNAUTHORIZED", ErrorCode::Unauthorized),
        (403, "FORBIDDEN", ErrorCode::Forbidden),
        (404, "NOT_FOUND", ErrorCode::NotFound),
        (409, "AUDIENCE_NOT_READY", ErrorCode::AudienceNotReady),
        (500, "INTERNAL_ERROR", ErrorCode::InternalError),
    ] {
        let (base, script) = serve(vec![failure(status, code, Some(1)), page(0..1, None)]).await;
        let error = client(&base, fast_retries())
            .list_prospects(GROUP, AUDIENCE, None, None)
            .await
            .unwrap_err();
        assert_eq!(script.seen.lock().unwrap().len(), 1, "{status} is not retried");
        let api = error.api().unwrap();
        assert_eq!((api.status, &api.code), (status, &expected));
        assert_eq!(api.message, format!("scripted {code}"));
        assert_eq!(error.trace_id(), Some(format!("{status:0>24}").as_str()));
        assert_eq!(error.retry_after(), Some(Duration::from_secs(1)));
        let text = error.to_string();
        assert!(
            text.contains(code) && text.contains(&format!("trace id {status:0>24}")),
            "{text}"
        );
    }
}

#[tokio::test]
async fn codes_added_later_arrive_as_other() {
    let (base, _) = serve(vec![failure(402, "QUOTA_EXCEEDED", None)]).await;
    let error = client(&base, fast_retries())
        .list_prospects(GROUP, AUDIENCE, None, None)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(&ErrorCode::Other("QUOTA_EXCEEDED".into())));
    assert_eq!(error.status(), Some(402));
}

#[tokio::test]
async fn a_retry_after_past_the_cap_is_returned_at_once() {
    let (base, script) = serve(vec![failure(429, "RATE_LIMITED", Some(3_600)), page(0..1, None)]).await;
    let started = Instant::now();
    let error = client(&base, fast_retries())
        .list_prospects(GROUP, AUDIENCE, None, None)
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(error.retry_after(), Some(Duration::from_secs(3_600)));
    assert_eq!(script.seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn waiting_until_ready_follows_retry_after_until_the_deadline() {
    let (base, script) = serve(vec![
        failure(409, "AUDIENCE_NOT_READY", Some(0)),
        failure(409, "AUDIENCE_NOT_READY", Some(0)),
        page(0..3, None),
    ])
    .await;
    let waiting = fast_retries().wait_until_ready(Duration::from_secs(5));
    let ready = client(&base, waiting)
        .list_prospects(GROUP, AUDIENCE, None, None)
        .await
        .unwrap();
    assert_eq!(ready.items.len(), 3);
    assert_eq!(script.seen.lock().unwrap().len(), 3);

    let (base, script) = serve(vec![
        failure(409, "AUDIENCE_NOT_READY", Some(30)),
        page(0..3, None),
    ])
    .await;
    let waiting = fast_retries().wait_until_ready(Duration::from_secs(2));
    let error = client(&base, waiting)
        .list_prospects(GROUP, AUDIENCE, None, None)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(&ErrorCode::AudienceNotReady));
    assert_eq!(
        script.seen.lock().unwrap().len(),
        1,
        "30 s is past the 2 s deadline"
    );
}

#[tokio::test]
async fn connection_failures_are_transport_errors_and_retried() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let error = client(&format!("http://127.0.0.1:{port}"), fast_retries())
        .list_prospects(GROUP, AUDIENCE, None, None)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Transport(_)), "{error:?}");
    assert!(error.is_transient());
    assert!(error.to_string().starts_with("cannot reach the API"), "{error}");
    // Three backoffs of at least 5 ms each were slept.
    assert!(started.elapsed() >= Duration::from_millis(15));
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout() {
    let mut slow = page(0..1, None);
    slow.delay = Duration::from_secs(3);
    let (base, _) = serve(vec![slow]).await;
    let client = AudiencesClient::builder(&base)
        .api_key("k")
        .timeout(Duration::from_millis(200))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let started = Instant::now();
    let error = client
        .list_prospects(GROUP, AUDIENCE, None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Transport(inner) if inner.is_timeout()),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// gzip is asked for off loopback, not on it, and as the builder says.
#[tokio::test]
async fn gzip_is_asked_for_as_the_builder_says_and_by_default_not_on_loopback() {
    let (base, script) = serve(vec![page(0..1, None), page(0..1, None), page(0..1, None)]).await;
    let asks = |seen: &Seen| {
        seen.accept_encoding
            .as_deref()
            .is_some_and(|value| value.contains("gzip"))
    };
    client(&base, fast_retries())
        .list_prospects(GROUP, AUDIENCE, None, None)
        .await
        .unwrap();
    let localhost = base.replace("127.0.0.1", "localhost");
    for (base, on) in [(&base, true), (&localhost, false)] {
        AudiencesClient::builder(base)
            .api_key("k")
            .compression(on)
            .build()
            .unwrap()
            .list_prospects(GROUP, AUDIENCE, None, None)
            .await
            .unwrap();
    }
    let seen = script.seen.lock().unwrap().clone();
    let asked: Vec<bool> = seen.iter().map(asks).collect();
    assert_eq!(asked, [false, true, false], "{seen:?}");
}

#[tokio::test]
async fn the_default_user_agent_names_the_crate_and_version_and_each_request_its_own_trace() {
    let (base, script) = serve(vec![page(0..1, None), page(0..1, None)]).await;
    let client = client(&base, fast_retries());
    client.list_prospects(GROUP, AUDIENCE, None, None).await.unwrap();
    client.list_prospects(GROUP, AUDIENCE, None, None).await.unwrap();
    let seen = script.seen.lock().unwrap().clone();
    assert_eq!(
        seen[0].user_agent.as_deref(),
        Some(concat!("audiences-client/", env!("CARGO_PKG_VERSION")))
    );
    assert_ne!(
        seen[0].traceparent, seen[1].traceparent,
        "a new trace context per request"
    );
}

#[tokio::test]
async fn a_walk_asks_for_the_largest_page_the_document_allows() {
    let (base, script) = serve(vec![page(0..3, None)]).await;
    let ids: Vec<_> = client(&base, fast_retries())
        .prospects(GROUP, AUDIENCE)
        .items()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ids.len(), 3);
    let maximum = audiences_client::parameters::LIST_AUDIENCE_PROSPECTS_LIMIT_MAXIMUM;
    assert_eq!(maximum, 100, "the document's maximum");
    assert_eq!(script.seen.lock().unwrap()[0].query, format!("limit={maximum}"));
}

#[tokio::test]
async fn the_retry_observer_hears_of_each_wait_before_it_starts() {
    let (base, _) = serve(vec![
        failure(429, "RATE_LIMITED", Some(0)),
        failure(502, "UPSTREAM_ERROR", None),
        page(0..1, None),
    ])
    .await;
    let heard = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&heard);
    let client = client(&base, fast_retries())
        .on_retry(move |error, wait| record.lock().unwrap().push((error.status(), wait)));
    client.list_prospects(GROUP, AUDIENCE, None, None).await.unwrap();
    let heard = heard.lock().unwrap().clone();
    let statuses: Vec<Option<u16>> = heard.iter().map(|(status, _)| *status).collect();
    assert_eq!(statuses, [Some(429), Some(502)]);
    assert!(
        heard.iter().all(|(_, wait)| *wait <= Duration::from_millis(20)),
        "{heard:?}"
    );
}

#[tokio::test]
async fn the_stream_follows_cursors_to_the_last_page() {
    let (base, script) = serve(vec![
        page(0..3, Some("c1")),
        page(3..6, Some("c2")),
        page(6..7, None),
    ])
    .await;
    let ids: Vec<String> = client(&base, fast_retries())
        .prospects(GROUP, AUDIENCE)
        .page_size(3)
        .items()
        .map_ok(|prospect| prospect.id)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        ids,
        (0..7).map(|index| format!("{index:024x}")).collect::<Vec<_>>()
    );
    let queries: Vec<String> = script
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|seen| seen.query.clone())
        .collect();
    assert_eq!(queries, ["limit=3", "cursor=c1&limit=3", "cursor=c2&limit=3"]);
}

#[tokio::test]
async fn the_stream_ends_after_an_error_and_retries_each_page() {
    let (base, script) = serve(vec![
        page(0..2, Some("c1")),
        failure(502, "UPSTREAM_ERROR", None),
        page(2..4, Some("c2")),
        failure(404, "NOT_FOUND", None),
        page(4..5, None),
    ])
    .await;
    let results: Vec<Result<usize, Error>> = client(&base, fast_retries())
        .prospects(GROUP, AUDIENCE)
        .pages()
        .map(|page| page.map(|page| page.items.len()))
        .collect()
        .await;
    assert_eq!(results.len(), 3, "two pages, then the 404, then nothing");
    assert_eq!(results[0].as_ref().unwrap(), &2);
    assert_eq!(results[1].as_ref().unwrap(), &2, "the 502 was retried");
    assert_eq!(
        results[2].as_ref().unwrap_err().code(),
        Some(&ErrorCode::NotFound)
    );
    assert_eq!(script.seen.lock().unwrap().len(), 4);
}

#[test]
fn builder_refuses_what_cannot_work() {
    let missing = AudiencesClient::builder("http://127.0.0.1:1")
        .build()
        .unwrap_err();
    assert_eq!(missing.to_string(), "no API key: pass one to the builder");
    let url = AudiencesClient::builder("127.0.0.1:8080")
        .api_key("k")
        .build()
        .unwrap_err();
    assert!(
        url.to_string().contains("not an http:// or https:// URL"),
        "{url}"
    );
    let key = AudiencesClient::builder("http://x")
        .api_key("a\nb")
        .build()
        .unwrap_err();
    assert!(matches!(key, audiences_client::BuildError::InvalidApiKey));
}

#[tokio::test]
async fn a_429_with_retry_after_1_is_retried_after_about_a_second() {
    let (base, script) = serve(vec![failure(429, "RATE_LIMITED", Some(1)), page(0..2, None)]).await;
    let started = Instant::now();
    let page = client(&base, fast_retries())
        .list_prospects(GROUP, AUDIENCE, None, None)
        .await
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(page.items.len(), 2);
    assert_eq!(script.seen.lock().unwrap().len(), 2);
    assert!(
        waited >= Duration::from_millis(950) && waited < Duration::from_secs(3),
        "waited {waited:?}"
    );
}

#[tokio::test]
async fn not_ready_succeeds_under_wait_until_ready_once_the_audience_is_ready() {
    let (base, script) = serve(vec![
        failure(409, "AUDIENCE_NOT_READY", Some(1)),
        failure(409, "AUDIENCE_NOT_READY", Some(1)),
        page(0..4, None),
    ])
    .await;
    let started = Instant::now();
    let ready = client(
        &base,
        RetryPolicy::default().wait_until_ready(Duration::from_secs(10)),
    )
    .list_prospects(GROUP, AUDIENCE, None, None)
    .await
    .unwrap();
    assert_eq!(ready.items.len(), 4);
    assert_eq!(script.seen.lock().unwrap().len(), 3);
    assert!(
        started.elapsed() >= Duration::from_millis(1_900),
        "{:?}",
        started.elapsed()
    );
    // By default the same 409 fails at once.
    let (base, script) = serve(vec![
        failure(409, "AUDIENCE_NOT_READY", Some(1)),
        page(0..4, None),
    ])
    .await;
    let started = Instant::now();
    let error = client(&base, RetryPolicy::default())
        .list_prospects(GROUP, AUDIENCE, None, None)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(&ErrorCode::AudienceNotReady));
    assert_eq!(script.seen.lock().unwrap().len(), 1);
    assert!(started.elapsed() < Duration::from_millis(500));
}

/// A server answering every request with `body` as JSON, status 200.
async fn serve_bytes(body: Vec<u8>) -> audiences_server::runtime::LoopbackServer {
    let app = axum::Router::new().fallback(move || {
        let body = body.clone();
        async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], body) }
    });
    audiences_server::runtime::serve_loopback(app).await.unwrap()
}

#[tokio::test]
async fn bodies_are_decoded_as_utf8_and_refused_when_they_are_not() {
    let mut prospect = prospect(1);
    prospect["name"] = json!("García \u{1F600}");
    let body = json!({
        "success": true,
        "data": { "items": [prospect], "nextCursor": null, "hasMore": false },
        "error": null, "traceId": "aaaaaaaaaaaaaaaaaaaaaaaa",
    })
    .to_string();
    // The same name escaped, as a server may also write it.
    let escaped = body.replace("García \u{1F600}", "Garc\\u00eda \\ud83d\\ude00");
    for text in [&body, &escaped] {
        let server = serve_bytes(text.clone().into_bytes()).await;
        let page = client(&server.base_url, RetryPolicy::none())
            .list_prospects(GROUP, AUDIENCE, None, None)
            .await
            .unwrap();
        assert_eq!(page.items[0].name, "García \u{1F600}");
    }
    // One byte that is not UTF-8, inside a string.
    let mut bytes = body.replace("García", "Garc\0a").into_bytes();
    let at = bytes.iter().position(|&byte| byte == 0).unwrap();
    bytes[at] = 0xFF;
    let server = serve_bytes(bytes).await;
    let error = client(&server.base_url, RetryPolicy::none())
        .list_prospects(GROUP, AUDIENCE, None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::InvalidResponse { message, .. } if message.contains("invalid unicode")),
        "{error:?}"
    );
}
