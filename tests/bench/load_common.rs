//! Shared by the `sim_load` bench and its `cargo test` checks (`load_checks`): a generated world, a mixed
//! request load from many independent SDK clients (one tokio task each), latency statistics, and the
//! lost-update check of the simulator's final world against what the clients were told.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_directconnect::config::retry::RetryConfig;
use aws_sdk_directconnect::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_directconnect::types::{AddressFamily, NewBgpPeer, VirtualInterface};
use aws_sdk_directconnect::Client;
use dxctl::aws::{ClientSettings, SdkDirectConnect};
use dxctl::sim::{self, RunningSim, SimOptions, World};
use serde_json::json;

/// The error code of a service refusal.
pub const CLIENT_EXCEPTION: &str = "DirectConnectClientException";

/// A client never holds more than this many live peers of its own: creates turn into deletes at the cap,
/// so the world stays about the same size however long the run is (and the baseline stays comparable).
const MAX_OWN_LIVE_PEERS: usize = 2;

/// First ASN of the `asnLong` creates (private 4-byte range) and of the `asn` creates (4-byte values in the
/// 32-bit field); a create's global index is added, so every created peer has its own ASN.
const ASN_LONG_BASE: i64 = 4_200_000_000;
const ASN_SHORT_BASE: i64 = 1_000_000;

/// Explicit IPv4 peers get the `index`-th /30 of 10.0.0.0/8, so at most this many creates per run.
pub const MAX_CREATES: usize = 1 << 22;

// ---------------------------------------------------------------------------------------------------------
// World and clients
// ---------------------------------------------------------------------------------------------------------

/// A generated world and what it was seeded with.
pub struct SeedWorld {
    pub world: World,
    /// VIF ids by region.
    pub vifs_by_region: BTreeMap<String, Vec<String>>,
    /// Seeded peer id -> its VIF id.
    pub seeded_peers: BTreeMap<String, String>,
}

impl SeedWorld {
    pub fn regions(&self) -> Vec<String> {
        self.vifs_by_region.keys().cloned().collect()
    }
}

/// `vifs` private VIFs spread round-robin over `regions`, on four connections per region, all with
/// `hasLogicalRedundancy` = `redundancy`. Each VIF starts with `seeded_peers_per_vif` peers (0, 1 = IPv4,
/// 2 = IPv4 and IPv6). Provisioning and deletion take 0s: a change is visible from the next request on.
pub fn generate_world(
    vifs: usize,
    regions: &[&str],
    redundancy: &str,
    seeded_peers_per_vif: usize,
) -> SeedWorld {
    assert!(!regions.is_empty(), "at least one region");
    const CONNECTIONS_PER_REGION: usize = 4;
    let mut connections = Vec::new();
    for (r, region) in regions.iter().enumerate() {
        for c in 0..CONNECTIONS_PER_REGION {
            connections.push(json!({
                "connectionId": connection_id(r, c),
                "connectionName": format!("load-{region}-{c}"),
                "connectionState": "available",
                "ownerAccount": "123456789012",
                "region": region,
                "location": "EqDC2",
                "bandwidth": "10Gbps",
                "hasLogicalRedundancy": redundancy,
            }));
        }
    }
    let mut vif_values = Vec::new();
    let mut vifs_by_region: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut seeded_peers = BTreeMap::new();
    for i in 0..vifs {
        let r = i % regions.len();
        let region = regions[r];
        let vif_id = format!("dxvif-ld{i:06}");
        let mut peers = Vec::new();
        if seeded_peers_per_vif >= 1 {
            let id = format!("dxpeer-s4{i:06}");
            seeded_peers.insert(id.clone(), vif_id.clone());
            peers.push(json!({
                "bgpPeerId": id,
                "asn": 65000,
                "asnLong": 65000,
                "addressFamily": "ipv4",
                "amazonAddress": "169.254.255.1/30",
                "customerAddress": "169.254.255.2/30",
                "authKey": format!("seed-key-{i}"),
                "bgpPeerState": "available",
                "bgpStatus": "up",
            }));
        }
        if seeded_peers_per_vif >= 2 {
            let id = format!("dxpeer-s6{i:06}");
            seeded_peers.insert(id.clone(), vif_id.clone());
            peers.push(json!({
                "bgpPeerId": id,
                "asn": 65000,
                "asnLong": 65000,
                "addressFamily": "ipv6",
                "amazonAddress": format!("2001:db8:ffff:{i:x}::1/125"),
                "customerAddress": format!("2001:db8:ffff:{i:x}::6/125"),
                "authKey": format!("seed-key-{i}"),
                "bgpPeerState": "available",
                "bgpStatus": "up",
            }));
        }
        vif_values.push(json!({
            "virtualInterfaceId": vif_id,
            "virtualInterfaceName": format!("load-{i}"),
            "virtualInterfaceType": "private",
            "virtualInterfaceState": "available",
            "region": region,
            "connectionId": connection_id(r, (i / regions.len()) % CONNECTIONS_PER_REGION),
            "ownerAccount": "123456789012",
            "location": "EqDC2",
            "vlan": 100 + i,
            "asn": 65000,
            "amazonSideAsn": 64512,
            "mtu": 1500,
            "bgpPeers": peers,
        }));
        vifs_by_region
            .entry(region.to_string())
            .or_default()
            .push(vif_id);
    }
    let text = json!({
        "virtualInterfaces": vif_values,
        "connections": connections,
        "sim": {"provisionDelay": "0s", "deletionDelay": "0s", "seed": 42},
    })
    .to_string();
    let world = World::parse(&text).expect("the generated world parses");
    SeedWorld {
        world,
        vifs_by_region,
        seeded_peers,
    }
}

