//! The PostgreSQL request path's SQL: the page, the audience's state, the
//! shared rate limit's token alone and with either (the token's design is
//! in postgres_limits.rs), and [`request_statements`], which every request
//! connection prepares as it opens (postgres_pool.rs).

use tokio_postgres::types::Type;

use super::postgres_pool::Prepared;

/// The columns of a page: the audience's state and version, then each
/// prospect's position, stored JSON and proof (see `assemble` in
/// postgres.rs).
pub(super) const PAGE_COLUMNS: &str = "a.status, a.version, p.created_at, p.id, p.data, p.proof";

/// The page statement as the service runs it when rate limits are the
/// instance's own (for `pgbench` in the benchmarks). Parameters: `$1` the
/// audience, `$2` the account group, `$3` and `$4` the position after which
/// the page starts, `$5` the page size plus one.
pub fn page_statement() -> &'static str {
    PAGE_SQL.as_str()
}

/// The page's rows of the audience `a`, joined as `p`: after the position
/// in parameters `$first` and `$first + 1`, at most `$first + 2` of them,
/// by one range scan of `prospects_page` (LATERAL, so that the limit
/// applies to the prospects). Shared by [`PAGE_SQL`] and the statement that
/// also takes the rate-limit token.
///
/// No `ORDER BY` outside the LATERAL: the one audience row is joined by a
/// nested loop, which hands the inner rows on in the index's order, and an
/// outer sort of the page's rows (copied into sort memory, about 1 KB each)
/// was 15 % of the database's CPU per request (pgbench, 2026-12-03). The
/// order is not taken on trust: `PageAssembler::row` (page.rs) refuses a row that
/// does not come after the one before it (a corrupt page, never served), and
/// a test keeps both request statements' plans free of a sort.
pub(super) fn page_join(first: u8) -> String {
    let (created_at, id, limit) = (first, first + 1, first + 2);
    format!(
        "LEFT JOIN LATERAL ( \
            SELECT created_at, id, data, proof FROM prospects \
            WHERE a.status = 'ready' AND audience_id = a.id AND (created_at, id) > (${created_at}, ${id}) \
            ORDER BY created_at, id LIMIT ${limit} \
        ) p ON true"
    )
}

/// The page and the audience's state in one statement: the audience by its
/// primary key, its rows by [`page_join`]; see the SQLite store's
/// `PAGE_SQL` for the shape of the answer.
pub(super) static PAGE_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {PAGE_COLUMNS} FROM audiences a {} WHERE a.id = $1 AND a.account_group_id = $2",
        page_join(3)
    )
});

/// The audience's state and version alone (for a page the instance keeps,
/// and for the state alone): no prospect table in the plan at all (opening and locking the table and
/// its index at every execution, even under a gate that skips them, cost
/// the database 15 % of its throughput on this machine, pgbench
/// 2026-12-04). `$1` the audience, `$2` the account group.
pub(super) const STATE_SQL: &str =
    "SELECT status, version FROM audiences WHERE id = $1 AND account_group_id = $2";

/// The token alone: the clock, the time moved to (`NULL`: refused), and
/// the time it stays at when refused; this transaction's commit does not
/// wait for the disk (see postgres_limits.rs).
const TAKE: &str = "\
    WITH clock AS MATERIALIZED ( \
        SELECT extract(epoch FROM clock_timestamp())::float8 AS now_s, \
            set_config('synchronous_commit', 'off', true) AS commit_mode \
    ), \
    taken AS ( \
        INSERT INTO rate_limits AS r (key_id, tat) SELECT $1, now_s + $2 FROM clock \
        ON CONFLICT (key_id) DO UPDATE SET tat = GREATEST(r.tat, (SELECT now_s FROM clock)) + $2 \
        WHERE GREATEST(r.tat, (SELECT now_s FROM clock)) + $2 - (SELECT now_s FROM clock) <= $2 * $3 + 1e-9 \
        RETURNING tat \
    ) \
    SELECT c.now_s, t.tat, \
        CASE WHEN t.tat IS NULL THEN (SELECT tat FROM rate_limits WHERE key_id = $1) END AS held";

