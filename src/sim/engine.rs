//! The simulated service itself: operations over the world, the API's rules, and the peer lifecycle, with no HTTP in sight.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde_json::{json, Value};

use super::protocol::ApiError;
use super::world::{Peer, Transition, Vif, World};
use crate::model::Asn;

pub const DEFAULT_PROVISION_DELAY: Duration = Duration::from_secs(2);
/// First /125 of the IPv6 pool: the seed example's `2001:db8:1100:2f0:0:1:9cb4:4210`.
const IPV6_POOL_START: u128 = 0x2001_0db8_1100_02f0_0000_0001_9cb4_4210;
const IPV4_POOL_START: u32 = u32::from_be_bytes([169, 254, 0, 0]);

/// The outcome of one operation: the response body, and whether the world changed.
pub struct Outcome {
    pub body: Value,
    pub changed: bool,
}

pub struct Engine {
    pub world: World,
    rng: StdRng,
    provision_delay: Duration,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeVifsInput {
    connection_id: Option<String>,
    virtual_interface_id: Option<String>,
    max_results: Option<usize>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeByIdInput {
    connection_id: Option<String>,
    lag_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBgpPeerInput {
    virtual_interface_id: Option<String>,
    #[serde(rename = "newBGPPeer")]
    new_bgp_peer: Option<NewPeerInput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewPeerInput {
    asn: Option<i64>,
    asn_long: Option<i64>,
    auth_key: Option<String>,
    address_family: Option<String>,
    amazon_address: Option<String>,
    customer_address: Option<String>,
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

impl Engine {
    pub fn new(mut world: World, provision_delay: Option<Duration>) -> Engine {
        let mut rng = StdRng::seed_from_u64(world.sim.seed.unwrap_or(0x0d1c_0c7e));
        let provision_delay = provision_delay
            .or_else(|| world.provision_delay())
            .unwrap_or(DEFAULT_PROVISION_DELAY);
        // AWS gives every peer an id; pasted or hand-written worlds may omit them.
        let mut used = ids_in(&world);
        for vif in &mut world.virtual_interfaces {
            for peer in &mut vif.bgp_peers {
                if peer.bgp_peer_id.is_none() {
                    peer.bgp_peer_id = Some(new_peer_id(&mut rng, &mut used));
                }
            }
        }
        Engine {
            world,
            rng,
            provision_delay,
        }
    }

    /// Applies lifecycle steps that are due at `now_ms`; returns whether anything changed.
    pub fn advance(&mut self, now_ms: u64) -> bool {
        let due: Vec<(String, Transition)> = self
            .world
            .sim
            .pending_transitions
            .iter()
            .filter(|(_, t)| t.at_epoch_ms <= now_ms)
            .map(|(id, t)| (id.clone(), t.clone()))
            .collect();
        for (id, t) in &due {
            self.world.sim.pending_transitions.remove(id);
            let peer = self
                .world
                .virtual_interfaces
                .iter_mut()
                .filter(|v| v.virtual_interface_id == t.virtual_interface_id)
                .flat_map(|v| v.bgp_peers.iter_mut())
                .find(|p| p.bgp_peer_id.as_deref() == Some(id));
            if let Some(peer) = peer {
                peer.bgp_peer_state = Some(t.to.clone());
            }
        }
        !due.is_empty()
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
        match op {
            "DescribeVirtualInterfaces" => read(self.describe_vifs(region, parse(input)?)?),
            "DescribeConnections" => read(self.describe_connections(region, parse(input)?)?),
            "DescribeLags" => read(self.describe_lags(region, parse(input)?)?),
            "CreateBGPPeer" => {
                let body = self.create_bgp_peer(region, parse(input)?, now_ms)?;
                Ok(Outcome {
                    body,
                    changed: true,
                })
            }
            other => Err(ApiError::other(
                axum::http::StatusCode::BAD_REQUEST,
                "UnknownOperationException",
                format!("The simulator does not support operation {other}"),
            )),
        }
    }

    fn vif_in_region(&self, region: &str, id: &str) -> Result<usize, ApiError> {
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

    fn describe_vifs(&self, region: &str, input: DescribeVifsInput) -> Result<Value, ApiError> {
        if let Some(id) = &input.virtual_interface_id {
            self.vif_in_region(region, id)?;
        }
        let all: Vec<&Vif> = self
            .world
            .virtual_interfaces
            .iter()
            .filter(|v| v.region() == region)
            .filter(|v| {
                input
                    .virtual_interface_id
                    .as_ref()
                    .is_none_or(|id| &v.virtual_interface_id == id)
            })
            .filter(|v| input.connection_id.is_none() || v.connection_id == input.connection_id)
            .collect();
        let start: usize = match &input.next_token {
            Some(t) => t
                .parse()
                .map_err(|_| ApiError::client("Invalid nextToken"))?,
            None => 0,
        };
        let limit = input.max_results.filter(|m| *m > 0).unwrap_or(usize::MAX);
        let page: Vec<&Vif> = all.iter().skip(start).take(limit).copied().collect();
        let mut body = json!({ "virtualInterfaces": page });
        if start.saturating_add(limit) < all.len() {
            body["nextToken"] = json!((start + limit).to_string());
        }
        Ok(body)
    }

    fn describe_connections(
        &self,
        region: &str,
        input: DescribeByIdInput,
    ) -> Result<Value, ApiError> {
        let conns: Vec<_> = self
            .world
            .connections
            .iter()
            .filter(|c| c.region.as_deref().unwrap_or(super::world::DEFAULT_REGION) == region)
            .filter(|c| {
                input
                    .connection_id
                    .as_ref()
                    .is_none_or(|id| &c.connection_id == id)
            })
            .collect();
        Ok(json!({ "connections": conns }))
    }

    fn describe_lags(&self, region: &str, input: DescribeByIdInput) -> Result<Value, ApiError> {
        let lags: Vec<_> = self
            .world
            .lags
            .iter()
            .filter(|l| l.region.as_deref().unwrap_or(super::world::DEFAULT_REGION) == region)
            .filter(|l| input.lag_id.as_ref().is_none_or(|id| &l.lag_id == id))
            .collect();
        Ok(json!({ "lags": lags }))
    }

    fn create_bgp_peer(
        &mut self,
        region: &str,
        input: CreateBgpPeerInput,
        now_ms: u64,
    ) -> Result<Value, ApiError> {
        let vif_id = input
            .virtual_interface_id
            .ok_or_else(|| ApiError::client("virtualInterfaceId is required"))?;
        let index = self.vif_in_region(region, &vif_id)?;
        let new = input
            .new_bgp_peer
            .ok_or_else(|| ApiError::client("newBGPPeer is required"))?;
        let peer = self.check_new_peer(&self.world.virtual_interfaces[index], new)?;
        let mut peer = peer;
        let mut used = ids_in(&self.world);
        let id = new_peer_id(&mut self.rng, &mut used);
        peer.bgp_peer_id = Some(id.clone());
        if peer.auth_key.is_none() {
            peer.auth_key = Some(new_auth_key(&mut self.rng));
        }
        let vif = &self.world.virtual_interfaces[index];
        let family = peer.address_family.clone().unwrap_or_default();
        if family == "ipv6" {
            let (amazon, customer) = self.next_ipv6_pair();
            peer.amazon_address = Some(amazon);
            peer.customer_address = Some(customer);
        } else if peer.amazon_address.is_none() {
            let (amazon, customer) = next_ipv4_pair(vif);
            peer.amazon_address = Some(amazon);
            peer.customer_address = Some(customer);
        }
        let first_state = if vif.is_public() {
            "verifying"
        } else {
            "pending"
        };
        peer.bgp_peer_state = Some(first_state.into());
        peer.bgp_status = Some("down".into());
        peer.aws_device_v2 = vif.aws_device_v2.clone();
        peer.aws_logical_device_id = vif.aws_logical_device_id.clone();
        let delay_ms = u64::try_from(self.provision_delay.as_millis()).unwrap_or(u64::MAX);
        self.world.sim.pending_transitions.insert(
            id,
            Transition {
                virtual_interface_id: vif_id.clone(),
                to: "available".into(),
                at_epoch_ms: now_ms.saturating_add(delay_ms),
            },
        );
        let vif = &mut self.world.virtual_interfaces[index];
        vif.bgp_peers.push(peer);
        Ok(json!({ "virtualInterface": vif }))
    }

    /// Every CreateBGPPeer rule from the API reference; returns the peer to add (addresses not yet assigned).
    fn check_new_peer(&self, vif: &Vif, new: NewPeerInput) -> Result<Peer, ApiError> {
        let id = &vif.virtual_interface_id;
        if matches!(vif.state(), "deleted" | "deleting" | "rejected") {
            return Err(ApiError::client(format!(
                "Virtual interface {id} is in the {} state; BGP peers cannot be added to it",
                vif.state()
            )));
        }
        let family = match new.address_family.as_deref() {
            Some(f @ ("ipv4" | "ipv6")) => f.to_string(),
            Some(other) => {
                return Err(ApiError::client(format!(
                    "Invalid addressFamily {other}; expected ipv4 or ipv6"
                )))
            }
            None => return Err(ApiError::client("addressFamily is required")),
        };
        let asn_value = match (new.asn_long, new.asn) {
            (Some(long), _) => {
                if !(1..=Asn::MAX as i64).contains(&long) {
                    return Err(ApiError::client(format!(
                        "asnLong {long} is outside 1-4294967294"
                    )));
                }
                long
            }
            (None, Some(short)) => {
                if !(1..=Asn::MAX_SHORT_FIELD as i64).contains(&short) {
                    return Err(ApiError::client(format!(
                        "asn {short} is outside 1-2147483646; use asnLong for 4-byte ASNs"
                    )));
                }
                short
            }
            (None, None) => return Err(ApiError::client("Either asn or asnLong is required")),
        };
        if let Some(key) = &new.auth_key {
            let len = key.chars().count();
            if !(6..=80).contains(&len) {
                return Err(ApiError::client(format!(
                    "authKey must be between 6 and 80 characters long; got {len}"
                )));
            }
        }
        if family == "ipv6" {
            if new.amazon_address.is_some() || new.customer_address.is_some() {
                return Err(ApiError::client(
                    "Custom IPv6 addresses are not supported: omit amazonAddress and customerAddress for an ipv6 BGP peer; they are assigned from the Amazon pool",
                ));
            }
        } else {
            match (&new.amazon_address, &new.customer_address) {
                (Some(a), Some(c)) => {
                    for addr in [a, c] {
                        if addr.parse::<ipnet::Ipv4Net>().is_err() {
                            return Err(ApiError::client(format!("Invalid IPv4 address {addr}: expected CIDR notation such as 169.254.255.1/30")));
                        }
                    }
                }
                (None, None) => {}
                _ => {
                    return Err(ApiError::client(
                        "amazonAddress and customerAddress must both be specified or both be omitted for an ipv4 BGP peer",
                    ))
                }
            }
        }
        let asn = Asn::new(asn_value as u64).expect("range checked");
        if vif.is_public()
            && !asn.is_private()
            && !self
                .world
                .sim
                .public_asn_allow_list
                .contains(&(asn_value as u64))
        {
            return Err(ApiError::client(format!(
                "ASN {asn_value} is a public ASN that is not on the allow list for virtual interface {id}; use a private ASN or have it allow-listed"
            )));
        }
        let live: Vec<&Peer> = vif.bgp_peers.iter().filter(|p| p.is_live()).collect();
        if live
            .iter()
            .any(|p| p.address_family.as_deref() == Some(family.as_str()))
        {
            let redundancy = vif
                .connection_id
                .as_deref()
                .and_then(|c| self.world.logical_redundancy(c))
                .unwrap_or("unknown");
            if redundancy != "yes" {
                return Err(ApiError::client(format!(
                    "Virtual interface {id} already has an {family} BGP peer and its connection {} does not support logical redundancy",
                    vif.connection_id.as_deref().unwrap_or("(none)")
                )));
            }
            if live.iter().any(|p| {
                p.address_family.as_deref() == Some(family.as_str())
                    && p.asn_value() == Some(asn_value)
                    && (new.customer_address.is_none()
                        || p.customer_address == new.customer_address)
            }) {
                return Err(ApiError::client(format!(
                    "A BGP peer with ASN {asn_value} and the same address already exists on {id}"
                )));
            }
        }
        let four_byte = asn.is_four_byte();
        Ok(Peer {
            asn: Some(if four_byte { 0 } else { asn_value }),
            asn_long: Some(asn_value),
            auth_key: new.auth_key,
            address_family: Some(family),
            amazon_address: new.amazon_address,
            customer_address: new.customer_address,
            ..Peer::default()
        })
    }

    fn next_ipv6_pair(&self) -> (String, String) {
        let used: BTreeSet<u128> = self
            .world
            .virtual_interfaces
            .iter()
            .flat_map(|v| &v.bgp_peers)
            .flat_map(|p| [&p.amazon_address, &p.customer_address])
            .flatten()
            .filter_map(|a| a.split('/').next()?.parse::<Ipv6Addr>().ok())
            .map(|a| u128::from(a) & !7)
            .collect();
        let mut base = IPV6_POOL_START;
        while used.contains(&base) {
            base += 8;
        }
        let fmt = |offset: u128| format!("{}/125", Ipv6Addr::from(base + offset));
        (fmt(1), fmt(6))
    }
}

/// The first free /30 in 169.254.0.0/16 on this VIF (link-local addresses are per VIF).
fn next_ipv4_pair(vif: &Vif) -> (String, String) {
    let used: BTreeSet<u32> = vif
        .bgp_peers
        .iter()
        .flat_map(|p| [&p.amazon_address, &p.customer_address])
        .flatten()
        .filter_map(|a| a.split('/').next()?.parse::<Ipv4Addr>().ok())
        .map(|a| u32::from(a) & !3)
        .collect();
    let metadata = u32::from(Ipv4Addr::new(169, 254, 169, 254)) & !3;
    let mut base = IPV4_POOL_START;
    while used.contains(&base) || base == metadata {
        base += 4;
    }
    let fmt = |offset: u32| format!("{}/30", Ipv4Addr::from(base + offset));
    (fmt(1), fmt(2))
}

fn ids_in(world: &World) -> BTreeSet<String> {
    world
        .virtual_interfaces
        .iter()
        .flat_map(|v| &v.bgp_peers)
        .filter_map(|p| p.bgp_peer_id.clone())
        .collect()
}

fn new_peer_id(rng: &mut StdRng, used: &mut BTreeSet<String>) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    loop {
        let suffix: String = (0..8)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect();
        let id = format!("dxpeer-{suffix}");
        if used.insert(id.clone()) {
            return id;
        }
    }
}

fn new_auth_key(rng: &mut StdRng) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";
    let body: String = (0..22)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("0x{body}")
}

#[cfg(test)]
mod tests;
