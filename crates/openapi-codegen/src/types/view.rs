//! The copy of the components typify reads, rid of what it mishandles
//! where the meaning is clear:
//!
//! - titles that would name two types alike. typify names the type of an
//!   inline schema (and the inner type of a nullable component) after its
//!   `title`; a title that is also a component's name, or that two schemas
//!   share, makes two Rust types of one name (GitHub's `nullable-simple-user`
//!   is titled "Simple User", beside the component `simple-user`). Such a
//!   title is left out (it names nothing else; the description stays), so
//!   typify names the type after where it stands;
//! - inline schemas whose derived name (`{Parent}{Property}`) is a
//!   component's, which move to a component of their own (`…Inline`);
//! - `nullable` on a schema of any JSON (`{nullable: true}`, no type), which
//!   typify answers with `todo!`: any JSON includes `null` already.

use std::collections::BTreeMap;

use openapiv3::{AdditionalProperties, AnySchema, OpenAPI, ReferenceOr, Schema, SchemaKind, Type};

use crate::naming::type_ident;

/// Every schema of a schema, itself first, mutable.
fn visit(schema: &mut Schema, each: &mut impl FnMut(&mut Schema)) {
    each(schema);
    match &mut schema.schema_kind {
        SchemaKind::Type(Type::Object(object)) => {
            for property in object.properties.values_mut() {
                if let ReferenceOr::Item(property) = property {
                    visit(property, each);
                }
            }
            if let Some(AdditionalProperties::Schema(values)) = &mut object.additional_properties
                && let ReferenceOr::Item(values) = values.as_mut()
            {
                visit(values, each);
            }
        }
        SchemaKind::Type(Type::Array(array)) => {
            if let Some(ReferenceOr::Item(items)) = &mut array.items {
                visit(items, each);
            }
        }
        SchemaKind::AllOf { all_of: branches }
        | SchemaKind::OneOf { one_of: branches }
        | SchemaKind::AnyOf { any_of: branches } => {
            for branch in branches {
                if let ReferenceOr::Item(branch) = branch {
                    visit(branch, each);
                }
            }
        }
        SchemaKind::Not { not } => {
            if let ReferenceOr::Item(not) = not.as_mut() {
                visit(not, each);
            }
        }
        SchemaKind::Any(any) => {
            for property in any.properties.values_mut() {
                if let ReferenceOr::Item(property) = property {
                    visit(property, each);
                }
            }
            if let Some(ReferenceOr::Item(items)) = &mut any.items {
                visit(items, each);
            }
            for branch in any
                .all_of
                .iter_mut()
                .chain(&mut any.one_of)
                .chain(&mut any.any_of)
            {
                if let ReferenceOr::Item(branch) = branch {
                    visit(branch, each);
                }
            }
        }
        _ => {}
    }
}

/// `document` as typify reads it (see the module docs).
pub(crate) fn prepare(document: &mut OpenAPI) {
    without_colliding_titles(document);
    inline_names_apart(document);
    nullable_compositions_apart(document);
    if let Some(components) = document.components.as_mut() {
        for schema in components.schemas.values_mut() {
            if let ReferenceOr::Item(schema) = schema {
                visit(schema, &mut |schema| {
                    if matches!(&schema.schema_kind, SchemaKind::Any(any) if *any == AnySchema::default()) {
                        schema.schema_data.nullable = false;
                    }
                });
            }
        }
    }
}

/// The name typify gives the type of an inline schema under `parent`: its
/// title, else `{parent}_{suffix}` made a type name.
fn derived_name(schema: &Schema, parent: &str, suffix: &str) -> String {
    match &schema.schema_data.title {
        Some(title) => super::enums::sanitized(title),
        None => super::enums::sanitized(&format!("{parent}_{suffix}")),
    }
}

