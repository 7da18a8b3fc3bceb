//! Lowering a normalized document to the model of [`super::ir`], once per
//! operation: parameters ([`params`]), responses ([`replies`]), security
//! ([`security`]) and the body, each already decided (Rust types, rules,
//! media types). An operation using a construct the server cannot serve
//! becomes a [`Skip`] naming it, and the rest of the document still
//! generates.

mod context;
mod params;
mod replies;
mod security;

use context::{Context, unsupported};

use heck::ToUpperCamelCase;
use openapiv3::{MediaType, OpenAPI, Operation, ReferenceOr, StatusCode};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::ir::{Api, BodyKind, BodyModel, Location, Op, PathSegment, Payload, Reply, StatusSpec};
use super::rust_types::inline_type;
use crate::conventions::{declared_error_codes, envelope_convention};
use crate::document::{essence, is_form, is_json, pointer};
use crate::error::Result;
use crate::unsupported::Unsupported;

impl Context<'_> {
    fn body(&self, body: &openapiv3::RequestBody, at: &str) -> Result<BodyModel, Unsupported> {
        let schema_of = |media: &MediaType| match &media.schema {
            None => Some(quote! { ::serde_json::Value }),
            Some(schema) => inline_type(schema, self.types),
        };
        let structured: Vec<(&String, &MediaType)> = body
            .content
            .iter()
            .filter(|(mime, _)| is_json(mime) || is_form(mime))
            .collect();
        let (kind, media_types, schema) = if let Some((_, first)) = structured.first() {
            let rust = schema_of(first).ok_or_else(|| {
                unsupported("an inline body schema left after normalization", at.to_owned())
            })?;
            let listed = structured
                .iter()
                .filter(|(_, media)| media.schema == first.schema)
                .map(|(mime, _)| (*mime).clone())
                .collect();
            let schema = match &first.schema {
                None => None,
                Some(schema) => match self.examples.body_schema(schema) {
                    Ok(schema) => Some(schema),
                    Err(why) => {
                        self.unenforced.borrow_mut().push(format!(
                            "the rules of the body at {at} are not checked: its schema does not compile ({why})"
                        ));
                        None
                    }
                },
            };
            (BodyKind::Structured(rust), listed, schema)
        } else {
            let listed: Vec<String> = body.content.keys().cloned().collect();
            let kind = match listed.as_slice() {
                [] => return Err(unsupported("a request body without a media type", at.to_owned())),
                [only] if essence(only).starts_with("text/") => BodyKind::Text,
                [only] if essence(only) != "*/*" && !essence(only).starts_with("multipart/") => {
                    BodyKind::Bytes
                }
                _ => BodyKind::Blob,
            };
            (kind, listed, None)
        };
        Ok(BodyModel {
            kind,
            schema,
            required: body.required,
            media_types,
        })
    }

    fn operation(&self, path: &str, method: &str, operation: &Operation) -> Result<Op, Unsupported> {
        let at = pointer(&["paths", path, method]);
        let id = operation.operation_id.clone().unwrap_or_default();
        let (route, segments) = route_of(path).map_err(|construct| unsupported(construct, at.clone()))?;
        let mut params = Vec::new();
        for (index, parameter) in operation.parameters.iter().enumerate() {
            let param_at = format!("{at}/parameters/{index}");
            let ReferenceOr::Item(parameter) = parameter else {
                return Err(unsupported("a parameter left as a reference", param_at));
            };
            let param = self.param(parameter, &param_at)?;
            if param.location == Location::Path && !segments.iter().any(|segment| segment.name == param.name)
            {
                return Err(unsupported(
                    format!("path parameter `{}` is not in the path template", param.name),
                    param_at,
                ));
            }
            params.push(param);
        }
        params::dedupe_fields(&mut params);
        let body = match &operation.request_body {
            None => None,
            Some(ReferenceOr::Reference { .. }) => {
                return Err(unsupported(
                    "a request body left as a reference",
                    format!("{at}/requestBody"),
                ));
            }
            Some(ReferenceOr::Item(body)) => Some(self.body(body, &format!("{at}/requestBody"))?),
        };
        let mut replies = Vec::new();
        for (status, response) in &operation.responses.responses {
            let (spec, label) = match status {
                StatusCode::Code(code) => (StatusSpec::Code(*code), code.to_string()),
                StatusCode::Range(class) if (1..=5).contains(class) => {
                    (StatusSpec::Class(*class), format!("{class}XX"))
                }
                StatusCode::Range(class) => {
                    return Err(unsupported(
                        format!("status range `{class}XX`"),
                        format!("{at}/responses"),
                    ));
                }
            };
            let reply_at = format!("{at}/responses/{label}");
            let ReferenceOr::Item(response) = response else {
                return Err(unsupported("a response left as a reference", reply_at));
            };
            if let StatusSpec::Code(code) = spec
                && !(100..600).contains(&code)
            {
                return Err(unsupported(format!("status {code}"), reply_at));
            }
            replies.push(self.reply(spec, response, &reply_at)?);
        }
        match &operation.responses.default {
            Some(ReferenceOr::Item(response)) => {
                replies.push(self.reply(
                    StatusSpec::Default,
                    response,
                    &format!("{at}/responses/default"),
                )?);
            }
            Some(ReferenceOr::Reference { .. }) => {
                return Err(unsupported(
                    "a response left as a reference",
                    format!("{at}/responses/default"),
                ));
            }
            None if replies.is_empty() => replies.push(Reply {
                status: StatusSpec::Default,
                variant: format_ident!("Default"),
                doc: "default: the document lists no response for this operation".to_owned(),
                payload: Payload::None,
                headers: Vec::new(),
                example: None,
            }),
            None => {}
        }
        if operation.extensions.contains_key("x-dropshot-websocket") {
            return Err(unsupported("a websocket upgrade (x-dropshot-websocket)", at));
        }
        let permissions = match operation.extensions.get("x-permissions") {
            None => Vec::new(),
            Some(value) => serde_json::from_value::<Vec<String>>(value.clone())
                .map_err(|_| unsupported("`x-permissions` that is not a list of strings", at.clone()))?,
        };
        let security = self.security(operation)?;
        if security.is_none() && !permissions.is_empty() {
            return Err(unsupported("`x-permissions` without a security requirement", at));
        }
        let mut doc = String::new();
        if let Some(summary) = &operation.summary {
            doc.push_str(summary);
            doc.push_str("\n\n");
        }
        if let Some(description) = &operation.description {
            doc.push_str(description.trim_end());
            doc.push_str("\n\n");
        }
        if operation.deprecated {
            doc.push_str("Deprecated.\n\n");
        }
        doc.push_str(&format!("`{} {path}`", method.to_ascii_uppercase()));
        if !permissions.is_empty() {
            let list: Vec<String> = permissions.iter().map(|p| format!("`{p}`")).collect();
            doc.push_str(&format!("; permissions: {}", list.join(", ")));
        }
        doc.push('.');
        Ok(Op {
            id,
            method: method.to_owned(),
            path: path.to_owned(),
            route,
            segments,
            doc,
            permissions,
            security,
            params,
            body,
            replies,
        })
    }
}

