//! The `rules` fixture, served: every validation keyword of OpenAPI 3.0's
//! schema object, on parameters and bodies, a valid and an invalid request
//! each. A valid request reaches the handler; an invalid one is a 400 that
//! names where (a JSON pointer, or the parameter), the rule and its limit,
//! and never reaches the handler; a request that breaks several rules
//! learns of all of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use audiences_server_fixtures::generated_rules::types::{Piece, Rules, Signup};
use audiences_server_fixtures::generated_rules::*;
use openapi_server_runtime::{
    ApiError, Credentials, LoopbackServer, RequestContext, Security, TraceId, serve_loopback,
};
use serde_json::{Value, json};

/// Counts the requests that reach it, and echoes.
#[derive(Default)]
struct Fixture {
    reached: AtomicUsize,
}

impl Security for Fixture {
    type Principal = ();

    async fn authenticate(&self, _: Credentials<'_>, _: &TraceId) -> Result<(), ApiError> {
        Ok(())
    }

    fn has_permission(&self, _: &(), _: &str) -> bool {
        true
    }
}

impl RulesApi for Fixture {
    async fn check_rules(
        &self,
        _: RequestContext<()>,
        _: CheckRulesPath,
        _: CheckRulesQuery,
        _: CheckRulesHeaders,
        body: Rules,
    ) -> CheckRulesResponse {
        self.reached.fetch_add(1, Ordering::SeqCst);
        CheckRulesResponse::Ok(body.into())
    }

    async fn check_pieces(&self, _: RequestContext<()>, body: Vec<Piece>) -> CheckPiecesResponse {
        self.reached.fetch_add(1, Ordering::SeqCst);
        CheckPiecesResponse::Ok(i32::try_from(body.len()).unwrap_or(i32::MAX).into())
    }

    async fn check_signup(&self, _: RequestContext<()>, _: Signup) -> CheckSignupResponse {
        self.reached.fetch_add(1, Ordering::SeqCst);
        CheckSignupResponse::NoContent
    }
}

struct Served {
    server: LoopbackServer,
    fixture: Arc<Fixture>,
}

async fn serve() -> Served {
    let fixture = Arc::new(Fixture::default());
    let server = serve_loopback(router(fixture.clone())).await.unwrap();
    Served { server, fixture }
}

/// A body that meets every rule of `Rules`.
fn valid_rules() -> Value {
    json!({
        "count": 5,
        "above": 0.1,
        "below": 9.9,
        "step": 10,
        "name": "ada",
        "code": "ABC",
        "ratio": 0.5,
        "at": "2026-01-31T09:30:00Z",
        "id": "67e55044-10b1-426f-9247-bb680e5fe0c8",
        "email": "ada@example.com",
        "v4": "192.0.2.1",
        "v6": "2001:db8::1",
        "site": "https://example.com/a?b=c",
        "blob": "aGk=",
        "tags": ["a", "b"],
        "attributes": { "k": "v" },
        "mode": "fast",
        "note": null,
        "window": { "from": 1, "to": 2 },
        "contact": { "phone": "+1234567" }
    })
}

/// What a refusal says: its status, its `details` and its `errors` as
/// `pointer rule limit` lines.
struct Refusal {
    status: u16,
    details: String,
    errors: Vec<String>,
}