/// Titles inline schemas whose derived name is a component's (Box's
/// `Classification` has a property `$template`, typify's
/// `ClassificationTemplate`, beside the component of that name) with a name
/// of their own, `{name}Inline`, and so on down.
fn inline_names_apart(document: &mut OpenAPI) {
    type Taken = std::collections::BTreeSet<String>;
    /// Walks the inline schemas below `schema` (named `name`); one whose
    /// derived name is taken moves to `hoisted` under a name of its own and
    /// is referred to where it stood (a reference survives typify's merge
    /// of `allOf` branches, which a title does not).
    fn walk(schema: &mut Schema, name: &str, taken: &mut Taken, hoisted: &mut Vec<(String, Schema)>) {
        let child = |child: &mut Schema,
                     suffix: &str,
                     taken: &mut Taken,
                     hoisted: &mut Vec<(String, Schema)>| {
            // A reference in `allOf` (nullable or not) names no type of its own.
            if matches!(&child.schema_kind, SchemaKind::AllOf { all_of } if matches!(all_of.as_slice(), [ReferenceOr::Reference { .. }]))
            {
                return;
            }
            let derived = derived_name(child, name, suffix);
            if !taken.contains(&derived) {
                taken.insert(derived.clone());
                walk(child, &derived, taken, hoisted);
                return;
            }
            let base = format!("{derived}Inline");
            let mut own = base.clone();
            let mut counter = 1;
            while taken.contains(&own) {
                counter += 1;
                own = format!("{base}{counter}");
            }
            taken.insert(own.clone());
            let nullable = child.schema_data.nullable;
            let mut moved = std::mem::replace(
                child,
                Schema {
                    schema_data: openapiv3::SchemaData {
                        nullable,
                        ..Default::default()
                    },
                    schema_kind: SchemaKind::AllOf {
                        all_of: vec![ReferenceOr::Reference {
                            reference: format!("#/components/schemas/{own}"),
                        }],
                    },
                },
            );
            moved.schema_data.nullable = false;
            walk(&mut moved, &own, taken, hoisted);
            hoisted.push((own, moved));
        };
        match &mut schema.schema_kind {
            SchemaKind::Type(Type::Object(object)) => {
                for (property, value) in object.properties.iter_mut() {
                    if let ReferenceOr::Item(value) = value {
                        child(
                            value,
                            &heck::ToSnakeCase::to_snake_case(property.as_str()),
                            taken,
                            hoisted,
                        );
                    }
                }
                if let Some(AdditionalProperties::Schema(values)) = &mut object.additional_properties
                    && let ReferenceOr::Item(values) = values.as_mut()
                {
                    child(values, "value", taken, hoisted);
                }
            }
            SchemaKind::Type(Type::Array(array)) => {
                if let Some(ReferenceOr::Item(items)) = &mut array.items {
                    child(items, "item", taken, hoisted);
                }
            }
            // typify merges the branches of `allOf` into one type of this name.
            SchemaKind::AllOf { all_of } => {
                for branch in all_of {
                    if let ReferenceOr::Item(branch) = branch {
                        walk(branch, name, taken, hoisted);
                    }
                }
            }
            // A schema of several kinds at once (`type: object` beside `allOf`).
            SchemaKind::Any(any) => {
                for (property, value) in any.properties.iter_mut() {
                    if let ReferenceOr::Item(value) = value {
                        child(
                            value,
                            &heck::ToSnakeCase::to_snake_case(property.as_str()),
                            taken,
                            hoisted,
                        );
                    }
                }
                if let Some(ReferenceOr::Item(items)) = &mut any.items {
                    child(items, "item", taken, hoisted);
                }
                for branch in &mut any.all_of {
                    if let ReferenceOr::Item(branch) = branch {
                        walk(branch, name, taken, hoisted);
                    }
                }
            }
            _ => {}
        }
    }
    let Some(components) = document.components.as_mut() else {
        return;
    };
    let mut taken: Taken = components
        .schemas
        .keys()
        .map(|name| type_ident(name).to_string())
        .collect();
    let mut hoisted = Vec::new();
    for (name, schema) in components.schemas.iter_mut() {
        if let ReferenceOr::Item(schema) = schema {
            walk(schema, &type_ident(name).to_string(), &mut taken, &mut hoisted);
        }
    }
    for (name, schema) in hoisted {
        components.schemas.insert(name, ReferenceOr::Item(schema));
    }
}

