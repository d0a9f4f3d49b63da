//! Evaluates attribute expressions: `var.*`, string interpolation, and `env()`/`file()` resolved in a pre-pass that marks secrets.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hcl::eval::{Context, Evaluate};
use hcl::Value;
use hcl_edit::expr::{Expression, TraversalOperator};
use hcl_edit::repr::{Decorated, Span};
use hcl_edit::structure::Attribute;
use hcl_edit::visit_mut::{visit_expr_mut, VisitMut};

use super::{Diagnostic, SourceFile};

/// What a load may read besides the config files: variables from the command line and the environment.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// `--var name=value`, in order.
    pub vars: Vec<(String, String)>,
    /// `--var-file F.hcl`, in order.
    pub var_files: Vec<PathBuf>,
    /// The environment `env()` and `DXCTL_VAR_*` read (the process environment in the CLI; a map in tests).
    pub env: BTreeMap<String, String>,
}

impl Inputs {
    pub fn from_process(vars: Vec<(String, String)>, var_files: Vec<PathBuf>) -> Inputs {
        Inputs {
            vars,
            var_files,
            env: std::env::vars().collect(),
        }
    }
}

/// An evaluated value and whether it is secret (from `env()`, `file()` or a sensitive variable).
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluated {
    pub value: Value,
    pub secret: bool,
}

/// Why an expression could not be evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvalError {
    /// It uses a variable whose problem is already reported.
    Reported,
    /// What is wrong (never quoting a secret), and what to do about it when known.
    Failed {
        message: String,
        hint: Option<String>,
    },
}

impl EvalError {
    fn failed(message: impl Into<String>) -> EvalError {
        EvalError::Failed {
            message: message.into(),
            hint: None,
        }
    }
}

/// Evaluates expressions against the resolved variables.
pub struct Evaluator<'a> {
    pub inputs: &'a Inputs,
    vars: hcl::Map<String, Value>,
    sensitive: BTreeSet<String>,
    /// Variables that have no usable value (already reported): expressions using them fail silently.
    failed: BTreeSet<String>,
}

