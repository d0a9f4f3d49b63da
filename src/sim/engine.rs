//! The simulated service itself: operations over the world, the API's rules, lifecycles and seeded faults, with no HTTP in sight.

mod describe;
mod peers;
mod rules;
mod vifs;

use std::collections::BTreeSet;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde_json::Value;

use super::protocol::ApiError;
use super::world::{Transition, World};

pub const DEFAULT_PROVISION_DELAY: Duration = Duration::from_secs(2);
pub const DEFAULT_DELETION_DELAY: Duration = Duration::from_secs(1);
const DEFAULT_SEED: u64 = 0x0d1c_0c7e;

/// The outcome of one operation: the response body, and whether the world changed.
pub struct Outcome {
    pub body: Value,
    pub changed: bool,
}

/// A fault injected into one request before (or, for `Drop`, after) it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestFault {
    Throttle,
    ServerError,
    Transitioning,
    /// Run the operation, then close the connection without answering.
    Drop,
}

pub struct Engine {
    pub world: World,
    ids: StdRng,
    faults: StdRng,
    provision_delay: Duration,
    deletion_delay: Duration,
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
        let provision_delay = provision_delay
            .or_else(|| world.provision_delay())
            .unwrap_or(DEFAULT_PROVISION_DELAY);
        let deletion_delay = world.deletion_delay().unwrap_or(DEFAULT_DELETION_DELAY);
        // AWS gives every peer an id; pasted or hand-written worlds may omit them.
        let mut used = peer_ids(&world);
        for vif in &mut world.virtual_interfaces {
            for peer in &mut vif.bgp_peers {
                if peer.bgp_peer_id.is_none() {
                    peer.bgp_peer_id = Some(new_id(&mut ids, "dxpeer", &mut used));
                }
            }
        }
        Engine {
            world,
            ids,
            faults,
            provision_delay,
            deletion_delay,
        }
    }

    /// Draws this request's fault, if any. Four draws per request keep a seed's sequence stable.
    pub fn roll_fault(&mut self, operation: &str) -> Option<RequestFault> {
        let f = &self.world.sim.faults;
        let (throttle, server, transitioning, drop) = (
            f.throttle_rate,
            f.server_error_rate,
            f.transitioning_rate,
            f.drop_rate,
        );
        let draws: [f64; 4] = std::array::from_fn(|_| self.faults.random());
        let mutating = operation.starts_with("Create") || operation.starts_with("Delete");
        if draws[0] < throttle {
            Some(RequestFault::Throttle)
        } else if draws[1] < server {
            Some(RequestFault::ServerError)
        } else if mutating && draws[2] < transitioning {
            Some(RequestFault::Transitioning)
        } else if draws[3] < drop {
            Some(RequestFault::Drop)
        } else {
            None
        }
    }

    /// Applies lifecycle steps that are due at `now_ms`; returns whether anything changed.
    pub fn advance(&mut self, now_ms: u64) -> bool {
        let mut changed = false;
        while let Some(i) = self
            .world
            .sim
            .pending_transitions
            .iter()
            .enumerate()
            .filter(|(_, t)| t.at_epoch_ms <= now_ms)
            .min_by_key(|(_, t)| t.at_epoch_ms)
            .map(|(i, _)| i)
        {
            let t = self.world.sim.pending_transitions.remove(i);
            self.apply_transition(&t);
            changed = true;
        }
        changed
    }

    fn apply_transition(&mut self, t: &Transition) {
        let deletion = millis(self.deletion_delay);
        let Some(vif) = self
            .world
            .virtual_interfaces
            .iter_mut()
            .find(|v| v.virtual_interface_id == t.virtual_interface_id)
        else {
            return;
        };
        match (&t.bgp_peer_id, t.to.as_str()) {
            (None, "available") => {
                vif.virtual_interface_state = Some("available".into());
                for p in &mut vif.bgp_peers {
                    if matches!(p.state(), "pending" | "verifying") {
                        p.bgp_peer_state = Some("available".into());
                    }
                }
            }
            (None, state) => {
                vif.virtual_interface_state = Some(state.into());
                if state == "deleted" {
                    for p in &mut vif.bgp_peers {
                        p.bgp_peer_state = Some("deleted".into());
                    }
                }
            }
            (Some(id), "removed") => {
                vif.bgp_peers.retain(|p| p.bgp_peer_id.as_ref() != Some(id));
                vif.refresh_router_config();
            }
            (Some(id), state) => {
                if let Some(p) = vif
                    .bgp_peers
                    .iter_mut()
                    .find(|p| p.bgp_peer_id.as_ref() == Some(id))
                {
                    p.bgp_peer_state = Some(state.into());
                }
                if state == "deleted" {
                    self.world.sim.pending_transitions.push(Transition {
                        to: "removed".into(),
                        at_epoch_ms: t.at_epoch_ms.saturating_add(deletion),
                        ..t.clone()
                    });
                }
            }
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
    pub fn approve(&mut self, peer: Option<&str>) -> usize {
        let mut n = 0;
        for p in self
            .world
            .virtual_interfaces
            .iter_mut()
            .flat_map(|v| v.bgp_peers.iter_mut())
        {
            if p.state() == "verifying"
                && peer.is_none_or(|id| p.bgp_peer_id.as_deref() == Some(id))
            {
                p.bgp_peer_state = Some("available".into());
                n += 1;
            }
        }
        n
    }

    /// Runs one operation for a caller in `region`.
    pub fn handle(
        &mut self,
        op: &str,
        region: &str,
        input: &Value,
        now_ms: u64,
    ) -> Result<Outcome, ApiError> {
        let read = |body| {
            Ok(Outcome {
                body,
                changed: false,
            })
        };
        let write = |body| {
            Ok(Outcome {
                body,
                changed: true,
            })
        };
        match op {
            "DescribeVirtualInterfaces" => read(self.describe_vifs(region, parse(input)?)?),
            "DescribeConnections" => read(self.describe_connections(region, parse(input)?)?),
            "DescribeLags" => read(self.describe_lags(region, parse(input)?)?),
            "DescribeInterconnects" => read(self.describe_interconnects(region, parse(input)?)?),
            "CreateBGPPeer" => write(self.create_bgp_peer(region, parse(input)?, now_ms)?),
            "DeleteBGPPeer" => write(self.delete_bgp_peer(region, parse(input)?, now_ms)?),
            "CreatePrivateVirtualInterface" => {
                write(self.create_vif(region, vifs::Kind::Private, input, now_ms)?)
            }
            "CreatePublicVirtualInterface" => {
                write(self.create_vif(region, vifs::Kind::Public, input, now_ms)?)
            }
            "CreateTransitVirtualInterface" => {
                write(self.create_vif(region, vifs::Kind::Transit, input, now_ms)?)
            }
            "DeleteVirtualInterface" => write(self.delete_vif(region, parse(input)?, now_ms)?),
            other => Err(ApiError::other(
                axum::http::StatusCode::BAD_REQUEST,
                "UnknownOperationException",
                format!("The simulator does not support operation {other}"),
            )),
        }
    }

    fn vif_index(&self, region: &str, id: &str) -> Result<usize, ApiError> {
        self.world
            .virtual_interfaces
            .iter()
            .position(|v| v.virtual_interface_id == id && v.region() == region)
            .ok_or_else(|| {
                ApiError::client(format!(
                    "Virtual interface {id} does not exist in region {region}"
                ))
            })
    }

    fn new_peer_id(&mut self) -> String {
        let mut used = peer_ids(&self.world);
        new_id(&mut self.ids, "dxpeer", &mut used)
    }

    fn new_vif_id(&mut self) -> String {
        let mut used: BTreeSet<String> = self
            .world
            .virtual_interfaces
            .iter()
            .map(|v| v.virtual_interface_id.clone())
            .collect();
        new_id(&mut self.ids, "dxvif", &mut used)
    }

    fn new_auth_key(&mut self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";
        let body: String = (0..22)
            .map(|_| ALPHABET[self.ids.random_range(0..ALPHABET.len())] as char)
            .collect();
        format!("0x{body}")
    }

    /// Where a new peer goes next: `Some((state, delay))`, or `None` when a fault keeps it where it is.
    fn new_peer_fate(&mut self, public: bool) -> Option<&'static str> {
        let f = &self.world.sim.faults;
        let (stuck, dead) = (f.stuck_pending_rate, f.end_deleted_rate);
        let draws: [f64; 2] = std::array::from_fn(|_| self.faults.random());
        if draws[0] < stuck || (public && self.world.sim.manual_approval) {
            None
        } else if draws[1] < dead {
            Some("deleted")
        } else {
            Some("available")
        }
    }
}

fn peer_ids(world: &World) -> BTreeSet<String> {
    world
        .virtual_interfaces
        .iter()
        .flat_map(|v| &v.bgp_peers)
        .filter_map(|p| p.bgp_peer_id.clone())
        .collect()
}

fn new_id(rng: &mut StdRng, prefix: &str, used: &mut BTreeSet<String>) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    loop {
        let suffix: String = (0..8)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect();
        let id = format!("{prefix}-{suffix}");
        if used.insert(id.clone()) {
            return id;
        }
    }
}

#[cfg(test)]
mod tests;
