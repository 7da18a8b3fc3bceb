//! String enums whose values collide once made Rust names (`add` and `Add`,
//! `reactions-+1` and `reactions--1`): typify panics on them ("Failed to
//! make unique variant names"), so the generator writes them itself; so too
//! enums of `+1` and `-1`, which typify names in lower case. Each
//! such enum becomes a component of its own (hoisted from where it stood
//! inline, under the name typify would have given it), and its type is an
//! enum whose variants are numbered where they collide and renamed to their
//! values, so every value round-trips as written.

use std::collections::BTreeSet;

use heck::ToUpperCamelCase;
use openapiv3::{OpenAPI, ReferenceOr, Schema, SchemaKind, Type};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::document::pointer;
use crate::naming::{doc, type_ident};
use crate::report::{Fallback, FallbackKind};

/// A variant name as typify makes it from a value (its `sanitize` in
/// Pascal case, special cases included).
pub(crate) fn sanitized(value: &str) -> String {
    let out = match value {
        "+1" => "Plus1".to_owned(),
        "-1" => "Minus1".to_owned(),
        _ => value
            .replace('\'', "")
            .replace(|c: char| !unicode_ident::is_xid_continue(c), "-")
            .to_upper_camel_case(),
    };
    let out = match out.chars().next() {
        None => "X".to_owned(),
        Some(first) if unicode_ident::is_xid_start(first) => out,
        Some(_) => format!("X{out}"),
    };
    if out == "Self" { "Self_".to_owned() } else { out }
}

fn all_unique(names: &[String]) -> bool {
    names.iter().collect::<BTreeSet<_>>().len() == names.len()
}

/// Why typify cannot be left to name the variants of these values, if it
/// cannot: its names collide (it panics), or it names `+1` and `-1` in
/// lower case (`plus1`, which Rust's style lints refuse).
pub(crate) fn rewrite_reason(values: &[String]) -> Option<&'static str> {
    if collides(values) {
        Some("its enum values collide as Rust names")
    } else if values.iter().any(|value| value == "+1" || value == "-1") {
        Some("typify names its values `+1` and `-1` in lower case")
    } else {
        None
    }
}

/// Whether typify fails to name the variants of these values: its plain
/// names collide, and so do its second try's (every character that cannot
/// be in an identifier, and `_`, made an `X`).
pub(crate) fn collides(values: &[String]) -> bool {
    let plain: Vec<String> = values.iter().map(|value| sanitized(value)).collect();
    if all_unique(&plain) {
        return false;
    }
    let second: Vec<String> = values
        .iter()
        .map(|value| sanitized(&value.replace(|c: char| c == '_' || !unicode_ident::is_xid_continue(c), "X")))
        .collect();
    !all_unique(&second)
}

/// The string values of a string enum schema (`None` for another schema).
fn string_values(schema: &Schema) -> Option<Vec<String>> {
    match &schema.schema_kind {
        SchemaKind::Type(Type::String(string)) if !string.enumeration.is_empty() => {
            Some(string.enumeration.iter().flatten().cloned().collect())
        }
        _ => None,
    }
}

/// The distinct variant names of colliding values: typify's name, and for
/// the second and later value of a name the same name numbered (`Add`,
/// `Add2`; after a digit, `Reactions1V2`).
pub(crate) fn variant_names(values: &[String]) -> Vec<String> {
    let mut taken = BTreeSet::new();
    values
        .iter()
        .map(|value| {
            let base = sanitized(value);
            let mut name = base.clone();
            let mut counter = 1;
            while !taken.insert(name.clone()) {
                counter += 1;
                name = if base.ends_with(|c: char| c.is_ascii_digit()) {
                    format!("{base}V{counter}")
                } else {
                    format!("{base}{counter}")
                };
            }
            name
        })
        .collect()
}

/// An inline colliding enum found in a component, to be hoisted.
struct Found {
    /// Segments from the component's schema to the enum.
    segments: Vec<String>,
    /// The component name typify would give the inline enum.
    name: String,
    /// Why it is written here.
    reason: &'static str,
}

