//! The implementation of the generated trait on the open [`AnyStore`].

use audiences_server::runtime::{
    ApiError, Credentials, RateLimitReport, RateLimitStatus, RequestContext, Security, TraceId,
};
use std::sync::Arc;

use audiences_server::{
    AudiencesApi, ListAudienceProspectsPath, ListAudienceProspectsQuery, ListAudienceProspectsResponse,
    error_codes, raw,
};
use audiences_types::{ErrorDetail, ValidationErrorDetail};

use crate::attempts::{AttemptLimiter, AttemptLimits};
use crate::cursor::CursorCodec;
use crate::keys;
use crate::keys::KeyCache;
use crate::limits::{KeyRateLimiter, RateLimits, Refused};
use crate::store::{AnyStore, AudienceState, KeyRecord, PageOutcome, PageRequest, SharedLimits, StoreError};

/// Seconds a client should wait before asking again for an audience being populated.
pub const POPULATING_RETRY_AFTER: u64 = 30;

/// The reference service: a store, the cursor secret and the per-key rate limits.
pub struct Service {
    store: AnyStore,
    cursors: CursorCodec,
    limiter: KeyRateLimiter,
    shared_limits: bool,
    keys: KeyCache<KeyRecord>,
    attempts: AttemptLimiter,
    draining: std::sync::atomic::AtomicBool,
}

