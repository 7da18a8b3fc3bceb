//! What the generator left out of a document or wrote otherwise than the
//! document says, each naming what and where: an operation one generator
//! does not serve ([`Skip`]), a schema given a fallback type ([`Fallback`]).

use std::fmt;

/// An operation one of the generators leaves out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// `server` or `client`.
    pub generator: &'static str,
    /// The operation id.
    pub operation: String,
    /// The method, upper case.
    pub method: String,
    /// The path template.
    pub path: String,
    /// What the generator cannot serve.
    pub construct: String,
    /// Where in the document (a JSON pointer).
    pub pointer: String,
    /// Whether the operation uses nothing but JSON bodies: leaving out such
    /// an operation is a gap of the generator, not of the format.
    pub json_only: bool,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: skipped `{}` ({} {}): {} (at {})",
            self.generator, self.operation, self.method, self.path, self.construct, self.pointer
        )
    }
}

/// How a component schema was written otherwise than typify writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FallbackKind {
    /// The schema's meaning is kept in a type the generator writes itself
    /// (a string enum whose values collide once made Rust names: each value
    /// gets a distinct variant, renamed to the value).
    Rewritten,
    /// The schema is `serde_json::Value`: any JSON, unchecked.
    Untyped,
}

/// A component schema written otherwise than the document's other schemas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// The component's name.
    pub schema: String,
    /// Where in the document (a JSON pointer).
    pub pointer: String,
    /// What it became.
    pub kind: FallbackKind,
    /// Why.
    pub reason: String,
}

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let became = match self.kind {
            FallbackKind::Rewritten => "written by the generator",
            FallbackKind::Untyped => "serde_json::Value",
        };
        write!(
            f,
            "types: schema `{}` is {became}: {} (at {})",
            self.schema, self.reason, self.pointer
        )
    }
}