/// Collects the enums inside `schema` (not `schema` itself) that typify
/// cannot name.
fn find_inline(schema: &Schema, segments: &mut Vec<String>, name: &str, found: &mut Vec<Found>) {
    let mut visit =
        |child: &ReferenceOr<Schema>, segment: &[&str], child_name: String, found: &mut Vec<Found>| {
            if let ReferenceOr::Item(child) = child {
                let depth = segments.len();
                segments.extend(segment.iter().map(|part| (*part).to_owned()));
                if let Some(reason) = string_values(child).and_then(|values| rewrite_reason(&values)) {
                    found.push(Found {
                        segments: segments.clone(),
                        name: child_name,
                        reason,
                    });
                } else {
                    find_inline(child, segments, &child_name, found);
                }
                segments.truncate(depth);
            }
        };
    match &schema.schema_kind {
        SchemaKind::Type(Type::Object(object)) => {
            for (property, child) in &object.properties {
                let child = unbox(child);
                visit(
                    &child,
                    &["properties", property],
                    format!("{name}{}", property.to_upper_camel_case()),
                    found,
                );
            }
            if let Some(openapiv3::AdditionalProperties::Schema(child)) = &object.additional_properties {
                visit(child, &["additionalProperties"], format!("{name}Value"), found);
            }
        }
        SchemaKind::Type(Type::Array(array)) => {
            if let Some(items) = &array.items {
                visit(&unbox(items), &["items"], format!("{name}Item"), found);
            }
        }
        SchemaKind::AllOf { all_of: branches }
        | SchemaKind::OneOf { one_of: branches }
        | SchemaKind::AnyOf { any_of: branches } => {
            let keyword = match &schema.schema_kind {
                SchemaKind::AllOf { .. } => "allOf",
                SchemaKind::OneOf { .. } => "oneOf",
                _ => "anyOf",
            };
            for (index, branch) in branches.iter().enumerate() {
                visit(
                    branch,
                    &[keyword, &index.to_string()],
                    format!("{name}Variant{index}"),
                    found,
                );
            }
        }
        _ => {}
    }
}

fn unbox(schema: &ReferenceOr<Box<Schema>>) -> ReferenceOr<Schema> {
    match schema {
        ReferenceOr::Reference { reference } => ReferenceOr::Reference {
            reference: reference.clone(),
        },
        ReferenceOr::Item(schema) => ReferenceOr::Item((**schema).clone()),
    }
}

/// The inline schema at `segments` below `schema`, mutable.
fn at_mut<'a>(schema: &'a mut Schema, segments: &[String]) -> Option<&'a mut Schema> {
    let Some((first, rest)) = segments.split_first() else {
        return Some(schema);
    };
    let child: &mut Schema = match (&mut schema.schema_kind, first.as_str()) {
        (SchemaKind::Type(Type::Object(object)), "properties") => {
            let (name, rest) = rest.split_first()?;
            match object.properties.get_mut(name)? {
                ReferenceOr::Item(child) => return at_mut(child, rest),
                ReferenceOr::Reference { .. } => return None,
            }
        }
        (SchemaKind::Type(Type::Object(object)), "additionalProperties") => {
            match object.additional_properties.as_mut()? {
                openapiv3::AdditionalProperties::Schema(child) => match child.as_mut() {
                    ReferenceOr::Item(child) => child,
                    ReferenceOr::Reference { .. } => return None,
                },
                openapiv3::AdditionalProperties::Any(_) => return None,
            }
        }
        (SchemaKind::Type(Type::Array(array)), "items") => match array.items.as_mut()? {
            ReferenceOr::Item(child) => child,
            ReferenceOr::Reference { .. } => return None,
        },
        (
            SchemaKind::AllOf { all_of: branches }
            | SchemaKind::OneOf { one_of: branches }
            | SchemaKind::AnyOf { any_of: branches },
            _,
        ) => {
            let (index, rest) = rest.split_first()?;
            match branches.get_mut(index.parse::<usize>().ok()?)? {
                ReferenceOr::Item(child) => return at_mut(child, rest),
                ReferenceOr::Reference { .. } => return None,
            }
        }
        _ => return None,
    };
    at_mut(child, rest)
}

