//! Evaluation of HCL expressions and templates with Terraform's semantics.
//!
//! Locals are evaluated on demand (cycles are errors). `var` is the object of
//! resolved variables, `path.module` is `"."`, and every traversal rooted at a
//! resource type declared in the module is *unknown before apply*: its value
//! is an override given by address, or the placeholder string `<address>`.
//! `templatefile()` checks the template's free variables against the vars
//! map first (as Terraform does, so a missing key fails even in an untaken
//! branch) and records each call's argument map for `--emit-vars`.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::PathBuf;
use std::rc::Rc;

use hcl_edit::expr::{
    BinaryOperator, Expression, ForExpr, FuncCall, ObjectKey, TraversalOperator, UnaryOperator,
};
use hcl_edit::template::{Element, Template};
use hcl_edit::{Decorated, Span as _};

use crate::error::{Error, Location, Result, SourceFile};
use crate::module::{Files, Module, join_display, normalize, parse_error};
use crate::template::{self, Mode, Part};
use crate::value::{Number, Value};
use crate::{funcs, json};

/// What names an expression may refer to.
#[derive(Debug, Clone, Copy)]
pub enum Base<'s> {
    /// A module expression: `var`, `local`, `path`, resources.
    Module,
    /// A template: only the keys of the vars map.
    Template(&'s BTreeMap<String, Value>),
    /// A `.tfvars` value or default: literals only, no functions.
    Constant,
}

/// The names visible to an expression and the file it is written in.
#[derive(Debug, Clone)]
pub struct Scope<'s> {
    /// The file whose spans the expression carries.
    pub file: &'s SourceFile,
    /// The root names.
    pub base: Base<'s>,
    /// `for` variables, innermost last.
    bindings: Vec<(String, Value)>,
}

impl<'s> Scope<'s> {
    /// A scope without `for` bindings.
    pub fn new(file: &'s SourceFile, base: Base<'s>) -> Scope<'s> {
        Scope {
            file,
            base,
            bindings: Vec::new(),
        }
    }

    fn with(&self, binds: impl IntoIterator<Item = (String, Value)>) -> Scope<'s> {
        let mut s = self.clone();
        s.bindings.extend(binds);
        s
    }

    fn lookup(&self, name: &str) -> Option<&Value> {
        self.bindings
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    fn loc(&self, span: Option<Range<usize>>) -> Option<Location> {
        self.file.span_location(span)
    }
}

/// One `templatefile()` call: where it happened and its argument map.
#[derive(Debug, Clone)]
pub struct TemplateCall {
    /// The keys of the enclosing object `for` expressions, outermost first
    /// (`["hel1-1"]` inside `local.cp_cloud_init_secondary`).
    pub key_path: Vec<String>,
    /// The template as shown in messages.
    pub path: String,
    /// The evaluated vars map.
    pub vars: BTreeMap<String, Value>,
}

#[derive(Debug)]
struct LoadedTemplate {
    source: SourceFile,
    template: Template,
}

/// Evaluates a module's expressions.
pub struct Evaluator<'m> {
    module: &'m Module,
    files: &'m dyn Files,
    vars: BTreeMap<String, Value>,
    overrides: BTreeMap<String, Value>,
    locals: RefCell<BTreeMap<String, Value>>,
    in_progress: RefCell<Vec<String>>,
    templates: RefCell<HashMap<PathBuf, Rc<LoadedTemplate>>>,
    calls: RefCell<Vec<TemplateCall>>,
    key_path: RefCell<Vec<String>>,
}

impl std::fmt::Debug for Evaluator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator")
            .field("module", &self.module.display)
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn convert_hcl_number(n: &hcl_edit::Number) -> Option<Number> {
    if let Some(u) = n.as_u64() {
        Number::int(i128::from(u))
    } else if let Some(i) = n.as_i64() {
        Number::int(i128::from(i))
    } else {
        n.as_f64().and_then(Number::from_f64)
    }
}

/// Interpolation's conversion of a value to string.
pub fn template_string(v: &Value) -> std::result::Result<String, &'static str> {
    match v {
        Value::Null => {
            Err("The expression result is null. Cannot include a null value in a string template.")
        }
        Value::List(_) | Value::Object(_) => {
            Err("Cannot include the given value in a string template: string required.")
        }
        p => Ok(p.as_string_lossless().unwrap_or_default()),
    }
}

/// `true` for names `templatefile()` accepts as vars keys.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

