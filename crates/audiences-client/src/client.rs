//! The client consumers use: built from a base URL and an API key, with
//! timeouts, retries, typed errors and auto-pagination around the generated
//! progenitor client.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, TryStreamExt};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use tracing::Instrument;

use crate::error::{self, Error};
use crate::generated::parameters::LIST_AUDIENCE_PROSPECTS_LIMIT_MAXIMUM;
use crate::raw::RawPage;
use crate::retry::RetryPolicy;
use crate::types::AudienceProspect;

/// A trusted root certificate (for a private CA): `Certificate::from_pem`.
pub use reqwest::Certificate;

/// Called before the client waits to retry: the failure, and how long it waits.
pub type RetryObserver = Arc<dyn Fn(&Error, Duration) + Send + Sync>;

/// The environment variable holding the API key (read by [`AudiencesClient::from_env`]).
pub const API_KEY_ENV: &str = "AUDIENCES_API_KEY";
/// The environment variable holding the base URL (read by [`AudiencesClient::from_env`]).
pub const BASE_URL_ENV: &str = "AUDIENCES_BASE_URL";

/// Why a client could not be built.
#[derive(Debug)]
pub enum BuildError {
    /// No API key was given.
    MissingApiKey,
    /// The API key cannot be sent in a header (control characters).
    InvalidApiKey,
    /// The base URL is not an `http://` or `https://` URL.
    InvalidBaseUrl(String),
    /// A required environment variable is missing.
    MissingEnv(&'static str),
    /// reqwest refused the configuration.
    Http(reqwest::Error),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::MissingApiKey => f.write_str("no API key: pass one to the builder"),
            BuildError::InvalidApiKey => f.write_str("the API key contains characters a header cannot carry"),
            BuildError::InvalidBaseUrl(url) => {
                write!(f, "base URL `{url}` is not an http:// or https:// URL")
            }
            BuildError::MissingEnv(name) => write!(f, "environment variable {name} is not set"),
            BuildError::Http(error) => write!(f, "cannot build the HTTP client: {error}"),
        }
    }
}

impl std::error::Error for BuildError {}

/// Configures an [`AudiencesClient`].
#[derive(Clone)]
pub struct ClientBuilder {
    base_url: String,
    api_key: Option<String>,
    connect_timeout: Duration,
    timeout: Duration,
    user_agent: Option<String>,
    retry: RetryPolicy,
    roots: Vec<Certificate>,
    compression: Option<bool>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("user_agent", &self.user_agent)
            .field("retry", &self.retry)
            .field("extra_roots", &self.roots.len())
            .field("compression", &self.compression)
            .finish()
    }
}

impl ClientBuilder {
    /// Also trusts `certificate` as a root for HTTPS (a private CA), beside
    /// the platform's roots.
    pub fn add_root_certificate(mut self, certificate: Certificate) -> Self {
        self.roots.push(certificate);
        self
    }

    /// The API key, sent as `Authorization: Bearer …` (marked sensitive).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Longest time to establish a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Longest time for one request, connection to last byte (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The `User-Agent` to send (default `audiences-client/VERSION`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// The retry policy (default [`RetryPolicy::default`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Whether to ask for gzip (`Accept-Encoding: gzip`) and decompress what
    /// comes. By default on, except for a loopback base URL (`localhost`,
    /// `127.0.0.0/8`, `::1`): a page of 100 prospects is about 8x smaller
    /// gzipped, which wins on any link slower than a few hundred Mbit/s and
    /// loses on loopback, where compressing costs CPU and saves nothing
    /// (BENCHMARKS.md §4).
    pub fn compression(mut self, on: bool) -> Self {
        self.compression = Some(on);
        self
    }

    /// The client.
    pub fn build(self) -> Result<AudiencesClient, BuildError> {
        let base_url = self.base_url.trim_end_matches('/').to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(BuildError::InvalidBaseUrl(self.base_url));
        }
        let key = self.api_key.ok_or(BuildError::MissingApiKey)?;
        let mut authorization =
            HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| BuildError::InvalidApiKey)?;
        authorization.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, authorization);
        let compression = self.compression.unwrap_or_else(|| !is_loopback(&base_url));
        let mut http = reqwest::Client::builder().gzip(compression);
        for root in self.roots {
            http = http.add_root_certificate(root);
        }
        let http = http
            .default_headers(headers)
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .user_agent(
                self.user_agent
                    .unwrap_or_else(|| format!("audiences-client/{}", env!("CARGO_PKG_VERSION"))),
            )
            .build()
            .map_err(BuildError::Http)?;
        Ok(AudiencesClient {
            raw: crate::Client::new_with_client(&base_url, http),
            retry: self.retry,
            observer: None,
        })
    }
}

