//! The `constructs` fixture, served: requests through the generated
//! progenitor client (or, for what progenitor cannot send, raw HTTP) into
//! the generated router, an implementation, and back. Every format as a
//! parameter and as a property, every body and response kind, status
//! ranges and `default`, cookies and security alternatives, and the 400s
//! of malformed input, answered as RFC 9457 problem details because the
//! document declares no envelope.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use audiences_server::runtime::{
    AnyStatus, ApiError, Blob, Credentials, LoopbackServer, RequestContext, Security, StatusInClass, TraceId,
    serve_loopback,
};
use audiences_server_fixtures::generated_constructs::client::Client;
use audiences_server_fixtures::generated_constructs::types::{
    Caller, Circle, CircleKind, Contact, Filter, Formats, LabelSet, Problem, Received, SearchEcho,
    SearchLabel, Shape, ShapeWithArea, Signup, Square, SquareKind,
};
use audiences_server_fixtures::generated_constructs::*;
use axum::body::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::TryStreamExt;
use serde_json::{Value, json};
use uuid::Uuid;

#[derive(Default)]
struct Fixture {
    blobs: Mutex<HashMap<String, Bytes>>,
}

impl Security for Fixture {
    type Principal = (String, String);

    async fn authenticate(
        &self,
        credentials: Credentials<'_>,
        _: &TraceId,
    ) -> Result<Self::Principal, ApiError> {
        let subject = match (credentials.scheme, credentials.secret) {
            ("bearer", "token-1") => "token holder".to_owned(),
            ("queryKey", "key-1") => "key holder".to_owned(),
            ("basic", _) => match credentials.basic() {
                Some((user, password)) if password == "lovelace" => user,
                _ => return Err(ApiError::unauthorized("wrong user or password")),
            },
            _ => return Err(ApiError::unauthorized("unknown credentials")),
        };
        Ok((credentials.scheme.to_owned(), subject))
    }

    fn has_permission(&self, _: &Self::Principal, _: &str) -> bool {
        true
    }
}

fn problem(status: u16, detail: &str) -> Problem {
    Problem {
        type_: "about:blank".into(),
        title: "refused".into(),
        status: i32::from(status),
        detail: detail.into(),
        code: None,
        trace_id: None,
    }
}

fn area(shape: &Shape) -> f64 {
    match shape {
        Shape::Circle(circle) => std::f64::consts::PI * circle.radius * circle.radius,
        Shape::Square(square) => square.side * square.side,
    }
}

impl ConstructsApi for Fixture {
    async fn echo_formats(
        &self,
        _: RequestContext<()>,
        path: EchoFormatsPath,
        query: EchoFormatsQuery,
        headers: EchoFormatsHeaders,
    ) -> EchoFormatsResponse {
        if query.small == 0 {
            return EchoFormatsResponse::ClientError {
                status: StatusInClass::new(422).unwrap(),
                body: problem(422, "small must not be zero here"),
            };
        }
        EchoFormatsResponse::Ok(
            Formats {
                id: path.id,
                day: path.day,
                at: query.at,
                small: query.small,
                medium: query.medium,
                large: query.large,
                byte: query.byte,
                port: query.port,
                count: query.count,
                total: query.total,
                ratio: query.ratio,
                score: query.score,
                address: query.address,
                v4: query.v4,
                v6: query.v6,
                site: query.site,
                mail: query.mail,
                encoded: String::new(),
                raw: String::new(),
                secret: headers.x_correlation_id.to_string(),
                flexible: 0,
                attempt: headers.x_attempt,
                note: None,
            }
            .into(),
        )
    }

    async fn round_trip_formats(&self, _: RequestContext<()>, body: Formats) -> RoundTripFormatsResponse {
        if body.note.as_deref() == Some("teapot") {
            return RoundTripFormatsResponse::Default {
                status: AnyStatus::new(418).unwrap(),
                body: problem(418, "I'm a teapot"),
            };
        }
        RoundTripFormatsResponse::Ok(body.into())
    }

    async fn create_shape(&self, _: RequestContext<()>, body: Shape) -> CreateShapeResponse {
        let size = match &body {
            Shape::Circle(circle) => circle.radius,
            Shape::Square(square) => square.side,
        };
        if size > 1000.0 {
            return CreateShapeResponse::ServerError {
                status: StatusInClass::new(507).unwrap(),
                body: problem(507, "too large to store"),
            };
        }
        CreateShapeResponse::Created {
            location: format!("/shapes/{}", size),
            body: ShapeWithArea {
                area: area(&body),
                shape: body,
            }
            .into(),
        }
    }

