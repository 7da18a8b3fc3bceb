//! [`client_view`]: the view of a normalized document that progenitor
//! accepts, and the operations left out of it.

use std::collections::BTreeMap;

use openapiv3::{
    MediaType, OpenAPI, Operation, ParameterSchemaOrContent, ReferenceOr, Response, Schema, SchemaKind,
    StatusCode, Type,
};

use super::walk::{
    essence, is_form, is_json, is_success, operations_mut, parameter_data_mut, pointer, remove_operations,
};
use crate::report::Skip;
use crate::unsupported::Unsupported;

/// How progenitor classifies a response: by the schema of its JSON body,
/// or as raw bytes, an upgrade, or nothing.
fn response_kind(status: &StatusCode, response: &Response) -> String {
    if let Some(schema) = json_schema(response) {
        // Serializing a schema cannot fail (its maps have string keys).
        return serde_json::to_string(schema).unwrap_or_else(|_| "a JSON body".to_owned());
    }
    if *status == StatusCode::Code(101) {
        "an upgrade".to_owned()
    } else if response.content.is_empty() {
        "no body".to_owned()
    } else {
        "raw bytes".to_owned()
    }
}

/// The schema of a response's JSON body, if it has one.
fn json_schema(response: &Response) -> Option<&ReferenceOr<Schema>> {
    response
        .content
        .iter()
        .find(|(mime, _)| is_json(mime))
        .and_then(|(_, media)| media.schema.as_ref())
}

fn is_error_status(status: &StatusCode) -> bool {
    match status {
        StatusCode::Code(code) => (400..600).contains(code),
        StatusCode::Range(range) => (4..=5).contains(range),
    }
}

