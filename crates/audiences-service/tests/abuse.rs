//! Requests without valid credentials are bounded per client address: past
//! the bound they are a 429 in the envelope with `Retry-After`, answered
//! before any key lookup (a stalled database does not delay them), while a
//! key already known valid is served.

mod support;

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use audiences_service::attempts::AttemptLimits;
use support::{Kind, get_ready_page, identity_http, stall, start};

both_stores!(unknown_keys_and_missing_credentials_are_bounded_per_address);

async fn unknown_keys_and_missing_credentials_are_bounded_per_address(kind: Kind) {
    let options = audiences_service::Config {
        attempt_limits: AttemptLimits {
            per_address: Some((NonZeroU32::new(1).unwrap(), NonZeroU32::new(5).unwrap())),
            global: None,
        },
        ..support::options()
    };
    let Some(running) = start(kind, options).await else {
        return;
    };
    // The valid key: its first lookup takes one of the five; it is known
    // from then on and takes no more.
    for _ in 0..3 {
        assert_eq!(
            get_ready_page(&running.base, &running.key, "").await.status(),
            200
        );
    }
    // Four distinct unknown keys: each looked up, each a 401.
    for attempt in 0..4 {
        let response = get_ready_page(&running.base, &format!("ak_unknown_{attempt}"), "").await;
        assert_eq!(response.status(), 401, "attempt {attempt}");
    }
    // Past the bound, with the database stalled: a 429 at once, so no
    // lookup was made.
    let stalled = stall(&running.store, &running.database).await;
    let started = Instant::now();
    let response = get_ready_page(&running.base, "ak_unknown_6", "").await;
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["error"]["code"], "RATE_LIMITED", "{body}");
    assert!(
        elapsed < Duration::from_millis(700),
        "answered after {elapsed:?}: the key was looked up in the stalled database"
    );
    stalled.release().await;
    // No credentials at all: bounded the same way.
    let bare = identity_http()
        .get(format!(
            "{}/v1/accounts/{}/audiences/{}/prospects",
            running.base,
            audiences_service::demo::ACCOUNT_GROUP_ID,
            audiences_service::demo::READY_AUDIENCE_ID
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 429);
    // The known key is still served.
    assert_eq!(
        get_ready_page(&running.base, &running.key, "").await.status(),
        200
    );
}
