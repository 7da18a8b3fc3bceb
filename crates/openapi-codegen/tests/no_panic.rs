//! No input makes the generator panic: documents of the fixtures, mutated
//! at random (a value deleted, replaced by another of any JSON type, a key
//! renamed, an item doubled), are read and generated, and every outcome is
//! a document or an error naming why, never a panic.

use std::panic::AssertUnwindSafe;
use std::path::Path;

use proptest::prelude::*;
use serde_yaml::Value;

fn seed(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../xtask/fixtures")
        .join(name);
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every place of a value, as the keys and indexes leading to it.
fn places(value: &Value, at: &mut Vec<Value>, found: &mut Vec<Vec<Value>>) {
    found.push(at.clone());
    match value {
        Value::Mapping(map) => {
            for (key, child) in map {
                at.push(key.clone());
                places(child, at, found);
                at.pop();
            }
        }
        Value::Sequence(items) => {
            for (index, child) in items.iter().enumerate() {
                at.push(Value::from(index as u64));
                places(child, at, found);
                at.pop();
            }
        }
        _ => {}
    }
}

fn parent_of<'a>(value: &'a mut Value, path: &[Value]) -> Option<&'a mut Value> {
    let mut current = value;
    for key in path {
        current = match current {
            Value::Mapping(map) => map.get_mut(key)?,
            Value::Sequence(items) => items.get_mut(usize::try_from(key.as_u64()?).ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

/// A small value of any JSON type.
fn any_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z#/{}~$ ]{0,12}".prop_map(Value::from),
        Just(serde_yaml::from_str("{type: object, properties: {x: {}}}").unwrap()),
        Just(serde_yaml::from_str("[{$ref: '#/components/schemas/Nothing'}, {}]").unwrap()),
        Just(serde_yaml::from_str("{$ref: '#/components/schemas/Classification/properties'}").unwrap()),
        Just(serde_yaml::from_str("{allOf: [{nullable: true}], not: {enum: [1, a]}}").unwrap()),
    ]
}

/// One mutation: at the place picked by `which`, `how` says what happens.
fn mutate(document: &mut Value, which: usize, how: u8, replacement: Value) {
    let mut found = Vec::new();
    places(document, &mut Vec::new(), &mut found);
    let path = &found[which % found.len()];
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    let Some(container) = parent_of(document, parent) else {
        return;
    };
    match (container, how % 4) {
        (Value::Mapping(map), 0) => {
            map.remove(last);
        }
        (Value::Mapping(map), 2) => {
            if let Some(value) = map.remove(last) {
                map.insert(Value::from(format!("{}x", last.as_str().unwrap_or("k"))), value);
            }
        }
        (Value::Sequence(items), 0) => {
            if let Some(index) = last.as_u64().and_then(|index| usize::try_from(index).ok()) {
                items.remove(index.min(items.len().saturating_sub(1)));
            }
        }
        (Value::Sequence(items), 3) => {
            if let Some(first) = items.first().cloned() {
                items.push(first);
            }
        }
        (container, _) => {
            if let Some(place) = parent_of(container, std::slice::from_ref(last)) {
                *place = replacement;
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_mutated_document_is_generated_or_refused_never_a_panic(
        fixture in prop_oneof![Just("robustness.yaml"), Just("audience_admin.yaml")],
        mutations in proptest::collection::vec((any::<usize>(), any::<u8>(), any_value()), 1..5),
    ) {
        let mut document = seed(fixture);
        for (which, how, replacement) in mutations {
            mutate(&mut document, which, how, replacement);
        }
        let text = serde_yaml::to_string(&document).unwrap();
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let parsed = openapi_codegen::parse(&text, openapi_codegen::Syntax::Yaml)?;
            openapi_codegen::generate(
                &parsed,
                &openapi_codegen::Settings {
                    types_path: quote::quote! { crate::types },
                    runtime_path: quote::quote! { ::openapi_server_runtime },
                },
            )
            .map(drop)
        }));
        prop_assert!(outcome.is_ok(), "the generator panicked on:\n{text}");
    }
}
