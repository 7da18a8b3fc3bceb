//! Reading the OpenAPI document and the views of it the generators need.
//!
//! [`normalize`] turns the hand-written document into one where every
//! parameter, request body, response and header is inline and every schema
//! that needs a Rust name is a component, so the types crate holds every type
//! and client and server share them. [`client_view`] then adapts that to what
//! progenitor accepts.

use std::collections::BTreeMap;
use std::path::Path;

use heck::ToUpperCamelCase;
use openapiv3::{
    Components, Header, MediaType, OpenAPI, Operation, Parameter, ParameterSchemaOrContent, ReferenceOr,
    RequestBody, Response, Schema, SchemaKind, StatusCode, Type,
};

/// Reads a YAML (or JSON) OpenAPI 3.0.x document.
pub fn load(path: &Path) -> Result<OpenAPI, String> {
    let text =
        std::fs::read_to_string(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let document: OpenAPI = serde_yaml::from_str(&text)
        .map_err(|error| format!("{} is not a valid OpenAPI document: {error}", path.display()))?;
    if !document.openapi.starts_with("3.0.") {
        return Err(format!(
            "{}: openapi {} is not supported; write OpenAPI 3.0.x (progenitor reads only 3.0)",
            path.display(),
            document.openapi
        ));
    }
    Ok(document)
}

/// The name of the component a `#/components/<kind>/<name>` reference points at.
pub fn ref_name<'a>(reference: &'a str, kind: &str) -> Result<&'a str, String> {
    reference
        .strip_prefix("#/components/")
        .and_then(|rest| rest.strip_prefix(kind))
        .and_then(|rest| rest.strip_prefix('/'))
        .ok_or_else(|| format!("unsupported reference `{reference}`: expected #/components/{kind}/<name>"))
}

fn resolve<'a, T>(
    item: &'a ReferenceOr<T>,
    kind: &str,
    table: impl Fn(&'a Components) -> &'a indexmap::IndexMap<String, ReferenceOr<T>>,
    components: Option<&'a Components>,
) -> Result<&'a T, String> {
    let mut current = item;
    for _ in 0..16 {
        match current {
            ReferenceOr::Item(value) => return Ok(value),
            ReferenceOr::Reference { reference } => {
                let name = ref_name(reference, kind)?;
                current = components
                    .map(&table)
                    .and_then(|entries| entries.get(name))
                    .ok_or_else(|| format!("`{reference}` does not exist"))?;
            }
        }
    }
    Err(format!("reference cycle through {kind}"))
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

fn operations_mut(document: &mut OpenAPI) -> Vec<(String, &mut Operation)> {
    let mut found = Vec::new();
    for (path, item) in document.paths.paths.iter_mut() {
        let ReferenceOr::Item(item) = item else { continue };
        let shared = item.parameters.clone();
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ]
        .into_iter()
        .flatten()
        {
            // Path-level parameters apply to every operation of the path.
            let mut merged = shared.clone();
            merged.append(&mut operation.parameters);
            operation.parameters = merged;
            found.push((path.clone(), operation));
        }
        item.parameters.clear();
    }
    found
}

/// Whether an inline schema needs a Rust type of its own (so it must become
/// a component that the types crate emits).
fn needs_name(schema: &Schema) -> bool {
    match &schema.schema_kind {
        SchemaKind::Type(Type::String(string)) => !string.enumeration.is_empty(),
        SchemaKind::Type(Type::Integer(_) | Type::Number(_) | Type::Boolean(_)) => false,
        SchemaKind::Type(Type::Array(array)) => match &array.items {
            Some(ReferenceOr::Item(items)) => needs_name(items),
            _ => false,
        },
        _ => true,
    }
}

/// Moves an inline schema into the components under `name` and returns the
/// reference to it.
fn hoist(
    schemas: &mut indexmap::IndexMap<String, ReferenceOr<Schema>>,
    schema: &mut ReferenceOr<Schema>,
    name: String,
) -> Result<(), String> {
    if let ReferenceOr::Item(inline) = schema {
        if schemas.contains_key(&name) {
            return Err(format!(
                "an inline schema would be named `{name}`, but a component of that name exists: rename one"
            ));
        }
        schemas.insert(name.clone(), ReferenceOr::Item(inline.clone()));
        *schema = ReferenceOr::Reference {
            reference: format!("#/components/schemas/{name}"),
        };
    }
    Ok(())
}

fn hoist_parameter_schema(
    schemas: &mut indexmap::IndexMap<String, ReferenceOr<Schema>>,
    schema: &mut ReferenceOr<Schema>,
    name: String,
) -> Result<(), String> {
    let ReferenceOr::Item(inline) = schema else {
        return Ok(());
    };
    if let SchemaKind::Type(Type::Array(array)) = &mut inline.schema_kind {
        if let Some(ReferenceOr::Item(items)) = &array.items
            && needs_name(items)
        {
            let mut unboxed = ReferenceOr::Item((**items).clone());
            hoist(schemas, &mut unboxed, format!("{name}Item"))?;
            if let ReferenceOr::Reference { reference } = unboxed {
                array.items = Some(ReferenceOr::Reference { reference });
            }
        }
        return Ok(());
    }
    if needs_name(inline) {
        hoist(schemas, schema, name)?;
    }
    Ok(())
}

