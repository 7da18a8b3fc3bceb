//! The `constructs` fixture's implementation, served on loopback, and what
//! its tests share: the formats, the refusals and the raw HTTP helpers.

#![allow(
    dead_code,
    unused_imports,
    reason = "each test file uses part of the shared fixture"
)]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use audiences_server_fixtures::generated_constructs::client::Client;
use audiences_server_fixtures::generated_constructs::types::{
    Caller, Circle, CircleKind, Contact, Filter, Formats, LabelSet, Problem, Received, SearchEcho,
    SearchLabel, Shape, ShapeWithArea, Signup, Square, SquareKind,
};
use audiences_server_fixtures::generated_constructs::*;
use axum::body::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::TryStreamExt;
use openapi_server_runtime::responses::{AnyStatus, Blob, StatusInClass};
use openapi_server_runtime::{
    ApiError, Credentials, LoopbackServer, RequestContext, Security, TraceId, serve_loopback,
};
use serde_json::{Value, json};
use uuid::Uuid;

/// The implementation the tests serve: it echoes what it received.
#[derive(Default)]
pub(crate) struct Fixture {
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

pub(crate) fn problem(status: u16, detail: &str) -> Problem {
    Problem {
        type_: "about:blank".into(),
        title: "refused".into(),
        status: i32::from(status),
        detail: detail.into(),
        code: None,
        trace_id: None,
    }
}

pub(crate) fn area(shape: &Shape) -> f64 {
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

pub(crate) async fn serve() -> LoopbackServer {
    serve_loopback(router(Arc::new(Fixture::default())))
        .await
        .unwrap()
}

pub(crate) fn formats() -> Formats {
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

pub(crate) async fn get_raw(url: &str, header: Option<(&str, &str)>) -> (u16, String, Value, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    answer(response).await
}

pub(crate) async fn answer(response: reqwest::Response) -> (u16, String, Value, String) {
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

pub(crate) fn assert_problem(
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

pub(crate) struct Refusal {
    pub(crate) path: &'static str,
    pub(crate) query: &'static str,
    pub(crate) header: Option<(&'static str, &'static str)>,
    pub(crate) names: &'static str,
    pub(crate) rule: &'static str,
}

pub(crate) const VALID_QUERY: &[(&str, &str)] = &[
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

pub(crate) const ID: &str = "67e55044-10b1-426f-9247-bb680e5fe0c8";

pub(crate) const REFUSALS: &[Refusal] = &[
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
