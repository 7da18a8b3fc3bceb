//! The contract: every documented example decodes into the generated type,
//! encodes back to the same JSON, and validates against the document's
//! schema; the schemars schema of each envelope type is snapshotted.

use audiences_tests::{document, example, schema_errors, schema_name};
use audiences_types::{AudienceProspectListSuccessResponse, ErrorResponse, ValidationErrorResponse};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Every documented status and the schema the seed names for it.
const DOCUMENTED: &[(&str, &str)] = &[
    ("200", "AudienceProspectListSuccessResponse"),
    ("400", "ValidationErrorResponse"),
    ("401", "ErrorResponse"),
    ("403", "ErrorResponse"),
    ("404", "ErrorResponse"),
    ("409", "ErrorResponse"),
    ("429", "ErrorResponse"),
    ("500", "ErrorResponse"),
    ("502", "ErrorResponse"),
];

fn round_trip<T: DeserializeOwned + Serialize>(example: &Value) -> Value {
    let typed: T = serde_json::from_value(example.clone())
        .unwrap_or_else(|error| panic!("the example does not decode: {error}\n{example:#}"));
    serde_json::to_value(&typed).expect("a generated type serializes")
}

#[test]
fn the_document_lists_the_seeds_nine_responses_with_their_schemas() {
    let document = document();
    let statuses: Vec<&String> = audiences_tests::responses(&document).keys().collect();
    let expected: Vec<&str> = DOCUMENTED.iter().map(|(status, _)| *status).collect();
    assert_eq!(statuses, expected);
    for (status, schema) in DOCUMENTED {
        assert_eq!(schema_name(&document, status), *schema, "schema of {status}");
    }
}

#[test]
fn the_documents_examples_are_the_seeds_value_for_value() {
    let document = document();
    let seed = audiences_tests::seed_examples();
    assert_eq!(seed.len(), DOCUMENTED.len(), "the seed page has nine examples");
    for (status, schema, seed_example) in seed {
        assert_eq!(schema_name(&document, &status), schema, "schema of {status}");
        assert_eq!(example(&document, &status), seed_example, "example of {status}");
    }
}

#[test]
fn every_example_round_trips_through_its_generated_type() {
    let document = document();
    for (status, schema) in DOCUMENTED {
        let example = example(&document, status);
        assert!(example.is_object(), "{status} has an example");
        let encoded = match *schema {
            "AudienceProspectListSuccessResponse" => {
                round_trip::<AudienceProspectListSuccessResponse>(&example)
            }
            "ValidationErrorResponse" => round_trip::<ValidationErrorResponse>(&example),
            _ => round_trip::<ErrorResponse>(&example),
        };
        assert_eq!(encoded, example, "{status} {schema} round trip");
        insta::assert_json_snapshot!(format!("example_{status}"), encoded);
    }
}

#[test]
fn every_example_validates_against_the_documents_schema() {
    let document = document();
    for (status, schema) in DOCUMENTED {
        let errors = schema_errors(&document, schema, &example(&document, status));
        assert!(
            errors.is_empty(),
            "{status} example against {schema}: {errors:#?}"
        );
    }
}

#[test]
fn a_schema_edit_that_breaks_an_example_is_caught() {
    let mut document = document();
    document["components"]["schemas"]["ProspectCompany"]["properties"]["followerCount"]["type"] =
        Value::String("string".into());
    let errors = schema_errors(
        &document,
        "AudienceProspectListSuccessResponse",
        &example(&document, "200"),
    );
    assert!(
        errors.iter().any(|error| error.contains("followerCount")),
        "followerCount as a string must reject the example: {errors:#?}"
    );

    let mut document = audiences_tests::document();
    document["components"]["schemas"]["AudienceProspectPage"]["required"]
        .as_array_mut()
        .expect("required is a list")
        .push(Value::String("total".into()));
    let errors = schema_errors(
        &document,
        "AudienceProspectListSuccessResponse",
        &example(&document, "200"),
    );
    assert!(
        !errors.is_empty(),
        "a new required property must reject the example"
    );
}

#[test]
fn the_schemars_schemas_of_the_envelopes_are_stable() {
    insta::assert_json_snapshot!(
        "schema_AudienceProspectListSuccessResponse",
        schemars::schema_for!(AudienceProspectListSuccessResponse)
    );
    insta::assert_json_snapshot!(
        "schema_ValidationErrorResponse",
        schemars::schema_for!(ValidationErrorResponse)
    );
    insta::assert_json_snapshot!("schema_ErrorResponse", schemars::schema_for!(ErrorResponse));
}
