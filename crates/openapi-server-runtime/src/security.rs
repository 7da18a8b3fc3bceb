//! Who is calling and whether they may: the [`Security`] hooks an
//! implementation provides, the credentials of each security scheme of the
//! document, and the order the generated router calls them in.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};

use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;

use crate::inputs::params::RawParams;
use crate::outputs::error::ApiError;
use crate::outputs::headers::RateLimitStatus;
use crate::serving::trace::TraceId;

/// What a trait method receives besides its parameters.
#[derive(Debug, Clone)]
pub struct RequestContext<P> {
    /// The trace id of this request; log it, never make up another.
    pub trace_id: TraceId,
    /// Who is calling, as [`Security::authenticate`] established.
    pub principal: P,
    /// Where the method reports the caller's rate-limit state when it
    /// admits the request itself (see [`RateLimitReport`]).
    pub rate_limit: RateLimitReport,
}

/// The rate-limit state a trait method reports when it admits the request
/// itself, because its admission is done with its own work (a database
/// that takes the caller's token and reads the page in one statement):
/// [`Security::admit`] then returns `Ok(None)` for the operation, and the
/// method calls [`RateLimitReport::admitted`], or [`RateLimitReport::refused`]
/// before answering its documented 429. The router sends the
/// `X-RateLimit-*` headers of what was reported, as it does for `admit`'s.
#[derive(Debug, Clone)]
pub struct RateLimitReport {
    operation_id: &'static str,
    status: Arc<OnceLock<RateLimitStatus>>,
}

impl RateLimitReport {
    /// An empty report for a request of `operation_id` (the generated
    /// router makes one per request).
    pub fn new(operation_id: &'static str) -> Self {
        Self {
            operation_id,
            status: Arc::default(),
        }
    }

    /// The request was admitted; `status` gives its headers. The first
    /// report of a request counts.
    pub fn admitted(&self, status: RateLimitStatus) {
        let _ = self.status.set(status);
    }

    /// The request was refused (the method answers its 429); counted in
    /// the rate-limited metric as a refusal of `admit` is.
    pub fn refused(&self, status: RateLimitStatus) {
        if self.status.set(status).is_ok() {
            crate::serving::metrics::rate_limited(self.operation_id);
        }
    }

    /// What was reported, if anything.
    pub fn get(&self) -> Option<RateLimitStatus> {
        self.status.get().copied()
    }
}

/// The credentials a request presented for one security scheme of the
/// document, and, where the document's requirement combines several schemes
/// (`{clientId: [], secret: []}`), for each of them.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    /// The name of the security scheme in the document (`components.securitySchemes`):
    /// the first of the requirement.
    pub scheme: &'static str,
    /// The secret itself: the bearer token, the API key, or for HTTP basic
    /// the base64 text after `Basic ` (see [`Credentials::basic`]).
    pub secret: &'a str,
    /// Every scheme of the requirement with its secret, in the document's
    /// order, the first included (one entry for a requirement of one scheme).
    pub all: &'a [(&'static str, &'a str)],
    /// The address of the peer that sent the request, when served by
    /// [`serve`](crate::serve) (its TCP peer: behind a proxy, the proxy's).
    pub client: Option<IpAddr>,
}

impl<'a> Credentials<'a> {
    /// The secret presented for `scheme` of the requirement.
    pub fn of(&self, scheme: &str) -> Option<&'a str> {
        self.all
            .iter()
            .find(|(name, _)| *name == scheme)
            .map(|(_, secret)| *secret)
    }

    /// The user and password of HTTP basic credentials.
    pub fn basic(&self) -> Option<(String, String)> {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(self.secret)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, password) = text.split_once(':')?;
        Some((user.to_owned(), password.to_owned()))
    }
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let schemes: Vec<&str> = self.all.iter().map(|(scheme, _)| *scheme).collect();
        f.debug_struct("Credentials")
            .field("schemes", &schemes)
            .field("secrets", &"<redacted>")
            .finish()
    }
}

/// The hooks every implementation of a generated API trait provides: who is
/// calling, what they may do, and whether they may call now.
///
/// The generated router calls them in this order, after the parameters were
/// validated and before the body is read: [`Security::authenticate`],
/// [`Security::has_permission`] for each permission the operation's
/// `x-permissions` lists (403), then [`Security::admit`]. A hook's error is
/// answered as it is: normally 401 from `authenticate` and 429 from
/// `admit`, but a hook may answer any status (a 502 when its key store is
/// down, say).
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

    /// Called when a request is refused before [`Security::authenticate`]
    /// could run (no credentials, or several for one scheme), with the
    /// client's address (see [`Credentials::client`]); the answer sent is
    /// what it returns. The default sends `refusal` as it is; an
    /// implementation that bounds failed authentication per client answers
    /// a 429 here once a client is over its bound.
    fn refuse_unauthenticated(&self, client: Option<IpAddr>, refusal: ApiError) -> ApiError {
        let _ = client;
        refusal
    }
}

