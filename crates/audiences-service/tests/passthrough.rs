//! Pages as stored JSON passed through, on both stores: the same bytes the
//! typed path wrote before, every stored row still its typed prospect, the
//! next cursor in a header, and the bounds of what is cached (a revoked
//! key, an audience that changes state).

mod support;

use std::time::{Duration, Instant};

use audiences_service::demo::{self, ACCOUNT_GROUP_ID, POPULATING_AUDIENCE_ID, READY_AUDIENCE_ID};
use audiences_service::keys::{self, KEY_CACHE_TTL};
use audiences_service::store::{AnyStore, AudienceState, PageOutcome};
use audiences_types::{AudienceProspect, AudienceProspectListSuccessResponse, AudienceProspectPage};
use support::{Kind, get_ready_page, start};

both_stores!(
    pages_are_byte_for_byte_what_the_typed_path_wrote,
    every_stored_row_reads_back_as_its_typed_prospect,
    a_revoked_key_is_refused_within_the_cache_bound,
    an_audience_that_changes_state_is_seen_at_once,
    gzip_is_negotiated_and_changes_no_byte,
);

/// gzip is negotiated: a client that asks for it gets the page gzipped,
/// with `Vary: Accept-Encoding`, and decompressed it is the same bytes a
/// client that does not ask gets (trace ids aside); one that does not ask,
/// or a body too small to gain (an error), is sent as is.
async fn gzip_is_negotiated_and_changes_no_byte(kind: Kind) {
    let Some(running) = start(kind, support::options()).await else {
        return;
    };
    let url = format!(
        "{}/v1/accounts/{ACCOUNT_GROUP_ID}/audiences/{READY_AUDIENCE_ID}/prospects?limit=100",
        running.base
    );
    let plain = support::identity_http();
    let decoding = reqwest::Client::builder().gzip(true).build().unwrap();

    let identity = plain.get(&url).bearer_auth(&running.key).send().await.unwrap();
    assert_eq!(identity.headers().get("content-encoding"), None);
    let identity = body_without_trace(identity).await;

    let gzipped = plain
        .get(&url)
        .bearer_auth(&running.key)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    let vary = gzipped.headers()["vary"].to_str().unwrap().to_ascii_lowercase();
    assert!(vary.contains("accept-encoding"), "{vary}");
    let wire = gzipped.bytes().await.unwrap();
    assert!(
        wire.len() * 3 < identity.len(),
        "{} gzipped bytes for {}",
        wire.len(),
        identity.len()
    );

    let decoded = decoding.get(&url).bearer_auth(&running.key).send().await.unwrap();
    assert_eq!(body_without_trace(decoded).await, identity);

    let refused = plain
        .get(&url)
        .bearer_auth("ak_wrong")
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.headers().get("content-encoding"),
        None,
        "too small to gain"
    );
}

/// A response's body with its trace id (which names each request) replaced.
async fn body_without_trace(response: reqwest::Response) -> String {
    let trace = response.headers()["x-trace-id"].to_str().unwrap().to_owned();
    let body = response.text().await.unwrap();
    assert!(body.contains(&trace), "the body carries the header's trace id");
    body.replace(&trace, "TRACE")
}

/// PostgreSQL plans the page statements once per connection (a generic plan,
/// `$3` in its index condition) as one range scan of `prospects_page`:
/// planned afresh on each execution, planning was most of the backends' CPU.
/// Neither sorts: the rows come in the index's order (an outer sort was 15 %
/// of the database's CPU per request).
#[tokio::test]
async fn postgres_plans_the_page_statements_once_as_an_index_range_scan_without_a_sort() {
    let Some(database) = support::Database::fresh(Kind::Postgres).await else {
        return;
    };
    let store = AnyStore::open(&database.url, support::options().store_limits)
        .await
        .unwrap();
    let AnyStore::Postgres(postgres) = &store else {
        panic!("a PostgreSQL URL opens the PostgreSQL store");
    };
    for plan in [
        postgres.page_plan().await.unwrap(),
        postgres.take_and_page_plan().await.unwrap(),
    ] {
        assert!(plan.contains("prospects_page"), "{plan}");
        assert!(plan.contains("$3"), "a generic plan names its parameters: {plan}");
        assert!(
            !plan.contains("Sort"),
            "the rows come in the index's order: {plan}"
        );
    }
}

