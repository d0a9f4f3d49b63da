//! `dxctl state migrate --to PATH|s3://BUCKET/KEY`: moves the state to another home (a laptop's file to the team's
//! bucket, or back) under both locks, refusing to replace a state that is already there.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use super::backend;
use super::state_edit::locked;
use crate::cli::{GlobalArgs, StateMigrateArgs};
use crate::printer::Printer;
use crate::state::{lock, Backend, StateStore, Store};

pub fn migrate(
    global: &GlobalArgs,
    source: &Store,
    dir: &Path,
    args: &StateMigrateArgs,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let block = match &args.to {
        Backend::S3(_) => crate::config::backend_in(dir)?,
        Backend::Local(_) => None,
    };
    let to = backend::merge(&args.to, block.as_ref());
    let target = backend::open(global, &to)?;
    if target.name() == source.name() {
        anyhow::bail!(
            "the state is already at {}; nothing to migrate",
            target.name()
        );
    }
    let (source_lock, state) = locked(global, source, "state migrate")?;
    let target_lock = lock::acquire_blocking(&target, "state migrate", global.lock_timeout)?;
    target.recover()?;
    let there = target.load()?;
    let empty = there.lineage.is_empty() && there.peers.is_empty() && there.intents.is_empty();
    if !empty {
        anyhow::bail!(
            "{} already holds a state (lineage {}, serial {}, {} peer(s)); nothing was copied. Look at it with \
             `dxctl --state {} state pull`; if it should go, remove it yourself first",
            target.name(),
            there.lineage,
            there.serial,
            there.peers.len(),
            target.name()
        );
    }
    if state.lineage.is_empty() {
        anyhow::bail!(
            "{} holds no state yet; there is nothing to migrate (point the config at {} and apply)",
            source.name(),
            target.name()
        );
    }
    let mut copy = state.clone();
    target.save(&mut copy)?;
    let written = target.load()?;
    if written != copy {
        anyhow::bail!(
            "the state read back from {} differs from what was written; the old home {} is left as it was",
            target.name(),
            source.name()
        );
    }
    let aside = match source.local() {
        Some(local) => Some(set_aside(local.path())?),
        None => None,
    };
    target_lock.release()?;
    source_lock.release()?;
    printer.data(&format!(
        "Migrated the state (lineage {}, now serial {}, {} peer(s)) from {} to {}.\n",
        copy.lineage,
        copy.serial,
        copy.peers.len(),
        source.name(),
        target.name()
    ))?;
    match aside {
        Some(aside) => printer.status(&format!(
            "The old state file was moved aside to {}, so nobody plans from it by mistake.",
            aside.display()
        )),
        None => printer.status(&format!(
            "The old state {} was left as it was (with its lock released); delete it once everyone uses the new \
             home.",
            source.name()
        )),
    }
    printer.status(&next_step(&to, block.is_some()));
    Ok(ExitCode::SUCCESS)
}

/// Renames the migrated local state file to `<path>.migrated` (its journal was folded in when it was loaded).
fn set_aside(path: &Path) -> anyhow::Result<std::path::PathBuf> {
    let mut aside = path.as_os_str().to_owned();
    aside.push(".migrated");
    let aside = std::path::PathBuf::from(aside);
    std::fs::rename(path, &aside)
        .with_context(|| format!("cannot move the old state {} aside", path.display()))?;
    Ok(aside)
}

/// What the user does next so every command finds the new home.
fn next_step(to: &Backend, config_has_block: bool) -> String {
    match to {
        Backend::S3(s3) if !config_has_block => format!(
            "Next: point the config at it, e.g. in backend.hcl:\n  backend \"s3\" {{\n    bucket = \"{}\"\n    key    = \
             \"{}\"\n  }}\n(or pass --state {} / set DXCTL_STATE).",
            s3.bucket,
            s3.key,
            s3.url()
        ),
        Backend::S3(_) => "The config's backend \"s3\" block supplied the bucket's settings; make sure its bucket and \
                           key name the new home."
            .to_string(),
        Backend::Local(path) => format!(
            "Next: remove the backend \"s3\" block from the config (if it has one), or pass --state {} / set \
             DXCTL_STATE.",
            path.display()
        ),
    }
}
