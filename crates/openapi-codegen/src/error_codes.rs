//! `error_codes` and `ErrorCode`, from the document's `x-error-codes`: the
//! machine codes as constants (with every code and its status in `ALL`),
//! and an enum a client matches on. Generated once, into the types, and
//! re-exported by the client and the server.

use heck::ToUpperCamelCase;
use openapiv3::OpenAPI;
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use crate::conventions::declared_error_codes;
use crate::error::Result;
use crate::naming::{doc, screaming};

/// The constant of a code in `error_codes`.
pub(crate) fn code_ident(code: &str) -> Ident {
    let name = screaming(code);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        format_ident!("CODE_{name}")
    } else {
        format_ident!("{name}")
    }
}

/// `error_codes` (always, empty when the document declares none, so that
/// client and server can re-export it) and `ErrorCode` (when it declares
/// some; `DeclaredErrorCode` when a component takes the name).
pub(crate) fn module(document: &OpenAPI) -> Result<TokenStream> {
    let declared = declared_error_codes(document)?;
    let taken = document
        .components
        .iter()
        .flat_map(|components| components.schemas.keys())
        .any(|name| crate::naming::type_ident(name) == "ErrorCode");
    let enum_ident = if taken {
        format_ident!("DeclaredErrorCode")
    } else {
        format_ident!("ErrorCode")
    };
    let mut variants = Vec::new();
    let mut to_str = Vec::new();
    let mut from_str = Vec::new();
    let mut status = Vec::new();
    let mut constants = Vec::new();
    let mut all = Vec::new();
    for decl in &declared {
        let code = &decl.code;
        let variant = format_ident!("{}", code.to_upper_camel_case());
        let constant = code_ident(code);
        let text = if decl.description.is_empty() {
            format!("`{code}` ({}).", decl.status)
        } else {
            format!("`{code}` ({}): {}", decl.status, decl.description.trim())
        };
        let docs = doc(&text);
        let http = Literal::u16_unsuffixed(decl.status);
        variants.push(quote! { #docs #variant });
        to_str.push(quote! { #enum_ident::#variant => error_codes::#constant });
        from_str.push(quote! { error_codes::#constant => #enum_ident::#variant });
        status.push(quote! { #enum_ident::#variant => ::std::option::Option::Some(#http) });
        constants.push(quote! { #docs pub const #constant: &str = #code; });
        all.push(quote! { (#constant, #http) });
    }
    let codes_module = quote! {
        /// The machine error codes the document declares (`x-error-codes`),
        /// each with its status.
        pub mod error_codes {
            #(#constants)*

            /// Every declared code with its status, in the document's order.
            pub const ALL: &[(&str, u16)] = &[#(#all),*];
        }
    };
    if declared.is_empty() {
        return Ok(codes_module);
    }
    Ok(quote! {
        #codes_module

        /// The machine `code` of a failure, as the document declares them;
        /// a code added later arrives as its `Other` variant.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum #enum_ident {
            #(#variants,)*
            /// Any other code, as sent.
            Other(::std::string::String),
        }

        impl #enum_ident {
            /// The code as the API spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    #(#to_str,)*
                    #enum_ident::Other(code) => code,
                }
            }

            /// The HTTP status the document declares the code with.
            pub fn status(&self) -> ::std::option::Option<u16> {
                match self {
                    #(#status,)*
                    #enum_ident::Other(_) => ::std::option::Option::None,
                }
            }
        }

        impl ::std::convert::From<&str> for #enum_ident {
            fn from(code: &str) -> Self {
                match code {
                    #(#from_str,)*
                    other => #enum_ident::Other(other.to_owned()),
                }
            }
        }

        impl ::std::fmt::Display for #enum_ident {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    })
}
