//! Raw command-line arguments, as clap parses them; resolving them into settings happens in `commands`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Manage AWS Direct Connect BGP peers as code.
#[derive(Clone, Debug, Parser)]
#[command(name = "dxctl", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Direct Connect endpoint (overrides AWS_ENDPOINT_URL_DIRECT_CONNECT and the AWS default)
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Region for VIFs whose provider block names none (else the AWS config chain decides)
    #[arg(long, global = true, value_name = "REGION", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub region: Option<String>,
    /// Run against an in-process simulator seeded from this world file; needs no AWS account
    #[arg(long, global = true, value_name = "WORLD.json")]
    pub sandbox: Option<PathBuf>,
    /// Start the sandbox over from the world file, discarding its evolving copy
    #[arg(long, global = true, requires = "sandbox")]
    pub sandbox_reset: bool,
    /// Where the state lives: a file path or s3://BUCKET/KEY. Wins over a `backend "s3"` block; without either, the
    /// state is the file state/dxctl.state.json
    #[arg(long, global = true, value_name = "PATH|s3://BUCKET/KEY", env = "DXCTL_STATE", value_parser = parse_state)]
    pub state: Option<crate::state::Backend>,
    /// Give up on one AWS API call after this long (a lost answer is then settled by describing, never resent blindly)
    #[arg(long, global = true, default_value = "20s", value_parser = humantime::parse_duration)]
    pub call_timeout: Duration,
    /// How long to wait for another dxctl holding the state lock
    #[arg(long, global = true, default_value = "0s", value_parser = humantime::parse_duration)]
    pub lock_timeout: Duration,
    /// Never colour output (colour is used only on a terminal; NO_COLOR also turns it off)
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Show more detail on stderr: -v the full cause of errors and each API call, -vv the SDK's requests, -vvv
    /// everything the libraries trace
    #[arg(short, long, global = true, conflicts_with = "quiet", action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Show only data and errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Clone, Debug, Subcommand)]
pub enum Command {
    /// Show what apply would change
    Plan(PlanArgs),
    /// Create the planned BGP peers and wait until they are available
    Apply(ApplyArgs),
    /// Check the configuration without calling AWS
    Validate(ValidateArgs),
    /// Show a saved plan, or the current state
    Show(ShowArgs),
    /// Inspect the state, stop managing peers, rename them, move it, or unlock it
    State(StateArgs),
    /// Write HCL for the BGP peers that exist in AWS, so dxctl can manage them (adopting, never re-creating)
    Import(ImportArgs),
    /// Describe the managed peers live and show their BGP sessions; exits 2 when one is down
    Status(StatusArgs),
    /// Print a shell completion script
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one page per command into a directory
    Man(ManArgs),
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

fn parse_state(text: &str) -> Result<crate::state::Backend, String> {
    crate::state::Backend::parse(text)
}

fn parse_var(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        // Not the text itself: it may be a secret.
        _ => Err("expected NAME=VALUE".to_string()),
    }
}

#[derive(Clone, Debug, Args)]
pub struct ValidateArgs {
    /// Directory of *.hcl files
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub vars: VarArgs,
}

#[derive(Clone, Debug, Args)]
pub struct FmtArgs {
    /// Directory of *.hcl files
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Change nothing; exit 1 and list the files that would change
    #[arg(long)]
    pub check: bool,
}

#[derive(Clone, Debug, Args)]
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

#[derive(Clone, Debug, Args)]
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
    /// After peers are available, also wait for their BGP sessions to come up (bgpStatus up), at most TIMEOUT
    #[arg(long, value_name = "TIMEOUT", num_args = 0..=1, require_equals = true,
          default_missing_value = "5m", value_parser = humantime::parse_duration)]
    pub wait_bgp_up: Option<Duration>,
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

#[derive(Clone, Debug, Subcommand)]
pub enum SimCommand {
    /// Serve the simulator over HTTP until interrupted
    Serve(SimServeArgs),
}

#[derive(Clone, Debug, Args)]
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

