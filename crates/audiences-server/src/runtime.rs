//! The hand-written runtime that generated routers call: trace ids, the error
//! envelope, parameter validation, authentication hooks and the fallbacks.
//!
//! Generated code (`generated.rs` of this crate, and of any crate generated
//! by `cargo xtask generate`) only calls into this module; nothing here knows
//! about a particular operation.

#![allow(
    clippy::result_large_err,
    reason = "ApiError is the cold path of a request; boxing it would cost an allocation per failure"
)]

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use futures_util::FutureExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

/// The response header that carries the trace id of every response.
pub const TRACE_ID_HEADER: &str = "x-trace-id";

/// Largest request body the generated router reads, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Longest piece of client input quoted back in an error message.
const MAX_ECHO_CHARS: usize = 64;

/// The id of one request: 24 lowercase hexadecimal digits, in the body, the
/// `X-Trace-Id` header and every log line of the request.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TraceId(String);

impl TraceId {
    /// A new random trace id (96 random bits).
    pub fn generate() -> Self {
        let bytes: [u8; 12] = rand::random();
        let mut text = String::with_capacity(24);
        for byte in bytes {
            text.push_str(&format!("{byte:02x}"));
        }
        Self(text)
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
/// when the router is used without [`finish_router`].
pub fn trace_id_of(parts: &Parts) -> TraceId {
    parts
        .extensions
        .get::<TraceId>()
        .cloned()
        .unwrap_or_else(TraceId::generate)
}

/// What a trait method receives besides its parameters.
#[derive(Debug, Clone)]
pub struct RequestContext<P> {
    /// The trace id of this request; log it, never make up another.
    pub trace_id: TraceId,
    /// Who is calling, as [`Security::authenticate`] established.
    pub principal: P,
}

/// The credentials a request presented for one security scheme of the document.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    /// The name of the security scheme in the document (`components.securitySchemes`).
    pub scheme: &'static str,
    /// The secret itself: the bearer token or the API key.
    pub secret: &'a str,
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("scheme", &self.scheme)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The rate-limit state of a caller after a request was admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitStatus {
    /// Requests allowed per window.
    pub limit: u64,
    /// Requests left in the current window.
    pub remaining: u64,
    /// Seconds until the window resets.
    pub reset_seconds: u64,
}

/// The hooks every implementation of a generated API trait provides: who is
/// calling, what they may do, and whether they may call now.
///
/// The generated router calls them in this order, after the path and query
/// were validated: [`Security::authenticate`] (a failure is answered as it
/// says, normally 401), [`Security::has_permission`] for each permission the
/// operation's `x-permissions` lists (403), then [`Security::admit`] (429).
pub trait Security: Send + Sync + 'static {
    /// The authenticated caller handed to every trait method.
    type Principal: Send + Sync + 'static;

    /// Establishes who is calling from the presented credentials.
    fn authenticate(
        &self,
        credentials: Credentials<'_>,
        trace_id: &TraceId,
    ) -> impl Future<Output = Result<Self::Principal, ApiError>> + Send;

    /// Whether `principal` holds `permission` (as written in `x-permissions`).
    fn has_permission(&self, principal: &Self::Principal, permission: &str) -> bool;

    /// Admits a request of `principal` to `operation_id`, or refuses it (429).
    /// The default admits everything and sends no rate-limit headers.
    fn admit(
        &self,
        principal: &Self::Principal,
        operation_id: &'static str,
    ) -> impl Future<Output = Result<Option<RateLimitStatus>, ApiError>> + Send {
        let _ = (principal, operation_id);
        async { Ok(None) }
    }
}

/// A failure the runtime answers itself, in the failure envelope: validation,
/// authentication, permission, rate limit, unknown route, panic.
///
/// Only `status`, `code`, `message` and `details` leave the process; keep
/// internal detail in logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable machine code, such as `UNAUTHORIZED`.
    pub code: Cow<'static, str>,
    /// The human message, safe to show.
    pub message: String,
    /// Extra context, such as the name of the offending parameter.
    pub details: Option<String>,
    /// Seconds to wait before retrying, sent as `Retry-After`.
    pub retry_after: Option<u64>,
    /// Rate-limit headers to send with the failure.
    pub rate_limit: Option<RateLimitStatus>,
}