    async fn measure_shapes(&self, _: RequestContext<()>, body: Vec<Shape>) -> MeasureShapesResponse {
        MeasureShapesResponse::Success {
            status: StatusInClass::new(if body.is_empty() { 203 } else { 200 }).unwrap(),
            body: body.iter().map(area).collect::<Vec<f64>>().into(),
        }
    }

    async fn check_measured(
        &self,
        _: RequestContext<()>,
        body: Option<ShapeWithArea>,
    ) -> CheckMeasuredResponse {
        CheckMeasuredResponse::Ok(
            body.map(|measured| (area(&measured.shape) - measured.area).abs() < 1e-9)
                .into(),
        )
    }

    async fn add_contact(&self, _: RequestContext<()>, body: Contact) -> AddContactResponse {
        AddContactResponse::Ok(body.into())
    }

    async fn put_labels(
        &self,
        _: RequestContext<()>,
        path: PutLabelsPath,
        body: Option<HashMap<String, Option<String>>>,
    ) -> PutLabelsResponse {
        PutLabelsResponse::Ok(
            LabelSet {
                name: path.name,
                labels: body.unwrap_or_default(),
            }
            .into(),
        )
    }

    async fn search(
        &self,
        _: RequestContext<()>,
        query: SearchQuery,
        body: Option<Filter>,
    ) -> SearchResponse {
        SearchResponse::Ok(
            SearchEcho {
                tag: query.tag,
                ids: query.ids,
                words: query.words,
                labels: match query.label {
                    None => Vec::new(),
                    Some(SearchLabel::String(one)) => vec![one],
                    Some(SearchLabel::Array(many)) => many,
                },
                order: query.order,
                target: query.target.map(|target| target.to_string()),
                page: query.page.map(|page| page.get()),
                filter: query.filter,
                body,
            }
            .into(),
        )
    }

    async fn append_note(&self, _: RequestContext<()>, body: String) -> AppendNoteResponse {
        AppendNoteResponse::Ok(body.to_uppercase())
    }

    async fn get_blob(&self, _: RequestContext<()>, path: GetBlobPath) -> GetBlobResponse {
        match self.blobs.lock().unwrap().get(&path.name) {
            Some(bytes) => GetBlobResponse::Ok(bytes.clone()),
            None => GetBlobResponse::NotFound,
        }
    }

    async fn put_blob(&self, _: RequestContext<()>, path: PutBlobPath, body: Bytes) -> PutBlobResponse {
        if body.len() > 64 * 1024 {
            return PutBlobResponse::PayloadTooLarge(problem(413, "at most 64 KiB here"));
        }
        self.blobs.lock().unwrap().insert(path.name, body);
        PutBlobResponse::NoContent
    }

    async fn download(&self, _: RequestContext<()>, path: DownloadPath) -> DownloadResponse {
        DownloadResponse::Ok(Blob::new("text/csv", format!("name\n{}\n", path.name)))
    }

    async fn submit_form(&self, _: RequestContext<()>, body: Signup) -> SubmitFormResponse {
        SubmitFormResponse::SeeOther {
            location: format!(
                "/accounts/{}?seats={}&newsletter={}",
                body.name.as_str(),
                body.seats,
                body.newsletter.unwrap_or(false)
            ),
        }
    }

    async fn upload(&self, _: RequestContext<()>, body: Blob) -> UploadResponse {
        UploadResponse::Accepted(
            Received {
                media_type: body.content_type,
                bytes: body.bytes.len() as u64,
            }
            .into(),
        )
    }

    async fn forget_everything(&self, _: RequestContext<()>) -> ForgetEverythingResponse {
        ForgetEverythingResponse::Default {
            status: AnyStatus::new(204).unwrap(),
        }
    }

    async fn who_am_i(
        &self,
        cx: RequestContext<Option<Self::Principal>>,
        cookies: WhoAmICookies,
    ) -> WhoAmIResponse {
        WhoAmIResponse::Ok(
            Caller {
                scheme: cx.principal.as_ref().map(|(scheme, _)| scheme.clone()),
                subject: Some(cx.principal.map_or_else(
                    || format!("anonymous with session {}", cookies.session),
                    |(_, subject)| subject,
                )),
            }
            .into(),
        )
    }

