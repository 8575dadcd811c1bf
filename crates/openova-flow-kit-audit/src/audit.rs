//! The audit phases over in-memory inputs (no I/O here).

use std::collections::{BTreeMap, BTreeSet};

use crate::InputError;
use crate::expected::{ExpectedDag, parse_expected};
use crate::graph::{Graph, format_cycle};
use crate::kit::{self, HelmReleaseDoc, Resource, SlotFile};
use crate::placeholder::{self, Placeholder, SubstituteKey};
use crate::report::{Code, Counts, Finding, Level, Line, Node, Report, Severity};
use crate::slot::{SlotLabel, Wave, file_prefix};
use crate::yaml;

/// One input file as read by the loader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInput {
    /// Base name.
    pub name: String,
    /// Path as shown in messages.
    pub display: String,
    /// Its text, or why it could not be read (a complete sentence fragment
    /// such as "not found; pass --expected FILE").
    pub content: Result<String, String>,
}

impl FileInput {
    /// A file with text.
    pub fn new(name: &str, display: &str, text: &str) -> FileInput {
        FileInput {
            name: name.to_string(),
            display: display.to_string(),
            content: Ok(text.to_string()),
        }
    }

    fn text(&self) -> Result<&str, InputError> {
        self.content
            .as_deref()
            .map_err(|why| InputError::file(&self.display, why))
    }
}

/// Everything the audit reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inputs {
    /// Kit directory (display path).
    pub kit_dir: String,
    /// Why the kit directory cannot be read, if it cannot.
    pub kit_dir_error: Option<String>,
    /// The expected file.
    pub expected: FileInput,
    /// The expected file's path relative to the kit dir, when inside it.
    pub expected_in_kit: Option<String>,
    /// `<kit>/kustomization.yaml`.
    pub kustomization: FileInput,
    /// Slot files (`*.yaml` in the kit dir except the two above), sorted by name.
    pub slot_files: Vec<FileInput>,
    /// Every path under the kit dir, relative, `/`-separated (files and dirs).
    pub kit_paths: BTreeSet<String>,
    /// The cloud-init template.
    pub tftpl: FileInput,
    /// Charts directory (display path).
    pub charts_dir: String,
    /// `Chart.yaml` per chart directory name, or why the charts dir is unusable.
    pub charts: Result<BTreeMap<String, FileInput>, String>,
}

#[derive(Default)]
struct Out {
    lines: Vec<Line>,
    findings: Vec<Finding>,
}

impl Out {
    fn line(&mut self, level: Level, text: impl Into<String>) {
        self.lines.push(Line {
            level,
            text: text.into(),
        });
    }
    fn banner(&mut self, n: &str, title: &str) {
        self.line(Level::Banner, format!("Phase {n}: {title}"));
    }
    fn info(&mut self, text: impl Into<String>) {
        self.line(Level::Info, text);
    }
    fn ok(&mut self, text: impl Into<String>) {
        self.line(Level::Ok, text);
    }
    fn finding(
        &mut self,
        level: Severity,
        code: Code,
        hr: Option<&str>,
        file: Option<&str>,
        line: Option<usize>,
        message: String,
    ) {
        self.line(
            match level {
                Severity::Error => Level::Error,
                Severity::Warn => Level::Warn,
            },
            message.clone(),
        );
        self.findings.push(Finding {
            level,
            code,
            hr: hr.map(str::to_string),
            file: file.map(str::to_string),
            line,
            message,
        });
    }
    fn error(
        &mut self,
        code: Code,
        hr: Option<&str>,
        file: Option<&str>,
        line: Option<usize>,
        message: String,
    ) {
        self.finding(Severity::Error, code, hr, file, line, message);
    }
    fn warn(
        &mut self,
        code: Code,
        hr: Option<&str>,
        file: Option<&str>,
        line: Option<usize>,
        message: String,
    ) {
        self.finding(Severity::Warn, code, hr, file, line, message);
    }
    fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.level == Severity::Error)
            .count()
    }
}