impl ApiError {
    /// A failure with the given status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: Cow::Borrowed(code),
            message: message.into(),
            details: None,
            retry_after: None,
            rate_limit: None,
        }
    }

    /// 400 `VALIDATION_ERROR`, naming what was wrong in `details`.
    pub fn validation(message: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message).with_details(details)
    }

    /// 401 `UNAUTHORIZED`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }

    /// 403 `FORBIDDEN`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

    /// 404 `NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    /// 429 `RATE_LIMITED` with `Retry-After`.
    pub fn rate_limited(retry_after_seconds: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            format!("rate limit exceeded: retry after {retry_after_seconds} s"),
        )
        .with_retry_after(retry_after_seconds)
    }

    /// 500 `INTERNAL_ERROR`; log the cause before returning it.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "internal server error: quote the trace id when reporting it",
        )
    }

    /// 502 `UPSTREAM_ERROR`; log the cause before returning it.
    pub fn upstream() -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            "UPSTREAM_ERROR",
            "an upstream service failed or timed out: retry later",
        )
    }

    /// Sets `details`.
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }

    /// Sets `Retry-After`.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Sets the rate-limit headers sent with this failure.
    pub fn with_rate_limit(mut self, status: RateLimitStatus) -> Self {
        self.rate_limit = Some(status);
        self
    }

    /// The failure envelope of this error, with the request's trace id.
    pub fn into_response_with(self, trace_id: &TraceId) -> Response {
        let body = FailureEnvelope {
            success: false,
            data: (),
            error: ErrorBody {
                code: &self.code,
                message: &self.message,
                details: self.details.as_deref(),
            },
            trace_id: trace_id.as_str(),
        };
        let mut response = json_response(self.status, &body);
        if let Some(seconds) = self.retry_after {
            insert_header(&mut response, "retry-after", seconds);
        }
        if let Some(status) = self.rate_limit {
            insert_rate_limit_headers(&mut response, status);
        }
        response
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

/// The wire shape of every failure the runtime answers itself; the contract
/// tests check it against the document's `ErrorResponse` and
/// `ValidationErrorResponse`.
#[derive(Serialize)]
struct FailureEnvelope<'a> {
    success: bool,
    data: (),
    error: ErrorBody<'a>,
    #[serde(rename = "traceId")]
    trace_id: &'a str,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
    details: Option<&'a str>,
}

/// Serializes `body` as the JSON response with `status`. A serialization
/// failure (a bug) is logged and answered as a 500 envelope.
pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() = status;
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        Err(error) => {
            tracing::error!(%error, "response serialization failed");
            let fallback = br#"{"success":false,"data":null,"error":{"code":"INTERNAL_ERROR","message":"internal server error","details":null},"traceId":""}"#;
            let mut response = Response::new(Body::from(&fallback[..]));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
    }
}

/// The status code of a documented response (the generator checked it).
pub fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A response without a body, such as a 204.
pub fn empty_response(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// Sets a response header from a value that always forms a valid header.
pub fn insert_header(response: &mut Response, name: &'static str, value: impl fmt::Display) {
    if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
}

/// Sets the `X-RateLimit-*` headers.
pub fn insert_rate_limit_headers(response: &mut Response, status: RateLimitStatus) {
    insert_header(response, "x-ratelimit-limit", status.limit);
    insert_header(response, "x-ratelimit-remaining", status.remaining);
    insert_header(response, "x-ratelimit-reset", status.reset_seconds);
}

/// Where a parameter travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A path segment.
    Path,
    /// The query string.
    Query,
    /// A request header.
    Header,
}

impl Location {
    fn noun(self) -> &'static str {
        match self {
            Location::Path => "path parameter",
            Location::Query => "query parameter",
            Location::Header => "header",
        }
    }
}

fn echo(raw: &str) -> String {
    if raw.chars().count() <= MAX_ECHO_CHARS {
        raw.to_owned()
    } else {
        let mut cut: String = raw.chars().take(MAX_ECHO_CHARS).collect();
        cut.push('…');
        cut
    }
}

