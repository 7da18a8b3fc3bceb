//! The walk of an audience: its pages one after the other, each request
//! made inside a [`PageAhead`] scope so that the transport sends the next
//! page's request as soon as this page's headers name its cursor (see
//! [`crate::transport`]). The body's cursor has the last word.

use futures_util::Stream;

use crate::error::Error;
use crate::transport::PageAhead;

/// The pages from `cursor` (the first page when `None`): `fetch` asks for
/// the page at a cursor, `next` reads the cursor a page names.
pub(crate) fn pages<P, F, Fut>(
    cursor: Option<String>,
    cursor_parameter: &'static str,
    fetch: F,
    next: fn(&P) -> Option<String>,
) -> impl Stream<Item = Result<P, Error>> + Send + 'static
where
    P: Send + 'static,
    F: Fn(Option<String>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<P, Error>> + Send + 'static,
{
    let walk = PageAhead::new(cursor_parameter);
    let fetch = std::sync::Arc::new(fetch);
    // Lazy, as streams are: the first request starts at the first poll. The
    // state is the cursor of the page to fetch, `None` after the last page.
    futures_util::stream::try_unfold(Some(cursor), move |state| {
        let (walk, fetch) = (walk.clone(), fetch.clone());
        async move {
            let Some(cursor) = state else {
                return Ok(None);
            };
            let page = walk.scope(fetch(cursor)).await?;
            let following = next(&page);
            if following.is_none() {
                // A page fetched ahead on a header the body did not confirm.
                walk.discard();
            }
            Ok(Some((page, following.map(Some))))
        }
    })
}
