//! Storage: one trait, [`Store`], and two implementations chosen at start-up
//! by the database URL: [`SqliteStore`] (embedded, the default; rusqlite on
//! tokio's blocking pool) and [`PostgresStore`] (sqlx, for several
//! instances). Domain errors only; the store knows nothing of HTTP.
//!
//! A page is one statement in the common case: the audience's state and its
//! prospects come back together, and the prospects come back as the JSON
//! text they were stored as (written by this store from typed values, so
//! passed through unparsed; see [`row_is_framed`]).

mod postgres;
mod sqlite;

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use audiences_server::runtime::{RawJson, RawJsonArray};
use audiences_types::AudienceProspect;

use crate::limits::{RateLimits, Taken};

pub use postgres::PostgresStore;
pub use sqlite::{Held, SqliteStore};

/// Why the store could not answer.
#[derive(Debug)]
pub enum StoreError {
    /// The database is unreachable, timed out, or is locked (a 502).
    Unavailable(String),
    /// A row does not hold what the schema promises (a 500).
    Corrupt(String),
    /// The database refused a write: a duplicate id or an unknown reference.
    Rejected(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Unavailable(cause) => write!(f, "database unavailable: {cause}"),
            StoreError::Corrupt(cause) => write!(f, "corrupt row: {cause}"),
            StoreError::Rejected(cause) => write!(f, "refused by the database: {cause}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// An API key as stored: its account group and permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// The key's id (not the secret).
    pub id: String,
    /// The account group the key belongs to.
    pub account_group_id: String,
    /// The permissions the key holds.
    pub permissions: Vec<String>,
}

/// The `permissions` column of `api_keys` (both stores): the permissions
/// separated by spaces.
pub(crate) fn permissions_column(permissions: &[String]) -> String {
    permissions.join(" ")
}

/// The permissions of a `permissions` column.
pub(crate) fn permissions_of_column(column: &str) -> Vec<String> {
    column.split_whitespace().map(str::to_owned).collect()
}

/// Whether an audience can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudienceState {
    /// Its prospects can be listed.
    Ready,
    /// A prospecting job is still filling it (409).
    Populating,
}

impl AudienceState {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            AudienceState::Ready => "ready",
            AudienceState::Populating => "populating",
        }
    }

    fn parse(stored: &str) -> Result<Self, StoreError> {
        match stored {
            "ready" => Ok(AudienceState::Ready),
            "populating" => Ok(AudienceState::Populating),
            other => Err(StoreError::Corrupt(format!("audience status `{other}`"))),
        }
    }
}

/// The keyset position of a prospect in its audience.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// When the prospect was added, in microseconds since the Unix epoch.
    pub created_at: i64,
    /// The prospect id (24 hexadecimal digits).
    pub id: String,
}

impl Position {
    /// The page statement's keyset bounds after `after`: (created_at, id),
    /// before every prospect when `None`.
    pub(crate) fn bounds(after: Option<&Self>) -> (i64, &str) {
        after.map_or((i64::MIN, ""), |position| {
            (position.created_at, position.id.as_str())
        })
    }
}

/// A prospect and its position, to be written.
#[derive(Debug, Clone)]
pub struct StoredProspect {
    /// Where it sits in the audience's order.
    pub position: Position,
    /// What the API returns.
    pub prospect: AudienceProspect,
}

/// One page of a ready audience.
#[derive(Debug, Default)]
pub struct Page {
    /// The prospects, in (createdAt, id) order, as their stored JSON.
    pub items: RawJsonArray<AudienceProspect>,
    /// The position of the last of them.
    pub last: Option<Position>,
    /// Whether more prospects follow the last one.
    pub has_more: bool,
}

/// What a page request finds.
#[derive(Debug)]
pub enum PageOutcome {
    /// The audience is ready: a page of it.
    Page(Page),
    /// No such audience in the account group.
    NotFound,
    /// The audience is being populated.
    Populating,
}

