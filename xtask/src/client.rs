//! What the client crate gets from the document besides progenitor's
//! client: the machine error codes (`x-error-codes`) as `ErrorCode`, and
//! the bounds and defaults of integer parameters, so that hand-written code
//! (the page size of an export, say) never repeats a number of the document.

use heck::{ToShoutySnakeCase, ToUpperCamelCase};
use openapiv3::{OpenAPI, Parameter, ParameterSchemaOrContent, ReferenceOr, SchemaKind, Type};
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use crate::server::declared_error_codes;
use crate::spec::{operations, parameter_data};

fn doc(text: &str) -> TokenStream {
    let lines = text.lines().map(|line| {
        let line = format!(" {line}");
        quote! { #[doc = #line] }
    });
    quote! { #(#lines)* }
}

/// `ErrorCode` and `error_codes` from the document's `x-error-codes`.
fn error_codes(document: &OpenAPI) -> Result<TokenStream, String> {
    let mut seen = std::collections::BTreeSet::new();
    let declared: Vec<_> = declared_error_codes(document)?
        .into_iter()
        .filter(|decl| seen.insert(decl.code.clone()))
        .collect();
    let mut variants = Vec::new();
    let mut to_str = Vec::new();
    let mut from_str = Vec::new();
    let mut status = Vec::new();
    let mut constants = Vec::new();
    for decl in &declared {
        let code = &decl.code;
        let variant = format_ident!("{}", code.to_upper_camel_case());
        let constant = format_ident!("{}", code.to_shouty_snake_case());
        let text = if decl.description.is_empty() {
            format!("`{code}` ({}).", decl.status)
        } else {
            format!("`{code}` ({}): {}", decl.status, decl.description.trim())
        };
        let docs = doc(&text);
        let http = Literal::u16_unsuffixed(decl.status);
        variants.push(quote! { #docs #variant });
        to_str.push(quote! { ErrorCode::#variant => error_codes::#constant });
        from_str.push(quote! { error_codes::#constant => ErrorCode::#variant });
        status.push(quote! { ErrorCode::#variant => ::std::option::Option::Some(#http) });
        constants.push(quote! { #docs pub const #constant: &str = #code; });
    }
    Ok(quote! {
        /// The machine error codes the document declares (`x-error-codes`).
        pub mod error_codes {
            #(#constants)*
        }

        /// The machine `code` of a failure, as the document declares them;
        /// a code added later arrives as [`ErrorCode::Other`].
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            #(#variants,)*
            /// Any other code, as sent.
            Other(::std::string::String),
        }

        impl ErrorCode {
            /// The code as the API spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    #(#to_str,)*
                    ErrorCode::Other(code) => code,
                }
            }

            /// The HTTP status the document declares the code with.
            pub fn status(&self) -> ::std::option::Option<u16> {
                match self {
                    #(#status,)*
                    ErrorCode::Other(_) => ::std::option::Option::None,
                }
            }
        }

        impl ::std::convert::From<&str> for ErrorCode {
            fn from(code: &str) -> Self {
                match code {
                    #(#from_str,)*
                    other => ErrorCode::Other(other.to_owned()),
                }
            }
        }

        impl ::std::fmt::Display for ErrorCode {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    })
}

/// `parameters`: the `minimum`, `maximum` and `default` of every inline
/// integer parameter, as `{OPERATION}_{PARAMETER}_{MINIMUM|MAXIMUM|DEFAULT}`.
fn parameter_facts(document: &OpenAPI) -> TokenStream {
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

/// What the client file holds beside progenitor's client.
pub(crate) fn extras(document: &OpenAPI) -> Result<TokenStream, String> {
    let codes = error_codes(document)?;
    let facts = parameter_facts(document);
    Ok(quote! {
        #codes
        #facts
    })
}
