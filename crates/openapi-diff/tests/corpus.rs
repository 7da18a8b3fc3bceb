//! The breaking-change corpus (`xtask/fixtures/breaking/`): each file is the
//! base document with one edit and names its expected verdict on its first
//! line; the checker must agree on every one, with no false alarm and no miss.

use std::path::Path;

use openapi_diff::{Severity, compare, parse};

fn corpus() -> Vec<(String, String, String)> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../xtask/fixtures/breaking");
    let mut cases = Vec::new();
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
        cases.push((name, base, std::fs::read_to_string(&path).unwrap()));
    }
    cases.sort();
    cases
}

#[test]
fn the_corpus_has_no_false_alarm_and_no_miss() {
    let cases = corpus();
    assert!(
        cases.len() >= 25,
        "the issue asks for at least 25 edit pairs, found {}",
        cases.len()
    );
    let (mut breaking, mut compatible, mut wrong) = (0, 0, Vec::new());
    for (name, base, head) in &cases {
        let expect = head
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{name}: no `# expect:` line"));
        let (verdict, finding) = expect.split_once(": ").unwrap_or((expect, ""));
        let report = compare(&parse(base, name).unwrap(), &parse(head, name).unwrap());
        let expected_breaking = verdict.starts_with("breaking");
        let expected_accepted = verdict == "compatible" || verdict.ends_with("accepted");
        if expected_breaking {
            breaking += 1;
        } else {
            compatible += 1;
        }
        if report.is_breaking() != expected_breaking || report.accepted() != expected_accepted {
            wrong.push(format!("{name}: expected {verdict}, got\n{report}"));
            continue;
        }
        let severity = if expected_breaking {
            Severity::Breaking
        } else {
            Severity::Compatible
        };
        if !finding.is_empty()
            && !report
                .findings
                .iter()
                .any(|found| found.severity == severity && found.message.contains(finding))
        {
            wrong.push(format!(
                "{name}: no {severity:?} finding containing `{finding}` in\n{report}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(
        breaking >= 10 && compatible >= 10,
        "{breaking} breaking and {compatible} compatible pairs"
    );
}

#[test]
fn an_unchanged_document_has_no_findings() {
    let document = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../xtask/fixtures/breaking/base.yaml"),
    )
    .unwrap();
    let value = parse(&document, "base.yaml").unwrap();
    let report = compare(&value, &value);
    assert!(report.findings.is_empty(), "{report}");
    assert!(report.accepted());
}
