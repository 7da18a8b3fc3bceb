//! The `constructs` fixture, served (bodies, statuses, security): requests through the generated
//! progenitor client (or, for what progenitor cannot send, raw HTTP) into
//! the generated router, an implementation, and back. Every format as a
//! parameter and as a property, every body and response kind, status
//! ranges and `default`, cookies and security alternatives, and the 400s
//! of malformed input, answered as RFC 9457 problem details because the
//! document declares no envelope.

mod constructs_fixture;

use std::collections::HashMap;

use audiences_server_fixtures::generated_constructs::client::Client;
use audiences_server_fixtures::generated_constructs::types::{
    Circle, CircleKind, Contact, LabelSet, Received, SearchEcho, Shape, ShapeWithArea, Signup, Square,
    SquareKind,
};
use audiences_server_fixtures::generated_constructs::*;
use futures_util::TryStreamExt;
use openapi_server_runtime::responses::{AnyStatus, StatusInClass};
use serde_json::{Value, json};
use uuid::Uuid;

use constructs_fixture::*;

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
    // Zero bytes of a named media type are an empty file; no Content-Type
    // and no bytes is no body, which a required body refuses.
    let empty = reqwest::Client::new()
        .put(format!("{}/blobs/empty", server.base_url))
        .header("content-type", "application/octet-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status().as_u16(), 204);
    let fetched = client.get_blob().name("empty").send().await.unwrap();
    assert!(collect(fetched.into_inner()).await.is_empty());
    let absent = reqwest::Client::new()
        .put(format!("{}/blobs/absent", server.base_url))
        .send()
        .await
        .unwrap();
    let (status, content_type, body, trace) = answer(absent).await;
    assert_problem(
        status,
        &content_type,
        &body,
        &trace,
        400,
        "a request body is required",
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
        ("target=Not%20A%20Name", "target (oneOf)"),
        ("page=0", "page (minimum 1)"),
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
