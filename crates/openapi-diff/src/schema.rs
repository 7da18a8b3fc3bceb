//! The schema walk: both versions of a schema compared keyword by keyword,
//! through `allOf` (merged), `oneOf`/`anyOf` branches (matched by `$ref`,
//! `title` or position), properties, `additionalProperties`, items and
//! discriminators. Each change is one rule named by where the schema sits
//! ([`Place`]); its level follows the way data flows.

use serde_json::Value;

use crate::compare::Comparison;
use crate::lifecycle;
use crate::rules::{Place, schema_rule};
use crate::walk::{resolve, strings, type_of, unwrap_schema};

/// How far the walk goes into nested schemas.
const DEPTH: usize = 24;

/// How many schema pairs one operation's comparison may visit.
pub(crate) const BUDGET: usize = 100_000;

impl Comparison<'_> {
    pub(crate) fn change(&mut self, place: Place, change: &str, message: String) {
        self.emit(&schema_rule(place, change), message);
    }

    /// Compares two versions of a schema. A pair already being compared up
    /// the walk (a recursive schema) is not entered again, and an operation
    /// compares at most [`BUDGET`] pairs (then says so, once).
    pub(crate) fn schema(&mut self, base: &Value, head: &Value, place: Place, at: &str, depth: usize) {
        if depth > DEPTH {
            return;
        }
        let (base_raw, head_raw) = (resolve(self.base, base), resolve(self.head, head));
        // Addresses of values alive up the walk: a pair on the stack is a cycle.
        let key = (
            std::ptr::from_ref(base_raw) as usize,
            std::ptr::from_ref(head_raw) as usize,
        );
        if self.walking.contains(&key) {
            return;
        }
        if self.compared >= BUDGET {
            if self.compared == BUDGET {
                self.compared += 1;
                self.emit(
                    "schema-comparison-truncated",
                    format!("stopped at {at}: more than {BUDGET} schema pairs in one operation"),
                );
            }
            return;
        }
        self.compared += 1;
        self.walking.push(key);
        self.compare_schemas(base, head, (base_raw, head_raw), place, at, depth);
        self.walking.pop();
    }

    fn compare_schemas(
        &mut self,
        base: &Value,
        head: &Value,
        (base_raw, head_raw): (&Value, &Value),
        place: Place,
        at: &str,
        depth: usize,
    ) {
        self.all_of(base, head, place, at);
        let (base_merged, base_nullable) = unwrap_schema(self.base, base);
        let (head_merged, head_nullable) = unwrap_schema(self.head, head);
        let (base, head) = (&*base_merged, &*head_merged);
        match (base_nullable, head_nullable) {
            (false, true) if place.is_request() => {
                self.change(place, "became-nullable", format!("{at} now accepts null"))
            }
            (false, true) => self.change(place, "became-nullable", format!("{at} became nullable")),
            (true, false) if place.is_request() => self.change(
                place,
                "became-not-nullable",
                format!("{at} no longer accepts null"),
            ),
            (true, false) => self.change(
                place,
                "became-not-nullable",
                format!("{at} is no longer nullable"),
            ),
            _ => {}
        }
        if self.wrapped(base_raw, head_raw, place, at) {
            return;
        }
        if !self.types(base, head, place, at) {
            return;
        }
        self.enums(base, head, place, at);
        self.bounds(base, head, place, at);
        self.keywords(base, head, place, at);
        self.discriminator(base, head, place, at);
        if type_of(base) == Some("object") || type_of(head) == Some("object") {
            self.object(base, head, place, at, depth);
        }
        if let (Some(base_items), Some(head_items)) = (base.get("items"), head.get("items")) {
            self.schema(
                base_items,
                head_items,
                place.nested(),
                &format!("{at}[]"),
                depth + 1,
            );
        }
        for key in ["oneOf", "anyOf"] {
            self.alternatives(base_raw, head_raw, key, place, at, depth);
        }
        self.subschemas(base, head, place, at, depth);
    }

    fn object(&mut self, base: &Value, head: &Value, place: Place, at: &str, depth: usize) {
        let empty = serde_json::Map::new();
        let properties = |schema: &Value| {
            schema
                .get("properties")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_else(|| empty.clone())
        };
        let (base_properties, head_properties) = (properties(base), properties(head));
        let (base_required, head_required) = (strings(base.get("required")), strings(head.get("required")));
        let quoted = |name: &str| Value::String(name.to_owned()).to_string();
        let request = place.is_request();
        let nested = place.nested();
        // Properties a side never carries: readOnly ones are not sent,
        // writeOnly ones are not received.
        let hidden_key = if request { "readOnly" } else { "writeOnly" };
        let hidden = |document: &Value, property: &Value| {
            unwrap_schema(document, property)
                .0
                .get(hidden_key)
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        let path_of = |name: &str| {
            if at.is_empty() {
                name.to_owned()
            } else {
                format!("{at}.{name}")
            }
        };
        for (name, base_property) in &base_properties {
            let path = path_of(name);
            if hidden(self.base, base_property) {
                continue;
            }
            let was_required = base_required.contains(&quoted(name));
            let is_required = head_required.contains(&quoted(name));
            match head_properties.get(name) {
                None if request => self.emit("request-property-removed", format!("{path} removed")),
                None if was_required => {
                    self.emit("response-required-property-removed", format!("{path} removed"))
                }
                None => self.emit("response-optional-property-removed", format!("{path} removed")),
                Some(head_property) if hidden(self.head, head_property) => {
                    // Now never sent (request) or never received (response).
                    if !request {
                        let rule = if was_required {
                            "response-required-property-removed"
                        } else {
                            "response-optional-property-removed"
                        };
                        self.emit(rule, format!("{path} became writeOnly"));
                    }
                }
                Some(head_property) => {
                    if !lifecycle::deprecated(base_property) && lifecycle::deprecated(head_property) {
                        self.change(nested, "deprecated", format!("{path} deprecated"));
                    }
                    match (was_required, is_required) {
                        (true, false) => {
                            self.change(nested, "became-optional", format!("{path} became optional"))
                        }
                        (false, true) => {
                            self.change(nested, "became-required", format!("{path} became required"))
                        }
                        _ => {}
                    }
                    self.schema(base_property, head_property, nested, &path, depth + 1);
                }
            }
        }
        for (name, head_property) in &head_properties {
            let base_hidden = base_properties
                .get(name)
                .is_some_and(|property| hidden(self.base, property));
            if (base_properties.contains_key(name) && !base_hidden) || hidden(self.head, head_property) {
                continue;
            }
            let path = path_of(name);
            let required = head_required.contains(&quoted(name));
            match (request, required) {
                (true, true) if unwrap_schema(self.head, head_property).0.get("default").is_some() => self
                    .emit(
                        "new-required-request-property-with-default",
                        format!("{path} added as required (with a default)"),
                    ),
                (true, true) => self.emit(
                    "new-required-request-property",
                    format!("{path} added as required"),
                ),
                (true, false) => self.emit("new-optional-request-property", format!("{path} added")),
                (false, true) => self.emit("response-required-property-added", format!("{path} added")),
                (false, false) => self.emit("response-optional-property-added", format!("{path} added")),
            }
        }
        let closed = |schema: &Value| schema.get("additionalProperties") == Some(&Value::Bool(false));
        match (closed(base), closed(head)) {
            (false, true) => self.change(
                place,
                "additional-properties-restricted",
                format!("{at} no longer allows other members (additionalProperties: false)"),
            ),
            (true, false) => self.change(
                place,
                "additional-properties-allowed",
                format!("{at} now allows other members"),
            ),
            _ => {}
        }
        if let (Some(base_extra @ Value::Object(_)), Some(head_extra @ Value::Object(_))) =
            (base.get("additionalProperties"), head.get("additionalProperties"))
        {
            self.schema(base_extra, head_extra, nested, &format!("{at}.*"), depth + 1);
        }
    }
}
