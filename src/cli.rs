//! Raw command-line arguments, as clap parses them; resolving them into settings happens in `commands`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Manage AWS Direct Connect BGP peers as code.
#[derive(Debug, Parser)]
#[command(name = "dxctl", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Direct Connect endpoint (overrides AWS_ENDPOINT_URL_DIRECT_CONNECT and the AWS default)
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Region for VIFs whose provider block names none (else the AWS config chain decides)
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// Run against an in-process simulator seeded from this world file; needs no AWS account
    #[arg(long, global = true, value_name = "WORLD.json")]
    pub sandbox: Option<PathBuf>,
    /// Start the sandbox over from the world file, discarding its evolving copy
    #[arg(long, global = true, requires = "sandbox")]
    pub sandbox_reset: bool,
    /// State file
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        default_value = "state/dxctl.state.json"
    )]
    pub state: PathBuf,
    /// Give up on one AWS API call after this long (a lost answer is then settled by describing, never resent blindly)
    #[arg(long, global = true, default_value = "20s", value_parser = humantime::parse_duration)]
    pub call_timeout: Duration,
    /// How long to wait for another dxctl holding the state lock
    #[arg(long, global = true, default_value = "0s", value_parser = humantime::parse_duration)]
    pub lock_timeout: Duration,
    /// Never colour output (colour is used only on a terminal; NO_COLOR also turns it off)
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Show more detail on stderr
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    pub verbose: bool,
    /// Show only data and errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what apply would change
    Plan(PlanArgs),
    /// Create the planned BGP peers and wait until they are available
    Apply(ApplyArgs),
    /// Check the configuration without calling AWS
    Validate(ValidateArgs),
    /// Show a saved plan, or the current state
    Show(ShowArgs),
    /// Inspect or unlock the state
    #[command(subcommand)]
    State(StateCommand),
    /// Rewrite *.hcl files in the canonical format, keeping comments
    Fmt(FmtArgs),
    /// Run the Direct Connect simulator
    #[command(subcommand)]
    Sim(SimCommand),
}

/// Variable values from the command line.
#[derive(Debug, Args, Clone, Default)]
pub struct VarArgs {
    /// Set a variable: --var NAME=VALUE (repeatable; wins over --var-file and DXCTL_VAR_NAME)
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Read variables from an HCL file of `name = value` lines (repeatable)
    #[arg(long = "var-file", value_name = "FILE.hcl")]
    pub var_files: Vec<PathBuf>,
}

fn parse_var(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        // Not the text itself: it may be a secret.
        _ => Err("expected NAME=VALUE".to_string()),
    }
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Directory of *.hcl files
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub vars: VarArgs,
}

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Directory of *.hcl files
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Change nothing; exit 1 and list the files that would change
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Directory of *.hcl files
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Exit 0 for no changes, 1 for an error, 2 when changes are present
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Save the plan (no secrets in it) for `dxctl apply FILE`
    #[arg(long, value_name = "PLANFILE")]
    pub out: Option<PathBuf>,
    /// Print the plan as JSON (same as --format json)
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    #[command(flatten)]
    pub vars: VarArgs,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Directory of *.hcl files, or a plan file saved by `plan --out`
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// How many API calls may be in flight at once (actions on one VIF always run one at a time)
    #[arg(long, default_value_t = 10)]
    pub parallelism: usize,
    /// Print progress as JSON events on stdout
    #[arg(long)]
    pub json: bool,
    /// Apply without asking for confirmation
    #[arg(long)]
    pub auto_approve: bool,
    /// Give up waiting for peers to become available after this long
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Time between polling rounds [default: 5s, or 500ms in sandbox mode]
    #[arg(long, value_parser = humantime::parse_duration)]
    pub poll_interval: Option<Duration>,
    /// After a CreateBGPPeer or DeleteBGPPeer whose answer was lost, how long describes may lag behind its effect
    /// (AWS's eventual consistency): the call is sent again only once a describe started this long after it ended
    /// shows it did not happen [default: 30s; in sandbox mode, the sandbox world's consistency window]
    #[arg(long, value_parser = humantime::parse_duration)]
    pub settle_window: Option<Duration>,
    #[command(flatten)]
    pub vars: VarArgs,
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Serve the simulator over HTTP until interrupted
    Serve(SimServeArgs),
}