fn invalid(location: Location, name: &str, rule: impl fmt::Display, raw: Option<&str>) -> ApiError {
    let message = match raw {
        Some(raw) => format!("{} `{name}` {rule} (got `{}`)", location.noun(), echo(raw)),
        None => format!("{} `{name}` {rule}", location.noun()),
    };
    ApiError::validation(message, name.to_owned())
}

/// The raw values of a request's parameters in one location.
pub struct RawParams {
    location: Location,
    values: Vec<(String, String)>,
}

impl RawParams {
    /// The path parameters of the matched route.
    pub async fn path(parts: &mut Parts) -> Result<Self, ApiError> {
        match RawPathParams::from_request_parts(parts, &()).await {
            Ok(params) => Ok(Self {
                location: Location::Path,
                values: params
                    .iter()
                    .map(|(name, value)| (name.to_owned(), value.to_owned()))
                    .collect(),
            }),
            Err(rejection) => Err(ApiError::validation(
                format!("the request path is not valid: {}", rejection.body_text()),
                "path",
            )),
        }
    }

    /// The query string, decoded as `application/x-www-form-urlencoded`.
    pub fn query(parts: &Parts) -> Self {
        let values = parts
            .uri
            .query()
            .map(|query| {
                form_urlencoded::parse(query.as_bytes())
                    .map(|(name, value)| (name.into_owned(), value.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            location: Location::Query,
            values,
        }
    }

    /// The request headers; a value that is not visible ASCII is a 400.
    pub fn headers(headers: &HeaderMap, names: &[&'static str]) -> Result<Self, ApiError> {
        let mut values = Vec::new();
        for name in names {
            for value in headers.get_all(*name) {
                let text = value
                    .to_str()
                    .map_err(|_| invalid(Location::Header, name, "must be visible ASCII text", None))?;
                values.push(((*name).to_owned(), text.to_owned()));
            }
        }
        Ok(Self {
            location: Location::Header,
            values,
        })
    }

    /// The single value of `name`, if given; a repeated scalar is a 400.
    pub fn one(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut found = self
            .values
            .iter()
            .filter(|(key, _)| names_match(self.location, key, name));
        let first = found.next();
        if found.next().is_some() {
            return Err(invalid(self.location, name, "must be given at most once", None));
        }
        Ok(first.map(|(_, value)| value.as_str()))
    }

    /// The value of a required parameter.
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.one(name)?
            .ok_or_else(|| invalid(self.location, name, "is required", None))
    }

    /// Every value of an array parameter: repeated keys (`explode`), or one
    /// comma-separated value otherwise.
    pub fn many(&self, name: &str, explode: bool) -> Vec<&str> {
        let header = self.location == Location::Header;
        let raw = self
            .values
            .iter()
            .filter(|(key, _)| names_match(self.location, key, name))
            .map(|(_, value)| value.as_str());
        if explode && !header {
            raw.collect()
        } else {
            raw.flat_map(|value| value.split(',').map(str::trim)).collect()
        }
    }

    /// Where these parameters travel.
    pub fn location(&self) -> Location {
        self.location
    }
}

/// Header names compare without case, other parameter names exactly.
fn names_match(location: Location, key: &str, name: &str) -> bool {
    if location == Location::Header {
        key.eq_ignore_ascii_case(name)
    } else {
        key == name
    }
}

/// A regular expression of the document, compiled on first use.
///
/// The common shape of id patterns, one anchored ASCII character class with
/// a count (`^[0-9a-fA-F]{24}$`, `^[a-z_]+$`), is checked directly: it was
/// the largest cost the generated layer added per request (regex-lite's
/// PikeVM, about 1.5% of the instructions of a page). Anything else goes to
/// regex-lite.
pub struct Pattern {
    source: &'static str,
    compiled: OnceLock<Matcher>,
}

enum Matcher {
    /// `^[set]{min,max}$` over ASCII.
    Class {
        set: [bool; 128],
        min: usize,
        max: Option<usize>,
    },
    Regex(regex_lite::Regex),
}

/// `^[set]{quantifier}$` with a plain ASCII set (characters and ranges,
/// no escapes, no negation), or `None`.
fn simple_class(source: &str) -> Option<Matcher> {
    let body = source.strip_prefix("^[")?.strip_suffix('$')?;
    let (class, quantifier) = body.split_once(']')?;
    if class.is_empty() || class.starts_with('^') || class.contains(['\\', '[', ']']) || !class.is_ascii() {
        return None;
    }
    let mut set = [false; 128];
    let bytes = class.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        let start = bytes[index];
        if index + 2 < bytes.len() && bytes[index + 1] == b'-' {
            let end = bytes[index + 2];
            if end < start {
                return None;
            }
            for byte in start..=end {
                set[usize::from(byte)] = true;
            }
            index += 3;
        } else {
            set[usize::from(start)] = true;
            index += 1;
        }
    }
    let (min, max) = match quantifier {
        "" => (1, Some(1)),
        "+" => (1, None),
        "*" => (0, None),
        counted => {
            let counted = counted.strip_prefix('{')?.strip_suffix('}')?;
            match counted.split_once(',') {
                None => {
                    let exact = counted.parse().ok()?;
                    (exact, Some(exact))
                }
                Some((min, "")) => (min.parse().ok()?, None),
                Some((min, max)) => (min.parse().ok()?, Some(max.parse().ok()?)),
            }
        }
    };
    Some(Matcher::Class { set, min, max })
}

impl Pattern {
    /// A pattern from the document; the generator checked that it compiles.
    pub const fn new(source: &'static str) -> Self {
        Self {
            source,
            compiled: OnceLock::new(),
        }
    }

    fn is_match(&self, text: &str) -> bool {
        let matcher = self.compiled.get_or_init(|| {
            simple_class(self.source).unwrap_or_else(|| {
                Matcher::Regex(
                    regex_lite::Regex::new(self.source).expect("the generator checked this pattern"),
                )
            })
        });
        match matcher {
            Matcher::Class { set, min, max } => {
                let mut count = 0;
                for character in text.chars() {
                    if !set.get(character as usize).copied().unwrap_or(false) {
                        return false;
                    }
                    count += 1;
                }
                count >= *min && max.is_none_or(|max| count <= max)
            }
            Matcher::Regex(regex) => regex.is_match(text),
        }
    }
}

/// The rules of a string parameter.
pub struct StringRules {
    /// `minLength`, in characters.
    pub min_length: Option<usize>,
    /// `maxLength`, in characters.
    pub max_length: Option<usize>,
    /// `pattern`.
    pub pattern: Option<&'static Pattern>,
}

/// Checks a string parameter against its rules.
pub fn parse_string(
    location: Location,
    name: &str,
    raw: &str,
    rules: &StringRules,
) -> Result<String, ApiError> {
    let length = raw.chars().count();
    if let Some(max) = rules.max_length
        && length > max
    {
        return Err(invalid(
            location,
            name,
            format!("must be at most {max} characters long"),
            None,
        ));
    }
    if let Some(min) = rules.min_length
        && length < min
    {
        let rule = format!("must be at least {min} characters long");
        return Err(invalid(location, name, rule, Some(raw)));
    }
    if let Some(pattern) = rules.pattern
        && !pattern.is_match(raw)
    {
        let rule = format!("must match the pattern `{}`", pattern.source);
        return Err(invalid(location, name, rule, Some(raw)));
    }
    Ok(raw.to_owned())
}

/// The rules of an integer parameter.
pub struct IntegerRules {
    /// `minimum` (inclusive).
    pub minimum: Option<i64>,
    /// `maximum` (inclusive).
    pub maximum: Option<i64>,
}

impl IntegerRules {
    fn describe(&self) -> String {
        match (self.minimum, self.maximum) {
            (Some(min), Some(max)) => format!("must be an integer from {min} to {max}"),
            (Some(min), None) => format!("must be an integer of at least {min}"),
            (None, Some(max)) => format!("must be an integer of at most {max}"),
            (None, None) => "must be an integer".to_owned(),
        }
    }
}

/// Parses an integer parameter (decimal digits, optionally after `-`, as in
/// JSON: `+5` is refused) and checks its bounds and that it fits `T`.
pub fn parse_integer<T: TryFrom<i64>>(
    location: Location,
    name: &str,
    raw: &str,
    rules: &IntegerRules,
) -> Result<T, ApiError> {
    let fail = || invalid(location, name, rules.describe(), Some(raw));
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(fail());
    }
    let value: i64 = raw.parse().map_err(|_| fail())?;
    if rules.minimum.is_some_and(|min| value < min) || rules.maximum.is_some_and(|max| value > max) {
        return Err(fail());
    }
    T::try_from(value).map_err(|_| fail())
}

/// The rules of a number parameter.
pub struct NumberRules {
    /// `minimum` (inclusive).
    pub minimum: Option<f64>,
    /// `maximum` (inclusive).
    pub maximum: Option<f64>,
}

/// Parses a finite number parameter and checks its bounds.
pub fn parse_number(location: Location, name: &str, raw: &str, rules: &NumberRules) -> Result<f64, ApiError> {
    let rule = match (rules.minimum, rules.maximum) {
        (Some(min), Some(max)) => format!("must be a number from {min} to {max}"),
        (Some(min), None) => format!("must be a number of at least {min}"),
        (None, Some(max)) => format!("must be a number of at most {max}"),
        (None, None) => "must be a number".to_owned(),
    };
    match raw.parse::<f64>() {
        Ok(value)
            if value.is_finite()
                && !rules.minimum.is_some_and(|min| value < min)
                && !rules.maximum.is_some_and(|max| value > max) =>
        {
            Ok(value)
        }
        _ => Err(invalid(location, name, rule, Some(raw))),
    }
}

/// Parses `true` or `false`.
pub fn parse_boolean(location: Location, name: &str, raw: &str) -> Result<bool, ApiError> {
    match raw {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(location, name, "must be `true` or `false`", Some(raw))),
    }
}

