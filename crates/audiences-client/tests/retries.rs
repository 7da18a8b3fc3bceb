//! The client's retries: which failures are retried, how long it waits
//! (`Retry-After`, backoff, the cap), what the observer hears, and waiting
//! until an audience is ready.

mod scripted;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audiences_client::{AudiencesClient, Error, ErrorCode, RetryPolicy};
use futures_util::StreamExt;

use scripted::*;

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
