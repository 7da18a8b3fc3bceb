//! Helpers of the workspace-level tests: the OpenAPI document as JSON, and
//! its schemas as JSON Schema validators.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

pub mod imports;
pub mod tls;

/// The root of the workspace.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits inside the workspace")
        .to_path_buf()
}

/// The OpenAPI document, parsed from YAML into JSON.
pub fn document() -> Value {
    let path = workspace_root().join("openapi/audiences.yaml");
    let text = std::fs::read_to_string(&path).expect("openapi/audiences.yaml is readable");
    serde_yaml::from_str(&text).expect("openapi/audiences.yaml is valid YAML")
}

/// The documented responses of the one operation, by status.
pub fn responses(document: &Value) -> &Map<String, Value> {
    document["paths"]["/v1/accounts/{accountGroupId}/audiences/{audienceId}/prospects"]["get"]["responses"]
        .as_object()
        .expect("the operation documents its responses")
}

/// The documented example of the response with `status`.
pub fn example(document: &Value, status: &str) -> Value {
    responses(document)[status]["content"]["application/json"]["example"].clone()
}

/// The name of the component schema of the response with `status`.
pub fn schema_name(document: &Value, status: &str) -> String {
    let reference = responses(document)[status]["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .expect("every response body is a $ref to a component");
    reference
        .rsplit('/')
        .next()
        .expect("a reference has a last segment")
        .to_owned()
}

/// Turns an OpenAPI 3.0 schema into JSON Schema (the generator's own conversion).
pub use audiences_server::runtime::json_schema::{schemas_to_json_schema, to_json_schema};

/// A JSON Schema validator for the component schema `name` of `document`.
pub fn validator(document: &Value, name: &str) -> jsonschema::Validator {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{name}"),
        "components": { "schemas": schemas_to_json_schema(&document["components"]["schemas"]) },
    });
    jsonschema::validator_for(&schema).expect("the document's schemas are valid JSON Schema")
}

/// The validation errors of `instance` against the component `name`, as text.
pub fn schema_errors(document: &Value, name: &str, instance: &Value) -> Vec<String> {
    validator(document, name)
        .iter_errors(instance)
        .map(|error| format!("{} at {}", error, error.instance_path))
        .collect()
}

/// The examples of the seed page (`openapi/seed/`, the source the document
/// was written from), as `(status, schema name, example)`.
pub fn seed_examples() -> Vec<(String, String, Value)> {
    let path = workspace_root().join("openapi/seed/list-prospects-in-an-audience.txt");
    let text = std::fs::read_to_string(&path).expect("the seed page is readable");
    let mut examples = Vec::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find(" Example JSON") {
        let status_start = rest[..at].rfind('\n').map_or(0, |newline| newline + 1);
        let status = rest[status_start..at].trim().to_owned();
        let after = &rest[at + " Example JSON".len()..];
        let line_end = after.find('\n').unwrap_or(after.len());
        let schema = after[..line_end].trim().to_owned();
        let json_text = &after[line_end..];
        let mut stream = serde_json::Deserializer::from_str(json_text).into_iter::<Value>();
        let example = stream
            .next()
            .expect("an example follows its heading")
            .expect("the seed's example is JSON");
        let consumed = stream.byte_offset();
        examples.push((status, schema, example));
        rest = &json_text[consumed..];
    }
    examples
}