/// The route of a path template and its parameter segments (see
/// [`super::ir::Op::route`]); a segment of several parameters
/// (`/{from}-{to}`) is not served.
fn route_of(path: &str) -> std::result::Result<(String, Vec<PathSegment>), String> {
    let mut route = Vec::new();
    let mut segments = Vec::new();
    for (index, segment) in path.split('/').enumerate() {
        if !segment.contains(['{', '}']) {
            route.push(segment.to_owned());
            continue;
        }
        let parsed = segment.split_once('{').and_then(|(prefix, rest)| {
            let (name, suffix) = rest.split_once('}')?;
            let plain = |text: &str| !text.contains(['{', '}']);
            (plain(prefix) && plain(suffix) && !name.is_empty()).then_some((prefix, name, suffix))
        });
        let Some((prefix, name, suffix)) = parsed else {
            return Err(format!("a path segment of several parameters (`{segment}`)"));
        };
        let name_in_route = format!("p{index}");
        route.push(format!("{{{name_in_route}}}"));
        segments.push(PathSegment {
            route: name_in_route,
            name: name.to_owned(),
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
        });
    }
    Ok((route.join("/"), segments))
}

/// The model of a normalized document.
pub(crate) fn build(document: &OpenAPI, types: &TokenStream) -> Result<Api> {
    let context = Context {
        document,
        types,
        bad_examples: std::cell::RefCell::new(Vec::new()),
        unenforced: std::cell::RefCell::new(Vec::new()),
        examples: crate::examples::ExampleChecker::new(document),
    };
    let mut ops: Vec<Op> = Vec::new();
    let mut skipped = Vec::new();
    for (path, method, operation) in crate::document::operations(document) {
        let skip = |unsupported: Unsupported| unsupported.skip("server", operation, method, path);
        // A panic here is a bug of this generator: it costs the operation,
        // not the document.
        let lowered = crate::contain::contained(|| context.operation(path, method, operation))
            .unwrap_or_else(|panic| {
                Err(Unsupported::new(
                    format!("the server generator failed on it (a bug, please report): {panic}"),
                    pointer(&["paths", path, method]),
                ))
            });
        match lowered {
            // One route and method, one handler: a template that differs
            // only in its parameters' names (or a fragment, `/files/{id}#copy`)
            // cannot be told apart from a served one.
            Ok(op) => match ops
                .iter()
                .find(|other| other.route == op.route && other.method == op.method)
            {
                Some(other) => skipped.push(skip(Unsupported::new(
                    format!(
                        "its method and path are those of `{}` ({}) once parameters are positions",
                        other.id, other.path
                    ),
                    pointer(&["paths", path, method]),
                ))),
                None => ops.push(op),
            },
            Err(unsupported) => skipped.push(skip(unsupported)),
        }
    }
    let title = &document.info.title;
    let camel = title.to_upper_camel_case();
    let camel = if camel.is_empty() || camel.starts_with(|c: char| c.is_ascii_digit()) {
        format!("Api{camel}")
    } else {
        camel
    };
    let trait_name = if camel.ends_with("Api") {
        format_ident!("{camel}")
    } else {
        format_ident!("{camel}Api")
    };
    Ok(Api {
        title: title.clone(),
        version: document.info.version.clone(),
        trait_name,
        envelope: envelope_convention(document)?,
        error_codes: declared_error_codes(document)?,
        skipped,
        components_schema: ops
            .iter()
            .any(|op| {
                op.body.as_ref().is_some_and(|body| body.schema.is_some())
                    || op.params.iter().any(|param| param.schema.is_some())
            })
            .then(|| context.examples.components().to_string()),
        unenforced: unenforced_formats(&context.examples)
            .into_iter()
            .chain(context.unenforced.into_inner())
            .collect(),
        ops,
        bad_examples: context.bad_examples.into_inner(),
    })
}