#[derive(Clone, Debug, Args)]
pub struct ShowArgs {
    /// A plan file saved by `plan --out`; without it, the current state
    pub planfile: Option<PathBuf>,
    /// Config directory whose `backend "s3"` block names the state (as for `state list`)
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Debug, Args)]
pub struct StateArgs {
    /// Config directory whose `backend "s3"` block names the state (without --state), or completes an s3:// --state
    /// with its region, profile, endpoint and KMS key
    #[arg(long, global = true, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    #[command(subcommand)]
    pub command: StateCommand,
}

#[derive(Clone, Debug, Subcommand)]
pub enum StateCommand {
    /// List the peers dxctl manages, with their addresses
    List(StateListArgs),
    /// Show one managed peer in full
    Show(StateShowArgs),
    /// Stop managing peers (a peer's address, or a VIF id for all of its peers); AWS is not touched
    Rm(StateRmArgs),
    /// Give a managed peer a new address (after renaming its block); AWS is not touched
    Mv(StateMvArgs),
    /// Print the current state (its journal folded in) in the state file's format, for a backup or a move
    Pull,
    /// Replace the state with FILE (as `state pull` wrote it): refused unless it continues this state (same lineage,
    /// a serial not behind)
    Push(StatePushArgs),
    /// Copy the state to another home (a file or s3://BUCKET/KEY), under both locks; the old home is kept
    Migrate(StateMigrateArgs),
    /// Clear the lock left by a dxctl that is gone
    ForceUnlock {
        /// The lock ID from the error message
        id: String,
    },
}

#[derive(Clone, Debug, Args)]
pub struct StateListArgs {
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Debug, Args)]
pub struct StateShowArgs {
    /// The peer's address, e.g. virtual_interface.dxvif-1.bgp_peer.v6
    pub address: String,
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Debug, Args)]
pub struct StateRmArgs {
    /// Peer addresses, or VIF ids (every peer of the VIF)
    #[arg(required = true)]
    pub targets: Vec<String>,
    /// Show what would be removed; change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Clone, Debug, Args)]
pub struct StatePushArgs {
    /// A state file, as `dxctl state pull` prints it
    pub file: PathBuf,
    /// Push even when the lineage differs or the serial is behind (the current state is kept as `.backup`)
    #[arg(long)]
    pub force: bool,
}

#[derive(Clone, Debug, Args)]
pub struct StateMigrateArgs {
    /// The new home: a file path or s3://BUCKET/KEY (S3 settings other than bucket and key come from the
    /// `backend "s3"` block, if any, and the AWS config chain)
    #[arg(long, value_name = "PATH|s3://BUCKET/KEY", value_parser = parse_state)]
    pub to: crate::state::Backend,
}

#[derive(Clone, Debug, Args)]
pub struct StateMvArgs {
    /// The peer's current address
    pub from: String,
    /// Its new address (same VIF, or another VIF in the same region and account)
    pub to: String,
}

#[derive(Clone, Debug, Args)]
pub struct ImportArgs {
    /// Directory to write the *.hcl files to (created if missing; existing files are never overwritten)
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Regions to import (repeatable or comma-separated) [default: --region, else the AWS config chain's]
    #[arg(long = "regions", value_name = "REGION", value_delimiter = ',',
          value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub regions: Vec<String>,
    /// Import only these VIFs (repeatable or comma-separated)
    #[arg(long = "vif", value_name = "VIF_ID", value_delimiter = ',')]
    pub vifs: Vec<String>,
    /// Import only the VIFs on these connections or LAGs (repeatable or comma-separated)
    #[arg(long = "connection", value_name = "ID", value_delimiter = ',')]
    pub connections: Vec<String>,
    /// One file per region, or per connection
    #[arg(long, value_enum, default_value_t = SplitBy::Region)]
    pub split_by: SplitBy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SplitBy {
    Region,
    Connection,
}

#[derive(Clone, Debug, Args)]
pub struct StatusArgs {
    /// Directory of *.hcl files
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub vars: VarArgs,
}

#[derive(Clone, Debug, Args)]
pub struct ManArgs {
    /// Write dxctl.1 and a dxctl-COMMAND.1 page per command into this directory instead of printing dxctl.1
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

#[derive(Clone, Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}
