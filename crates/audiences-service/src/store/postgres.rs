//! The PostgreSQL store, for several instances on one database: the
//! request path on tokio-postgres, pipelined (postgres_pool.rs), migrations
//! and operator commands on sqlx.

use std::future::Future;
use std::str::FromStr;
use std::time::{Duration, Instant};

use std::sync::Arc;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio_postgres::types::{FromSql, Type};

use super::model::{
    AudienceState, KeyRecord, PageOutcome, PoolStats, Position, QUERY_DURATION, StoreError, StoreLimits,
    permissions_of_column,
};
use super::page::PageAssembler;
use super::page_cache::{Kept, PageCache, PageCacheStats, PageKey};
use super::postgres_pool::{Ages, Connections, IDLE_PING, PIPELINE_DEPTH, failed, undecodable};
use super::postgres_statements::{PAGE_SQL, Request, request_statements};
use super::traits::{RequestPath, SharedLimits};

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The PostgreSQL store, for scale.
#[derive(Clone)]
pub struct PostgresStore {
    /// Migrations and operator commands (one connection).
    pool: PgPool,
    /// The request path's statements.
    connections: Arc<Connections>,
    limits: StoreLimits,
    /// The pages this instance read, kept at their audience's version.
    pages: Arc<PageCache>,
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

/// Runs one database call, named `query`, under `limit`, and records how
/// long it took.
pub(crate) async fn timed<T>(
    limit: Duration,
    query: &'static str,
    call: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, StoreError> {
    let started = Instant::now();
    let attempt = tokio::time::timeout(limit, call).await;
    metrics::histogram!(QUERY_DURATION, "query" => query).record(started.elapsed().as_secs_f64());
    match attempt {
        Ok(result) => result.map_err(failed),
        Err(_) => Err(StoreError::Unavailable(format!(
            "no answer within {} ms",
            limit.as_millis()
        ))),
    }
}

/// A TEXT column's bytes as the database sent them (UTF-8, which the row
/// check proves: decoding as `&str` would look at every byte once more).
struct TextBytes<'a>(&'a [u8]);

impl<'a> FromSql<'a> for TextBytes<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Self(raw))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::TEXT | Type::VARCHAR)
    }
}

/// What the audience's state and version, read for a kept page, make of
/// it: the kept page while the version is the one it was read at, else
/// `None` (the page is to be read). `row`: the statement's row, the state
/// in column `first` (`NULL`: no such audience) and the version after it;
/// no row: no such audience.
pub(super) fn kept_outcome(
    pages: &PageCache,
    kept: &Kept,
    row: Option<&tokio_postgres::Row>,
    first: usize,
) -> Result<Option<PageOutcome>, StoreError> {
    let state = row
        .map(|row| row.try_get::<_, Option<&str>>(first))
        .transpose()
        .map_err(undecodable)?
        .flatten();
    let (Some(row), Some(state)) = (row, state) else {
        return Ok(Some(PageOutcome::NotFound));
    };
    if AudienceState::parse(state)? == AudienceState::Populating {
        return Ok(Some(PageOutcome::Populating));
    }
    let version = row
        .try_get::<_, Option<i64>>(first + 1)
        .map_err(undecodable)?
        .ok_or_else(|| StoreError::Corrupt("an audience without its version".into()))?;
    Ok(pages.serve(kept, version).map(PageOutcome::Page))
}

/// A page from the rows of [`PAGE_SQL`] (or of a statement whose columns
/// from `first` on are the same): the audience's state (`NULL`: no
/// audience) and version, then each prospect's position and stored JSON.
/// The version is `None` when there is no audience.
pub(super) fn assemble(
    rows: &[tokio_postgres::Row],
    first: usize,
    limit: u32,
) -> Result<(PageOutcome, Option<i64>), StoreError> {
    let mut page = PageAssembler::new(limit);
    let mut version = None;
    for row in rows {
        if page.wants_state() {
            match row.try_get::<_, Option<&str>>(first).map_err(undecodable)? {
                Some(state) => page.state(state)?,
                None => break,
            }
            version = Some(row.try_get::<_, i64>(first + 1).map_err(undecodable)?);
        }
        let Some(created_at) = row.try_get::<_, Option<i64>>(first + 2).map_err(undecodable)? else {
            break;
        };
        if !page.wants_row() {
            break;
        }
        let TextBytes(data) = row.try_get(first + 4).map_err(undecodable)?;
        let proof: Option<&[u8]> = row.try_get(first + 5).map_err(undecodable)?;
        let id: &str = row.try_get(first + 3).map_err(undecodable)?;
        page.row(created_at, id, data, proof)?;
    }
    Ok((page.finish(), version))
}

