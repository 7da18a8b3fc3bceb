//! Corrupt rows of every kind, on both stores: a stored row is served only
//! when it is exactly one JSON object whose `id` is the row's id; anything
//! else is the documented 500 in the envelope, never text a client cannot
//! parse or a page with more items than rows; and once the row is repaired
//! it is served again (a proof is never remembered for a corrupt text).

mod support;

use audiences_service::demo::{self, READY_AUDIENCE_ID};
use support::{Kind, get_ready_page, start};

both_stores!(every_kind_of_corrupt_row_is_a_500_and_a_repaired_row_is_served);

/// An SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The page's status and its body, which must parse as JSON whatever it is.
async fn page(base: &str, key: &str, query: &str) -> (u16, serde_json::Value) {
    let response = get_ready_page(base, key, query).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|error| panic!("{status}: {error}: {text}"));
    (status, body)
}

async fn every_kind_of_corrupt_row_is_a_500_and_a_repaired_row_is_served(kind: Kind) {
    let Some(running) = start(kind, support::options()).await else {
        return;
    };
    let id = demo::prospect(1).id;
    let row = format!("audience_id = '{READY_AUDIENCE_ID}' AND id = '{id}'");
    let (status, first) = page(&running.base, &running.key, "?limit=1").await;
    assert_eq!(status, 200);
    let after = first["data"]["nextCursor"].as_str().unwrap().to_owned();
    let (status, served) = page(&running.base, &running.key, &format!("?limit=1&cursor={after}")).await;
    assert_eq!(status, 200);
    let original = served["data"]["items"][0].to_string();
    assert_eq!(served["data"]["items"][0]["id"], id.as_str());

    // The row without its closing brace.
    let open = &original[..original.len() - 1];
    let mut corrupt = vec![
        // Two objects: no parser reads it.
        format!("{{\"a\":1}}{{\"id\":\"{id}\"}}"),
        // An injected item: a page of one would carry two.
        format!("{{\"id\":\"X\",\"name\":\"injected\"}},{{\"id\":\"{id}\"}}"),
        // Truncated.
        original[..original.len() - 1].to_owned(),
        // Another prospect's row.
        original.replace(&id, &demo::prospect(2).id),
        // The id twice, the second another.
        format!("{open},\"id\":\"{}\"}}", demo::prospect(2).id),
        // The id as a number, a secret beside it.
        "{\"id\": 42, \"secret\": \"/var/lib/x\"}".to_owned(),
        // Broken inside: a trailing comma, a leading zero, a raw control character.
        format!("{open},}}"),
        format!("{{\"id\":\"{id}\",\"n\":01}}"),
        format!("{{\"id\":\"{id}\",\"name\":\"a\u{1}b\"}}"),
        // Not an object.
        format!("[{{\"id\":\"{id}\"}}]"),
        String::new(),
    ]
    .into_iter()
    .map(|text| literal(&text))
    .collect::<Vec<_>>();
    if kind == Kind::Sqlite {
        // Not UTF-8 (PostgreSQL's TEXT cannot hold it).
        corrupt.push(format!("CAST(X'7B226964223A22{}22FF7D' AS TEXT)", hex(&id)));
        // ... inside a string the check's parse only skips.
        corrupt.push(format!(
            "CAST(X'7B226964223A22{}222C226E616D65223A22FF227D' AS TEXT)",
            hex(&id)
        ));
    }
    for text in &corrupt {
        running
            .database
            .execute(&format!("UPDATE prospects SET data = {text} WHERE {row}"))
            .await;
        for query in ["?limit=5".to_owned(), format!("?limit=1&cursor={after}")] {
            let (status, body) = page(&running.base, &running.key, &query).await;
            assert_eq!(status, 500, "{text}: {body}");
            assert_eq!(body["error"]["code"], "INTERNAL_ERROR", "{text}: {body}");
            assert!(!body.to_string().contains("/var/lib"), "{body}");
        }
        // The page before the row is still served.
        assert_eq!(
            page(&running.base, &running.key, "?limit=1").await.0,
            200,
            "{text}"
        );
    }
    running
        .database
        .execute(&format!(
            "UPDATE prospects SET data = {} WHERE {row}",
            literal(&original)
        ))
        .await;
    let (status, repaired) = page(&running.base, &running.key, &format!("?limit=1&cursor={after}")).await;
    assert_eq!(status, 200, "{repaired}");
    assert_eq!(repaired["data"]["items"][0].to_string(), original);

    // Every row the store wrote carries its proof; one without (written by
    // another program, or before proofs were stored) is parsed: served
    // when it passes, a 500 when it does not.
    assert_eq!(
        count(
            &running.database,
            "SELECT count(*) FROM prospects WHERE proof IS NULL"
        )
        .await,
        0
    );
    running
        .database
        .execute(&format!("UPDATE prospects SET proof = NULL WHERE {row}"))
        .await;
    let (status, unproven) = page(&running.base, &running.key, &format!("?limit=1&cursor={after}")).await;
    assert_eq!(status, 200, "{unproven}");
    assert_eq!(unproven["data"]["items"][0].to_string(), original);
    running
        .database
        .execute(&format!("UPDATE prospects SET data = {} WHERE {row}", corrupt[0]))
        .await;
    let (status, body) = page(&running.base, &running.key, &format!("?limit=1&cursor={after}")).await;
    assert_eq!(status, 500, "{body}");
}

/// The count `sql` selects, on the test's database.
async fn count(database: &support::Database, sql: &str) -> i64 {
    if database.url.starts_with("sqlite:") {
        let mut connection = <sqlx::SqliteConnection as sqlx::Connection>::connect(&database.url)
            .await
            .unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut connection).await.unwrap()
    } else {
        let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&database.url)
            .await
            .unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut connection).await.unwrap()
    }
}

fn hex(text: &str) -> String {
    text.bytes().map(|byte| format!("{byte:02X}")).collect()
}
