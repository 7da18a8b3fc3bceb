//! Emits the server file of a document's model: the conventions, each
//! operation's parameter structs ([`params`]) and result enum
//! ([`responses`]), the API trait, the axum handlers ([`handlers`]) and
//! router, the mock ([`mock`], answering with [`examples`]) and the raw
//! JSON builders ([`raw`]).

mod conventions;
mod examples;
mod handlers;
mod mock;
mod params;
mod raw;
mod responses;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use self::mock::MockParts;
use self::params::param_struct;
use self::responses::{EnvelopeFields, response_enum};
use super::ir::{Api, Location};
use crate::naming::{doc, field_ident, pascal};

pub(crate) use raw::module as raw_module;

/// The whole server file of a document's model.
/// The server file of a document's model: everything but the raw JSON
/// builders, in the document's order of operations.
pub(crate) fn file(api: &Api, rt: &TokenStream, types: &TokenStream) -> TokenStream {
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
        let mut parsed = Vec::new();
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
                Location::Path => {
                    let segments = op.segments.iter().map(|segment| {
                        let (route, name, prefix, suffix) =
                            (&segment.route, &segment.name, &segment.prefix, &segment.suffix);
                        quote! { #rt::__private::PathSegment { route: #route, name: #name, prefix: #prefix, suffix: #suffix } }
                    });
                    quote! { #rt::__private::RawParams::path(parts, &[#(#segments),*]).await? }
                }
                Location::Query => quote! { #rt::__private::RawParams::query(parts) },
                Location::Header => {
                    let names: Vec<String> = params
                        .iter()
                        .map(|param| param.name.to_ascii_lowercase())
                        .collect();
                    quote! { #rt::__private::RawParams::headers(&parts.headers, &[#(#names),*])? }
                }
                Location::Cookie => quote! { #rt::__private::RawParams::cookies(&parts.headers)? },
            };
            extract.push(quote! { let #arg = #struct_ident::from_raw(&#raw); });
            parsed.push(arg);
        }
        // Every location parsed before any refuses: one answer names the
        // mistakes of all.
        match parsed.as_slice() {
            [] => {}
            [one] => extract.push(quote! { let #one = #one?; }),
            several => extract.push(quote! {
                #rt::__private::all_valid(&[#(#several.as_ref().err()),*])?;
                #(let #several = #several?;)*
            }),
        }
        let read_body = handlers::body(op, rt).map(|(rust, read)| {
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
        methods.push(handlers::method(op, rt, &args, &response_ident));
        let inputs = handlers::Inputs {
            extract: &extract,
            read_body: read_body.as_ref(),
            arg_names: &arg_names,
        };
        handlers.push(handlers::handler(op, rt, trait_name, &inputs));
    }

    let mut routes: Vec<(String, Vec<TokenStream>)> = Vec::new();
    for op in &api.ops {
        let method = format_ident!("{}", op.method);
        let handler_ident = format_ident!("handle_{}", field_ident(&op.id));
        let call = quote! { #method(#handler_ident::<A>) };
        match routes.iter_mut().find(|(route, _)| *route == op.route) {
            Some((_, calls)) => calls.push(call),
            None => routes.push((op.route.clone(), vec![call])),
        }
    }
    let route_calls = routes.iter().filter_map(|(path, calls)| {
        let (first, rest) = calls.split_first()?;
        Some(quote! { .route(#path, ::axum::routing::#first #(.#rest)*) })
    });

    let trait_doc = doc(&format!(
        "The operations of the {}: implement this trait (and [`{rt}::Security`]), then serve [`router`].",
        api.title,
        rt = rt.to_string().replace(' ', "")
    ));
    let version = &api.version;
    let operation_ids: Vec<&String> = api.ops.iter().map(|op| &op.id).collect();
    let conventions = conventions::conventions(api, rt, types);
    let body_schemas = handlers::body_schemas(api, rt);
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

        #body_schemas

        #(#handlers)*

        #mock_module
    }
}
