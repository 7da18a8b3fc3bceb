//! The `robustness` fixture, served: what large public documents use and
//! typify or progenitor mishandle, each met by a general rule of the
//! generator, through the generated client into the generated router and
//! back. Enum values that collide as Rust names round-trip as written; a
//! schema typify cannot convert is any JSON while the rest stays typed; a
//! reference into a component's inside is the schema it points at.

use std::sync::{Arc, Mutex};

use audiences_server_fixtures::generated_robustness::client::Client;
use audiences_server_fixtures::generated_robustness::types::{
    ApplyPatchBody, ApplyPatchBodyOperationsItem, ApplyPatchBodyOperationsItemOp, Classification, Event,
    EventPage, GetCall200Response, GetPartner200Response, ListReactionsSort, ManagedUser, ManagerNullable,
    NotAnObject, NullableSimpleUser, PatchEcho, PatchEchoOpsItem, Reaction, ReactionContent, SimpleUser,
};
use audiences_server_fixtures::generated_robustness::*;
use openapi_server_runtime::responses::Blob;
use openapi_server_runtime::{
    ApiError, Credentials, LoopbackServer, RequestContext, Security, TraceId, serve_loopback,
};
use serde_json::json;

/// Echoes what it received.
#[derive(Default)]
struct Fixture {
    uploads: Mutex<Vec<Blob>>,
    deleted: Mutex<Vec<String>>,
}

impl Security for Fixture {
    /// The client id, when the secret is right for it.
    type Principal = String;

    async fn authenticate(&self, credentials: Credentials<'_>, _: &TraceId) -> Result<String, ApiError> {
        match (credentials.of("clientId"), credentials.of("secret")) {
            (Some(client), Some("s3cret")) => Ok(client.to_owned()),
            _ => Err(ApiError::unauthorized("unknown client or wrong secret")),
        }
    }

    fn has_permission(&self, _: &String, _: &str) -> bool {
        true
    }
}

impl RobustnessApi for Fixture {
    async fn apply_patch(&self, _: RequestContext<()>, body: ApplyPatchBody) -> ApplyPatchResponse {
        let ops = body
            .operations
            .iter()
            .map(|operation| operation.op.as_str().parse().unwrap())
            .collect();
        ApplyPatchResponse::Ok(PatchEcho { conflict: None, ops }.into())
    }

    async fn list_reactions(
        &self,
        _: RequestContext<()>,
        query: ListReactionsQuery,
    ) -> ListReactionsResponse {
        let content = query.content.unwrap_or(ReactionContent::Laugh);
        let user = match query.sort {
            Some(ListReactionsSort::Reactions1V2) => NullableSimpleUser(None),
            _ => serde_json::from_value(json!({"login": "octocat"})).unwrap(),
        };
        let event = Event {
            negation: Some(json!(["any", "json", 1])),
            request: Some(json!({"sort": query.sort.map(|sort| sort.to_string())})),
            servers: Vec::new(),
        };
        ListReactionsResponse::Ok(
            vec![Reaction {
                content,
                event: Some(event),
                user,
            }]
            .into(),
        )
    }

    async fn get_user(&self, _: RequestContext<()>, path: GetUserPath) -> GetUserResponse {
        GetUserResponse::Ok(
            ManagedUser {
                collaboration: None,
                pay: None,
                manager: Some(ManagerNullable(None)),
                user: SimpleUser { login: path.id },
            }
            .into(),
        )
    }

    async fn upload(&self, _: RequestContext<()>, body: Option<Blob>) -> UploadResponse {
        if let Some(body) = body {
            self.uploads.lock().unwrap().push(body);
        }
        UploadResponse::NoContent
    }

    async fn put_document(&self, _: RequestContext<()>, body: Classification) -> PutDocumentResponse {
        PutDocumentResponse::Ok(body.into())
    }

    async fn list_calls(&self, _: RequestContext<()>, _: ListCallsQuery) -> ListCallsResponse {
        ListCallsResponse::Ok
    }

    async fn get_call(&self, _: RequestContext<()>, path: GetCallPath) -> GetCallResponse {
        GetCallResponse::Ok(GetCall200Response { sid: Some(path.sid) }.into())
    }

    async fn delete_call(&self, _: RequestContext<()>, path: DeleteCallPath) -> DeleteCallResponse {
        self.deleted.lock().unwrap().push(path.call_sid);
        DeleteCallResponse::NoContent
    }

