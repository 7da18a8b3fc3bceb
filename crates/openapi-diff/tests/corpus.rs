//! The breaking-change corpus (`xtask/fixtures/breaking/`), two kinds of
//! labelled pair:
//! - `NN-*.yaml`: the base document (`base.yaml`, or its own
//!   `NN-*.base.yaml`) with one edit; its first line names our verdict
//!   (`# expect: breaking|warning|compatible[, accepted][: finding text]`), an
//!   optional second line oasdiff's when it differs on purpose
//!   (`# oasdiff: compatible: why`);
//! - `cases/*.yaml`: lists of small pairs, each placed into a skeleton
//!   document by `at:` (see `cases/README.md`), labelled with oasdiff's
//!   verdict, ours when it differs on purpose (with `why`), and the rule it
//!   exercises.
//!
//! Our verdict must match our label on every pair, and the named rule (or
//! finding) must be reported at its level; agreement with oasdiff's labels,
//! recall and specificity are computed and held to 95%.

use std::path::{Path, PathBuf};

use openapi_diff::{Level, compare, parse, rule};
use serde_json::{Value, json};

struct Pair {
    name: String,
    base: Value,
    head: Value,
    /// Our verdict: breaking or not.
    ours: bool,
    /// oasdiff's verdict.
    oasdiff: bool,
    /// A breaking change accepted by a major version (old pairs only).
    accepted: bool,
    /// A rule id, or text of a finding, that must be reported.
    finding: Option<String>,
    /// The level that finding must have, when the label says.
    level: Option<Level>,
}

fn folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../xtask/fixtures/breaking")
}

fn edited_documents() -> Vec<Pair> {
    let folder = folder();
    let mut pairs = Vec::new();
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "base.yaml" || name.ends_with(".base.yaml") || !name.ends_with(".yaml") {
            continue;
        }
        let own_base = folder.join(name.replace(".yaml", ".base.yaml"));
        let base = std::fs::read_to_string(if own_base.exists() {
            own_base
        } else {
            folder.join("base.yaml")
        })
        .unwrap();
        let head = std::fs::read_to_string(&path).unwrap();
        let mut lines = head.lines();
        let expect = lines
            .next()
            .and_then(|line| line.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{name}: no `# expect:` line"));
        let oasdiff = lines.next().and_then(|line| line.strip_prefix("# oasdiff: "));
        let (verdict, finding) = expect.split_once(": ").unwrap_or((expect, ""));
        let ours = verdict.starts_with("breaking");
        let level = if ours {
            Level::Breaking
        } else if verdict.starts_with("warning") {
            Level::Warning
        } else {
            Level::Info
        };
        pairs.push(Pair {
            base: parse(&base, &name).unwrap(),
            head: parse(&head, &name).unwrap(),
            ours,
            oasdiff: oasdiff.map_or(ours, |label| label.starts_with("breaking")),
            accepted: verdict.ends_with("accepted"),
            finding: (!finding.is_empty()).then(|| finding.to_owned()),
            level: Some(level),
            name,
        });
    }
    pairs
}

