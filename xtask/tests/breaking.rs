//! `cargo xtask breaking` as a team uses it: the exit status follows
//! `--fail-on`, the report comes as text, Markdown or JSON with each
//! finding's rule id, `--accept` lowers a named finding, and bad flags are
//! refused by name.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/breaking")
        .join(name)
}

fn breaking(flags: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("breaking")
        .args(flags)
        .output()
        .expect("xtask runs")
}

fn pair(head: &str) -> Vec<String> {
    vec![
        "--base-file".into(),
        fixture("base.yaml").display().to_string(),
        "--head-file".into(),
        fixture(head).display().to_string(),
    ]
}

fn run(head: &str, more: &[&str]) -> (bool, String, String) {
    let mut flags = pair(head);
    flags.extend(more.iter().map(|flag| (*flag).to_owned()));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let output = breaking(&flags);
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_exit_status_follows_fail_on() {
    // An optional response header removed: a warning, not breaking.
    let (passed, text, _) = run("20-response-header-removed.yaml", &[]);
    assert!(passed, "{text}");
    assert!(
        text.contains(
            "warning  optional-response-header-removed: response 429 no longer sends the Retry-After header"
        ),
        "{text}"
    );
    let (passed, _, stderr) = run("20-response-header-removed.yaml", &["--fail-on", "warning"]);
    assert!(!passed);
    assert!(stderr.contains("changes at or above warning"), "{stderr}");
    let (passed, text, _) = run("03-response-property-removed.yaml", &[]);
    assert!(!passed, "{text}");
    assert!(
        text.contains("breaking response-required-property-removed"),
        "{text}"
    );
}

#[test]
fn markdown_and_json_reports_name_each_rule() {
    let folder = std::env::temp_dir().join(format!("xtask-breaking-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let (markdown, json) = (folder.join("report.md"), folder.join("report.json"));
    let (passed, stdout, _) = run(
        "03-response-property-removed.yaml",
        &[
            "--format",
            "json",
            "--report",
            markdown.to_str().unwrap(),
            "--report",
            json.to_str().unwrap(),
        ],
    );
    assert!(!passed);
    let printed: serde_json::Value = serde_json::from_str(&stdout).expect("--format json prints JSON");
    assert_eq!(printed["counts"]["breaking"], 1, "{printed:#}");
    assert_eq!(
        printed["findings"][0]["rule"],
        "response-required-property-removed"
    );
    assert_eq!(printed["accepted"], false);
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(written, printed);
    let markdown = std::fs::read_to_string(&markdown).unwrap();
    assert!(markdown.starts_with("## API changes"), "{markdown}");
    assert!(
        markdown.contains("| `response-required-property-removed` |"),
        "{markdown}"
    );
    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn accept_lowers_the_named_finding_only() {
    let (passed, text, _) = run(
        "03-response-property-removed.yaml",
        &["--accept", "response-required-property-removed@listProspects"],
    );
    assert!(passed, "{text}");
    assert!(text.contains("(accepted; was breaking)"), "{text}");
    let (passed, _, _) = run(
        "03-response-property-removed.yaml",
        &[
            "--accept",
            "response-required-property-removed@someOtherOperation",
        ],
    );
    assert!(!passed);
}

#[test]
fn bad_flags_are_refused_by_name() {
    for (flags, expected) in [
        (vec!["--fail-on", "severe"], "unknown level `severe`"),
        (
            vec!["--format", "xml"],
            "--format takes text, markdown or json, not `xml`",
        ),
        (
            vec!["--report", "out.txt"],
            "ending in .md or .json, not `out.txt`",
        ),
        (vec!["--accept", "no-such-rule"], "`no-such-rule` names no rule"),
        (
            vec!["--base-file", "/nonexistent.yaml"],
            "cannot read /nonexistent.yaml",
        ),
        (vec!["--fail-on"], "--fail-on needs a value"),
    ] {
        let output = breaking(&flags);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{flags:?} passed");
        assert!(stderr.contains(expected), "{flags:?}: {stderr}");
    }
}

#[test]
fn the_catalog_lists_every_rule_with_its_level() {
    let output = breaking(&["--rules"]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(text.lines().count(), openapi_diff::catalog().len());
    assert!(
        text.lines()
            .any(|line| line.starts_with("breaking") && line.contains("api-removed-before-sunset")),
        "{text}"
    );
}
