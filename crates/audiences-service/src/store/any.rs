//! [`AnyStore`]: the backend `DATABASE_URL` names, used through the
//! [`Store`] traits it dereferences to.

use super::model::{StoreError, StoreLimits};
use super::postgres::PostgresStore;
use super::sqlite::SqliteStore;
use super::traits::Store;

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

impl std::ops::Deref for AnyStore {
    type Target = dyn Store;

    fn deref(&self) -> &(dyn Store + 'static) {
        match self {
            AnyStore::Sqlite(store) => store,
            AnyStore::Postgres(store) => store,
        }
    }
}
