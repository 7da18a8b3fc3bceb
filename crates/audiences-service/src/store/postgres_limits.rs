//! Rate limits shared by every instance on the database (PostgreSQL), and
//! the request path's one round trip: the caller's token taken and, when it
//! is admitted, the page read, in one statement; or, for a page the
//! instance keeps (page_cache.rs), the token and the audience's state and
//! version, the kept page served while that version holds (a second round
//! trip reads the page only after its audience changed).
//!
//! The bucket is a GCRA "theoretical arrival time" per key (`rate_limits`,
//! by the database's clock, so that the instances' clocks do not matter).
//! Taking a token moves the time forward by one interval unless that would
//! pass the burst: one `INSERT ... ON CONFLICT DO UPDATE ... WHERE`, whose
//! row lock serializes the instances, so the limit holds exactly across
//! them. The lock is held to the end of the statement, so the page of a
//! request waits for it and is read while it is held: a key used from many
//! connections at once serializes on its row (measured in BENCHMARKS.md
//! §1). When the database fails, the request fails (502): a limit is never
//! lifted because its store is down.
//!
//! The token's transaction commits without waiting for its WAL to reach the
//! disk (`synchronous_commit` off for that transaction alone, set inside the
//! statement: still one round trip). A request is a read; waiting for a
//! flush at every one only to keep a counter's last fraction of a second
//! through a crash of the database cost this machine's disk 37 % of a lone
//! request's latency and 12 % of the throughput at 32 connections
//! (pgbench on a default-configured server, 2026-12-03). What a crash of
//! the database can cost is bounded and written down in DEPLOYING.md: the
//! buckets' last moves before it (at most three `wal_writer_delay`s, 0.6 s
//! by default), which its keys may spend once more. Every other write of
//! the store stays durable.

use super::model::{PageOutcome, StoreError};
use super::page_cache::PageKey;
use super::postgres::{PostgresStore, kept_outcome};
use super::postgres_pool::undecodable;
use super::postgres_statements::{Request, take_and_page_statement};
use super::traits::{PageRequest, SharedLimits};
use crate::limits::{RateLimits, Taken};

fn bucket(limits: RateLimits) -> (f64, i32) {
    (
        1.0 / f64::from(limits.per_second.get()),
        i32::try_from(limits.burst.get()).unwrap_or(i32::MAX),
    )
}

fn taken(row: &tokio_postgres::Row, limits: RateLimits) -> Result<Taken, StoreError> {
    let (interval, _) = bucket(limits);
    Ok(Taken::from_arrival_times(
        row.try_get(0).map_err(undecodable)?,
        row.try_get(1).map_err(undecodable)?,
        row.try_get(2).map_err(undecodable)?,
        interval,
        limits.burst.get(),
    ))
}

impl PostgresStore {
    /// `page_plan` for the statement that also takes the caller's
    /// rate-limit token ([`take_and_page_statement`]); nothing is run, so
    /// no token is taken.
    pub async fn take_and_page_plan(&self) -> Result<String, StoreError> {
        let (created_at, id) = super::model::Position::bounds(None);
        self.plan(
            take_and_page_statement(),
            &format!("'k', 0.01, 10, 'a', 'g', {created_at}, '{id}', 26"),
        )
        .await
    }
}

#[async_trait::async_trait]
impl SharedLimits for PostgresStore {
    async fn take_rate_token(&self, key_id: &str, limits: RateLimits) -> Result<Taken, StoreError> {
        let (interval, burst) = bucket(limits);
        let rows = self
            .query(
                "rate_limit_take",
                Request::TakeAlone,
                &[&key_id, &interval, &burst],
            )
            .await?;
        taken(first_row(&rows, "token")?, limits)
    }

    async fn take_and_page(
        &self,
        key_id: &str,
        limits: RateLimits,
        page: PageRequest<'_>,
    ) -> Result<(Taken, Option<PageOutcome>), StoreError> {
        let (interval, burst) = bucket(limits);
        let key = PageKey::new(page.audience, page.after, page.limit);
        if let Some(kept) = self.page_cache().lookup(&key) {
            let rows = self
                .query(
                    "take_and_state",
                    Request::TakeAndState,
                    &[&key_id, &interval, &burst, &page.audience, &page.account_group],
                )
                .await?;
            let row = first_row(&rows, "token-and-state")?;
            let taken = taken(row, limits)?;
            if !taken.admitted {
                return Ok((taken, None));
            }
            let outcome = match kept_outcome(self.page_cache(), &kept, Some(row), 3)? {
                Some(outcome) => outcome,
                // The audience changed: its page read now, the token taken.
                None => self.read_page(page.account_group, &key).await?,
            };
            return Ok((taken, Some(outcome)));
        }
        let size = i64::from(page.limit) + 1;
        let rows = self
            .query(
                "take_and_page",
                Request::TakeAndPage,
                &[
                    &key_id,
                    &interval,
                    &burst,
                    &page.audience,
                    &page.account_group,
                    &key.after.0,
                    &key.after.1,
                    &size,
                ],
            )
            .await?;
        let taken = taken(first_row(&rows, "token-and-page")?, limits)?;
        if !taken.admitted {
            return Ok((taken, None));
        }
        Ok((taken, Some(self.page_of(&rows, 3, &key)?)))
    }
}

/// The first row of a statement that always returns one.
fn first_row<'a>(
    rows: &'a [tokio_postgres::Row],
    statement: &str,
) -> Result<&'a tokio_postgres::Row, StoreError> {
    rows.first()
        .ok_or_else(|| StoreError::Corrupt(format!("the {statement} statement returned no row")))
}
