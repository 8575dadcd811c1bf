//! Rendering every region's control-plane user_data, exactly as OpenTofu
//! passes it to `hcloud_server.user_data`, then checking it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::checks::{self, Rendered};
use crate::error::{Error, Result, SourceFile};
use crate::eval::{Evaluator, TemplateCall};
use crate::module::{Files, Module, join_display};
use crate::value::Value;
use crate::vars::{self, Input};

/// The local holding the primary's user_data.
pub const PRIMARY_LOCAL: &str = "cp_cloud_init_primary";
/// The local holding the secondaries' user_data, keyed by region key.
pub const SECONDARY_LOCAL: &str = "cp_cloud_init_secondary";

/// What to render.
#[derive(Debug, Clone)]
pub struct Options {
    /// The module directory.
    pub module_dir: PathBuf,
    /// How to show it in messages.
    pub module_display: String,
    /// `--var-file`/`--var` in command-line order.
    pub inputs: Vec<Input>,
    /// The environment (`TF_VAR_*` is read).
    pub env: Vec<(String, String)>,
}

/// One region's result.
#[derive(Debug, Clone)]
pub struct Region {
    /// `fsn1`, `hel1-1`, …
    pub key: String,
    /// `true` for the primary.
    pub primary: bool,
    /// The exact user_data.
    pub user_data: String,
    /// The evaluated `templatefile()` argument map.
    pub vars: BTreeMap<String, Value>,
}

/// Every region, primary first then secondaries by key.
#[derive(Debug, Clone)]
pub struct Rendering {
    /// The regions.
    pub regions: Vec<Region>,
    /// Non-fatal findings, one line each.
    pub warnings: Vec<String>,
}

impl Rendering {
    /// The region keys, primary first.
    pub fn keys(&self) -> Vec<String> {
        self.regions.iter().map(|r| r.key.clone()).collect()
    }

    /// One region by key, or the unknown-key error listing the known keys.
    pub fn region(&self, key: &str) -> Result<&Region> {
        self.regions
            .iter()
            .find(|r| r.key == key)
            .ok_or_else(|| Error::UnknownRegion {
                key: key.to_string(),
                known: self.keys(),
            })
    }
}

fn string_of(v: &Value, what: &str) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(Error::msg(format!(
            "{what} must be a string, got {}",
            other.type_name()
        ))),
    }
}

fn call_for(
    calls: &[TemplateCall],
    key_path: &[String],
    what: &str,
) -> Result<BTreeMap<String, Value>> {
    let mut matching = calls.iter().filter(|c| c.key_path == key_path);
    match (matching.next(), matching.next()) {
        (Some(c), None) => Ok(c.vars.clone()),
        (None, _) => Err(Error::msg(format!(
            "{what} does not call templatefile(); main.tf must render it with templatefile()"
        ))),
        (Some(_), Some(_)) => Err(Error::msg(format!(
            "{what} calls templatefile() more than once; main.tf must use exactly one call per control-plane kind"
        ))),
    }
}

/// Check 6: `regions[0]` must be the primary (`provider = "hetzner"`, `cloudRegion = var.region`).
fn check_primary_entry(vars: &BTreeMap<String, Value>) -> Result<()> {
    let (Some(Value::List(regions)), Some(Value::String(region))) =
        (vars.get("regions"), vars.get("region"))
    else {
        return Ok(());
    };
    let Some(first) = regions.first() else {
        return Ok(());
    };
    let get = |k: &str| match first {
        Value::Object(m) => m.get(k).and_then(Value::as_string_lossless),
        _ => None,
    };
    if get("provider").as_deref() != Some("hetzner")
        || get("cloudRegion").as_deref() != Some(region)
    {
        return Err(Error::msg(format!(
            "regions[0] must be the primary {{provider = \"hetzner\", cloudRegion = \"{region}\"}}, got provider {:?}, cloudRegion {:?}",
            get("provider").unwrap_or_default(),
            get("cloudRegion").unwrap_or_default()
        )));
    }
    Ok(())
}

/// Lints every `*.tftpl` in the module.
pub fn lint_templates(module_dir: &Path, display: &str, files: &dyn Files) -> Result<()> {
    let names = files.list(module_dir).map_err(|source| Error::Io {
        path: display.to_string(),
        source,
    })?;
    for name in names.iter().filter(|n| n.ends_with(".tftpl")) {
        let shown = join_display(display, name);
        let text = files
            .read(&module_dir.join(name))
            .map_err(|source| Error::Io {
                path: shown.clone(),
                source,
            })?;
        checks::lint_template(&SourceFile::new(shown, text))?;
    }
    Ok(())
}

/// Loads, evaluates and checks every region.
pub fn render(opts: &Options, files: &dyn Files) -> Result<Rendering> {
    let module = Module::load(&opts.module_dir, &opts.module_display, files)?;
    lint_templates(&opts.module_dir, &opts.module_display, files)?;
    let resolved = vars::resolve(&module, files, &opts.env, &opts.inputs)?;
    check_primary_entry(&resolved.vars)?;
    let primary_key = match resolved.vars.get("region") {
        Some(Value::String(s)) => s.clone(),
        _ => {
            return Err(Error::msg(format!(
                "{}: variable \"region\" (the primary's location) must be declared as a string",
                module.display
            )));
        }
    };
    let mut warnings = resolved.warnings.clone();
    if resolved.vars.get("sovereign_deployment_id") == Some(&Value::string("")) {
        warnings.push(
            "sovereign_deployment_id is empty; the emitter will refuse to start (config: FLOW_ID is required)".into(),
        );
    }
    let ev = Evaluator::new(&module, files, resolved.vars, resolved.overrides);
    let mut regions = Vec::new();

    let primary = ev.local(PRIMARY_LOCAL, None)?;
    let primary_vars = call_for(&ev.take_calls(), &[], &format!("local.{PRIMARY_LOCAL}"))?;
    regions.push(Region {
        key: primary_key,
        primary: true,
        user_data: string_of(&primary, &format!("local.{PRIMARY_LOCAL}"))?,
        vars: primary_vars,
    });

    let secondary = ev.local(SECONDARY_LOCAL, None)?;
    let calls = ev.take_calls();
    let Value::Object(secondary) = secondary else {
        return Err(Error::msg(format!(
            "local.{SECONDARY_LOCAL} must be a map of region key to user_data, got {}",
            secondary.type_name()
        )));
    };
    for (key, user_data) in secondary {
        let what = format!("local.{SECONDARY_LOCAL}[\"{key}\"]");
        let vars = call_for(&calls, std::slice::from_ref(&key), &what)?;
        regions.push(Region {
            user_data: string_of(&user_data, &what)?,
            key,
            primary: false,
            vars,
        });
    }

    let mut checked = Vec::new();
    for r in &regions {
        let view = Rendered {
            key: &r.key,
            primary: r.primary,
            user_data: &r.user_data,
        };
        let substitute = checks::check_region(&view)?;
        checked.push((view, substitute));
    }
    checks::check_consistency(&checked)?;
    Ok(Rendering { regions, warnings })
}
