//! The PostgreSQL store's request-path connections: at most `max`
//! connections (tokio-postgres), each shared by every request that picks
//! it, their statements pipelined.
//!
//! A request's statement is written to the connection with the fewest
//! statements in flight, behind the others already there, without waiting
//! for their answers; the database reads them one after the other without
//! going to sleep in between, and the answers come back in order. Against
//! one connection per request (sqlx's pool, what this replaced), that
//! removes most of the wake-ups of both processes, which were most of the
//! CPU of a request on this machine (BENCHMARKS.md §1). A new connection
//! opens only when every open one has [`PIPELINE_DEPTH`] statements in
//! flight: a statement waits behind the ones before it on its connection
//! (a slow one delays those behind it, up to the query timeout), and the
//! database's work per statement is least with the deepest pipelines.
//!
//! A statement dropped mid-way (a request cut off) leaves its connection
//! as it was: the connection's task reads and drops the answer, and the
//! next statement gets its own. A connection is closed (and another opened
//! when next needed) when a statement on it got no answer within the
//! query timeout or failed on the wire, when it was idle for 10 minutes,
//! and when it has been open for 30 (so that the instances spread again
//! over a database's replicas after a failover); one idle for a second or
//! more is pinged before it is used again (one left over from before a
//! restart of the database is found out before a request uses it): [`Ages`].
//!
//! Every connection prepares the request path's statements once, as it
//! opens ([`Prepared`]); a statement is then one `Bind`/`Execute`/`Sync`.
//! sqlx's pool (`PostgresStore::pool`) stays for migrations and operator
//! commands, with one connection.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls, Row, Statement};

use super::model::{ACQUIRE_DURATION, PoolStats, QUERY_DURATION, StoreError};

/// The store's error for a failed sqlx call (migrations, operator
/// commands).
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

/// The store's error for a statement of the request path that failed.
fn statement_failed(error: &tokio_postgres::Error) -> StoreError {
    match error.as_db_error() {
        Some(database)
            if *database.code() == SqlState::UNIQUE_VIOLATION
                || *database.code() == SqlState::FOREIGN_KEY_VIOLATION =>
        {
            StoreError::Rejected(database.message().to_owned())
        }
        _ => StoreError::Unavailable(error.to_string()),
    }
}

/// The store's error for a column of a request-path row that does not
/// decode as the store wrote it.
pub(super) fn undecodable(error: tokio_postgres::Error) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

/// Statements in flight on every open connection before another opens: on
/// this machine one connection with its statements pipelined served 29k
/// requests/s against 20k for 16 connections sharing the same load
/// (BENCHMARKS.md §1), so connections are added only when the ones open
/// are this far behind (a database that cannot keep up with one
/// connection's statements lets them pile up, and gets another).
pub(super) const PIPELINE_DEPTH: usize = 16;

/// How long a connection may sit idle before it is pinged on its next use.
pub(super) const IDLE_PING: Duration = Duration::from_secs(1);

/// When a connection is pinged, closed for idleness, or retired.
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

/// A statement every connection prepares as it opens: its SQL and the
/// types of its parameters (given, not inferred, so that a plan never
/// depends on what the database guessed).
#[derive(Debug, Clone, Copy)]
pub(super) struct Prepared {
    pub(super) sql: &'static str,
    pub(super) types: &'static [Type],
}

/// An open connection, its prepared statements, and its use.
struct Open {
    client: Client,
    statements: Vec<Statement>,
    opened: Instant,
    /// Statements written and not yet answered (or dropped).
    in_flight: AtomicUsize,
    /// When the last statement was answered, or the connection opened.
    answered: Mutex<Instant>,
}

impl Open {
    fn idle_for(&self) -> Duration {
        self.answered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .elapsed()
    }

    fn answered_now(&self) {
        *self.answered.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }
}

/// One of the `max` places a connection may be open in.
#[derive(Default)]
struct Slot {
    current: Mutex<Option<Arc<Open>>>,
    /// Held while a connection opens or is pinged in this slot, so that
    /// the requests arriving meanwhile wait for that one.
    opening: tokio::sync::Mutex<()>,
}