impl<'m> Evaluator<'m> {
    /// An evaluator over `module` with resolved variables and unknown-value
    /// overrides (keyed by resource address).
    pub fn new(
        module: &'m Module,
        files: &'m dyn Files,
        vars: BTreeMap<String, Value>,
        overrides: BTreeMap<String, Value>,
    ) -> Evaluator<'m> {
        Evaluator {
            module,
            files,
            vars,
            overrides,
            locals: RefCell::new(BTreeMap::new()),
            in_progress: RefCell::new(Vec::new()),
            templates: RefCell::new(HashMap::new()),
            calls: RefCell::new(Vec::new()),
            key_path: RefCell::new(Vec::new()),
        }
    }

    /// The module.
    pub fn module(&self) -> &Module {
        self.module
    }

    /// The `templatefile()` calls made so far, then forgets them.
    pub fn take_calls(&self) -> Vec<TemplateCall> {
        std::mem::take(&mut self.calls.borrow_mut())
    }

    /// Evaluates `local.<name>` (cached).
    pub fn local(&self, name: &str, at: Option<Location>) -> Result<Value> {
        if let Some(v) = self.locals.borrow().get(name) {
            return Ok(v.clone());
        }
        let Some(def) = self.module.locals.get(name) else {
            return Err(Error::at(
                at,
                format!("reference to undeclared local value \"{name}\""),
            ));
        };
        if self.in_progress.borrow().iter().any(|n| n == name) {
            let mut chain = self.in_progress.borrow().clone();
            chain.push(name.to_string());
            return Err(Error::at(
                at,
                format!("cycle between local values: {}", chain.join(" -> ")),
            ));
        }
        self.in_progress.borrow_mut().push(name.to_string());
        let file = &self.module.files[def.file];
        let result = self.eval(&def.expr, &Scope::new(file, Base::Module));
        self.in_progress.borrow_mut().pop();
        let v = result?;
        self.locals.borrow_mut().insert(name.to_string(), v.clone());
        Ok(v)
    }

    fn err(&self, sc: &Scope<'_>, span: Option<Range<usize>>, msg: impl Into<String>) -> Error {
        Error::at(sc.loc(span), msg)
    }

    /// Evaluates an expression.
    pub fn eval(&self, e: &Expression, sc: &Scope<'_>) -> Result<Value> {
        match e {
            Expression::Null(_) => Ok(Value::Null),
            Expression::Bool(b) => Ok(Value::Bool(*b.value())),
            Expression::Number(n) => convert_hcl_number(n.value())
                .map(|num| {
                    // hcl-edit folds `-0` into the literal 0; Terraform keeps the sign.
                    let negative = e
                        .span()
                        .and_then(|s| sc.file.text.get(s))
                        .is_some_and(|t| t.trim_start().starts_with('-'));
                    Value::Number(if negative && num.is_zero() { num.negated() } else { num })
                })
                .ok_or_else(|| {
                self.err(sc, e.span(), "number literal is outside the range render-cloudinit represents exactly (64-bit integers)")
            }),
            Expression::String(s) => Ok(Value::string(s.value().clone())),
            Expression::Array(a) => Ok(Value::List(
                a.iter().map(|x| self.eval(x, sc)).collect::<Result<_>>()?,
            )),
            Expression::Object(o) => {
                let mut map = BTreeMap::new();
                for (k, v) in o.iter() {
                    let key = match k {
                        ObjectKey::Ident(i) => i.as_str().to_string(),
                        ObjectKey::Expression(ke) => {
                            let kv = self.eval(ke, sc)?;
                            match kv.as_string_lossless() {
                                Some(s) => s,
                                None => {
                                    return Err(self.err(
                                        sc,
                                        ke.span(),
                                        format!("Invalid object key: a string is required, got {}", kv.type_name()),
                                    ));
                                }
                            }
                        }
                    };
                    map.insert(crate::value::nfc(key), self.eval(v.expr(), sc)?);
                }
                Ok(Value::Object(map))
            }
            Expression::StringTemplate(t) => {
                let compiled = template::compile(t, &sc.file.text, Mode::Quoted);
                self.eval_compiled(&compiled, sc)
            }
            Expression::HeredocTemplate(h) => {
                let flush = e
                    .span()
                    .and_then(|s| sc.file.text.get(s.start..))
                    .is_some_and(|rest| rest.starts_with("<<-"));
                let compiled = template::compile(&h.template, &sc.file.text, Mode::Heredoc { flush });
                self.eval_compiled(&compiled, sc)
            }
            Expression::Parenthesis(p) => self.eval(p.inner(), sc),
            Expression::Variable(v) => self.root(v.as_str(), &[], sc, e.span()),
            Expression::Traversal(t) => match &t.expr {
                Expression::Variable(v) => self.root(v.as_str(), &t.operators, sc, t.expr.span()),
                other => {
                    let base = self.eval(other, sc)?;
                    self.apply_ops(base, &t.operators, sc)
                }
            },
            Expression::Conditional(c) => {
                let cond = self.eval(&c.cond_expr, sc)?;
                let cond = match cond {
                    Value::Null => {
                        return Err(self.err(
                            sc,
                            c.cond_expr.span(),
                            "Null condition: The condition value is null. Conditions must either be true or false.",
                        ));
                    }
                    other => other.as_bool_converted().ok_or_else(|| {
                        self.err(sc, c.cond_expr.span(), "Incorrect condition type: a bool is required")
                    })?,
                };
                let (chosen, other) = if cond {
                    (&c.true_expr, &c.false_expr)
                } else {
                    (&c.false_expr, &c.true_expr)
                };
                let value = self.eval(chosen, sc)?;
                // Terraform unifies both results' types; the other branch's
                // errors are not reported when the condition is known.
                let other = self.eval(other, sc).ok();
                Ok(unify(value, other.as_ref()))
            }
            Expression::FuncCall(f) => self.call(f, sc, e.span()),
            Expression::UnaryOp(u) => {
                let v = self.eval(&u.expr, sc)?;
                match u.operator.value() {
                    UnaryOperator::Not => v
                        .as_bool_converted()
                        .map(|b| Value::Bool(!b))
                        .ok_or_else(|| self.err(sc, e.span(), "Invalid operand: Unsuitable value for unary operand: a bool is required.")),
                    UnaryOperator::Neg => v
                        .as_number_converted()
                        .map(|n| Value::Number(n.negated()))
                        .ok_or_else(|| self.err(sc, e.span(), "Invalid operand: Unsuitable value for unary operand: a number is required.")),
                }
            }
            Expression::BinaryOp(b) => {
                let l = self.eval(&b.lhs_expr, sc)?;
                let r = self.eval(&b.rhs_expr, sc)?;
                self.binary(*b.operator.value(), &l, &r, sc, e.span())
            }
            Expression::ForExpr(f) => self.for_expr(f, sc, e.span()),
        }
    }

    fn binary(
        &self,
        op: BinaryOperator,
        l: &Value,
        r: &Value,
        sc: &Scope<'_>,
        span: Option<Range<usize>>,
    ) -> Result<Value> {
        use BinaryOperator as B;
        match op {
            B::Eq => return Ok(Value::Bool(l == r)),
            B::NotEq => return Ok(Value::Bool(l != r)),
            B::And | B::Or => {
                let side = |v: &Value, which: &str| {
                    v.as_bool_converted().ok_or_else(|| {
                        self.err(sc, span.clone(), format!("Invalid operand: Unsuitable value for {which} operand: a bool is required."))
                    })
                };
                let (a, b) = (side(l, "left")?, side(r, "right")?);
                return Ok(Value::Bool(if op == B::And { a && b } else { a || b }));
            }
            _ => {}
        }
        let num = |v: &Value, which: &str| {
            v.as_number_converted().ok_or_else(|| {
                self.err(sc, span.clone(), format!("Invalid operand: Unsuitable value for {which} operand: a number is required."))
            })
        };
        let (a, b) = (num(l, "left")?, num(r, "right")?);
        let arith = |res: std::result::Result<Number, crate::value::NumberError>| {
            res.map(Value::Number)
                .map_err(|e| self.err(sc, span.clone(), e.to_string()))
        };
        match op {
            B::Plus => arith(a.checked_add(b)),
            B::Minus => arith(a.checked_sub(b)),
            B::Mul => arith(a.checked_mul(b)),
            B::Div => arith(a.checked_div(b)),
            B::Mod => arith(a.checked_rem(b)),
            B::Less => Ok(Value::Bool(a < b)),
            B::LessEq => Ok(Value::Bool(a <= b)),
            B::Greater => Ok(Value::Bool(a > b)),
            B::GreaterEq => Ok(Value::Bool(a >= b)),
            B::Eq | B::NotEq | B::And | B::Or => Ok(Value::Null),
        }
    }

    fn root(
        &self,
        name: &str,
        ops: &[Decorated<TraversalOperator>],
        sc: &Scope<'_>,
        span: Option<Range<usize>>,
    ) -> Result<Value> {
        if let Some(v) = sc.lookup(name) {
            return self.apply_ops(v.clone(), ops, sc);
        }
        match sc.base {
            Base::Template(vars) => match vars.get(name) {
                Some(v) => self.apply_ops(v.clone(), ops, sc),
                None => Err(self.err(sc, span, format!("vars map does not contain key \"{name}\""))),
            },
            Base::Constant => Err(self.err(
                sc,
                span,
                format!("Variables not allowed: \"{name}\" cannot be referenced here; only literal values are accepted"),
            )),
            Base::Module => self.module_root(name, ops, sc, span),
        }
    }

    fn module_root(
        &self,
        name: &str,
        ops: &[Decorated<TraversalOperator>],
        sc: &Scope<'_>,
        span: Option<Range<usize>>,
    ) -> Result<Value> {
        let attr = |what: &str| -> Result<&str> {
            match ops.first().map(|o| o.value()) {
                Some(TraversalOperator::GetAttr(a)) => Ok(a.as_str()),
                _ => Err(self.err(
                    sc,
                    span.clone(),
                    format!("invalid reference: \"{name}\" must be followed by .<{what}>"),
                )),
            }
        };
        match name {
            "var" => {
                let n = attr("variable name")?;
                let v = self.vars.get(n).cloned().ok_or_else(|| {
                    self.err(sc, span.clone(), format!("reference to undeclared input variable \"{n}\""))
                })?;
                self.apply_ops(v, &ops[1..], sc)
            }
            "local" => {
                let n = attr("local name")?;
                let v = self.local(n, sc.loc(span.clone()))?;
                self.apply_ops(v, &ops[1..], sc)
            }
            "path" => match attr("module|root|cwd")? {
                "module" | "root" | "cwd" => self.apply_ops(Value::string("."), &ops[1..], sc),
                other => Err(self.err(sc, span, format!("invalid \"path\" attribute \"{other}\""))),
            },
            "count" | "each" | "self" | "terraform" => Err(self.err(
                sc,
                span,
                format!("\"{name}\" is not available here; render-cloudinit evaluates locals, not resource blocks"),
            )),
            n if self.module.is_resource_root(n) => self.unknown(n, ops, sc),
            n => Err(self.err(
                sc,
                span,
                format!("reference to undeclared resource or value \"{n}\""),
            )),
        }
    }

    /// The resource address of a traversal (`type.name["key"].attr`), index
    /// keys evaluated.
    fn address(
        &self,
        root: &str,
        ops: &[Decorated<TraversalOperator>],
        sc: &Scope<'_>,
    ) -> Result<String> {
        let mut addr = root.to_string();
        for op in ops {
            match op.value() {
                TraversalOperator::GetAttr(a) => {
                    addr.push('.');
                    addr.push_str(a.as_str());
                }
                TraversalOperator::LegacyIndex(i) => addr.push_str(&format!("[{}]", i.value())),
                TraversalOperator::Index(e) => {
                    let k = self.eval(e, sc)?;
                    match &k {
                        Value::String(_) | Value::Number(_) => {
                            addr.push_str(&format!("[{}]", json::encode(&k)))
                        }
                        other => {
                            return Err(self.err(
                                sc,
                                e.span(),
                                format!(
                                    "resource index must be a string or number, got {}",
                                    other.type_name()
                                ),
                            ));
                        }
                    }
                }
                TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => {
                    return Err(self.err(
                        sc,
                        op.span(),
                        "splat expressions on resources are not supported by render-cloudinit; locals may use resource attributes only as opaque strings",
                    ));
                }
            }
        }
        Ok(addr)
    }

    fn unknown(
        &self,
        root: &str,
        ops: &[Decorated<TraversalOperator>],
        sc: &Scope<'_>,
    ) -> Result<Value> {
        let addr = self.address(root, ops, sc)?;
        Ok(self
            .overrides
            .get(&addr)
            .cloned()
            .unwrap_or_else(|| Value::string(format!("<{addr}>"))))
    }

    fn apply_ops(
        &self,
        mut v: Value,
        ops: &[Decorated<TraversalOperator>],
        sc: &Scope<'_>,
    ) -> Result<Value> {
        for (i, op) in ops.iter().enumerate() {
            let span = op.span();
            v = match op.value() {
                TraversalOperator::GetAttr(a) => self.get_attr(v, a.as_str(), sc, span)?,
                TraversalOperator::LegacyIndex(n) => self.index(
                    v,
                    &Value::Number(Number::from(i64::try_from(*n.value()).unwrap_or(i64::MAX))),
                    sc,
                    span,
                )?,
                TraversalOperator::Index(e) => {
                    let k = self.eval(e, sc)?;
                    self.index(v, &k, sc, span)?
                }
                TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => {
                    let items = match v {
                        Value::Null => Vec::new(),
                        Value::List(items) => items,
                        other => vec![other],
                    };
                    let rest = &ops[i + 1..];
                    let out = items
                        .into_iter()
                        .map(|item| self.apply_ops(item, rest, sc))
                        .collect::<Result<Vec<_>>>()?;
                    return Ok(Value::List(out));
                }
            };
        }
        Ok(v)
    }

    fn get_attr(
        &self,
        v: Value,
        name: &str,
        sc: &Scope<'_>,
        span: Option<Range<usize>>,
    ) -> Result<Value> {
        match v {
            Value::Object(mut map) => map.remove(name).ok_or_else(|| {
                self.err(sc, span, format!("Unsupported attribute: This object does not have an attribute named \"{name}\"."))
            }),
            Value::Null => Err(self.err(
                sc,
                span,
                "Attempt to get attribute from null value: This value is null, so it does not have any attributes.",
            )),
            Value::List(_) => Err(self.err(
                sc,
                span,
                format!("Unsupported attribute: Can't access attributes on a list of objects. Did you mean to access attribute \"{name}\" for a specific element of the list, or across all elements of the list?"),
            )),
            other => Err(self.err(
                sc,
                span,
                format!("Unsupported attribute: Can't access attributes on a primitive-typed value ({}).", other.type_name()),
            )),
        }
    }

    fn index(
        &self,
        v: Value,
        key: &Value,
        sc: &Scope<'_>,
        span: Option<Range<usize>>,
    ) -> Result<Value> {
        let missing = || {
            self.err(sc, span.clone(), "Invalid index: The given key does not identify an element in this collection value.")
        };
        if matches!(key, Value::Null) {
            return Err(self.err(
                sc,
                span,
                "Invalid index: Can't use a null value as an indexing key.",
            ));
        }
        match v {
            Value::Object(mut map) => {
                let k = key.as_string_lossless().ok_or_else(missing)?;
                map.remove(&k).ok_or_else(missing)
            }
            Value::List(mut items) => {
                let i = key
                    .as_number_converted()
                    .and_then(Number::as_int)
                    .and_then(|i| usize::try_from(i).ok())
                    .ok_or_else(missing)?;
                if i < items.len() {
                    Ok(items.swap_remove(i))
                } else {
                    Err(missing())
                }
            }
            Value::Null => Err(self.err(
                sc,
                span,
                "Attempt to index null value: This value is null, so it does not have any indices.",
            )),
            other => Err(self.err(
                sc,
                span,
                format!(
                    "Invalid index: This value does not have any indices ({}).",
                    other.type_name()
                ),
            )),
        }
    }

    fn iterate(
        &self,
        coll: Value,
        sc: &Scope<'_>,
        span: Option<Range<usize>>,
    ) -> Result<Vec<(Value, Value)>> {
        match coll {
            Value::List(items) => Ok(items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Value::Number(Number::from(i64::try_from(i).unwrap_or(i64::MAX))), v))
                .collect()),
            Value::Object(map) => Ok(map.into_iter().map(|(k, v)| (Value::String(k), v)).collect()),
            Value::Null => Err(self.err(sc, span, "Iteration over null value: A null value cannot be used as the collection in a 'for' expression.")),
            other => Err(self.err(
                sc,
                span,
                format!("Iteration over non-iterable value: A value of type {} cannot be used as the collection in a 'for' expression.", other.type_name()),
            )),
        }
    }

    fn for_expr(&self, f: &ForExpr, sc: &Scope<'_>, span: Option<Range<usize>>) -> Result<Value> {
        let coll = self.eval(&f.intro.collection_expr, sc)?;
        let items = self.iterate(coll, sc, f.intro.collection_expr.span())?;
        let key_var = f.intro.key_var.as_ref().map(|k| k.as_str().to_string());
        let value_var = f.intro.value_var.as_str().to_string();
        let mut list = Vec::new();
        let mut object: BTreeMap<String, Value> = BTreeMap::new();
        let mut grouped: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for (k, v) in items {
            let mut binds = vec![(value_var.clone(), v)];
            if let Some(kv) = &key_var {
                binds.insert(0, (kv.clone(), k));
            }
            let inner = sc.with(binds);
            if let Some(cond) = &f.cond {
                match self.eval(&cond.expr, &inner)? {
                    Value::Null => {
                        return Err(self.err(
                            sc,
                            cond.expr.span(),
                            "Condition is null: The value of the 'if' clause must not be null.",
                        ));
                    }
                    c => match c.as_bool_converted() {
                        Some(true) => {}
                        Some(false) => continue,
                        None => {
                            return Err(self.err(
                                sc,
                                cond.expr.span(),
                                "Invalid 'for' condition: a bool is required.",
                            ));
                        }
                    },
                }
            }
            match &f.key_expr {
                Some(ke) => {
                    let key = self.eval(ke, &inner)?;
                    let key = match key {
                        Value::Null => {
                            return Err(self.err(sc, ke.span(), "Invalid object key: Key expression in 'for' expression must not produce a null value."));
                        }
                        k => k.as_string_lossless().ok_or_else(|| {
                            self.err(sc, ke.span(), "Invalid object key: The key expression produced an invalid result: string required.")
                        })?,
                    };
                    self.key_path.borrow_mut().push(key.clone());
                    let value = self.eval(&f.value_expr, &inner);
                    self.key_path.borrow_mut().pop();
                    let value = value?;
                    if f.grouping {
                        grouped.entry(key).or_default().push(value);
                    } else {
                        match object.entry(key) {
                            std::collections::btree_map::Entry::Occupied(o) => {
                                return Err(self.err(
                                    sc,
                                    span,
                                    format!("Duplicate object key: Two different items produced the key \"{}\" in this 'for' expression. If duplicates are expected, use the ellipsis (...) after the value expression to enable grouping by key.", o.key()),
                                ));
                            }
                            std::collections::btree_map::Entry::Vacant(v) => {
                                v.insert(value);
                            }
                        }
                    }
                }
                None => list.push(self.eval(&f.value_expr, &inner)?),
            }
        }
        Ok(match (&f.key_expr, f.grouping) {
            (None, _) => Value::List(list),
            (Some(_), true) => Value::Object(
                grouped
                    .into_iter()
                    .map(|(k, v)| (k, Value::List(v)))
                    .collect(),
            ),
            (Some(_), false) => Value::Object(object),
        })
    }

    fn call(&self, f: &FuncCall, sc: &Scope<'_>, span: Option<Range<usize>>) -> Result<Value> {
        let name = f.name.name.as_str();
        if matches!(sc.base, Base::Constant) {
            return Err(self.err(
                sc,
                span,
                "Function calls not allowed: functions may not be called here",
            ));
        }
        if f.name.is_namespaced() || !funcs::NAMES.contains(&name) {
            return Err(self.err(
                sc,
                span,
                format!("function \"{name}\" is not implemented by render-cloudinit (it implements {}); adding one requires a golden case", funcs::NAMES.join(", ")),
            ));
        }
        let mut args = Vec::with_capacity(f.args.len());
        for (i, a) in f.args.iter().enumerate() {
            let v = self.eval(a, sc)?;
            if f.args.expand_final() && i + 1 == f.args.len() {
                match v {
                    Value::List(items) => args.extend(items),
                    _ => return Err(self.err(sc, a.span(), "Invalid expanding argument value: the expanding argument (indicated by ...) must be a list or tuple")),
                }
            } else {
                args.push(v);
            }
        }
        if name == "templatefile" {
            if matches!(sc.base, Base::Template(_)) {
                return Err(self.err(
                    sc,
                    span,
                    "cannot recursively call templatefile from inside another template function",
                ));
            }
            return self.templatefile(&args, sc, span);
        }
        match funcs::call(name, &args) {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(self.err(
                sc,
                span,
                format!("function \"{name}\" is not implemented by render-cloudinit"),
            )),
            Err(msg) => Err(self.err(
                sc,
                span,
                format!("call to function \"{name}\" failed: {msg}"),
            )),
        }
    }

    fn load_template(
        &self,
        path: &str,
        sc: &Scope<'_>,
        span: Option<Range<usize>>,
    ) -> Result<Rc<LoadedTemplate>> {
        let full = normalize(&self.module.dir.join(path));
        if let Some(t) = self.templates.borrow().get(&full) {
            return Ok(Rc::clone(t));
        }
        let shown = join_display(&self.module.display, path.trim_start_matches("./"));
        let text = self.files.read(&full).map_err(|e| {
            self.err(sc, span.clone(), format!("Invalid value for \"path\" parameter: no file exists at \"{path}\" ({shown}: {e})"))
        })?;
        let source = SourceFile::new(shown, text);
        let template =
            hcl_edit::parser::parse_template(&source.text).map_err(|e| parse_error(&source, &e))?;
        let loaded = Rc::new(LoadedTemplate { source, template });
        self.templates.borrow_mut().insert(full, Rc::clone(&loaded));
        Ok(loaded)
    }

    fn templatefile(
        &self,
        args: &[Value],
        sc: &Scope<'_>,
        span: Option<Range<usize>>,
    ) -> Result<Value> {
        let [path, vars] = args else {
            return Err(self.err(sc, span, format!("call to function \"templatefile\" failed: expects 2 arguments (path, vars), got {}", args.len())));
        };
        let Value::String(path) = path else {
            return Err(self.err(
                sc,
                span,
                "Invalid value for \"path\" parameter: string required",
            ));
        };
        let vars = match vars {
            Value::Object(map) => map.clone(),
            Value::Null => {
                return Err(self.err(
                    sc,
                    span,
                    "Invalid value for \"vars\" parameter: argument must not be null",
                ));
            }
            other => {
                return Err(self.err(
                    sc,
                    span,
                    format!(
                        "Invalid value for \"vars\" parameter: must be a map or object, got {}",
                        other.type_name()
                    ),
                ));
            }
        };
        for k in vars.keys() {
            if !is_identifier(k) {
                return Err(self.err(
                    sc,
                    span,
                    format!("Invalid value for \"vars\" parameter: invalid template variable name \"{k}\": must start with a letter, followed by zero or more letters, digits, and underscores"),
                ));
            }
        }
        let loaded = self.load_template(path, sc, span.clone())?;
        let call_site = sc.loc(span).map(|l| l.to_string()).unwrap_or_default();
        let context = |e: Error| match e {
            Error::Failed { location, message }
                if location
                    .as_ref()
                    .is_some_and(|l| l.file == loaded.source.name) =>
            {
                Error::Failed {
                    location,
                    message: format!("{message} (in templatefile() called at {call_site})"),
                }
            }
            other => other,
        };
        // Terraform checks every free variable of the template before evaluating.
        let mut free = Vec::new();
        free_vars_template(&loaded.template, &mut Vec::new(), &mut free);
        if let Some((name, at)) = free.into_iter().find(|(n, _)| !vars.contains_key(n)) {
            return Err(context(Error::at(
                loaded.source.span_location(at),
                format!("vars map does not contain key \"{name}\""),
            )));
        }
        self.calls.borrow_mut().push(TemplateCall {
            key_path: self.key_path.borrow().clone(),
            path: loaded.source.name.clone(),
            vars: vars.clone(),
        });
        let compiled = template::compile(&loaded.template, &loaded.source.text, Mode::Bare);
        let scope = Scope::new(&loaded.source, Base::Template(&vars));
        self.eval_compiled(&compiled, &scope).map_err(context)
    }

    /// Evaluates a compiled template.
    pub fn eval_compiled(&self, c: &template::Compiled<'_>, sc: &Scope<'_>) -> Result<Value> {
        if let Some(e) = c.passthrough {
            return self.eval(e, sc);
        }
        let mut out = String::new();
        self.eval_parts(&c.parts, sc, &mut out)?;
        Ok(Value::string(out))
    }

    fn eval_parts(&self, parts: &[Part<'_>], sc: &Scope<'_>, out: &mut String) -> Result<()> {
        for p in parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Interp(e) => {
                    let v = self.eval(e, sc)?;
                    let s = template_string(&v).map_err(|m| {
                        self.err(
                            sc,
                            e.span(),
                            format!("Invalid template interpolation value: {m}"),
                        )
                    })?;
                    out.push_str(&s);
                }
                Part::If {
                    cond,
                    then,
                    otherwise,
                } => {
                    let c = match self.eval(cond, sc)? {
                        Value::Null => {
                            return Err(self.err(sc, cond.span(), "Null condition: The condition value is null. Conditions must either be true or false."));
                        }
                        v => v.as_bool_converted().ok_or_else(|| {
                            self.err(
                                sc,
                                cond.span(),
                                "Incorrect condition type: a bool is required",
                            )
                        })?,
                    };
                    self.eval_parts(if c { then } else { otherwise }, sc, out)?;
                }
                Part::For {
                    key,
                    value,
                    coll,
                    body,
                } => {
                    let c = self.eval(coll, sc)?;
                    for (k, v) in self.iterate(c, sc, coll.span())? {
                        let mut binds = vec![((*value).to_string(), v)];
                        if let Some(kn) = key {
                            binds.insert(0, ((*kn).to_string(), k));
                        }
                        self.eval_parts(body, &sc.with(binds), out)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Terraform's conditional result unification for primitives: a number or
/// bool opposite a string becomes a string.
fn unify(chosen: Value, other: Option<&Value>) -> Value {
    match (&chosen, other) {
        (Value::Number(_) | Value::Bool(_), Some(o))
            if o.is_primitive() && o.type_name() != chosen.type_name() =>
        {
            Value::string(chosen.as_string_lossless().unwrap_or_default())
        }
        _ => chosen,
    }
}

/// The free variables of an expression in source order (names bound by
/// enclosing `for`s excluded), with the span of each reference.
pub fn free_vars(
    e: &Expression,
    bound: &mut Vec<String>,
    out: &mut Vec<(String, Option<Range<usize>>)>,
) {
    match e {
        Expression::Null(_)
        | Expression::Bool(_)
        | Expression::Number(_)
        | Expression::String(_) => {}
        Expression::Array(a) => a.iter().for_each(|x| free_vars(x, bound, out)),
        Expression::Object(o) => {
            for (k, v) in o.iter() {
                if let ObjectKey::Expression(ke) = k {
                    free_vars(ke, bound, out);
                }
                free_vars(v.expr(), bound, out);
            }
        }
        Expression::StringTemplate(t) => free_vars_elements(t.iter(), bound, out),
        Expression::HeredocTemplate(h) => free_vars_template(&h.template, bound, out),
        Expression::Parenthesis(p) => free_vars(p.inner(), bound, out),
        Expression::Variable(v) => {
            if !bound.iter().any(|b| b == v.as_str()) {
                out.push((v.as_str().to_string(), e.span()));
            }
        }
        Expression::Traversal(t) => {
            free_vars(&t.expr, bound, out);
            for op in &t.operators {
                if let TraversalOperator::Index(ie) = op.value() {
                    free_vars(ie, bound, out);
                }
            }
        }
        Expression::Conditional(c) => {
            free_vars(&c.cond_expr, bound, out);
            free_vars(&c.true_expr, bound, out);
            free_vars(&c.false_expr, bound, out);
        }
        Expression::FuncCall(f) => f.args.iter().for_each(|a| free_vars(a, bound, out)),
        Expression::UnaryOp(u) => free_vars(&u.expr, bound, out),
        Expression::BinaryOp(b) => {
            free_vars(&b.lhs_expr, bound, out);
            free_vars(&b.rhs_expr, bound, out);
        }
        Expression::ForExpr(f) => {
            free_vars(&f.intro.collection_expr, bound, out);
            let n = bound.len();
            if let Some(k) = &f.intro.key_var {
                bound.push(k.as_str().to_string());
            }
            bound.push(f.intro.value_var.as_str().to_string());
            if let Some(k) = &f.key_expr {
                free_vars(k, bound, out);
            }
            free_vars(&f.value_expr, bound, out);
            if let Some(c) = &f.cond {
                free_vars(&c.expr, bound, out);
            }
            bound.truncate(n);
        }
    }
}

/// [`free_vars`] over a template.
pub fn free_vars_template(
    t: &Template,
    bound: &mut Vec<String>,
    out: &mut Vec<(String, Option<Range<usize>>)>,
) {
    free_vars_elements(t.iter(), bound, out);
}

fn free_vars_elements<'a>(
    elements: impl Iterator<Item = &'a Element>,
    bound: &mut Vec<String>,
    out: &mut Vec<(String, Option<Range<usize>>)>,
) {
    for el in elements {
        match el {
            Element::Literal(_) => {}
            Element::Interpolation(i) => free_vars(&i.expr, bound, out),
            Element::Directive(d) => match d.as_ref() {
                hcl_edit::template::Directive::If(d) => {
                    free_vars(&d.if_expr.cond_expr, bound, out);
                    free_vars_template(&d.if_expr.template, bound, out);
                    if let Some(e) = &d.else_expr {
                        free_vars_template(&e.template, bound, out);
                    }
                }
                hcl_edit::template::Directive::For(d) => {
                    let f = &d.for_expr;
                    free_vars(&f.collection_expr, bound, out);
                    let n = bound.len();
                    if let Some(k) = &f.key_var {
                        bound.push(k.as_str().to_string());
                    }
                    bound.push(f.value_var.as_str().to_string());
                    free_vars_template(&f.template, bound, out);
                    bound.truncate(n);
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::module::MemFiles;

    struct Fixture {
        files: MemFiles,
        module: Module,
    }

    fn fixture(main_tf: &str, templates: &[(&str, &str)]) -> Fixture {
        let mut files = MemFiles::default();
        files
            .0
            .insert(PathBuf::from("m/main.tf"), main_tf.to_string());
        for (name, text) in templates {
            files
                .0
                .insert(Path::new("m").join(name), (*text).to_string());
        }
        let module = Module::load(Path::new("m"), "m", &files).unwrap();
        Fixture { files, module }
    }

    fn vars() -> BTreeMap<String, Value> {
        [
            ("region".to_string(), Value::string("fsn1")),
            ("n".to_string(), Value::Number(Number::from(2))),
        ]
        .into_iter()
        .collect()
    }

    fn eval_local(f: &Fixture, name: &str) -> Result<Value> {
        Evaluator::new(&f.module, &f.files, vars(), BTreeMap::new()).local(name, None)
    }

    fn ok(main_tf: &str) -> Value {
        eval_local(&fixture(main_tf, &[]), "x").unwrap()
    }

    fn err(main_tf: &str) -> String {
        eval_local(&fixture(main_tf, &[]), "x")
            .unwrap_err()
            .to_string()
    }

    fn s(x: &str) -> Value {
        Value::string(x)
    }

    #[test]
    fn locals_are_evaluated_on_demand_in_dependency_order() {
        let v = ok(
            "locals {\n  x = \"${local.y}-${var.region}\"\n}\nlocals {\n  y = upper(local.z)\n  z = \"a\"\n  unused = nosuchfunction()\n}\n",
        );
        assert_eq!(v, s("A-fsn1"));
    }

    #[test]
    fn cycles_and_undeclared_references_fail_with_locations() {
        assert_eq!(
            err("locals {\n  x = local.y\n  y = local.x\n}\n"),
            "m/main.tf:3:7: cycle between local values: x -> y -> x"
        );
        assert_eq!(
            err("locals {\n  x = local.nope\n}\n"),
            "m/main.tf:2:7: reference to undeclared local value \"nope\""
        );
        assert_eq!(
            err("locals {\n  x = var.nope\n}\n"),
            "m/main.tf:2:7: reference to undeclared input variable \"nope\""
        );
        assert!(err("locals {\n  x = each.key\n}\n").contains("\"each\" is not available here"));
        assert!(
            err("locals {\n  x = foo.bar\n}\n")
                .contains("reference to undeclared resource or value \"foo\"")
        );
        assert!(err("locals {\n  x = var\n}\n").contains("\"var\" must be followed by"));
        assert_eq!(ok("locals {\n  x = path.module\n}\n"), s("."));
    }

    #[test]
    fn resource_attributes_are_placeholders_or_overrides() {
        let f = fixture(
            "resource \"hcloud_load_balancer\" \"main\" {}\nlocals {\n  k = \"hel1-1\"\n  x = [hcloud_load_balancer.main.ipv4, hcloud_load_balancer.secondary[local.k].ipv4, hcloud_load_balancer.list[0].id, data.x.y.z]\n  bad = hcloud_load_balancer.main[*].ipv4\n}\n",
            &[],
        );
        let ev = Evaluator::new(&f.module, &f.files, vars(), BTreeMap::new());
        assert_eq!(
            crate::json::encode(&ev.local("x", None).unwrap()),
            r#"["\u003chcloud_load_balancer.main.ipv4\u003e","\u003chcloud_load_balancer.secondary[\"hel1-1\"].ipv4\u003e","\u003chcloud_load_balancer.list[0].id\u003e","\u003cdata.x.y.z\u003e"]"#
        );
        assert!(
            ev.local("bad", None)
                .unwrap_err()
                .to_string()
                .contains("splat expressions on resources")
        );
        let overrides = [(
            "hcloud_load_balancer.secondary[\"hel1-1\"].ipv4".to_string(),
            s("203.0.113.11"),
        )]
        .into_iter()
        .collect();
        let ev = Evaluator::new(&f.module, &f.files, vars(), overrides);
        let Value::List(items) = ev.local("x", None).unwrap() else {
            panic!()
        };
        assert_eq!(items[1], s("203.0.113.11"));
    }

    #[test]
    fn traversal_errors_match_terraform_wording() {
        assert!(
            err("locals {\n  x = {a = 1}.b\n}\n")
                .contains("This object does not have an attribute named \"b\".")
        );
        assert!(
            err("locals {\n  x = [1][5]\n}\n")
                .contains("The given key does not identify an element")
        );
        assert!(
            err("locals {\n  x = {a = null}.a.b\n}\n")
                .contains("Attempt to get attribute from null value")
        );
        assert!(
            err("locals {\n  x = [{a = 1}].a\n}\n")
                .contains("Can't access attributes on a list of objects")
        );
        assert!(err("locals {\n  x = \"s\".a\n}\n").contains("primitive-typed value (string)"));
        assert!(
            err("locals {\n  x = [1][null]\n}\n")
                .contains("Can't use a null value as an indexing key")
        );
        assert!(err("locals {\n  x = 1[0]\n}\n").contains("does not have any indices"));
        assert_eq!(
            ok("locals {\n  x = {a = [10, 20]}[\"a\"][\"1\"]\n}\n"),
            Value::Number(Number::from(20))
        );
        assert_eq!(ok("locals {\n  x = null[*]\n}\n"), Value::List(vec![]));
        assert_eq!(
            ok("locals {\n  x = \"v\"[*]\n}\n"),
            Value::List(vec![s("v")])
        );
    }

    #[test]
    fn for_expressions() {
        assert!(
            err("locals {\n  x = {for k in [\"a\", \"a\"] : k => 1}\n}\n")
                .contains("Duplicate object key")
        );
        assert!(
            err("locals {\n  x = [for v in null : v]\n}\n").contains("Iteration over null value")
        );
        assert!(
            err("locals {\n  x = [for v in \"s\" : v]\n}\n")
                .contains("A value of type string cannot be used")
        );
        assert!(
            err("locals {\n  x = [for v in [1] : v if null]\n}\n").contains("must not be null")
        );
        assert!(
            err("locals {\n  x = [for v in [1] : v if \"x\"]\n}\n").contains("a bool is required")
        );
        assert!(
            err("locals {\n  x = {for v in [1] : null => v}\n}\n")
                .contains("must not produce a null value")
        );
        assert!(err("locals {\n  x = {for v in [1] : [v] => v}\n}\n").contains("string required"));
        assert_eq!(
            ok("locals {\n  x = [for v in [1, 2] : v if \"true\"]\n}\n"),
            Value::List(vec![
                Value::Number(Number::from(1)),
                Value::Number(Number::from(2))
            ])
        );
    }

    #[test]
    fn conditionals_and_operators() {
        assert_eq!(ok("locals {\n  x = true ? \"a\" : [][0]\n}\n"), s("a"));
        assert_eq!(ok("locals {\n  x = var.n > 1 ? 1 : \"b\"\n}\n"), s("1"));
        assert_eq!(
            ok("locals {\n  x = true ? 1 : 2\n}\n"),
            Value::Number(Number::from(1))
        );
        assert!(err("locals {\n  x = null ? 1 : 2\n}\n").contains("The condition value is null"));
        assert!(err("locals {\n  x = 1 ? 1 : 2\n}\n").contains("a bool is required"));
        assert!(
            err("locals {\n  x = false && [][0]\n}\n").contains("Invalid index"),
            "both operands are evaluated"
        );
        assert!(err("locals {\n  x = 10 / 3\n}\n").contains("no finite decimal form"));
        assert!(err("locals {\n  x = 1 / 0\n}\n").contains("divide by zero"));
        assert!(
            err("locals {\n  x = \"a\" + 1\n}\n")
                .contains("Unsuitable value for left operand: a number is required.")
        );
        assert!(err("locals {\n  x = 1 && true\n}\n").contains("a bool is required"));
        assert!(err("locals {\n  x = !1\n}\n").contains("unary operand: a bool is required"));
        assert!(err("locals {\n  x = -\"a\"\n}\n").contains("unary operand: a number is required"));
        assert!(err("locals {\n  x = 99999999999999999999\n}\n").contains("outside the range"));
    }

    #[test]
    fn function_calls() {
        assert_eq!(
            err("locals {\n  x = merge({}, {})\n}\n"),
            format!(
                "m/main.tf:2:7: function \"merge\" is not implemented by render-cloudinit (it implements {}); adding one requires a golden case",
                funcs::NAMES.join(", ")
            )
        );
        assert!(err("locals {\n  x = provider::a::b(1)\n}\n").contains("not implemented"));
        assert_eq!(
            ok("locals {\n  x = join(\"-\", [[\"a\"], [\"b\"]]...)\n}\n"),
            s("a-b")
        );
        assert!(
            err("locals {\n  x = join(\"-\", \"a\"...)\n}\n").contains("must be a list or tuple")
        );
        assert_eq!(
            err("locals {\n  x = replace(\"a\", \"b\")\n}\n"),
            "m/main.tf:2:7: call to function \"replace\" failed: expects 3 argument(s) (str, substr, replace), got 2"
        );
    }

    #[test]
    fn templatefile_checks_keys_first_and_records_calls() {
        let tpl = "line1\n%{ if false }${missing}%{ endif }\n";
        let f = fixture(
            "locals {\n  x = templatefile(\"${path.module}/t.tftpl\", {})\n}\n",
            &[("t.tftpl", tpl)],
        );
        assert_eq!(
            eval_local(&f, "x").unwrap_err().to_string(),
            "m/t.tftpl:2:16: vars map does not contain key \"missing\" (in templatefile() called at m/main.tf:2:7)"
        );
        let f = fixture(
            "locals {\n  x = { for k in [\"a\", \"b\"] : k => templatefile(\"./t.tftpl\", { v = k, n = 1 }) }\n  y = templatefile(\"t.tftpl\", { v = \"p\", n = 2 })\n}\n",
            &[("t.tftpl", "${v}:${n}%{ for i in [1] }${i}%{ endfor }")],
        );
        let ev = Evaluator::new(&f.module, &f.files, vars(), BTreeMap::new());
        assert_eq!(
            crate::json::encode(&ev.local("x", None).unwrap()),
            r#"{"a":"a:11","b":"b:11"}"#
        );
        let calls = ev.take_calls();
        assert_eq!(
            calls.iter().map(|c| c.key_path.clone()).collect::<Vec<_>>(),
            [vec!["a".to_string()], vec!["b".to_string()]]
        );
        assert_eq!(calls[1].vars["v"], s("b"));
        assert_eq!(calls[0].path, "m/t.tftpl");
        ev.local("y", None).unwrap();
        assert!(ev.take_calls()[0].key_path.is_empty());
    }

    #[test]
    fn templatefile_failures() {
        let t = [
            ("t.tftpl", "${x}"),
            ("r.tftpl", "${templatefile(\"t.tftpl\", {x = 1})}"),
            ("i.tftpl", "a ${x} b"),
        ];
        let run =
            |expr: &str| eval_local(&fixture(&format!("locals {{\n  x = {expr}\n}}\n"), &t), "x");
        assert_eq!(
            run("templatefile(\"t.tftpl\", {x = 5})").unwrap(),
            Value::Number(Number::from(5)),
            "single interpolation passes the value through"
        );
        assert!(
            run("templatefile(\"r.tftpl\", {})")
                .unwrap_err()
                .to_string()
                .contains("cannot recursively call templatefile")
        );
        assert!(
            run("templatefile(\"nope.tftpl\", {})")
                .unwrap_err()
                .to_string()
                .contains("no file exists at \"nope.tftpl\"")
        );
        assert!(
            run("templatefile(\"t.tftpl\", {\"a b\" = 1, x = 1})")
                .unwrap_err()
                .to_string()
                .contains("invalid template variable name \"a b\"")
        );
        assert!(
            run("templatefile(\"t.tftpl\", null)")
                .unwrap_err()
                .to_string()
                .contains("must not be null")
        );
        assert!(
            run("templatefile(\"t.tftpl\", [1])")
                .unwrap_err()
                .to_string()
                .contains("must be a map or object")
        );
        assert!(
            run("templatefile(\"t.tftpl\")")
                .unwrap_err()
                .to_string()
                .contains("expects 2 arguments")
        );
        assert_eq!(
            run("templatefile(\"i.tftpl\", {x = null})")
                .unwrap_err()
                .to_string(),
            "m/i.tftpl:1:5: Invalid template interpolation value: The expression result is null. Cannot include a null value in a string template. (in templatefile() called at m/main.tf:2:7)"
        );
        assert!(
            run("templatefile(\"i.tftpl\", {x = {}})")
                .unwrap_err()
                .to_string()
                .contains("string required")
        );
        let bad = eval_local(
            &fixture(
                "locals {\n  x = templatefile(\"b.tftpl\", {})\n}\n",
                &[("b.tftpl", "a\n${ 1 +  }\n")],
            ),
            "x",
        )
        .unwrap_err();
        assert!(bad.to_string().starts_with("m/b.tftpl:2:"), "{bad}");
    }

    #[test]
    fn free_variables_exclude_for_bindings() {
        let t = hcl_edit::parser::parse_template(
            "${a}%{ for k, v in b }${k}${v}${c}%{ endfor }${[for x in d : x + e]}",
        )
        .unwrap();
        let mut out = Vec::new();
        free_vars_template(&t, &mut Vec::new(), &mut out);
        assert_eq!(
            out.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c", "d", "e"]
        );
    }

    #[test]
    fn identifiers_and_template_strings() {
        assert!(is_identifier("sovereign_region_key"));
        assert!(is_identifier("a-b"));
        assert!(!is_identifier("1a"));
        assert!(!is_identifier(""));
        assert_eq!(template_string(&Value::Bool(true)).unwrap(), "true");
        assert!(template_string(&Value::Null).is_err());
    }
}