fn connection_id(region: usize, n: usize) -> String {
    format!("dxcon-ld{region:02}{n:04}")
}

/// The simulator in-process on an ephemeral loopback port; with `persist_to`, it writes the world there
/// after every change (as the sandbox does); with `request_log`, it logs every request there.
pub async fn start_sim(
    world: World,
    persist_to: Option<PathBuf>,
    request_log: Option<PathBuf>,
) -> RunningSim {
    sim::start(
        world,
        SimOptions {
            listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
            persist_to,
            request_log,
            ..Default::default()
        },
    )
    .await
    .expect("the simulator starts")
}

/// A real SDK client of its own (own HTTP connection pool) for `region`, with SDK retries disabled so
/// every failure the simulator returns is seen and counted, and nothing is ever sent twice.
pub async fn new_client(endpoint_url: &str, region: &str) -> Client {
    let dc = SdkDirectConnect::new(&ClientSettings {
        endpoint_url: Some(endpoint_url.to_string()),
        static_credentials: Some(("AKIDLOADTEST".into(), "load-test-secret".into())),
        region: Some(region.to_string()),
        profile: None,
        ..ClientSettings::default()
    })
    .await;
    let base = dc.client(region);
    let conf = base
        .config()
        .to_builder()
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(conf)
}

/// An error's code: the service's `__type`, or what kind of transport failure it was.
pub fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> String {
    match err {
        SdkError::ServiceError(_) => err.code().unwrap_or("ServiceErrorWithoutCode").to_string(),
        SdkError::TimeoutError(_) => "(timeout)".into(),
        SdkError::DispatchFailure(_) => "(dispatch failure)".into(),
        SdkError::ResponseError(_) => "(unparseable response)".into(),
        SdkError::ConstructionFailure(_) => "(construction failure)".into(),
        _ => "(other SDK error)".into(),
    }
}

/// Whether the service answered: without an answer, a mutation may or may not have happened.
fn answered<E, R>(err: &SdkError<E, R>) -> bool {
    matches!(err, SdkError::ServiceError(_))
}

// ---------------------------------------------------------------------------------------------------------
// The load
// ---------------------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Op {
    DescribeAllVifs,
    DescribeVifById,
    DescribeConnections,
    CreatePeer,
    DeletePeer,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::DescribeAllVifs => "DescribeVirtualInterfaces",
            Op::DescribeVifById => "DescribeVirtualInterfaces(id)",
            Op::DescribeConnections => "DescribeConnections",
            Op::CreatePeer => "CreateBGPPeer",
            Op::DeletePeer => "DeleteBGPPeer",
        }
    }

    /// The API operation (both kinds of describe are DescribeVirtualInterfaces).
    pub fn operation(self) -> &'static str {
        match self {
            Op::DescribeVifById => Op::DescribeAllVifs.name(),
            other => other.name(),
        }
    }
}

