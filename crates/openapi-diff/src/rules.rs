//! The rule catalog: every finding names one rule, and every rule has an id
//! (oasdiff's where oasdiff has the rule, so a team can look it up in either
//! catalog), a level and a one-line summary.
//!
//! Schema rules are written once per change and named by where the schema
//! sits: `request-body-…` (a request body's root), `request-property-…`
//! (inside one), `request-parameter-…`, `request-parameter-property-…`,
//! `response-body-…`, `response-property-…` and `response-header-…`; the
//! level follows the way data flows (a request narrowed, or a response
//! widened, breaks clients).

use std::fmt;
use std::sync::LazyLock;

/// How much a change matters to existing clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Existing clients keep working; reported for the record.
    Info,
    /// Some client may fail, depending on what it sends or expects; look.
    Warning,
    /// Existing clients fail (oasdiff's `error`).
    Breaking,
}

impl Level {
    /// `info`, `warning` or `breaking`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Breaking => "breaking",
        }
    }

    /// Parses `info`, `warning` (`warn`) or `breaking` (`error`, `err`).
    pub fn parse(text: &str) -> Result<Level, String> {
        match text.to_ascii_lowercase().as_str() {
            "info" => Ok(Level::Info),
            "warning" | "warn" => Ok(Level::Warning),
            "breaking" | "error" | "err" => Ok(Level::Breaking),
            other => Err(format!(
                "unknown level `{other}`: expected breaking, warning or info"
            )),
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One rule of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Stable id, kebab-case (`response-property-became-optional`).
    pub id: String,
    /// Its level.
    pub level: Level,
    /// What it means, in one line.
    pub summary: String,
}

use Level::{Breaking as B, Info as I, Warning as W};

/// Where a schema sits, which names its rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    RequestBody,
    RequestProperty,
    RequestParameter,
    RequestParameterProperty,
    ResponseBody,
    ResponseProperty,
    ResponseHeader,
}

impl Place {
    pub(crate) const ALL: [Place; 7] = [
        Place::RequestBody,
        Place::RequestProperty,
        Place::RequestParameter,
        Place::RequestParameterProperty,
        Place::ResponseBody,
        Place::ResponseProperty,
        Place::ResponseHeader,
    ];

    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Place::RequestBody => "request-body",
            Place::RequestProperty => "request-property",
            Place::RequestParameter => "request-parameter",
            Place::RequestParameterProperty => "request-parameter-property",
            Place::ResponseBody => "response-body",
            Place::ResponseProperty => "response-property",
            Place::ResponseHeader => "response-header",
        }
    }

    pub(crate) fn is_request(self) -> bool {
        matches!(
            self,
            Place::RequestBody
                | Place::RequestProperty
                | Place::RequestParameter
                | Place::RequestParameterProperty
        )
    }

    /// The place of a property inside a schema at this place.
    pub(crate) fn nested(self) -> Place {
        match self {
            Place::RequestBody | Place::RequestProperty => Place::RequestProperty,
            Place::RequestParameter | Place::RequestParameterProperty => Place::RequestParameterProperty,
            Place::ResponseBody | Place::ResponseProperty => Place::ResponseProperty,
            Place::ResponseHeader => Place::ResponseHeader,
        }
    }
}

