//! Trace ids: one per request, in the body, the `X-Trace-Id` header and
//! every log line of the request.

use std::fmt;

use axum::http::request::Parts;

/// The response header that carries the trace id of every response.
pub const TRACE_ID_HEADER: &str = "x-trace-id";

/// The id of one request: 24 lowercase hexadecimal digits, in the body, the
/// `X-Trace-Id` header and every log line of the request.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TraceId(String);

impl TraceId {
    /// A new random trace id (96 random bits).
    pub fn generate() -> Self {
        Self(hex::encode(rand::random::<[u8; 12]>()))
    }

    /// The trace id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({})", self.0)
    }
}

/// The trace id of a request, as the trace middleware stored it; a fresh one
/// when the router is used without [`finish_router`](super::finish_router).
pub fn trace_id_of(parts: &Parts) -> TraceId {
    parts
        .extensions
        .get::<TraceId>()
        .cloned()
        .unwrap_or_else(TraceId::generate)
}
