//! Typed errors: what the API said (status, machine code, message, trace id,
//! `Retry-After`), kept apart from transport failures.

use std::fmt;
use std::time::Duration;

use crate::types::ErrorResponse;
pub use audiences_types::ErrorCode;

/// A failure the API answered in its envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// The machine code.
    pub code: ErrorCode,
    /// The human message.
    pub message: String,
    /// Extra context: for `VALIDATION_ERROR`, the parameter at fault.
    pub details: Option<String>,
    /// The request's trace id (body, or `X-Trace-Id`); quote it to support.
    pub trace_id: Option<String>,
    /// `Retry-After`, when sent (409, 429).
    pub retry_after: Option<Duration>,
}

/// Everything a call can fail with.
#[derive(Debug)]
pub enum Error {
    /// The API answered with a documented failure.
    Api(ApiError),
    /// No usable answer: connection refused or reset, DNS, timeout.
    Transport(reqwest::Error),
    /// The request was refused before sending: a malformed id or cursor.
    InvalidRequest(String),
    /// An answer the API does not document (a proxy's page, a body that does
    /// not decode).
    InvalidResponse {
        /// The HTTP status, when there was a response.
        status: Option<u16>,
        /// What was wrong with it.
        message: String,
    },
}

impl Error {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(error) => Some(error.status),
            Error::Transport(error) => error.status().map(|status| status.as_u16()),
            Error::InvalidRequest(_) => None,
            Error::InvalidResponse { status, .. } => *status,
        }
    }

    /// The envelope's machine code, when the API answered in it.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Error::Api(error) => Some(&error.code),
            _ => None,
        }
    }

    /// The documented failure, when this is one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(error) => Some(error),
            _ => None,
        }
    }

    /// The trace id of the failed request, when the server sent one.
    pub fn trace_id(&self) -> Option<&str> {
        self.api().and_then(|error| error.trace_id.as_deref())
    }

    /// `Retry-After`, when the server sent it.
    pub fn retry_after(&self) -> Option<Duration> {
        self.api().and_then(|error| error.retry_after)
    }

    /// Whether the same request may succeed later: 429, 502, 503, 504, and
    /// connection failures or timeouts. Never 400, 401, 403, 404; 409 only
    /// when waiting for readiness was asked for (see `RetryPolicy`).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Api(error) => matches!(error.status, 429 | 502 | 503 | 504),
            Error::Transport(error) => error.is_connect() || error.is_timeout() || error.is_request(),
            Error::InvalidResponse { status, .. } => matches!(status, Some(429 | 502 | 503 | 504)),
            Error::InvalidRequest(_) => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Api(error) => {
                write!(f, "{} {}: {}", error.status, error.code, error.message)?;
                if let Some(details) = &error.details {
                    write!(f, " ({details})")?;
                }
                if let Some(after) = error.retry_after {
                    write!(f, "; retry after {} s", after.as_secs())?;
                }
                if let Some(trace_id) = &error.trace_id {
                    write!(f, " [trace id {trace_id}]")?;
                }
                Ok(())
            }
            Error::Transport(error) => {
                let mut text = format!("cannot reach the API: {error}");
                let mut source = std::error::Error::source(error);
                while let Some(cause) = source {
                    text.push_str(&format!(": {cause}"));
                    source = cause.source();
                }
                f.write_str(&text)?;
                if text.contains("certificate") {
                    f.write_str(
                        " (the server's TLS certificate is not trusted: add its CA with \
                         ClientBuilder::add_root_certificate, or name a CA bundle in SSL_CERT_FILE)",
                    )?;
                }
                Ok(())
            }
            Error::InvalidRequest(message) => write!(f, "invalid request, not sent: {message}"),
            Error::InvalidResponse {
                status: Some(status),
                message,
            } => write!(f, "unexpected answer from the API (HTTP {status}): {message}"),
            Error::InvalidResponse {
                status: None,
                message,
            } => {
                write!(f, "unexpected answer from the API: {message}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Transport(error) => Some(error),
            _ => None,
        }
    }
}

