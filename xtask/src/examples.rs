//! The documented examples of responses, checked at generation against
//! their schemas (JSON Schema, converted from OpenAPI 3.0), so that
//! `MockApi::from_examples` only ever serves an example that fits.

use openapiv3::{MediaType, OpenAPI, ReferenceOr};
use serde_json::{Map, Value, json};

/// Turns an OpenAPI 3.0 schema into JSON Schema (draft 2020-12): `nullable`
/// becomes a `null` alternative, and OpenAPI-only keywords go.
pub fn to_json_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(object) => {
            let mut converted = Map::new();
            for (key, value) in object {
                match key.as_str() {
                    "nullable" | "example" | "xml" | "externalDocs" | "discriminator" => {}
                    key if key.starts_with("x-") => {}
                    _ => {
                        converted.insert(key.clone(), to_json_schema(value));
                    }
                }
            }
            let composed = ["allOf", "anyOf", "oneOf", "$ref"]
                .iter()
                .any(|key| converted.contains_key(*key));
            if object.get("nullable") == Some(&Value::Bool(true)) {
                if let (false, Some(Value::String(kind))) = (composed, converted.get("type").cloned()) {
                    converted.insert("type".into(), json!([kind, "null"]));
                    if let Some(Value::Array(values)) = converted.get_mut("enum") {
                        values.push(Value::Null);
                    }
                    Value::Object(converted)
                } else {
                    json!({ "anyOf": [Value::Object(converted), { "type": "null" }] })
                }
            } else {
                Value::Object(converted)
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(to_json_schema).collect()),
        other => other.clone(),
    }
}

/// The example a media type documents: `example`, else the first of
/// `examples`, else the `example` of its inline schema.
pub fn of_media(media: &MediaType) -> Option<Value> {
    if let Some(example) = &media.example {
        return Some(example.clone());
    }
    if let Some(value) = media
        .examples
        .values()
        .find_map(|example| example.as_item().and_then(|example| example.value.clone()))
    {
        return Some(value);
    }
    match &media.schema {
        Some(ReferenceOr::Item(schema)) => schema.schema_data.example.clone(),
        _ => None,
    }
}

/// Why `example` does not fit `schema` (an OpenAPI schema or reference of
/// `document`), or `None` when it fits.
pub fn violation(
    document: &OpenAPI,
    schema: &ReferenceOr<openapiv3::Schema>,
    example: &Value,
) -> Option<String> {
    let components = document
        .components
        .as_ref()
        .map(|components| serde_json::to_value(&components.schemas).unwrap_or(Value::Null))
        .unwrap_or(json!({}));
    let mut root = match to_json_schema(&serde_json::to_value(schema).unwrap_or(Value::Null)) {
        Value::Object(object) => object,
        _ => Map::new(),
    };
    root.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    root.insert(
        "components".into(),
        json!({ "schemas": to_json_schema(&components) }),
    );
    let validator = match jsonschema::validator_for(&Value::Object(root)) {
        Ok(validator) => validator,
        Err(error) => return Some(format!("its schema is not valid JSON Schema: {error}")),
    };
    let errors: Vec<String> = validator
        .iter_errors(example)
        .take(3)
        .map(|error| format!("{error} at `{}`", error.instance_path))
        .collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}