impl Slot {
    fn current(&self) -> Option<Arc<Open>> {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Takes `open` out of the slot if it is still there (its drop, once
    /// the statements in flight on it are answered, closes it).
    fn discard(&self, open: &Arc<Open>) {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if current.as_ref().is_some_and(|kept| Arc::ptr_eq(kept, open)) {
            *current = None;
        }
    }
}

/// The request path's connections.
pub(super) struct Connections {
    config: tokio_postgres::Config,
    statements: Vec<Prepared>,
    slots: Vec<Slot>,
    /// Statements in flight on every open connection before another opens.
    depth: usize,
    timeout: Duration,
    ages: Ages,
}

/// A statement in flight on a connection: counted until dropped.
struct InFlight {
    slot: usize,
    open: Arc<Open>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.open.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Connections {
    /// `statements` are prepared on every connection as it opens, and run
    /// by their index ([`Connections::query`]); at most `max` connections,
    /// another opening when each open one has `depth` statements in flight.
    pub(super) fn new(
        config: tokio_postgres::Config,
        statements: Vec<Prepared>,
        (max, depth): (u32, usize),
        timeout: Duration,
        ages: Ages,
    ) -> Arc<Self> {
        let max = usize::try_from(max.max(1)).unwrap_or(1);
        Arc::new(Self {
            config,
            statements,
            slots: (0..max).map(|_| Slot::default()).collect(),
            depth: depth.max(1),
            timeout,
            ages,
        })
    }

    /// Runs the statement at `statement` (an index into the statements
    /// given to [`Connections::new`]) with `parameters`, under the query
    /// timeout; `query` names it in the metrics.
    pub(super) async fn query(
        &self,
        query: &'static str,
        statement: usize,
        parameters: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let waited = Instant::now();
        let in_flight = tokio::time::timeout(self.timeout, self.in_flight()).await;
        metrics::histogram!(ACQUIRE_DURATION).record(waited.elapsed().as_secs_f64());
        let in_flight = in_flight.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(format!(
                "no database connection ready within {} ms",
                self.timeout.as_millis()
            )))
        })?;
        let prepared = in_flight
            .open
            .statements
            .get(statement)
            .ok_or_else(|| StoreError::Unavailable(format!("no statement {statement} is prepared")))?;
        let started = Instant::now();
        let attempt =
            tokio::time::timeout(self.timeout, in_flight.open.client.query(prepared, parameters)).await;
        metrics::histogram!(QUERY_DURATION, "query" => query).record(started.elapsed().as_secs_f64());
        match attempt {
            Ok(Ok(rows)) => {
                in_flight.open.answered_now();
                Ok(rows)
            }
            Ok(Err(error)) => {
                if error.as_db_error().is_some() {
                    // The database answered: the connection is as good as before.
                    in_flight.open.answered_now();
                } else {
                    self.slots[in_flight.slot].discard(&in_flight.open);
                }
                Err(statement_failed(&error))
            }
            Err(_) => {
                // No answer: whatever the connection is waiting for, the
                // statements behind this one wait for it too.
                self.slots[in_flight.slot].discard(&in_flight.open);
                Err(StoreError::Unavailable(format!(
                    "no answer within {} ms",
                    self.timeout.as_millis()
                )))
            }
        }
    }

    /// The connection with the fewest statements in flight, counted as one
    /// more; a new one when every open one is busy and a slot is free.
    async fn in_flight(&self) -> Result<InFlight, StoreError> {
        let mut best: Option<(usize, Arc<Open>, usize)> = None;
        let mut free = None;
        for (index, slot) in self.slots.iter().enumerate() {
            let Some(open) = slot.current() else {
                free = free.or(Some(index));
                continue;
            };
            if open.client.is_closed() || open.opened.elapsed() >= self.ages.retire {
                slot.discard(&open);
                free = free.or(Some(index));
                continue;
            }
            let busy = open.in_flight.load(Ordering::Acquire);
            if busy == 0 && open.idle_for() >= self.ages.close && best.is_some() {
                // Idle this long while another did the work: closed.
                slot.discard(&open);
                continue;
            }
            if best.as_ref().is_none_or(|(_, _, fewest)| busy < *fewest) {
                best = Some((index, open, busy));
            }
        }
        if let Some((index, open, busy)) = best
            && (busy < self.depth || free.is_none())
        {
            open.in_flight.fetch_add(1, Ordering::AcqRel);
            let in_flight = InFlight { slot: index, open };
            if busy == 0 && in_flight.open.idle_for() >= self.ages.ping {
                return self.pinged(in_flight).await;
            }
            return Ok(in_flight);
        }
        self.opened_in(free.unwrap_or(0)).await
    }

