//! Request bodies: read only after the caller was authenticated and
//! admitted, at most [`MAX_BODY_BYTES`], in the media types the document
//! lists. Every refusal is a 400 naming `body` (413 past the size limit).

use axum::body::{Body, Bytes};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::outputs::conventions::Failure;
use crate::outputs::error::ApiError;
use crate::outputs::response::Blob;

/// Largest request body the generated router reads, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What an operation's request body may be.
#[derive(Debug, Clone, Copy)]
pub struct BodyRules {
    /// The media types the document lists, as written there.
    pub media_types: &'static [&'static str],
    /// The schema of a structured body, whose rules are checked before the
    /// body is handed over (`None`: its type's structure only).
    pub schema: Option<&'static super::validate::ValueSchema>,
}

async fn read(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| {
        ApiError::failure(
            Failure::PayloadTooLarge,
            format!("the request body exceeds {MAX_BODY_BYTES} bytes"),
        )
    })
}

/// The media type of the request without parameters, lowercased.
fn essence(parts: &Parts) -> Option<String> {
    let value = parts.headers.get(CONTENT_TYPE)?.to_str().ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
    )
}

/// Whether a media type (without parameters) is JSON.
pub fn is_json_media_type(essence: &str) -> bool {
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn media_matches(documented: &str, sent: &str) -> bool {
    let documented = documented
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    documented == "*/*"
        || documented == sent
        || documented
            .strip_suffix("/*")
            .is_some_and(|family| sent.split('/').next() == Some(family))
        || (is_json_media_type(&documented) && is_json_media_type(sent))
}

fn wrong_media_type(rules: &BodyRules) -> ApiError {
    let listed: Vec<String> = rules
        .media_types
        .iter()
        .map(|media| format!("`{media}`"))
        .collect();
    ApiError::validation(
        format!(
            "the request body must be sent with `Content-Type`: {}",
            listed.join(" or ")
        ),
        "body",
    )
}

/// Whether an empty body is a value (zero bytes, the empty text) when the
/// client names its media type (but multipart), or the absence of a body
/// (a structured body: no JSON is empty).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Empty {
    IsAValue,
    IsNoBody,
}

/// The body bytes and its media type, `None` when there is no body; a media
/// type the document does not list is a 400.
async fn read_listed(
    parts: &Parts,
    body: Body,
    rules: &BodyRules,
    empty: Empty,
) -> Result<Option<(Bytes, String)>, ApiError> {
    let bytes = read(body).await?;
    // Zero bytes of a named media type are a value (an empty file, the
    // empty text), but no multipart body and no JSON is empty.
    let empty_value =
        empty == Empty::IsAValue && essence(parts).is_some_and(|sent| !sent.starts_with("multipart/"));
    if bytes.is_empty() && !empty_value {
        return Ok(None);
    }
    let sent = essence(parts).unwrap_or_default();
    if !rules
        .media_types
        .iter()
        .any(|documented| media_matches(documented, &sent))
    {
        return Err(wrong_media_type(rules));
    }
    Ok(Some((bytes, sent)))
}

fn not_valid(reason: impl std::fmt::Display) -> ApiError {
    let reason = reason.to_string();
    if reason.contains("enum ") {
        // serde's message would name a Rust type.
        ApiError::validation("the request body does not match its schema", "body")
    } else {
        ApiError::validation(format!("the request body is not valid: {reason}"), "body")
    }
}

/// A body of a schema, sent as JSON or as a form
/// (`application/x-www-form-urlencoded`), whichever of them the document lists.
pub async fn read_structured<T: DeserializeOwned>(
    parts: &Parts,
    body: Body,
    rules: &BodyRules,
) -> Result<Option<T>, ApiError> {
    let Some((bytes, sent)) = read_listed(parts, body, rules, Empty::IsNoBody).await? else {
        return Ok(None);
    };
    if sent == "application/x-www-form-urlencoded" {
        // A form's values are text: its rules are checked on what they
        // read as by the schema's property types, before its type reads it.
        if let Some(schema) = rules.schema {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).map_err(not_valid)?;
            schema.check(&schema.form_value(&pairs))?;
        }
        let body: T = serde_urlencoded::from_bytes(&bytes).map_err(not_valid)?;
        return Ok(Some(body));
    }
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(not_valid)?;
    if let Some(schema) = rules.schema {
        schema.check(&value)?;
    }
    serde_json::from_value(value).map(Some).map_err(not_valid)
}

/// A text body (`text/plain`, say), which must be UTF-8.
pub async fn read_text(parts: &Parts, body: Body, rules: &BodyRules) -> Result<Option<String>, ApiError> {
    let Some((bytes, _)) = read_listed(parts, body, rules, Empty::IsAValue).await? else {
        return Ok(None);
    };
    String::from_utf8(bytes.to_vec())
        .map(Some)
        .map_err(|_| ApiError::validation("the request body is not valid UTF-8 text", "body"))
}

/// A body of bytes in a documented media type (`application/octet-stream`, say).
pub async fn read_bytes(parts: &Parts, body: Body, rules: &BodyRules) -> Result<Option<Bytes>, ApiError> {
    Ok(read_listed(parts, body, rules, Empty::IsAValue)
        .await?
        .map(|(bytes, _)| bytes))
}

/// A body of any listed media type, with the media type the client sent
/// (parameters such as a multipart boundary included).
pub async fn read_blob(parts: &Parts, body: Body, rules: &BodyRules) -> Result<Option<Blob>, ApiError> {
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    Ok(read_listed(parts, body, rules, Empty::IsAValue)
        .await?
        .map(|(bytes, _)| Blob { content_type, bytes }))
}

/// The body of an operation whose body is required: its absence is a 400.
pub fn require_body<T>(body: Option<T>) -> Result<T, ApiError> {
    body.ok_or_else(|| ApiError::validation("a request body is required", "body"))
}