/// One request as a client saw it.
#[derive(Clone, Debug)]
pub struct Sample {
    pub op: Op,
    pub latency: Duration,
    /// `None` on success, else the error code.
    pub error: Option<String>,
}

/// A peer a client created (the service said so and returned its id).
#[derive(Clone, Debug)]
pub struct CreatedPeer {
    pub client: usize,
    pub vif: String,
    pub id: String,
    pub asn: i64,
    pub family: &'static str,
    pub customer_address: Option<String>,
    /// DeleteBGPPeer by this id succeeded.
    pub deleted: bool,
}

/// A failed request, kept for the report.
#[derive(Clone, Debug)]
pub struct Failure {
    pub client: usize,
    pub op: Op,
    pub code: String,
    pub message: String,
}

/// What one client did.
#[derive(Default)]
pub struct ClientReport {
    pub samples: Vec<Sample>,
    pub created: Vec<CreatedPeer>,
    pub failures: Vec<Failure>,
    /// ASNs of creates that got no answer (they may or may not exist), and peer ids of deletes likewise.
    pub uncertain_asns: Vec<i64>,
    pub uncertain_deletes: Vec<String>,
    /// Responses that were successful but did not say what they should have.
    pub anomalies: Vec<String>,
    /// BGP peers in all DescribeVirtualInterfaces (all) answers together: the world size the load saw.
    pub described_peers: usize,
}

/// The shape of a load run.
#[derive(Clone, Debug)]
pub struct LoadPlan {
    pub clients: usize,
    pub requests: usize,
    pub seed: u64,
}

/// Everything the clients did, with the wall time between the start signal and the last answer.
pub struct LoadOutcome {
    pub plan: LoadPlan,
    pub wall: Duration,
    pub reports: Vec<ClientReport>,
}

impl LoadOutcome {
    pub fn samples(&self) -> impl Iterator<Item = &Sample> {
        self.reports.iter().flat_map(|r| &r.samples)
    }

    pub fn failures(&self) -> impl Iterator<Item = &Failure> {
        self.reports.iter().flat_map(|r| &r.failures)
    }

    pub fn anomalies(&self) -> impl Iterator<Item = &String> {
        self.reports.iter().flat_map(|r| &r.anomalies)
    }

    pub fn created(&self) -> impl Iterator<Item = &CreatedPeer> {
        self.reports.iter().flat_map(|r| &r.created)
    }

    /// Error counts by code.
    pub fn errors_by_code(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for s in self.samples() {
            if let Some(code) = &s.error {
                *out.entry(code.clone()).or_default() += 1;
            }
        }
        out
    }

    /// The mean number of peers in a successful DescribeVirtualInterfaces (all) answer.
    pub fn mean_described_peers(&self) -> f64 {
        let answers = self
            .samples()
            .filter(|s| s.op == Op::DescribeAllVifs && s.error.is_none())
            .count();
        let peers: usize = self.reports.iter().map(|r| r.described_peers).sum();
        if answers == 0 {
            0.0
        } else {
            peers as f64 / answers as f64
        }
    }

    /// Successful requests by operation.
    pub fn successes_by_op(&self) -> BTreeMap<Op, usize> {
        let mut out = BTreeMap::new();
        for s in self.samples().filter(|s| s.error.is_none()) {
            *out.entry(s.op).or_default() += 1;
        }
        out
    }
}

