//! The types generator: every component schema of a normalized document as
//! a Rust type (serde, schemars), by typify (through progenitor) on a
//! components-only copy, and around typify's limits:
//!
//! - string enums whose values collide as Rust names are written here
//!   ([`enums`]: hoisted, numbered variants renamed to their values);
//! - a schema typify refuses or panics on is found ([`crate::bisect`]) and becomes
//!   `serde_json::Value` by itself, listed as a [`Fallback`]: the rest of the
//!   document still generates;
//! - what typify mishandles where the meaning is clear is rewritten in the
//!   copy it reads ([`view`]: titles that would name two types alike, a
//!   nullable schema of any JSON);
//! - the document's declared error codes follow ([`crate::error_codes`]).

pub(crate) mod enums;
mod view;

use std::collections::BTreeMap;

use openapiv3::{OpenAPI, ReferenceOr, Schema};
use proc_macro2::TokenStream;
use progenitor_impl::{GenerationSettings, Generator, InterfaceStyle, TypeImpl};
use quote::quote;

use crate::contain::contained;
use crate::document::{components_only, pointer};
use crate::error::{Error, ErrorKind, Result};
use crate::naming::{doc, type_ident};
use crate::report::{Fallback, FallbackKind};

/// The types of a document, and the schemas written otherwise.
#[derive(Debug, Clone)]
pub struct TypesCode {
    /// typify's types, the rewritten enums, the fallbacks' aliases and
    /// `error_codes`.
    pub tokens: TokenStream,
    /// The schemas written otherwise than typify writes them.
    pub fallbacks: Vec<Fallback>,
}

/// How a component is handed to typify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replacement {
    /// An enum of [`enums`], written here.
    Rewritten,
    /// `serde_json::Value`.
    Untyped,
}

/// typify on the components of `document`, those of `replaced` left to the
/// types written here; typify's refusal or panic as text.
fn typify(
    document: &OpenAPI,
    replaced: &BTreeMap<String, Replacement>,
    types_path: &str,
) -> Result<TokenStream, String> {
    let mut document = components_only(document);
    view::prepare(&mut document);
    if let Some(components) = document.components.as_mut() {
        for (name, replacement) in replaced {
            if *replacement == Replacement::Untyped
                && let Some(schema) = components.schemas.get_mut(name)
            {
                // Another schema's `allOf` may merge it: as `{}` it adds nothing.
                *schema = ReferenceOr::Item(Schema {
                    schema_data: Default::default(),
                    schema_kind: openapiv3::SchemaKind::Any(Default::default()),
                });
            }
        }
    }
    let mut settings = GenerationSettings::default();
    settings
        .with_interface(InterfaceStyle::Builder)
        .with_derive("::schemars::JsonSchema")
        .with_derive("PartialEq");
    for (name, replacement) in replaced {
        let ident = type_ident(name).to_string();
        let impls = match replacement {
            Replacement::Rewritten => vec![TypeImpl::Display, TypeImpl::FromStr],
            Replacement::Untyped => Vec::new(),
        };
        // By its full path: typify's `builder` module names it too.
        settings.with_replacement(&ident, format!("{types_path}::{ident}"), impls.into_iter());
    }
    match contained(|| {
        let mut generator = Generator::new(&settings);
        generator
            .generate_tokens(&document)
            .map(|_| generator.get_type_space().to_stream())
    }) {
        Ok(Ok(tokens)) => Ok(tokens),
        Ok(Err(error)) => Err(format!(
            "typify refuses it: {}",
            error.to_string().lines().next().unwrap_or_default()
        )),
        Err(panic) => Err(format!("typify panics on it: {panic}")),
    }
}

/// The types of `document` (normalized, with colliding enums hoisted by
/// [`enums::hoist_colliding`], whose names are `rewritten`).
/// `types_path` is where the types are, as the client and server name them.
pub(crate) fn generate(document: &OpenAPI, rewritten: &[String], types_path: &str) -> Result<TypesCode> {
    let mut replaced: BTreeMap<String, Replacement> = rewritten
        .iter()
        .map(|name| (name.clone(), Replacement::Rewritten))
        .collect();
    let mut fallbacks = Vec::new();
    let names: Vec<String> = document
        .components
        .iter()
        .flat_map(|components| components.schemas.keys().cloned())
        .collect();
    // Each round leaves at least one more schema to the fallback, or ends.
    let typified = loop {
        let whole = match typify(document, &replaced, types_path) {
            Ok(tokens) => break tokens,
            Err(whole) => whole,
        };
        let candidates: Vec<String> = names
            .iter()
            .filter(|name| !replaced.contains_key(*name))
            .cloned()
            .collect();
        let culprits = crate::bisect::culprits(&candidates, |set| {
            let mut trial = replaced.clone();
            trial.extend(
                candidates
                    .iter()
                    .filter(|name| !set.contains(name))
                    .map(|name| (name.clone(), Replacement::Untyped)),
            );
            typify(document, &trial, types_path).map(drop)
        });
        if culprits.is_empty() {
            return Err(Error::new(
                ErrorKind::Generated,
                format!("the types do not generate, and no single schema is the cause: {whole}"),
            ));
        }
        for (name, reason) in culprits {
            fallbacks.push(Fallback {
                pointer: pointer(&["components", "schemas", &name]),
                schema: name.clone(),
                kind: FallbackKind::Untyped,
                reason,
            });
            replaced.insert(name, Replacement::Untyped);
        }
    };
    let mut written = Vec::new();
    for (name, replacement) in &replaced {
        written.push(match replacement {
            Replacement::Rewritten => enums::emit(document, name),
            Replacement::Untyped => {
                let ident = type_ident(name);
                let reason = fallbacks
                    .iter()
                    .find(|fallback| &fallback.schema == name)
                    .map(|fallback| fallback.reason.clone())
                    .unwrap_or_default();
                let docs = doc(&format!(
                    "`{name}`: any JSON, unchecked (a fallback of the generator: {reason})."
                ));
                quote! { #docs pub type #ident = ::serde_json::Value; }
            }
        });
    }
    let codes = crate::error_codes::module(document)?;
    Ok(TypesCode {
        tokens: quote! {
            #typified
            #(#written)*
            #codes
        },
        fallbacks,
    })
}
