//! The client against a scripted server on loopback: what it sends, how it
//! retries (with short real sleeps), what its errors carry, and how it pages.

mod scripted;

use std::time::Duration;

use audiences_client::{AudiencesClient, Error, ErrorCode, RetryPolicy};
use futures_util::TryStreamExt;
use serde_json::json;

use scripted::*;

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
