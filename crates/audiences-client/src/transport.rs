//! The transport under the generated client: what every request does
//! besides progenitor's work — a W3C `traceparent` (so a request can be
//! followed from the caller's trace into the server's logs) and a `tracing`
//! span with the method, path, status and the server's trace id — and the
//! page fetched ahead during a walk.
//!
//! During a walk ([`crate::walk`]), as soon as a page's headers arrive and
//! name the next cursor (`X-Next-Cursor`, sent before the body), the request
//! for the next page is sent, and its body read, on another task, while
//! this page is read, parsed and handed to the caller. The page fetched
//! ahead is parsed on the caller's task when the caller asks for it: so at
//! most one page is ahead, as raw bytes (memory stays flat however large
//! the audience), a page's values are allocated and freed on one thread,
//! and the server prepares page n+1 while the caller parses page n. A
//! server that does not send the header is walked the same way, each
//! request starting when the caller asks for the page. The body's cursor
//! has the last word: a page fetched ahead for a cursor the body does not
//! name is dropped, its request aborted.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::header::{CONTENT_ENCODING, CONTENT_LENGTH, HeaderValue};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::Instrument;

/// The response header carrying the next page's cursor (declared on the
/// 200 of `listAudienceProspects`; a test checks the document).
pub const NEXT_CURSOR_HEADER: &str = "x-next-cursor";

tokio::task_local! {
    /// The walk whose page this task is fetching: where the request hook
    /// finds the page fetched ahead, and leaves the next one.
    static PAGE_AHEAD: PageAhead;
}

/// A new W3C trace context: version 00, a random trace id and parent id,
/// sampled.
pub(crate) fn traceparent() -> String {
    format!(
        "00-{}-{}-01",
        hex::encode(rand::random::<[u8; 16]>()),
        hex::encode(rand::random::<[u8; 8]>())
    )
}

// An implementation for `Client` takes precedence over the generated one for
// `&Client` (progenitor's auto-ref specialization).
impl ClientHooks<()> for crate::Client {
    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        match PAGE_AHEAD.try_with(Clone::clone) {
            Ok(walk) => walk.exec(self.client(), request, info).await,
            Err(_) => send(self.client(), request, info).await,
        }
    }
}

/// Sends `request` with a new `traceparent`, in a span that records the
/// status and the server's trace id.
async fn send(
    http: &reqwest::Client,
    mut request: reqwest::Request,
    info: &OperationInfo,
) -> reqwest::Result<reqwest::Response> {
    let traceparent = traceparent();
    if let Ok(value) = HeaderValue::from_str(&traceparent) {
        request.headers_mut().insert("traceparent", value);
    }
    let span = tracing::info_span!(
        "audiences.http",
        operation = info.operation_id,
        method = %request.method(),
        path = %request.url().path(),
        traceparent = %traceparent,
        status = tracing::field::Empty,
        trace_id = tracing::field::Empty,
    );
    let result = http.execute(request).instrument(span.clone()).await;
    match &result {
        Ok(response) => {
            span.record("status", response.status().as_u16());
            if let Some(trace_id) = response
                .headers()
                .get("x-trace-id")
                .and_then(|value| value.to_str().ok())
            {
                span.record("trace_id", tracing::field::display(trace_id));
            }
            span.in_scope(|| tracing::debug!("response"));
        }
        Err(error) => span.in_scope(|| tracing::debug!(%error, "no response")),
    }
    result
}

/// A task's handle that aborts the task when dropped (a walk given up, or a
/// page fetched ahead for a cursor the body did not name, leaves nothing
/// running).
struct Abort<T>(JoinHandle<T>);

impl<T> Drop for Abort<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A page requested ahead: the request, the cursor its headers name, and
/// the task reading its body.
struct Ahead {
    url: reqwest::Url,
    next: oneshot::Receiver<String>,
    response: Abort<reqwest::Result<reqwest::Response>>,
}

/// One walk's state across its pages: which query parameter carries the
/// cursor, and the page fetched ahead, if any.
#[derive(Clone)]
pub(crate) struct PageAhead {
    cursor_parameter: &'static str,
    ahead: Arc<Mutex<Option<Ahead>>>,
}

impl PageAhead {
    /// A walk whose requests carry their cursor in `cursor_parameter`.
    pub(crate) fn new(cursor_parameter: &'static str) -> Self {
        Self {
            cursor_parameter,
            ahead: Arc::default(),
        }
    }

    /// Runs `fetch` (one page's request through the generated client) as a
    /// request of this walk: the request hook answers it from the page
    /// fetched ahead, and sends the next one ahead.
    pub(crate) async fn scope<F: std::future::Future>(&self, fetch: F) -> F::Output {
        PAGE_AHEAD.scope(self.clone(), fetch).await
    }

    /// Drops the page fetched ahead (its request aborted): the body named no
    /// further cursor after all.
    pub(crate) fn discard(&self) {
        self.ahead().take();
    }

