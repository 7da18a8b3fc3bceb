//! Test support: the reference service on a fresh database of either kind,
//! served on a loopback port.
//!
//! SQLite databases are temporary files. PostgreSQL databases are created on
//! the server named by `AUDIENCES_TEST_POSTGRES_URL` (`scripts/with-postgres`
//! starts one and sets it; the README's test command does so). Without that
//! variable the PostgreSQL half of each test says so on stderr and passes,
//! unless `AUDIENCES_REQUIRE_POSTGRES=1`, which CI's test script sets, makes
//! it fail.

#![allow(dead_code, unreachable_pub, reason = "each test binary uses a part")]

use std::time::Duration;

use audiences_client::Client;
use audiences_server::runtime::RouterLimits;
use audiences_service::limits::RateLimits;
use audiences_service::store::{AnyStore, StoreLimits};
use audiences_service::{Config, DemoServer};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// A fresh, empty database of one kind; removed when dropped (SQLite).
pub struct Database {
    pub kind: Kind,
    pub url: String,
    dir: Option<std::path::PathBuf>,
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn suffix() -> String {
    format!("{}_{:016x}", std::process::id(), rand::random::<u64>())
}

impl Database {
    /// A fresh database, or `None` when PostgreSQL is not configured (and not required).
    pub async fn fresh(kind: Kind) -> Option<Self> {
        match kind {
            Kind::Sqlite => {
                let dir = std::env::temp_dir().join(format!("audiences-test-{}", suffix()));
                std::fs::create_dir_all(&dir).unwrap();
                Some(Self {
                    kind,
                    url: format!("sqlite://{}", dir.join("test.db").display()),
                    dir: Some(dir),
                })
            }
            Kind::Postgres => {
                let Ok(admin) = std::env::var("AUDIENCES_TEST_POSTGRES_URL") else {
                    assert!(
                        std::env::var_os("AUDIENCES_REQUIRE_POSTGRES").is_none(),
                        "AUDIENCES_REQUIRE_POSTGRES is set but AUDIENCES_TEST_POSTGRES_URL is not: \
                         run the tests through scripts/with-postgres"
                    );
                    // Straight to the process's stderr: the test harness
                    // captures `eprintln!`, and a skip must be seen.
                    let _ = std::io::Write::write_all(
                        &mut std::io::stderr(),
                        b"SKIPPED: the PostgreSQL half of this test (set AUDIENCES_TEST_POSTGRES_URL; scripts/with-postgres does)\n",
                    );
                    return None;
                };
                let name = format!("audiences_test_{}", suffix());
                let mut admin_connection = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
                    .await
                    .expect("the test PostgreSQL server answers");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin_connection)
                    .await
                    .unwrap();
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base);
                Some(Self {
                    kind,
                    url: format!("{base}/{name}"),
                    dir: None,
                })
            }
        }
    }

    /// Runs one SQL statement on its own connection (for corrupting rows and
    /// such); `$1`-style parameters are not used.
    pub async fn execute(&self, sql: &str) {
        match self.kind {
            Kind::Sqlite => {
                let mut connection = <sqlx::SqliteConnection as sqlx::Connection>::connect(&self.url)
                    .await
                    .unwrap();
                sqlx::query(sql).execute(&mut connection).await.unwrap();
            }
            Kind::Postgres => {
                let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&self.url)
                    .await
                    .unwrap();
                sqlx::query(sql).execute(&mut connection).await.unwrap();
            }
        }
    }
}

/// Makes the database stop answering the service until released: on
/// PostgreSQL another session holds an exclusive lock on the API's tables
/// (every query waits for its statement timeout); on SQLite, whose WAL
/// readers no lock can stop, every connection of the service's pool is held
/// (every query waits for its acquire timeout).
pub async fn stall(store: &AnyStore, database: &Database) -> Stall {
    match store {
        AnyStore::Sqlite(sqlite) => Stall::Sqlite(sqlite.hold_all().await),
        AnyStore::Postgres(_) => {
            let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&database.url)
                .await
                .unwrap();
            sqlx::query("BEGIN").execute(&mut connection).await.unwrap();
            sqlx::query("LOCK TABLE api_keys, audiences, prospects IN ACCESS EXCLUSIVE MODE")
                .execute(&mut connection)
                .await
                .unwrap();
            Stall::Postgres(connection)
        }
    }
}

/// A stalled database; see [`stall`].
pub enum Stall {
    Sqlite(audiences_service::store::Held),
    Postgres(sqlx::PgConnection),
}

