//! What every generated router gets around its routes: JSON fallbacks for
//! unknown routes and methods, a trace id per request, and the limits that
//! hold before a handler runs.

use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::response::Response;

use super::guard::{CatchPanicLayer, HeaderLimitLayer, TimeoutLayer};
use super::metrics::MetricsLayer;
use crate::inputs::params::echo;
use crate::outputs::conventions::{Conventions, Failure};
use crate::outputs::error::ApiError;
use crate::serving::trace::{TraceLayer, trace_id_of};

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

/// Adds what every generated router needs: failures for unknown routes
/// (404) and wrong methods (405), and one stack of tower layers, one
/// concern each, outermost first: [`TraceLayer`] (a trace id per request:
/// extensions, `X-Trace-Id`, log span, access line), [`MetricsLayer`],
/// [`HeaderLimitLayer`] (431), [`CatchPanicLayer`] (500) and
/// [`TimeoutLayer`] (500), each failure written as `conventions` say.
pub fn finish_router_with(router: Router, conventions: &'static Conventions, limits: RouterLimits) -> Router {
    let layers = tower::ServiceBuilder::new()
        .layer(TraceLayer)
        .layer(MetricsLayer)
        .layer(HeaderLimitLayer {
            max_headers: limits.max_headers,
            max_header_bytes: limits.max_header_bytes,
            conventions,
        })
        .layer(CatchPanicLayer { conventions })
        .layer(TimeoutLayer {
            timeout: limits.request_timeout,
            conventions,
        });
    router
        .fallback(move |request: Request| route_not_found(conventions, request))
        .method_not_allowed_fallback(move |request: Request| method_not_allowed(conventions, request))
        .layer(layers)
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
