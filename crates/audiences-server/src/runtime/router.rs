//! What every generated router gets around its routes: JSON fallbacks for
//! unknown routes and methods, a trace id per request, and the limits that
//! hold before a handler runs.

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::header::{HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use futures_util::FutureExt;
use tracing::Instrument;

use super::conventions::{Conventions, Failure};
use super::error::ApiError;
use super::params::echo;
use super::trace::{TRACE_ID_HEADER, TraceId, trace_id_of};

/// Limits the runtime applies to every request, before the handler runs.
#[derive(Debug, Clone, Copy)]
pub struct RouterLimits {
    /// Longest time a request may take; past it the client gets a 500
    /// envelope and the handler is dropped.
    pub request_timeout: Duration,
    /// Largest total size of the request headers (names and values); past it
    /// the client gets a 431 envelope.
    pub max_header_bytes: usize,
    /// Most request headers; past it the client gets a 431 envelope (the
    /// HTTP parser's own limit, `ServeOptions::max_parsed_headers`, is higher).
    pub max_headers: usize,
}

impl Default for RouterLimits {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            max_headers: 100,
        }
    }
}

/// Adds what every generated router needs with the default [`RouterLimits`]:
/// see [`finish_router_with`].
pub fn finish_router(router: Router, conventions: &'static Conventions) -> Router {
    finish_router_with(router, conventions, RouterLimits::default())
}

#[derive(Clone, Copy)]
struct Settings {
    conventions: &'static Conventions,
    limits: RouterLimits,
}

/// Adds what every generated router needs: failures for unknown routes
/// (404) and wrong methods (405), a trace id per request (body, `X-Trace-Id`
/// header, log span), a 500 for a panicking handler, a 500 for a request
/// past `limits.request_timeout`, and a 431 for headers past
/// `limits.max_header_bytes`, each written as `conventions` say.
pub fn finish_router_with(router: Router, conventions: &'static Conventions, limits: RouterLimits) -> Router {
    router
        .fallback(move |request: Request| route_not_found(conventions, request))
        .method_not_allowed_fallback(move |request: Request| method_not_allowed(conventions, request))
        .layer(middleware::from_fn_with_state(
            Settings { conventions, limits },
            trace_requests,
        ))
}

async fn route_not_found(conventions: &'static Conventions, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    ApiError::not_found(format!(
        "no route for {} {}",
        parts.method,
        echo(parts.uri.path())
    ))
    .into_response(conventions, &trace_id_of(&parts))
}

async fn method_not_allowed(conventions: &'static Conventions, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    ApiError::failure(
        Failure::MethodNotAllowed,
        format!(
            "method {} is not allowed on {}",
            parts.method,
            echo(parts.uri.path())
        ),
    )
    .into_response(conventions, &trace_id_of(&parts))
}

fn header_bytes(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

async fn trace_requests(State(settings): State<Settings>, mut request: Request, next: Next) -> Response {
    let Settings { conventions, limits } = settings;
    let trace_id = TraceId::generate();
    request.extensions_mut().insert(trace_id.clone());
    let span = tracing::info_span!(
        "request",
        trace_id = %trace_id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let started = Instant::now();
    let headers = header_bytes(request.headers());
    let count = request.headers().len();
    let outcome = if count > limits.max_headers {
        span.in_scope(|| tracing::warn!(headers = count, "too many request headers"));
        Ok(ApiError::failure(
            Failure::HeadersTooLarge,
            format!(
                "the request has {count} headers; at most {} are accepted",
                limits.max_headers
            ),
        )
        .into_response(conventions, &trace_id))
    } else if headers > limits.max_header_bytes {
        span.in_scope(|| tracing::warn!(header_bytes = headers, "request headers too large"));
        Ok(ApiError::failure(
            Failure::HeadersTooLarge,
            format!(
                "the request headers take {headers} bytes; at most {} are accepted",
                limits.max_header_bytes
            ),
        )
        .into_response(conventions, &trace_id))
    } else {
        let handler = AssertUnwindSafe(next.run(request).instrument(span.clone())).catch_unwind();
        match tokio::time::timeout(limits.request_timeout, handler).await {
            Ok(outcome) => outcome,
            Err(_) => Ok(span.in_scope(|| {
                ApiError::failure(
                    Failure::Internal,
                    format!(
                        "the request did not finish within {} s: quote the trace id when reporting it",
                        limits.request_timeout.as_secs()
                    ),
                )
                .with_cause("request timed out")
                .into_response(conventions, &trace_id)
            })),
        }
    };
    let mut response = match outcome {
        Ok(response) => response,
        Err(panic) => {
            let reason = panic
                .downcast_ref::<&str>()
                .map(|text| (*text).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-text panic payload".to_owned());
            span.in_scope(|| {
                ApiError::internal()
                    .with_cause(format!("request handler panicked: {reason}"))
                    .into_response(conventions, &trace_id)
            })
        }
    };
    if let Ok(value) = HeaderValue::from_str(trace_id.as_str()) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(TRACE_ID_HEADER), value);
    }
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request finished"
        )
    });
    response
}
