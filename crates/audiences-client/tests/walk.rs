//! The walk overlaps with the server: the next page is requested as soon as
//! a page's `X-Next-Cursor` header arrives, before its body is read, and
//! never more than one page ahead, whose body is read while the caller
//! holds this page; the body's cursor has the last word.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use audiences_client::{AudiencesClient, NEXT_CURSOR_HEADER, RetryPolicy};
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use futures_util::{StreamExt, TryStreamExt};
use tokio::sync::Notify;

const GROUP: &str = "6650a1b2c3d4e5f601234567";
const AUDIENCE: &str = "6650a1b2c3d4e5f60123abcd";
const PAGES: usize = 4;

fn prospect(index: usize, about: Option<String>) -> serde_json::Value {
    serde_json::json!({
        "id": format!("{index:024x}"), "firstName": null, "lastName": null, "name": format!("P{index}"),
        "headline": null, "about": about, "photoUrl": null, "linkedinUrl": null, "publicIdentifier": null,
        "company": null, "title": null, "location": null, "emails": [],
        "premium": false, "isOpenProfile": false, "connectionStatus": null, "chatStatus": null
    })
}

/// A server of `PAGES` pages of one prospect each (cursor `n` is page n),
/// recording the pages asked for.
#[derive(Default)]
struct Pages {
    asked: Mutex<Vec<usize>>,
    requests: AtomicUsize,
    /// Page n's body waits until page n+1 is asked for (at most 5 s).
    hold_bodies: bool,
    arrived: Notify,
    /// The header names this cursor instead of the body's.
    wrong_header: bool,
    /// Bytes of `about` in each prospect.
    padding: usize,
    /// The pages whose whole body was handed to the connection.
    finished: Mutex<Vec<usize>>,
    /// The pages whose body was dropped unfinished (the client went away).
    abandoned: Mutex<Vec<usize>>,
}

/// Notes, when dropped, a page whose body did not finish.
struct Unfinished(Arc<Pages>, usize);

impl Drop for Unfinished {
    fn drop(&mut self) {
        let Unfinished(pages, index) = self;
        if !pages.finished.lock().unwrap().contains(index) {
            pages.abandoned.lock().unwrap().push(*index);
        }
    }
}

#[derive(serde::Deserialize)]
struct PageQuery {
    cursor: Option<usize>,
}

async fn page(State(pages): State<Arc<Pages>>, Query(query): Query<PageQuery>) -> Response {
    let index = query.cursor.unwrap_or(0);
    pages.asked.lock().unwrap().push(index);
    pages.requests.fetch_add(1, Ordering::SeqCst);
    pages.arrived.notify_waiters();
    let has_more = index + 1 < PAGES;
    let next = has_more.then(|| (index + 1).to_string());
    let body = serde_json::json!({
        "success": true,
        "data": {
            "items": [prospect(index, (pages.padding > 0).then(|| "x".repeat(pages.padding)))],
            "nextCursor": next, "hasMore": has_more,
        },
        "error": null, "traceId": "507f1f77bcf86cd799439011",
    })
    .to_string();
    let held = Arc::clone(&pages);
    let unfinished = Unfinished(Arc::clone(&pages), index);
    let stream = futures_util::stream::once(async move {
        if held.hold_bodies && has_more {
            let wanted = index + 1;
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                while !held.asked.lock().unwrap().contains(&wanted) {
                    held.arrived.notified().await;
                }
            })
            .await;
        }
        Ok::<_, std::convert::Infallible>(body)
    });
    // Asked for once every byte before it is written or buffered.
    let done = Arc::clone(&pages);
    let end = futures_util::stream::once(async move {
        let _unfinished = unfinished;
        done.finished.lock().unwrap().push(index);
        Ok(String::new())
    });
    let stream = stream.chain(end);
    let mut response = ([(CONTENT_TYPE, "application/json")], Body::from_stream(stream)).into_response();
    response
        .headers_mut()
        .insert("x-trace-id", "507f1f77bcf86cd799439011".parse().unwrap());
    if let Some(next) = next {
        let header = if pages.wrong_header { "99".to_owned() } else { next };
        response
            .headers_mut()
            .insert(NEXT_CURSOR_HEADER, header.parse().unwrap());
    }
    response
}

