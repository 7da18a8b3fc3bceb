//! Pages whose prospects are kept exactly as the server sent them: for an
//! export that must write what the API said, byte for byte, including
//! fields a newer server adds. Each prospect is still checked to parse as
//! the documented [`AudienceProspect`] (unknown fields are allowed, as the
//! typed path allows them); a page that does not is an error, like a typed
//! page that does not parse.

use std::ops::Range;

use crate::error::{self, Error};
use progenitor_client::{ClientHooks, ClientInfo, OperationInfo, encode_path};
use reqwest::header::{ACCEPT, HeaderValue};

mod scan;

/// One page of prospects as the server wrote them (see the module docs).
#[derive(Debug, Clone)]
pub struct RawPage {
    /// The body as the transport read it (checked UTF-8 once, in [`parse`]).
    body: bytes::Bytes,
    items: Vec<Range<usize>>,
    /// The cursor of the next page; `None` on the last one.
    pub next_cursor: Option<String>,
    /// Whether another page follows.
    pub has_more: bool,
    /// The request's trace id.
    pub trace_id: String,
}

impl RawPage {
    /// The prospects, each the exact JSON text the server sent.
    pub fn items(&self) -> impl ExactSizeIterator<Item = &str> {
        // Each range is a whole JSON value of a body checked UTF-8.
        self.items
            .iter()
            .map(|range| std::str::from_utf8(&self.body[range.clone()]).unwrap_or_default())
    }

    /// The prospects' bytes, as [`RawPage::items`] without checking their
    /// UTF-8 again (it was checked once, with the page): for a writer.
    pub fn item_bytes(&self) -> impl ExactSizeIterator<Item = &[u8]> {
        self.items.iter().map(|range| &self.body[range.clone()])
    }

    /// How many prospects the page holds.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the page holds no prospect.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

fn invalid(message: String) -> Error {
    Error::InvalidResponse {
        status: Some(200),
        message,
    }
}

/// Parses a 200 body: the envelope, and every prospect as the documented
/// type, in one pass ([`scan`]).
pub(crate) fn parse(body: bytes::Bytes) -> Result<RawPage, Error> {
    let text =
        std::str::from_utf8(&body).map_err(|error| invalid(format!("the body is not UTF-8: {error}")))?;
    let parsed = scan::page(text)
        .map_err(|error| invalid(format!("the body does not match the document: {error}")))?;
    let next_cursor = parsed.next_cursor.filter(|_| parsed.has_more);
    Ok(RawPage {
        body,
        items: parsed.items,
        next_cursor,
        has_more: parsed.has_more,
        trace_id: parsed.trace_id,
    })
}

/// One request for a page, through the same transport as the generated
/// client (trace context, the walk's page ahead), answers other than 200
/// turned into the same errors.
pub(crate) async fn fetch(
    raw: &crate::Client,
    account_group: &str,
    audience: &str,
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<RawPage, Error> {
    let url = format!(
        "{}/v1/accounts/{}/audiences/{}/prospects",
        raw.baseurl(),
        encode_path(account_group),
        encode_path(audience),
    );
    let mut request = raw
        .client()
        .get(url)
        .header(ACCEPT, HeaderValue::from_static("application/json"))
        .header(
            "api-version",
            HeaderValue::from_static(crate::Client::api_version()),
        );
    if let Some(cursor) = cursor {
        request = request.query(&[("cursor", cursor)]);
    }
    if let Some(limit) = limit {
        request = request.query(&[("limit", limit)]);
    }
    let request = request.build().map_err(Error::Transport)?;
    let info = OperationInfo {
        operation_id: "list_audience_prospects",
    };
    let response = raw.exec(request, &info).await.map_err(Error::Transport)?;
    if response.status().as_u16() != 200 {
        return Err(error::from_generated(progenitor_client::Error::UnexpectedResponse(response)).await);
    }
    let body = response.bytes().await.map_err(Error::Transport)?;
    parse(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) const PROSPECT: &str = r#"{"id":"507f1f77bcf86cd799439011","firstName":"Avery","lastName":"Stone","name":"Avery Stone","headline":null,"about":null,"photoUrl":null,"linkedinUrl":"https://www.linkedin.com/in/avery","publicIdentifier":"avery","company":null,"title":null,"location":{"text":"Lyon","countryCode":"FR"},"emails":[],"premium":false,"isOpenProfile":true,"connectionStatus":null,"chatStatus":null}"#;

    /// A 200 body holding `items` (JSON texts, comma-separated).
    pub(super) fn body_text(items: &str) -> String {
        format!(
            r#"{{"success":true,"data":{{"items":[{items}],"nextCursor":"c1","hasMore":true}},"error":null,"traceId":"t-1"}}"#
        )
    }

    fn body(items: &str) -> bytes::Bytes {
        bytes::Bytes::from(body_text(items))
    }

    #[test]
    fn items_are_the_bytes_sent_unknown_fields_included() {
        let newer = PROSPECT.replacen('{', r#"{"score": 0.5e1, "tags":["a"],"#, 1);
        let page = parse(body(&format!("{PROSPECT}, {newer}"))).expect("parses");
        let items: Vec<&str> = page.items().collect();
        assert_eq!(items, [PROSPECT, newer.as_str()]);
        let bytes: Vec<&[u8]> = page.item_bytes().collect();
        assert_eq!(bytes, [PROSPECT.as_bytes(), newer.as_bytes()]);
        assert_eq!(page.next_cursor.as_deref(), Some("c1"));
        assert_eq!(page.trace_id, "t-1");
    }

    #[test]
    fn a_prospect_that_does_not_match_the_document_is_refused() {
        let broken = PROSPECT.replace(r#""premium":false"#, r#""premium":"yes""#);
        let error = parse(body(&format!("{PROSPECT},{broken}"))).unwrap_err();
        assert!(error.to_string().contains("prospect 1 of the page"), "{error}");
        let missing = PROSPECT.replace(r#""name":"Avery Stone","#, "");
        assert_ne!(missing, PROSPECT);
        assert!(parse(body(&missing)).is_err());
        assert!(parse(bytes::Bytes::from_static(b"{\"success\":false}")).is_err());
    }
}
