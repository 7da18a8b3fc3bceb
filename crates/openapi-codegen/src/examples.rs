//! The documented examples of responses, checked at generation against
//! their schemas (JSON Schema, converted from OpenAPI 3.0), so that
//! `MockApi::from_examples` only ever serves an example that fits.

use openapi_server_runtime::__private::{root_schema, validator_options};
use openapi_server_runtime::json_schema::{discriminate, schemas_to_json_schema, to_json_schema};
use openapiv3::{MediaType, OpenAPI, ReferenceOr};
use serde_json::{Value, json};

/// The example a media type documents: `example`, else the first of
/// `examples`, else the `example` of its inline schema.
pub(crate) fn of_media(media: &MediaType) -> Option<Value> {
    if let Some(example) = &media.example {
        return Some(example.clone());
    }
    if let Some(value) = media
        .examples
        .values()
        .find_map(|example| example.as_item().and_then(|example| example.value.clone()))
    {
        return Some(value);
    }
    match &media.schema {
        Some(ReferenceOr::Item(schema)) => schema.schema_data.example.clone(),
        _ => None,
    }
}

/// Checks examples against the schemas of one document (its components
/// converted to JSON Schema once).
pub(crate) struct ExampleChecker {
    components: Value,
}

impl ExampleChecker {
    /// The checker of `document`'s examples.
    pub(crate) fn new(document: &OpenAPI) -> Self {
        let components = document
            .components
            .as_ref()
            .and_then(|components| serde_json::to_value(&components.schemas).ok())
            .unwrap_or_else(|| json!({}));
        let converted = json!({ "schemas": schemas_to_json_schema(&components) });
        let mut discriminated = converted.clone();
        discriminate(&mut discriminated, &converted);
        Self {
            components: discriminated,
        }
    }

    /// `schema` (an OpenAPI schema) as JSON Schema, discriminated unions
    /// as conditions.
    fn convert(&self, schema: &ReferenceOr<openapiv3::Schema>) -> Result<Value, String> {
        let mut converted = serde_json::to_value(schema)
            .map(|schema| to_json_schema(&schema))
            .map_err(|error| error.to_string())?;
        discriminate(&mut converted, &self.components);
        Ok(converted)
    }

    /// The components as JSON Schema (`{"schemas": {…}}`), as the server
    /// embeds them.
    pub(crate) fn components(&self) -> &Value {
        &self.components
    }

    /// `schema` (an OpenAPI schema) as JSON Schema text for the server to
    /// check bodies with, or why the server's validator cannot compile it.
    pub(crate) fn body_schema(&self, schema: &ReferenceOr<openapiv3::Schema>) -> Result<String, String> {
        let converted = self.convert(schema)?;
        validator_options()
            .build(&root_schema(&converted, &self.components))
            .map_err(|error| error.to_string())?;
        Ok(converted.to_string())
    }

    /// Why `example` does not fit `schema` (an OpenAPI schema or reference
    /// of the document), or `None` when it fits.
    pub(crate) fn violation(
        &self,
        schema: &ReferenceOr<openapiv3::Schema>,
        example: &Value,
    ) -> Option<String> {
        let converted = self.convert(schema).unwrap_or_else(|_| json!({}));
        let validator = match jsonschema::validator_for(&root_schema(&converted, &self.components)) {
            Ok(validator) => validator,
            Err(error) => return Some(format!("its schema is not valid JSON Schema: {error}")),
        };
        let errors: Vec<String> = validator
            .iter_errors(example)
            .take(3)
            .map(|error| format!("{error} at `{}`", error.instance_path))
            .collect();
        (!errors.is_empty()).then(|| errors.join("; "))
    }
}
