//! The rules of a request body's schema, checked before the handler runs:
//! every keyword of OpenAPI 3.0's schema object (bounds, `multipleOf`,
//! lengths, patterns, formats, item and property counts, `uniqueItems`,
//! `required`, `additionalProperties`, `enum`, `nullable`, compositions),
//! by a JSON Schema validator compiled once per schema from what the
//! generator embeds. Every violation is named, up to
//! [`crate::MAX_VIOLATIONS`]; patterns run with a bound on backtracking,
//! so that no body makes the check run long.

use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use super::params::Location;
use crate::outputs::error::ApiError;
use crate::outputs::violation::{MAX_VIOLATIONS, Violation};

/// How long a pattern may backtrack on one value.
const BACKTRACK_LIMIT: usize = 10_000;

/// The component schemas of one document, as JSON Schema: what body
/// schemas refer to (`#/components/schemas/…`). Generated code writes one
/// per file.
pub struct SchemaSet {
    source: &'static str,
    parsed: OnceLock<Value>,
}

impl SchemaSet {
    /// The components written as JSON text (`{"schemas": {…}}`).
    pub const fn new(source: &'static str) -> Self {
        Self {
            source,
            parsed: OnceLock::new(),
        }
    }

    fn value(&self) -> &Value {
        self.parsed
            .get_or_init(|| serde_json::from_str(self.source).unwrap_or(Value::Null))
    }
}

/// The schema of a body or a parameter, checked with [`SchemaSet`]'s
/// components; compiled on first use.
pub struct ValueSchema {
    set: &'static SchemaSet,
    source: &'static str,
    compiled: OnceLock<Option<jsonschema::Validator>>,
}

/// The options both the runtime and the generator compile schemas with.
/// (formats checked, with OpenAPI's `byte` (base64) and the `ip` of
/// progenitor's documents (IPv4 or IPv6) among them).
pub fn validator_options() -> jsonschema::ValidationOptions {
    jsonschema::options()
        .should_validate_formats(true)
        .with_format("byte", |text: &str| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(text).is_ok()
        })
        .with_format("ip", |text: &str| text.parse::<std::net::IpAddr>().is_ok())
        .with_pattern_options(jsonschema::PatternOptions::fancy_regex().backtrack_limit(BACKTRACK_LIMIT))
}

/// A root JSON Schema of `schema` with the components it reaches beside it,
/// for `$ref`s (`#/components/schemas/…`): only those, so that a schema of
/// a document of thousands (GitHub's) compiles what it uses, not the whole.
pub fn root_schema(schema: &Value, components: &Value) -> Value {
    let mut root = match schema {
        Value::Object(object) => object.clone(),
        _ => serde_json::Map::new(),
    };
    root.insert(
        "$schema".into(),
        Value::from("https://json-schema.org/draft/2020-12/schema"),
    );
    root.insert("components".into(), reached_components(schema, components));
    Value::Object(root)
}

/// The part of `components` (`{"schemas": {…}}`) that `schema` reaches
/// through `$ref`s, transitively.
fn reached_components(schema: &Value, components: &Value) -> Value {
    const PREFIX: &str = "#/components/schemas/";
    let all = components.get("schemas").and_then(Value::as_object);
    let mut reached = serde_json::Map::new();
    let mut pending = vec![schema];
    while let Some(value) = pending.pop() {
        match value {
            Value::Object(object) => {
                if let Some(name) = object
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|reference| reference.strip_prefix(PREFIX))
                {
                    let name = name
                        .split('/')
                        .next()
                        .unwrap_or(name)
                        .replace("~1", "/")
                        .replace("~0", "~");
                    if !reached.contains_key(&name)
                        && let Some(target) = all.and_then(|all| all.get(&name))
                    {
                        reached.insert(name, target.clone());
                        pending.push(target);
                    }
                }
                pending.extend(object.values());
            }
            Value::Array(items) => pending.extend(items),
            _ => {}
        }
    }
    serde_json::json!({ "schemas": reached })
}

/// The JSON type of a schema (the first but `null` of a list).
fn type_of(schema: &Value) -> Option<&str> {
    match schema.get("type")? {
        Value::String(kind) => Some(kind),
        Value::Array(kinds) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|kind| *kind != "null"),
        _ => None,
    }
}

