//! What the client crate gets from the document besides progenitor's
//! client: the machine error codes (`x-error-codes`) as `ErrorCode`, and
//! the bounds and defaults of integer parameters, so that hand-written code
//! (the page size of an export, say) never repeats a number of the document.
//! And one change to progenitor's client: JSON bodies are decoded by
//! [`decode_once`]'s `json_response`.

use heck::{ToShoutySnakeCase, ToUpperCamelCase};
use openapiv3::{OpenAPI, Parameter, ParameterSchemaOrContent, ReferenceOr, SchemaKind, Type};
use proc_macro2::{Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
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

/// progenitor's client with every `ResponseValue::from_response` of its
/// `builder` module (where each operation's `send` parses its response)
/// replaced by the `json_response` this adds: the same value and errors,
/// but the body's UTF-8 is checked once, whole, and the JSON then parsed
/// from the `str`. progenitor's `serde_json::from_slice` checks every string
/// on its own: 10-15% of a client's CPU in an export (BENCHMARKS.md §4).
pub(crate) fn decode_once(client: TokenStream) -> TokenStream {
    let mut tokens: Vec<TokenTree> = client.into_iter().collect();
    let mut replaced = 0;
    for index in 0..tokens.len() {
        let is_builder = index >= 2
            && matches!(&tokens[index - 2], TokenTree::Ident(ident) if ident == "mod")
            && matches!(&tokens[index - 1], TokenTree::Ident(ident) if ident == "builder");
        if let (true, TokenTree::Group(group)) = (is_builder, &tokens[index]) {
            tokens[index] = TokenTree::Group(replace_in_group(group, &mut replaced));
        }
    }
    let mut client: TokenStream = tokens.into_iter().collect();
    if replaced == 0 {
        // No operation parses a JSON body: no helper to leave unused.
        return client;
    }
    let helper = quote! {
        /// progenitor's `ResponseValue::from_response` (the same value and
        /// errors), with the body's UTF-8 checked once rather than string by
        /// string (`cargo xtask generate`).
        async fn json_response<T: ::serde::de::DeserializeOwned, E>(
            response: ::reqwest::Response,
        ) -> ::std::result::Result<ResponseValue<T>, Error<E>> {
            let status = response.status();
            let headers = response.headers().clone();
            let full = response.bytes().await.map_err(Error::ResponseBodyError)?;
            let parsed = match ::std::str::from_utf8(&full) {
                ::std::result::Result::Ok(text) => ::serde_json::from_str(text),
                // Not UTF-8: serde_json's error says where.
                ::std::result::Result::Err(_) => ::serde_json::from_slice(&full),
            };
            match parsed {
                ::std::result::Result::Ok(inner) => ::std::result::Result::Ok(ResponseValue::new(inner, status, headers)),
                ::std::result::Result::Err(error) => ::std::result::Result::Err(Error::InvalidResponsePayload(full, error)),
            }
        }
    };
    client.extend(helper);
    client
}

/// `group` with each `ResponseValue :: from_response` in it made
/// `super :: json_response`, counted in `replaced`.
fn replace_in_group(group: &Group, replaced: &mut usize) -> Group {
    let tokens: Vec<TokenTree> = group.stream().into_iter().collect();
    let mut out = Vec::with_capacity(tokens.len());
    let mut index = 0;
    while index < tokens.len() {
        let call = matches!(&tokens[index], TokenTree::Ident(ident) if ident == "ResponseValue")
            && matches!(tokens.get(index + 1), Some(TokenTree::Punct(punct)) if punct.as_char() == ':')
            && matches!(tokens.get(index + 2), Some(TokenTree::Punct(punct)) if punct.as_char() == ':')
            && matches!(tokens.get(index + 3), Some(TokenTree::Ident(ident)) if ident == "from_response");
        if call {
            out.push(TokenTree::Ident(Ident::new("super", Span::call_site())));
            out.push(TokenTree::Punct(Punct::new(':', Spacing::Joint)));
            out.push(TokenTree::Punct(Punct::new(':', Spacing::Alone)));
            out.push(TokenTree::Ident(Ident::new("json_response", Span::call_site())));
            *replaced += 1;
            index += 4;
            continue;
        }
        match &tokens[index] {
            TokenTree::Group(inner) => out.push(TokenTree::Group(replace_in_group(inner, replaced))),
            other => out.push(other.clone()),
        }
        index += 1;
    }
    let mut rewritten = Group::new(group.delimiter(), out.into_iter().collect());
    rewritten.set_span(group.span());
    rewritten
}

#[cfg(test)]
mod tests {
    use quote::quote;

    #[test]
    fn from_response_is_replaced_in_the_builder_module_only() {
        let client = quote! {
            fn outside() { ResponseValue::from_response(response) }
            pub mod builder {
                fn send() { match status { 200u16 => ResponseValue::from_response(response).await, _ => { ResponseValue::from_response(other).await? } } }
            }
        };
        let text = super::decode_once(client).to_string();
        assert_eq!(text.matches("super :: json_response").count(), 2, "{text}");
        assert_eq!(
            text.matches("ResponseValue :: from_response").count(),
            1,
            "{text}"
        );
        assert!(text.contains("async fn json_response"), "{text}");
        let nothing = super::decode_once(quote! { pub mod builder { fn other() {} } }).to_string();
        assert!(!nothing.contains("json_response"), "{nothing}");
    }
}