/// A line per component property whose `format` the server does not check.
fn unenforced_formats(examples: &crate::examples::ExampleChecker) -> Vec<String> {
    fn walk(value: &serde_json::Value, at: &mut Vec<String>, found: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(object) => {
                // A number's format (`int8`, `uint64`) is its Rust type's
                // range, which the typed body checks; a string's is a rule.
                let is_numeric =
                    |kind: &serde_json::Value| matches!(kind.as_str(), Some("integer" | "number"));
                let numeric = match object.get("type") {
                    Some(serde_json::Value::Array(kinds)) => kinds.iter().any(is_numeric),
                    Some(kind) => is_numeric(kind),
                    None => false,
                };
                if let Some(format) = object.get("format").and_then(serde_json::Value::as_str)
                    && !numeric
                    && !openapi_server_runtime::__private::CHECKED_FORMATS.contains(&format)
                {
                    let segments: Vec<&str> = at.iter().map(String::as_str).collect();
                    found.push(format!(
                        "format `{format}` at {} is not a rule the server checks (any string of the type passes)",
                        pointer(&segments)
                    ));
                }
                for (key, child) in object {
                    at.push(key.clone());
                    walk(child, at, found);
                    at.pop();
                }
            }
            serde_json::Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    at.push(index.to_string());
                    walk(child, at, found);
                    at.pop();
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(
        examples.components(),
        &mut vec!["components".to_owned()],
        &mut found,
    );
    found
}
