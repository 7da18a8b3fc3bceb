//! The conventions a document declares with extensions, which every
//! generator follows: `x-envelope` (the names of the envelope's four
//! properties) and `x-error-codes` (the machine codes of failures, each with
//! its status).

use openapiv3::{OpenAPI, ReferenceOr, SchemaKind, Type};

use crate::document::pointer;
use crate::error::{Error, Result};

/// The envelope convention the document declares (`x-envelope`): the names
/// of its four properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Envelope {
    pub(crate) success: String,
    pub(crate) data: String,
    pub(crate) error: String,
    pub(crate) trace_id: String,
}

/// A machine error code the document declares (`x-error-codes`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub(crate) struct ErrorCodeDecl {
    pub(crate) code: String,
    pub(crate) status: u16,
    #[serde(default)]
    pub(crate) description: String,
}

/// The envelope convention of the document (`x-envelope` at its root).
pub(crate) fn envelope_convention(document: &OpenAPI) -> Result<Option<Envelope>> {
    let Some(value) = document.extensions.get("x-envelope") else {
        return Ok(None);
    };
    let field = |key: &str| -> Result<String> {
        value
            .get(key)
            .and_then(|value| value.as_str())
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::invalid(
                    format!("`x-envelope` needs `{key}`: the name of that property of the envelope"),
                    "#/x-envelope",
                )
            })
    };
    Ok(Some(Envelope {
        success: field("success")?,
        data: field("data")?,
        error: field("error")?,
        trace_id: field("traceId")?,
    }))
}

/// The error codes the document declares: an `x-error-codes` list on a
/// property of a component schema (the `code` of the error object), each
/// code once, in the document's order.
pub(crate) fn declared_error_codes(document: &OpenAPI) -> Result<Vec<ErrorCodeDecl>> {
    let mut found: Vec<ErrorCodeDecl> = Vec::new();
    let Some(components) = &document.components else {
        return Ok(found);
    };
    for (component, schema) in &components.schemas {
        let ReferenceOr::Item(schema) = schema else {
            continue;
        };
        let SchemaKind::Type(Type::Object(object)) = &schema.schema_kind else {
            continue;
        };
        for (property, schema) in &object.properties {
            let ReferenceOr::Item(schema) = schema else {
                continue;
            };
            if let Some(value) = schema.schema_data.extensions.get("x-error-codes") {
                let codes: Vec<ErrorCodeDecl> = serde_json::from_value(value.clone()).map_err(|error| {
                    Error::invalid(
                        format!("`x-error-codes` is not a list of {{code, status, description}}: {error}"),
                        pointer(&[
                            "components",
                            "schemas",
                            component,
                            "properties",
                            property,
                            "x-error-codes",
                        ]),
                    )
                })?;
                for code in codes {
                    if !found.iter().any(|known| known.code == code.code) {
                        found.push(code);
                    }
                }
            }
        }
    }
    Ok(found)
}
