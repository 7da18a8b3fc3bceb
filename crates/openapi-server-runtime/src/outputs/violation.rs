//! [`Violation`]: one rule of the document a request broke, where (a JSON
//! pointer into the body, or a parameter), which rule and its limit. A
//! refusal names every violation, up to [`MAX_VIOLATIONS`], so that an
//! answer stays small (see `refusals.rs`).

use serde::Serialize;

/// The most violations one refusal names.
pub const MAX_VIOLATIONS: usize = 20;

/// One rule a request broke.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    /// Where: a JSON pointer into the body (`/items/3/radius`), or a
    /// parameter's name.
    pub pointer: String,
    /// The rule, as the document writes it (`minimum`, `maxItems`, `pattern`).
    pub rule: String,
    /// The rule's limit, when it has one (`0` for `minimum: 0`).
    pub limit: Option<serde_json::Value>,
    /// What is wrong, in words (without the value sent).
    pub message: String,
}

impl Violation {
    /// `pointer (rule limit)`, as `details` lists it.
    pub(crate) fn summary(&self) -> String {
        let at = if self.pointer.is_empty() {
            "body"
        } else {
            &self.pointer
        };
        match &self.limit {
            Some(limit) => format!("{at} ({} {limit})", self.rule),
            None => format!("{at} ({})", self.rule),
        }
    }
}
