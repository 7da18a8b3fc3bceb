//! Rust types for the schemas the server generator meets inline (a
//! parameter's `date-time`, a body that is an array of a component, a map):
//! the same mapping typify applies to the component schemas, so that a
//! value serializes the same wherever it appears. A schema that needs a Rust
//! name of its own (an object with properties, an enum, a `oneOf`) is not
//! mapped here: normalization makes it a component first.

use openapiv3::{AdditionalProperties, ReferenceOr, Schema, SchemaKind, Type, VariantOrUnknownOrEmpty};
use proc_macro2::TokenStream;
use quote::quote;
use serde::Serialize;

use crate::document::ref_name;
use crate::naming::type_ident;

/// The `format` of a schema as the document writes it.
pub(crate) fn format_name<T: Serialize>(format: &VariantOrUnknownOrEmpty<T>) -> Option<String> {
    match format {
        VariantOrUnknownOrEmpty::Empty => None,
        other => serde_json::to_value(other)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned)),
    }
}

/// A string format whose values have a Rust type of their own, and how the
/// server names it when it refuses a value.
pub(crate) struct StringFormat {
    /// The Rust type (the one typify uses in the types crate).
    pub(crate) rust: TokenStream,
    /// What a valid value is, for messages: "an RFC 3339 date-time, such as …".
    pub(crate) expected: &'static str,
}

/// The Rust type of a string `format`; `None` for the formats that stay a
/// plain `String` (`byte`, `binary`, `password`, `uri`, `email`, `hostname`
/// and any unknown format), as in typify.
pub(crate) fn string_format(format: Option<&str>) -> Option<StringFormat> {
    let (rust, expected) = match format? {
        "date-time" => (
            quote! { ::chrono::DateTime<::chrono::offset::Utc> },
            "an RFC 3339 date-time, such as `2026-01-31T09:30:00Z`",
        ),
        "date" => (
            quote! { ::chrono::naive::NaiveDate },
            "a date, such as `2026-01-31`",
        ),
        "uuid" => (
            quote! { ::uuid::Uuid },
            "a UUID, such as `67e55044-10b1-426f-9247-bb680e5fe0c8`",
        ),
        "ip" => (quote! { ::std::net::IpAddr }, "an IPv4 or IPv6 address"),
        "ipv4" => (
            quote! { ::std::net::Ipv4Addr },
            "an IPv4 address, such as `192.0.2.1`",
        ),
        "ipv6" => (
            quote! { ::std::net::Ipv6Addr },
            "an IPv6 address, such as `2001:db8::1`",
        ),
        _ => return None,
    };
    Some(StringFormat { rust, expected })
}

/// The Rust integer type of an integer `format` (typify's table; `int64`
/// and no format are `i64`).
pub(crate) fn integer_type(format: Option<&str>) -> &'static str {
    match format {
        Some("int8") => "i8",
        Some("uint8") => "u8",
        Some("int16") => "i16",
        Some("uint16") => "u16",
        Some("int" | "int32") => "i32",
        Some("uint" | "uint32") => "u32",
        Some("uint64") => "u64",
        _ => "i64",
    }
}

/// The Rust float type of a number `format`.
pub(crate) fn number_type(format: Option<&str>) -> &'static str {
    match format {
        Some("float") => "f32",
        _ => "f64",
    }
}

/// The Rust type of a schema written inline, or `None` when it needs a
/// named type (a component).
pub(crate) fn inline_type(schema: &ReferenceOr<Schema>, types: &TokenStream) -> Option<TokenStream> {
    match schema {
        ReferenceOr::Reference { reference } => {
            let ident = type_ident(ref_name(reference, "schemas").ok()?);
            Some(quote! { #types::#ident })
        }
        ReferenceOr::Item(schema) => item_type(schema, types),
    }
}

fn boxed_type(schema: &ReferenceOr<Box<Schema>>, types: &TokenStream) -> Option<TokenStream> {
    match schema {
        ReferenceOr::Reference { reference } => inline_type(
            &ReferenceOr::Reference {
                reference: reference.clone(),
            },
            types,
        ),
        ReferenceOr::Item(schema) => item_type(schema, types),
    }
}

fn item_type(schema: &Schema, types: &TokenStream) -> Option<TokenStream> {
    let inner = match &schema.schema_kind {
        SchemaKind::Type(Type::String(string)) => {
            if !string.enumeration.is_empty()
                || string.pattern.is_some()
                || string.min_length.is_some()
                || string.max_length.is_some()
            {
                return None;
            }
            match string_format(format_name(&string.format).as_deref()) {
                Some(format) => format.rust,
                None => quote! { ::std::string::String },
            }
        }
        SchemaKind::Type(Type::Integer(integer)) => {
            if !integer.enumeration.is_empty() {
                return None;
            }
            let rust = proc_macro2::Ident::new(
                integer_type(format_name(&integer.format).as_deref()),
                proc_macro2::Span::call_site(),
            );
            quote! { #rust }
        }
        SchemaKind::Type(Type::Number(number)) => {
            if !number.enumeration.is_empty() {
                return None;
            }
            let rust = proc_macro2::Ident::new(
                number_type(format_name(&number.format).as_deref()),
                proc_macro2::Span::call_site(),
            );
            quote! { #rust }
        }
        SchemaKind::Type(Type::Boolean(boolean)) => {
            if !boolean.enumeration.is_empty() {
                return None;
            }
            quote! { bool }
        }
        SchemaKind::Type(Type::Array(array)) => {
            let items = match &array.items {
                None => quote! { ::serde_json::Value },
                Some(items) => boxed_type(items, types)?,
            };
            quote! { ::std::vec::Vec<#items> }
        }
        SchemaKind::Type(Type::Object(object)) => {
            if !object.properties.is_empty()
                || object.min_properties.is_some()
                || object.max_properties.is_some()
            {
                return None;
            }
            match &object.additional_properties {
                Some(AdditionalProperties::Schema(values)) => {
                    let values = inline_type(values, types)?;
                    quote! { ::std::collections::HashMap<::std::string::String, #values> }
                }
                Some(AdditionalProperties::Any(false)) => return None,
                Some(AdditionalProperties::Any(true)) | None => {
                    quote! { ::serde_json::Map<::std::string::String, ::serde_json::Value> }
                }
            }
        }
        SchemaKind::AllOf { all_of } if all_of.len() == 1 => inline_type(&all_of[0], types)?,
        SchemaKind::Any(any) if *any == openapiv3::AnySchema::default() => quote! { ::serde_json::Value },
        _ => return None,
    };
    Some(if schema.schema_data.nullable {
        quote! { ::std::option::Option<#inner> }
    } else {
        inner
    })
}
