//! `variable` blocks and their values: default, then `DXCTL_VAR_<name>`, then `--var-file`, then `--var`.

use std::collections::BTreeMap;

use hcl::Value;
use hcl_edit::repr::Span;
use hcl_edit::structure::{Block, Structure};

use super::eval::{type_name, Evaluator, Inputs};
use super::{attributes, Diagnostic, SourceFile};
use crate::model::Location;

const VARIABLE_ATTRIBUTES: &[&str] = &["default", "type", "description", "sensitive"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarType {
    String,
    Number,
    Bool,
    Any,
}

/// One declared variable.
#[derive(Clone, Debug)]
pub struct Variable {
    pub name: String,
    pub ty: VarType,
    pub default: Option<Value>,
    pub sensitive: bool,
    pub description: Option<String>,
    pub location: Location,
    span: Option<std::ops::Range<usize>>,
    file: usize,
}

/// Reads a `variable "name" { ... }` block.
pub fn declare(
    src: &SourceFile,
    file: usize,
    block: &Block,
    ev: &Evaluator,
    diags: &mut Vec<Diagnostic>,
) -> Option<Variable> {
    let [label] = block.labels.as_slice() else {
        diags.push(Diagnostic::at(
            src,
            block.span(),
            "variable-label",
            "a variable block takes exactly one label: `variable \"name\" { ... }`",
        ));
        return None;
    };
    let name = label.as_str().to_string();
    let attrs = attributes(src, &block.body, VARIABLE_ATTRIBUTES, diags);
    let ty = match attrs.get("type") {
        None => VarType::Any,
        Some(attr) => {
            let text = attr
                .value
                .span()
                .and_then(|s| src.text.get(s))
                .unwrap_or("")
                .trim();
            match text {
                "string" => VarType::String,
                "number" => VarType::Number,
                "bool" => VarType::Bool,
                "any" => VarType::Any,
                other => {
                    diags.push(
                        Diagnostic::at(
                            src,
                            attr.value.span(),
                            "variable-type",
                            format!("unknown type `{other}`"),
                        )
                        .with_hint("use string, number, bool or any"),
                    );
                    VarType::Any
                }
            }
        }
    };
    let sensitive = match attrs
        .get("sensitive")
        .and_then(|a| ev.attribute(src, a, diags))
    {
        None => false,
        Some(v) => match v.value {
            Value::Bool(b) => b,
            other => {
                diags.push(Diagnostic::at(
                    src,
                    attrs["sensitive"].value.span(),
                    "type",
                    format!("`sensitive` must be a bool, not {}", type_name(&other)),
                ));
                false
            }
        },
    };
    let default = attrs
        .get("default")
        .and_then(|a| ev.attribute(src, a, diags))
        .map(|v| v.value);
    let description = attrs
        .get("description")
        .and_then(|a| ev.string(src, a, diags))
        .map(|(s, _)| s);
    Some(Variable {
        name,
        ty,
        default,
        sensitive,
        description,
        location: src.span_location(label.span()),
        span: label.span(),
        file,
    })
}

/// Where a variable's value came from, so a bad value is blamed on what gave it, not on the `variable` block.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Origin {
    Default,
    Env,
    VarFile(Location),
    Flag,
}

