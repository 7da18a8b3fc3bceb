//! Several instances on one database behave as one API: a key's rate limit
//! holds across them (PostgreSQL), a revoked key is refused by all within
//! the cache bound, a cursor from one pages on another, and instances
//! starting at once on an empty database seed it once.

mod support;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use audiences_server::runtime::{LoopbackServer, RouterLimits, serve_loopback};
use audiences_service::cursor::CursorCodec;
use audiences_service::demo::{self, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID};
use audiences_service::keys::{self, KEY_CACHE_TTL};
use audiences_service::limits::RateLimits;
use audiences_service::service::Service;
use audiences_service::store::{AnyStore, StoreLimits};
use support::{Database, Kind, get_ready_page};

both_stores!(
    instances_starting_at_once_seed_once,
    a_revoked_key_is_refused_by_every_instance_within_the_bound
);

/// One more instance of the service on `url` (already seeded), limiting
/// each key to `limits`.
async fn instance(url: &str, limits: RateLimits) -> (AnyStore, LoopbackServer) {
    let store = AnyStore::open(url, StoreLimits::default()).await.unwrap();
    let secret = demo::cursor_secret(&store).await.unwrap();
    let service = Service::new(store.clone(), CursorCodec::new(secret), limits).with_shared_rate_limits(true);
    let server = serve_loopback(audiences_service::app(
        Arc::new(service),
        RouterLimits::default(),
        None,
    ))
    .await
    .unwrap();
    (store, server)
}

/// Three seeders at once on an empty database: one seeds, the others find
/// the demo group whole.
async fn instances_starting_at_once_seed_once(kind: Kind) {
    let Some(database) = Database::fresh(kind).await else {
        return;
    };
    let mut stores = Vec::new();
    for _ in 0..3 {
        stores.push(
            AnyStore::open(&database.url, StoreLimits::default())
                .await
                .unwrap(),
        );
    }
    let seeded = futures_util::future::join_all(stores.iter().map(|store| demo::seed(store, None))).await;
    let seeded: Vec<bool> = seeded
        .into_iter()
        .map(|outcome| outcome.unwrap().is_some())
        .collect();
    assert_eq!(seeded.iter().filter(|&&seeded| seeded).count(), 1, "{seeded:?}");
    assert_eq!(
        stores[2].prospect_count(READY_AUDIENCE_ID).await.unwrap(),
        u64::from(demo::READY_AUDIENCE_SIZE)
    );
    // And every instance agrees on one cursor secret.
    let secrets = futures_util::future::join_all(stores.iter().map(demo::cursor_secret)).await;
    let secrets: Vec<Vec<u8>> = secrets.into_iter().map(Result::unwrap).collect();
    assert!(secrets.windows(2).all(|pair| pair[0] == pair[1]));
}

