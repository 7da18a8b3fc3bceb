//! Lowering parameters: each one's location, Rust type, rules and
//! default, and the scalar types of their values.

use openapiv3::{
    Parameter, ParameterSchemaOrContent, PathStyle, QueryStyle, ReferenceOr, Schema, SchemaKind, Type,
};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::super::ir::{Location, NamedSyntax, Param, Scalar, Separator, Shape, StringRules};
use super::super::rust_types::{format_name, inline_type, integer_type, number_type, string_format};
use super::context::{Context, unsupported};
use crate::document::{is_json, parameter_data, ref_name};
use crate::error::Result;
use crate::naming::field_ident;
use crate::unsupported::Unsupported;

impl Context<'_> {
    /// A parameter of a named schema: parsed with the schema's deserializer.
    pub(super) fn named_scalar(&self, reference: &str) -> Result<Scalar> {
        let name = ref_name(reference, "schemas")?;
        let target = self.component(name)?;
        let (expected, syntax) = match &target.schema_kind {
            SchemaKind::Type(Type::String(string)) if !string.enumeration.is_empty() => {
                let values: Vec<String> = string
                    .enumeration
                    .iter()
                    .flatten()
                    .map(|value| format!("`{value}`"))
                    .collect();
                (format!("one of {}", values.join(", ")), NamedSyntax::Text)
            }
            SchemaKind::Type(Type::Integer(_) | Type::Number(_) | Type::Boolean(_)) => {
                (format!("a valid {name}"), NamedSyntax::Json)
            }
            SchemaKind::OneOf { one_of: branches } | SchemaKind::AnyOf { any_of: branches }
                if branches.iter().any(|branch| self.is_array(branch)) =>
            {
                (format!("a valid {name}"), NamedSyntax::TextOrList)
            }
            _ => (format!("a valid {name}"), NamedSyntax::Text),
        };
        Ok(Scalar::Named {
            rust: self.named_type(reference)?,
            expected,
            syntax,
        })
    }

    pub(super) fn is_array(&self, schema: &ReferenceOr<Schema>) -> bool {
        let schema = match schema {
            ReferenceOr::Item(schema) => Some(schema),
            ReferenceOr::Reference { reference } => ref_name(reference, "schemas")
                .ok()
                .and_then(|name| self.component(name).ok()),
        };
        matches!(
            schema.map(|schema| &schema.schema_kind),
            Some(SchemaKind::Type(Type::Array(_)))
        )
    }

    pub(super) fn scalar(&self, schema: &ReferenceOr<Schema>, at: &str) -> Result<Scalar, Unsupported> {
        let schema = match schema {
            ReferenceOr::Reference { reference } => {
                return self
                    .named_scalar(reference)
                    .map_err(|error| Unsupported::from_error(error, at));
            }
            ReferenceOr::Item(schema) => schema,
        };
        let rules = |pattern: &Option<String>, min_length, max_length| StringRules {
            min_length,
            max_length,
            pattern: pattern.clone(),
        };
        Ok(match &schema.schema_kind {
            SchemaKind::Type(Type::String(string)) => {
                if let Some(pattern) = &string.pattern {
                    regress::Regex::new(pattern).map_err(|error| {
                        unsupported(
                            format!("pattern `{pattern}` does not compile: {error}"),
                            at.to_owned(),
                        )
                    })?;
                }
                let rules = rules(&string.pattern, string.min_length, string.max_length);
                match string_format(format_name(&string.format).as_deref()) {
                    Some(format) => Scalar::Formatted {
                        rust: format.rust,
                        expected: format.expected.to_owned(),
                        rules,
                    },
                    None => Scalar::String(rules),
                }
            }
            SchemaKind::Type(Type::Integer(integer)) => {
                let format = format_name(&integer.format);
                Scalar::Integer {
                    rust: format_ident!("{}", integer_type(format.as_deref())),
                    minimum: integer.minimum.map(|min| {
                        if integer.exclusive_minimum {
                            min.saturating_add(1)
                        } else {
                            min
                        }
                    }),
                    maximum: integer.maximum.map(|max| {
                        if integer.exclusive_maximum {
                            max.saturating_sub(1)
                        } else {
                            max
                        }
                    }),
                    format,
                }
            }
            SchemaKind::Type(Type::Number(number)) => Scalar::Number {
                rust: format_ident!("{}", number_type(format_name(&number.format).as_deref())),
                minimum: number.minimum,
                maximum: number.maximum,
            },
            SchemaKind::Type(Type::Boolean(_)) => Scalar::Boolean,
            _ => {
                return Err(unsupported(
                    "an inline parameter schema that is not a scalar",
                    at.to_owned(),
                ));
            }
        })
    }

    pub(super) fn param(&self, parameter: &Parameter, at: &str) -> Result<Param, Unsupported> {
        let data = parameter_data(parameter);
        let (location, explode_default) = match parameter {
            Parameter::Path { style, .. } => {
                if *style != PathStyle::Simple {
                    return Err(unsupported(
                        format!("path parameter style `{style:?}`"),
                        at.to_owned(),
                    ));
                }
                (Location::Path, false)
            }
            Parameter::Query { style, .. } => {
                if *style == QueryStyle::DeepObject {
                    return Err(unsupported("query parameter style `deepObject`", at.to_owned()));
                }
                (Location::Query, true)
            }
            Parameter::Header { .. } => (Location::Header, false),
            Parameter::Cookie { .. } => (Location::Cookie, true),
        };
        let separator = |explode: bool| match parameter {
            Parameter::Query {
                style: QueryStyle::SpaceDelimited,
                ..
            } => Separator::Space,
            Parameter::Query {
                style: QueryStyle::PipeDelimited,
                ..
            } => Separator::Pipe,
            Parameter::Query { .. } | Parameter::Cookie { .. } if explode => Separator::Repeat,
            _ => Separator::Comma,
        };
        let (shape, default) = match &data.format {
            ParameterSchemaOrContent::Content(content) => {
                let Some((_, media)) = content.iter().find(|(mime, _)| is_json(mime)) else {
                    return Err(unsupported(
                        "a parameter whose `content` is not JSON",
                        at.to_owned(),
                    ));
                };
                let rust = match &media.schema {
                    None => quote! { ::serde_json::Value },
                    Some(schema) => inline_type(schema, self.types).ok_or_else(|| {
                        unsupported("inline parameter content left after normalization", at.to_owned())
                    })?,
                };
                let scalar = Scalar::Named {
                    rust,
                    expected: "JSON of the documented schema".to_owned(),
                    syntax: NamedSyntax::Json,
                };
                (Shape::One(scalar), None)
            }
            ParameterSchemaOrContent::Schema(schema) => {
                let resolved_array = match schema {
                    ReferenceOr::Item(Schema {
                        schema_kind: SchemaKind::Type(Type::Array(array)),
                        ..
                    }) => Some(array.clone()),
                    ReferenceOr::Reference { reference } => match self.component(
                        ref_name(reference, "schemas").map_err(|error| Unsupported::from_error(error, at))?,
                    ) {
                        Ok(Schema {
                            schema_kind: SchemaKind::Type(Type::Array(array)),
                            ..
                        }) => Some(array.clone()),
                        Ok(_) => None,
                        Err(error) => return Err(Unsupported::from_error(error, at)),
                    },
                    ReferenceOr::Item(_) => None,
                };
                match resolved_array {
                    Some(array) => {
                        let items = match array.items {
                            Some(ReferenceOr::Reference { reference }) => {
                                ReferenceOr::Reference { reference }
                            }
                            Some(ReferenceOr::Item(schema)) => ReferenceOr::Item(*schema),
                            None => {
                                return Err(unsupported("an array parameter without `items`", at.to_owned()));
                            }
                        };
                        let shape = Shape::Many {
                            item: self.scalar(&items, at)?,
                            separator: separator(data.explode.unwrap_or(explode_default)),
                            min_items: array.min_items,
                            max_items: array.max_items,
                        };
                        (shape, None)
                    }
                    None => {
                        if let ReferenceOr::Item(Schema {
                            schema_kind: SchemaKind::Type(Type::Object(_)),
                            ..
                        }) = schema
                        {
                            return Err(unsupported("an object parameter", at.to_owned()));
                        }
                        let scalar = self.scalar(schema, at)?;
                        let default = match schema {
                            ReferenceOr::Item(schema) => schema
                                .schema_data
                                .default
                                .as_ref()
                                .and_then(|value| default_literal(&scalar, value)),
                            ReferenceOr::Reference { .. } => None,
                        };
                        (Shape::One(scalar), default)
                    }
                }
            }
        };
        let mut doc = data
            .description
            .clone()
            .unwrap_or_else(|| format!("`{}`", data.name));
        if default.is_none()
            && let ParameterSchemaOrContent::Schema(ReferenceOr::Item(schema)) = &data.format
            && let Some(value) = &schema.schema_data.default
        {
            doc.push_str(&format!(
                "\n\nDefault (applied by the implementation): `{value}`."
            ));
        }
        Ok(Param {
            name: data.name.clone(),
            field: field_ident(&data.name),
            location,
            required: data.required || location == Location::Path,
            default,
            shape,
            doc,
        })
    }
}

