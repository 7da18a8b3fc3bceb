//! Storage: one trait, two implementations (embedded SQLite, PostgreSQL),
//! chosen at start-up by the database URL. Domain errors only; the store
//! knows nothing of HTTP.
//!
//! Both implementations run the same SQL (numbered `$n` parameters, row-value
//! comparisons and `ON CONFLICT` are understood by both), written once in
//! [`sql_store!`]; only opening the pool and the migrations differ.

use std::future::Future;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use audiences_types::AudienceProspect;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{PgPool, Row, SqlitePool};

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

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::TypeNotFound { .. } => StoreError::Corrupt(error.to_string()),
            sqlx::Error::Database(database)
                if database.is_unique_violation() || database.is_foreign_key_violation() =>
            {
                StoreError::Rejected(database.message().to_owned())
            }
            _ => StoreError::Unavailable(error.to_string()),
        }
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

impl AudienceState {
    fn as_str(self) -> &'static str {
        match self {
            AudienceState::Ready => "ready",
            AudienceState::Populating => "populating",
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

/// A prospect and its position.
#[derive(Debug, Clone)]
pub struct StoredProspect {
    /// Where it sits in the audience's order.
    pub position: Position,
    /// What the API returns.
    pub prospect: AudienceProspect,
}

/// One page of an audience.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The prospects, in (createdAt, id) order.
    pub rows: Vec<StoredProspect>,
    /// Whether more prospects follow the last row.
    pub has_more: bool,
}

/// How long the store waits before it calls the database unavailable.
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

/// What the service, the demo seeding and the operator commands need from a
/// database.
pub trait Store: Send + Sync + 'static {
    /// The unrevoked key whose SHA-256 is `hash`.
    fn key_by_hash(&self, hash: &[u8]) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send;

    /// The state of `audience` if it exists in `account_group`.
    fn audience_state(
        &self,
        account_group: &str,
        audience: &str,
    ) -> impl Future<Output = Result<Option<AudienceState>, StoreError>> + Send;