/// Parses a parameter whose type is a named schema of the document (an enum,
/// say), from its JSON string form.
pub fn parse_named<T: DeserializeOwned>(
    location: Location,
    name: &str,
    raw: &str,
    expected: &str,
) -> Result<T, ApiError> {
    serde_json::from_value(serde_json::Value::String(raw.to_owned()))
        .map_err(|_| invalid(location, name, format!("must be {expected}"), Some(raw)))
}

/// Checks the number of items of an array parameter.
pub fn check_items(
    location: Location,
    name: &str,
    count: usize,
    min_items: Option<usize>,
    max_items: Option<usize>,
) -> Result<(), ApiError> {
    if let Some(min) = min_items
        && count < min
    {
        return Err(invalid(
            location,
            name,
            format!("needs at least {min} items"),
            None,
        ));
    }
    if let Some(max) = max_items
        && count > max
    {
        return Err(invalid(
            location,
            name,
            format!("takes at most {max} items"),
            None,
        ));
    }
    Ok(())
}

/// Reads and deserializes a JSON request body: a wrong content type, an
/// oversized body (413) or JSON that does not fit the schema (400) answer the
/// envelope. `None` when the body is optional and absent.
pub async fn json_body<T: DeserializeOwned>(
    parts: &Parts,
    body: Body,
    required: bool,
) -> Result<Option<T>, ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("the request body exceeds {MAX_BODY_BYTES} bytes"),
        )
    })?;
    if bytes.is_empty() {
        return if required {
            Err(ApiError::validation("a JSON request body is required", "body"))
        } else {
            Ok(None)
        };
    }
    let is_json = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim();
            mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")
        });
    if !is_json {
        return Err(ApiError::validation(
            "the request body must be sent as `Content-Type: application/json`",
            "body",
        ));
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|error| ApiError::validation(format!("the request body is not valid: {error}"), "body"))
}

