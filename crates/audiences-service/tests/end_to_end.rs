//! The reference service on SQLite, driven through the generated client over
//! a real socket: pages, cursors, and the documented failures for their
//! real causes.

use std::collections::HashSet;
use std::sync::Arc;

use audiences_client::Client;
use audiences_service::cursor::CursorCodec;
use audiences_service::demo::{self, ACCOUNT_GROUP_ID, POPULATING_AUDIENCE_ID, READY_AUDIENCE_ID};
use audiences_service::service::Service;
use audiences_service::store::SqliteStore;

struct Running {
    base: String,
    key: String,
    forbidden_key: String,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start() -> Running {
    let dir = std::env::temp_dir().join(format!("audiences-e2e-{}-{}", std::process::id(), demo_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("test.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    let keys = demo::seed(store.pool(), None)
        .await
        .unwrap()
        .expect("a new database is seeded");
    let secret = demo::cursor_secret(store.pool()).await.unwrap();
    let service = Arc::new(Service::new(store, CursorCodec::new(secret)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, audiences_service::app(service)).await });
    Running {
        base,
        key: keys.full,
        forbidden_key: keys.without_prospects,
        _dir: TempDir(dir),
    }
}

fn demo_suffix() -> u64 {
    rand::random()
}

fn client(base: &str, key: Option<&str>) -> Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(key) = key {
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {key}").parse().unwrap(),
        );
    }
    Client::new_with_client(
        base,
        reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .unwrap(),
    )
}

async fn status_of(
    client: &Client,
    group: &str,
    audience: &str,
    cursor: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut request = client
        .list_audience_prospects()
        .account_group_id(group)
        .audience_id(audience);
    if let Some(cursor) = cursor {
        request = request.cursor(cursor);
    }
    match request.send().await {
        Ok(page) => (
            page.status().as_u16(),
            serde_json::to_value(page.into_inner()).unwrap(),
        ),
        Err(audiences_client::Error::ErrorResponse(error)) => (
            error.status().as_u16(),
            serde_json::to_value(error.into_inner()).unwrap(),
        ),
        Err(other) => panic!("unexpected client error: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_pages_through_the_whole_demo_audience_exactly_once() {
    let running = start().await;
    let client = client(&running.base, Some(&running.key));
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut request = client
            .list_audience_prospects()
            .account_group_id(ACCOUNT_GROUP_ID)
            .audience_id(READY_AUDIENCE_ID)
            .limit(100);
        if let Some(cursor) = &cursor {
            request = request.cursor(cursor.clone());
        }
        let page = request.send().await.unwrap().into_inner();
        assert!(page.success);
        pages += 1;
        for prospect in &page.data.items {
            assert!(seen.insert(prospect.id.clone()), "{} twice", prospect.id);
        }
        assert_eq!(page.data.has_more, page.data.next_cursor.is_some());
        match page.data.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), demo::READY_AUDIENCE_SIZE as usize);
    assert_eq!(pages, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_failure_has_its_real_cause() {
    let running = start().await;
    let good = client(&running.base, Some(&running.key));

    let (status, body) = status_of(&good, ACCOUNT_GROUP_ID, POPULATING_AUDIENCE_ID, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("AUDIENCE_NOT_READY"))
    );

    let (status, _) = status_of(&good, ACCOUNT_GROUP_ID, "6650a1b2c3d4e5f60123ffff", None).await;
    assert_eq!(status, 404, "unknown audience");
    let (status, body) = status_of(&good, "6650a1b2c3d4e5f60123ffff", READY_AUDIENCE_ID, None).await;
    assert_eq!(status, 404, "another account group answers as missing: {body}");

    let (status, body) = status_of(&good, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, Some("garbage")).await;
    assert_eq!((status, body["error"]["details"].as_str()), (400, Some("cursor")));

    let first = good
        .list_audience_prospects()
        .account_group_id(ACCOUNT_GROUP_ID)
        .audience_id(READY_AUDIENCE_ID)
        .limit(1)
        .send()
        .await
        .unwrap()
        .into_inner();
    let cursor = first.data.next_cursor.unwrap();
    let mut tampered = cursor.clone().into_bytes();
    tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let (status, body) = status_of(&good, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, Some(&tampered)).await;
    assert_eq!(status, 400, "a tampered cursor: {body}");
    let (status, body) = status_of(&good, ACCOUNT_GROUP_ID, POPULATING_AUDIENCE_ID, Some(&cursor)).await;
    assert_eq!(status, 409, "the audience state is checked first: {body}");

    let (status, _) = status_of(
        &client(&running.base, None),
        ACCOUNT_GROUP_ID,
        READY_AUDIENCE_ID,
        None,
    )
    .await;
    assert_eq!(status, 401, "no key");
    let (status, _) = status_of(
        &client(&running.base, Some("ak_unknown")),
        ACCOUNT_GROUP_ID,
        READY_AUDIENCE_ID,
        None,
    )
    .await;
    assert_eq!(status, 401, "unknown key");
    let (status, body) = status_of(
        &client(&running.base, Some(&running.forbidden_key)),
        ACCOUNT_GROUP_ID,
        READY_AUDIENCE_ID,
        None,
    )
    .await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("FORBIDDEN")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_endpoints_answer_with_trace_ids() {
    let running = start().await;
    let http = reqwest::Client::new();
    for path in ["/healthz", "/readyz", "/openapi.json", "/openapi.yaml"] {
        let response = http.get(format!("{}{path}", running.base)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert!(response.headers().contains_key("x-trace-id"), "{path}");
    }
    let document: serde_json::Value = http
        .get(format!("{}/openapi.json", running.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(document["openapi"], "3.0.3");
}