/// How long the store waits before it calls the database unavailable, and
/// how many connections it opens.
#[derive(Debug, Clone, Copy)]
pub struct StoreLimits {
    /// Longest wait for a pooled connection, and for each query.
    pub query_timeout: Duration,
    /// Connections in the pool.
    pub max_connections: u32,
}

impl Default for StoreLimits {
    fn default() -> Self {
        Self {
            query_timeout: Duration::from_secs(3),
            max_connections: 16,
        }
    }
}

/// A key to create: only its hash is stored.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// The key's id.
    pub id: String,
    /// SHA-256 of the secret.
    pub hash: Vec<u8>,
    /// The permissions it holds.
    pub permissions: Vec<String>,
}

/// An account group with its audiences, prospects and keys, written in one
/// transaction by [`Store::seed`].
#[derive(Debug, Clone)]
pub struct Seed {
    /// The account group's id.
    pub account_group: String,
    /// Its name.
    pub name: String,
    /// Its audiences: (id, name, state, prospects).
    pub audiences: Vec<(String, String, AudienceState, Vec<StoredProspect>)>,
    /// Its keys.
    pub keys: Vec<NewKey>,
}

/// What the service, the demo seeding and the operator commands need from a
/// database.
pub trait Store: Send + Sync + 'static {
    /// The unrevoked key whose SHA-256 is `hash`.
    fn key_by_hash(&self, hash: &[u8]) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send;

    /// Up to `limit` prospects of `audience` after `after`, in (createdAt,
    /// id) order, if `audience` is a ready audience of `account_group`: one
    /// statement.
    fn page(
        &self,
        account_group: &str,
        audience: &str,
        after: Option<&Position>,
        limit: u32,
    ) -> impl Future<Output = Result<PageOutcome, StoreError>> + Send;

    /// The state of `audience` if it exists in `account_group`.
    fn audience_state(
        &self,
        account_group: &str,
        audience: &str,
    ) -> impl Future<Output = Result<Option<AudienceState>, StoreError>> + Send;

    /// Sets the state of `audience`; whether it exists.
    fn set_audience_state(
        &self,
        audience: &str,
        state: AudienceState,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Whether the database answers (readiness).
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Whether `account_group` exists.
    fn account_group_exists(
        &self,
        account_group: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Creates an account group.
    fn create_account_group(
        &self,
        id: &str,
        name: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Writes `seed` in one transaction unless its account group exists;
    /// whether it wrote. Concurrent calls (several instances starting at
    /// once) write it once: the others wait, then find it.
    fn seed(&self, seed: &Seed) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Creates an audience in `account_group`.
    fn create_audience(
        &self,
        id: &str,
        account_group: &str,
        name: &str,
        state: AudienceState,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Adds prospects to `audience`, all or none.
    fn insert_prospects(
        &self,
        audience: &str,
        prospects: &[StoredProspect],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes one prospect; whether it existed.
    fn delete_prospect(
        &self,
        audience: &str,
        id: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// How many prospects `audience` holds.
    fn prospect_count(&self, audience: &str) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Stores a key for `account_group`.
    fn create_key(
        &self,
        account_group: &str,
        key: &NewKey,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Revokes the key `id`; whether an active key was revoked.
    fn revoke_key(&self, id: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The setting `name`, set to `value` first if it has none.
    fn setting_or_insert(
        &self,
        name: &str,
        value: &str,
    ) -> impl Future<Output = Result<String, StoreError>> + Send;

    /// Refreshes the planner's statistics after a bulk load, so that the
    /// first pages after it use the page index as later ones do (on
    /// PostgreSQL a fresh table without statistics gets a scan and a sort
    /// of the whole audience: 10x slower, measured in BENCHMARKS.md).
    fn refresh_statistics(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Takes one request from `key_id`'s bucket in the database, shared by
    /// every instance on it (see [`crate::limits`]); `None` when this store
    /// keeps no shared buckets (SQLite: one process, whose own limiter holds).
    fn take_rate_token(
        &self,
        key_id: &str,
        limits: RateLimits,
    ) -> impl Future<Output = Result<Option<Taken>, StoreError>> + Send;

    /// The connection pool's occupancy, for metrics.
    fn pool_stats(&self) -> PoolStats;
}

/// How full a connection pool is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open.
    pub size: u32,
    /// Connections open and idle.
    pub idle: u32,
    /// The most connections the pool opens.
    pub max: u32,
}

/// `store_query_duration_seconds{query}`: time of each store query.
pub const QUERY_DURATION: &str = "store_query_duration_seconds";
/// `db_pool_acquire_duration_seconds`: time waiting for a pooled connection.
pub const ACQUIRE_DURATION: &str = "db_pool_acquire_duration_seconds";

fn unix_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
}

/// The stored JSON of a prospect: its compact serialization, checked to be
/// framed as [`row_is_framed`] expects.
fn stored_json(stored: &StoredProspect) -> Result<String, StoreError> {
    let text = RawJson::from_value(&stored.prospect)
        .map_err(|error| StoreError::Rejected(format!("prospect does not serialize: {error}")))?
        .into_string();
    if stored.prospect.id != stored.position.id || !row_is_framed(&stored.position.id, &text) {
        return Err(StoreError::Rejected(format!(
            "prospect `{}` is not stored under its own id",
            stored.position.id
        )));
    }
    Ok(text)
}

/// Whether a stored row looks as this store writes it: one JSON object
/// holding `"id":"<the row's id>"` as serde_json writes it. Rows are written
/// only from typed values ([`stored_json`] checks the same framing), so a
/// row that passes is passed through as the `AudienceProspect` it was,
/// unparsed; a row replaced, truncated or swapped behind the store's back
/// fails here and is a 500 rather than wrong or invalid JSON sent to a
/// client. It costs a substring search, not a parse (a full check of the
/// JSON syntax alone would cost about 0.9 µs a row, see BENCHMARKS.md).
pub fn row_is_framed(id: &str, data: &str) -> bool {
    static KEY: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"id\":\""));
    let bytes = data.as_bytes();
    let width = KEY.needle().len();
    data.starts_with('{')
        && data.ends_with('}')
        && KEY.find_iter(bytes).any(|at| {
            bytes[at + width..]
                .strip_prefix(id.as_bytes())
                .is_some_and(|rest| rest.first() == Some(&b'"'))
        })
}

/// Appends one fetched row to `page`, after checking that it is UTF-8 and
/// framed as written; the last row's position is kept without an
/// allocation per row.
fn push_row(page: &mut Page, created_at: i64, id: &str, data: &[u8]) -> Result<(), StoreError> {
    let corrupt = || StoreError::Corrupt(format!("prospect `{id}`: stored data is not as written"));
    let data = simdutf8::basic::from_utf8(data).map_err(|_| corrupt())?;
    if !row_is_framed(id, data) {
        return Err(corrupt());
    }
    page.items.push_trusted(data);
    match &mut page.last {
        Some(last) => {
            last.created_at = created_at;
            last.id.clear();
            last.id.push_str(id);
        }
        None => {
            page.last = Some(Position {
                created_at,
                id: id.to_owned(),
            });
        }
    }
    Ok(())
}

/// Room for a page of `limit` rows of typical size.
fn page_with_capacity(limit: u32) -> Page {
    Page {
        items: RawJsonArray::with_capacity(limit as usize * 1_024),
        ..Page::default()
    }
}

/// The store `DATABASE_URL` names: `sqlite://FILE` or `postgres://…`.
#[derive(Clone)]
pub enum AnyStore {
    /// The embedded database.
    Sqlite(SqliteStore),
    /// A PostgreSQL server.
    Postgres(PostgresStore),
}

impl AnyStore {
    /// Opens the database `url` names and applies its migrations.
    pub async fn open(url: &str, limits: StoreLimits) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(AnyStore::Sqlite(SqliteStore::open(url, limits).await?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(AnyStore::Postgres(PostgresStore::open(url, limits).await?))
        } else {
            Err(StoreError::Rejected(
                "unsupported database URL: use sqlite://FILE or postgres://USER@HOST/DB".to_owned(),
            ))
        }
    }

    /// `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        match self {
            AnyStore::Sqlite(_) => "sqlite",
            AnyStore::Postgres(_) => "postgres",
        }
    }
}

/// The open backend's answer to `$call`.
macro_rules! dispatch {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Sqlite($store) => $call,
            AnyStore::Postgres($store) => $call,
        }
    };
}

