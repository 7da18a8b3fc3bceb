//! [`Error`]: why the generator refuses a document (or the files it would
//! write), with where: the file, a line and column for a document that does
//! not parse, a JSON pointer for a construct that is refused.
//!
//! What the generator can leave out without losing the document is not an
//! error: an operation becomes a [`crate::Skip`], a schema a
//! [`crate::Fallback`].

use std::fmt;

/// What kind of refusal an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file cannot be read.
    Read,
    /// The text is not JSON or YAML, or not an OpenAPI object (a line and
    /// column, or a pointer, say where).
    Parse,
    /// The document is not OpenAPI 3.0.x.
    Version,
    /// The document contradicts itself: a reference to nothing, an
    /// operation id used twice, a convention written wrongly.
    Invalid,
    /// Documented examples that do not fit their schemas.
    Examples,
    /// What the generator produced does not parse as Rust (a bug of the
    /// generator, reported rather than written).
    Generated,
    /// A tool the generator runs (cargo) failed.
    Tool,
}

/// Why the generator refuses a document, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What kind of refusal.
    pub kind: ErrorKind,
    /// What is wrong, lowercase, without a final period.
    pub message: String,
    /// The document's file, when the error concerns one.
    pub file: Option<String>,
    /// Line and column (from 1) in the file, for text that does not parse.
    pub position: Option<(usize, usize)>,
    /// Where in the document (a JSON pointer such as
    /// `#/components/schemas/Pet`), when a construct is refused.
    pub pointer: Option<String>,
}

impl Error {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            file: None,
            position: None,
            pointer: None,
        }
    }

    /// An [`ErrorKind::Invalid`] document at `pointer`.
    pub fn invalid(message: impl Into<String>, pointer: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message).at(pointer)
    }

    /// Sets the JSON pointer.
    pub fn at(mut self, pointer: impl Into<String>) -> Self {
        self.pointer = Some(pointer.into());
        self
    }

    /// Sets the file (kept when one is set already).
    pub fn in_file(mut self, file: impl Into<String>) -> Self {
        self.file.get_or_insert_with(|| file.into());
        self
    }

    /// Sets the line and column.
    pub fn at_position(mut self, line: usize, column: usize) -> Self {
        self.position = Some((line, column));
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.position) {
            (Some(file), Some((line, column))) => write!(f, "{file}:{line}:{column}: ")?,
            (Some(file), None) => write!(f, "{file}: ")?,
            (None, Some((line, column))) => write!(f, "line {line}, column {column}: ")?,
            (None, None) => {}
        }
        f.write_str(&self.message)?;
        if let Some(pointer) = &self.pointer {
            write!(f, " (at {pointer})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// The generator's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::{Error, ErrorKind};

    #[test]
    fn an_error_names_its_file_position_and_pointer() {
        let parse = Error::new(ErrorKind::Parse, "expected `,`")
            .in_file("api.json")
            .at_position(3, 14);
        assert_eq!(parse.to_string(), "api.json:3:14: expected `,`");
        let invalid = Error::invalid("`#/components/schemas/X` does not exist", "#/paths/~1x/get")
            .in_file("api.yaml")
            .in_file("ignored.yaml");
        assert_eq!(
            invalid.to_string(),
            "api.yaml: `#/components/schemas/X` does not exist (at #/paths/~1x/get)"
        );
    }
}
