//! Parsing and validating parameter values by the rules of the document:
//! lengths, patterns, bounds, formats and named schemas.

use std::str::FromStr;

use serde::de::DeserializeOwned;

use super::params::{Location, invalid};
use super::pattern::Pattern;
use super::validate::ValueSchema;
use crate::outputs::error::ApiError;

/// The rules of a string parameter.
pub struct StringRules {
    /// `minLength`, in characters.
    pub min_length: Option<usize>,
    /// `maxLength`, in characters.
    pub max_length: Option<usize>,
    /// `pattern`.
    pub pattern: Option<&'static Pattern>,
    /// A `format` the string must have (`email`, `uri`, `byte`), for the
    /// formats no Rust type carries (see [`super::validate::format_holds`]).
    pub format: Option<&'static str>,
}

/// Checks a string parameter against its rules.
pub fn parse_string(
    location: Location,
    name: &str,
    raw: &str,
    rules: &StringRules,
) -> Result<String, ApiError> {
    let length = raw.chars().count();
    if let Some(max) = rules.max_length
        && length > max
    {
        let rule = format!("must be at most {max} characters long");
        return Err(invalid(location, name, "maxLength", rule, Some(raw)));
    }
    if let Some(min) = rules.min_length
        && length < min
    {
        let rule = format!("must be at least {min} characters long");
        return Err(invalid(location, name, "minLength", rule, Some(raw)));
    }
    if let Some(pattern) = rules.pattern
        && !pattern.is_match(raw)
    {
        let rule = format!("must match the pattern `{}`", pattern.source());
        return Err(invalid(location, name, "pattern", rule, Some(raw)));
    }
    if let Some(format) = rules.format
        && super::validate::format_holds(format, raw) == Some(false)
    {
        let rule = format!("must be a valid `{format}`");
        return Err(invalid(location, name, "format", rule, Some(raw)));
    }
    Ok(raw.to_owned())
}

/// Parses a parameter of a string format (`date-time`, `uuid`, `ip`, …)
/// with its Rust type's `FromStr`, the parser serde uses for the same type
/// in a body; `expected` names the format in the refusal.
pub fn parse_from_str<T: FromStr>(
    location: Location,
    name: &str,
    raw: &str,
    expected: &str,
) -> Result<T, ApiError> {
    raw.parse()
        .map_err(|_| invalid(location, name, "format", format!("must be {expected}"), Some(raw)))
}

/// The rules of an integer parameter.
pub struct IntegerRules {
    /// `minimum` (inclusive).
    pub minimum: Option<i64>,
    /// `maximum` (inclusive).
    pub maximum: Option<i64>,
    /// The format, such as `uint8`, for the message.
    pub format: Option<&'static str>,
}

impl IntegerRules {
    fn describe(&self) -> String {
        let noun = match self.format {
            Some(format) => format!("an integer ({format})"),
            None => "an integer".to_owned(),
        };
        match (self.minimum, self.maximum) {
            (Some(min), Some(max)) => format!("must be {noun} from {min} to {max}"),
            (Some(min), None) => format!("must be {noun} of at least {min}"),
            (None, Some(max)) => format!("must be {noun} of at most {max}"),
            (None, None) => format!("must be {noun}"),
        }
    }
}

/// Parses an integer parameter (decimal digits, optionally after `-`, as in
/// JSON: `+5` is refused) and checks its bounds and that it fits `T`.
pub fn parse_integer<T: TryFrom<i128>>(
    location: Location,
    name: &str,
    raw: &str,
    rules: &IntegerRules,
) -> Result<T, ApiError> {
    let fail = |keyword| invalid(location, name, keyword, rules.describe(), Some(raw));
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    if digits.is_empty() || digits.len() > 39 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(fail("type"));
    }
    let value: i128 = raw.parse().map_err(|_| fail("type"))?;
    if rules.minimum.is_some_and(|min| value < i128::from(min)) {
        return Err(fail("minimum"));
    }
    if rules.maximum.is_some_and(|max| value > i128::from(max)) {
        return Err(fail("maximum"));
    }
    T::try_from(value).map_err(|_| fail("format"))
}

/// The rules of a number parameter.
pub struct NumberRules {
    /// `minimum` (inclusive).
    pub minimum: Option<f64>,
    /// `maximum` (inclusive).
    pub maximum: Option<f64>,
}

