//! The model of a document the server emitters work from, computed once per
//! operation: parameters, body, responses and security, each already
//! decided (Rust types, rules, media types). An operation using a construct
//! the server cannot serve becomes a [`Skip`] naming it, and the rest of the
//! document still generates.

use heck::ToUpperCamelCase;
use openapiv3::{
    MediaType, OpenAPI, Operation, Parameter, ParameterSchemaOrContent, PathStyle, QueryStyle, ReferenceOr,
    Schema, SchemaKind, SecurityScheme, StatusCode, Type,
};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::schema::{format_name, inline_type, integer_type, number_type, string_format};
use super::{field_ident, type_ident, variant_name};
use crate::spec::{Skip, essence, is_form, is_json, is_json_only, parameter_data, pointer, ref_name};

/// Response headers the runtime sets itself on every response.
const RUNTIME_HEADERS: &[&str] = &[
    "x-trace-id",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
];

/// The whole document, as the emitters need it.
pub(crate) struct Api {
    pub title: String,
    pub version: String,
    pub trait_name: Ident,
    pub envelope: Option<Envelope>,
    pub error_codes: Vec<ErrorCodeDecl>,
    pub ops: Vec<Op>,
    pub skipped: Vec<Skip>,
}

/// The envelope convention the document declares (`x-envelope`): the names
/// of its four properties.
pub(crate) struct Envelope {
    pub success: String,
    pub data: String,
    pub error: String,
    pub trace_id: String,
}

/// A machine error code the document declares (`x-error-codes`).
#[derive(Clone, serde::Deserialize)]
pub(crate) struct ErrorCodeDecl {
    pub code: String,
    pub status: u16,
    #[serde(default)]
    pub description: String,
}

pub(crate) struct Op {
    pub id: String,
    pub method: String,
    pub path: String,
    pub doc: String,
    pub permissions: Vec<String>,
    pub security: Option<SecurityModel>,
    pub params: Vec<Param>,
    pub body: Option<BodyModel>,
    pub replies: Vec<Reply>,
}

pub(crate) struct SecurityModel {
    pub schemes: Vec<SchemeModel>,
    /// The document lists `{}` among the requirements: anonymous calls pass.
    pub optional: bool,
}

pub(crate) struct SchemeModel {
    pub name: String,
    pub kind: SchemeKindModel,
}

pub(crate) enum SchemeKindModel {
    Bearer,
    Basic,
    Header(String),
    Query(String),
    Cookie(String),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Location {
    Path,
    Query,
    Header,
    Cookie,
}

pub(crate) struct Param {
    pub name: String,
    pub field: Ident,
    pub location: Location,
    pub required: bool,
    pub default: Option<TokenStream>,
    pub shape: Shape,
    pub doc: String,
}

pub(crate) enum Shape {
    One(Scalar),
    Many {
        item: Scalar,
        separator: Separator,
        min_items: Option<usize>,
        max_items: Option<usize>,
    },
}

/// How the values of an array parameter travel.
#[derive(Clone, Copy)]
pub(crate) enum Separator {
    /// Repeated keys (`explode: true`, the query's default).
    Repeat,
    Comma,
    Space,
    Pipe,
}

pub(crate) struct StringRules {
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub pattern: Option<String>,
}

pub(crate) enum Scalar {
    String(StringRules),
    Formatted {
        rust: TokenStream,
        expected: String,
        rules: StringRules,
    },
    Integer {
        rust: Ident,
        format: Option<String>,
        minimum: Option<i64>,
        maximum: Option<i64>,
    },
    Number {
        rust: Ident,
        minimum: Option<f64>,
        maximum: Option<f64>,
    },
    Boolean,
    Named {
        rust: TokenStream,
        expected: String,
        syntax: NamedSyntax,
    },
}

/// How a parameter of a named schema is read from its raw values.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum NamedSyntax {
    /// One value, as a JSON string (strings, enums, `oneOf`s of them).
    Text,
    /// One value, as JSON text (numbers, booleans, `content` parameters).
    Json,
    /// A `oneOf` with an array branch: one value or several (repeated keys).
    TextOrList,
}

pub(crate) struct BodyModel {
    pub kind: BodyKind,
    pub required: bool,
    pub media_types: Vec<String>,
}

