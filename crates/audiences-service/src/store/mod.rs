//! Storage: the traits by job ([`RequestPath`], [`Operator`],
//! [`SharedLimits`]) and two backends chosen at start-up by the database
//! URL: [`SqliteStore`] (embedded, the default; rusqlite on tokio's blocking
//! pool) and [`PostgresStore`] (tokio-postgres pipelined on the request path, sqlx
//! for migrations and operator commands; for several instances), behind
//! [`AnyStore`]. Domain errors only; the store knows nothing of HTTP.
//!
//! A page is one statement in the common case: the audience's state and its
//! prospects come back together, and the prospects come back as the JSON
//! text they were stored as (written by this store from typed values, so
//! passed through once each row is proven to be one JSON object with its
//! own id; see [`row_is_exactly`]). Both backends feed the rows to
//! one page assembler (`page.rs`). On PostgreSQL an instance keeps the
//! pages it read and the database sends a page's rows only when the
//! audience changed since (`page_cache.rs`).

mod any;
mod model;
mod page;
mod page_cache;
mod postgres;
mod postgres_limits;
mod postgres_operator;
mod postgres_pool;
mod postgres_statements;
mod row_check;
mod sqlite;
mod sqlite_pool;
mod traits;

pub use any::AnyStore;
pub use model::{
    ACQUIRE_DURATION, AudienceState, KeyRecord, NewKey, Page, PageOutcome, PoolStats, Position,
    QUERY_DURATION, Seed, StoreError, StoreLimits, StoredProspect,
};
pub use page_cache::{PAGE_CACHE, PageCacheStats};
pub use postgres::PostgresStore;
pub use postgres_statements::{page_statement, take_and_page_statement, take_and_state_statement};
pub use row_check::{PROVEN_CAPACITY, Proven, proof_of, row_is_exactly, row_is_served};
pub use sqlite::SqliteStore;
pub use sqlite_pool::Held;
pub use traits::{Operator, PageRequest, RequestPath, SharedLimits, Store};
