//! `dxctl state migrate --to PATH|s3://BUCKET/KEY`: moves the state to another home (a laptop's file to the team's
//! bucket, or back) under both locks, refusing to replace a state that is already there.

use std::path::Path;
use std::process::ExitCode;

use super::backend;
use super::state_edit::locked;
use crate::cli::{GlobalArgs, StateMigrateArgs};
use crate::printer::Printer;
use crate::state::{lock, Backend, Moved, StateError, StateStore, Store};

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
    if same_home(source, &target) {
        anyhow::bail!(
            "the state is already at {}; nothing to migrate",
            target.name()
        );
    }
    let (source_lock, state) = locked(global, source, "state migrate")?;
    if state.lineage.is_empty() {
        anyhow::bail!(
            "{} holds no state yet; there is nothing to migrate (point the config at {} and apply)",
            source.name(),
            target.name()
        );
    }
    let target_lock = lock::acquire_blocking(&target, "state migrate", global.lock_timeout)?;
    match target.recover() {
        Ok(()) | Err(StateError::Moved { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    match target.load() {
        // The marker an earlier migration left: moving the state back is what it is for.
        Err(StateError::Moved { .. }) => {}
        Err(e) => return Err(e.into()),
        Ok(there) if there.lineage.is_empty() && there.peers.is_empty() && there.intents.is_empty() => {}
        Ok(there) => anyhow::bail!(
            "{} already holds a state (lineage {}, serial {}, {} peer(s)); nothing was copied. Look at it with \
             `dxctl --state {} state pull`; if it should go, remove it yourself first",
            target.name(),
            there.lineage,
            there.serial,
            there.peers.len(),
            target.name()
        ),
    }
    let mut copy = state.clone();
    target.save(&mut copy)?;
    if target.load()? != copy {
        anyhow::bail!(
            "the state read back from {} differs from what was written; the old home {} is left as it was",
            target.name(),
            source.name()
        );
    }
    // The old home now says where the state went, so nobody acts on the old copy.
    source.mark_moved(&Moved {
        moved_to: target.name(),
        lineage: copy.lineage.clone(),
        serial: copy.serial,
    })?;
    printer.data(&format!(
        "Migrated the state (lineage {}, now serial {}, {} peer(s)) from {} to {}.\n",
        copy.lineage,
        copy.serial,
        copy.peers.len(),
        source.name(),
        target.name()
    ))?;
    printer.status(&format!(
        "{} now holds only a marker naming the new home (its last state is {}); dxctl refuses to plan from it.",
        source.name(),
        match source {
            Store::Local(local) => format!("kept as {}.backup", local.path().display()),
            Store::S3(_) => "the object's previous version, with bucket versioning on".to_string(),
        }
    ));
    printer.status(&next_step(&to, block.is_some()));
    // The migration is done: a lock that cannot be released is worth a warning, not a failure.
    for (held, name) in [(target_lock, target.name()), (source_lock, source.name())] {
        if let Err(e) = held.release() {
            printer.warning(&format!(
                "the migration is complete, but the lock on {name} could not be released ({e}); clear it with \
                 `dxctl --state {name} state force-unlock ID`"
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether two stores are one home: the same S3 object, or the same file however its path is written.
fn same_home(a: &Store, b: &Store) -> bool {
    match (a, b) {
        (Store::Local(a), Store::Local(b)) => {
            let resolve = |p: &Path| {
                let parent = p
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                match (parent.canonicalize(), p.file_name()) {
                    (Ok(dir), Some(name)) => dir.join(name),
                    _ => p.to_path_buf(),
                }
            };
            resolve(a.path()) == resolve(b.path())
        }
        _ => a.name() == b.name(),
    }
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
