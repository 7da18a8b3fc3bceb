//! The generated router, called without a socket: every malformed request
//! gets the documented envelope with a trace id, and the trait only sees
//! validated input.

use std::sync::Arc;

use audiences_server::runtime::{ApiError, Credentials, RateLimitStatus, RequestContext, Security, TraceId};
use audiences_server::{
    AudiencesApi, ListAudienceProspectsPath, ListAudienceProspectsQuery, ListAudienceProspectsResponse,
};
use audiences_types::{AudienceProspect, AudienceProspectPage, ErrorDetail};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

const GROUP: &str = "6650a1b2c3d4e5f601234567";
const READY: &str = "6650a1b2c3d4e5f60123abcd";
const POPULATING: &str = "6650a1b2c3d4e5f60123abce";
const PANICS: &str = "6650a1b2c3d4e5f60123dead";
const UPSTREAM_DOWN: &str = "6650a1b2c3d4e5f60123beef";
const SLOW: &str = "6650a1b2c3d4e5f60123510e";

/// A fake implementation: keys `all`, `no-prospects`, `throttled`; a ready
/// audience whose page echoes the validated query.
struct Fake;

impl Security for Fake {
    type Principal = &'static [&'static str];

    async fn authenticate(
        &self,
        credentials: Credentials<'_>,
        _: &TraceId,
    ) -> Result<Self::Principal, ApiError> {
        match credentials.secret {
            "all" | "throttled" => Ok(&["prospects:read", "audiences:read"]),
            "no-prospects" => Ok(&["audiences:read"]),
            _ => Err(ApiError::unauthorized("unknown API key")),
        }
    }

    fn has_permission(&self, principal: &Self::Principal, permission: &str) -> bool {
        principal.contains(&permission)
    }

    async fn admit(
        &self,
        principal: &Self::Principal,
        _: &'static str,
    ) -> Result<Option<RateLimitStatus>, ApiError> {
        let status = RateLimitStatus {
            limit: 10,
            remaining: 9,
            reset_seconds: 60,
        };
        if principal.len() == 2 && THROTTLED.with(|flag| flag.get()) {
            return Err(ApiError::rate_limited(7).with_rate_limit(RateLimitStatus {
                remaining: 0,
                ..status
            }));
        }
        Ok(Some(status))
    }
}

thread_local! {
    static THROTTLED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn prospect(index: u8) -> AudienceProspect {
    AudienceProspect {
        id: format!("{index:024x}"),
        first_name: Some("Avery".into()),
        last_name: None,
        name: format!("Prospect {index}"),
        headline: None,
        about: None,
        photo_url: None,
        linkedin_url: None,
        public_identifier: None,
        company: None,
        title: None,
        location: None,
        emails: Vec::new(),
        premium: false,
        is_open_profile: true,
        connection_status: None,
        chat_status: None,
    }
}

impl AudiencesApi for Fake {
    async fn list_audience_prospects(
        &self,
        _cx: RequestContext<Self::Principal>,
        path: ListAudienceProspectsPath,
        query: ListAudienceProspectsQuery,
    ) -> ListAudienceProspectsResponse {
        match path.audience_id.as_str() {
            READY if path.account_group_id == GROUP => ListAudienceProspectsResponse::Ok {
                data: AudienceProspectPage {
                    items: (0..query.limit).map(prospect).collect(),
                    next_cursor: query.cursor.map(|cursor| format!("after-{cursor}")),
                    has_more: false,
                }
                .into(),
                x_next_cursor: None,
            },
            POPULATING => ListAudienceProspectsResponse::Conflict {
                error: ErrorDetail::new("AUDIENCE_NOT_READY", "the audience is being populated"),
                retry_after: 30,
            },
            UPSTREAM_DOWN => ListAudienceProspectsResponse::BadGateway(ErrorDetail::new(
                "UPSTREAM_ERROR",
                "the database did not answer",
            )),
            PANICS => panic!("a bug in the implementation"),
            SLOW => {
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                ListAudienceProspectsResponse::NotFound(ErrorDetail::new("NOT_FOUND", "too late"))
            }
            _ => ListAudienceProspectsResponse::NotFound(ErrorDetail::new("NOT_FOUND", "no such audience")),
        }
    }
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

async fn call(method: Method, uri: &str, key: Option<&str>) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(key) = key {
        request = request.header("authorization", key);
    }
    let response = audiences_server::router(Arc::new(Fake))
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|error| {
        panic!(
            "{uri}: body is not JSON ({error}): {:?}",
            String::from_utf8_lossy(&bytes)
        )
    });
    Answer {
        status,
        headers,
        body,
    }
}

