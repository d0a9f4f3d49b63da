//! CreateBGPPeer and DeleteBGPPeer: the peer rules, address pools and the peer lifecycle.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};

use super::super::protocol::ApiError;
use super::super::world::{Peer, TransitioningRule, Vif};
use super::{millis, rules, Engine};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateBgpPeerInput {
    virtual_interface_id: Option<String>,
    #[serde(rename = "newBGPPeer")]
    new_bgp_peer: Option<NewPeerInput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewPeerInput {
    pub asn: Option<i64>,
    pub asn_long: Option<i64>,
    pub auth_key: Option<String>,
    pub address_family: Option<String>,
    pub amazon_address: Option<String>,
    pub customer_address: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteBgpPeerInput {
    virtual_interface_id: Option<String>,
    bgp_peer_id: Option<String>,
    asn: Option<i64>,
    asn_long: Option<i64>,
    customer_address: Option<String>,
}

/// Refuses peer changes on a VIF that is going or gone.
fn usable(vif: &Vif) -> Result<(), ApiError> {
    match vif.state() {
        "deleted" | "deleting" | "rejected" => Err(ApiError::client(format!(
            "Virtual interface {} is in the {} state; its BGP peers cannot be changed",
            vif.virtual_interface_id,
            vif.state()
        ))),
        _ => Ok(()),
    }
}

impl Engine {
    pub(super) fn create_bgp_peer(
        &mut self,
        region: &str,
        input: CreateBgpPeerInput,
        now_ms: u64,
    ) -> Result<Value, ApiError> {
        let vif_id = input
            .virtual_interface_id
            .ok_or_else(|| ApiError::client("virtualInterfaceId is required"))?;
        let index = self.vif_index(region, &vif_id)?;
        let new = input
            .new_bgp_peer
            .ok_or_else(|| ApiError::client("newBGPPeer is required"))?;
        let vif = &self.world.virtual_interfaces[index];
        usable(vif)?;
        self.settled(vif, None)?;
        let mut peer = self.check_new_peer(vif, &new)?;
        self.exclusive_family(vif, &peer)?;
        let public = vif.is_public();
        let id = self.fill_in(&mut peer, index);
        peer.bgp_peer_state = Some(if public { "verifying" } else { "pending" }.into());
        self.schedule_new_peer(&vif_id, &id, public, now_ms);
        self.index.peer_added(&vif_id, &peer);
        let vif = Arc::make_mut(&mut self.world.virtual_interfaces[index]);
        vif.bgp_peers.push(peer);
        vif.refresh_router_config();
        Ok(json!({ "virtualInterface": vif }))
    }

    /// The rules on the new peer's own fields; returns it without id, key or assigned addresses.
    pub(super) fn check_new_peer(&self, vif: &Vif, new: &NewPeerInput) -> Result<Peer, ApiError> {
        let family = rules::family(new.address_family.as_deref())?;
        let asn = rules::asn(new.asn, new.asn_long)?;
        rules::auth_key(new.auth_key.as_deref())?;
        rules::addresses(
            family,
            new.amazon_address.as_deref(),
            new.customer_address.as_deref(),
        )?;
        if vif.is_public() {
            rules::public_asn(
                asn,
                &self.world.sim.public_asn_allow_list,
                &vif.virtual_interface_id,
            )?;
        }
        let (short, long) = rules::asn_fields(asn);
        Ok(Peer {
            asn: Some(short),
            asn_long: Some(long),
            auth_key: new.auth_key.clone(),
            address_family: Some(family.into()),
            amazon_address: new.amazon_address.clone(),
            customer_address: new.customer_address.clone(),
            ..Peer::default()
        })
    }

    /// Without logical redundancy, one live peer per address family.
    fn exclusive_family(&self, vif: &Vif, peer: &Peer) -> Result<(), ApiError> {
        let family = peer.address_family.as_deref().unwrap_or_default();
        let same: Vec<&Peer> = vif
            .bgp_peers
            .iter()
            .filter(|p| p.is_live() && p.address_family.as_deref() == Some(family))
            .collect();
        if same.is_empty() {
            return Ok(());
        }
        let parent = vif.connection_id.as_deref().unwrap_or("(none)");
        if self.world.logical_redundancy(parent) != Some("yes") {
            return Err(ApiError::client(format!(
                "Virtual interface {} already has an {family} BGP peer and its connection {parent} does not support logical redundancy",
                vif.virtual_interface_id
            )));
        }
        // Omitted addresses are assigned fresh, so only an explicit, equal customer address duplicates.
        let duplicate = same.iter().any(|p| {
            p.asn_value() == peer.asn_long
                && peer.customer_address.is_some()
                && p.customer_address == peer.customer_address
        });
        if duplicate {
            return Err(ApiError::client(format!(
                "A BGP peer with ASN {} and the same customer address already exists on {}",
                peer.asn_long.unwrap_or_default(),
                vif.virtual_interface_id
            )));
        }
        Ok(())
    }

    /// Refuses a peer change while the VIF, or another of its peers, is mid-change (per `sim.transitioningRule`).
    fn settled(&self, vif: &Vif, changing: Option<&str>) -> Result<(), ApiError> {
        let rule = self.world.sim.transitioning_rule.unwrap_or_default();
        if rule == TransitioningRule::Off {
            return Ok(());
        }
        if matches!(vif.state(), "pending" | "verifying" | "confirming") {
            return Err(rules::transitioning(&format!(
                "Virtual interface {}",
                vif.virtual_interface_id
            )));
        }
        if rule == TransitioningRule::VifOrPeers {
            let busy = vif.bgp_peers.iter().find(|p| {
                matches!(p.state(), "pending" | "deleting") && p.bgp_peer_id.as_deref() != changing
            });
            if let Some(p) = busy {
                return Err(rules::transitioning(&format!(
                    "BGP peer {} of virtual interface {}",
                    p.bgp_peer_id.as_deref().unwrap_or("?"),
                    vif.virtual_interface_id
                )));
            }
        }
        Ok(())
    }

    /// Gives a checked peer its id, auth key (when omitted), assigned addresses and device fields; returns the id.
    pub(super) fn fill_in(&mut self, peer: &mut Peer, vif_index: usize) -> String {
        let id = self.new_peer_id();
        peer.bgp_peer_id = Some(id.clone());
        if peer.auth_key.is_none() {
            peer.auth_key = Some(self.new_auth_key());
        }
        if peer.address_family.as_deref() == Some("ipv6") {
            let (amazon, customer) = self.next_ipv6_pair();
            peer.amazon_address = Some(amazon);
            peer.customer_address = Some(customer);
        }
        let vif = &self.world.virtual_interfaces[vif_index];
        if peer.address_family.as_deref() != Some("ipv6") && peer.amazon_address.is_none() {
            let (amazon, customer) = next_ipv4_pair(vif);
            peer.amazon_address = Some(amazon);
            peer.customer_address = Some(customer);
        }
        peer.bgp_status = Some("down".into());
        peer.aws_device_v2 = vif.aws_device_v2.clone();
        peer.aws_logical_device_id = vif.aws_logical_device_id.clone();
        id
    }

    pub(super) fn delete_bgp_peer(
        &mut self,
        region: &str,
        input: DeleteBgpPeerInput,
        now_ms: u64,
    ) -> Result<Value, ApiError> {
        let index = match (&input.virtual_interface_id, &input.bgp_peer_id) {
            (Some(vif), _) => self.vif_index(region, vif)?,
            (None, Some(peer)) => self
                .index
                .vif_of_peer(peer)
                .and_then(|vif| self.index.position(vif))
                .filter(|&i| self.world.virtual_interfaces[i].region() == region)
                .ok_or_else(|| {
                    ApiError::client(format!("BGP peer {peer} does not exist in region {region}"))
                })?,
            (None, None) => return Err(ApiError::client("virtualInterfaceId is required")),
        };
        let vif = &self.world.virtual_interfaces[index];
        usable(vif)?;
        let position = match &input.bgp_peer_id {
            Some(id) => vif
                .bgp_peers
                .iter()
                .position(|p| p.bgp_peer_id.as_ref() == Some(id)),
            None => {
                let (Some(customer), true) = (
                    &input.customer_address,
                    input.asn.is_some() || input.asn_long.is_some(),
                ) else {
                    return Err(ApiError::client(
                        "Specify bgpPeerId, or asn (or asnLong) and customerAddress",
                    ));
                };
                let asn = rules::asn(input.asn, input.asn_long)?;
                vif.bgp_peers.iter().position(|p| {
                    p.is_live()
                        && p.asn_value() == Some(i64::from(asn.get()))
                        && p.customer_address.as_ref() == Some(customer)
                })
            }
        }
        .ok_or_else(|| {
            ApiError::client(format!(
                "The BGP peer does not exist on virtual interface {}",
                vif.virtual_interface_id
            ))
        })?;
        let peer = &vif.bgp_peers[position];
        let id = peer.bgp_peer_id.clone().unwrap_or_default();
        match peer.state() {
            "pending" | "verifying" => return Err(rules::transitioning(&format!("BGP peer {id}"))),
            "deleting" | "deleted" => {
                return Err(ApiError::client(format!(
                    "BGP peer {id} is already {}",
                    peer.state()
                )))
            }
            _ => {}
        }
        if vif.bgp_peers.iter().filter(|p| p.is_live()).count() <= 1 {
            // The text terraform-provider-aws matches (bgp_peer.go, resourceBGPPeerDelete).
            return Err(ApiError::client(
                "The last BGP Peer on a Virtual Interface cannot be deleted",
            ));
        }
        self.settled(vif, Some(&id))?;
        let vif_id = vif.virtual_interface_id.clone();
        let vif = Arc::make_mut(&mut self.world.virtual_interfaces[index]);
        let peer = &mut vif.bgp_peers[position];
        peer.bgp_peer_state = Some("deleting".into());
        peer.bgp_status = Some("down".into());
        vif.refresh_router_config();
        self.schedule(
            &vif_id,
            Some(&id),
            "deleted",
            now_ms.saturating_add(millis(self.deletion_delay)),
        );
        Ok(json!({ "virtualInterface": self.world.virtual_interfaces[index].as_ref() }))
    }

    /// The amazon and customer addresses of the lowest /125 of the pool that no listed peer uses.
    fn next_ipv6_pair(&mut self) -> (String, String) {
        let base = self.index.lowest_free_ipv6_block();
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
    let mut base = u32::from(Ipv4Addr::new(169, 254, 0, 0));
    while used.contains(&base) || base == metadata {
        base += 4;
    }
    let fmt = |offset: u32| format!("{}/30", Ipv4Addr::from(base + offset));
    (fmt(1), fmt(2))
}
