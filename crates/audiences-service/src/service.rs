//! The implementation of the generated trait on a [`Store`].

use audiences_server::runtime::{ApiError, Credentials, RateLimitStatus, RequestContext, Security, TraceId};
use audiences_server::{
    AudiencesApi, ListAudienceProspectsPath, ListAudienceProspectsQuery, ListAudienceProspectsResponse,
    error_codes,
};
use audiences_types::{AudienceProspectPage, ErrorDetail, ValidationErrorDetail};

use crate::cursor::CursorCodec;
use crate::keys;
use crate::limits::{KeyRateLimiter, RateLimits};
use crate::store::{AudienceState, KeyRecord, Store, StoreError};

/// Seconds a client should wait before asking again for an audience being populated.
pub const POPULATING_RETRY_AFTER: u64 = 30;

/// The reference service: a store, the cursor secret and the per-key rate limits.
pub struct Service<S> {
    store: S,
    cursors: CursorCodec,
    limiter: KeyRateLimiter,
}

impl<S: Store> Service<S> {
    /// A service over `store`, signing cursors with `cursors`, limiting each
    /// key to `limits`.
    pub fn new(store: S, cursors: CursorCodec, limits: RateLimits) -> Self {
        Self {
            store,
            cursors,
            limiter: KeyRateLimiter::new(limits),
        }
    }

    /// The rate limiter, for periodic clean-up.
    pub fn limiter(&self) -> &KeyRateLimiter {
        &self.limiter
    }

    /// The store, for readiness checks.
    pub fn store(&self) -> &S {
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

impl<S: Store> Security for Service<S> {
    type Principal = KeyRecord;

    async fn authenticate(
        &self,
        credentials: Credentials<'_>,
        trace_id: &TraceId,
    ) -> Result<KeyRecord, ApiError> {
        match self.store.key_by_hash(&keys::hash(credentials.secret)).await {
            Ok(Some(key)) => Ok(key),
            Ok(None) => Err(ApiError::unauthorized("unknown or revoked API key")),
            Err(error) => {
                tracing::error!(%trace_id, %error, "key lookup failed");
                Err(ApiError::upstream())
            }
        }
    }

    fn has_permission(&self, principal: &KeyRecord, permission: &str) -> bool {
        principal.permissions.iter().any(|held| held == permission)
    }

    async fn admit(
        &self,
        principal: &KeyRecord,
        _operation_id: &'static str,
    ) -> Result<Option<RateLimitStatus>, ApiError> {
        self.limiter
            .check(&principal.id)
            .map(Some)
            .map_err(ApiError::from)
    }
}

impl<S: Store> AudiencesApi for Service<S> {
    async fn list_audience_prospects(
        &self,
        cx: RequestContext<KeyRecord>,
        path: ListAudienceProspectsPath,
        query: ListAudienceProspectsQuery,
    ) -> ListAudienceProspectsResponse {
        let group = path.account_group_id.to_ascii_lowercase();
        let audience = path.audience_id.to_ascii_lowercase();
        // Another group's resources answer exactly as missing ones.
        if cx.principal.account_group_id != group {
            return not_found();
        }
        match self.store.audience_state(&group, &audience).await {
            Ok(None) => return not_found(),
            Ok(Some(AudienceState::Populating)) => {
                return ListAudienceProspectsResponse::Conflict {
                    error: ErrorDetail::new(
                        error_codes::AUDIENCE_NOT_READY,
                        "the audience is still being populated by an active prospecting job",
                    ),
                    retry_after: POPULATING_RETRY_AFTER,
                };
            }
            Ok(Some(AudienceState::Ready)) => {}
            Err(error) => return store_failure(&error, &cx.trace_id),
        }
        let after = match query
            .cursor
            .as_deref()
            .map(|cursor| self.cursors.decode(&audience, cursor))
        {
            None => None,
            Some(Ok(position)) => Some(position),
            Some(Err(error)) => {
                return ListAudienceProspectsResponse::BadRequest(ValidationErrorDetail::new(
                    error.to_string(),
                    "cursor",
                ));
            }
        };
        let limit = u32::try_from(query.limit).unwrap_or(1);
        let page = match self.store.page(&audience, after.as_ref(), limit).await {
            Ok(page) => page,
            Err(error) => return store_failure(&error, &cx.trace_id),
        };
        let next_cursor = match page.rows.last() {
            Some(last) if page.has_more => match self.cursors.encode(&audience, &last.position) {
                Some(cursor) => Some(cursor),
                None => {
                    let error = StoreError::Corrupt(format!(
                        "prospect id `{}` is not 24 hex digits",
                        last.position.id
                    ));
                    return store_failure(&error, &cx.trace_id);
                }
            },
            _ => None,
        };
        ListAudienceProspectsResponse::Ok(
            AudienceProspectPage {
                has_more: next_cursor.is_some(),
                next_cursor,
                items: page.rows.into_iter().map(|row| row.prospect).collect(),
            }
            .into(),
        )
    }
}