pub(crate) enum BodyKind {
    /// JSON or a form, deserialized into a type.
    Structured(TokenStream),
    Text,
    Bytes,
    Blob,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusSpec {
    Code(u16),
    Class(u16),
    Default,
}

pub(crate) struct Reply {
    pub status: StatusSpec,
    pub variant: Ident,
    pub doc: String,
    pub payload: Payload,
    pub headers: Vec<ResponseHeader>,
    /// The documented example of the body (checked against its schema).
    pub example: Option<serde_json::Value>,
}

pub(crate) enum Payload {
    None,
    /// A JSON body of a type, in the documented media type.
    Json(TokenStream, String),
    Envelope {
        envelope: TokenStream,
        success: bool,
        payload: TokenStream,
        payload_nullable: bool,
        media: String,
    },
    Text(String),
    Bytes(String),
    Blob,
}

pub(crate) struct ResponseHeader {
    pub name: String,
    pub field: Ident,
    pub rust: TokenStream,
    pub required: bool,
    pub doc: String,
    /// The value a mock answers with: the header's example, else its
    /// schema's default, else the type's zero.
    pub example: TokenStream,
}

/// A construct the server generator does not serve, where it is.
struct Unsupported {
    construct: String,
    pointer: String,
}

fn unsupported(construct: impl Into<String>, pointer: String) -> Unsupported {
    Unsupported {
        construct: construct.into(),
        pointer,
    }
}

pub(crate) struct Context<'a> {
    pub document: &'a OpenAPI,
    pub types: &'a TokenStream,
    /// Examples that do not fit their schemas: generation fails on them.
    pub bad_examples: std::cell::RefCell<Vec<String>>,
}

