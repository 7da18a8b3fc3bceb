//! The limits every request meets before (and while) a handler runs, each
//! its own tower layer: header count and size (431), a panicking handler
//! (500, logged with its reason), a request past its time limit (500). Each
//! answers as the document's conventions say, with the request's trace id.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::FutureExt;
use futures_util::future::{CatchUnwind, Either, Ready, ready as now};
use tokio::time::Sleep;

use crate::outputs::conventions::{Conventions, Failure};
use crate::outputs::error::ApiError;
use crate::serving::trace::TraceId;

fn trace_id(request: &Request) -> TraceId {
    request
        .extensions()
        .get::<TraceId>()
        .cloned()
        .unwrap_or_else(TraceId::generate)
}

fn header_bytes(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

/// Refuses requests with more than `max_headers` headers, or headers
/// larger than `max_header_bytes` in all, with a 431.
#[derive(Debug, Clone, Copy)]
pub struct HeaderLimitLayer {
    /// Most headers.
    pub max_headers: usize,
    /// Largest total size of names and values, in bytes.
    pub max_header_bytes: usize,
    /// How the refusal is written.
    pub conventions: &'static Conventions,
}

impl<S> tower::Layer<S> for HeaderLimitLayer {
    type Service = HeaderLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HeaderLimit { inner, limits: *self }
    }
}

/// The service of [`HeaderLimitLayer`].
#[derive(Debug, Clone)]
pub struct HeaderLimit<S> {
    inner: S,
    limits: HeaderLimitLayer,
}

impl<S, E> tower::Service<Request> for HeaderLimit<S>
where
    S: tower::Service<Request, Response = Response, Error = E>,
{
    type Response = Response;
    type Error = E;
    type Future = Either<Ready<Result<Response, E>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), E>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let count = request.headers().len();
        let refusal = if count > self.limits.max_headers {
            Some(format!(
                "the request has {count} headers; at most {} are accepted",
                self.limits.max_headers
            ))
        } else {
            let bytes = header_bytes(request.headers());
            (bytes > self.limits.max_header_bytes).then(|| {
                format!(
                    "the request headers take {bytes} bytes; at most {} are accepted",
                    self.limits.max_header_bytes
                )
            })
        };
        match refusal {
            Some(message) => {
                tracing::warn!(headers = count, "request headers refused: {message}");
                let response = ApiError::failure(Failure::HeadersTooLarge, message)
                    .into_response(self.limits.conventions, &trace_id(&request));
                Either::Left(now(Ok(response)))
            }
            None => Either::Right(self.inner.call(request)),
        }
    }
}

fn panic_reason(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic payload".to_owned())
}

/// Answers a panicking handler with a 500 (the reason is logged, never sent).
#[derive(Debug, Clone, Copy)]
pub struct CatchPanicLayer {
    /// How the answer is written.
    pub conventions: &'static Conventions,
}

impl<S> tower::Layer<S> for CatchPanicLayer {
    type Service = CatchPanic<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CatchPanic {
            inner,
            conventions: self.conventions,
        }
    }
}

/// The service of [`CatchPanicLayer`].
#[derive(Debug, Clone)]
pub struct CatchPanic<S> {
    inner: S,
    conventions: &'static Conventions,
}

impl<S, E> tower::Service<Request> for CatchPanic<S>
where
    S: tower::Service<Request, Response = Response, Error = E>,
{
    type Response = Response;
    type Error = E;
    type Future = CatchPanicFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), E>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let trace_id = trace_id(&request);
        let conventions = self.conventions;
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(request))) {
            Ok(future) => CatchPanicFuture {
                inner: Some(AssertUnwindSafe(future).catch_unwind()),
                early: None,
                trace_id,
                conventions,
            },
            Err(panic) => CatchPanicFuture {
                inner: None,
                early: Some(panic_reason(&*panic)),
                trace_id,
                conventions,
            },
        }
    }
}

fn panicked(reason: &str, trace_id: &TraceId, conventions: &'static Conventions) -> Response {
    ApiError::internal()
        .with_cause(format!("request handler panicked: {reason}"))
        .into_response(conventions, trace_id)
}

pin_project_lite::pin_project! {
    /// The future of [`CatchPanic`].
    pub struct CatchPanicFuture<F> {
        // `None` when the handler panicked before it returned a future.
        #[pin]
        inner: Option<CatchUnwind<AssertUnwindSafe<F>>>,
        early: Option<String>,
        trace_id: TraceId,
        conventions: &'static Conventions,
    }
}

impl<F, E> Future for CatchPanicFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let reason = match this.inner.as_pin_mut() {
            Some(inner) => match ready!(inner.poll(cx)) {
                Ok(outcome) => return Poll::Ready(outcome),
                Err(panic) => panic_reason(&*panic),
            },
            None => this.early.take().unwrap_or_default(),
        };
        Poll::Ready(Ok(panicked(&reason, this.trace_id, this.conventions)))
    }
}

/// Answers a request that takes longer than `timeout` with a 500, dropping
/// its handler.
#[derive(Debug, Clone, Copy)]
pub struct TimeoutLayer {
    /// The longest time a request may take.
    pub timeout: Duration,
    /// How the answer is written.
    pub conventions: &'static Conventions,
}

impl<S> tower::Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Timeout {
            inner,
            settings: *self,
        }
    }
}

/// The service of [`TimeoutLayer`].
#[derive(Debug, Clone)]
pub struct Timeout<S> {
    inner: S,
    settings: TimeoutLayer,
}

impl<S, E> tower::Service<Request> for Timeout<S>
where
    S: tower::Service<Request, Response = Response, Error = E>,
{
    type Response = Response;
    type Error = E;
    type Future = TimeoutFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), E>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        TimeoutFuture {
            trace_id: trace_id(&request),
            inner: self.inner.call(request),
            sleep: tokio::time::sleep(self.settings.timeout),
            settings: self.settings,
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Timeout`].
    pub struct TimeoutFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Sleep,
        trace_id: TraceId,
        settings: TimeoutLayer,
    }
}

impl<F, E> Future for TimeoutFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(outcome) = this.inner.poll(cx) {
            return Poll::Ready(outcome);
        }
        ready!(this.sleep.poll(cx));
        Poll::Ready(Ok(ApiError::failure(
            Failure::Internal,
            format!(
                "the request did not finish within {} s: quote the trace id when reporting it",
                this.settings.timeout.as_secs()
            ),
        )
        .with_cause("request timed out")
        .into_response(this.settings.conventions, this.trace_id)))
    }
}
