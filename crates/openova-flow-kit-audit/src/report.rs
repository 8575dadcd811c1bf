//! What an audit concluded: printable lines plus structured findings.

use serde::Serialize;

/// How a printed line is shown and where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `== Phase N: title ==`.
    Banner,
    /// Plain indented information.
    Info,
    /// `OK: …`.
    Ok,
    /// `WARN: …`.
    Warn,
    /// `ERROR: …` (stderr).
    Error,
    /// Indented continuation of the previous error (stderr).
    Detail,
}

/// One printed line, without its prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Kind of line.
    pub level: Level,
    /// Text after the prefix.
    pub text: String,
}

/// Finding codes (json `code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    /// HR on disk, not in the expected file.
    Undeclared,
    /// dependsOn set differs, or a `present` entry has no file.
    Drift,
    /// dependsOn names an HR that exists nowhere.
    UnknownDependency,
    /// dependsOn names an HR that is declared but not on disk.
    DeferredDependency,
    /// A dependency cycle.
    Cycle,
    /// HR file not listed in `kustomization.yaml`.
    Unregistered,
    /// `kustomization.yaml` lists a missing file.
    MissingResource,
    /// `kustomization.yaml` lists the expected file.
    ExpectedFileListed,
    /// Slot label, file prefix, expected slot or file name disagree.
    SlotMismatch,
    /// dependsOn entry of another kind.
    CrossKindDependency,
    /// dependsOn namespace does not hold the named HR.
    NamespaceMismatch,
    /// Chart version differs from the local chart's `Chart.yaml`.
    ChartVersion,
    /// `${NAME}` without default and without substitute key.
    MissingSubstitute,
    /// `${…}` form Flux would not substitute as intended.
    UnsupportedPlaceholder,
    /// Declared, not yet on disk (warning).
    Deferred,
    /// Substitute key no slot uses (warning).
    UnusedSubstitute,
    /// Unreadable or malformed input (exit 3).
    Input,
}

/// Severity of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fails the audit.
    Error,
    /// Reported, does not fail.
    Warn,
}

/// A structured finding (json `findings[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `error` or `warn`.
    pub level: Severity,
    /// Machine code.
    pub code: Code,
    /// HelmRelease concerned.
    pub hr: Option<String>,
    /// File concerned (display path).
    pub file: Option<String>,
    /// 1-based line in `file`.
    pub line: Option<usize>,
    /// The printed message without its `ERROR: `/`WARN: ` prefix.
    pub message: String,
}

/// Counts of the summary phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// HelmReleases on disk.
    pub present: usize,
    /// Entries in the expected file.
    pub declared: usize,
    /// Declared entries not on disk (waves after `present`).
    pub deferred: usize,
    /// Phase-3 errors.
    pub drift: usize,
    /// Cycles found in both graphs.
    pub cycles: usize,
}

/// One HelmRelease of the union of disk and expected file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    /// `metadata.name`.
    pub name: String,
    /// Slot as printed (`01`, `05a`), when known.
    pub slot: Option<String>,
    /// Wave (undeclared HRs count as `present`).
    pub wave: String,
    /// On disk.
    pub present: bool,
    /// Its file, when on disk.
    pub file: Option<String>,
    /// `metadata.namespace`, when on disk.
    pub namespace: Option<String>,
    /// `spec.targetNamespace`, when on disk and set.
    pub target_namespace: Option<String>,
    /// On-disk dependsOn names (sorted), when on disk.
    pub depends_on: Option<Vec<String>>,
    /// Declared dependencies (sorted), when declared.
    pub expected_depends_on: Option<Vec<String>>,
}

impl Node {
    /// The edges drawn for this node: on-disk dependsOn when present, the
    /// declared ones otherwise.
    pub fn effective_depends_on(&self) -> &[String] {
        self.depends_on
            .as_deref()
            .or(self.expected_depends_on.as_deref())
            .unwrap_or(&[])
    }
}

/// The outcome of one audit run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Kit directory (display path).
    pub kit_dir: String,
    /// Expected file (display path).
    pub expected_file: String,
    /// Everything printed, in order.
    pub lines: Vec<Line>,
    /// Structured findings, in the order printed.
    pub findings: Vec<Finding>,
    /// Summary counts.
    pub counts: Counts,
    /// Union of disk and expected HRs, sorted by name.
    pub nodes: Vec<Node>,
    /// On-disk HRs in install order (dependencies first).
    pub topological_order: Vec<String>,
    /// 0 pass, 1 findings, 2 cycle, 3 input error.
    pub exit_code: u8,
}

impl Report {
    /// `true` for exit code 0.
    pub fn passed(&self) -> bool {
        self.exit_code == 0
    }

    /// Error findings.
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.level == Severity::Error)
    }

    /// Findings with `code`.
    pub fn with_code(&self, code: Code) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.code == code)
    }
}