impl Service {
    /// A service over `store`, signing cursors with `cursors`, limiting each
    /// key to `limits`.
    pub fn new(store: AnyStore, cursors: CursorCodec, limits: RateLimits) -> Self {
        Self {
            store,
            cursors,
            limiter: KeyRateLimiter::new(limits),
            shared_limits: false,
            keys: KeyCache::new(crate::keys::KEY_CACHE_TTL),
            attempts: AttemptLimiter::new(AttemptLimits::default()),
            draining: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Marks the instance as shutting down: `/readyz` fails from now on, so
    /// that a load balancer stops sending it requests while those in flight
    /// finish.
    pub fn begin_draining(&self) {
        self.draining.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether [`Service::begin_draining`] was called.
    pub fn is_draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Trusts what it read of a key for `ttl` (zero: asks the store on every
    /// request); see [`crate::keys::KEY_CACHE_TTL`].
    #[must_use]
    pub fn with_key_cache_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.keys = KeyCache::new(ttl);
        self
    }

    /// Bounds requests without valid credentials per client address and in
    /// all (see `attempts.rs`).
    #[must_use]
    pub fn with_attempt_limits(mut self, limits: AttemptLimits) -> Self {
        self.attempts = AttemptLimiter::new(limits);
        self
    }

    /// Keeps each key's bucket in the store, shared by every instance on it,
    /// when the store can (PostgreSQL); else (SQLite) in this process.
    /// When the store cannot answer, the request is a 502: a limit is never
    /// lifted because its store is down.
    #[must_use]
    pub fn with_shared_rate_limits(mut self, shared: bool) -> Self {
        self.shared_limits = shared;
        self
    }

    /// The rate limiter, for periodic clean-up.
    pub fn limiter(&self) -> &KeyRateLimiter {
        &self.limiter
    }

    /// The store, for readiness checks.
    pub fn store(&self) -> &AnyStore {
        &self.store
    }
}

fn not_found() -> ListAudienceProspectsResponse {
    ListAudienceProspectsResponse::NotFound(ErrorDetail::new(
        error_codes::NOT_FOUND,
        "no such audience in this account group",
    ))
}

fn store_failure(error: &StoreError, trace_id: &TraceId) -> ListAudienceProspectsResponse {
    tracing::error!(%trace_id, %error, "store failure");
    match error {
        StoreError::Unavailable(_) => ListAudienceProspectsResponse::BadGateway(ErrorDetail::new(
            error_codes::UPSTREAM_ERROR,
            "the database did not answer: retry later",
        )),
        StoreError::Corrupt(_) | StoreError::Rejected(_) => {
            ListAudienceProspectsResponse::InternalServerError(ErrorDetail::new(
                error_codes::INTERNAL_ERROR,
                "internal server error: quote the trace id when reporting it",
            ))
        }
    }
}

impl Security for Service {
    type Principal = Arc<KeyRecord>;

    async fn authenticate(
        &self,
        credentials: Credentials<'_>,
        _trace_id: &TraceId,
    ) -> Result<Arc<KeyRecord>, ApiError> {
        let hash = keys::hash(credentials.secret);
        let cached = self.keys.get(&hash);
        metrics::counter!(
            crate::metrics::KEY_CACHE,
            "result" => if cached.is_some() { "hit" } else { "miss" }
        )
        .increment(1);
        // A key known valid takes no token; anything else does, before any lookup.
        if !matches!(cached, Some(Some(_)))
            && let Some(refusal) = self.attempts.take(credentials.client)
        {
            return Err(refusal);
        }
        let found = match cached {
            Some(cached) => cached,
            None => {
                let read_at = std::time::Instant::now();
                match self.store.key_by_hash(&hash).await {
                    Ok(key) => {
                        let key = key.map(Arc::new);
                        self.keys.put(hash, read_at, key.clone());
                        key
                    }
                    // Logged once, with its cause, where the failure is
                    // answered.
                    Err(error) => return Err(ApiError::upstream().with_cause(error)),
                }
            }
        };
        found.ok_or_else(|| ApiError::unauthorized("unknown or revoked API key"))
    }

    fn refuse_unauthenticated(&self, client: Option<std::net::IpAddr>, refusal: ApiError) -> ApiError {
        self.attempts.take(client).unwrap_or(refusal)
    }

    fn has_permission(&self, principal: &Arc<KeyRecord>, permission: &str) -> bool {
        principal.permissions.iter().any(|held| held == permission)
    }

    async fn admit(
        &self,
        principal: &Arc<KeyRecord>,
        _operation_id: &'static str,
    ) -> Result<Option<RateLimitStatus>, ApiError> {
        // A bucket in the database is taken by the handler, in the page's
        // own statement (one round trip; see `take_token`).
        if self.shared().is_some() {
            return Ok(None);
        }
        self.limiter
            .check(&principal.id)
            .map(Some)
            .map_err(ApiError::from)
    }
}

/// The 429 of a request the shared bucket refused, its headers reported.
fn refused(refusal: Refused, report: &RateLimitReport) -> ListAudienceProspectsResponse {
    report.refused(refusal.status);
    ListAudienceProspectsResponse::TooManyRequests {
        error: ErrorDetail::new(
            error_codes::RATE_LIMITED,
            format!("rate limit exceeded: retry after {} s", refusal.retry_after),
        ),
        retry_after: refusal.retry_after,
    }
}

impl Service {
    /// The rate limits kept in the database, when this service uses them.
    fn shared(&self) -> Option<&dyn SharedLimits> {
        self.store.shared_limits().filter(|_| self.shared_limits)
    }

    /// Takes the caller's token from the shared bucket on its own (the
    /// paths that read no page); `Err` is the answer when refused or when
    /// the database fails. Nothing to do when the bucket is in this process
    /// (`admit` took it).
    async fn take_token(
        &self,
        cx: &RequestContext<Arc<KeyRecord>>,
    ) -> Result<(), ListAudienceProspectsResponse> {
        let Some(shared) = self.shared() else {
            return Ok(());
        };
        let limits = self.limiter.limits();
        match shared.take_rate_token(&cx.principal.id, limits).await {
            Ok(taken) => match taken.into_status(limits) {
                Ok(status) => {
                    cx.rate_limit.admitted(status);
                    Ok(())
                }
                Err(refusal) => Err(refused(refusal, &cx.rate_limit)),
            },
            Err(error) => Err(store_failure(&error, &cx.trace_id)),
        }
    }

    /// The page, after the caller's token when the bucket is shared: one
    /// statement either way.
    async fn read_page(
        &self,
        cx: &RequestContext<Arc<KeyRecord>>,
        request: PageRequest<'_>,
    ) -> Result<PageOutcome, ListAudienceProspectsResponse> {
        let Some(shared) = self.shared() else {
            return self
                .store
                .page(
                    request.account_group,
                    request.audience,
                    request.after,
                    request.limit,
                )
                .await
                .map_err(|error| store_failure(&error, &cx.trace_id));
        };
        let limits = self.limiter.limits();
        match shared.take_and_page(&cx.principal.id, limits, request).await {
            Ok((taken, page)) => match (taken.into_status(limits), page) {
                (Ok(status), Some(page)) => {
                    cx.rate_limit.admitted(status);
                    Ok(page)
                }
                (Err(refusal), _) => Err(refused(refusal, &cx.rate_limit)),
                (Ok(_), None) => Err(store_failure(
                    &StoreError::Corrupt("an admitted request without its page".into()),
                    &cx.trace_id,
                )),
            },
            Err(error) => Err(store_failure(&error, &cx.trace_id)),
        }
    }

    /// The answer to a cursor that does not decode: as for any request, a
    /// missing or populating audience is said first.
    async fn bad_cursor(
        &self,
        group: &str,
        audience: &str,
        message: String,
        trace_id: &TraceId,
    ) -> ListAudienceProspectsResponse {
        // A missing audience is a 404 whatever the cursor (existence is
        // the first thing a caller learns); an existing one's bad cursor is
        // a 400 whatever its state: the request is wrong, and retrying it
        // once the audience is ready would not help.
        match self.store.audience_state(group, audience).await {
            Ok(None) => not_found(),
            Ok(Some(AudienceState::Populating | AudienceState::Ready)) => {
                ListAudienceProspectsResponse::BadRequest(ValidationErrorDetail::new(message, "cursor"))
            }
            Err(error) => store_failure(&error, trace_id),
        }
    }
}

fn populating() -> ListAudienceProspectsResponse {
    ListAudienceProspectsResponse::Conflict {
        error: ErrorDetail::new(
            error_codes::AUDIENCE_NOT_READY,
            "the audience is still being populated by an active prospecting job",
        ),
        retry_after: POPULATING_RETRY_AFTER,
    }
}

impl AudiencesApi for Service {
    async fn list_audience_prospects(
        &self,
        cx: RequestContext<Arc<KeyRecord>>,
        path: ListAudienceProspectsPath,
        query: ListAudienceProspectsQuery,
    ) -> ListAudienceProspectsResponse {
        let group = path.account_group_id.to_ascii_lowercase();
        let audience = path.audience_id.to_ascii_lowercase();
        // Another group's resources answer exactly as missing ones.
        if cx.principal.account_group_id != group {
            return self
                .take_token(&cx)
                .await
                .map_or_else(|refusal| refusal, |()| not_found());
        }
        let after = match query
            .cursor
            .as_deref()
            .map(|cursor| self.cursors.decode(&audience, cursor))
        {
            None => None,
            Some(Ok(position)) => Some(position),
            Some(Err(error)) => {
                if let Err(refusal) = self.take_token(&cx).await {
                    return refusal;
                }
                return self
                    .bad_cursor(&group, &audience, error.to_string(), &cx.trace_id)
                    .await;
            }
        };
        let limit = u32::from(query.limit);
        // One statement: the audience's state and the page together (and
        // the caller's token, when the bucket is in the database).
        let request = PageRequest {
            account_group: &group,
            audience: &audience,
            after: after.as_ref(),
            limit,
        };
        let page = match self.read_page(&cx, request).await {
            Ok(PageOutcome::Page(page)) => page,
            Ok(PageOutcome::NotFound) => return not_found(),
            Ok(PageOutcome::Populating) => return populating(),
            Err(answer) => return answer,
        };
        let next_cursor = match &page.last {
            Some(last) if page.has_more => match self.cursors.encode(&audience, last) {
                Some(cursor) => Some(cursor),
                None => {
                    let error =
                        StoreError::Corrupt(format!("prospect id `{}` is not 24 hex digits", last.id));
                    return store_failure(&error, &cx.trace_id);
                }
            },
            _ => None,
        };
        let has_more = next_cursor.is_some();
        // The stored rows are passed through; the page around them is
        // written by the builder generated from the document.
        match raw::audience_prospect_page(page.items, &next_cursor, &has_more) {
            Ok(body) => ListAudienceProspectsResponse::Ok {
                data: body.into(),
                x_next_cursor: next_cursor,
            },
            Err(error) => store_failure(&StoreError::Corrupt(error.to_string()), &cx.trace_id),
        }
    }
}