/// SplitMix64: a small deterministic generator, so a run's request sequence depends only on its seed.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Runs `plan.requests` requests from `plan.clients` concurrent clients (each its own SDK client and
/// tokio task; client `i` works in region `i % regions`, on that region's VIFs, which it shares with the
/// other clients of the region). Clients are built before the clock starts; all start together.
pub async fn run_load(sim: &RunningSim, seed: &SeedWorld, plan: &LoadPlan) -> LoadOutcome {
    assert!(plan.clients >= 1, "at least one client");
    assert!(
        plan.requests <= MAX_CREATES / 2,
        "at most {} requests",
        MAX_CREATES / 2
    );
    let regions = seed.regions();
    let url = sim.endpoint_url();
    let per_client_max = plan.requests.div_ceil(plan.clients);
    let start = Arc::new(tokio::sync::Barrier::new(plan.clients + 1));
    let mut tasks = Vec::with_capacity(plan.clients);
    for i in 0..plan.clients {
        let region = regions[i % regions.len()].clone();
        let client = new_client(&url, &region).await;
        let worker = Worker {
            client,
            index: i,
            vifs: seed.vifs_by_region[&region].clone(),
            rng: Mix(plan.seed ^ (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d)),
            first_create_index: i * per_client_max,
            report: ClientReport::default(),
            next_create: 0,
            live: Vec::new(),
        };
        let requests = plan.requests / plan.clients + usize::from(i < plan.requests % plan.clients);
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            worker.run(requests).await
        }));
    }
    start.wait().await;
    let began = Instant::now();
    let mut reports = Vec::with_capacity(tasks.len());
    for task in tasks {
        reports.push(task.await.expect("a load client panicked"));
    }
    LoadOutcome {
        plan: plan.clone(),
        wall: began.elapsed(),
        reports,
    }
}

struct Worker {
    client: Client,
    index: usize,
    vifs: Vec<String>,
    rng: Mix,
    first_create_index: usize,
    next_create: usize,
    /// Indexes into `report.created` of this client's peers not (yet) deleted.
    live: Vec<usize>,
    report: ClientReport,
}

impl Worker {
    async fn run(mut self, requests: usize) -> ClientReport {
        for _ in 0..requests {
            let live_own = self.live.len();
            let op = match self.rng.below(100) {
                0..25 => Op::DescribeAllVifs,
                25..45 => Op::DescribeVifById,
                45..55 => Op::DescribeConnections,
                55..77 if live_own < MAX_OWN_LIVE_PEERS => Op::CreatePeer,
                _ if live_own == 0 => Op::CreatePeer,
                _ => Op::DeletePeer,
            };
            let began = Instant::now();
            let error = match op {
                Op::DescribeAllVifs => self.describe_all().await,
                Op::DescribeVifById => self.describe_one().await,
                Op::DescribeConnections => self.describe_connections().await,
                Op::CreatePeer => self.create().await,
                Op::DeletePeer => self.delete().await,
            };
            let latency = began.elapsed();
            if let Some((code, message)) = &error {
                self.report.failures.push(Failure {
                    client: self.index,
                    op,
                    code: code.clone(),
                    message: message.clone(),
                });
            }
            self.report.samples.push(Sample {
                op,
                latency,
                error: error.map(|(code, _)| code),
            });
        }
        self.report
    }

    fn pick_vif(&mut self) -> String {
        self.vifs[self.rng.below(self.vifs.len())].clone()
    }

    async fn describe_all(&mut self) -> Option<(String, String)> {
        match self.client.describe_virtual_interfaces().send().await {
            Ok(out) => {
                self.report.described_peers += out
                    .virtual_interfaces()
                    .iter()
                    .map(|v| v.bgp_peers().len())
                    .sum::<usize>();
                let mine: BTreeSet<&str> = self.vifs.iter().map(String::as_str).collect();
                let seen: BTreeSet<&str> = out
                    .virtual_interfaces()
                    .iter()
                    .filter_map(|v| v.virtual_interface_id())
                    .collect();
                if seen != mine {
                    self.report.anomalies.push(format!(
                        "client {}: DescribeVirtualInterfaces listed {} VIFs, expected the region's {}",
                        self.index,
                        seen.len(),
                        mine.len()
                    ));
                }
                None
            }
            Err(e) => Some((error_code(&e), DisplayErrorContext(&e).to_string())),
        }
    }

    async fn describe_one(&mut self) -> Option<(String, String)> {
        let vif = self.pick_vif();
        match self
            .client
            .describe_virtual_interfaces()
            .virtual_interface_id(&vif)
            .send()
            .await
        {
            Ok(out) => {
                let vifs = out.virtual_interfaces();
                if vifs.len() != 1 || vifs[0].virtual_interface_id() != Some(vif.as_str()) {
                    self.report.anomalies.push(format!(
                        "client {}: DescribeVirtualInterfaces {vif} returned {} VIFs",
                        self.index,
                        vifs.len()
                    ));
                }
                None
            }
            Err(e) => Some((error_code(&e), DisplayErrorContext(&e).to_string())),
        }
    }

