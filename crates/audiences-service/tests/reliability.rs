//! Reliability of the running service: paging while the audience changes,
//! isolation between account groups under random parameter combinations,
//! and a database that refuses connections and comes back.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audiences_service::demo::{self, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID};
use audiences_service::store::{AnyStore, AudienceState};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use support::{Kind, start};

async fn page(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    group: &str,
    audience: &str,
    query: &str,
) -> (u16, serde_json::Value) {
    let response = http
        .get(format!(
            "{base}/v1/accounts/{group}/audiences/{audience}/prospects{query}"
        ))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn ids(body: &serde_json::Value) -> Vec<String> {
    body["data"]["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| item["id"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

both_stores!(paging_under_writes_sees_every_lasting_prospect_exactly_once);

async fn paging_under_writes_sees_every_lasting_prospect_exactly_once(kind: Kind) {
    const INITIAL: u32 = 3_000;
    let Some(running) = start(kind, support::options()).await else {
        return;
    };
    let store = running.store.clone();
    demo::insert_prospects(
        &store,
        READY_AUDIENCE_ID,
        demo::READY_AUDIENCE_SIZE,
        INITIAL - demo::READY_AUDIENCE_SIZE,
    )
    .await
    .unwrap();

    let deleted = Arc::new(Mutex::new(HashSet::new()));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (store, deleted, done) = (store.clone(), Arc::clone(&deleted), Arc::clone(&done));
        tokio::spawn(async move {
            let mut inserted = 0_u32;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                // A new prospect between two existing ones (anywhere in the
                // order, also before the walker's position), and a deletion.
                let mut row = demo::stored(100_000 + inserted);
                row.position.created_at =
                    demo::stored(rand::random_range(0..INITIAL)).position.created_at + 500;
                store.insert_prospects(READY_AUDIENCE_ID, &[row]).await.unwrap();
                inserted += 1;
                let victim = demo::prospect(rand::random_range(0..INITIAL)).id;
                if store.delete_prospect(READY_AUDIENCE_ID, &victim).await.unwrap() {
                    deleted.lock().unwrap().insert(victim);
                }
                tokio::task::yield_now().await;
            }
            inserted
        })
    };

    let http = reqwest::Client::new();
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let (status, body) = page(
            &http,
            &running.base,
            &running.key,
            ACCOUNT_GROUP_ID,
            READY_AUDIENCE_ID,
            &format!("?limit=40{cursor}"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        for id in ids(&body) {
            *seen.entry(id).or_default() += 1;
        }
        match body["data"]["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let inserted = writer.await.unwrap();
    let deleted = deleted.lock().unwrap().clone();

    let twice: Vec<&String> = seen
        .iter()
        .filter(|(_, count)| **count > 1)
        .map(|(id, _)| id)
        .collect();
    assert!(twice.is_empty(), "seen more than once: {twice:?}");
    let missing: Vec<String> = (0..INITIAL)
        .map(|index| demo::prospect(index).id)
        .filter(|id| !deleted.contains(id) && !seen.contains_key(id))
        .collect();
    assert!(
        missing.is_empty(),
        "skipped although present throughout: {missing:?}"
    );
    assert!(
        inserted > 10 && !deleted.is_empty(),
        "the writer ran: {inserted} inserted, {} deleted",
        deleted.len()
    );
    eprintln!(
        "{kind:?}: {pages} pages, {} prospects seen, {inserted} inserted and {} deleted during the walk",
        seen.len(),
        deleted.len()
    );
}

/// Three account groups, two audiences each, one key each.
struct World {
    groups: Vec<String>,
    /// (group index, audience id, its prospect ids)
    audiences: Vec<(usize, String, HashSet<String>)>,
    keys: Vec<String>,
    cursors: Vec<String>,
}

async fn world(store: &AnyStore, demo_key: &str, base: &str) -> World {
    let mut groups = vec![ACCOUNT_GROUP_ID.to_owned()];
    let mut keys = vec![demo_key.to_owned()];
    let mut audiences = vec![(
        0,
        READY_AUDIENCE_ID.to_owned(),
        (0..demo::READY_AUDIENCE_SIZE)
            .map(|index| demo::prospect(index).id)
            .collect(),
    )];
    let mut next_index = 10_000;
    for group_number in 1..3_u32 {
        let group = format!("{:024x}", 0xabc0_0000_u64 + u64::from(group_number));
        store.create_account_group(&group, "isolated").await.unwrap();
        for audience_number in 0..2_u32 {
            let audience = format!(
                "{:024x}",
                0xdef0_0000_u64 + u64::from(group_number * 10 + audience_number)
            );
            store
                .create_audience(&audience, &group, "isolated", AudienceState::Ready)
                .await
                .unwrap();
            demo::insert_prospects(store, &audience, next_index, 15)
                .await
                .unwrap();
            let ids = (next_index..next_index + 15)
                .map(|index| demo::prospect(index).id)
                .collect();
            next_index += 15;
            audiences.push((groups.len(), audience, ids));
        }
        keys.push(
            demo::create_key(store, &group, &["prospects:read"], None)
                .await
                .unwrap()
                .1,
        );
        groups.push(group);
    }
    let http = reqwest::Client::new();
    let mut cursors = Vec::new();
    for (group_index, audience, _) in &audiences {
        let (_, body) = page(
            &http,
            base,
            &keys[*group_index],
            &groups[*group_index],
            audience,
            "?limit=5",
        )
        .await;
        cursors.push(body["data"]["nextCursor"].as_str().unwrap().to_owned());
    }
    World {
        groups,
        audiences,
        keys,
        cursors,
    }
}

fn isolation(kind: Kind) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let Some(running) = runtime.block_on(start(kind, support::options())) else {
        return;
    };
    let world = runtime.block_on(world(&running.store, &running.key, &running.base));
    let http = reqwest::Client::new();
    let cases = (
        0..world.keys.len(),
        0..world.groups.len() + 1,
        0..world.audiences.len() + 1,
        proptest::option::of(1_u32..=100),
        proptest::option::of(0..world.cursors.len()),
    );
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 150,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&cases, |(key, group, audience, limit, cursor)| {
            let group_id = world
                .groups
                .get(group)
                .cloned()
                .unwrap_or_else(|| "0123456789abcdef01234567".to_owned());
            let audience_id = world
                .audiences
                .get(audience)
                .map(|(_, id, _)| id.clone())
                .unwrap_or_else(|| "0123456789abcdef0123abcd".to_owned());
            let mut query = String::from("?");
            if let Some(limit) = limit {
                query.push_str(&format!("limit={limit}&"));
            }
            if let Some(cursor) = cursor {
                query.push_str(&format!("cursor={}", world.cursors[cursor]));
            }
            let (status, body) = runtime.block_on(page(
                &http,
                &running.base,
                &world.keys[key],
                &group_id,
                &audience_id,
                &query,
            ));
            let owned = world
                .audiences
                .get(audience)
                .filter(|(owner, _, _)| *owner == key && group == key);
            match owned {
                // The key's own audience under its own group: 200, or 400 for
                // a cursor of another audience.
                Some((_, _, prospect_ids)) => {
                    let cursor_is_its_own = cursor.is_none_or(|index| index == audience);
                    if cursor_is_its_own {
                        prop_assert_eq!(status, 200, "{}", body);
                        for id in ids(&body) {
                            prop_assert!(prospect_ids.contains(&id), "{} is not in {}", id, audience_id);
                        }
                    } else {
                        prop_assert_eq!(status, 400, "{}", body);
                    }
                }
                // Anything else: never a prospect; 404 (or 400 for a foreign
                // cursor on the key's own group, which is not a leak).
                None => {
                    prop_assert!(status == 404 || status == 400, "{} {}", status, body);
                    prop_assert!(ids(&body).is_empty());
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn no_key_ever_sees_another_groups_prospects_sqlite() {
    isolation(Kind::Sqlite);
}

#[test]
fn no_key_ever_sees_another_groups_prospects_postgres() {
    isolation(Kind::Postgres);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_refuses_connections_is_a_502_until_it_returns() {
    let Some(running) = start(Kind::Postgres, support::options()).await else {
        return;
    };
    let admin_url = std::env::var("AUDIENCES_TEST_POSTGRES_URL").unwrap();
    let database = running.database.url.rsplit('/').next().unwrap().to_owned();
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let ask = || {
        page(
            &http,
            &running.base,
            &running.key,
            ACCOUNT_GROUP_ID,
            READY_AUDIENCE_ID,
            "?limit=5",
        )
    };
    assert_eq!(ask().await.0, 200);

    sqlx::query(&format!("ALTER DATABASE {database} ALLOW_CONNECTIONS false"))
        .execute(&mut admin)
        .await
        .unwrap();
    sqlx::query(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    let mut detections = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let (status, body) = ask().await;
        detections.push(started.elapsed());
        assert_eq!(status, 502, "{body}");
        assert_eq!(body["error"]["code"], "UPSTREAM_ERROR");
    }
    assert!(
        detections.iter().all(|elapsed| *elapsed < Duration::from_secs(3)),
        "bounded by the query timeout: {detections:?}"
    );

    sqlx::query(&format!("ALTER DATABASE {database} ALLOW_CONNECTIONS true"))
        .execute(&mut admin)
        .await
        .unwrap();
    let back = Instant::now();
    loop {
        if ask().await.0 == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "no recovery within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "refused connections: 502 after {:?} (worst of 5), recovered {:?} after the database returned",
        detections.iter().max().unwrap(),
        back.elapsed()
    );
}
