//! The generator library on documents written for the purpose: the views
//! it builds of a document are what progenitor and the server need; what it
//! cannot serve is left out per operation, naming the construct and where;
//! what it refuses is an error naming why.

use std::path::Path;

use openapi_codegen::document::{client_view, normalize, operations};
use openapi_codegen::{Error, ErrorKind, Generated, Settings, Skip, Syntax, generate, parse};
use openapiv3::{ReferenceOr, StatusCode};

fn fixture(name: &str) -> openapiv3::OpenAPI {
    openapi_codegen::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../xtask/fixtures")
            .join(name),
    )
    .expect("the fixture loads")
}

#[test]
fn the_client_view_gives_each_operations_errors_one_schema() {
    let normalized = normalize(&fixture("audience_admin.yaml")).unwrap().document;
    let (view, skipped) = client_view(&normalized);
    assert!(skipped.is_empty());
    for (_, _, operation) in operations(&view) {
        let mut schemas = std::collections::BTreeSet::new();
        for (status, response) in &operation.responses.responses {
            let ReferenceOr::Item(response) = response else {
                panic!("responses are inline")
            };
            let Some(media) = response.content.get("application/json") else {
                continue;
            };
            let schema = serde_json::to_string(&media.schema).unwrap();
            if !matches!(status, StatusCode::Code(200..=299)) {
                schemas.insert(schema);
            }
        }
        assert!(schemas.len() <= 1, "one error schema: {schemas:?}");
    }
    // The server keeps the distinct 400 schema.
    let distinct = operations(&normalized).iter().any(|(_, _, operation)| {
        matches!(
            operation.responses.responses.get(&StatusCode::Code(400)),
            Some(ReferenceOr::Item(response)) if serde_json::to_value(&response.content["application/json"].schema)
                .unwrap()["$ref"] == "#/components/schemas/ValidationErrorResponse"
        )
    });
    assert!(
        distinct,
        "a 400 of its own schema stays in the normalized document"
    );
}

#[test]
fn inline_schemas_are_hoisted_into_named_components() {
    let normalized = normalize(&fixture("audience_admin.yaml")).unwrap().document;
    let schemas = &normalized.components.as_ref().unwrap().schemas;
    for name in [
        "UpdateAudienceBody",
        "MoveAudiencesBody",
        "MoveAudiencesMode",
        "ListAudiencesStatusItem",
        "MoveAudiences202Response",
    ] {
        assert!(
            schemas.contains_key(name),
            "{name} is a component: {:?}",
            schemas.keys().collect::<Vec<_>>()
        );
    }
}

fn generate_text(text: &str) -> Result<Generated, Error> {
    let document = parse(text, Syntax::Yaml)?;
    generate(
        &document,
        &Settings {
            types_path: quote::quote! { crate::types },
            runtime_path: quote::quote! { ::openapi_server_runtime },
        },
    )
}

const HEAD: &str = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\n";

#[test]
fn a_document_of_another_version_is_refused_naming_it() {
    let Err(error) = generate_text("openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n") else {
        panic!("a 3.1 document is refused");
    };
    assert_eq!(error.kind, ErrorKind::Version);
    assert!(error.to_string().contains("3.1.0"), "{error}");
}

#[test]
fn an_operation_whose_references_lead_nowhere_is_left_out_alone() {
    let served = "  /ok:\n    get:\n      operationId: fine\n      responses: {'200': {description: ok}}\n";
    let cases: &[(&str, &str)] = &[
        (
            "paths:\n  /a:\n    get:\n      operationId: a\n      responses: {'200': {description: ok}}\n  /b:\n    get:\n      operationId: a\n      responses: {'200': {description: ok}}\n",
            "used by",
        ),
        (
            "paths:\n  /a:\n    get:\n      operationId: a\n      parameters: [{$ref: '#/components/parameters/Missing'}]\n      responses: {'200': {description: ok}}\n",
            "does not exist",
        ),
    ];
    for (text, reason) in cases {
        let text = format!(
            "{HEAD}{}",
            text.replacen("paths:\n", &format!("paths:\n{served}"), 1)
        );
        let generated = generate_text(&text).unwrap_or_else(|error| panic!("{text}\n{error}"));
        let skips: Vec<String> = generated.report.skipped.iter().map(ToString::to_string).collect();
        assert!(
            generated
                .report
                .skipped
                .iter()
                .any(|skip| skip.construct.contains(reason) && skip.generator == "document"),
            "a skip names `{reason}`: {skips:?}"
        );
        assert!(
            generated.server.to_string().contains("handle_fine"),
            "the rest generates"
        );
    }
}