    async fn secure(&self, cx: RequestContext<Self::Principal>) -> SecureResponse {
        SecureResponse::Ok(
            Caller {
                scheme: Some(cx.principal.0),
                subject: Some(cx.principal.1),
            }
            .into(),
        )
    }
}

async fn serve() -> LoopbackServer {
    serve_loopback(router(Arc::new(Fixture::default())))
        .await
        .unwrap()
}

fn formats() -> Formats {
    Formats {
        id: Uuid::parse_str("67e55044-10b1-426f-9247-bb680e5fe0c8").unwrap(),
        day: NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
        at: DateTime::parse_from_rfc3339("2026-01-31T09:30:00.250Z")
            .unwrap()
            .with_timezone(&Utc),
        small: -128,
        medium: -32768,
        large: i64::MIN,
        byte: 255,
        port: 65535,
        count: u32::MAX,
        total: u64::MAX,
        ratio: 0.5,
        score: -1.25e300,
        address: IpAddr::V6(Ipv6Addr::LOCALHOST),
        v4: Ipv4Addr::new(192, 0, 2, 1),
        v6: "2001:db8::1".parse().unwrap(),
        site: "https://example.com/a?b=c".into(),
        mail: "ada@example.com".into(),
        encoded: "aGVsbG8=".into(),
        raw: "\u{1}binary".into(),
        secret: "hunter2".into(),
        flexible: 7,
        attempt: 3,
        note: Some("a note".into()),
    }
}

#[tokio::test]
async fn every_format_travels_as_parameters_through_the_progenitor_client() {
    let server = serve().await;
    let client = Client::new(&server.base_url);
    let expected = formats();
    let correlation = Uuid::parse_str("9b2f5a4e-1c3d-4e5f-8a9b-0c1d2e3f4a5b").unwrap();
    let echoed = client
        .echo_formats()
        .id(expected.id)
        .day(expected.day)
        .at(expected.at)
        .small(expected.small)
        .medium(expected.medium)
        .large(expected.large)
        .byte(expected.byte)
        .port(expected.port)
        .count(expected.count)
        .total(expected.total)
        .ratio(expected.ratio)
        .score(expected.score)
        .address(expected.address)
        .v4(expected.v4)
        .v6(expected.v6)
        .site(expected.site.clone())
        .mail(expected.mail.clone())
        .x_correlation_id(correlation)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        echoed,
        Formats {
            encoded: String::new(),
            raw: String::new(),
            secret: correlation.to_string(),
            flexible: 0,
            attempt: 1,
            note: None,
            ..expected
        },
        "every value arrives as sent; the header's default (1) applies"
    );
}

#[tokio::test]
async fn every_format_round_trips_as_a_body_property() {
    let server = serve().await;
    let client = Client::new(&server.base_url);
    let sent = formats();
    let received = client
        .round_trip_formats()
        .body(sent.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        received.headers()["content-type"],
        "application/json; charset=utf-8",
        "served in the documented media type"
    );
    assert_eq!(received.into_inner(), sent);
    // On the wire, each format is its standard text form.
    let wire = serde_json::to_value(&sent).unwrap();
    assert_eq!(wire["at"], "2026-01-31T09:30:00.250Z");
    assert_eq!(wire["day"], "2026-01-31");
    assert_eq!(wire["id"], "67e55044-10b1-426f-9247-bb680e5fe0c8");
    assert_eq!(wire["address"], "::1");
    assert_eq!(wire["total"], json!(u64::MAX));
    // `default` carries its status.
    let teapot = client
        .round_trip_formats()
        .body(Formats {
            note: Some("teapot".into()),
            ..sent
        })
        .send()
        .await
        .unwrap_err();
    assert_eq!(teapot.status().map(|status| status.as_u16()), Some(418));
}

/// A request the fixture answers 400 to, what it names and which rule.
struct Refusal {
    path: &'static str,
    query: &'static str,
    header: Option<(&'static str, &'static str)>,
    names: &'static str,
    rule: &'static str,
}

const VALID_QUERY: &[(&str, &str)] = &[
    ("at", "2026-01-31T09:30:00Z"),
    ("small", "1"),
    ("medium", "1"),
    ("large", "1"),
    ("byte", "1"),
    ("port", "1"),
    ("count", "1"),
    ("total", "1"),
    ("ratio", "1"),
    ("score", "1"),
    ("address", "10.0.0.1"),
    ("v4", "10.0.0.1"),
    ("v6", "::1"),
    ("site", "https://example.com"),
    ("mail", "a@example.com"),
];

