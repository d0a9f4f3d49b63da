//! `dxctl validate`: every config check that needs no AWS, and nothing else.

use std::process::ExitCode;

use super::load_config;
use crate::cli::ValidateArgs;
use crate::printer::Printer;

pub fn validate(args: &ValidateArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let config = load_config(&args.dir, &args.vars)?;
    let desired = config.desired("(region from the AWS config chain)");
    let peers: usize = desired.vifs.iter().map(|v| v.peers.len()).sum();
    printer.data(&format!(
        "Success! The configuration is valid: {} virtual interface{}, {peers} BGP peer{}.\n",
        desired.vifs.len(),
        if desired.vifs.len() == 1 { "" } else { "s" },
        if peers == 1 { "" } else { "s" },
    ))?;
    Ok(ExitCode::SUCCESS)
}
