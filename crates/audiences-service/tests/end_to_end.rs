//! The reference service on SQLite and on PostgreSQL, driven through the
//! generated client over a real socket: every documented status for its real
//! cause, pages, cursors, limits, and the operations endpoints.

mod support;

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use audiences_client::Client;
use audiences_service::demo::{self, ACCOUNT_GROUP_ID, POPULATING_AUDIENCE_ID, READY_AUDIENCE_ID};
use audiences_service::keys;
use audiences_service::limits::RateLimits;
use support::{Kind, OTHER_AUDIENCE, OTHER_GROUP, SECOND_AUDIENCE, client, start};

/// The status and JSON body of one request through the generated client.
async fn call(
    client: &Client,
    group: &str,
    audience: &str,
    limit: Option<u32>,
    cursor: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut request = client
        .list_audience_prospects()
        .account_group_id(group)
        .audience_id(audience);
    if let Some(limit) = limit {
        request = request.limit(limit);
    }
    if let Some(cursor) = cursor {
        request = request.cursor(cursor);
    }
    match request.send().await {
        Ok(page) => (
            page.status().as_u16(),
            serde_json::to_value(page.into_inner()).unwrap(),
        ),
        Err(audiences_client::RawError::ErrorResponse(error)) => (
            error.status().as_u16(),
            serde_json::to_value(error.into_inner()).unwrap(),
        ),
        Err(other) => panic!("unexpected client error: {other}"),
    }
}

fn assert_failure(status: u16, body: &serde_json::Value, expected_status: u16, code: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["data"], serde_json::Value::Null, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["traceId"].as_str().map(str::len), Some(24), "{body}");
}

both_stores!(
    pages_first_middle_and_last_cover_the_audience_exactly_once,
    every_documented_failure_has_its_real_cause,
    each_parameter_is_validated_on_the_wire,
    a_key_over_its_limit_gets_429_with_retry_after_and_headers,
    a_locked_database_is_a_502_and_the_service_recovers,
    a_corrupt_row_is_a_500_that_reveals_nothing,
    operations_endpoints_answer_in_the_envelope,
    the_client_streams_every_prospect_and_types_every_failure,
);