    async fn list_events(&self, _: RequestContext<()>, headers: ListEventsHeaders) -> ListEventsResponse {
        ListEventsResponse::Ok(
            EventPage {
                hints: headers.x_rep_hints,
                ..EventPage::default()
            }
            .into(),
        )
    }

    async fn event_options(&self, _: RequestContext<()>) -> EventOptionsResponse {
        EventOptionsResponse::Ok
    }

    async fn get_partner(&self, cx: RequestContext<String>) -> GetPartnerResponse {
        GetPartnerResponse::Ok(
            GetPartner200Response {
                client: Some(cx.principal),
            }
            .into(),
        )
    }
}

async fn serve() -> (LoopbackServer, Arc<Fixture>) {
    let fixture = Arc::new(Fixture::default());
    let server = serve_loopback(router(Arc::clone(&fixture))).await.unwrap();
    (server, fixture)
}

#[test]
fn values_that_collide_as_rust_names_round_trip_as_written() {
    let values = ["add", "Add", "remove", "Remove", "replace", "Replace"];
    let mut seen = std::collections::BTreeSet::new();
    for value in values {
        let op: ApplyPatchBodyOperationsItemOp = serde_json::from_value(json!(value)).unwrap();
        assert_eq!(serde_json::to_value(op).unwrap(), json!(value));
        assert_eq!(op.as_str(), value);
        assert_eq!(value.parse::<PatchEchoOpsItem>().unwrap().to_string(), value);
        seen.insert(format!("{op:?}"));
    }
    assert_eq!(seen.len(), values.len(), "one variant per value: {seen:?}");
    assert!(serde_json::from_value::<ApplyPatchBodyOperationsItemOp>(json!("ADD")).is_err());
    assert!("ADD".parse::<PatchEchoOpsItem>().is_err());
    for (value, variant) in [("+1", ReactionContent::Plus1), ("-1", ReactionContent::Minus1)] {
        assert_eq!(serde_json::to_value(variant).unwrap(), json!(value));
    }
}

