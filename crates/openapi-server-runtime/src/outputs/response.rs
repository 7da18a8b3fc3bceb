//! Writing documented responses: JSON, text, bytes, any media type, and the
//! statuses of `default` responses and status ranges (`4XX`).

use std::fmt;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, HeaderValue};
use axum::response::Response;
use serde::Serialize;

use super::json::RawJson;
use super::object::EnvelopePart;
use crate::serving::trace::TraceId;

/// Serializes `body` as the JSON response with `status`; the generated code
/// answers a (never expected) serialization failure with a 500.
pub fn json_response<T: Serialize + ?Sized>(
    status: StatusCode,
    body: &T,
) -> Result<Response, serde_json::Error> {
    json_response_as(status, "application/json", body)
}

/// As [`json_response`], in the documented JSON media type
/// (`application/problem+json`, `application/json; charset=utf-8`, …).
pub fn json_response_as<T: Serialize + ?Sized>(
    status: StatusCode,
    media_type: &'static str,
    body: &T,
) -> Result<Response, serde_json::Error> {
    let bytes = serde_json::to_vec(body)?;
    Ok(with_content_type(
        status,
        Body::from(bytes),
        HeaderValue::from_static(media_type),
    ))
}

/// A JSON response whose body is `json` as it is (raw JSON of the
/// documented type: nothing is parsed, serialized or copied).
pub fn raw_json_response<T>(status: StatusCode, media_type: &'static str, json: RawJson<T>) -> Response {
    with_content_type(
        status,
        Body::from(json.into_bytes()),
        HeaderValue::from_static(media_type),
    )
}

/// A success response in the envelope around raw `data`, written without
/// parsing or copying it: the `parts` in their order (see
/// [`super::object::envelope`]).
pub fn raw_envelope_response<T>(
    status: StatusCode,
    media_type: &'static str,
    parts: &[(&'static str, EnvelopePart)],
    data: RawJson<T>,
    trace_id: &TraceId,
) -> Response {
    // Only names, `true`, `null` and a string are written: they serialize.
    let body = super::object::envelope(parts, data, trace_id.as_str()).expect("envelope parts serialize");
    with_content_type(
        status,
        Body::from(body.into_bytes()),
        HeaderValue::from_static(media_type),
    )
}

/// A text response of the documented media type (`text/plain`, say), in UTF-8.
pub fn text_response(status: StatusCode, media_type: &'static str, body: String) -> Response {
    let content_type = if media_type.starts_with("text/") && !media_type.contains("charset") {
        HeaderValue::from_str(&format!("{media_type}; charset=utf-8"))
    } else {
        HeaderValue::from_str(media_type)
    };
    with_content_type(
        status,
        Body::from(body),
        content_type.unwrap_or(HeaderValue::from_static("text/plain; charset=utf-8")),
    )
}

/// A response of bytes in the documented media type (`application/octet-stream`, say).
pub fn bytes_response(status: StatusCode, media_type: &'static str, body: Bytes) -> Response {
    let content_type =
        HeaderValue::from_str(media_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    with_content_type(status, Body::from(body), content_type)
}

/// Bytes with the media type the implementation chose, for responses and
/// request bodies documented as `*/*` or with several media types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// The media type, such as `image/png`.
    pub content_type: String,
    /// The bytes.
    pub bytes: Bytes,
}

impl Blob {
    /// Bytes of the media type `content_type`.
    pub fn new(content_type: impl Into<String>, bytes: impl Into<Bytes>) -> Self {
        Self {
            content_type: content_type.into(),
            bytes: bytes.into(),
        }
    }
}

/// A response of a [`Blob`]; an invalid media type is sent as
/// `application/octet-stream`.
pub fn blob_response(status: StatusCode, body: Blob) -> Response {
    let content_type = HeaderValue::from_str(&body.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    with_content_type(status, Body::from(body.bytes), content_type)
}

fn with_content_type(status: StatusCode, body: Body, content_type: HeaderValue) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    response
}

/// The status code of a documented response (the generator checked it).
pub fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A response without a body, such as a 204.
pub fn empty_response(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// A status code refused for a response: outside the range the document
/// allows there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusOutOfRange {
    /// The refused code.
    pub code: u16,
    /// What the response allows, such as `4XX`.
    pub allowed: &'static str,
}

impl fmt::Display for StatusOutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "status {} is not allowed here: the document allows {}",
            self.code, self.allowed
        )
    }
}

impl std::error::Error for StatusOutOfRange {}

/// A status of the class `CLASS` (`4` for `4XX`): the status of a response
/// documented as a range. Only a code of that class can be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusInClass<const CLASS: u16>(StatusCode);

impl<const CLASS: u16> StatusInClass<CLASS> {
    const ALLOWED: &'static str = match CLASS {
        1 => "1XX",
        2 => "2XX",
        3 => "3XX",
        4 => "4XX",
        _ => "5XX",
    };

    /// The status `code`, if it is of the class.
    pub fn new(code: u16) -> Result<Self, StatusOutOfRange> {
        match StatusCode::from_u16(code) {
            Ok(status) if code / 100 == CLASS => Ok(Self(status)),
            _ => Err(StatusOutOfRange {
                code,
                allowed: Self::ALLOWED,
            }),
        }
    }

    /// The status.
    pub fn status(self) -> StatusCode {
        self.0
    }
}

/// The status of a `1XX` response.
pub type InformationalStatus = StatusInClass<1>;
/// The status of a `2XX` response.
pub type SuccessStatus = StatusInClass<2>;
/// The status of a `3XX` response.
pub type RedirectionStatus = StatusInClass<3>;
/// The status of a `4XX` response.
pub type ClientErrorStatus = StatusInClass<4>;
/// The status of a `5XX` response.
pub type ServerErrorStatus = StatusInClass<5>;

/// The status of a `default` response: any code from 100 to 599.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnyStatus(StatusCode);

impl AnyStatus {
    /// The status `code`, if it is a status code (100 to 599).
    pub fn new(code: u16) -> Result<Self, StatusOutOfRange> {
        match StatusCode::from_u16(code) {
            Ok(status) if (100..600).contains(&code) => Ok(Self(status)),
            _ => Err(StatusOutOfRange {
                code,
                allowed: "a status code from 100 to 599",
            }),
        }
    }

    /// The status.
    pub fn status(self) -> StatusCode {
        self.0
    }
}