/// Moves every colliding string enum of the components into a component of
/// its own (a nullable one stays nullable where it stood, as `allOf` of the
/// reference); returns the names of the components that are such enums,
/// each reported as a [`FallbackKind::Rewritten`] fallback.
pub(crate) fn hoist_colliding(document: &mut OpenAPI, fallbacks: &mut Vec<Fallback>) -> Vec<String> {
    let Some(components) = document.components.as_mut() else {
        return Vec::new();
    };
    let mut rewritten = Vec::new();
    let mut hoisted = Vec::new();
    for (name, schema) in components.schemas.iter_mut() {
        let ReferenceOr::Item(schema) = schema else {
            continue;
        };
        if let Some(reason) = string_values(schema).and_then(|values| rewrite_reason(&values)) {
            fallbacks.push(Fallback {
                schema: name.clone(),
                pointer: pointer(&["components", "schemas", name]),
                kind: FallbackKind::Rewritten,
                reason: format!("{reason}: numbered variants renamed to the values"),
            });
            rewritten.push(name.clone());
            continue;
        }
        let mut found = Vec::new();
        find_inline(schema, &mut Vec::new(), &name.to_upper_camel_case(), &mut found);
        for Found {
            segments,
            name: new_name,
            reason,
        } in found
        {
            let Some(inline) = at_mut(schema, &segments) else {
                continue;
            };
            let reference = ReferenceOr::Reference {
                reference: format!("#/components/schemas/{new_name}"),
            };
            let nullable = inline.schema_data.nullable;
            let mut enum_schema = std::mem::replace(
                inline,
                Schema {
                    schema_data: Default::default(),
                    schema_kind: SchemaKind::AllOf {
                        all_of: vec![reference],
                    },
                },
            );
            inline.schema_data.nullable = nullable;
            inline.schema_data.description = enum_schema.schema_data.description.clone();
            enum_schema.schema_data.nullable = false;
            let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
            let mut at = vec!["components", "schemas", name.as_str()];
            at.extend(segments);
            hoisted.push((new_name, enum_schema, pointer(&at), reason));
        }
    }
    for (name, schema, at, reason) in hoisted {
        // The same enum in two places: one component (typify's name is unique).
        if components.schemas.contains_key(&name) {
            continue;
        }
        components.schemas.insert(name.clone(), ReferenceOr::Item(schema));
        fallbacks.push(Fallback {
            schema: name.clone(),
            pointer: at,
            kind: FallbackKind::Rewritten,
            reason: format!("{reason}: hoisted, numbered variants renamed to the values"),
        });
        rewritten.push(name);
    }
    rewritten
}

/// The Rust enum of the component `name`, a string enum of `document`
/// whose values collide as Rust names.
pub(crate) fn emit(document: &OpenAPI, name: &str) -> TokenStream {
    let schema = document
        .components
        .as_ref()
        .and_then(|components| components.schemas.get(name))
        .and_then(ReferenceOr::as_item);
    let values = schema.and_then(string_values).unwrap_or_default();
    let description = schema
        .and_then(|schema| schema.schema_data.description.clone())
        .unwrap_or_else(|| format!("`{name}`"));
    let ident = type_ident(name);
    let variants: Vec<_> = variant_names(&values)
        .iter()
        .map(|variant| format_ident!("{variant}"))
        .collect();
    let type_doc = doc(&format!(
        "{}\n\nWritten by the generator: values that collide as Rust names get numbered variants, each renamed to its value.",
        description.trim_end()
    ));
    let variant_docs = values.iter().map(|value| doc(&format!("`{value}`")));
    quote! {
        #type_doc
        #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, ::schemars::JsonSchema)]
        pub enum #ident {
            #(
                #variant_docs
                #[serde(rename = #values)]
                #variants,
            )*
        }

        impl #ident {
            /// The value as the document writes it.
            pub fn as_str(&self) -> &'static str {
                match self {
                    #(Self::#variants => #values,)*
                }
            }
        }

        impl ::std::fmt::Display for #ident {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for #ident {
            type Err = ::std::string::String;

            fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
                match value {
                    #(#values => ::std::result::Result::Ok(Self::#variants),)*
                    other => ::std::result::Result::Err(::std::format!("`{other}` is not a value of {}", stringify!(#ident))),
                }
            }
        }

        impl ::std::convert::TryFrom<&str> for #ident {
            type Error = ::std::string::String;

            fn try_from(value: &str) -> ::std::result::Result<Self, Self::Error> {
                value.parse()
            }
        }

        impl ::std::convert::TryFrom<::std::string::String> for #ident {
            type Error = ::std::string::String;

            fn try_from(value: ::std::string::String) -> ::std::result::Result<Self, Self::Error> {
                value.parse()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{collides, variant_names};

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|value| (*value).to_owned()).collect()
    }

    #[test]
    fn values_collide_as_typify_names_them() {
        assert!(collides(&strings(&["add", "Add", "remove", "Remove"])));
        assert!(collides(&strings(&["reactions-+1", "reactions--1", "created"])));
        // typify's own rescues: `+1`/`-1`, and `X` for what cannot be in a name.
        assert!(!collides(&strings(&["+1", "-1", "laugh"])));
        assert!(!collides(&strings(&["a-b", "aB"])));
        assert!(collides(&strings(&["a-b", "a_b"])));
        assert!(!collides(&strings(&["open", "closed"])));
    }

    #[test]
    fn colliding_values_get_distinct_numbered_names() {
        assert_eq!(
            variant_names(&strings(&["add", "Add", "remove", "ADD"])),
            ["Add", "Add2", "Remove", "Add3"]
        );
        assert_eq!(
            variant_names(&strings(&["reactions-+1", "reactions--1"])),
            ["Reactions1", "Reactions1V2"]
        );
    }
}
