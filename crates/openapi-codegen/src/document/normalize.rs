//! [`normalize`] turns a document into one where every parameter, request
//! body, response and header is inline and every schema that needs a Rust
//! name is a component, so the types crate holds every type and client and
//! server share them.

use std::collections::BTreeMap;

use heck::ToUpperCamelCase;
use openapiv3::{
    Components, Header, MediaType, OpenAPI, Parameter, ParameterSchemaOrContent, ReferenceOr, RequestBody,
    Response, Schema, SchemaKind, Type,
};

use super::walk::{
    is_form, is_json, operations_mut, parameter_data_mut, parameter_key, pointer, resolve, status_label,
    synthetic_operation_id,
};
use crate::error::{Error, Result};
use crate::report::Skip;

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
/// [`crate::server::rust_types::inline_type`]).
fn body_needs_name(schema: &ReferenceOr<Schema>) -> bool {
    crate::server::rust_types::inline_type(schema, &quote::quote! { types }).is_none()
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

/// The document with every parameter, body, response and header inline,
/// every schema that needs a Rust name hoisted into the components, and an
/// operation id on every operation (see [`Normalized`]). Operation-level
/// parameters override path-level ones of the same name and location. An
/// operation whose references lead nowhere, or whose id another operation
/// took first, is left out and listed.
pub fn normalize(document: &OpenAPI) -> Result<Normalized> {
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
    let mut skipped = Vec::new();
    for (path, method, operation) in operations_mut(&mut document) {
        let id = operation
            .operation_id
            .clone()
            .unwrap_or_else(|| synthetic_operation_id(&method, &path));
        operation.operation_id = Some(id.clone());
        let at = pointer(&["paths", &path, &method]);
        let outcome = match seen_ids.get(&id) {
            Some(previous) => Err(Error::invalid(
                format!("operationId `{id}` is used by `{previous}` too"),
                format!("{at}/operationId"),
            )),
            None => {
                seen_ids.insert(id.clone(), path.clone());
                inline_operation(operation, components, &mut hoister, &id, &at)
            }
        };
        if let Err(error) = outcome {
            skipped.push(Skip {
                generator: "document",
                operation: id,
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                pointer: error.pointer.clone().unwrap_or_else(|| at.clone()),
                construct: error.message,
                json_only: false,
            });
        }
    }
    super::walk::remove_operations(&mut document, &skipped);
    document.components.get_or_insert_with(Default::default).schemas = hoister.schemas;
    Ok(Normalized { document, skipped })
}

/// A document after [`normalize`], and the operations left out of it.
#[derive(Debug, Clone)]
pub struct Normalized {
    /// The normalized document.
    pub document: OpenAPI,
    /// The operations whose references lead nowhere (or whose id was taken).
    pub skipped: Vec<Skip>,
}

/// Inlines one operation's parameters, body, responses and headers,
/// hoisting the schemas that need names.
fn inline_operation(
    operation: &mut openapiv3::Operation,
    components: Option<&Components>,
    hoister: &mut Hoister,
    id: &str,
    at: &str,
) -> Result<()> {
    let base = id.to_upper_camel_case();
    let mut parameters: Vec<Parameter> = Vec::new();
    for (index, parameter) in operation.parameters.iter().enumerate() {
        let mut parameter = resolve(parameter, "parameters", |c| &c.parameters, components)
            .map_err(|error| error.at(format!("{at}/parameters/{index}")))?
            .clone();
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
        let mut body: RequestBody = resolve(body, "requestBodies", |c| &c.request_bodies, components)
            .map_err(|error| error.at(format!("{at}/requestBody")))?
            .clone();
        hoister.hoist_content(&mut body.content, &format!("{base}Body"));
        operation.request_body = Some(ReferenceOr::Item(body));
    }

    let mut responses = indexmap::IndexMap::new();
    for (status, response) in &operation.responses.responses {
        let label = status_label(status);
        let response = normalize_response(response, components, hoister, &format!("{base}{label}Response"))
            .map_err(|error| error.at(format!("{at}/responses/{label}")))?;
        responses.insert(status.clone(), ReferenceOr::Item(response));
    }
    operation.responses.responses = responses;
    if let Some(default) = &operation.responses.default {
        let response = normalize_response(default, components, hoister, &format!("{base}DefaultResponse"))
            .map_err(|error| error.at(format!("{at}/responses/default")))?;
        operation.responses.default = Some(ReferenceOr::Item(response));
    }
    Ok(())
}

fn normalize_response(
    response: &ReferenceOr<Response>,
    components: Option<&Components>,
    hoister: &mut Hoister,
    name: &str,
) -> Result<Response> {
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