impl Store for AnyStore {
    async fn key_by_hash(&self, hash: &[u8]) -> Result<Option<KeyRecord>, StoreError> {
        dispatch!(self, store => store.key_by_hash(hash).await)
    }

    async fn page(
        &self,
        account_group: &str,
        audience: &str,
        after: Option<&Position>,
        limit: u32,
    ) -> Result<PageOutcome, StoreError> {
        dispatch!(self, store => store.page(account_group, audience, after, limit).await)
    }

    async fn audience_state(
        &self,
        account_group: &str,
        audience: &str,
    ) -> Result<Option<AudienceState>, StoreError> {
        dispatch!(self, store => store.audience_state(account_group, audience).await)
    }

    async fn set_audience_state(&self, audience: &str, state: AudienceState) -> Result<bool, StoreError> {
        dispatch!(self, store => store.set_audience_state(audience, state).await)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, store => store.ping().await)
    }

    async fn account_group_exists(&self, account_group: &str) -> Result<bool, StoreError> {
        dispatch!(self, store => store.account_group_exists(account_group).await)
    }

    async fn create_account_group(&self, id: &str, name: &str) -> Result<(), StoreError> {
        dispatch!(self, store => store.create_account_group(id, name).await)
    }

    async fn seed(&self, seed: &Seed) -> Result<bool, StoreError> {
        dispatch!(self, store => store.seed(seed).await)
    }

    async fn create_audience(
        &self,
        id: &str,
        account_group: &str,
        name: &str,
        state: AudienceState,
    ) -> Result<(), StoreError> {
        dispatch!(self, store => store.create_audience(id, account_group, name, state).await)
    }

    async fn insert_prospects(&self, audience: &str, prospects: &[StoredProspect]) -> Result<(), StoreError> {
        dispatch!(self, store => store.insert_prospects(audience, prospects).await)
    }

    async fn delete_prospect(&self, audience: &str, id: &str) -> Result<bool, StoreError> {
        dispatch!(self, store => store.delete_prospect(audience, id).await)
    }

    async fn prospect_count(&self, audience: &str) -> Result<u64, StoreError> {
        dispatch!(self, store => store.prospect_count(audience).await)
    }

    async fn create_key(&self, account_group: &str, key: &NewKey) -> Result<(), StoreError> {
        dispatch!(self, store => store.create_key(account_group, key).await)
    }

    async fn revoke_key(&self, id: &str) -> Result<bool, StoreError> {
        dispatch!(self, store => store.revoke_key(id).await)
    }

    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError> {
        dispatch!(self, store => store.setting_or_insert(name, value).await)
    }

    async fn refresh_statistics(&self) -> Result<(), StoreError> {
        dispatch!(self, store => store.refresh_statistics().await)
    }

    async fn take_rate_token(&self, key_id: &str, limits: RateLimits) -> Result<Option<Taken>, StoreError> {
        dispatch!(self, store => store.take_rate_token(key_id, limits).await)
    }

    fn pool_stats(&self) -> PoolStats {
        dispatch!(self, store => store.pool_stats())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_framed_by_its_own_id() {
        let id = "6650000000000000000000aa";
        assert!(row_is_framed(id, &format!("{{\"id\":\"{id}\",\"name\":\"x\"}}")));
        assert!(row_is_framed(
            id,
            &format!("{{\"about\":null,\"id\":\"{id}\",\"name\":\"x\"}}")
        ));
        for bad in [
            format!("{{\"id\": \"{id}\"}}"),
            format!("{{\"id\":\"{id}0\"}}"),
            format!("{{\"id\":\"{id}\",\"name\":\"x\""),
            "{\"id\": 42, \"secret\": \"/var/lib/x\"}".to_owned(),
            String::new(),
        ] {
            assert!(!row_is_framed(id, &bad), "{bad}");
        }
    }
}
