//! Reads the audit's inputs from disk into [`Inputs`]. Unreadable files are
//! recorded, not raised: the audit reports them in the phase that needs them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use crate::audit::{FileInput, Inputs};

/// Where the inputs are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// Paths are shown relative to this directory when under it.
    pub root: PathBuf,
    /// The kit directory.
    pub kit_dir: PathBuf,
    /// The expected DAG file.
    pub expected: PathBuf,
    /// The cloud-init template.
    pub tftpl: PathBuf,
    /// The charts directory.
    pub charts_dir: PathBuf,
    /// `--charts-dir` was given (a missing dir is then an error, not "no local charts").
    pub charts_dir_explicit: bool,
}

impl Paths {
    /// The defaults under `root`: `bootstrap-kit/`, its expected file,
    /// `infra/hetzner/cloudinit-control-plane.tftpl`, `charts/`.
    pub fn defaults(root: &Path) -> Paths {
        Paths {
            root: root.to_path_buf(),
            kit_dir: root.join("bootstrap-kit"),
            expected: root.join("bootstrap-kit/expected-bootstrap-deps.yaml"),
            tftpl: root.join("infra/hetzner/cloudinit-control-plane.tftpl"),
            charts_dir: root.join("charts"),
            charts_dir_explicit: false,
        }
    }
}

/// `path` relative to `root` when under it, `/`-separated, without a trailing `/`.
pub fn display(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let s = rel.to_string_lossy().replace('\\', "/");
    let s = s.trim_end_matches('/');
    if s.is_empty() {
        ".".to_string()
    } else {
        s.to_string()
    }
}

fn base_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn read(root: &Path, path: &Path, what: &str, flag: &str) -> FileInput {
    let content = match fs::read_to_string(path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("{what} not found; pass {flag}"))
        }
        Err(e) => Err(format!("cannot read {what}: {e}")),
    };
    FileInput {
        name: base_name(path),
        display: display(root, path),
        content,
    }
}

fn walk(dir: &Path, prefix: &str, depth: usize, out: &mut BTreeSet<String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        out.insert(rel.clone());
        if is_dir && depth > 0 {
            walk(&entry.path(), &rel, depth - 1, out);
        }
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Reads every input.
pub fn load(paths: &Paths) -> Inputs {
    let root = &paths.root;
    let kit_display = display(root, &paths.kit_dir);
    let expected = read(
        root,
        &paths.expected,
        "expected DAG file",
        "--expected FILE",
    );
    let kit_dir_error = match fs::metadata(&paths.kit_dir) {
        Ok(m) if m.is_dir() => None,
        Ok(_) => Some("is not a directory; pass --kit-dir DIR".to_string()),
        Err(_) => Some("kit directory not found; pass --kit-dir DIR".to_string()),
    };
    let expected_in_kit = paths
        .expected
        .parent()
        .filter(|p| same_file(p, &paths.kit_dir))
        .map(|_| base_name(&paths.expected));

    let mut slot_files = Vec::new();
    let mut kit_paths = BTreeSet::new();
    if kit_dir_error.is_none() {
        walk(&paths.kit_dir, "", 8, &mut kit_paths);
        let mut names: Vec<PathBuf> = fs::read_dir(&paths.kit_dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.is_file())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        for p in names {
            let name = base_name(&p);
            if !name.ends_with(".yaml")
                || name == "kustomization.yaml"
                || same_file(&p, &paths.expected)
            {
                continue;
            }
            slot_files.push(read(root, &p, "slot file", "a readable file"));
        }
    }
    let kustomization = read(
        root,
        &paths.kit_dir.join("kustomization.yaml"),
        "kustomization.yaml",
        "a kit directory that has one",
    );
    let tftpl = read(root, &paths.tftpl, "cloud-init template", "--tftpl FILE");

    let charts = match fs::read_dir(&paths.charts_dir) {
        Ok(rd) => {
            let mut m = BTreeMap::new();
            let mut dirs: Vec<PathBuf> = rd
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect();
            dirs.sort();
            for d in dirs {
                let chart_yaml = d.join("Chart.yaml");
                if chart_yaml.is_file() {
                    m.insert(
                        base_name(&d),
                        read(root, &chart_yaml, "Chart.yaml", "a readable file"),
                    );
                }
            }
            Ok(m)
        }
        Err(_) if !paths.charts_dir_explicit => Ok(BTreeMap::new()),
        Err(_) => Err("charts directory not found; pass --charts-dir DIR".to_string()),
    };

    Inputs {
        kit_dir: kit_display,
        kit_dir_error,
        expected,
        expected_in_kit,
        kustomization,
        slot_files,
        kit_paths,
        tftpl,
        charts_dir: display(root, &paths.charts_dir),
        charts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_paths() {
        let root = Path::new("/r");
        assert_eq!(
            display(root, Path::new("/r/bootstrap-kit/")),
            "bootstrap-kit"
        );
        assert_eq!(
            display(root, Path::new("/elsewhere/x.yaml")),
            "/elsewhere/x.yaml"
        );
        assert_eq!(display(root, Path::new("/r")), ".");
    }

    #[test]
    fn loads_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let kit = root.join("kit");
        fs::create_dir_all(kit.join("sub")).unwrap();
        fs::write(kit.join("kustomization.yaml"), "resources: []\n").unwrap();
        fs::write(kit.join("expected.yaml"), "slots: []\n").unwrap();
        fs::write(kit.join("02-b.yaml"), "b\n").unwrap();
        fs::write(kit.join("01-a.yaml"), "a\n").unwrap();
        fs::write(kit.join("notes.md"), "x\n").unwrap();
        fs::write(kit.join("sub/x.yaml"), "x\n").unwrap();
        let paths = Paths {
            root: root.to_path_buf(),
            kit_dir: kit.clone(),
            expected: kit.join("expected.yaml"),
            tftpl: root.join("missing.tftpl"),
            charts_dir: root.join("charts"),
            charts_dir_explicit: false,
        };
        let inp = load(&paths);
        assert_eq!(inp.kit_dir, "kit");
        assert!(inp.kit_dir_error.is_none());
        assert_eq!(inp.expected_in_kit.as_deref(), Some("expected.yaml"));
        let names: Vec<&str> = inp.slot_files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["01-a.yaml", "02-b.yaml"]);
        assert_eq!(inp.slot_files[0].display, "kit/01-a.yaml");
        assert!(inp.kit_paths.contains("sub/x.yaml"));
        assert!(inp.kit_paths.contains("sub"));
        assert_eq!(
            inp.tftpl.content,
            Err("cloud-init template not found; pass --tftpl FILE".to_string())
        );
        assert_eq!(inp.charts, Ok(BTreeMap::new()));

        let explicit = Paths {
            charts_dir_explicit: true,
            ..paths.clone()
        };
        assert!(load(&explicit).charts.is_err());

        fs::create_dir_all(root.join("charts/c1")).unwrap();
        fs::create_dir_all(root.join("charts/not-a-chart")).unwrap();
        fs::write(root.join("charts/c1/Chart.yaml"), "version: 1.0.0\n").unwrap();
        let inp = load(&paths);
        let charts = inp.charts.unwrap();
        assert_eq!(charts.keys().collect::<Vec<_>>(), ["c1"]);
        assert_eq!(charts["c1"].display, "charts/c1/Chart.yaml");

        let missing = Paths {
            kit_dir: root.join("nope"),
            ..paths
        };
        let inp = load(&missing);
        assert!(inp.kit_dir_error.unwrap().contains("not found"));
        assert!(inp.slot_files.is_empty());
    }
}