async fn pages_first_middle_and_last_cover_the_audience_exactly_once(kind: Kind) {
    let Some(running) = start(kind, support::options()).await else {
        return;
    };
    let client = client(&running.base, Some(&running.key));
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let (status, body) = call(
            &client,
            ACCOUNT_GROUP_ID,
            READY_AUDIENCE_ID,
            Some(100),
            cursor.as_deref(),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["success"], true);
        assert_eq!(body["error"], serde_json::Value::Null);
        let items = body["data"]["items"].as_array().unwrap();
        for prospect in items {
            let id = prospect["id"].as_str().unwrap().to_owned();
            assert!(seen.insert(id.clone()), "{id} twice");
        }
        pages.push((items.len(), body["data"]["hasMore"].clone()));
        match body["data"]["nextCursor"].as_str() {
            Some(next) => {
                assert_eq!(body["data"]["hasMore"], true);
                cursor = Some(next.to_owned());
            }
            None => {
                assert_eq!(body["data"]["hasMore"], false, "the last page says so");
                break;
            }
        }
    }
    assert_eq!(seen.len(), demo::READY_AUDIENCE_SIZE as usize);
    assert_eq!(pages.len(), 10);
    assert!(pages.iter().all(|(len, _)| *len == 100));
    // In (createdAt, id) order, which is the demo numbering.
    let first = &call(&client, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, Some(3), None)
        .await
        .1["data"]["items"];
    let expected: Vec<serde_json::Value> = (0..3)
        .map(|index| serde_json::to_value(demo::prospect(index)).unwrap())
        .collect();
    assert_eq!(first, &serde_json::Value::Array(expected));
    // A page size that does not divide the audience: a short last page.
    let mut cursor: Option<String> = None;
    let mut sizes = Vec::new();
    loop {
        let (_, body) = call(
            &client,
            ACCOUNT_GROUP_ID,
            READY_AUDIENCE_ID,
            Some(75),
            cursor.as_deref(),
        )
        .await;
        sizes.push(body["data"]["items"].as_array().unwrap().len());
        match body["data"]["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(sizes.len(), 14);
    assert_eq!(sizes.last(), Some(&25));
    // The default page size is the document's: 25.
    let (_, body) = call(&client, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, None, None).await;
    assert_eq!(body["data"]["items"].as_array().unwrap().len(), 25);
}

async fn every_documented_failure_has_its_real_cause(kind: Kind) {
    let Some(running) = start(kind, support::options()).await else {
        return;
    };
    let store = &running.store;
    // A second group with its own key and audience; a second audience here.
    let other_key = support::add_neighbours(store, 10).await;
    let (revoked_id, revoked_key) = demo::create_key(store, ACCOUNT_GROUP_ID, keys::ALL_PERMISSIONS, None)
        .await
        .unwrap();
    assert!(store.revoke_key(&revoked_id).await.unwrap());

    let good = client(&running.base, Some(&running.key));
    let theirs = client(&running.base, Some(&other_key));

    // 409 with Retry-After.
    let response = good
        .list_audience_prospects()
        .account_group_id(ACCOUNT_GROUP_ID)
        .audience_id(POPULATING_AUDIENCE_ID)
        .send()
        .await
        .unwrap_err();
    let audiences_client::RawError::ErrorResponse(conflict) = response else {
        panic!("{response}")
    };
    assert_eq!(conflict.status().as_u16(), 409);
    assert_eq!(conflict.headers()["retry-after"], "30");
    assert_eq!(conflict.error.code, "AUDIENCE_NOT_READY");

    // 404: unknown audience, unknown group, another group's audience (by
    // either path), all alike.
    let unknown = call(&good, ACCOUNT_GROUP_ID, "6650a1b2c3d4e5f60123ffff", None, None).await;
    assert_failure(unknown.0, &unknown.1, 404, "NOT_FOUND");
    for (group, audience) in [
        ("6650a1b2c3d4e5f60123ffff", READY_AUDIENCE_ID),
        (OTHER_GROUP, OTHER_AUDIENCE),
        (ACCOUNT_GROUP_ID, OTHER_AUDIENCE),
    ] {
        let (status, body) = call(&good, group, audience, None, None).await;
        assert_failure(status, &body, 404, "NOT_FOUND");
        assert_eq!(
            body["error"]["message"], unknown.1["error"]["message"],
            "indistinguishable"
        );
    }
    // The other group's key sees its own audience and nothing of ours.
    assert_eq!(
        call(&theirs, OTHER_GROUP, OTHER_AUDIENCE, None, None).await.0,
        200
    );
    let (status, body) = call(&theirs, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, None, None).await;
    assert_failure(status, &body, 404, "NOT_FOUND");

    // 400 cursors: garbage, tampered, truncated, from another audience, from
    // another group, too long; the field is named.
    let first = call(&good, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, Some(1), None)
        .await
        .1;
    let cursor = first["data"]["nextCursor"].as_str().unwrap().to_owned();
    let second_cursor = call(&good, ACCOUNT_GROUP_ID, SECOND_AUDIENCE, Some(1), None)
        .await
        .1["data"]["nextCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let their_cursor =
        call(&theirs, OTHER_GROUP, OTHER_AUDIENCE, Some(1), None).await.1["data"]["nextCursor"]
            .as_str()
            .unwrap()
            .to_owned();
    let mut tampered = cursor.clone().into_bytes();
    tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for bad in [
        "garbage".to_owned(),
        tampered,
        cursor[..cursor.len() - 3].to_owned(),
        second_cursor,
        their_cursor,
        "A".repeat(512),
    ] {
        let (status, body) = call(&good, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, None, Some(&bad)).await;
        assert_failure(status, &body, 400, "VALIDATION_ERROR");
        assert_eq!(body["error"]["details"], "cursor", "{bad}: {body}");
    }
    // The good cursor still works; a cursor is checked before the audience's
    // state, so another audience's cursor is a 400 even on a populating one.
    assert_eq!(
        call(&good, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, None, Some(&cursor))
            .await
            .0,
        200
    );
    let (status, body) = call(
        &good,
        ACCOUNT_GROUP_ID,
        POPULATING_AUDIENCE_ID,
        None,
        Some(&cursor),
    )
    .await;
    assert_failure(status, &body, 400, "VALIDATION_ERROR");
    assert_eq!(body["error"]["details"], "cursor", "{body}");

    // 400 limit above the maximum, through the client (it allows any non-zero).
    let (status, body) = call(&good, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, Some(101), None).await;
    assert_failure(status, &body, 400, "VALIDATION_ERROR");
    assert_eq!(body["error"]["details"], "limit");

    // 401: no key, unknown key, revoked key. 403: a key without prospects:read.
    for key in [None, Some("ak_unknown"), Some(revoked_key.as_str())] {
        let (status, body) = call(
            &client(&running.base, key),
            ACCOUNT_GROUP_ID,
            READY_AUDIENCE_ID,
            None,
            None,
        )
        .await;
        assert_failure(status, &body, 401, "UNAUTHORIZED");
    }
    let forbidden = client(&running.base, Some(&running.forbidden_key));
    let (status, body) = call(&forbidden, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, None, None).await;
    assert_failure(status, &body, 403, "FORBIDDEN");
}

async fn each_parameter_is_validated_on_the_wire(kind: Kind) {
    // The generated client refuses malformed ids before sending them, so the
    // wire is driven directly here.
    let Some(running) = start(kind, support::options()).await else {
        return;
    };
    let http = reqwest::Client::new();
    let good_path = format!("/v1/accounts/{ACCOUNT_GROUP_ID}/audiences/{READY_AUDIENCE_ID}/prospects");
    for (path_and_query, field) in [
        (
            format!("/v1/accounts/123/audiences/{READY_AUDIENCE_ID}/prospects"),
            "accountGroupId",
        ),
        (
            format!("/v1/accounts/{ACCOUNT_GROUP_ID}/audiences/zzzzzzzzzzzzzzzzzzzzzzzz/prospects"),
            "audienceId",
        ),
        (format!("{good_path}?limit=0"), "limit"),
        (format!("{good_path}?limit=abc"), "limit"),
        (format!("{good_path}?limit="), "limit"),
        (format!("{good_path}?cursor="), "cursor"),
    ] {
        let response = http
            .get(format!("{}{path_and_query}", running.base))
            .bearer_auth(&running.key)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_failure(status, &body, 400, "VALIDATION_ERROR");
        assert_eq!(body["error"]["details"], field, "{path_and_query}: {body}");
    }
}

async fn a_key_over_its_limit_gets_429_with_retry_after_and_headers(kind: Kind) {
    let options = audiences_service::Config {
        rate_limits: RateLimits {
            per_second: NonZeroU32::new(1).unwrap(),
            burst: NonZeroU32::new(3).unwrap(),
        },
        ..support::options()
    };
    let Some(running) = start(kind, options).await else {
        return;
    };
    let good = client(&running.base, Some(&running.key));
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let page = good
            .list_audience_prospects()
            .account_group_id(ACCOUNT_GROUP_ID)
            .audience_id(READY_AUDIENCE_ID)
            .send()
            .await
            .unwrap();
        assert_eq!(page.headers()["x-ratelimit-limit"], "3");
        remaining.push(
            page.headers()["x-ratelimit-remaining"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    let refused = good
        .list_audience_prospects()
        .account_group_id(ACCOUNT_GROUP_ID)
        .audience_id(READY_AUDIENCE_ID)
        .send()
        .await
        .unwrap_err();
    let audiences_client::RawError::ErrorResponse(refused) = refused else {
        panic!("{refused}")
    };
    assert_eq!(refused.status().as_u16(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_eq!(refused.headers()["x-ratelimit-remaining"], "0");
    assert_eq!(refused.error.code, "RATE_LIMITED");
    // Another key has its own bucket.
    let forbidden = client(&running.base, Some(&running.forbidden_key));
    assert_eq!(
        call(&forbidden, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, None, None)
            .await
            .0,
        403
    );
    // After Retry-After, the key is served again.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(
        call(&good, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, None, None)
            .await
            .0,
        200
    );
}

async fn a_locked_database_is_a_502_and_the_service_recovers(kind: Kind) {
    let Some(running) = start(kind, support::options()).await else {
        return;
    };
    let good = client(&running.base, Some(&running.key));
    assert_eq!(
        call(&good, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, None, None)
            .await
            .0,
        200
    );
    let stall = support::stall(&running.store, &running.database).await;
    let started = Instant::now();
    let (status, body) = call(&good, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, None, None).await;
    let waited = started.elapsed();
    assert_failure(status, &body, 502, "UPSTREAM_ERROR");
    let message = body["error"]["message"].as_str().unwrap();
    for secret in ["SELECT", "sqlite", "postgres", "lock", "/tmp"] {
        assert!(!message.contains(secret), "{message} reveals {secret}");
    }
    // Bounded by the query timeout (800 ms here), not hung.
    assert!(waited < Duration::from_secs(5), "waited {waited:?}");
    let ready = reqwest::get(format!("{}/readyz", running.base)).await.unwrap();
    let ready_status = ready.status();
    assert_eq!(ready_status, 503, "{}", ready.text().await.unwrap());
    stall.release().await;
    assert_eq!(
        call(&good, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, None, None)
            .await
            .0,
        200
    );
    assert_eq!(
        reqwest::get(format!("{}/readyz", running.base))
            .await
            .unwrap()
            .status(),
        200
    );
}

async fn a_corrupt_row_is_a_500_that_reveals_nothing(kind: Kind) {
    let Some(running) = start(kind, support::options()).await else {
        return;
    };
    let good = client(&running.base, Some(&running.key));
    running
        .database
        .execute(&format!(
            "UPDATE prospects SET data = '{{\"id\": 42, \"secret\": \"/var/lib/x\"}}' \
             WHERE audience_id = '{READY_AUDIENCE_ID}' AND id = '{}'",
            demo::prospect(1).id
        ))
        .await;
    let (status, body) = call(&good, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, Some(5), None).await;
    assert_failure(status, &body, 500, "INTERNAL_ERROR");
    let text = body.to_string();
    for secret in ["/var/lib", "invalid type", "missing field", "prospect data"] {
        assert!(!text.contains(secret), "{text} reveals {secret}");
    }
    // A page that does not hold the row is served; the one that does is a 500.
    let cursor = call(&good, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, Some(1), None).await;
    assert_eq!(cursor.0, 200);
    let after = cursor.1["data"]["nextCursor"].as_str().unwrap().to_owned();
    let (status, _) = call(&good, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, Some(1), Some(&after)).await;
    assert_eq!(status, 500, "the second prospect is the corrupt one");
}

async fn operations_endpoints_answer_in_the_envelope(kind: Kind) {
    let Some(running) = start(kind, support::options()).await else {
        return;
    };
    let http = reqwest::Client::new();
    for path in ["/healthz", "/readyz"] {
        let response = http.get(format!("{}{path}", running.base)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let trace = response.headers()["x-trace-id"].to_str().unwrap().to_owned();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(
            (&body["success"], body["traceId"].as_str()),
            (&serde_json::json!(true), Some(trace.as_str()))
        );
    }
    let yaml = http
        .get(format!("{}/openapi.yaml", running.base))
        .send()
        .await
        .unwrap();
    assert_eq!(yaml.headers()["content-type"], "application/yaml");
    // The source document, with only its servers made relative.
    let served: serde_json::Value = serde_yaml::from_str(&yaml.text().await.unwrap()).unwrap();
    let mut source: serde_json::Value = serde_yaml::from_str(audiences_service::OPENAPI_YAML).unwrap();
    assert_eq!(served["servers"][0]["url"], "/");
    source["servers"] = served["servers"].clone();
    assert_eq!(served, source);
    let document: serde_json::Value = http
        .get(format!("{}/openapi.json", running.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(document["openapi"], "3.0.3");
    assert!(document["paths"]["/v1/accounts/{accountGroupId}/audiences/{audienceId}/prospects"].is_object());
    // Swagger UI, pointing at the served document.
    let docs = http.get(format!("{}/docs/", running.base)).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger-ui"));
    let initializer = http
        .get(format!("{}/docs/swagger-initializer.js", running.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(initializer.contains("/openapi.json"), "{initializer}");
    // A miss under /docs/ is the envelope's 404, as every other miss.
    let missing = http
        .get(format!("{}/docs/no-such-file.js", running.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_failure(404, &body, 404, "NOT_FOUND");
    // Oversized headers: a 431 envelope.
    let response = http
        .get(format!("{}/healthz", running.base))
        .header("x-padding", "a".repeat(20_000))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 431);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_failure(431, &body, 431, "REQUEST_HEADERS_TOO_LARGE");
}

async fn the_client_streams_every_prospect_and_types_every_failure(kind: Kind) {
    use audiences_client::{AudiencesClient, ErrorCode, RetryPolicy};
    use futures_util::TryStreamExt;

    let Some(running) = start(kind, support::options()).await else {
        return;
    };
    let client = AudiencesClient::builder(&running.base)
        .api_key(&running.key)
        .build()
        .unwrap();
    let ids: Vec<String> = client
        .prospects(ACCOUNT_GROUP_ID, READY_AUDIENCE_ID)
        .page_size(100)
        .items()
        .map_ok(|prospect| prospect.id)
        .try_collect()
        .await
        .unwrap();
    let expected: Vec<String> = (0..demo::READY_AUDIENCE_SIZE)
        .map(|index| demo::prospect(index).id)
        .collect();
    assert_eq!(ids, expected, "every prospect once, in order");

    let not_ready = client
        .list_prospects(ACCOUNT_GROUP_ID, POPULATING_AUDIENCE_ID, None, None)
        .await
        .unwrap_err();
    assert_eq!(not_ready.code(), Some(&ErrorCode::AudienceNotReady));
    assert_eq!(not_ready.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(not_ready.trace_id().map(str::len), Some(24));
    // Waiting with a deadline shorter than Retry-After gives up at once.
    let started = Instant::now();
    let waited = client
        .with_retry(RetryPolicy::default().wait_until_ready(Duration::from_secs(5)))
        .list_prospects(ACCOUNT_GROUP_ID, POPULATING_AUDIENCE_ID, None, None)
        .await
        .unwrap_err();
    assert_eq!(waited.code(), Some(&ErrorCode::AudienceNotReady));
    assert!(started.elapsed() < Duration::from_secs(3));

    let forbidden = AudiencesClient::builder(&running.base)
        .api_key(&running.forbidden_key)
        .build()
        .unwrap();
    let error = forbidden
        .list_prospects(ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, None, None)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(&ErrorCode::Forbidden));
    let error = client
        .list_prospects(ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, None, Some("garbage"))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(&ErrorCode::ValidationError));
    assert_eq!(error.api().unwrap().details.as_deref(), Some("cursor"));
    // Malformed ids are the server's to refuse: the same 400 as over the raw wire.
    let error = client
        .list_prospects("not-an-id", READY_AUDIENCE_ID, None, None)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(&ErrorCode::ValidationError), "{error:?}");
    assert_eq!(error.api().unwrap().details.as_deref(), Some("accountGroupId"));
    assert!(error.to_string().contains("(got `not-an-id`)"), "{error}");
}