/// Merges `extra` into `into` (maps merged, everything else replaced).
fn merge(into: &mut Value, extra: &Value) {
    match (into, extra) {
        (Value::Object(into), Value::Object(extra)) => {
            for (key, value) in extra {
                match into.get_mut(key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        into.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (into, extra) => *into = extra.clone(),
    }
}

/// The document a case's side describes, placed by `at`.
fn place(at: &str, side: &Value, components: &Value) -> Value {
    let ok = json!({"200": {"description": "ok"}});
    let paths = match at {
        "query" | "header" | "cookie" => json!({"/items": {"get": {
            "parameters": [{"name": "p", "in": at, "schema": side}], "responses": ok}}}),
        "path" => json!({"/items/{id}": {"get": {
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": side}], "responses": ok}}}),
        "parameter" => json!({"/items/{id}": {"get": {
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}, side],
            "responses": ok}}}),
        "request-body" => json!({"/items": {"post": {
            "requestBody": {"required": true, "content": {"application/json": {"schema": side}}},
            "responses": {"201": {"description": "created"}}}}}),
        "response-body" => json!({"/items": {"get": {"responses": {"200": {
            "description": "ok", "content": {"application/json": {"schema": side}}}}}}}),
        "response-header" => json!({"/items": {"get": {"responses": {"200": {
            "description": "ok", "headers": {"X-Rate": side}}}}}}),
        "operation" if side.is_null() => json!({"/items": {"post": {"responses": ok}}}),
        "operation" => {
            let mut operation = json!({"responses": ok});
            merge(&mut operation, side);
            json!({"/items": {"get": operation}})
        }
        "document" => Value::Null,
        other => panic!("unknown `at: {other}`"),
    };
    let mut document = json!({"openapi": "3.0.3", "info": {"title": "case", "version": "1.0.0"}});
    if paths.is_null() {
        merge(&mut document, side);
    } else {
        document["paths"] = paths;
    }
    if !components.is_null() {
        merge(&mut document, &json!({ "components": components }));
    }
    document
}

fn listed_cases() -> Vec<Pair> {
    let folder = folder().join("cases");
    let mut pairs = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let cases = parse(&std::fs::read_to_string(&path).unwrap(), &file).unwrap();
        for (index, case) in cases
            .as_array()
            .unwrap_or_else(|| panic!("{file}: not a list"))
            .iter()
            .enumerate()
        {
            let text = |key: &str| case.get(key).and_then(Value::as_str);
            let rule_id = text("rule").unwrap_or_else(|| panic!("{file} #{index}: no rule"));
            let name = format!("{file} #{index} {rule_id}");
            let oasdiff = match text("oasdiff") {
                Some("breaking") => true,
                Some("compatible") => false,
                other => panic!("{name}: oasdiff must be breaking or compatible, not {other:?}"),
            };
            let ours = match text("ours") {
                None => oasdiff,
                Some(label) => {
                    assert!(
                        text("why").is_some(),
                        "{name}: `ours` differs from oasdiff without a `why`"
                    );
                    label == "breaking"
                }
            };
            let at = text("at").unwrap_or_else(|| panic!("{name}: no `at`"));
            let components = case.get("components").cloned().unwrap_or(Value::Null);
            let side = |key: &str| {
                let components = case
                    .get(format!("{key}_components"))
                    .cloned()
                    .unwrap_or_else(|| components.clone());
                place(at, case.get(key).unwrap_or(&Value::Null), &components)
            };
            let (finding, level) = if rule_id == "none" {
                (None, None)
            } else {
                let known =
                    rule(rule_id).unwrap_or_else(|| panic!("{name}: `{rule_id}` is not in the catalog"));
                (Some(rule_id.to_owned()), Some(known.level))
            };
            pairs.push(Pair {
                base: side("base"),
                head: side("head"),
                ours,
                oasdiff,
                accepted: false,
                finding,
                level,
                name,
            });
        }
    }
    pairs
}

#[test]
fn the_corpus_agrees_with_its_labels_and_with_oasdiff() {
    let mut pairs = edited_documents();
    pairs.extend(listed_cases());
    let mut wrong = Vec::new();
    let mut differences = Vec::new();
    let (mut agree, mut caught, mut breaking, mut spared, mut compatible) = (0, 0, 0, 0, 0);
    for pair in &pairs {
        let report = compare(&pair.base, &pair.head);
        let flagged = report.is_breaking();
        if flagged != pair.ours || report.accepted() != (!pair.ours || pair.accepted) {
            wrong.push(format!(
                "{}: expected {}, got\n{report}",
                pair.name,
                if pair.ours { "breaking" } else { "not breaking" }
            ));
        }
        if let Some(finding) = &pair.finding
            && !report.findings.iter().any(|found| {
                (found.rule == *finding || found.message.contains(finding.as_str()))
                    && pair.level.is_none_or(|level| found.level == level)
            })
        {
            wrong.push(format!(
                "{}: no {:?} finding `{finding}` in\n{report}",
                pair.name, pair.level
            ));
        }
        for found in &report.findings {
            assert!(
                rule(&found.rule).is_some(),
                "{}: rule `{}` not in the catalog",
                pair.name,
                found.rule
            );
        }
        if flagged == pair.oasdiff {
            agree += 1;
        } else {
            differences.push(pair.name.clone());
        }
        if pair.oasdiff {
            breaking += 1;
            caught += usize::from(flagged);
        } else {
            compatible += 1;
            spared += usize::from(!flagged);
        }
    }
    let ratio = |part: usize, whole: usize| part as f64 / whole.max(1) as f64;
    let (agreement, recall, specificity) = (
        ratio(agree, pairs.len()),
        ratio(caught, breaking),
        ratio(spared, compatible),
    );
    println!(
        "{} pairs ({breaking} breaking, {compatible} compatible by oasdiff): agreement {:.1}%, recall {:.1}%, specificity {:.1}%",
        pairs.len(),
        agreement * 100.0,
        recall * 100.0,
        specificity * 100.0
    );
    println!("deliberate differences from oasdiff ({}):", differences.len());
    for name in &differences {
        println!("  {name}");
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(
        pairs.len() >= 200,
        "the issue asks for at least 200 pairs, found {}",
        pairs.len()
    );
    assert!(
        breaking >= 80 && compatible >= 80,
        "{breaking} breaking and {compatible} compatible pairs"
    );
    assert!(agreement >= 0.95, "agreement {agreement:.3} under 0.95");
    assert!(recall >= 0.95, "recall {recall:.3} under 0.95");
}

#[test]
fn an_unchanged_document_has_no_findings() {
    let document = std::fs::read_to_string(folder().join("base.yaml")).unwrap();
    let value = parse(&document, "base.yaml").unwrap();
    let report = compare(&value, &value);
    assert!(report.findings.is_empty(), "{report}");
    assert!(report.accepted());
}

#[test]
fn the_cases_exercise_every_family_of_the_catalog() {
    let text: String = std::fs::read_dir(folder().join("cases"))
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    let exercised =
        |id: &str| text.contains(&format!("rule: {id},")) || text.contains(&format!("rule: {id}\n"));
    let families = [
        "request-body-",
        "request-parameter-",
        "response-body-",
        "response-property-",
        "request-property-",
    ];
    let tested = openapi_diff::catalog()
        .iter()
        .filter(|rule| exercised(&rule.id))
        .count();
    println!(
        "{tested} of {} rules exercised by a listed case",
        openapi_diff::catalog().len()
    );
    assert!(tested >= 100, "only {tested} rules exercised");
    for family in families {
        assert!(
            openapi_diff::catalog()
                .iter()
                .any(|rule| rule.id.starts_with(family) && exercised(&rule.id)),
            "no case for the {family}* rules"
        );
    }
}
