//! The PostgreSQL store's request-path connections: at most `max`
//! `PgConnection`s, each used by one request at a time, with no round trip
//! of the pool's own on a busy connection.
//!
//! sqlx's pool pings every connection as it goes back (a spawned task and
//! a round trip to the database after each request's one statement, with
//! no way to turn it off in sqlx 0.8), to find out whether a statement cut
//! off mid-way left the connection unusable. This pool knows instead: a
//! connection goes back only when its statement finished with an answer
//! from the database (rows or a database error); one cut off (the query
//! timeout, a request dropped mid-way) or failed on the wire is closed. A
//! connection idle for a second or more is pinged before it is used (one
//! left over from before a restart of the database is found out before a
//! request uses it); one idle for 10 minutes is closed, and none is used
//! for more than 30 (so that the instances spread again over a database's
//! replicas after a failover): [`Ages`].
//!
//! sqlx's pool (`PostgresStore::pool`) stays for migrations and operator
//! commands, with one connection.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::PgConnection;
use sqlx::postgres::PgConnectOptions;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::model::{ACQUIRE_DURATION, PoolStats, QUERY_DURATION, StoreError};

/// The store's error for a failed sqlx call.
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

/// How long a connection may sit idle before it is pinged on its way out
/// of the pool.
pub(super) const IDLE_PING: Duration = Duration::from_secs(1);

/// When a pooled connection is pinged, closed for idleness, or retired.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ages {
    /// Idle this long, a connection is pinged before it is used.
    pub(super) ping: Duration,
    /// Idle this long, a connection is closed.
    pub(super) close: Duration,
    /// Open this long, a connection is not used again.
    pub(super) retire: Duration,
}

impl Default for Ages {
    fn default() -> Self {
        Self {
            ping: IDLE_PING,
            close: Duration::from_secs(600),
            retire: Duration::from_secs(1800),
        }
    }
}

/// An idle connection, when it was opened and when it was last given back.
struct Idle {
    connection: PgConnection,
    opened: Instant,
    since: Instant,
}

/// The request path's connections.
pub(super) struct Connections {
    options: PgConnectOptions,
    /// Idle connections, the most recently used last (taken first: under
    /// light load the others age and are closed).
    idle: Mutex<VecDeque<Idle>>,
    permits: Arc<Semaphore>,
    max: u32,
    timeout: Duration,
    ages: Ages,
}

/// A connection lent to one statement: back to the pool through
/// [`Lease::settle`] when the statement got its answer, closed otherwise
/// (dropped mid-way, the statement's future was dropped too).
pub(super) struct Lease {
    pool: Arc<Connections>,
    connection: PgConnection,
    opened: Instant,
    permit: OwnedSemaphorePermit,
}

/// What a statement run on a lease came to: the database's answer, or
/// nothing within the limit.
pub(crate) type Attempt<T> = Result<Result<T, sqlx::Error>, tokio::time::error::Elapsed>;

impl Connections {
    pub(super) fn new(options: PgConnectOptions, max: u32, timeout: Duration, ages: Ages) -> Arc<Self> {
        let max = max.max(1);
        Arc::new(Self {
            options,
            idle: Mutex::new(VecDeque::new()),
            permits: Arc::new(Semaphore::new(usize::try_from(max).unwrap_or(usize::MAX))),
            max,
            timeout,
            ages,
        })
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, VecDeque<Idle>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A connection, waiting at most the query timeout for a free one and
    /// for a new one to open.
    pub(super) async fn lease(self: &Arc<Self>) -> Result<Lease, StoreError> {
        let waited = Instant::now();
        let leased = self.wait_for_lease().await;
        metrics::histogram!(ACQUIRE_DURATION).record(waited.elapsed().as_secs_f64());
        leased
    }

    async fn wait_for_lease(self: &Arc<Self>) -> Result<Lease, StoreError> {
        let within = |what: &str| {
            StoreError::Unavailable(format!(
                "no database connection {what} within {} ms",
                self.timeout.as_millis()
            ))
        };
        let Ok(Ok(permit)) =
            tokio::time::timeout(self.timeout, Arc::clone(&self.permits).acquire_owned()).await
        else {
            return Err(within("free"));
        };
        // One deadline for pinging idle connections and opening a new one.
        let Ok(found) = tokio::time::timeout(self.timeout, self.pooled_or_new()).await else {
            return Err(within("ready"));
        };
        let (connection, opened) = found?;
        Ok(Lease {
            pool: Arc::clone(self),
            connection,
            opened,
            permit,
        })
    }

    /// The most recently used idle connection that is still good, or a
    /// new one.
    async fn pooled_or_new(&self) -> Result<(PgConnection, Instant), StoreError> {
        loop {
            let Some(idle) = self.idle().pop_back() else {
                break;
            };
            if idle.opened.elapsed() >= self.ages.retire {
                close_quietly(idle.connection);
                continue;
            }
            let mut connection = idle.connection;
            if idle.since.elapsed() >= self.ages.ping && connection.ping().await.is_err() {
                continue;
            }
            return Ok((connection, idle.opened));
        }
        let connection = PgConnection::connect_with(&self.options).await.map_err(failed)?;
        Ok((connection, Instant::now()))
    }

    /// Connections open, idle, and the most there may be.
    pub(super) fn stats(&self) -> PoolStats {
        let idle = u32::try_from(self.idle().len()).unwrap_or(u32::MAX);
        let busy = self
            .max
            .saturating_sub(u32::try_from(self.permits.available_permits()).unwrap_or(u32::MAX));
        PoolStats {
            size: idle.saturating_add(busy).min(self.max),
            idle,
            max: self.max,
        }
    }

    /// Pools `connection` again, closing the one idle longest if it has
    /// been idle for `ages.close`.
    fn give_back(&self, connection: PgConnection, opened: Instant) {
        let now = Instant::now();
        let stale = {
            let mut idle = self.idle();
            idle.push_back(Idle {
                connection,
                opened,
                since: now,
            });
            let oldest_is_stale = idle
                .front()
                .is_some_and(|oldest| now.duration_since(oldest.since) >= self.ages.close);
            if oldest_is_stale { idle.pop_front() } else { None }
        };
        if let Some(stale) = stale {
            close_quietly(stale.connection);
        }
    }
}

/// Closes a connection politely (a `Terminate` message) off the request's
/// path, or drops it when there is no runtime to do that on.
fn close_quietly(connection: PgConnection) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            let _ = connection.close().await;
        });
    }
}

