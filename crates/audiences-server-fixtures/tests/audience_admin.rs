//! A small implementation of the generated `AudienceAdminApi` trait, served
//! through its generated router: bodies (named and inline), header and array
//! parameters, 201 with a header, 202 with a plain body, 204, enums,
//! nullable fields and an operation without security all work end to end.

use std::sync::{Arc, Mutex};

use audiences_server_fixtures::generated_audience_admin::types::{
    Audience, AudienceList, AudienceStatus, ErrorDetail, ListAudiencesStatusItem, MoveAudiences202Response,
    MoveAudiencesBody, MoveAudiencesMode, NewAudience, UpdateAudienceBody,
};
use audiences_server_fixtures::generated_audience_admin::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use openapi_server_runtime::{ApiError, Credentials, RequestContext, Security, TraceId};
use serde_json::{Value, json};
use tower::ServiceExt;

const GROUP: &str = "0123456789abcdef01234567";

#[derive(Default)]
struct Admin {
    audiences: Mutex<Vec<Audience>>,
}

impl Security for Admin {
    type Principal = Vec<String>;

    async fn authenticate(
        &self,
        credentials: Credentials<'_>,
        _: &TraceId,
    ) -> Result<Self::Principal, ApiError> {
        assert_eq!(credentials.scheme, "apiKey");
        match credentials.secret {
            "writer" => Ok(vec!["audiences:read".into(), "audiences:write".into()]),
            "reader" => Ok(vec!["audiences:read".into()]),
            _ => Err(ApiError::unauthorized("unknown API key")),
        }
    }

    fn has_permission(&self, principal: &Self::Principal, permission: &str) -> bool {
        principal.iter().any(|held| held == permission)
    }
}

fn not_found() -> ErrorDetail {
    ErrorDetail {
        code: "NOT_FOUND".into(),
        message: "no such audience".into(),
        details: None,
    }
}

impl AudienceAdminApi for Admin {
    async fn list_audiences(
        &self,
        _cx: RequestContext<Self::Principal>,
        _path: ListAudiencesPath,
        query: ListAudiencesQuery,
        headers: ListAudiencesHeaders,
    ) -> ListAudiencesResponse {
        assert!(headers.x_request_id.len() >= 4);
        let wanted: Vec<String> = query.status.iter().map(|status| status.to_string()).collect();
        let items = self
            .audiences
            .lock()
            .unwrap()
            .iter()
            .filter(|audience| wanted.is_empty() || wanted.contains(&audience.status.to_string()))
            .filter(|audience| {
                query.tag.is_empty() || query.tag.iter().any(|tag| audience.name.contains(tag.as_str()))
            })
            .cloned()
            .collect();
        ListAudiencesResponse::Ok(AudienceList { items }.into())
    }

    async fn create_audience(
        &self,
        _cx: RequestContext<Self::Principal>,
        _path: CreateAudiencePath,
        body: NewAudience,
    ) -> CreateAudienceResponse {
        if body.name.is_empty() {
            return CreateAudienceResponse::UnprocessableEntity(ErrorDetail {
                code: "EMPTY_NAME".into(),
                message: "an audience needs a name".into(),
                details: Some("name".into()),
            });
        }
        let mut audiences = self.audiences.lock().unwrap();
        let audience = Audience {
            id: format!("{:024x}", audiences.len() + 1),
            name: body.name,
            status: body.status.unwrap_or(AudienceStatus::Populating),
            description: None,
            folder: None,
        };
        audiences.push(audience.clone());
        let location = format!("/v1/accounts/{GROUP}/audiences/{}", audience.id);
        CreateAudienceResponse::Created {
            data: audience.into(),
            location,
        }
    }

    async fn delete_audience(
        &self,
        _cx: RequestContext<Self::Principal>,
        path: DeleteAudiencePath,
    ) -> DeleteAudienceResponse {
        let mut audiences = self.audiences.lock().unwrap();
        let before = audiences.len();
        audiences.retain(|audience| audience.id != path.audience_id);
        if audiences.len() == before {
            DeleteAudienceResponse::NotFound(not_found())
        } else {
            DeleteAudienceResponse::NoContent
        }
    }

    async fn update_audience(
        &self,
        _cx: RequestContext<Self::Principal>,
        path: UpdateAudiencePath,
        body: UpdateAudienceBody,
    ) -> UpdateAudienceResponse {
        let mut audiences = self.audiences.lock().unwrap();
        match audiences
            .iter_mut()
            .find(|audience| audience.id == path.audience_id)
        {
            Some(audience) => {
                if let Some(name) = body.name {
                    audience.name = name;
                }
                audience.description = body.description;
                UpdateAudienceResponse::Ok(audience.clone().into())
            }
            None => UpdateAudienceResponse::NotFound(not_found()),
        }
    }

