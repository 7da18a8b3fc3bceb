//! The PostgreSQL store's operator side: keys, audiences, prospects and
//! seeding (`Operator`), apart from the request path in postgres.rs.

use sqlx::{Postgres, QueryBuilder};

use super::model::{
    AudienceState, NewKey, Seed, StoreError, StoredProspect, permissions_column, unix_seconds,
};
use super::page::{StoredRow, stored_rows};
use super::postgres::{PostgresStore, timed};
use super::postgres_pool::failed;
use super::traits::Operator;

/// Rows per INSERT statement when adding prospects (4 parameters a row, far
/// below PostgreSQL's limit of 65,535).
const INSERT_BATCH: usize = 500;

/// The advisory lock seeders take, so that instances starting at once on an
/// empty database seed it once.
const SEED_LOCK: i64 = 0x6175_6469_656e_6365; // "audience"

async fn insert_rows(
    connection: &mut sqlx::PgConnection,
    audience: &str,
    rows: &[StoredRow],
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(INSERT_BATCH) {
        let mut insert = QueryBuilder::<Postgres>::new(
            "INSERT INTO prospects (audience_id, id, created_at, data, proof) ",
        );
        insert.push_values(chunk, |mut row, stored| {
            row.push_bind(audience)
                .push_bind(stored.position.id.as_str())
                .push_bind(stored.position.created_at)
                .push_bind(stored.data.as_str())
                .push_bind(&stored.proof[..]);
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

#[async_trait::async_trait]
impl Operator for PostgresStore {
    async fn set_audience_state(&self, audience: &str, state: AudienceState) -> Result<bool, StoreError> {
        let done = timed(
            self.limits().query_timeout,
            "set_audience_state",
            sqlx::query("UPDATE audiences SET status = $1 WHERE id = $2")
                .bind(state.as_str())
                .bind(audience)
                .execute(self.pool()),
        )
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn account_group_exists(&self, account_group: &str) -> Result<bool, StoreError> {
        let found: Option<i32> = timed(
            self.limits().query_timeout,
            "account_group_exists",
            sqlx::query_scalar("SELECT 1 FROM account_groups WHERE id = $1")
                .bind(account_group)
                .fetch_optional(self.pool()),
        )
        .await?;
        Ok(found.is_some())
    }

    async fn create_account_group(&self, id: &str, name: &str) -> Result<(), StoreError> {
        timed(
            self.limits().query_timeout,
            "create_account_group",
            sqlx::query("INSERT INTO account_groups (id, name) VALUES ($1, $2)")
                .bind(id)
                .bind(name)
                .execute(self.pool()),
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
        let mut transaction = self.pool().begin().await.map_err(failed)?;
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
            self.limits().query_timeout,
            "create_audience",
            sqlx::query("INSERT INTO audiences (id, account_group_id, name, status) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(account_group)
                .bind(name)
                .bind(state.as_str())
                .execute(self.pool()),
        )
        .await?;
        Ok(())
    }

    async fn insert_prospects(&self, audience: &str, prospects: &[StoredProspect]) -> Result<(), StoreError> {
        let rows = stored_rows(prospects)?;
        // Bulk loads may take long; they run without the query timeout.
        let mut transaction = self.pool().begin().await.map_err(failed)?;
        insert_rows(&mut transaction, audience, &rows)
            .await
            .map_err(failed)?;
        transaction.commit().await.map_err(failed)
    }

    async fn delete_prospect(&self, audience: &str, id: &str) -> Result<bool, StoreError> {
        let done = timed(
            self.limits().query_timeout,
            "delete_prospect",
            sqlx::query("DELETE FROM prospects WHERE audience_id = $1 AND id = $2")
                .bind(audience)
                .bind(id)
                .execute(self.pool()),
        )
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn prospect_count(&self, audience: &str) -> Result<u64, StoreError> {
        let count: i64 = timed(
            self.limits().query_timeout,
            "prospect_count",
            sqlx::query_scalar("SELECT COUNT(*) FROM prospects WHERE audience_id = $1")
                .bind(audience)
                .fetch_one(self.pool()),
        )
        .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn create_key(&self, account_group: &str, key: &NewKey) -> Result<(), StoreError> {
        timed(
            self.limits().query_timeout,
            "create_key",
            key_insert(account_group, key).execute(self.pool()),
        )
        .await?;
        Ok(())
    }

    async fn revoke_key(&self, id: &str) -> Result<bool, StoreError> {
        let done = timed(
            self.limits().query_timeout,
            "revoke_key",
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(unix_seconds())
                .bind(id)
                .execute(self.pool()),
        )
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError> {
        // Two statements: the SELECT's snapshot is taken after the INSERT,
        // so it sees a value another instance committed meanwhile.
        timed(
            self.limits().query_timeout,
            "setting_insert",
            sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .bind(value)
                .execute(self.pool()),
        )
        .await?;
        timed(
            self.limits().query_timeout,
            "setting_select",
            sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                .bind(name)
                .fetch_one(self.pool()),
        )
        .await
    }

    async fn refresh_statistics(&self) -> Result<(), StoreError> {
        sqlx::query("ANALYZE audiences, prospects")
            .execute(self.pool())
            .await
            .map_err(failed)?;
        Ok(())
    }
}
