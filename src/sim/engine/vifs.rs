//! Create{Private,Public,Transit}VirtualInterface and DeleteVirtualInterface, with the VIF lifecycle.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::super::protocol::ApiError;
use super::super::world::Vif;
use super::peers::NewPeerInput;
use super::{millis, parse, Engine};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Private,
    Public,
    Transit,
}

impl Kind {
    fn wrapper(self) -> &'static str {
        match self {
            Kind::Private => "newPrivateVirtualInterface",
            Kind::Public => "newPublicVirtualInterface",
            Kind::Transit => "newTransitVirtualInterface",
        }
    }
    fn type_name(self) -> &'static str {
        match self {
            Kind::Private => "private",
            Kind::Public => "public",
            Kind::Transit => "transit",
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewVif {
    virtual_interface_name: Option<String>,
    vlan: Option<i64>,
    asn: Option<i64>,
    asn_long: Option<i64>,
    mtu: Option<i64>,
    auth_key: Option<String>,
    amazon_address: Option<String>,
    customer_address: Option<String>,
    address_family: Option<String>,
    virtual_gateway_id: Option<String>,
    direct_connect_gateway_id: Option<String>,
    route_filter_prefixes: Option<Vec<Value>>,
    tags: Option<Vec<Value>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteVifInput {
    virtual_interface_id: Option<String>,
}

impl Engine {
    pub(super) fn create_vif(
        &mut self,
        region: &str,
        kind: Kind,
        input: &Value,
        now_ms: u64,
    ) -> Result<Value, ApiError> {
        let parent_id = input
            .get("connectionId")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::client("connectionId is required"))?
            .to_string();
        let new: NewVif = parse(
            input
                .get(kind.wrapper())
                .ok_or_else(|| ApiError::client(format!("{} is required", kind.wrapper())))?,
        )?;
        let parent = self
            .world
            .parent(&parent_id)
            .filter(|p| p.region == region)
            .ok_or_else(|| {
                ApiError::client(format!(
                    "Connection {parent_id} does not exist in region {region}"
                ))
            })?;
        let name = new
            .virtual_interface_name
            .clone()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ApiError::client("virtualInterfaceName is required"))?;
        let vlan = new
            .vlan
            .filter(|v| (1..=4094).contains(v))
            .ok_or_else(|| ApiError::client("vlan is required and must be 1-4094"))?;
        let taken = self.world.virtual_interfaces.iter().any(|v| {
            v.connection_id.as_deref() == Some(parent_id.as_str())
                && v.extra.get("vlan").and_then(Value::as_i64) == Some(vlan)
                && !matches!(v.state(), "deleted" | "rejected")
        });
        if taken {
            return Err(ApiError::client(format!(
                "VLAN {vlan} is already in use on {parent_id}"
            )));
        }
        if let Some(mtu) = new.mtu {
            if ![1500, 8500, 9001].contains(&mtu) {
                return Err(ApiError::client(format!("Invalid mtu {mtu}")));
            }
        }
        let owner = parent.owner_account.unwrap_or("123456789012").to_string();
        let location = parent.location.cloned();
        let device = parent
            .aws_device
            .and_then(Value::as_str)
            .map(str::to_string);
        let parent_region = parent.region.to_string();

        let id = self.new_vif_id();
        let mut vif = Vif {
            virtual_interface_id: id.clone(),
            region: Some(parent_region),
            connection_id: Some(parent_id),
            virtual_interface_type: Some(kind.type_name().into()),
            virtual_interface_state: Some(
                if kind == Kind::Public {
                    "verifying"
                } else {
                    "pending"
                }
                .into(),
            ),
            aws_device_v2: device,
            ..Vif::default()
        };
        let first = NewPeerInput {
            asn: new.asn,
            asn_long: new.asn_long,
            auth_key: new.auth_key.clone(),
            address_family: Some(new.address_family.clone().unwrap_or_else(|| "ipv4".into())),
            amazon_address: new.amazon_address.clone(),
            customer_address: new.customer_address.clone(),
        };
        let mut peer = self.check_new_peer(&vif, &first)?;
        self.world.virtual_interfaces.push(Arc::new(vif.clone()));
        let index = self.world.virtual_interfaces.len() - 1;
        self.index.vif_added(&id, index);
        let first_peer = self.fill_in(&mut peer, index);
        peer.bgp_peer_state = vif.virtual_interface_state.clone();

        let mut extra = Map::new();
        extra.insert("ownerAccount".into(), json!(owner));
        extra.insert("virtualInterfaceName".into(), json!(name));
        extra.insert("vlan".into(), json!(vlan));
        extra.insert("asn".into(), json!(peer.asn));
        if peer.asn != peer.asn_long {
            extra.insert("asnLong".into(), json!(peer.asn_long));
        }
        extra.insert("authKey".into(), json!(peer.auth_key));
        extra.insert("amazonAddress".into(), json!(peer.amazon_address));
        extra.insert("customerAddress".into(), json!(peer.customer_address));
        extra.insert("addressFamily".into(), json!(peer.address_family));
        if let Some(location) = location {
            extra.insert("location".into(), location);
        }
        if let Some(gw) = &new.virtual_gateway_id {
            extra.insert("virtualGatewayId".into(), json!(gw));
        }
        if let Some(gw) = &new.direct_connect_gateway_id {
            extra.insert("directConnectGatewayId".into(), json!(gw));
        }
        extra.insert(
            "routeFilterPrefixes".into(),
            json!(new.route_filter_prefixes.clone().unwrap_or_default()),
        );
        extra.insert("mtu".into(), json!(new.mtu.unwrap_or(1500)));
        extra.insert("jumboFrameCapable".into(), json!(false));
        extra.insert("amazonSideAsn".into(), json!(64512));
        if let Some(tags) = &new.tags {
            extra.insert("tags".into(), json!(tags));
        }
        vif.extra = extra;
        self.index.peer_added(&id, &peer);
        vif.bgp_peers = vec![peer];
        vif.refresh_router_config();
        self.world.virtual_interfaces[index] = Arc::new(vif);
        let ready = now_ms.saturating_add(millis(self.provision_delay));
        self.schedule(&id, None, "available", ready);
        self.schedule(
            &id,
            Some(&first_peer),
            super::lifecycle::BGP_UP,
            ready.saturating_add(millis(self.bgp_up_delay)),
        );

        let body = json!(self.world.virtual_interfaces[index].as_ref());
        Ok(match kind {
            // CreateTransitVirtualInterface wraps its result; the other two return a bare VirtualInterface.
            Kind::Transit => json!({ "virtualInterface": body }),
            Kind::Private | Kind::Public => body,
        })
    }

    pub(super) fn delete_vif(
        &mut self,
        region: &str,
        input: DeleteVifInput,
        now_ms: u64,
    ) -> Result<Value, ApiError> {
        let id = input
            .virtual_interface_id
            .ok_or_else(|| ApiError::client("virtualInterfaceId is required"))?;
        let index = self.vif_index(region, &id)?;
        let vif = Arc::make_mut(&mut self.world.virtual_interfaces[index]);
        if matches!(vif.state(), "deleting" | "deleted") {
            return Err(ApiError::client(format!(
                "Virtual interface {id} is already {}",
                vif.state()
            )));
        }
        vif.virtual_interface_state = Some("deleting".into());
        self.world
            .sim
            .pending_transitions
            .retain(|t| t.virtual_interface_id != id || t.to == super::lifecycle::REMOVED);
        self.schedule(
            &id,
            None,
            "deleted",
            now_ms.saturating_add(millis(self.deletion_delay)),
        );
        Ok(json!({ "virtualInterfaceState": "deleting" }))
    }
}
