//! Lowering responses: each one's status, variant, payload (JSON, the
//! envelope's part, text, bytes), headers and checked example.

use openapiv3::{ParameterSchemaOrContent, ReferenceOr, Schema, SchemaKind, Type};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::super::ir::{Payload, Reply, ResponseHeader, StatusSpec};
use super::super::rust_types::{format_name, inline_type, integer_type};
use super::context::{Context, unsupported};
use super::security::axum_header_name;
use crate::conventions::envelope_convention;
use crate::document::{essence, is_json, ref_name};
use crate::error::{Error, Result};
use crate::naming::{field_ident, variant_name};
use crate::unsupported::Unsupported;

/// Response headers the runtime sets itself on every response.
const RUNTIME_HEADERS: &[&str] = &[
    "x-trace-id",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
];

impl Context<'_> {
    pub(super) fn reply(
        &self,
        status: StatusSpec,
        response: &openapiv3::Response,
        at: &str,
    ) -> Result<Reply, Unsupported> {
        let (variant, label) = match status {
            StatusSpec::Code(101) => {
                return Err(unsupported("a protocol upgrade (101, websocket)", at.to_owned()));
            }
            StatusSpec::Code(code) => (variant_name(code), code.to_string()),
            StatusSpec::Class(class) => (
                match class {
                    1 => "Informational",
                    2 => "Success",
                    3 => "Redirection",
                    4 => "ClientError",
                    _ => "ServerError",
                }
                .to_owned(),
                format!("{class}XX"),
            ),
            StatusSpec::Default => ("Default".to_owned(), "default".to_owned()),
        };
        let success = match status {
            StatusSpec::Code(code) => (200..300).contains(&code),
            StatusSpec::Class(class) => class == 2,
            StatusSpec::Default => false,
        };
        let payload = match response.content.iter().find(|(mime, _)| is_json(mime)) {
            Some((mime, media)) => match &media.schema {
                None => Payload::Json(quote! { ::serde_json::Value }, mime.clone()),
                Some(ReferenceOr::Reference { reference }) => self
                    .envelope(reference, success, mime)
                    .map_err(|error| Unsupported::from_error(error, at))?,
                Some(schema) => Payload::Json(
                    inline_type(schema, self.types).ok_or_else(|| {
                        unsupported(
                            "an inline response schema left after normalization",
                            at.to_owned(),
                        )
                    })?,
                    mime.clone(),
                ),
            },
            None => match response.content.keys().collect::<Vec<_>>().as_slice() {
                [] => Payload::None,
                [only] if essence(only) == "*/*" => Payload::Blob,
                [only] if essence(only).starts_with("text/") => Payload::Text(essence(only)),
                [only] => Payload::Bytes(essence(only)),
                _ => Payload::Blob,
            },
        };
        let example = self.example(response, &payload, at);
        if let Some(media) = response
            .content
            .keys()
            .find(|media| !media.bytes().all(|b| (0x20..0x7f).contains(&b)))
        {
            return Err(unsupported(
                format!("media type `{media}` is not a valid header value"),
                at.to_owned(),
            ));
        }
        let mut headers = Vec::new();
        for (name, header) in &response.headers {
            let lower = name.to_ascii_lowercase();
            if RUNTIME_HEADERS.contains(&lower.as_str()) || lower == "content-type" {
                continue;
            }
            let header_at = format!("{at}/headers/{}", name.replace('~', "~0").replace('/', "~1"));
            if axum_header_name(&lower).is_none() {
                return Err(unsupported(format!("response header name `{name}`"), header_at));
            }
            let ReferenceOr::Item(header) = header else {
                return Err(unsupported("a response header left as a reference", header_at));
            };
            let rust = match &header.format {
                ParameterSchemaOrContent::Schema(schema) => self.header_type(schema),
                ParameterSchemaOrContent::Content(_) => None,
            }
            .ok_or_else(|| {
                unsupported(
                    format!("response header `{name}` of a non-scalar schema"),
                    header_at,
                )
            })?;
            let documented = header.example.clone().or_else(|| match &header.format {
                ParameterSchemaOrContent::Schema(ReferenceOr::Item(schema)) => schema
                    .schema_data
                    .default
                    .clone()
                    .or_else(|| schema.schema_data.example.clone()),
                _ => None,
            });
            headers.push(ResponseHeader {
                example: header_example(&rust, documented.as_ref()),
                name: lower,
                field: field_ident(name),
                rust,
                required: header.required,
                doc: header.description.clone().unwrap_or_else(|| format!("`{name}`")),
            });
        }
        Ok(Reply {
            status,
            variant: format_ident!("{variant}"),
            doc: format!("{label}: {}", response.description),
            payload,
            headers,
            example,
        })
    }

    /// The documented example of the body a response's payload is read
    /// from, checked against its schema (a misfit is recorded in
    /// `bad_examples`, and left out of the mock).
    fn example(
        &self,
        response: &openapiv3::Response,
        payload: &Payload,
        at: &str,
    ) -> Option<serde_json::Value> {
        let media = match payload {
            Payload::None => return None,
            Payload::Json(_, mime) | Payload::Envelope { media: mime, .. } => response.content.get(mime)?,
            Payload::Text(_) | Payload::Bytes(_) | Payload::Blob => response.content.values().next()?,
        };
        let example = crate::examples::of_media(media)?;
        let misfit = match (payload, &media.schema) {
            (Payload::Json(..) | Payload::Envelope { .. }, Some(schema)) => {
                self.examples.violation(schema, &example)
            }
            (Payload::Json(..) | Payload::Envelope { .. }, None) => None,
            (_, _) if example.is_string() => None,
            (_, _) => Some("a text or byte example must be a string".to_owned()),
        };
        match misfit {
            Some(misfit) => {
                self.bad_examples
                    .borrow_mut()
                    .push(format!("the example at {at} does not fit its schema: {misfit}"));
                None
            }
            None => Some(example),
        }
    }

    fn header_type(&self, schema: &ReferenceOr<Schema>) -> Option<TokenStream> {
        let schema = match schema {
            ReferenceOr::Item(schema) => schema,
            ReferenceOr::Reference { reference } => {
                self.component(ref_name(reference, "schemas").ok()?).ok()?
            }
        };
        Some(match &schema.schema_kind {
            SchemaKind::Type(Type::Integer(integer)) => {
                let format = format_name(&integer.format);
                let rust = match (format.as_deref(), integer.minimum) {
                    (None | Some("int64"), Some(min)) if min >= 0 => "u64",
                    (format, _) => integer_type(format),
                };
                let rust = format_ident!("{rust}");
                quote! { #rust }
            }
            SchemaKind::Type(Type::Number(_)) => quote! { f64 },
            SchemaKind::Type(Type::Boolean(_)) => quote! { bool },
            SchemaKind::Type(Type::String(_)) => quote! { ::std::string::String },
            _ => return None,
        })
    }

    /// A response schema shaped as the declared envelope is an envelope: the
    /// variant carries `data` (success) or `error` (failure) and the router
    /// fills in the rest.
    fn envelope(&self, reference: &str, success: bool, mime: &str) -> Result<Payload> {
        let whole = self.named_type(reference)?;
        let plain = |whole| Ok(Payload::Json(whole, mime.to_owned()));
        let Some(convention) = envelope_convention(self.document)? else {
            return plain(whole);
        };
        let name = ref_name(reference, "schemas")?;
        let SchemaKind::Type(Type::Object(object)) = &self.component(name)?.schema_kind else {
            return plain(whole);
        };
        let keys = [
            &convention.success,
            &convention.data,
            &convention.error,
            &convention.trace_id,
        ];
        let is_envelope = keys
            .iter()
            .all(|key| object.properties.contains_key(*key) && object.required.contains(key))
            && object.properties.len() == 4;
        if !is_envelope {
            return plain(whole);
        }
        let (carried, empty) = if success {
            (&convention.data, &convention.error)
        } else {
            (&convention.error, &convention.data)
        };
        let nullable = |key: &str| -> Result<bool> {
            Ok(match &object.properties[key] {
                ReferenceOr::Item(schema) => schema.schema_data.nullable,
                ReferenceOr::Reference { reference } => {
                    self.component(ref_name(reference, "schemas")?)?
                        .schema_data
                        .nullable
                }
            })
        };
        if !nullable(empty)? {
            return Err(Error::invalid(
                format!(
                    "envelope `{name}`: `{empty}` must be nullable in a {} response",
                    if success { "success" } else { "failure" }
                ),
                crate::document::pointer(&["components", "schemas", name, "properties", empty]),
            ));
        }
        let payload = match &object.properties[carried.as_str()] {
            ReferenceOr::Reference { reference } => self.named_type(reference)?,
            ReferenceOr::Item(schema) => match &schema.schema_kind {
                SchemaKind::AllOf { all_of } if all_of.len() == 1 => match &all_of[0] {
                    ReferenceOr::Reference { reference } => self.named_type(reference)?,
                    ReferenceOr::Item(_) => return plain(whole),
                },
                _ => return plain(whole),
            },
        };
        Ok(Payload::Envelope {
            envelope: whole,
            success,
            payload,
            payload_nullable: nullable(carried)?,
            media: mime.to_owned(),
        })
    }
}

/// A header value a mock answers with, of the header's Rust type.
fn header_example(rust: &TokenStream, documented: Option<&serde_json::Value>) -> TokenStream {
    let kind = rust.to_string();
    match kind.as_str() {
        "bool" => {
            let value = documented.and_then(serde_json::Value::as_bool).unwrap_or(false);
            quote! { #value }
        }
        "f64" => {
            let value = proc_macro2::Literal::f64_unsuffixed(
                documented.and_then(serde_json::Value::as_f64).unwrap_or(0.0),
            );
            quote! { #value }
        }
        text if text.contains("String") => {
            let value = documented
                .map(|value| value.as_str().map_or_else(|| value.to_string(), str::to_owned))
                .unwrap_or_default();
            quote! { ::std::string::String::from(#value) }
        }
        _ => {
            let value = proc_macro2::Literal::i64_unsuffixed(
                documented.and_then(serde_json::Value::as_i64).unwrap_or(0),
            );
            quote! { #value as #rust }
        }
    }
}
