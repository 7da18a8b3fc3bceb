//! Hand-written conveniences on the generated types.

use crate::{ErrorDetail, ValidationErrorDetail, ValidationErrorDetailCode};

impl ErrorDetail {
    /// An error with a machine `code` and a human `message`, without details.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            details: None,
        }
    }

    /// The same error with `details`.
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }
}

impl ValidationErrorDetail {
    /// A `VALIDATION_ERROR` with a message naming the rule and the parameter in `details`.
    pub fn new(message: impl Into<String>, parameter: impl Into<String>) -> Self {
        Self {
            code: ValidationErrorDetailCode::ValidationError,
            message: message.into(),
            details: Some(parameter.into()),
        }
    }
}
