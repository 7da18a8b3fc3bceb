//! Emits `raw`: for each component object with an array of components
//! among its properties, a builder of its raw JSON from the raw JSON of
//! those items (passed through: a server holding rows as JSON never parses
//! them) and its other properties as typed values, so that the property
//! names and types come from the document.

use openapiv3::{OpenAPI, ReferenceOr, Schema, SchemaKind, Type};
use proc_macro2::TokenStream;
use quote::quote;

use super::super::rust_types::inline_type;
use crate::document::ref_name;
use crate::naming::{doc, field_ident, type_ident};

/// The component an array property holds, when it holds components.
fn array_item(schema: &ReferenceOr<Box<Schema>>) -> Option<String> {
    let ReferenceOr::Item(schema) = schema else {
        return None;
    };
    match &schema.schema_kind {
        SchemaKind::Type(Type::Array(array)) if !schema.schema_data.nullable => match &array.items {
            Some(ReferenceOr::Reference { reference }) => {
                ref_name(reference, "schemas").ok().map(str::to_owned)
            }
            _ => None,
        },
        _ => None,
    }
}

fn unboxed(schema: &ReferenceOr<Box<Schema>>) -> ReferenceOr<Schema> {
    match schema {
        ReferenceOr::Reference { reference } => ReferenceOr::Reference {
            reference: reference.clone(),
        },
        ReferenceOr::Item(schema) => ReferenceOr::Item((**schema).clone()),
    }
}

/// The builder of one component, or `None` when it has no array of
/// components or a property whose type cannot be written here.
fn builder(name: &str, schema: &Schema, types: &TokenStream, rt: &TokenStream) -> Option<TokenStream> {
    let SchemaKind::Type(Type::Object(object)) = &schema.schema_kind else {
        return None;
    };
    let mut parameters = Vec::new();
    let mut writes = Vec::new();
    let mut raw_items = Vec::new();
    for (property, property_schema) in &object.properties {
        let field = field_ident(property);
        let required = object.required.contains(property);
        if let Some(item) = array_item(property_schema) {
            let item = type_ident(&item);
            parameters.push(quote! { #field: #rt::RawJsonArray<#types::#item> });
            raw_items.push(field.clone());
            writes.push((
                property.clone(),
                if required {
                    quote! { object.raw(#property, #field.finish())?; }
                } else {
                    quote! {
                        if !#field.is_empty() {
                            object.raw(#property, #field.finish())?;
                        }
                    }
                },
            ));
        } else {
            let rust = inline_type(&unboxed(property_schema), types)?;
            if required {
                parameters.push(quote! { #field: &#rust });
                writes.push((property.clone(), quote! { object.value(#property, #field)?; }));
            } else {
                parameters.push(quote! { #field: ::std::option::Option<&#rust> });
                writes.push((
                    property.clone(),
                    quote! {
                        if let ::std::option::Option::Some(value) = #field {
                            object.value(#property, value)?;
                        }
                    },
                ));
            }
        }
    }
    if raw_items.is_empty() {
        return None;
    }
    // Parameters in the document's order; properties written in the order
    // the typed struct serializes them, so that raw and typed answers are
    // the same bytes.
    let writes: Vec<TokenStream> = crate::naming::serialization_order(writes)
        .into_iter()
        .map(|(_, write)| write)
        .collect();
    let function = field_ident(name);
    let ty = type_ident(name);
    let docs = doc(&format!(
        "The raw JSON of a `{name}`: {} as raw JSON of their items (passed through unparsed), the other properties typed.",
        raw_items
            .iter()
            .map(|field| format!("`{field}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Some(quote! {
        #docs
        pub fn #function(#(#parameters),*) -> ::std::result::Result<#rt::RawJson<#types::#ty>, ::serde_json::Error> {
            let mut object = #rt::RawObject::new();
            #(#writes)*
            ::std::result::Result::Ok(object.finish())
        }
    })
}

/// The `raw` module of a document (empty when no component has an array of
/// components).
pub(crate) fn module(document: &OpenAPI, types: &TokenStream, rt: &TokenStream) -> TokenStream {
    let builders: Vec<TokenStream> = document
        .components
        .iter()
        .flat_map(|components| components.schemas.iter())
        .filter_map(|(name, schema)| match schema {
            ReferenceOr::Item(schema) => builder(name, schema, types, rt),
            ReferenceOr::Reference { .. } => None,
        })
        .collect();
    if builders.is_empty() {
        return quote! {};
    }
    quote! {
        /// Builders of the raw JSON of schemas that hold arrays of
        /// components, for answers of raw JSON (`Json::Raw`).
        pub mod raw {
            #(#builders)*
        }
    }
}
