//! OpenAPI 3.0 schemas as JSON Schema (draft 2020-12), for validators:
//! `nullable` becomes a `null` alternative, the boolean
//! `exclusiveMinimum`/`exclusiveMaximum` become draft 2020-12's numeric
//! ones, and the keywords OpenAPI adds (`example`, `xml`, `externalDocs`,
//! `discriminator`, `readOnly`'s companions, extensions) go.
//!
//! A discriminated `oneOf` (or `anyOf`) becomes one condition per branch
//! ([`discriminate`]): a value is checked against the branch its
//! discriminator names, so that a refusal names the rule that value broke
//! (`/radius (minimum 0)`), not only that no branch matched.
//!
//! The conversion knows where schemas are: the names under `properties`
//! are kept whatever they are called (a property may be called `nullable`
//! or `example`), and values (`enum`, `default`) are copied as they are.

use serde_json::{Map, Value, json};

/// Turns an OpenAPI 3.0 schema into JSON Schema (draft 2020-12).
pub fn to_json_schema(schema: &Value) -> Value {
    let Value::Object(object) = schema else {
        // `true`/`false` schemas, or what is not a schema: as it is.
        return schema.clone();
    };
    let mut converted = Map::new();
    for (key, value) in object {
        match key.as_str() {
            "nullable" | "example" | "xml" | "externalDocs" | "deprecated" | "exclusiveMinimum"
            | "exclusiveMaximum" => {}
            key if key.starts_with("x-") => {}
            "properties" | "patternProperties" => {
                converted.insert(key.to_owned(), schemas_to_json_schema(value));
            }
            "items" | "additionalProperties" | "not" => {
                converted.insert(key.to_owned(), to_json_schema(value));
            }
            "allOf" | "anyOf" | "oneOf" => {
                let branches = match value {
                    Value::Array(branches) => Value::Array(branches.iter().map(to_json_schema).collect()),
                    other => other.clone(),
                };
                converted.insert(key.to_owned(), branches);
            }
            "minimum" | "maximum" | "multipleOf" => {
                converted.insert(key.clone(), whole(value));
            }
            _ => {
                converted.insert(key.clone(), value.clone());
            }
        }
    }
    // OpenAPI 3.0's exclusive bounds are flags on `minimum`/`maximum`;
    // draft 2020-12's are bounds of their own.
    for (flag, bound) in [("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")] {
        match object.get(flag) {
            Some(Value::Bool(true)) => {
                if let Some(limit) = converted.remove(bound) {
                    converted.insert(flag.to_owned(), limit);
                }
            }
            // A numeric bound (as a 3.1 document writes it) stays.
            Some(limit @ Value::Number(_)) => {
                converted.insert(flag.to_owned(), whole(limit));
            }
            _ => {}
        }
    }
    if object.get("nullable") != Some(&Value::Bool(true)) {
        return Value::Object(converted);
    }
    let composed = ["allOf", "anyOf", "oneOf", "$ref"]
        .iter()
        .any(|key| converted.contains_key(*key));
    match (composed, converted.get("type").cloned()) {
        (false, Some(Value::String(kind))) => {
            converted.insert("type".into(), json!([kind, "null"]));
            if let Some(Value::Array(values)) = converted.get_mut("enum")
                && !values.contains(&Value::Null)
            {
                values.push(Value::Null);
            }
            Value::Object(converted)
        }
        _ => json!({ "anyOf": [Value::Object(converted), { "type": "null" }] }),
    }
}

/// A bound as the document wrote it: a whole number read as a float
/// (`0.0`, as OpenAPI libraries read `minimum: 0`) is an integer again, so
/// that a refusal names the limit as written.
fn whole(limit: &Value) -> Value {
    match limit.as_f64() {
        Some(float) if limit.is_f64() && float.fract() == 0.0 && float.abs() < 9.0e15 => {
            #[allow(clippy::cast_possible_truncation, reason = "a whole number below 2^53")]
            let integer = float as i64;
            Value::from(integer)
        }
        _ => limit.clone(),
    }
}