const ID: &str = "67e55044-10b1-426f-9247-bb680e5fe0c8";

const REFUSALS: &[Refusal] = &[
    Refusal {
        path: "not-a-uuid/2026-01-31",
        query: "",
        header: None,
        names: "path parameter `id`",
        rule: "must be a UUID",
    },
    Refusal {
        path: "{ID}/2026-02-30",
        query: "",
        header: None,
        names: "path parameter `day`",
        rule: "must be a date",
    },
    Refusal {
        path: "{ID}/2026-01-31",
        query: "at=yesterday",
        header: None,
        names: "query parameter `at`",
        rule: "RFC 3339 date-time",
    },
    Refusal {
        path: "{ID}/2026-01-31",
        query: "at=2026-01-31",
        header: None,
        names: "query parameter `at`",
        rule: "RFC 3339 date-time",
    },
    Refusal {
        path: "{ID}/2026-01-31",
        query: "small=128",
        header: None,
        names: "query parameter `small`",
        rule: "an integer (int8)",
    },
    Refusal {
        path: "{ID}/2026-01-31",
        query: "medium=40000",
        header: None,
        names: "query parameter `medium`",
        rule: "(int16)",
    },
    Refusal {
        path: "{ID}/2026-01-31",
        query: "byte=-1",
        header: None,
        names: "query parameter `byte`",
        rule: "(uint8)",
    },
    Refusal {
        path: "{ID}/2026-01-31",
        query: "port=65536",
        header: None,
        names: "query parameter `port`",
        rule: "(uint16)",
    },
    Refusal {
        path: "{ID}/2026-01-31",
        query: "count=4294967296",
        header: None,
        names: "query parameter `count`",
        rule: "(uint32)",
    },
    Refusal {
        path: "{ID}/2026-01-31",
        query: "total=18446744073709551616",
        header: None,
        names: "query parameter `total`",
        rule: "(uint64)",
    },
    Refusal {
        path: "{ID}/2026-01-31",
        query: "large=9223372036854775808",
        header: None,
        names: "query parameter `large`",
        rule: "(int64)",
    },
    Refusal {
        path: "{ID}/2026-01-31",
        query: "ratio=NaN",
        header: None,
        names: "query parameter `ratio`",
        rule: "must be a number",
    },
    Refusal {
        path: "{ID}/2026-01-31",
        query: "score=1e999",
        header: None,
        names: "query parameter `score`",
        rule: "must be a number",
    },
    Refusal {
        path: "{ID}/2026-01-31",
        query: "address=300.1.1.1",
        header: None,
        names: "query parameter `address`",
        rule: "IPv4 or IPv6",
    },
    Refusal {
        path: "{ID}/2026-01-31",
        query: "v4=::1",
        header: None,
        names: "query parameter `v4`",
        rule: "an IPv4 address",
    },
    Refusal {
        path: "{ID}/2026-01-31",
        query: "v6=10.0.0.1",
        header: None,
        names: "query parameter `v6`",
        rule: "an IPv6 address",
    },
    Refusal {
        path: "{ID}/2026-01-31",
        query: "",
        header: Some(("x-correlation-id", "12345")),
        names: "header `X-Correlation-Id`",
        rule: "must be a UUID",
    },
    Refusal {
        path: "{ID}/2026-01-31",
        query: "",
        header: Some(("x-attempt", "0")),
        names: "header `X-Attempt`",
        rule: "of at least 1",
    },
];

async fn get_raw(url: &str, header: Option<(&str, &str)>) -> (u16, String, Value, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    answer(response).await
}

async fn answer(response: reqwest::Response) -> (u16, String, Value, String) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let trace = response
        .headers()
        .get("x-trace-id")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, content_type, body, trace)
}

fn assert_problem(
    status: u16,
    content_type: &str,
    body: &Value,
    trace: &str,
    expected_status: u16,
    needle: &str,
) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(content_type, "application/problem+json", "{body}");
    assert_eq!(body["status"], json!(expected_status), "{body}");
    assert_eq!(body["type"], "about:blank");
    assert_eq!(body["traceId"], trace, "trace id in body and header");
    assert_eq!(trace.len(), 24);
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains(needle), "`{detail}` contains `{needle}`");
}

