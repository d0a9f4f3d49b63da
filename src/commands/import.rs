//! `dxctl import`: writes HCL for the BGP peers that exist in AWS.

use std::process::ExitCode;

use crate::cli::{GlobalArgs, ImportArgs};
use crate::printer::Printer;

pub async fn import(
    global: &GlobalArgs,
    args: &ImportArgs,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let _ = (global, args, printer);
    anyhow::bail!("dxctl import is not built yet")
}
