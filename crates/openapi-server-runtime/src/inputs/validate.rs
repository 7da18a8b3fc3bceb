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

/// The schema of one operation's body, checked with [`SchemaSet`]'s
/// components; compiled on first use.
pub struct BodySchema {
    set: &'static SchemaSet,
    source: &'static str,
    compiled: OnceLock<Option<jsonschema::Validator>>,
}

/// The options both the runtime and the generator compile schemas with.
/// (formats checked, OpenAPI's `byte` among them: base64).
pub fn validator_options() -> jsonschema::ValidationOptions {
    jsonschema::options()
        .should_validate_formats(true)
        .with_format("byte", |text: &str| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(text).is_ok()
        })
        .with_pattern_options(jsonschema::PatternOptions::fancy_regex().backtrack_limit(BACKTRACK_LIMIT))
}

/// A root JSON Schema of `schema` with `components` beside it, for `$ref`s.
pub fn root_schema(schema: &Value, components: &Value) -> Value {
    let mut root = match schema {
        Value::Object(object) => object.clone(),
        _ => serde_json::Map::new(),
    };
    root.insert(
        "$schema".into(),
        Value::from("https://json-schema.org/draft/2020-12/schema"),
    );
    root.insert("components".into(), components.clone());
    Value::Object(root)
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

impl std::fmt::Debug for BodySchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodySchema")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl BodySchema {
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
        validator
            .iter_errors(value)
            .take(MAX_VIOLATIONS)
            .map(|error| {
                let schema_path = error.schema_path.to_string();
                let rule = schema_path.rsplit('/').next().unwrap_or_default().to_owned();
                let mut pointer = error.instance_path.to_string();
                if let ValidationErrorKind::Required { property } = &error.kind {
                    // The missing property is where the mistake is.
                    let name = property
                        .as_str()
                        .map_or_else(|| property.to_string(), str::to_owned);
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
