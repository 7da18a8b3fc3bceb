//! Reading both documents: references followed, schemas unwrapped, types,
//! enum values, bounds and security as the comparison needs them.

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde_json::Value;

/// Follows local `$ref`s (`#/components/...`), at most 32 deep.
pub(crate) fn resolve<'v>(document: &'v Value, mut value: &'v Value) -> &'v Value {
    for _ in 0..32 {
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
            return value;
        };
        let Some(pointer) = reference.strip_prefix('#') else {
            return value;
        };
        match document.pointer(pointer) {
            Some(target) => value = target,
            None => return value,
        }
    }
    value
}

/// A schema with its `allOf` branches merged into it (its own keywords
/// first: the document's nullable-reference idiom `allOf: [one]` beside
/// `nullable`, and `allOf` beside `properties` alike), and whether it is
/// nullable (its own `nullable`, or every branch's).
pub(crate) fn unwrap_schema<'v>(document: &'v Value, schema: &'v Value) -> (Cow<'v, Value>, bool) {
    unwrap_at(document, schema, 0)
}

fn unwrap_at<'v>(document: &'v Value, schema: &'v Value, depth: usize) -> (Cow<'v, Value>, bool) {
    let schema = resolve(document, schema);
    let nullable = schema.get("nullable").and_then(Value::as_bool).unwrap_or(false)
        || schema
            .get("type")
            .and_then(Value::as_array)
            .is_some_and(|types| types.iter().any(|item| item == "null"));
    let Some(branches) = schema
        .get("allOf")
        .and_then(Value::as_array)
        .filter(|_| depth < 16)
    else {
        return (Cow::Borrowed(schema), nullable);
    };
    let Value::Object(own) = schema else {
        return (Cow::Borrowed(schema), nullable);
    };
    let mut merged = own.clone();
    merged.remove("allOf");
    let mut every_branch_nullable = !branches.is_empty();
    for branch in branches {
        let (branch, branch_nullable) = unwrap_at(document, branch, depth + 1);
        every_branch_nullable &= branch_nullable;
        let Value::Object(branch) = branch.into_owned() else {
            continue;
        };
        for (key, value) in branch {
            match (key.as_str(), merged.get_mut(&key)) {
                ("properties", Some(Value::Object(properties))) => {
                    if let Value::Object(more) = value {
                        for (name, property) in more {
                            properties.entry(name).or_insert(property);
                        }
                    }
                }
                ("required", Some(Value::Array(required))) => {
                    for name in value.as_array().into_iter().flatten() {
                        if !required.contains(name) {
                            required.push(name.clone());
                        }
                    }
                }
                ("nullable", _) => {}
                (_, Some(_)) => {}
                (_, None) => {
                    merged.insert(key, value);
                }
            }
        }
    }
    merged.remove("nullable");
    (
        Cow::Owned(Value::Object(merged)),
        nullable || every_branch_nullable,
    )
}

/// The schema's type (`None`: any), the one non-null member of a 3.1 type
/// list, or what `properties`/`items` imply.
pub(crate) fn type_of(schema: &Value) -> Option<&str> {
    if let Some(types) = schema.get("type").and_then(Value::as_array) {
        let mut concrete = types
            .iter()
            .filter_map(Value::as_str)
            .filter(|item| *item != "null");
        return match (concrete.next(), concrete.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        };
    }
    schema.get("type").and_then(Value::as_str).or_else(|| {
        if schema.get("properties").is_some() {
            Some("object")
        } else if schema.get("items").is_some() {
            Some("array")
        } else {
            None
        }
    })
}

pub(crate) fn strings(value: Option<&Value>) -> BTreeSet<String> {
    value
        .and_then(Value::as_array)
        .map(|items| items.iter().map(|item| item.to_string()).collect())
        .unwrap_or_default()
}

pub(crate) fn number(schema: &Value, key: &str) -> Option<f64> {
    schema.get(key).and_then(Value::as_f64)
}

pub(crate) fn security_of(document: &Value, operation: &Value) -> Value {
    operation
        .get("security")
        .or_else(|| document.get("security"))
        .cloned()
        .unwrap_or(Value::Array(Vec::new()))
}

pub(crate) fn join(values: &[&String]) -> String {
    values
        .iter()
        .map(|value| value.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Path templates compared by shape: `/a/{x}` and `/a/{y}` are one path.
pub(crate) fn path_shape(path: &str) -> String {
    path.split('/')
        .map(|segment| if segment.starts_with('{') { "{}" } else { segment })
        .collect::<Vec<_>>()
        .join("/")
}

pub(crate) fn label(method: &str, path: &str, operation: &Value) -> String {
    match operation.get("operationId").and_then(Value::as_str) {
        Some(id) => format!("{} {path} ({id})", method.to_ascii_uppercase()),
        None => format!("{} {path}", method.to_ascii_uppercase()),
    }
}

/// The branches of a composition keyword (`allOf`, `oneOf`, `anyOf`), each
/// with an identity for matching: its `$ref`, its `title`, or `#index`.
/// A schema that is a `$ref` and has no `allOf` counts as `allOf: [ref]`, so
/// the document's nullable-reference idiom is not a branch added.
pub(crate) fn branches<'v>(schema: &'v Value, key: &str) -> Vec<(String, &'v Value)> {
    match schema.get(key).and_then(Value::as_array) {
        Some(items) => items
            .iter()
            .enumerate()
            .map(|(index, branch)| {
                let identity = branch
                    .get("$ref")
                    .or_else(|| branch.get("title"))
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("#{index}"), str::to_owned);
                (identity, branch)
            })
            .collect(),
        None if key == "allOf" => schema
            .get("$ref")
            .and_then(Value::as_str)
            .map(|reference| vec![(reference.to_owned(), schema)])
            .unwrap_or_default(),
        None => Vec::new(),
    }
}

/// A media type's (type, subtype, suffix), parameters dropped.
fn media_parts(media: &str) -> (String, String, String) {
    let media = media.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let (kind, subtype) = media.split_once('/').unwrap_or((media.as_str(), ""));
    let (subtype, suffix) = subtype.split_once('+').unwrap_or((subtype, ""));
    (kind.to_owned(), subtype.to_owned(), suffix.to_owned())
}

/// Whether `special` refines `general`: `application/problem+json` refines
/// `application/json` (oasdiff's rule); parameters are ignored.
pub(crate) fn media_refines(general: &str, special: &str) -> bool {
    let (general, special) = (media_parts(general), media_parts(special));
    general.0 == special.0 && general.2.is_empty() && !special.2.is_empty() && special.2 == general.1
}
