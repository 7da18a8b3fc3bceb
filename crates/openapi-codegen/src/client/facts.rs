//! `parameters`: the bounds and defaults of the document's integer
//! parameters as constants, so that hand-written code (the page size of an
//! export, say) never repeats a number of the document.

use heck::ToShoutySnakeCase;
use openapiv3::{OpenAPI, Parameter, ParameterSchemaOrContent, ReferenceOr, SchemaKind, Type};
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use crate::document::{operations, parameter_data};
use crate::naming::doc;

/// `parameters`: the `minimum`, `maximum` and `default` of every inline
/// integer parameter, as `{OPERATION}_{PARAMETER}_{MINIMUM|MAXIMUM|DEFAULT}`.
pub(crate) fn parameter_facts(document: &OpenAPI) -> TokenStream {
    let mut constants = Vec::new();
    for (_, _, operation) in operations(document) {
        let id = operation.operation_id.clone().unwrap_or_default();
        for parameter in &operation.parameters {
            let ReferenceOr::Item(parameter) = parameter else {
                continue;
            };
            let data = parameter_data(parameter);
            let ParameterSchemaOrContent::Schema(ReferenceOr::Item(schema)) = &data.format else {
                continue;
            };
            let SchemaKind::Type(Type::Integer(integer)) = &schema.schema_kind else {
                continue;
            };
            let location = match parameter {
                Parameter::Path { .. } => "path",
                Parameter::Query { .. } => "query",
                Parameter::Header { .. } => "header",
                Parameter::Cookie { .. } => "cookie",
            };
            let stem = format!(
                "{}_{}",
                id.to_shouty_snake_case(),
                data.name.to_shouty_snake_case()
            );
            let default = schema
                .schema_data
                .default
                .as_ref()
                .and_then(serde_json::Value::as_i64);
            for (suffix, value) in [
                ("MINIMUM", integer.minimum),
                ("MAXIMUM", integer.maximum),
                ("DEFAULT", default),
            ] {
                let Some(value) = value else { continue };
                let constant = format_ident!("{stem}_{suffix}");
                let literal = Literal::i64_unsuffixed(value);
                let text = doc(&format!(
                    "The `{}` of the {location} parameter `{}` of `{id}`.",
                    suffix.to_lowercase(),
                    data.name
                ));
                constants.push(quote! { #text pub const #constant: i64 = #literal; });
            }
        }
    }
    quote! {
        /// Bounds and defaults of the document's integer parameters.
        pub mod parameters {
            #(#constants)*
        }
    }
}
