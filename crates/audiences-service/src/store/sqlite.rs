//! The embedded SQLite store: rusqlite connections on tokio's blocking
//! pool. sqlx's SQLite driver hands each row across a channel from its
//! worker thread; for a page of 26 rows that cost 213 µs of CPU against
//! rusqlite's 43.5 µs (5x, measured in BENCHMARKS.md), so queries run here
//! and sqlx only applies the migrations at open.

use std::str::FromStr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use tokio::sync::Semaphore;

use super::model::{
    AudienceState, KeyRecord, NewKey, PageOutcome, PoolStats, Position, Seed, StoreError, StoreLimits,
    StoredProspect, permissions_column, permissions_of_column, unix_seconds,
};
use super::page::{PageAssembler, StoredRow, stored_rows};
use super::sqlite_pool::{FileWatch, Held, Pool, failed};
use super::traits::{Operator, RequestPath};

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The embedded SQLite store (the default): one process per database file.
#[derive(Clone)]
pub struct SqliteStore {
    pool: Arc<Pool>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `url`
    /// (`sqlite://FILE`) and applies the migrations.
    pub async fn open(url: &str, limits: StoreLimits) -> Result<Self, StoreError> {
        if url.contains(":memory:") || url.contains("mode=memory") {
            return Err(StoreError::Rejected(
                "an in-memory SQLite database is not supported: each connection would see its own; use sqlite://FILE"
                    .to_owned(),
            ));
        }
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|error| StoreError::Rejected(format!("bad SQLite URL: {error}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(limits.query_timeout);
        let path = options.get_filename().to_owned();
        let mut migrating = options
            .connect()
            .await
            .map_err(|error| StoreError::Unavailable(error.to_string()))?;
        MIGRATIONS
            .run(&mut migrating)
            .await
            .map_err(|error| StoreError::Unavailable(format!("migrations failed: {error}")))?;
        sqlx::Connection::close(migrating)
            .await
            .map_err(|error| StoreError::Unavailable(error.to_string()))?;
        let max = usize::try_from(limits.max_connections.max(1)).unwrap_or(1);
        Ok(Self {
            pool: Arc::new(Pool {
                idle: Mutex::new(Vec::with_capacity(max)),
                permits: Arc::new(Semaphore::new(max)),
                limits,
                file: Mutex::new(FileWatch::of(&path)),
                generation: AtomicU64::new(0),
                path,
            }),
        })
    }

    /// Takes every connection until the returned value is dropped: every
    /// query meanwhile waits for its timeout and fails as unavailable (tests
    /// use it to stall the database).
    pub async fn hold_all(&self) -> Held {
        let all = self.pool.limits.max_connections.max(1);
        Held(
            Arc::clone(&self.pool.permits)
                .acquire_many_owned(all)
                .await
                .expect("the semaphore is never closed"),
        )
    }

    /// Runs `work` on a pooled connection on the blocking pool, within the
    /// query timeout (`None`: no timeout, for bulk loads); past it the
    /// statement is interrupted.
    pub async fn call<T: Send + 'static>(
        &self,
        query: &'static str,
        timeout: Option<Duration>,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.pool.call(query, timeout, work).await
    }
}

/// One page and the audience's state: the state of a ready audience comes
/// with each of its rows; an audience with no row after `after`, or not
/// ready, comes back as one row of nulls (the LEFT JOIN), and an unknown
/// one as no row. The audience is found by its primary key, so the rows
/// come straight off the `prospects_page` index (no sort; a test checks
/// the plan).
pub(crate) const PAGE_SQL: &str = "\
    SELECT a.status, p.created_at, p.id, p.data, p.proof \
    FROM audiences a \
    LEFT JOIN prospects p ON a.status = 'ready' AND p.audience_id = a.id \
        AND (p.created_at, p.id) > (?3, ?4) \
    WHERE a.id = ?1 AND a.account_group_id = ?2 \
    ORDER BY p.created_at, p.id \
    LIMIT ?5";

/// Reads the rows of [`PAGE_SQL`] into an outcome; `limit + 1` rows were
/// asked for, the last only to tell whether more follow.
fn page_rows(rows: &mut rusqlite::Rows<'_>, limit: u32) -> Result<PageOutcome, StoreError> {
    let mut page = PageAssembler::new(limit);
    while let Some(row) = rows.next().map_err(failed)? {
        if page.wants_state() {
            let status: String = row.get(0).map_err(failed)?;
            page.state(&status)?;
        }
        let Some(created_at) = row.get::<_, Option<i64>>(1).map_err(failed)? else {
            break;
        };
        if !page.wants_row() {
            break;
        }
        let id = row
            .get_ref(2)
            .map_err(failed)?
            .as_str()
            .map_err(|error| failed(error.into()))?;
        let data = row
            .get_ref(3)
            .map_err(failed)?
            .as_bytes()
            .map_err(|error| failed(error.into()))?;
        let proof = row
            .get_ref(4)
            .map_err(failed)?
            .as_blob_or_null()
            .map_err(|error| failed(error.into()))?;
        page.row(created_at, id, data, proof)?;
    }
    Ok(page.finish())
}

#[async_trait::async_trait]
impl RequestPath for SqliteStore {
    async fn key_by_hash(&self, hash: &[u8]) -> Result<Option<KeyRecord>, StoreError> {
        self.pool
            .read("key_by_hash", |connection| {
                connection
                    .prepare_cached(
                        "SELECT id, account_group_id, permissions FROM api_keys \
                     WHERE key_hash = ?1 AND revoked_at IS NULL",
                    )?
                    .query_row(params![hash], |row| {
                        Ok(KeyRecord {
                            id: row.get(0)?,
                            account_group_id: row.get(1)?,
                            permissions: permissions_of_column(&row.get::<_, String>(2)?),
                        })
                    })
                    .optional()
            })
            .await
    }