#[test]
fn what_once_was_skipped_is_served() {
    // A parameter inside a path segment (a positional route), and a
    // requirement of several schemes together.
    let text = format!(
        "{HEAD}paths:\n  /files/{{name}}.json:\n    get:\n      operationId: inSegment\n      parameters: [{{name: name, in: path, required: true, schema: {{type: string}}}}]\n      responses: {{'200': {{description: ok}}}}\n  /both:\n    get:\n      operationId: both\n      security: [{{a: [], b: []}}]\n      responses: {{'200': {{description: ok}}}}\ncomponents:\n  securitySchemes:\n    a: {{type: http, scheme: bearer}}\n    b: {{type: apiKey, in: header, name: X-Key}}\n"
    );
    let generated = generate_text(&text).unwrap_or_else(|error| panic!("{text}\n{error}"));
    let skips: Vec<&Skip> = generated
        .report
        .skipped
        .iter()
        .filter(|skip| skip.generator == "server")
        .collect();
    assert!(skips.is_empty(), "{skips:?}");
    let server = generated.server.to_string();
    assert!(
        server.contains("handle_in_segment") && server.contains("handle_both"),
        "both served"
    );
}

#[test]
fn errors_in_several_json_media_types_give_the_client_one_error_type() {
    // GitHub's `bad_request`: `application/json` and `application/scim+json`
    // of different schemas, beside a 422 of a third: progenitor would
    // assert on three error types and lose the operation.
    let text = format!(
        "{HEAD}paths:\n  /deliveries:\n    get:\n      operationId: listDeliveries\n      responses:\n        '200': {{description: ok, content: {{application/json: {{schema: {{type: array, items: {{type: string}}}}}}}}}}\n        '400':\n          description: bad\n          content:\n            application/scim+json: {{schema: {{$ref: '#/components/schemas/Scim'}}}}\n            application/json: {{schema: {{$ref: '#/components/schemas/Basic'}}}}\n        '422': {{description: invalid, content: {{application/json: {{schema: {{$ref: '#/components/schemas/Invalid'}}}}}}}}\ncomponents:\n  schemas:\n    Basic: {{type: object, properties: {{message: {{type: string}}}}}}\n    Scim: {{type: object, properties: {{detail: {{type: string}}}}}}\n    Invalid: {{type: object, properties: {{errors: {{type: array, items: {{type: string}}}}}}}}\n"
    );
    let generated = generate_text(&text).unwrap_or_else(|error| panic!("{text}\n{error}"));
    let skips: Vec<String> = generated.report.skipped.iter().map(ToString::to_string).collect();
    assert!(skips.is_empty(), "{skips:?}");
    assert!(
        generated.client.to_string().contains("list_deliveries"),
        "the client has the operation"
    );
    let normalized = normalize(&parse(&text, Syntax::Yaml).unwrap()).unwrap().document;
    let (view, _) = client_view(&normalized);
    let operation = &operations(&view)[0].2;
    let Some(ReferenceOr::Item(bad)) = operation.responses.responses.get(&StatusCode::Code(400)) else {
        panic!("the 400 stays")
    };
    assert_eq!(
        bad.content.keys().collect::<Vec<_>>(),
        ["application/json"],
        "one media type, `application/json` first"
    );
}

#[test]
fn an_unsupported_operation_is_skipped_alone_naming_the_construct_and_where() {
    let served = "  /ok:\n    get:\n      operationId: fine\n      responses: {'200': {description: ok}}\n";
    // (the operation, what the skip names, where)
    let cases: &[(&str, &str, &str)] = &[
        (
            "  /ws:\n    get:\n      operationId: socket\n      x-dropshot-websocket: {}\n      responses: {default: {description: up, content: {'*/*': {schema: {}}}}}\n",
            "websocket",
            "#/paths/~1ws/get",
        ),
        (
            "  /up:\n    get:\n      operationId: upgrade\n      responses: {'101': {description: up}}\n",
            "protocol upgrade",
            "#/paths/~1up/get/responses/101",
        ),
        (
            "  /deep:\n    get:\n      operationId: deep\n      parameters:\n        - {name: filter, in: query, style: deepObject, schema: {type: object, properties: {a: {type: string}}}}\n      responses: {'200': {description: ok}}\n",
            "deepObject",
            "#/paths/~1deep/get/parameters/0",
        ),
        (
            "  /pattern:\n    get:\n      operationId: badPattern\n      parameters:\n        - {name: q, in: query, schema: {type: string, pattern: '(unclosed'}}\n      responses: {'200': {description: ok}}\n",
            "does not compile",
            "#/paths/~1pattern/get/parameters/0",
        ),
    ];
    for (operation, construct, at) in cases {
        let (paths, components) = match operation.split_once("components:") {
            Some((paths, components)) => (paths.to_owned(), format!("components:{components}")),
            None => ((*operation).to_owned(), String::new()),
        };
        let text = format!("{HEAD}paths:\n{served}{paths}{components}");
        let generated = generate_text(&text).unwrap_or_else(|error| panic!("{text}\n{error}"));
        let server_skips: Vec<&Skip> = generated
            .report
            .skipped
            .iter()
            .filter(|skip| skip.generator == "server")
            .collect();
        assert_eq!(server_skips.len(), 1, "{text}: {server_skips:?}");
        let skip = server_skips[0];
        assert!(skip.construct.contains(construct), "`{skip}` names `{construct}`");
        assert_eq!(skip.pointer, *at, "{skip}");
        assert!(
            generated.server.to_string().contains("handle_fine"),
            "the rest generates"
        );
    }
}

