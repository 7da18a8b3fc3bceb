//! OpenAPI 3.0 schemas as JSON Schema (draft 2020-12), for validators:
//! `nullable` becomes a `null` alternative, and the keywords OpenAPI adds
//! (`example`, `xml`, `externalDocs`, `discriminator`, extensions) go.

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
