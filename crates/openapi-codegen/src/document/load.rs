//! Reading a document as what it is: `.json` with a JSON parser, `.yaml` and
//! `.yml` with a YAML one (a JSON document is YAML too, but not every one:
//! YAML refuses the surrogate-pair escapes JSON allows, `"\ud83d\udc4d"`).
//! A document that does not parse is an error naming the line and column;
//! one that parses but is not an OpenAPI object names the JSON pointer of
//! what does not fit; one of another OpenAPI version says which.

use std::path::Path;

use openapiv3::OpenAPI;

use crate::error::{Error, ErrorKind, Result};

/// The syntax a document is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// JSON (RFC 8259).
    Json,
    /// YAML 1.2.
    Yaml,
}

impl Syntax {
    /// The syntax a file's name says (`.json`; `.yaml`, `.yml`); for any
    /// other name, JSON when the text starts with `{`, else YAML.
    pub fn of(path: &Path, text: &str) -> Self {
        match path.extension().and_then(|ext| ext.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("json") => Syntax::Json,
            Some(ext) if ext.eq_ignore_ascii_case("yaml") || ext.eq_ignore_ascii_case("yml") => Syntax::Yaml,
            _ if text.trim_start().starts_with('{') => Syntax::Json,
            _ => Syntax::Yaml,
        }
    }
}

/// Reads and parses the OpenAPI 3.0.x document at `path`.
pub fn load(path: &Path) -> Result<OpenAPI> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|error| Error::new(ErrorKind::Read, format!("cannot read it: {error}")).in_file(&file))?;
    parse(&text, Syntax::of(path, &text)).map_err(|error| error.in_file(file))
}

/// Parses an OpenAPI 3.0.x document written in `syntax`. References into
/// the inside of a component are replaced by what they point at
/// ([`super::pointers`]).
pub fn parse(text: &str, syntax: Syntax) -> Result<OpenAPI> {
    // A YAML value either way: its mappings keep the document's order (a
    // JSON value's are sorted), which is the order of fields and variants.
    let mut value: serde_yaml::Value = match syntax {
        Syntax::Json => serde::Deserialize::deserialize(&mut serde_json::Deserializer::from_str(text))
            .map_err(|error: serde_json::Error| {
                Error::new(ErrorKind::Parse, format!("not JSON: {error}"))
                    .at_position(error.line(), error.column())
            })?,
        Syntax::Yaml => serde_yaml::from_str(text).map_err(|error| {
            let error_at = Error::new(ErrorKind::Parse, format!("not YAML: {error}"));
            match error.location() {
                Some(location) => error_at.at_position(location.line(), location.column()),
                None => error_at,
            }
        })?,
    };
    check_version(value.get("openapi").and_then(serde_yaml::Value::as_str))?;
    super::pointers::inline_pointer_refs(&mut value);
    typed_at(value.clone(), "#").map_err(|error| {
        serde_yaml::from_value::<serde_json::Value>(value)
            .ok()
            .and_then(|json| locate(&json))
            .unwrap_or(error)
    })
}

/// openapiv3 flattens maps, which hides the path below them from the
/// error: the part that does not fit is found by reading the operations and
/// components one by one.
/// The first operation or component of `document` that does not read as
/// one, as an error naming it.
fn locate(document: &serde_json::Value) -> Option<Error> {
    use openapiv3::{Operation, Parameter, PathItem, RequestBody, Response, Schema, SecurityScheme};
    fn check<T: serde::de::DeserializeOwned>(value: &serde_json::Value, at: &str) -> Option<Error> {
        typed_at::<T, _>(value, at).err()
    }
    for (path, item) in document.get("paths")?.as_object()?.iter() {
        let at = crate::document::pointer(&["paths", path]);
        for (method, operation) in item.as_object()? {
            let at = crate::document::pointer(&["paths", path, method]);
            if let Some(error) = [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ]
            .contains(&method.as_str())
            .then(|| check::<Operation>(operation, &at))
            .flatten()
            {
                return Some(error);
            }
        }
        if let Some(error) = check::<PathItem>(item, &at) {
            return Some(error);
        }
    }
    let components = document.get("components")?.as_object()?;
    for (kind, entries) in components {
        let Some(entries) = entries.as_object() else {
            continue;
        };
        for (name, entry) in entries {
            let at = crate::document::pointer(&["components", kind, name]);
            let error = match kind.as_str() {
                "schemas" => check::<openapiv3::ReferenceOr<Schema>>(entry, &at),
                "parameters" => check::<openapiv3::ReferenceOr<Parameter>>(entry, &at),
                "requestBodies" => check::<openapiv3::ReferenceOr<RequestBody>>(entry, &at),
                "responses" => check::<openapiv3::ReferenceOr<Response>>(entry, &at),
                "securitySchemes" => check::<openapiv3::ReferenceOr<SecurityScheme>>(entry, &at),
                _ => None,
            };
            if error.is_some() {
                return error;
            }
        }
    }
    None
}