    fn ahead(&self) -> MutexGuard<'_, Option<Ahead>> {
        self.ahead.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The request hook's part in a walk: answers `request` with the page
    /// fetched ahead when it is that request, or sends it; either way, once
    /// its headers name the next cursor, sends the request for the next
    /// page ahead.
    async fn exec(
        &self,
        http: &reqwest::Client,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let template = request.try_clone();
        let ahead = self.ahead().take();
        let Some(mut ahead) = ahead.filter(|ahead| same_request(&ahead.url, request.url())) else {
            let response = send(http, request, info).await?;
            if let Some(next) = next_cursor(&response) {
                self.send_ahead(http, template, next, info.operation_id);
            }
            return Ok(response);
        };
        // The head comes first; the body may wait for the next request.
        if let Ok(next) = (&mut ahead.next).await {
            self.send_ahead(http, template, next, info.operation_id);
        }
        match (&mut ahead.response.0).await {
            Ok(response) => response,
            // The task panicked: the request is sent again, here.
            Err(_) => send(http, request, info).await,
        }
    }

    /// Sends `template` with `cursor` on another task, which reads the whole
    /// body; a request that cannot be cloned is not sent ahead.
    fn send_ahead(
        &self,
        http: &reqwest::Client,
        template: Option<reqwest::Request>,
        cursor: String,
        operation_id: &'static str,
    ) {
        let Some(mut request) = template else {
            return;
        };
        set_query(request.url_mut(), self.cursor_parameter, &cursor);
        let url = request.url().clone();
        let (sender, next) = oneshot::channel();
        let http = http.clone();
        let fetch = async move {
            let response = send(&http, request, &OperationInfo { operation_id }).await?;
            // Sent, or dropped, before the body is read.
            match next_cursor(&response) {
                Some(next) => drop(sender.send(next)),
                None => drop(sender),
            }
            buffered(response).await
        };
        *self.ahead() = Some(Ahead {
            url,
            next,
            response: Abort(tokio::spawn(fetch.in_current_span())),
        });
    }
}

/// The next cursor a successful response's headers name.
fn next_cursor(response: &reqwest::Response) -> Option<String> {
    if !response.status().is_success() {
        return None;
    }
    let value = response.headers().get(NEXT_CURSOR_HEADER)?.to_str().ok()?;
    Some(value.to_owned())
}

/// The response with its whole body read (and decoded, when it came
/// compressed): what the generated client parses, later, on the caller's task.
async fn buffered(response: reqwest::Response) -> reqwest::Result<reqwest::Response> {
    let status = response.status();
    let version = response.version();
    let mut headers = response.headers().clone();
    let body = response.bytes().await?;
    // These described the body as it came over the wire.
    headers.remove(CONTENT_ENCODING);
    headers.remove(CONTENT_LENGTH);
    let mut buffered = http::Response::new(body);
    *buffered.status_mut() = status;
    *buffered.version_mut() = version;
    *buffered.headers_mut() = headers;
    Ok(buffered.into())
}

/// `url` with the query parameter `name` set to `value` (replacing it, or added first).
fn set_query(url: &mut reqwest::Url, name: &str, value: &str) {
    let others: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key != name)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    let mut query = url.query_pairs_mut();
    query.clear().append_pair(name, value);
    for (key, value) in &others {
        query.append_pair(key, value);
    }
}

/// The same request: everything but the query alike, and the same query
/// parameters in any order.
fn same_request(a: &reqwest::Url, b: &reqwest::Url) -> bool {
    fn pairs(url: &reqwest::Url) -> Vec<(std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>)> {
        let mut pairs: Vec<_> = url.query_pairs().collect();
        pairs.sort();
        pairs
    }
    a.scheme() == b.scheme()
        && a.host() == b.host()
        && a.port_or_known_default() == b.port_or_known_default()
        && a.path() == b.path()
        && pairs(a) == pairs(b)
}

#[cfg(test)]
mod tests {
    use super::{same_request, set_query};

    #[test]
    fn the_cursor_is_set_in_place_of_the_old_one_or_first() {
        let mut url = reqwest::Url::parse("http://h/p?limit=100").unwrap();
        set_query(&mut url, "cursor", "a b+c");
        assert_eq!(url.as_str(), "http://h/p?cursor=a+b%2Bc&limit=100");
        set_query(&mut url, "cursor", "next");
        assert_eq!(url.as_str(), "http://h/p?cursor=next&limit=100");
    }

    #[test]
    fn requests_are_the_same_whatever_the_order_of_their_parameters() {
        for (a, b, same) in [
            (
                "http://h:80/p?limit=1&cursor=x",
                "http://h/p?cursor=x&limit=1",
                true,
            ),
            ("http://h/p?cursor=x", "http://h/p?cursor=y", false),
            ("http://h/p?cursor=x", "http://h/q?cursor=x", false),
            ("http://h/p?cursor=x", "http://g/p?cursor=x", false),
            ("http://h/p?cursor=x", "http://h/p?cursor=x&limit=1", false),
        ] {
            let (a, b) = (reqwest::Url::parse(a).unwrap(), reqwest::Url::parse(b).unwrap());
            assert_eq!(same_request(&a, &b), same, "{a} {b}");
        }
    }
}
