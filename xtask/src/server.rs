//! The server generator: from a normalized document, one API trait with a
//! method per operation, typed inputs, a per-operation result enum whose
//! variants are exactly the documented responses, and an axum router that
//! validates everything before the trait is called.

use heck::{ToSnakeCase, ToUpperCamelCase};
use openapiv3::{
    OpenAPI, Operation, Parameter, ParameterSchemaOrContent, ReferenceOr, Schema, SchemaKind, SecurityScheme,
    StatusCode, Type,
};
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};

use crate::spec::{self, is_json, parameter_data, ref_name};

/// Where the generated server code finds the shared types and the runtime.
pub struct ServerSettings {
    /// Path of the types module or crate, such as `audiences_types`.
    pub types_path: TokenStream,
    /// Path of the runtime module, such as `crate::runtime`.
    pub runtime_path: TokenStream,
}

/// Response headers the runtime sets itself on every response.
const RUNTIME_HEADERS: &[&str] = &[
    "x-trace-id",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
];

const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false",
    "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where", "while",
    "abstract", "become", "box", "do", "final", "macro", "override", "priv", "typeof", "unsized", "virtual",
    "yield", "try", "gen",
];

/// A snake_case identifier for a name of the document.
pub fn field_ident(name: &str) -> Ident {
    let snake = name.to_snake_case();
    let snake = if snake.is_empty() {
        "value".to_owned()
    } else {
        snake
    };
    if RUST_KEYWORDS.contains(&snake.as_str()) {
        format_ident!("{snake}_")
    } else if snake.starts_with(|c: char| c.is_ascii_digit()) {
        format_ident!("_{snake}")
    } else {
        Ident::new(&snake, Span::call_site())
    }
}

/// The Rust name typify gives a component schema.
pub fn type_ident(component: &str) -> Ident {
    Ident::new(&component.to_upper_camel_case(), Span::call_site())
}

