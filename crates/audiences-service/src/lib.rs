#![doc = include_str!("../README.md")]

pub mod attempts;
pub mod cursor;
pub mod demo;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod service;
pub mod store;

use std::sync::Arc;

use audiences_server::CONVENTIONS;
use audiences_server::runtime::responses::json_response;
use audiences_server::runtime::{ApiError, RouterLimits, TraceId};
use axum::Extension;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use utoipa_swagger_ui::SwaggerUi;

use crate::service::Service;

/// The OpenAPI document, served at `/openapi.yaml` and `/openapi.json`.
pub const OPENAPI_YAML: &str = include_str!("../../../openapi/audiences.yaml");

/// The success envelope of the operations endpoints.
fn envelope(data: serde_json::Value, trace_id: &TraceId) -> Response {
    json_response(
        StatusCode::OK,
        &serde_json::json!({ "success": true, "data": data, "error": null, "traceId": trace_id.as_str() }),
    )
    .unwrap_or_else(|error| {
        ApiError::internal()
            .with_cause(error)
            .into_response(&CONVENTIONS, trace_id)
    })
}

/// The document as this instance serves it: with a relative server (`/`),
/// so that Swagger UI's "Try it out" and any client reading it reach the
/// instance (or the load balancer) it was fetched from, whatever its
/// address. Returns `(yaml, json)`.
pub fn served_document() -> (String, String) {
    // serde_yaml's values keep the document's order of keys, in both outputs.
    let mut document: serde_yaml::Value = serde_yaml::from_str(OPENAPI_YAML)
        .expect("the embedded document is valid YAML (checked by the tests)");
    document["servers"] = serde_yaml::from_str(
        "- url: /\n  description: The instance (or load balancer) this document was fetched from.\n",
    )
    .expect("a literal list");
    let yaml = serde_yaml::to_string(&document).expect("a YAML value serializes");
    let json = serde_json::to_string(&document).expect("the document has no non-string keys");
    (yaml, json)
}

/// The whole application: the generated API routes plus `/healthz`,
/// `/readyz`, `/openapi.yaml`, `/openapi.json`, Swagger UI at `/docs` and,
/// with a recorder, `/metrics`, all behind the runtime's layers and JSON
/// fallbacks; each route of its own is labelled for the metrics.
pub fn app(
    service: Arc<Service>,
    limits: RouterLimits,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
) -> axum::Router {
    let api = audiences_server::routes(Arc::clone(&service));
    app_around(api, service, limits, metrics)
}

/// What [`app`] puts around the generated router (the health, readiness,
/// document and documentation routes, the runtime's layers, gzip), put
/// around `api` instead: for measuring another router of the same
/// operations against the generated one with everything else equal (the
/// bench's hand-written handler).
pub fn app_around(
    api: axum::Router,
    service: Arc<Service>,
    limits: RouterLimits,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
) -> axum::Router {
    around(api, service, limits, metrics).layer(compression())
}

/// [`app`] without gzip (`--no-compression`): for a deployment whose proxy
/// compresses responses itself.
pub fn app_uncompressed(
    service: Arc<Service>,
    limits: RouterLimits,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
) -> axum::Router {
    let api = audiences_server::routes(Arc::clone(&service));
    around(api, service, limits, metrics)
}

fn around(
    api: axum::Router,
    service: Arc<Service>,
    limits: RouterLimits,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
) -> axum::Router {
    let (yaml, json) = served_document();
    let ready = Arc::clone(&service);
    let label = audiences_server::runtime::metrics::label;
    let health = axum::Router::new().route(
        "/healthz",
        get(|Extension(trace_id): Extension<TraceId>| async move {
            envelope(serde_json::json!({ "status": "ok" }), &trace_id)
        }),
    );
    let readiness = axum::Router::new().route(
        "/readyz",
        get(move |Extension(trace_id): Extension<TraceId>| {
            let service = Arc::clone(&ready);
            async move {
                if service.is_draining() {
                    return ApiError::unavailable("the instance is shutting down")
                        .into_response(&CONVENTIONS, &trace_id);
                }
                match service.store().ping().await {
                    Ok(()) => envelope(serde_json::json!({ "status": "ready" }), &trace_id),
                    Err(error) => ApiError::unavailable("the database does not answer")
                        .with_cause(error)
                        .into_response(&CONVENTIONS, &trace_id),
                }
            }
        }),
    );
    let document = axum::Router::new()
        .route(
            "/openapi.yaml",
            get(move || {
                let yaml = yaml.clone();
                async move { ([(CONTENT_TYPE, "application/yaml")], yaml).into_response() }
            }),
        )
        .route(
            "/openapi.json",
            get(move || {
                let json = json.clone();
                async move { ([(CONTENT_TYPE, "application/json")], json).into_response() }
            }),
        );
    // Swagger UI's own misses (`/docs/nothing`) answer 404 in the envelope,
    // as every other miss does.
    let docs = axum::Router::new()
        .merge(SwaggerUi::new("/docs").config(utoipa_swagger_ui::Config::from("/openapi.json")))
        .layer(axum::middleware::from_fn(
            |request: axum::extract::Request, next: axum::middleware::Next| async move {
                let trace_id = request.extensions().get::<TraceId>().cloned();
                let response = next.run(request).await;
                match trace_id {
                    Some(trace_id) if response.status() == axum::http::StatusCode::NOT_FOUND => {
                        ApiError::not_found("no such file of the documentation")
                            .into_response(&CONVENTIONS, &trace_id)
                    }
                    _ => response,
                }
            },
        ));
    let mut routes = api
        .merge(label(health, "healthz"))
        .merge(label(readiness, "readyz"))
        .merge(label(document, "openapi"))
        .merge(label(docs, "docs"));
    if let Some(handle) = metrics {
        routes = routes.merge(metrics::routes(handle, service.store().clone()));
    }
    audiences_server::runtime::finish_router_with(routes, &CONVENTIONS, limits)
}