async fn a_revoked_key_is_refused_by_every_instance_within_the_bound(kind: Kind) {
    let Some(running) = support::start(kind, support::options()).await else {
        return;
    };
    let (_, other) = instance(&running.database.url, support::options().rate_limits).await;
    let bases = [running.base.clone(), other.base_url.clone()];
    let (id, key) = demo::create_key(&running.store, ACCOUNT_GROUP_ID, keys::ALL_PERMISSIONS, None)
        .await
        .unwrap();
    // A cursor from one instance pages on the other; both now cache the key.
    let first: serde_json::Value = get_ready_page(&bases[0], &key, "?limit=10")
        .await
        .json()
        .await
        .unwrap();
    let cursor = first["data"]["nextCursor"].as_str().unwrap();
    let second: serde_json::Value = get_ready_page(&bases[1], &key, &format!("?limit=10&cursor={cursor}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["data"]["items"][0]["id"], demo::prospect(10).id);
    assert!(running.store.revoke_key(&id).await.unwrap());
    let revoked = Instant::now();
    let mut refused = [false, false];
    // Judged by when each request was sent, not by when its answer came:
    // on a loaded machine an answer may take hundreds of milliseconds.
    while refused != [true, true] {
        for (index, base) in bases.iter().enumerate() {
            let sent = revoked.elapsed();
            match get_ready_page(base, &key, "?limit=1").await.status().as_u16() {
                401 => refused[index] = true,
                200 => {
                    assert!(!refused[index], "admitted again after a refusal");
                    assert!(
                        sent <= KEY_CACHE_TTL + Duration::from_millis(300),
                        "instance {index} admitted the key in a request sent {sent:?} after revocation"
                    );
                }
                other => panic!("status {other}"),
            }
        }
        assert!(
            revoked.elapsed() < Duration::from_secs(30),
            "never refused by both"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The issue's own reproduction: a key with a burst of 20 refilled at 1/s,
/// 60 requests alternating between two instances. In-process limits would
/// admit 40; the shared limit admits the burst plus what refilled meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_limit_holds_across_instances_on_postgres() {
    let Some(running) = support::start(Kind::Postgres, support::options()).await else {
        return;
    };
    let limits = RateLimits {
        per_second: NonZeroU32::new(1).unwrap(),
        burst: NonZeroU32::new(20).unwrap(),
    };
    let (_, first) = instance(&running.database.url, limits).await;
    let (_, second) = instance(&running.database.url, limits).await;
    let (_, key) = demo::create_key(&running.store, ACCOUNT_GROUP_ID, keys::ALL_PERMISSIONS, None)
        .await
        .unwrap();
    let started = Instant::now();
    let mut admitted = 0;
    let mut retry_after = Vec::new();
    for turn in 0..60 {
        let base = if turn % 2 == 0 {
            &first.base_url
        } else {
            &second.base_url
        };
        let response = get_ready_page(base, &key, "?limit=1").await;
        match response.status().as_u16() {
            200 => admitted += 1,
            429 => retry_after.push(response.headers()["retry-after"].to_str().unwrap().to_owned()),
            other => panic!("status {other}"),
        }
    }
    let refilled = started.elapsed().as_secs() + 1;
    assert!(
        (20..=20 + refilled).contains(&admitted),
        "{admitted} admitted in {:?}",
        started.elapsed()
    );
    assert!(
        !retry_after.is_empty() && retry_after.iter().all(|seconds| seconds == "1"),
        "{retry_after:?}"
    );
}

/// With the bucket in the database, the token is taken in the page's own
/// statement, and on the paths that read no page on its own: every request
/// costs one token whatever its answer, and each carries the bucket's
/// headers (the 429 included).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_takes_one_token_and_says_so_on_postgres() {
    let Some(running) = support::start(Kind::Postgres, support::options()).await else {
        return;
    };
    let limits = RateLimits {
        per_second: NonZeroU32::new(1).unwrap(),
        burst: NonZeroU32::new(4).unwrap(),
    };
    let (_, server) = instance(&running.database.url, limits).await;
    let (_, key) = demo::create_key(&running.store, ACCOUNT_GROUP_ID, keys::ALL_PERMISSIONS, None)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let other_group = format!(
        "{}/v1/accounts/aaaaaaaaaaaaaaaaaaaaaaaa/audiences/{READY_AUDIENCE_ID}/prospects",
        server.base_url
    );
    let mut seen = Vec::new();
    for response in [
        http.get(&other_group).bearer_auth(&key).send().await.unwrap(),
        get_ready_page(&server.base_url, &key, "?cursor=not-a-cursor").await,
        get_ready_page(&server.base_url, &key, "?limit=1").await,
        get_ready_page(&server.base_url, &key, "?limit=1").await,
        get_ready_page(&server.base_url, &key, "?limit=1").await,
    ] {
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|value| value.to_str().unwrap().to_owned())
        };
        seen.push((
            response.status().as_u16(),
            header("x-ratelimit-limit"),
            header("x-ratelimit-remaining"),
            header("retry-after"),
        ));
    }
    let four = Some("4".to_owned());
    let left = |n: &str| Some(n.to_owned());
    assert_eq!(
        seen,
        [
            (404, four.clone(), left("3"), None),
            (400, four.clone(), left("2"), None),
            (200, four.clone(), left("1"), None),
            (200, four.clone(), left("0"), None),
            (429, four, left("0"), left("1")),
        ],
        "{seen:?}"
    );
}

/// The token's statement makes its own transaction's commit asynchronous
/// (`synchronous_commit` off, transaction-local: DEPLOYING.md says what a
/// crash of the database can then cost), and nothing beyond it: the
/// session's setting is what it was once the transaction ends.
#[tokio::test]
async fn only_the_tokens_transaction_commits_without_waiting_for_the_disk() {
    let Some(database) = Database::fresh(Kind::Postgres).await else {
        return;
    };
    let store = AnyStore::open(&database.url, StoreLimits::default())
        .await
        .unwrap();
    let AnyStore::Postgres(postgres) = &store else {
        panic!("a PostgreSQL URL opens the PostgreSQL store");
    };
    let mut connection = postgres.pool().acquire().await.unwrap();
    let show = "SELECT current_setting('synchronous_commit')";
    sqlx::raw_sql("SET synchronous_commit = on; BEGIN")
        .execute(&mut *connection)
        .await
        .unwrap();
    let rows = sqlx::query(audiences_service::store::take_and_page_statement())
        .bind("a-key")
        .bind(0.01_f64)
        .bind(10_i32)
        .bind(READY_AUDIENCE_ID)
        .bind(ACCOUNT_GROUP_ID)
        .bind(0_i64)
        .bind("")
        .bind(26_i64)
        .fetch_all(&mut *connection)
        .await
        .unwrap();
    assert!(!rows.is_empty(), "the statement answers at least its token's row");
    let inside: String = sqlx::query_scalar(show)
        .fetch_one(&mut *connection)
        .await
        .unwrap();
    assert_eq!(
        inside, "off",
        "the token's transaction does not wait for the disk"
    );
    sqlx::raw_sql("COMMIT").execute(&mut *connection).await.unwrap();
    let after: String = sqlx::query_scalar(show)
        .fetch_one(&mut *connection)
        .await
        .unwrap();
    assert_eq!(after, "on", "the setting ends with the transaction");
    let tat: f64 = sqlx::query_scalar("SELECT tat FROM rate_limits WHERE key_id = 'a-key'")
        .fetch_one(&mut *connection)
        .await
        .unwrap();
    assert!(tat > 0.0, "the token was taken and committed");
}
