//! A scripted server for the client's tests: it answers each request with
//! the next answer of a script and records what it saw.

#![allow(
    dead_code,
    unused_imports,
    reason = "each test file uses part of the shared server"
)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audiences_client::{AudiencesClient, Error, ErrorCode, RetryPolicy};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::{StreamExt, TryStreamExt};
use serde_json::json;

pub(crate) const GROUP: &str = "6650a1b2c3d4e5f601234567";
pub(crate) const AUDIENCE: &str = "6650a1b2c3d4e5f60123abcd";

/// One scripted answer.
#[derive(Clone)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: serde_json::Value,
    pub(crate) delay: Duration,
}

pub(crate) fn page(ids: std::ops::Range<u32>, next: Option<&str>) -> Answer {
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

pub(crate) fn failure(status: u16, code: &str, retry_after: Option<u64>) -> Answer {
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

pub(crate) fn prospect(index: u32) -> serde_json::Value {
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
pub(crate) struct Seen {
    pub(crate) query: String,
    pub(crate) authorization: Option<String>,
    pub(crate) user_agent: Option<String>,
    pub(crate) traceparent: Option<String>,
    pub(crate) accept_encoding: Option<String>,
}

#[derive(Clone, Default)]
pub(crate) struct Script {
    pub(crate) answers: Arc<Mutex<VecDeque<Answer>>>,
    pub(crate) seen: Arc<Mutex<Vec<Seen>>>,
}

pub(crate) fn seen(request: &Request) -> Seen {
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

pub(crate) async fn answer(State(script): State<Script>, request: Request) -> Response {
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

pub(crate) async fn serve(answers: Vec<Answer>) -> (String, Script) {
    let script = Script::default();
    script.answers.lock().unwrap().extend(answers);
    let app = axum::Router::new().fallback(answer).with_state(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, script)
}

pub(crate) fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        jitter: true,
        ..RetryPolicy::default()
    }
}

pub(crate) fn client(base: &str, policy: RetryPolicy) -> AudiencesClient {
    AudiencesClient::builder(base)
        .api_key("ak_secret_value")
        .retry(policy)
        .build()
        .unwrap()
}
