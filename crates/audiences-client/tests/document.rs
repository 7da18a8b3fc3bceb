//! The client against the document itself: every rule of every parameter
//! is refused (by the server, the one place rules are checked) with the
//! validation shape, naming the parameter, the rule and the value; and the
//! hand-written `Page` carries every property of the documented page.

use std::collections::BTreeSet;
use std::sync::Arc;

use audiences_client::{AudiencesClient, Error, ErrorCode, Page, RetryPolicy};
use audiences_server::ListAudienceProspectsResponse;
use audiences_server::mock::MockApi;
use audiences_types::AudienceProspectPage;
use serde_json::Value;

const GROUP: &str = "6650a1b2c3d4e5f601234567";
const AUDIENCE: &str = "6650a1b2c3d4e5f60123abcd";

/// A call that breaks one rule: the parameter, the rule's keyword in the
/// document, the arguments, and what the message must quote.
struct Broken {
    parameter: &'static str,
    keyword: &'static str,
    group: String,
    audience: String,
    limit: Option<u32>,
    cursor: Option<String>,
    rule: &'static str,
    quoted: String,
}

fn broken() -> Vec<Broken> {
    let call =
        |parameter, keyword, rule, group: &str, audience: &str, limit, cursor: Option<&str>, quoted: &str| {
            Broken {
                parameter,
                keyword,
                group: group.to_owned(),
                audience: audience.to_owned(),
                limit,
                cursor: cursor.map(str::to_owned),
                rule,
                quoted: quoted.to_owned(),
            }
        };
    let long_cursor = "c".repeat(513);
    vec![
        call(
            "accountGroupId",
            "pattern",
            "must match the pattern",
            "zzzzzzzzzzzzzzzzzzzzzzzz",
            AUDIENCE,
            None,
            None,
            "zzzzzzzzzzzzzzzzzzzzzzzz",
        ),
        call(
            "accountGroupId",
            "minLength",
            "at least 24 characters",
            "6650a1b2",
            AUDIENCE,
            None,
            None,
            "6650a1b2",
        ),
        call(
            "accountGroupId",
            "maxLength",
            "at most 24 characters",
            "6650a1b2c3d4e5f6012345678",
            AUDIENCE,
            None,
            None,
            "6650a1b2c3d4e5f6012345678",
        ),
        call(
            "audienceId",
            "pattern",
            "must match the pattern",
            GROUP,
            "yyyyyyyyyyyyyyyyyyyyyyyy",
            None,
            None,
            "yyyyyyyyyyyyyyyyyyyyyyyy",
        ),
        call(
            "audienceId",
            "minLength",
            "at least 24 characters",
            GROUP,
            "abc",
            None,
            None,
            "abc",
        ),
        call(
            "audienceId",
            "maxLength",
            "at most 24 characters",
            GROUP,
            "6650a1b2c3d4e5f60123abcdef",
            None,
            None,
            "6650a1b2c3d4e5f60123abcdef",
        ),
        call(
            "cursor",
            "minLength",
            "at least 1 characters",
            GROUP,
            AUDIENCE,
            None,
            Some(""),
            "``",
        ),
        call(
            "cursor",
            "maxLength",
            "at most 512 characters",
            GROUP,
            AUDIENCE,
            None,
            Some(&long_cursor),
            &"c".repeat(64),
        ),
        call(
            "limit",
            "minimum",
            "an integer (int32) from 1 to 100",
            GROUP,
            AUDIENCE,
            Some(0),
            None,
            "0",
        ),
        call(
            "limit",
            "maximum",
            "an integer (int32) from 1 to 100",
            GROUP,
            AUDIENCE,
            Some(101),
            None,
            "101",
        ),
    ]
}