fn prospects(query: &str) -> String {
    format!("/v1/accounts/{GROUP}/audiences/{READY}/prospects{query}")
}

/// Checks the envelope every answer shares and returns it.
fn assert_envelope(uri: &str, answer: &Answer) {
    let document = audiences_tests::document();
    assert_eq!(answer.headers["content-type"], "application/json", "{uri}");
    let trace_id = answer.headers["x-trace-id"].to_str().unwrap();
    assert_eq!(trace_id.len(), 24, "{uri}: trace id {trace_id}");
    assert!(
        trace_id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{uri}: trace id {trace_id}"
    );
    assert_eq!(
        answer.body["traceId"], trace_id,
        "{uri}: body and header trace ids"
    );
    let schema = match answer.status.as_u16() {
        200 => "AudienceProspectListSuccessResponse",
        400 => "ValidationErrorResponse",
        _ => "ErrorResponse",
    };
    let errors = audiences_tests::schema_errors(&document, schema, &answer.body);
    assert!(
        errors.is_empty(),
        "{uri}: not a {schema}: {errors:#?}\n{:#}",
        answer.body
    );
}

/// (method, uri, authorization, status, code, the details (parameter) of a 400).
type Row<'a> = (Method, String, Option<&'a str>, u16, &'a str, Option<&'a str>);

#[tokio::test]
async fn malformed_requests_get_the_envelope_naming_the_problem() {
    let long = "a".repeat(600);
    let bad_group = format!("/v1/accounts/not-hex-but-24-chars-long/audiences/{READY}/prospects");
    let short_audience = format!("/v1/accounts/{GROUP}/audiences/abc/prospects");
    let unicode = format!("/v1/accounts/{GROUP}/audiences/%C3%A9%C3%A9%C3%A9/prospects");
    let cursor_too_long = prospects(&format!("?cursor={long}"));
    // (method, uri, authorization, status, code, the details (parameter) when a 400)
    let rows: Vec<Row<'_>> = vec![
        (
            Method::GET,
            prospects("?limit=abc"),
            Some("Bearer all"),
            400,
            "VALIDATION_ERROR",
            Some("limit"),
        ),
        (
            Method::GET,
            prospects("?limit=0"),
            Some("Bearer all"),
            400,
            "VALIDATION_ERROR",
            Some("limit"),
        ),
        (
            Method::GET,
            prospects("?limit=101"),
            Some("Bearer all"),
            400,
            "VALIDATION_ERROR",
            Some("limit"),
        ),
        (
            Method::GET,
            prospects("?limit="),
            Some("Bearer all"),
            400,
            "VALIDATION_ERROR",
            Some("limit"),
        ),
        (
            Method::GET,
            prospects("?limit[]=1"),
            Some("Bearer all"),
            400,
            "VALIDATION_ERROR",
            Some("limit"),
        ),
        (
            Method::GET,
            prospects("?limit%5B0%5D=1&cursor[x]=y"),
            Some("Bearer all"),
            400,
            "VALIDATION_ERROR",
            Some("cursor, limit"),
        ),
        (
            Method::GET,
            prospects("?limit=1.5"),
            Some("Bearer all"),
            400,
            "VALIDATION_ERROR",
            Some("limit"),
        ),
        (
            Method::GET,
            prospects("?limit=-1"),
            Some("Bearer all"),
            400,
            "VALIDATION_ERROR",
            Some("limit"),
        ),
        (
            Method::GET,
            prospects("?limit=99999999999999999999"),
            Some("Bearer all"),
            400,
            "VALIDATION_ERROR",
            Some("limit"),
        ),
        (
            Method::GET,
            prospects("?limit=5&limit=6"),
            Some("Bearer all"),
            400,
            "VALIDATION_ERROR",
            Some("limit"),
        ),
        (
            Method::GET,
            prospects("?cursor="),
            Some("Bearer all"),
            400,
            "VALIDATION_ERROR",
            Some("cursor"),
        ),
        (
            Method::GET,
            cursor_too_long,
            Some("Bearer all"),
            400,
            "VALIDATION_ERROR",
            Some("cursor"),
        ),
        (
            Method::GET,
            bad_group,
            Some("Bearer all"),
            400,
            "VALIDATION_ERROR",
            Some("accountGroupId"),
        ),
        (
            Method::GET,
            short_audience,
            Some("Bearer all"),
            400,
            "VALIDATION_ERROR",
            Some("audienceId"),
        ),
        (
            Method::GET,
            unicode,
            Some("Bearer all"),
            400,
            "VALIDATION_ERROR",
            Some("audienceId"),
        ),
        (Method::GET, prospects(""), None, 401, "UNAUTHORIZED", None),
        (
            Method::GET,
            prospects(""),
            Some("Basic all"),
            401,
            "UNAUTHORIZED",
            None,
        ),
        (
            Method::GET,
            prospects(""),
            Some("Bearer"),
            401,
            "UNAUTHORIZED",
            None,
        ),
        (
            Method::GET,
            prospects(""),
            Some("Bearer unknown"),
            401,
            "UNAUTHORIZED",
            None,
        ),
        (
            Method::GET,
            prospects(""),
            Some("Bearer no-prospects"),
            403,
            "FORBIDDEN",
            None,
        ),
        (
            Method::GET,
            "/v1/unknown".into(),
            Some("Bearer all"),
            404,
            "NOT_FOUND",
            None,
        ),
        (Method::GET, "/".into(), None, 404, "NOT_FOUND", None),
        (
            Method::POST,
            prospects(""),
            Some("Bearer all"),
            405,
            "METHOD_NOT_ALLOWED",
            None,
        ),
        (
            Method::DELETE,
            prospects(""),
            None,
            405,
            "METHOD_NOT_ALLOWED",
            None,
        ),
    ];
    for (method, uri, key, status, code, details) in rows {
        let answer = call(method.clone(), &uri, key).await;
        let row = format!("{method} {uri} ({key:?})");
        assert_eq!(answer.status.as_u16(), status, "{row}: {:#}", answer.body);
        assert_eq!(answer.body["success"], false, "{row}");
        assert_eq!(answer.body["data"], Value::Null, "{row}");
        assert_eq!(answer.body["error"]["code"], code, "{row}");
        assert!(
            !answer.body["error"]["message"].as_str().unwrap().is_empty(),
            "{row}"
        );
        if let Some(details) = details {
            assert_eq!(answer.body["error"]["details"], details, "{row}");
            let message = answer.body["error"]["message"].as_str().unwrap();
            for name in details.split(", ") {
                assert!(
                    message.contains(&format!("`{name}`")),
                    "{row}: the message names the parameter `{name}`: {message}"
                );
            }
        }
        assert_envelope(&row, &answer);
    }
}

