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

fn operations_mut(document: &mut OpenAPI) -> Vec<(String, String, &mut Operation)> {
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

/// Whether an inline parameter schema is a scalar the server parses by its
/// rules (string, integer, number, boolean, without `enum`); anything else
/// (enums, objects, `oneOf`s) becomes a component that the types crate emits.
fn is_parameter_scalar(schema: &Schema) -> bool {
    match &schema.schema_kind {
        SchemaKind::Type(Type::String(string)) => string.enumeration.is_empty(),
        SchemaKind::Type(Type::Integer(integer)) => integer.enumeration.is_empty(),
        SchemaKind::Type(Type::Number(number)) => number.enumeration.is_empty(),
        SchemaKind::Type(Type::Boolean(boolean)) => boolean.enumeration.is_empty(),
        _ => false,
    }
}

/// Whether an inline body schema needs a named type (see
/// [`crate::server::schema::inline_type`]).
fn body_needs_name(schema: &ReferenceOr<Schema>) -> bool {
    crate::server::schema::inline_type(schema, &quote::quote! { types }).is_none()
}

/// The components, with a way to add hoisted schemas under names no
/// component uses.
struct Hoister {
    schemas: indexmap::IndexMap<String, ReferenceOr<Schema>>,
}

impl Hoister {
    /// Moves an inline schema into the components under `name` (or `name2`,
    /// `name3`, … when a component of that name exists with another schema)
    /// and makes `schema` a reference to it.
    fn hoist(&mut self, schema: &mut ReferenceOr<Schema>, name: String) {
        let ReferenceOr::Item(inline) = schema else {
            return;
        };
        let mut chosen = name.clone();
        let mut counter = 1;
        loop {
            match self.schemas.get(&chosen) {
                None => {
                    self.schemas
                        .insert(chosen.clone(), ReferenceOr::Item(inline.clone()));
                    break;
                }
                Some(ReferenceOr::Item(existing)) if existing == inline => break,
                Some(_) => {
                    counter += 1;
                    chosen = format!("{name}{counter}");
                }
            }
        }
        *schema = ReferenceOr::Reference {
            reference: format!("#/components/schemas/{chosen}"),
        };
    }

    fn hoist_parameter_schema(&mut self, schema: &mut ReferenceOr<Schema>, name: String) {
        let ReferenceOr::Item(inline) = schema else {
            return;
        };
        if let SchemaKind::Type(Type::Array(array)) = &mut inline.schema_kind {
            if let Some(ReferenceOr::Item(items)) = &array.items
                && !is_parameter_scalar(items)
            {
                let mut unboxed = ReferenceOr::Item((**items).clone());
                self.hoist(&mut unboxed, format!("{name}Item"));
                if let ReferenceOr::Reference { reference } = unboxed {
                    array.items = Some(ReferenceOr::Reference { reference });
                }
            }
            return;
        }
        if !is_parameter_scalar(inline) {
            self.hoist(schema, name);
        }
    }

    /// Hoists the schema of every structured media type (JSON, forms) of a
    /// body or response that needs a name; the same inline schema under
    /// several media types becomes one component.
    fn hoist_content(&mut self, content: &mut indexmap::IndexMap<String, MediaType>, name: &str) {
        for (mime, media) in content.iter_mut() {
            if !(is_json(mime) || is_form(mime)) {
                continue;
            }
            if let Some(schema) = media.schema.as_mut()
                && body_needs_name(schema)
            {
                self.hoist(schema, name.to_owned());
            }
        }
    }
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

/// The document with every parameter, body, response and header inline,
/// every schema that needs a Rust name hoisted into the components, and an
/// operation id on every operation. Operation-level parameters override
/// path-level ones of the same name and location.
pub fn normalize(document: &OpenAPI) -> Result<OpenAPI, String> {
    let original = document.clone();
    let components = original.components.as_ref();
    let mut document = document.clone();
    let mut hoister = Hoister {
        schemas: document
            .components
            .as_ref()
            .map(|components| components.schemas.clone())
            .unwrap_or_default(),
    };
    let mut seen_ids = BTreeMap::new();
    for (path, method, operation) in operations_mut(&mut document) {
        let id = operation
            .operation_id
            .clone()
            .unwrap_or_else(|| synthetic_operation_id(&method, &path));
        operation.operation_id = Some(id.clone());
        if let Some(previous) = seen_ids.insert(id.clone(), path.clone()) {
            return Err(format!("operationId `{id}` is used by `{previous}` and `{path}`"));
        }
        let base = id.to_upper_camel_case();

        let mut parameters: Vec<Parameter> = Vec::new();
        for parameter in &operation.parameters {
            let mut parameter = resolve(parameter, "parameters", |c| &c.parameters, components)?.clone();
            let data = parameter_data_mut(&mut parameter);
            let name = format!("{base}{}", data.name.to_upper_camel_case());
            match &mut data.format {
                ParameterSchemaOrContent::Schema(schema) => hoister.hoist_parameter_schema(schema, name),
                ParameterSchemaOrContent::Content(content) => hoister.hoist_content(content, &name),
            }
            // A later (operation-level) parameter overrides an earlier
            // (path-level) one of the same name and location.
            let key = parameter_key(&parameter);
            parameters.retain(|earlier| parameter_key(earlier) != key);
            parameters.push(parameter);
        }
        operation.parameters = parameters.into_iter().map(ReferenceOr::Item).collect();

        if let Some(body) = &operation.request_body {
            let mut body: RequestBody =
                resolve(body, "requestBodies", |c| &c.request_bodies, components)?.clone();
            hoister.hoist_content(&mut body.content, &format!("{base}Body"));
            operation.request_body = Some(ReferenceOr::Item(body));
        }

        let mut responses = indexmap::IndexMap::new();
        for (status, response) in &operation.responses.responses {
            let response = normalize_response(
                response,
                components,
                &mut hoister,
                &format!("{base}{}Response", status_label(status)),
            )?;
            responses.insert(status.clone(), ReferenceOr::Item(response));
        }
        operation.responses.responses = responses;
        if let Some(default) = &operation.responses.default {
            let response = normalize_response(
                default,
                components,
                &mut hoister,
                &format!("{base}DefaultResponse"),
            )?;
            operation.responses.default = Some(ReferenceOr::Item(response));
        }
    }
    document.components.get_or_insert_with(Default::default).schemas = hoister.schemas;
    Ok(document)
}

fn parameter_key(parameter: &Parameter) -> (&'static str, String) {
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

fn normalize_response(
    response: &ReferenceOr<Response>,
    components: Option<&Components>,
    hoister: &mut Hoister,
    name: &str,
) -> Result<Response, String> {
    let mut response: Response = resolve(response, "responses", |c| &c.responses, components)?.clone();
    hoister.hoist_content(&mut response.content, name);
    let mut headers = indexmap::IndexMap::new();
    for (header_name, header) in &response.headers {
        let header: Header = resolve(header, "headers", |c| &c.headers, components)?.clone();
        headers.insert(header_name.clone(), ReferenceOr::Item(header));
    }
    response.headers = headers;
    Ok(response)
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

/// An operation one of the generators leaves out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// `server` or `client`.
    pub generator: &'static str,
    /// The operation id.
    pub operation: String,
    /// The method, upper case.
    pub method: String,
    /// The path template.
    pub path: String,
    /// What the generator cannot serve.
    pub construct: String,
    /// Where in the document (a JSON pointer).
    pub pointer: String,
    /// Whether the operation uses nothing but JSON bodies: leaving out such
    /// an operation is a gap of the generator, not of the format.
    pub json_only: bool,
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: skipped `{}` ({} {}): {} (at {})",
            self.generator, self.operation, self.method, self.path, self.construct, self.pointer
        )
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

/// How progenitor classifies a response: by the schema of its JSON body,
/// or as raw bytes, an upgrade, or nothing.
fn response_kind(status: &StatusCode, response: &Response) -> Result<String, String> {
    if let Some(schema) = response
        .content
        .iter()
        .find(|(mime, _)| is_json(mime))
        .and_then(|(_, media)| media.schema.as_ref())
    {
        return serde_json::to_string(schema).map_err(|error| error.to_string());
    }
    Ok(if *status == StatusCode::Code(101) {
        "an upgrade".to_owned()
    } else if response.content.is_empty() {
        "no body".to_owned()
    } else {
        "raw bytes".to_owned()
    })
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
fn adapt_for_client(operation: &mut Operation) -> Result<(), String> {
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
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (status, response) in &responses.responses {
        if let (true, ReferenceOr::Item(response)) = (is_error_status(status), response)
            && response
                .content
                .iter()
                .any(|(mime, media)| is_json(mime) && media.schema.is_some())
        {
            *counts.entry(response_kind(status, response)?).or_default() += 1;
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
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(key, _)| key.clone())
    {
        let common: ReferenceOr<Schema> = serde_json::from_str(&common).map_err(|error| error.to_string())?;
        responses.responses.retain(|status, response| {
            !is_error_status(status)
                || matches!(response, ReferenceOr::Item(response)
                    if response.content.iter().any(|(mime, media)| is_json(mime) && media.schema.is_some()))
        });
        for (status, response) in responses.responses.iter_mut() {
            if is_error_status(status)
                && let ReferenceOr::Item(response) = response
            {
                response.content.retain(|mime, _| is_json(mime));
                if let Some(media) = response.content.values_mut().next() {
                    media.schema = Some(common.clone());
                }
            }
        }
    }
    // Success responses must share one kind of body.
    let mut kinds = std::collections::BTreeSet::new();
    for (status, response) in &responses.responses {
        if let (true, ReferenceOr::Item(response)) =
            (is_success(status) || *status == StatusCode::Code(101), response)
        {
            kinds.insert(response_kind(status, response)?);
        }
    }
    if let Some(ReferenceOr::Item(default)) = &responses.default {
        kinds.insert(response_kind(&StatusCode::Range(2), default)?);
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
        return Err(format!(
            "its success responses differ ({}): progenitor has one success type per operation",
            described.join(", ")
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
pub fn client_view(normalized: &OpenAPI) -> Result<(OpenAPI, Vec<Skip>), String> {
    let mut view = normalized.clone();
    let mut skipped = Vec::new();
    for (path, method, operation) in operations_mut(&mut view) {
        for parameter in &mut operation.parameters {
            if let ReferenceOr::Item(parameter) = parameter
                && let ParameterSchemaOrContent::Schema(ReferenceOr::Item(schema)) =
                    &mut parameter_data_mut(parameter).format
            {
                without_rules(schema);
            }
        }
        if let Err(construct) = adapt_for_client(operation) {
            skipped.push(Skip {
                generator: "client",
                operation: operation.operation_id.clone().unwrap_or_default(),
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                construct,
                pointer: pointer(&["paths", &path, &method, "responses"]),
                json_only: is_json_only(operation),
            });
        }
    }
    remove_operations(&mut view, &skipped);
    Ok((view, skipped))
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
