//! Evaluates attribute expressions (literals, interpolation, `env()`) with hcl-rs, turning failures into located diagnostics.

use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
use hcl::Value;
use hcl_edit::repr::Span;
use hcl_edit::structure::Attribute;

use super::{Diagnostic, SourceFile};

/// `env("NAME")` or `env("NAME", "default")`: an environment variable, an error naming it when unset.
fn env(args: FuncArgs) -> Result<Value, String> {
    let name = match args.first() {
        Some(Value::String(name)) => name.clone(),
        _ => return Err("env() takes the variable name as a string".into()),
    };
    match std::env::var(&name) {
        Ok(value) => Ok(Value::String(value)),
        Err(_) => match args.get(1) {
            Some(default) => Ok(default.clone()),
            None => Err(format!(
                "environment variable {name} is not set (give a default with env(\"{name}\", \"...\"))"
            )),
        },
    }
}

fn context() -> Context<'static> {
    let mut ctx = Context::new();
    ctx.declare_func(
        "env",
        FuncDef::builder()
            .param(ParamType::String)
            .variadic_param(ParamType::String)
            .build(env),
    );
    ctx
}

/// The attribute's value, or a diagnostic at the attribute.
pub fn value(src: &SourceFile, attr: &Attribute, diags: &mut Vec<Diagnostic>) -> Option<Value> {
    let expr: hcl::Expression = attr.value.clone().into();
    match expr.evaluate(&context()) {
        Ok(v) => Some(v),
        Err(error) => {
            let detail = error.kind().to_string();
            diags.push(Diagnostic::new(
                src.span_location(attr.value.span()),
                "evaluation",
                format!("cannot evaluate `{}`: {detail}", attr.key.as_str()),
            ));
            None
        }
    }
}

/// The attribute's value as a string, or a type diagnostic.
pub fn string(src: &SourceFile, attr: &Attribute, diags: &mut Vec<Diagnostic>) -> Option<String> {
    match value(src, attr, diags)? {
        Value::String(s) => Some(s),
        other => {
            diags.push(Diagnostic::new(
                src.span_location(attr.value.span()),
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
