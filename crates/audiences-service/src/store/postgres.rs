//! The PostgreSQL store (sqlx), for several instances on one database.

use std::future::Future;
use std::str::FromStr;
use std::time::{Duration, Instant};

use std::sync::Arc;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, QueryBuilder, Row};

use super::model::{
    ACQUIRE_DURATION, AudienceState, KeyRecord, NewKey, PageOutcome, PoolStats, Position, QUERY_DURATION,
    Seed, StoreError, StoreLimits, StoredProspect, permissions_column, permissions_of_column, unix_seconds,
};
use super::page::{PageAssembler, stored_json};
use super::traits::{Operator, RequestPath, SharedLimits};

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Rows per INSERT statement when adding prospects (4 parameters a row, far
/// below PostgreSQL's limit of 65,535).
const INSERT_BATCH: usize = 500;

/// The advisory lock seeders take, so that instances starting at once on an
/// empty database seed it once.
const SEED_LOCK: i64 = 0x6175_6469_656e_6365; // "audience"

/// The PostgreSQL store, for scale.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    limits: StoreLimits,
    /// When a new connection was last tried for `/readyz`, and why it
    /// failed (see [`NEW_CONNECTION_PROBE`]).
    probe: Arc<tokio::sync::Mutex<Option<Probe>>>,
}

/// When a new connection was tried, and why it failed (`None`: it opened).
type Probe = (std::time::Instant, Option<String>);

/// How often, at most, `/readyz` opens a new connection to PostgreSQL (a
/// public endpoint must not turn into connections the database pays for);
/// between two, the last outcome stands.
const NEW_CONNECTION_PROBE: std::time::Duration = std::time::Duration::from_secs(1);