/// The value of every variable, or diagnostics for unset, undeclared or mistyped ones.
pub fn resolve(
    decls: &[Variable],
    files: &[SourceFile],
    inputs: &Inputs,
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, (Value, bool)> {
    let mut values: BTreeMap<&str, (Value, Origin)> = BTreeMap::new();
    for v in decls {
        if let Some(d) = &v.default {
            values.insert(&v.name, (d.clone(), Origin::Default));
        }
        if let Some(text) = inputs.env.get(&format!("DXCTL_VAR_{}", v.name)) {
            values.insert(&v.name, (from_text(text, v.ty), Origin::Env));
        }
    }
    let names: Vec<&str> = decls.iter().map(|d| d.name.as_str()).collect();
    for path in &inputs.var_files {
        for (name, value, location) in var_file(path, inputs, diags) {
            match decls.iter().find(|d| d.name == name) {
                Some(d) => {
                    values.insert(&d.name, (value, Origin::VarFile(location)));
                }
                None => diags.push(
                    Diagnostic::new(
                        location,
                        "undeclared-variable",
                        format!("variable `{name}` is not declared in the config"),
                    )
                    .with_hint(undeclared_hint(&name, &names)),
                ),
            }
        }
    }
    for (name, text) in &inputs.vars {
        match decls.iter().find(|d| &d.name == name) {
            Some(d) => {
                values.insert(&d.name, (from_text(text, d.ty), Origin::Flag));
            }
            None => diags.push(
                Diagnostic::on_command_line(
                    "undeclared-variable",
                    format!("--var {name}=…: no variable `{name}` is declared"),
                )
                .with_hint(undeclared_hint(name, &names)),
            ),
        }
    }
    let mut out = BTreeMap::new();
    for d in decls {
        let src = &files[d.file];
        match values.get(d.name.as_str()) {
            None => diags.push(
                Diagnostic::at(
                    src,
                    d.span.clone(),
                    "variable-unset",
                    match &d.description {
                        Some(what) => format!("variable `{}` ({what}) has no value", d.name),
                        None => format!("variable `{}` has no value", d.name),
                    },
                )
                .with_hint(format!(
                    "give it a default, pass --var {0}=..., or set DXCTL_VAR_{0}",
                    d.name
                )),
            ),
            Some((value, origin)) if !type_matches(value, d.ty) => {
                diags.push(mistyped(d, src, value, origin));
            }
            Some((value, _)) => {
                if d.sensitive {
                    if let Value::String(s) = value {
                        crate::redact::register(s);
                    }
                }
                out.insert(d.name.clone(), (value.clone(), d.sensitive));
            }
        }
    }
    out
}

/// A value of the wrong type, blamed on what gave it: the `--var` flag, the environment variable, the variable
/// file's line, or (for a `default`) the `variable` block. The value itself is never quoted: it may be secret.
fn mistyped(d: &Variable, src: &SourceFile, value: &Value, origin: &Origin) -> Diagnostic {
    let want = type_label(d.ty);
    let (what, sample) = match d.ty {
        VarType::Number => ("a number", "65000"),
        VarType::Bool => ("true or false", "true"),
        VarType::String | VarType::Any => ("a string", "text"),
    };
    match origin {
        Origin::Flag => Diagnostic::on_command_line(
            "variable-type",
            format!(
                "--var {}=…: variable `{}` must be {want}, and the value given is not",
                d.name, d.name
            ),
        )
        .with_hint(format!("pass {what}, e.g. --var {}={sample}", d.name)),
        Origin::Env => Diagnostic::on_command_line(
            "variable-type",
            format!(
                "DXCTL_VAR_{}: variable `{}` must be {want}, and the environment variable's value is not",
                d.name, d.name
            ),
        )
        .with_hint(format!("set DXCTL_VAR_{} to {what}, e.g. {sample}", d.name)),
        Origin::VarFile(location) => Diagnostic::new(
            location.clone(),
            "variable-type",
            format!(
                "variable `{}` must be {want}, but this file gives it {}",
                d.name,
                type_name(value)
            ),
        ),
        Origin::Default => Diagnostic::at(
            src,
            d.span.clone(),
            "variable-type",
            format!(
                "variable `{}` must be {want}, but its default is {}",
                d.name,
                type_name(value)
            ),
        ),
    }
}

/// "did you mean" for a value given to a variable that is not declared.
fn undeclared_hint(name: &str, declared: &[&str]) -> String {
    match super::closest(name, declared) {
        Some(close) => format!("did you mean `{close}`?"),
        None => format!("declare it with variable \"{name}\" {{ ... }}"),
    }
}

/// Attributes of a `--var-file`: `name = value` lines.
fn var_file(
    path: &std::path::Path,
    inputs: &Inputs,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(String, Value, Location)> {
    let display = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            diags.push(Diagnostic::new(
                Location {
                    file: display,
                    line: 1,
                    column: 1,
                },
                "var-file",
                format!("cannot read variable file: {e}"),
            ));
            return vec![];
        }
    };
    let src = SourceFile::new(display, text);
    let body = match hcl_edit::parser::parse_body(&src.text) {
        Ok(b) => b,
        Err(e) => {
            diags.push(Diagnostic::syntax_unquoted(&src, &e));
            return vec![];
        }
    };
    let ev = Evaluator::new(inputs);
    let mut out = Vec::new();
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => match ev.eval(&src.dir(), &a.value) {
                Ok(v) => out.push((
                    a.key.as_str().to_string(),
                    v.value,
                    src.span_location(a.span()),
                )),
                // hcl-rs would quote the value, and a variable file's values are often secret.
                Err(_) => diags.push(Diagnostic::new(
                    src.span_location(a.span()),
                    "var-file",
                    format!(
                        "cannot evaluate `{}` (the value is not shown: it may be secret)",
                        a.key.as_str()
                    ),
                )),
            },
            Structure::Block(b) => diags.push(Diagnostic::at(
                &src,
                b.span(),
                "var-file",
                "a variable file holds only `name = value` lines",
            )),
        }
    }
    out
}

fn from_text(text: &str, ty: VarType) -> Value {
    match ty {
        VarType::Number => text
            .parse::<u64>()
            .map(Value::from)
            .or_else(|_| text.parse::<f64>().map(Value::from))
            .unwrap_or_else(|_| Value::String(text.to_string())),
        VarType::Bool => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text.to_string()),
        },
        VarType::String | VarType::Any => Value::String(text.to_string()),
    }
}

fn type_matches(v: &Value, ty: VarType) -> bool {
    match ty {
        VarType::Any => true,
        VarType::String => matches!(v, Value::String(_)),
        VarType::Number => matches!(v, Value::Number(_)),
        VarType::Bool => matches!(v, Value::Bool(_)),
    }
}

fn type_label(ty: VarType) -> &'static str {
    match ty {
        VarType::String => "a string",
        VarType::Number => "a number",
        VarType::Bool => "a bool",
        VarType::Any => "any value",
    }
}
