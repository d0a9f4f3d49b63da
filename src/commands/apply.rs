//! `dxctl apply`: plan (or read a saved plan), confirm, then run it and wait until peers are available.

use std::process::ExitCode;
use std::time::Duration;

use tokio::sync::watch;

use super::{load_config, observe_and_plan, refused, Planned, Session};
use crate::apply::{self, Event, Options, Progress, Summary, WaitOptions};
use crate::cli::{ApplyArgs, GlobalArgs};
use crate::config::Config;
use crate::plan::Plan;
use crate::printer::{Printer, ProgressStyle};
use crate::render;
use crate::saved_plan::SavedPlan;
use crate::state::{lock, PeerRecord, StateStore};

/// Exit status when everything applied but AWS still has to approve peers on public VIFs.
pub const EXIT_AWAITING_APPROVAL: u8 = 3;
/// How long a lost call's effect may take to show in describes, unless `--settle-window` or the sandbox says.
const DEFAULT_SETTLE_WINDOW: Duration = Duration::from_secs(30);
/// Exit status when everything applied but, with `--wait-bgp-up`, some BGP session was not up in time.
pub const EXIT_BGP_NOT_UP: u8 = 4;
/// Exit status after Ctrl-C.
pub const EXIT_INTERRUPTED: u8 = crate::interrupt::EXIT_INTERRUPTED;

pub async fn apply(
    global: &GlobalArgs,
    args: &ApplyArgs,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let saved = if args.dir.is_file() {
        Some(SavedPlan::read(&args.dir)?)
    } else {
        None
    };
    let dir = saved
        .as_ref()
        .map_or_else(|| args.dir.clone(), |s| s.config_dir.clone());
    let config = load_config(&dir, &args.vars)?;
    let backend = super::backend::resolve(global, config.backend.as_ref(), printer)?;
    let store = super::backend::open_async(global, &backend).await?;
    let held = lock::acquire(&store, "apply", global.lock_timeout).await?;
    // A journal a killed apply left behind is folded into the state file before this one reads the state.
    let recovering = store.clone();
    tokio::task::spawn_blocking(move || recovering.recover()).await??;
    let state_name = store.name();
    let session = Session::open(global, &config, store, printer, true).await?;
    let result = run(&session, global, args, &config, saved.as_ref(), printer).await;
    let closed = session.close().await;
    release(held, &state_name, printer).await;
    let code = result?;
    closed?;
    Ok(code)
}

/// Releases the state lock, saying so when that fails: the apply's outcome stands either way, but a lock left
/// behind (S3 outlives the process) stops the next run until someone clears it.
async fn release(held: Box<dyn lock::StateLock>, state: &str, printer: &Printer) {
    let id = held.info().id.clone();
    match tokio::task::spawn_blocking(move || held.release()).await {
        Ok(Ok(())) => {}
        Ok(Err(e @ crate::state::StateError::LockLost { .. })) => printer.warning(&format!("{e}")),
        Ok(Err(e)) => printer.warning(&format!(
            "could not release the state lock on {state} ({:#}); the next run will find it: clear it with \
             `dxctl state force-unlock {id}`",
            anyhow::Error::from(e)
        )),
        Err(e) => printer.warning(&format!("could not release the state lock on {state}: {e}")),
    }
}

async fn run(
    session: &Session,
    global: &GlobalArgs,
    args: &ApplyArgs,
    config: &Config,
    saved: Option<&SavedPlan>,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let planned = settle_earlier_calls(session, config, args, printer).await?;
    if !planned.plan.refusals.is_empty() {
        printer.error(&render::refusals(&planned.plan));
        return Err(refused(&planned.plan));
    }
    if let Some(saved) = saved {
        saved.check(&planned.state, &planned.observed, &planned.plan)?;
    }
    if args.json {
        printer.data(&format!(
            "{}\n",
            serde_json::json!({"kind": "plan", "plan": render::json(&planned.plan)})
        ))?;
    } else {
        printer.data(&render::human(&planned.plan, printer.color_stdout()))?;
    }
    if !planned.plan.has_changes() {
        if !args.json {
            printer.data("\nApply complete! Resources: 0 added, 0 changed, 0 destroyed.\n")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if saved.is_none() && !args.auto_approve && !confirm(printer).await? {
        anyhow::bail!("apply cancelled; nothing was changed");
    }
    let options = Options {
        parallelism: args.parallelism,
        wait: WaitOptions {
            interval: args.poll_interval.unwrap_or(if global.sandbox.is_some() {
                Duration::from_millis(500)
            } else {
                Duration::from_secs(5)
            }),
            timeout: args.timeout,
        },
        settle: args.settle_window.unwrap_or_else(|| {
            session
                .known_consistency_window()
                .unwrap_or(DEFAULT_SETTLE_WINDOW)
        }),
        call_timeout: global.call_timeout,
        wait_bgp_up: args.wait_bgp_up,
    };
    let progress = printer.progress(if args.json {
        ProgressStyle::Json
    } else {
        ProgressStyle::Human
    });
    let (cancel_tx, cancel) = watch::channel(false);
    let (abort_tx, abort) = watch::channel(false);
    let notices = *printer;
    let _ctrl_c = crate::interrupt::take_over();
    // No exit from here: even an abort returns through the normal path, so the state's journal is folded in, the
    // lock released and the sandbox's world saved.
    let interrupts = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = cancel_tx.send(true);
            notices.warning("Interrupt received: no new changes start; in-flight calls finish and are recorded. Press Ctrl-C again to abort.");
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = abort_tx.send(true);
                notices.warning("Aborting: calls in flight are left to the next apply, which settles them first.");
            }
        }
    });
    let summary = apply::execute(
        &session.dc,
        &planned.plan,
        &planned.observed,
        session.store.clone(),
        planned.state,
        options,
        apply::Controls {
            progress: progress.as_ref(),
            cancel,
            abort,
        },
    )
    .await;
    interrupts.abort();
    report(
        &summary,
        &planned.plan,
        args.json,
        progress.as_ref(),
        printer,
    )
}