/// Whether `base_url` names this machine (no network between client and
/// server); an unparsable URL counts as remote.
fn is_loopback(base_url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(base_url) else {
        return false;
    };
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

/// The audiences API client: typed errors, retries, pagination.
///
/// Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct AudiencesClient {
    raw: crate::Client,
    retry: RetryPolicy,
    observer: Option<RetryObserver>,
}

impl fmt::Debug for AudiencesClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AudiencesClient")
            .field("base_url", &progenitor_client::ClientInfo::baseurl(&self.raw))
            .field("api_key", &"<redacted>")
            .field("retry", &self.retry)
            .finish()
    }
}

/// The query parameter of `listAudienceProspects` that names the page.
const CURSOR_PARAMETER: &str = "cursor";

/// One page of prospects and what came with it: every property of the
/// documented page (`AudienceProspectPage`) and the envelope's `traceId`
/// (a test compares these fields with the document).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    /// The prospects, in the audience's order.
    pub items: Vec<AudienceProspect>,
    /// The cursor of the next page; `None` on the last one.
    pub next_cursor: Option<String>,
    /// Whether another page follows (`next_cursor` is then `Some`).
    pub has_more: bool,
    /// The request's trace id.
    pub trace_id: String,
}

impl AudiencesClient {
    /// A builder for a client of the API at `base_url` (such as `http://127.0.0.1:8080`).
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.into(),
            api_key: None,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            user_agent: None,
            retry: RetryPolicy::default(),
            roots: Vec::new(),
            compression: None,
        }
    }

    /// A client configured from `AUDIENCES_BASE_URL` and `AUDIENCES_API_KEY`.
    pub fn from_env() -> Result<Self, BuildError> {
        let base_url = std::env::var(BASE_URL_ENV).map_err(|_| BuildError::MissingEnv(BASE_URL_ENV))?;
        let key = std::env::var(API_KEY_ENV).map_err(|_| BuildError::MissingEnv(API_KEY_ENV))?;
        Self::builder(base_url).api_key(key).build()
    }

    /// The generated client underneath, for calls this wrapper does not cover.
    pub fn raw(&self) -> &crate::Client {
        &self.raw
    }

    /// The same client with another retry policy.
    pub fn with_retry(&self, policy: RetryPolicy) -> Self {
        Self {
            retry: policy,
            ..self.clone()
        }
    }

    /// The same client, calling `observer` before each wait to retry (with
    /// the failure and the wait): to tell a person why an export pauses.
    pub fn on_retry(&self, observer: impl Fn(&Error, Duration) + Send + Sync + 'static) -> Self {
        Self {
            observer: Some(Arc::new(observer)),
            ..self.clone()
        }
    }

    /// One page of `audience` in `account_group`: up to `limit` prospects
    /// (the API's default when `None`) after `cursor`. Retried according to
    /// the policy. Parameters are checked by the server, whose 400 names the
    /// parameter, the rule and the value ([`crate::ErrorCode::ValidationError`]).
    pub async fn list_prospects(
        &self,
        account_group: &str,
        audience: &str,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<Page, Error> {
        self.retry
            .run(self.observer.as_deref(), |attempt| {
                let span =
                    tracing::info_span!("audiences.call", operation = "listAudienceProspects", attempt);
                async move {
                    let mut request = self
                        .raw
                        .list_audience_prospects()
                        .account_group_id(account_group)
                        .audience_id(audience);
                    if let Some(limit) = limit {
                        // Larger than the document's type: the server says so.
                        request = request.limit(i32::try_from(limit).unwrap_or(i32::MAX));
                    }
                    if let Some(cursor) = cursor {
                        request = request.cursor(cursor);
                    }
                    match request.send().await {
                        Ok(response) => {
                            let body = response.into_inner();
                            Ok(Page {
                                items: body.data.items,
                                next_cursor: body.data.next_cursor.filter(|_| body.data.has_more),
                                has_more: body.data.has_more,
                                trace_id: body.trace_id,
                            })
                        }
                        Err(generated) => Err(error::from_generated(generated).await),
                    }
                }
                .instrument(span)
            })
            .await
    }

    /// As [`AudiencesClient::list_prospects`], each prospect kept exactly
    /// as the server sent it (after it parsed as the documented type): for
    /// exports that must pass through fields a newer server adds.
    pub async fn list_prospects_raw(
        &self,
        account_group: &str,
        audience: &str,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<RawPage, Error> {
        self.retry
            .run(self.observer.as_deref(), |attempt| {
                let span =
                    tracing::info_span!("audiences.call", operation = "listAudienceProspects", attempt);
                crate::raw::fetch(&self.raw, account_group, audience, limit, cursor).instrument(span)
            })
            .await
    }

    /// Every prospect of an audience, page after page; see [`Prospects`].
    pub fn prospects(&self, account_group: impl Into<String>, audience: impl Into<String>) -> Prospects {
        Prospects {
            client: self.clone(),
            account_group: account_group.into(),
            audience: audience.into(),
            page_size: u32::try_from(LIST_AUDIENCE_PROSPECTS_LIMIT_MAXIMUM).ok(),
            cursor: None,
        }
    }
}

/// Walks an audience: a stream of pages or of prospects, following
/// `nextCursor` until the last page, in pages of the largest size the
/// document allows unless told otherwise ([`Prospects::page_size`]). One
/// page is held at a time, so memory stays flat however large the
/// audience; each page is retried according to the client's policy, and
/// the stream ends after the first error.
#[derive(Debug, Clone)]
pub struct Prospects {
    client: AudiencesClient,
    account_group: String,
    audience: String,
    page_size: Option<u32>,
    cursor: Option<String>,
}

impl Prospects {
    /// Prospects per request (the document allows 1 to
    /// [`LIST_AUDIENCE_PROSPECTS_LIMIT_MAXIMUM`](crate::parameters::LIST_AUDIENCE_PROSPECTS_LIMIT_MAXIMUM),
    /// the default of a walk).
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = Some(size);
        self
    }

    /// Starts after a cursor from an earlier walk, instead of at the beginning.
    pub fn starting_at(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    /// The pages, first to last. The request for each page starts as soon
    /// as the previous page's headers name its cursor, and its body is read
    /// while that page is parsed (at most one page ahead); see the crate docs.
    pub fn pages(self) -> impl Stream<Item = Result<Page, Error>> + Send + 'static {
        self.walk(
            |client, group, audience, size, cursor| async move {
                client
                    .list_prospects(&group, &audience, size, cursor.as_deref())
                    .await
            },
            |page: &Page| page.next_cursor.clone(),
        )
    }

    /// As [`Prospects::pages`], each prospect kept exactly as the server
    /// sent it (see [`RawPage`]).
    pub fn raw_pages(self) -> impl Stream<Item = Result<RawPage, Error>> + Send + 'static {
        self.walk(
            |client, group, audience, size, cursor| async move {
                client
                    .list_prospects_raw(&group, &audience, size, cursor.as_deref())
                    .await
            },
            |page: &RawPage| page.next_cursor.clone(),
        )
    }

    /// The walk with `fetch` asking for one page (client, account group,
    /// audience, page size, cursor) and `next` reading a page's cursor.
    fn walk<P, Fut>(
        self,
        fetch: impl Fn(AudiencesClient, String, String, Option<u32>, Option<String>) -> Fut
        + Send
        + Sync
        + 'static,
        next: fn(&P) -> Option<String>,
    ) -> impl Stream<Item = Result<P, Error>> + Send + 'static
    where
        P: Send + 'static,
        Fut: std::future::Future<Output = Result<P, Error>> + Send + 'static,
    {
        let Self {
            client,
            account_group,
            audience,
            page_size,
            cursor,
        } = self;
        let fetch = move |cursor: Option<String>| {
            fetch(
                client.clone(),
                account_group.clone(),
                audience.clone(),
                page_size,
                cursor,
            )
        };
        crate::walk::pages(cursor, CURSOR_PARAMETER, fetch, next)
    }

    /// The prospects, one by one.
    pub fn items(self) -> impl Stream<Item = Result<AudienceProspect, Error>> + Send + 'static {
        self.pages()
            .map_ok(|page| futures_util::stream::iter(page.items.into_iter().map(Ok)))
            .try_flatten()
    }

    /// Collects every prospect into memory: for small audiences only.
    pub async fn collect_all(self) -> Result<Vec<AudienceProspect>, Error> {
        self.items().try_collect().await
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_is_this_machine_by_name_or_address() {
        for url in [
            "http://localhost:8080",
            "http://LOCALHOST",
            "http://127.0.0.1:1",
            "http://127.9.9.9",
            "http://[::1]:8080/",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in [
            "https://api.example.com",
            "http://10.0.0.1",
            "http://[2001:db8::1]",
            "http://localhost.example.com",
            "not a url",
        ] {
            assert!(!is_loopback(url), "{url}");
        }
    }
}