/// Every `(parameter, keyword)` rule the document states for the operation.
fn documented_rules() -> BTreeSet<(String, String)> {
    let document = audiences_tests::document();
    let operation =
        &document["paths"]["/v1/accounts/{accountGroupId}/audiences/{audienceId}/prospects"]["get"];
    let mut rules = BTreeSet::new();
    for parameter in operation["parameters"].as_array().unwrap() {
        let reference = parameter["$ref"].as_str().unwrap();
        let name = reference.rsplit('/').next().unwrap();
        let parameter = &document["components"]["parameters"][name];
        for keyword in [
            "pattern",
            "minLength",
            "maxLength",
            "minimum",
            "maximum",
            "minItems",
            "maxItems",
            "enum",
        ] {
            if !parameter["schema"][keyword].is_null() {
                rules.insert((parameter["name"].as_str().unwrap().to_owned(), keyword.to_owned()));
            }
        }
    }
    rules
}

#[test]
fn the_table_covers_every_rule_of_the_document() {
    let covered: BTreeSet<(String, String)> = broken()
        .iter()
        .map(|call| (call.parameter.to_owned(), call.keyword.to_owned()))
        .collect();
    assert_eq!(
        covered,
        documented_rules(),
        "add a row for each new rule of the document"
    );
}

#[tokio::test]
async fn every_rule_is_refused_with_the_validation_shape_naming_parameter_rule_and_value() {
    let mock = Arc::new(MockApi::new());
    mock.on_list_audience_prospects(|_| ListAudienceProspectsResponse::Ok {
        data: AudienceProspectPage {
            items: Vec::new(),
            next_cursor: None,
            has_more: false,
        }
        .into(),
        x_next_cursor: None,
    });
    let server = audiences_server::runtime::serve_loopback(audiences_server::router(mock.clone()))
        .await
        .unwrap();
    let client = AudiencesClient::builder(&server.base_url)
        .api_key("any")
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    for call in broken() {
        let error = client
            .list_prospects(&call.group, &call.audience, call.limit, call.cursor.as_deref())
            .await
            .unwrap_err();
        let Error::Api(api) = &error else {
            panic!(
                "{}: refused by the server, not locally: {error:?}",
                call.parameter
            )
        };
        assert_eq!(api.status, 400, "{error}");
        assert_eq!(api.code, ErrorCode::ValidationError, "{error}");
        assert_eq!(api.details.as_deref(), Some(call.parameter), "{error}");
        assert!(
            api.message.contains(&format!("`{}`", call.parameter)),
            "names the parameter: {error}"
        );
        assert!(
            api.message.contains(call.rule),
            "names the rule `{}`: {error}",
            call.rule
        );
        assert!(api.message.contains(&call.quoted), "quotes the value: {error}");
        assert!(
            api.trace_id.as_deref().is_some_and(|id| id.len() == 24),
            "{error}"
        );
        for internal in ["conversion", "NonZero", "::"] {
            assert!(
                !error.to_string().contains(internal),
                "no Rust type names: {error}"
            );
        }
    }
    assert!(
        mock.calls().is_empty(),
        "no refused call reached the implementation"
    );
    let page = client
        .list_prospects(GROUP, AUDIENCE, Some(100), None)
        .await
        .unwrap();
    assert!(!page.has_more, "the largest documented page is accepted");
}

#[test]
fn page_carries_every_property_of_the_documented_page_and_the_trace_id() {
    let document = audiences_tests::document();
    let mut documented: BTreeSet<String> =
        document["components"]["schemas"]["AudienceProspectPage"]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
    documented.insert("traceId".to_owned());
    let page = Page {
        items: Vec::new(),
        next_cursor: None,
        has_more: false,
        trace_id: String::new(),
    };
    let fields: BTreeSet<String> = match serde_json::to_value(&page).unwrap() {
        Value::Object(object) => object.keys().cloned().collect(),
        other => panic!("{other}"),
    };
    assert_eq!(fields, documented, "Page must carry every documented property");
}

#[test]
fn the_walk_reads_the_next_cursor_header_the_document_declares() {
    let document = audiences_tests::document();
    let headers = &document["paths"]["/v1/accounts/{accountGroupId}/audiences/{audienceId}/prospects"]["get"]
        ["responses"]["200"]["headers"];
    let declared: Vec<String> = headers
        .as_object()
        .expect("the 200 declares headers")
        .keys()
        .map(|name| name.to_ascii_lowercase())
        .collect();
    assert!(
        declared.contains(&audiences_client::NEXT_CURSOR_HEADER.to_owned()),
        "{declared:?}"
    );
}