/// Reads and deserializes a required JSON request body.
pub async fn json_body_required<T: DeserializeOwned>(parts: &Parts, body: Body) -> Result<T, ApiError> {
    json_body(parts, body, true)
        .await?
        .ok_or_else(|| ApiError::validation("a JSON request body is required", "body"))
}

/// The secret of an HTTP bearer scheme, from `Authorization: Bearer <secret>`.
pub fn bearer_secret(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing API key: send `Authorization: Bearer <key>`"))?;
    let malformed = || ApiError::unauthorized("malformed Authorization header: expected `Bearer <key>`");
    let text = value.to_str().map_err(|_| malformed())?;
    let (scheme, secret) = text.split_once(' ').ok_or_else(malformed)?;
    let secret = secret.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || secret.is_empty() || secret.contains(' ') {
        return Err(malformed());
    }
    Ok(secret)
}

/// The secret of an API-key-in-header scheme.
pub fn header_secret<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<&'h str, ApiError> {
    let value = headers
        .get(name)
        .ok_or_else(|| ApiError::unauthorized(format!("missing API key: send the `{name}` header")))?;
    value
        .to_str()
        .ok()
        .filter(|text| !text.trim().is_empty())
        .ok_or_else(|| ApiError::unauthorized(format!("malformed `{name}` header")))
}

