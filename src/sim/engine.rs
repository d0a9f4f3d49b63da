//! The simulated service itself: operations over the world, the API's rules, lifecycles and seeded faults, with no HTTP in sight.

mod describe;
mod history;
mod index;
mod lifecycle;
mod peers;
mod rate_limit;
mod rules;
mod vifs;

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde_json::Value;

use super::protocol::ApiError;
use super::world::{Peer, Transition, Vif, World};
use history::History;
use index::WorldIndex;
use lifecycle::Timing;
use rate_limit::Buckets;

pub const DEFAULT_PROVISION_DELAY: Duration = Duration::from_secs(2);
pub const DEFAULT_DELETION_DELAY: Duration = Duration::from_secs(1);
/// DescribeVirtualInterfaces: "Virtual interfaces deleted fewer than 15 minutes before you make the request are
/// also returned." The simulator keeps deleted peers listed for as long.
pub const DEFAULT_DELETED_RETENTION: Duration = Duration::from_secs(15 * 60);
pub const DEFAULT_BGP_UP_DELAY: Duration = Duration::from_secs(1);
const DEFAULT_SEED: u64 = 0x0d1c_0c7e;

/// The outcome of one operation: the response body, and whether the world changed.
pub struct Outcome {
    pub body: Value,
    pub changed: bool,
}

/// A fault injected into one request, on one side or the other of the operation's effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestFault {
    Throttle,
    /// A 500 before the operation runs.
    ServerErrorBefore,
    /// The connection closes before the operation runs.
    DropBefore,
    /// A "transitioning state" refusal (mutating calls only).
    Transitioning,
    /// The operation runs, then a 500.
    ServerErrorAfter,
    /// The operation runs, then a 502 with an HTML body and no error code.
    BadGatewayAfter,
    /// The operation runs, then the connection closes without answering.
    DropAfter,
    /// The operation is held for the late-write delay, then runs (mutating calls only).
    LateWrite,
}

impl RequestFault {
    /// The name in the request log and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            RequestFault::Throttle => "throttle",
            RequestFault::ServerErrorBefore => "server-error",
            RequestFault::DropBefore => "drop-before",
            RequestFault::Transitioning => "transitioning",
            RequestFault::ServerErrorAfter => "server-error-after",
            RequestFault::BadGatewayAfter => "bad-gateway-after",
            RequestFault::DropAfter => "drop",
            RequestFault::LateWrite => "late-write",
        }
    }
}

pub fn is_mutating(operation: &str) -> bool {
    operation.starts_with("Create") || operation.starts_with("Delete")
}

pub struct Engine {
    /// The live world. Operations keep `index` in step with its VIFs and peers; code that edits those by hand
    /// (tests) calls [`Engine::reindex`] afterwards. Debug builds check the index after every operation.
    pub world: World,
    ids: StdRng,
    faults: StdRng,
    /// How stale each consistent-eventually describe is; its own generator, so faults keep their sequence.
    staleness: StdRng,
    provision_delay: Duration,
    deletion_delay: Duration,
    retention: Duration,
    bgp_up_delay: Duration,
    history: History,
    buckets: Buckets,
    /// Where VIFs are, which peer ids and IPv6 blocks are taken: kept in step with `world.virtual_interfaces`.
    index: WorldIndex,
}

