//! Titles that would name two types alike. typify names the type of an
//! inline schema (and the inner type of a nullable component) after its
//! `title`; a title that is also a component's name, or that two schemas
//! share, makes two Rust types of one name (GitHub's `nullable-simple-user`
//! is titled "Simple User", beside the component `simple-user`). Such a
//! title is left out of the copy typify reads (it names nothing else; the
//! description stays), so typify names the type after where it stands.

use std::collections::BTreeMap;

use openapiv3::{AdditionalProperties, OpenAPI, ReferenceOr, Schema, SchemaKind, Type};

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
        _ => {}
    }
}

/// Leaves out of `document`'s components every title whose Rust name is a
/// component's or another title's.
pub(crate) fn without_colliding_titles(document: &mut OpenAPI) {
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
                let taken = schema
                    .schema_data
                    .title
                    .as_ref()
                    .is_some_and(|title| names.get(&type_ident(title).to_string()).copied().unwrap_or(0) > 1);
                if taken {
                    schema.schema_data.title = None;
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::without_colliding_titles;

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
        assert_eq!(schemas["repo"]["properties"]["license"].get("title"), None, "two schemas share it");
    }
}