fn header<'h>(headers: &'h reqwest::header::HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// `Retry-After` in seconds (the API sends seconds, never a date).
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    header(headers, "retry-after")
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

fn from_envelope(status: u16, headers: &reqwest::header::HeaderMap, body: ErrorResponse) -> ApiError {
    ApiError {
        status,
        code: ErrorCode::from(body.error.code.as_str()),
        message: body.error.message,
        details: body.error.details,
        trace_id: Some(body.trace_id).or_else(|| header(headers, "x-trace-id").map(str::to_owned)),
        retry_after: retry_after(headers),
    }
}

/// Turns the generated client's error into ours; reads the body of an
/// undocumented answer to find an envelope in it.
pub(crate) async fn from_generated(error: progenitor_client::Error<ErrorResponse>) -> Error {
    use progenitor_client::Error as Generated;
    match error {
        Generated::ErrorResponse(response) => {
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            Error::Api(from_envelope(status, &headers, response.into_inner()))
        }
        Generated::CommunicationError(error) | Generated::ResponseBodyError(error) => Error::Transport(error),
        Generated::InvalidRequest(message) => Error::InvalidRequest(message),
        Generated::UnexpectedResponse(response) => {
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response.bytes().await.unwrap_or_default();
            match serde_json::from_slice::<ErrorResponse>(&body) {
                // The runtime's own answers (405, 413, 431) use the envelope too.
                Ok(envelope) => Error::Api(from_envelope(status, &headers, envelope)),
                Err(_) => Error::InvalidResponse {
                    status: Some(status),
                    message: format!(
                        "undocumented status with a non-envelope body: {}",
                        String::from_utf8_lossy(&body[..body.len().min(200)])
                    ),
                },
            }
        }
        Generated::InvalidResponsePayload(body, error) => Error::InvalidResponse {
            status: None,
            message: format!(
                "the body does not match the document: {error}; {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ),
        },
        Generated::InvalidUpgrade(error) => Error::Transport(error),
        Generated::Custom(message) => Error::InvalidResponse {
            status: None,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_code_round_trips_with_its_status_and_unknown_codes_are_kept() {
        let document: serde_json::Value =
            serde_yaml::from_str(include_str!("../../../openapi/audiences.yaml")).unwrap();
        let declared =
            document["components"]["schemas"]["ErrorDetail"]["properties"]["code"]["x-error-codes"]
                .as_array()
                .unwrap()
                .clone();
        assert!(declared.len() >= 8, "{declared:?}");
        for entry in &declared {
            let code = entry["code"].as_str().unwrap();
            let parsed = ErrorCode::from(code);
            assert!(!matches!(parsed, ErrorCode::Other(_)), "{code} has a variant");
            assert_eq!(parsed.as_str(), code);
            assert_eq!(parsed.status().map(u64::from), entry["status"].as_u64(), "{code}");
        }
        assert_eq!(
            ErrorCode::from("QUOTA_EXCEEDED"),
            ErrorCode::Other("QUOTA_EXCEEDED".into())
        );
        assert_eq!(ErrorCode::from("QUOTA_EXCEEDED").as_str(), "QUOTA_EXCEEDED");
        assert_eq!(ErrorCode::Other("X".into()).status(), None);
    }

    #[test]
    fn the_message_names_status_code_retry_and_trace_id() {
        let error = Error::Api(ApiError {
            status: 409,
            code: ErrorCode::AudienceNotReady,
            message: "the audience is still being populated".into(),
            details: None,
            trace_id: Some("6650a1b2c3d4e5f601234567".into()),
            retry_after: Some(Duration::from_secs(30)),
        });
        assert_eq!(
            error.to_string(),
            "409 AUDIENCE_NOT_READY: the audience is still being populated; retry after 30 s \
             [trace id 6650a1b2c3d4e5f601234567]"
        );
        assert!(!error.is_transient());
    }
}