    async fn describe_connections(&mut self) -> Option<(String, String)> {
        match self.client.describe_connections().send().await {
            Ok(out) => {
                if out.connections().is_empty() {
                    self.report.anomalies.push(format!(
                        "client {}: DescribeConnections returned no connections",
                        self.index
                    ));
                }
                None
            }
            Err(e) => Some((error_code(&e), DisplayErrorContext(&e).to_string())),
        }
    }

    async fn create(&mut self) -> Option<(String, String)> {
        let vif = self.pick_vif();
        let index = self.first_create_index + self.next_create;
        self.next_create += 1;
        let spec = PeerSpec::for_index(index);
        let result = self
            .client
            .create_bgp_peer()
            .virtual_interface_id(&vif)
            .new_bgp_peer(spec.to_sdk(&format!("load-key-{index}")))
            .send()
            .await;
        match result {
            Ok(out) => {
                let found = out
                    .virtual_interface()
                    .and_then(|v| find_peer(v, spec.asn, spec.family));
                match found {
                    Some(id) => {
                        self.live.push(self.report.created.len());
                        self.report.created.push(CreatedPeer {
                            client: self.index,
                            vif,
                            id,
                            asn: spec.asn,
                            family: spec.family,
                            customer_address: spec.customer_address,
                            deleted: false,
                        });
                    }
                    None => {
                        self.report.anomalies.push(format!(
                            "client {}: CreateBGPPeer on {vif} (asn {}) succeeded but the returned VIF lacks the new peer",
                            self.index, spec.asn
                        ));
                        self.report.uncertain_asns.push(spec.asn);
                    }
                }
                None
            }
            Err(e) => {
                if !answered(&e) {
                    self.report.uncertain_asns.push(spec.asn);
                }
                Some((error_code(&e), DisplayErrorContext(&e).to_string()))
            }
        }
    }

    async fn delete(&mut self) -> Option<(String, String)> {
        let slot = self.rng.below(self.live.len());
        let target = self.live[slot];
        let (vif, id) = {
            let p = &self.report.created[target];
            (p.vif.clone(), p.id.clone())
        };
        let result = self
            .client
            .delete_bgp_peer()
            .virtual_interface_id(&vif)
            .bgp_peer_id(&id)
            .send()
            .await;
        match result {
            Ok(out) => {
                let state = out.virtual_interface().and_then(|v| {
                    v.bgp_peers()
                        .iter()
                        .find(|p| p.bgp_peer_id() == Some(id.as_str()))
                        .and_then(|p| p.bgp_peer_state())
                        .map(|s| s.as_str().to_string())
                });
                if !matches!(state.as_deref(), Some("deleting" | "deleted")) {
                    self.report.anomalies.push(format!(
                        "client {}: DeleteBGPPeer {id} on {vif} succeeded but the returned VIF shows the peer as {state:?}",
                        self.index
                    ));
                }
                self.report.created[target].deleted = true;
                self.live.swap_remove(slot);
                None
            }
            Err(e) => {
                if !answered(&e) {
                    self.report.uncertain_deletes.push(id);
                    // It may be gone: never try it again.
                    self.report.created[target].deleted = true;
                    self.live.swap_remove(slot);
                }
                Some((error_code(&e), DisplayErrorContext(&e).to_string()))
            }
        }
    }
}

/// The peer a create with global index `index` asks for: every fifth one is IPv6 (addresses from the
/// pool), the others IPv4 with explicit, globally unique /30s; ASNs alternate between `asnLong` and `asn`.
pub struct PeerSpec {
    pub asn: i64,
    pub use_asn_long: bool,
    pub family: &'static str,
    pub amazon_address: Option<String>,
    pub customer_address: Option<String>,
}

impl PeerSpec {
    pub fn for_index(index: usize) -> PeerSpec {
        assert!(index < MAX_CREATES, "create index {index} out of range");
        let use_asn_long = index.is_multiple_of(2);
        let asn = if use_asn_long {
            ASN_LONG_BASE + index as i64
        } else {
            ASN_SHORT_BASE + index as i64
        };
        if index % 5 == 4 {
            return PeerSpec {
                asn,
                use_asn_long,
                family: "ipv6",
                amazon_address: None,
                customer_address: None,
            };
        }
        let (amazon, customer) = ipv4_pair(index);
        PeerSpec {
            asn,
            use_asn_long,
            family: "ipv4",
            amazon_address: Some(amazon),
            customer_address: Some(customer),
        }
    }