/// Plans; while the state holds creates of an earlier apply whose outcome no describe can tell yet, describes again
/// until each is settled (its peer adopted, or shown absent by a describe that started late enough). Nothing is
/// created for such an address before that. Gives up at `--timeout`, naming the calls.
async fn settle_earlier_calls(
    session: &Session,
    config: &Config,
    args: &ApplyArgs,
    printer: &Printer,
) -> anyhow::Result<Planned> {
    let deadline = tokio::time::Instant::now() + args.timeout;
    let interval = args.poll_interval.unwrap_or(Duration::from_secs(2));
    let mut said = false;
    loop {
        let planned = match observe_and_plan(session, config, printer).await {
            Ok(p) => p,
            // While settling, a failed describe is one more reason to look again, not to give up.
            Err(e) if said && tokio::time::Instant::now() < deadline => {
                printer.status(&format!("warning: {e:#}; describing again"));
                tokio::time::sleep(interval).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let unsettled: Vec<_> = planned.plan.unsettled().cloned().collect();
        // Refusals (an ambiguous intent among them) do not go away by waiting; the caller reports them.
        if unsettled.is_empty() || !planned.plan.refusals.is_empty() {
            return Ok(planned);
        }
        if tokio::time::Instant::now() >= deadline {
            let names: Vec<String> = unsettled
                .iter()
                .map(|s| format!("  {}: {}: {}", s.address, s.call, s.describe()))
                .collect();
            anyhow::bail!(
                "create outcome unknown: an earlier apply's calls could not be settled before --timeout:\n{}\n\
                 Nothing more was created for these addresses. Run apply again later; it adopts each peer if it \
                 appears and creates it only once it is settled absent.",
                names.join("\n")
            );
        }
        if !said {
            for s in &unsettled {
                printer.status(&format!(
                    "Settling {}: {}: {}",
                    s.address,
                    s.call,
                    s.describe()
                ));
            }
            said = true;
        }
        tokio::time::sleep(interval).await;
    }
}

fn report(
    summary: &Summary,
    plan: &Plan,
    json: bool,
    progress: &dyn Progress,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let counts = format!(
        "Resources: {} added, 0 changed, {} destroyed{}{}{}.",
        summary.added,
        summary.destroyed,
        if summary.adopted > 0 {
            format!(", {} adopted", summary.adopted)
        } else {
            String::new()
        },
        if summary.forgotten > 0 {
            format!(", {} forgotten", summary.forgotten)
        } else {
            String::new()
        },
        if summary.moved > 0 {
            format!(", {} moved", summary.moved)
        } else {
            String::new()
        },
    );
    if !summary.failures.is_empty() {
        let mut msg = format!(
            "apply failed: {} change(s) failed. {counts}",
            summary.failures.len()
        );
        for (address, cause) in &summary.failures {
            msg.push_str(&format!("\n  {address}: {cause}"));
        }
        for (address, why) in &summary.skipped {
            msg.push_str(&format!("\n  {address}: not run: {why}"));
        }
        if summary
            .failures
            .iter()
            .any(|(_, cause)| cause.is_state_conflict())
        {
            msg.push_str(
                "\nAnother writer changed the state during this run, so the state lacks this run's last steps; the \
                 next plan or apply describes AWS and adopts the peers this run made.",
            );
        } else {
            msg.push_str("\nThe state records every completed step; fix the cause and run apply again to resume.");
        }
        anyhow::bail!(msg);
    }
    if summary.interrupted {
        let msg = format!("Interrupted. {counts} {} change(s) not run; the state records what was done, and `dxctl apply` resumes.", summary.skipped.len());
        progress.event(Event::new("", "note", msg.clone()));
        if !json {
            printer.data(&format!("\n{msg}\n"))?;
        }
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    let done = if summary.awaiting_approval.is_empty() {
        format!("Apply complete! {counts}")
    } else {
        format!(
            "Apply complete, but awaiting AWS approval for {} peer(s): {}. {counts}",
            summary.awaiting_approval.len(),
            summary.awaiting_approval.join(", ")
        )
    };
    let assigned = assigned(summary, plan);
    if json {
        // The completion stays the last event.
        for peer in &assigned {
            progress.event(peer_event(peer));
        }
        progress.event(Event::new("", "note", done));
    } else {
        printer.data(&format!("\n{done}\n{}", assigned_text(&assigned)))?;
    }
    Ok(if !summary.awaiting_approval.is_empty() {
        ExitCode::from(EXIT_AWAITING_APPROVAL)
    } else if !summary.bgp_not_up.is_empty() {
        ExitCode::from(EXIT_BGP_NOT_UP)
    } else {
        ExitCode::SUCCESS
    })
}

/// A peer this apply created, replaced, adopted or waited for, as recorded, with how its BGP wait ended (with
/// `--wait-bgp-up`).
struct Assigned<'a> {
    record: &'a PeerRecord,
    bgp: Option<&'a str>,
}

/// The peers whose addresses the network engineer types into the router next: every created, replaced, adopted
/// or waited-for peer that did not fail, in address order.
fn assigned<'a>(summary: &'a Summary, plan: &Plan) -> Vec<Assigned<'a>> {
    use crate::plan::Kind;
    let mut out: Vec<Assigned<'a>> = plan
        .changes
        .iter()
        .filter(|c| {
            matches!(
                c.action.kind(),
                Kind::Create | Kind::Replace(_) | Kind::Adopt | Kind::Wait
            )
        })
        .filter(|c| {
            let a = c.address.0.as_str();
            !summary.failures.iter().any(|(f, _)| f == a)
                && !summary.skipped.iter().any(|(s, _)| s == a)
        })
        .filter_map(|c| summary.state.peer(&c.address))
        .map(|record| Assigned {
            record,
            bgp: if summary.bgp_up.contains(&record.address.0) {
                Some("up")
            } else {
                summary
                    .bgp_not_up
                    .iter()
                    .find(|(a, _)| *a == record.address.0)
                    .map(|(_, why)| why.as_str())
            },
        })
        .collect();
    out.sort_by(|a, b| a.record.address.cmp(&b.record.address));
    out.dedup_by(|a, b| a.record.address == b.record.address);
    out
}

