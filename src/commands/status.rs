//! `dxctl status`: the managed peers as AWS describes them now, BGP sessions included.

use std::process::ExitCode;

use crate::cli::{GlobalArgs, StatusArgs};
use crate::printer::Printer;

pub async fn status(
    global: &GlobalArgs,
    args: &StatusArgs,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let _ = (global, args, printer);
    anyhow::bail!("dxctl status is not built yet")
}
