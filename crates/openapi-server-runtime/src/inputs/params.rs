//! Parameters: the raw values of each location (path, query, headers,
//! cookies). Every refusal is a 400 that names the parameter, the rule and
//! (shortened) the value; [`super::parse`] checks the rules.

use std::fmt;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header::COOKIE};

use crate::outputs::error::ApiError;
use crate::outputs::violation::Violation;

/// Longest piece of client input quoted back in an error message.
const MAX_ECHO_CHARS: usize = 64;

/// Where a parameter travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A path segment.
    Path,
    /// The query string.
    Query,
    /// A request header.
    Header,
    /// A cookie of the `Cookie` header.
    Cookie,
}

impl Location {
    fn noun(self) -> &'static str {
        match self {
            Location::Path => "path parameter",
            Location::Query => "query parameter",
            Location::Header => "header",
            Location::Cookie => "cookie",
        }
    }
}

/// Client input shortened for an error message.
pub(crate) fn echo(raw: &str) -> String {
    if raw.chars().count() <= MAX_ECHO_CHARS {
        raw.to_owned()
    } else {
        let mut cut: String = raw.chars().take(MAX_ECHO_CHARS).collect();
        cut.push('…');
        cut
    }
}

/// A 400 naming parameter `name`, the `keyword` of the document it broke
/// (`maximum`, `pattern`, `required`) and, in words, the `rule`.
pub(crate) fn invalid(
    location: Location,
    name: &str,
    keyword: &str,
    rule: impl fmt::Display,
    raw: Option<&str>,
) -> ApiError {
    let message = match raw {
        Some(raw) => format!("{} `{name}` {rule} (got `{}`)", location.noun(), echo(raw)),
        None => format!("{} `{name}` {rule}", location.noun()),
    };
    let mut error = ApiError::validation(message.clone(), name.to_owned());
    error.violations = vec![Violation {
        pointer: name.to_owned(),
        rule: keyword.to_owned(),
        limit: None,
        message,
    }];
    error
}

impl Location {
    /// What the location is called in a refusal (`query parameter`).
    pub(crate) fn describe(self) -> &'static str {
        self.noun()
    }
}

/// How the values of an array parameter travel (OpenAPI's `style` and `explode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separator {
    /// One key per value (`explode: true`, the default of query parameters).
    Repeat,
    /// One value, comma-separated (`explode: false`, paths and headers).
    Comma,
    /// One value, space-separated (`spaceDelimited`).
    Space,
    /// One value, pipe-separated (`pipeDelimited`).
    Pipe,
}

/// A segment of a route holding a path parameter (generated code writes
/// them): `{<route>}` in the router, `<prefix>{<name>}<suffix>` in the
/// document (`{Sid}.json`).
#[derive(Debug, Clone, Copy)]
pub struct PathSegment {
    /// Its name in the router (its position: `p3`).
    pub route: &'static str,
    /// The parameter's name in the document.
    pub name: &'static str,
    /// Text before the parameter in the segment.
    pub prefix: &'static str,
    /// Text after it (`.json`).
    pub suffix: &'static str,
}

/// The raw values of a request's parameters in one location.
pub struct RawParams {
    location: Location,
    values: Vec<(String, String)>,
}

impl RawParams {
    /// The path parameters of the matched route, by the document's names:
    /// each of `segments` is a segment of the route (named by its
    /// position) holding `prefix{name}suffix`; a segment without its prefix
    /// or suffix means the request is not for this route (a 404).
    pub async fn path(parts: &mut Parts, segments: &[PathSegment]) -> Result<Self, ApiError> {
        let params = RawPathParams::from_request_parts(parts, &())
            .await
            .map_err(|rejection| {
                ApiError::validation(
                    format!("the request path is not valid: {}", rejection.body_text()),
                    "path",
                )
            })?;
        let mut values = Vec::with_capacity(segments.len());
        for segment in segments {
            let value = params
                .iter()
                .find(|(name, _)| *name == segment.route)
                .and_then(|(_, value)| value.strip_prefix(segment.prefix)?.strip_suffix(segment.suffix))
                .ok_or_else(|| ApiError::not_found("no route matches the request"))?;
            values.push((segment.name.to_owned(), value.to_owned()));
        }
        Ok(Self {
            location: Location::Path,
            values,
        })
    }

