#![doc = include_str!("../README.md")]

pub mod cursor;
pub mod demo;
pub mod keys;
pub mod service;
pub mod store;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::service::Service;
use crate::store::Store;

/// The OpenAPI document, served at `/openapi.yaml` and `/openapi.json`.
pub const OPENAPI_YAML: &str = include_str!("../../../openapi/audiences.yaml");

/// The whole application: the generated API routes plus `/healthz`,
/// `/readyz`, `/openapi.yaml` and `/openapi.json`, all behind the runtime's
/// trace middleware and JSON fallbacks.
pub fn app<S: Store>(service: Arc<Service<S>>) -> axum::Router {
    let openapi_json = serde_yaml_to_json(OPENAPI_YAML);
    let ready = Arc::clone(&service);
    let operations = axum::Router::new()
        .route(
            "/healthz",
            get(|| async { axum::Json(serde_json::json!({ "status": "ok" })) }),
        )
        .route(
            "/readyz",
            get(move || {
                let service = Arc::clone(&ready);
                async move {
                    match service.store().ping().await {
                        Ok(()) => (
                            StatusCode::OK,
                            axum::Json(serde_json::json!({ "status": "ready" })),
                        ),
                        Err(error) => {
                            tracing::warn!(%error, "readiness check failed");
                            (
                                StatusCode::SERVICE_UNAVAILABLE,
                                axum::Json(serde_json::json!({ "status": "database unavailable" })),
                            )
                        }
                    }
                }
            }),
        )
        .route(
            "/openapi.yaml",
            get(|| async { ([(CONTENT_TYPE, "application/yaml")], OPENAPI_YAML).into_response() }),
        )
        .route(
            "/openapi.json",
            get(move || {
                let json = openapi_json.clone();
                async move { ([(CONTENT_TYPE, "application/json")], json).into_response() }
            }),
        );
    audiences_server::runtime::finish_router(audiences_server::routes(service).merge(operations))
}

fn serde_yaml_to_json(yaml: &str) -> String {
    let value: serde_json::Value =
        serde_yaml::from_str(yaml).expect("the embedded document is valid YAML (checked by the tests)");
    value.to_string()
}