    /// `in_flight`'s connection if it answers a ping, else a new one in
    /// its slot.
    async fn pinged(&self, in_flight: InFlight) -> Result<InFlight, StoreError> {
        let slot = &self.slots[in_flight.slot];
        let opening = slot.opening.lock().await;
        if in_flight.open.idle_for() < self.ages.ping {
            // Pinged (or used) while this request waited.
            return Ok(in_flight);
        }
        if in_flight.open.client.simple_query("").await.is_ok() {
            in_flight.open.answered_now();
            return Ok(in_flight);
        }
        slot.discard(&in_flight.open);
        let index = in_flight.slot;
        drop(in_flight);
        drop(opening);
        self.opened_in(index).await
    }

    /// The connection in slot `index`, opened (and its statements prepared)
    /// if there is none, counted as one statement more.
    async fn opened_in(&self, index: usize) -> Result<InFlight, StoreError> {
        let slot = &self.slots[index];
        let _opening = slot.opening.lock().await;
        let open = match slot.current().filter(|open| !open.client.is_closed()) {
            Some(open) => open,
            None => {
                let open = Arc::new(self.connect().await?);
                *slot.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&open));
                open
            }
        };
        open.in_flight.fetch_add(1, Ordering::AcqRel);
        Ok(InFlight { slot: index, open })
    }

    /// A new connection, its task spawned and its statements prepared.
    async fn connect(&self) -> Result<Open, StoreError> {
        let refused = |error: tokio_postgres::Error| StoreError::Unavailable(error.to_string());
        let (client, connection) = self.config.connect(NoTls).await.map_err(refused)?;
        tokio::spawn(async move {
            // Ends when the client is dropped (or the database goes away);
            // a failure shows as the client's `is_closed`.
            let _ = connection.await;
        });
        let preparing = self
            .statements
            .iter()
            .map(|prepared| client.prepare_typed(prepared.sql, prepared.types));
        let statements = futures_util::future::try_join_all(preparing)
            .await
            .map_err(|error| statement_failed(&error))?;
        let now = Instant::now();
        Ok(Open {
            client,
            statements,
            opened: now,
            in_flight: AtomicUsize::new(0),
            answered: Mutex::new(now),
        })
    }

    /// Connections open, idle (no statement in flight), and the most there
    /// may be.
    pub(super) fn stats(&self) -> PoolStats {
        let (mut size, mut idle) = (0_u32, 0_u32);
        for open in self.slots.iter().filter_map(Slot::current) {
            if open.client.is_closed() {
                continue;
            }
            size += 1;
            idle += u32::from(open.in_flight.load(Ordering::Acquire) == 0);
        }
        PoolStats {
            size,
            idle,
            max: u32::try_from(self.slots.len()).unwrap_or(u32::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PID: usize = 0;
    const SLOW_PID: usize = 1;

    fn statements() -> Vec<Prepared> {
        vec![
            Prepared {
                sql: "SELECT pg_backend_pid()",
                types: &[],
            },
            Prepared {
                sql: "SELECT pg_backend_pid() FROM pg_sleep($1)",
                types: &[Type::FLOAT8],
            },
        ]
    }

    /// Connections to the server named by `AUDIENCES_TEST_POSTGRES_URL`
    /// (`scripts/with-postgres`) preparing [`statements`]; `None` (the test
    /// is skipped) without one, unless `AUDIENCES_REQUIRE_POSTGRES` is set.
    fn connections(shape: (u32, usize), timeout: Duration, ages: Ages) -> Option<Arc<Connections>> {
        let Ok(url) = std::env::var("AUDIENCES_TEST_POSTGRES_URL") else {
            assert!(std::env::var_os("AUDIENCES_REQUIRE_POSTGRES").is_none());
            return None;
        };
        Some(Connections::new(
            url.parse().unwrap(),
            statements(),
            shape,
            timeout,
            ages,
        ))
    }

    async fn backend(pool: &Connections) -> i32 {
        let rows = pool.query("test", PID, &[]).await.unwrap();
        rows[0].get(0)
    }

    /// A connection is reused while busy a moment ago, pinged after an
    /// idle second and reused; a second one opens only while the first has
    /// a statement in flight; one idle past `ages.close` is closed when
    /// another does the work; one open past `ages.retire` is not used
    /// again.
    #[tokio::test]
    async fn connections_open_when_busy_and_close_when_idle_or_old() {
        let ages = Ages {
            ping: Duration::from_millis(50),
            close: Duration::from_millis(400),
            retire: Duration::from_millis(3_000),
        };
        let Some(pool) = connections((2, 1), Duration::from_secs(3), ages) else {
            return;
        };
        let first = backend(&pool).await;
        assert_eq!(backend(&pool).await, first, "an idle connection is reused");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(backend(&pool).await, first, "pinged after 50 ms idle, and reused");
        assert_eq!((pool.stats().size, pool.stats().idle), (1, 1));

        // While the first connection sleeps, a second opens.
        let slow = pool.query("test", SLOW_PID, &[&0.3_f64]);
        let (slow, second) = tokio::join!(slow, async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            backend(&pool).await
        });
        assert_eq!(slow.unwrap()[0].get::<_, i32>(0), first);
        assert_ne!(second, first, "the busy connection is not waited for");
        assert_eq!(pool.stats().size, 2);

        // The first keeps the work; the second, idle past 400 ms, is closed.
        for _ in 0..5 {
            assert_eq!(backend(&pool).await, first);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(backend(&pool).await, first);
        assert_eq!(pool.stats().size, 1, "the idle connection is closed");

        tokio::time::sleep(Duration::from_millis(2_200)).await;
        let renewed = backend(&pool).await;
        assert_ne!(renewed, first, "a connection past its age is not used");
        assert_eq!(pool.stats().size, 1, "the retired connection is not kept");
    }

    /// Below the depth, statements share a connection: the second is
    /// written behind the first, sleeping one, and answered after it.
    #[tokio::test]
    async fn statements_are_pipelined_below_the_depth() {
        let shape = (4, PIPELINE_DEPTH);
        let Some(pool) = connections(shape, Duration::from_secs(3), Ages::default()) else {
            return;
        };
        let first = backend(&pool).await;
        let started = Instant::now();
        let slow = pool.query("test", SLOW_PID, &[&0.3_f64]);
        let (slow, (behind, waited)) = tokio::join!(slow, async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            (backend(&pool).await, started.elapsed())
        });
        assert_eq!(slow.unwrap()[0].get::<_, i32>(0), first);
        assert_eq!(behind, first, "one connection for both");
        assert!(
            waited >= Duration::from_millis(300),
            "answered after the one before it: {waited:?}"
        );
        assert_eq!(pool.stats().size, 1);
    }

    /// A statement that gets no answer within the timeout closes its
    /// connection; the next statement opens another and is answered.
    #[tokio::test]
    async fn a_statement_without_an_answer_closes_its_connection() {
        let shape = (1, PIPELINE_DEPTH);
        let Some(pool) = connections(shape, Duration::from_millis(200), Ages::default()) else {
            return;
        };
        let first = backend(&pool).await;
        let late = pool.query("test", SLOW_PID, &[&1.0_f64]).await;
        assert!(
            matches!(&late, Err(StoreError::Unavailable(message)) if message.contains("200 ms")),
            "{late:?}"
        );
        assert_ne!(backend(&pool).await, first);
        assert_eq!(pool.stats().size, 1);
    }
}
