//! `dxctl status`: the managed peers as AWS describes them now, BGP sessions included. Read-only: it never writes
//! the state (nor, in sandbox mode, the sandbox's world).

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;

use anyhow::Context as _;

use super::{load_config, Session};
use crate::aws::DirectConnect;
use crate::cli::{GlobalArgs, StatusArgs};
use crate::model::{ObservedPeer, Scope};
use crate::printer::Printer;
use crate::render::peers::{status_json, status_table, Live, StatusRow};
use crate::state::{PeerRecord, State};

/// Exit status when some managed peer is not `available` with its BGP session `up` (for monitoring).
pub const EXIT_UNHEALTHY: u8 = 2;

pub async fn status(
    global: &GlobalArgs,
    args: &StatusArgs,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let config = load_config(&args.dir, &args.vars)?;
    let backend = super::backend::resolve(global, config.backend.as_ref(), printer)?;
    let store = super::backend::open_async(global, &backend).await?;
    let session = Session::open(global, &config, store, printer, false).await?;
    let result = describe(&session, printer).await;
    session.close().await?;
    let (state, live) = result?;
    if state.peers.is_empty() {
        if args.json {
            printer.data("[]\n")?;
        } else {
            printer.status("No peers are managed yet, so there is nothing to check.");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<StatusRow<'_>> = state
        .peers
        .iter()
        .zip(live)
        .map(|(record, live)| StatusRow { record, live })
        .collect();
    let unhealthy = rows.iter().filter(|r| !r.live.healthy()).count();
    if args.json {
        printer.data(&format!("{:#}\n", status_json(&rows)))?;
    } else {
        let table = status_table(&rows, printer.data_width());
        printer.data(&table.text)?;
        if !table.hidden.is_empty() {
            printer.status(&format!(
                "(left out to fit the terminal: {}; `--json` shows every field)",
                table.hidden.join(", ")
            ));
        }
    }
    let n = rows.len();
    if unhealthy == 0 {
        printer.status(&format!(
            "All {n} managed peer(s) are available with their BGP session up."
        ));
        Ok(ExitCode::SUCCESS)
    } else {
        printer.status(&format!(
            "{unhealthy} of {n} managed peer(s) not available with their BGP session up (exit {EXIT_UNHEALTHY})."
        ));
        Ok(ExitCode::from(EXIT_UNHEALTHY))
    }
}

/// The state, and how AWS describes each of its peers now (in the state's order): one describe per scope.
async fn describe(session: &Session, printer: &Printer) -> anyhow::Result<(State, Vec<Live>)> {
    let state = super::backend::load(&session.store).await?;
    let mut scopes: BTreeMap<Scope, Vec<&PeerRecord>> = BTreeMap::new();
    for r in &state.peers {
        scopes
            .entry(Scope {
                region: r.region.clone(),
                profile: r.profile.clone(),
            })
            .or_default()
            .push(r);
    }
    let described = futures::future::join_all(scopes.keys().map(|scope| async move {
        let started = crate::clock::now_ms();
        let vifs = session
            .dc
            .describe_virtual_interfaces(scope)
            .await
            .with_context(|| format!("cannot describe the virtual interfaces of {scope}"))?;
        anyhow::Ok((started, vifs))
    }))
    .await;
    let mut seen: HashMap<(&str, &str), &ObservedPeer> = HashMap::new();
    let mut started_by_scope: HashMap<&Scope, u64> = HashMap::new();
    let mut all_vifs = Vec::new();
    for (scope, result) in scopes.keys().zip(described) {
        let (started, vifs) = result?;
        printer.detail(&format!(
            "{scope}: {} virtual interfaces described",
            vifs.len()
        ));
        started_by_scope.insert(scope, started);
        all_vifs.push(vifs);
    }
    for vifs in &all_vifs {
        for v in vifs {
            for p in &v.peers {
                if let Some(id) = &p.bgp_peer_id {
                    seen.insert((v.id.0.as_str(), id.as_str()), p);
                }
            }
        }
    }
    let live = state
        .peers
        .iter()
        .map(
            |r| match seen.get(&(r.virtual_interface_id.0.as_str(), r.bgp_peer_id.as_str())) {
                Some(p) => Live::Listed {
                    state: p.state.clone(),
                    bgp: p.bgp_status.clone(),
                },
                None => {
                    let scope = Scope {
                        region: r.region.clone(),
                        profile: r.profile.clone(),
                    };
                    let started = started_by_scope.get(&scope).copied().unwrap_or(0);
                    Live::NotListed {
                        recent: r.listed_by_ms.is_some_and(|by| started < by),
                    }
                }
            },
        )
        .collect();
    Ok((state, live))
}
