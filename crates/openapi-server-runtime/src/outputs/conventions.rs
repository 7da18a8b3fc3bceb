//! The conventions of a document that the runtime follows when it answers
//! by itself: the failure format (the document's envelope, declared with
//! `x-envelope`, or RFC 9457 problem details) and the machine code of each
//! runtime failure (declared with `x-error-codes`). The generator writes them
//! as `CONVENTIONS`.

use std::borrow::Cow;

use axum::http::StatusCode;
use serde::ser::{Serialize, SerializeMap, Serializer};

/// The failures the runtime itself produces; each is written with the code
/// the document declares for it ([`RuntimeCodes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// 400: a parameter or the body broke a rule of the document.
    Validation,
    /// 401: missing, malformed or refused credentials.
    Unauthorized,
    /// 403: the caller lacks a permission the operation needs.
    Forbidden,
    /// 404: no such route, or no such resource.
    NotFound,
    /// 405: the route exists, the method does not.
    MethodNotAllowed,
    /// 413: the request body is larger than the runtime reads.
    PayloadTooLarge,
    /// 431: the request headers are larger than the runtime reads.
    HeadersTooLarge,
    /// 429: the caller is over its rate limit.
    RateLimited,
    /// 500: a bug, a panic or a request past its time limit.
    Internal,
    /// 502: a service this one depends on failed.
    Upstream,
    /// 503: this instance cannot serve now (starting, draining, no database).
    Unavailable,
}

impl Failure {
    /// The HTTP status of this failure.
    pub fn status(self) -> StatusCode {
        match self {
            Failure::Validation => StatusCode::BAD_REQUEST,
            Failure::Unauthorized => StatusCode::UNAUTHORIZED,
            Failure::Forbidden => StatusCode::FORBIDDEN,
            Failure::NotFound => StatusCode::NOT_FOUND,
            Failure::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Failure::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Failure::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Failure::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Failure::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Failure::Upstream => StatusCode::BAD_GATEWAY,
            Failure::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// The machine code of each [`Failure`], as the document declares them
/// (the generator fills in a default for a status the document does not declare).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeCodes {
    /// 400.
    pub validation: &'static str,
    /// 401.
    pub unauthorized: &'static str,
    /// 403.
    pub forbidden: &'static str,
    /// 404.
    pub not_found: &'static str,
    /// 405.
    pub method_not_allowed: &'static str,
    /// 413.
    pub payload_too_large: &'static str,
    /// 431.
    pub headers_too_large: &'static str,
    /// 429.
    pub rate_limited: &'static str,
    /// 500.
    pub internal: &'static str,
    /// 502.
    pub upstream: &'static str,
    /// 503.
    pub unavailable: &'static str,
}

impl RuntimeCodes {
    /// The code of `failure`.
    pub fn code(&self, failure: Failure) -> &'static str {
        match failure {
            Failure::Validation => self.validation,
            Failure::Unauthorized => self.unauthorized,
            Failure::Forbidden => self.forbidden,
            Failure::NotFound => self.not_found,
            Failure::MethodNotAllowed => self.method_not_allowed,
            Failure::PayloadTooLarge => self.payload_too_large,
            Failure::HeadersTooLarge => self.headers_too_large,
            Failure::RateLimited => self.rate_limited,
            Failure::Internal => self.internal,
            Failure::Upstream => self.upstream,
            Failure::Unavailable => self.unavailable,
        }
    }
}

/// How failures are written, from the document (`x-envelope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureFormat {
    /// `{<success>: false, <data>: null, <error>: {code, message, details}, <traceId>: …}`
    /// with the property names the document declares.
    Envelope {
        /// The boolean property, `false` on failure.
        success: &'static str,
        /// The payload property, `null` on failure.
        data: &'static str,
        /// The property holding `{code, message, details}`.
        error: &'static str,
        /// The trace id property.
        trace_id: &'static str,
    },
    /// RFC 9457 problem details (`application/problem+json`):
    /// `{type, title, status, detail, code, details, traceId}`, with
    /// `errors` (each violation: `pointer`, `rule`, `limit`, `message`) when
    /// the request broke rules of the document.
    Problem,
}

/// The conventions of one document that the runtime follows when it answers
/// by itself; the generator writes them as `CONVENTIONS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conventions {
    /// How failures are written.
    pub failure_format: FailureFormat,
    /// The code of each runtime failure.
    pub codes: RuntimeCodes,
}

/// A machine code: one of the runtime's, or one the implementation chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    /// A runtime failure, written with the document's code for it.
    Failure(Failure),
    /// A code chosen by the implementation (use the generated constants).
    Custom(Cow<'static, str>),
}

/// The wire shape of a failure, in either format.
pub(crate) struct FailureBody<'a> {
    pub(crate) format: FailureFormat,
    pub(crate) status: StatusCode,
    pub(crate) code: &'a str,
    pub(crate) message: &'a str,
    pub(crate) details: Option<&'a str>,
    pub(crate) violations: &'a [super::violation::Violation],
    pub(crate) trace_id: &'a str,
}

struct ErrorObject<'a> {
    code: &'a str,
    message: &'a str,
    details: Option<&'a str>,
}

impl Serialize for ErrorObject<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("code", self.code)?;
        map.serialize_entry("message", self.message)?;
        map.serialize_entry("details", &self.details)?;
        map.end()
    }
}

impl Serialize for FailureBody<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.format {
            FailureFormat::Envelope {
                success,
                data,
                error,
                trace_id,
            } => {
                let mut map = serializer.serialize_map(Some(4))?;
                map.serialize_entry(success, &false)?;
                map.serialize_entry(data, &())?;
                map.serialize_entry(
                    error,
                    &ErrorObject {
                        code: self.code,
                        message: self.message,
                        details: self.details,
                    },
                )?;
                map.serialize_entry(trace_id, self.trace_id)?;
                map.end()
            }
            FailureFormat::Problem => {
                let mut map = serializer.serialize_map(Some(8))?;
                map.serialize_entry("type", "about:blank")?;
                map.serialize_entry("title", self.status.canonical_reason().unwrap_or("Error"))?;
                map.serialize_entry("status", &self.status.as_u16())?;
                map.serialize_entry("detail", self.message)?;
                map.serialize_entry("code", self.code)?;
                map.serialize_entry("details", &self.details)?;
                if !self.violations.is_empty() {
                    map.serialize_entry("errors", self.violations)?;
                }
                map.serialize_entry("traceId", self.trace_id)?;
                map.end()
            }
        }
    }
}