    pub fn to_sdk(&self, auth_key: &str) -> NewBgpPeer {
        let family = if self.family == "ipv6" {
            AddressFamily::IPv6
        } else {
            AddressFamily::IPv4
        };
        let mut b = NewBgpPeer::builder()
            .address_family(family)
            .auth_key(auth_key)
            .set_amazon_address(self.amazon_address.clone())
            .set_customer_address(self.customer_address.clone());
        b = if self.use_asn_long {
            b.asn_long(self.asn)
        } else {
            b.asn(i32::try_from(self.asn).expect("short-field ASN fits i32"))
        };
        b.build()
    }
}

/// The `index`-th /30 of 10.0.0.0/8: (amazon, customer) = (.1, .2) of the block.
pub fn ipv4_pair(index: usize) -> (String, String) {
    let base = u32::from(Ipv4Addr::new(10, 0, 0, 0)) + (index as u32) * 4;
    (
        format!("{}/30", Ipv4Addr::from(base + 1)),
        format!("{}/30", Ipv4Addr::from(base + 2)),
    )
}

/// The id of the peer with this ASN and family on a returned VIF.
pub fn find_peer(vif: &VirtualInterface, asn: i64, family: &str) -> Option<String> {
    vif.bgp_peers()
        .iter()
        .find(|p| {
            let value = match p.asn_long() {
                Some(long) if long > 0 => long,
                _ => i64::from(p.asn()),
            };
            value == asn && p.address_family().map(|f| f.as_str()) == Some(family)
        })
        .and_then(|p| p.bgp_peer_id().map(str::to_string))
}

// ---------------------------------------------------------------------------------------------------------
// The lost-update check
// ---------------------------------------------------------------------------------------------------------

