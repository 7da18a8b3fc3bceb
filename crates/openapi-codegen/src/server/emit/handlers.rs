//! Emits an operation's handler: parameters parsed and validated, the
//! caller authorized, the body read, the trait method called and its result
//! written, every failure in the document's format.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::super::ir::{BodyKind, Op, SchemeKindModel};

/// The statements that authorize the caller (or pass anyone, for an
/// operation without security), binding `principal` and `rate_limit`.
fn authorize(op: &Op, rt: &TokenStream) -> TokenStream {
    let Some(security) = &op.security else {
        return quote! {
            let principal = ();
            let rate_limit: ::std::option::Option<#rt::RateLimitStatus> = ::std::option::Option::None;
        };
    };
    let alternatives = security.alternatives.iter().map(|schemes| {
        let schemes = schemes.iter().map(|scheme| {
            let name = &scheme.name;
            let kind = match &scheme.kind {
                SchemeKindModel::Bearer => quote! { #rt::__private::SchemeKind::Bearer },
                SchemeKindModel::Basic => quote! { #rt::__private::SchemeKind::Basic },
                SchemeKindModel::Header(header) => quote! { #rt::__private::SchemeKind::Header(#header) },
                SchemeKindModel::Query(key) => quote! { #rt::__private::SchemeKind::Query(#key) },
                SchemeKindModel::Cookie(key) => quote! { #rt::__private::SchemeKind::Cookie(#key) },
            };
            quote! { #rt::__private::Scheme { name: #name, kind: #kind } }
        });
        quote! { &[#(#schemes),*] }
    });
    let function = if security.optional {
        quote! { #rt::__private::authorize_optional }
    } else {
        quote! { #rt::__private::authorize }
    };
    let op_id = &op.id;
    let permissions = &op.permissions;
    quote! {
        let (principal, rate_limit) = #function(
            api,
            parts,
            &#rt::__private::Access {
                alternatives: &[#(#alternatives),*],
                permissions: &[#(#permissions),*],
                operation_id: #op_id,
            },
            trace_id,
        )
        .await?;
    }
}

/// The type of an operation's body argument, and how the handler reads it.
pub(super) fn body(op: &Op, rt: &TokenStream) -> Option<(TokenStream, TokenStream)> {
    let body = op.body.as_ref()?;
    let media = &body.media_types;
    let schema = match &body.schema {
        Some(_) => {
            let ident = body_schema_ident(op);
            quote! { ::std::option::Option::Some(&#ident) }
        }
        None => quote! { ::std::option::Option::None },
    };
    let rules = quote! { &#rt::__private::BodyRules { media_types: &[#(#media),*], schema: #schema } };
    let (rust, read) = match &body.kind {
        BodyKind::Structured(rust) => (
            rust.clone(),
            quote! { #rt::__private::read_structured::<#rust>(parts, body, #rules).await? },
        ),
        BodyKind::Text => (
            quote! { ::std::string::String },
            quote! { #rt::__private::read_text(parts, body, #rules).await? },
        ),
        BodyKind::Bytes => (
            quote! { ::axum::body::Bytes },
            quote! { #rt::__private::read_bytes(parts, body, #rules).await? },
        ),
        BodyKind::Blob => (
            quote! { #rt::responses::Blob },
            quote! { #rt::__private::read_blob(parts, body, #rules).await? },
        ),
    };
    Some(if body.required {
        (rust, quote! { let body = #rt::__private::require_body(#read)?; })
    } else {
        (
            quote! { ::std::option::Option<#rust> },
            quote! { let body = #read; },
        )
    })
}

/// The trait method of an operation.
pub(super) fn method(op: &Op, rt: &TokenStream, args: &[TokenStream], response: &Ident) -> TokenStream {
    let op_doc = crate::naming::doc(&op.doc);
    let principal = op.principal_type();
    let method_ident = crate::naming::field_ident(&op.id);
    quote! {
        #op_doc
        fn #method_ident(
            &self,
            cx: #rt::RequestContext<#principal>,
            #(#args),*
        ) -> impl ::std::future::Future<Output = #response> + Send;
    }
}

/// The input of [`handler`]: how the operation's inputs are read.
pub(super) struct Inputs<'a> {
    /// One statement per parameter location, binding its struct.
    pub(super) extract: &'a [TokenStream],
    /// The statement reading the body, if the operation has one.
    pub(super) read_body: Option<&'a TokenStream>,
    /// The method's arguments, in order.
    pub(super) arg_names: &'a [TokenStream],
}

/// The axum handler of an operation (`handle_…`) and the function that
/// does its work (`serve_…`), whose failures the handler answers.
pub(super) fn handler(op: &Op, rt: &TokenStream, trait_name: &Ident, inputs: &Inputs<'_>) -> TokenStream {
    let method_ident = crate::naming::field_ident(&op.id);
    let authorize = authorize(op, rt);
    let op_id_literal = &op.id;
    let handler_ident = format_ident!("handle_{}", method_ident);
    let inner_ident = format_ident!("serve_{}", method_ident);
    let Inputs {
        extract,
        read_body,
        arg_names,
    } = inputs;
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
    quote! {
        async fn #handler_ident<A: #trait_name>(
            ::axum::extract::State(api): ::axum::extract::State<::std::sync::Arc<A>>,
            request: ::axum::extract::Request,
        ) -> ::axum::response::Response {
            let (mut parts, body) = request.into_parts();
            let trace_id = #rt::__private::trace_id_of(&parts);
            let mut response = match #inner_ident(&*api, &mut parts, body, &trace_id).await {
                Ok(response) => response,
                Err(error) => error.into_response(&CONVENTIONS, &trace_id),
            };
            response.extensions_mut().insert(#rt::__private::Operation(#op_id_literal));
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
            let report = #rt::RateLimitReport::new(#op_id_literal);
            let cx = #rt::RequestContext { trace_id: trace_id.clone(), principal, rate_limit: report.clone() };
            let result = api.#method_ident(cx, #(#arg_names),*).await;
            let mut response = result.into_response_with(trace_id);
            if let Some(status) = rate_limit.or_else(|| report.get()) {
                #rt::__private::insert_rate_limit_headers(&mut response, status);
            }
            Ok(response)
        }
    }
}

/// The static of an operation's body schema.
pub(super) fn body_schema_ident(op: &Op) -> Ident {
    format_ident!("{}_BODY_SCHEMA", crate::naming::screaming(&op.id))
}

/// The statics the bodies are checked with: the components as JSON Schema,
/// and each structured body's schema (none when no body has one).
pub(super) fn body_schemas(api: &super::super::ir::Api, rt: &TokenStream) -> TokenStream {
    let Some(components) = &api.components_schema else {
        return quote! {};
    };
    let bodies = api.ops.iter().filter_map(|op| {
        let schema = op.body.as_ref()?.schema.as_ref()?;
        let ident = body_schema_ident(op);
        Some(quote! {
            static #ident: #rt::__private::ValueSchema = #rt::__private::ValueSchema::new(&SCHEMAS, #schema);
        })
    });
    quote! {
        /// The document's component schemas as JSON Schema: what the rules of
        /// request bodies (and of parameters beyond their types) are checked
        /// with.
        static SCHEMAS: #rt::__private::SchemaSet = #rt::__private::SchemaSet::new(#components);
        #(#bodies)*
    }
}
