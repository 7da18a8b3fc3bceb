//! `cargo xtask breaking`: the document's edit as existing clients see it
//! (the `openapi-diff` check), as text, Markdown or JSON, failing at a level.

use std::path::{Path, PathBuf};

use openapi_diff::{Level, Report, compare, parse};
use xtask::DOCUMENT;

struct Options {
    base: Option<(String, String)>,
    head_file: Option<PathBuf>,
    fail_on: Level,
    format: String,
    reports: Vec<PathBuf>,
    accept: Vec<String>,
}

fn options(root: &Path, flags: &[&str]) -> Result<Options, String> {
    let mut options = Options {
        base: None,
        head_file: None,
        fail_on: Level::Breaking,
        format: "text".into(),
        reports: Vec::new(),
        accept: Vec::new(),
    };
    let mut flags = flags.iter();
    while let Some(flag) = flags.next() {
        let value = *flags.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match *flag {
            "--base" => {
                options.base = Some((
                    format!("{DOCUMENT} at {value}"),
                    xtask::at_revision(root, value, DOCUMENT)?,
                ));
            }
            "--base-file" => {
                let text = std::fs::read_to_string(value)
                    .map_err(|error| format!("cannot read {value}: {error}"))?;
                options.base = Some((value.to_owned(), text));
            }
            "--head-file" => options.head_file = Some(PathBuf::from(value)),
            "--fail-on" => {
                options.fail_on = Level::parse(value).map_err(|error| format!("--fail-on: {error}"))?
            }
            "--format" => match value {
                "text" | "markdown" | "json" => options.format = value.to_owned(),
                other => return Err(format!("--format takes text, markdown or json, not `{other}`")),
            },
            "--report" => {
                let path = PathBuf::from(value);
                match path.extension().and_then(|ext| ext.to_str()) {
                    Some("md" | "json") => options.reports.push(path),
                    _ => {
                        return Err(format!(
                            "--report takes a file ending in .md or .json, not `{value}`"
                        ));
                    }
                }
            }
            "--accept" => {
                if openapi_diff::rule(value.split('@').next().unwrap_or(value)).is_none() {
                    return Err(format!(
                        "--accept: `{value}` names no rule of the catalog (cargo xtask breaking --rules lists them)"
                    ));
                }
                options.accept.push(value.to_owned());
            }
            other => {
                return Err(format!(
                    "unknown flag `{other}` (cargo xtask help lists the flags)"
                ));
            }
        }
    }
    Ok(options)
}

/// Lowers the findings a team accepted (`RULE`, or `RULE@text of the
/// operation`) to info, marked so.
fn accept(report: &mut Report, accepted: &[String]) {
    for finding in &mut report.findings {
        let matched = accepted.iter().any(|entry| match entry.split_once('@') {
            Some((rule, operation)) => finding.rule == rule && finding.operation.contains(operation),
            None => finding.rule == *entry,
        });
        if matched && finding.level > Level::Info {
            finding.message = format!("{} (accepted; was {})", finding.message, finding.level);
            finding.level = Level::Info;
        }
    }
}

fn render(report: &Report, format: &str, fail_on: Level) -> String {
    match format {
        "markdown" => report.markdown(fail_on),
        "json" => format!("{:#}\n", report.json(fail_on)),
        _ => report.text(fail_on),
    }
}