/// The assigned addresses, one short line each, so no terminal width cuts them.
fn assigned_text(peers: &[Assigned<'_>]) -> String {
    if peers.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nPeers (addresses for the router configuration):\n");
    for p in peers {
        let r = p.record;
        out.push_str(&format!("  {}\n", r.address));
        out.push_str(&format!("    bgp_peer_id       {}\n", r.bgp_peer_id));
        out.push_str(&format!(
            "    amazon_address    {}\n",
            r.amazon_address.as_deref().unwrap_or("-")
        ));
        out.push_str(&format!(
            "    customer_address  {}\n",
            r.customer_address.as_deref().unwrap_or("-")
        ));
        if let Some(bgp) = p.bgp {
            out.push_str(&format!("    bgp_session       {bgp}\n"));
        }
    }
    out
}

/// (`--json`) One `peer` event per assigned peer.
fn peer_event(p: &Assigned<'_>) -> Event {
    let r = p.record;
    Event {
        address: r.address.to_string(),
        kind: "peer",
        message: format!(
            "[id={}, amazon_address={}, customer_address={}]{}",
            r.bgp_peer_id,
            r.amazon_address.as_deref().unwrap_or("-"),
            r.customer_address.as_deref().unwrap_or("-"),
            p.bgp
                .map(|b| format!(" BGP session: {b}"))
                .unwrap_or_default()
        ),
        bgp_peer_id: Some(r.bgp_peer_id.clone()),
        amazon_address: r.amazon_address.clone(),
        customer_address: r.customer_address.clone(),
        bgp_status: (p.bgp == Some("up")).then(|| "up".to_string()),
        ..Event::default()
    }
}

/// Asks on the terminal; refuses outright when there is none.
/// Asks on the terminal, from the blocking pool, so Ctrl-C at the prompt still stops dxctl.
async fn confirm(printer: &Printer) -> anyhow::Result<bool> {
    let question = "\nDo you want to perform these actions?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ";
    let asker = *printer;
    match tokio::task::spawn_blocking(move || asker.prompt(question)).await?? {
        Some(answer) => Ok(answer.trim() == "yes"),
        None => anyhow::bail!(
            "apply needs --auto-approve when stdin is not a terminal; nothing was changed"
        ),
    }
}
