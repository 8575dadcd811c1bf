//! Input variables: type constraints, conversion, and OpenTofu's precedence
//! (defaults, `TF_VAR_*`, `terraform.tfvars`, `terraform.tfvars.json`,
//! `*.auto.tfvars(.json)` lexically, then `--var-file`/`--var` in
//! command-line order), followed by validations.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hcl_edit::Span as _;
use hcl_edit::expr::{Expression, ObjectKey};

use crate::error::{Error, Result, SourceFile};
use crate::eval::{Base, Evaluator, Scope};
use crate::module::{Files, Module, parse_body};
use crate::value::Value;
use crate::{json, value::Number};

/// A variable's type constraint.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    /// No `type` given: any value, unconverted.
    Unconstrained,
    /// `string`.
    String,
    /// `number`.
    Number,
    /// `bool`.
    Bool,
    /// `list(T)`.
    List(Box<Type>),
    /// `map(T)`.
    Map(Box<Type>),
    /// `object({…})`.
    Object(BTreeMap<String, Type>),
}

impl Type {
    /// Reads a type expression; anything outside the supported set is
    /// "unsupported type constraint".
    pub fn parse(e: &Expression) -> std::result::Result<Type, String> {
        let unsupported = || {
            "unsupported type constraint (render-cloudinit supports string, number, bool, list(T), map(T), object({...}))".to_string()
        };
        match e {
            Expression::Variable(v) => match v.as_str() {
                "string" => Ok(Type::String),
                "number" => Ok(Type::Number),
                "bool" => Ok(Type::Bool),
                _ => Err(unsupported()),
            },
            Expression::FuncCall(f) if f.args.len() == 1 && !f.name.is_namespaced() => {
                let arg = f.args.get(0).ok_or_else(unsupported)?;
                match f.name.name.as_str() {
                    "list" => Ok(Type::List(Box::new(Type::parse(arg)?))),
                    "map" => Ok(Type::Map(Box::new(Type::parse(arg)?))),
                    "object" => {
                        let Expression::Object(o) = arg else {
                            return Err(unsupported());
                        };
                        let mut attrs = BTreeMap::new();
                        for (k, v) in o.iter() {
                            let name = match k {
                                ObjectKey::Ident(i) => i.as_str().to_string(),
                                ObjectKey::Expression(Expression::String(s)) => s.value().clone(),
                                ObjectKey::Expression(_) => return Err(unsupported()),
                            };
                            attrs.insert(name, Type::parse(v.expr())?);
                        }
                        Ok(Type::Object(attrs))
                    }
                    _ => Err(unsupported()),
                }
            }
            _ => Err(unsupported()),
        }
    }

    /// `true` for string, number and bool (whose `-var` values are literal strings).
    pub fn is_primitive(&self) -> bool {
        matches!(self, Type::String | Type::Number | Type::Bool)
    }

    /// Converts a value as OpenTofu converts input variables; the error says
    /// what is wrong where (`element 0: attribute "x" is required`).
    pub fn convert(&self, v: Value) -> std::result::Result<Value, String> {
        if matches!(v, Value::Null) {
            return Ok(Value::Null);
        }
        match self {
            Type::Unconstrained => Ok(v),
            Type::String => v
                .as_string_lossless()
                .map(Value::string)
                .ok_or_else(|| "string required".to_string()),
            Type::Number => v
                .as_number_converted()
                .map(Value::Number)
                .ok_or_else(|| "a number is required".to_string()),
            Type::Bool => v
                .as_bool_converted()
                .map(Value::Bool)
                .ok_or_else(|| "a bool is required".to_string()),
            Type::List(t) => match v {
                Value::List(items) => Ok(Value::List(
                    items
                        .into_iter()
                        .enumerate()
                        .map(|(i, x)| t.convert(x).map_err(|e| format!("element {i}: {e}")))
                        .collect::<std::result::Result<_, _>>()?,
                )),
                _ => Err("list of values required".into()),
            },
            Type::Map(t) => match v {
                Value::Object(map) => Ok(Value::Object(
                    map.into_iter()
                        .map(|(k, x)| {
                            let c = t.convert(x).map_err(|e| format!("element {k:?}: {e}"))?;
                            Ok((k, c))
                        })
                        .collect::<std::result::Result<_, String>>()?,
                )),
                _ => Err("map of values required".into()),
            },
            Type::Object(attrs) => match v {
                Value::Object(mut map) => {
                    let mut out = BTreeMap::new();
                    for (name, t) in attrs {
                        let x = map
                            .remove(name)
                            .ok_or_else(|| format!("attribute \"{name}\" is required"))?;
                        out.insert(
                            name.clone(),
                            t.convert(x).map_err(|e| format!(".{name}: {e}"))?,
                        );
                    }
                    // Extra attributes are discarded, as in OpenTofu.
                    Ok(Value::Object(out))
                }
                _ => Err("object required".into()),
            },
        }
    }
}

