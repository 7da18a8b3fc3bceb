//! One change to progenitor's client: JSON bodies are decoded by the
//! `json_response` this adds, which checks a body's UTF-8 once.

use proc_macro2::{Group, Ident, Punct, Spacing, Span, TokenStream, TokenTree};
use quote::quote;

/// progenitor's client with every `ResponseValue::from_response` of its
/// `builder` module (where each operation's `send` parses its response)
/// replaced by the `json_response` this adds: the same value and errors,
/// but the body's UTF-8 is checked once, whole, and the JSON then parsed
/// from the `str`. progenitor's `serde_json::from_slice` checks every string
/// on its own: 10-15% of a client's CPU in an export (BENCHMARKS.md §4).
pub(crate) fn decode_once(client: TokenStream) -> TokenStream {
    let mut tokens: Vec<TokenTree> = client.into_iter().collect();
    let mut replaced = 0;
    for index in 0..tokens.len() {
        let is_builder = index >= 2
            && matches!(&tokens[index - 2], TokenTree::Ident(ident) if ident == "mod")
            && matches!(&tokens[index - 1], TokenTree::Ident(ident) if ident == "builder");
        if let (true, TokenTree::Group(group)) = (is_builder, &tokens[index]) {
            tokens[index] = TokenTree::Group(replace_in_group(group, &mut replaced));
        }
    }
    let mut client: TokenStream = tokens.into_iter().collect();
    if replaced == 0 {
        // No operation parses a JSON body: no helper to leave unused.
        return client;
    }
    let helper = quote! {
        /// progenitor's `ResponseValue::from_response` (the same value and
        /// errors), with the body's UTF-8 checked once rather than string by
        /// string (`cargo xtask generate`).
        async fn json_response<T: ::serde::de::DeserializeOwned, E>(
            response: ::reqwest::Response,
        ) -> ::std::result::Result<ResponseValue<T>, Error<E>> {
            let status = response.status();
            let headers = response.headers().clone();
            let full = response.bytes().await.map_err(Error::ResponseBodyError)?;
            let parsed = match ::std::str::from_utf8(&full) {
                ::std::result::Result::Ok(text) => ::serde_json::from_str(text),
                // Not UTF-8: serde_json's error says where.
                ::std::result::Result::Err(_) => ::serde_json::from_slice(&full),
            };
            match parsed {
                ::std::result::Result::Ok(inner) => ::std::result::Result::Ok(ResponseValue::new(inner, status, headers)),
                ::std::result::Result::Err(error) => ::std::result::Result::Err(Error::InvalidResponsePayload(full, error)),
            }
        }
    };
    client.extend(helper);
    client
}

/// `group` with each `ResponseValue :: from_response` in it made
/// `super :: json_response`, counted in `replaced`.
fn replace_in_group(group: &Group, replaced: &mut usize) -> Group {
    let tokens: Vec<TokenTree> = group.stream().into_iter().collect();
    let mut out = Vec::with_capacity(tokens.len());
    let mut index = 0;
    while index < tokens.len() {
        let call = matches!(&tokens[index], TokenTree::Ident(ident) if ident == "ResponseValue")
            && matches!(tokens.get(index + 1), Some(TokenTree::Punct(punct)) if punct.as_char() == ':')
            && matches!(tokens.get(index + 2), Some(TokenTree::Punct(punct)) if punct.as_char() == ':')
            && matches!(tokens.get(index + 3), Some(TokenTree::Ident(ident)) if ident == "from_response");
        if call {
            out.push(TokenTree::Ident(Ident::new("super", Span::call_site())));
            out.push(TokenTree::Punct(Punct::new(':', Spacing::Joint)));
            out.push(TokenTree::Punct(Punct::new(':', Spacing::Alone)));
            out.push(TokenTree::Ident(Ident::new("json_response", Span::call_site())));
            *replaced += 1;
            index += 4;
            continue;
        }
        match &tokens[index] {
            TokenTree::Group(inner) => out.push(TokenTree::Group(replace_in_group(inner, replaced))),
            other => out.push(other.clone()),
        }
        index += 1;
    }
    let mut rewritten = Group::new(group.delimiter(), out.into_iter().collect());
    rewritten.set_span(group.span());
    rewritten
}

#[cfg(test)]
mod tests {
    use quote::quote;

    #[test]
    fn from_response_is_replaced_in_the_builder_module_only() {
        let client = quote! {
            fn outside() { ResponseValue::from_response(response) }
            pub mod builder {
                fn send() { match status { 200u16 => ResponseValue::from_response(response).await, _ => { ResponseValue::from_response(other).await? } } }
            }
        };
        let text = super::decode_once(client).to_string();
        assert_eq!(text.matches("super :: json_response").count(), 2, "{text}");
        assert_eq!(
            text.matches("ResponseValue :: from_response").count(),
            1,
            "{text}"
        );
        assert!(text.contains("async fn json_response"), "{text}");
        let nothing = super::decode_once(quote! { pub mod builder { fn other() {} } }).to_string();
        assert!(!nothing.contains("json_response"), "{nothing}");
    }
}