struct Ctx<'a> {
    kit_dir: &'a str,
    expected_file: &'a str,
}

fn input_failure(mut out: Out, ctx: &Ctx<'_>, err: InputError) -> Report {
    let message = err.to_string();
    out.error(Code::Input, None, err.file_name(), err.line(), message);
    out.line(
        Level::Error,
        "bootstrap-kit dependency graph audit FAILED (exit 3)",
    );
    Report {
        kit_dir: ctx.kit_dir.to_string(),
        expected_file: ctx.expected_file.to_string(),
        lines: out.lines,
        findings: out.findings,
        counts: Counts::default(),
        nodes: Vec::new(),
        topological_order: Vec::new(),
        exit_code: 3,
    }
}

/// Parsed inputs after phases 1 and 2.
struct Parsed {
    expected: ExpectedDag,
    slot_files: Vec<SlotFile>,
    resources: Vec<Resource>,
    substitute_keys: Vec<SubstituteKey>,
    chart_versions: BTreeMap<String, (String, String)>, // chart -> (version, display)
}

/// Runs every phase. Input errors end the run after phase 1 or 2 with exit 3;
/// otherwise all phases run and the exit code is 2 for a cycle, else 1 for any
/// error, else 0.
pub fn audit(inputs: &Inputs) -> Report {
    let ctx = Ctx {
        kit_dir: &inputs.kit_dir,
        expected_file: &inputs.expected.display,
    };
    let mut out = Out::default();
    let parsed = match parse_inputs(inputs, &mut out) {
        Ok(p) => p,
        Err(e) => return input_failure(out, &ctx, e),
    };
    let present: BTreeMap<&str, &HelmReleaseDoc> = parsed
        .slot_files
        .iter()
        .flat_map(|f| &f.helmreleases)
        .map(|hr| (hr.name.as_str(), hr))
        .collect();

    phase_structure(inputs, &parsed, &present, &mut out);
    let (drift, deferred) = phase_drift(&ctx, &parsed, &present, &mut out);
    let (cycles, topological_order) = phase_cycles(&ctx, &parsed, &present, &mut out);
    phase_placeholders(inputs, &parsed, &mut out);
    let nodes = build_nodes(&parsed, &present);
    phase_dag(&nodes, &mut out);

    let counts = Counts {
        present: present.len(),
        declared: parsed.expected.slots.len(),
        deferred,
        drift,
        cycles,
    };
    let exit_code = if cycles > 0 {
        2
    } else if out.errors() > 0 {
        1
    } else {
        0
    };
    out.banner("6", "summary");
    out.info(format!("Present on disk:   {}", counts.present));
    out.info(format!("Declared expected: {}", counts.declared));
    out.info(format!("Deferred:          {}", counts.deferred));
    out.info(format!("Drift:             {}", counts.drift));
    out.info(format!("Cycles:            {}", counts.cycles));
    if exit_code == 0 {
        out.ok("bootstrap-kit dependency graph audit PASSED");
    } else {
        out.line(
            Level::Error,
            format!("bootstrap-kit dependency graph audit FAILED (exit {exit_code})"),
        );
    }
    Report {
        kit_dir: ctx.kit_dir.to_string(),
        expected_file: ctx.expected_file.to_string(),
        lines: out.lines,
        findings: out.findings,
        counts,
        nodes,
        topological_order,
        exit_code,
    }
}