/// Compares the final world with what the clients were told. The world must hold, live, exactly the seeded
/// peers plus every successfully created peer not since deleted (on the right VIF, with the right ASN,
/// family and address); a deleted peer may be deleting, deleted or gone. Returns one line per difference.
pub fn lost_updates(world: &World, seed: &SeedWorld, outcome: &LoadOutcome) -> Vec<String> {
    let mut problems = Vec::new();
    // Everything in the world: peer id -> (vif id, peer).
    let mut actual = BTreeMap::new();
    for vif in &world.virtual_interfaces {
        for p in &vif.bgp_peers {
            let Some(id) = &p.bgp_peer_id else {
                problems.push(format!(
                    "a peer without bgpPeerId on {}",
                    vif.virtual_interface_id
                ));
                continue;
            };
            if actual
                .insert(id.clone(), (vif.virtual_interface_id.as_str(), p))
                .is_some()
            {
                problems.push(format!("peer id {id} appears more than once in the world"));
            }
        }
    }
    for (vifs_region, ids) in &seed.vifs_by_region {
        for id in ids {
            match world
                .virtual_interfaces
                .iter()
                .find(|v| &v.virtual_interface_id == id)
            {
                None => problems.push(format!("VIF {id} is gone from the world")),
                Some(v) if v.region() != vifs_region => {
                    problems.push(format!("VIF {id} moved to region {}", v.region()))
                }
                Some(_) => {}
            }
        }
    }
    // Seeded peers: untouched by the load, so still there and live.
    for (id, vif) in &seed.seeded_peers {
        match actual.get(id) {
            None => problems.push(format!("lost: seeded peer {id} of {vif} is gone")),
            Some((at, _)) if at != vif => {
                problems.push(format!("seeded peer {id} moved from {vif} to {at}"))
            }
            Some((_, p)) if !p.is_live() => problems.push(format!(
                "seeded peer {id} on {vif} is {} but nobody deleted it",
                p.state()
            )),
            Some(_) => {}
        }
    }
    // Created peers. A delete that got no answer may or may not have happened.
    let uncertain_deletes: BTreeSet<&str> = outcome
        .reports
        .iter()
        .flat_map(|r| r.uncertain_deletes.iter().map(String::as_str))
        .collect();
    let mut told: BTreeSet<&str> = BTreeSet::new();
    for c in outcome.created() {
        if !told.insert(&c.id) {
            problems.push(format!(
                "two successful creates were given the same peer id {}",
                c.id
            ));
        }
        match actual.get(c.id.as_str()) {
            None if c.deleted => {}
            None => problems.push(format!(
                "lost create: peer {} (asn {}, {}) created on {} by client {} is gone",
                c.id, c.asn, c.family, c.vif, c.client
            )),
            Some((at, p)) => {
                if *at != c.vif {
                    problems.push(format!(
                        "peer {} was created on {} but is on {at}",
                        c.id, c.vif
                    ));
                }
                let family_ok = p.address_family.as_deref() == Some(c.family);
                let address_ok =
                    c.customer_address.is_none() || p.customer_address == c.customer_address;
                if p.asn_value() != Some(c.asn) || !family_ok || !address_ok {
                    problems.push(format!(
                        "peer {} should be asn {} {} {:?} but is asn {:?} {:?} {:?}",
                        c.id,
                        c.asn,
                        c.family,
                        c.customer_address,
                        p.asn_value(),
                        p.address_family,
                        p.customer_address
                    ));
                }
                if c.deleted && p.is_live() && !uncertain_deletes.contains(c.id.as_str()) {
                    problems.push(format!(
                        "lost delete: peer {} on {} was deleted by client {} but is {}",
                        c.id,
                        c.vif,
                        c.client,
                        p.state()
                    ));
                }
                if !c.deleted && !p.is_live() {
                    problems.push(format!(
                        "peer {} on {} is {} but its creator never deleted it",
                        c.id,
                        c.vif,
                        p.state()
                    ));
                }
            }
        }
    }
    // Anything else is a phantom, unless a create that got no answer may have made it.
    let uncertain: BTreeSet<i64> = outcome
        .reports
        .iter()
        .flat_map(|r| r.uncertain_asns.iter().copied())
        .collect();
    for (id, (vif, p)) in &actual {
        if seed.seeded_peers.contains_key(id) || told.contains(id.as_str()) {
            continue;
        }
        let asn = p.asn_value().unwrap_or_default();
        if uncertain.contains(&asn) {
            continue;
        }
        problems.push(format!(
            "phantom: peer {id} (asn {asn}, {}, {}) on {vif} was never reported created",
            p.address_family.as_deref().unwrap_or("?"),
            p.state()
        ));
    }
    // Pool-assigned and explicit addresses must not collide among live peers.
    let mut addresses: BTreeMap<String, &str> = BTreeMap::new();
    for (id, (vif, p)) in &actual {
        if !p.is_live() || seed.seeded_peers.contains_key(id) {
            continue;
        }
        if let Some(a) = &p.customer_address {
            if let Some(other) = addresses.insert(a.clone(), id) {
                problems.push(format!(
                    "live peers {other} and {id} (on {vif}) share customer address {a}"
                ));
            }
        }
    }
    problems
}