/// One command-line input, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// `--var-file F` (path as given, relative to the working directory).
    VarFile(PathBuf),
    /// `--var K=V`.
    Var(String, String),
}

/// Variables and unknown-value overrides after precedence and validation.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    /// Every declared variable's final value.
    pub vars: BTreeMap<String, Value>,
    /// Resource-address overrides from `--var`.
    pub overrides: BTreeMap<String, Value>,
    /// Non-fatal findings (undeclared names in files).
    pub warnings: Vec<String>,
}

struct Pending<'a> {
    module: &'a Module,
    values: BTreeMap<String, Value>,
    overrides: BTreeMap<String, Value>,
    warnings: Vec<String>,
    types: BTreeMap<String, Type>,
}

fn constant(ev: &Evaluator<'_>, e: &Expression, file: &SourceFile) -> Result<Value> {
    ev.eval(e, &Scope::new(file, Base::Constant))
}

impl Pending<'_> {
    fn set(&mut self, name: &str, value: Value, origin: &str) -> Result<()> {
        let Some(t) = self.types.get(name) else {
            return Err(Error::msg(format!(
                "{origin}: variable \"{name}\" is not declared in {}",
                self.module.display
            )));
        };
        let converted = t.convert(value).map_err(|e| {
            Error::msg(format!(
                "{origin}: invalid value for variable \"{name}\": {e}"
            ))
        })?;
        self.values.insert(name.to_string(), converted);
        Ok(())
    }

    fn set_file_value(&mut self, name: &str, value: Value, origin: &str) -> Result<()> {
        if self.types.contains_key(name) {
            self.set(name, value, origin)
        } else {
            self.warnings.push(format!(
                "{origin}: value for undeclared variable \"{name}\" ignored"
            ));
            Ok(())
        }
    }

    /// A raw string value (`TF_VAR_x`, `--var x=…`): literal for primitive
    /// types, an HCL expression for collections.
    fn set_raw(&mut self, ev: &Evaluator<'_>, name: &str, raw: &str, origin: &str) -> Result<()> {
        let primitive = self.types.get(name).is_none_or(Type::is_primitive);
        if primitive {
            return self.set(name, Value::string(raw), origin);
        }
        let file = SourceFile::new(origin.to_string(), raw.to_string());
        let expr = hcl_edit::parser::parse_expr(raw).map_err(|e| {
            Error::msg(format!(
                "{origin}: invalid expression for variable \"{name}\": {}",
                e.message().split_whitespace().collect::<Vec<_>>().join(" ")
            ))
        })?;
        let v = constant(ev, &expr, &file)?;
        self.set(name, v, origin)
    }

    fn load_file(
        &mut self,
        ev: &Evaluator<'_>,
        files: &dyn Files,
        path: &Path,
        shown: &str,
    ) -> Result<()> {
        let text = files.read(path).map_err(|source| Error::Io {
            path: shown.to_string(),
            source,
        })?;
        if shown.ends_with(".json") {
            let value = json::decode(&text)
                .map_err(|e| Error::msg(format!("{shown}: invalid JSON: {e}")))?;
            let Value::Object(map) = value else {
                return Err(Error::msg(format!(
                    "{shown}: the root must be a JSON object"
                )));
            };
            for (k, v) in map {
                self.set_file_value(&k, v, shown)?;
            }
            return Ok(());
        }
        let file = SourceFile::new(shown.to_string(), text);
        let body = parse_body(&file)?;
        if let Some(block) = body.blocks().next() {
            return Err(Error::at(
                file.span_location(block.span()),
                "blocks are not allowed in a variables file",
            ));
        }
        for attr in body.attributes() {
            let v = constant(ev, &attr.value, &file)?;
            let origin = file
                .span_location(attr.span())
                .map_or_else(|| shown.to_string(), |l| l.to_string());
            self.set_file_value(attr.key.as_str(), v, &origin)?;
        }
        Ok(())
    }
}

