//! What the store does, by job: the request path ([`RequestPath`]: a key,
//! a page), operator work ([`Operator`]: keys, audiences, prospects,
//! seeding), and shared rate limits ([`SharedLimits`]), which only a backend
//! several instances share has. A backend is a [`Store`]: both of the first
//! two. The traits are object safe, so the open backend is used as
//! `dyn Store` ([`super::AnyStore`] dereferences to it).

use async_trait::async_trait;

use super::model::{
    AudienceState, KeyRecord, NewKey, PageOutcome, PoolStats, Position, Seed, StoreError, StoredProspect,
};
use crate::limits::{RateLimits, Taken};

/// What a request needs from the database.
#[async_trait]
pub trait RequestPath: Send + Sync + 'static {
    /// The unrevoked key whose SHA-256 is `hash`.
    async fn key_by_hash(&self, hash: &[u8]) -> Result<Option<KeyRecord>, StoreError>;

    /// Up to `limit` prospects of `audience` after `after`, in (createdAt,
    /// id) order, if `audience` is a ready audience of `account_group`: one
    /// statement.
    async fn page(
        &self,
        account_group: &str,
        audience: &str,
        after: Option<&Position>,
        limit: u32,
    ) -> Result<PageOutcome, StoreError>;

    /// The state of `audience` if it exists in `account_group`.
    async fn audience_state(
        &self,
        account_group: &str,
        audience: &str,
    ) -> Result<Option<AudienceState>, StoreError>;

    /// Whether the database answers (readiness).
    async fn ping(&self) -> Result<(), StoreError>;

    /// The connection pool's occupancy, for metrics.
    fn pool_stats(&self) -> PoolStats;

    /// The rate limits every instance on this database shares, if this
    /// backend keeps them (SQLite does not: one process, whose own limiter
    /// holds).
    fn shared_limits(&self) -> Option<&dyn SharedLimits> {
        None
    }
}

/// What the operator commands, the demo seeding and the tests do to the database.
#[async_trait]
pub trait Operator: Send + Sync + 'static {
    /// Sets the state of `audience`; whether it exists.
    async fn set_audience_state(&self, audience: &str, state: AudienceState) -> Result<bool, StoreError>;

    /// Whether `account_group` exists.
    async fn account_group_exists(&self, account_group: &str) -> Result<bool, StoreError>;

    /// Creates an account group.
    async fn create_account_group(&self, id: &str, name: &str) -> Result<(), StoreError>;

    /// Writes `seed` in one transaction unless its account group exists;
    /// whether it wrote. Concurrent calls (several instances starting at
    /// once) write it once: the others wait, then find it.
    async fn seed(&self, seed: &Seed) -> Result<bool, StoreError>;

    /// Creates an audience in `account_group`.
    async fn create_audience(
        &self,
        id: &str,
        account_group: &str,
        name: &str,
        state: AudienceState,
    ) -> Result<(), StoreError>;

    /// Adds prospects to `audience`, all or none.
    async fn insert_prospects(&self, audience: &str, prospects: &[StoredProspect]) -> Result<(), StoreError>;

    /// Removes one prospect; whether it existed.
    async fn delete_prospect(&self, audience: &str, id: &str) -> Result<bool, StoreError>;

    /// How many prospects `audience` holds.
    async fn prospect_count(&self, audience: &str) -> Result<u64, StoreError>;

    /// Stores a key for `account_group`.
    async fn create_key(&self, account_group: &str, key: &NewKey) -> Result<(), StoreError>;

    /// Revokes the key `id`; whether an active key was revoked.
    async fn revoke_key(&self, id: &str) -> Result<bool, StoreError>;

    /// The setting `name`, set to `value` first if it has none.
    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError>;

    /// Refreshes the planner's statistics after a bulk load, so that the
    /// first pages after it use the page index as later ones do (on
    /// PostgreSQL a fresh table without statistics gets a scan and a sort
    /// of the whole audience: 10x slower, measured in BENCHMARKS.md).
    async fn refresh_statistics(&self) -> Result<(), StoreError>;
}

/// Rate limits kept in the database, shared by every instance on it (see
/// [`crate::limits`]).
#[async_trait]
pub trait SharedLimits: Send + Sync {
    /// Takes one request from `key_id`'s bucket.
    async fn take_rate_token(&self, key_id: &str, limits: RateLimits) -> Result<Taken, StoreError>;

    /// Takes one request from `key_id`'s bucket and, when it is admitted,
    /// reads the page as [`RequestPath::page`] does: one statement, one
    /// round trip. `None` when refused (no page is read).
    async fn take_and_page(
        &self,
        key_id: &str,
        limits: RateLimits,
        page: PageRequest<'_>,
    ) -> Result<(Taken, Option<PageOutcome>), StoreError>;
}

/// The page a request asks for (see [`RequestPath::page`]).
#[derive(Debug, Clone, Copy)]
pub struct PageRequest<'a> {
    /// The caller's account group.
    pub account_group: &'a str,
    /// The audience.
    pub audience: &'a str,
    /// The position after which the page starts.
    pub after: Option<&'a Position>,
    /// Prospects per page.
    pub limit: u32,
}

/// A backend: the request path and the operator's work.
pub trait Store: RequestPath + Operator {}

impl<T: RequestPath + Operator> Store for T {}