    async fn page(
        &self,
        account_group: &str,
        audience: &str,
        after: Option<&Position>,
        limit: u32,
    ) -> Result<PageOutcome, StoreError> {
        let (after_created, after_id) = Position::bounds(after);
        self.pool
            .read("page", |connection| {
                let mut statement = connection.prepare_cached(PAGE_SQL)?;
                let mut rows = statement.query(params![
                    audience,
                    account_group,
                    after_created,
                    after_id,
                    i64::from(limit) + 1
                ])?;
                Ok(page_rows(&mut rows, limit))
            })
            .await?
    }

    async fn audience_state(
        &self,
        account_group: &str,
        audience: &str,
    ) -> Result<Option<AudienceState>, StoreError> {
        let status: Option<String> = self
            .pool
            .read("audience_state", |connection| {
                connection
                    .prepare_cached("SELECT status FROM audiences WHERE id = ?1 AND account_group_id = ?2")?
                    .query_row(params![audience, account_group], |row| row.get(0))
                    .optional()
            })
            .await?;
        status.as_deref().map(AudienceState::parse).transpose()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        // Ready means that a new connection opens on the file and runs the
        // page statement (a file moved away, unreadable or without the
        // schema is not ready, whatever the pooled connections still do),
        // within the query timeout like any query (a stalled pool is not
        // ready either). The connection is not pooled.
        let permit = self.pool.permit().await?;
        let connection = self.pool.open_on_blocking_pool().await?;
        let ran = connection
            .prepare(PAGE_SQL)
            .and_then(|mut statement| statement.query(params!["", "", 0, "", 1])?.next().map(drop))
            .map_err(failed);
        drop(permit);
        ran
    }

    fn pool_stats(&self) -> PoolStats {
        let max = self.pool.limits.max_connections.max(1);
        let free = u32::try_from(self.pool.permits.available_permits()).unwrap_or(max);
        let idle = u32::try_from(
            self.pool
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len(),
        )
        .unwrap_or(0);
        let in_use = max.saturating_sub(free);
        PoolStats {
            size: idle + in_use,
            idle,
            max,
        }
    }
}

#[async_trait::async_trait]
impl Operator for SqliteStore {
    async fn set_audience_state(&self, audience: &str, state: AudienceState) -> Result<bool, StoreError> {
        let audience = audience.to_owned();
        self.pool
            .query("set_audience_state", move |connection| {
                connection
                    .prepare_cached("UPDATE audiences SET status = ?1 WHERE id = ?2")?
                    .execute(params![state.as_str(), audience])
                    .map(|changed| changed > 0)
            })
            .await
    }

    async fn account_group_exists(&self, account_group: &str) -> Result<bool, StoreError> {
        self.pool
            .read("account_group_exists", |connection| {
                connection
                    .prepare_cached("SELECT 1 FROM account_groups WHERE id = ?1")?
                    .exists(params![account_group])
            })
            .await
    }

    async fn create_account_group(&self, id: &str, name: &str) -> Result<(), StoreError> {
        let (id, name) = (id.to_owned(), name.to_owned());
        self.pool
            .query("create_account_group", move |connection| {
                connection
                    .execute(
                        "INSERT INTO account_groups (id, name) VALUES (?1, ?2)",
                        params![id, name],
                    )
                    .map(drop)
            })
            .await
    }

    async fn seed(&self, seed: &Seed) -> Result<bool, StoreError> {
        let rows = seed
            .audiences
            .iter()
            .map(|(_, _, _, prospects)| stored_rows(prospects))
            .collect::<Result<Vec<Vec<StoredRow>>, StoreError>>()?;
        let seed = seed.clone();
        // BEGIN IMMEDIATE takes the write lock first, so two seeders
        // serialize and the second finds the group.
        self.call("seed", None, move |connection| {
            let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if transaction
                .prepare_cached("SELECT 1 FROM account_groups WHERE id = ?1")?
                .exists(params![seed.account_group])?
            {
                return Ok(false);
            }
            transaction.execute(
                "INSERT INTO account_groups (id, name) VALUES (?1, ?2)",
                params![seed.account_group, seed.name],
            )?;
            for ((id, name, state, _), rows) in seed.audiences.iter().zip(&rows) {
                transaction.execute(
                    "INSERT INTO audiences (id, account_group_id, name, status) VALUES (?1, ?2, ?3, ?4)",
                    params![id, seed.account_group, name, state.as_str()],
                )?;
                insert_rows(&transaction, id, rows)?;
            }
            for key in &seed.keys {
                insert_key(&transaction, &seed.account_group, key)?;
            }
            transaction.commit()?;
            Ok(true)
        })
        .await
    }

