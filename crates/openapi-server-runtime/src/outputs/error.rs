//! [`ApiError`]: a failure the runtime answers itself, written as the
//! document's [`Conventions`] say, with its cause kept for the logs.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use axum::body::Body;
use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, HeaderValue};
use axum::response::Response;

use super::conventions::{Code, Conventions, Failure, FailureBody, FailureFormat};

use super::headers::{RateLimitStatus, insert_header, insert_rate_limit_headers};
use crate::serving::trace::TraceId;

/// A failure answered outside the operation's own result enum: validation,
/// authentication, permission, rate limit, unknown route, panic.
///
/// Only `status`, the code, `message` and `details` leave the process; the
/// `cause` is logged once, with the trace id, when the response is written.
#[derive(Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable machine code.
    pub code: Code,
    /// The human message, safe to show.
    pub message: String,
    /// Extra context, such as the name of the offending parameter.
    pub details: Option<String>,
    /// Seconds to wait before retrying, sent as `Retry-After`.
    pub retry_after: Option<u64>,
    /// Rate-limit headers to send with the failure.
    pub rate_limit: Option<RateLimitStatus>,
    /// What went wrong inside, for the logs only.
    pub cause: Option<Arc<dyn std::error::Error + Send + Sync>>,
    /// Every rule of the document the request broke (empty unless the
    /// request broke several, or broke a rule of its body's schema).
    pub violations: Vec<super::violation::Violation>,
}

impl ApiError {
    /// A runtime failure with its status and the document's code for it.
    pub fn failure(failure: Failure, message: impl Into<String>) -> Self {
        Self {
            status: failure.status(),
            code: Code::Failure(failure),
            message: message.into(),
            details: None,
            retry_after: None,
            rate_limit: None,
            cause: None,
            violations: Vec::new(),
        }
    }

    /// A failure with the given status and an implementation's own code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code: Code::Custom(Cow::Borrowed(code)),
            status,
            ..Self::failure(Failure::Internal, message)
        }
    }

    /// 400, naming what was wrong in `details`.
    pub fn validation(message: impl Into<String>, details: impl Into<String>) -> Self {
        Self::failure(Failure::Validation, message).with_details(details)
    }

    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::failure(Failure::Unauthorized, message)
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::failure(Failure::Forbidden, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::failure(Failure::NotFound, message)
    }

    /// 429 with `Retry-After`.
    pub fn rate_limited(retry_after_seconds: u64) -> Self {
        Self::failure(
            Failure::RateLimited,
            format!("rate limit exceeded: retry after {retry_after_seconds} s"),
        )
        .with_retry_after(retry_after_seconds)
    }

    /// 500; attach the cause with [`ApiError::with_cause`].
    pub fn internal() -> Self {
        Self::failure(
            Failure::Internal,
            "internal server error: quote the trace id when reporting it",
        )
    }

    /// 502; attach the cause with [`ApiError::with_cause`].
    pub fn upstream() -> Self {
        Self::failure(
            Failure::Upstream,
            "an upstream service failed or timed out: retry later",
        )
    }

    /// 503.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::failure(Failure::Unavailable, message)
    }

    /// Sets `details`.
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }

    /// Sets `Retry-After`.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Sets the rate-limit headers sent with this failure.
    pub fn with_rate_limit(mut self, status: RateLimitStatus) -> Self {
        self.rate_limit = Some(status);
        self
    }

    /// Keeps what went wrong inside, to be logged (never sent).
    pub fn with_cause(mut self, cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        self.cause = Some(Arc::from(cause.into()));
        self
    }

    /// Whether this is the runtime failure `failure`.
    pub fn is(&self, failure: Failure) -> bool {
        self.code == Code::Failure(failure)
    }

    /// The machine code under `conventions`.
    pub fn code_str<'a>(&'a self, conventions: &Conventions) -> &'a str {
        match &self.code {
            Code::Failure(failure) => conventions.codes.code(*failure),
            Code::Custom(code) => code,
        }
    }

    /// The failure response, written as `conventions` say, with the
    /// request's trace id. The cause, if any, is logged here, once.
    pub fn into_response(self, conventions: &Conventions, trace_id: &TraceId) -> Response {
        let code = self.code_str(conventions);
        match &self.cause {
            Some(cause) => {
                tracing::error!(%trace_id, code, status = self.status.as_u16(), %cause, message = %self.message, "request failed")
            }
            None if self.status.is_server_error() => {
                tracing::error!(%trace_id, code, status = self.status.as_u16(), message = %self.message, "request failed")
            }
            None => {}
        }
        let body = FailureBody {
            format: conventions.failure_format,
            status: self.status,
            code,
            message: &self.message,
            details: self.details.as_deref(),
            violations: &self.violations,
            trace_id: trace_id.as_str(),
        };
        let content_type = match conventions.failure_format {
            FailureFormat::Envelope { .. } => "application/json",
            FailureFormat::Problem => "application/problem+json",
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| {
            // Only strings are serialized: unreachable, but never an empty body.
            format!(r#"{{"traceId":"{trace_id}"}}"#).into_bytes()
        });
        let mut response = Response::new(Body::from(bytes));
        *response.status_mut() = self.status;
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Some(seconds) = self.retry_after {
            insert_header(&mut response, "retry-after", seconds);
        }
        if let Some(status) = self.rate_limit {
            insert_rate_limit_headers(&mut response, status);
        }
        response
    }
}

impl PartialEq for ApiError {
    /// Equal in everything that leaves the process (the cause is not compared).
    fn eq(&self, other: &Self) -> bool {
        self.status == other.status
            && self.code == other.code
            && self.message == other.message
            && self.details == other.details
            && self.retry_after == other.retry_after
            && self.rate_limit == other.rate_limit
            && self.violations == other.violations
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("status", &self.status)
            .field("code", &self.code)
            .field("message", &self.message)
            .field("details", &self.details)
            .field("retry_after", &self.retry_after)
            .field("cause", &self.cause.as_ref().map(ToString::to_string))
            .finish_non_exhaustive()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Code::Failure(failure) => write!(f, "{} {failure:?}: {}", self.status.as_u16(), self.message),
            Code::Custom(code) => write!(f, "{} {code}: {}", self.status.as_u16(), self.message),
        }
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|cause| cause as &(dyn std::error::Error + 'static))
    }
}