/// Each page of the walk is compared with the body the typed path (parse
/// each row, build the typed page and envelope, serialize) makes of the same
/// prospects, cursor and trace id: the same bytes, not only the same value.
async fn pages_are_byte_for_byte_what_the_typed_path_wrote(kind: Kind) {
    let Some(running) = start(kind, support::options()).await else {
        return;
    };
    let mut query = "?limit=100".to_owned();
    let mut first = 0_u32;
    loop {
        let response = get_ready_page(&running.base, &running.key, &query).await;
        assert_eq!(response.status(), 200);
        let header = response
            .headers()
            .get("x-next-cursor")
            .map(|value| value.to_str().unwrap().to_owned());
        let text = response.text().await.unwrap();
        let served: AudienceProspectListSuccessResponse = serde_json::from_str(&text).unwrap();
        let count = u32::try_from(served.data.items.len()).unwrap();
        let typed = AudienceProspectListSuccessResponse {
            success: true,
            data: AudienceProspectPage {
                items: (first..first + count).map(demo::prospect).collect(),
                next_cursor: served.data.next_cursor.clone(),
                has_more: served.data.has_more,
            },
            error: None,
            trace_id: served.trace_id.clone(),
        };
        assert_eq!(text, serde_json::to_string(&typed).unwrap(), "page at {first}");
        assert_eq!(header, served.data.next_cursor, "the header is the body's cursor");
        first += count;
        match served.data.next_cursor {
            Some(cursor) => query = format!("?limit=100&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(first, demo::READY_AUDIENCE_SIZE);
}

async fn every_stored_row_reads_back_as_its_typed_prospect(kind: Kind) {
    let Some(running) = start(kind, support::options()).await else {
        return;
    };
    let mut after = None;
    let mut read: Vec<AudienceProspect> = Vec::new();
    loop {
        let PageOutcome::Page(page) = running
            .store
            .page(ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, after.as_ref(), 100)
            .await
            .unwrap()
        else {
            panic!("the ready audience is not ready");
        };
        let (has_more, last) = (page.has_more, page.last.clone());
        let items = page.items.finish();
        read.extend(items.parse().unwrap());
        if !has_more {
            break;
        }
        after = last;
    }
    let expected: Vec<AudienceProspect> = (0..demo::READY_AUDIENCE_SIZE).map(demo::prospect).collect();
    assert_eq!(read, expected);
}

/// A key used (so cached), then revoked: refused within the bound, and
/// not before the revocation.
async fn a_revoked_key_is_refused_within_the_cache_bound(kind: Kind) {
    let Some(running) = start(kind, support::options()).await else {
        return;
    };
    let (id, key) = demo::create_key(&running.store, ACCOUNT_GROUP_ID, keys::ALL_PERMISSIONS, None)
        .await
        .unwrap();
    assert_eq!(
        get_ready_page(&running.base, &key, "?limit=1").await.status(),
        200
    );
    assert!(running.store.revoke_key(&id).await.unwrap());
    let revoked = Instant::now();
    loop {
        // Judged by when the request was sent: an answer may be slow.
        let sent = revoked.elapsed();
        let status = get_ready_page(&running.base, &key, "?limit=1").await.status();
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            sent <= KEY_CACHE_TTL + Duration::from_millis(250),
            "still admitted in a request sent {sent:?} after revocation"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Once refused, refused for good (the refusal is cached as well).
    for _ in 0..3 {
        assert_eq!(
            get_ready_page(&running.base, &key, "?limit=1").await.status(),
            401
        );
    }
    // Other keys are unaffected.
    assert_eq!(
        get_ready_page(&running.base, &running.key, "?limit=1")
            .await
            .status(),
        200
    );
}

/// The state is read in the page's own statement: no cache, no delay.
async fn an_audience_that_changes_state_is_seen_at_once(kind: Kind) {
    let Some(running) = start(kind, support::options()).await else {
        return;
    };
    assert_eq!(
        get_ready_page(&running.base, &running.key, "?limit=1")
            .await
            .status(),
        200
    );
    assert!(
        running
            .store
            .set_audience_state(READY_AUDIENCE_ID, AudienceState::Populating)
            .await
            .unwrap()
    );
    let response = get_ready_page(&running.base, &running.key, "?limit=1").await;
    assert_eq!(response.status(), 409);
    assert_eq!(response.headers()["retry-after"], "30");
    assert!(
        running
            .store
            .set_audience_state(READY_AUDIENCE_ID, AudienceState::Ready)
            .await
            .unwrap()
    );
    assert_eq!(
        get_ready_page(&running.base, &running.key, "?limit=1")
            .await
            .status(),
        200
    );
    // And the populating one becomes readable the moment it is ready.
    assert!(
        running
            .store
            .set_audience_state(POPULATING_AUDIENCE_ID, AudienceState::Ready)
            .await
            .unwrap()
    );
    let response = reqwest::Client::new()
        .get(format!(
            "{}/v1/accounts/{ACCOUNT_GROUP_ID}/audiences/{POPULATING_AUDIENCE_ID}/prospects",
            running.base
        ))
        .bearer_auth(&running.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["data"]["items"], serde_json::json!([]));
}