impl PostgresStore {
    /// Connects to `url` and applies the migrations (once, whatever the
    /// number of instances starting: sqlx's migrator holds an advisory lock).
    pub async fn open(url: &str, limits: StoreLimits) -> Result<Self, StoreError> {
        // The error and its causes (tokio-postgres names the option it
        // does not know in the cause, not in the error).
        let bad_url = |error: &dyn std::error::Error| {
            let mut message = format!("bad PostgreSQL URL: {error}");
            let mut cause = error.source();
            while let Some(inner) = cause {
                let inner_text = inner.to_string();
                if !message.contains(&inner_text) {
                    message.push_str(&format!(": {inner_text}"));
                }
                cause = inner.source();
            }
            StoreError::Rejected(message)
        };
        let statement_timeout = format!("{}", limits.query_timeout.as_millis());
        // A generic plan for every prepared statement: PostgreSQL otherwise
        // keeps planning the page statement afresh on each execution (its
        // custom plans look cheaper than the generic one, which is the same
        // index range scan), and planning was most of the backends' CPU:
        // 2.4k pages of 25 a second with it against 5k without on this
        // machine (BENCHMARKS.md §1).
        let settings = [
            ("statement_timeout", statement_timeout.as_str()),
            ("plan_cache_mode", "force_generic_plan"),
        ];
        let options = PgConnectOptions::from_str(url)
            .map_err(|error| bad_url(&error))?
            .options(settings);
        // The request path's connections: the same server, user and
        // settings, parsed by tokio-postgres.
        let mut config = tokio_postgres::Config::from_str(url).map_err(|error| bad_url(&error))?;
        let mut startup = config.get_options().map(str::to_owned).unwrap_or_default();
        for (name, value) in settings {
            startup.push_str(&format!(" -c {name}={value}"));
        }
        config.options(startup.trim_start());
        // Migrations and operator commands: sqlx's pool, one connection,
        // pinged when it has been idle for IDLE_PING.
        let pool = PgPoolOptions::new()
            .test_before_acquire(false)
            .before_acquire(|connection, metadata| {
                Box::pin(async move {
                    if metadata.idle_for >= IDLE_PING {
                        sqlx::Connection::ping(connection).await?;
                    }
                    Ok(true)
                })
            })
            .max_connections(1)
            .acquire_timeout(limits.query_timeout)
            .connect_with(options)
            .await
            .map_err(failed)?;
        MIGRATIONS
            .run(&pool)
            .await
            .map_err(|error| StoreError::Unavailable(format!("migrations failed: {error}")))?;
        // The request path: the rest of the connections, at least one
        // (prepared after the migrations made the tables they read).
        let connections = Connections::new(
            config,
            request_statements(),
            (limits.max_connections.saturating_sub(1).max(1), PIPELINE_DEPTH),
            limits.query_timeout,
            Ages::default(),
        );
        Ok(Self {
            pool,
            connections,
            pages: Arc::new(PageCache::new(limits.page_cache_bytes)),
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
    /// statement prepared on a connection with the request path's settings,
    /// then `EXPLAIN EXECUTE` (for operators, and for the test that keeps
    /// it one generic index range scan without a sort).
    pub async fn page_plan(&self) -> Result<String, StoreError> {
        let (created_at, id) = Position::bounds(None);
        // Literals, as a caller's first page binds them: a custom plan would
        // show these values, a generic plan its parameters.
        self.plan(&PAGE_SQL, &format!("'a', 'g', {created_at}, '{id}', 26"))
            .await
    }

    /// The plan of `statement` with `arguments` (SQL literals), prepared
    /// with the settings of the request path's connections: `EXPLAIN`
    /// without `ANALYZE`, so nothing is run.
    pub(super) async fn plan(&self, statement: &str, arguments: &str) -> Result<String, StoreError> {
        let prepare = format!("PREPARE audiences_page_plan AS {statement}");
        let explain = format!("EXPLAIN EXECUTE audiences_page_plan({arguments})");
        let mut connection = self.pool.acquire().await.map_err(failed)?;
        let plan = timed(self.limits.query_timeout, "plan", async {
            sqlx::raw_sql(&prepare).execute(&mut *connection).await?;
            let plan: Result<Vec<String>, _> = sqlx::query_scalar(&explain).fetch_all(&mut *connection).await;
            // Deallocated whatever EXPLAIN answered: the connection goes
            // back to the pool.
            sqlx::raw_sql("DEALLOCATE audiences_page_plan")
                .execute(&mut *connection)
                .await?;
            plan
        })
        .await?;
        Ok(plan.join("\n"))
    }

    /// Pages served from this instance's page cache and read from the
    /// database so far.
    pub fn page_cache_stats(&self) -> PageCacheStats {
        self.pages.stats()
    }

    /// The instance's kept pages.
    pub(super) fn page_cache(&self) -> &PageCache {
        &self.pages
    }

    /// Runs the request path's `statement` with `parameters`; `query` names
    /// it in the metrics.
    pub(super) async fn query(
        &self,
        query: &'static str,
        statement: Request,
        parameters: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        self.connections
            .query(query, statement as usize, parameters)
            .await
    }

    /// The page the statement's `rows` give (from column `first` on, see
    /// [`assemble`]), kept for the next request for `key` with the
    /// audience's version it was read at.
    pub(super) fn page_of(
        &self,
        rows: &[tokio_postgres::Row],
        first: usize,
        key: &PageKey<'_>,
    ) -> Result<PageOutcome, StoreError> {
        let (outcome, version) = assemble(rows, first, key.limit)?;
        if let (PageOutcome::Page(read), Some(version)) = (&outcome, version) {
            self.pages.read(key, version, read);
        }
        Ok(outcome)
    }

    /// The page for `key` in `account_group`, its rows read by
    /// [`PAGE_SQL`] (and kept).
    pub(super) async fn read_page(
        &self,
        account_group: &str,
        key: &PageKey<'_>,
    ) -> Result<PageOutcome, StoreError> {
        let size = i64::from(key.limit) + 1;
        let rows = self
            .query(
                "page",
                Request::Page,
                &[&key.audience, &account_group, &key.after.0, &key.after.1, &size],
            )
            .await?;
        self.page_of(&rows, 0, key)
    }
}

#[async_trait::async_trait]
impl RequestPath for PostgresStore {
    async fn key_by_hash(&self, hash: &[u8]) -> Result<Option<KeyRecord>, StoreError> {
        let rows = self.query("key_by_hash", Request::KeyByHash, &[&hash]).await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let permissions: &str = row.try_get(2).map_err(undecodable)?;
        Ok(Some(KeyRecord {
            id: row.try_get(0).map_err(undecodable)?,
            account_group_id: row.try_get(1).map_err(undecodable)?,
            permissions: permissions_of_column(permissions),
        }))
    }

    async fn page(
        &self,
        account_group: &str,
        audience: &str,
        after: Option<&Position>,
        limit: u32,
    ) -> Result<PageOutcome, StoreError> {
        let key = PageKey::new(audience, after, limit);
        let Some(kept) = self.pages.lookup(&key) else {
            return self.read_page(account_group, &key).await;
        };
        let rows = self
            .query("audience_version", Request::State, &[&audience, &account_group])
            .await?;
        match kept_outcome(&self.pages, &kept, rows.first(), 0)? {
            Some(outcome) => Ok(outcome),
            // The audience changed: its page read now.
            None => self.read_page(account_group, &key).await,
        }
    }

    async fn audience_state(
        &self,
        account_group: &str,
        audience: &str,
    ) -> Result<Option<AudienceState>, StoreError> {
        let rows = self
            .query("audience_state", Request::State, &[&audience, &account_group])
            .await?;
        rows.first()
            .map(|row| AudienceState::parse(row.try_get::<_, &str>(0).map_err(undecodable)?))
            .transpose()
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
        self.query("ping", Request::Page, &[&"", &"", &0_i64, &"", &1_i64])
            .await?;
        Ok(())
    }

    fn pool_stats(&self) -> PoolStats {
        self.connections.stats()
    }

    fn shared_limits(&self) -> Option<&dyn SharedLimits> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A URL either driver cannot read is refused before anything is
    /// opened, naming what it could not read; no server is needed.
    #[tokio::test]
    async fn a_url_the_request_path_cannot_read_is_refused_by_name() {
        for (url, named) in [
            (
                "postgres://user@127.0.0.1:1/db?no_such_option=1",
                "no_such_option",
            ),
            (
                "postgres://user@127.0.0.1:1/db?sslmode=sometimes",
                "\"sometimes\"",
            ),
            ("postgres://user@127.0.0.1:notaport/db", "URL"),
        ] {
            match PostgresStore::open(url, StoreLimits::default()).await {
                Err(StoreError::Rejected(message)) => {
                    assert!(message.starts_with("bad PostgreSQL URL"), "{url}: {message}");
                    assert!(message.contains(named), "{url}: {message}");
                }
                Err(other) => panic!("{url}: {other}"),
                Ok(_) => panic!("{url}: opened"),
            }
        }
    }
}