fn parse_inputs(inputs: &Inputs, out: &mut Out) -> Result<Parsed, InputError> {
    out.banner("1", "parse expected DAG");
    let expected = parse_expected(&inputs.expected.display, inputs.expected.text()?)?;
    out.info(format!(
        "Loaded {} expected HRs from {}",
        expected.slots.len(),
        inputs.expected.display
    ));

    out.banner("2", "parse bootstrap-kit HelmReleases");
    if let Some(why) = &inputs.kit_dir_error {
        return Err(InputError::file(&inputs.kit_dir, why));
    }
    let mut slot_files = Vec::new();
    for f in &inputs.slot_files {
        slot_files.push(kit::parse_slot_file(&f.name, &f.display, f.text()?)?);
    }
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for hr in slot_files.iter().flat_map(|f| &f.helmreleases) {
        if let Some(first) = seen.insert(&hr.name, &hr.file) {
            return Err(InputError::Other(format!(
                "duplicate HelmRelease name '{}' in {first} and {}",
                hr.name, hr.file
            )));
        }
    }
    if seen.is_empty() {
        return Err(InputError::file(
            &inputs.kit_dir,
            "no HelmRelease in any slot file (*.yaml); is --kit-dir right?",
        ));
    }
    out.info(format!(
        "Parsed {} HelmRelease(s) across {} file(s)",
        seen.len(),
        slot_files.len()
    ));
    let resources =
        kit::parse_kustomization(&inputs.kustomization.display, inputs.kustomization.text()?)?;
    let substitute_keys =
        placeholder::substitute_keys(&inputs.tftpl.display, inputs.tftpl.text()?)?;
    let charts = inputs
        .charts
        .as_ref()
        .map_err(|why| InputError::file(&inputs.charts_dir, why))?;
    let mut chart_versions = BTreeMap::new();
    for (chart, file) in charts {
        let version = kit::parse_chart_version(&file.display, file.text()?)?;
        chart_versions.insert(chart.clone(), (version, file.display.clone()));
    }
    Ok(Parsed {
        expected,
        slot_files,
        resources,
        substitute_keys,
        chart_versions,
    })
}

fn non_cross_kind(hr: &HelmReleaseDoc) -> impl Iterator<Item = &kit::DependsOnRef> {
    hr.depends_on
        .iter()
        .filter(|d| d.kind.as_deref().is_none_or(|k| k == "HelmRelease"))
}

fn disk_deps(hr: &HelmReleaseDoc) -> BTreeSet<&str> {
    non_cross_kind(hr).map(|d| d.name.as_str()).collect()
}

fn phase_structure(
    inputs: &Inputs,
    parsed: &Parsed,
    present: &BTreeMap<&str, &HelmReleaseDoc>,
    out: &mut Out,
) {
    out.banner("2.5", "kit structure");
    let before = out.errors();
    let kit = &inputs.kit_dir;
    let kust = &inputs.kustomization.display;
    let listed: BTreeSet<&str> = parsed.resources.iter().map(Resource::normalized).collect();
    for f in &parsed.slot_files {
        if let Some(hr) = f.helmreleases.first()
            && !listed.contains(f.file_name.as_str())
        {
            out.error(
                Code::Unregistered,
                Some(&hr.name),
                Some(&f.display),
                Some(hr.line),
                format!(
                    "file {} contains HelmRelease '{}' but is not listed in {kust} resources",
                    f.display, hr.name
                ),
            );
        }
    }
    for r in &parsed.resources {
        let n = r.normalized();
        if n.contains("://") {
            continue;
        }
        if inputs.expected_in_kit.as_deref() == Some(n) {
            out.error(
                Code::ExpectedFileListed,
                None,
                Some(kust),
                Some(r.line),
                format!("{kust} must not list {}", inputs.expected.display),
            );
        } else if !inputs.kit_paths.contains(n.trim_end_matches('/')) {
            out.error(
                Code::MissingResource,
                None,
                Some(kust),
                Some(r.line),
                format!("{kust} lists '{}' but no such file exists", r.path),
            );
        }
    }
    for f in &parsed.slot_files {
        if f.helmreleases.len() > 1 {
            let names: Vec<&str> = f.helmreleases.iter().map(|h| h.name.as_str()).collect();
            out.error(
                Code::SlotMismatch,
                Some(names[0]),
                Some(&f.display),
                Some(f.helmreleases[1].line),
                format!(
                    "file {} holds {} HelmReleases ({}); a slot file holds exactly one",
                    f.display,
                    names.len(),
                    names.join(", ")
                ),
            );
        }
        for hr in &f.helmreleases {
            check_slot(hr, parsed, &inputs.expected.display, out);
            check_dependencies(hr, present, out);
            check_chart(hr, parsed, &inputs.charts_dir, out);
        }
    }
    if out.errors() == before {
        out.ok(format!(
            "kit structure consistent ({} slot file(s) in {kit})",
            parsed.slot_files.len()
        ));
    }
}

