//! What every request of the generated client does besides progenitor's
//! work: a W3C `traceparent` (so a request can be followed from the
//! caller's trace into the server's logs) and a `tracing` span with the
//! method, path, status and the server's trace id.

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::header::HeaderValue;
use tracing::Instrument;

/// A new W3C trace context: version 00, a random trace id and parent id,
/// sampled.
pub(crate) fn traceparent() -> String {
    format!(
        "00-{}-{}-01",
        hex::encode(rand::random::<[u8; 16]>()),
        hex::encode(rand::random::<[u8; 8]>())
    )
}

// An implementation for `Client` takes precedence over the generated one for
// `&Client` (progenitor's auto-ref specialization).
impl ClientHooks<()> for crate::Client {
    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        match crate::walk::current() {
            Some(walk) if info.operation_id == "list_audience_prospects" => {
                walk.exec(self.client(), request, info).await
            }
            _ => send(self.client(), request, info).await,
        }
    }
}

/// Sends `request` with a new `traceparent`, in a span that records the
/// status and the server's trace id.
pub(crate) async fn send(
    http: &reqwest::Client,
    mut request: reqwest::Request,
    info: &OperationInfo,
) -> reqwest::Result<reqwest::Response> {
    let traceparent = traceparent();
    if let Ok(value) = HeaderValue::from_str(&traceparent) {
        request.headers_mut().insert("traceparent", value);
    }
    let span = tracing::info_span!(
        "audiences.http",
        operation = info.operation_id,
        method = %request.method(),
        path = %request.url().path(),
        traceparent = %traceparent,
        status = tracing::field::Empty,
        trace_id = tracing::field::Empty,
    );
    let result = http.execute(request).instrument(span.clone()).await;
    match &result {
        Ok(response) => {
            span.record("status", response.status().as_u16());
            if let Some(trace_id) = response
                .headers()
                .get("x-trace-id")
                .and_then(|value| value.to_str().ok())
            {
                span.record("trace_id", tracing::field::display(trace_id));
            }
            span.in_scope(|| tracing::debug!("response"));
        }
        Err(error) => span.in_scope(|| tracing::debug!(%error, "no response")),
    }
    result
}