fn json_schema_mut(content: &mut indexmap::IndexMap<String, MediaType>) -> Option<&mut ReferenceOr<Schema>> {
    content
        .iter_mut()
        .find(|(mime, _)| is_json(mime))
        .and_then(|(_, media)| media.schema.as_mut())
}

/// Whether a media type is JSON.
pub fn is_json(mime: &str) -> bool {
    mime == "application/json" || mime.ends_with("+json")
}

/// The document with every parameter, body, response and header inline, and
/// every schema that needs a Rust name hoisted into the components.
pub fn normalize(document: &OpenAPI) -> Result<OpenAPI, String> {
    let original = document.clone();
    let components = original.components.as_ref();
    let mut document = document.clone();
    let mut schemas = document
        .components
        .as_ref()
        .map(|components| components.schemas.clone())
        .unwrap_or_default();
    let mut seen_ids = BTreeMap::new();
    for (path, operation) in operations_mut(&mut document) {
        let id = operation
            .operation_id
            .clone()
            .ok_or_else(|| format!("an operation of `{path}` has no operationId"))?;
        if let Some(previous) = seen_ids.insert(id.clone(), path.clone()) {
            return Err(format!("operationId `{id}` is used by `{previous}` and `{path}`"));
        }
        let base = id.to_upper_camel_case();

        let mut parameters = Vec::new();
        for parameter in &operation.parameters {
            let mut parameter = resolve(parameter, "parameters", |c| &c.parameters, components)?.clone();
            let data = parameter_data_mut(&mut parameter);
            let name = format!("{base}{}", data.name.to_upper_camel_case());
            if let ParameterSchemaOrContent::Schema(schema) = &mut data.format {
                hoist_parameter_schema(&mut schemas, schema, name)?;
            }
            parameters.push(ReferenceOr::Item(parameter));
        }
        operation.parameters = parameters;

        if let Some(body) = &operation.request_body {
            let mut body: RequestBody =
                resolve(body, "requestBodies", |c| &c.request_bodies, components)?.clone();
            if let Some(schema) = json_schema_mut(&mut body.content) {
                hoist(&mut schemas, schema, format!("{base}Body"))?;
            }
            operation.request_body = Some(ReferenceOr::Item(body));
        }

        let mut responses = indexmap::IndexMap::new();
        for (status, response) in &operation.responses.responses {
            let mut response: Response =
                resolve(response, "responses", |c| &c.responses, components)?.clone();
            if let Some(schema) = json_schema_mut(&mut response.content) {
                hoist(
                    &mut schemas,
                    schema,
                    format!("{base}{}Response", status_label(status)),
                )?;
            }
            let mut headers = indexmap::IndexMap::new();
            for (name, header) in &response.headers {
                let header: Header = resolve(header, "headers", |c| &c.headers, components)?.clone();
                headers.insert(name.clone(), ReferenceOr::Item(header));
            }
            response.headers = headers;
            responses.insert(status.clone(), ReferenceOr::Item(response));
        }
        operation.responses.responses = responses;
        if operation.responses.default.is_some() {
            return Err(format!(
                "operation `{id}` has a `default` response: list each status it can answer instead"
            ));
        }
    }
    document.components.get_or_insert_with(Default::default).schemas = schemas;
    Ok(document)
}

fn status_label(status: &StatusCode) -> String {
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

fn parameter_data_mut(parameter: &mut Parameter) -> &mut openapiv3::ParameterData {
    match parameter {
        Parameter::Query { parameter_data, .. }
        | Parameter::Header { parameter_data, .. }
        | Parameter::Path { parameter_data, .. }
        | Parameter::Cookie { parameter_data, .. } => parameter_data,
    }
}

/// The view of a normalized document that progenitor accepts: progenitor
/// 0.15 panics when one operation's error responses use different schemas
/// (upstream issues #344 and #950), so each operation's error responses are
/// given the schema most of them use. The wire shapes are compatible (both
/// are the failure envelope); the server keeps the distinct types.
pub fn client_view(normalized: &OpenAPI) -> Result<OpenAPI, String> {
    let mut view = normalized.clone();
    for (path, operation) in operations_mut(&mut view) {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        let mut success = BTreeMap::new();
        for (status, response) in &operation.responses.responses {
            let ReferenceOr::Item(response) = response else {
                continue;
            };
            let Some(schema) = response
                .content
                .iter()
                .find(|(mime, _)| is_json(mime))
                .and_then(|(_, media)| media.schema.as_ref())
            else {
                continue;
            };
            let key = serde_json::to_string(schema).map_err(|error| error.to_string())?;
            if is_success(status) {
                success.insert(key, ());
            } else {
                *counts.entry(key).or_default() += 1;
            }
        }
        if success.len() > 1 {
            return Err(format!(
                "`{path}`: the success responses of one operation must share one schema for progenitor"
            ));
        }
        let Some(common) = counts
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(key, _)| key.clone())
        else {
            continue;
        };
        let common: ReferenceOr<Schema> = serde_json::from_str(&common).map_err(|error| error.to_string())?;
        for (status, response) in operation.responses.responses.iter_mut() {
            if is_success(status) {
                continue;
            }
            if let ReferenceOr::Item(response) = response
                && let Some(schema) = json_schema_mut(&mut response.content)
            {
                *schema = common.clone();
            }
        }
    }
    Ok(view)
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
