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
        let format = option_tokens(rules.format.as_deref().map(Literal::string));
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
                format: #format,
            }
        }
    }

    /// An expression of type `Result<T, ApiError>` parsing `raw: &str`.
    /// (`whole`: the scalar is the parameter's value, not an item of it,
    /// so that a named schema's refusal is explained by the parameter's
    /// schema.)
    fn parse(&mut self, param: &Param, scalar: &Scalar, whole: bool) -> TokenStream {
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
                let unconstrained = rules.min_length.is_none()
                    && rules.max_length.is_none()
                    && rules.pattern.is_none()
                    && rules.format.is_none();
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
                let schema = match &param.schema {
                    Some(_) if whole => {
                        let ident = schema_ident(&self.static_prefix, param);
                        quote! { ::std::option::Option::Some(&#ident) }
                    }
                    _ => quote! { ::std::option::Option::None },
                };
                quote! { #rt::__private::parse_named::<#rust>(#location, #name, raw, #expected, #syntax, #schema) }
            }
        }
    }
}

/// The static a parameter's schema is checked with.
fn schema_ident(prefix: &str, param: &Param) -> Ident {
    format_ident!("{prefix}_{}_SCHEMA", screaming(&param.name))
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
        let location = location_tokens(rt, param.location);
        // The static the value is checked against, for the rules its type
        // and parser leave (`multipleOf`, `uniqueItems`, a named schema's).
        let schema = param.schema.as_ref().map(|source| {
            let ident = schema_ident(&emitter.static_prefix, param);
            emitter.statics.push(quote! {
                static #ident: #rt::__private::ValueSchema = #rt::__private::ValueSchema::new(&SCHEMAS, #source);
            });
            ident
        });
        let check = |value: TokenStream| match &schema {
            Some(ident) => quote! {{
                let value = #value;
                #ident.check_parameter(#location, #name, &value)?;
                value
            }},
            None => value,
        };
        let (rust, init) = match &param.shape {
            Shape::One(Scalar::Named {
                rust,
                expected,
                syntax: NamedSyntax::TextOrList,
            }) => {
                // One value or several: a `oneOf` with an array branch.
                let required = param.required;
                let read = quote! {
                    #rt::__private::parse_named_values::<#rust>(#location, #name, &raw.many(#name, #rt::__private::Separator::Repeat), #expected, #required)?
                };
                if required {
                    let value = check(quote! { #rt::__private::require_value(#read, #location, #name)? });
                    (rust.clone(), value)
                } else {
                    let inner = check(quote! { value });
                    (
                        quote! { ::std::option::Option<#rust> },
                        quote! { match #read { ::std::option::Option::Some(value) => ::std::option::Option::Some(#inner), ::std::option::Option::None => ::std::option::Option::None } },
                    )
                }
            }
            Shape::One(scalar) => {
                let rust = scalar_type(scalar);
                let parse = emitter.parse(param, scalar, true);
                let parse = if matches!(scalar, Scalar::Named { .. }) {
                    // `parse_named` checked the schema before the type.
                    quote! { #parse? }
                } else {
                    check(quote! { #parse? })
                };
                if param.required {
                    (rust, quote! { { let raw = raw.required(#name)?; #parse } })
                } else if let Some(default) = &param.default {
                    (
                        rust,
                        quote! {
                            match raw.one(#name)? {
                                ::std::option::Option::Some(raw) => #parse,
                                ::std::option::Option::None => #default,
                            }
                        },
                    )
                } else {
                    (
                        quote! { ::std::option::Option<#rust> },
                        quote! {
                            match raw.one(#name)? {
                                ::std::option::Option::Some(raw) => ::std::option::Option::Some(#parse),
                                ::std::option::Option::None => ::std::option::Option::None,
                            }
                        },
                    )
                }
            }
            Shape::Many {
                item,
                separator,
                min_items,
                max_items,
            } => {
                let rust = scalar_type(item);
                let parse = emitter.parse(param, item, false);
                let min = literal_usize(min_items.or(if param.required { Some(1) } else { None }));
                let max = literal_usize(*max_items);
                let separator = match separator {
                    Separator::Repeat => quote! { #rt::__private::Separator::Repeat },
                    Separator::Comma => quote! { #rt::__private::Separator::Comma },
                    Separator::Space => quote! { #rt::__private::Separator::Space },
                    Separator::Pipe => quote! { #rt::__private::Separator::Pipe },
                };
                let values = check(quote! {
                    values
                        .into_iter()
                        .map(|raw| #parse)
                        .collect::<::std::result::Result<::std::vec::Vec<_>, #rt::ApiError>>()?
                });
                (
                    quote! { ::std::vec::Vec<#rust> },
                    quote! {
                        {
                            let values = raw.many(#name, #separator);
                            #rt::__private::check_items(#location, #name, values.len(), #min, #max)?;
                            #values
                        }
                    },
                )
            }
        };
        fields.push(quote! { #field_doc pub #field: #rust });
        // Each parameter parsed on its own, so that a request learns of
        // every mistake at once.
        inits.push(quote! {
            let #field = (|| -> ::std::result::Result<#rust, #rt::ApiError> {
                ::std::result::Result::Ok(#init)
            })();
        });
    }
    let names: Vec<&Ident> = params.iter().map(|param| &param.field).collect();
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
                #(#inits)*
                #rt::__private::all_valid(&[#(#names.as_ref().err()),*])?;
                Ok(Self {
                    #(#names: #names?,)*
                })
            }
        }
    }
}
