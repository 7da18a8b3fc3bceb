//! The bad-input table: malformed, hostile or misdirected requests against
//! the running service (both stores), as data. Each row states the status it
//! must get; every failure must be the documented envelope (`success: false`,
//! `data: null`, an error code, a 24-hex trace id equal to `X-Trace-Id`), and
//! no row may be a 500.

mod support;

use audiences_service::demo::{ACCOUNT_GROUP_ID, POPULATING_AUDIENCE_ID, READY_AUDIENCE_ID};
use support::{Kind, OTHER_AUDIENCE, OTHER_GROUP, SECOND_AUDIENCE, start};

/// One request and the status it must get. In `target` and `auth`,
/// `{G}`/`{A}` are the demo group and audience, `{KEY}` the demo key, and
/// `{CURSOR:…}` a cursor computed at run time (see `cursors`).
struct Row {
    what: &'static str,
    method: &'static str,
    target: &'static str,
    auth: Option<&'static str>,
    extra_header: Option<(&'static str, usize)>,
    status: u16,
    code: &'static str,
}

const fn row(
    what: &'static str,
    target: &'static str,
    auth: Option<&'static str>,
    status: u16,
    code: &'static str,
) -> Row {
    Row {
        what,
        method: "GET",
        target,
        auth,
        extra_header: None,
        status,
        code,
    }
}

const PAGE: &str = "/v1/accounts/{G}/audiences/{A}/prospects";
const KEY: Option<&str> = Some("Bearer {KEY}");

const TABLE: &[Row] = &[
    // Authorization.
    row("no Authorization header", PAGE, None, 401, "UNAUTHORIZED"),
    row("empty Authorization header", PAGE, Some(""), 401, "UNAUTHORIZED"),
    row("scheme without a key", PAGE, Some("Bearer"), 401, "UNAUTHORIZED"),
    row(
        "scheme and a blank key",
        PAGE,
        Some("Bearer    "),
        401,
        "UNAUTHORIZED",
    ),
    row(
        "Basic credentials",
        PAGE,
        Some("Basic dXNlcjpwYXNz"),
        401,
        "UNAUTHORIZED",
    ),
    row(
        "the key without a scheme",
        PAGE,
        Some("{KEY}"),
        401,
        "UNAUTHORIZED",
    ),
    row(
        "another scheme with the key",
        PAGE,
        Some("Token {KEY}"),
        401,
        "UNAUTHORIZED",
    ),
    row(
        "the key and a second word",
        PAGE,
        Some("Bearer {KEY} extra"),
        401,
        "UNAUTHORIZED",
    ),
    row(
        "an unknown key",
        PAGE,
        Some("Bearer ak_000000000000000000000000000000000000000000000000"),
        401,
        "UNAUTHORIZED",
    ),
    row(
        "a key one character short",
        PAGE,
        Some("Bearer {KEY_SHORT}"),
        401,
        "UNAUTHORIZED",
    ),
    row(
        "the scheme in lower case (RFC 7235: case-insensitive)",
        PAGE,
        Some("bearer {KEY}"),
        200,
        "",
    ),
    // limit.
    row(
        "limit=0",
        "/v1/accounts/{G}/audiences/{A}/prospects?limit=0",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    row(
        "limit=-1",
        "/v1/accounts/{G}/audiences/{A}/prospects?limit=-1",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    row(
        "limit=101",
        "/v1/accounts/{G}/audiences/{A}/prospects?limit=101",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    row(
        "limit=abc",
        "/v1/accounts/{G}/audiences/{A}/prospects?limit=abc",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    row(
        "limit=1.5",
        "/v1/accounts/{G}/audiences/{A}/prospects?limit=1.5",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    row(
        "limit empty",
        "/v1/accounts/{G}/audiences/{A}/prospects?limit=",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    row(
        "limit huge",
        "/v1/accounts/{G}/audiences/{A}/prospects?limit=99999999999999999999999",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    row(
        "limit twice",
        "/v1/accounts/{G}/audiences/{A}/prospects?limit=1&limit=2",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    row(
        "limit with a sign",
        "/v1/accounts/{G}/audiences/{A}/prospects?limit=%2B5",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    row(
        "limit 1e2",
        "/v1/accounts/{G}/audiences/{A}/prospects?limit=1e2",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    // cursor.
    row(
        "cursor garbage",
        "/v1/accounts/{G}/audiences/{A}/prospects?cursor=garbage",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    row(
        "cursor empty",
        "/v1/accounts/{G}/audiences/{A}/prospects?cursor=",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    row(
        "cursor truncated",
        "/v1/accounts/{G}/audiences/{A}/prospects?cursor={CURSOR:truncated}",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    row(
        "cursor bit-flipped",
        "/v1/accounts/{G}/audiences/{A}/prospects?cursor={CURSOR:flipped}",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    row(
        "cursor of another audience",
        "/v1/accounts/{G}/audiences/{A}/prospects?cursor={CURSOR:second}",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    row(
        "cursor of another account group",
        "/v1/accounts/{G}/audiences/{A}/prospects?cursor={CURSOR:other_group}",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    row(
        "cursor of 10,000 characters",
        "/v1/accounts/{G}/audiences/{A}/prospects?cursor={CURSOR:long}",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    row(
        "cursor twice",
        "/v1/accounts/{G}/audiences/{A}/prospects?cursor={CURSOR:valid}&cursor={CURSOR:valid}",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    row(
        "a valid cursor (control)",
        "/v1/accounts/{G}/audiences/{A}/prospects?cursor={CURSOR:valid}",
        KEY,
        200,
        "",
    ),
    // Ids.
    row(
        "group id too short",
        "/v1/accounts/6650a1b2/audiences/{A}/prospects",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    row(
        "audience id too short",
        "/v1/accounts/{G}/audiences/6650/prospects",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    row(
        "group id 25 digits",
        "/v1/accounts/{G}0/audiences/{A}/prospects",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    row(
        "audience id not hex",
        "/v1/accounts/{G}/audiences/zzzzzzzzzzzzzzzzzzzzzzzz/prospects",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    row(
        "unicode audience id",
        "/v1/accounts/{G}/audiences/%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9/prospects",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    row(
        "percent-encoded slash in the group id",
        "/v1/accounts/6650a1b2c3d4e5%2F601234567/audiences/{A}/prospects",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    row(
        "percent-encoded NUL in the audience id",
        "/v1/accounts/{G}/audiences/6650a1b2c3d4e5f60123ab%00/prospects",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    row(
        "SQL in the audience id",
        "/v1/accounts/{G}/audiences/'%20OR%201=1--/prospects",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    row(
        "upper-case ids (allowed)",
        "/v1/accounts/6650A1B2C3D4E5F601234567/audiences/6650A1B2C3D4E5F60123ABCD/prospects",
        KEY,
        200,
        "",
    ),
    // Reachable ids the key must not see.
    row(
        "unknown audience",
        "/v1/accounts/{G}/audiences/6650a1b2c3d4e5f60123ffff/prospects",
        KEY,
        404,
        "NOT_FOUND",
    ),
    row(
        "another group's audience under its group",
        "/v1/accounts/7750a1b2c3d4e5f601234567/audiences/7750a1b2c3d4e5f60123abcd/prospects",
        KEY,
        404,
        "NOT_FOUND",
    ),
    row(
        "another group's audience under ours",
        "/v1/accounts/{G}/audiences/7750a1b2c3d4e5f60123abcd/prospects",
        KEY,
        404,
        "NOT_FOUND",
    ),
    row(
        "an audience being populated",
        "/v1/accounts/{G}/audiences/{POPULATING}/prospects",
        KEY,
        409,
        "AUDIENCE_NOT_READY",
    ),
    row(
        "a tampered cursor on an audience being populated (the request is wrong whatever the state)",
        "/v1/accounts/{G}/audiences/{POPULATING}/prospects?cursor={CURSOR:flipped}",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    row(
        "a garbage cursor on an audience being populated",
        "/v1/accounts/{G}/audiences/{POPULATING}/prospects?cursor=garbage",
        KEY,
        400,
        "VALIDATION_ERROR",
    ),
    // Routes and methods.
    row("unknown route", "/v1/unknown", KEY, 404, "NOT_FOUND"),
    row(
        "extra path segment",
        "/v1/accounts/{G}/audiences/{A}/prospects/extra",
        KEY,
        404,
        "NOT_FOUND",
    ),
    row(
        "trailing slash",
        "/v1/accounts/{G}/audiences/{A}/prospects/",
        KEY,
        404,
        "NOT_FOUND",
    ),
    row("root", "/", None, 404, "NOT_FOUND"),
    Row {
        method: "POST",
        ..row("POST", PAGE, KEY, 405, "METHOD_NOT_ALLOWED")
    },
    Row {
        method: "DELETE",
        ..row("DELETE", PAGE, KEY, 405, "METHOD_NOT_ALLOWED")
    },
    Row {
        method: "PUT",
        ..row("PUT", PAGE, KEY, 405, "METHOD_NOT_ALLOWED")
    },
    Row {
        method: "PATCH",
        ..row("PATCH", PAGE, KEY, 405, "METHOD_NOT_ALLOWED")
    },
    // Headers.
    Row {
        extra_header: Some(("x-padding", 20_000)),
        ..row("one 20 kB header", PAGE, KEY, 431, "REQUEST_HEADERS_TOO_LARGE")
    },
    // 90 headers of 200 bytes: over the 16 kB limit.
    Row {
        extra_header: Some(("x-many", 90)),
        ..row(
            "90 headers of 200 bytes",
            PAGE,
            KEY,
            431,
            "REQUEST_HEADERS_TOO_LARGE",
        )
    },
    // 150 one-byte headers: over the 100-header limit, answered in the
    // envelope (the HTTP parser's own limit is higher).
    Row {
        extra_header: Some(("x-count", 150)),
        ..row(
            "150 headers of 1 byte",
            PAGE,
            KEY,
            431,
            "REQUEST_HEADERS_TOO_LARGE",
        )
    },
];

/// The cursors the table names, computed against the running service.
struct Cursors {
    valid: String,
    second: String,
    other_group: String,
}

fn flip(cursor: &str) -> String {
    let mut bytes = cursor.as_bytes().to_vec();
    let middle = bytes.len() / 2;
    bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

async fn next_cursor(http: &reqwest::Client, base: &str, key: &str, group: &str, audience: &str) -> String {
    let body: serde_json::Value = http
        .get(format!(
            "{base}/v1/accounts/{group}/audiences/{audience}/prospects?limit=1"
        ))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["data"]["nextCursor"].as_str().unwrap().to_owned()
}

fn expand(text: &str, key: &str, cursors: &Cursors) -> String {
    text.replace("{G}", ACCOUNT_GROUP_ID)
        .replace("{A}", READY_AUDIENCE_ID)
        .replace("{POPULATING}", POPULATING_AUDIENCE_ID)
        .replace("{KEY_SHORT}", &key[..key.len() - 1])
        .replace("{KEY}", key)
        .replace("{CURSOR:valid}", &cursors.valid)
        .replace("{CURSOR:truncated}", &cursors.valid[..cursors.valid.len() - 4])
        .replace("{CURSOR:flipped}", &flip(&cursors.valid))
        .replace("{CURSOR:second}", &cursors.second)
        .replace("{CURSOR:other_group}", &cursors.other_group)
        .replace("{CURSOR:long}", &"A".repeat(10_000))
}

both_stores!(every_row_of_the_bad_input_table_gets_its_status_in_the_envelope);

async fn every_row_of_the_bad_input_table_gets_its_status_in_the_envelope(kind: Kind) {
    let Some(running) = start(kind, support::options()).await else {
        return;
    };
    let store = &running.store;
    let other_key = support::add_neighbours(store, 3).await;

    let http = reqwest::Client::new();
    let base = &running.base;
    let cursors = Cursors {
        valid: next_cursor(&http, base, &running.key, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID).await,
        second: next_cursor(&http, base, &running.key, ACCOUNT_GROUP_ID, SECOND_AUDIENCE).await,
        other_group: next_cursor(&http, base, &other_key, OTHER_GROUP, OTHER_AUDIENCE).await,
    };

    let mut wrong = Vec::new();
    for row in TABLE {
        let url = format!("{base}{}", expand(row.target, &running.key, &cursors));
        let method = reqwest::Method::from_bytes(row.method.as_bytes()).unwrap();
        let mut request = http.request(method, &url);
        if let Some(auth) = row.auth {
            request = request.header("authorization", expand(auth, &running.key, &cursors));
        }
        if let Some((name, size)) = row.extra_header {
            // One header of `size` bytes, or `size` headers (of one byte
            // for `x-count`, of 200 bytes otherwise).
            let value_length = if name == "x-count" { 1 } else { 200 };
            if size > 1_000 {
                request = request.header(name, "a".repeat(size));
            } else {
                for index in 0..size {
                    request = request.header(format!("{name}-{index}"), "x".repeat(value_length));
                }
            }
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let header_trace = response
            .headers()
            .get("x-trace-id")
            .map(|value| value.to_str().unwrap().to_owned());
        let content_type = response
            .headers()
            .get("content-type")
            .map(|value| value.to_str().unwrap().to_owned());
        let body: Option<serde_json::Value> = response.json().await.ok();
        let problem = if status != row.status {
            Some(format!("status {status}, expected {}", row.status))
        } else if status == 500 {
            Some("a 500".to_owned())
        } else if content_type.as_deref() != Some("application/json") {
            Some(format!("content type {content_type:?}"))
        } else if let Some(body) = &body {
            let trace = body["traceId"].as_str();
            if trace.map(str::len) != Some(24) || trace != header_trace.as_deref() {
                Some(format!("trace id {trace:?} / header {header_trace:?}"))
            } else if row.status >= 400
                && (body["success"] != false || !body["data"].is_null() || body["error"]["code"] != row.code)
            {
                Some(format!("not the {} envelope: {body}", row.code))
            } else if row.status == 200 && body["success"] != true {
                Some(format!("not a success envelope: {body}"))
            } else {
                None
            }
        } else {
            Some("the body is not JSON".to_owned())
        };
        if let Some(problem) = problem {
            wrong.push(format!("{} ({} {}): {problem}", row.what, row.method, row.target));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} rows wrong:\n{}",
        wrong.len(),
        TABLE.len(),
        wrong.join("\n")
    );
}