    async fn create_audience(
        &self,
        id: &str,
        account_group: &str,
        name: &str,
        state: AudienceState,
    ) -> Result<(), StoreError> {
        let (id, account_group, name) = (id.to_owned(), account_group.to_owned(), name.to_owned());
        self.pool
            .query("create_audience", move |connection| {
                connection
                    .execute(
                        "INSERT INTO audiences (id, account_group_id, name, status) VALUES (?1, ?2, ?3, ?4)",
                        params![id, account_group, name, state.as_str()],
                    )
                    .map(drop)
            })
            .await
    }

    async fn insert_prospects(&self, audience: &str, prospects: &[StoredProspect]) -> Result<(), StoreError> {
        let rows = stored_rows(prospects)?;
        let audience = audience.to_owned();
        // Bulk loads may take long; they run without the query timeout.
        self.call("insert_prospects", None, move |connection| {
            let transaction = connection.transaction()?;
            insert_rows(&transaction, &audience, &rows)?;
            transaction.commit()
        })
        .await
    }

    async fn delete_prospect(&self, audience: &str, id: &str) -> Result<bool, StoreError> {
        let (audience, id) = (audience.to_owned(), id.to_owned());
        self.pool
            .query("delete_prospect", move |connection| {
                connection
                    .execute(
                        "DELETE FROM prospects WHERE audience_id = ?1 AND id = ?2",
                        params![audience, id],
                    )
                    .map(|deleted| deleted > 0)
            })
            .await
    }

    async fn prospect_count(&self, audience: &str) -> Result<u64, StoreError> {
        let audience = audience.to_owned();
        let count: i64 = self
            .pool
            .query("prospect_count", move |connection| {
                connection.query_row(
                    "SELECT COUNT(*) FROM prospects WHERE audience_id = ?1",
                    params![audience],
                    |row| row.get(0),
                )
            })
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn create_key(&self, account_group: &str, key: &NewKey) -> Result<(), StoreError> {
        let (account_group, key) = (account_group.to_owned(), key.clone());
        self.pool
            .query("create_key", move |connection| {
                insert_key(connection, &account_group, &key)
            })
            .await
    }

    async fn revoke_key(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.pool
            .query("revoke_key", move |connection| {
                connection
                    .execute(
                        "UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL",
                        params![unix_seconds(), id],
                    )
                    .map(|revoked| revoked > 0)
            })
            .await
    }

    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError> {
        let (name, value) = (name.to_owned(), value.to_owned());
        self.pool
            .query("setting_or_insert", move |connection| {
                connection.execute(
                    "INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                    params![name, value],
                )?;
                connection.query_row(
                    "SELECT value FROM settings WHERE name = ?1",
                    params![name],
                    |row| row.get(0),
                )
            })
            .await
    }

    async fn refresh_statistics(&self) -> Result<(), StoreError> {
        // SQLite plans a page on the index without statistics (a test
        // checks the plan); gathering them could only change that plan.
        Ok(())
    }
}

fn insert_rows(connection: &Connection, audience: &str, rows: &[StoredRow]) -> rusqlite::Result<()> {
    let mut insert = connection.prepare_cached(
        "INSERT INTO prospects (audience_id, id, created_at, data, proof) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for row in rows {
        insert.execute(params![
            audience,
            row.position.id,
            row.position.created_at,
            row.data,
            row.proof
        ])?;
    }
    Ok(())
}

fn insert_key(connection: &Connection, account_group: &str, key: &NewKey) -> rusqlite::Result<()> {
    connection
        .prepare_cached(
            "INSERT INTO api_keys (id, account_group_id, key_hash, permissions) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            key.id,
            account_group,
            key.hash,
            permissions_column(&key.permissions)
        ])
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_one_index_range_scan_without_a_sort() {
        let dir = std::env::temp_dir().join(format!("audiences-plan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let connection = Connection::open(dir.join("plan.db")).unwrap();
        connection
            .execute_batch(include_str!("../../migrations/sqlite/0001_init.sql"))
            .unwrap();
        connection
            .execute_batch(include_str!("../../migrations/sqlite/0002_row_proofs.sql"))
            .unwrap();
        let plan: Vec<String> = connection
            .prepare(&format!("EXPLAIN QUERY PLAN {PAGE_SQL}"))
            .unwrap()
            .query_map(params!["a", "g", 0, "", 26], |row| row.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let plan = plan.join("\n");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        assert!(plan.contains("prospects_page"), "{plan}");
    }
}