#[derive(Debug, Args)]
pub struct SimServeArgs {
    /// World file (API output shapes plus an optional `sim` section)
    #[arg(long, value_name = "WORLD.json")]
    pub world: PathBuf,
    /// Address to listen on; port 0 picks a free one
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Write the bound port here once listening
    #[arg(long, value_name = "FILE")]
    pub port_file: Option<PathBuf>,
    /// Append one JSON line per request here
    #[arg(long, value_name = "FILE.jsonl")]
    pub request_log: Option<PathBuf>,
    /// How long new peers and VIFs stay pending (overrides the world's sim.provisionDelay) [default: 2s]
    #[arg(long, value_parser = humantime::parse_duration)]
    pub provision_delay: Option<Duration>,
    /// How long each deletion step takes (overrides sim.deletionDelay) [default: 1s]
    #[arg(long, value_parser = humantime::parse_duration)]
    pub deletion_delay: Option<Duration>,
    /// How long deleted peers and VIFs stay listed as `deleted` (overrides sim.deletedRetention) [default: 15m]
    #[arg(long, value_parser = humantime::parse_duration)]
    pub deleted_retention: Option<Duration>,
    /// Eventual consistency: describes may show the world up to this long ago; DURATION for every region or
    /// REGION=DURATION (repeatable; overrides sim.consistencyWindow) [default: 0s]
    #[arg(long, value_name = "[REGION=]DURATION")]
    pub consistency_window: Vec<String>,
    /// How long after `available` a peer's bgpStatus goes `up` (overrides sim.bgpUpDelay) [default: 1s]
    #[arg(long, value_parser = humantime::parse_duration)]
    pub bgp_up_delay: Option<Duration>,
    /// What makes peer changes refuse as "transitioning": vif-or-peers, vif or off [default: vif-or-peers]
    #[arg(long, value_name = "RULE")]
    pub transitioning_rule: Option<crate::sim::world::TransitioningRule>,
    /// A token bucket per region: OPERATION=RATE[/BURST], where OPERATION is an operation name, `describe` or
    /// `mutating` (repeatable; overrides sim.rateLimits)
    #[arg(long, value_name = "OPERATION=RATE[/BURST]")]
    pub rate_limit: Vec<String>,
    /// Seed for generated ids, keys and fault decisions (overrides sim.seed)
    #[arg(long)]
    pub seed: Option<u64>,
    /// Inject a fault, overriding sim.faults: throttle, server-error (before the effect), server-error-after,
    /// bad-gateway-after, drop-before, drop (after the effect), late-write, transitioning, stuck-pending,
    /// end-deleted or bgp-down
    /// =RATE (0 to 1); latency=DURATION; late-write-delay=DURATION
    #[arg(long, value_name = "KEY=VALUE")]
    pub fault: Vec<String>,
    /// Keep peers on public VIFs in `verifying` until approved with POST /_sim/approve
    #[arg(long)]
    pub manual_approval: bool,
    /// Close a connection whose request head is not complete this long after its first byte (the body then gets
    /// as long again)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "10s")]
    pub header_timeout: Duration,
    /// Close a connection with no request in progress (never used, or kept alive after a response) after this
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "60s")]
    pub idle_timeout: Duration,
    /// Open connections at most; at the cap a new connection closes the one idle longest (never-used ones first)
    #[arg(long, value_name = "N", default_value_t = crate::sim::DEFAULT_MAX_CONNECTIONS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_connections: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan file saved by `plan --out`; without it, the current state
    pub planfile: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List the peers dxctl manages
    List,
    /// Clear the lock left by a dxctl that is gone
    ForceUnlock {
        /// The lock ID from the error message
        id: String,
    },
}