#[test]
fn a_generated_file_that_needs_a_crate_its_crate_lacks_names_the_line_to_add() {
    let root = std::env::temp_dir().join(format!("xtask-deps-{}", std::process::id()));
    std::fs::create_dir_all(root.join("types/src")).unwrap();
    std::fs::write(root.join("types/Cargo.toml"), "[package]\nname = \"types\"\n").unwrap();
    let manifest = root.join("types/Cargo.toml").canonicalize().unwrap();
    let metadata = serde_json::json!({
        "packages": [{
            "manifest_path": manifest,
            "dependencies": [
                {"name": "serde", "rename": null, "kind": null, "features": ["derive"]},
                {"name": "schemars", "rename": null, "kind": null, "features": []},
                {"name": "chrono", "rename": null, "kind": "dev", "features": ["serde"]},
            ],
        }],
    });
    let code = "#[derive(::serde::Serialize, ::schemars::JsonSchema)] pub struct A { at: ::chrono::DateTime<::chrono::offset::Utc>, id: ::uuid::Uuid }";
    let missing = openapi_codegen::deps::missing(&metadata, &root, Path::new("types/src/generated.rs"), code);
    std::fs::remove_dir_all(&root).unwrap();
    let text = missing.join("\n");
    assert_eq!(missing.len(), 4, "{text}");
    assert!(
        text.contains("uses `chrono`") && text.contains(r#"chrono = { version = "0.4""#),
        "{text}"
    );
    assert!(
        text.contains("uses `uuid`") && text.contains(r#"uuid = { version = "1", features = ["serde"] }"#),
        "{text}"
    );
    assert!(text.contains("`chrono` feature of `schemars`"), "{text}");
    assert!(text.contains("`uuid1` feature of `schemars`"), "{text}");
    assert!(!text.contains("`serde`"), "serde is declared: {text}");
}

#[test]
fn an_example_that_does_not_fit_its_schema_is_reported_naming_it() {
    let text = format!(
        "{HEAD}paths:\n  /a:\n    get:\n      operationId: a\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {{$ref: '#/components/schemas/Thing'}}\n              example: {{count: many}}\ncomponents:\n  schemas:\n    Thing:\n      type: object\n      required: [count]\n      properties:\n        count: {{type: integer}}\n"
    );
    let generated = generate_text(&text).unwrap();
    let misfits = generated.report.bad_examples.join("\n");
    assert!(misfits.contains("#/paths/~1a/get/responses/200"), "{misfits}");
    assert!(
        misfits.contains("does not fit its schema") && misfits.contains("integer"),
        "{misfits}"
    );
    assert!(
        !generated.server.to_string().contains("many"),
        "the mock leaves it out"
    );
    let fitting = text.replace("count: many", "count: 3");
    let generated = generate_text(&fitting).unwrap();
    assert!(generated.report.bad_examples.is_empty());
    assert!(
        generated.server.to_string().contains("count\\\":3"),
        "the mock serves it"
    );
}

#[test]
fn a_document_the_corpus_cannot_read_fails_the_run_naming_the_line() {
    let dir = std::env::temp_dir().join(format!("codegen-corpus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("broken.json"),
        "{\n  \"openapi\": \"3.0.3\",\n  \"info\": {\"title\": \"t\",\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("newer.yaml"),
        "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n",
    )
    .unwrap();
    std::fs::write(dir.join("notes.txt"), "not a document").unwrap();
    let settings = openapi_codegen::corpus::CorpusSettings {
        scratch: dir.join("scratch"),
        target: dir.join("target"),
        runtime_crate: dir.join("runtime"),
        lock_file: None,
        command: "test".to_owned(),
    };
    let rows = openapi_codegen::corpus::run(&dir, &settings, |_| {}).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(rows.len(), 2, "every .json and .yaml file is a document given");
    assert!(rows.iter().all(openapi_codegen::corpus::Row::fails));
    let broken = rows[0].failure.as_deref().unwrap();
    assert!(
        broken.contains("broken.json:4:"),
        "names the file and line: {broken}"
    );
    let newer = rows[1].failure.as_deref().unwrap();
    assert!(newer.contains("openapi 3.1.0"), "{newer}");
}
