//! The SQLite store's connection pool: at most `max` rusqlite connections,
//! each used by one task at a time; reads on the request's own thread,
//! writes on tokio's blocking pool under the query timeout.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::model::{ACQUIRE_DURATION, QUERY_DURATION, StoreError, StoreLimits};

/// At most `max` connections, each used by one blocking task at a time.
pub(super) struct Pool {
    pub(super) path: PathBuf,
    pub(super) idle: Mutex<Vec<Connection>>,
    pub(super) permits: Arc<Semaphore>,
    pub(super) limits: StoreLimits,
}

/// Connections taken with [`SqliteStore::hold_all`]: queries wait until dropped.
pub struct Held(#[allow(dead_code, reason = "held until dropped")] pub(super) OwnedSemaphorePermit);

pub(super) fn failed(error: rusqlite::Error) -> StoreError {
    match &error {
        rusqlite::Error::SqliteFailure(failure, _) => match failure.code {
            ErrorCode::ConstraintViolation => StoreError::Rejected(error.to_string()),
            ErrorCode::OperationInterrupted => {
                StoreError::Unavailable("the query was interrupted".to_owned())
            }
            _ => StoreError::Unavailable(error.to_string()),
        },
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::Utf8Error(_) => StoreError::Corrupt(error.to_string()),
        _ => StoreError::Unavailable(error.to_string()),
    }
}

impl Pool {
    fn open_connection(&self) -> Result<Connection, StoreError> {
        let connection = Connection::open(&self.path).map_err(failed)?;
        // A locked database is waited on for less than the query timeout,
        // so that the lock itself is what the client hears about.
        connection
            .busy_timeout(self.limits.query_timeout.mul_f32(0.8))
            .map_err(failed)?;
        connection
            .pragma_update(None, "foreign_keys", true)
            .map_err(failed)?;
        Ok(connection)
    }

    fn give_back(&self, connection: Connection) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(connection);
    }

    /// A permit and a pooled connection (opened on the blocking pool when
    /// none is idle), waiting at most the query timeout.
    async fn checkout(self: &Arc<Self>) -> Result<(OwnedSemaphorePermit, Connection), StoreError> {
        let limit = self.limits.query_timeout;
        let waited = Instant::now();
        let permit = tokio::time::timeout(limit, Arc::clone(&self.permits).acquire_owned()).await;
        metrics::histogram!(ACQUIRE_DURATION).record(waited.elapsed().as_secs_f64());
        let Ok(Ok(permit)) = permit else {
            return Err(StoreError::Unavailable(format!(
                "no database connection free within {} ms",
                limit.as_millis()
            )));
        };
        let idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let connection = match idle {
            Some(connection) => connection,
            None => {
                let pool = Arc::clone(self);
                tokio::task::spawn_blocking(move || pool.open_connection())
                    .await
                    .map_err(|error| StoreError::Unavailable(error.to_string()))??
            }
        };
        Ok((permit, connection))
    }

    /// Runs a read on a pooled connection on this task's own thread: the
    /// reads of a request (a key, a page of at most 101 rows off an index)
    /// take tens of microseconds and, in WAL mode, never wait for a lock,
    /// so handing them to the blocking pool would cost more (two thread
    /// wake-ups) than they do. Writes, which may wait for the write lock,
    /// go through [`Pool::call`].
    pub(super) async fn read<T>(
        self: &Arc<Self>,
        query: &'static str,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let (permit, mut connection) = self.checkout().await?;
        let started = Instant::now();
        let outcome = work(&mut connection);
        metrics::histogram!(QUERY_DURATION, "query" => query).record(started.elapsed().as_secs_f64());
        self.give_back(connection);
        drop(permit);
        outcome.map_err(failed)
    }

    /// Runs `work` on a pooled connection on the blocking pool, within the
    /// query timeout (`None`: no timeout, for bulk loads); past it the
    /// statement is interrupted.
    pub(super) async fn call<T: Send + 'static>(
        self: &Arc<Self>,
        query: &'static str,
        timeout: Option<Duration>,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (permit, mut connection) = self.checkout().await?;
        let started = Instant::now();
        let interrupt = connection.get_interrupt_handle();
        let pool = Arc::clone(self);
        let task = tokio::task::spawn_blocking(move || {
            let outcome = work(&mut connection);
            pool.give_back(connection);
            drop(permit);
            outcome
        });
        let outcome = match timeout {
            Some(timeout) => match tokio::time::timeout(timeout, task).await {
                Ok(joined) => joined,
                Err(_) => {
                    // The task gives the connection back once interrupted.
                    interrupt.interrupt();
                    metrics::histogram!(QUERY_DURATION, "query" => query)
                        .record(started.elapsed().as_secs_f64());
                    return Err(StoreError::Unavailable(format!(
                        "no answer within {} ms",
                        timeout.as_millis()
                    )));
                }
            },
            None => task.await,
        };
        metrics::histogram!(QUERY_DURATION, "query" => query).record(started.elapsed().as_secs_f64());
        outcome
            .map_err(|error| StoreError::Unavailable(format!("the query task failed: {error}")))?
            .map_err(failed)
    }

    pub(super) async fn query<T: Send + 'static>(
        self: &Arc<Self>,
        query: &'static str,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.call(query, Some(self.limits.query_timeout), work).await
    }
}
