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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::module::MemFiles;

    const VARIABLES: &str = "variable \"region\" {\n  type = string\n}\nvariable \"regions\" {\n  type    = list(object({ provider = string, cloudRegion = string }))\n  default = []\n}\nvariable \"sovereign_deployment_id\" {\n  type    = string\n  default = \"\"\n}\n";

    const TEMPLATE: &str = "#cloud-config\nwrite_files:\n  - path: /var/lib/openova/flux-bootstrap.yaml\n    content: |\n      kind: Kustomization\n      metadata:\n        name: bootstrap-kit\n      spec:\n        postBuild:\n          substitute:\n            SOVEREIGN_FQDN: \"f\"\n            SOVEREIGN_LB_IP: ${jsonencode(lb)}\n            SOVEREIGN_DEPLOYMENT_ID: ${jsonencode(id)}\n            SOVEREIGN_REGION_KEY: ${jsonencode(key)}\n            SOVEREIGN_IS_PRIMARY: ${jsonencode(primary ? \"true\" : \"false\")}\n            SOVEREIGN_FLOW_SERVER_URL: \"\"\n";

    const MAIN: &str = "resource \"hcloud_load_balancer\" \"main\" {}\nlocals {\n  secondary = { for n, r in [for i, r in var.regions : r if i > 0] : \"${r.cloudRegion}-${n + 1}\" => r }\n  cp_cloud_init_primary = templatefile(\"t.tftpl\", { key = var.region, primary = true, id = var.sovereign_deployment_id, lb = hcloud_load_balancer.main.ipv4 })\n  cp_cloud_init_secondary = { for key, r in local.secondary : key => templatefile(\"t.tftpl\", { key = key, primary = false, id = var.sovereign_deployment_id, lb = \"x\" }) }\n}\n";

    fn files(main: &str, tfvars: &str) -> MemFiles {
        let mut f = MemFiles::default();
        f.0.insert(PathBuf::from("m/variables.tf"), VARIABLES.into());
        f.0.insert(PathBuf::from("m/main.tf"), main.into());
        f.0.insert(PathBuf::from("m/t.tftpl"), TEMPLATE.into());
        f.0.insert(PathBuf::from("in.tfvars"), tfvars.into());
        f
    }

    fn run(main: &str, tfvars: &str) -> Result<Rendering> {
        let opts = Options {
            module_dir: PathBuf::from("m"),
            module_display: "m".into(),
            inputs: vec![Input::VarFile(PathBuf::from("in.tfvars"))],
            env: vec![],
        };
        render(&opts, &files(main, tfvars))
    }

    const TWO: &str = "region = \"fsn1\"\nsovereign_deployment_id = \"0123456789abcdef\"\nregions = [{ provider = \"hetzner\", cloudRegion = \"fsn1\" }, { provider = \"hetzner\", cloudRegion = \"hel1\" }]\n";

    #[test]
    fn renders_primary_then_secondaries_with_their_argument_maps() {
        let r = run(MAIN, TWO).unwrap();
        assert_eq!(r.keys(), ["fsn1", "hel1-1"]);
        assert!(r.regions[0].primary && !r.regions[1].primary);
        assert_eq!(r.regions[1].vars["key"], Value::string("hel1-1"));
        assert_eq!(
            r.regions[0].vars["lb"],
            Value::string("<hcloud_load_balancer.main.ipv4>")
        );
        assert!(r.warnings.is_empty());
        assert_eq!(r.region("hel1-1").unwrap().key, "hel1-1");
        let e = r.region("x").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.to_string(),
            "unknown region key \"x\"; known keys: fsn1, hel1-1"
        );
    }

    #[test]
    fn empty_deployment_id_warns() {
        let r = run(MAIN, "region = \"fsn1\"\n").unwrap();
        assert_eq!(r.keys(), ["fsn1"]);
        assert!(r.warnings[0].starts_with("sovereign_deployment_id is empty"));
    }

    #[test]
    fn regions_zero_must_be_the_primary() {
        let e = run(
            MAIN,
            "region = \"nbg1\"\nregions = [{ provider = \"hetzner\", cloudRegion = \"fsn1\" }]\n",
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("regions[0] must be the primary"),
            "{e}"
        );
        let e = run(
            MAIN,
            "region = \"fsn1\"\nregions = [{ provider = \"aws\", cloudRegion = \"fsn1\" }]\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("provider \"aws\""), "{e}");
    }

    #[test]
    fn main_tf_shape_errors() {
        let no_call = MAIN.replace("cp_cloud_init_primary = templatefile(\"t.tftpl\", { key = var.region, primary = true, id = var.sovereign_deployment_id, lb = hcloud_load_balancer.main.ipv4 })", "cp_cloud_init_primary = \"#cloud-config\\n\"");
        assert!(
            run(&no_call, TWO)
                .unwrap_err()
                .to_string()
                .contains("does not call templatefile()")
        );
        let not_map = MAIN
            .replace("cp_cloud_init_secondary = {", "cp_cloud_init_secondary = [")
            .replace("lb = \"x\" }) }", "lb = \"x\" })]")
            .replace(
                "for key, r in local.secondary : key =>",
                "for key, r in local.secondary :",
            );
        assert!(
            run(&not_map, TWO)
                .unwrap_err()
                .to_string()
                .contains("must be a map of region key to user_data")
        );
        let missing = MAIN.replace("cp_cloud_init_secondary", "other");
        assert!(
            run(&missing, TWO)
                .unwrap_err()
                .to_string()
                .contains("reference to undeclared local value \"cp_cloud_init_secondary\"")
        );
        let twice = MAIN.replace("templatefile(\"t.tftpl\", { key = var.region, primary = true, id = var.sovereign_deployment_id, lb = hcloud_load_balancer.main.ipv4 })", "join(\"\", [templatefile(\"t.tftpl\", { key = var.region, primary = true, id = var.sovereign_deployment_id, lb = \"a\" }), templatefile(\"t.tftpl\", { key = \"b\", primary = true, id = \"\", lb = \"a\" })])");
        assert!(
            run(&twice, TWO)
                .unwrap_err()
                .to_string()
                .contains("more than once")
        );
    }

    #[test]
    fn checks_run_on_every_region() {
        let wrong_key = MAIN.replace(
            "{ key = key, primary = false",
            "{ key = \"zzz\", primary = false",
        );
        assert_eq!(
            run(&wrong_key, TWO).unwrap_err().to_string(),
            "hel1-1: SOVEREIGN_REGION_KEY is \"zzz\", expected \"hel1-1\""
        );
    }

    #[test]
    fn lint_runs_before_evaluation() {
        let mut f = files(MAIN, TWO);
        f.0.insert(PathBuf::from("m/w.tftpl"), "x\n${FOO}\n".into());
        let opts = Options {
            module_dir: PathBuf::from("m"),
            module_display: "m".into(),
            inputs: vec![Input::VarFile(PathBuf::from("in.tfvars"))],
            env: vec![],
        };
        assert!(
            render(&opts, &f)
                .unwrap_err()
                .to_string()
                .starts_with("m/w.tftpl:2:1: unescaped Flux placeholder ${FOO}")
        );
    }
}