fn check_slot(hr: &HelmReleaseDoc, parsed: &Parsed, expected_file: &str, out: &mut Out) {
    let (n, f) = (hr.name.as_str(), hr.file.as_str());
    let mut err = |msg: String| out.error(Code::SlotMismatch, Some(n), Some(f), Some(hr.line), msg);
    let Some((prefix, rest)) = file_prefix(&hr.file_name) else {
        err(format!(
            "HR '{n}' (file {f}): file name is not <slot>-<x>.yaml (slot = two digits and an optional lower-case letter)"
        ));
        return;
    };
    match hr.slot_label.as_deref() {
        None => err(format!(
            "HR '{n}' (file {f}): missing label {} (expected \"{prefix}\")",
            kit::SLOT_LABEL
        )),
        Some(l) if l != prefix => err(format!(
            "HR '{n}' (file {f}): slot label \"{l}\" does not match file prefix \"{prefix}\""
        )),
        Some(_) => {}
    }
    if let Some(declared) = parsed.expected.get(n).and_then(|e| e.slot.as_ref())
        && SlotLabel::parse(prefix).is_none_or(|p| &p != declared)
    {
        err(format!(
            "HR '{n}' (file {f}): expected slot \"{}\" in {expected_file} does not match file prefix \"{prefix}\"",
            declared.display()
        ));
    }
    let want = n.strip_prefix("bp-").unwrap_or(n);
    if rest != want {
        err(format!(
            "HR '{n}' (file {f}): file name should be {prefix}-{want}.yaml (slot prefix, then the name without bp-)"
        ));
    }
}

fn check_dependencies(
    hr: &HelmReleaseDoc,
    present: &BTreeMap<&str, &HelmReleaseDoc>,
    out: &mut Out,
) {
    let (n, f) = (hr.name.as_str(), hr.file.as_str());
    for d in &hr.depends_on {
        if let Some(kind) = d.kind.as_deref().filter(|k| *k != "HelmRelease") {
            out.error(
                Code::CrossKindDependency,
                Some(n),
                Some(f),
                Some(d.line),
                format!(
                    "HR '{n}' (file {f}): dependsOn entry '{}' has kind {kind}; a HelmRelease can only wait for HelmReleases",
                    d.name
                ),
            );
            continue;
        }
        let ns = d.namespace.as_deref().unwrap_or(&hr.namespace);
        if let Some(target) = present.get(d.name.as_str())
            && target.namespace != ns
        {
            out.error(
                Code::NamespaceMismatch,
                Some(n),
                Some(f),
                Some(d.line),
                format!(
                    "HR '{n}' (file {f}): dependsOn '{ns}/{}' does not resolve: '{}' is in namespace '{}'",
                    d.name, d.name, target.namespace
                ),
            );
        }
    }
}

fn check_chart(hr: &HelmReleaseDoc, parsed: &Parsed, charts_dir: &str, out: &mut Out) {
    let Some(chart) = hr.chart.as_deref() else {
        return;
    };
    let Some((want, _)) = parsed.chart_versions.get(chart) else {
        return; // not a chart of this repository
    };
    let have = hr.version.as_deref().unwrap_or("(none)");
    if have != want {
        let (n, f) = (hr.name.as_str(), hr.file.as_str());
        out.error(
            Code::ChartVersion,
            Some(n),
            Some(f),
            Some(hr.line),
            format!(
                "HR '{n}' (file {f}): chart {chart} version {have} does not match {charts_dir}/{chart}/Chart.yaml version {want}"
            ),
        );
    }
}

