//! [`Unsupported`]: why a generator leaves out an operation, before it is
//! a [`Skip`].

use crate::report::Skip;

/// A construct a generator does not serve, where it is: the reason an
/// operation becomes a [`Skip`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unsupported {
    /// What is not served.
    pub(crate) construct: String,
    /// Where in the document (a JSON pointer).
    pub(crate) pointer: String,
}

impl Unsupported {
    /// `construct` at `pointer`.
    pub(crate) fn new(construct: impl Into<String>, pointer: impl Into<String>) -> Self {
        Self {
            construct: construct.into(),
            pointer: pointer.into(),
        }
    }

    /// A refusal of the document (a reference to nothing, say) as the
    /// reason to leave out the operation at `fallback` (the error's own
    /// pointer when it has one).
    pub(crate) fn from_error(error: crate::Error, fallback: &str) -> Self {
        Self {
            pointer: error.pointer.unwrap_or_else(|| fallback.to_owned()),
            construct: error.message,
        }
    }

    /// The skip of `operation` (`method` `path`) by `generator`.
    pub(crate) fn skip(
        self,
        generator: &'static str,
        operation: &openapiv3::Operation,
        method: &str,
        path: &str,
    ) -> Skip {
        Skip {
            generator,
            operation: operation.operation_id.clone().unwrap_or_default(),
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
            construct: self.construct,
            pointer: self.pointer,
            json_only: crate::document::is_json_only(operation),
        }
    }
}
