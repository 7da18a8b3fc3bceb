//! What a comparison found: each difference with its rule and level, the
//! verdict under semantic versioning, and the report as text, Markdown (for a
//! pull-request comment) or JSON (for machines).

use std::fmt::{self, Write as _};

use serde_json::{Value, json};

use crate::rules::Level;

/// One difference between the documents.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// `GET /path (operationId)`, or `document`.
    pub operation: String,
    /// Its level (the rule's).
    pub level: Level,
    /// The rule's id (see [`crate::catalog`]).
    pub rule: String,
    /// What changed, where.
    pub message: String,
}

/// The comparison of two documents.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every difference found, by operation.
    pub findings: Vec<Finding>,
    /// `info.version` of the base and of the head.
    pub versions: (String, String),
}

fn major(version: &str) -> Option<u64> {
    version.trim_start_matches('v').split('.').next()?.parse().ok()
}

impl Report {
    /// How many findings are at that level.
    pub fn count(&self, level: Level) -> usize {
        self.findings
            .iter()
            .filter(|finding| finding.level == level)
            .count()
    }

    /// Whether any finding is breaking.
    pub fn is_breaking(&self) -> bool {
        self.count(Level::Breaking) > 0
    }

    /// Whether any finding is at `level` or above.
    pub fn reaches(&self, level: Level) -> bool {
        self.findings.iter().any(|finding| finding.level >= level)
    }

    /// Whether the head raised the major version over the base.
    pub fn major_raised(&self) -> bool {
        matches!((major(&self.versions.0), major(&self.versions.1)), (Some(base), Some(head)) if head > base)
    }

    /// Whether the change may land when findings at `fail_on` or above fail
    /// it: none of them, or a new major version.
    pub fn accepted_at(&self, fail_on: Level) -> bool {
        !self.reaches(fail_on) || self.major_raised()
    }

    /// Whether the change may land: nothing breaking, or a new major version.
    pub fn accepted(&self) -> bool {
        self.accepted_at(Level::Breaking)
    }

    fn verdict(&self, fail_on: Level) -> String {
        let (breaking, warnings) = (self.count(Level::Breaking), self.count(Level::Warning));
        let (base, head) = &self.versions;
        if self.findings.is_empty() {
            "no changes to the contract".to_owned()
        } else if !self.reaches(fail_on) {
            format!(
                "passes: {breaking} breaking, {warnings} warnings, {} changes in all (failing on {fail_on})",
                self.findings.len()
            )
        } else if self.major_raised() {
            format!(
                "accepted: {breaking} breaking, {warnings} warnings; info.version {base} -> {head} raises the major version"
            )
        } else {
            format!(
                "fails: {breaking} breaking, {warnings} warnings (failing on {fail_on}); info.version {base} -> {head}: raise the major version to accept them"
            )
        }
    }

    /// The report as text, with its verdict when findings at `fail_on` or
    /// above fail it.
    pub fn text(&self, fail_on: Level) -> String {
        let mut out = String::new();
        let mut current = None;
        for finding in &self.findings {
            if current != Some(&finding.operation) {
                let _ = writeln!(out, "{}", finding.operation);
                current = Some(&finding.operation);
            }
            let _ = writeln!(
                out,
                "  {:<8} {}: {}",
                finding.level.name(),
                finding.rule,
                finding.message
            );
        }
        let _ = writeln!(out, "verdict: {}", self.verdict(fail_on));
        out
    }

    /// The report as Markdown, for a pull-request comment: the verdict, then
    /// a table per level, most severe first.
    pub fn markdown(&self, fail_on: Level) -> String {
        let mut out = String::from("## API changes\n\n");
        let mark = if self.accepted_at(fail_on) { "✅" } else { "❌" };
        let _ = writeln!(out, "{mark} {}\n", self.verdict(fail_on));
        for level in [Level::Breaking, Level::Warning, Level::Info] {
            let findings: Vec<&Finding> = self
                .findings
                .iter()
                .filter(|finding| finding.level == level)
                .collect();
            if findings.is_empty() {
                continue;
            }
            let _ = writeln!(out, "### {} ({})\n", level.name(), findings.len());
            out.push_str("| Operation | Rule | Change |\n|---|---|---|\n");
            for finding in findings {
                let _ = writeln!(
                    out,
                    "| {} | `{}` | {} |",
                    cell(&finding.operation),
                    finding.rule,
                    cell(&finding.message)
                );
            }
            out.push('\n');
        }
        out
    }

    /// The report as JSON: versions, verdict, counts per level and every
    /// finding with its operation, rule, level and message.
    pub fn json(&self, fail_on: Level) -> Value {
        json!({
            "base_version": self.versions.0,
            "head_version": self.versions.1,
            "fail_on": fail_on.name(),
            "major_raised": self.major_raised(),
            "accepted": self.accepted_at(fail_on),
            "counts": {
                "breaking": self.count(Level::Breaking),
                "warning": self.count(Level::Warning),
                "info": self.count(Level::Info),
            },
            "findings": self.findings.iter().map(|finding| json!({
                "operation": finding.operation,
                "rule": finding.rule,
                "level": finding.level.name(),
                "message": finding.message,
            })).collect::<Vec<_>>(),
        })
    }
}

/// A Markdown table cell: pipes escaped, one line.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text(Level::Breaking))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            findings: vec![
                Finding {
                    operation: "GET /a | b".into(),
                    level: Level::Breaking,
                    rule: "response-property-became-optional".into(),
                    message: "x became optional".into(),
                },
                Finding {
                    operation: "GET /a | b".into(),
                    level: Level::Warning,
                    rule: "request-property-removed".into(),
                    message: "y removed".into(),
                },
            ],
            versions: ("1.0.0".into(), "1.1.0".into()),
        }
    }

    #[test]
    fn each_format_names_rule_level_and_verdict() {
        let report = report();
        let text = report.text(Level::Breaking);
        assert!(
            text.contains("breaking response-property-became-optional: x became optional"),
            "{text}"
        );
        assert!(text.contains("verdict: fails: 1 breaking, 1 warnings"), "{text}");
        let markdown = report.markdown(Level::Breaking);
        assert!(
            markdown.contains("| GET /a \\| b | `response-property-became-optional` | x became optional |"),
            "{markdown}"
        );
        assert!(markdown.contains("### warning (1)"), "{markdown}");
        let json = report.json(Level::Warning);
        assert_eq!(json["counts"]["breaking"], 1);
        assert_eq!(json["accepted"], false);
        assert_eq!(json["findings"][1]["rule"], "request-property-removed");
    }

    #[test]
    fn fail_on_sets_what_fails() {
        let mut report = report();
        report.findings.remove(0);
        assert!(report.accepted_at(Level::Breaking));
        assert!(!report.accepted_at(Level::Warning));
        report.versions.1 = "2.0.0".into();
        assert!(report.accepted_at(Level::Warning));
    }
}
