//! Reading an OpenTofu module: `variable` blocks, `locals`, resource headers.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use hcl_edit::Span as _;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block, BlockLabel, Body};

use crate::error::{Error, Location, Result, SourceFile};

/// Where module files come from (the real file system, or memory in tests).
pub trait Files {
    /// Reads a whole file.
    fn read(&self, path: &Path) -> io::Result<String>;
    /// The names of the regular files directly in `dir`, sorted.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
}

/// The real file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFiles;

impl Files for RealFiles {
    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        Ok(names)
    }
}

/// In-memory files keyed by path, for tests.
#[derive(Debug, Clone, Default)]
pub struct MemFiles(pub BTreeMap<PathBuf, String>);

impl Files for MemFiles {
    fn read(&self, path: &Path) -> io::Result<String> {
        self.0
            .get(&normalize(path))
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "No such file or directory"))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let dir = normalize(dir);
        Ok(self
            .0
            .keys()
            .filter(|p| p.parent() == Some(dir.as_path()))
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect())
    }
}

/// Removes `.` components so `dir/./x` and `dir/x` are the same key.
pub fn normalize(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

/// A `variable` block.
#[derive(Debug)]
pub struct Variable {
    /// The variable's name.
    pub name: String,
    /// Index into [`Module::files`].
    pub file: usize,
    /// The block's span.
    pub span: Option<Range<usize>>,
    /// `type = …`.
    pub type_expr: Option<Expression>,
    /// `default = …`.
    pub default: Option<Expression>,
    /// `validation { condition, error_message }` blocks.
    pub validations: Vec<Validation>,
}

/// A `validation` block.
#[derive(Debug)]
pub struct Validation {
    /// Must evaluate to `true`.
    pub condition: Expression,
    /// Shown when it does not.
    pub error_message: Expression,
}

/// One `locals` entry.
#[derive(Debug)]
pub struct Local {
    /// Index into [`Module::files`].
    pub file: usize,
    /// The value expression.
    pub expr: Expression,
}

/// A parsed module.
#[derive(Debug)]
pub struct Module {
    /// The module directory on disk.
    pub dir: PathBuf,
    /// The directory as shown in messages (`infra/hetzner`).
    pub display: String,
    /// The `.tf` files, sorted by name.
    pub files: Vec<SourceFile>,
    /// Their parsed bodies, same order.
    pub bodies: Vec<Body>,
    /// Declared variables in declaration order.
    pub variables: Vec<Variable>,
    /// Locals by name.
    pub locals: BTreeMap<String, Local>,
    /// Resource types declared by `resource` blocks.
    pub resource_types: BTreeSet<String>,
}

/// Parses HCL, turning hcl-edit's error into a located one-line error.
pub fn parse_body(file: &SourceFile) -> Result<Body> {
    hcl_edit::parser::parse_body(&file.text).map_err(|e| parse_error(file, &e))
}

/// A located one-line error for an hcl-edit parse error.
pub fn parse_error(file: &SourceFile, e: &hcl_edit::parser::Error) -> Error {
    let loc = e.location();
    Error::at(
        Some(Location {
            file: file.name.clone(),
            line: loc.line(),
            column: loc.column(),
        }),
        format!("syntax error: {}", one_line(e.message())),
    )
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn label(l: &BlockLabel) -> &str {
    match l {
        BlockLabel::Ident(i) => i.as_str(),
        BlockLabel::String(s) => s.as_str(),
    }
}

impl Module {
    /// Reads every `*.tf` file in `dir`.
    pub fn load(dir: &Path, display: &str, files: &dyn Files) -> Result<Module> {
        let names = files.list(dir).map_err(|source| Error::Io {
            path: display.to_string(),
            source,
        })?;
        let mut module = Module {
            dir: dir.to_path_buf(),
            display: display.to_string(),
            files: Vec::new(),
            bodies: Vec::new(),
            variables: Vec::new(),
            locals: BTreeMap::new(),
            resource_types: BTreeSet::new(),
        };
        for name in names.iter().filter(|n| n.ends_with(".tf")) {
            let shown = join_display(display, name);
            let text = files.read(&dir.join(name)).map_err(|source| Error::Io {
                path: shown.clone(),
                source,
            })?;
            let source = SourceFile::new(shown, text);
            let body = parse_body(&source)?;
            module.files.push(source);
            module.bodies.push(body);
        }
        if module.files.is_empty() {
            return Err(Error::msg(format!(
                "{display}: no .tf files found; pass the module directory with --module"
            )));
        }
        let bodies = std::mem::take(&mut module.bodies);
        for (file, body) in bodies.iter().enumerate() {
            for block in body.blocks() {
                module.collect(file, block)?;
            }
        }
        module.bodies = bodies;
        Ok(module)
    }

    fn location(&self, file: usize, span: Option<Range<usize>>) -> Option<Location> {
        self.files[file].span_location(span)
    }

    fn collect(&mut self, file: usize, block: &Block) -> Result<()> {
        match block.ident.as_str() {
            "variable" => {
                let [name] = block.labels.as_slice() else {
                    return Err(Error::at(
                        self.location(file, block.span()),
                        "a variable block needs exactly one label (its name)",
                    ));
                };
                let name = label(name).to_string();
                if self.variables.iter().any(|v| v.name == name) {
                    return Err(Error::at(
                        self.location(file, block.span()),
                        format!("duplicate variable \"{name}\""),
                    ));
                }
                let attr = |key: &str| block.body.get_attribute(key).map(|a| a.value.clone());
                let mut validations = Vec::new();
                for v in block.body.get_blocks("validation") {
                    let (Some(condition), Some(error_message)) = (
                        v.body.get_attribute("condition"),
                        v.body.get_attribute("error_message"),
                    ) else {
                        return Err(Error::at(
                            self.location(file, v.span()),
                            format!(
                                "validation of variable \"{name}\" needs condition and error_message"
                            ),
                        ));
                    };
                    validations.push(Validation {
                        condition: condition.value.clone(),
                        error_message: error_message.value.clone(),
                    });
                }
                self.variables.push(Variable {
                    name,
                    file,
                    span: block.span(),
                    type_expr: attr("type"),
                    default: attr("default"),
                    validations,
                });
            }
            "locals" => {
                for a in block.body.attributes() {
                    let name = a.key.as_str().to_string();
                    if self.locals.contains_key(&name) {
                        return Err(Error::at(
                            self.location(file, a.span()),
                            format!("duplicate local value \"{name}\""),
                        ));
                    }
                    self.locals.insert(
                        name,
                        Local {
                            file,
                            expr: a.value.clone(),
                        },
                    );
                }
            }
            "resource" | "data" => {
                if let (Some(t), "resource") = (block.labels.first(), block.ident.as_str()) {
                    self.resource_types.insert(label(t).to_string());
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The declared variable of that name.
    pub fn variable(&self, name: &str) -> Option<&Variable> {
        self.variables.iter().find(|v| v.name == name)
    }

    /// `true` when `name` roots an unknown-before-apply traversal (a declared
    /// resource type, or `data`).
    pub fn is_resource_root(&self, name: &str) -> bool {
        name == "data" || self.resource_types.contains(name)
    }
}

/// `dir/name` for messages, without a leading `./`.
pub fn join_display(dir: &str, name: &str) -> String {
    let dir = dir.trim_end_matches('/');
    if dir.is_empty() || dir == "." {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem(files: &[(&str, &str)]) -> MemFiles {
        MemFiles(
            files
                .iter()
                .map(|(p, t)| (PathBuf::from(p), (*t).to_string()))
                .collect(),
        )
    }

    #[test]
    fn collects_variables_locals_and_resource_types() {
        let files = mem(&[
            (
                "m/variables.tf",
                "variable \"a\" {\n  type = string\n  default = \"x\"\n  validation {\n    condition = var.a != \"\"\n    error_message = \"no\"\n  }\n}\nvariable \"b\" {}\n",
            ),
            (
                "m/main.tf",
                "locals {\n  x = 1\n}\nlocals {\n  y = local.x\n}\nresource \"hcloud_server\" \"s\" {}\ndata \"hcloud_image\" \"i\" {}\n",
            ),
            ("m/notes.txt", "ignored"),
        ]);
        let m = Module::load(Path::new("m"), "m", &files).unwrap();
        assert_eq!(m.files.len(), 2);
        assert_eq!(
            m.variables
                .iter()
                .map(|v| v.name.as_str())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(m.variable("a").unwrap().validations.len(), 1);
        assert!(m.variable("b").unwrap().default.is_none());
        assert_eq!(m.locals.keys().collect::<Vec<_>>(), ["x", "y"]);
        assert!(m.is_resource_root("hcloud_server"));
        assert!(m.is_resource_root("data"));
        assert!(!m.is_resource_root("hcloud_image"));
    }

    #[test]
    fn duplicate_locals_and_variables_fail_with_location() {
        let files = mem(&[("m/main.tf", "locals {\n  x = 1\n}\nlocals {\n  x = 2\n}\n")]);
        let e = Module::load(Path::new("m"), "m", &files).unwrap_err();
        assert_eq!(e.to_string(), "m/main.tf:5:3: duplicate local value \"x\"");
        let files = mem(&[("m/v.tf", "variable \"a\" {}\nvariable \"a\" {}\n")]);
        let e = Module::load(Path::new("m"), "m", &files).unwrap_err();
        assert!(e.to_string().starts_with("m/v.tf:2:1: duplicate variable"));
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let files = mem(&[("m/main.tf", "locals {\n  x = (\n}\n")]);
        let e = Module::load(Path::new("m"), "m", &files).unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("m/main.tf:3:"), "{text}");
        assert!(text.contains("syntax error"), "{text}");
        assert!(!text.contains('\n'));
    }

    #[test]
    fn empty_module_dir_is_an_error() {
        let e = Module::load(Path::new("m"), "m", &MemFiles::default()).unwrap_err();
        assert!(e.to_string().contains("no .tf files"));
    }

    #[test]
    fn validation_without_condition_fails() {
        let files = mem(&[(
            "m/v.tf",
            "variable \"a\" {\n  validation {\n    error_message = \"x\"\n  }\n}\n",
        )]);
        let e = Module::load(Path::new("m"), "m", &files).unwrap_err();
        assert!(e.to_string().contains("needs condition and error_message"));
    }
}
