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
//!   typify answers with `todo!`: any JSON includes `null` already; and a
//!   `format` on an object or array (Twilio's `format: ice-server`), which
//!   only strings and numbers have; `null` among an enum's values, which is
//!   what `nullable` says (typify names the enum and its wrapper alike);
//!   `minLength`, `minItems` or `minProperties` of zero, which bound
//!   nothing and which typify checks with a comparison the compiler warns
//!   is useless.

use std::collections::BTreeMap;

use openapiv3::{AdditionalProperties, AnySchema, OpenAPI, ReferenceOr, Schema, SchemaKind, Type};

use crate::naming::type_ident;

/// The inline schemas directly below a schema, mutable.
#[derive(Default)]
struct Below<'a> {
    /// Its properties, items and additional properties: each with the
    /// suffix typify names its type with (`{parent}_{suffix}`).
    named: Vec<(&'a mut Schema, String)>,
    /// The branches of `allOf`, which typify merges into the schema's type.
    merged: Vec<&'a mut Schema>,
    /// The branches of `oneOf` and `anyOf`, and `not`.
    other: Vec<&'a mut Schema>,
}

fn below(schema: &mut Schema) -> Below<'_> {
    fn item<T>(schema: &mut ReferenceOr<T>) -> Option<&mut T> {
        match schema {
            ReferenceOr::Item(item) => Some(item),
            ReferenceOr::Reference { .. } => None,
        }
    }
    let mut found = Below::default();
    let (properties, items, values, all_of, others): (_, _, _, Vec<_>, Vec<_>) = match &mut schema.schema_kind
    {
        SchemaKind::Type(Type::Object(object)) => (
            Some(&mut object.properties),
            None,
            object.additional_properties.as_mut(),
            Vec::new(),
            Vec::new(),
        ),
        SchemaKind::Type(Type::Array(array)) => (None, array.items.as_mut(), None, Vec::new(), Vec::new()),
        SchemaKind::AllOf { all_of } => (None, None, None, all_of.iter_mut().collect(), Vec::new()),
        SchemaKind::OneOf { one_of: branches } | SchemaKind::AnyOf { any_of: branches } => {
            (None, None, None, Vec::new(), branches.iter_mut().collect())
        }
        SchemaKind::Not { not } => (None, None, None, Vec::new(), vec![not.as_mut()]),
        // A schema of several kinds at once (`type: object` beside `allOf`).
        SchemaKind::Any(any) => (
            Some(&mut any.properties),
            any.items.as_mut(),
            any.additional_properties.as_mut(),
            any.all_of.iter_mut().collect(),
            any.one_of.iter_mut().chain(&mut any.any_of).collect(),
        ),
        _ => (None, None, None, Vec::new(), Vec::new()),
    };
    for (name, property) in properties.into_iter().flatten() {
        if let Some(property) = item(property) {
            found
                .named
                .push((property, heck::ToSnakeCase::to_snake_case(name.as_str())));
        }
    }
    if let Some(items) = items.and_then(item) {
        found.named.push((items, "item".to_owned()));
    }
    if let Some(AdditionalProperties::Schema(values)) = values
        && let Some(values) = item(values.as_mut())
    {
        found.named.push((values, "value".to_owned()));
    }
    found.merged = all_of.into_iter().filter_map(item).collect();
    found.other = others.into_iter().filter_map(item).collect();
    found
}

/// Every schema of a schema, itself first, mutable.
fn visit(schema: &mut Schema, each: &mut impl FnMut(&mut Schema)) {
    each(schema);
    let Below { named, merged, other } = below(schema);
    for child in named
        .into_iter()
        .map(|(child, _)| child)
        .chain(merged)
        .chain(other)
    {
        visit(child, each);
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
                visit(schema, &mut |schema| match &mut schema.schema_kind {
                    SchemaKind::Any(any) if *any == AnySchema::default() => {
                        schema.schema_data.nullable = false
                    }
                    // `null` among an enum's values says what `nullable` does.
                    SchemaKind::Type(Type::String(string)) if string.enumeration.contains(&None) => {
                        string.enumeration.retain(Option::is_some);
                        schema.schema_data.nullable = true;
                    }
                    SchemaKind::Type(Type::Integer(integer)) if integer.enumeration.contains(&None) => {
                        integer.enumeration.retain(Option::is_some);
                        schema.schema_data.nullable = true;
                    }
                    SchemaKind::Type(Type::Number(number)) if number.enumeration.contains(&None) => {
                        number.enumeration.retain(Option::is_some);
                        schema.schema_data.nullable = true;
                    }
                    // A lower bound of zero on a length or a count bounds
                    // nothing, and typify checks it (`count() < 0usize`, a
                    // warning in the generated code: Plaid's `minLength: 0`).
                    SchemaKind::Type(Type::String(string)) if string.min_length == Some(0) => {
                        string.min_length = None;
                    }
                    SchemaKind::Type(Type::Array(array)) if array.min_items == Some(0) => {
                        array.min_items = None;
                    }
                    SchemaKind::Type(Type::Object(object)) if object.min_properties == Some(0) => {
                        object.min_properties = None;
                    }
                    // A `format` names string (and number) formats: on an
                    // object or array it means nothing, and typify refuses it.
                    SchemaKind::Any(any)
                        if matches!(any.typ.as_deref(), Some("object" | "array" | "boolean")) =>
                    {
                        any.format = None;
                    }
                    _ => {}
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
        let Below { named, merged, .. } = below(schema);
        for (value, suffix) in named {
            child(value, &suffix, taken, hoisted);
        }
        // typify merges the branches of `allOf` into one type of this name.
        for branch in merged {
            walk(branch, name, taken, hoisted);
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