/// A nullable component that composes schemas (`allOf` of several, `oneOf`,
/// `anyOf`) as a nullable reference to the composition, moved to a
/// component of its own (`{Name}Inner`): typify names the composition and
/// its nullable wrapper alike otherwise (Plaid's `…Nullable` components).
fn nullable_compositions_apart(document: &mut OpenAPI) {
    let Some(components) = document.components.as_mut() else {
        return;
    };
    let mut moved = Vec::new();
    for (name, schema) in components.schemas.iter_mut() {
        let ReferenceOr::Item(schema) = schema else {
            continue;
        };
        let composes = match &schema.schema_kind {
            SchemaKind::AllOf { all_of } => !matches!(all_of.as_slice(), [ReferenceOr::Reference { .. }]),
            SchemaKind::OneOf { .. } | SchemaKind::AnyOf { .. } => true,
            _ => false,
        };
        if !(schema.schema_data.nullable && composes) {
            continue;
        }
        let mut inner = std::mem::replace(
            schema,
            Schema {
                schema_data: openapiv3::SchemaData {
                    nullable: true,
                    description: schema.schema_data.description.clone(),
                    ..Default::default()
                },
                schema_kind: SchemaKind::Any(AnySchema::default()),
            },
        );
        inner.schema_data.nullable = false;
        moved.push((name.clone(), inner));
    }
    for (name, inner) in moved {
        let mut inner_name = format!("{}Inner", type_ident(&name));
        while components.schemas.contains_key(&inner_name) {
            inner_name.push('_');
        }
        if let Some(ReferenceOr::Item(schema)) = components.schemas.get_mut(&name) {
            schema.schema_kind = SchemaKind::AllOf {
                all_of: vec![ReferenceOr::Reference {
                    reference: format!("#/components/schemas/{inner_name}"),
                }],
            };
        }
        components.schemas.insert(inner_name, ReferenceOr::Item(inner));
    }
}

/// Leaves out of `document`'s components every title whose Rust name is a
/// component's or another title's.
fn without_colliding_titles(document: &mut OpenAPI) {
    let Some(components) = document.components.as_mut() else {
        return;
    };
    let mut names: BTreeMap<String, usize> = components
        .schemas
        .keys()
        .map(|name| (type_ident(name).to_string(), 1))
        .collect();
    for schema in components.schemas.values_mut() {
        if let ReferenceOr::Item(schema) = schema {
            visit(schema, &mut |schema| {
                if let Some(title) = &schema.schema_data.title {
                    *names.entry(type_ident(title).to_string()).or_default() += 1;
                }
            });
        }
    }
    for schema in components.schemas.values_mut() {
        if let ReferenceOr::Item(schema) = schema {
            visit(schema, &mut |schema| {
                let taken =
                    schema.schema_data.title.as_ref().is_some_and(|title| {
                        names.get(&type_ident(title).to_string()).copied().unwrap_or(0) > 1
                    });
                if taken {
                    schema.schema_data.title = None;
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{prepare, without_colliding_titles};

    #[test]
    fn a_title_that_names_a_component_or_another_title_is_left_out() {
        let mut document: openapiv3::OpenAPI = serde_json::from_value(serde_json::json!({
            "openapi": "3.0.3",
            "info": {"title": "t", "version": "1"},
            "paths": {},
            "components": {"schemas": {
                "simple-user": {"type": "object", "title": "Simple User"},
                "nullable-simple-user": {"type": "object", "nullable": true, "title": "Simple User"},
                "repo": {"type": "object", "title": "Repository", "properties": {
                    "owner": {"type": "object", "title": "Owner"},
                    "license": {"type": "object", "title": "License"},
                }},
                "fork": {"type": "object", "properties": {"license": {"type": "object", "title": "License"}}},
            }},
        }))
        .unwrap();
        without_colliding_titles(&mut document);
        let schemas = serde_json::to_value(&document.components.unwrap().schemas).unwrap();
        assert_eq!(schemas["simple-user"].get("title"), None);
        assert_eq!(schemas["nullable-simple-user"].get("title"), None);
        assert_eq!(schemas["repo"]["title"], "Repository", "unique: kept");
        assert_eq!(schemas["repo"]["properties"]["owner"]["title"], "Owner");
        assert_eq!(
            schemas["repo"]["properties"]["license"].get("title"),
            None,
            "two schemas share it"
        );
    }
    #[test]
    fn nullable_any_json_is_any_json() {
        let mut document: openapiv3::OpenAPI = serde_json::from_value(serde_json::json!({
            "openapi": "3.0.3",
            "info": {"title": "t", "version": "1"},
            "paths": {},
            "components": {"schemas": {"event": {"type": "object", "properties": {
                "request": {"nullable": true, "description": "any JSON"},
                "name": {"nullable": true, "type": "string"},
            }}}},
        }))
        .unwrap();
        prepare(&mut document);
        let schemas = serde_json::to_value(&document.components.unwrap().schemas).unwrap();
        assert_eq!(schemas["event"]["properties"]["request"].get("nullable"), None);
        assert_eq!(
            schemas["event"]["properties"]["name"]["nullable"], true,
            "a typed schema keeps it"
        );
    }
}
