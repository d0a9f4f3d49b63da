//! `dxctl state rm` and `dxctl state mv`: change what dxctl manages without touching AWS.

use std::process::ExitCode;

use crate::cli::{GlobalArgs, StateMvArgs, StateRmArgs};
use crate::printer::Printer;

pub fn rm(global: &GlobalArgs, args: &StateRmArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let _ = (global, args, printer);
    anyhow::bail!("dxctl state rm is not built yet")
}

pub fn mv(global: &GlobalArgs, args: &StateMvArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let _ = (global, args, printer);
    anyhow::bail!("dxctl state mv is not built yet")
}
