//! What an edit of an OpenAPI document does to existing clients, per
//! operation: [`compare`] two versions (as JSON values, local `$ref`s
//! resolved, path parameters matched by position) into a [`Report`] of
//! findings, each naming a rule of the [`catalog`] and its [`Level`]:
//! breaking, warning or info.
//!
//! The rules follow oasdiff's catalog (ids included) and a general walk of
//! both documents: requests and responses, through `allOf` (merged),
//! `oneOf`/`anyOf` branches, properties, `additionalProperties`, items and
//! discriminators; a request narrowed or a response widened breaks clients.
//! The deprecation lifecycle is read from `deprecated`, `x-sunset` and
//! `x-stability-level`: an operation may be removed once deprecated and past
//! its sunset (or while draft/alpha), not before. Where this crate rates a
//! change differently from oasdiff, on purpose, `xtask/fixtures/breaking/README.md`
//! says which and why. Descriptions and examples are ignored.

#![warn(missing_docs)]

mod compare;
mod composition;
mod keywords;
mod lifecycle;
mod report;
mod retirement;
mod rules;
mod schema;
mod security;
mod walk;

pub use compare::compare;
pub use report::{Finding, Report};
pub use rules::{Level, Rule, catalog, rule};

use serde_json::Value;

/// Parses a YAML or JSON document.
pub fn parse(text: &str, what: &str) -> Result<Value, String> {
    serde_yaml::from_str(text).map_err(|error| format!("{what} is not a YAML or JSON document: {error}"))
}