#[tokio::test]
async fn a_valid_request_reaches_the_trait_with_validated_input() {
    let answer = call(Method::GET, &prospects("?limit=3&cursor=abc"), Some("Bearer all")).await;
    assert_eq!(answer.status, StatusCode::OK, "{:#}", answer.body);
    assert_envelope("ok", &answer);
    assert_eq!(answer.body["success"], true);
    assert_eq!(answer.body["error"], Value::Null);
    assert_eq!(answer.body["data"]["items"].as_array().unwrap().len(), 3);
    assert_eq!(answer.body["data"]["nextCursor"], "after-abc");
    assert_eq!(answer.headers["x-ratelimit-limit"], "10");
    assert_eq!(answer.headers["x-ratelimit-remaining"], "9");

    let default_limit = call(Method::GET, &prospects(""), Some("Bearer all")).await;
    assert_eq!(default_limit.body["data"]["items"].as_array().unwrap().len(), 25);
    let lowercase_scheme = call(Method::GET, &prospects("?limit=100"), Some("bearer all")).await;
    assert_eq!(
        lowercase_scheme.body["data"]["items"].as_array().unwrap().len(),
        100
    );
}

#[tokio::test]
async fn documented_failures_of_the_trait_carry_their_headers() {
    let uri = format!("/v1/accounts/{GROUP}/audiences/{POPULATING}/prospects");
    let answer = call(Method::GET, &uri, Some("Bearer all")).await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert_eq!(answer.headers["retry-after"], "30");
    assert_eq!(answer.body["error"]["code"], "AUDIENCE_NOT_READY");
    assert_envelope(&uri, &answer);

    let uri = format!("/v1/accounts/{GROUP}/audiences/{UPSTREAM_DOWN}/prospects");
    let answer = call(Method::GET, &uri, Some("Bearer all")).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    assert_envelope(&uri, &answer);
}

