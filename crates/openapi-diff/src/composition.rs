//! Composition in the schema walk: `allOf` branches added or removed,
//! `oneOf`/`anyOf` branches matched and compared, a schema rewrapped in a
//! `oneOf`, discriminators, and the other keywords that hold schemas
//! (OpenAPI 3.1's JSON Schema: `if`/`then`/`else`, `contains`,
//! `patternProperties`, `dependentSchemas`, `prefixItems`, ...).

use serde_json::Value;

use crate::compare::Comparison;
use crate::rules::Place;
use crate::walk::branches;

impl Comparison<'_> {
    /// The other keywords that hold schemas (OpenAPI 3.1's JSON Schema):
    /// a restriction appearing narrows a request, one disappearing widens a
    /// response; schemas on both sides are compared.
    pub(crate) fn subschemas(&mut self, base: &Value, head: &Value, place: Place, at: &str, depth: usize) {
        let nested = place.nested();
        for (key, stem) in [
            ("contains", "contains"),
            ("if", "if"),
            ("then", "then"),
            ("else", "else"),
            ("propertyNames", "property-names"),
            ("unevaluatedItems", "unevaluated-items"),
            ("unevaluatedProperties", "unevaluated-properties"),
            ("contentSchema", "content-schema"),
            ("not", ""),
        ] {
            // `true` restricts nothing.
            let get = |schema: &'_ Value| {
                schema
                    .get(key)
                    .filter(|value| **value != Value::Bool(true))
                    .cloned()
            };
            match (get(base), get(head)) {
                (None, Some(_)) if !stem.is_empty() => {
                    self.change(place, &format!("{stem}-added"), format!("{at} gained {key}"))
                }
                (Some(_), None) if !stem.is_empty() => {
                    self.change(place, &format!("{stem}-removed"), format!("{at} lost {key}"))
                }
                (Some(before), Some(after)) if before != after => {
                    self.schema(&before, &after, nested, &format!("{at}/{key}"), depth + 1);
                }
                _ => {}
            }
        }
        for (key, stem) in [
            ("contentMediaType", "content-media-type"),
            ("contentEncoding", "content-encoding"),
        ] {
            if base.get(key) != head.get(key) {
                self.change(place, &format!("{stem}-changed"), format!("{at} {key} changed"));
            }
        }
        let empty = serde_json::Map::new();
        for (key, stem) in [
            ("patternProperties", "pattern-property"),
            ("dependentSchemas", "dependent-schema"),
        ] {
            let (before, after) = (
                base.get(key).and_then(Value::as_object).unwrap_or(&empty),
                head.get(key).and_then(Value::as_object).unwrap_or(&empty),
            );
            for (name, schema) in before {
                match after.get(name) {
                    None => self.change(
                        place,
                        &format!("{stem}-removed"),
                        format!("{at} {key} lost {name}"),
                    ),
                    Some(other) => {
                        self.schema(schema, other, nested, &format!("{at}/{key}/{name}"), depth + 1)
                    }
                }
            }
            for name in after.keys().filter(|name| !before.contains_key(*name)) {
                self.change(
                    place,
                    &format!("{stem}-added"),
                    format!("{at} {key} gained {name}"),
                );
            }
        }
        let (before, after) = (
            base.get("dependentRequired")
                .and_then(Value::as_object)
                .unwrap_or(&empty),
            head.get("dependentRequired")
                .and_then(Value::as_object)
                .unwrap_or(&empty),
        );
        for (name, required) in before {
            match after.get(name) {
                None => self.change(
                    place,
                    "dependent-required-removed",
                    format!("{at} dependentRequired lost {name}"),
                ),
                Some(other) if other != required => {
                    self.change(
                        place,
                        "dependent-required-changed",
                        format!("{at} dependentRequired {name} changed"),
                    );
                }
                Some(_) => {}
            }
        }
        for name in after.keys().filter(|name| !before.contains_key(*name)) {
            self.change(
                place,
                "dependent-required-added",
                format!("{at} dependentRequired gained {name}"),
            );
        }
        let items = |schema: &Value| {
            schema
                .get("prefixItems")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let (before, after) = (items(base), items(head));
        for (index, (one, other)) in before.iter().zip(&after).enumerate() {
            self.schema(one, other, nested, &format!("{at}[{index}]"), depth + 1);
        }
        if after.len() < before.len() {
            self.change(
                place,
                "prefix-items-removed",
                format!("{at} prefixItems {} -> {}", before.len(), after.len()),
            );
        } else if after.len() > before.len() {
            self.change(
                place,
                "prefix-items-added",
                format!("{at} prefixItems {} -> {}", before.len(), after.len()),
            );
        }
    }

    pub(crate) fn discriminator(&mut self, base: &Value, head: &Value, place: Place, at: &str) {
        let (before, after) = (base.get("discriminator"), head.get("discriminator"));
        match (before, after) {
            (None, None) => {}
            (None, Some(_)) => self.change(
                place,
                "discriminator-added",
                format!("{at} gained a discriminator"),
            ),
            (Some(_), None) => self.change(
                place,
                "discriminator-removed",
                format!("{at} lost its discriminator"),
            ),
            (Some(before), Some(after)) => {
                let name = |value: &Value| value.get("propertyName").cloned();
                if name(before) != name(after) {
                    self.change(
                        place,
                        "discriminator-property-name-changed",
                        format!(
                            "{at} discriminator property {} -> {}",
                            name(before).unwrap_or(Value::Null),
                            name(after).unwrap_or(Value::Null)
                        ),
                    );
                }
                let empty = serde_json::Map::new();
                let mapping = |value: &Value| {
                    value
                        .get("mapping")
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_else(|| empty.clone())
                };
                let (before, after) = (mapping(before), mapping(after));
                for (tag, target) in &before {
                    match after.get(tag) {
                        None => self.change(
                            place,
                            "discriminator-mapping-deleted",
                            format!("{at} discriminator no longer maps {tag}"),
                        ),
                        Some(other) if other != target => self.change(
                            place,
                            "discriminator-mapping-changed",
                            format!("{at} discriminator maps {tag} to {other}, not {target}"),
                        ),
                        Some(_) => {}
                    }
                }
                for tag in after.keys().filter(|tag| !before.contains_key(*tag)) {
                    self.change(
                        place,
                        "discriminator-mapping-added",
                        format!("{at} discriminator also maps {tag}"),
                    );
                }
            }
        }
    }

    /// `allOf` branches added or removed (their content is compared merged).
    pub(crate) fn all_of(&mut self, base: &Value, head: &Value, place: Place, at: &str) {
        let (base_branches, head_branches) = (branches(base, "allOf"), branches(head, "allOf"));
        // A lone `allOf` wrapper appearing or disappearing around the same
        // content is not a branch change.
        if base_branches.is_empty() || head_branches.is_empty() {
            return;
        }
        for (identity, _) in &head_branches {
            if !base_branches.iter().any(|(other, _)| other == identity) {
                self.change(place, "all-of-added", format!("{at} allOf gained {identity}"));
            }
        }
        for (identity, _) in &base_branches {
            if !head_branches.iter().any(|(other, _)| other == identity) {
                self.change(place, "all-of-removed", format!("{at} allOf lost {identity}"));
            }
        }
    }

    /// A concrete schema (a type or properties) replaced by a `oneOf` of
    /// branches: a value valid before may now match none or several
    /// branches. Reported once; the branches are new shapes, not compared.
    pub(crate) fn wrapped(&mut self, base: &Value, head: &Value, place: Place, at: &str) -> bool {
        let concrete = |schema: &Value| schema.get("type").is_some() || schema.get("properties").is_some();
        let wrapped = base.get("oneOf").is_none()
            && concrete(base)
            && !concrete(head)
            && head
                .get("oneOf")
                .and_then(Value::as_array)
                .is_some_and(|branches| !branches.is_empty());
        if wrapped {
            self.change(
                place,
                "wrapped-in-one-of",
                format!(
                    "{at} became a oneOf of {} branches",
                    head["oneOf"].as_array().map_or(0, Vec::len)
                ),
            );
        }
        wrapped
    }

    /// `oneOf`/`anyOf`: branches matched by identity, then by position;
    /// matched ones compared, the rest added or removed.
    pub(crate) fn alternatives(
        &mut self,
        base: &Value,
        head: &Value,
        key: &str,
        place: Place,
        at: &str,
        depth: usize,
    ) {
        let (base_branches, head_branches) = (branches(base, key), branches(head, key));
        if base_branches.is_empty() && head_branches.is_empty() {
            return;
        }
        let stem = if key == "oneOf" { "one-of" } else { "any-of" };
        let mut unmatched_head: Vec<usize> = (0..head_branches.len()).collect();
        let mut unmatched_base = Vec::new();
        let mut pairs = Vec::new();
        for (index, (identity, branch)) in base_branches.iter().enumerate() {
            let found = unmatched_head.iter().position(|&other| {
                let (other_identity, other_branch) = &head_branches[other];
                (!identity.starts_with('#') && identity == other_identity) || branch == other_branch
            });
            match found {
                Some(position) => pairs.push((index, unmatched_head.remove(position))),
                None => unmatched_base.push(index),
            }
        }
        // Inline branches left on both sides are compared in order.
        while let (Some(&base_index), Some(&head_index)) = (unmatched_base.first(), unmatched_head.first()) {
            if !base_branches[base_index].0.starts_with('#') || !head_branches[head_index].0.starts_with('#')
            {
                break;
            }
            pairs.push((base_index, head_index));
            unmatched_base.remove(0);
            unmatched_head.remove(0);
        }
        for (base_index, head_index) in pairs {
            let label = &base_branches[base_index].0;
            self.schema(
                base_branches[base_index].1,
                head_branches[head_index].1,
                place,
                &format!("{at} ({key} {label})"),
                depth + 1,
            );
        }
        for index in unmatched_base {
            self.change(
                place,
                &format!("{stem}-removed"),
                format!("{at} {key} lost {}", base_branches[index].0),
            );
        }
        for index in unmatched_head {
            self.change(
                place,
                &format!("{stem}-added"),
                format!("{at} {key} gained {}", head_branches[index].0),
            );
        }
    }
}