impl Context<'_> {
    fn component(&self, name: &str) -> Result<&Schema, String> {
        let mut name = name.to_owned();
        for _ in 0..16 {
            match self
                .document
                .components
                .as_ref()
                .and_then(|components| components.schemas.get(&name))
            {
                Some(ReferenceOr::Item(schema)) => return Ok(schema),
                Some(ReferenceOr::Reference { reference }) => {
                    name = ref_name(reference, "schemas")?.to_owned()
                }
                None => return Err(format!("schema component `{name}` does not exist")),
            }
        }
        Err(format!("schema component `{name}` refers to itself"))
    }

    fn named_type(&self, reference: &str) -> Result<TokenStream, String> {
        let name = ref_name(reference, "schemas")?;
        self.component(name)?;
        let types = self.types;
        let ident = type_ident(name);
        Ok(quote! { #types::#ident })
    }

    /// A parameter of a named schema: parsed with the schema's deserializer.
    fn named_scalar(&self, reference: &str) -> Result<Scalar, String> {
        let name = ref_name(reference, "schemas")?;
        let target = self.component(name)?;
        let (expected, syntax) = match &target.schema_kind {
            SchemaKind::Type(Type::String(string)) if !string.enumeration.is_empty() => {
                let values: Vec<String> = string
                    .enumeration
                    .iter()
                    .flatten()
                    .map(|value| format!("`{value}`"))
                    .collect();
                (format!("one of {}", values.join(", ")), NamedSyntax::Text)
            }
            SchemaKind::Type(Type::Integer(_) | Type::Number(_) | Type::Boolean(_)) => {
                (format!("a valid {name}"), NamedSyntax::Json)
            }
            SchemaKind::OneOf { one_of: branches } | SchemaKind::AnyOf { any_of: branches }
                if branches.iter().any(|branch| self.is_array(branch)) =>
            {
                (format!("a valid {name}"), NamedSyntax::TextOrList)
            }
            _ => (format!("a valid {name}"), NamedSyntax::Text),
        };
        Ok(Scalar::Named {
            rust: self.named_type(reference)?,
            expected,
            syntax,
        })
    }

    fn is_array(&self, schema: &ReferenceOr<Schema>) -> bool {
        let schema = match schema {
            ReferenceOr::Item(schema) => Some(schema),
            ReferenceOr::Reference { reference } => ref_name(reference, "schemas")
                .ok()
                .and_then(|name| self.component(name).ok()),
        };
        matches!(
            schema.map(|schema| &schema.schema_kind),
            Some(SchemaKind::Type(Type::Array(_)))
        )
    }

    fn scalar(&self, schema: &ReferenceOr<Schema>, at: &str) -> Result<Scalar, Unsupported> {
        let schema = match schema {
            ReferenceOr::Reference { reference } => {
                return self
                    .named_scalar(reference)
                    .map_err(|error| unsupported(error, at.to_owned()));
            }
            ReferenceOr::Item(schema) => schema,
        };
        let rules = |pattern: &Option<String>, min_length, max_length| StringRules {
            min_length,
            max_length,
            pattern: pattern.clone(),
        };
        Ok(match &schema.schema_kind {
            SchemaKind::Type(Type::String(string)) => {
                if let Some(pattern) = &string.pattern {
                    regress::Regex::new(pattern).map_err(|error| {
                        unsupported(
                            format!("pattern `{pattern}` does not compile: {error}"),
                            at.to_owned(),
                        )
                    })?;
                }
                let rules = rules(&string.pattern, string.min_length, string.max_length);
                match string_format(format_name(&string.format).as_deref()) {
                    Some(format) => Scalar::Formatted {
                        rust: format.rust,
                        expected: format.expected.to_owned(),
                        rules,
                    },
                    None => Scalar::String(rules),
                }
            }
            SchemaKind::Type(Type::Integer(integer)) => {
                let format = format_name(&integer.format);
                Scalar::Integer {
                    rust: format_ident!("{}", integer_type(format.as_deref())),
                    minimum: integer.minimum.map(|min| {
                        if integer.exclusive_minimum {
                            min.saturating_add(1)
                        } else {
                            min
                        }
                    }),
                    maximum: integer.maximum.map(|max| {
                        if integer.exclusive_maximum {
                            max.saturating_sub(1)
                        } else {
                            max
                        }
                    }),
                    format,
                }
            }
            SchemaKind::Type(Type::Number(number)) => Scalar::Number {
                rust: format_ident!("{}", number_type(format_name(&number.format).as_deref())),
                minimum: number.minimum,
                maximum: number.maximum,
            },
            SchemaKind::Type(Type::Boolean(_)) => Scalar::Boolean,
            _ => {
                return Err(unsupported(
                    "an inline parameter schema that is not a scalar",
                    at.to_owned(),
                ));
            }
        })
    }

    fn param(&self, parameter: &Parameter, at: &str) -> Result<Param, Unsupported> {
        let data = parameter_data(parameter);
        let (location, explode_default) = match parameter {
            Parameter::Path { style, .. } => {
                if *style != PathStyle::Simple {
                    return Err(unsupported(
                        format!("path parameter style `{style:?}`"),
                        at.to_owned(),
                    ));
                }
                (Location::Path, false)
            }
            Parameter::Query { style, .. } => {
                if *style == QueryStyle::DeepObject {
                    return Err(unsupported("query parameter style `deepObject`", at.to_owned()));
                }
                (Location::Query, true)
            }
            Parameter::Header { .. } => (Location::Header, false),
            Parameter::Cookie { .. } => (Location::Cookie, true),
        };
        let separator = |explode: bool| match parameter {
            Parameter::Query {
                style: QueryStyle::SpaceDelimited,
                ..
            } => Separator::Space,
            Parameter::Query {
                style: QueryStyle::PipeDelimited,
                ..
            } => Separator::Pipe,
            Parameter::Query { .. } | Parameter::Cookie { .. } if explode => Separator::Repeat,
            _ => Separator::Comma,
        };
        let (shape, default) = match &data.format {
            ParameterSchemaOrContent::Content(content) => {
                let Some((_, media)) = content.iter().find(|(mime, _)| is_json(mime)) else {
                    return Err(unsupported(
                        "a parameter whose `content` is not JSON",
                        at.to_owned(),
                    ));
                };
                let rust = match &media.schema {
                    None => quote! { ::serde_json::Value },
                    Some(schema) => inline_type(schema, self.types).ok_or_else(|| {
                        unsupported("inline parameter content left after normalization", at.to_owned())
                    })?,
                };
                let scalar = Scalar::Named {
                    rust,
                    expected: "JSON of the documented schema".to_owned(),
                    syntax: NamedSyntax::Json,
                };
                (Shape::One(scalar), None)
            }
            ParameterSchemaOrContent::Schema(schema) => {
                let resolved_array = match schema {
                    ReferenceOr::Item(Schema {
                        schema_kind: SchemaKind::Type(Type::Array(array)),
                        ..
                    }) => Some(array.clone()),
                    ReferenceOr::Reference { reference } => match self.component(
                        ref_name(reference, "schemas").map_err(|error| unsupported(error, at.to_owned()))?,
                    ) {
                        Ok(Schema {
                            schema_kind: SchemaKind::Type(Type::Array(array)),
                            ..
                        }) => Some(array.clone()),
                        Ok(_) => None,
                        Err(error) => return Err(unsupported(error, at.to_owned())),
                    },
                    ReferenceOr::Item(_) => None,
                };
                match resolved_array {
                    Some(array) => {
                        let items = match array.items {
                            Some(ReferenceOr::Reference { reference }) => {
                                ReferenceOr::Reference { reference }
                            }
                            Some(ReferenceOr::Item(schema)) => ReferenceOr::Item(*schema),
                            None => {
                                return Err(unsupported("an array parameter without `items`", at.to_owned()));
                            }
                        };
                        let shape = Shape::Many {
                            item: self.scalar(&items, at)?,
                            separator: separator(data.explode.unwrap_or(explode_default)),
                            min_items: array.min_items,
                            max_items: array.max_items,
                        };
                        (shape, None)
                    }
                    None => {
                        if let ReferenceOr::Item(Schema {
                            schema_kind: SchemaKind::Type(Type::Object(_)),
                            ..
                        }) = schema
                        {
                            return Err(unsupported("an object parameter", at.to_owned()));
                        }
                        let scalar = self.scalar(schema, at)?;
                        let default = match schema {
                            ReferenceOr::Item(schema) => schema
                                .schema_data
                                .default
                                .as_ref()
                                .and_then(|value| default_literal(&scalar, value)),
                            ReferenceOr::Reference { .. } => None,
                        };
                        (Shape::One(scalar), default)
                    }
                }
            }
        };
        let mut doc = data
            .description
            .clone()
            .unwrap_or_else(|| format!("`{}`", data.name));
        if default.is_none()
            && let ParameterSchemaOrContent::Schema(ReferenceOr::Item(schema)) = &data.format
            && let Some(value) = &schema.schema_data.default
        {
            doc.push_str(&format!(
                "\n\nDefault (applied by the implementation): `{value}`."
            ));
        }
        Ok(Param {
            name: data.name.clone(),
            field: field_ident(&data.name),
            location,
            required: data.required || location == Location::Path,
            default,
            shape,
            doc,
        })
    }

    fn reply(
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
                    .map_err(|error| unsupported(error, at.to_owned()))?,
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
    /// `bad_examples`, and fails generation).
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
                crate::examples::violation(self.document, schema, &example)
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
    fn envelope(&self, reference: &str, success: bool, mime: &str) -> Result<Payload, String> {
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
        let nullable = |key: &str| -> Result<bool, String> {
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
            return Err(format!(
                "envelope `{name}`: `{empty}` must be nullable in a {} response",
                if success { "success" } else { "failure" }
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
        let (kind, media_types) = if let Some((_, first)) = structured.first() {
            let rust = schema_of(first).ok_or_else(|| {
                unsupported("an inline body schema left after normalization", at.to_owned())
            })?;
            let listed = structured
                .iter()
                .filter(|(_, media)| media.schema == first.schema)
                .map(|(mime, _)| (*mime).clone())
                .collect();
            (BodyKind::Structured(rust), listed)
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
            (kind, listed)
        };
        Ok(BodyModel {
            kind,
            required: body.required,
            media_types,
        })
    }

    fn security(&self, operation: &Operation, at: &str) -> Result<Option<SecurityModel>, Unsupported> {
        let Some(requirements) = operation.security.as_ref().or(self.document.security.as_ref()) else {
            return Ok(None);
        };
        let optional = requirements.iter().any(|requirement| requirement.is_empty());
        let mut schemes = Vec::new();
        for requirement in requirements.iter().filter(|requirement| !requirement.is_empty()) {
            if requirement.len() > 1 {
                return Err(unsupported(
                    "a security requirement that combines several schemes",
                    format!("{at}/security"),
                ));
            }
            let Some((name, _scopes)) = requirement.iter().next() else {
                continue;
            };
            let scheme_at = pointer(&["components", "securitySchemes", name]);
            let definition = self
                .document
                .components
                .as_ref()
                .and_then(|components| components.security_schemes.get(name))
                .ok_or_else(|| {
                    unsupported(
                        format!("security scheme `{name}` is not defined"),
                        scheme_at.clone(),
                    )
                })?;
            let kind = match definition {
                ReferenceOr::Item(SecurityScheme::HTTP { scheme, .. })
                    if scheme.eq_ignore_ascii_case("bearer") =>
                {
                    SchemeKindModel::Bearer
                }
                ReferenceOr::Item(SecurityScheme::HTTP { scheme, .. })
                    if scheme.eq_ignore_ascii_case("basic") =>
                {
                    SchemeKindModel::Basic
                }
                ReferenceOr::Item(SecurityScheme::OAuth2 { .. } | SecurityScheme::OpenIDConnect { .. }) => {
                    SchemeKindModel::Bearer
                }
                ReferenceOr::Item(SecurityScheme::APIKey { location, name, .. }) => match location {
                    openapiv3::APIKeyLocation::Header => SchemeKindModel::Header(name.to_ascii_lowercase()),
                    openapiv3::APIKeyLocation::Query => SchemeKindModel::Query(name.clone()),
                    openapiv3::APIKeyLocation::Cookie => SchemeKindModel::Cookie(name.clone()),
                },
                ReferenceOr::Item(SecurityScheme::HTTP { scheme, .. }) => {
                    return Err(unsupported(
                        format!("HTTP authentication scheme `{scheme}`"),
                        scheme_at,
                    ));
                }
                ReferenceOr::Reference { .. } => {
                    return Err(unsupported("a security scheme given as a reference", scheme_at));
                }
            };
            if let SchemeKindModel::Header(header) = &kind
                && axum_header_name(header).is_none()
            {
                return Err(unsupported(format!("API key header name `{header}`"), scheme_at));
            }
            schemes.push(SchemeModel {
                name: name.clone(),
                kind,
            });
        }
        Ok((!schemes.is_empty()).then_some(SecurityModel { schemes, optional }))
    }

    fn operation(&self, path: &str, method: &str, operation: &Operation) -> Result<Op, Unsupported> {
        let at = pointer(&["paths", path, method]);
        let id = operation.operation_id.clone().unwrap_or_default();
        let template = path_parameters(path).map_err(|construct| unsupported(construct, at.clone()))?;
        let mut params = Vec::new();
        for (index, parameter) in operation.parameters.iter().enumerate() {
            let param_at = format!("{at}/parameters/{index}");
            let ReferenceOr::Item(parameter) = parameter else {
                return Err(unsupported("a parameter left as a reference", param_at));
            };
            let param = self.param(parameter, &param_at)?;
            if param.location == Location::Path && !template.contains(&param.name) {
                return Err(unsupported(
                    format!("path parameter `{}` is not in the path template", param.name),
                    param_at,
                ));
            }
            params.push(param);
        }
        dedupe_fields(&mut params);
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
        let security = self.security(operation, &at)?;
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
            doc,
            permissions,
            security,
            params,
            body,
            replies,
        })
    }
}

/// The names of a path template's parameters; a parameter inside a segment
/// (`/files/{name}.json`) is not served.
fn path_parameters(path: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for segment in path.split('/') {
        if segment.contains(['{', '}']) {
            match segment.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')) {
                Some(name) if !name.is_empty() && !name.contains(['{', '}']) => names.push(name.to_owned()),
                _ => return Err(format!("a path parameter inside a path segment (`{segment}`)")),
            }
        }
    }
    Ok(names)
}

/// Two parameters of one location whose Rust names collide (`page-size`,
/// `page_size`) get distinct fields.
fn dedupe_fields(params: &mut [Param]) {
    for index in 1..params.len() {
        let (before, rest) = params.split_at_mut(index);
        let param = &mut rest[0];
        let mut counter = 1;
        let base = param.field.to_string();
        while before
            .iter()
            .any(|other| other.location == param.location && other.field == param.field)
        {
            counter += 1;
            param.field = format_ident!("{base}_{counter}");
        }
    }
}

/// A lowercase header name axum accepts as a static name.
pub(crate) fn axum_header_name(lower: &str) -> Option<()> {
    (!lower.is_empty()
        && lower.bytes().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&byte)
        }))
    .then_some(())
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

