//! `pages`: one page of 100 at depths 0, 10k, 100k, 500k and the last,
//! keyset against OFFSET.

use std::time::Instant;

use audiences_server::runtime::RawJsonArray;
use audiences_service::demo::{self, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID};
use audiences_service::store::{AnyStore, PageOutcome, Position};

use crate::common::{fail, open};

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

pub(crate) async fn pages(url: &str, reps: usize) {
    let store = open(url).await;
    let total = store
        .prospect_count(READY_AUDIENCE_ID)
        .await
        .unwrap_or_else(|error| fail(error));
    let total = u32::try_from(total).unwrap_or_else(|error| fail(error));
    let depths: Vec<u32> = [0, 10_000, 100_000, 500_000, total.saturating_sub(100)]
        .into_iter()
        .filter(|depth| *depth + 100 <= total)
        .collect();
    // Rounds over every depth, so that a noisy moment hits all depths alike.
    let mut keyset = vec![Vec::new(); depths.len()];
    let mut offset = vec![Vec::new(); depths.len()];
    for _ in 0..reps {
        for (slot, depth) in depths.iter().enumerate() {
            let after = (*depth > 0).then(|| demo::stored(depth - 1).position);
            let started = Instant::now();
            let page = store
                .page(ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, after.as_ref(), 100)
                .await
                .unwrap_or_else(|error| fail(error));
            keyset[slot].push(started.elapsed().as_secs_f64() * 1000.0);
            let PageOutcome::Page(page) = page else {
                fail("the ready audience is not ready");
            };
            let items: Vec<serde_json::Value> =
                serde_json::from_slice(page.items.finish().as_bytes()).unwrap_or_else(|error| fail(error));
            let expected = demo::stored(*depth).position.id;
            if items.first().and_then(|item| item["id"].as_str()) != Some(expected.as_str()) {
                fail(format!(
                    "the page at depth {depth} does not start with {expected}"
                ));
            }
            let started = Instant::now();
            let first = offset_page(&store, *depth).await;
            offset[slot].push(started.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(first, Some(demo::stored(*depth).position));
        }
    }
    for (slot, depth) in depths.iter().enumerate() {
        let minimum = |samples: &[f64]| samples.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "{{\"store\":\"{}\",\"depth\":{depth},\"keyset_ms\":{:.3},\"keyset_min_ms\":{:.3},\"offset_ms\":{:.3}}}",
            store.kind(),
            median(keyset[slot].clone()),
            minimum(&keyset[slot]),
            median(offset[slot].clone())
        );
    }
}

/// The naive baseline: the same page by OFFSET, rows handed over the same way.
async fn offset_page(store: &AnyStore, depth: u32) -> Option<Position> {
    const SQL: &str = "SELECT created_at, id, data FROM prospects WHERE audience_id = $1 \
                       ORDER BY created_at, id LIMIT 100 OFFSET $2";
    let rows: Vec<(i64, String, String)> = match store {
        AnyStore::Sqlite(sqlite) => sqlite
            .call("offset_page", None, move |connection| {
                let mut statement = connection.prepare_cached(SQL)?;
                let rows = statement
                    .query_map(rusqlite::params![READY_AUDIENCE_ID, i64::from(depth)], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                    })?;
                rows.collect()
            })
            .await
            .unwrap_or_else(|error| fail(error)),
        AnyStore::Postgres(postgres) => sqlx::query_as(SQL)
            .bind(READY_AUDIENCE_ID)
            .bind(i64::from(depth))
            .fetch_all(postgres.pool())
            .await
            .unwrap_or_else(|error| fail(error)),
    };
    let mut items = RawJsonArray::<audiences_types::AudienceProspect>::with_capacity(100 * 1_024);
    for (_, _, data) in &rows {
        items.push_trusted(data);
    }
    std::hint::black_box(items.finish());
    rows.first().map(|(created_at, id, _)| Position {
        created_at: *created_at,
        id: id.clone(),
    })
}