impl<'a> Evaluator<'a> {
    pub fn new(inputs: &'a Inputs) -> Evaluator<'a> {
        Evaluator {
            inputs,
            vars: hcl::Map::new(),
            sensitive: BTreeSet::new(),
            failed: BTreeSet::new(),
        }
    }

    /// Marks a declared variable whose value could not be resolved.
    pub fn declare_failed(&mut self, name: &str) {
        self.failed.insert(name.to_string());
    }

    pub fn declare(&mut self, name: &str, value: Value, sensitive: bool) {
        self.vars.insert(name.to_string(), value);
        if sensitive {
            self.sensitive.insert(name.to_string());
        }
    }

    /// Evaluates `expr` written in the file at `base` (for `file()` paths).
    pub fn eval(&self, base: &Path, expr: &Expression) -> Result<Evaluated, EvalError> {
        let mut expr = expr.clone();
        let mut pass = Resolver {
            eval: self,
            base,
            secret: false,
            error: None,
            undeclared: None,
            poisoned: false,
            substituted: Vec::new(),
            used: BTreeSet::new(),
            var_roots: 0,
            var_attrs: 0,
        };
        pass.visit_expr_mut(&mut expr);
        if pass.poisoned {
            return Err(EvalError::Reported);
        }
        if let Some(name) = pass.undeclared {
            return Err(EvalError::Failed {
                message: format!("`var.{name}` is not declared"),
                hint: Some(self.undeclared_hint(&name)),
            });
        }
        if let Some(e) = pass.error {
            // env() and file() errors quote their arguments, which may be secret (`file(env("KEY_PATH"))`).
            let mut hidden = pass.substituted;
            hidden.extend(self.sensitive_values());
            return Err(EvalError::failed(crate::redact::mask_values(&e, &hidden)));
        }
        let secret = pass.secret;
        let mut ctx = Context::new();
        let vars = if pass.var_roots > pass.var_attrs {
            self.vars.clone()
        } else {
            pass.used
                .iter()
                .filter_map(|name| Some((name.clone(), self.vars.get(name)?.clone())))
                .collect()
        };
        ctx.declare_var("var", Value::Object(vars));
        let expr: hcl::Expression = expr.into();
        // hcl-rs's number arithmetic panics on some input (`x % 0`, overflow): contain it as an error.
        let evaluated = crate::redact::contained(|| expr.evaluate(&ctx)).map_err(|_| {
            EvalError::failed(
                "the arithmetic cannot be evaluated (division by zero or a number out of range)",
            )
        })?;
        evaluated
            .map(|value| Evaluated { value, secret })
            .map_err(|e| {
                // hcl-rs quotes the values it could not use: never one from env(), file() or a sensitive variable.
                let mut hidden = pass.substituted;
                hidden.extend(self.sensitive_values());
                EvalError::failed(crate::redact::mask_values(&e.kind().to_string(), &hidden))
            })
    }

    /// "did you mean" for `var.NAME` when no variable NAME is declared.
    fn undeclared_hint(&self, name: &str) -> String {
        let declared: Vec<&str> = self
            .vars
            .keys()
            .chain(&self.failed)
            .map(String::as_str)
            .collect();
        match super::closest(name, &declared) {
            Some(close) => format!("did you mean `var.{close}`?"),
            None if declared.is_empty() => {
                format!("no variables are declared; declare it with variable \"{name}\" {{ ... }}")
            }
            None => {
                let mut names = declared;
                names.sort_unstable();
                names.dedup();
                format!("declared variables: {}", names.join(", "))
            }
        }
    }

    /// The values of sensitive variables, as text.
    fn sensitive_values(&self) -> Vec<String> {
        self.sensitive
            .iter()
            .filter_map(|name| self.vars.get(name))
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect()
    }

    /// The attribute's value, or a located diagnostic.
    pub fn attribute(
        &self,
        src: &SourceFile,
        attr: &Attribute,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Evaluated> {
        match self.eval(&src.dir(), &attr.value) {
            Ok(v) => Some(v),
            Err(EvalError::Reported) => None,
            Err(EvalError::Failed { message, hint }) => {
                let mut d = Diagnostic::at(
                    src,
                    attr.value.span(),
                    "evaluation",
                    format!("cannot evaluate `{}`: {message}", attr.key.as_str()),
                );
                d.hint = hint;
                diags.push(d);
                None
            }
        }
    }

    /// The attribute's value as a string, or a type diagnostic.
    pub fn string(
        &self,
        src: &SourceFile,
        attr: &Attribute,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<(String, bool)> {
        let v = self.attribute(src, attr, diags)?;
        match v.value {
            Value::String(s) => Some((s, v.secret)),
            other => {
                diags.push(Diagnostic::at(
                    src,
                    attr.value.span(),
                    "type",
                    format!(
                        "`{}` must be a string, not {}",
                        attr.key.as_str(),
                        type_name(&other)
                    ),
                ));
                None
            }
        }
    }
}

/// Replaces `env()` and `file()` calls with their values before hcl-rs evaluates the rest, noting secrets.
struct Resolver<'e, 'a> {
    eval: &'e Evaluator<'a>,
    base: &'e Path,
    secret: bool,
    error: Option<String>,
    /// The first `var.NAME` whose variable is not declared at all.
    undeclared: Option<String>,
    poisoned: bool,
    /// The values `env()` and `file()` gave, which an error message must not quote.
    substituted: Vec<String>,
    /// The variables named as `var.NAME`: only they are handed to the evaluation (a config of thousands of
    /// variables would otherwise copy them all for every expression).
    used: BTreeSet<String>,
    /// How often `var` itself appears; more often than `used` names means a use that is not `var.NAME`.
    var_roots: usize,
    var_attrs: usize,
}

impl VisitMut for Resolver<'_, '_> {
    fn visit_expr_mut(&mut self, expr: &mut Expression) {
        visit_expr_mut(self, expr);
        if self.error.is_some() {
            return;
        }
        match expr {
            Expression::FuncCall(call) if call.name.namespace.is_empty() => {
                let name = call.name.name.as_str().to_string();
                if name != "env" && name != "file" {
                    return;
                }
                let mut args = Vec::new();
                for a in call.args.iter() {
                    match self.eval.eval(self.base, a) {
                        Ok(Evaluated {
                            value: Value::String(s),
                            secret,
                        }) => {
                            if secret {
                                self.secret = true;
                                self.substituted.push(s.clone());
                            }
                            args.push(s);
                        }
                        Ok(other) => {
                            self.error = Some(format!(
                                "{name}() takes strings, not {}",
                                type_name(&other.value)
                            ));
                            return;
                        }
                        Err(EvalError::Reported) => {
                            self.poisoned = true;
                            return;
                        }
                        Err(EvalError::Failed { message, .. }) => {
                            self.error = Some(message);
                            return;
                        }
                    }
                }
                let result = match name.as_str() {
                    "env" => env(&self.eval.inputs.env, &args),
                    _ => file(self.base, &args),
                };
                match result {
                    Ok(value) => {
                        self.secret = true;
                        self.substituted.push(value.clone());
                        *expr = Expression::String(Decorated::new(value));
                    }
                    Err(e) => self.error = Some(e),
                }
            }
            Expression::Traversal(t) => {
                let root_is_var = matches!(&t.expr, Expression::Variable(v) if v.as_str() == "var");
                if let (true, Some(first)) = (root_is_var, t.operators.first()) {
                    if let TraversalOperator::GetAttr(name) = first.value() {
                        self.var_attrs += 1;
                        self.used.insert(name.as_str().to_string());
                        if self.eval.sensitive.contains(name.as_str()) {
                            self.secret = true;
                        }
                        if self.eval.failed.contains(name.as_str()) {
                            self.poisoned = true;
                        } else if !self.eval.vars.contains_key(name.as_str()) {
                            self.undeclared
                                .get_or_insert_with(|| name.as_str().to_string());
                        }
                    }
                }
            }
            Expression::Variable(v) if v.as_str() == "var" => self.var_roots += 1,
            _ => {}
        }
    }
}

/// `env("NAME")` or `env("NAME", "default")`.
fn env(environment: &BTreeMap<String, String>, args: &[String]) -> Result<String, String> {
    match args {
        [name] => environment.get(name).cloned().ok_or_else(|| {
            format!("environment variable {name} is not set (give a default with env(\"{name}\", \"...\"))")
        }),
        [name, default] => Ok(environment.get(name).cloned().unwrap_or_else(|| default.clone())),
        _ => Err("env() takes a variable name and an optional default".into()),
    }
}

/// The most `file()` reads: auth keys are at most 80 characters, and nothing a config reads is large.
pub const FILE_LIMIT: u64 = 64 * 1024;

/// `file("path")`, relative to the config file, with one trailing newline trimmed. Only a regular file (after
/// following links) of at most [`FILE_LIMIT`] bytes: a FIFO, a device or a directory is refused before it is
/// opened (so nothing hangs or fills memory).
fn file(base: &Path, args: &[String]) -> Result<String, String> {
    use std::io::Read as _;
    let [path] = args else {
        return Err("file() takes one path".into());
    };
    let full = base.join(path);
    let meta = std::fs::metadata(&full)
        .map_err(|e| format!("file({path:?}): cannot read {}: {e}", full.display()))?;
    if !meta.is_file() {
        return Err(format!(
            "file({path:?}): {} is not a regular file (file() refuses directories, FIFOs and devices)",
            full.display()
        ));
    }
    if meta.len() > FILE_LIMIT {
        return Err(format!(
            "file({path:?}): {} is {} bytes; file() reads at most {FILE_LIMIT}",
            full.display(),
            meta.len()
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(&full)
        .and_then(|f| f.take(FILE_LIMIT + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("file({path:?}): cannot read {}: {e}", full.display()))?;
    if bytes.len() as u64 > FILE_LIMIT {
        return Err(format!(
            "file({path:?}): {} holds more than {FILE_LIMIT} bytes; file() reads at most that",
            full.display()
        ));
    }
    let mut text = String::from_utf8(bytes)
        .map_err(|_| format!("file({path:?}): {} is not UTF-8 text", full.display()))?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
