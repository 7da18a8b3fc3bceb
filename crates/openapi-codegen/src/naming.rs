//! Rust names for the names of a document, as typify and the generators
//! write them, and doc comments.

use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};

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

pub(crate) fn doc(text: &str) -> TokenStream {
    let lines = text.trim_end().lines().map(|line| {
        let line = format!(" {line}");
        quote! { #[doc = #line] }
    });
    quote! { #(#lines)* }
}

pub(crate) fn variant_name(status: u16) -> String {
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

pub(crate) fn option_tokens(value: Option<Literal>) -> TokenStream {
    match value {
        Some(value) => quote! { ::std::option::Option::Some(#value) },
        None => quote! { ::std::option::Option::None },
    }
}

/// The `PascalCase` of an operation id, the stem of its item names.
pub(crate) fn pascal(id: &str) -> String {
    id.to_upper_camel_case()
}

/// The `SCREAMING_SNAKE` of a name, for statics.
pub(crate) fn screaming(name: &str) -> String {
    name.to_snake_case().to_uppercase()
}

pub(crate) fn literal_usize(value: Option<usize>) -> TokenStream {
    option_tokens(value.map(Literal::usize_unsuffixed))
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
