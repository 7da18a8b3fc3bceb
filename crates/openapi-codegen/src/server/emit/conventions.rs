//! Emits `CONVENTIONS`: the failure format (the document's `x-envelope`, or
//! RFC 9457 problem details) and the code of each failure the runtime
//! answers itself, from the document's `x-error-codes` or a default.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::super::ir::Api;
use crate::error_codes::code_ident;

/// Each runtime failure: its field in `RuntimeCodes`, its status, and the
/// code used when the document declares none for that status.
const RUNTIME_FAILURES: &[(&str, u16, &str)] = &[
    ("validation", 400, "VALIDATION_ERROR"),
    ("unauthorized", 401, "UNAUTHORIZED"),
    ("forbidden", 403, "FORBIDDEN"),
    ("not_found", 404, "NOT_FOUND"),
    ("method_not_allowed", 405, "METHOD_NOT_ALLOWED"),
    ("payload_too_large", 413, "PAYLOAD_TOO_LARGE"),
    ("headers_too_large", 431, "REQUEST_HEADERS_TOO_LARGE"),
    ("rate_limited", 429, "RATE_LIMITED"),
    ("internal", 500, "INTERNAL_ERROR"),
    ("upstream", 502, "UPSTREAM_ERROR"),
    ("unavailable", 503, "SERVICE_UNAVAILABLE"),
];

/// `CONVENTIONS`, and `error_codes` re-exported from the types (where the
/// declared codes are generated once).
pub(super) fn conventions(api: &Api, rt: &TokenStream, types: &TokenStream) -> TokenStream {
    let declared = &api.error_codes;
    let runtime = RUNTIME_FAILURES.iter().map(|(field, status, default)| {
        let field = format_ident!("{field}");
        match declared.iter().find(|decl| decl.status == *status) {
            Some(decl) => {
                let ident = code_ident(&decl.code);
                quote! { #field: error_codes::#ident }
            }
            None => quote! { #field: #default },
        }
    });
    let format = match &api.envelope {
        Some(envelope) => {
            let (success, data, error, trace_id) = (
                &envelope.success,
                &envelope.data,
                &envelope.error,
                &envelope.trace_id,
            );
            quote! { #rt::FailureFormat::Envelope { success: #success, data: #data, error: #error, trace_id: #trace_id } }
        }
        None => quote! { #rt::FailureFormat::Problem },
    };
    quote! {
        pub use #types::error_codes;

        /// What the runtime follows when it answers by itself: the failure
        /// format (the document's `x-envelope`, or RFC 9457 problem details)
        /// and the code of each runtime failure (from `error_codes`, or the
        /// generator's default for a status the document declares none for).
        pub static CONVENTIONS: #rt::Conventions = #rt::Conventions {
            failure_format: #format,
            codes: #rt::RuntimeCodes { #(#runtime,)* },
        };
    }
}
