//! Storage: one trait, the SQLite implementation. Domain errors only; the
//! store knows nothing of HTTP.

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use audiences_types::AudienceProspect;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};

/// Why the store could not answer.
#[derive(Debug)]
pub enum StoreError {
    /// The database is unreachable, timed out, or refused the query (a 502).
    Unavailable(String),
    /// A row does not hold what the schema promises (a 500).
    Corrupt(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Unavailable(cause) => write!(f, "database unavailable: {cause}"),
            StoreError::Corrupt(cause) => write!(f, "corrupt row: {cause}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::Unavailable(error.to_string())
    }
}

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

/// Whether an audience can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudienceState {
    /// Its prospects can be listed.
    Ready,
    /// A prospecting job is still filling it (409).
    Populating,
}

/// The keyset position of a prospect in its audience.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// When the prospect was added, in microseconds since the Unix epoch.
    pub created_at: i64,
    /// The prospect id (24 hexadecimal digits).
    pub id: String,
}

/// A prospect and its position.
#[derive(Debug, Clone)]
pub struct StoredProspect {
    /// Where it sits in the audience's order.
    pub position: Position,
    /// What the API returns.
    pub prospect: AudienceProspect,
}

/// What the service needs from a database.
pub trait Store: Send + Sync + 'static {
    /// The unrevoked key whose SHA-256 is `hash`.
    fn key_by_hash(&self, hash: &[u8]) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send;

    /// The state of `audience` if it exists in `account_group`.
    fn audience_state(
        &self,
        account_group: &str,
        audience: &str,
    ) -> impl Future<Output = Result<Option<AudienceState>, StoreError>> + Send;

    /// Up to `limit` prospects of `audience` after `after`, in (createdAt, id) order.
    fn page(
        &self,
        audience: &str,
        after: Option<&Position>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<StoredProspect>, StoreError>> + Send;

    /// Whether the database answers (readiness).
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The embedded SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` and applies the migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(2));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(options)
            .await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|error| StoreError::Unavailable(format!("migrations failed: {error}")))?;
        Ok(Self { pool })
    }

    /// The connection pool, for seeding and operator commands.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

impl Store for SqliteStore {
    async fn key_by_hash(&self, hash: &[u8]) -> Result<Option<KeyRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, account_group_id, permissions FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| KeyRecord {
            id: row.get(0),
            account_group_id: row.get(1),
            permissions: row
                .get::<String, _>(2)
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        }))
    }

    async fn audience_state(
        &self,
        account_group: &str,
        audience: &str,
    ) -> Result<Option<AudienceState>, StoreError> {
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM audiences WHERE id = ? AND account_group_id = ?")
                .bind(audience)
                .bind(account_group)
                .fetch_optional(&self.pool)
                .await?;
        match status.as_deref() {
            None => Ok(None),
            Some("ready") => Ok(Some(AudienceState::Ready)),
            Some("populating") => Ok(Some(AudienceState::Populating)),
            Some(other) => Err(StoreError::Corrupt(format!("audience status `{other}`"))),
        }
    }

    async fn page(
        &self,
        audience: &str,
        after: Option<&Position>,
        limit: u32,
    ) -> Result<Vec<StoredProspect>, StoreError> {
        // The row-value comparison keeps every page one index range scan,
        // even when many rows share a timestamp.
        let rows = match after {
            None => {
                sqlx::query(
                    "SELECT created_at, id, data FROM prospects WHERE audience_id = ? \
                     ORDER BY created_at, id LIMIT ?",
                )
                .bind(audience)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            Some(position) => {
                sqlx::query(
                    "SELECT created_at, id, data FROM prospects \
                     WHERE audience_id = ? AND (created_at, id) > (?, ?) \
                     ORDER BY created_at, id LIMIT ?",
                )
                .bind(audience)
                .bind(position.created_at)
                .bind(&position.id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.into_iter()
            .map(|row| {
                let data: String = row.get(2);
                let prospect =
                    serde_json::from_str(&data).map_err(|error| StoreError::Corrupt(error.to_string()))?;
                Ok(StoredProspect {
                    position: Position {
                        created_at: row.get(0),
                        id: row.get(1),
                    },
                    prospect,
                })
            })
            .collect()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