    /// The query string, decoded as `application/x-www-form-urlencoded`.
    pub fn query(parts: &Parts) -> Self {
        let values = parts
            .uri
            .query()
            .map(|query| {
                form_urlencoded::parse(query.as_bytes())
                    .map(|(name, value)| (name.into_owned(), value.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            location: Location::Query,
            values,
        }
    }

    /// The request headers; a value that is not visible ASCII is a 400.
    pub fn headers(headers: &HeaderMap, names: &[&'static str]) -> Result<Self, ApiError> {
        let mut values = Vec::new();
        for name in names {
            for value in headers.get_all(*name) {
                let text = value.to_str().map_err(|_| {
                    invalid(Location::Header, name, "type", "must be visible ASCII text", None)
                })?;
                values.push(((*name).to_owned(), text.to_owned()));
            }
        }
        Ok(Self {
            location: Location::Header,
            values,
        })
    }

    /// The cookies of every `Cookie` header (`name=value; name2=value2`).
    pub fn cookies(headers: &HeaderMap) -> Result<Self, ApiError> {
        let mut values = Vec::new();
        for header in headers.get_all(COOKIE) {
            let text = header.to_str().map_err(|_| {
                invalid(
                    Location::Header,
                    "Cookie",
                    "type",
                    "must be visible ASCII text",
                    None,
                )
            })?;
            for pair in text.split(';') {
                if let Some((name, value)) = pair.trim().split_once('=') {
                    let value = value.trim().trim_matches('"');
                    values.push((name.trim().to_owned(), value.to_owned()));
                }
            }
        }
        Ok(Self {
            location: Location::Cookie,
            values,
        })
    }

    /// The single value of `name`, if given; a repeated scalar is a 400,
    /// and so is the array syntax of a query string (`limit[]=1`,
    /// `limit[0]=1`) for it, which would otherwise pass unseen.
    pub fn one(&self, name: &str) -> Result<Option<&str>, ApiError> {
        if self.location == Location::Query
            && let Some((key, _)) = self.values.iter().find(|(key, _)| {
                key.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('[') && rest.ends_with(']'))
            })
        {
            let rule = format!("takes one value (`{name}=…`), not the array syntax `{key}`");
            return Err(invalid(self.location, name, "type", rule, None));
        }
        let mut found = self
            .values
            .iter()
            .filter(|(key, _)| names_match(self.location, key, name));
        let first = found.next();
        if found.next().is_some() {
            return Err(invalid(
                self.location,
                name,
                "type",
                "must be given at most once",
                None,
            ));
        }
        Ok(first.map(|(_, value)| value.as_str()))
    }

    /// The value of a required parameter.
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.one(name)?
            .ok_or_else(|| invalid(self.location, name, "required", "is required", None))
    }

    /// Every value of an array parameter, split as `separator` says; a
    /// header's values are always comma-separated (RFC 9110).
    pub fn many(&self, name: &str, separator: Separator) -> Vec<&str> {
        let raw = self
            .values
            .iter()
            .filter(|(key, _)| names_match(self.location, key, name))
            .map(|(_, value)| value.as_str());
        let split = match (separator, self.location) {
            (_, Location::Header) | (Separator::Comma, _) => ',',
            (Separator::Repeat, _) => return raw.collect(),
            (Separator::Space, _) => ' ',
            (Separator::Pipe, _) => '|',
        };
        raw.flat_map(|value| value.split(split).map(str::trim)).collect()
    }

    /// Where these parameters travel.
    pub fn location(&self) -> Location {
        self.location
    }
}

/// Header names compare without case, other parameter names exactly.
fn names_match(location: Location, key: &str, name: &str) -> bool {
    if location == Location::Header {
        key.eq_ignore_ascii_case(name)
    } else {
        key == name
    }
}
