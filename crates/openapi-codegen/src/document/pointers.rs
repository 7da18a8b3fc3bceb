//! References into the inside of a component, or anywhere else in the
//! document (`#/components/responses/Conflict/content/application~1json/schema`,
//! `#/components/schemas/Tag/allOf/0`): the generators name every type after
//! a component, so such a reference is replaced by a copy of what it points
//! at, itself resolved the same way. A reference to a whole component
//! (`#/components/<kind>/<name>`) stays; one that points at nothing, or
//! around a circle, stays too (and is refused, where it is used, naming it).

use serde_yaml::Value;

/// How deep references to references are followed.
const DEPTH: usize = 32;

/// Whether `reference` names a whole component: `#/components/<kind>/<name>`.
fn names_a_component(reference: &str) -> bool {
    reference
        .strip_prefix("#/components/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(_, name)| !name.is_empty() && !name.contains('/'))
}

/// The value at a JSON pointer (`#/a/b~1c`) of `root`.
fn at<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let mut current = root;
    for segment in reference.strip_prefix("#/")?.split('/') {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        current = match current {
            Value::Mapping(map) => map.get(segment.as_str())?,
            Value::Sequence(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

/// The reference of a `{$ref: …}` mapping.
fn reference_of(value: &Value) -> Option<&str> {
    match value {
        Value::Mapping(map) => map.get("$ref")?.as_str(),
        _ => None,
    }
}

/// `value` with every reference that does not name a whole component
/// replaced by a copy of its target, resolved in turn.
fn resolved(root: &Value, value: &Value, depth: usize) -> Value {
    if let Some(reference) = reference_of(value)
        && reference.starts_with("#/")
        && !names_a_component(reference)
        && depth < DEPTH
        && let Some(target) = at(root, reference)
    {
        return resolved(root, target, depth + 1);
    }
    match value {
        Value::Mapping(map) => Value::Mapping(
            map.iter()
                .map(|(key, item)| (key.clone(), resolved(root, item, depth)))
                .collect(),
        ),
        Value::Sequence(items) => {
            Value::Sequence(items.iter().map(|item| resolved(root, item, depth)).collect())
        }
        other => other.clone(),
    }
}

/// Whether any reference of `value` does not name a whole component.
fn has_pointer_refs(value: &Value) -> bool {
    if reference_of(value)
        .is_some_and(|reference| reference.starts_with("#/") && !names_a_component(reference))
    {
        return true;
    }
    match value {
        Value::Mapping(map) => map.values().any(has_pointer_refs),
        Value::Sequence(items) => items.iter().any(has_pointer_refs),
        _ => false,
    }
}

/// Replaces, in `document`, every reference into the inside of a component
/// by a copy of what it points at.
pub(crate) fn inline_pointer_refs(document: &mut Value) {
    if has_pointer_refs(document) {
        *document = resolved(document, document, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::inline_pointer_refs;

    #[test]
    fn a_reference_into_a_component_is_replaced_by_its_target() {
        let mut document: serde_yaml::Value = serde_yaml::from_str(
            "components:
  responses:
    Conflict:
      content:
        application/json:
          schema: {type: object, properties: {message: {$ref: '#/components/schemas/Text'}}}
  schemas:
    Text: {type: string}
    Loop: {$ref: '#/components/schemas/Loop/items'}
    Echo:
      properties:
        conflict: {$ref: '#/components/responses/Conflict/content/application~1json/schema'}
        missing: {$ref: '#/components/schemas/Nothing/properties/x'}
",
        )
        .unwrap();
        inline_pointer_refs(&mut document);
        let echo = &document["components"]["schemas"]["Echo"]["properties"];
        assert_eq!(echo["conflict"]["type"].as_str(), Some("object"));
        assert_eq!(
            echo["conflict"]["properties"]["message"]["$ref"].as_str(),
            Some("#/components/schemas/Text"),
            "a whole component stays a reference"
        );
        assert_eq!(
            echo["missing"]["$ref"].as_str(),
            Some("#/components/schemas/Nothing/properties/x"),
            "a reference to nothing stays, to be refused where it is used"
        );
        assert!(document["components"]["schemas"]["Loop"].is_mapping());
    }
}
