//! Where a command's state lives. `--state` (or `DXCTL_STATE`) wins; then the config's `backend "s3"` block; then
//! the local file `state/dxctl.state.json`. An `s3://` flag takes its bucket and key from the flag and anything else
//! (region, profile, endpoint, KMS key) from the block, if there is one, and the AWS config chain.

use std::path::Path;

use crate::cli::GlobalArgs;
use crate::config::BackendBlock;
use crate::printer::Printer;
use crate::state::{Backend, S3Settings, State, StateStore as _, Store};

/// The state file when neither `--state` nor a backend block names one.
pub const DEFAULT_STATE: &str = "state/dxctl.state.json";

/// A backend given on the command line, completed from the config's block: an `s3://` URL keeps its bucket and
/// key and takes the block's other settings.
pub fn merge(flag: &Backend, block: Option<&BackendBlock>) -> Backend {
    match (flag, block) {
        (Backend::S3(flag), Some(block)) => Backend::S3(S3Settings {
            bucket: flag.bucket.clone(),
            key: flag.key.clone(),
            ..block.s3.clone()
        }),
        (flag, _) => flag.clone(),
    }
}

/// The backend, given the config's block (if the command read the config). A sandbox run is refused the team's
/// state before anything reaches S3: it would record simulator peers there.
pub fn resolve(
    global: &GlobalArgs,
    block: Option<&BackendBlock>,
    printer: &Printer,
) -> anyhow::Result<Backend> {
    let backend = match (&global.state, block) {
        (Some(flag), block) => {
            if let (Backend::Local(_), Some(block)) = (flag, block) {
                printer.detail(&format!(
                    "--state {flag} wins over the backend \"s3\" block at {}",
                    block.location
                ));
            }
            merge(flag, block)
        }
        (None, Some(block)) => Backend::S3(block.s3.clone()),
        (None, None) => Backend::Local(DEFAULT_STATE.into()),
    };
    printer.detail(&format!("state: {backend}"));
    if global.sandbox.is_some() {
        match (&backend, &global.state) {
            (Backend::S3(_), None) => anyhow::bail!(
                "--sandbox would plan against the team's state {backend} (named by the config's backend \"s3\" \
                 block) and record simulator peers in it; pass --state PATH to rehearse with a state of its own (or \
                 --state s3://... for another bucket)"
            ),
            (Backend::S3(_), Some(_)) if global.sandbox_reset => anyhow::bail!(
                "--sandbox-reset needs a local state: it sets the old world's state aside, which dxctl does not do to \
                 the shared state {backend}; pass --state PATH to rehearse"
            ),
            _ => {}
        }
    }
    Ok(backend)
}

/// The backend for a command that reads no config: the backend block of the config in `dir`, read alone.
pub fn resolve_in(global: &GlobalArgs, dir: &Path, printer: &Printer) -> anyhow::Result<Backend> {
    // A local --state needs nothing from the config; an s3:// one may take its region and endpoint from it.
    if matches!(global.state, Some(Backend::Local(_))) {
        return resolve(global, None, printer);
    }
    let block = crate::config::backend_in(dir)?;
    resolve(global, block.as_ref(), printer)
}

/// Opens the backend's store (for S3 this reads the AWS config chain, which may block).
pub fn open(global: &GlobalArgs, backend: &Backend) -> anyhow::Result<Store> {
    Ok(Store::open(backend, Some(global.call_timeout))?)
}

/// [`open`] from async code: on the blocking pool, so Ctrl-C still ends it.
pub async fn open_async(global: &GlobalArgs, backend: &Backend) -> anyhow::Result<Store> {
    let (backend, timeout) = (backend.clone(), global.call_timeout);
    Ok(tokio::task::spawn_blocking(move || Store::open(&backend, Some(timeout))).await??)
}

/// The store's state, read from async code on the blocking pool (an S3 read blocks).
pub async fn load(store: &Store) -> anyhow::Result<State> {
    let store = store.clone();
    Ok(tokio::task::spawn_blocking(move || store.load()).await??)
}
