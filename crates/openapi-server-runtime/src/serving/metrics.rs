//! Request metrics, through the `metrics` facade (the service installs a
//! Prometheus recorder; without one they cost a lookup and go nowhere):
//! requests and their latency per `operationId` and status, requests in
//! flight, rate-limit refusals. Unknown routes and methods count under one
//! label, so that a scanner cannot grow the number of series.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;

/// `http_server_requests_total{operation, status}`: requests answered.
pub const REQUESTS: &str = "http_server_requests_total";
/// `http_server_request_duration_seconds{operation, status}`: time to answer.
pub const DURATION: &str = "http_server_request_duration_seconds";
/// `http_server_requests_in_flight`: requests being answered now.
pub const IN_FLIGHT: &str = "http_server_requests_in_flight";
/// `http_server_rate_limited_total{operation}`: requests refused by `Security::admit`.
pub const RATE_LIMITED: &str = "http_server_rate_limited_total";
/// The `operation` label of requests that matched no documented operation
/// (unknown routes and methods, the service's own routes without a label).
pub const UNMATCHED: &str = "unmatched";

/// The `operationId` a response answered, set by the generated handlers
/// (and by [`label`] for other routes) in the response's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation(pub &'static str);

/// The operation label of a response.
pub fn operation_of(response: &Response) -> &'static str {
    response
        .extensions()
        .get::<Operation>()
        .map_or(UNMATCHED, |operation| operation.0)
}

/// Labels every response of `router` with `operation` (for routes that are
/// not operations of the document: `/healthz`, `/metrics`, …).
pub fn label(router: axum::Router, operation: &'static str) -> axum::Router {
    router.layer(axum::middleware::map_response(
        move |mut response: Response| async move {
            response.extensions_mut().insert(Operation(operation));
            response
        },
    ))
}

/// The status as a label, without allocating per request.
fn status_label(status: StatusCode) -> &'static str {
    static LABELS: OnceLock<Vec<&'static str>> = OnceLock::new();
    let labels = LABELS.get_or_init(|| {
        (100..600_u16)
            .map(|code| &*Box::leak(code.to_string().into_boxed_str()))
            .collect()
    });
    labels
        .get(usize::from(status.as_u16()).wrapping_sub(100))
        .copied()
        .unwrap_or("other")
}

/// Counts a refusal of `Security::admit`.
pub(crate) fn rate_limited(operation: &'static str) {
    metrics::counter!(RATE_LIMITED, "operation" => operation).increment(1);
}

/// Records every request: count and latency by operation and status, and
/// the requests in flight.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricsLayer;

impl<S> tower::Layer<S> for MetricsLayer {
    type Service = Metered<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Metered { inner }
    }
}

/// The service of [`MetricsLayer`].
#[derive(Debug, Clone)]
pub struct Metered<S> {
    inner: S,
}

impl<S> tower::Service<Request> for Metered<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = MeteredFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        metrics::gauge!(IN_FLIGHT).increment(1.0);
        MeteredFuture {
            inner: self.inner.call(request),
            started: Instant::now(),
            guard: InFlight,
        }
    }
}

/// Decrements the in-flight gauge however the request ends (answered,
/// cancelled by a closed connection).
struct InFlight;

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!(IN_FLIGHT).decrement(1.0);
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Metered`].
    pub struct MeteredFuture<F> {
        #[pin]
        inner: F,
        started: Instant,
        guard: InFlight,
    }
}

impl<F, E> Future for MeteredFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.inner.poll(cx))?;
        let labels = [
            ("operation", operation_of(&response)),
            ("status", status_label(response.status())),
        ];
        metrics::counter!(REQUESTS, &labels).increment(1);
        metrics::histogram!(DURATION, &labels).record(this.started.elapsed().as_secs_f64());
        Poll::Ready(Ok(response))
    }
}
