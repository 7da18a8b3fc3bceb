//! What the store reads and writes: its errors, keys, audiences, keyset
//! positions, pages, seeds and limits, whichever backend holds them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use audiences_server::runtime::RawJsonArray;
use audiences_types::AudienceProspect;

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

    pub(crate) fn parse(stored: &str) -> Result<Self, StoreError> {
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
#[derive(Debug, Default, Clone)]
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
    /// Bytes of pages an instance keeps to serve again while their
    /// audience has not changed (PostgreSQL, src/store/page_cache.rs; 0:
    /// none).
    pub page_cache_bytes: usize,
}

impl Default for StoreLimits {
    fn default() -> Self {
        Self {
            query_timeout: Duration::from_secs(3),
            max_connections: 16,
            page_cache_bytes: 64 << 20,
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
/// transaction by `Store::seed`.
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

/// Now, in seconds since the Unix epoch.
pub(crate) fn unix_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
}
