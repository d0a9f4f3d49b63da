//! The `backend "s3" { ... }` block: where a team's shared state lives. Its values are literal strings, as it is
//! read before any variable (and by commands that read nothing else, like `state list`); each mistake is located.

use std::path::Path;

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block, Structure};
use hcl_edit::Span as _;

use super::{attributes, config_files, ConfigError, Diagnostic, Diagnostics, SourceFile};
use crate::model::Location;
use crate::state::{check_bucket, check_key, S3Settings};

const BACKEND_ATTRIBUTES: &[&str] = &[
    "bucket",
    "key",
    "region",
    "profile",
    "endpoint",
    "kms_key_id",
];

/// A `backend "s3"` block: the settings and where it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendBlock {
    pub s3: S3Settings,
    pub location: Location,
}

/// The block's settings, or `None` after located diagnostics.
pub(super) fn backend_block(
    src: &SourceFile,
    block: &Block,
    diags: &mut Vec<Diagnostic>,
) -> Option<BackendBlock> {
    if block.labels.len() != 1 || block.labels[0].as_str() != "s3" {
        diags.push(
            Diagnostic::at(
                src,
                block.span(),
                "backend-label",
                "a backend block must be `backend \"s3\" { ... }`",
            )
            .with_hint(
                "S3 is the one remote backend; without a backend block the state is a local file",
            ),
        );
        return None;
    }
    let before = diags.len();
    let attrs = attributes(src, &block.body, BACKEND_ATTRIBUTES, diags);
    let mut text = |key: &str| -> Option<(String, Option<std::ops::Range<usize>>)> {
        let attr = attrs.get(key)?;
        let span = attr.value.span();
        match &attr.value {
            Expression::String(s) => Some((s.value().to_string(), span)),
            _ => {
                diags.push(
                    Diagnostic::at(
                        src,
                        span,
                        "backend-literal",
                        format!("`{key}` must be a literal string"),
                    )
                    .with_hint(
                        "backend settings are read before variables; write the value itself, e.g. bucket = \
                         \"net-state\"",
                    ),
                );
                None
            }
        }
    };
    let fields: Vec<_> = BACKEND_ATTRIBUTES.iter().map(|k| text(k)).collect();
    let [bucket, key, region, profile, endpoint, kms_key_id] = fields.as_slice() else {
        return None;
    };
    for (name, value) in [("bucket", bucket), ("key", key)] {
        if value.is_none() && !attrs.contains_key(name) {
            diags.push(Diagnostic::at(
                src,
                block.span(),
                "backend-missing",
                format!("the backend \"s3\" block needs `{name}`"),
            ));
        }
    }
    let mut check = |value: &Option<(String, Option<std::ops::Range<usize>>)>,
                     rule: &'static str,
                     ok: &dyn Fn(&str) -> Result<(), String>| {
        if let Some((v, span)) = value {
            if let Err(problem) = ok(v) {
                diags.push(Diagnostic::at(src, span.clone(), rule, problem));
            }
        }
    };
    check(bucket, "backend-bucket", &check_bucket);
    check(key, "backend-key", &check_key);
    check(region, "backend-region", &|r| {
        if r.trim().is_empty() {
            Err("`region` is empty; name the bucket's region or remove it to use AWS_REGION".into())
        } else {
            Ok(())
        }
    });
    check(endpoint, "backend-endpoint", &|e| {
        if e.starts_with("http://") || e.starts_with("https://") {
            Ok(())
        } else {
            Err(format!(
                "`endpoint` must be a URL with its scheme, e.g. https://{e}"
            ))
        }
    });
    for (name, value) in [("profile", profile), ("kms_key_id", kms_key_id)] {
        check(value, "backend-empty", &|v| {
            if v.trim().is_empty() {
                Err(format!("`{name}` is empty; remove it or give a value"))
            } else {
                Ok(())
            }
        });
    }
    if diags.len() > before {
        return None;
    }
    let value = |v: &Option<(String, _)>| v.as_ref().map(|(s, _)| s.clone());
    Some(BackendBlock {
        s3: S3Settings {
            bucket: value(bucket)?,
            key: value(key)?,
            region: value(region),
            profile: value(profile),
            endpoint: value(endpoint),
            kms_key_id: value(kms_key_id),
        },
        location: src.span_location(block.span()),
    })
}

/// Keeps the first backend block; a second one is a located diagnostic.
pub(super) fn keep_first(
    kept: &mut Option<BackendBlock>,
    found: BackendBlock,
    src: &SourceFile,
    block: &Block,
    diags: &mut Vec<Diagnostic>,
) {
    match kept {
        None => *kept = Some(found),
        Some(first) => diags.push(
            Diagnostic::at(
                src,
                block.span(),
                "duplicate-backend",
                "a second backend block",
            )
            .with_hint(format!(
                "the state has one home; the first backend block is at {}",
                first.location
            )),
        ),
    }
}

/// The backend block of the config in `dir`, reading nothing else: for commands that need only the state (`state
/// list`, `state pull`, ...). A directory without `*.hcl` files has none.
pub fn backend_in(dir: &Path) -> Result<Option<BackendBlock>, ConfigError> {
    let paths = match config_files(dir) {
        Ok(paths) => paths,
        Err(ConfigError::NoFiles(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut files = Vec::new();
    for path in paths {
        let text = std::fs::read(&path).map_err(|source| ConfigError::ReadFile {
            path: path.clone(),
            source,
        })?;
        // Not UTF-8: no backend block can be read from it; the full load reports the file.
        let Ok(text) = String::from_utf8(text) else {
            continue;
        };
        files.push(SourceFile::new(path.display().to_string(), text));
    }
    super::register_secret_literals(&files);
    let mut diags = Vec::new();
    let mut backend = None;
    for src in &files {
        let body = match hcl_edit::parser::parse_body(&src.text) {
            Ok(body) => body,
            Err(e) => {
                diags.push(Diagnostic::syntax(src, &e));
                continue;
            }
        };
        for structure in body.iter() {
            if let Structure::Block(block) = structure {
                if block.ident.as_str() == "backend" {
                    if let Some(found) = backend_block(src, block, &mut diags) {
                        keep_first(&mut backend, found, src, block, &mut diags);
                    }
                }
            }
        }
    }
    if !diags.is_empty() {
        return Err(Diagnostics {
            items: diags,
            sources: files
                .iter()
                .map(|f| (f.display_path.clone(), f.text.clone()))
                .collect(),
        }
        .into());
    }
    Ok(backend)
}