fn default_literal(scalar: &Scalar, value: &serde_json::Value) -> Option<TokenStream> {
    Some(match scalar {
        Scalar::String(_) => {
            let text = value.as_str()?;
            quote! { ::std::string::String::from(#text) }
        }
        Scalar::Integer { rust, .. } => {
            let literal = proc_macro2::Literal::i64_unsuffixed(value.as_i64()?);
            quote! { #literal as #rust }
        }
        Scalar::Number { rust, .. } => {
            let literal = proc_macro2::Literal::f64_unsuffixed(value.as_f64()?);
            quote! { #literal as #rust }
        }
        Scalar::Boolean => {
            let flag = value.as_bool()?;
            quote! { #flag }
        }
        Scalar::Formatted { .. } | Scalar::Named { .. } => return None,
    })
}

/// The envelope convention of the document (`x-envelope` at its root).
pub(crate) fn envelope_convention(document: &OpenAPI) -> Result<Option<Envelope>, String> {
    let Some(value) = document.extensions.get("x-envelope") else {
        return Ok(None);
    };
    let field = |key: &str| -> Result<String, String> {
        value
            .get(key)
            .and_then(|value| value.as_str())
            .map(str::to_owned)
            .ok_or_else(|| format!("`x-envelope` needs `{key}`: the name of that property of the envelope"))
    };
    Ok(Some(Envelope {
        success: field("success")?,
        data: field("data")?,
        error: field("error")?,
        trace_id: field("traceId")?,
    }))
}

/// The error codes the document declares: an `x-error-codes` list on a
/// property of a component schema (the `code` of the error object).
pub(crate) fn declared_error_codes(document: &OpenAPI) -> Result<Vec<ErrorCodeDecl>, String> {
    let mut found = Vec::new();
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
                    format!("`x-error-codes` of `{component}.{property}` is not a list of {{code, status, description}}: {error}")
                })?;
                found.extend(codes);
            }
        }
    }
    Ok(found)
}

