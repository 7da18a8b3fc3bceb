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
use openapi_server_runtime::__private::CHECKED_FORMATS;

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
            format: None,
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
                let mut rules = rules(&string.pattern, string.min_length, string.max_length);
                let format = format_name(&string.format);
                match string_format(format.as_deref()) {
                    Some(typed) => Scalar::Formatted {
                        rust: typed.rust,
                        expected: typed.expected.to_owned(),
                        rules,
                    },
                    None => {
                        match format {
                            Some(format) if CHECKED_FORMATS.contains(&format.as_str()) => {
                                rules.format = Some(format);
                            }
                            Some(format) => self.unenforced.borrow_mut().push(format!(
                                "format `{format}` at {at} is not a rule the server checks (any string passes)"
                            )),
                            None => {}
                        }
                        Scalar::String(rules)
                    }
                }
            }
            SchemaKind::Type(Type::Integer(integer)) => {
                let format = format_name(&integer.format);
                let minimum = integer.minimum.map(|min| {
                    if integer.exclusive_minimum {
                        min.saturating_add(1)
                    } else {
                        min
                    }
                });
                let maximum = integer.maximum.map(|max| {
                    if integer.exclusive_maximum {
                        max.saturating_sub(1)
                    } else {
                        max
                    }
                });
                Scalar::Integer {
                    rust: format_ident!("{}", narrowest_integer(format.as_deref(), minimum, maximum)),
                    minimum,
                    maximum,
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
        let schema = match &data.format {
            ParameterSchemaOrContent::Schema(schema) => Some(schema.clone()),
            ParameterSchemaOrContent::Content(content) => content
                .iter()
                .find(|(mime, _)| is_json(mime))
                .and_then(|(_, media)| media.schema.clone()),
        };
        let schema = match schema {
            Some(schema) if self.has_unchecked_rules(&schema, &shape) => {
                match self.examples.body_schema(&schema) {
                    Ok(schema) => Some(schema),
                    Err(why) => {
                        self.unenforced.borrow_mut().push(format!(
                            "the rules of the parameter at {at} beyond its type are not checked: its schema does not compile ({why})"
                        ));
                        None
                    }
                }
            }
            _ => None,
        };
        Ok(Param {
            name: data.name.clone(),
            field: field_ident(&data.name),
            location,
            required: data.required || location == Location::Path,
            default,
            shape,
            doc,
            schema,
        })
    }

    /// Whether `schema` (a parameter's) has rules that its parsed type and
    /// the parser's checks leave unchecked: then the value is checked
    /// against the schema as well.
    fn has_unchecked_rules(&self, schema: &ReferenceOr<Schema>, shape: &Shape) -> bool {
        let Ok(value) = serde_json::to_value(schema) else {
            return false;
        };
        match shape {
            Shape::One(scalar) => self.scalar_has_unchecked_rules(&value, scalar),
            Shape::Many { item, .. } => {
                let resolved = self.resolve_json(&value);
                let items = resolved.get("items").cloned().unwrap_or_default();
                has_keywords_beyond(&resolved, &["type", "items", "minItems", "maxItems"])
                    || self.scalar_has_unchecked_rules(&items, item)
            }
        }
    }

    fn scalar_has_unchecked_rules(&self, schema: &serde_json::Value, scalar: &Scalar) -> bool {
        let checked: &[&str] = match scalar {
            Scalar::String(_) | Scalar::Formatted { .. } => {
                &["type", "minLength", "maxLength", "pattern", "format"]
            }
            Scalar::Integer { .. } => &[
                "type",
                "minimum",
                "maximum",
                "exclusiveMinimum",
                "exclusiveMaximum",
                "format",
            ],
            Scalar::Number { .. } => &["type", "minimum", "maximum", "format"],
            Scalar::Boolean => &["type"],
            // A named schema's type checks its structure, enums and string
            // rules; its other rules are checked by schema.
            Scalar::Named { .. } => return self.has_value_rules(schema, &mut Vec::new()),
        };
        has_keywords_beyond(schema, checked)
    }

    /// `schema` with a reference to a component resolved (one level).
    fn resolve_json(&self, schema: &serde_json::Value) -> serde_json::Value {
        schema
            .get("$ref")
            .and_then(serde_json::Value::as_str)
            .and_then(|reference| ref_name(reference, "schemas").ok())
            .and_then(|name| self.component(name).ok())
            .and_then(|component| serde_json::to_value(component).ok())
            .unwrap_or_else(|| schema.clone())
    }

    /// Whether `schema`, through its references, has a rule of a value
    /// (a bound, a length, a count, a format).
    fn has_value_rules(&self, schema: &serde_json::Value, seen: &mut Vec<String>) -> bool {
        match schema {
            serde_json::Value::Object(object) => {
                if let Some(name) = object
                    .get("$ref")
                    .and_then(serde_json::Value::as_str)
                    .and_then(|reference| ref_name(reference, "schemas").ok())
                {
                    if seen.iter().any(|known| known == name) {
                        return false;
                    }
                    seen.push(name.to_owned());
                    let resolved = self.resolve_json(schema);
                    return self.has_value_rules(&resolved, seen);
                }
                VALUE_RULES.iter().any(|rule| object.contains_key(*rule))
                    || object.values().any(|child| self.has_value_rules(child, seen))
            }
            serde_json::Value::Array(items) => items.iter().any(|child| self.has_value_rules(child, seen)),
            _ => false,
        }
    }
}

