//! The server generator: from a normalized document, one API trait with a
//! method per operation, typed inputs, a per-operation result enum whose
//! variants are exactly the documented responses, an axum router that
//! validates everything before the trait is called, and a mock.
//!
//! Split the way progenitor splits its own: [`model`] computes what each
//! operation is once (parameters, body, responses, security); the emitters
//! ([`params`], [`responses`], [`handlers`], [`mock`]) turn it into code.
//! What the document declares about its conventions (`x-envelope`,
//! `x-error-codes`) is read there too: the generator depends on the
//! document alone.

mod examples;
mod handlers;
mod mock;
mod model;
mod params;
mod raw;
mod responses;
pub mod schema;

pub(crate) use model::declared_error_codes;

use heck::{ToSnakeCase, ToUpperCamelCase};
use openapiv3::OpenAPI;
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};

use crate::spec::Skip;

/// Where the generated server code finds the shared types and the runtime.
pub struct ServerSettings {
    /// Path of the types module or crate, such as `audiences_types`.
    pub types_path: TokenStream,
    /// Path of the runtime module, such as `crate::runtime`.
    pub runtime_path: TokenStream,
}

/// The server code of a document, and the operations it leaves out.
pub struct Generated {
    /// The code.
    pub tokens: TokenStream,
    /// One entry per operation not served, naming the construct.
    pub skipped: Vec<Skip>,
}

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
    let camel = component.to_upper_camel_case();
    if camel.starts_with(|c: char| c.is_ascii_digit()) {
        format_ident!("_{camel}")
    } else {
        Ident::new(&camel, Span::call_site())
    }
}

fn doc(text: &str) -> TokenStream {
    let lines = text.trim_end().lines().map(|line| {
        let line = format!(" {line}");
        quote! { #[doc = #line] }
    });
    quote! { #(#lines)* }
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

fn option_tokens(value: Option<Literal>) -> TokenStream {
    match value {
        Some(value) => quote! { ::std::option::Option::Some(#value) },
        None => quote! { ::std::option::Option::None },
    }
}

/// Generates the server file of a normalized document.
pub fn generate(document: &OpenAPI, settings: &ServerSettings) -> Result<Generated, String> {
    let api = model::build(document, &settings.types_path)?;
    let handlers = handlers::emit(&api, &settings.runtime_path);
    let raw = raw::module(document, &nested(&settings.types_path), &settings.runtime_path);
    let tokens = quote! {
        #handlers
        #raw
    };
    Ok(Generated {
        tokens,
        skipped: api.skipped,
    })
}

/// `items` in the order typify declares (and serde serializes) the
/// properties of the same names: the order of schemars' map, which typify
/// builds its structs from (sorted by name unless schemars'
/// `preserve_order` is on, then as written). Raw JSON written in this order
/// is byte for byte what the typed value serializes to.
pub(crate) fn serialization_order<T>(items: Vec<(String, T)>) -> Vec<(String, T)> {
    let mut order: schemars::Map<String, usize> = schemars::Map::new();
    for (index, (name, _)) in items.iter().enumerate() {
        order.insert(name.clone(), index);
    }
    let mut slots: Vec<Option<(String, T)>> = items.into_iter().map(Some).collect();
    order.values().filter_map(|&index| slots[index].take()).collect()
}

/// A path as written one module deeper: `self::types` becomes
/// `super::types`; absolute paths stay.
fn nested(path: &TokenStream) -> TokenStream {
    let text = path.to_string().replace(' ', "");
    match text.strip_prefix("self::") {
        Some(rest) => format!("super::{rest}").parse().unwrap_or_else(|_| path.clone()),
        None if text.starts_with("super::") => {
            format!("super::{text}").parse().unwrap_or_else(|_| path.clone())
        }
        None => path.clone(),
    }
}

/// The `PascalCase` of an operation id, the stem of its item names.
fn pascal(id: &str) -> String {
    id.to_upper_camel_case()
}

/// The `SCREAMING_SNAKE` of a name, for statics.
fn screaming(name: &str) -> String {
    name.to_snake_case().to_uppercase()
}

fn literal_usize(value: Option<usize>) -> TokenStream {
    option_tokens(value.map(Literal::usize_unsuffixed))
}
