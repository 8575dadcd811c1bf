//! The table of Terraform outputs every implemented function and template
//! rule is checked against (`tests/data/terraform-recorded.json`). Each case
//! is an expression `E` and the string Terraform produced for
//! `jsonencode(E)`; templates referenced by `templatefile()` cases ship in
//! the same file. The same table drives the offline unit test (our engine)
//! and the golden test (a live Terraform).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// One recorded case.
#[derive(Debug, Clone, Deserialize)]
pub struct Case {
    /// The HCL expression.
    pub expr: String,
    /// Terraform's `jsonencode(expr)`.
    pub json: String,
}

/// The whole table.
#[derive(Debug, Clone, Deserialize)]
pub struct Table {
    /// Which Terraform produced it.
    pub recorded_with: String,
    /// Template files by name.
    pub templates: BTreeMap<String, String>,
    /// The cases, in order; case `i` is `local.c<i>` / `output.c<i>`.
    pub cases: Vec<Case>,
}

/// The table shipped with this crate.
pub fn default_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/terraform-recorded.json")
}

impl Table {
    /// Reads a table.
    pub fn load(path: &Path) -> Result<Table, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn wrapped(&self, i: usize) -> String {
        // Newlines around the expression let heredocs end on their own line.
        format!("jsonencode(\n{}\n  )", self.cases[i].expr)
    }

    /// `locals { c<i> = jsonencode(<expr>) … }` for our engine.
    pub fn locals_tf(&self) -> String {
        let mut s = String::from("locals {\n");
        for i in 0..self.cases.len() {
            s.push_str(&format!("  c{i} = {}\n", self.wrapped(i)));
        }
        s.push_str("}\n");
        s
    }

    /// `output "c<i>" { value = jsonencode(<expr>) }` for Terraform.
    pub fn outputs_tf(&self) -> String {
        (0..self.cases.len())
            .map(|i| format!("output \"c{i}\" {{\n  value = {}\n}}\n", self.wrapped(i)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_loads_and_renders_both_forms() {
        let t = Table::load(&default_path()).unwrap();
        assert!(t.recorded_with.starts_with("Terraform "));
        assert!(t.locals_tf().starts_with("locals {\n  c0 = jsonencode(\n"));
        assert!(
            t.outputs_tf()
                .contains("output \"c1\" {\n  value = jsonencode(\n")
        );
        hcl_edit::parser::parse_body(&t.locals_tf()).unwrap();
        hcl_edit::parser::parse_body(&t.outputs_tf()).unwrap();
    }

    #[test]
    fn a_missing_table_is_a_clear_error() {
        let e = Table::load(Path::new("/nonexistent.json")).unwrap_err();
        assert!(e.starts_with("/nonexistent.json: "));
    }
}