async fn send(served: &Served, path_and_query: &str, header: Option<(&str, &str)>, body: Request) -> Refusal {
    let mut request = reqwest::Client::new().post(format!("{}{path_and_query}", served.server.base_url));
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    request = match body {
        Request::Json(value) => request.json(&value),
        Request::Form(text) => request
            .header("content-type", "application/x-www-form-urlencoded")
            .body(text),
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let errors = body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|error| {
                    let limit = match &error["limit"] {
                        Value::Null => String::new(),
                        limit => format!(" {limit}"),
                    };
                    format!(
                        "{} {}{limit}",
                        error["pointer"].as_str().unwrap(),
                        error["rule"].as_str().unwrap()
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Refusal {
        status,
        details: body["details"].as_str().unwrap_or_default().to_owned(),
        errors,
    }
}

enum Request {
    Json(Value),
    Form(String),
}

const GOOD_QUERY: &str =
    "/rules/ABC?step=15&ratio=0.5&contact=ada%40example.com&tags=a&tags=b&level=2&size=3";

#[tokio::test]
async fn a_valid_request_reaches_the_handler_as_sent() {
    let served = serve().await;
    let response = reqwest::Client::new()
        .post(format!("{}{GOOD_QUERY}", served.server.base_url))
        .header("x-site", "https://example.com/")
        .json(&valid_rules())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let echoed: Value = response.json().await.unwrap();
    for key in ["count", "name", "code", "tags", "window", "contact", "blob"] {
        assert_eq!(echoed[key], valid_rules()[key], "{key}");
    }
    assert_eq!(served.fixture.reached.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn every_keyword_of_a_body_is_enforced_and_named() {
    let served = serve().await;
    // (the change to the valid body, the error it must name)
    let cases: Vec<(&str, Value, &str)> = vec![
        ("count", json!(0), "/count minimum 1"),
        ("count", json!(101), "/count maximum 100"),
        ("count", json!(null), "/count type \"integer\""),
        ("count", json!("5"), "/count type \"integer\""),
        ("above", json!(0), "/above exclusiveMinimum 0"),
        ("below", json!(10), "/below exclusiveMaximum 10"),
        ("step", json!(7), "/step multipleOf 5.0"),
        ("name", json!("a"), "/name minLength 2"),
        ("name", json!("abcdefghijklmnopq"), "/name maxLength 16"),
        ("code", json!("abc"), "/code pattern \"^[A-Z]{3}$\""),
        ("at", json!("yesterday"), "/at format \"date-time\""),
        ("id", json!("not-a-uuid"), "/id format \"uuid\""),
        ("email", json!("nobody"), "/email format \"email\""),
        ("v4", json!("300.1.1.1"), "/v4 format \"ipv4\""),
        ("v6", json!("2001:db8::g"), "/v6 format \"ipv6\""),
        ("site", json!("not a uri"), "/site format \"uri\""),
        ("blob", json!("***"), "/blob format \"byte\""),
        ("tags", json!([]), "/tags minItems 1"),
        ("tags", json!(["a", "b", "c", "d"]), "/tags maxItems 3"),
        ("tags", json!(["a", "a"]), "/tags uniqueItems"),
        ("attributes", json!({}), "/attributes minProperties 1"),
        (
            "attributes",
            json!({ "a": "1", "b": "2", "c": "3" }),
            "/attributes maxProperties 2",
        ),
        ("mode", json!("slow"), "/mode enum"),
        ("note", json!("toolong"), "/note maxLength 4"),
        ("colour", json!("red"), "/colour additionalProperties"),
        ("window", json!({ "from": -1, "to": 2 }), "/window/from minimum 0"),
        ("window", json!({ "from": 1 }), "/window/to required"),
        ("contact", json!({ "email": "nobody" }), "/contact anyOf"),
    ];
    for (key, value, expected) in cases {
        let mut body = valid_rules();
        body[key] = value.clone();
        let refusal = send(&served, GOOD_QUERY, None, Request::Json(body)).await;
        assert_eq!(refusal.status, 400, "{key} = {value}");
        assert_eq!(refusal.errors, [expected], "{key} = {value}");
        assert!(
            refusal
                .details
                .starts_with(&expected.split(' ').take(2).collect::<Vec<_>>().join(" (")),
            "{key} = {value}: {}",
            refusal.details
        );
    }
    let mut body = valid_rules();
    body.as_object_mut().unwrap().remove("name");
    let refusal = send(&served, GOOD_QUERY, None, Request::Json(body)).await;
    assert_eq!(refusal.errors, ["/name required"]);
    assert_eq!(
        served.fixture.reached.load(Ordering::SeqCst),
        0,
        "no refused request reached the handler"
    );
}

#[tokio::test]
async fn a_body_that_breaks_three_rules_names_all_three() {
    let served = serve().await;
    let mut body = valid_rules();
    body["count"] = json!(0);
    body["name"] = json!("a");
    body["tags"] = json!(["a", "a"]);
    let refusal = send(&served, GOOD_QUERY, None, Request::Json(body)).await;
    assert_eq!(refusal.status, 400);
    let mut errors = refusal.errors.clone();
    errors.sort();
    assert_eq!(
        errors,
        ["/count minimum 1", "/name minLength 2", "/tags uniqueItems"]
    );
    for part in ["/count (minimum 1)", "/name (minLength 2)", "/tags (uniqueItems)"] {
        assert!(refusal.details.contains(part), "{}", refusal.details);
    }
}

#[tokio::test]
async fn a_discriminated_union_names_the_rule_of_the_branch_its_value_picks() {
    let served = serve().await;
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            json!([{ "kind": "disc", "radius": -1 }]),
            vec!["/0/radius minimum 0"],
        ),
        (
            json!([{ "kind": "bar", "length": 51 }]),
            vec!["/0/length maximum 50"],
        ),
        (json!([{ "kind": "cube" }]), vec!["/0/kind enum"]),
        (json!([]), vec![" minItems 1"]),
        (
            json!([{ "kind": "disc", "radius": 1 }, { "kind": "bar", "length": 0 }, { "kind": "disc", "radius": -2 }]),
            vec!["/1/length minimum 1", "/2/radius minimum 0"],
        ),
    ];
    for (body, expected) in cases {
        let refusal = send(&served, "/pieces", None, Request::Json(body.clone())).await;
        assert_eq!(refusal.status, 400, "{body}");
        assert_eq!(refusal.errors, expected, "{body}");
    }
    let accepted = send(
        &served,
        "/pieces",
        None,
        Request::Json(json!([{ "kind": "disc", "radius": 0 }, { "kind": "bar", "length": 50 }])),
    )
    .await;
    assert_eq!(accepted.status, 200);
    assert_eq!(served.fixture.reached.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_form_body_obeys_its_rules() {
    let served = serve().await;
    let accepted = send(
        &served,
        "/signups",
        None,
        Request::Form("name=ada&seats=2&email=a%40b.org".into()),
    )
    .await;
    assert_eq!(accepted.status, 204);
    for (form, expected) in [
        ("name=ada&seats=10", "/seats maximum 9"),
        ("name=a&seats=2", "/name minLength 2"),
        ("name=ada&seats=2&email=nobody", "/email format \"email\""),
    ] {
        let refusal = send(&served, "/signups", None, Request::Form(form.into())).await;
        assert_eq!(refusal.status, 400, "{form}");
        assert_eq!(refusal.errors, [expected], "{form}");
    }
    assert_eq!(served.fixture.reached.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn every_rule_of_a_parameter_is_enforced_and_named() {
    let served = serve().await;
    let good = valid_rules();
    // (the query string, the header, the error it must name)
    type Header = Option<(&'static str, &'static str)>;
    let cases: Vec<(&str, Header, &str)> = vec![
        ("/rules/abc", None, "code pattern"),
        ("/rules/ABC?step=7", None, "step multipleOf 5.0"),
        ("/rules/ABC?ratio=0", None, "ratio exclusiveMinimum 0"),
        ("/rules/ABC?ratio=1", None, "ratio exclusiveMaximum 1"),
        ("/rules/ABC?contact=nobody", None, "contact format"),
        ("/rules/ABC?tags=a&tags=a", None, "tags uniqueItems"),
        (
            "/rules/ABC?tags=a&tags=b&tags=c&tags=d&tags=e",
            None,
            "tags maxItems",
        ),
        ("/rules/ABC?tags=abcdefghi", None, "tags maxLength"),
        ("/rules/ABC?level=4", None, "level schema"),
        ("/rules/ABC?size=0", None, "size minimum 1"),
        ("/rules/ABC?size=11", None, "size maximum 10"),
        ("/rules/ABC", Some(("x-site", "not a uri")), "X-Site format"),
    ];
    for (path, header, expected) in cases {
        let refusal = send(&served, path, header, Request::Json(good.clone())).await;
        assert_eq!(refusal.status, 400, "{path} {header:?}");
        assert_eq!(refusal.errors.len(), 1, "{path} {header:?}: {:?}", refusal.errors);
        assert!(
            refusal.errors[0].starts_with(expected.split(' ').next().unwrap()),
            "{path}: {:?}",
            refusal.errors
        );
        let rule = expected.split(' ').nth(1).unwrap();
        assert!(
            refusal.errors[0].contains(rule),
            "{path}: {:?} names {rule}",
            refusal.errors
        );
    }
    assert_eq!(served.fixture.reached.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn mistakes_in_several_parameters_and_locations_are_named_together() {
    let served = serve().await;
    let refusal = send(
        &served,
        "/rules/abc?step=7&size=11&contact=nobody",
        Some(("x-site", "not a uri")),
        Request::Json(valid_rules()),
    )
    .await;
    assert_eq!(refusal.status, 400);
    let pointers: Vec<&str> = refusal
        .errors
        .iter()
        .map(|error| error.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        pointers,
        ["code", "step", "contact", "size", "X-Site"],
        "{:?}",
        refusal.errors
    );
    assert_eq!(refusal.details, "code, step, contact, size, X-Site");
}