/// Adapts one operation to what progenitor 0.15 accepts, or says why it
/// cannot be. Progenitor asserts that an operation's success responses
/// share one kind of body, and so do its error responses (upstream issues
/// #344 and #950), and counts `default` among both.
fn adapt_for_client(operation: &mut Operation, at: &str) -> Result<(), Unsupported> {
    parameter_names_apart(operation, at)?;
    let responses = &mut operation.responses;
    let has_success = responses.responses.keys().any(is_success);
    let has_errors = responses.responses.keys().any(is_error_status);
    if let Some(default) = responses.default.take() {
        if has_success {
            // `default` beside explicit successes: for a client, the errors.
            for class in [4, 5] {
                responses
                    .responses
                    .entry(StatusCode::Range(class))
                    .or_insert_with(|| default.clone());
            }
        } else if has_errors {
            // `default` beside explicit errors only: the success.
            responses.responses.insert(StatusCode::Range(2), default);
        } else {
            responses.default = Some(default);
        }
    }
    // Error responses: the JSON schema most of them use, for all of them
    // (the wire shapes of the documents we know are compatible; the server
    // keeps the distinct types); those without a JSON body are left to
    // progenitor's "unexpected response", which keeps the status.
    let mut counts: BTreeMap<String, (usize, ReferenceOr<Schema>)> = BTreeMap::new();
    for (status, response) in &responses.responses {
        if let (true, ReferenceOr::Item(response)) = (is_error_status(status), response)
            && let Some(schema) = json_schema(response)
        {
            counts
                .entry(response_kind(status, response))
                .or_insert_with(|| (0, schema.clone()))
                .0 += 1;
        }
    }
    if counts.is_empty() {
        // No JSON error body at all: errors without a body, all alike.
        for (status, response) in responses.responses.iter_mut() {
            if is_error_status(status)
                && let ReferenceOr::Item(response) = response
            {
                response.content.clear();
            }
        }
    } else if let Some(common) = counts
        .iter()
        .max_by(|a, b| a.1.0.cmp(&b.1.0).then_with(|| b.0.cmp(a.0)))
        .map(|(_, (_, schema))| schema.clone())
    {
        responses.responses.retain(|status, response| {
            !is_error_status(status)
                || matches!(response, ReferenceOr::Item(response)
                    if response.content.iter().any(|(mime, media)| is_json(mime) && media.schema.is_some()))
        });
        for (status, response) in responses.responses.iter_mut() {
            if is_error_status(status)
                && let ReferenceOr::Item(response) = response
            {
                // One JSON media type (`application/json` first): a second
                // (`application/scim+json`) would be a second error type,
                // which progenitor asserts away.
                response.content.retain(|mime, _| is_json(mime));
                if let Some(keep) = response
                    .content
                    .keys()
                    .position(|mime| essence(mime) == "application/json")
                {
                    response.content.swap_indices(0, keep);
                }
                response.content.truncate(1);
                if let Some(media) = response.content.values_mut().next() {
                    media.schema = Some(common.clone());
                }
            }
        }
    }
    // progenitor matches a range before the codes of its class: a code beside
    // the range of its class is never reached (and warned of). They share
    // the range's schema by now, so the range alone says the same.
    let ranges: Vec<u16> = responses
        .responses
        .keys()
        .filter_map(|status| match status {
            StatusCode::Range(class) => Some(*class),
            StatusCode::Code(_) => None,
        })
        .collect();
    responses.responses.retain(|status, _| match status {
        StatusCode::Code(code) => !ranges.contains(&(code / 100)),
        StatusCode::Range(_) => true,
    });
    // Success responses must share one kind of body.
    let mut kinds = std::collections::BTreeSet::new();
    for (status, response) in &responses.responses {
        if let (true, ReferenceOr::Item(response)) =
            (is_success(status) || *status == StatusCode::Code(101), response)
        {
            kinds.insert(response_kind(status, response));
        }
    }
    if let Some(ReferenceOr::Item(default)) = &responses.default {
        kinds.insert(response_kind(&StatusCode::Range(2), default));
    }
    if kinds.len() > 1 {
        let described: Vec<String> = kinds
            .iter()
            .map(|kind| {
                if kind.starts_with('{') {
                    "a JSON body".to_owned()
                } else {
                    kind.clone()
                }
            })
            .collect();
        return Err(Unsupported::new(
            format!(
                "its success responses differ ({}): progenitor has one success type per operation",
                described.join(", ")
            ),
            format!("{at}/responses"),
        ));
    }
    // A request body in several media types: the one progenitor reads best.
    if let Some(ReferenceOr::Item(body)) = &mut operation.request_body
        && body.content.len() > 1
    {
        let rank = |mime: &str| {
            if is_json(mime) {
                0
            } else if is_form(mime) {
                1
            } else if essence(mime) == "application/octet-stream" {
                2
            } else if essence(mime) == "text/plain" {
                3
            } else {
                4
            }
        };
        if let Some(best) = body.content.keys().min_by_key(|mime| rank(mime)).cloned() {
            body.content.retain(|mime, _| *mime == best);
        }
    }
    if let Some(ReferenceOr::Item(body)) = &mut operation.request_body {
        body.content = body
            .content
            .drain(..)
            .map(|(mime, media)| as_progenitor_reads(mime, media))
            .collect();
    }
    // A response of a JSON media type (`application/vnd.api+json`) is
    // decoded as JSON, not handed over as bytes.
    for response in operation
        .responses
        .responses
        .values_mut()
        .chain(operation.responses.default.iter_mut())
    {
        if let ReferenceOr::Item(response) = response {
            response.content = response
                .content
                .drain(..)
                .map(
                    |(mime, media)| match is_json(&mime) && essence(&mime) != "application/json" {
                        true => ("application/json".to_owned(), media),
                        false => (mime, media),
                    },
                )
                .collect();
        }
    }
    Ok(())
}

/// A request body's media type as progenitor reads it: any JSON media type
/// (`application/vnd.api+json`, say) as `application/json` (the client then
/// sends that name, which a server of a JSON media type reads), and `*/*`
/// as bytes (`application/octet-stream` of a binary string). Others stay.
fn as_progenitor_reads(mime: String, mut media: MediaType) -> (String, MediaType) {
    let essence = essence(&mime);
    if is_json(&mime) && essence != "application/json" {
        return ("application/json".to_owned(), media);
    }
    if essence == "*/*" || essence == "application/octet-stream" {
        media.schema = Some(ReferenceOr::Item(Schema {
            schema_data: Default::default(),
            schema_kind: SchemaKind::Type(Type::String(openapiv3::StringType {
                format: openapiv3::VariantOrUnknownOrEmpty::Item(openapiv3::StringFormat::Binary),
                ..Default::default()
            })),
        }));
        return ("application/octet-stream".to_owned(), media);
    }
    (mime, media)
}

