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

/// The trace id of a caller's W3C `traceparent` header
/// (`00-<32 hex>-<16 hex>-<2 hex>`), when it sent a well-formed one.
pub fn caller_trace_id(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get("traceparent")?.to_str().ok()?;
    let mut parts = value.split('-');
    let (version, trace, parent, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex =
        |text: &str, length: usize| text.len() == length && text.bytes().all(|byte| byte.is_ascii_hexdigit());
    let valid = hex(version, 2)
        && version != "ff"
        && hex(trace, 32)
        && trace.bytes().any(|byte| byte != b'0')
        && hex(parent, 16)
        && parent.bytes().any(|byte| byte != b'0')
        && hex(flags, 2)
        && (version != "00" || parts.next().is_none());
    valid.then_some(trace)
}

/// Gives every request a trace id (in the request's extensions, the
/// response's `X-Trace-Id` header and a `request` span around everything
/// that runs for it, beside the caller's `traceparent` trace id when it
/// sent one), and logs one line when it is answered.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceLayer;

impl<S> tower::Layer<S> for TraceLayer {
    type Service = Trace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Trace { inner }
    }
}

/// The service of [`TraceLayer`].
#[derive(Debug, Clone)]
pub struct Trace<S> {
    inner: S,
}

impl<S> tower::Service<axum::extract::Request> for Trace<S>
where
    S: tower::Service<axum::extract::Request, Response = axum::response::Response>,
{
    type Response = axum::response::Response;
    type Error = S::Error;
    type Future = TraceFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: axum::extract::Request) -> Self::Future {
        let trace_id = TraceId::generate();
        let span = tracing::info_span!(
            "request",
            trace_id = %trace_id,
            caller_trace_id = caller_trace_id(request.headers()),
            method = %request.method(),
            path = %request.uri().path(),
        );
        request.extensions_mut().insert(trace_id.clone());
        let inner = span.in_scope(|| self.inner.call(request));
        TraceFuture {
            inner,
            span,
            trace_id,
            started: std::time::Instant::now(),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Trace`].
    pub struct TraceFuture<F> {
        #[pin]
        inner: F,
        span: tracing::Span,
        trace_id: TraceId,
        started: std::time::Instant,
    }
}

impl<F, E> std::future::Future for TraceFuture<F>
where
    F: std::future::Future<Output = Result<axum::response::Response, E>>,
{
    type Output = Result<axum::response::Response, E>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let mut response = std::task::ready!(this.inner.poll(cx))?;
        if let Ok(value) = axum::http::HeaderValue::from_str(this.trace_id.as_str()) {
            response
                .headers_mut()
                .insert(axum::http::HeaderName::from_static(TRACE_ID_HEADER), value);
        }
        tracing::info!(
            status = response.status().as_u16(),
            operation = super::metrics::operation_of(&response),
            elapsed_ms = this.started.elapsed().as_secs_f64() * 1000.0,
            "request finished"
        );
        std::task::Poll::Ready(Ok(response))
    }
}
