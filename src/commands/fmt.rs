//! `dxctl fmt`: rewrite `*.hcl` files canonically (comments kept), or with `--check` list the ones that would change.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::FmtArgs;
use crate::config::{self, Diagnostic, Diagnostics, SourceFile};
use crate::printer::Printer;

pub fn fmt(args: &FmtArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let mut changed = Vec::new();
    let mut errors = Diagnostics::default();
    let mut files = Vec::new();
    for path in config::config_files(&args.dir)? {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        files.push((path, text));
    }
    // A syntax error's snippet and hint show the file's lines: its keys are masked there too.
    config::register_secret_literals(
        &files
            .iter()
            .map(|(p, t)| SourceFile::new(p.display().to_string(), t.clone()))
            .collect::<Vec<_>>(),
    );
    for (path, text) in files {
        let display = path.display().to_string();
        let formatted = match config::fmt::format(&text) {
            Ok(f) => f,
            Err(e) => {
                let src = SourceFile::new(display.clone(), text.clone());
                errors.items.push(Diagnostic::syntax(&src, &e));
                errors.sources.push((display, text));
                continue;
            }
        };
        if formatted != text {
            if !args.check {
                crate::state::write_atomically(&path, formatted.as_bytes(), false)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            changed.push(display);
        }
    }
    if !errors.items.is_empty() {
        return Err(errors.into());
    }
    for file in &changed {
        printer.data(&format!("{file}\n"))?;
    }
    Ok(if args.check && !changed.is_empty() {
        printer.status(&format!(
            "{} file(s) need formatting; run `dxctl fmt`",
            changed.len()
        ));
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