/// Schema changes: (change, level in a request, level in a response,
/// summary). `None`: the change is not reported on that side.
#[rustfmt::skip]
const SCHEMA: &[(&str, Option<Level>, Option<Level>, &str)] = &[
    ("type-changed", Some(B), Some(B), "the type (or format) changed to one that does not hold the old values"),
    ("type-generalized", Some(I), Some(B), "the type (or format) now holds more values (integer to number, a format dropped)"),
    ("type-specialized", None, Some(I), "the type (or format) now holds fewer values"),
    ("list-of-types-widened", Some(I), Some(B), "a type list (OpenAPI 3.1) now holds more types"),
    ("list-of-types-narrowed", Some(B), Some(I), "a type list (OpenAPI 3.1) now holds fewer types"),
    ("wrapped-in-one-of", Some(B), Some(B), "the schema became one branch of a new `oneOf`"),
    ("became-nullable", Some(I), Some(B), "null became a possible value"),
    ("became-not-nullable", Some(B), Some(I), "null is no longer a possible value"),
    ("became-enum", Some(B), Some(I), "the values became restricted to an enum"),
    ("enum-value-removed", Some(B), Some(I), "an enum value was removed"),
    ("enum-value-added", Some(I), Some(B), "an enum value was added (generated clients decode enums strictly)"),
    ("enum-removed", Some(I), Some(B), "the enum restriction was dropped: any value may appear"),
    ("x-extensible-enum-value-removed", Some(B), Some(I), "an `x-extensible-enum` value was removed"),
    ("x-extensible-enum-value-added", Some(I), Some(I), "an `x-extensible-enum` value was added (clients must tolerate new ones)"),
    ("max-decreased", Some(B), Some(I), "`maximum` lowered"),
    ("max-increased", Some(I), Some(B), "`maximum` raised"),
    ("max-set", Some(W), Some(I), "`maximum` set where there was none"),
    ("max-unset", Some(I), Some(B), "`maximum` removed"),
    ("exclusive-max-set", Some(W), Some(I), "`exclusiveMaximum` set where there was none"),
    ("exclusive-max-unset", Some(I), Some(B), "`exclusiveMaximum` removed"),
    ("exclusive-max-decreased", Some(B), Some(I), "`exclusiveMaximum` lowered"),
    ("exclusive-max-increased", Some(I), Some(B), "`exclusiveMaximum` raised"),
    ("min-increased", Some(B), Some(I), "`minimum` raised"),
    ("min-decreased", Some(I), Some(B), "`minimum` lowered"),
    ("min-set", Some(W), Some(I), "`minimum` set where there was none"),
    ("min-unset", Some(I), Some(B), "`minimum` removed"),
    ("exclusive-min-set", Some(W), Some(I), "`exclusiveMinimum` set where there was none"),
    ("exclusive-min-unset", Some(I), Some(B), "`exclusiveMinimum` removed"),
    ("exclusive-min-increased", Some(B), Some(I), "`exclusiveMinimum` raised"),
    ("exclusive-min-decreased", Some(I), Some(B), "`exclusiveMinimum` lowered"),
    ("max-length-decreased", Some(B), Some(I), "`maxLength` lowered"),
    ("max-length-increased", Some(I), Some(B), "`maxLength` raised: clients sized for the old bound break"),
    ("max-length-set", Some(W), Some(I), "`maxLength` set where there was none"),
    ("max-length-unset", Some(I), Some(B), "`maxLength` removed"),
    ("min-length-increased", Some(B), Some(I), "`minLength` raised (or set)"),
    ("min-length-decreased", Some(I), Some(B), "`minLength` lowered (or removed)"),
    ("max-items-decreased", Some(B), Some(I), "`maxItems` lowered"),
    ("max-items-increased", Some(I), Some(B), "`maxItems` raised"),
    ("max-items-set", Some(W), Some(I), "`maxItems` set where there was none"),
    ("max-items-unset", Some(I), Some(B), "`maxItems` removed"),
    ("min-items-increased", Some(B), Some(I), "`minItems` raised"),
    ("min-items-decreased", Some(I), Some(B), "`minItems` lowered"),
    ("min-items-set", Some(W), Some(I), "`minItems` set where there was none"),
    ("min-items-unset", Some(I), Some(B), "`minItems` removed"),
    ("max-properties-decreased", Some(B), Some(I), "`maxProperties` lowered"),
    ("max-properties-increased", Some(I), Some(B), "`maxProperties` raised"),
    ("max-properties-set", Some(W), Some(I), "`maxProperties` set where there was none"),
    ("max-properties-unset", Some(I), Some(B), "`maxProperties` removed"),
    ("min-properties-increased", Some(B), Some(I), "`minProperties` raised"),
    ("min-properties-decreased", Some(I), Some(B), "`minProperties` lowered"),
    ("min-properties-set", Some(W), Some(I), "`minProperties` set where there was none"),
    ("min-properties-unset", Some(I), Some(B), "`minProperties` removed"),
    ("multiple-of-changed", Some(W), Some(I), "`multipleOf` set or changed"),
    ("multiple-of-removed", Some(I), Some(W), "`multipleOf` removed"),
    ("unique-items-set", Some(W), Some(I), "`uniqueItems` set"),
    ("unique-items-unset", Some(I), Some(W), "`uniqueItems` removed"),
    ("pattern-added", Some(B), Some(I), "a `pattern` where there was none"),
    ("pattern-changed", Some(W), Some(I), "the `pattern` changed: values that matched may not"),
    ("pattern-generalized", Some(I), None, "the `pattern` became `.*`"),
    ("pattern-removed", Some(I), Some(I), "the `pattern` removed"),
    ("default-value-added", Some(I), Some(I), "a `default` added"),
    ("default-value-removed", Some(I), Some(I), "the `default` removed"),
    ("default-value-changed", Some(I), Some(I), "the `default` changed"),
    ("const-added", Some(B), Some(I), "a `const` added"),
    ("const-changed", Some(B), Some(B), "the `const` changed"),
    ("const-removed", Some(I), Some(B), "the `const` removed"),
    ("all-of-added", Some(B), Some(I), "an `allOf` branch added"),
    ("all-of-removed", Some(W), Some(I), "an `allOf` branch removed"),
    ("any-of-added", Some(I), Some(I), "an `anyOf` branch added"),
    ("any-of-removed", Some(B), Some(I), "an `anyOf` branch removed"),
    ("one-of-added", Some(I), Some(B), "a `oneOf` branch added: clients may receive a shape they do not know"),
    ("one-of-removed", Some(B), Some(I), "a `oneOf` branch removed"),
    ("discriminator-added", Some(I), Some(I), "a discriminator added"),
    ("discriminator-removed", Some(I), Some(I), "the discriminator removed"),
    ("discriminator-property-name-changed", Some(I), Some(I), "the discriminator's property changed (the branches' own schemas are compared)"),
    ("discriminator-mapping-added", Some(I), Some(I), "a discriminator mapping added"),
    ("discriminator-mapping-deleted", Some(I), Some(I), "a discriminator mapping removed"),
    ("discriminator-mapping-changed", Some(I), Some(I), "a discriminator mapping points elsewhere"),
    ("additional-properties-restricted", Some(W), Some(I), "`additionalProperties: false` where other members were allowed"),
    ("additional-properties-allowed", Some(I), Some(I), "other members allowed where they were not"),
    ("min-contains-increased", Some(B), Some(I), "`minContains` raised"),
    ("min-contains-decreased", Some(I), Some(B), "`minContains` lowered"),
    ("min-contains-set", Some(B), Some(I), "`minContains` set"),
    ("min-contains-unset", Some(I), Some(B), "`minContains` removed"),
    ("max-contains-decreased", Some(B), Some(I), "`maxContains` lowered"),
    ("max-contains-increased", Some(I), Some(B), "`maxContains` raised"),
    ("max-contains-set", Some(B), Some(I), "`maxContains` set"),
    ("max-contains-unset", Some(I), Some(B), "`maxContains` removed"),
    ("contains-added", Some(B), Some(I), "a `contains` constraint added"),
    ("contains-removed", Some(I), Some(B), "the `contains` constraint removed"),
    ("if-added", Some(B), Some(I), "an `if` condition added"),
    ("if-removed", Some(I), Some(B), "the `if` condition removed"),
    ("then-added", Some(B), Some(I), "a `then` branch added"),
    ("then-removed", Some(I), Some(B), "the `then` branch removed"),
    ("else-added", Some(B), Some(I), "an `else` branch added"),
    ("else-removed", Some(I), Some(B), "the `else` branch removed"),
    ("property-names-added", Some(B), Some(I), "a `propertyNames` constraint added"),
    ("property-names-removed", Some(I), Some(B), "the `propertyNames` constraint removed"),
    ("unevaluated-items-added", Some(B), Some(I), "`unevaluatedItems` restricted"),
    ("unevaluated-items-removed", Some(I), Some(B), "the `unevaluatedItems` restriction removed"),
    ("unevaluated-properties-added", Some(B), Some(I), "`unevaluatedProperties` restricted"),
    ("unevaluated-properties-removed", Some(I), Some(B), "the `unevaluatedProperties` restriction removed"),
    ("content-schema-added", Some(B), Some(I), "a `contentSchema` added"),
    ("content-schema-removed", Some(I), Some(B), "the `contentSchema` removed"),
    ("content-media-type-changed", Some(B), Some(B), "the `contentMediaType` changed"),
    ("content-encoding-changed", Some(B), Some(B), "the `contentEncoding` changed"),
    ("pattern-property-added", Some(B), Some(I), "a `patternProperties` entry added"),
    ("pattern-property-removed", Some(I), Some(B), "a `patternProperties` entry removed"),
    ("dependent-required-added", Some(B), Some(I), "a `dependentRequired` entry added"),
    ("dependent-required-removed", Some(I), Some(B), "a `dependentRequired` entry removed"),
    ("dependent-required-changed", Some(B), Some(B), "a `dependentRequired` entry changed"),
    ("dependent-schema-added", Some(B), Some(I), "a `dependentSchemas` entry added"),
    ("dependent-schema-removed", Some(I), Some(B), "a `dependentSchemas` entry removed"),
    ("prefix-items-added", Some(I), Some(B), "a `prefixItems` position added"),
    ("prefix-items-removed", Some(B), Some(I), "a `prefixItems` position removed"),
    ("became-required", Some(B), Some(I), "a property became required"),
    ("became-optional", Some(I), Some(B), "a property became optional: clients relying on it break"),
    ("deprecated", Some(I), Some(I), "a property deprecated"),
];