fn doc(text: &str) -> TokenStream {
    let lines = text.trim_end().lines().map(|line| {
        let line = format!(" {line}");
        quote! { #[doc = #line] }
    });
    quote! { #(#lines)* }
}

#[derive(Clone, Copy, PartialEq)]
enum Location {
    Path,
    Query,
    Header,
}

enum Scalar {
    String {
        min_length: Option<usize>,
        max_length: Option<usize>,
        pattern: Option<String>,
    },
    Integer {
        rust: Ident,
        minimum: Option<i64>,
        maximum: Option<i64>,
    },
    Number {
        minimum: Option<f64>,
        maximum: Option<f64>,
    },
    Boolean,
    Named {
        component: String,
        expected: String,
    },
}

enum Shape {
    One(Scalar),
    Many {
        item: Scalar,
        explode: bool,
        min_items: Option<usize>,
        max_items: Option<usize>,
    },
}

struct Param {
    name: String,
    field: Ident,
    location: Location,
    required: bool,
    default: Option<TokenStream>,
    shape: Shape,
    doc: String,
}

enum Payload {
    None,
    Body(TokenStream),
    Envelope {
        envelope: TokenStream,
        success: bool,
        payload: TokenStream,
        payload_nullable: bool,
    },
}

struct ResponseHeader {
    name: String,
    field: Ident,
    rust: TokenStream,
    required: bool,
    doc: String,
}

struct Reply {
    status: u16,
    variant: Ident,
    doc: String,
    payload: Payload,
    headers: Vec<ResponseHeader>,
}

enum Auth {
    Bearer { scheme: String },
    HeaderKey { scheme: String, header: String },
}

struct Op {
    id: String,
    method: String,
    path: String,
    doc: String,
    permissions: Vec<String>,
    auth: Option<Auth>,
    params: Vec<Param>,
    body: Option<(TokenStream, bool)>,
    replies: Vec<Reply>,
}

fn variant_name(status: u16) -> String {
    match status {
        200 => "Ok",
        201 => "Created",
        202 => "Accepted",
        204 => "NoContent",
        301 => "MovedPermanently",
        302 => "Found",
        303 => "SeeOther",
        304 => "NotModified",
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        410 => "Gone",
        412 => "PreconditionFailed",
        413 => "PayloadTooLarge",
        415 => "UnsupportedMediaType",
        422 => "UnprocessableEntity",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        501 => "NotImplemented",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => return format!("Status{status}"),
    }
    .to_owned()
}

struct Context<'a> {
    document: &'a OpenAPI,
    types: &'a TokenStream,
}

impl Context<'_> {
    fn component(&self, name: &str) -> Result<&Schema, String> {
        match self
            .document
            .components
            .as_ref()
            .and_then(|components| components.schemas.get(name))
        {
            Some(ReferenceOr::Item(schema)) => Ok(schema),
            Some(ReferenceOr::Reference { reference }) => self.component(ref_name(reference, "schemas")?),
            None => Err(format!("schema component `{name}` does not exist")),
        }
    }

    fn named_type(&self, reference: &str) -> Result<TokenStream, String> {
        let name = ref_name(reference, "schemas")?;
        self.component(name)?;
        let types = self.types;
        let ident = type_ident(name);
        Ok(quote! { #types::#ident })
    }

    fn scalar(&self, schema: &ReferenceOr<Schema>, what: &str) -> Result<Scalar, String> {
        let schema = match schema {
            ReferenceOr::Reference { reference } => {
                let name = ref_name(reference, "schemas")?;
                let target = self.component(name)?;
                let expected = match &target.schema_kind {
                    SchemaKind::Type(Type::String(string)) if !string.enumeration.is_empty() => {
                        let values: Vec<String> = string
                            .enumeration
                            .iter()
                            .flatten()
                            .map(|value| format!("`{value}`"))
                            .collect();
                        format!("one of {}", values.join(", "))
                    }
                    SchemaKind::Type(Type::String(_)) => format!("a valid {name}"),
                    _ => {
                        return Err(format!(
                            "{what}: parameters of schema `{name}` are not supported (only string schemas and enums)"
                        ));
                    }
                };
                return Ok(Scalar::Named {
                    component: name.to_owned(),
                    expected,
                });
            }
            ReferenceOr::Item(schema) => schema,
        };
        match &schema.schema_kind {
            SchemaKind::Type(Type::String(string)) => {
                if let Some(pattern) = &string.pattern {
                    regex_lite::Regex::new(pattern)
                        .map_err(|error| format!("{what}: pattern `{pattern}` does not compile: {error}"))?;
                }
                Ok(Scalar::String {
                    min_length: string.min_length,
                    max_length: string.max_length,
                    pattern: string.pattern.clone(),
                })
            }
            SchemaKind::Type(Type::Integer(integer)) => {
                let int32 = matches!(
                    &integer.format,
                    openapiv3::VariantOrUnknownOrEmpty::Item(openapiv3::IntegerFormat::Int32)
                );
                let minimum = integer
                    .minimum
                    .map(|min| if integer.exclusive_minimum { min + 1 } else { min });
                let maximum = integer
                    .maximum
                    .map(|max| if integer.exclusive_maximum { max - 1 } else { max });
                Ok(Scalar::Integer {
                    rust: format_ident!("{}", if int32 { "i32" } else { "i64" }),
                    minimum,
                    maximum,
                })
            }
            SchemaKind::Type(Type::Number(number)) => Ok(Scalar::Number {
                minimum: number.minimum,
                maximum: number.maximum,
            }),
            SchemaKind::Type(Type::Boolean(_)) => Ok(Scalar::Boolean),
            _ => Err(format!("{what}: this parameter schema is not supported")),
        }
    }

    fn scalar_type(&self, scalar: &Scalar) -> TokenStream {
        match scalar {
            Scalar::String { .. } => quote! { ::std::string::String },
            Scalar::Integer { rust, .. } => quote! { #rust },
            Scalar::Number { .. } => quote! { f64 },
            Scalar::Boolean => quote! { bool },
            Scalar::Named { component, .. } => {
                let types = self.types;
                let ident = type_ident(component);
                quote! { #types::#ident }
            }
        }
    }

    fn param(&self, op_id: &str, parameter: &Parameter) -> Result<Param, String> {
        let data = parameter_data(parameter);
        let what = format!("operation `{op_id}`, parameter `{}`", data.name);
        let (location, explode_default) = match parameter {
            Parameter::Path { .. } => (Location::Path, false),
            Parameter::Query { .. } => (Location::Query, true),
            Parameter::Header { .. } => (Location::Header, false),
            Parameter::Cookie { .. } => return Err(format!("{what}: cookie parameters are not supported")),
        };
        let ParameterSchemaOrContent::Schema(schema) = &data.format else {
            return Err(format!(
                "{what}: parameters with `content` are not supported; use `schema`"
            ));
        };
        let (shape, default) = match schema {
            ReferenceOr::Item(Schema {
                schema_kind: SchemaKind::Type(Type::Array(array)),
                ..
            }) => {
                let items = array
                    .items
                    .as_ref()
                    .ok_or_else(|| format!("{what}: an array parameter needs `items`"))?;
                let items = match items {
                    ReferenceOr::Reference { reference } => ReferenceOr::Reference {
                        reference: reference.clone(),
                    },
                    ReferenceOr::Item(schema) => ReferenceOr::Item((**schema).clone()),
                };
                let shape = Shape::Many {
                    item: self.scalar(&items, &what)?,
                    explode: data.explode.unwrap_or(explode_default),
                    min_items: array.min_items,
                    max_items: array.max_items,
                };
                (shape, None)
            }
            schema => {
                let scalar = self.scalar(schema, &what)?;
                let default = match schema {
                    ReferenceOr::Item(schema) => schema
                        .schema_data
                        .default
                        .as_ref()
                        .map(|value| default_literal(&scalar, value, &what))
                        .transpose()?,
                    ReferenceOr::Reference { .. } => None,
                };
                (Shape::One(scalar), default)
            }
        };
        let required = data.required || location == Location::Path;
        Ok(Param {
            name: data.name.clone(),
            field: field_ident(&data.name),
            location,
            required,
            default,
            shape,
            doc: data
                .description
                .clone()
                .unwrap_or_else(|| format!("`{}`", data.name)),
        })
    }

    fn reply(
        &self,
        op_id: &str,
        status: &StatusCode,
        response: &openapiv3::Response,
    ) -> Result<Reply, String> {
        let StatusCode::Code(code) = status else {
            return Err(format!(
                "operation `{op_id}`: status ranges such as `{status}` are not supported"
            ));
        };
        let what = format!("operation `{op_id}`, response {code}");
        let success = spec::is_success(status);
        let media = response.content.iter().find(|(mime, _)| is_json(mime));
        if media.is_none() && !response.content.is_empty() {
            return Err(format!("{what}: only JSON response bodies are supported"));
        }
        let payload = match media.and_then(|(_, media)| media.schema.as_ref()) {
            None => Payload::None,
            Some(ReferenceOr::Item(_)) => {
                return Err(format!("{what}: inline schema left after normalization"));
            }
            Some(ReferenceOr::Reference { reference }) => self.envelope(reference, success)?,
        };
        let mut headers = Vec::new();
        for (name, header) in &response.headers {
            let lower = name.to_ascii_lowercase();
            if RUNTIME_HEADERS.contains(&lower.as_str()) {
                continue;
            }
            let ReferenceOr::Item(header) = header else {
                return Err(format!("{what}: header `{name}` left as a reference"));
            };
            let ParameterSchemaOrContent::Schema(schema) = &header.format else {
                return Err(format!("{what}: header `{name}` needs a schema"));
            };
            let rust = match schema {
                ReferenceOr::Item(Schema {
                    schema_kind: SchemaKind::Type(Type::Integer(integer)),
                    ..
                }) if integer.minimum.is_some_and(|min| min >= 0) => quote! { u64 },
                ReferenceOr::Item(Schema {
                    schema_kind: SchemaKind::Type(Type::Integer(_)),
                    ..
                }) => quote! { i64 },
                ReferenceOr::Item(Schema {
                    schema_kind: SchemaKind::Type(Type::String(_)),
                    ..
                }) => quote! { ::std::string::String },
                _ => return Err(format!("{what}: header `{name}` must be an integer or a string")),
            };
            headers.push(ResponseHeader {
                name: lower,
                field: field_ident(name),
                rust,
                required: header.required,
                doc: header.description.clone().unwrap_or_else(|| format!("`{name}`")),
            });
        }
        Ok(Reply {
            status: *code,
            variant: format_ident!("{}", variant_name(*code)),
            doc: format!("{code}: {}", response.description),
            payload,
            headers,
        })
    }

    /// A response schema shaped as `{success, data, error, traceId}` is an
    /// envelope: the variant carries `data` (success) or `error` (failure)
    /// and the router fills in the rest.
    fn envelope(&self, reference: &str, success: bool) -> Result<Payload, String> {
        let name = ref_name(reference, "schemas")?;
        let whole = self.named_type(reference)?;
        let SchemaKind::Type(Type::Object(object)) = &self.component(name)?.schema_kind else {
            return Ok(Payload::Body(whole));
        };
        let is_envelope = ["success", "data", "error", "traceId"]
            .iter()
            .all(|key| object.properties.contains_key(*key) && object.required.iter().any(|r| r == key))
            && object.properties.len() == 4;
        if !is_envelope {
            return Ok(Payload::Body(whole));
        }
        let (carried, empty) = if success {
            ("data", "error")
        } else {
            ("error", "data")
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
        let payload = match &object.properties[carried] {
            ReferenceOr::Reference { reference } => self.named_type(reference)?,
            ReferenceOr::Item(schema) => match &schema.schema_kind {
                SchemaKind::AllOf { all_of } if all_of.len() == 1 => match &all_of[0] {
                    ReferenceOr::Reference { reference } => self.named_type(reference)?,
                    ReferenceOr::Item(_) => return Ok(Payload::Body(whole)),
                },
                _ => return Ok(Payload::Body(whole)),
            },
        };
        Ok(Payload::Envelope {
            envelope: whole,
            success,
            payload,
            payload_nullable: nullable(carried)?,
        })
    }

    fn auth(&self, operation: &Operation) -> Result<Option<Auth>, String> {
        let requirements = operation.security.as_ref().or(self.document.security.as_ref());
        let Some(requirement) = requirements.and_then(|list| list.first()) else {
            return Ok(None);
        };
        if requirements.is_some_and(|list| list.len() > 1) || requirement.len() > 1 {
            return Err("alternative or combined security requirements are not supported yet".into());
        }
        let Some((scheme, _scopes)) = requirement.iter().next() else {
            return Ok(None);
        };
        let definition = self
            .document
            .components
            .as_ref()
            .and_then(|components| components.security_schemes.get(scheme))
            .ok_or_else(|| format!("security scheme `{scheme}` is not defined"))?;
        match definition {
            ReferenceOr::Item(SecurityScheme::HTTP { scheme: kind, .. })
                if kind.eq_ignore_ascii_case("bearer") =>
            {
                Ok(Some(Auth::Bearer {
                    scheme: scheme.clone(),
                }))
            }
            ReferenceOr::Item(SecurityScheme::APIKey {
                location: openapiv3::APIKeyLocation::Header,
                name,
                ..
            }) => Ok(Some(Auth::HeaderKey {
                scheme: scheme.clone(),
                header: name.to_ascii_lowercase(),
            })),
            _ => Err(format!(
                "security scheme `{scheme}`: only HTTP bearer and API keys in a header are supported"
            )),
        }
    }

    fn operation(&self, path: &str, method: &str, operation: &Operation) -> Result<Op, String> {
        let id = operation.operation_id.clone().unwrap_or_default();
        let params = operation
            .parameters
            .iter()
            .map(|parameter| match parameter {
                ReferenceOr::Item(parameter) => self.param(&id, parameter),
                ReferenceOr::Reference { .. } => {
                    Err(format!("operation `{id}`: parameter left as a reference"))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let body = match &operation.request_body {
            None => None,
            Some(ReferenceOr::Reference { .. }) => {
                return Err(format!("operation `{id}`: request body left as a reference"));
            }
            Some(ReferenceOr::Item(body)) => {
                let schema = body
                    .content
                    .iter()
                    .find(|(mime, _)| is_json(mime))
                    .and_then(|(_, media)| media.schema.as_ref())
                    .ok_or_else(|| format!("operation `{id}`: only JSON request bodies are supported"))?;
                let ReferenceOr::Reference { reference } = schema else {
                    return Err(format!("operation `{id}`: inline body left after normalization"));
                };
                Some((self.named_type(reference)?, body.required))
            }
        };
        let replies = operation
            .responses
            .responses
            .iter()
            .map(|(status, response)| match response {
                ReferenceOr::Item(response) => self.reply(&id, status, response),
                ReferenceOr::Reference { .. } => {
                    Err(format!("operation `{id}`: response left as a reference"))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let permissions = match operation.extensions.get("x-permissions") {
            None => Vec::new(),
            Some(value) => serde_json::from_value::<Vec<String>>(value.clone())
                .map_err(|_| format!("operation `{id}`: `x-permissions` must be a list of strings"))?,
        };
        let auth = self.auth(operation)?;
        if auth.is_none() && !permissions.is_empty() {
            return Err(format!(
                "operation `{id}`: `x-permissions` needs a security requirement"
            ));
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
            auth,
            params,
            body,
            replies,
        })
    }
}

fn default_literal(scalar: &Scalar, value: &serde_json::Value, what: &str) -> Result<TokenStream, String> {
    let wrong = || format!("{what}: the default {value} does not fit the parameter's type");
    Ok(match scalar {
        Scalar::String { .. } => {
            let text = value.as_str().ok_or_else(wrong)?;
            quote! { ::std::string::String::from(#text) }
        }
        Scalar::Integer { rust, .. } => {
            let number = value.as_i64().ok_or_else(wrong)?;
            let literal = Literal::i64_unsuffixed(number);
            quote! { #literal as #rust }
        }
        Scalar::Number { .. } => {
            let number = value.as_f64().ok_or_else(wrong)?;
            let literal = Literal::f64_unsuffixed(number);
            quote! { #literal }
        }
        Scalar::Boolean => {
            let flag = value.as_bool().ok_or_else(wrong)?;
            quote! { #flag }
        }
        Scalar::Named { .. } => return Err(format!("{what}: defaults of named schemas are not supported")),
    })
}

/// Generates the server file of a normalized document.
pub fn generate(document: &OpenAPI, settings: &ServerSettings) -> Result<TokenStream, String> {
    let context = Context {
        document,
        types: &settings.types_path,
    };
    let ops = spec::operations(document)
        .into_iter()
        .map(|(path, method, operation)| context.operation(path, method, operation))
        .collect::<Result<Vec<_>, _>>()?;
    let rt = &settings.runtime_path;
    let title = &document.info.title;
    let trait_name = {
        let camel = title.to_upper_camel_case();
        if camel.ends_with("Api") {
            format_ident!("{camel}")
        } else {
            format_ident!("{camel}Api")
        }
    };

    let mut items = Vec::new();
    let mut methods = Vec::new();
    let mut handlers = Vec::new();
    let mut mock = MockParts::default();
    for op in &ops {
        let pascal = op.id.to_upper_camel_case();
        let method_ident = field_ident(&op.id);
        let mut args = Vec::new();
        let mut arg_names = Vec::new();
        let mut extract = Vec::new();
        for (location, suffix, noun) in [
            (Location::Path, "Path", "path"),
            (Location::Query, "Query", "query"),
            (Location::Header, "Headers", "headers"),
        ] {
            let params: Vec<&Param> = op.params.iter().filter(|p| p.location == location).collect();
            if params.is_empty() {
                continue;
            }
            let struct_ident = format_ident!("{pascal}{suffix}");
            let arg = format_ident!("{noun}");
            items.push(param_struct(&context, rt, &op.id, &struct_ident, noun, &params));
            args.push(quote! { #arg: #struct_ident });
            arg_names.push(quote! { #arg });
            let raw = match location {
                Location::Path => quote! { #rt::RawParams::path(parts).await? },
                Location::Query => quote! { #rt::RawParams::query(parts) },
                Location::Header => {
                    let names: Vec<String> = params.iter().map(|p| p.name.to_ascii_lowercase()).collect();
                    quote! { #rt::RawParams::headers(&parts.headers, &[#(#names),*])? }
                }
            };
            extract.push(quote! { let #arg = #struct_ident::from_raw(&#raw)?; });
        }
        if let Some((body_type, required)) = &op.body {
            if *required {
                args.push(quote! { body: #body_type });
                extract
                    .push(quote! { let body = #rt::json_body_required::<#body_type>(parts, body).await?; });
            } else {
                args.push(quote! { body: ::std::option::Option<#body_type> });
                extract.push(quote! { let body = #rt::json_body::<#body_type>(parts, body, false).await?; });
            }
            arg_names.push(quote! { body });
        }

        let response_ident = format_ident!("{pascal}Response");
        items.push(response_enum(&context, rt, op, &response_ident));
        mock.add(op, &pascal, &method_ident, &args, &arg_names, &response_ident, rt);

        let op_doc = doc(&op.doc);
        let principal = if op.auth.is_some() {
            quote! { Self::Principal }
        } else {
            quote! { () }
        };
        methods.push(quote! {
            #op_doc
            fn #method_ident(
                &self,
                cx: #rt::RequestContext<#principal>,
                #(#args),*
            ) -> impl ::std::future::Future<Output = #response_ident> + Send;
        });

        let op_id = &op.id;
        let permissions = &op.permissions;
        let authorize = match &op.auth {
            Some(auth) => {
                let credentials = match auth {
                    Auth::Bearer { scheme } => quote! {
                        #rt::bearer_secret(&parts.headers).map(|secret| #rt::Credentials { scheme: #scheme, secret })
                    },
                    Auth::HeaderKey { scheme, header } => quote! {
                        #rt::header_secret(&parts.headers, #header).map(|secret| #rt::Credentials { scheme: #scheme, secret })
                    },
                };
                quote! {
                    let credentials = #credentials;
                    let (principal, rate_limit) =
                        #rt::authorize(api, credentials, &[#(#permissions),*], #op_id, trace_id).await?;
                }
            }
            None => quote! { let (principal, rate_limit) = ((), ::std::option::Option::None); },
        };
        let handler_ident = format_ident!("handle_{}", method_ident);
        let inner_ident = format_ident!("serve_{}", method_ident);
        let body_binding = if op.body.is_some() {
            quote! { body }
        } else {
            quote! { _body }
        };
        handlers.push(quote! {
            async fn #handler_ident<A: #trait_name>(
                ::axum::extract::State(api): ::axum::extract::State<::std::sync::Arc<A>>,
                request: ::axum::extract::Request,
            ) -> ::axum::response::Response {
                let (mut parts, body) = request.into_parts();
                let trace_id = #rt::trace_id_of(&parts);
                match #inner_ident(&*api, &mut parts, body, &trace_id).await {
                    Ok(response) => response,
                    Err(error) => error.into_response_with(&trace_id),
                }
            }

            async fn #inner_ident<A: #trait_name>(
                api: &A,
                parts: &mut ::axum::http::request::Parts,
                #body_binding: ::axum::body::Body,
                trace_id: &#rt::TraceId,
            ) -> ::std::result::Result<::axum::response::Response, #rt::ApiError> {
                #(#extract)*
                #authorize
                let cx = #rt::RequestContext { trace_id: trace_id.clone(), principal };
                let result = api.#method_ident(cx, #(#arg_names),*).await;
                let mut response = result.into_response_with(trace_id);
                if let Some(status) = rate_limit {
                    #rt::insert_rate_limit_headers(&mut response, status);
                }
                Ok(response)
            }
        });
    }

    let mut routes: Vec<(String, Vec<TokenStream>)> = Vec::new();
    for op in &ops {
        let method = format_ident!("{}", op.method);
        let handler_ident = format_ident!("handle_{}", field_ident(&op.id));
        let call = quote! { #method(#handler_ident::<A>) };
        match routes.iter_mut().find(|(path, _)| *path == op.path) {
            Some((_, calls)) => calls.push(call),
            None => routes.push((op.path.clone(), vec![call])),
        }
    }
    let route_calls = routes.iter().map(|(path, calls)| {
        let (first, rest) = calls.split_first().expect("a route has an operation");
        quote! { .route(#path, ::axum::routing::#first #(.#rest)*) }
    });

    let trait_doc = doc(&format!(
        "The operations of the {title}: implement this trait (and [`{rt}::Security`]), then serve [`router`].",
        rt = rt.to_string().replace(' ', "")
    ));
    let version = &document.info.version;
    let operation_ids: Vec<&String> = ops.iter().map(|op| &op.id).collect();
    let mock_module = mock.module(&trait_name, rt);
    Ok(quote! {
        /// The `info.version` of the document this file was generated from.
        pub const API_VERSION: &str = #version;

        /// The `operationId` of every operation, in document order.
        pub const OPERATION_IDS: &[&str] = &[#(#operation_ids),*];

        #(#items)*

        #trait_doc
        pub trait #trait_name: #rt::Security {
            #(#methods)*
        }

        /// The axum router of every operation: parameters are validated, the
        /// caller authenticated and authorized, and every answer, failures
        /// included, is the documented JSON envelope with a trace id.
        pub fn router<A: #trait_name>(api: ::std::sync::Arc<A>) -> ::axum::Router {
            #rt::finish_router(routes(api))
        }

        /// The routes of every operation without the runtime's fallbacks and
        /// trace middleware: merge other routes into it, then pass the whole
        /// to `finish_router`.
        pub fn routes<A: #trait_name>(api: ::std::sync::Arc<A>) -> ::axum::Router {
            ::axum::Router::new()
                #(#route_calls)*
                .with_state(api)
        }

        #(#handlers)*

        #mock_module
    })
}

/// The pieces of the generated `mock` module, one operation at a time.
#[derive(Default)]
struct MockParts {
    call_idents: Vec<Ident>,
    calls: Vec<TokenStream>,
    fields: Vec<TokenStream>,
    inits: Vec<TokenStream>,
    setters: Vec<TokenStream>,
    methods: Vec<TokenStream>,
}

impl MockParts {
    #[allow(clippy::too_many_arguments, reason = "the pieces of one operation, named")]
    fn add(
        &mut self,
        op: &Op,
        pascal: &str,
        method_ident: &Ident,
        args: &[TokenStream],
        arg_names: &[TokenStream],
        response_ident: &Ident,
        rt: &TokenStream,
    ) {
        let call_ident = format_ident!("{pascal}Call");
        let op_id = &op.id;
        let call_doc = doc(&format!("The validated input of one `{op_id}` request."));
        self.call_idents.push(call_ident.clone());
        self.calls.push(quote! {
            #call_doc
            #[derive(Debug, Clone)]
            pub struct #call_ident {
                #(
                    /// As the trait method receives it.
                    pub #args,
                )*
            }
        });
        self.fields.push(quote! {
            #method_ident: ::std::sync::Mutex<::std::option::Option<Handler<#call_ident, #response_ident>>>
        });
        self.inits
            .push(quote! { #method_ident: ::std::sync::Mutex::new(::std::option::Option::None) });
        let calls_getter = format_ident!("{}_calls", method_ident);
        let calls_doc = doc(&format!("The `{op_id}` requests the mock answered, in order."));
        self.setters.push(quote! {
            #calls_doc
            pub fn #calls_getter(&self) -> ::std::vec::Vec<#call_ident> {
                self.calls
                    .lock()
                    .unwrap_or_else(::std::sync::PoisonError::into_inner)
                    .iter()
                    .filter_map(|call| match call {
                        MockCall::#call_ident(call) => ::std::option::Option::Some(call.clone()),
                        #[allow(unreachable_patterns)]
                        _ => ::std::option::Option::None,
                    })
                    .collect()
            }
        });
        let setter = format_ident!("on_{}", method_ident);
        let setter_doc = doc(&format!(
            "Answers every `{op_id}` request with what `handler` returns for it."
        ));
        self.setters.push(quote! {
            #setter_doc
            pub fn #setter(
                &self,
                handler: impl FnMut(&#call_ident) -> #response_ident + Send + 'static,
            ) -> &Self {
                *self.#method_ident.lock().unwrap_or_else(::std::sync::PoisonError::into_inner) =
                    ::std::option::Option::Some(::std::boxed::Box::new(handler));
                self
            }
        });
        let principal = if op.auth.is_some() {
            quote! { Self::Principal }
        } else {
            quote! { () }
        };
        self.methods.push(quote! {
            fn #method_ident(
                &self,
                _cx: #rt::RequestContext<#principal>,
                #(#args),*
            ) -> impl ::std::future::Future<Output = #response_ident> + Send {
                let call = #call_ident { #(#arg_names),* };
                self.calls
                    .lock()
                    .unwrap_or_else(::std::sync::PoisonError::into_inner)
                    .push(MockCall::#call_ident(call.clone()));
                let response = match self
                    .#method_ident
                    .lock()
                    .unwrap_or_else(::std::sync::PoisonError::into_inner)
                    .as_mut()
                {
                    ::std::option::Option::Some(handler) => handler(&call),
                    ::std::option::Option::None => {
                        panic!("no mock answer for `{}`: call `{}` first", #op_id, stringify!(#setter))
                    }
                };
                ::std::future::ready(response)
            }
        });
    }

    fn module(self, trait_name: &Ident, rt: &TokenStream) -> TokenStream {
        let MockParts {
            call_idents,
            calls,
            fields,
            inits,
            setters,
            methods,
        } = self;
        quote! {
            /// A programmable implementation of every operation, for tests of
            /// code that calls this API: set an answer per operation (only a
            /// documented response can be returned), serve it with [`router`]
            /// (or `runtime::serve_loopback`), and read back the validated calls.
            /// Any bearer token is accepted and holds every permission; an
            /// operation without an answer panics, which the router turns
            /// into a 500 envelope.
            pub mod mock {
                use super::*;

                type Handler<C, R> = ::std::boxed::Box<dyn FnMut(&C) -> R + Send>;

                #(#calls)*

                /// One recorded request. Non-exhaustive: operations added to
                /// the document add variants without breaking your matches.
                #[derive(Debug, Clone)]
                #[non_exhaustive]
                pub enum MockCall {
                    #(#[allow(missing_docs)] #call_idents(#call_idents),)*
                }

                /// The mock; see the module docs.
                pub struct MockApi {
                    calls: ::std::sync::Mutex<::std::vec::Vec<MockCall>>,
                    #(#fields,)*
                }

                impl ::std::default::Default for MockApi {
                    fn default() -> Self {
                        Self {
                            calls: ::std::sync::Mutex::new(::std::vec::Vec::new()),
                            #(#inits,)*
                        }
                    }
                }

                impl MockApi {
                    /// A mock with no answers set.
                    pub fn new() -> Self {
                        Self::default()
                    }

                    #(#setters)*

                    /// Every request the mock answered, in order.
                    pub fn calls(&self) -> ::std::vec::Vec<MockCall> {
                        self.calls.lock().unwrap_or_else(::std::sync::PoisonError::into_inner).clone()
                    }
                }

                impl #rt::Security for MockApi {
                    type Principal = ();

                    async fn authenticate(
                        &self,
                        _credentials: #rt::Credentials<'_>,
                        _trace_id: &#rt::TraceId,
                    ) -> ::std::result::Result<(), #rt::ApiError> {
                        ::std::result::Result::Ok(())
                    }

                    fn has_permission(&self, _principal: &(), _permission: &str) -> bool {
                        true
                    }
                }

                impl #trait_name for MockApi {
                    #(#methods)*
                }
            }
        }
    }
}

fn param_struct(
    context: &Context<'_>,
    rt: &TokenStream,
    op_id: &str,
    struct_ident: &Ident,
    noun: &str,
    params: &[&Param],
) -> TokenStream {
    let mut fields = Vec::new();
    let mut inits = Vec::new();
    let mut statics = Vec::new();
    for param in params {
        let field = &param.field;
        let name = &param.name;
        let field_doc = doc(&param.doc);
        let location = match param.location {
            Location::Path => quote! { #rt::Location::Path },
            Location::Query => quote! { #rt::Location::Query },
            Location::Header => quote! { #rt::Location::Header },
        };
        let parse_one = |scalar: &Scalar, statics: &mut Vec<TokenStream>| -> TokenStream {
            match scalar {
                Scalar::String {
                    min_length,
                    max_length,
                    pattern,
                } => {
                    let min = option_tokens(min_length.map(Literal::usize_unsuffixed));
                    let max = option_tokens(max_length.map(Literal::usize_unsuffixed));
                    let pattern_ref = match pattern {
                        Some(source) => {
                            let static_ident = format_ident!(
                                "{}_{}_PATTERN",
                                op_id.to_snake_case().to_uppercase(),
                                name.to_snake_case().to_uppercase()
                            );
                            statics.push(quote! {
                                static #static_ident: #rt::Pattern = #rt::Pattern::new(#source);
                            });
                            quote! { ::std::option::Option::Some(&#static_ident) }
                        }
                        None => quote! { ::std::option::Option::None },
                    };
                    quote! {
                        #rt::parse_string(#location, #name, raw, &#rt::StringRules {
                            min_length: #min,
                            max_length: #max,
                            pattern: #pattern_ref,
                        })
                    }
                }
                Scalar::Integer {
                    rust,
                    minimum,
                    maximum,
                } => {
                    let min = option_tokens(minimum.map(Literal::i64_unsuffixed));
                    let max = option_tokens(maximum.map(Literal::i64_unsuffixed));
                    quote! {
                        #rt::parse_integer::<#rust>(#location, #name, raw, &#rt::IntegerRules {
                            minimum: #min,
                            maximum: #max,
                        })
                    }
                }
                Scalar::Number { minimum, maximum } => {
                    let min = option_tokens(minimum.map(Literal::f64_unsuffixed));
                    let max = option_tokens(maximum.map(Literal::f64_unsuffixed));
                    quote! {
                        #rt::parse_number(#location, #name, raw, &#rt::NumberRules {
                            minimum: #min,
                            maximum: #max,
                        })
                    }
                }
                Scalar::Boolean => quote! { #rt::parse_boolean(#location, #name, raw) },
                Scalar::Named { expected, .. } => quote! {
                    #rt::parse_named(#location, #name, raw, #expected)
                },
            }
        };
        match &param.shape {
            Shape::One(scalar) => {
                let rust = context.scalar_type(scalar);
                let parse = parse_one(scalar, &mut statics);
                if param.required {
                    fields.push(quote! { #field_doc pub #field: #rust });
                    inits.push(quote! { #field: { let raw = raw.required(#name)?; #parse? } });
                } else if let Some(default) = &param.default {
                    fields.push(quote! { #field_doc pub #field: #rust });
                    inits.push(quote! {
                        #field: match raw.one(#name)? {
                            ::std::option::Option::Some(raw) => #parse?,
                            ::std::option::Option::None => #default,
                        }
                    });
                } else {
                    fields.push(quote! { #field_doc pub #field: ::std::option::Option<#rust> });
                    inits.push(quote! {
                        #field: match raw.one(#name)? {
                            ::std::option::Option::Some(raw) => ::std::option::Option::Some(#parse?),
                            ::std::option::Option::None => ::std::option::Option::None,
                        }
                    });
                }
            }
            Shape::Many {
                item,
                explode,
                min_items,
                max_items,
            } => {
                let rust = context.scalar_type(item);
                let parse = parse_one(item, &mut statics);
                let min = option_tokens(
                    min_items
                        .or(if param.required { Some(1) } else { None })
                        .map(Literal::usize_unsuffixed),
                );
                let max = option_tokens(max_items.map(Literal::usize_unsuffixed));
                fields.push(quote! { #field_doc pub #field: ::std::vec::Vec<#rust> });
                inits.push(quote! {
                    #field: {
                        let values = raw.many(#name, #explode);
                        #rt::check_items(#location, #name, values.len(), #min, #max)?;
                        values
                            .into_iter()
                            .map(|raw| #parse)
                            .collect::<::std::result::Result<::std::vec::Vec<_>, #rt::ApiError>>()?
                    }
                });
            }
        }
    }
    let struct_doc = doc(&format!("The {noun} parameters of `{op_id}`, validated."));
    quote! {
        #(#statics)*

        #struct_doc
        #[derive(Debug, Clone, PartialEq)]
        pub struct #struct_ident {
            #(#fields,)*
        }

        impl #struct_ident {
            /// Parses and validates the raw parameters; the error names the
            /// parameter and the rule it broke.
            pub fn from_raw(raw: &#rt::RawParams) -> ::std::result::Result<Self, #rt::ApiError> {
                Ok(Self {
                    #(#inits,)*
                })
            }
        }
    }
}

fn option_tokens(value: Option<Literal>) -> TokenStream {
    match value {
        Some(value) => quote! { ::std::option::Option::Some(#value) },
        None => quote! { ::std::option::Option::None },
    }
}

fn response_enum(_context: &Context<'_>, rt: &TokenStream, op: &Op, ident: &Ident) -> TokenStream {
    let mut variants = Vec::new();
    let mut arms = Vec::new();
    let mut status_arms = Vec::new();
    for reply in &op.replies {
        let variant = &reply.variant;
        let variant_doc = doc(&reply.doc);
        let status = Literal::u16_unsuffixed(reply.status);
        let (payload_field, payload_type, serialize) = match &reply.payload {
            Payload::None => (None, None, quote! { #rt::empty_response(#rt::status(#status)) }),
            Payload::Body(rust) => (
                Some(format_ident!("body")),
                Some(rust.clone()),
                quote! { #rt::json_response(#rt::status(#status), &body) },
            ),
            Payload::Envelope {
                envelope,
                success,
                payload,
                payload_nullable,
            } => {
                let rust = if *payload_nullable {
                    quote! { ::std::option::Option<#payload> }
                } else {
                    payload.clone()
                };
                let (field, build) = if *success {
                    (
                        format_ident!("data"),
                        quote! { #envelope { success: true, data, error: ::std::option::Option::None, trace_id: trace_id.to_string() } },
                    )
                } else {
                    (
                        format_ident!("error"),
                        quote! { #envelope { success: false, data: ::std::option::Option::None, error, trace_id: trace_id.to_string() } },
                    )
                };
                (
                    Some(field),
                    Some(rust),
                    quote! { #rt::json_response(#rt::status(#status), &#build) },
                )
            }
        };
        let header_fields: Vec<&Ident> = reply.headers.iter().map(|h| &h.field).collect();
        let header_sets = reply.headers.iter().map(|header| {
            let field = &header.field;
            let name = &header.name;
            if header.required {
                quote! { #rt::insert_header(&mut response, #name, #field); }
            } else {
                quote! {
                    if let ::std::option::Option::Some(value) = #field {
                        #rt::insert_header(&mut response, #name, value);
                    }
                }
            }
        });
        if reply.headers.is_empty() {
            match (&payload_field, &payload_type) {
                (Some(field), Some(rust)) => {
                    variants.push(quote! { #variant_doc #variant(#rust) });
                    arms.push(quote! { Self::#variant(#field) => #serialize });
                    status_arms.push(quote! { Self::#variant(..) => #status });
                }
                _ => {
                    variants.push(quote! { #variant_doc #variant });
                    arms.push(quote! { Self::#variant => #serialize });
                    status_arms.push(quote! { Self::#variant => #status });
                }
            }
        } else {
            let mut fields = Vec::new();
            if let (Some(field), Some(rust)) = (&payload_field, &payload_type) {
                fields.push(quote! { #[doc = " The response body."] #field: #rust });
            }
            for header in &reply.headers {
                let field = &header.field;
                let rust = &header.rust;
                let header_doc = doc(&format!("`{}` header: {}", header.name, header.doc));
                if header.required {
                    fields.push(quote! { #header_doc #field: #rust });
                } else {
                    fields.push(quote! { #header_doc #field: ::std::option::Option<#rust> });
                }
            }
            let bind = payload_field.iter();
            variants.push(quote! { #variant_doc #variant { #(#fields),* } });
            arms.push(quote! {
                Self::#variant { #(#bind,)* #(#header_fields),* } => {
                    let mut response = #serialize;
                    #(#header_sets)*
                    response
                }
            });
            status_arms.push(quote! { Self::#variant { .. } => #status });
        }
    }
    let enum_doc = doc(&format!(
        "The result of `{}`: one variant per documented response, and nothing else.",
        op.id
    ));
    quote! {
        #enum_doc
        #[derive(Debug, Clone)]
        pub enum #ident {
            #(#variants,)*
        }

        impl #ident {
            /// The HTTP status of this result.
            pub fn status(&self) -> u16 {
                match self {
                    #(#status_arms,)*
                }
            }

            /// The HTTP response of this result: the documented body (in the
            /// envelope, with `trace_id`) and headers.
            pub fn into_response_with(self, trace_id: &#rt::TraceId) -> ::axum::response::Response {
                match self {
                    #(#arms,)*
                }
            }
        }
    }
}
