//! No document makes the comparison panic or run away: malformed parts are
//! skipped, recursive schemas end, and a schema graph too large to walk in
//! full is cut at a budget that the report names.

use openapi_diff::{compare, parse};
use serde_json::{Value, json};

fn document(paths: Value, components: Value) -> Value {
    json!({"openapi": "3.0.3", "info": {"title": "t", "version": "1.0.0"}, "paths": paths, "components": components})
}

#[test]
fn malformed_documents_are_compared_without_panic() {
    let odd = [
        json!(null),
        json!([1, 2]),
        json!({"paths": []}),
        document(json!({"/a": "x"}), json!({})),
        document(json!({"/a": {"get": 5}}), json!({})),
        document(
            json!({"/a": {"get": {"parameters": "x", "responses": []}}}),
            json!({}),
        ),
        document(
            json!({"/a": {"get": {"parameters": [{"in": "query"}, 3, {"$ref": "#/nowhere"}]}}}),
            json!({}),
        ),
        document(
            json!({"/a": {"post": {"requestBody": {"content": {"application/json": {"schema": "string"}}}, "responses": {"200": 7}}}}),
            json!({}),
        ),
        document(
            json!({"/a": {"get": {"responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}}}}}}),
            json!({"schemas": {"A": {"$ref": "#/components/schemas/B"}, "B": {"$ref": "#/components/schemas/A"}}}),
        ),
        document(
            json!({"/a": {"get": {"responses": {"200": {"content": {"application/json": {"schema": {
                "allOf": 5, "oneOf": [1, "x", null], "properties": [], "required": "x", "enum": 3,
                "items": true, "additionalProperties": 4, "discriminator": "kind", "x-sunset": 12
            }}}}}, "security": "none", "x-permissions": 5, "deprecated": "yes", "x-stability-level": 3}}}),
            json!({}),
        ),
    ];
    let base = parse(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../xtask/fixtures/breaking/base.yaml"
        ))
        .unwrap(),
        "base.yaml",
    )
    .unwrap();
    for (index, one) in odd.iter().enumerate() {
        for other in odd.iter().chain([&base]) {
            let _ = compare(one, other);
            let report = compare(other, one);
            assert!(
                report
                    .findings
                    .iter()
                    .all(|finding| openapi_diff::rule(&finding.rule).is_some()),
                "odd document {index}: {report}"
            );
        }
    }
}

fn recursive(leaf_type: &str) -> Value {
    document(
        json!({"/tree": {"get": {"responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}}}}}}),
        json!({"schemas": {"Node": {"type": "object", "required": ["value"], "properties": {
            "value": {"type": leaf_type},
            "left": {"$ref": "#/components/schemas/Node"},
            "right": {"$ref": "#/components/schemas/Node"},
            "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}
        }}}}),
    )
}

#[test]
fn a_recursive_schema_is_walked_once_per_cycle() {
    let report = compare(&recursive("string"), &recursive("integer"));
    let changed: Vec<&str> = report
        .findings
        .iter()
        .filter(|finding| finding.rule == "response-property-type-changed")
        .map(|finding| finding.message.as_str())
        .collect();
    assert_eq!(
        changed,
        ["response 200 body.value changed type from string to integer"],
        "{report}"
    );
}

#[test]
fn a_schema_graph_too_large_to_walk_is_cut_and_named() {
    // 18 levels, each with two properties that point at the next level: 2^18
    // paths from the root, no cycle.
    let levels = 18;
    let mut schemas = serde_json::Map::new();
    for level in 0..levels {
        let next = json!({"$ref": format!("#/components/schemas/L{}", level + 1)});
        schemas.insert(
            format!("L{level}"),
            json!({"type": "object", "properties": {"a": next.clone(), "b": next}}),
        );
    }
    let leaf = |kind: &str| json!({"type": "object", "properties": {"v": {"type": kind}}});
    let paths = json!({"/dag": {"get": {"responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/L0"}}}}}}}});
    let mut base_schemas = schemas.clone();
    base_schemas.insert(format!("L{levels}"), leaf("string"));
    schemas.insert(format!("L{levels}"), leaf("integer"));
    let report = compare(
        &document(paths.clone(), json!({"schemas": base_schemas})),
        &document(paths, json!({"schemas": schemas})),
    );
    assert!(
        report
            .findings
            .iter()
            .any(|finding| finding.rule == "schema-comparison-truncated"),
        "{} findings, none says the walk was cut",
        report.findings.len()
    );
    assert!(
        report.is_breaking(),
        "the type change is still found on the first paths"
    );
}