/// Rules that are not about a schema's keywords: (id, level, summary).
#[rustfmt::skip]
const OTHER: &[(&str, Level, &str)] = &[
    ("api-removed-without-deprecation", B, "an operation removed without being deprecated first"),
    ("api-removed-with-deprecation", I, "a deprecated operation (without a sunset date) removed"),
    ("api-removed-before-sunset", B, "a deprecated operation removed before its `x-sunset` date"),
    ("api-path-removed-without-deprecation", B, "a path removed without its operations being deprecated first"),
    ("api-path-removed-with-deprecation", I, "a path of deprecated operations (without sunset dates) removed"),
    ("api-path-removed-before-sunset", B, "a path removed before its operation's `x-sunset` date"),
    ("api-path-sunset-parse", B, "a removed operation's `x-sunset` is not a date"),
    ("api-removed-after-sunset", I, "an operation removed after its `x-sunset` date (or of draft/alpha stability)"),
    ("endpoint-added", I, "an operation added"),
    ("endpoint-deprecated", I, "an operation deprecated"),
    ("endpoint-deprecated-with-sunset", I, "an operation deprecated with a sunset date"),
    ("endpoint-reactivated", I, "an operation no longer deprecated"),
    ("api-deprecated-sunset-parse", B, "a deprecated operation's `x-sunset` is not a date"),
    ("api-sunset-date-changed-too-small", B, "a deprecated operation's `x-sunset` moved earlier"),
    ("sunset-deleted", B, "a deprecated operation's `x-sunset` removed"),
    ("api-stability-decreased", B, "`x-stability-level` lowered (stable, beta, alpha, draft)"),
    ("api-stability-increased", I, "`x-stability-level` raised"),
    ("api-invalid-stability-level", B, "`x-stability-level` is not draft, alpha, beta or stable"),
    ("api-operation-id-removed", I, "the `operationId` removed or changed (generated method names change)"),
    ("api-operation-id-added", I, "an `operationId` added"),
    ("api-security-added", B, "a security requirement added or changed: existing credentials may stop working"),
    ("api-security-alternative-added", I, "a security requirement clients may use instead (existing ones still work)"),
    ("api-security-removed", I, "a security requirement removed"),
    ("api-security-scope-added", B, "a scope added to a security requirement"),
    ("api-security-scope-removed", I, "a scope removed from a security requirement"),
    ("api-permission-added", B, "a permission added to `x-permissions`: existing keys get 403"),
    ("api-permission-removed", I, "a permission removed from `x-permissions`"),
    ("schema-comparison-truncated", W, "an operation's schemas were too many to compare in full; the rest is unchecked"),
    ("new-required-request-parameter", B, "a required parameter added"),
    ("new-optional-request-parameter", I, "an optional parameter added"),
    ("new-request-path-parameter", B, "a path parameter added"),
    ("request-parameter-removed", W, "a parameter removed: clients may still send it"),
    ("request-parameter-removed-with-deprecation", I, "a deprecated parameter removed"),
    ("request-parameter-removed-before-sunset", B, "a deprecated parameter removed before its `x-sunset` date"),
    ("request-parameter-became-required", B, "a parameter became required"),
    ("request-parameter-became-optional", I, "a parameter became optional"),
    ("request-parameter-deprecated", I, "a parameter deprecated"),
    ("request-parameter-reactivated", I, "a parameter no longer deprecated"),
    ("request-parameter-default-value-added", B, "a parameter's `default` added: clients that omit it get other behaviour"),
    ("request-parameter-default-value-removed", B, "a parameter's `default` removed"),
    ("request-parameter-default-value-changed", B, "a parameter's `default` changed"),
    ("request-body-added-required", B, "a required request body added"),
    ("request-body-added-optional", I, "an optional request body added"),
    ("request-body-removed", B, "the request body removed: clients still send one"),
    ("request-body-became-required", B, "the request body became required"),
    ("request-body-became-optional", I, "the request body became optional"),
    ("request-body-media-type-removed", B, "a request media type no longer accepted"),
    ("request-body-media-type-added", I, "a request media type added"),
    ("request-body-media-type-schema-added", B, "a request media type gained a schema: bodies that passed may not"),
    ("request-body-media-type-schema-removed", I, "a request media type lost its schema"),
    ("response-body-media-type-schema-added", I, "a response media type gained a schema"),
    ("webhook-removed", B, "a webhook removed: receivers built for it stop getting calls"),
    ("webhook-added", I, "a webhook added"),
    ("new-required-request-property", B, "a required request property added"),
    ("new-required-request-property-with-default", B, "a required request property added, with a default (clients still must send it)"),
    ("new-optional-request-property", I, "an optional request property added"),
    ("request-property-removed", W, "a request property removed: clients may still send it"),
    ("response-success-status-removed", B, "a success (2xx) response status removed"),
    ("response-non-success-status-removed", I, "a non-success response status removed"),
    ("response-success-status-added", I, "a success response status added"),
    ("response-non-success-status-added", I, "a non-success response status added"),
    ("response-media-type-removed", B, "a response media type removed"),
    ("response-media-type-added", I, "a response media type added"),
    ("response-media-type-name-generalized", B, "a response media type replaced by a more general one (`problem+json` to `json`)"),
    ("response-media-type-name-specialized", I, "a response media type replaced by a specialization (`json` to `problem+json`)"),
    ("response-body-media-type-schema-removed", W, "a response media type lost its schema"),
    ("response-required-property-removed", B, "a required response property removed"),
    ("response-optional-property-removed", W, "an optional response property removed"),
    ("response-optional-property-added", I, "an optional response property added"),
    ("response-required-property-added", I, "a required response property added"),
    ("response-header-added", I, "a response header added"),
    ("required-response-header-removed", B, "a required response header removed"),
    ("optional-response-header-removed", W, "an optional response header removed"),
];

