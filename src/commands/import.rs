//! `dxctl import`: describes the given regions and writes HCL for the BGP peers that exist there, so that the next
//! plan adopts them. The text itself comes from the pure `crate::import`; this is the describing and the writing.

use std::collections::{BTreeSet, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use super::Session;
use crate::aws::{AwsError, DirectConnect};
use crate::cli::{GlobalArgs, ImportArgs, SplitBy};
use crate::import::{self, Generated, Request};
use crate::model::{ObservedVif, Scope};
use crate::printer::Printer;

pub async fn import(
    global: &GlobalArgs,
    args: &ImportArgs,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    if args.out.exists() && !args.out.is_dir() {
        anyhow::bail!("--out {} exists and is not a directory", args.out.display());
    }
    // The state tells which peers are managed, and under which labels: the one a config in --out (or here) names.
    let config_dir = if args.out.is_dir() {
        args.out.as_path()
    } else {
        std::path::Path::new(".")
    };
    let backend = super::backend::resolve_in(global, config_dir, printer)?;
    let store = super::backend::open_async(global, &backend).await?;
    let session = Session::open_regions(global, store, printer).await?;
    let regions = regions(args, session.default_region())?;
    printer.status(&format!(
        "Describing virtual interfaces in {}...",
        regions.join(", ")
    ));
    let described = describe(&session, &regions, printer).await;
    let owned = owned_labels(&session).await;
    session.close().await?;
    let vifs = select(described?, args)?;
    let owned = owned?;
    let generated = import::generate(&Request {
        regions: &regions,
        vifs: &vifs,
        owned_labels: &owned,
        split_by: match args.split_by {
            SplitBy::Region => import::SplitBy::Region,
            SplitBy::Connection => import::SplitBy::Connection,
        },
    })?;
    for skipped in &generated.skipped {
        printer.status(&format!("Skipped {skipped}"));
    }
    if generated.files.is_empty() {
        printer.data(&format!(
            "Nothing to import: no virtual interface with a BGP peer to declare in {}{}.\n",
            regions.join(", "),
            skipped_summary(&generated)
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    write_files(&args.out, &generated)?;
    printer.data(&summary(&args.out, &regions, &generated))?;
    Ok(ExitCode::SUCCESS)
}

/// `--regions`, else the session's region (`--region`, the sandbox's, the AWS config chain's); deduplicated in order.
fn regions(args: &ImportArgs, fallback: Option<&str>) -> anyhow::Result<Vec<String>> {
    let mut seen = BTreeSet::new();
    let mut out: Vec<String> = args
        .regions
        .iter()
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty() && seen.insert(r.clone()))
        .collect();
    if out.is_empty() {
        out.extend(fallback.map(str::to_string));
    }
    if out.is_empty() {
        anyhow::bail!("no region to import from: pass --regions, --region, or set AWS_REGION");
    }
    Ok(out)
}

/// Rounds of describing (each with the SDK's own retries) before import gives up, as plan does.
const DESCRIBE_ROUNDS: u32 = 4;

/// Every VIF of every region, one DescribeVirtualInterfaces per region, in parallel; a round that fails in a way that
/// may pass is tried again.
async fn describe(
    session: &Session,
    regions: &[String],
    printer: &Printer,
) -> anyhow::Result<Vec<ObservedVif>> {
    let mut round = 1;
    loop {
        let answers = futures::future::join_all(regions.iter().map(|region| async move {
            let scope = Scope::region(region.clone());
            (region, session.dc.describe_virtual_interfaces(&scope).await)
        }))
        .await;
        let mut vifs = Vec::new();
        let mut failed: Option<(&String, AwsError)> = None;
        for (region, answer) in answers {
            match answer {
                Ok(found) => vifs.extend(found),
                Err(e) => {
                    failed.get_or_insert((region, e));
                }
            }
        }
        let Some((region, e)) = failed else {
            return Ok(vifs);
        };
        if round >= DESCRIBE_ROUNDS || !crate::apply::worth_retrying(&e) {
            return Err(e).context(format!(
                "cannot describe the virtual interfaces of {region}"
            ));
        }
        let pause = crate::apply::Backoff::DESCRIBES.delay(round - 1);
        printer.status(&format!(
            "warning: describing {region} failed ({e:#}); trying again in {pause:?}"
        ));
        tokio::time::sleep(pause).await;
        round += 1;
    }
}

/// The labels of the peers dxctl already manages, by (VIF, BGP peer id), so the config keeps their addresses.
async fn owned_labels(session: &Session) -> anyhow::Result<HashMap<(String, String), String>> {
    let state = super::backend::load(&session.store).await?;
    Ok(state
        .peers
        .iter()
        .filter_map(|r| {
            let prefix = format!("virtual_interface.{}.bgp_peer.", r.virtual_interface_id);
            let label = r.address.0.strip_prefix(&prefix)?;
            Some((
                (r.virtual_interface_id.0.clone(), r.bgp_peer_id.clone()),
                label.to_string(),
            ))
        })
        .collect())
}

/// The VIFs `--vif` and `--connection` name (either one; every VIF when neither is given). An id that matches
/// nothing described is an error naming it.
fn select(vifs: Vec<ObservedVif>, args: &ImportArgs) -> anyhow::Result<Vec<ObservedVif>> {
    if args.vifs.is_empty() && args.connections.is_empty() {
        return Ok(vifs);
    }
    let unknown = |ids: &[String], known: &dyn Fn(&str) -> bool| -> Vec<String> {
        let mut out: Vec<String> = ids.iter().filter(|id| !known(id)).cloned().collect();
        out.sort();
        out.dedup();
        out
    };
    let vif_ids: BTreeSet<&str> = vifs.iter().map(|v| v.id.0.as_str()).collect();
    let connections: BTreeSet<&str> = vifs
        .iter()
        .filter_map(|v| v.connection_id.as_deref())
        .collect();
    let missing_vifs = unknown(&args.vifs, &|id| vif_ids.contains(id));
    let missing_connections = unknown(&args.connections, &|id| connections.contains(id));
    let mut problems = Vec::new();
    if !missing_vifs.is_empty() {
        problems.push(format!("no virtual interface {}", missing_vifs.join(", ")));
    }
    if !missing_connections.is_empty() {
        problems.push(format!(
            "no virtual interface on connection or LAG {}",
            missing_connections.join(", ")
        ));
    }
    if !problems.is_empty() {
        anyhow::bail!("{} in the regions described", problems.join("; "));
    }
    Ok(vifs
        .into_iter()
        .filter(|v| {
            args.vifs.contains(&v.id.0)
                || v.connection_id
                    .as_ref()
                    .is_some_and(|c| args.connections.contains(c))
        })
        .collect())
}

/// Writes every file, or none: existing files are listed and refused before anything is written, and each file is
/// created exclusively, so a file that appears meanwhile is not overwritten either (what this run wrote is then
/// removed again).
fn write_files(out: &Path, generated: &Generated) -> anyhow::Result<()> {
    let existing: Vec<String> = generated
        .files
        .keys()
        .filter(|name| std::fs::symlink_metadata(out.join(name)).is_ok())
        .cloned()
        .collect();
    if !existing.is_empty() {
        anyhow::bail!(
            "{} already holds {}; nothing was written (import never overwrites: choose another --out, or move them away)",
            out.display(),
            existing.join(", ")
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut written: Vec<PathBuf> = Vec::new();
    for (name, text) in &generated.files {
        let path = out.join(name);
        let result = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| {
                written.push(path.clone());
                f.write_all(text.as_bytes())?;
                f.sync_all()
            });
        if let Err(e) = result {
            for p in &written {
                let _ = std::fs::remove_file(p);
            }
            return Err(e).with_context(|| {
                format!("cannot write {}; nothing was left written", path.display())
            });
        }
    }
    Ok(())
}

fn skipped_summary(generated: &Generated) -> String {
    let vifs = generated.skipped.iter().filter(|s| s.is_vif()).count();
    let peers = generated.skipped.len() - vifs;
    if vifs + peers == 0 {
        return String::new();
    }
    format!(
        " ({vifs} virtual interface{} and {peers} peer{} skipped, listed above)",
        plural(vifs),
        plural(peers)
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn summary(out: &Path, regions: &[String], g: &Generated) -> String {
    let mut text = format!(
        "Imported {} virtual interface{} with {} BGP peer{} from {} into {}{}:\n",
        g.vifs,
        plural(g.vifs),
        g.peers,
        plural(g.peers),
        regions.join(", "),
        out.display(),
        skipped_summary(g)
    );
    for name in g.files.keys() {
        text.push_str(&format!("  {name}\n"));
    }
    if g.keys > 0 {
        text.push_str(&format!(
            "Auth keys: {} sensitive variable{} without a value (see {}). Set each to the peer's current key \
             (DXCTL_VAR_<name>, --var or --var-file), then run `dxctl plan {}`: it should only adopt.\n",
            g.keys,
            plural(g.keys),
            import::VARIABLES_FILE,
            out.display()
        ));
    } else {
        text.push_str(&format!(
            "Run `dxctl plan {}`: it should only adopt.\n",
            out.display()
        ));
    }
    text
}