/// Parses a finite number parameter and checks its bounds.
pub fn parse_number(location: Location, name: &str, raw: &str, rules: &NumberRules) -> Result<f64, ApiError> {
    let rule = match (rules.minimum, rules.maximum) {
        (Some(min), Some(max)) => format!("must be a number from {min} to {max}"),
        (Some(min), None) => format!("must be a number of at least {min}"),
        (None, Some(max)) => format!("must be a number of at most {max}"),
        (None, None) => "must be a number".to_owned(),
    };
    let keyword = match raw.parse::<f64>() {
        Ok(value) if !value.is_finite() => "type",
        Ok(value) if rules.minimum.is_some_and(|min| value < min) => "minimum",
        Ok(value) if rules.maximum.is_some_and(|max| value > max) => "maximum",
        Ok(value) => return Ok(value),
        Err(_) => "type",
    };
    Err(invalid(location, name, keyword, rule, Some(raw)))
}

/// Parses `true` or `false`.
pub fn parse_boolean(location: Location, name: &str, raw: &str) -> Result<bool, ApiError> {
    match raw {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(
            location,
            name,
            "type",
            "must be `true` or `false`",
            Some(raw),
        )),
    }
}

/// How the raw text of a parameter of a named schema is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueSyntax {
    /// As a JSON string whose value is the raw text (strings, enums, and
    /// `oneOf`s of them).
    Text,
    /// As JSON text (integers, numbers, booleans, and parameters with
    /// `content: application/json`).
    Json,
}

/// Parses a parameter whose type is a named schema of the document (an enum,
/// a constrained string, a `oneOf`), with the same deserializer a body uses;
/// `expected` names the schema in the refusal.
pub fn parse_named<T: DeserializeOwned>(
    location: Location,
    name: &str,
    raw: &str,
    expected: &str,
    syntax: ValueSyntax,
    schema: Option<&ValueSchema>,
) -> Result<T, ApiError> {
    let value = match syntax {
        ValueSyntax::Text => Ok(serde_json::Value::String(raw.to_owned())),
        ValueSyntax::Json => serde_json::from_str::<serde_json::Value>(raw),
    };
    if let (Some(schema), Ok(value)) = (schema, &value) {
        // The schema names the rule a value breaks (`minimum`), which the
        // type's refusal would not.
        schema.check_parameter(location, name, value)?;
    }
    let parsed = value.and_then(serde_json::from_value::<T>);
    parsed.map_err(|error| {
        // serde's reason, without positions (the text is one value) and
        // never one that names a Rust type.
        let reason = error.to_string();
        let reason = reason.split(" at line ").next().unwrap_or_default();
        let rule = if reason.is_empty() || reason.len() > 160 || reason.contains("enum ") {
            format!("must be {expected}")
        } else {
            format!("must be {expected}: {reason}")
        };
        invalid(location, name, "schema", rule, Some(raw))
    })
}

/// Parses a parameter of a named `oneOf` with an array branch from all its
/// values: one value as a string (then as a list of one), several as a
/// list. `None` when it is absent (and not `required`).
pub fn parse_named_values<T: DeserializeOwned>(
    location: Location,
    name: &str,
    values: &[&str],
    expected: &str,
    required: bool,
) -> Result<Option<T>, ApiError> {
    let list = || {
        serde_json::Value::Array(
            values
                .iter()
                .map(|value| serde_json::Value::String((*value).to_owned()))
                .collect(),
        )
    };
    let parsed = match values {
        [] if required => return Err(invalid(location, name, "required", "is required", None)),
        [] => return Ok(None),
        [one] => serde_json::from_value(serde_json::Value::String((*one).to_owned()))
            .or_else(|_| serde_json::from_value(list())),
        _ => serde_json::from_value(list()),
    };
    parsed.map(Some).map_err(|_| {
        invalid(
            location,
            name,
            "schema",
            format!("must be {expected}"),
            values.first().copied(),
        )
    })
}

/// The value of a required parameter parsed by [`parse_named_values`].
pub fn require_value<T>(value: Option<T>, location: Location, name: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| invalid(location, name, "required", "is required", None))
}

/// Checks the number of items of an array parameter.
pub fn check_items(
    location: Location,
    name: &str,
    count: usize,
    min_items: Option<usize>,
    max_items: Option<usize>,
) -> Result<(), ApiError> {
    if let Some(min) = min_items
        && count < min
    {
        return Err(invalid(
            location,
            name,
            "minItems",
            format!("needs at least {min} items (got {count})"),
            None,
        ));
    }
    if let Some(max) = max_items
        && count > max
    {
        return Err(invalid(
            location,
            name,
            "maxItems",
            format!("takes at most {max} items (got {count})"),
            None,
        ));
    }
    Ok(())
}