/// Turns a map of named OpenAPI 3.0 schemas (`components.schemas`,
/// `properties`) into JSON Schema, keeping every name.
pub fn schemas_to_json_schema(schemas: &Value) -> Value {
    match schemas {
        Value::Object(named) => Value::Object(
            named
                .iter()
                .map(|(name, schema)| (name.clone(), to_json_schema(schema)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Rewrites every discriminated `oneOf`/`anyOf` of `schema` (converted by
/// [`to_json_schema`]) into conditions, resolving branches in `components`
/// (`{"schemas": {…}}`): the discriminator property is required and one of
/// the branches' values, and a value whose property names a branch is
/// checked against that branch. A branch's values are those of the
/// discriminator's `mapping` that point at it, else the `enum` or `const`
/// of its property, else (a reference) the component's name. A union whose
/// branches' values cannot all be found stays as it is; the
/// `discriminator` keyword goes either way.
pub fn discriminate(schema: &mut Value, components: &Value) {
    match schema {
        Value::Object(object) => {
            if let Some(discriminator) = object.remove("discriminator")
                && let Some(property) = discriminator.get("propertyName").and_then(Value::as_str)
            {
                for union in ["oneOf", "anyOf"] {
                    let Some(Value::Array(branches)) = object.get(union) else {
                        continue;
                    };
                    let Some(conditions) = conditions(branches, property, &discriminator, components) else {
                        continue;
                    };
                    object.remove(union);
                    let mut all = match object.remove("allOf") {
                        Some(Value::Array(all)) => all,
                        _ => Vec::new(),
                    };
                    all.extend(conditions);
                    object.insert("allOf".into(), Value::Array(all));
                    break;
                }
            }
            for value in object.values_mut() {
                discriminate(value, components);
            }
        }
        Value::Array(items) => {
            for item in items {
                discriminate(item, components);
            }
        }
        _ => {}
    }
}

/// The conditions of a discriminated union, or `None` when a branch's
/// values cannot be found.
fn conditions(
    branches: &[Value],
    property: &str,
    discriminator: &Value,
    components: &Value,
) -> Option<Vec<Value>> {
    let mut every = Vec::new();
    let mut conditions = Vec::new();
    for branch in branches {
        let values = branch_values(branch, property, discriminator, components);
        if values.is_empty() {
            return None;
        }
        every.extend(values.iter().cloned());
        conditions.push(json!({
            "if": { "required": [property], "properties": { property: { "enum": values } } },
            "then": branch,
        }));
    }
    let mut all = vec![json!({ "required": [property], "properties": { property: { "enum": every } } })];
    all.extend(conditions);
    Some(all)
}

/// The discriminator values that select `branch`.
fn branch_values(branch: &Value, property: &str, discriminator: &Value, components: &Value) -> Vec<Value> {
    let reference = branch.get("$ref").and_then(Value::as_str);
    let name = reference.and_then(|reference| reference.strip_prefix("#/components/schemas/"));
    if let (Some(reference), Some(Value::Object(mapping))) = (reference, discriminator.get("mapping")) {
        let mapped: Vec<Value> = mapping
            .iter()
            .filter(|(_, target)| {
                target
                    .as_str()
                    .is_some_and(|target| target == reference || Some(target) == name)
            })
            .map(|(value, _)| Value::from(value.as_str()))
            .collect();
        if !mapped.is_empty() {
            return mapped;
        }
    }
    let declared = property_values(branch, property, components, 0);
    if !declared.is_empty() {
        return declared;
    }
    name.map(|name| vec![Value::from(name)]).unwrap_or_default()
}

/// The `enum` or `const` of `property` in `schema`, through references and
/// `allOf`.
fn property_values(schema: &Value, property: &str, components: &Value, depth: usize) -> Vec<Value> {
    if depth > 8 {
        return Vec::new();
    }
    if let Some(name) = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|reference| reference.strip_prefix("#/components/schemas/"))
    {
        return components
            .get("schemas")
            .and_then(|schemas| schemas.get(name))
            .map(|target| property_values(target, property, components, depth + 1))
            .unwrap_or_default();
    }
    if let Some(declared) = schema
        .get("properties")
        .and_then(|properties| properties.get(property))
    {
        if let Some(Value::Array(values)) = declared.get("enum") {
            return values.iter().filter(|value| !value.is_null()).cloned().collect();
        }
        if let Some(value) = declared.get("const") {
            return vec![value.clone()];
        }
    }
    match schema.get("allOf") {
        Some(Value::Array(parts)) => parts
            .iter()
            .flat_map(|part| property_values(part, property, components, depth + 1))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{discriminate, to_json_schema};

    #[test]
    fn a_discriminated_union_checks_the_branch_its_value_names() {
        let components = json!({ "schemas": {
            "Circle": { "type": "object", "properties": { "kind": { "enum": ["circle"] }, "radius": { "minimum": 0 } } },
            "Square": { "type": "object", "properties": { "side": { "minimum": 0 } } }
        }});
        let mut shape = json!({
            "oneOf": [{ "$ref": "#/components/schemas/Circle" }, { "$ref": "#/components/schemas/Square" }],
            "discriminator": { "propertyName": "kind", "mapping": { "box": "#/components/schemas/Square" } }
        });
        discriminate(&mut shape, &components);
        let root = json!({ "$ref": "#/$defs/shape", "$defs": { "shape": shape }, "components": components });
        let validator = jsonschema::validator_for(&root).unwrap();
        let rules = |value| -> Vec<String> {
            validator
                .iter_errors(&value)
                .map(|error| {
                    format!(
                        "{} {}",
                        error.instance_path,
                        error.schema_path.as_str().rsplit('/').next().unwrap()
                    )
                })
                .collect()
        };
        assert_eq!(
            rules(json!({ "kind": "circle", "radius": -1 })),
            ["/radius minimum"]
        );
        assert_eq!(rules(json!({ "kind": "box", "side": -1 })), ["/side minimum"]);
        assert!(rules(json!({ "kind": "box", "side": 1 })).is_empty());
        assert_eq!(rules(json!({ "kind": "cube" })), ["/kind enum"]);
        assert_eq!(rules(json!({ "side": 1 })), [" required"]);
    }

    #[test]
    fn a_union_whose_values_are_unknown_stays_a_union() {
        let mut union = json!({
            "oneOf": [{ "type": "object" }, { "type": "string" }],
            "discriminator": { "propertyName": "kind" }
        });
        discriminate(&mut union, &json!({}));
        assert_eq!(
            union,
            json!({ "oneOf": [{ "type": "object" }, { "type": "string" }] })
        );
    }

    #[test]
    fn exclusive_bounds_become_draft_2020_bounds() {
        assert_eq!(
            to_json_schema(&json!({ "type": "number", "minimum": 0, "exclusiveMinimum": true })),
            json!({ "type": "number", "exclusiveMinimum": 0 })
        );
        assert_eq!(
            to_json_schema(&json!({ "type": "number", "maximum": 9, "exclusiveMaximum": false })),
            json!({ "type": "number", "maximum": 9 })
        );
    }

    #[test]
    fn property_names_are_kept_whatever_they_are_called() {
        let schema = json!({
            "type": "object",
            "properties": {
                "nullable": { "type": "boolean" },
                "example": { "type": "string", "nullable": true, "enum": ["a"] },
                "x-id": { "type": "integer" }
            },
            "example": { "nullable": true },
            "enum": [{ "example": 1 }]
        });
        assert_eq!(
            to_json_schema(&schema),
            json!({
                "type": "object",
                "properties": {
                    "nullable": { "type": "boolean" },
                    "example": { "type": ["string", "null"], "enum": ["a", null] },
                    "x-id": { "type": "integer" }
                },
                "enum": [{ "example": 1 }]
            })
        );
    }

    #[test]
    fn nullable_compositions_take_a_null_alternative() {
        assert_eq!(
            to_json_schema(&json!({ "nullable": true, "allOf": [{ "$ref": "#/components/schemas/A" }] })),
            json!({ "anyOf": [{ "allOf": [{ "$ref": "#/components/schemas/A" }] }, { "type": "null" }] })
        );
    }
}
