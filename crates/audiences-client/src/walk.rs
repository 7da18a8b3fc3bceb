//! The walk of an audience, overlapped with the server: each page's
//! `X-Next-Cursor` header (sent before its body) starts the request for the
//! next page while this one is still being read and parsed, on another task.
//! At most one page is fetched ahead of the one handed to the caller, so
//! memory stays flat however large the audience; a server that does not send
//! the header is walked the same way, the next request starting once the
//! body is parsed.

use std::sync::Mutex;

use futures_util::Stream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::client::{AudiencesClient, Page};
use crate::error::Error;

/// The response header carrying the next page's cursor (declared on the
/// 200 of `listAudienceProspects`; a test checks the document).
pub const NEXT_CURSOR_HEADER: &str = "x-next-cursor";

tokio::task_local! {
    /// Where the request hooks send the next cursor of the page this task
    /// is fetching, as soon as its headers arrive.
    static EARLY_CURSOR: Mutex<Option<oneshot::Sender<String>>>;
}

/// Called by the request hooks with each successful response's headers:
/// hands its `X-Next-Cursor` to the walk fetching it, if any.
pub(crate) fn announce(headers: &reqwest::header::HeaderMap) {
    let Some(cursor) = headers
        .get(NEXT_CURSOR_HEADER)
        .and_then(|value| value.to_str().ok())
    else {
        return;
    };
    let _ = EARLY_CURSOR.try_with(|slot| {
        let sender = slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(sender) = sender {
            let _ = sender.send(cursor.to_owned());
        }
    });
}

/// A task's handle that aborts the task when dropped (a walk given up, or
/// ended by an error, leaves nothing running).
struct Abort<T>(JoinHandle<T>);

impl<T> Drop for Abort<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A page being fetched: its task, and the cursor its headers announce.
struct InFlight {
    task: Abort<Result<Page, Error>>,
    early: oneshot::Receiver<String>,
}

#[derive(Clone)]
struct Fetcher {
    client: AudiencesClient,
    account_group: String,
    audience: String,
    page_size: Option<u32>,
}

impl Fetcher {
    fn spawn(&self, cursor: Option<String>) -> InFlight {
        let (sender, early) = oneshot::channel();
        let fetcher = self.clone();
        let fetch = async move {
            fetcher
                .client
                .list_prospects(
                    &fetcher.account_group,
                    &fetcher.audience,
                    fetcher.page_size,
                    cursor.as_deref(),
                )
                .await
        };
        let task = tokio::spawn(EARLY_CURSOR.scope(Mutex::new(Some(sender)), fetch.in_current_span()));
        InFlight {
            task: Abort(task),
            early,
        }
    }
}

/// The pages of `audience`, from `cursor` (the first page when `None`).
pub(crate) fn pages(
    client: AudiencesClient,
    account_group: String,
    audience: String,
    page_size: Option<u32>,
    cursor: Option<String>,
) -> impl Stream<Item = Result<Page, Error>> + Send + 'static {
    let fetcher = Fetcher {
        client,
        account_group,
        audience,
        page_size,
    };
    // Lazy, as streams are: the first request starts at the first poll.
    futures_util::stream::try_unfold(Step::Start(cursor), move |step| {
        let fetcher = fetcher.clone();
        async move {
            let mut current = match step {
                Step::Start(cursor) => fetcher.spawn(cursor),
                Step::Next(in_flight) => in_flight,
                Step::Done => return Ok(None),
            };
            // The next request starts when this page's headers name its
            // cursor (the sender is dropped unused when they do not).
            let early = (&mut current.early).await.ok();
            let ahead = early.clone().map(|cursor| fetcher.spawn(Some(cursor)));
            let page = (&mut current.task.0)
                .await
                .map_err(|error| Error::InvalidResponse {
                    status: None,
                    message: format!("the task fetching a page failed: {error}"),
                })??;
            // The body has the last word: a header that disagrees with it
            // (or came without a next page) is dropped, its request aborted.
            let next = match (ahead, &page.next_cursor) {
                (Some(ahead), Some(cursor)) if early.as_ref() == Some(cursor) => Step::Next(ahead),
                (_, Some(cursor)) => Step::Next(fetcher.spawn(Some(cursor.clone()))),
                (_, None) => Step::Done,
            };
            Ok(Some((page, next)))
        }
    })
}

/// Where a walk is.
enum Step {
    /// Not started: the first cursor.
    Start(Option<String>),
    /// The next page, already requested.
    Next(InFlight),
    /// The last page was handed over.
    Done,
}
