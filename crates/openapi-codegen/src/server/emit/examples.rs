//! Emits `examples`: per operation, a function answering the document's own
//! example for a status as that operation's result, for
//! `MockApi::from_examples` (the examples were checked against their schemas
//! when the model was built).

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use super::super::ir::{Op, Payload, Reply, StatusSpec};
use super::responses::EnvelopeFields;
use crate::naming::doc;

/// The result for one documented response, built from its example; `None`
/// when the response has a body and the document gives it no example.
fn construct(
    rt: &TokenStream,
    reply: &Reply,
    response: &Ident,
    envelope: Option<&EnvelopeFields>,
) -> Option<TokenStream> {
    let variant = &reply.variant;
    let text = || {
        reply
            .example
            .as_ref()
            .and_then(|value| value.as_str().map(str::to_owned))
    };
    let json = || reply.example.as_ref().map(serde_json::Value::to_string);
    let payload = match &reply.payload {
        Payload::None => None,
        Payload::Json(rust, _) => {
            let json = json()?;
            let value = if super::responses::is_success(reply.status) {
                quote! { decode::<#rust>(#json).into() }
            } else {
                quote! { decode::<#rust>(#json) }
            };
            Some((format_ident!("body"), value))
        }
        Payload::Envelope {
            envelope: whole,
            success,
            ..
        } => {
            let json = json()?;
            let fields = envelope?;
            if *success {
                let field = fields.data();
                Some((field.clone(), quote! { decode::<#whole>(#json).#field.into() }))
            } else {
                let field = fields.error();
                Some((field.clone(), quote! { decode::<#whole>(#json).#field }))
            }
        }
        Payload::Text(_) => {
            let text = text()?;
            Some((
                format_ident!("body"),
                quote! { ::std::string::String::from(#text) },
            ))
        }
        Payload::Bytes(_) => {
            let text = text()?;
            Some((format_ident!("body"), quote! { ::axum::body::Bytes::from(#text) }))
        }
        Payload::Blob => {
            let text = text()?;
            Some((
                format_ident!("body"),
                quote! { #rt::responses::Blob::new("application/octet-stream", #text) },
            ))
        }
    };
    let status = match reply.status {
        StatusSpec::Code(_) => None,
        StatusSpec::Class(_) => Some(quote! { status: #rt::responses::StatusInClass::new(code).ok()? }),
        StatusSpec::Default => Some(quote! { status: #rt::responses::AnyStatus::new(code).ok()? }),
    };
    if reply.headers.is_empty() && status.is_none() {
        return Some(match payload {
            Some((_, value)) => quote! { #response::#variant(#value) },
            None => quote! { #response::#variant },
        });
    }
    let mut fields: Vec<TokenStream> = status.into_iter().collect();
    if let Some((field, value)) = payload {
        fields.push(quote! { #field: #value });
    }
    for header in &reply.headers {
        let field = &header.field;
        let example = &header.example;
        fields.push(if header.required {
            quote! { #field: #example }
        } else {
            quote! { #field: ::std::option::Option::None }
        });
    }
    Some(quote! { #response::#variant { #(#fields),* } })
}

/// The `examples` function of one operation, and the status a mock made
/// from the examples answers with by default (the first success it can
/// build, else the first response it can).
pub(super) fn function(
    rt: &TokenStream,
    op: &Op,
    name: &Ident,
    response: &Ident,
    envelope: Option<&EnvelopeFields>,
) -> (TokenStream, Option<u16>) {
    let mut exact = Vec::new();
    let mut classes = Vec::new();
    let mut fallback = None;
    let mut first_success = None;
    let mut first_any = None;
    for reply in &op.replies {
        let Some(value) = construct(rt, reply, response, envelope) else {
            continue;
        };
        match reply.status {
            StatusSpec::Code(code) => {
                let code = Literal::u16_unsuffixed(code);
                exact.push(quote! { #code => ::std::option::Option::Some(#value), });
            }
            StatusSpec::Class(class) => {
                let (low, high) = (
                    Literal::u16_unsuffixed(class * 100),
                    Literal::u16_unsuffixed(class * 100 + 99),
                );
                classes.push(quote! { code @ #low..=#high => ::std::option::Option::Some(#value), });
            }
            StatusSpec::Default => fallback = Some(quote! { code => ::std::option::Option::Some(#value), }),
        }
        let representative = representative_status(reply);
        if (200..300).contains(&representative) && first_success.is_none() {
            first_success = Some(representative);
        }
        first_any.get_or_insert(representative);
    }
    let fallback = fallback.unwrap_or_else(|| quote! { _ => ::std::option::Option::None, });
    let docs = doc(&format!(
        "The document's example of `{}`'s response `status`, as its result; `None` when the document gives that response a body and no example.",
        op.id
    ));
    (
        quote! {
            #docs
            pub fn #name(status: u16) -> ::std::option::Option<#response> {
                #[allow(unreachable_patterns)]
                match status {
                    #(#exact)*
                    #(#classes)*
                    #fallback
                }
            }
        },
        first_success.or(first_any),
    )
}

/// The status a response is answered with when its example is asked for
/// without one: its code, the first of its range, 500 for `default`.
fn representative_status(reply: &Reply) -> u16 {
    match reply.status {
        StatusSpec::Code(code) => code,
        StatusSpec::Class(class) => class * 100,
        StatusSpec::Default => 500,
    }
}
