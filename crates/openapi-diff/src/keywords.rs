//! Keywords in the schema walk: type and format (with 3.1 type lists),
//! enums, numeric and size bounds, `pattern`, `default` and `const`.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::compare::Comparison;
use crate::rules::Place;
use crate::walk::{join, number, strings, type_of};

/// Integer and string formats that hold every value of another:
/// (narrower, wider).
const FORMAT_WIDENINGS: [(&str, &str); 5] = [
    ("int32", "int64"),
    ("int32", "bigint"),
    ("int64", "bigint"),
    ("float", "double"),
    ("date", "date-time"),
];

/// Whether a change to the schema is a widening (more values), a narrowing,
/// or neither.
#[derive(PartialEq, Eq, Clone, Copy)]
enum Shift {
    Wider,
    Narrower,
    Other,
}

impl Comparison<'_> {
    /// Type and format: returns whether the walk goes on (it stops at a
    /// type changed to an unrelated one).
    pub(crate) fn types(&mut self, base: &Value, head: &Value, place: Place, at: &str) -> bool {
        if let Some(goes_on) = self.type_lists(base, head, place, at) {
            return goes_on;
        }
        let (base_type, head_type) = (type_of(base), type_of(head));
        // Parameters and headers travel as text: any type can become a string.
        let textual = self.textual
            || matches!(
                place,
                Place::RequestParameter | Place::RequestParameterProperty | Place::ResponseHeader
            );
        let describe = |kind: Option<&str>| kind.unwrap_or("any").to_owned();
        if base_type != head_type {
            let shift = match (base_type, head_type) {
                (_, None) => Shift::Wider,
                (None, _) => Shift::Narrower,
                (Some("integer"), Some("number")) => Shift::Wider,
                (Some("number"), Some("integer")) => Shift::Narrower,
                (Some(_), Some("string")) if textual => Shift::Wider,
                (Some("string"), Some(_)) if textual => Shift::Narrower,
                _ => Shift::Other,
            };
            let message = format!(
                "{at} changed type from {} to {}",
                describe(base_type),
                describe(head_type)
            );
            self.shifted(place, shift, message);
            return shift != Shift::Other;
        }
        let format = |schema: &Value| schema.get("format").and_then(Value::as_str).map(str::to_owned);
        let (base_format, head_format) = (format(base), format(head));
        if base_format != head_format {
            let shift = match (base_format.as_deref(), head_format.as_deref()) {
                (_, None) => Shift::Wider,
                (None, _) => Shift::Narrower,
                (Some(from), Some(to)) if FORMAT_WIDENINGS.contains(&(from, to)) => Shift::Wider,
                (Some(from), Some(to)) if FORMAT_WIDENINGS.contains(&(to, from)) => Shift::Narrower,
                _ => Shift::Other,
            };
            let message = format!(
                "{at} format {} -> {}",
                base_format.as_deref().unwrap_or("none"),
                head_format.as_deref().unwrap_or("none")
            );
            self.shifted(place, shift, message);
        }
        true
    }

    /// OpenAPI 3.1 type lists (`type: [string, integer]`), compared as sets
    /// (`null` aside: it is nullability); `None` when neither side has one.
    fn type_lists(&mut self, base: &Value, head: &Value, place: Place, at: &str) -> Option<bool> {
        fn list(schema: &Value) -> Option<BTreeSet<&str>> {
            let types = schema.get("type")?.as_array()?;
            let set: BTreeSet<&str> = types
                .iter()
                .filter_map(Value::as_str)
                .filter(|kind| *kind != "null")
                .collect();
            (set.len() > 1).then_some(set)
        }
        fn single(schema: &Value) -> Option<BTreeSet<&str>> {
            type_of(schema).map(|kind| BTreeSet::from([kind]))
        }
        if list(base).is_none() && list(head).is_none() {
            return None;
        }
        let (before, after) = (
            list(base).or_else(|| single(base)),
            list(head).or_else(|| single(head)),
        );
        let covered = |kind: &str, set: &BTreeSet<&str>| {
            set.contains(kind) || (kind == "integer" && set.contains("number"))
        };
        let within = |inner: &Option<BTreeSet<&str>>, outer: &Option<BTreeSet<&str>>| match (inner, outer) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(inner), Some(outer)) => inner.iter().all(|kind| covered(kind, outer)),
        };
        if before == after {
            return Some(true);
        }
        let show = |set: &Option<BTreeSet<&str>>| {
            set.as_ref().map_or_else(
                || "any".to_owned(),
                |set| set.iter().copied().collect::<Vec<_>>().join("|"),
            )
        };
        let message = format!("{at} changed type from {} to {}", show(&before), show(&after));
        let change = if within(&before, &after) {
            "list-of-types-widened"
        } else if within(&after, &before) {
            "list-of-types-narrowed"
        } else {
            self.change(place, "type-changed", message);
            return Some(false);
        };
        self.change(place, change, message);
        Some(true)
    }

    fn shifted(&mut self, place: Place, shift: Shift, message: String) {
        let change = match (shift, place.is_request()) {
            (Shift::Wider, _) => "type-generalized",
            (Shift::Narrower, false) => "type-specialized",
            _ => "type-changed",
        };
        self.change(place, change, message);
    }

    pub(crate) fn enums(&mut self, base: &Value, head: &Value, place: Place, at: &str) {
        let (base_values, head_values) = (strings(base.get("enum")), strings(head.get("enum")));
        let request = place.is_request();
        match (base_values.is_empty(), head_values.is_empty()) {
            (true, true) => {}
            (true, false) => self.change(place, "became-enum", format!("{at} is now restricted to an enum")),
            (false, true) => self.change(
                place,
                "enum-removed",
                format!("{at} may hold values clients do not know: any value"),
            ),
            (false, false) => {
                let added: Vec<&String> = head_values.difference(&base_values).collect();
                let removed: Vec<&String> = base_values.difference(&head_values).collect();
                if !added.is_empty() {
                    let message = if request {
                        format!("{at} also accepts {}", join(&added))
                    } else {
                        format!("{at} may hold values clients do not know: {}", join(&added))
                    };
                    self.change(place, "enum-value-added", message);
                }
                if !removed.is_empty() {
                    let message = if request {
                        format!("{at} no longer accepts {}", join(&removed))
                    } else {
                        format!("{at} no longer returns {}", join(&removed))
                    };
                    self.change(place, "enum-value-removed", message);
                }
            }
        }
        let (base_open, head_open) = (
            strings(base.get("x-extensible-enum")),
            strings(head.get("x-extensible-enum")),
        );
        let removed: Vec<&String> = base_open.difference(&head_open).collect();
        let added: Vec<&String> = head_open.difference(&base_open).collect();
        if !removed.is_empty() && !head_open.is_empty() {
            self.change(
                place,
                "x-extensible-enum-value-removed",
                format!("{at} x-extensible-enum no longer lists {}", join(&removed)),
            );
        }
        if !added.is_empty() && !base_open.is_empty() {
            self.change(
                place,
                "x-extensible-enum-value-added",
                format!("{at} x-extensible-enum also lists {}", join(&added)),
            );
        }
    }

    pub(crate) fn bounds(&mut self, base: &Value, head: &Value, place: Place, at: &str) {
        // (keyword, rule stem, whether an absent bound means 0)
        for (key, stem, zero) in [
            ("minimum", "min", false),
            ("maximum", "max", false),
            ("minLength", "min-length", true),
            ("maxLength", "max-length", false),
            ("minItems", "min-items", false),
            ("maxItems", "max-items", false),
            ("minProperties", "min-properties", false),
            ("maxProperties", "max-properties", false),
            ("minContains", "min-contains", false),
            ("maxContains", "max-contains", false),
            // OpenAPI 3.1: exclusive bounds are numbers.
            ("exclusiveMinimum", "exclusive-min", false),
            ("exclusiveMaximum", "exclusive-max", false),
        ] {
            let (before, after) = (number(base, key), number(head, key));
            let action = match (before, after) {
                (None, Some(value)) if zero => (value > 0.0).then_some("increased"),
                (Some(value), None) if zero => (value > 0.0).then_some("decreased"),
                (None, Some(_)) => Some("set"),
                (Some(_), None) => Some("unset"),
                (Some(before), Some(after)) if after > before => Some("increased"),
                (Some(before), Some(after)) if after < before => Some("decreased"),
                _ => None,
            };
            let Some(action) = action else { continue };
            let describe =
                |value: Option<f64>| value.map_or_else(|| "none".to_owned(), |value| value.to_string());
            self.change(
                place,
                &format!("{stem}-{action}"),
                format!("{at} {key} {} -> {}", describe(before), describe(after)),
            );
        }
        for (key, stem, bound) in [
            ("exclusiveMinimum", "exclusive-min", "minimum"),
            ("exclusiveMaximum", "exclusive-max", "maximum"),
        ] {
            // OpenAPI 3.0: a flag on `minimum`/`maximum`.
            let flag = |schema: &Value| schema.get(key).and_then(Value::as_bool).unwrap_or(false);
            match (flag(base), flag(head)) {
                (false, true) => self.change(
                    place,
                    &format!("{stem}-set"),
                    format!("{at} {bound} made exclusive"),
                ),
                (true, false) => self.change(
                    place,
                    &format!("{stem}-unset"),
                    format!("{at} {bound} made inclusive"),
                ),
                _ => {}
            }
        }
        let (before, after) = (number(base, "multipleOf"), number(head, "multipleOf"));
        match (before, after) {
            (Some(before), Some(after)) if before == after => {}
            // A divisor of the old step accepts every old value.
            (Some(before), Some(after)) if after != 0.0 && (before / after).fract() == 0.0 => {}
            (_, Some(after)) => self.change(
                place,
                "multiple-of-changed",
                format!(
                    "{at} multipleOf {} -> {after}",
                    before.map_or_else(|| "none".to_owned(), |b| b.to_string())
                ),
            ),
            (Some(before), None) => self.change(
                place,
                "multiple-of-removed",
                format!("{at} multipleOf {before} removed"),
            ),
            (None, None) => {}
        }
        let unique = |schema: &Value| {
            schema
                .get("uniqueItems")
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        match (unique(base), unique(head)) {
            (false, true) => self.change(
                place,
                "unique-items-set",
                format!("{at} items must now be unique"),
            ),
            (true, false) => self.change(place, "unique-items-unset", format!("{at} items may now repeat")),
            _ => {}
        }
    }

    /// `pattern`, `default` and `const`.
    pub(crate) fn keywords(&mut self, base: &Value, head: &Value, place: Place, at: &str) {
        fn pattern(schema: &Value) -> Option<&Value> {
            schema.get("pattern").filter(|pattern| *pattern != "")
        }
        match (pattern(base), pattern(head)) {
            (before, after) if before == after => {}
            (None, Some(after)) => {
                self.change(place, "pattern-added", format!("{at} pattern none -> {after}"))
            }
            (Some(before), None) => {
                self.change(place, "pattern-removed", format!("{at} pattern {before} removed"))
            }
            (Some(before), Some(after)) => {
                let change = if place.is_request() && after == ".*" {
                    "pattern-generalized"
                } else {
                    "pattern-changed"
                };
                self.change(place, change, format!("{at} pattern {before} -> {after}"));
            }
            _ => {}
        }
        for (key, stem) in [("default", "default-value"), ("const", "const")] {
            match (base.get(key), head.get(key)) {
                (before, after) if before == after => {}
                (None, Some(after)) => self.change(
                    place,
                    &format!("{stem}-added"),
                    format!("{at} {key} {after} added"),
                ),
                (Some(before), None) => self.change(
                    place,
                    &format!("{stem}-removed"),
                    format!("{at} {key} {before} removed"),
                ),
                (Some(before), Some(after)) => self.change(
                    place,
                    &format!("{stem}-changed"),
                    format!("{at} {key} {before} -> {after}"),
                ),
                _ => {}
            }
        }
    }
}
