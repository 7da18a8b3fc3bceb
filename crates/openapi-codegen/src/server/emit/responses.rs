//! Emits the result enum of an operation: one variant per documented
//! response (a status, a range such as `4XX`, or `default`) and nothing
//! else, with the body in the documented media type and the documented
//! headers; a range's or `default`'s variant carries its status, which can
//! only be made inside the range.

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use super::super::ir::{Op, Payload, StatusSpec};
use crate::conventions::Envelope;
use crate::naming::{doc, field_ident};

/// The Rust names of the envelope's properties, and their JSON names.
pub(super) struct EnvelopeFields {
    success: Ident,
    data: Ident,
    error: Ident,
    trace_id: Ident,
    names: [String; 4],
}

impl EnvelopeFields {
    /// The payload property of a success.
    pub(super) fn data(&self) -> &Ident {
        &self.data
    }

    /// The error property of a failure.
    pub(super) fn error(&self) -> &Ident {
        &self.error
    }

    pub(super) fn of(envelope: &Envelope) -> Self {
        Self {
            success: field_ident(&envelope.success),
            data: field_ident(&envelope.data),
            error: field_ident(&envelope.error),
            trace_id: field_ident(&envelope.trace_id),
            names: [
                envelope.success.clone(),
                envelope.data.clone(),
                envelope.error.clone(),
                envelope.trace_id.clone(),
            ],
        }
    }
}