/// Refuses an operation two of whose parameters progenitor would give one
/// Rust name (Twilio's `StartTime`, `StartTime<` and `StartTime>`): it
/// makes both snake case after replacing what cannot be in a name, and
/// writes code that does not compile.
fn parameter_names_apart(operation: &Operation, at: &str) -> Result<(), Unsupported> {
    use heck::ToSnakeCase;
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for parameter in &operation.parameters {
        let ReferenceOr::Item(parameter) = parameter else {
            continue;
        };
        let name = &super::walk::parameter_data(parameter).name;
        let rust = name.replace(|c: char| !c.is_alphanumeric(), "-").to_snake_case();
        if let Some(other) = seen.insert(rust, name) {
            return Err(Unsupported::new(
                format!("its parameters `{other}` and `{name}` have one Rust name in progenitor's client"),
                format!("{at}/parameters"),
            ));
        }
    }
    Ok(())
}

/// An inline parameter schema without its rules (lengths, patterns,
/// bounds, item counts): the client leaves them to the server, whose 400
/// names the parameter, the rule and the value, so that a refusal reads
/// the same whoever checks it. Types (formats, enums) stay.
fn without_rules(schema: &mut Schema) {
    match &mut schema.schema_kind {
        SchemaKind::Type(Type::String(string)) => {
            string.pattern = None;
            string.min_length = None;
            string.max_length = None;
        }
        SchemaKind::Type(Type::Integer(integer)) => {
            integer.minimum = None;
            integer.maximum = None;
            integer.exclusive_minimum = false;
            integer.exclusive_maximum = false;
            integer.multiple_of = None;
        }
        SchemaKind::Type(Type::Number(number)) => {
            number.minimum = None;
            number.maximum = None;
            number.exclusive_minimum = false;
            number.exclusive_maximum = false;
            number.multiple_of = None;
        }
        SchemaKind::Type(Type::Array(array)) => {
            array.min_items = None;
            array.max_items = None;
            if let Some(ReferenceOr::Item(items)) = &mut array.items {
                without_rules(items);
            }
        }
        _ => {}
    }
}

/// The view of a normalized document that progenitor accepts, and the
/// operations left out of it (see [`adapt_for_client`]). Inline parameter
/// rules are left to the server ([`without_rules`]).
pub fn client_view(normalized: &OpenAPI) -> (OpenAPI, Vec<Skip>) {
    let mut view = normalized.clone();
    let mut skipped = Vec::new();
    for (path, method, operation) in operations_mut(&mut view) {
        for parameter in &mut operation.parameters {
            if let ReferenceOr::Item(parameter) = parameter
                && let ParameterSchemaOrContent::Schema(ReferenceOr::Item(schema)) =
                    &mut parameter_data_mut(parameter).format
            {
                without_rules(schema);
                // A parameter is text: it cannot carry JSON's null, so
                // `nullable` says no more than optional (progenitor would
                // make an optional nullable header an `Option<Option<_>>`
                // it cannot write: Box's `x-rep-hints`).
                schema.schema_data.nullable = false;
            }
        }
        let at = pointer(&["paths", &path, &method]);
        if matches!(method.as_str(), "options" | "trace") {
            // progenitor calls a `reqwest::Client` method of that name,
            // which reqwest does not have (Box's `OPTIONS /events`).
            skipped.push(
                Unsupported::new(
                    format!(
                        "progenitor's client cannot send {}: reqwest has no method of that name",
                        method.to_ascii_uppercase()
                    ),
                    at,
                )
                .skip("client", operation, &method, &path),
            );
            continue;
        }
        if let Err(unsupported) = adapt_for_client(operation, &at) {
            skipped.push(unsupported.skip("client", operation, &method, &path));
        }
    }
    remove_operations(&mut view, &skipped);
    (view, skipped)
}
