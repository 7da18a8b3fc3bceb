//! The client generator: progenitor's client of the document's client view
//! ([`crate::document::client_view`]), on the shared types (a replacement
//! for every component), with JSON bodies decoded once ([`decode`]) and the
//! bounds of integer parameters as constants ([`facts`]). An operation
//! progenitor refuses, or panics on, is tried alone and left out by itself.

mod decode;
mod facts;

use openapiv3::OpenAPI;
use proc_macro2::TokenStream;
use progenitor_impl::{GenerationSettings, Generator, InterfaceStyle, TagStyle};
use quote::quote;

use crate::contain::contained;
use crate::document::{client_view, operations, pointer, remove_operations, retain_operations};
use crate::naming::type_ident;
use crate::report::Skip;
use crate::unsupported::Unsupported;

/// The client code of a document, and the operations it leaves out.
#[derive(Debug, Clone)]
pub struct ClientCode {
    /// progenitor's client, then `parameters` (and `error_codes` and
    /// `ErrorCode` re-exported from the types).
    pub tokens: TokenStream,
    /// One entry per operation left out, naming why.
    pub skipped: Vec<Skip>,
}

/// progenitor on `view`, with every component of `normalized` replaced by
/// the type of the same name at `types_path`; its refusal or panic as text.
fn progenitor(view: &OpenAPI, normalized: &OpenAPI, types_path: &str) -> Result<TokenStream, String> {
    let mut settings = GenerationSettings::default();
    settings
        .with_interface(InterfaceStyle::Builder)
        .with_tag(TagStyle::Merged);
    for name in normalized
        .components
        .iter()
        .flat_map(|components| components.schemas.keys())
    {
        let ident = type_ident(name).to_string();
        settings.with_replacement(&ident, format!("{types_path}::{ident}"), std::iter::empty());
    }
    match contained(|| Generator::new(&settings).generate_tokens(view)) {
        Ok(Ok(tokens)) => Ok(tokens),
        Ok(Err(error)) => {
            // progenitor appends the whole offending object; its first line says why.
            let error = error.to_string();
            let reason = error
                .lines()
                .next()
                .unwrap_or_default()
                .trim_end_matches([' ', '{', '(']);
            Err(format!("progenitor refuses it: {reason}"))
        }
        Err(panic) => Err(format!("progenitor panics on it: {panic}")),
    }
}

/// The progenitor client of a normalized document, reusing the types at
/// `types_path` for every component, and the operations it leaves out:
/// those the client view cannot adapt, and those progenitor refuses or
/// panics on (found by halves once the whole document is refused).
pub fn generate(normalized: &OpenAPI, types_path: &str) -> ClientCode {
    let (mut view, mut skipped) = client_view(normalized);
    let facts = facts::parameter_facts(normalized);
    let types: TokenStream = types_path.parse().unwrap_or_else(|_| quote! { types });
    let extras = quote! {
        pub use #types::error_codes;
        #facts
    };
    if let Ok(tokens) = progenitor(&view, normalized, types_path) {
        let client = decode::decode_once(tokens);
        return ClientCode {
            tokens: quote! { #client #extras },
            skipped,
        };
    }
    // The operations progenitor refuses, found by halves.
    let ids: Vec<String> = operations(&view)
        .iter()
        .filter_map(|(_, _, operation)| operation.operation_id.clone())
        .collect();
    let culprits = crate::bisect::culprits(&ids, |set| {
        let mut part = view.clone();
        retain_operations(&mut part, |id| set.iter().any(|kept| kept == id));
        progenitor(&part, normalized, types_path).map(drop)
    });
    let mut refused = Vec::new();
    for (path, method, operation) in operations(&view) {
        let id = operation.operation_id.clone().unwrap_or_default();
        if let Some((_, construct)) = culprits.iter().find(|(culprit, _)| *culprit == id) {
            refused.push(
                Unsupported::new(construct.clone(), pointer(&["paths", path, method]))
                    .skip("client", operation, method, path),
            );
        }
    }
    remove_operations(&mut view, &refused);
    skipped.extend(refused);
    let client = match progenitor(&view, normalized, types_path) {
        Ok(tokens) => decode::decode_once(tokens),
        Err(construct) => {
            // Every operation passes alone, not together: none is kept.
            for (path, method, operation) in operations(&view) {
                skipped.push(
                    Unsupported::new(
                        format!("progenitor refuses the operations together: {construct}"),
                        pointer(&["paths", path, method]),
                    )
                    .skip("client", operation, method, path),
                );
            }
            remove_operations(&mut view, &skipped);
            progenitor(&view, normalized, types_path)
                .map(decode::decode_once)
                .unwrap_or_default()
        }
    };
    ClientCode {
        tokens: quote! { #client #extras },
        skipped,
    }
}