/// The model of a normalized document.
pub(crate) fn build(document: &OpenAPI, types: &TokenStream) -> Result<Api, String> {
    let context = Context {
        document,
        types,
        bad_examples: std::cell::RefCell::new(Vec::new()),
    };
    let mut ops: Vec<Op> = Vec::new();
    let mut skipped = Vec::new();
    let mut shapes: Vec<(String, String)> = Vec::new();
    for (path, method, operation) in crate::spec::operations(document) {
        let skip = |construct: String, pointer: String| Skip {
            generator: "server",
            operation: operation.operation_id.clone().unwrap_or_default(),
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
            construct,
            pointer,
            json_only: is_json_only(operation),
        };
        // axum (matchit) refuses two templates that differ only in the
        // names of their parameters.
        let shape = route_shape(path);
        if let Some((other, _)) = shapes
            .iter()
            .find(|(other, other_shape)| *other_shape == shape && other != path)
        {
            skipped.push(skip(
                format!("its path conflicts with `{other}` (same segments, other parameter names)"),
                pointer(&["paths", path]),
            ));
            continue;
        }
        match context.operation(path, method, operation) {
            Ok(op) => {
                shapes.push((path.to_owned(), shape));
                ops.push(op);
            }
            Err(Unsupported { construct, pointer }) => skipped.push(skip(construct, pointer)),
        }
    }
    let bad_examples = context.bad_examples.into_inner();
    if !bad_examples.is_empty() {
        return Err(format!(
            "examples that do not fit their schemas (a mock would answer with them):\n  {}",
            bad_examples.join("\n  ")
        ));
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
        ops,
        skipped,
    })
}

fn route_shape(path: &str) -> String {
    path.split('/')
        .map(|segment| if segment.starts_with('{') { "{}" } else { segment })
        .collect::<Vec<_>>()
        .join("/")
}
