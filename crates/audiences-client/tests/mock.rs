//! How a consumer tests code that uses the client, without the real service:
//! the generated `MockApi` answers each operation with a closure (only a
//! documented response type-checks), served by the generated router.

use std::sync::Arc;

use audiences_client::types::{AudienceProspect, AudienceProspectPage, ErrorDetail};
use audiences_client::{AudiencesClient, Error, ErrorCode, RetryPolicy};
use audiences_server::ListAudienceProspectsResponse;
use audiences_server::mock::MockApi;
use futures_util::TryStreamExt;

const GROUP: &str = "6650a1b2c3d4e5f601234567";
const AUDIENCE: &str = "6650a1b2c3d4e5f60123abcd";

/// The consumer's code under test: the names of every prospect with an email.
async fn reachable_names(
    client: &AudiencesClient,
    group: &str,
    audience: &str,
) -> Result<Vec<String>, Error> {
    client
        .prospects(group, audience)
        .page_size(2)
        .items()
        .try_filter_map(|prospect| async move { Ok((!prospect.emails.is_empty()).then_some(prospect.name)) })
        .try_collect()
        .await
}

fn prospect(index: usize, with_email: bool) -> AudienceProspect {
    serde_json::from_value(serde_json::json!({
        "id": format!("{index:024x}"), "firstName": null, "lastName": null, "name": format!("P{index}"),
        "headline": null, "about": null, "photoUrl": null, "linkedinUrl": null, "publicIdentifier": null,
        "company": null, "title": null, "location": null,
        "emails": if with_email { serde_json::json!([{"email": "a@example.com", "deliverable": null, "qualityScore": null}]) } else { serde_json::json!([]) },
        "premium": false, "isOpenProfile": false, "connectionStatus": null, "chatStatus": null
    }))
    .unwrap()
}

async fn client_for(mock: Arc<MockApi>) -> (AudiencesClient, audiences_server::runtime::LoopbackServer) {
    let server = audiences_server::runtime::serve_loopback(audiences_server::router(mock))
        .await
        .unwrap();
    let client = AudiencesClient::builder(&server.base_url)
        .api_key("any-key-works-with-the-mock")
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    (client, server)
}

#[tokio::test]
async fn a_consumer_tests_its_pagination_code_against_the_mock() {
    let prospects: Vec<AudienceProspect> = (0..5).map(|index| prospect(index, index % 2 == 0)).collect();
    let mock = Arc::new(MockApi::new());
    mock.on_list_audience_prospects(move |call| {
        let start: usize = call
            .query
            .cursor
            .as_deref()
            .map_or(0, |cursor| cursor.parse().unwrap());
        let end = (start + call.query.limit as usize).min(prospects.len());
        ListAudienceProspectsResponse::Ok {
            data: AudienceProspectPage {
                items: prospects[start..end].to_vec(),
                next_cursor: (end < prospects.len()).then(|| end.to_string()),
                has_more: end < prospects.len(),
            }
            .into(),
            x_next_cursor: None,
        }
    });
    let (client, _server) = client_for(Arc::clone(&mock)).await;

    let names = reachable_names(&client, GROUP, AUDIENCE).await.unwrap();
    assert_eq!(names, ["P0", "P2", "P4"]);
    let calls = mock.list_audience_prospects_calls();
    assert!(
        calls
            .iter()
            .all(|call| call.path.account_group_id == GROUP && call.query.limit == 2)
    );
    let cursors: Vec<Option<String>> = calls.into_iter().map(|call| call.query.cursor).collect();
    assert_eq!(mock.calls().len(), 3, "every request is recorded");
    assert_eq!(cursors, [None, Some("2".into()), Some("4".into())]);
}

#[tokio::test]
async fn a_consumer_tests_its_not_ready_handling_against_the_mock() {
    let mock = Arc::new(MockApi::new());
    mock.on_list_audience_prospects(|_| ListAudienceProspectsResponse::Conflict {
        error: ErrorDetail {
            code: audiences_client::error_codes::AUDIENCE_NOT_READY.into(),
            message: "still populating".into(),
            details: None,
        },
        retry_after: 30,
    });
    let (client, _server) = client_for(mock).await;
    let error = reachable_names(&client, GROUP, AUDIENCE).await.unwrap_err();
    assert_eq!(error.code(), Some(&ErrorCode::AudienceNotReady));
    assert_eq!(error.retry_after(), Some(std::time::Duration::from_secs(30)));
}

#[tokio::test]
async fn an_operation_without_an_answer_is_a_500_naming_nothing() {
    let (client, _server) = client_for(Arc::new(MockApi::new())).await;
    let error = client
        .list_prospects(GROUP, AUDIENCE, None, None)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(&ErrorCode::InternalError));
}

/// A Prism-like mock in one line: each operation answers the document's
/// own example, for its first success or for the status asked for.
#[tokio::test]
async fn a_mock_from_the_documents_examples_answers_them() {
    let document = audiences_tests::document();
    let responses = &document["paths"]["/v1/accounts/{accountGroupId}/audiences/{audienceId}/prospects"]["get"]
        ["responses"];
    let mock = Arc::new(MockApi::from_examples());
    let (client, _server) = client_for(Arc::clone(&mock)).await;
    let page = client.list_prospects(GROUP, AUDIENCE, None, None).await.unwrap();
    let documented = &responses["200"]["content"]["application/json"]["example"]["data"];
    assert_eq!(serde_json::to_value(&page.items).unwrap(), documented["items"]);
    assert_eq!(page.has_more, documented["hasMore"].as_bool().unwrap());

    mock.on_list_audience_prospects_example(409).unwrap();
    let error = client
        .list_prospects(GROUP, AUDIENCE, None, None)
        .await
        .unwrap_err();
    let example = &responses["409"]["content"]["application/json"]["example"]["error"];
    assert_eq!(
        error.api().map(|api| api.message.as_str()),
        example["message"].as_str()
    );
    let retry_after = document["components"]["headers"]["Retry-After"]["example"].as_u64();
    assert_eq!(
        error.retry_after().map(|after| after.as_secs()),
        retry_after,
        "the header's example"
    );

    for status in ["400", "401", "403", "404", "429", "500", "502"] {
        let code: u16 = status.parse().unwrap();
        mock.on_list_audience_prospects_example(code).unwrap();
        let error = client
            .list_prospects(GROUP, AUDIENCE, None, None)
            .await
            .unwrap_err();
        assert_eq!(error.status(), Some(code));
    }
    let missing = mock.on_list_audience_prospects_example(418).err().unwrap();
    assert_eq!(
        missing.to_string(),
        "the document has no example of `listAudienceProspects`'s response 418"
    );
}
