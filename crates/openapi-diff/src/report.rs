//! What a comparison found: each difference with its severity, and the
//! verdict under semantic versioning.

use std::fmt;

/// Whether a change breaks existing clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Existing clients keep working.
    Compatible,
    /// Some existing client may fail.
    Breaking,
}

/// One difference between the documents.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// `GET /path (operationId)`, or `document`.
    pub operation: String,
    /// Breaking or compatible.
    pub severity: Severity,
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
    /// Whether any finding is breaking.
    pub fn is_breaking(&self) -> bool {
        self.findings
            .iter()
            .any(|finding| finding.severity == Severity::Breaking)
    }

    /// Whether the head raised the major version over the base.
    pub fn major_raised(&self) -> bool {
        matches!((major(&self.versions.0), major(&self.versions.1)), (Some(base), Some(head)) if head > base)
    }

    /// Whether the change may land: nothing breaking, or a new major version.
    pub fn accepted(&self) -> bool {
        !self.is_breaking() || self.major_raised()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut current = None;
        for finding in &self.findings {
            if current != Some(&finding.operation) {
                writeln!(f, "{}", finding.operation)?;
                current = Some(&finding.operation);
            }
            let label = match finding.severity {
                Severity::Breaking => "breaking",
                Severity::Compatible => "compatible",
            };
            writeln!(f, "  {label}: {}", finding.message)?;
        }
        let breaking = self
            .findings
            .iter()
            .filter(|finding| finding.severity == Severity::Breaking)
            .count();
        let (base, head) = &self.versions;
        if self.findings.is_empty() {
            writeln!(f, "no changes to the contract")
        } else if breaking == 0 {
            writeln!(f, "verdict: compatible ({} changes)", self.findings.len())
        } else if self.major_raised() {
            writeln!(
                f,
                "verdict: breaking ({breaking} breaking changes), accepted: info.version {base} -> {head} raises the major version"
            )
        } else {
            writeln!(
                f,
                "verdict: breaking ({breaking} breaking changes): info.version {base} -> {head}; raise the major version to accept them"
            )
        }
    }
}
