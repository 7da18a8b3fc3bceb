//! Emits `mock::MockApi`: one closure per operation returning that
//! operation's result enum (so a mock can only answer what the document
//! allows), recorded calls, and a `Security` that lets every caller in.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::super::ir::Op;
use super::responses::EnvelopeFields;
use crate::naming::doc;

/// The pieces of the generated `mock` module, one operation at a time.
#[derive(Default)]
pub(super) struct MockParts {
    call_idents: Vec<Ident>,
    calls: Vec<TokenStream>,
    fields: Vec<TokenStream>,
    inits: Vec<TokenStream>,
    setters: Vec<TokenStream>,
    methods: Vec<TokenStream>,
    example_fns: Vec<TokenStream>,
    from_examples: Vec<TokenStream>,
}

impl MockParts {
    #[allow(clippy::too_many_arguments, reason = "the pieces of one operation, named")]
    pub(super) fn add(
        &mut self,
        op: &Op,
        pascal: &str,
        method_ident: &Ident,
        args: &[TokenStream],
        arg_names: &[TokenStream],
        response_ident: &Ident,
        rt: &TokenStream,
        envelope: Option<&EnvelopeFields>,
    ) {
        let (example_fn, default_status) =
            super::examples::function(rt, op, method_ident, response_ident, envelope);
        self.example_fns.push(example_fn);
        let example_setter = format_ident!("on_{}_example", method_ident);
        let setter_doc = doc(&format!(
            "Answers every `{}` request with the document's example of its response `status`; an error when the document gives that response a body and no example.",
            op.id
        ));
        let plain_setter = format_ident!("on_{}", method_ident);
        let op_name = &op.id;
        self.setters.push(quote! {
            #setter_doc
            pub fn #example_setter(&self, status: u16) -> ::std::result::Result<&Self, MissingExample> {
                let response = examples::#method_ident(status).ok_or(MissingExample { operation: #op_name, status })?;
                ::std::result::Result::Ok(self.#plain_setter(move |_| response.clone()))
            }
        });
        if let Some(status) = default_status {
            let status = proc_macro2::Literal::u16_unsuffixed(status);
            self.from_examples.push(quote! {
                let _ = mock.#example_setter(#status);
            });
        }
        let call_ident = format_ident!("{pascal}Call");
        let op_id = &op.id;
        let call_doc = doc(&format!("The validated input of one `{op_id}` request."));
        self.call_idents.push(call_ident.clone());
        self.calls.push(quote! {
            #call_doc
            #[derive(Debug, Clone)]
            pub struct #call_ident {
                #(
                    /// As the trait method receives it.
                    pub #args,
                )*
            }
        });
        self.fields.push(quote! {
            #method_ident: ::std::sync::Mutex<::std::option::Option<Handler<#call_ident, #response_ident>>>
        });
        self.inits
            .push(quote! { #method_ident: ::std::sync::Mutex::new(::std::option::Option::None) });
        let calls_getter = format_ident!("{}_calls", method_ident);
        let calls_doc = doc(&format!("The `{op_id}` requests the mock answered, in order."));
        self.setters.push(quote! {
            #calls_doc
            pub fn #calls_getter(&self) -> ::std::vec::Vec<#call_ident> {
                self.calls
                    .lock()
                    .unwrap_or_else(::std::sync::PoisonError::into_inner)
                    .iter()
                    .filter_map(|call| match call {
                        MockCall::#call_ident(call) => ::std::option::Option::Some(call.clone()),
                        #[allow(unreachable_patterns)]
                        _ => ::std::option::Option::None,
                    })
                    .collect()
            }
        });
        let setter = format_ident!("on_{}", method_ident);
        let setter_doc = doc(&format!(
            "Answers every `{op_id}` request with what `handler` returns for it."
        ));
        self.setters.push(quote! {
            #setter_doc
            pub fn #setter(
                &self,
                handler: impl FnMut(&#call_ident) -> #response_ident + Send + 'static,
            ) -> &Self {
                *self.#method_ident.lock().unwrap_or_else(::std::sync::PoisonError::into_inner) =
                    ::std::option::Option::Some(::std::boxed::Box::new(handler));
                self
            }
        });
        let principal = op.principal_type();
        self.methods.push(quote! {
            fn #method_ident(
                &self,
                _cx: #rt::RequestContext<#principal>,
                #(#args),*
            ) -> impl ::std::future::Future<Output = #response_ident> + Send {
                let call = #call_ident { #(#arg_names),* };
                self.calls
                    .lock()
                    .unwrap_or_else(::std::sync::PoisonError::into_inner)
                    .push(MockCall::#call_ident(call.clone()));
                let response = match self
                    .#method_ident
                    .lock()
                    .unwrap_or_else(::std::sync::PoisonError::into_inner)
                    .as_mut()
                {
                    ::std::option::Option::Some(handler) => handler(&call),
                    ::std::option::Option::None => {
                        panic!("no mock answer for `{}`: call `{}` first", #op_id, stringify!(#setter))
                    }
                };
                ::std::future::ready(response)
            }
        });
    }

    pub(super) fn module(self, trait_name: &Ident, rt: &TokenStream) -> TokenStream {
        let MockParts {
            call_idents,
            calls,
            fields,
            inits,
            setters,
            methods,
            example_fns,
            from_examples,
        } = self;
        let decode = if example_fns
            .iter()
            .any(|tokens| tokens.to_string().contains("decode"))
        {
            quote! {
                fn decode<T: ::serde::de::DeserializeOwned>(json: &str) -> T {
                    ::serde_json::from_str(json).expect("the example fits its schema (checked by `cargo xtask generate`)")
                }
            }
        } else {
            quote! {}
        };
        quote! {
            /// A programmable implementation of every operation, for tests of
            /// code that calls this API: set an answer per operation (only a
            /// documented response can be returned), serve it with [`router`]
            /// (or `runtime::serve_loopback`), and read back the validated calls.
            /// Any bearer token is accepted and holds every permission; an
            /// operation without an answer panics, which the router turns
            /// into a 500 envelope.
            pub mod mock {
                use super::*;

                type Handler<C, R> = ::std::boxed::Box<dyn FnMut(&C) -> R + Send>;

                #(#calls)*

                /// One recorded request. Non-exhaustive: operations added to
                /// the document add variants without breaking your matches.
                #[derive(Debug, Clone)]
                #[non_exhaustive]
                pub enum MockCall {
                    #(#[allow(missing_docs)] #call_idents(#call_idents),)*
                }

                /// The mock; see the module docs.
                pub struct MockApi {
                    calls: ::std::sync::Mutex<::std::vec::Vec<MockCall>>,
                    #(#fields,)*
                }

                impl ::std::default::Default for MockApi {
                    fn default() -> Self {
                        Self {
                            calls: ::std::sync::Mutex::new(::std::vec::Vec::new()),
                            #(#inits,)*
                        }
                    }
                }

                /// The document's own examples, as each operation's results.
                pub mod examples {
                    #[allow(unused_imports)]
                    use super::super::*;

                    #decode

                    #(#example_fns)*
                }

                /// An operation and status the document gives a body but no example.
                #[derive(Debug, Clone, Copy, PartialEq, Eq)]
                pub struct MissingExample {
                    /// The `operationId`.
                    pub operation: &'static str,
                    /// The status asked for.
                    pub status: u16,
                }

                impl ::std::fmt::Display for MissingExample {
                    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        write!(f, "the document has no example of `{}`'s response {}", self.operation, self.status)
                    }
                }

                impl ::std::error::Error for MissingExample {}

                impl MockApi {
                    /// A mock with no answers set.
                    pub fn new() -> Self {
                        Self::default()
                    }

                    /// A mock answering every operation with the document's
                    /// own example of its first success response (of its
                    /// first response, when no success has one), as a Prism
                    /// mock would; `on_…_example(status)` picks another
                    /// status, `on_…` sets a closure.
                    pub fn from_examples() -> Self {
                        let mock = Self::new();
                        #(#from_examples)*
                        mock
                    }

                    #(#setters)*

                    /// Every request the mock answered, in order.
                    pub fn calls(&self) -> ::std::vec::Vec<MockCall> {
                        self.calls.lock().unwrap_or_else(::std::sync::PoisonError::into_inner).clone()
                    }
                }

                impl #rt::Security for MockApi {
                    type Principal = ();

                    async fn authenticate(
                        &self,
                        _credentials: #rt::Credentials<'_>,
                        _trace_id: &#rt::TraceId,
                    ) -> ::std::result::Result<(), #rt::ApiError> {
                        ::std::result::Result::Ok(())
                    }

                    fn has_permission(&self, _principal: &(), _permission: &str) -> bool {
                        true
                    }
                }

                impl #trait_name for MockApi {
                    #(#methods)*
                }
            }
        }
    }
}
