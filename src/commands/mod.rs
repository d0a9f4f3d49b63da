//! One function per command, plus the session setup (client, sandbox, state) they share.

pub mod apply;
pub mod backend;
pub mod completions;
pub mod fmt;
pub mod import;
pub mod plan;
pub mod show;
pub mod sim;
pub mod state;
pub mod state_edit;
pub mod state_migrate;
pub mod status;
pub mod validate;

use std::path::Path;

use anyhow::Context as _;

use crate::aws::{ClientSettings, SdkDirectConnect};
use crate::cli::{GlobalArgs, VarArgs};
use crate::config::{self, Config};
use crate::model::{Desired, Observed};
use crate::plan::Plan;
use crate::printer::Printer;
use crate::sandbox;
use crate::sim::RunningSim;
use crate::state::{LocalStateFile, State, StateStore, Store};

/// The client, state store and (in sandbox mode) simulator a command works with.
pub struct Session {
    pub dc: SdkDirectConnect,
    pub store: Store,
    sandbox: Option<RunningSim>,
    region: Option<String>,
}

impl Session {
    /// Opens the session on `store`. `writes` says whether the command changes the world: only then is the
    /// sandbox's evolving world written back.
    pub async fn open(
        global: &GlobalArgs,
        config: &Config,
        store: Store,
        printer: &Printer,
        writes: bool,
    ) -> anyhow::Result<Session> {
        Self::open_with_profiles(global, &config.profiles(), store, printer, writes).await
    }

    /// Opens a session without a config (`import`): the default AWS profile, and the sandbox's world only read.
    pub async fn open_regions(
        global: &GlobalArgs,
        store: Store,
        printer: &Printer,
    ) -> anyhow::Result<Session> {
        Self::open_with_profiles(global, &Default::default(), store, printer, false).await
    }

    /// The region `--region`, the sandbox or the AWS config chain gives, if any.
    pub fn default_region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    async fn open_with_profiles(
        global: &GlobalArgs,
        profiles: &std::collections::BTreeSet<String>,
        store: Store,
        printer: &Printer,
        writes: bool,
    ) -> anyhow::Result<Session> {
        let (settings, sandbox, region) = match &global.sandbox {
            Some(world) => {
                // A remote state's sandbox world lives where the default local state's would.
                let anchor = store.local().map_or_else(
                    || Path::new(backend::DEFAULT_STATE).to_path_buf(),
                    |l| l.path().to_path_buf(),
                );
                // `backend::resolve` already refused the team's state and a reset of a remote one.
                let (running, copy) =
                    sandbox::start(world, &anchor, global.sandbox_reset, writes).await?;
                if let (true, Some(local)) = (global.sandbox_reset, store.local()) {
                    // The caller holds the state lock (plan takes it for a reset too).
                    set_state_aside(local, printer)?;
                }
                printer.status(&format!(
                    "Sandbox: simulator on {} (world {}, evolving copy {})",
                    running.endpoint_url(),
                    world.display(),
                    copy.display()
                ));
                let region = global
                    .region
                    .clone()
                    .unwrap_or_else(|| sandbox::DEFAULT_REGION.into());
                let settings = ClientSettings {
                    endpoint_url: Some(running.endpoint_url()),
                    static_credentials: Some((
                        sandbox::ACCESS_KEY.into(),
                        sandbox::SECRET_KEY.into(),
                    )),
                    region: Some(region.clone()),
                    profile: None,
                    call_timeout: Some(global.call_timeout),
                };
                (settings, Some(running), Some(region))
            }
            None => {
                let settings = ClientSettings {
                    endpoint_url: global.endpoint_url.clone(),
                    region: global.region.clone(),
                    call_timeout: Some(global.call_timeout),
                    ..ClientSettings::default()
                };
                (settings, None, global.region.clone())
            }
        };
        let dc = SdkDirectConnect::with_profiles(&settings, profiles).await;
        let region = region.or_else(|| dc.default_region());
        printer.detail(&format!(
            "state {}; default region {}",
            store.name(),
            region.as_deref().unwrap_or("(none)")
        ));
        Ok(Session {
            dc,
            store,
            sandbox,
            region,
        })
    }

    /// Where VIFs go when their provider block names no region.
    pub fn fallback_region(&self, config: &Config) -> anyhow::Result<String> {
        match (&self.region, config.needs_fallback_region()) {
            (_, false) => Ok(String::new()),
            (Some(r), true) => Ok(r.clone()),
            (None, true) => anyhow::bail!(
                "no region: set `region` in the provider \"aws\" block, pass --region, or set AWS_REGION"
            ),
        }
    }