/// The address of the peer that sent the request, when known.
pub fn client_address(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
}

/// Where a security scheme of the document carries its secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemeKind {
    /// `Authorization: Bearer <secret>` (HTTP bearer, OAuth 2, OpenID Connect).
    Bearer,
    /// `Authorization: Basic <base64>`.
    Basic,
    /// An API key in the named header (lowercase).
    Header(&'static str),
    /// An API key in the named query parameter.
    Query(&'static str),
    /// An API key in the named cookie.
    Cookie(&'static str),
}

/// A security scheme an operation accepts; an operation lists the
/// alternatives in the order of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheme {
    /// The name of the scheme in `components.securitySchemes`.
    pub name: &'static str,
    /// Where its secret travels.
    pub kind: SchemeKind,
}

impl Scheme {
    fn hint(&self) -> String {
        match self.kind {
            SchemeKind::Bearer => "`Authorization: Bearer <key>`".to_owned(),
            SchemeKind::Basic => "`Authorization: Basic <base64 of user:password>`".to_owned(),
            SchemeKind::Header(name) => format!("the `{name}` header"),
            SchemeKind::Query(name) => format!("the `{name}` query parameter"),
            SchemeKind::Cookie(name) => format!("the `{name}` cookie"),
        }
    }
}

enum Found<'a> {
    Present(Cow<'a, str>),
    Absent,
    Malformed(ApiError),
}

/// One credential per request: a header sent twice is refused, never
/// read first-wins.
fn twice(name: &str) -> Found<'static> {
    Found::Malformed(ApiError::unauthorized(format!(
        "several `{name}` headers: send one credential"
    )))
}

fn authorization<'a>(parts: &'a Parts, scheme: &Scheme, word: &str) -> Found<'a> {
    let mut values = parts.headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Found::Absent;
    };
    if values.next().is_some() {
        return twice("Authorization");
    }
    let malformed = || {
        Found::Malformed(ApiError::unauthorized(format!(
            "malformed Authorization header: expected {}",
            scheme.hint()
        )))
    };
    let Ok(text) = value.to_str() else {
        return malformed();
    };
    let Some((given, secret)) = text.split_once(' ') else {
        return malformed();
    };
    let secret = secret.trim();
    if !given.eq_ignore_ascii_case(word) || secret.is_empty() || secret.contains(' ') {
        return malformed();
    }
    Found::Present(Cow::Borrowed(secret))
}

fn find<'a>(parts: &'a Parts, scheme: &Scheme) -> Found<'a> {
    let present = |value: Option<Cow<'a, str>>| match value {
        None => Found::Absent,
        Some(value) if value.trim().is_empty() => Found::Malformed(ApiError::unauthorized(format!(
            "empty credentials: send {}",
            scheme.hint()
        ))),
        Some(value) => Found::Present(value),
    };
    match scheme.kind {
        SchemeKind::Bearer => authorization(parts, scheme, "bearer"),
        SchemeKind::Basic => authorization(parts, scheme, "basic"),
        SchemeKind::Header(name) if parts.headers.get_all(name).iter().nth(1).is_some() => twice(name),
        SchemeKind::Header(name) => match parts.headers.get(name).map(|value| value.to_str()) {
            None => Found::Absent,
            Some(Err(_)) => Found::Malformed(ApiError::unauthorized(format!("malformed `{name}` header"))),
            Some(Ok(text)) => present(Some(Cow::Borrowed(text))),
        },
        SchemeKind::Query(name) => match RawParams::query(parts).one(name) {
            Ok(value) => present(value.map(|value| Cow::Owned(value.to_owned()))),
            Err(_) => Found::Malformed(ApiError::unauthorized(format!(
                "several `{name}` query parameters: send one credential"
            ))),
        },
        SchemeKind::Cookie(name) => match RawParams::cookies(&parts.headers).map(|cookies| {
            cookies
                .one(name)
                .map(|value| value.map(|value| Cow::Owned(value.to_owned())))
        }) {
            Ok(Ok(value)) => present(value),
            _ => Found::Malformed(ApiError::unauthorized(format!(
                "several or malformed `{name}` cookies: send one credential"
            ))),
        },
    }
}

/// What an operation asks of its caller: one of `alternatives` (each the
/// schemes of one requirement of the document, all of which must be
/// presented), then every permission of `permissions`, then admission to
/// `operation_id`.
#[derive(Debug, Clone, Copy)]
pub struct Access {
    /// The requirements, in the document's order.
    pub alternatives: &'static [&'static [Scheme]],
    /// The operation's `x-permissions`.
    pub permissions: &'static [&'static str],
    /// The operation's id, for [`Security::admit`] and the metrics.
    pub operation_id: &'static str,
}