impl Stall {
    /// Lets the database answer again.
    pub async fn release(self) {
        match self {
            Stall::Sqlite(held) => drop(held),
            Stall::Postgres(mut connection) => {
                sqlx::query("ROLLBACK").execute(&mut connection).await.unwrap();
                sqlx::Connection::close(connection).await.unwrap();
            }
        }
    }
}

/// How the service under test is configured: generous rate limits and a
/// short query timeout unless a test says otherwise.
pub fn options() -> Config {
    Config {
        rate_limits: RateLimits {
            per_second: std::num::NonZeroU32::new(1_000).unwrap(),
            burst: std::num::NonZeroU32::new(1_000).unwrap(),
        },
        store_limits: StoreLimits {
            query_timeout: Duration::from_millis(800),
            max_connections: 8,
            ..StoreLimits::default()
        },
        router_limits: RouterLimits::default(),
        key_cache_ttl: audiences_service::keys::KEY_CACHE_TTL,
        shared_rate_limits: true,
        attempt_limits: audiences_service::attempts::AttemptLimits::default(),
    }
}

/// The service, seeded with the demo data, listening on a loopback port.
pub struct Running {
    pub base: String,
    pub key: String,
    pub forbidden_key: String,
    pub store: AnyStore,
    pub database: Database,
    _server: DemoServer,
}

/// Starts the service on a fresh database of `kind`, or `None` (see the module docs).
pub async fn start(kind: Kind, config: Config) -> Option<Running> {
    let database = Database::fresh(kind).await?;
    let server = DemoServer::start(&database.url, config).await.unwrap();
    Some(Running {
        base: server.base_url.clone(),
        key: server.keys.full.clone(),
        forbidden_key: server.keys.without_prospects.clone(),
        store: server.store.clone(),
        database,
        _server: server,
    })
}

/// Another account group, with a ready audience of its own.
pub const OTHER_GROUP: &str = "7750a1b2c3d4e5f601234567";
/// The other group's audience.
pub const OTHER_AUDIENCE: &str = "7750a1b2c3d4e5f60123abcd";
/// A second ready audience in the demo group.
pub const SECOND_AUDIENCE: &str = "6650a1b2c3d4e5f60123abc0";

/// Adds the neighbours tests need around the demo data: [`OTHER_GROUP`] with
/// [`OTHER_AUDIENCE`] and [`SECOND_AUDIENCE`] in the demo group, `prospects`
/// prospects each; returns a key of the other group with `prospects:read`.
pub async fn add_neighbours(store: &AnyStore, prospects: u32) -> String {
    use audiences_service::demo;
    use audiences_service::store::{AudienceState, Seed};
    let (key, secret) = demo::new_key(&["prospects:read"], None);
    let seed = Seed {
        account_group: OTHER_GROUP.to_owned(),
        name: "Another group".to_owned(),
        audiences: vec![(
            OTHER_AUDIENCE.to_owned(),
            "Theirs".to_owned(),
            AudienceState::Ready,
            (5_000..5_000 + prospects).map(demo::stored).collect(),
        )],
        keys: vec![key],
    };
    assert!(store.seed(&seed).await.unwrap());
    store
        .create_audience(
            SECOND_AUDIENCE,
            demo::ACCOUNT_GROUP_ID,
            "Second",
            AudienceState::Ready,
        )
        .await
        .unwrap();
    demo::insert_prospects(store, SECOND_AUDIENCE, 6_000, prospects)
        .await
        .unwrap();
    secret
}

/// An HTTP client that takes bodies as served: it never asks for gzip
/// (reqwest does by default where the workspace enables its `gzip`).
pub fn identity_http() -> reqwest::Client {
    reqwest::Client::builder().gzip(false).build().unwrap()
}

/// `GET` of the demo group's ready audience with `query` (`?limit=…`), as
/// `key`.
pub async fn get_ready_page(base: &str, key: &str, query: &str) -> reqwest::Response {
    use audiences_service::demo::{ACCOUNT_GROUP_ID, READY_AUDIENCE_ID};
    identity_http()
        .get(format!(
            "{base}/v1/accounts/{ACCOUNT_GROUP_ID}/audiences/{READY_AUDIENCE_ID}/prospects{query}"
        ))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

/// The generated client, sending `key` as a bearer token.
pub fn client(base: &str, key: Option<&str>) -> Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(key) = key {
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {key}").parse().unwrap(),
        );
    }
    Client::new_with_client(
        base,
        reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .unwrap(),
    )
}

/// Runs a test body once per store: `both_stores!(name);` turns `async fn
/// name(kind: Kind)` into the tests `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(super::support::Kind::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(super::support::Kind::Postgres).await;
                }
            }
        )*
    };
}
