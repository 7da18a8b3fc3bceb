//! Pages whose prospects are kept exactly as the server sent them: for an
//! export that must write what the API said, byte for byte, including
//! fields a newer server adds. Each prospect is still checked to parse as
//! the documented [`AudienceProspect`] (unknown fields are allowed, as the
//! typed path allows them); a page that does not is an error, like a typed
//! page that does not parse.

use std::ops::Range;

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo, encode_path};
use reqwest::header::{ACCEPT, HeaderValue};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use crate::error::{self, Error};
use crate::types::AudienceProspect;

/// One page of prospects as the server wrote them (see the module docs).
#[derive(Debug, Clone)]
pub struct RawPage {
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
        // The ranges were taken from this body, checked UTF-8 once.
        let text = std::str::from_utf8(&self.body).unwrap_or("");
        self.items.iter().map(move |range| &text[range.clone()])
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

/// The success envelope, the prospects left as text.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    success: bool,
    #[serde(borrow)]
    data: Data<'a>,
    #[serde(default)]
    #[allow(dead_code, reason = "present in the envelope; always null on success")]
    error: Option<IgnoredAny>,
    trace_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data<'a> {
    #[serde(borrow)]
    items: Vec<&'a RawValue>,
    next_cursor: Option<String>,
    has_more: bool,
}

fn invalid(message: String) -> Error {
    Error::InvalidResponse {
        status: Some(200),
        message,
    }
}

/// Parses a 200 body: the envelope, then every prospect as the documented type.
pub(crate) fn parse(body: bytes::Bytes) -> Result<RawPage, Error> {
    let text =
        std::str::from_utf8(&body).map_err(|error| invalid(format!("the body is not UTF-8: {error}")))?;
    let envelope: Envelope<'_> = serde_json::from_str(text)
        .map_err(|error| invalid(format!("the body does not match the document: {error}")))?;
    if !envelope.success {
        return Err(invalid("a 200 answer with `success: false`".to_owned()));
    }
    let start = text.as_ptr() as usize;
    let mut items = Vec::with_capacity(envelope.data.items.len());
    for (index, item) in envelope.data.items.iter().enumerate() {
        serde_json::from_str::<AudienceProspect>(item.get()).map_err(|error| {
            invalid(format!(
                "prospect {index} of the page does not match the document: {error}"
            ))
        })?;
        let offset = item.get().as_ptr() as usize - start;
        items.push(offset..offset + item.get().len());
    }
    let next_cursor = envelope.data.next_cursor.filter(|_| envelope.data.has_more);
    let (has_more, trace_id) = (envelope.data.has_more, envelope.trace_id);
    Ok(RawPage {
        body,
        items,
        next_cursor,
        has_more,
        trace_id,
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

    const PROSPECT: &str = r#"{"id":"507f1f77bcf86cd799439011","firstName":"Avery","lastName":"Stone","name":"Avery Stone","headline":null,"about":null,"photoUrl":null,"linkedinUrl":"https://www.linkedin.com/in/avery","publicIdentifier":"avery","company":null,"title":null,"location":{"text":"Lyon","countryCode":"FR"},"emails":[],"premium":false,"isOpenProfile":true,"connectionStatus":null,"chatStatus":null}"#;

    fn body(items: &str) -> bytes::Bytes {
        bytes::Bytes::from(format!(
            r#"{{"success":true,"data":{{"items":[{items}],"nextCursor":"c1","hasMore":true}},"error":null,"traceId":"t-1"}}"#
        ))
    }

    #[test]
    fn items_are_the_bytes_sent_unknown_fields_included() {
        let newer = PROSPECT.replacen('{', r#"{"score": 0.5e1, "tags":["a"],"#, 1);
        let page = parse(body(&format!("{PROSPECT}, {newer}"))).expect("parses");
        let items: Vec<&str> = page.items().collect();
        assert_eq!(items, [PROSPECT, newer.as_str()]);
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
