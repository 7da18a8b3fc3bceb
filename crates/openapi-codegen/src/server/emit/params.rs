//! Emits the parameter structs of an operation: one per location (path,
//! query, headers, cookies), each with a `from_raw` that parses and
//! validates every parameter by its rules.

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use super::super::ir::{Location, NamedSyntax, Param, Scalar, Separator, Shape, StringRules};
use crate::naming::{doc, literal_usize, option_tokens, screaming};

fn location_tokens(rt: &TokenStream, location: Location) -> TokenStream {
    match location {
        Location::Path => quote! { #rt::__private::Location::Path },
        Location::Query => quote! { #rt::__private::Location::Query },
        Location::Header => quote! { #rt::__private::Location::Header },
        Location::Cookie => quote! { #rt::__private::Location::Cookie },
    }
}

/// The Rust type a scalar parameter parses into.
pub(super) fn scalar_type(scalar: &Scalar) -> TokenStream {
    match scalar {
        Scalar::String(_) => quote! { ::std::string::String },
        Scalar::Formatted { rust, .. } | Scalar::Named { rust, .. } => rust.clone(),
        Scalar::Integer { rust, .. } | Scalar::Number { rust, .. } => quote! { #rust },
        Scalar::Boolean => quote! { bool },
    }
}

struct Emitter<'a> {
    rt: &'a TokenStream,
    statics: Vec<TokenStream>,
    static_prefix: String,
}

impl Emitter<'_> {
    fn string_rules(&mut self, param: &Param, rules: &StringRules) -> TokenStream {
        let rt = self.rt;
        let min = literal_usize(rules.min_length);
        let max = literal_usize(rules.max_length);
        let pattern = match &rules.pattern {
            Some(source) => {
                let ident = format_ident!("{}_{}_PATTERN", self.static_prefix, screaming(&param.name));
                self.statics.push(quote! {
                    static #ident: #rt::__private::Pattern = #rt::__private::Pattern::new(#source);
                });
                quote! { ::std::option::Option::Some(&#ident) }
            }
            None => quote! { ::std::option::Option::None },
        };
        quote! {
            &#rt::__private::StringRules {
                min_length: #min,
                max_length: #max,
                pattern: #pattern,
            }
        }
    }

    /// An expression of type `Result<T, ApiError>` parsing `raw: &str`.
    fn parse(&mut self, param: &Param, scalar: &Scalar) -> TokenStream {
        let rt = self.rt;
        let name = &param.name;
        let location = location_tokens(rt, param.location);
        match scalar {
            Scalar::String(rules) => {
                let rules = self.string_rules(param, rules);
                quote! { #rt::__private::parse_string(#location, #name, raw, #rules) }
            }
            Scalar::Formatted {
                rust,
                expected,
                rules,
            } => {
                let unconstrained =
                    rules.min_length.is_none() && rules.max_length.is_none() && rules.pattern.is_none();
                if unconstrained {
                    quote! { #rt::__private::parse_from_str::<#rust>(#location, #name, raw, #expected) }
                } else {
                    let rules = self.string_rules(param, rules);
                    quote! {
                        #rt::__private::parse_string(#location, #name, raw, #rules)
                            .and_then(|text| #rt::__private::parse_from_str::<#rust>(#location, #name, &text, #expected))
                    }
                }
            }
            Scalar::Integer {
                rust,
                format,
                minimum,
                maximum,
            } => {
                let min = option_tokens(minimum.map(Literal::i64_unsuffixed));
                let max = option_tokens(maximum.map(Literal::i64_unsuffixed));
                let format = match format {
                    Some(format) => quote! { ::std::option::Option::Some(#format) },
                    None => quote! { ::std::option::Option::None },
                };
                quote! {
                    #rt::__private::parse_integer::<#rust>(#location, #name, raw, &#rt::__private::IntegerRules {
                        minimum: #min,
                        maximum: #max,
                        format: #format,
                    })
                }
            }
            Scalar::Number {
                rust,
                minimum,
                maximum,
            } => {
                let min = option_tokens(minimum.map(Literal::f64_unsuffixed));
                let max = option_tokens(maximum.map(Literal::f64_unsuffixed));
                let convert = if rust == "f32" {
                    quote! { .map(|value| value as f32) }
                } else {
                    quote! {}
                };
                quote! {
                    #rt::__private::parse_number(#location, #name, raw, &#rt::__private::NumberRules {
                        minimum: #min,
                        maximum: #max,
                    }) #convert
                }
            }
            Scalar::Boolean => quote! { #rt::__private::parse_boolean(#location, #name, raw) },
            Scalar::Named {
                rust,
                expected,
                syntax,
            } => {
                let syntax = if *syntax == NamedSyntax::Json {
                    quote! { #rt::__private::ValueSyntax::Json }
                } else {
                    quote! { #rt::__private::ValueSyntax::Text }
                };
                quote! { #rt::__private::parse_named::<#rust>(#location, #name, raw, #expected, #syntax) }
            }
        }
    }
}

/// The struct of one location's parameters of `op_id`, with its `from_raw`.
pub(super) fn param_struct(
    rt: &TokenStream,
    op_id: &str,
    struct_ident: &Ident,
    noun: &str,
    params: &[&Param],
) -> TokenStream {
    let mut emitter = Emitter {
        rt,
        statics: Vec::new(),
        static_prefix: format!("{}_{}", screaming(op_id), noun.to_uppercase()),
    };
    let mut fields = Vec::new();
    let mut inits = Vec::new();
    for param in params {
        let field = &param.field;
        let name = &param.name;
        let field_doc = doc(&param.doc);
        match &param.shape {
            Shape::One(Scalar::Named {
                rust,
                expected,
                syntax: NamedSyntax::TextOrList,
            }) => {
                // One value or several: a `oneOf` with an array branch.
                let location = location_tokens(rt, param.location);
                let required = param.required;
                let read = quote! {
                    #rt::__private::parse_named_values::<#rust>(#location, #name, &raw.many(#name, #rt::__private::Separator::Repeat), #expected, #required)?
                };
                if required {
                    fields.push(quote! { #field_doc pub #field: #rust });
                    inits.push(quote! { #field: #rt::__private::require_value(#read, #location, #name)? });
                } else {
                    fields.push(quote! { #field_doc pub #field: ::std::option::Option<#rust> });
                    inits.push(quote! { #field: #read });
                }
            }
            Shape::One(scalar) => {
                let rust = scalar_type(scalar);
                let parse = emitter.parse(param, scalar);
                if param.required {
                    fields.push(quote! { #field_doc pub #field: #rust });
                    inits.push(quote! { #field: { let raw = raw.required(#name)?; #parse? } });
                } else if let Some(default) = &param.default {
                    fields.push(quote! { #field_doc pub #field: #rust });
                    inits.push(quote! {
                        #field: match raw.one(#name)? {
                            ::std::option::Option::Some(raw) => #parse?,
                            ::std::option::Option::None => #default,
                        }
                    });
                } else {
                    fields.push(quote! { #field_doc pub #field: ::std::option::Option<#rust> });
                    inits.push(quote! {
                        #field: match raw.one(#name)? {
                            ::std::option::Option::Some(raw) => ::std::option::Option::Some(#parse?),
                            ::std::option::Option::None => ::std::option::Option::None,
                        }
                    });
                }
            }
            Shape::Many {
                item,
                separator,
                min_items,
                max_items,
            } => {
                let rust = scalar_type(item);
                let parse = emitter.parse(param, item);
                let location = location_tokens(rt, param.location);
                let min = literal_usize(min_items.or(if param.required { Some(1) } else { None }));
                let max = literal_usize(*max_items);
                let separator = match separator {
                    Separator::Repeat => quote! { #rt::__private::Separator::Repeat },
                    Separator::Comma => quote! { #rt::__private::Separator::Comma },
                    Separator::Space => quote! { #rt::__private::Separator::Space },
                    Separator::Pipe => quote! { #rt::__private::Separator::Pipe },
                };
                fields.push(quote! { #field_doc pub #field: ::std::vec::Vec<#rust> });
                inits.push(quote! {
                    #field: {
                        let values = raw.many(#name, #separator);
                        #rt::__private::check_items(#location, #name, values.len(), #min, #max)?;
                        values
                            .into_iter()
                            .map(|raw| #parse)
                            .collect::<::std::result::Result<::std::vec::Vec<_>, #rt::ApiError>>()?
                    }
                });
            }
        }
    }
    let statics = emitter.statics;
    let struct_doc = doc(&format!("The {noun} parameters of `{op_id}`, validated."));
    quote! {
        #(#statics)*

        #struct_doc
        #[derive(Debug, Clone, PartialEq)]
        pub struct #struct_ident {
            #(#fields,)*
        }

        impl #struct_ident {
            /// Parses and validates the raw parameters; the error names the
            /// parameter and the rule it broke.
            pub fn from_raw(raw: &#rt::__private::RawParams) -> ::std::result::Result<Self, #rt::ApiError> {
                Ok(Self {
                    #(#inits,)*
                })
            }
        }
    }
}