/// The token, then the page only if it was admitted: [`TAKE`]'s three
/// columns, then the page statement's (`PAGE_SQL`), one row per prospect
/// (one row without a prospect when refused, or when the audience has none
/// after the position), in the index's order (see [`page_join`]).
fn take_and_page_sql() -> String {
    format!(
        "{TAKE}, {PAGE_COLUMNS} \
        FROM clock c LEFT JOIN taken t ON true \
        LEFT JOIN audiences a ON t.tat IS NOT NULL AND a.id = $4 AND a.account_group_id = $5 \
        {}",
        page_join(6)
    )
}

static TAKE_AND_PAGE: std::sync::LazyLock<String> = std::sync::LazyLock::new(take_and_page_sql);

/// The token, then the audience's state and version when it was admitted:
/// the request's statement when the instance keeps the page asked for
/// (page_cache.rs), with no prospect table in its plan (see the store's
/// `STATE_SQL`). [`TAKE`]'s three columns, then the state (`NULL`: no
/// audience, or refused) and the version.
static TAKE_AND_STATE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{TAKE}, a.status, a.version \
        FROM clock c LEFT JOIN taken t ON true \
        LEFT JOIN audiences a ON t.tat IS NOT NULL AND a.id = $4 AND a.account_group_id = $5"
    )
});

/// [`TAKE`] alone, for the paths that read no page.
static TAKE_ALONE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("{TAKE} FROM clock c LEFT JOIN taken t ON true"));

/// The request path's statement on PostgreSQL, as the service runs it (for
/// `pgbench` in the benchmarks). Parameters: `$1` the key's id, `$2` the
/// bucket's interval in seconds, `$3` its burst, `$4` the audience, `$5`
/// the account group, `$6` and `$7` the position after which the page
/// starts (`0` and `''` for the first page), `$8` the page size plus one.
pub fn take_and_page_statement() -> &'static str {
    TAKE_AND_PAGE.as_str()
}

/// The request path's statement on PostgreSQL when the instance keeps the
/// page asked for (for `pgbench` in the benchmarks): the token, the
/// audience's state and version. Parameters: `$1` to `$5` as
/// [`take_and_page_statement`]'s.
pub fn take_and_state_statement() -> &'static str {
    TAKE_AND_STATE.as_str()
}

/// The request path's statements, prepared on every connection as it
/// opens; a variant is the index of its statement in [`request_statements`].
#[derive(Debug, Clone, Copy)]
pub(super) enum Request {
    KeyByHash,
    Page,
    State,
    TakeAlone,
    TakeAndState,
    TakeAndPage,
}

/// The statements of [`Request`], in its order.
pub(super) fn request_statements() -> Vec<Prepared> {
    const KEY: &str = "SELECT id, account_group_id, permissions FROM api_keys \
        WHERE key_hash = $1 AND revoked_at IS NULL";
    const PAGE: &[Type] = &[Type::TEXT, Type::TEXT, Type::INT8, Type::TEXT, Type::INT8];
    const AUDIENCE: &[Type] = &[Type::TEXT, Type::TEXT];
    // The token's parameters: the key, the bucket's interval, its burst.
    const TAKE: &[Type] = &[Type::TEXT, Type::FLOAT8, Type::INT4];
    const TAKE_AND_STATE_TYPES: &[Type] = &[Type::TEXT, Type::FLOAT8, Type::INT4, Type::TEXT, Type::TEXT];
    const TAKE_AND_PAGE_TYPES: &[Type] = &[
        Type::TEXT,
        Type::FLOAT8,
        Type::INT4,
        Type::TEXT,
        Type::TEXT,
        Type::INT8,
        Type::TEXT,
        Type::INT8,
    ];
    let statements = [
        (Request::KeyByHash, KEY, &[Type::BYTEA][..]),
        (Request::Page, PAGE_SQL.as_str(), PAGE),
        (Request::State, STATE_SQL, AUDIENCE),
        (Request::TakeAlone, TAKE_ALONE.as_str(), TAKE),
        (
            Request::TakeAndState,
            TAKE_AND_STATE.as_str(),
            TAKE_AND_STATE_TYPES,
        ),
        (Request::TakeAndPage, TAKE_AND_PAGE.as_str(), TAKE_AND_PAGE_TYPES),
    ];
    statements
        .into_iter()
        .enumerate()
        .map(|(index, (request, sql, types))| {
            debug_assert_eq!(request as usize, index);
            Prepared { sql, types }
        })
        .collect()
}
