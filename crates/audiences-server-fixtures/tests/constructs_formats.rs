//! The `constructs` fixture, served (formats and refusals): requests through the generated
//! progenitor client (or, for what progenitor cannot send, raw HTTP) into
//! the generated router, an implementation, and back. Every format as a
//! parameter and as a property, every body and response kind, status
//! ranges and `default`, cookies and security alternatives, and the 400s
//! of malformed input, answered as RFC 9457 problem details because the
//! document declares no envelope.

mod constructs_fixture;

use audiences_server_fixtures::generated_constructs::client::Client;
use audiences_server_fixtures::generated_constructs::types::Formats;
use serde_json::json;
use uuid::Uuid;

use constructs_fixture::*;

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
            "/id (format \"uuid\")",
        ),
        (
            "/shapes",
            "application/json",
            br#"{"kind":"square","radius":1}"#.to_vec(),
            "/side (required)",
        ),
        (
            "/shapes",
            "application/json",
            br#"{"kind":"circle","radius":-1}"#.to_vec(),
            "/radius (minimum 0)",
        ),
        ("/notes", "text/plain", vec![0xff, 0xfe], "not valid UTF-8"),
        (
            "/forms",
            "application/x-www-form-urlencoded",
            b"name=ada&seats=many".to_vec(),
            "/seats (type \"integer\")",
        ),
        (
            "/forms",
            "application/json",
            br#"{"name":"ada"}"#.to_vec(),
            "/seats (required)",
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
        // A body that breaks the schema's rules names each rule by pointer;
        // one that cannot be read at all is named as the body.
        let expected = if needle.starts_with('/') || needle.starts_with("body (") {
            needle
        } else {
            "body"
        };
        assert_eq!(body["details"], expected, "{body}");
    }
}