/// Authenticates, checks permissions and admits a request: the part of every
/// secured operation that is not about its parameters.
pub async fn authorize<S: Security>(
    security: &S,
    credentials: Result<Credentials<'_>, ApiError>,
    permissions: &[&'static str],
    operation_id: &'static str,
    trace_id: &TraceId,
) -> Result<(S::Principal, Option<RateLimitStatus>), ApiError> {
    let principal = security.authenticate(credentials?, trace_id).await?;
    if let Some(missing) = permissions
        .iter()
        .find(|permission| !security.has_permission(&principal, permission))
    {
        return Err(ApiError::forbidden(format!(
            "this API key lacks the `{missing}` permission"
        )));
    }
    let rate_limit = security.admit(&principal, operation_id).await?;
    Ok((principal, rate_limit))
}

/// Limits the runtime applies to every request, before the handler runs.
#[derive(Debug, Clone, Copy)]
pub struct RouterLimits {
    /// Longest time a request may take; past it the client gets a 500
    /// envelope and the handler is dropped.
    pub request_timeout: Duration,
    /// Largest total size of the request headers (names and values); past it
    /// the client gets a 431 envelope.
    pub max_header_bytes: usize,
}

impl Default for RouterLimits {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            max_header_bytes: 16 * 1024,
        }
    }
}

/// Adds what every generated router needs with the default [`RouterLimits`]:
/// see [`finish_router_with`].
pub fn finish_router(router: Router) -> Router {
    finish_router_with(router, RouterLimits::default())
}

/// Adds what every generated router needs: JSON envelopes for unknown routes
/// (404) and wrong methods (405), a trace id per request (body, `X-Trace-Id`
/// header, log span), a 500 envelope for a panicking handler, a 500 envelope
/// for a request past `limits.request_timeout`, and a 431 envelope for
/// headers past `limits.max_header_bytes`.
pub fn finish_router_with(router: Router, limits: RouterLimits) -> Router {
    router
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(limits, trace_requests))
}

async fn route_not_found(request: Request) -> Response {
    let (parts, _) = request.into_parts();
    ApiError::not_found(format!(
        "no route for {} {}",
        parts.method,
        echo(parts.uri.path())
    ))
    .into_response_with(&trace_id_of(&parts))
}

async fn method_not_allowed(request: Request) -> Response {
    let (parts, _) = request.into_parts();
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!(
            "method {} is not allowed on {}",
            parts.method,
            echo(parts.uri.path())
        ),
    )
    .into_response_with(&trace_id_of(&parts))
}

