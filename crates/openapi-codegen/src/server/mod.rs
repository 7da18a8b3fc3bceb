//! The server generator: from a normalized document, one API trait with a
//! method per operation, typed inputs, a per-operation result enum whose
//! variants are exactly the documented responses, an axum router that
//! validates everything before the trait is called, and a mock.
//!
//! Split the way progenitor splits its own: [`lower`] computes what each
//! operation is once, into the model of [`ir`] (parameters, body,
//! responses, security); [`emit`] turns the model into code. The Rust types
//! of inline schemas are [`rust_types`]'s, the same mapping typify applies.

mod emit;
mod ir;
mod lower;
pub(crate) mod rust_types;

use openapiv3::OpenAPI;
use proc_macro2::TokenStream;
use quote::quote;

use crate::error::Result;
use crate::report::Skip;

/// Where the generated server code finds the shared types and the runtime.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Path of the types module or crate, such as `::audiences_types` or
    /// `self::types`.
    pub types_path: TokenStream,
    /// Path of the runtime crate, such as `::openapi_server_runtime`.
    pub runtime_path: TokenStream,
}

/// The server code of a document, and what it leaves out.
#[derive(Debug, Clone)]
pub struct ServerCode {
    /// The code.
    pub tokens: TokenStream,
    /// One entry per operation not served, naming the construct.
    pub skipped: Vec<Skip>,
    /// Documented examples that do not fit their schemas, each naming where
    /// and why (left out of the mock).
    pub bad_examples: Vec<String>,
    /// Rules of the document the server does not enforce, each naming where.
    pub unenforced: Vec<String>,
}

/// Generates the server file of a normalized document.
pub fn generate(document: &OpenAPI, settings: &ServerSettings) -> Result<ServerCode> {
    let api = lower::build(document, &settings.types_path)?;
    let file = emit::file(&api, &settings.runtime_path, &settings.types_path);
    let raw = emit::raw_module(document, &nested(&settings.types_path), &settings.runtime_path);
    Ok(ServerCode {
        tokens: quote! {
            #file
            #raw
        },
        skipped: api.skipped,
        bad_examples: api.bad_examples,
        unenforced: api.unenforced,
    })
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