fn join_set(s: &BTreeSet<&str>) -> String {
    s.iter().copied().collect::<Vec<_>>().join(" ")
}

fn slot_text(slot: Option<&SlotLabel>) -> String {
    slot.map_or_else(|| "??".to_string(), SlotLabel::display)
}

fn phase_drift(
    ctx: &Ctx<'_>,
    parsed: &Parsed,
    present: &BTreeMap<&str, &HelmReleaseDoc>,
    out: &mut Out,
) -> (usize, usize) {
    out.banner("3", "dependsOn drift vs expected");
    let before = out.errors();
    let exp_file = ctx.expected_file;
    for hr in parsed.slot_files.iter().flat_map(|f| &f.helmreleases) {
        let (n, f) = (hr.name.as_str(), hr.file.as_str());
        let disk = disk_deps(hr);
        match parsed.expected.get(n) {
            None => out.error(
                Code::Undeclared,
                Some(n),
                Some(f),
                Some(hr.line),
                format!(
                    "HR '{n}' (file {f}) is present on disk but NOT declared in {exp_file}. Add it to the expected DAG."
                ),
            ),
            Some(e) => {
                let declared: BTreeSet<&str> = e.depends_on.iter().map(String::as_str).collect();
                let missing: BTreeSet<&str> = declared.difference(&disk).copied().collect();
                let extra: BTreeSet<&str> = disk.difference(&declared).copied().collect();
                if !missing.is_empty() || !extra.is_empty() {
                    let mut details = Vec::new();
                    if !missing.is_empty() {
                        details.push(format!(
                            "missing edges (declared expected, NOT in HR): {}",
                            join_set(&missing)
                        ));
                    }
                    if !extra.is_empty() {
                        details.push(format!(
                            "extra edges (in HR, NOT declared expected): {}",
                            join_set(&extra)
                        ));
                    }
                    let head = format!("HR '{n}' (file {f}): dependsOn drift");
                    out.line(Level::Error, head.clone());
                    for d in &details {
                        out.line(Level::Detail, d.clone());
                    }
                    out.findings.push(Finding {
                        level: Severity::Error,
                        code: Code::Drift,
                        hr: Some(n.to_string()),
                        file: Some(f.to_string()),
                        line: Some(hr.line),
                        message: format!("{head}; {}", details.join("; ")),
                    });
                }
            }
        }
        for d in non_cross_kind(hr) {
            if present.contains_key(d.name.as_str()) {
                continue;
            }
            if let Some(e) = parsed.expected.get(&d.name) {
                out.error(
                    Code::DeferredDependency,
                    Some(n),
                    Some(f),
                    Some(d.line),
                    format!(
                        "HR '{n}' depends on '{}', which is declared but not on disk (deferred to {})",
                        d.name, e.wave
                    ),
                );
            }
        }
    }
    let mut deferred = 0;
    for e in &parsed.expected.slots {
        if present.contains_key(e.name.as_str()) {
            continue;
        }
        let slot = slot_text(e.slot.as_ref());
        if e.wave == Wave::Present {
            out.error(
                Code::Drift,
                Some(&e.name),
                Some(exp_file),
                e.line,
                format!(
                    "HR '{}' (slot {slot}) is declared wave present in {exp_file} but no slot file holds it; add its slot file or move it to a later wave",
                    e.name
                ),
            );
        } else {
            deferred += 1;
            out.warn(
                Code::Deferred,
                Some(&e.name),
                Some(exp_file),
                e.line,
                format!(
                    "HR '{}' (slot {slot}, wave {}) declared expected but not yet on disk — will be added by {}",
                    e.name, e.wave, e.wave
                ),
            );
        }
    }
    let drift = out.errors() - before;
    if drift > 0 {
        out.line(
            Level::Error,
            format!(
                "{drift} drift(s) detected between {} and {exp_file}",
                ctx.kit_dir
            ),
        );
    } else {
        out.ok(format!(
            "no drift between {} and {exp_file} ({deferred} deferred)",
            ctx.kit_dir
        ));
    }
    (drift, deferred)
}

