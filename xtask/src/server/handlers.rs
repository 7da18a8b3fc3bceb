//! Emits the file: the document's conventions and error codes, each
//! operation's parameter structs and result enum, the API trait, the axum
//! handlers and router, and the mock.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::mock::MockParts;
use super::model::{Api, BodyKind, Location, Op, SchemeKindModel};
use super::params::param_struct;
use super::responses::{EnvelopeFields, response_enum};
use super::{doc, field_ident, pascal, screaming};

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

fn code_ident(code: &str) -> Ident {
    let name = screaming(code);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        format_ident!("CODE_{name}")
    } else {
        format_ident!("{name}")
    }
}

/// `error_codes` (the declared codes as constants) and `CONVENTIONS`.
fn conventions(api: &Api, rt: &TokenStream) -> TokenStream {
    let mut seen = std::collections::BTreeSet::new();
    let declared: Vec<_> = api
        .error_codes
        .iter()
        .filter(|decl| seen.insert(decl.code.clone()))
        .collect();
    let constants = declared.iter().map(|decl| {
        let ident = code_ident(&decl.code);
        let code = &decl.code;
        let text = if decl.description.is_empty() {
            format!("`{code}` ({}).", decl.status)
        } else {
            format!("`{code}` ({}): {}", decl.status, decl.description.trim())
        };
        let docs = doc(&text);
        quote! { #docs pub const #ident: &str = #code; }
    });
    let all = declared.iter().map(|decl| {
        let ident = code_ident(&decl.code);
        let status = proc_macro2::Literal::u16_unsuffixed(decl.status);
        quote! { (#ident, #status) }
    });
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
        /// The machine codes of the errors this API answers, as the document
        /// declares them (`x-error-codes`), each with its status.
        pub mod error_codes {
            #(#constants)*

            /// Every declared code with its status, in the document's order.
            pub const ALL: &[(&str, u16)] = &[#(#all),*];
        }

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

/// The principal type an operation's method receives.
pub(super) fn principal_type(op: &Op) -> TokenStream {
    match &op.security {
        None => quote! { () },
        Some(security) if security.optional => quote! { ::std::option::Option<Self::Principal> },
        Some(_) => quote! { Self::Principal },
    }
}

fn authorize(op: &Op, rt: &TokenStream) -> TokenStream {
    let Some(security) = &op.security else {
        return quote! {
            let principal = ();
            let rate_limit: ::std::option::Option<#rt::RateLimitStatus> = ::std::option::Option::None;
        };
    };
    let schemes = security.schemes.iter().map(|scheme| {
        let name = &scheme.name;
        let kind = match &scheme.kind {
            SchemeKindModel::Bearer => quote! { #rt::SchemeKind::Bearer },
            SchemeKindModel::Basic => quote! { #rt::SchemeKind::Basic },
            SchemeKindModel::Header(header) => quote! { #rt::SchemeKind::Header(#header) },
            SchemeKindModel::Query(key) => quote! { #rt::SchemeKind::Query(#key) },
            SchemeKindModel::Cookie(key) => quote! { #rt::SchemeKind::Cookie(#key) },
        };
        quote! { #rt::Scheme { name: #name, kind: #kind } }
    });
    let function = if security.optional {
        quote! { #rt::authorize_optional }
    } else {
        quote! { #rt::authorize }
    };
    let op_id = &op.id;
    let permissions = &op.permissions;
    quote! {
        let (principal, rate_limit) =
            #function(api, parts, &[#(#schemes),*], &[#(#permissions),*], #op_id, trace_id).await?;
    }
}

/// The type of an operation's body argument, and how the handler reads it.
fn body(op: &Op, rt: &TokenStream) -> Option<(TokenStream, TokenStream)> {
    let body = op.body.as_ref()?;
    let media = &body.media_types;
    let rules = quote! { &#rt::BodyRules { media_types: &[#(#media),*] } };
    let (rust, read) = match &body.kind {
        BodyKind::Structured(rust) => (
            rust.clone(),
            quote! { #rt::read_structured::<#rust>(parts, body, #rules).await? },
        ),
        BodyKind::Text => (
            quote! { ::std::string::String },
            quote! { #rt::read_text(parts, body, #rules).await? },
        ),
        BodyKind::Bytes => (
            quote! { ::axum::body::Bytes },
            quote! { #rt::read_bytes(parts, body, #rules).await? },
        ),
        BodyKind::Blob => (
            quote! { #rt::Blob },
            quote! { #rt::read_blob(parts, body, #rules).await? },
        ),
    };
    Some(if body.required {
        (rust, quote! { let body = #rt::require_body(#read)?; })
    } else {
        (
            quote! { ::std::option::Option<#rust> },
            quote! { let body = #read; },
        )
    })
}

/// The whole server file of a document's model.
pub(super) fn emit(api: &Api, rt: &TokenStream) -> TokenStream {
    let trait_name = &api.trait_name;
    let envelope = api.envelope.as_ref().map(EnvelopeFields::of);
    let mut items = Vec::new();
    let mut methods = Vec::new();
    let mut handlers = Vec::new();
    let mut mock = MockParts::default();
    for op in &api.ops {
        let pascal = pascal(&op.id);
        let method_ident = field_ident(&op.id);
        let mut args = Vec::new();
        let mut arg_names = Vec::new();
        let mut extract = Vec::new();
        for (location, suffix, noun) in [
            (Location::Path, "Path", "path"),
            (Location::Query, "Query", "query"),
            (Location::Header, "Headers", "headers"),
            (Location::Cookie, "Cookies", "cookies"),
        ] {
            let params: Vec<_> = op
                .params
                .iter()
                .filter(|param| param.location == location)
                .collect();
            if params.is_empty() {
                continue;
            }
            let struct_ident = format_ident!("{pascal}{suffix}");
            let arg = format_ident!("{noun}");
            items.push(param_struct(rt, &op.id, &struct_ident, noun, &params));
            args.push(quote! { #arg: #struct_ident });
            arg_names.push(quote! { #arg });
            let raw = match location {
                Location::Path => quote! { #rt::RawParams::path(parts).await? },
                Location::Query => quote! { #rt::RawParams::query(parts) },
                Location::Header => {
                    let names: Vec<String> = params
                        .iter()
                        .map(|param| param.name.to_ascii_lowercase())
                        .collect();
                    quote! { #rt::RawParams::headers(&parts.headers, &[#(#names),*])? }
                }
                Location::Cookie => quote! { #rt::RawParams::cookies(&parts.headers)? },
            };
            extract.push(quote! { let #arg = #struct_ident::from_raw(&#raw)?; });
        }
        let read_body = body(op, rt).map(|(rust, read)| {
            args.push(quote! { body: #rust });
            arg_names.push(quote! { body });
            read
        });

        let response_ident = format_ident!("{pascal}Response");
        items.push(response_enum(rt, op, &response_ident, envelope.as_ref()));
        mock.add(
            op,
            &pascal,
            &method_ident,
            &args,
            &arg_names,
            &response_ident,
            rt,
            envelope.as_ref(),
        );

        let op_doc = doc(&op.doc);
        let principal = principal_type(op);
        methods.push(quote! {
            #op_doc
            fn #method_ident(
                &self,
                cx: #rt::RequestContext<#principal>,
                #(#args),*
            ) -> impl ::std::future::Future<Output = #response_ident> + Send;
        });

        let authorize = authorize(op, rt);
        let op_id_literal = &op.id;
        let handler_ident = format_ident!("handle_{}", method_ident);
        let inner_ident = format_ident!("serve_{}", method_ident);
        let body_binding = if read_body.is_some() {
            quote! { body }
        } else {
            quote! { _body }
        };
        let parts_binding = if op.params.is_empty() && op.security.is_none() && read_body.is_none() {
            quote! { _parts }
        } else {
            quote! { parts }
        };
        handlers.push(quote! {
            async fn #handler_ident<A: #trait_name>(
                ::axum::extract::State(api): ::axum::extract::State<::std::sync::Arc<A>>,
                request: ::axum::extract::Request,
            ) -> ::axum::response::Response {
                let (mut parts, body) = request.into_parts();
                let trace_id = #rt::trace_id_of(&parts);
                let mut response = match #inner_ident(&*api, &mut parts, body, &trace_id).await {
                    Ok(response) => response,
                    Err(error) => error.into_response(&CONVENTIONS, &trace_id),
                };
                response.extensions_mut().insert(#rt::Operation(#op_id_literal));
                response
            }

            async fn #inner_ident<A: #trait_name>(
                api: &A,
                #parts_binding: &mut ::axum::http::request::Parts,
                #body_binding: ::axum::body::Body,
                trace_id: &#rt::TraceId,
            ) -> ::std::result::Result<::axum::response::Response, #rt::ApiError> {
                #(#extract)*
                #authorize
                #read_body
                let cx = #rt::RequestContext { trace_id: trace_id.clone(), principal };
                let result = api.#method_ident(cx, #(#arg_names),*).await;
                let mut response = result.into_response_with(trace_id);
                if let Some(status) = rate_limit {
                    #rt::insert_rate_limit_headers(&mut response, status);
                }
                Ok(response)
            }
        });
    }

    let mut routes: Vec<(String, Vec<TokenStream>)> = Vec::new();
    for op in &api.ops {
        let method = format_ident!("{}", op.method);
        let handler_ident = format_ident!("handle_{}", field_ident(&op.id));
        let call = quote! { #method(#handler_ident::<A>) };
        match routes.iter_mut().find(|(path, _)| *path == op.path) {
            Some((_, calls)) => calls.push(call),
            None => routes.push((op.path.clone(), vec![call])),
        }
    }
    let route_calls = routes.iter().map(|(path, calls)| {
        let (first, rest) = calls.split_first().expect("a route has an operation");
        quote! { .route(#path, ::axum::routing::#first #(.#rest)*) }
    });

    let trait_doc = doc(&format!(
        "The operations of the {}: implement this trait (and [`{rt}::Security`]), then serve [`router`].",
        api.title,
        rt = rt.to_string().replace(' ', "")
    ));
    let version = &api.version;
    let operation_ids: Vec<&String> = api.ops.iter().map(|op| &op.id).collect();
    let conventions = conventions(api, rt);
    let mock_module = mock.module(trait_name, rt);
    let routes_body = if routes.is_empty() {
        quote! { ::axum::Router::new() }
    } else {
        quote! {
            ::axum::Router::new()
                #(#route_calls)*
                .with_state(api)
        }
    };
    let unused_api = if api.ops.is_empty() {
        quote! { let _ = api; }
    } else {
        quote! {}
    };
    quote! {
        /// The `info.version` of the document this file was generated from.
        pub const API_VERSION: &str = #version;

        /// The `operationId` of every operation served, in document order.
        pub const OPERATION_IDS: &[&str] = &[#(#operation_ids),*];

        #conventions

        #(#items)*

        #trait_doc
        pub trait #trait_name: #rt::Security {
            #(#methods)*
        }

        /// The axum router of every operation: parameters are validated, the
        /// caller authenticated and authorized, and every answer, failures
        /// included, is a documented response with a trace id.
        pub fn router<A: #trait_name>(api: ::std::sync::Arc<A>) -> ::axum::Router {
            #rt::finish_router(routes(api), &CONVENTIONS)
        }

        /// The routes of every operation without the runtime's fallbacks and
        /// trace middleware: merge other routes into it, then pass the whole
        /// to `finish_router` with [`CONVENTIONS`].
        pub fn routes<A: #trait_name>(api: ::std::sync::Arc<A>) -> ::axum::Router {
            #unused_api
            #routes_body
        }

        #(#handlers)*

        #mock_module
    }
}