/// Bodies of at least this many bytes are gzipped for a client that asks
/// (`Accept-Encoding: gzip`); smaller ones (errors, an empty page) cost
/// more to compress than they save.
pub const COMPRESS_AT_LEAST: u16 = 1024;

/// gzip, negotiated: only for a client whose `Accept-Encoding` names it,
/// at the fastest level (a page of 100 prospects shrinks about 8x at a
/// fraction of the CPU of the default level; BENCHMARKS.md §4), with
/// `Vary: Accept-Encoding` so that caches keep both forms apart.
fn compression() -> tower_http::compression::CompressionLayer<tower_http::compression::predicate::SizeAbove> {
    tower_http::compression::CompressionLayer::new()
        .quality(tower_http::CompressionLevel::Fastest)
        .compress_when(tower_http::compression::predicate::SizeAbove::new(
            COMPRESS_AT_LEAST,
        ))
}

/// Everything the service can be configured with.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Per-key rate limits.
    pub rate_limits: limits::RateLimits,
    /// Database timeouts and pool size.
    pub store_limits: store::StoreLimits,
    /// Request timeout and header limit.
    pub router_limits: RouterLimits,
    /// How long what was read of a key is trusted (the bound on a
    /// revocation's delay); zero asks the store on every request.
    pub key_cache_ttl: std::time::Duration,
    /// Keeps rate limits in the database when it can (PostgreSQL), shared
    /// by every instance; else in this process.
    pub shared_rate_limits: bool,
    /// Bounds on requests without valid credentials.
    pub attempt_limits: attempts::AttemptLimits,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            rate_limits: limits::RateLimits::default(),
            store_limits: store::StoreLimits::default(),
            router_limits: RouterLimits::default(),
            key_cache_ttl: keys::KEY_CACHE_TTL,
            shared_rate_limits: true,
            attempt_limits: attempts::AttemptLimits::default(),
        }
    }
}

/// The service with its demo data, served on a loopback port inside this
/// process: for tests of the service itself and of its consumers (the
/// client, the CLI). Stops when dropped.
pub struct DemoServer {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The seeded keys.
    pub keys: demo::DemoKeys,
    /// The store it serves from (shares the connection pool).
    pub store: store::AnyStore,
    _server: audiences_server::runtime::LoopbackServer,
}

impl DemoServer {
    /// Opens `database_url` (which must be empty), seeds the demo data and serves it.
    pub async fn start(database_url: &str, config: Config) -> Result<Self, store::StoreError> {
        let store = store::AnyStore::open(database_url, config.store_limits).await?;
        let keys = demo::seed(&store, None).await?.ok_or_else(|| {
            store::StoreError::Rejected("the database already holds the demo data".to_owned())
        })?;
        let secret = demo::cursor_secret(&store).await?;
        let service = Arc::new(
            Service::new(
                store.clone(),
                cursor::CursorCodec::new(secret),
                config.rate_limits,
            )
            .with_key_cache_ttl(config.key_cache_ttl)
            .with_attempt_limits(config.attempt_limits),
        );
        let metrics = metrics::recorder().map_err(store::StoreError::Unavailable)?;
        let server =
            audiences_server::runtime::serve_loopback(app(service, config.router_limits, Some(metrics)))
                .await
                .map_err(|error| store::StoreError::Unavailable(format!("cannot listen: {error}")))?;
        Ok(Self {
            base_url: server.base_url.clone(),
            keys,
            store,
            _server: server,
        })
    }
}