/// Parses a `--var` key rooted at a resource type into its canonical
/// address (`hcloud_load_balancer.secondary["hel1-1"].ipv4`), or `None` when
/// the key is a plain variable name.
fn resource_address(module: &Module, key: &str) -> Option<String> {
    let root = key.split(['.', '[']).next()?;
    if !module.is_resource_root(root) || root == key {
        return None;
    }
    let expr = hcl_edit::parser::parse_expr(key).ok()?;
    let Expression::Traversal(t) = expr else {
        return None;
    };
    let mut addr = root.to_string();
    for op in &t.operators {
        match op.value() {
            hcl_edit::expr::TraversalOperator::GetAttr(a) => {
                addr.push('.');
                addr.push_str(a.as_str());
            }
            hcl_edit::expr::TraversalOperator::Index(Expression::String(s)) => {
                addr.push_str(&format!(
                    "[{}]",
                    json::encode(&Value::string(s.value().clone()))
                ));
            }
            hcl_edit::expr::TraversalOperator::Index(Expression::Number(n)) => {
                addr.push_str(&format!("[{}]", n.value()));
            }
            hcl_edit::expr::TraversalOperator::LegacyIndex(i) => {
                addr.push_str(&format!("[{}]", i.value()))
            }
            _ => return None,
        }
    }
    Some(addr)
}

/// Resolves every declared variable and runs the validations.
///
/// `env` is the process environment (only `TF_VAR_*` entries are read);
/// `inputs` are the command-line sources in order.
pub fn resolve(
    module: &Module,
    files: &dyn Files,
    env: &[(String, String)],
    inputs: &[Input],
) -> Result<Resolved> {
    let ev = Evaluator::new(module, files, BTreeMap::new(), BTreeMap::new());
    let mut types = BTreeMap::new();
    for v in &module.variables {
        let t = match &v.type_expr {
            None => Type::Unconstrained,
            Some(e) => Type::parse(e).map_err(|msg| {
                Error::at(
                    module.files[v.file].span_location(e.span()),
                    format!("variable \"{}\": {msg}", v.name),
                )
            })?,
        };
        types.insert(v.name.clone(), t);
    }
    let mut p = Pending {
        module,
        values: BTreeMap::new(),
        overrides: BTreeMap::new(),
        warnings: Vec::new(),
        types,
    };
    for v in &module.variables {
        if let Some(d) = &v.default {
            let file = &module.files[v.file];
            let value = constant(&ev, d, file)?;
            let origin = file
                .span_location(d.span())
                .map_or_else(|| file.name.clone(), |l| l.to_string());
            p.set(&v.name, value, &origin)?;
        }
    }
    let mut env_vars: Vec<&(String, String)> = env
        .iter()
        .filter(|(k, _)| k.starts_with("TF_VAR_"))
        .collect();
    env_vars.sort();
    for (k, raw) in env_vars {
        let name = &k["TF_VAR_".len()..];
        if p.types.contains_key(name) {
            p.set_raw(&ev, name, raw, k)?;
        }
    }
    let names = files.list(&module.dir).map_err(|source| Error::Io {
        path: module.display.clone(),
        source,
    })?;
    let mut auto: Vec<&String> = names
        .iter()
        .filter(|n| n.ends_with(".auto.tfvars") || n.ends_with(".auto.tfvars.json"))
        .collect();
    auto.sort();
    let mut implicit: Vec<&String> = names
        .iter()
        .filter(|n| *n == "terraform.tfvars")
        .chain(names.iter().filter(|n| *n == "terraform.tfvars.json"))
        .collect();
    implicit.extend(auto);
    for n in implicit {
        let shown = crate::module::join_display(&module.display, n);
        p.load_file(&ev, files, &module.dir.join(n), &shown)?;
    }
    for input in inputs {
        match input {
            Input::VarFile(path) => {
                let shown = path.display().to_string();
                p.load_file(&ev, files, path, &shown)?;
            }
            Input::Var(k, raw) => {
                if let Some(addr) = resource_address(module, k) {
                    p.overrides.insert(addr, Value::string(raw.clone()));
                } else if p.types.contains_key(k) {
                    p.set_raw(&ev, k, raw, &format!("--var {k}"))?;
                } else {
                    return Err(Error::msg(format!(
                        "--var {k}: no variable \"{k}\" is declared in {} (and it is not a resource address)",
                        module.display
                    )));
                }
            }
        }
    }
    for v in &module.variables {
        if !p.values.contains_key(&v.name) {
            return Err(Error::at(
                module.files[v.file].span_location(v.span.clone()),
                format!(
                    "no value for required variable \"{}\"; set it in a --var-file or with --var {}=…",
                    v.name, v.name
                ),
            ));
        }
    }
    let resolved_ev = Evaluator::new(module, files, p.values.clone(), BTreeMap::new());
    for v in &module.variables {
        let file = &module.files[v.file];
        let scope = Scope::new(file, Base::Module);
        for val in &v.validations {
            let ok = resolved_ev.eval(&val.condition, &scope)?;
            let ok = match ok {
                Value::Bool(b) => b,
                other => {
                    return Err(Error::at(
                        file.span_location(val.condition.span()),
                        format!(
                            "validation condition of variable \"{}\" must be a bool, got {}",
                            v.name,
                            other.type_name()
                        ),
                    ));
                }
            };
            if !ok {
                let msg = resolved_ev.eval(&val.error_message, &scope)?;
                let msg = msg
                    .as_string_lossless()
                    .unwrap_or_else(|| "(error_message is not a string)".into());
                return Err(Error::at(
                    file.span_location(val.condition.span()),
                    format!("invalid value for variable \"{}\": {msg}", v.name),
                ));
            }
        }
    }
    Ok(Resolved {
        vars: p.values,
        overrides: p.overrides,
        warnings: p.warnings,
    })
}