#[tokio::test]
async fn a_malformed_parameter_of_any_format_is_a_400_naming_it_and_its_rule() {
    let server = serve().await;
    for refusal in REFUSALS {
        let mut query: Vec<(String, String)> = VALID_QUERY
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        if let Some((name, value)) = refusal.query.split_once('=') {
            query.retain(|(key, _)| key != name);
            query.push((name.to_owned(), value.to_owned()));
        }
        let query: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", v.replace('+', "%2B")))
            .collect();
        let url = format!(
            "{}/formats/{}?{}",
            server.base_url,
            refusal.path.replace("{ID}", ID),
            query.join("&")
        );
        let mut request = reqwest::Client::new().get(&url);
        if refusal.header.is_none_or(|(name, _)| name != "x-correlation-id") {
            request = request.header("x-correlation-id", ID);
        }
        if let Some((name, value)) = refusal.header {
            request = request.header(name, value);
        }
        let (status, content_type, body, trace) = answer(request.send().await.unwrap()).await;
        assert_problem(status, &content_type, &body, &trace, 400, refusal.names);
        assert!(
            body["detail"].as_str().unwrap().contains(refusal.rule),
            "{}: {body}",
            refusal.names
        );
        assert_eq!(body["code"], "VALIDATION_ERROR");
    }
}

#[tokio::test]
async fn a_malformed_body_is_a_400_naming_the_body_and_what_is_wrong() {
    let server = serve().await;
    let mut wire = serde_json::to_value(formats()).unwrap();
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        ("/formats", "application/json", b"{".to_vec(), "EOF"),
        ("/formats", "text/plain", b"{}".to_vec(), "`application/json`"),
        (
            "/formats",
            "application/json",
            {
                wire["id"] = json!("not-a-uuid");
                wire.to_string().into_bytes()
            },
            "UUID",
        ),
        (
            "/shapes",
            "application/json",
            br#"{"kind":"square","radius":1}"#.to_vec(),
            "does not match its schema",
        ),
        ("/notes", "text/plain", vec![0xff, 0xfe], "not valid UTF-8"),
        (
            "/forms",
            "application/x-www-form-urlencoded",
            b"name=ada&seats=many".to_vec(),
            "invalid digit",
        ),
        (
            "/forms",
            "application/json",
            br#"{"name":"ada"}"#.to_vec(),
            "missing field `seats`",
        ),
        (
            "/uploads",
            "multipart/form-data; boundary=x",
            Vec::new(),
            "a request body is required",
        ),
    ];
    for (path, content_type, body, needle) in cases {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", server.base_url))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, content_type, body, trace) = answer(response).await;
        assert_problem(status, &content_type, &body, &trace, 400, needle);
        assert_eq!(body["details"], "body", "{body}");
    }
}

