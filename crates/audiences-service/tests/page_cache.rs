//! The PostgreSQL store's page cache (src/store/page_cache.rs): an instance
//! serves a page it read again only while the audience has not changed. A
//! write committed anywhere (another instance, another program, a session
//! in replica mode, a TRUNCATE) is seen by the next request, and the
//! audience's state and account group are read at every request.

mod support;

use audiences_service::demo::{self, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID};
use audiences_service::store::{
    AnyStore, AudienceState, PageCacheStats, Position, PostgresStore, StoreLimits, StoredProspect,
};
use audiences_service::{Config, DemoServer};
use serde_json::Value;
use support::{Database, Kind, OTHER_GROUP, add_neighbours, identity_http};

/// The status and the `data` member of a page of the ready audience asked
/// of `base` in `group` (the trace id, which differs at every request, left
/// out).
async fn page(base: &str, key: &str, group: &str, query: &str) -> (u16, Value) {
    let response = identity_http()
        .get(format!(
            "{base}/v1/accounts/{group}/audiences/{READY_AUDIENCE_ID}/prospects{query}"
        ))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let mut body: Value = response.json().await.unwrap();
    (status, body["data"].take())
}

fn ids(data: &Value) -> Vec<String> {
    data["items"]
        .as_array()
        .unwrap_or_else(|| panic!("a page: {data}"))
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

fn postgres(store: &AnyStore) -> &PostgresStore {
    match store {
        AnyStore::Postgres(postgres) => postgres,
        AnyStore::Sqlite(_) => panic!("a PostgreSQL URL opens the PostgreSQL store"),
    }
}

/// What the cache did between `before` and now.
fn since(store: &PostgresStore, before: PageCacheStats) -> (u64, u64) {
    let now = store.page_cache_stats();
    (now.hits - before.hits, now.misses - before.misses)
}

async fn started(config: Config) -> Option<(Database, DemoServer)> {
    let database = Database::fresh(Kind::Postgres).await?;
    let server = DemoServer::start(&database.url, config).await.unwrap();
    Some((database, server))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_page_is_served_only_while_its_audience_has_not_changed_anywhere() {
    let Some((database, one)) = started(support::options()).await else {
        return;
    };
    let cache = postgres(&one.store);
    let key = one.keys.full.clone();
    let read = |query: &'static str| page(&one.base_url, &key, ACCOUNT_GROUP_ID, query);
    // Another instance on the same database, for the writes.
    let two = AnyStore::open(&database.url, StoreLimits::default())
        .await
        .unwrap();

    let before = cache.page_cache_stats();
    let (status, first) = read("?limit=5").await;
    assert_eq!(status, 200);
    assert_eq!(since(cache, before), (0, 1), "the first read is the database's");
    let (status, again) = read("?limit=5").await;
    assert_eq!((status, &again), (200, &first), "the same page");
    assert_eq!(since(cache, before), (1, 1), "the second is the kept page");
    let original = ids(&first);

    // Another instance adds a prospect before all others.
    let mut added = demo::prospect(90_000);
    added.id = "0000000000000000000000aa".to_owned();
    let stored = StoredProspect {
        position: Position {
            created_at: 0,
            id: added.id.clone(),
        },
        prospect: added,
    };
    two.insert_prospects(READY_AUDIENCE_ID, &[stored]).await.unwrap();
    let before = cache.page_cache_stats();
    let (_, data) = read("?limit=5").await;
    assert_eq!(ids(&data)[0], "0000000000000000000000aa", "{data}");
    assert_eq!(ids(&data)[1..], original[..4]);
    assert_eq!(since(cache, before), (0, 1), "a write moves the version");

    // Another program changes a row, with and without replica mode (whose
    // sessions fire only the triggers enabled ALWAYS).
    let row = format!("audience_id = '{READY_AUDIENCE_ID}' AND id = '0000000000000000000000aa'");
    read("?limit=5").await;
    database
        .execute(&format!(
            "UPDATE prospects SET data = jsonb_set(data::jsonb, '{{firstName}}', '\"Changed\"')::text WHERE {row}"
        ))
        .await;
    let (_, data) = read("?limit=5").await;
    assert_eq!(data["items"][0]["firstName"], "Changed", "{data}");
    database
        .execute(&format!(
            "DO $$ BEGIN PERFORM set_config('session_replication_role', 'replica', true); \
             UPDATE prospects SET data = jsonb_set(data::jsonb, '{{firstName}}', '\"Replicated\"')::text WHERE {row}; END $$"
        ))
        .await;
    let (_, data) = read("?limit=5").await;
    assert_eq!(data["items"][0]["firstName"], "Replicated", "{data}");

    // Deleted by the other instance.
    assert!(
        two.delete_prospect(READY_AUDIENCE_ID, "0000000000000000000000aa")
            .await
            .unwrap()
    );
    let (_, data) = read("?limit=5").await;
    assert_eq!(ids(&data), original);

    // The state is read at every request: a kept page is never a 200 for an
    // audience being populated, and is served again once it is ready.
    assert_eq!(read("?limit=5").await.0, 200);
    two.set_audience_state(READY_AUDIENCE_ID, AudienceState::Populating)
        .await
        .unwrap();
    assert_eq!(read("?limit=5").await.0, 409);
    two.set_audience_state(READY_AUDIENCE_ID, AudienceState::Ready)
        .await
        .unwrap();
    let before = cache.page_cache_stats();
    let (status, data) = read("?limit=5").await;
    assert_eq!((status, ids(&data)), (200, original.clone()));
    assert_eq!(
        since(cache, before),
        (1, 0),
        "the state does not move the version"
    );

    // So is the account group: another group's key, in its own group's
    // path, finds no such audience there, kept page or not.
    let theirs = add_neighbours(&one.store, 1).await;
    let (status, _) = page(&one.base_url, &theirs, OTHER_GROUP, "?limit=5").await;
    assert_eq!(status, 404);

    // TRUNCATE moves every audience's version.
    read("?limit=5").await;
    database.execute("TRUNCATE prospects").await;
    let (status, data) = read("?limit=5").await;
    assert_eq!((status, ids(&data)), (200, Vec::<String>::new()));
}

/// With `--page-cache-mib 0` nothing is kept: every page is read from the
/// database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_of_zero_bytes_keeps_nothing() {
    let mut config = support::options();
    config.store_limits.page_cache_bytes = 0;
    let Some((_database, one)) = started(config).await else {
        return;
    };
    let cache = postgres(&one.store);
    let before = cache.page_cache_stats();
    for _ in 0..3 {
        let (status, data) = page(&one.base_url, &one.keys.full, ACCOUNT_GROUP_ID, "?limit=5").await;
        assert_eq!((status, ids(&data).len()), (200, 5));
    }
    assert_eq!(since(cache, before), (0, 3));
}

/// With rate limits kept in the instance (`--rate-limits-in-process`) the
/// request reads no token: a kept page is checked by the audience's state
/// and version alone, and follows writes the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_shared_limit_a_kept_page_follows_writes_too() {
    let mut config = support::options();
    config.shared_rate_limits = false;
    let Some((database, one)) = started(config).await else {
        return;
    };
    let cache = postgres(&one.store);
    let read = || page(&one.base_url, &one.keys.full, ACCOUNT_GROUP_ID, "?limit=3");
    let (_, first) = read().await;
    let before = cache.page_cache_stats();
    assert_eq!(read().await.1, first);
    assert_eq!(since(cache, before), (1, 0), "served from the instance");
    let id = ids(&first)[0].clone();
    database
        .execute(&format!(
            "DELETE FROM prospects WHERE audience_id = '{READY_AUDIENCE_ID}' AND id = '{id}'"
        ))
        .await;
    let (status, data) = read().await;
    assert_eq!(status, 200);
    assert_eq!(ids(&data)[..2], ids(&first)[1..]);
    assert_eq!(since(cache, before), (1, 1), "read again once changed");
    let two = AnyStore::open(&database.url, StoreLimits::default())
        .await
        .unwrap();
    two.set_audience_state(READY_AUDIENCE_ID, AudienceState::Populating)
        .await
        .unwrap();
    assert_eq!(read().await.0, 409);
}