fn parse<T: for<'de> Deserialize<'de>>(input: &Value) -> Result<T, ApiError> {
    serde_json::from_value(input.clone()).map_err(|e| {
        ApiError::other(
            axum::http::StatusCode::BAD_REQUEST,
            "SerializationException",
            format!("Invalid request: {e}"),
        )
    })
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Engine {
    pub fn new(mut world: World, provision_delay: Option<Duration>) -> Engine {
        let seed = world.sim.seed.unwrap_or(DEFAULT_SEED);
        let mut ids = StdRng::seed_from_u64(seed);
        let faults = StdRng::seed_from_u64(seed.rotate_left(17) ^ 0xfa17);
        let staleness = StdRng::seed_from_u64(seed.rotate_left(29) ^ 0x57a1e);
        let sim = &world.sim;
        let provision_delay = provision_delay
            .or_else(|| sim.provision_delay())
            .unwrap_or(DEFAULT_PROVISION_DELAY);
        let deletion_delay = sim.deletion_delay().unwrap_or(DEFAULT_DELETION_DELAY);
        let retention = sim.deleted_retention().unwrap_or(DEFAULT_DELETED_RETENTION);
        let bgp_up_delay = sim.bgp_up_delay().unwrap_or(DEFAULT_BGP_UP_DELAY);
        let mut index = WorldIndex::build(&world.virtual_interfaces);
        // AWS gives every peer an id; pasted or hand-written worlds may omit them.
        for vif in &mut world.virtual_interfaces {
            if vif.bgp_peers.iter().all(|p| p.bgp_peer_id.is_some()) {
                continue;
            }
            let vif = Arc::make_mut(vif);
            for peer in &mut vif.bgp_peers {
                if peer.bgp_peer_id.is_none() {
                    let id = new_id(&mut ids, "dxpeer", |id| index.peer_listed(id));
                    index.peer_id_added(&vif.virtual_interface_id, &id);
                    peer.bgp_peer_id = Some(id);
                }
            }
        }
        Engine {
            world,
            ids,
            faults,
            staleness,
            provision_delay,
            deletion_delay,
            retention,
            bgp_up_delay,
            history: History::default(),
            buckets: Buckets::default(),
            index,
        }
    }

    fn timing(&self) -> Timing {
        Timing {
            retention_ms: millis(self.retention),
        }
    }

    /// Draws this request's fault, if any. A fixed number of draws per request keeps a seed's sequence stable.
    pub fn roll_fault(&mut self, operation: &str) -> Option<RequestFault> {
        use RequestFault::*;
        let f = &self.world.sim.faults;
        let mutating = is_mutating(operation);
        let rates = [
            (Throttle, f.throttle_rate),
            (ServerErrorBefore, f.server_error_rate),
            (DropBefore, f.drop_before_rate),
            (
                Transitioning,
                if mutating { f.transitioning_rate } else { 0.0 },
            ),
            (ServerErrorAfter, f.server_error_after_rate),
            (BadGatewayAfter, f.bad_gateway_after_rate),
            (DropAfter, f.drop_rate),
            (LateWrite, if mutating { f.late_write_rate } else { 0.0 }),
        ];
        let draws: [f64; 8] = std::array::from_fn(|_| self.faults.random());
        rates
            .iter()
            .zip(draws)
            .find(|((_, rate), draw)| *draw < *rate)
            .map(|((fault, _), _)| *fault)
    }

    /// Takes a token from the operation's rate limit in `region`; `false` means the call is throttled.
    pub fn within_rate_limit(&mut self, operation: &str, region: &str, now_ms: u64) -> bool {
        match self.world.sim.rate_limit(operation) {
            Some(limit) => self.buckets.take(operation, region, limit, now_ms),
            None => true,
        }
    }

    /// Applies lifecycle steps that are due at `now_ms`; returns whether anything changed.
    pub fn advance(&mut self, now_ms: u64) -> bool {
        let timing = self.timing();
        let w = &mut self.world;
        let changed = lifecycle::advance(
            &mut w.virtual_interfaces,
            &mut w.sim.pending_transitions,
            now_ms,
            timing,
            &mut self.index,
        );
        if changed {
            self.remember(now_ms);
        }
        self.debug_check_index();
        changed
    }

    /// Rebuilds the indexes from the world, after its VIFs or peers were edited by hand.
    pub fn reindex(&mut self) {
        self.index = WorldIndex::build(&self.world.virtual_interfaces);
    }

    /// In debug builds (tests, fuzzing), panics if an index disagrees with one rebuilt from the world.
    fn debug_check_index(&self) {
        #[cfg(debug_assertions)]
        if let Err(e) = self.index.agrees_with(&self.world.virtual_interfaces) {
            panic!("the simulator's world index drifted from the world: {e}");
        }
    }

    /// Records the world for eventually consistent describes (only while some region has a window).
    fn remember(&mut self, now_ms: u64) {
        let window = millis(self.world.sim.max_consistency_window());
        self.history.remember(
            now_ms,
            window,
            &self.world.virtual_interfaces,
            &self.world.sim.pending_transitions,
        );
    }

    /// The VIFs a describe in `region` sees at `now_ms`: with a consistency window, the world as it was a seeded
    /// random moment within that window ago; `None` for the live world.
    fn stale_view(&mut self, region: &str, now_ms: u64) -> Option<Vec<Arc<Vif>>> {
        let window = millis(self.world.sim.consistency_window(region));
        if window == 0 || self.history.is_empty() {
            return None;
        }
        let age = self.staleness.random_range(0..=window);
        match self
            .history
            .view_at(now_ms.saturating_sub(age), self.timing())
        {
            Some(vifs) if age > 0 => Some(vifs),
            _ => None,
        }
    }

    fn schedule(&mut self, vif: &str, peer: Option<&str>, to: &str, at_epoch_ms: u64) {
        self.world.sim.pending_transitions.push(Transition {
            virtual_interface_id: vif.to_string(),
            bgp_peer_id: peer.map(str::to_string),
            to: to.to_string(),
            at_epoch_ms,
        });
    }

    /// Approves peers waiting in `verifying` (one, or all when `peer` is `None`); returns how many.
    pub fn approve(&mut self, peer: Option<&str>, now_ms: u64) -> usize {
        let mut approved = Vec::new();
        let waiting = |p: &Peer| {
            p.state() == "verifying" && peer.is_none_or(|id| p.bgp_peer_id.as_deref() == Some(id))
        };
        for v in &mut self.world.virtual_interfaces {
            // Only a VIF that changes is copied away from older versions.
            if !v.bgp_peers.iter().any(waiting) {
                continue;
            }
            let v = Arc::make_mut(v);
            for p in &mut v.bgp_peers {
                if waiting(p) {
                    p.bgp_peer_state = Some("available".into());
                    approved.push((v.virtual_interface_id.clone(), p.bgp_peer_id.clone()));
                }
            }
        }
        let up = now_ms.saturating_add(millis(self.bgp_up_delay));
        for (vif, id) in &approved {
            self.schedule(vif, id.as_deref(), lifecycle::BGP_UP, up);
        }
        if !approved.is_empty() {
            self.remember(now_ms);
        }
        approved.len()
    }

    /// Runs one operation for a caller in `region`.
    pub fn handle(
        &mut self,
        op: &str,
        region: &str,
        input: &Value,
        now_ms: u64,
    ) -> Result<Outcome, ApiError> {
        let outcome = self.operate(op, region, input, now_ms);
        self.debug_check_index();
        outcome
    }

    fn operate(
        &mut self,
        op: &str,
        region: &str,
        input: &Value,
        now_ms: u64,
    ) -> Result<Outcome, ApiError> {
        if is_mutating(op) && self.history.is_empty() {
            // The world before the first change, for views that reach back past it.
            self.remember(now_ms);
        }
        let read = |body| {
            Ok(Outcome {
                body,
                changed: false,
            })
        };
        match op {
            "DescribeVirtualInterfaces" => {
                read(self.describe_vifs(region, parse(input)?, now_ms)?)
            }
            "DescribeConnections" => read(self.describe_connections(region, parse(input)?)?),
            "DescribeLags" => read(self.describe_lags(region, parse(input)?)?),
            "DescribeInterconnects" => read(self.describe_interconnects(region, parse(input)?)?),
            _ => {
                let body = match op {
                    "CreateBGPPeer" => self.create_bgp_peer(region, parse(input)?, now_ms)?,
                    "DeleteBGPPeer" => self.delete_bgp_peer(region, parse(input)?, now_ms)?,
                    "CreatePrivateVirtualInterface" => {
                        self.create_vif(region, vifs::Kind::Private, input, now_ms)?
                    }
                    "CreatePublicVirtualInterface" => {
                        self.create_vif(region, vifs::Kind::Public, input, now_ms)?
                    }
                    "CreateTransitVirtualInterface" => {
                        self.create_vif(region, vifs::Kind::Transit, input, now_ms)?
                    }
                    "DeleteVirtualInterface" => self.delete_vif(region, parse(input)?, now_ms)?,
                    other => {
                        return Err(ApiError::other(
                            axum::http::StatusCode::BAD_REQUEST,
                            "UnknownOperationException",
                            format!("The simulator does not support operation {other}"),
                        ))
                    }
                };
                self.remember(now_ms);
                Ok(Outcome {
                    body,
                    changed: true,
                })
            }
        }
    }

    fn vif_index(&self, region: &str, id: &str) -> Result<usize, ApiError> {
        self.index
            .position(id)
            .filter(|&i| self.world.virtual_interfaces[i].region() == region)
            .ok_or_else(|| {
                ApiError::client(format!(
                    "Virtual interface {id} does not exist in region {region}"
                ))
            })
    }

    /// An id no listed peer has (one that left the list may come again, as before indexes).
    fn new_peer_id(&mut self) -> String {
        let index = &self.index;
        new_id(&mut self.ids, "dxpeer", |id| index.peer_listed(id))
    }

    fn new_vif_id(&mut self) -> String {
        let index = &self.index;
        new_id(&mut self.ids, "dxvif", |id| index.position(id).is_some())
    }

    fn new_auth_key(&mut self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";
        let body: String = (0..22)
            .map(|_| ALPHABET[self.ids.random_range(0..ALPHABET.len())] as char)
            .collect();
        format!("0x{body}")
    }

    /// Schedules a new peer's lifecycle from `now_ms`: available after the provisioning delay (unless a fault
    /// keeps it pending, ends it deleted, or it awaits manual approval), then BGP up (unless a fault holds it down).
    fn schedule_new_peer(&mut self, vif: &str, peer: &str, public: bool, now_ms: u64) {
        let f = &self.world.sim.faults;
        let (stuck, dead, down) = (f.stuck_pending_rate, f.end_deleted_rate, f.bgp_down_rate);
        let draws: [f64; 3] = std::array::from_fn(|_| self.faults.random());
        if draws[0] < stuck || (public && self.world.sim.manual_approval) {
            return;
        }
        let ready = now_ms.saturating_add(millis(self.provision_delay));
        if draws[1] < dead {
            self.schedule(vif, Some(peer), "deleted", ready);
            return;
        }
        self.schedule(vif, Some(peer), "available", ready);
        if draws[2] >= down {
            let up = ready.saturating_add(millis(self.bgp_up_delay));
            self.schedule(vif, Some(peer), lifecycle::BGP_UP, up);
        }
    }
}

/// A fresh `prefix-xxxxxxxx` id that `used` does not know. 36^8 ids: with fewer than a million in use, a draw is
/// taken with a chance below 1 in 2.8 million, so the loop ends after a draw or two.
fn new_id(rng: &mut StdRng, prefix: &str, used: impl Fn(&str) -> bool) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    loop {
        let suffix: String = (0..8)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect();
        let id = format!("{prefix}-{suffix}");
        if !used(&id) {
            return id;
        }
    }
}

#[cfg(test)]
mod tests;
