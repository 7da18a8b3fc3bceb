//! Walking a document: its operations, references, media types and JSON
//! pointers, shared by normalization, the views and the generators.

use openapiv3::{Components, MediaType, OpenAPI, Operation, Parameter, ReferenceOr, StatusCode};

use crate::error::{Error, ErrorKind, Result};
use crate::report::Skip;

/// The name of the component a `#/components/<kind>/<name>` reference points at.
/// A reference of another form (to another file, or into a schema) is
/// refused: the generators name every type after its component.
pub fn ref_name<'a>(reference: &'a str, kind: &str) -> Result<&'a str> {
    reference
        .strip_prefix("#/components/")
        .and_then(|rest| rest.strip_prefix(kind))
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|name| !name.is_empty() && !name.contains('/'))
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Invalid,
                format!("unsupported reference `{reference}`: expected #/components/{kind}/<name>"),
            )
        })
}

/// What a parameter, body, response or header reference points at (through
/// references to references, at most 16).
pub(crate) fn resolve<'a, T>(
    item: &'a ReferenceOr<T>,
    kind: &str,
    table: impl Fn(&'a Components) -> &'a indexmap::IndexMap<String, ReferenceOr<T>>,
    components: Option<&'a Components>,
) -> Result<&'a T> {
    let mut current = item;
    for _ in 0..16 {
        match current {
            ReferenceOr::Item(value) => return Ok(value),
            ReferenceOr::Reference { reference } => {
                let name = ref_name(reference, kind)?;
                current = components
                    .map(&table)
                    .and_then(|entries| entries.get(name))
                    .ok_or_else(|| Error::new(ErrorKind::Invalid, format!("`{reference}` does not exist")))?;
            }
        }
    }
    Err(Error::new(
        ErrorKind::Invalid,
        format!("reference cycle through {kind}"),
    ))
}

/// Every operation of the document, as `(path, method, operation)`.
pub fn operations(document: &OpenAPI) -> Vec<(&str, &str, &Operation)> {
    document
        .paths
        .iter()
        .filter_map(|(path, item)| item.as_item().map(|item| (path.as_str(), item)))
        .flat_map(|(path, item)| item.iter().map(move |(method, op)| (path, method, op)))
        .collect()
}

/// Every operation of the document, mutable, with the path's own
/// parameters moved into each of its operations.
pub(crate) fn operations_mut(document: &mut OpenAPI) -> Vec<(String, String, &mut Operation)> {
    let mut found = Vec::new();
    for (path, item) in document.paths.paths.iter_mut() {
        let ReferenceOr::Item(item) = item else { continue };
        let shared = item.parameters.clone();
        for (method, operation) in [
            ("get", &mut item.get),
            ("put", &mut item.put),
            ("post", &mut item.post),
            ("delete", &mut item.delete),
            ("options", &mut item.options),
            ("head", &mut item.head),
            ("patch", &mut item.patch),
            ("trace", &mut item.trace),
        ] {
            let Some(operation) = operation.as_mut() else {
                continue;
            };
            // Path-level parameters apply to every operation of the path.
            let mut merged = shared.clone();
            merged.append(&mut operation.parameters);
            operation.parameters = merged;
            found.push((path.clone(), method.to_owned(), operation));
        }
        item.parameters.clear();
    }
    found
}