/// A number value from an integer (for tests and callers).
pub fn int(i: i64) -> Value {
    Value::Number(Number::from(i))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::MemFiles;

    fn ty(src: &str) -> std::result::Result<Type, String> {
        Type::parse(&hcl_edit::parser::parse_expr(src).unwrap())
    }

    #[test]
    fn parses_supported_type_constraints() {
        assert_eq!(ty("string").unwrap(), Type::String);
        assert_eq!(
            ty("list(number)").unwrap(),
            Type::List(Box::new(Type::Number))
        );
        let o = ty("list(object({provider=string, workerCount=number}))").unwrap();
        let Type::List(inner) = o else { panic!() };
        let Type::Object(attrs) = *inner else {
            panic!()
        };
        assert_eq!(
            attrs.keys().collect::<Vec<_>>(),
            ["provider", "workerCount"]
        );
        for bad in [
            "any",
            "set(string)",
            "tuple([string])",
            "object({a=optional(string)})",
            "\"string\"",
        ] {
            assert!(
                ty(bad).unwrap_err().contains("unsupported type constraint"),
                "{bad}"
            );
        }
    }

    #[test]
    fn converts_like_opentofu() {
        assert_eq!(Type::String.convert(int(5)).unwrap(), Value::string("5"));
        assert_eq!(
            Type::String.convert(Value::Bool(true)).unwrap(),
            Value::string("true")
        );
        assert_eq!(Type::Number.convert(Value::string("7")).unwrap(), int(7));
        assert_eq!(
            Type::Bool.convert(Value::string("false")).unwrap(),
            Value::Bool(false)
        );
        assert!(Type::Number.convert(Value::string("x")).is_err());
        assert!(Type::String.convert(Value::List(vec![])).is_err());
        assert_eq!(Type::String.convert(Value::Null).unwrap(), Value::Null);
        let t = ty("list(object({a=string, n=number}))").unwrap();
        let v = json::decode(r#"[{"a":1,"n":"2","extra":true}]"#).unwrap();
        assert_eq!(json::encode(&t.convert(v).unwrap()), r#"[{"a":"1","n":2}]"#);
        let missing = json::decode(r#"[{"a":"x"}]"#).unwrap();
        assert_eq!(
            t.convert(missing).unwrap_err(),
            "element 0: attribute \"n\" is required"
        );
        let m = ty("map(number)").unwrap();
        assert!(
            m.convert(json::decode(r#"{"a":"x"}"#).unwrap())
                .unwrap_err()
                .contains("element \"a\"")
        );
    }

    fn module(files: &MemFiles) -> Module {
        Module::load(Path::new("m"), "m", files).unwrap()
    }

    fn files(extra: &[(&str, &str)]) -> MemFiles {
        let mut f = MemFiles::default();
        f.0.insert(
            "m/variables.tf".into(),
            r#"variable "name" {
  type = string
  validation {
    condition     = length(regexall("^[a-z]+$", var.name)) > 0
    error_message = "name must be lower-case letters."
  }
}
variable "count_" {
  type    = number
  default = 1
}
variable "list" {
  type    = list(string)
  default = []
}
"#
            .into(),
        );
        f.0.insert(
            "m/main.tf".into(),
            "resource \"hcloud_load_balancer\" \"main\" {}\n".into(),
        );
        for (p, t) in extra {
            f.0.insert(PathBuf::from(p), (*t).to_string());
        }
        f
    }

    #[test]
    fn precedence_defaults_env_auto_files_then_command_line() {
        let f = files(&[
            ("m/terraform.tfvars", "name = \"tfvars\"\n"),
            ("m/b.auto.tfvars", "name = \"autob\"\n"),
            ("m/a.auto.tfvars.json", r#"{"name": "autoa", "count_": 3}"#),
            (
                "x.tfvars",
                "name = \"file\"\nlist = [\"a\", 1]\nunknown = 1\n",
            ),
        ]);
        let m = module(&f);
        let env = vec![
            ("TF_VAR_name".to_string(), "env".to_string()),
            ("TF_VAR_list".to_string(), "[\"e\"]".to_string()),
        ];
        let r = resolve(&m, &f, &env, &[]).unwrap();
        assert_eq!(
            r.vars["name"],
            Value::string("autob"),
            "auto files win over terraform.tfvars, lexically"
        );
        assert_eq!(r.vars["count_"], int(3));
        assert_eq!(r.vars["list"], Value::List(vec![Value::string("e")]));
        let inputs = vec![
            Input::Var("name".into(), "cli".into()),
            Input::VarFile("x.tfvars".into()),
        ];
        let r = resolve(&m, &f, &env, &inputs).unwrap();
        assert_eq!(
            r.vars["name"],
            Value::string("file"),
            "later command-line source wins"
        );
        assert_eq!(
            r.vars["list"],
            Value::List(vec![Value::string("a"), Value::string("1")])
        );
        assert!(
            r.warnings
                .iter()
                .any(|w| w.contains("undeclared variable \"unknown\""))
        );
        let inputs = vec![
            Input::VarFile("x.tfvars".into()),
            Input::Var("name".into(), "cli".into()),
        ];
        assert_eq!(
            resolve(&m, &f, &env, &inputs).unwrap().vars["name"],
            Value::string("cli")
        );
    }

    #[test]
    fn required_validation_and_undeclared_errors() {
        let f = files(&[]);
        let m = module(&f);
        let e = resolve(&m, &f, &[], &[]).unwrap_err();
        assert!(
            e.to_string()
                .contains("no value for required variable \"name\""),
            "{e}"
        );
        assert!(e.to_string().starts_with("m/variables.tf:1:1: "), "{e}");
        let e = resolve(&m, &f, &[], &[Input::Var("name".into(), "Bad1".into())]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "m/variables.tf:4:21: invalid value for variable \"name\": name must be lower-case letters."
        );
        let e = resolve(&m, &f, &[], &[Input::Var("nope".into(), "x".into())]).unwrap_err();
        assert!(e.to_string().contains("no variable \"nope\" is declared"));
        let e = resolve(&m, &f, &[], &[Input::Var("count_".into(), "many".into())]).unwrap_err();
        assert!(
            e.to_string()
                .contains("invalid value for variable \"count_\": a number is required"),
            "{e}"
        );
    }

    #[test]
    fn resource_overrides_are_canonical_addresses() {
        let f = files(&[]);
        let m = module(&f);
        let inputs = vec![
            Input::Var("name".into(), "ok".into()),
            Input::Var(
                "hcloud_load_balancer.main.ipv4".into(),
                "203.0.113.10".into(),
            ),
            Input::Var(
                "hcloud_load_balancer.secondary[\"hel1-1\"].ipv4".into(),
                "203.0.113.11".into(),
            ),
        ];
        let r = resolve(&m, &f, &[], &inputs).unwrap();
        assert_eq!(
            r.overrides["hcloud_load_balancer.main.ipv4"],
            Value::string("203.0.113.10")
        );
        assert_eq!(
            r.overrides["hcloud_load_balancer.secondary[\"hel1-1\"].ipv4"],
            Value::string("203.0.113.11")
        );
    }

    #[test]
    fn tfvars_accept_literals_only() {
        let f = files(&[
            ("v.tfvars", "name = var.other\n"),
            ("w.tfvars", "name = lower(\"X\")\n"),
            ("b.tfvars", "x {}\n"),
        ]);
        let m = module(&f);
        let e = resolve(&m, &f, &[], &[Input::VarFile("v.tfvars".into())]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("v.tfvars:1:8: Variables not allowed"),
            "{e}"
        );
        let e = resolve(&m, &f, &[], &[Input::VarFile("w.tfvars".into())]).unwrap_err();
        assert!(e.to_string().contains("Function calls not allowed"), "{e}");
        let e = resolve(&m, &f, &[], &[Input::VarFile("b.tfvars".into())]).unwrap_err();
        assert!(e.to_string().contains("blocks are not allowed"), "{e}");
        let e = resolve(&m, &f, &[], &[Input::VarFile("missing.tfvars".into())]).unwrap_err();
        assert!(e.to_string().starts_with("missing.tfvars: "), "{e}");
    }
}