async fn serve(pages: Arc<Pages>) -> (AudiencesClient, audiences_server::runtime::LoopbackServer) {
    let router = axum::Router::new()
        .route(
            "/v1/accounts/{group}/audiences/{audience}/prospects",
            axum::routing::get(page),
        )
        .with_state(pages);
    let server = audiences_server::runtime::serve_loopback(router).await.unwrap();
    let client = AudiencesClient::builder(&server.base_url)
        .api_key("k")
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    (client, server)
}

fn names(items: &[audiences_client::types::AudienceProspect]) -> Vec<String> {
    items.iter().map(|prospect| prospect.name.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_page_is_asked_for_before_this_one_is_read() {
    let pages = Arc::new(Pages {
        hold_bodies: true,
        ..Pages::default()
    });
    let (client, _server) = serve(Arc::clone(&pages)).await;
    let started = std::time::Instant::now();
    let items = client
        .prospects(GROUP, AUDIENCE)
        .items()
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert_eq!(names(&items), ["P0", "P1", "P2", "P3"]);
    // Each body waited for the next request: a strictly sequential walk
    // would have waited 5 s for each.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(*pages.asked.lock().unwrap(), [0, 1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_walk_runs_at_most_one_page_ahead() {
    let pages = Arc::new(Pages::default());
    let (client, _server) = serve(Arc::clone(&pages)).await;
    let mut walk = std::pin::pin!(client.prospects(GROUP, AUDIENCE).pages());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        pages.requests.load(Ordering::SeqCst),
        0,
        "nothing before the first poll"
    );
    let first = walk.next().await.unwrap().unwrap();
    assert_eq!(names(&first.items), ["P0"]);
    // The caller holds page 0 and asks for nothing more: page 1 only is fetched.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(*pages.asked.lock().unwrap(), [0, 1]);
    let second = walk.next().await.unwrap().unwrap();
    assert_eq!(names(&second.items), ["P1"]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(*pages.asked.lock().unwrap(), [0, 1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_body_cursor_wins_over_a_header_that_disagrees() {
    let pages = Arc::new(Pages {
        wrong_header: true,
        ..Pages::default()
    });
    let (client, _server) = serve(Arc::clone(&pages)).await;
    let items = client
        .prospects(GROUP, AUDIENCE)
        .items()
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert_eq!(names(&items), ["P0", "P1", "P2", "P3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_ahead_is_read_while_the_caller_holds_this_one() {
    // Far more than the sockets' buffers hold: the server finishes writing
    // page 1 only if the client reads it.
    let pages = Arc::new(Pages {
        padding: 32 << 20,
        ..Pages::default()
    });
    let (client, _server) = serve(Arc::clone(&pages)).await;
    let mut walk = std::pin::pin!(client.prospects(GROUP, AUDIENCE).pages());
    let first = walk.next().await.unwrap().unwrap();
    assert_eq!(names(&first.items), ["P0"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !pages.finished.lock().unwrap().contains(&1) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        *pages.finished.lock().unwrap(),
        [0, 1],
        "page 1 read ahead, no further"
    );
    assert_eq!(*pages.asked.lock().unwrap(), [0, 1]);
    let second = walk.next().await.unwrap().unwrap();
    assert_eq!(second.items[0].about.as_deref().map(str::len), Some(32 << 20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_walk_given_up_aborts_the_page_it_fetched_ahead() {
    // Page 1's body waits for a request for page 2, which never comes.
    let pages = Arc::new(Pages {
        hold_bodies: true,
        ..Pages::default()
    });
    let (client, _server) = serve(Arc::clone(&pages)).await;
    let mut walk = Box::pin(client.prospects(GROUP, AUDIENCE).pages());
    let first = walk.next().await.unwrap().unwrap();
    assert_eq!(names(&first.items), ["P0"]);
    assert_eq!(*pages.asked.lock().unwrap(), [0, 1]);
    drop(walk);
    // Its connection closed, the server drops the body long before its 5 s.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while pages.abandoned.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(*pages.abandoned.lock().unwrap(), [1]);
}
