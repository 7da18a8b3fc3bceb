//! What an edit of an OpenAPI document does to existing clients, per
//! operation: [`compare`] two versions (as JSON values, local `$ref`s
//! resolved, path parameters matched by position) into a [`Report`].
//!
//! Breaking (for a client built from the base document):
//! - an operation, a response status, a response media type or a documented
//!   response header removed;
//! - in a response: a property removed (or renamed), a property that became
//!   optional or nullable, a changed type, a new enum value (generated
//!   clients decode enums strictly);
//! - in a request: a new required parameter or body property, a parameter,
//!   body or property that became required, a changed type, and any
//!   narrowing: an enum value removed, `minimum`/`minLength`/`minItems`
//!   raised, `maximum`/`maxLength`/`maxItems` lowered, a `pattern` or
//!   `format` changed, `nullable` removed;
//! - a changed security requirement, or a permission (`x-permissions`) added.
//!
//! Everything else found (added operations, optional parameters, response
//! properties and statuses, widened request rules, removed parameters) is
//! reported as compatible. Descriptions and examples are ignored.

#![warn(missing_docs)]

mod compare;
mod report;
mod walk;

pub use compare::compare;
pub use report::{Finding, Report, Severity};

use serde_json::Value;

/// Parses a YAML or JSON document.
pub fn parse(text: &str, what: &str) -> Result<Value, String> {
    serde_yaml::from_str(text).map_err(|error| format!("{what} is not a YAML or JSON document: {error}"))
}