/// The secrets a request presented for one requirement, by scheme.
type Presented<'a> = Vec<(&'static str, Cow<'a, str>)>;

/// The credentials of the first requirement the request presents whole;
/// `None` when it presents none of any requirement. A requirement presented
/// in part, or a malformed secret, is refused naming what is wrong.
fn presented<'a>(parts: &'a Parts, alternatives: &[&[Scheme]]) -> Result<Option<Presented<'a>>, ApiError> {
    let mut refusal = None;
    for schemes in alternatives {
        let mut found = Vec::with_capacity(schemes.len());
        let mut absent = Vec::new();
        for scheme in *schemes {
            match find(parts, scheme) {
                Found::Present(secret) => found.push((scheme.name, secret)),
                Found::Malformed(error) => {
                    refusal.get_or_insert(error);
                }
                Found::Absent => absent.push(scheme),
            }
        }
        if absent.is_empty() && found.len() == schemes.len() {
            return Ok(Some(found));
        }
        if !found.is_empty() && !absent.is_empty() {
            let hints: Vec<String> = absent.iter().map(|scheme| scheme.hint()).collect();
            refusal.get_or_insert(ApiError::unauthorized(format!(
                "incomplete credentials: also send {}",
                hints.join(" and ")
            )));
        }
    }
    match refusal {
        Some(error) => Err(error),
        None => Ok(None),
    }
}

fn missing(alternatives: &[&[Scheme]]) -> ApiError {
    let hints: Vec<String> = alternatives
        .iter()
        .map(|schemes| schemes.iter().map(Scheme::hint).collect::<Vec<_>>().join(" and "))
        .collect();
    ApiError::unauthorized(format!("missing credentials: send {}", hints.join(" or ")))
}

async fn admit_principal<S: Security>(
    security: &S,
    presented: &[(&'static str, Cow<'_, str>)],
    access: &Access,
    trace_id: &TraceId,
    client: Option<IpAddr>,
) -> Result<(S::Principal, Option<RateLimitStatus>), ApiError> {
    let all: Vec<(&'static str, &str)> = presented
        .iter()
        .map(|(scheme, secret)| (*scheme, secret.as_ref()))
        .collect();
    let Some(&(scheme, secret)) = all.first() else {
        return Err(security.refuse_unauthenticated(client, missing(access.alternatives)));
    };
    let principal = security
        .authenticate(
            Credentials {
                scheme,
                secret,
                all: &all,
                client,
            },
            trace_id,
        )
        .await?;
    if let Some(missing) = access
        .permissions
        .iter()
        .find(|permission| !security.has_permission(&principal, permission))
    {
        return Err(ApiError::forbidden(format!(
            "these credentials lack the `{missing}` permission"
        )));
    }
    let rate_limit = security
        .admit(&principal, access.operation_id)
        .await
        .inspect_err(|error| {
            if error.status == axum::http::StatusCode::TOO_MANY_REQUESTS {
                crate::serving::metrics::rate_limited(access.operation_id);
            }
        })?;
    Ok((principal, rate_limit))
}

/// Authenticates, checks permissions and admits a request of an operation
/// that asks for `access`: the part of every secured operation that is not
/// about its parameters.
pub async fn authorize<S: Security>(
    security: &S,
    parts: &Parts,
    access: &Access,
    trace_id: &TraceId,
) -> Result<(S::Principal, Option<RateLimitStatus>), ApiError> {
    let client = client_address(parts);
    let presented = presented(parts, access.alternatives)
        .and_then(|found| found.ok_or_else(|| missing(access.alternatives)))
        .map_err(|refusal| security.refuse_unauthenticated(client, refusal))?;
    admit_principal(security, &presented, access, trace_id, client).await
}

/// As [`authorize`] for an operation whose security is optional (the
/// document lists `{}` among its requirements): a request without
/// credentials is anonymous, `None`, and is not asked to [`Security::admit`].
pub async fn authorize_optional<S: Security>(
    security: &S,
    parts: &Parts,
    access: &Access,
    trace_id: &TraceId,
) -> Result<(Option<S::Principal>, Option<RateLimitStatus>), ApiError> {
    let client = client_address(parts);
    match presented(parts, access.alternatives)
        .map_err(|refusal| security.refuse_unauthenticated(client, refusal))?
    {
        None => Ok((None, None)),
        Some(presented) => {
            let (principal, rate_limit) =
                admit_principal(security, &presented, access, trace_id, client).await?;
            Ok((Some(principal), rate_limit))
        }
    }
}