fn phase_cycles(
    ctx: &Ctx<'_>,
    parsed: &Parsed,
    present: &BTreeMap<&str, &HelmReleaseDoc>,
    out: &mut Out,
) -> (usize, Vec<String>) {
    out.banner("4", "cycle detection");
    let mut disk = Graph::new();
    for hr in parsed.slot_files.iter().flat_map(|f| &f.helmreleases) {
        disk.add_node(&hr.name);
        for d in non_cross_kind(hr) {
            if present.contains_key(d.name.as_str()) {
                disk.add_edge(&hr.name, &d.name);
            } else if parsed.expected.get(&d.name).is_none() {
                out.error(
                    Code::UnknownDependency,
                    Some(&hr.name),
                    Some(&hr.file),
                    Some(d.line),
                    format!("HR '{}' depends on unknown HR '{}'", hr.name, d.name),
                );
            }
        }
    }
    let mut expected = Graph::new();
    for e in &parsed.expected.slots {
        expected.add_node(&e.name);
        for d in &e.depends_on {
            if parsed.expected.get(d).is_some() {
                expected.add_edge(&e.name, d);
            } else {
                out.error(
                    Code::UnknownDependency,
                    Some(&e.name),
                    Some(ctx.expected_file),
                    e.line,
                    format!(
                        "HR '{}' depends on unknown HR '{d}' (not declared in {})",
                        e.name, ctx.expected_file
                    ),
                );
            }
        }
    }
    let mut cycles = 0;
    for (graph, label, file) in [
        (&expected, "expected graph", Some(ctx.expected_file)),
        (&disk, "on-disk graph", None),
    ] {
        for c in graph.cycles() {
            cycles += 1;
            let file = file.or_else(|| present.get(c[0].as_str()).map(|h| h.file.as_str()));
            out.error(
                Code::Cycle,
                Some(&c[0]),
                file,
                None,
                format!("dependency cycle in the {label}: {}", format_cycle(&c)),
            );
        }
    }
    let order = disk.topological_order();
    if cycles == 0 {
        out.ok(format!(
            "no cycles ({} HRs topologically ordered)",
            order.len()
        ));
    }
    (cycles, order)
}

/// Line of the `k`-th occurrence (0-based) of `token` in non-comment lines
/// of `first..=last`.
fn occurrence_line(lines: &[&str], first: usize, last: usize, token: &str, k: usize) -> usize {
    let mut hits = Vec::new();
    for n in first..=last.min(lines.len()) {
        let l = lines[n - 1];
        if l.trim_start().starts_with('#') {
            continue;
        }
        hits.extend(std::iter::repeat_n(n, l.matches(token).count()));
    }
    hits.get(k).or(hits.last()).copied().unwrap_or(first)
}