    /// How far describes may lag behind writes, when dxctl knows it: in sandbox mode, from the simulator's settings.
    pub fn known_consistency_window(&self) -> Option<std::time::Duration> {
        self.sandbox.as_ref().map(RunningSim::settle_needed)
    }

    /// Stops the sandbox, saving its world.
    pub async fn close(self) -> anyhow::Result<()> {
        if let Some(running) = self.sandbox {
            running.stop().await?;
        }
        Ok(())
    }
}

/// Everything a plan was made from.
pub struct Planned {
    pub observed: Observed,
    pub state: State,
    pub plan: Plan,
}

/// Loads and validates the config, before any network.
pub fn load_config(dir: &Path, vars: &VarArgs) -> anyhow::Result<Config> {
    let inputs = config::Inputs::from_process(vars.vars.clone(), vars.var_files.clone());
    Ok(config::load_dir(dir, &inputs)?)
}

pub async fn observe_and_plan(
    session: &Session,
    config: &Config,
    printer: &Printer,
) -> anyhow::Result<Planned> {
    let state = backend::load(&session.store).await?;
    let region = session.fallback_region(config)?;
    let desired = config.desired(&region);
    let crate::observe::Observation {
        observed,
        plan,
        settled: state,
    } = observe_patiently(session, &desired, &state, printer).await?;
    printer.detail(&format!(
        "observed {} virtual interfaces; {} connection/LAG facts",
        observed.vifs.len(),
        observed.logical_redundancy.len()
    ));
    // Apply starts from the state with the settled intents applied, as the plan was made.
    Ok(Planned {
        observed,
        state,
        plan,
    })
}

/// Rounds of describing (each with the SDK's own retries) before a plan gives up on reading AWS.
const OBSERVE_ROUNDS: u32 = 4;

/// Describes AWS, trying again (after 0.5s, 1s, 2s) when a round fails in a way that may pass: describes change
/// nothing, so repeating them is always safe, and one flaky answer should not stop a plan. A refusal for good (no
/// permission, say) stops at once.
async fn observe_patiently(
    session: &Session,
    desired: &Desired,
    state: &State,
    printer: &Printer,
) -> anyhow::Result<crate::observe::Observation> {
    let mut round = 1;
    loop {
        match crate::observe::observe(&session.dc, desired, state).await {
            Ok(observation) => return Ok(observation),
            Err(e) if round >= OBSERVE_ROUNDS || !crate::apply::worth_retrying(&e) => {
                let times = if round == 1 { "once" } else { "times" };
                let tried = if round == 1 {
                    String::new()
                } else {
                    format!("{round} ")
                };
                return Err(e).context(format!(
                    "cannot read the current Direct Connect configuration (tried {tried}{times})"
                ));
            }
            Err(e) => {
                let pause = crate::apply::Backoff::DESCRIBES.delay(round - 1);
                printer.status(&format!(
                    "warning: reading Direct Connect failed ({e:#}); trying again in {pause:?}"
                ));
                tokio::time::sleep(pause).await;
                round += 1;
            }
        }
    }
}

/// Error for a plan with refusals (printed beforehand).
pub fn refused(plan: &Plan) -> anyhow::Error {
    let n = plan.refusals.len();
    anyhow::anyhow!(
        "{n} planned change{} cannot be made; nothing was sent to AWS",
        if n == 1 { "" } else { "s" }
    )
}

/// `--sandbox-reset` on a command that writes: the world starts over, so the state (which names peers of the old
/// world) is set aside as `<state>.before-reset`, journal folded in first, and the run starts from an empty state.
fn set_state_aside(store: &LocalStateFile, printer: &Printer) -> anyhow::Result<()> {
    store.recover()?;
    let path = store.path();
    if !path.exists() {
        return Ok(());
    }
    let mut aside = path.as_os_str().to_owned();
    aside.push(".before-reset");
    let aside = std::path::PathBuf::from(aside);
    std::fs::rename(path, &aside).with_context(|| {
        format!(
            "cannot set the state {} aside for --sandbox-reset",
            path.display()
        )
    })?;
    printer.status(&format!(
        "Sandbox reset: the state of the old world was moved to {}",
        aside.display()
    ));
    Ok(())
}