/// Reads every region through the API with a fresh client and compares peer ids and states with `world`.
pub async fn api_matches_world(sim: &RunningSim, seed: &SeedWorld) -> Vec<String> {
    let world = sim.world();
    let mut problems = Vec::new();
    for region in seed.regions() {
        let client = new_client(&sim.endpoint_url(), &region).await;
        let out = match client.describe_virtual_interfaces().send().await {
            Ok(out) => out,
            Err(e) => {
                problems.push(format!(
                    "final DescribeVirtualInterfaces in {region} failed: {}",
                    DisplayErrorContext(&e)
                ));
                continue;
            }
        };
        let served: BTreeSet<(String, String, String)> = out
            .virtual_interfaces()
            .iter()
            .flat_map(|v| {
                let vif = v.virtual_interface_id().unwrap_or_default().to_string();
                v.bgp_peers().iter().map(move |p| {
                    (
                        vif.clone(),
                        p.bgp_peer_id().unwrap_or_default().to_string(),
                        p.bgp_peer_state()
                            .map_or("available", |s| s.as_str())
                            .to_string(),
                    )
                })
            })
            .collect();
        let stored: BTreeSet<(String, String, String)> = world
            .virtual_interfaces
            .iter()
            .filter(|v| v.region() == region)
            .flat_map(|v| {
                v.bgp_peers.iter().map(|p| {
                    (
                        v.virtual_interface_id.clone(),
                        p.bgp_peer_id.clone().unwrap_or_default(),
                        p.state().to_string(),
                    )
                })
            })
            .collect();
        for d in served.symmetric_difference(&stored).take(10) {
            let side = if served.contains(d) {
                "served only"
            } else {
                "stored only"
            };
            problems.push(format!(
                "{region}: {side}: peer {} on {} ({})",
                d.1, d.0, d.2
            ));
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------------------

/// Nearest-rank percentile of sorted durations (`p` in 0..=1).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Latency distribution of a set of samples.
#[derive(Clone, Copy, Debug, Default)]
pub struct Latencies {
    pub count: usize,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Latencies {
    pub fn of<'a>(samples: impl Iterator<Item = &'a Sample>) -> Latencies {
        let mut all: Vec<Duration> = samples.map(|s| s.latency).collect();
        all.sort_unstable();
        Latencies {
            count: all.len(),
            p50: percentile(&all, 0.50),
            p90: percentile(&all, 0.90),
            p99: percentile(&all, 0.99),
            max: all.last().copied().unwrap_or_default(),
        }
    }
}

/// Milliseconds with microsecond precision.
pub fn ms(d: Duration) -> String {
    format!("{:.3}ms", d.as_secs_f64() * 1000.0)
}

/// Compares the world file a persisting simulator wrote with its world now, once the load is over: the
/// same live peers (id, VIF) must be in both (live: not deleting or deleted, since lifecycle steps due since
/// the last write are applied only in memory until the next change).
pub fn persisted_matches(path: &Path, world: &World) -> Vec<String> {
    let saved = match World::load(path) {
        Ok(w) => w,
        Err(e) => return vec![format!("the persisted world cannot be read: {e:#}")],
    };
    let live = |w: &World| -> BTreeSet<(String, String)> {
        w.virtual_interfaces
            .iter()
            .flat_map(|v| {
                v.bgp_peers.iter().filter(|p| p.is_live()).map(|p| {
                    (
                        v.virtual_interface_id.clone(),
                        p.bgp_peer_id.clone().unwrap_or_default(),
                    )
                })
            })
            .collect()
    };
    let (on_disk, in_memory) = (live(&saved), live(world));
    let mut problems = Vec::new();
    for (vif, id) in in_memory.difference(&on_disk) {
        problems.push(format!(
            "persisted world is stale: live peer {id} on {vif} is missing from the file"
        ));
    }
    for (vif, id) in on_disk.difference(&in_memory) {
        problems.push(format!(
            "persisted world is stale: the file still has peer {id} on {vif} live"
        ));
    }
    problems
}

/// Checks the simulator's request log (`--request-log`) against what the clients sent: one well-formed
/// JSON line per request, and the same count per operation and per error code.
pub fn request_log_matches(path: &Path, outcome: &LoadOutcome) -> Vec<String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return vec![format!("the request log cannot be read: {e}")],
    };
    let mut problems = Vec::new();
    let mut logged: BTreeMap<String, usize> = BTreeMap::new();
    let mut logged_errors: BTreeMap<String, usize> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) => {
                let op = v["operation"].as_str().unwrap_or("(none)").to_string();
                *logged.entry(op).or_default() += 1;
                if let Some(code) = v["errorCode"].as_str() {
                    *logged_errors.entry(code.to_string()).or_default() += 1;
                }
            }
            Err(e) => problems.push(format!("request log line {} is not JSON: {e}", n + 1)),
        }
    }
    let mut sent: BTreeMap<String, usize> = BTreeMap::new();
    for s in outcome.samples() {
        *sent.entry(s.op.operation().to_string()).or_default() += 1;
    }
    if logged != sent {
        problems.push(format!(
            "the request log counts {logged:?} but the clients sent {sent:?}"
        ));
    }
    // Only errors the service answered with are logged with a code.
    let answered_errors: BTreeMap<String, usize> = outcome
        .errors_by_code()
        .into_iter()
        .filter(|(code, _)| !code.starts_with('('))
        .collect();
    if logged_errors != answered_errors {
        problems.push(format!(
            "the request log has errors {logged_errors:?} but the clients saw {answered_errors:?}"
        ));
    }
    problems
}