fn header_bytes(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

async fn trace_requests(State(limits): State<RouterLimits>, mut request: Request, next: Next) -> Response {
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
    let outcome = if headers > limits.max_header_bytes {
        span.in_scope(|| tracing::warn!(header_bytes = headers, "request headers too large"));
        Ok(ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "REQUEST_HEADERS_TOO_LARGE",
            format!(
                "the request headers take {headers} bytes; at most {} are accepted",
                limits.max_header_bytes
            ),
        )
        .into_response_with(&trace_id))
    } else {
        let handler = AssertUnwindSafe(next.run(request).instrument(span.clone())).catch_unwind();
        match tokio::time::timeout(limits.request_timeout, handler).await {
            Ok(outcome) => outcome,
            Err(_) => {
                span.in_scope(|| tracing::error!("request timed out"));
                Ok(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "INTERNAL_ERROR",
                    format!(
                        "the request did not finish within {} s: quote the trace id when reporting it",
                        limits.request_timeout.as_secs()
                    ),
                )
                .into_response_with(&trace_id))
            }
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
            span.in_scope(|| tracing::error!(panic = %reason, "request handler panicked"));
            ApiError::internal().into_response_with(&trace_id)
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

/// A router served on a free loopback port in the background (see
/// [`serve_loopback`]); stops when dropped.
pub struct LoopbackServer {
    /// `http://127.0.0.1:PORT`, for a client's base URL.
    pub base_url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `router` on a free port of 127.0.0.1 in the background: for tests
/// (of the [`mock`](crate::mock) API, or of an implementation).
pub async fn serve_loopback(router: Router) -> std::io::Result<LoopbackServer> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "loopback server stopped");
        }
    });
    Ok(LoopbackServer { base_url, task })
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    static HEX24: Pattern = Pattern::new("^[0-9a-fA-F]{24}$");

    fn limit_rules() -> IntegerRules {
        IntegerRules {
            minimum: Some(1),
            maximum: Some(100),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

        #[test]
        fn an_integer_is_accepted_exactly_when_it_is_decimal_and_in_bounds(raw in "[-+0-9a-z. ]{0,24}|[0-9]{1,4}") {
            let parsed = parse_integer::<i32>(Location::Query, "limit", &raw, &limit_rules());
            let expected = raw
                .strip_prefix('-')
                .unwrap_or(&raw)
                .bytes()
                .all(|byte| byte.is_ascii_digit())
                .then(|| raw.parse::<i64>().ok())
                .flatten()
                .filter(|value| (1..=100).contains(value));
            match (parsed, expected) {
                (Ok(value), Some(expected)) => prop_assert_eq!(i64::from(value), expected),
                (Err(error), None) => {
                    prop_assert_eq!(error.status, StatusCode::BAD_REQUEST);
                    prop_assert_eq!(error.details.as_deref(), Some("limit"));
                }
                (parsed, expected) => prop_assert!(false, "{raw:?}: {parsed:?} but expected {expected:?}"),
            }
        }

        #[test]
        fn the_character_class_fast_path_agrees_with_regex_lite(
            which in 0_usize..6,
            text in "[0-9a-zA-Z_\\-. é]{0,30}",
        ) {
            const PATTERNS: [&str; 6] = [
                "^[0-9a-fA-F]{24}$",
                "^[a-z_]+$",
                "^[A-Za-z0-9_-]*$",
                "^[0-9]{2,5}$",
                "^[a-c.]{3,}$",
                "^[x]$",
            ];
            let pattern = Pattern::new(PATTERNS[which]);
            let fast = matches!(simple_class(PATTERNS[which]), Some(Matcher::Class { .. }));
            prop_assert!(fast, "{} takes the fast path", PATTERNS[which]);
            let reference = regex_lite::Regex::new(PATTERNS[which]).unwrap();
            prop_assert_eq!(pattern.is_match(&text), reference.is_match(&text), "{} on {:?}", PATTERNS[which], text);
        }

        #[test]
        fn a_string_is_accepted_exactly_when_it_meets_its_rules(raw in "\\PC{0,30}|[0-9a-f]{24}") {
            let rules = StringRules {
                min_length: Some(24),
                max_length: Some(24),
                pattern: Some(&HEX24),
            };
            let parsed = parse_string(Location::Path, "audienceId", &raw, &rules);
            let valid = raw.chars().count() == 24 && raw.chars().all(|c| c.is_ascii_hexdigit());
            prop_assert_eq!(parsed.is_ok(), valid, "{:?}", raw);
            if let Ok(value) = parsed {
                prop_assert_eq!(value, raw);
            }
        }
    }
}
