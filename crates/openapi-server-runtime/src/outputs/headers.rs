//! Response headers the runtime sets: one from any displayable value, and
//! the rate-limit headers of an admitted (or refused) request.

use std::fmt;

use axum::http::header::{HeaderName, HeaderValue};
use axum::response::Response;

/// The rate-limit state of a caller after a request was admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitStatus {
    /// Requests allowed per window.
    pub limit: u64,
    /// Requests left in the current window.
    pub remaining: u64,
    /// Seconds until the window resets.
    pub reset_seconds: u64,
}

/// Sets a response header from a value; a value that cannot be a header
/// value (a line break, say) is logged and left out.
pub fn insert_header(response: &mut Response, name: &'static str, value: impl fmt::Display) {
    match HeaderValue::from_str(&value.to_string()) {
        Ok(value) => {
            response
                .headers_mut()
                .insert(HeaderName::from_static(name), value);
        }
        Err(_) => tracing::error!(header = name, "response header value is not valid: left out"),
    }
}

/// Sets the `X-RateLimit-*` headers.
pub fn insert_rate_limit_headers(response: &mut Response, status: RateLimitStatus) {
    insert_header(response, "x-ratelimit-limit", status.limit);
    insert_header(response, "x-ratelimit-remaining", status.remaining);
    insert_header(response, "x-ratelimit-reset", status.reset_seconds);
}