    /// Up to `limit` prospects of `audience` after `after`, in (createdAt, id)
    /// order, and whether more follow.
    fn page(
        &self,
        audience: &str,
        after: Option<&Position>,
        limit: u32,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send;

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

    /// Stores a key's hash for `account_group` with `permissions`.
    fn create_key(
        &self,
        id: &str,
        account_group: &str,
        hash: &[u8],
        permissions: &[&str],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Revokes the key `id`; whether an active key was revoked.
    fn revoke_key(&self, id: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The setting `name`, set to `value` first if it has none.
    fn setting_or_insert(
        &self,
        name: &str,
        value: &str,
    ) -> impl Future<Output = Result<String, StoreError>> + Send;

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

/// Runs one database call, named `query`, under the store's timeout, and
/// records how long it took.
async fn timed<T>(
    limit: Duration,
    query: &'static str,
    call: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, StoreError> {
    let started = std::time::Instant::now();
    let outcome = tokio::time::timeout(limit, call).await;
    metrics::histogram!(QUERY_DURATION, "query" => query).record(started.elapsed().as_secs_f64());
    match outcome {
        Ok(result) => result.map_err(StoreError::from),
        Err(_) => Err(StoreError::Unavailable(format!(
            "no answer within {} ms",
            limit.as_millis()
        ))),
    }
}

fn unix_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
}

/// Rows per INSERT statement when adding prospects (4 parameters a row, far
/// below both databases' parameter limits).
const INSERT_BATCH: usize = 500;

/// Implements [`Store`] for a struct with `pool: sqlx::Pool<$db>` and
/// `limits: StoreLimits`: the same SQL for both databases.
macro_rules! sql_store {
    ($store:ty, $db:ty) => {
        impl $store {
            /// A pooled connection, the wait recorded.
            async fn connection(&self) -> Result<sqlx::pool::PoolConnection<$db>, StoreError> {
                let started = std::time::Instant::now();
                let connection = self.pool.acquire().await;
                metrics::histogram!(ACQUIRE_DURATION).record(started.elapsed().as_secs_f64());
                connection.map_err(StoreError::from)
            }
        }

        impl Store for $store {
            async fn key_by_hash(&self, hash: &[u8]) -> Result<Option<KeyRecord>, StoreError> {
                let mut connection = self.connection().await?;
                let row = timed(
                    self.limits.query_timeout,
                    "key_by_hash",
                    sqlx::query(
                        "SELECT id, account_group_id, permissions FROM api_keys \
                         WHERE key_hash = $1 AND revoked_at IS NULL",
                    )
                    .bind(hash)
                    .fetch_optional(&mut *connection),
                )
                .await?;
                row.map(|row| {
                    Ok(KeyRecord {
                        id: row.try_get(0)?,
                        account_group_id: row.try_get(1)?,
                        permissions: row
                            .try_get::<String, _>(2)?
                            .split_whitespace()
                            .map(str::to_owned)
                            .collect(),
                    })
                })
                .transpose()
                .map_err(|error: sqlx::Error| StoreError::from(error))
            }

            async fn audience_state(
                &self,
                account_group: &str,
                audience: &str,
            ) -> Result<Option<AudienceState>, StoreError> {
                let mut connection = self.connection().await?;
                let status: Option<String> = timed(
                    self.limits.query_timeout,
                    "audience_state",
                    sqlx::query_scalar(
                        "SELECT status FROM audiences WHERE id = $1 AND account_group_id = $2",
                    )
                    .bind(audience)
                    .bind(account_group)
                    .fetch_optional(&mut *connection),
                )
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
            ) -> Result<Page, StoreError> {
                // The row-value comparison keeps every page one index range
                // scan, even when many rows share a timestamp. One row more
                // than asked tells whether more follow; it is not decoded.
                let fetch = i64::from(limit) + 1;
                let query = match after {
                    None => sqlx::query(
                        "SELECT created_at, id, data FROM prospects WHERE audience_id = $1 \
                         ORDER BY created_at, id LIMIT $2",
                    )
                    .bind(audience)
                    .bind(fetch),
                    Some(position) => sqlx::query(
                        "SELECT created_at, id, data FROM prospects \
                         WHERE audience_id = $1 AND (created_at, id) > ($2, $3) \
                         ORDER BY created_at, id LIMIT $4",
                    )
                    .bind(audience)
                    .bind(position.created_at)
                    .bind(position.id.as_str())
                    .bind(fetch),
                };
                let mut connection = self.connection().await?;
                let mut rows = timed(
                    self.limits.query_timeout,
                    "page",
                    query.fetch_all(&mut *connection),
                )
                .await?;
                let has_more = rows.len() > limit as usize;
                rows.truncate(limit as usize);
                let rows = rows
                    .into_iter()
                    .map(|row| {
                        let data: &str = row.try_get(2)?;
                        let prospect = serde_json::from_str(data)
                            .map_err(|error| StoreError::Corrupt(format!("prospect data: {error}")))?;
                        Ok(StoredProspect {
                            position: Position {
                                created_at: row.try_get(0)?,
                                id: row.try_get(1)?,
                            },
                            prospect,
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                Ok(Page { rows, has_more })
            }

            async fn ping(&self) -> Result<(), StoreError> {
                // A query on a table the API reads, so that a locked table
                // counts as not ready.
                timed(
                    self.limits.query_timeout,
                    "ping",
                    sqlx::query("SELECT 1 FROM audiences LIMIT 1").fetch_optional(&self.pool),
                )
                .await?;
                Ok(())
            }

            async fn account_group_exists(&self, account_group: &str) -> Result<bool, StoreError> {
                let found: Option<String> = timed(
                    self.limits.query_timeout,
                    "account_group_exists",
                    sqlx::query_scalar("SELECT id FROM account_groups WHERE id = $1")
                        .bind(account_group)
                        .fetch_optional(&self.pool),
                )
                .await?;
                Ok(found.is_some())
            }

            async fn create_account_group(&self, id: &str, name: &str) -> Result<(), StoreError> {
                timed(
                    self.limits.query_timeout,
                    "create_account_group",
                    sqlx::query("INSERT INTO account_groups (id, name) VALUES ($1, $2)")
                        .bind(id)
                        .bind(name)
                        .execute(&self.pool),
                )
                .await?;
                Ok(())
            }

            async fn create_audience(
                &self,
                id: &str,
                account_group: &str,
                name: &str,
                state: AudienceState,
            ) -> Result<(), StoreError> {
                timed(
                    self.limits.query_timeout,
                    "create_audience",
                    sqlx::query(
                        "INSERT INTO audiences (id, account_group_id, name, status) VALUES ($1, $2, $3, $4)",
                    )
                    .bind(id)
                    .bind(account_group)
                    .bind(name)
                    .bind(state.as_str())
                    .execute(&self.pool),
                )
                .await?;
                Ok(())
            }

            async fn insert_prospects(
                &self,
                audience: &str,
                prospects: &[StoredProspect],
            ) -> Result<(), StoreError> {
                // Bulk loads may take long; they run without the query timeout.
                let mut transaction = self.pool.begin().await?;
                for chunk in prospects.chunks(INSERT_BATCH) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO prospects (audience_id, id, created_at, data) ",
                    );
                    insert.push_values(chunk, |mut row, stored| {
                        row.push_bind(audience.to_owned())
                            .push_bind(stored.position.id.clone())
                            .push_bind(stored.position.created_at)
                            .push_bind(
                                serde_json::to_string(&stored.prospect).expect("a prospect serializes"),
                            );
                    });
                    insert.build().execute(&mut *transaction).await?;
                }
                transaction.commit().await?;
                Ok(())
            }

            async fn delete_prospect(&self, audience: &str, id: &str) -> Result<bool, StoreError> {
                let done = timed(
                    self.limits.query_timeout,
                    "delete_prospect",
                    sqlx::query("DELETE FROM prospects WHERE audience_id = $1 AND id = $2")
                        .bind(audience)
                        .bind(id)
                        .execute(&self.pool),
                )
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn prospect_count(&self, audience: &str) -> Result<u64, StoreError> {
                let count: i64 = timed(
                    self.limits.query_timeout,
                    "prospect_count",
                    sqlx::query_scalar("SELECT COUNT(*) FROM prospects WHERE audience_id = $1")
                        .bind(audience)
                        .fetch_one(&self.pool),
                )
                .await?;
                Ok(u64::try_from(count).unwrap_or(0))
            }

            async fn create_key(
                &self,
                id: &str,
                account_group: &str,
                hash: &[u8],
                permissions: &[&str],
            ) -> Result<(), StoreError> {
                timed(
                    self.limits.query_timeout,
                    "create_key",
                    sqlx::query(
                        "INSERT INTO api_keys (id, account_group_id, key_hash, permissions) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(id)
                    .bind(account_group)
                    .bind(hash)
                    .bind(permissions.join(" "))
                    .execute(&self.pool),
                )
                .await?;
                Ok(())
            }

            async fn revoke_key(&self, id: &str) -> Result<bool, StoreError> {
                let done = timed(
                    self.limits.query_timeout,
                    "revoke_key",
                    sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                        .bind(unix_seconds())
                        .bind(id)
                        .execute(&self.pool),
                )
                .await?;
                Ok(done.rows_affected() > 0)
            }

            fn pool_stats(&self) -> PoolStats {
                PoolStats {
                    size: self.pool.size(),
                    idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
                    max: self.pool.options().get_max_connections(),
                }
            }

            async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError> {
                timed(
                    self.limits.query_timeout,
                    "setting_insert",
                    sqlx::query(
                        "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                    )
                    .bind(name)
                    .bind(value)
                    .execute(&self.pool),
                )
                .await?;
                timed(
                    self.limits.query_timeout,
                    "setting_select",
                    sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                        .bind(name)
                        .fetch_one(&self.pool),
                )
                .await
            }
        }
    };
}

/// The embedded SQLite store (the default).
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    limits: StoreLimits,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

fn migration_failed(error: sqlx::migrate::MigrateError) -> StoreError {
    StoreError::Unavailable(format!("migrations failed: {error}"))
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` and applies the migrations.
    pub async fn open(url: &str, limits: StoreLimits) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // A locked database is waited on for less than the query timeout,
            // so that the lock itself is what the client hears about.
            .busy_timeout(limits.query_timeout.mul_f32(0.8));
        let pool = SqlitePoolOptions::new()
            .max_connections(limits.max_connections)
            .acquire_timeout(limits.query_timeout)
            .connect_with(options)
            .await?;
        SQLITE_MIGRATIONS.run(&pool).await.map_err(migration_failed)?;
        Ok(Self { pool, limits })
    }

    /// The connection pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

sql_store!(SqliteStore, sqlx::Sqlite);

/// The PostgreSQL store, for scale.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    limits: StoreLimits,
}

impl PostgresStore {
    /// Connects to `url` and applies the migrations.
    pub async fn open(url: &str, limits: StoreLimits) -> Result<Self, StoreError> {
        let statement_timeout = format!("{}", limits.query_timeout.as_millis());
        let options = PgConnectOptions::from_str(url)?.options([("statement_timeout", statement_timeout)]);
        let pool = PgPoolOptions::new()
            .max_connections(limits.max_connections)
            .acquire_timeout(limits.query_timeout)
            .connect_with(options)
            .await?;
        POSTGRES_MIGRATIONS.run(&pool).await.map_err(migration_failed)?;
        Ok(Self { pool, limits })
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

sql_store!(PostgresStore, sqlx::Postgres);

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

/// Forwards each [`Store`] method of [`AnyStore`] to the open backend.
macro_rules! forward {
    ($(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $out:ty;)*) => {
        impl Store for AnyStore {
            fn pool_stats(&self) -> PoolStats {
                self.pool_stats_of()
            }
            $(
                async fn $name(&self $(, $arg: $ty)*) -> Result<$out, StoreError> {
                    match self {
                        AnyStore::Sqlite(store) => store.$name($($arg),*).await,
                        AnyStore::Postgres(store) => store.$name($($arg),*).await,
                    }
                }
            )*
        }
    };
}

impl AnyStore {
    fn pool_stats_of(&self) -> PoolStats {
        match self {
            AnyStore::Sqlite(store) => store.pool_stats(),
            AnyStore::Postgres(store) => store.pool_stats(),
        }
    }
}

forward! {
    fn key_by_hash(&self, hash: &[u8]) -> Option<KeyRecord>;
    fn audience_state(&self, account_group: &str, audience: &str) -> Option<AudienceState>;
    fn page(&self, audience: &str, after: Option<&Position>, limit: u32) -> Page;
    fn ping(&self) -> ();
    fn account_group_exists(&self, account_group: &str) -> bool;
    fn create_account_group(&self, id: &str, name: &str) -> ();
    fn create_audience(&self, id: &str, account_group: &str, name: &str, state: AudienceState) -> ();
    fn insert_prospects(&self, audience: &str, prospects: &[StoredProspect]) -> ();
    fn delete_prospect(&self, audience: &str, id: &str) -> bool;
    fn prospect_count(&self, audience: &str) -> u64;
    fn create_key(&self, id: &str, account_group: &str, hash: &[u8], permissions: &[&str]) -> ();
    fn revoke_key(&self, id: &str) -> bool;
    fn setting_or_insert(&self, name: &str, value: &str) -> String;
}