fn phase_placeholders(inputs: &Inputs, parsed: &Parsed, out: &mut Out) {
    out.banner("4.5", "envsubst placeholders vs cloud-init");
    let before = out.errors();
    let tftpl = &inputs.tftpl.display;
    let keys: BTreeSet<&str> = parsed
        .substitute_keys
        .iter()
        .map(|k| k.name.as_str())
        .collect();
    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut required: BTreeSet<String> = BTreeSet::new();
    for f in &parsed.slot_files {
        let lines = yaml::lines_of(&f.text);
        for doc in f
            .documents
            .iter()
            .filter(|d| !kit::substitution_disabled(d))
        {
            let hr = yaml::get_str(&doc.value, &["metadata", "name"]);
            let mut strings = Vec::new();
            placeholder::strings_of(&doc.value, &mut strings);
            let mut seen: BTreeMap<String, usize> = BTreeMap::new();
            for p in strings.iter().flat_map(|s| placeholder::scan(s)) {
                let text = p.text();
                let k = seen.entry(text.clone()).or_default();
                let line = occurrence_line(&lines, doc.first_line, doc.last_line, &text, *k);
                *k += 1;
                match &p {
                    Placeholder::Required { name } => {
                        used.insert(name.clone());
                        required.insert(name.clone());
                        if !keys.contains(name.as_str()) {
                            out.error(
                                Code::MissingSubstitute,
                                hr,
                                Some(&f.display),
                                Some(line),
                                format!(
                                    "placeholder {text} ({}:{line}) has no default and is not a key of postBuild.substitute in {tftpl}",
                                    f.display
                                ),
                            );
                        }
                    }
                    Placeholder::Defaulted { name, .. } => {
                        used.insert(name.clone());
                    }
                    Placeholder::Unsupported { .. } => out.error(
                        Code::UnsupportedPlaceholder,
                        hr,
                        Some(&f.display),
                        Some(line),
                        format!(
                            "unsupported envsubst form {text} ({}:{line}); use ${{NAME}}, ${{NAME:=default}} or ${{NAME:-default}}, or $${{…}} for a literal",
                            f.display
                        ),
                    ),
                }
            }
        }
    }
    for k in &parsed.substitute_keys {
        if !used.contains(&k.name) {
            out.warn(
                Code::UnusedSubstitute,
                None,
                Some(tftpl),
                Some(k.line),
                format!(
                    "substitute key {} in {tftpl} is not used by any slot",
                    k.name
                ),
            );
        }
    }
    if out.errors() == before {
        out.ok(format!(
            "{} placeholder name(s) without default, all provided by {tftpl}",
            required.len()
        ));
    }
}

fn build_nodes(parsed: &Parsed, present: &BTreeMap<&str, &HelmReleaseDoc>) -> Vec<Node> {
    let mut names: BTreeSet<&str> = present.keys().copied().collect();
    names.extend(parsed.expected.slots.iter().map(|e| e.name.as_str()));
    names
        .into_iter()
        .map(|name| {
            let hr = present.get(name);
            let e = parsed.expected.get(name);
            let slot = hr
                .and_then(|h| file_prefix(&h.file_name))
                .map(|(p, _)| p.to_string())
                .or_else(|| e.and_then(|e| e.slot.as_ref()).map(SlotLabel::display));
            Node {
                name: name.to_string(),
                slot,
                wave: e.map_or(Wave::Present, |e| e.wave).to_string(),
                present: hr.is_some(),
                file: hr.map(|h| h.file.clone()),
                namespace: hr.map(|h| h.namespace.clone()),
                target_namespace: hr.and_then(|h| h.target_namespace.clone()),
                depends_on: hr.map(|h| disk_deps(h).into_iter().map(str::to_string).collect()),
                expected_depends_on: e.map(|e| e.depends_on.iter().cloned().collect()),
            }
        })
        .collect()
}

/// Sort key of a node in the DAG printout: slot, then name.
fn slot_order(n: &Node) -> (Option<SlotLabel>, &str) {
    (n.slot.as_deref().and_then(SlotLabel::parse), &n.name)
}

fn phase_dag(nodes: &[Node], out: &mut Out) {
    out.banner("5", "dependency DAG");
    for wave in Wave::ALL {
        let mut in_wave: Vec<&Node> = nodes.iter().filter(|n| n.wave == wave.as_str()).collect();
        if in_wave.is_empty() {
            continue;
        }
        in_wave.sort_by(|a, b| slot_order(a).cmp(&slot_order(b)));
        out.info(format!("wave {wave}:"));
        for n in in_wave {
            let marker = if n.present { "[P]" } else { "[.]" };
            let slot = n.slot.as_deref().unwrap_or("??");
            let deps = n.effective_depends_on();
            let tail = if deps.is_empty() {
                "(root, no deps)".to_string()
            } else {
                format!("<-- {}", deps.join(" "))
            };
            out.info(format!("{marker} slot {slot}  {:<26} {tail}", n.name));
        }
    }
}