impl Lease {
    /// The longest a statement may take.
    pub(super) fn timeout(&self) -> Duration {
        self.pool.timeout
    }

    /// The connection, for one statement.
    pub(super) fn connection(&mut self) -> &mut PgConnection {
        &mut self.connection
    }

    /// Gives the connection back if the statement got the database's
    /// answer (its rows, or an error the database sent, after which the
    /// connection is ready for the next statement), closes it otherwise;
    /// records the statement's time, and turns the attempt into the
    /// store's result.
    pub(super) fn settle<T>(
        self,
        query: &'static str,
        started: Instant,
        attempt: Attempt<T>,
    ) -> Result<T, StoreError> {
        let Self {
            pool,
            connection,
            opened,
            permit,
        } = self;
        // Not answered: the database may still be sending, the connection
        // is dropped without a word.
        if matches!(&attempt, Ok(Ok(_)) | Ok(Err(sqlx::Error::Database(_)))) {
            pool.give_back(connection, opened);
        }
        drop(permit);
        result_of(query, started, pool.timeout, attempt)
    }
}

/// Records the time of the statement named `query`, started at `started`
/// under `limit`, and turns what it came to into the store's result.
pub(crate) fn result_of<T>(
    query: &'static str,
    started: Instant,
    limit: Duration,
    attempt: Attempt<T>,
) -> Result<T, StoreError> {
    metrics::histogram!(QUERY_DURATION, "query" => query).record(started.elapsed().as_secs_f64());
    match attempt {
        Ok(result) => result.map_err(failed),
        Err(_) => Err(StoreError::Unavailable(format!(
            "no answer within {} ms",
            limit.as_millis()
        ))),
    }
}

/// Runs one statement on a lease under the query timeout: `call` is given
/// the lease's connection.
macro_rules! on_lease {
    ($store:expr, $query:literal, |$connection:ident| $call:expr) => {{
        let mut lease = $store.lease().await?;
        let started = std::time::Instant::now();
        let timeout = lease.timeout();
        let attempt = {
            let $connection = lease.connection();
            tokio::time::timeout(timeout, $call).await
        };
        lease.settle($query, started, attempt)
    }};
}
pub(super) use on_lease;

#[cfg(test)]
mod tests {
    use super::*;

    /// The backend serving `pool`'s next lease, and that lease settled.
    async fn backend(pool: &Arc<Connections>) -> i32 {
        let mut lease = pool.lease().await.unwrap();
        let started = Instant::now();
        let attempt = Ok(sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(lease.connection())
            .await);
        lease.settle("test", started, attempt).unwrap()
    }

    /// A connection is reused while young and busy; one idle past
    /// `ages.close` is closed as another goes back; one open past
    /// `ages.retire` is not used again. On the server named by
    /// `AUDIENCES_TEST_POSTGRES_URL` (`scripts/with-postgres`), skipped
    /// without one unless `AUDIENCES_REQUIRE_POSTGRES` is set.
    #[tokio::test]
    async fn connections_are_reused_then_closed_when_idle_or_old() {
        let Ok(url) = std::env::var("AUDIENCES_TEST_POSTGRES_URL") else {
            assert!(std::env::var_os("AUDIENCES_REQUIRE_POSTGRES").is_none());
            return;
        };
        let options: PgConnectOptions = url.parse().unwrap();
        let ages = Ages {
            ping: Duration::from_millis(50),
            close: Duration::from_millis(300),
            retire: Duration::from_millis(900),
        };
        let pool = Connections::new(options, 2, Duration::from_secs(3), ages);
        let first = backend(&pool).await;
        assert_eq!(backend(&pool).await, first, "a busy connection is reused");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(backend(&pool).await, first, "pinged after 50 ms idle, and reused");

        // Two connections; the second goes back 400 ms after the first.
        let (mut one, mut two) = (pool.lease().await.unwrap(), pool.lease().await.unwrap());
        let pid = "SELECT pg_backend_pid()";
        let started = Instant::now();
        let attempt = Ok(sqlx::query_scalar::<_, i32>(pid)
            .fetch_one(one.connection())
            .await);
        assert_eq!(one.settle("test", started, attempt).unwrap(), first);
        tokio::time::sleep(Duration::from_millis(400)).await;
        let attempt = Ok(sqlx::query_scalar::<_, i32>(pid)
            .fetch_one(two.connection())
            .await);
        let second = two.settle("test", started, attempt).unwrap();
        assert_ne!(second, first);
        assert_eq!(pool.stats().idle, 1, "the one idle past 300 ms is closed");
        assert_eq!(backend(&pool).await, second);

        tokio::time::sleep(Duration::from_millis(900)).await;
        let age = pool.idle().back().map(|idle| idle.opened.elapsed());
        assert!(age.is_some_and(|age| age >= ages.retire), "{age:?}");
        assert_ne!(
            backend(&pool).await,
            second,
            "a connection past its age is not used"
        );
        assert_eq!(pool.stats().idle, 1, "the retired connection is not pooled again");
    }
}
