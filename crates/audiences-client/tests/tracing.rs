//! The client's `tracing` span, alone in its test binary: tracing caches
//! which callsites are enabled process-wide, so a subscriber set for one
//! thread only is reliable only when no other test logs concurrently.

use std::sync::{Arc, Mutex};

use audiences_client::{AudiencesClient, RetryPolicy};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::json;

const GROUP: &str = "6650a1b2c3d4e5f601234567";
const AUDIENCE: &str = "6650a1b2c3d4e5f60123abcd";

async fn scripted(State(calls): State<Arc<Mutex<u32>>>) -> Response {
    let call = {
        let mut calls = calls.lock().unwrap();
        *calls += 1;
        *calls
    };
    if call == 1 {
        let body = json!({"success": false, "data": null, "traceId": "ffffffffffffffffffffffff",
            "error": {"code": "UPSTREAM_ERROR", "message": "scripted", "details": null}});
        return (axum::http::StatusCode::BAD_GATEWAY, axum::Json(body)).into_response();
    }
    let body = json!({"success": true, "error": null, "traceId": "0123456789abcdef01234567",
        "data": {"items": [], "nextCursor": null, "hasMore": false}});
    ([("x-trace-id", "0123456789abcdef01234567")], axum::Json(body)).into_response()
}

/// The log lines of `work`, as the fmt subscriber writes them.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn each_request_has_a_span_with_method_path_status_attempt_and_trace_id() {
    let app = axum::Router::new()
        .fallback(scripted)
        .with_state(Arc::new(Mutex::new(0)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let policy = RetryPolicy {
        initial_backoff: std::time::Duration::from_millis(5),
        jitter: false,
        ..RetryPolicy::default()
    };
    AudiencesClient::builder(&base)
        .api_key("any")
        .retry(policy)
        .build()
        .unwrap()
        .list_prospects(GROUP, AUDIENCE, None, None)
        .await
        .unwrap();
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // The client's own event, once the answer is in.
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("audiences.http") && line.trim_end().ends_with(": response"))
        .collect();
    assert!(lines.len() >= 2, "{text}");
    let path = format!("/v1/accounts/{GROUP}/audiences/{AUDIENCE}/prospects");
    assert!(
        lines
            .iter()
            .any(|line| line.contains("attempt=1") && line.contains("status=502")),
        "{text}"
    );
    let last = lines
        .iter()
        .find(|line| line.contains("attempt=2"))
        .expect("a second attempt");
    for field in [
        "method=GET",
        &format!("path={path}"),
        "status=200",
        "trace_id=0123456789abcdef01234567",
        "traceparent=00-",
    ] {
        assert!(last.contains(field), "`{field}` in {last}");
    }
}
