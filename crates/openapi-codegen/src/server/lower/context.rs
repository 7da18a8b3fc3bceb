//! The context every lowering step reads from, and its two lookups: a
//! component schema and the Rust type of a reference.

use openapiv3::{OpenAPI, ReferenceOr, Schema};
use proc_macro2::TokenStream;
use quote::quote;

use crate::document::{pointer, ref_name};
use crate::error::{Error, ErrorKind, Result};
use crate::naming::type_ident;
use crate::unsupported::Unsupported;

pub(super) fn unsupported(construct: impl Into<String>, pointer: String) -> Unsupported {
    Unsupported::new(construct, pointer)
}

/// What lowering reads from: the document, the path of its types, and the
/// examples it checks.
pub(crate) struct Context<'a> {
    pub document: &'a OpenAPI,
    pub types: &'a TokenStream,
    /// Examples that do not fit their schemas (reported, left out of the mock).
    pub bad_examples: std::cell::RefCell<Vec<String>>,
    /// Rules the server does not enforce (reported, one line each).
    pub unenforced: std::cell::RefCell<Vec<String>>,
    /// The checker of the document's examples.
    pub examples: crate::examples::ExampleChecker,
}

impl Context<'_> {
    /// The component schema `name` (through references to references).
    pub(super) fn component(&self, name: &str) -> Result<&Schema> {
        let mut name = name.to_owned();
        for _ in 0..16 {
            match self
                .document
                .components
                .as_ref()
                .and_then(|components| components.schemas.get(&name))
            {
                Some(ReferenceOr::Item(schema)) => return Ok(schema),
                Some(ReferenceOr::Reference { reference }) => {
                    name = ref_name(reference, "schemas")?.to_owned()
                }
                None => {
                    return Err(Error::new(
                        ErrorKind::Invalid,
                        format!("schema component `{name}` does not exist"),
                    ));
                }
            }
        }
        Err(Error::invalid(
            format!("schema component `{name}` refers to itself"),
            pointer(&["components", "schemas", &name]),
        ))
    }

    /// The Rust type of the component `reference` points at.
    pub(super) fn named_type(&self, reference: &str) -> Result<TokenStream> {
        let name = ref_name(reference, "schemas")?;
        self.component(name)?;
        let types = self.types;
        let ident = type_ident(name);
        Ok(quote! { #types::#ident })
    }
}
