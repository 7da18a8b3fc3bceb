//! Rust from an OpenAPI 3.0 document: the shared types (typify), a
//! progenitor client on them, and a server (an API trait, an axum router
//! that validates everything before the trait is called, and a mock) on
//! `openapi-server-runtime`.
//!
//! The generator knows nothing of a particular API and never panics on a
//! document: what it refuses outright is an [`Error`] naming the file and
//! where (a line and column, or a JSON pointer); what it cannot express is
//! left out by itself — an operation as a [`Skip`], a schema as a
//! [`Fallback`] — and the rest of the document still generates.
//!
//! ```no_run
//! use openapi_codegen::{Settings, generate, load};
//! use quote::quote;
//!
//! let document = load("openapi/pets.yaml".as_ref())?;
//! let generated = generate(&document, &Settings {
//!     types_path: quote! { ::pets_types },
//!     runtime_path: quote! { ::openapi_server_runtime },
//! })?;
//! for skip in &generated.report.skipped {
//!     eprintln!("{skip}");
//! }
//! # Ok::<(), openapi_codegen::Error>(())
//! ```
//!
//! The pipeline: [`document`] reads and normalizes the document (every
//! schema that needs a Rust name becomes a component); [`types`] writes the
//! components; [`client`] runs progenitor on a view of the document it
//! accepts; [`server`] lowers each operation to a model and emits it.
//! [`deps`] checks that a generated file's crate declares what it uses, and
//! [`corpus`] generates scratch crates for documents and checks them.

#![warn(missing_docs)]

mod bisect;
pub mod client;
mod contain;
mod conventions;
pub mod corpus;
pub mod deps;
pub mod document;
mod error;
mod error_codes;
mod examples;
mod format;
mod naming;
mod report;
pub mod server;
pub mod types;
mod unsupported;

use openapiv3::OpenAPI;
use proc_macro2::TokenStream;

pub use document::{Syntax, load, parse};
pub use error::{Error, ErrorKind, Result};
pub use format::{format_tokens, header};
pub use naming::{field_ident, type_ident};
pub use report::{Fallback, FallbackKind, Skip};
pub use server::ServerSettings;

/// Where generated code finds the shared types and the server runtime.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The types crate or module, as the client and server files name it:
    /// `::pets_types`, or `crate::generated::types` for a module.
    pub types_path: TokenStream,
    /// The server runtime crate, normally `::openapi_server_runtime`.
    pub runtime_path: TokenStream,
}

/// What the generator did not write as the document says, and why.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Operations in the document.
    pub operations: usize,
    /// Operations left out of the client, of the server, or of both (a
    /// `document` skip: its references lead nowhere).
    pub skipped: Vec<Skip>,
    /// Schemas written otherwise than typify writes them.
    pub fallbacks: Vec<Fallback>,
    /// Documented examples that do not fit their schemas.
    pub bad_examples: Vec<String>,
    /// Rules of the document the server does not enforce, each naming where.
    pub unenforced: Vec<String>,
    /// Component schemas in the normalized document (fallbacks included).
    pub schemas: usize,
}

impl Report {
    /// The operations the generator `name` (`client` or `server`) serves.
    pub fn served_by(&self, name: &str) -> usize {
        let left_out = self
            .skipped
            .iter()
            .filter(|skip| skip.generator == name || skip.generator == "document")
            .count();
        self.operations.saturating_sub(left_out)
    }
}

/// The three generated files of one document, as tokens, and the report.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Every component schema as a Rust type, and `error_codes`.
    pub types: TokenStream,
    /// The progenitor client, on the types.
    pub client: TokenStream,
    /// The API trait, router, mock and raw builders, on the types and the runtime.
    pub server: TokenStream,
    /// What was left out or written otherwise.
    pub report: Report,
}

/// Types, client and server of `document`.
pub fn generate(document: &OpenAPI, settings: &Settings) -> Result<Generated> {
    let document::Normalized {
        document: mut normalized,
        skipped,
    } = document::normalize(document)?;
    let mut fallbacks = Vec::new();
    let rewritten = types::enums::hoist_colliding(&mut normalized, &mut fallbacks);
    let types_path = settings.types_path.to_string().replace(' ', "");
    let types = types::generate(&normalized, &rewritten, &types_path)?;
    fallbacks.extend(types.fallbacks);
    let client = client::generate(&normalized, &types_path);
    let server = server::generate(
        &normalized,
        &ServerSettings {
            types_path: settings.types_path.clone(),
            runtime_path: settings.runtime_path.clone(),
        },
    )?;
    let report = Report {
        operations: document::operations(&normalized).len() + skipped.len(),
        skipped: skipped
            .into_iter()
            .chain(client.skipped)
            .chain(server.skipped)
            .collect(),
        fallbacks,
        bad_examples: server.bad_examples,
        unenforced: server.unenforced,
        schemas: normalized
            .components
            .as_ref()
            .map_or(0, |components| components.schemas.len()),
    };
    Ok(Generated {
        types: types.tokens,
        client: client.tokens,
        server: server.tokens,
        report,
    })
}