#[tokio::test]
async fn status_ranges_and_default_carry_their_status_and_refuse_others() {
    assert!(StatusInClass::<4>::new(500).is_err(), "a 4XX variant refuses 500");
    assert!(StatusInClass::<5>::new(404).is_err());
    assert!(StatusInClass::<2>::new(299).is_ok());
    assert!(AnyStatus::new(600).is_err() && AnyStatus::new(99).is_err());
    assert_eq!(
        StatusInClass::<4>::new(500).unwrap_err().to_string(),
        "status 500 is not allowed here: the document allows 4XX"
    );

    let server = serve().await;
    let client = Client::new(&server.base_url);
    let circle = Shape::Circle(Circle {
        kind: CircleKind::Circle,
        radius: 2.0,
    });
    let created = client.create_shape().body(circle.clone()).send().await.unwrap();
    assert_eq!(created.status().as_u16(), 201);
    assert_eq!(created.headers()["location"], "/shapes/2");
    assert!((created.into_inner().area - 4.0 * std::f64::consts::PI).abs() < 1e-9);

    let huge = Shape::Square(Square {
        kind: SquareKind::Square,
        side: 5000.0,
    });
    let error = client.create_shape().body(huge).send().await.unwrap_err();
    assert_eq!(
        error.status().map(|status| status.as_u16()),
        Some(507),
        "5XX carries 507"
    );

    let measured = client
        .measure_shapes()
        .body(vec![
            circle,
            Shape::Square(Square {
                kind: SquareKind::Square,
                side: 3.0,
            }),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(measured.status().as_u16(), 200);
    assert_eq!(measured.into_inner()[1], 9.0);
    let none = client.measure_shapes().body(Vec::new()).send().await.unwrap();
    assert_eq!(none.status().as_u16(), 203, "2XX carries 203");

    let (status, content_type, body, trace) = get_raw(
        &format!(
            "{}/formats/{ID}/2026-01-31?{}",
            server.base_url,
            VALID_QUERY
                .iter()
                .map(|(k, v)| if *k == "small" {
                    "small=0".to_owned()
                } else {
                    format!("{k}={v}")
                })
                .collect::<Vec<_>>()
                .join("&")
        ),
        Some(("x-correlation-id", ID)),
    )
    .await;
    assert_eq!(
        (status, content_type.as_str()),
        (422, "application/problem+json"),
        "{body} {trace}"
    );

    let forgotten = reqwest::Client::new()
        .delete(format!("{}/nothing", server.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        forgotten.status().as_u16(),
        204,
        "an operation without documented responses answers `default`"
    );
}

/// The status of a failed client call.
fn status_of<T, E>(result: Result<T, progenitor_client::Error<E>>) -> Option<u16> {
    match result {
        Ok(_) => panic!("the call succeeded"),
        Err(error) => error.status().map(|status| status.as_u16()),
    }
}

async fn collect(stream: progenitor_client::ByteStream) -> Vec<u8> {
    stream
        .into_inner()
        .try_fold(Vec::new(), |mut all, chunk| async move {
            all.extend_from_slice(&chunk);
            Ok(all)
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn text_bytes_and_any_media_type_travel_as_documented() {
    let server = serve().await;
    let client = Client::new(&server.base_url);

    let note = client.append_note().body("hello, world").send().await.unwrap();
    assert_eq!(note.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(collect(note.into_inner()).await, b"HELLO, WORLD");

    let bytes: Vec<u8> = (0..=255).collect();
    let stored = client
        .put_blob()
        .name("all-bytes")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status().as_u16(), 204);
    let fetched = client.get_blob().name("all-bytes").send().await.unwrap();
    assert_eq!(fetched.headers()["content-type"], "application/octet-stream");
    assert_eq!(collect(fetched.into_inner()).await, bytes);
    assert_eq!(
        status_of(client.get_blob().name("nothing").send().await),
        Some(404)
    );
    let too_big = client
        .put_blob()
        .name("big")
        .body(vec![0_u8; 100_000])
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        too_big.status().map(|status| status.as_u16()),
        Some(413),
        "the implementation's documented 413"
    );
    let over_limit = reqwest::Client::new()
        .put(format!("{}/blobs/huge", server.base_url))
        .header("content-type", "application/octet-stream")
        .body(vec![0_u8; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    let (status, content_type, body, trace) = answer(over_limit).await;
    assert_problem(status, &content_type, &body, &trace, 413, "exceeds");

    let file = client.download().name("report").send().await.unwrap();
    assert_eq!(
        file.headers()["content-type"],
        "text/csv",
        "the implementation chose the media type"
    );
    assert_eq!(collect(file.into_inner()).await, b"name\nreport\n");

    let boundary = "fixture-boundary";
    let multipart = format!(
        "--{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nabc\r\n--{boundary}--\r\n"
    );
    let uploaded = reqwest::Client::new()
        .post(format!("{}/uploads", server.base_url))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(multipart.clone())
        .send()
        .await
        .unwrap();
    let (status, _, body, _) = answer(uploaded).await;
    assert_eq!(status, 202);
    let received: Received = serde_json::from_value(body).unwrap();
    assert_eq!(
        received.media_type,
        format!("multipart/form-data; boundary={boundary}")
    );
    assert_eq!(received.bytes, multipart.len() as u64);
}

#[tokio::test]
async fn all_of_any_of_and_nullable_bodies_arrive_typed() {
    let server = serve().await;
    let client = Client::new(&server.base_url);
    let measured = ShapeWithArea {
        area: 9.0,
        shape: Shape::Square(Square {
            kind: SquareKind::Square,
            side: 3.0,
        }),
    };
    let fits = client
        .check_measured()
        .body(measured.clone())
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fits, Some(true));
    let wrong = ShapeWithArea {
        area: 1.0,
        ..measured
    };
    assert_eq!(
        client
            .check_measured()
            .body(wrong)
            .send()
            .await
            .unwrap()
            .into_inner(),
        Some(false)
    );
    let post = |path: &'static str, body: &'static str| {
        let request = reqwest::Client::new()
            .post(format!("{}{path}", server.base_url))
            .header("content-type", "application/json")
            .body(body);
        async move { answer(request.send().await.unwrap()).await }
    };
    let (status, _, body, _) = post("/shapes/measured", "null").await;
    assert_eq!(
        (status, body),
        (200, Value::Null),
        "a nullable body may be `null`"
    );

    let email = Contact::Email("ada@example.com".into());
    assert_eq!(
        client
            .add_contact()
            .body(email.clone())
            .send()
            .await
            .unwrap()
            .into_inner(),
        email
    );
    let (status, _, body, _) = post("/contacts", r#"{"phone":"+442071234567"}"#).await;
    assert_eq!((status, body), (200, json!({"phone": "+442071234567"})));
    for bad in [r#"{"phone":"0207"}"#, r#"{"fax":"1"}"#, "[]"] {
        let (status, content_type, body, trace) = post("/contacts", bad).await;
        assert_problem(status, &content_type, &body, &trace, 400, "the request body");
    }
}

#[tokio::test]
async fn forms_json_maps_and_nullable_values_arrive_typed() {
    let server = serve().await;
    let client = Client::new(&server.base_url);

    let form = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/forms", server.base_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=ada&seats=3&newsletter=true")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status().as_u16(), 303);
    assert_eq!(
        form.headers()["location"],
        "/accounts/ada?seats=3&newsletter=true"
    );
    // The same schema as JSON, as the progenitor client sends it.
    let json = client
        .submit_form()
        .body(Signup {
            name: "bob".parse().unwrap(),
            seats: std::num::NonZeroU32::new(1).unwrap(),
            newsletter: None,
        })
        .send()
        .await;
    // reqwest follows the 303 to a route the fixture does not have.
    assert_eq!(status_of(json), Some(404));

    let labels = HashMap::from([
        ("team".to_owned(), Some("core".to_owned())),
        ("old".to_owned(), None),
    ]);
    let stored = client
        .put_labels()
        .name("a-set")
        .body(labels.clone())
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        stored,
        LabelSet {
            name: "a-set".into(),
            labels
        }
    );
    let empty = reqwest::Client::new()
        .put(format!("{}/labels/b", server.base_url))
        .send()
        .await
        .unwrap();
    let (status, _, body, _) = answer(empty).await;
    assert_eq!(
        (status, body),
        (200, json!({"name": "b", "labels": {}})),
        "an optional body may be absent"
    );
    let (status, content_type, body, trace) =
        get_raw(&format!("{}/labels/Upper", server.base_url), None).await;
    assert_eq!(status, 405, "PUT only: {body}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["traceId"], trace);
    let bad_name = reqwest::Client::new()
        .put(format!("{}/labels/Upper", server.base_url))
        .send()
        .await
        .unwrap();
    let (status, content_type, body, trace) = answer(bad_name).await;
    assert_problem(
        status,
        &content_type,
        &body,
        &trace,
        400,
        "must match the pattern",
    );
}

#[tokio::test]
async fn array_enum_oneof_and_json_parameters_and_a_get_body_are_parsed() {
    let server = serve().await;
    let search = |query: &str, body: Option<&str>| {
        let mut request = reqwest::Client::new().get(format!("{}/search?{query}", server.base_url));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        async move { answer(request.send().await.unwrap()).await }
    };
    let other = "0e9f3a3c-7c34-4f0e-a1fa-2f3b1c9d8e7f";
    let filter = r#"{"kinds":["circle"],"minArea":1.5}"#;
    let (status, _, body, _) = search(
        &format!(
            "tag=a&tag=b&ids={ID},{other}&words=x|y&order=oldest&target=my-shape&page=2&filter={}",
            filter.replace('{', "%7B").replace('}', "%7D").replace('"', "%22")
        ),
        Some(r#"{"kinds":["square"]}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let echo: SearchEcho = serde_json::from_value(body).unwrap();
    assert_eq!(echo.tag, ["a", "b"]);
    assert_eq!(
        echo.ids,
        [Uuid::parse_str(ID).unwrap(), Uuid::parse_str(other).unwrap()]
    );
    assert_eq!(echo.words, ["x", "y"]);
    assert_eq!(echo.order.unwrap().to_string(), "oldest");
    assert_eq!(echo.target.as_deref(), Some("my-shape"));
    assert_eq!(echo.page, Some(2));
    assert_eq!(echo.filter.unwrap().kinds, ["circle"]);
    assert_eq!(echo.body.unwrap().kinds, ["square"], "a GET with a JSON body");

    let (_, _, body, _) = search(&format!("target={ID}"), None).await;
    assert_eq!(body["target"], ID, "the uuid branch of the oneOf");
    for (query, labels) in [
        ("label=one", json!(["one"])),
        ("label=a&label=b&label=c", json!(["a", "b", "c"])),
        ("", json!([])),
    ] {
        let (status, _, body, _) = search(query, None).await;
        // typify leaves an empty optional array out of the body.
        let got = body.get("labels").cloned().unwrap_or_else(|| json!([]));
        assert_eq!(
            (status, got),
            (200, labels),
            "a oneOf of a string and an array: {query}"
        );
    }

    for (query, needle) in [
        ("order=sideways", "must be one of `newest`, `oldest`"),
        ("target=Not%20A%20Name", "must be a valid NameOrId"),
        ("page=0", "must be a valid PageNumber"),
        ("tag=1&tag=2&tag=3&tag=4&tag=5", "takes at most 4 items"),
        ("ids=67e55044,x", "must be a UUID"),
        ("filter=%7B", "JSON of the documented schema"),
    ] {
        let (status, content_type, body, trace) = search(query, None).await;
        assert_problem(status, &content_type, &body, &trace, 400, needle);
    }
}

#[tokio::test]
async fn cookies_optional_security_and_security_alternatives_are_honoured() {
    let server = serve().await;
    let session = Uuid::parse_str("5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f").unwrap();
    let me = |authorization: Option<&str>, cookie: Option<String>| {
        let mut request = reqwest::Client::new().get(format!("{}/sessions/me", server.base_url));
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization.to_owned());
        }
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        async move { answer(request.send().await.unwrap()).await }
    };
    let (status, _, body, _) = me(None, Some(format!("theme=dark; session={session}"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scheme"], Value::Null, "anonymous");
    assert_eq!(body["subject"], format!("anonymous with session {session}"));
    let (_, _, body, _) = me(Some("Bearer token-1"), Some(format!("session={session}"))).await;
    assert_eq!(body["scheme"], "bearer");
    let (status, content_type, body, trace) =
        me(Some("Bearer wrong"), Some(format!("session={session}"))).await;
    assert_problem(status, &content_type, &body, &trace, 401, "unknown credentials");
    let (status, content_type, body, trace) = me(None, None).await;
    assert_problem(
        status,
        &content_type,
        &body,
        &trace,
        400,
        "cookie `session` is required",
    );
    let (status, content_type, body, trace) = me(None, Some("session=abc".into())).await;
    assert_problem(
        status,
        &content_type,
        &body,
        &trace,
        400,
        "cookie `session` must be a UUID",
    );

    let client = Client::new(&server.base_url);
    let secure = |query: &'static str, authorization: Option<&'static str>| {
        let mut request = reqwest::Client::new().get(format!("{}/secure{query}", server.base_url));
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        async move { answer(request.send().await.unwrap()).await }
    };
    let (_, _, body, _) = secure("", Some("Bearer token-1")).await;
    assert_eq!(body, json!({"scheme": "bearer", "subject": "token holder"}));
    let (_, _, body, _) = secure("?api_key=key-1", None).await;
    assert_eq!(body, json!({"scheme": "queryKey", "subject": "key holder"}));
    let (_, _, body, _) = secure("", Some("Basic YWRhOmxvdmVsYWNl")).await;
    assert_eq!(body, json!({"scheme": "basic", "subject": "ada"}));
    let (status, content_type, body, trace) = secure("", None).await;
    assert_problem(
        status,
        &content_type,
        &body,
        &trace,
        401,
        "missing credentials: send `Authorization: Bearer <key>` or the `api_key` query parameter or `Authorization: Basic",
    );
    assert_eq!(body["code"], "UNAUTHORIZED");
    let refused = client.secure().send().await.unwrap_err();
    assert_eq!(refused.status().map(|status| status.as_u16()), Some(401));
}

#[tokio::test]
async fn unknown_routes_and_skipped_operations_answer_problem_details() {
    assert!(
        !OPERATION_IDS.contains(&"streamEvents"),
        "the websocket operation is skipped"
    );
    assert_eq!(OPERATION_IDS.len(), 17);
    let server = serve().await;
    for path in ["/stream", "/no/such/route"] {
        let (status, content_type, body, trace) = get_raw(&format!("{}{path}", server.base_url), None).await;
        assert_problem(status, &content_type, &body, &trace, 404, "no route for GET");
        assert_eq!(body["code"], "NOT_FOUND");
    }
}