/// The keywords that are rules of a value (beyond its type).
const VALUE_RULES: &[&str] = &[
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
];

/// The keywords that annotate a schema and are no rules.
const ANNOTATIONS: &[&str] = &[
    "description",
    "title",
    "example",
    "examples",
    "default",
    "deprecated",
    "nullable",
    "readOnly",
    "writeOnly",
    "externalDocs",
    "xml",
    "discriminator",
];

/// Whether `schema` has a keyword beyond `checked` and the annotations.
fn has_keywords_beyond(schema: &serde_json::Value, checked: &[&str]) -> bool {
    schema.as_object().is_some_and(|object| {
        object.keys().any(|key| {
            !checked.contains(&key.as_str()) && !ANNOTATIONS.contains(&key.as_str()) && !key.starts_with("x-")
        })
    })
}

/// The narrowest Rust integer that holds every value `format` and the
/// bounds allow (`1..=100` is a `u8`); without bounds, the format's type.
fn narrowest_integer(format: Option<&str>, minimum: Option<i64>, maximum: Option<i64>) -> &'static str {
    let widest = integer_type(format);
    if minimum.is_none() && maximum.is_none() {
        return widest;
    }
    let range = |rust: &str| -> (i128, i128) {
        match rust {
            "i8" => (i8::MIN.into(), i8::MAX.into()),
            "u8" => (0, u8::MAX.into()),
            "i16" => (i16::MIN.into(), i16::MAX.into()),
            "u16" => (0, u16::MAX.into()),
            "i32" => (i32::MIN.into(), i32::MAX.into()),
            "u32" => (0, u32::MAX.into()),
            "u64" => (0, u64::MAX.into()),
            _ => (i64::MIN.into(), i64::MAX.into()),
        }
    };
    let (format_min, format_max) = range(widest);
    let low = minimum.map_or(format_min, i128::from).max(format_min);
    let high = maximum.map_or(format_max, i128::from).min(format_max);
    let fits = |rust: &&str| {
        let (min, max) = range(rust);
        min <= low && high <= max
    };
    // The narrowest width that holds the range; at the format's own width,
    // the format's own type (`int32` from 1 stays `i32`).
    [["u8", "i8"], ["u16", "i16"], ["u32", "i32"], ["u64", "i64"]]
        .into_iter()
        .find_map(|pair| {
            if pair.contains(&widest) && fits(&widest) {
                Some(widest)
            } else {
                pair.into_iter().find(fits)
            }
        })
        .unwrap_or(widest)
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
        Scalar::Integer {
            rust,
            minimum,
            maximum,
            ..
        } => {
            // A default the bounds refuse is the document's mistake: the
            // implementation applies it (and the type may not hold it).
            let value = value.as_i64()?;
            if minimum.is_some_and(|min| value < min) || maximum.is_some_and(|max| value > max) {
                return None;
            }
            let literal = proc_macro2::Literal::i64_unsuffixed(value);
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