/// Two parameters of one location whose Rust names collide (`page-size`,
/// `page_size`) get distinct fields.
pub(super) fn dedupe_fields(params: &mut [Param]) {
    for index in 1..params.len() {
        let (before, rest) = params.split_at_mut(index);
        let param = &mut rest[0];
        let mut counter = 1;
        let base = param.field.to_string();
        while before
            .iter()
            .any(|other| other.location == param.location && other.field == param.field)
        {
            counter += 1;
            param.field = format_ident!("{base}_{counter}");
        }
    }
}

fn default_literal(scalar: &Scalar, value: &serde_json::Value) -> Option<TokenStream> {
    Some(match scalar {
        Scalar::String(_) => {
            let text = value.as_str()?;
            quote! { ::std::string::String::from(#text) }
        }
        Scalar::Integer { rust, .. } => {
            let literal = proc_macro2::Literal::i64_unsuffixed(value.as_i64()?);
            quote! { #literal as #rust }
        }
        Scalar::Number { rust, .. } => {
            let literal = proc_macro2::Literal::f64_unsuffixed(value.as_f64()?);
            quote! { #literal as #rust }
        }
        Scalar::Boolean => {
            let flag = value.as_bool()?;
            quote! { #flag }
        }
        Scalar::Formatted { .. } | Scalar::Named { .. } => return None,
    })
}