    async fn move_audiences(
        &self,
        _cx: RequestContext<()>,
        path: MoveAudiencesPath,
        query: MoveAudiencesQuery,
        body: Option<MoveAudiencesBody>,
    ) -> MoveAudiencesResponse {
        assert!(path.folder_id >= 1);
        match body {
            Some(body) if !body.audience_ids.is_empty() => {
                let moved = if query.mode == MoveAudiencesMode::Move {
                    body.audience_ids.len()
                } else {
                    0
                };
                MoveAudiencesResponse::Accepted(MoveAudiences202Response { moved: moved as i64 }.into())
            }
            _ => MoveAudiencesResponse::UnprocessableEntity(ErrorDetail {
                code: "NOTHING_TO_MOVE".into(),
                message: "name at least one audience".into(),
                details: None,
            }),
        }
    }
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

async fn send(
    app: &axum::Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = match body {
        Some(json) => {
            request = request.header("content-type", "application/json");
            Body::from(json.to_string())
        }
        None => Body::empty(),
    };
    let response = app.clone().oneshot(request.body(body).unwrap()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    assert!(
        headers.contains_key("x-trace-id"),
        "{method} {uri}: every answer has a trace id"
    );
    Answer {
        status,
        headers,
        body,
    }
}

#[tokio::test]
async fn the_generated_router_serves_every_kind_of_operation() {
    let app = router(Arc::new(Admin::default()));
    let audiences = format!("/v1/accounts/{GROUP}/audiences");
    let writer = [("x-api-key", "writer"), ("x-request-id", "req-1")];

    let created = send(
        &app,
        "POST",
        &audiences,
        &writer,
        Some(json!({ "name": "CTOs in Berlin", "status": "ready" })),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:#}", created.body);
    assert_eq!(created.body["success"], true);
    assert_eq!(created.body["data"]["status"], "ready");
    assert_eq!(
        created.body["data"]["folder"],
        Value::Null,
        "nullable fields are sent as null"
    );
    let id = created.body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created.headers["location"], format!("{audiences}/{id}"));
    assert_eq!(
        created.body["traceId"],
        created.headers["x-trace-id"].to_str().unwrap()
    );

    let second = send(
        &app,
        "POST",
        &audiences,
        &writer,
        Some(json!({ "name": "Founders" })),
    )
    .await;
    assert_eq!(second.body["data"]["status"], "populating");

    let listed = send(
        &app,
        "GET",
        &format!("{audiences}?status=ready&status=archived"),
        &writer,
        None,
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK, "{:#}", listed.body);
    assert_eq!(listed.body["data"]["items"].as_array().unwrap().len(), 1);
    let tagged = send(
        &app,
        "GET",
        &format!("{audiences}?tag=Found,Nobody"),
        &writer,
        None,
    )
    .await;
    assert_eq!(tagged.body["data"]["items"][0]["name"], "Founders");

    let patched = send(
        &app,
        "PATCH",
        &format!("{audiences}/{id}"),
        &writer,
        Some(json!({ "description": "Berlin" })),
    )
    .await;
    assert_eq!(patched.status, StatusCode::OK, "{:#}", patched.body);
    assert_eq!(patched.body["data"]["description"], "Berlin");
    assert_eq!(patched.body["data"]["name"], "CTOs in Berlin");

    let deleted = send(&app, "DELETE", &format!("{audiences}/{id}"), &writer, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(deleted.body, Value::Null);
    let again = send(&app, "DELETE", &format!("{audiences}/{id}"), &writer, None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.body["error"]["code"], "NOT_FOUND");

    let moved = send(
        &app,
        "POST",
        "/v1/folders/7/moves?mode=move",
        &[],
        Some(json!({ "audienceIds": ["a", "b"] })),
    )
    .await;
    assert_eq!(
        moved.status,
        StatusCode::ACCEPTED,
        "an operation with `security: []` needs no key"
    );
    assert_eq!(
        moved.body,
        json!({ "moved": 2 }),
        "a non-envelope body is sent as is"
    );
    let nothing = send(&app, "POST", "/v1/folders/7/moves?mode=copy", &[], None).await;
    assert_eq!(nothing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(nothing.body["success"], false);

    let empty_name = send(&app, "POST", &audiences, &writer, Some(json!({ "name": "" }))).await;
    assert_eq!(empty_name.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(empty_name.body["error"]["details"], "name");
}

/// (method, uri, headers, body, status, code, details).
type Row<'a> = (
    &'a str,
    String,
    Vec<(&'a str, &'a str)>,
    Option<Value>,
    u16,
    &'a str,
    &'a str,
);

#[tokio::test]
async fn bad_input_to_a_fixture_operation_is_a_400_naming_it() {
    let app = router(Arc::new(Admin::default()));
    let audiences = format!("/v1/accounts/{GROUP}/audiences");
    let writer = [("x-api-key", "writer"), ("x-request-id", "req-1")];
    // (method, uri, headers, body, status, code, details)
    let rows: Vec<Row<'_>> = vec![
        (
            "GET",
            format!("{audiences}?status=deleted"),
            writer.to_vec(),
            None,
            400,
            "VALIDATION_ERROR",
            "status",
        ),
        (
            "GET",
            format!("{audiences}?tag=a,b,c,d"),
            writer.to_vec(),
            None,
            400,
            "VALIDATION_ERROR",
            "tag",
        ),
        (
            "GET",
            format!("{audiences}?includeEmpty=yes"),
            writer.to_vec(),
            None,
            400,
            "VALIDATION_ERROR",
            "includeEmpty",
        ),
        (
            "GET",
            format!("{audiences}?minScore=2"),
            writer.to_vec(),
            None,
            400,
            "VALIDATION_ERROR",
            "minScore",
        ),
        (
            "GET",
            format!("{audiences}?minScore=NaN"),
            writer.to_vec(),
            None,
            400,
            "VALIDATION_ERROR",
            "minScore",
        ),
        (
            "GET",
            audiences.clone(),
            vec![("x-api-key", "writer")],
            None,
            400,
            "VALIDATION_ERROR",
            "X-Request-Id",
        ),
        (
            "GET",
            audiences.clone(),
            vec![("x-api-key", "writer"), ("x-request-id", "ab")],
            None,
            400,
            "VALIDATION_ERROR",
            "X-Request-Id",
        ),
        (
            "GET",
            "/v1/accounts/XYZ/audiences".into(),
            writer.to_vec(),
            None,
            400,
            "VALIDATION_ERROR",
            "accountGroupId",
        ),
        (
            "POST",
            audiences.clone(),
            writer.to_vec(),
            Some(json!({ "name": 5 })),
            400,
            "VALIDATION_ERROR",
            "/name (type \"string\")",
        ),
        (
            "POST",
            audiences.clone(),
            writer.to_vec(),
            Some(json!({ "name": "x", "status": "gone" })),
            400,
            "VALIDATION_ERROR",
            "/status (enum)",
        ),
        (
            "POST",
            audiences.clone(),
            writer.to_vec(),
            None,
            400,
            "VALIDATION_ERROR",
            "body",
        ),
        (
            "POST",
            "/v1/folders/0/moves?mode=move".into(),
            vec![],
            None,
            400,
            "VALIDATION_ERROR",
            "folderId",
        ),
        (
            "POST",
            "/v1/folders/1/moves".into(),
            vec![],
            None,
            400,
            "VALIDATION_ERROR",
            "mode",
        ),
        (
            "POST",
            "/v1/folders/1/moves?mode=teleport".into(),
            vec![],
            None,
            400,
            "VALIDATION_ERROR",
            "mode",
        ),
        (
            "POST",
            audiences.clone(),
            vec![("x-request-id", "req-1")],
            Some(json!({ "name": "x" })),
            401,
            "UNAUTHORIZED",
            "",
        ),
        (
            "POST",
            audiences.clone(),
            vec![("x-api-key", "reader")],
            Some(json!({ "name": "x" })),
            403,
            "FORBIDDEN",
            "",
        ),
        (
            "PUT",
            audiences.clone(),
            writer.to_vec(),
            None,
            405,
            "METHOD_NOT_ALLOWED",
            "",
        ),
    ];
    for (method, uri, headers, body, status, code, details) in rows {
        let answer = send(&app, method, &uri, &headers, body).await;
        let row = format!("{method} {uri}");
        assert_eq!(answer.status.as_u16(), status, "{row}: {:#}", answer.body);
        assert_eq!(answer.body["error"]["code"], code, "{row}");
        assert_eq!(answer.body["success"], false, "{row}");
        if !details.is_empty() {
            assert_eq!(
                answer.body["error"]["details"], details,
                "{row}: {:#}",
                answer.body
            );
        }
    }
}

#[test]
fn enum_parameters_use_the_shared_types() {
    assert_eq!(ListAudiencesStatusItem::Archived.to_string(), "archived");
    assert_eq!(
        OPERATION_IDS,
        [
            "listAudiences",
            "createAudience",
            "deleteAudience",
            "updateAudience",
            "moveAudiences"
        ]
    );
}