#[tokio::test]
async fn a_refused_admission_is_a_429_with_retry_after() {
    THROTTLED.with(|flag| flag.set(true));
    let answer = call(Method::GET, &prospects(""), Some("Bearer throttled")).await;
    THROTTLED.with(|flag| flag.set(false));
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS, "{:#}", answer.body);
    assert_eq!(answer.headers["retry-after"], "7");
    assert_eq!(answer.headers["x-ratelimit-remaining"], "0");
    assert_eq!(answer.body["error"]["code"], "RATE_LIMITED");
    assert_envelope("429", &answer);
}

#[tokio::test]
async fn a_panic_in_the_implementation_is_a_500_envelope_and_the_router_keeps_serving() {
    let router = audiences_server::router(Arc::new(Fake));
    let uri = format!("/v1/accounts/{GROUP}/audiences/{PANICS}/prospects");
    let request = Request::get(&uri)
        .header("authorization", "Bearer all")
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let trace_id = response.headers()["x-trace-id"].to_str().unwrap().to_owned();
    let body: Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["error"]["code"], "INTERNAL_ERROR");
    assert_eq!(body["traceId"], trace_id);
    assert!(
        !body.to_string().contains("a bug in the implementation"),
        "panic text stays in the logs"
    );

    let request = Request::get(prospects(""))
        .header("authorization", "Bearer all")
        .body(Body::empty())
        .unwrap();
    assert_eq!(router.oneshot(request).await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn every_request_gets_its_own_trace_id() {
    let mut seen = std::collections::HashSet::new();
    for _ in 0..50 {
        let answer = call(Method::GET, &prospects("?limit=1"), Some("Bearer all")).await;
        assert!(seen.insert(answer.body["traceId"].as_str().unwrap().to_owned()));
    }
}

async fn limited(uri: &str, extra_header: Option<(&str, String)>) -> (Answer, std::time::Duration) {
    let router = audiences_server::runtime::finish_router_with(
        audiences_server::routes(Arc::new(Fake)),
        &audiences_server::CONVENTIONS,
        audiences_server::runtime::RouterLimits {
            request_timeout: std::time::Duration::from_millis(200),
            max_header_bytes: 1024,
            ..Default::default()
        },
    );
    let mut request = Request::get(uri).header("authorization", "Bearer all");
    if let Some((name, value)) = extra_header {
        request = request.header(name, value);
    }
    let started = std::time::Instant::now();
    let response = router
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let elapsed = started.elapsed();
    let status = response.status();
    let headers = response.headers().clone();
    let body = serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    (
        Answer {
            status,
            headers,
            body,
        },
        elapsed,
    )
}

#[tokio::test]
async fn a_request_past_the_timeout_is_a_500_envelope_at_the_timeout() {
    let (answer, elapsed) = limited(&format!("/v1/accounts/{GROUP}/audiences/{SLOW}/prospects"), None).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.body["error"]["code"], "INTERNAL_ERROR");
    assert_envelope("500", &answer);
    assert!(
        elapsed < std::time::Duration::from_secs(5),
        "answered after {elapsed:?}"
    );
    // A fast request under the same limits is served.
    let (answer, _) = limited(&prospects(""), None).await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn oversized_headers_are_a_431_envelope() {
    let (answer, _) = limited(&prospects(""), Some(("x-padding", "a".repeat(2_000)))).await;
    assert_eq!(answer.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(answer.body["error"]["code"], "REQUEST_HEADERS_TOO_LARGE");
    assert_eq!(answer.body["success"], false);
    assert_eq!(
        answer.body["traceId"],
        answer.headers["x-trace-id"].to_str().unwrap()
    );
    let (answer, _) = limited(&prospects(""), Some(("x-padding", "a".repeat(500)))).await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn two_authorization_headers_are_one_credential_too_many_in_either_order() {
    for pair in [["Bearer all", "Bearer wrong"], ["Bearer wrong", "Bearer all"]] {
        let mut request = Request::get(prospects("?limit=1"));
        for value in pair {
            request = request.header("authorization", value);
        }
        let response = audiences_server::router(Arc::new(Fake))
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body: Value =
            serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
        let answer = Answer {
            status,
            headers,
            body,
        };
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{pair:?}: {:#}",
            answer.body
        );
        assert_eq!(answer.body["error"]["code"], "UNAUTHORIZED");
        assert!(
            answer.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("several `Authorization` headers"),
            "{:#}",
            answer.body
        );
        assert_envelope("two authorization headers", &answer);
    }
}