/// A form field's text as a value of JSON type `kind`, when it reads as one.
fn typed_text(kind: Option<&str>, text: &str) -> Value {
    let parsed = match kind {
        Some("integer" | "number") => serde_json::from_str::<serde_json::Number>(text)
            .ok()
            .map(Value::Number),
        Some("boolean") => text.parse::<bool>().ok().map(Value::Bool),
        _ => None,
    };
    parsed.unwrap_or_else(|| Value::from(text))
}

/// The string formats the server checks: JSON Schema's (by the validator),
/// with OpenAPI's `byte` (base64); OpenAPI's numeric formats and `binary`
/// and `password` are no rules of a string, and pass.
pub const CHECKED_FORMATS: &[&str] = &[
    "date",
    "date-time",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ip",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uri-template",
    "uuid",
    "json-pointer",
    "relative-json-pointer",
    "regex",
    "byte",
    "binary",
    "password",
    "int32",
    "int64",
    "float",
    "double",
];

/// Whether `text` has string format `format` (`Some(false)`: it does not),
/// by the validator bodies are checked with; `None` for a format the
/// server does not know.
pub fn format_holds(format: &str, text: &str) -> Option<bool> {
    static VALIDATORS: OnceLock<Vec<(&'static str, jsonschema::Validator)>> = OnceLock::new();
    let validators = VALIDATORS.get_or_init(|| {
        CHECKED_FORMATS
            .iter()
            .filter_map(|format| {
                let schema = serde_json::json!({ "type": "string", "format": format });
                validator_options()
                    .build(&schema)
                    .ok()
                    .map(|validator| (*format, validator))
            })
            .collect()
    });
    let (_, validator) = validators.iter().find(|(known, _)| *known == format)?;
    Some(validator.is_valid(&Value::from(text)))
}

/// The limit a broken rule names (`0` of `minimum: 0`, `uuid` of
/// `format: uuid`), when it has a short one.
fn limit_of(kind: &ValidationErrorKind) -> Option<Value> {
    use ValidationErrorKind as Kind;
    match kind {
        Kind::Minimum { limit }
        | Kind::Maximum { limit }
        | Kind::ExclusiveMinimum { limit }
        | Kind::ExclusiveMaximum { limit } => Some(limit.clone()),
        Kind::MinLength { limit }
        | Kind::MaxLength { limit }
        | Kind::MinItems { limit }
        | Kind::MaxItems { limit }
        | Kind::MinProperties { limit }
        | Kind::MaxProperties { limit } => Some(Value::from(*limit)),
        Kind::MultipleOf { multiple_of } => Some(Value::from(*multiple_of)),
        Kind::Format { format } => Some(Value::from(format.as_str())),
        Kind::Pattern { pattern } => Some(Value::from(pattern.as_str())),
        Kind::Type {
            kind: jsonschema::error::TypeKind::Single(json_type),
        } => Some(Value::from(json_type.to_string())),
        _ => None,
    }
}

impl std::fmt::Debug for ValueSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValueSchema")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl ValueSchema {
    /// The body schema written as JSON text, referring to `set`.
    pub const fn new(set: &'static SchemaSet, source: &'static str) -> Self {
        Self {
            set,
            source,
            compiled: OnceLock::new(),
        }
    }

    fn compiled(&self) -> Option<&jsonschema::Validator> {
        self.compiled
            .get_or_init(|| {
                let schema: Value = serde_json::from_str(self.source).ok()?;
                let root = root_schema(&schema, self.set.value());
                match validator_options().build(&root) {
                    Ok(validator) => Some(validator),
                    Err(error) => {
                        // The generator compiles every schema it embeds:
                        // this is a bug, logged once; the typed body still
                        // checks the structure.
                        tracing::error!(%error, "a body schema does not compile: its rules are not checked");
                        None
                    }
                }
            })
            .as_ref()
    }

    /// Every rule of the schema `value` breaks, up to the cap.
    pub fn violations(&self, value: &Value) -> Vec<Violation> {
        let Some(validator) = self.compiled() else {
            return Vec::new();
        };
        // The common case first: `is_valid` stops at nothing and allocates
        // no error.
        if validator.is_valid(value) {
            return Vec::new();
        }
        validator
            .iter_errors(value)
            .take(MAX_VIOLATIONS)
            .map(|error| {
                let schema_path = error.schema_path.to_string();
                let rule = schema_path.rsplit('/').next().unwrap_or_default().to_owned();
                let mut pointer = error.instance_path.to_string();
                // A missing or unexpected property is where the mistake is.
                let property = match &error.kind {
                    ValidationErrorKind::Required { property } => Some(
                        property
                            .as_str()
                            .map_or_else(|| property.to_string(), str::to_owned),
                    ),
                    ValidationErrorKind::AdditionalProperties { unexpected } => unexpected.first().cloned(),
                    _ => None,
                };
                if let Some(name) = property {
                    pointer = format!("{pointer}/{}", name.replace('~', "~0").replace('/', "~1"));
                }
                Violation {
                    pointer,
                    rule,
                    limit: limit_of(&error.kind),
                    message: error.masked().to_string(),
                }
            })
            .collect()
    }

    /// A form's fields as the JSON the schema describes: a field of an
    /// `integer`, `number` or `boolean` property is read as one (when it
    /// reads as one: else it stays text, and the schema refuses it), the
    /// repeated fields of an `array` property are its items, and any other
    /// field is text.
    pub fn form_value(&self, pairs: &[(String, String)]) -> Value {
        let schema: Value = serde_json::from_str(self.source).unwrap_or(Value::Null);
        let properties = self
            .resolve(&schema)
            .get("properties")
            .cloned()
            .unwrap_or(Value::Null);
        let mut object = serde_json::Map::new();
        for (name, text) in pairs {
            let property = self.resolve(properties.get(name).unwrap_or(&Value::Null));
            if type_of(property) == Some("array") {
                let item = self.resolve(property.get("items").unwrap_or(&Value::Null));
                let value = typed_text(type_of(item), text);
                match object
                    .entry(name.clone())
                    .or_insert_with(|| Value::Array(Vec::new()))
                {
                    Value::Array(items) => items.push(value),
                    other => *other = value,
                }
            } else {
                object.insert(name.clone(), typed_text(type_of(property), text));
            }
        }
        Value::Object(object)
    }

    /// `schema`, or the component it refers to.
    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|reference| reference.strip_prefix("#/components/"))
            .and_then(|path| self.set.value().pointer(&format!("/{path}")))
            .unwrap_or(schema)
    }

    /// Refuses a parameter's value (`value`, as its type serializes) that
    /// breaks any rule of its schema, naming each (`tags/2 (maxLength 8)`).
    /// Generated code checks this way only the rules the parameter's type
    /// and its parser do not (`multipleOf`, `uniqueItems`, `enum` of
    /// numbers, the rules of a named schema).
    pub fn check_parameter<T: serde::Serialize + ?Sized>(
        &self,
        location: Location,
        name: &str,
        value: &T,
    ) -> Result<(), ApiError> {
        let Ok(value) = serde_json::to_value(value) else {
            return Ok(());
        };
        let mut violations = self.violations(&value);
        if violations.is_empty() {
            return Ok(());
        }
        for violation in &mut violations {
            violation.pointer = format!("{name}{}", violation.pointer);
        }
        let mut error = ApiError::violations(&format!("{} `{name}`", location.describe()), violations);
        error.details = Some(name.to_owned());
        Err(error)
    }

    /// Refuses a body that breaks any rule of its schema, naming each.
    pub fn check(&self, value: &Value) -> Result<(), ApiError> {
        let violations = self.violations(value);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(ApiError::violations("the request body", violations))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_schema_holds_the_components_it_reaches_and_no_others() {
        let components = serde_json::json!({"schemas": {
            "A": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/B"}}},
            "B": {"type": "array", "items": {"$ref": "#/components/schemas/C~1D/properties/x"}},
            "C/D": {"type": "object", "properties": {"x": {"type": "integer", "minimum": 1}}},
            "Unused": {"type": "string"},
        }});
        let root = root_schema(
            &serde_json::json!({"$ref": "#/components/schemas/A"}),
            &components,
        );
        let mut names: Vec<&String> = root["components"]["schemas"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        names.sort();
        assert_eq!(names, ["A", "B", "C/D"]);
        let validator = validator_options().build(&root).unwrap();
        assert!(validator.is_valid(&serde_json::json!({"b": [1, 2]})));
        assert!(!validator.is_valid(&serde_json::json!({"b": [0]})));
    }
}