/// Whether a media type is JSON: `application/json`, `application/*+json`,
/// with or without parameters such as `charset=utf-8`.
pub fn is_json(mime: &str) -> bool {
    let essence = essence(mime);
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Whether a media type is `application/x-www-form-urlencoded`.
pub fn is_form(mime: &str) -> bool {
    essence(mime) == "application/x-www-form-urlencoded"
}

/// A media type without parameters, lowercased.
pub fn essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// The operation id an operation without one gets: its method and path in
/// snake case (`get /v1/users/{id}` is `get_v1_users_id`).
pub fn synthetic_operation_id(method: &str, path: &str) -> String {
    use heck::ToSnakeCase;
    format!("{method} {path}").to_snake_case()
}

/// A parameter's location and name (header names compare without case).
pub(crate) fn parameter_key(parameter: &Parameter) -> (&'static str, String) {
    let location = match parameter {
        Parameter::Query { .. } => "query",
        Parameter::Header { .. } => "header",
        Parameter::Path { .. } => "path",
        Parameter::Cookie { .. } => "cookie",
    };
    let name = &parameter_data(parameter).name;
    let name = if location == "header" {
        name.to_ascii_lowercase()
    } else {
        name.clone()
    };
    (location, name)
}

/// A status as it names things: `200`, `4xx`.
pub(crate) fn status_label(status: &StatusCode) -> String {
    match status {
        StatusCode::Code(code) => code.to_string(),
        StatusCode::Range(range) => format!("{range}xx"),
    }
}

/// The parameter data of any kind of parameter.
pub fn parameter_data(parameter: &Parameter) -> &openapiv3::ParameterData {
    match parameter {
        Parameter::Query { parameter_data, .. }
        | Parameter::Header { parameter_data, .. }
        | Parameter::Path { parameter_data, .. }
        | Parameter::Cookie { parameter_data, .. } => parameter_data,
    }
}

/// The parameter data of any kind of parameter, mutable.
pub(crate) fn parameter_data_mut(parameter: &mut Parameter) -> &mut openapiv3::ParameterData {
    match parameter {
        Parameter::Query { parameter_data, .. }
        | Parameter::Header { parameter_data, .. }
        | Parameter::Path { parameter_data, .. }
        | Parameter::Cookie { parameter_data, .. } => parameter_data,
    }
}

/// A JSON pointer into the document: `#/paths/~1v1~1users/get/responses`.
pub fn pointer(segments: &[&str]) -> String {
    let mut text = String::from("#");
    for segment in segments {
        text.push('/');
        text.push_str(&segment.replace('~', "~0").replace('/', "~1"));
    }
    text
}

/// Whether every request and response body of an operation is JSON (or
/// absent), with no protocol upgrade.
pub fn is_json_only(operation: &Operation) -> bool {
    let json_content =
        |content: &indexmap::IndexMap<String, MediaType>| content.keys().all(|mime| is_json(mime));
    let body_ok = match &operation.request_body {
        Some(ReferenceOr::Item(body)) => json_content(&body.content),
        _ => true,
    };
    body_ok
        && operation
            .responses
            .responses
            .iter()
            .map(|(status, response)| (Some(status), response))
            .chain(
                operation
                    .responses
                    .default
                    .iter()
                    .map(|response| (None, response)),
            )
            .all(|(status, response)| {
                status != Some(&StatusCode::Code(101))
                    && match response {
                        ReferenceOr::Item(response) => json_content(&response.content),
                        ReferenceOr::Reference { .. } => true,
                    }
            })
}

/// Removes the operations of `skipped` from a document.
pub fn remove_operations(document: &mut OpenAPI, skipped: &[Skip]) {
    retain_operations(document, |id| !skipped.iter().any(|skip| skip.operation == id));
}

/// Keeps the operations whose id `keep` accepts, and the paths that still
/// hold one.
pub fn retain_operations(document: &mut OpenAPI, keep: impl Fn(&str) -> bool) {
    for (_, item) in document.paths.paths.iter_mut() {
        let ReferenceOr::Item(item) = item else { continue };
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ] {
            if operation
                .as_ref()
                .is_some_and(|operation| !keep(operation.operation_id.as_deref().unwrap_or_default()))
            {
                *operation = None;
            }
        }
    }
    document.paths.paths.retain(|_, item| match item {
        ReferenceOr::Item(item) => item.iter().next().is_some(),
        ReferenceOr::Reference { .. } => true,
    });
}

/// Whether a status is 2xx.
pub fn is_success(status: &StatusCode) -> bool {
    match status {
        StatusCode::Code(code) => (200..300).contains(code),
        StatusCode::Range(range) => *range == 2,
    }
}

/// A copy of the document with its components only: the input of the types crate.
pub fn components_only(normalized: &OpenAPI) -> OpenAPI {
    let mut copy = normalized.clone();
    copy.paths = Default::default();
    copy
}