#[tokio::test]
async fn colliding_values_travel_through_client_and_server_as_written() {
    let (server, _) = serve().await;
    let client = Client::new(&server.base_url);
    let operations = ["add", "Add", "Remove"]
        .into_iter()
        .map(|op| ApplyPatchBodyOperationsItem {
            op: op.parse().unwrap(),
            path: "/a".to_owned(),
            value: None,
        })
        .collect();
    let echo = client
        .apply_patch()
        .body(ApplyPatchBody { operations })
        .send()
        .await
        .unwrap()
        .into_inner();
    let ops: Vec<&str> = echo.ops.iter().map(PatchEchoOpsItem::as_str).collect();
    assert_eq!(ops, ["add", "Add", "Remove"]);
    let raw = reqwest::Client::new()
        .get(format!(
            "{}/reactions?content=-1&sort=reactions--1",
            server.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 200);
    let reactions: serde_json::Value = raw.json().await.unwrap();
    assert_eq!(reactions[0]["content"], "-1");
    assert_eq!(
        reactions[0]["user"],
        json!(null),
        "the nullable component is null"
    );
    assert_eq!(reactions[0]["event"]["request"]["sort"], "reactions--1");
    let unknown = reqwest::Client::new()
        .get(format!("{}/reactions?content=plus1", server.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        unknown.status(),
        400,
        "a value the document does not list is refused"
    );
}

#[tokio::test]
async fn a_schema_typify_cannot_convert_is_any_json_and_the_rest_stays_typed() {
    let any: NotAnObject = json!({"a": [1, "two"]});
    assert!(any.is_object(), "the fallback is serde_json::Value");
    let (server, _) = serve().await;
    let reactions = Client::new(&server.base_url)
        .list_reactions()
        .content(ReactionContent::Plus1)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reactions[0].content, ReactionContent::Plus1);
    assert_eq!(
        reactions[0].event.as_ref().unwrap().negation,
        Some(json!(["any", "json", 1]))
    );
    assert_eq!(
        reactions[0].user.as_ref().map(|user| user.login.as_str()),
        Some("octocat")
    );
}

#[tokio::test]
async fn a_reference_into_a_component_brings_its_rules_and_bodies_travel_as_progenitor_can_send_them() {
    let (server, fixture) = serve().await;
    let client = Client::new(&server.base_url);
    let user = client
        .get_user()
        .id("0123abcd")
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(user.user.login, "0123abcd");
    // A null of an optional property reads back as absent (typify's Option).
    assert!(user.manager.and_then(|manager| manager.0).is_none());
    let refused = reqwest::Client::new()
        .get(format!("{}/users/not-hex", server.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.status(),
        400,
        "the pattern of the schema pointed at applies"
    );

    client
        .upload()
        .body(b"\x00\x01raw".to_vec())
        .send()
        .await
        .unwrap();
    let uploads = fixture.uploads.lock().unwrap().clone();
    assert_eq!(uploads.len(), 1);
    assert_eq!(&uploads[0].bytes[..], b"\x00\x01raw");

    let document: Classification =
        serde_json::from_value(json!({"id": "89abcdef", "$template": {"name": "t"}})).unwrap();
    let stored = client
        .put_document()
        .body(document.clone())
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        stored, document,
        "sent as application/json to an application/vnd.api+json body"
    );
}

#[test]
fn operations_progenitor_cannot_name_are_left_out_of_the_client_alone() {
    let client_operations = [
        "apply_patch",
        "list_reactions",
        "get_user",
        "upload",
        "put_document",
        "list_events",
    ];
    assert_eq!(OPERATION_IDS.len(), 11, "the server serves every operation");
    let source = include_str!("../src/generated_robustness.rs");
    for operation in client_operations {
        assert!(
            source.contains(&format!("pub fn {operation}(&self) -> builder::")),
            "{operation}"
        );
    }
    assert!(
        !source.contains("pub fn list_calls(&self) -> builder::"),
        "`StartTime` and `StartTime<` have one Rust name in progenitor's client"
    );
    assert!(
        !source.contains("pub fn event_options(&self) -> builder::"),
        "reqwest has no `options` method"
    );
}

#[tokio::test]
async fn a_parameter_inside_a_segment_and_templates_naming_it_otherwise_share_a_route() {
    let (server, fixture) = serve().await;
    let client = Client::new(&server.base_url);
    let call = client.get_call().sid("CA12ab").send().await.unwrap().into_inner();
    assert_eq!(
        call.sid.as_deref(),
        Some("CA12ab"),
        "the segment's suffix is not the parameter's"
    );
    let http = reqwest::Client::new();
    for (path, status) in [
        ("/calls/CA12ab.json", 200),
        ("/calls/CA12ab", 404),
        ("/calls/CA12ab.xml", 404),
        ("/calls/zz.json", 400),
    ] {
        let answer = http
            .get(format!("{}{path}", server.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), status, "GET {path}");
    }
    client.delete_call().call_sid("CA99ff").send().await.unwrap();
    assert_eq!(*fixture.deleted.lock().unwrap(), ["CA99ff"]);
}

#[tokio::test]
async fn a_requirement_of_two_schemes_needs_both_and_hands_over_both() {
    let (server, _) = serve().await;
    let url = format!("{}/partners", server.base_url);
    let http = reqwest::Client::new();
    let both = http
        .get(&url)
        .header("x-client-id", "acme")
        .header("x-secret", "s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), 200);
    assert_eq!(both.json::<serde_json::Value>().await.unwrap()["client"], "acme");
    let one = http.get(&url).header("x-client-id", "acme").send().await.unwrap();
    assert_eq!(one.status(), 401);
    let detail = one.json::<serde_json::Value>().await.unwrap()["detail"].clone();
    assert!(
        detail
            .as_str()
            .unwrap()
            .contains("also send the `x-secret` header"),
        "{detail}"
    );
    let wrong = http
        .get(&url)
        .header("x-client-id", "acme")
        .header("x-secret", "guess")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let none = http.get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
}

#[tokio::test]
async fn a_nullable_optional_header_is_sent_as_text_and_options_is_served() {
    let (server, _) = serve().await;
    let client = Client::new(&server.base_url);
    let page = client.list_events().x_rep_hints("[pdf]").send().await.unwrap();
    assert_eq!(page.hints.as_deref(), Some("[pdf]"));
    let page = client.list_events().send().await.unwrap();
    assert_eq!(page.hints, None);
    // Zero lower bounds bound nothing: empty values pass both ways.
    let empty: EventPage = serde_json::from_value(json!({"hints": "", "events": [], "labels": {}})).unwrap();
    assert_eq!(empty.hints.as_deref(), Some(""));
    // The client leaves OPTIONS out; the server serves it.
    let status = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("{}/events", server.base_url))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
}
