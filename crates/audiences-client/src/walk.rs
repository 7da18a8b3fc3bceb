//! The walk of an audience, overlapped with the server. As soon as a page's
//! headers arrive and name the next cursor (`X-Next-Cursor`, sent before the
//! body), the request for the next page is sent, and its body read, on
//! another task, while this page is read, parsed and handed to the caller.
//! The page fetched ahead is parsed on the caller's task when the caller
//! asks for it: so at most one page is ahead, as raw bytes (memory stays
//! flat however large the audience), a page's values are allocated and
//! freed on one thread, and the server prepares page n+1 while the caller
//! parses page n. A server that does not send the header is walked the same
//! way, each request starting when the caller asks for the page. The body's
//! cursor has the last word: a page fetched ahead for a cursor the body does
//! not name is dropped, its request aborted.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_util::Stream;
use progenitor_client::OperationInfo;
use reqwest::header::{CONTENT_ENCODING, CONTENT_LENGTH};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::client::{AudiencesClient, Page};
use crate::error::Error;

/// The response header carrying the next page's cursor (declared on the
/// 200 of `listAudienceProspects`; a test checks the document).
pub const NEXT_CURSOR_HEADER: &str = "x-next-cursor";

/// The query parameter of `listAudienceProspects` that names the page.
const CURSOR_PARAMETER: &str = "cursor";

tokio::task_local! {
    /// The walk whose page this task is fetching: where the request hook
    /// finds the page fetched ahead, and leaves the next one.
    static WALK: Walk;
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

/// One walk's state across its pages: the page fetched ahead, if any.
#[derive(Clone, Default)]
pub(crate) struct Walk {
    ahead: Arc<Mutex<Option<Ahead>>>,
}

/// The walk this task is fetching a page of, if any.
pub(crate) fn current() -> Option<Walk> {
    WALK.try_with(Clone::clone).ok()
}

impl Walk {
    fn ahead(&self) -> MutexGuard<'_, Option<Ahead>> {
        self.ahead.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The request hook's part (`listAudienceProspects` in a walk): answers
    /// `request` with the page fetched ahead when it is that request, or
    /// sends it; either way, once its headers name the next cursor, sends
    /// the request for the next page ahead.
    pub(crate) async fn exec(
        &self,
        http: &reqwest::Client,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let template = request.try_clone();
        let ahead = self.ahead().take();
        let Some(mut ahead) = ahead.filter(|ahead| same_request(&ahead.url, request.url())) else {
            let response = crate::hooks::send(http, request, info).await?;
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
            Err(_) => crate::hooks::send(http, request, info).await,
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
        set_query(request.url_mut(), CURSOR_PARAMETER, &cursor);
        let url = request.url().clone();
        let (sender, next) = oneshot::channel();
        let http = http.clone();
        let fetch = async move {
            let response = crate::hooks::send(&http, request, &OperationInfo { operation_id }).await?;
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

/// The pages of `audience`, from `cursor` (the first page when `None`).
pub(crate) fn pages(
    client: AudiencesClient,
    account_group: String,
    audience: String,
    page_size: Option<u32>,
    cursor: Option<String>,
) -> impl Stream<Item = Result<Page, Error>> + Send + 'static {
    let walk = Walk::default();
    // Lazy, as streams are: the first request starts at the first poll. The
    // state is the cursor of the page to fetch, `None` after the last page.
    futures_util::stream::try_unfold(Some(cursor), move |state| {
        let (client, account_group, audience, walk) = (
            client.clone(),
            account_group.clone(),
            audience.clone(),
            walk.clone(),
        );
        async move {
            let Some(cursor) = state else {
                return Ok(None);
            };
            let fetch = client.list_prospects(&account_group, &audience, page_size, cursor.as_deref());
            let page = WALK.scope(walk.clone(), fetch).await?;
            if page.next_cursor.is_none() {
                // A page fetched ahead on a header the body did not confirm.
                walk.ahead().take();
            }
            let next = page.next_cursor.clone().map(Some);
            Ok(Some((page, next)))
        }
    })
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
