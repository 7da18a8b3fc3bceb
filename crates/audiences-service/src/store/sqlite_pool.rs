//! The SQLite store's connection pool: at most `max` rusqlite connections,
//! each used by one task at a time; reads on the request's own thread,
//! writes on tokio's blocking pool under the query timeout.
//!
//! The pool heals: connections never create the database file (a file
//! moved away is an error, not a new empty database); a connection whose
//! query failed in a way that means the connection or its file is bad is
//! dropped, not pooled again; and the file's identity (device and inode) is
//! looked at again at most every [`IDENTITY_CHECK`], so that a file moved
//! away, restored or replaced is picked up within that bound: every pooled
//! connection opened on another file is dropped.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, OpenFlags};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::model::{ACQUIRE_DURATION, QUERY_DURATION, StoreError, StoreLimits};

/// How often, at most, the database file's identity is looked at again:
/// the bound within which a moved, restored or replaced file is picked up.
pub(crate) const IDENTITY_CHECK: Duration = Duration::from_secs(1);

/// At most `max` connections, each used by one blocking task at a time.
pub(super) struct Pool {
    pub(super) path: PathBuf,
    /// Idle connections, each with the generation of the file it was opened on.
    pub(super) idle: Mutex<Vec<(u64, Connection)>>,
    pub(super) permits: Arc<Semaphore>,
    pub(super) limits: StoreLimits,
    pub(super) file: Mutex<FileWatch>,
    /// Bumped whenever the file's identity changes.
    pub(super) generation: AtomicU64,
}

/// What the pool last saw at its path.
pub(super) struct FileWatch {
    /// Device and inode, `None` when nothing was there.
    pub(super) identity: Option<(u64, u64)>,
    pub(super) checked: Instant,
}

impl FileWatch {
    pub(super) fn of(path: &std::path::Path) -> Self {
        Self {
            identity: identity(path),
            checked: Instant::now(),
        }
    }
}

fn identity(path: &std::path::Path) -> Option<(u64, u64)> {
    std::fs::metadata(path)
        .ok()
        .map(|metadata| (metadata.dev(), metadata.ino()))
}

/// Whether a failed query means the connection (or the file under it) is
/// bad and must not be used again: anything but a constraint, a lock held
/// by another connection, an interrupt (the query timeout) or a value that
/// did not convert.
fn spoils_connection(error: &rusqlite::Error) -> bool {
    match error {
        rusqlite::Error::SqliteFailure(failure, _) => !matches!(
            failure.code,
            ErrorCode::ConstraintViolation
                | ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::OperationInterrupted
        ),
        rusqlite::Error::SqlInputError { .. } => true,
        _ => false,
    }
}

/// Connections taken with `SqliteStore::hold_all`: queries wait until dropped.
pub struct Held(#[allow(dead_code, reason = "held until dropped")] pub(super) OwnedSemaphorePermit);

/// A permit and a connection on the current file.
struct Checkout {
    permit: OwnedSemaphorePermit,
    generation: u64,
    connection: Connection,
}

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
    /// Opens a connection on the file at the path, never creating it.
    pub(super) fn open_connection(&self) -> Result<Connection, StoreError> {
        let flags =
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let connection = Connection::open_with_flags(&self.path, flags).map_err(|error| {
            StoreError::Unavailable(format!("cannot open {}: {error}", self.path.display()))
        })?;
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

    /// The current file generation, after looking at the file again when
    /// [`IDENTITY_CHECK`] has passed since the last look.
    fn generation(&self) -> u64 {
        // On the request path: never wait here; whoever holds the lock is
        // looking at the file already.
        let Ok(mut file) = self.file.try_lock() else {
            return self.generation.load(Ordering::Acquire);
        };
        if file.checked.elapsed() >= IDENTITY_CHECK {
            let now = identity(&self.path);
            file.checked = Instant::now();
            if now != file.identity {
                file.identity = now;
                drop(file);
                let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
                // Connections on the old file go now, not one by one.
                self.idle.lock().unwrap_or_else(PoisonError::into_inner).clear();
                return generation;
            }
        }
        self.generation.load(Ordering::Acquire)
    }

    /// Pools `connection` again unless its query spoiled it or it was
    /// opened on a file that is no longer the one at the path.
    fn give_back<T>(&self, generation: u64, connection: Connection, outcome: &rusqlite::Result<T>) {
        if outcome.as_ref().is_err_and(spoils_connection)
            || generation != self.generation.load(Ordering::Acquire)
        {
            return;
        }
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((generation, connection));
    }

    /// A permit and a pooled connection (opened on the blocking pool when
    /// none is idle), waiting at most the query timeout.
    async fn checkout(self: &Arc<Self>) -> Result<Checkout, StoreError> {
        let permit = self.permit().await?;
        let generation = self.generation();
        let idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let connection = match idle {
            Some((opened_on, connection)) if opened_on == generation => connection,
            _ => self.open_on_blocking_pool().await?,
        };
        Ok(Checkout {
            permit,
            generation,
            connection,
        })
    }

    /// A permit to hold a connection, waiting at most the query timeout.
    pub(super) async fn permit(&self) -> Result<OwnedSemaphorePermit, StoreError> {
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
        Ok(permit)
    }

    /// A new connection, opened on the blocking pool.
    pub(super) async fn open_on_blocking_pool(self: &Arc<Self>) -> Result<Connection, StoreError> {
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || pool.open_connection())
            .await
            .map_err(|error| StoreError::Unavailable(error.to_string()))?
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
        let Checkout {
            permit,
            generation,
            mut connection,
        } = self.checkout().await?;
        let started = Instant::now();
        let outcome = work(&mut connection);
        metrics::histogram!(QUERY_DURATION, "query" => query).record(started.elapsed().as_secs_f64());
        self.give_back(generation, connection, &outcome);
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
        let Checkout {
            permit,
            generation,
            mut connection,
        } = self.checkout().await?;
        let started = Instant::now();
        let interrupt = connection.get_interrupt_handle();
        let pool = Arc::clone(self);
        let task = tokio::task::spawn_blocking(move || {
            let outcome = work(&mut connection);
            pool.give_back(generation, connection, &outcome);
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