/// Serializes `body` in the documented JSON media type.
fn json_call(
    rt: &TokenStream,
    status: &TokenStream,
    media: &str,
    body: TokenStream,
    failed: &TokenStream,
) -> TokenStream {
    if media == "application/json" {
        quote! { #rt::__private::json_response(#status, #body).unwrap_or_else(#failed) }
    } else {
        quote! { #rt::__private::json_response_as(#status, #media, #body).unwrap_or_else(#failed) }
    }
}

/// Whether a response is a success, whose JSON body may be raw JSON
/// (`rt::Json`) as well as a typed value.
pub(super) fn is_success(status: StatusSpec) -> bool {
    matches!(status, StatusSpec::Code(200..=299) | StatusSpec::Class(2))
}

pub(super) fn response_enum(
    rt: &TokenStream,
    op: &Op,
    ident: &Ident,
    envelope: Option<&EnvelopeFields>,
) -> TokenStream {
    let mut variants = Vec::new();
    let mut arms = Vec::new();
    let mut status_arms = Vec::new();
    let failed = quote! {
        |error| #rt::ApiError::internal().with_cause(error).into_response(&CONVENTIONS, trace_id)
    };
    for reply in &op.replies {
        let variant = &reply.variant;
        let variant_doc = doc(&reply.doc);
        let (status_field, status_expr, status_value) = match reply.status {
            StatusSpec::Code(code) => {
                let literal = Literal::u16_unsuffixed(code);
                (
                    None,
                    quote! { #rt::__private::status(#literal) },
                    quote! { #literal },
                )
            }
            StatusSpec::Class(class) => {
                let class = Literal::u16_unsuffixed(class);
                (
                    Some(quote! {
                        #[doc = " The status, within the documented range."]
                        status: #rt::responses::StatusInClass<#class>
                    }),
                    quote! { status.status() },
                    quote! { status.status().as_u16() },
                )
            }
            StatusSpec::Default => (
                Some(quote! {
                    #[doc = " The status (any status the document does not list otherwise)."]
                    status: #rt::responses::AnyStatus
                }),
                quote! { status.status() },
                quote! { status.status().as_u16() },
            ),
        };
        let (payload_field, payload_type, serialize) = match &reply.payload {
            Payload::None => (
                None,
                None,
                quote! { #rt::__private::empty_response(#status_expr) },
            ),
            Payload::Json(rust, media) if is_success(reply.status) => {
                (Some(format_ident!("body")), Some(quote! { #rt::Json<#rust> }), {
                    let typed = json_call(rt, &status_expr, media, quote! { &body }, &failed);
                    quote! {
                        match body {
                            #rt::Json::Typed(body) => #typed,
                            #rt::Json::Raw(body) => #rt::__private::raw_json_response(#status_expr, #media, body),
                        }
                    }
                })
            }
            Payload::Json(rust, media) => (
                Some(format_ident!("body")),
                Some(rust.clone()),
                json_call(rt, &status_expr, media, quote! { &body }, &failed),
            ),
            Payload::Text(media) => (
                Some(format_ident!("body")),
                Some(quote! { ::std::string::String }),
                quote! { #rt::__private::text_response(#status_expr, #media, body) },
            ),
            Payload::Bytes(media) => (
                Some(format_ident!("body")),
                Some(quote! { ::axum::body::Bytes }),
                quote! { #rt::__private::bytes_response(#status_expr, #media, body) },
            ),
            Payload::Blob => (
                Some(format_ident!("body")),
                Some(quote! { #rt::responses::Blob }),
                quote! { #rt::__private::blob_response(#status_expr, body) },
            ),
            Payload::Envelope {
                envelope: envelope_type,
                success,
                payload,
                payload_nullable,
                media,
            } => {
                let EnvelopeFields {
                    success: success_field,
                    data,
                    error,
                    trace_id,
                    names: [success_name, data_name, error_name, trace_name],
                } = envelope.expect("an envelope payload comes with the document's convention");
                let rust = if *payload_nullable {
                    quote! { ::std::option::Option<#payload> }
                } else {
                    payload.clone()
                };
                let (field, build) = if *success {
                    (
                        data.clone(),
                        quote! { #envelope_type { #success_field: true, #data, #error: ::std::option::Option::None, #trace_id: trace_id.to_string() } },
                    )
                } else {
                    (
                        error.clone(),
                        quote! { #envelope_type { #success_field: false, #data: ::std::option::Option::None, #error, #trace_id: trace_id.to_string() } },
                    )
                };
                if *success {
                    let typed = json_call(rt, &status_expr, media, quote! { &#build }, &failed);
                    // In the order the typed struct serializes them, so that
                    // raw and typed answers are the same bytes.
                    let envelope_parts = crate::naming::serialization_order(vec![
                        (
                            success_name.clone(),
                            quote! { #rt::__private::EnvelopePart::True },
                        ),
                        (data_name.clone(), quote! { #rt::__private::EnvelopePart::Data }),
                        (error_name.clone(), quote! { #rt::__private::EnvelopePart::Null }),
                        (
                            trace_name.clone(),
                            quote! { #rt::__private::EnvelopePart::TraceId },
                        ),
                    ])
                    .into_iter()
                    .map(|(name, part)| quote! { (#name, #part) });
                    (
                        Some(field),
                        Some(quote! { #rt::Json<#rust> }),
                        quote! {
                            match #data {
                                #rt::Json::Typed(#data) => #typed,
                                #rt::Json::Raw(#data) => #rt::__private::raw_envelope_response(
                                    #status_expr,
                                    #media,
                                    &[#(#envelope_parts),*],
                                    #data,
                                    trace_id,
                                ),
                            }
                        },
                    )
                } else {
                    (
                        Some(field),
                        Some(rust),
                        json_call(rt, &status_expr, media, quote! { &#build }, &failed),
                    )
                }
            }
        };
        let header_fields: Vec<&Ident> = reply.headers.iter().map(|header| &header.field).collect();
        let header_sets = reply.headers.iter().map(|header| {
            let field = &header.field;
            let name = &header.name;
            if header.required {
                quote! { #rt::__private::insert_header(&mut response, #name, #field); }
            } else {
                quote! {
                    if let ::std::option::Option::Some(value) = #field {
                        #rt::__private::insert_header(&mut response, #name, value);
                    }
                }
            }
        });
        if reply.headers.is_empty() && status_field.is_none() {
            match (&payload_field, &payload_type) {
                (Some(field), Some(rust)) => {
                    variants.push(quote! { #variant_doc #variant(#rust) });
                    arms.push(quote! { Self::#variant(#field) => #serialize });
                    status_arms.push(quote! { Self::#variant(..) => #status_value });
                }
                _ => {
                    variants.push(quote! { #variant_doc #variant });
                    arms.push(quote! { Self::#variant => #serialize });
                    status_arms.push(quote! { Self::#variant => #status_value });
                }
            }
        } else {
            let mut fields = Vec::new();
            let mut binds = Vec::new();
            if let Some(status_field) = &status_field {
                fields.push(status_field.clone());
                binds.push(format_ident!("status"));
            }
            if let (Some(field), Some(rust)) = (&payload_field, &payload_type) {
                fields.push(quote! { #[doc = " The response body."] #field: #rust });
                binds.push(field.clone());
            }
            for header in &reply.headers {
                let field = &header.field;
                let rust = &header.rust;
                let header_doc = doc(&format!("`{}` header: {}", header.name, header.doc));
                if header.required {
                    fields.push(quote! { #header_doc #field: #rust });
                } else {
                    fields.push(quote! { #header_doc #field: ::std::option::Option<#rust> });
                }
            }
            variants.push(quote! { #variant_doc #variant { #(#fields),* } });
            let status_bind = if status_field.is_some() {
                quote! { status, }
            } else {
                quote! {}
            };
            arms.push(if reply.headers.is_empty() {
                quote! { Self::#variant { #(#binds,)* } => #serialize }
            } else {
                quote! {
                    Self::#variant { #(#binds,)* #(#header_fields),* } => {
                        let mut response = #serialize;
                        #(#header_sets)*
                        response
                    }
                }
            });
            status_arms.push(quote! { Self::#variant { #status_bind .. } => #status_value });
        }
    }
    let enum_doc = doc(&format!(
        "The result of `{}`: one variant per documented response, and nothing else.",
        op.id
    ));
    quote! {
        #enum_doc
        #[derive(Debug, Clone)]
        pub enum #ident {
            #(#variants,)*
        }

        impl #ident {
            /// The HTTP status of this result.
            pub fn status(&self) -> u16 {
                match self {
                    #(#status_arms,)*
                }
            }

            /// The HTTP response of this result: the documented body (in the
            /// envelope, with `trace_id`, when the document declares one)
            /// and headers.
            pub fn into_response_with(self, trace_id: &#rt::TraceId) -> ::axum::response::Response {
                let _ = trace_id;
                match self {
                    #(#arms,)*
                }
            }
        }
    }
}