/// `value` read as a `T`, an error naming the pointer below `at`.
fn typed_at<'de, T, D>(value: D, at: &str) -> Result<T>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
    D::Error: std::fmt::Display,
{
    serde_path_to_error::deserialize(value).map_err(|error| {
        let segments: Vec<String> = error
            .path()
            .iter()
            .filter_map(|segment| match segment {
                serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => None,
            })
            .collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let below = crate::document::pointer(&segments);
        let pointer = format!("{at}{}", below.trim_start_matches('#'));
        let inner = error.into_inner();
        Error::new(ErrorKind::Parse, format!("not an OpenAPI 3.0 document: {inner}")).at(pointer)
    })
}

fn check_version(version: Option<&str>) -> Result<()> {
    match version {
        Some(version) if version.starts_with("3.0.") => Ok(()),
        Some(version) => Err(Error::new(
            ErrorKind::Version,
            format!("openapi {version} is not supported; write OpenAPI 3.0.x (progenitor reads only 3.0)"),
        )
        .at("#/openapi")),
        None => Err(Error::new(
            ErrorKind::Version,
            "no `openapi` version: not an OpenAPI 3 document (Swagger 2.0 is not supported)",
        )
        .at("#/openapi")),
    }
}

#[cfg(test)]
mod tests {
    use super::{Syntax, parse};
    use crate::error::ErrorKind;

    const MINIMAL: &str = r#"{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {}}"#;

    #[test]
    fn a_json_document_with_surrogate_pair_escapes_is_read() {
        let text = MINIMAL.replace(r#""title": "t""#, r#""title": "Hello! \ud83d\udc4d""#);
        let document = parse(&text, Syntax::Json).unwrap();
        assert_eq!(document.info.title, "Hello! \u{1f44d}");
        // The same text as YAML is refused, which is why JSON is read as JSON.
        assert!(parse(&text, Syntax::Yaml).is_err());
    }

    #[test]
    fn a_document_that_does_not_parse_names_the_line_and_column() {
        let broken = "{\n  \"openapi\": \"3.0.3\",\n  \"info\": {\"title\": \"t\" \"version\": \"1\"}\n}";
        let error = parse(broken, Syntax::Json).unwrap_err();
        assert_eq!(error.kind, ErrorKind::Parse);
        assert_eq!(error.position.map(|(line, _)| line), Some(3), "{error}");
        let yaml = "openapi: 3.0.3\ninfo: [unclosed\n";
        let error = parse(yaml, Syntax::Yaml).unwrap_err();
        assert_eq!(error.kind, ErrorKind::Parse);
        assert!(error.position.is_some(), "{error}");
    }

    #[test]
    fn a_value_that_does_not_fit_is_named_by_its_pointer() {
        let text = MINIMAL.replace(r#""paths": {}"#, r#""paths": {"/a": {"get": {"responses": 7}}}"#);
        let error = parse(&text, Syntax::Json).unwrap_err();
        assert_eq!(
            error.pointer.as_deref(),
            Some("#/paths/~1a/get/responses"),
            "{error}"
        );
    }

    #[test]
    fn another_version_is_refused_naming_it() {
        for (text, expected) in [
            (MINIMAL.replace("3.0.3", "3.1.0"), "openapi 3.1.0"),
            (
                MINIMAL.replace(r#""openapi": "3.0.3""#, r#""swagger": "2.0""#),
                "Swagger 2.0",
            ),
        ] {
            let error = parse(&text, Syntax::Json).unwrap_err();
            assert_eq!(error.kind, ErrorKind::Version);
            assert!(error.message.contains(expected), "{error}");
        }
    }
}