pub(crate) fn run(root: &Path, flags: &[&str]) -> Result<(), String> {
    match flags {
        ["--rules"] => {
            for rule in openapi_diff::catalog() {
                println!("{:<8} {:<56} {}", rule.level.name(), rule.id, rule.summary);
            }
            return Ok(());
        }
        ["--history"] => return history(root),
        _ => {}
    }
    let options = options(root, flags)?;
    let (base_name, base_text) = match options.base {
        Some(base) => base,
        None => {
            let revision = xtask::default_base(root);
            (
                format!("{DOCUMENT} at {revision}"),
                xtask::at_revision(root, &revision, DOCUMENT)?,
            )
        }
    };
    let head_path = options.head_file.unwrap_or_else(|| root.join(DOCUMENT));
    let head_text = std::fs::read_to_string(&head_path)
        .map_err(|error| format!("cannot read {}: {error}", head_path.display()))?;
    let mut report = compare(
        &parse(&base_text, &base_name)?,
        &parse(&head_text, &head_path.display().to_string())?,
    );
    accept(&mut report, &options.accept);
    if options.format == "text" {
        println!("comparing {base_name} with {}", head_path.display());
    }
    print!("{}", render(&report, &options.format, options.fail_on));
    for path in &options.reports {
        let format = if path.extension().is_some_and(|ext| ext == "md") {
            "markdown"
        } else {
            "json"
        };
        std::fs::write(path, render(&report, format, options.fail_on))
            .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    }
    if report.accepted_at(options.fail_on) {
        Ok(())
    } else {
        Err(format!(
            "changes at or above {} without a new major version (see above)",
            options.fail_on
        ))
    }
}

/// The file of breaking findings in the document's history that were
/// accepted, each with its reason.
const ACCEPTED: &str = "openapi/accepted-changes.yaml";

/// `(edit, RULE[@operation])` pairs from [`ACCEPTED`]; every entry needs an
/// `edit` (`OLD..NEW`), an `accept` naming a rule of the catalog and a `why`.
fn accepted_edits(root: &Path) -> Result<Vec<(String, String)>, String> {
    let Ok(text) = std::fs::read_to_string(root.join(ACCEPTED)) else {
        return Ok(Vec::new());
    };
    let entries = parse(&text, ACCEPTED)?;
    let mut accepted = Vec::new();
    for (index, entry) in entries.as_array().into_iter().flatten().enumerate() {
        let field = |key: &str| {
            entry
                .get(key)
                .and_then(serde_json::Value::as_str)
                .filter(|value| !value.trim().is_empty())
                .ok_or_else(|| format!("{ACCEPTED}: entry {index} needs a `{key}`"))
        };
        let (edit, rule, _why) = (field("edit")?, field("accept")?, field("why")?);
        if openapi_diff::rule(rule.split('@').next().unwrap_or(rule)).is_none() {
            return Err(format!(
                "{ACCEPTED}: entry {index}: `{rule}` names no rule of the catalog"
            ));
        }
        accepted.push((edit.to_owned(), rule.to_owned()));
    }
    Ok(accepted)
}

/// Every commit that changed the document, compared with the one before
/// (findings accepted in [`ACCEPTED`] lowered to info).
fn history(root: &Path) -> Result<(), String> {
    let output = std::process::Command::new("git")
        .args(["log", "--reverse", "--format=%H", "--", DOCUMENT])
        .current_dir(root)
        .output()
        .map_err(|error| format!("cannot run git: {error}"))?;
    let revisions: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let accepted = accepted_edits(root)?;
    let mut refused = Vec::new();
    for pair in revisions.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        let mut report = compare(
            &parse(&xtask::at_revision(root, before, DOCUMENT)?, before)?,
            &parse(&xtask::at_revision(root, after, DOCUMENT)?, after)?,
        );
        let accept_here: Vec<String> = accepted
            .iter()
            .filter(|(range, _)| {
                range.split_once("..").is_some_and(|(old, new)| {
                    old.len() >= 7 && new.len() >= 7 && before.starts_with(old) && after.starts_with(new)
                })
            })
            .map(|(_, rule)| rule.clone())
            .collect();
        accept(&mut report, &accept_here);
        let verdict = if report.accepted() { "accepted" } else { "REFUSED" };
        let (before, after) = (&before[..before.len().min(10)], &after[..after.len().min(10)]);
        println!(
            "{before} -> {after}: {verdict}: {} breaking, {} warnings, {} changes",
            report.count(Level::Breaking),
            report.count(Level::Warning),
            report.findings.len()
        );
        if !report.accepted() {
            print!("{report}");
            refused.push(format!("{before} -> {after}"));
        }
    }
    println!(
        "{} edits of {DOCUMENT} compared",
        revisions.len().saturating_sub(1)
    );
    if refused.is_empty() {
        Ok(())
    } else {
        Err(format!("breaking edits in the history: {}", refused.join(", ")))
    }
}