static CATALOG: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let mut rules: Vec<Rule> = OTHER
        .iter()
        .map(|(id, level, summary)| Rule {
            id: (*id).to_owned(),
            level: *level,
            summary: (*summary).to_owned(),
        })
        .collect();
    for place in Place::ALL {
        for (change, request, response, summary) in SCHEMA {
            let level = if place.is_request() { request } else { response };
            let Some(level) = level else { continue };
            let id = format!("{}-{change}", place.prefix());
            if rules.iter().any(|rule| rule.id == id) {
                continue;
            }
            rules.push(Rule {
                id,
                level: *level,
                summary: (*summary).to_owned(),
            });
        }
    }
    rules.sort_by(|a, b| a.id.cmp(&b.id));
    rules
});

/// Every rule, by id.
pub fn catalog() -> &'static [Rule] {
    &CATALOG
}

/// The rule of that id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    CATALOG
        .binary_search_by(|rule| rule.id.as_str().cmp(id))
        .ok()
        .map(|index| &CATALOG[index])
}

/// The id of a schema change at a place, if that side reports it.
pub(crate) fn schema_rule(place: Place, change: &str) -> String {
    format!("{}-{change}", place.prefix())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_found() {
        let rules = catalog();
        for pair in rules.windows(2) {
            assert_ne!(pair[0].id, pair[1].id);
        }
        assert_eq!(rule("api-removed-without-deprecation").map(|r| r.level), Some(B));
        assert_eq!(
            rule("response-property-enum-value-added").map(|r| r.level),
            Some(B)
        );
        assert_eq!(
            rule("request-property-enum-value-added").map(|r| r.level),
            Some(I)
        );
        assert_eq!(rule("request-parameter-max-length-set").map(|r| r.level), Some(W));
        assert!(rule("response-body-pattern-generalized").is_none());
        assert!(rules.len() > 300, "{} rules", rules.len());
    }
}