pub(crate) fn failed(error: sqlx::Error) -> StoreError {
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

/// Runs one database call, named `query`, under `limit`, and records how
/// long it took.
pub(crate) async fn timed<T>(
    limit: Duration,
    query: &'static str,
    call: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, StoreError> {
    let started = Instant::now();
    let outcome = tokio::time::timeout(limit, call).await;
    metrics::histogram!(QUERY_DURATION, "query" => query).record(started.elapsed().as_secs_f64());
    match outcome {
        Ok(result) => result.map_err(failed),
        Err(_) => Err(StoreError::Unavailable(format!(
            "no answer within {} ms",
            limit.as_millis()
        ))),
    }
}

/// The columns of a page: the audience's state, then each prospect's
/// position and stored JSON (see [`assemble`]).
pub(super) const PAGE_COLUMNS: &str = "a.status, p.created_at, p.id, p.data";

/// The page and the audience's state in one statement: the audience by its
/// primary key, its rows by one range scan of `prospects_page` (LATERAL,
/// so that the limit applies to the prospects); see the SQLite store's
/// `PAGE_SQL` for the shape of the answer.
const PAGE_SQL: &str = "\
    SELECT a.status, p.created_at, p.id, p.data \
    FROM audiences a \
    LEFT JOIN LATERAL ( \
        SELECT created_at, id, data FROM prospects \
        WHERE a.status = 'ready' AND audience_id = a.id AND (created_at, id) > ($3, $4) \
        ORDER BY created_at, id LIMIT $5 \
    ) p ON true \
    WHERE a.id = $1 AND a.account_group_id = $2 \
    ORDER BY p.created_at, p.id";

/// A page from the rows of [`PAGE_SQL`] (or of a statement whose columns
/// from `first` on are the same): the audience's state (`NULL`: no
/// audience), then each prospect's position and stored JSON.
pub(super) fn assemble(
    rows: &[sqlx::postgres::PgRow],
    first: usize,
    limit: u32,
) -> Result<PageOutcome, StoreError> {
    let mut page = PageAssembler::new(limit);
    for row in rows {
        if page.wants_state() {
            match row.try_get::<Option<&str>, _>(first).map_err(failed)? {
                Some(state) => page.state(state)?,
                None => break,
            }
        }
        let Some(created_at) = row.try_get::<Option<i64>, _>(first + 1).map_err(failed)? else {
            break;
        };
        if !page.wants_row() {
            break;
        }
        let data: &str = row.try_get(first + 3).map_err(failed)?;
        page.row(
            created_at,
            row.try_get(first + 2).map_err(failed)?,
            data.as_bytes(),
        )?;
    }
    Ok(page.finish())
}

impl PostgresStore {
    /// Connects to `url` and applies the migrations (once, whatever the
    /// number of instances starting: sqlx's migrator holds an advisory lock).
    pub async fn open(url: &str, limits: StoreLimits) -> Result<Self, StoreError> {
        let statement_timeout = format!("{}", limits.query_timeout.as_millis());
        let options = PgConnectOptions::from_str(url)
            .map_err(|error| StoreError::Rejected(format!("bad PostgreSQL URL: {error}")))?
            // A generic plan for every prepared statement: PostgreSQL
            // otherwise keeps planning the page statement afresh on each
            // execution (its custom plans look cheaper than the generic one,
            // which is the same index range scan), and planning was most of
            // the backends' CPU: 2.4k pages of 25 a second with it against
            // 5k without on this machine (BENCHMARKS.md §1).
            .options([
                ("statement_timeout", statement_timeout.as_str()),
                ("plan_cache_mode", "force_generic_plan"),
            ]);
        let pool = PgPoolOptions::new()
            .max_connections(limits.max_connections)
            .acquire_timeout(limits.query_timeout)
            .connect_with(options)
            .await
            .map_err(failed)?;
        MIGRATIONS
            .run(&pool)
            .await
            .map_err(|error| StoreError::Unavailable(format!("migrations failed: {error}")))?;
        Ok(Self {
            pool,
            limits,
            probe: Arc::default(),
        })
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The store's limits.
    pub fn limits(&self) -> StoreLimits {
        self.limits
    }

    /// The page statement's plan as this store's connections run it: the
    /// statement prepared on one of the pool's connections, then `EXPLAIN
    /// EXECUTE` (for operators, and for the test that keeps it one generic
    /// index range scan).
    pub async fn page_plan(&self) -> Result<String, StoreError> {
        let mut connection = self.connection().await?;
        let connection = &mut *connection;
        sqlx::raw_sql(&format!("PREPARE audiences_page_plan AS {PAGE_SQL}"))
            .execute(&mut *connection)
            .await
            .map_err(failed)?;
        // Literals, as a caller's first page binds them: a custom plan would
        // show these values, a generic plan its parameters.
        let (created_at, id) = Position::bounds(None);
        let plan: Result<Vec<String>, _> = sqlx::query_scalar(&format!(
            "EXPLAIN EXECUTE audiences_page_plan('a', 'g', {created_at}, '{id}', 26)"
        ))
        .fetch_all(&mut *connection)
        .await;
        // Deallocated whatever EXPLAIN answered: the connection goes back
        // to the pool.
        sqlx::raw_sql("DEALLOCATE audiences_page_plan")
            .execute(&mut *connection)
            .await
            .map_err(failed)?;
        Ok(plan.map_err(failed)?.join("\n"))
    }

    pub(super) async fn connection(&self) -> Result<sqlx::pool::PoolConnection<Postgres>, StoreError> {
        let started = Instant::now();
        let connection = self.pool.acquire().await;
        metrics::histogram!(ACQUIRE_DURATION).record(started.elapsed().as_secs_f64());
        connection.map_err(failed)
    }
}

async fn insert_rows(
    connection: &mut sqlx::PgConnection,
    audience: &str,
    rows: &[(Position, String)],
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(INSERT_BATCH) {
        let mut insert =
            QueryBuilder::<Postgres>::new("INSERT INTO prospects (audience_id, id, created_at, data) ");
        insert.push_values(chunk, |mut row, (position, data)| {
            row.push_bind(audience)
                .push_bind(position.id.as_str())
                .push_bind(position.created_at)
                .push_bind(data.as_str());
        });
        insert.build().execute(&mut *connection).await?;
    }
    Ok(())
}

fn key_insert<'a>(
    account_group: &'a str,
    key: &'a NewKey,
) -> sqlx::query::Query<'a, Postgres, sqlx::postgres::PgArguments> {
    sqlx::query("INSERT INTO api_keys (id, account_group_id, key_hash, permissions) VALUES ($1, $2, $3, $4)")
        .bind(key.id.as_str())
        .bind(account_group)
        .bind(key.hash.as_slice())
        .bind(permissions_column(&key.permissions))
}

fn stored_rows(prospects: &[StoredProspect]) -> Result<Vec<(Position, String)>, StoreError> {
    prospects
        .iter()
        .map(|p| Ok((p.position.clone(), stored_json(p)?)))
        .collect()
}

#[async_trait::async_trait]
impl RequestPath for PostgresStore {
    async fn key_by_hash(&self, hash: &[u8]) -> Result<Option<KeyRecord>, StoreError> {
        let mut connection = self.connection().await?;
        let row = timed(
            self.limits.query_timeout,
            "key_by_hash",
            sqlx::query(
                "SELECT id, account_group_id, permissions FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
            )
            .bind(hash)
            .fetch_optional(&mut *connection),
        )
        .await?;
        row.map(|row| {
            Ok(KeyRecord {
                id: row.try_get(0)?,
                account_group_id: row.try_get(1)?,
                permissions: permissions_of_column(&row.try_get::<String, _>(2)?),
            })
        })
        .transpose()
        .map_err(failed)
    }

    async fn page(
        &self,
        account_group: &str,
        audience: &str,
        after: Option<&Position>,
        limit: u32,
    ) -> Result<PageOutcome, StoreError> {
        let (after_created, after_id) = Position::bounds(after);
        let mut connection = self.connection().await?;
        let rows = timed(
            self.limits.query_timeout,
            "page",
            sqlx::query(PAGE_SQL)
                .bind(audience)
                .bind(account_group)
                .bind(after_created)
                .bind(after_id)
                .bind(i64::from(limit) + 1)
                .fetch_all(&mut *connection),
        )
        .await?;
        assemble(&rows, 0, limit)
    }

    async fn audience_state(
        &self,
        account_group: &str,
        audience: &str,
    ) -> Result<Option<AudienceState>, StoreError> {
        let status: Option<String> = timed(
            self.limits.query_timeout,
            "audience_state",
            sqlx::query_scalar("SELECT status FROM audiences WHERE id = $1 AND account_group_id = $2")
                .bind(audience)
                .bind(account_group)
                .fetch_optional(&self.pool),
        )
        .await?;
        status.as_deref().map(AudienceState::parse).transpose()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        // Ready means that a new connection opens (tried at most every
        // NEW_CONNECTION_PROBE) and that the page statement runs, within
        // the query timeout (a locked table is not ready).
        {
            let mut probe = self.probe.lock().await;
            let due = probe
                .as_ref()
                .is_none_or(|(at, _)| at.elapsed() >= NEW_CONNECTION_PROBE);
            if due {
                let options = self.pool.connect_options();
                let opened = tokio::time::timeout(
                    self.limits.query_timeout,
                    <sqlx::PgConnection as sqlx::Connection>::connect_with(&options),
                )
                .await;
                let failure = match opened {
                    Ok(Ok(connection)) => {
                        let _ = sqlx::Connection::close(connection).await;
                        None
                    }
                    Ok(Err(error)) => Some(error.to_string()),
                    Err(_) => Some("no new connection within the query timeout".to_owned()),
                };
                *probe = Some((std::time::Instant::now(), failure));
            }
            if let Some((_, Some(failure))) = probe.as_ref() {
                return Err(StoreError::Unavailable(format!(
                    "a new connection fails: {failure}"
                )));
            }
        }
        let mut connection = self.connection().await?;
        timed(
            self.limits.query_timeout,
            "ping",
            sqlx::query(PAGE_SQL)
                .bind("")
                .bind("")
                .bind(0_i64)
                .bind("")
                .bind(1_i64)
                .fetch_all(&mut *connection),
        )
        .await?;
        Ok(())
    }

    fn pool_stats(&self) -> PoolStats {
        PoolStats {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        }
    }

    fn shared_limits(&self) -> Option<&dyn SharedLimits> {
        Some(self)
    }
}

#[async_trait::async_trait]
impl Operator for PostgresStore {
    async fn set_audience_state(&self, audience: &str, state: AudienceState) -> Result<bool, StoreError> {
        let done = timed(
            self.limits.query_timeout,
            "set_audience_state",
            sqlx::query("UPDATE audiences SET status = $1 WHERE id = $2")
                .bind(state.as_str())
                .bind(audience)
                .execute(&self.pool),
        )
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn account_group_exists(&self, account_group: &str) -> Result<bool, StoreError> {
        let found: Option<i32> = timed(
            self.limits.query_timeout,
            "account_group_exists",
            sqlx::query_scalar("SELECT 1 FROM account_groups WHERE id = $1")
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

    async fn seed(&self, seed: &Seed) -> Result<bool, StoreError> {
        let rows = seed
            .audiences
            .iter()
            .map(|(_, _, _, prospects)| stored_rows(prospects))
            .collect::<Result<Vec<_>, StoreError>>()?;
        // Bulk loads may take long; no query timeout beyond the server's
        // statement timeout. The transaction-scoped advisory lock makes
        // concurrent seeders wait for the first, which commits or rolls back
        // as a whole.
        let mut transaction = self.pool.begin().await.map_err(failed)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(SEED_LOCK)
            .execute(&mut *transaction)
            .await
            .map_err(failed)?;
        let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM account_groups WHERE id = $1")
            .bind(&seed.account_group)
            .fetch_optional(&mut *transaction)
            .await
            .map_err(failed)?;
        if exists.is_some() {
            return Ok(false);
        }
        sqlx::query("INSERT INTO account_groups (id, name) VALUES ($1, $2)")
            .bind(&seed.account_group)
            .bind(&seed.name)
            .execute(&mut *transaction)
            .await
            .map_err(failed)?;
        for ((id, name, state, _), rows) in seed.audiences.iter().zip(&rows) {
            sqlx::query("INSERT INTO audiences (id, account_group_id, name, status) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(&seed.account_group)
                .bind(name)
                .bind(state.as_str())
                .execute(&mut *transaction)
                .await
                .map_err(failed)?;
            insert_rows(&mut transaction, id, rows).await.map_err(failed)?;
        }
        for key in &seed.keys {
            key_insert(&seed.account_group, key)
                .execute(&mut *transaction)
                .await
                .map_err(failed)?;
        }
        transaction.commit().await.map_err(failed)?;
        Ok(true)
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
            sqlx::query("INSERT INTO audiences (id, account_group_id, name, status) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(account_group)
                .bind(name)
                .bind(state.as_str())
                .execute(&self.pool),
        )
        .await?;
        Ok(())
    }

    async fn insert_prospects(&self, audience: &str, prospects: &[StoredProspect]) -> Result<(), StoreError> {
        let rows = stored_rows(prospects)?;
        // Bulk loads may take long; they run without the query timeout.
        let mut transaction = self.pool.begin().await.map_err(failed)?;
        insert_rows(&mut transaction, audience, &rows)
            .await
            .map_err(failed)?;
        transaction.commit().await.map_err(failed)
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

    async fn create_key(&self, account_group: &str, key: &NewKey) -> Result<(), StoreError> {
        timed(
            self.limits.query_timeout,
            "create_key",
            key_insert(account_group, key).execute(&self.pool),
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

    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError> {
        // Two statements: the SELECT's snapshot is taken after the INSERT,
        // so it sees a value another instance committed meanwhile.
        timed(
            self.limits.query_timeout,
            "setting_insert",
            sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
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

    async fn refresh_statistics(&self) -> Result<(), StoreError> {
        sqlx::query("ANALYZE audiences, prospects")
            .execute(&self.pool)
            .await
            .map_err(failed)?;
        Ok(())
    }
}
