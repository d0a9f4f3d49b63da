//! The simulator's world: VIFs, connections and LAGs in the API's own JSON shapes, keeping fields it does not model.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const DEFAULT_REGION: &str = "us-east-1";

/// A whole world file. `describe-virtual-interfaces` output pastes in as is.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct World {
    #[serde(default)]
    pub virtual_interfaces: Vec<Vif>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<Connection>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lags: Vec<Lag>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interconnects: Vec<Value>,
    #[serde(default)]
    pub sim: SimSettings,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `sim` section: behaviour, not AWS data.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimSettings {
    /// How long a new peer stays pending, e.g. "2s" or "150ms".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provision_delay: Option<String>,
    /// Public ASNs the account may use on public VIFs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_asn_allow_list: Vec<u64>,
    /// Seed for generated ids and keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Lifecycle steps still to happen: bgpPeerId -> when (epoch ms) and to which state.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending_transitions: BTreeMap<String, Transition>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transition {
    pub virtual_interface_id: String,
    pub to: String,
    pub at_epoch_ms: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vif {
    pub virtual_interface_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_interface_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_interface_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_device_v2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_logical_device_id: Option<String>,
    #[serde(default)]
    pub bgp_peers: Vec<Peer>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Vif {
    pub fn region(&self) -> &str {
        self.region.as_deref().unwrap_or(DEFAULT_REGION)
    }
    pub fn state(&self) -> &str {
        self.virtual_interface_state
            .as_deref()
            .unwrap_or("available")
    }
    pub fn is_public(&self) -> bool {
        self.virtual_interface_type.as_deref() == Some("public")
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Peer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bgp_peer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn_long: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_family: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amazon_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bgp_peer_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bgp_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_device_v2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_logical_device_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Peer {
    /// The peer's ASN whichever field carries it.
    pub fn asn_value(&self) -> Option<i64> {
        match self.asn_long {
            Some(v) if v > 0 => Some(v),
            _ => self.asn.filter(|v| *v > 0),
        }
    }
    pub fn state(&self) -> &str {
        self.bgp_peer_state.as_deref().unwrap_or("available")
    }
    pub fn is_live(&self) -> bool {
        !matches!(self.state(), "deleting" | "deleted")
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub connection_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_logical_redundancy: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lag {
    pub lag_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_logical_redundancy: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl World {
    pub fn load(path: &Path) -> anyhow::Result<World> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read world file {}", path.display()))?;
        World::parse(&text).with_context(|| format!("invalid world file {}", path.display()))
    }

    /// Parses a world; errors carry line and column.
    pub fn parse(text: &str) -> anyhow::Result<World> {
        let world: World = serde_json::from_str(text)
            .map_err(|e| anyhow::anyhow!("line {}, column {}: {e}", e.line(), e.column()))?;
        if let Some(d) = &world.sim.provision_delay {
            humantime::parse_duration(d)
                .map_err(|e| anyhow::anyhow!("sim.provisionDelay {d:?}: {e}"))?;
        }
        Ok(world)
    }

    pub fn provision_delay(&self) -> Option<Duration> {
        self.sim
            .provision_delay
            .as_deref()
            .and_then(|d| humantime::parse_duration(d).ok())
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("world serializes");
        s.push('\n');
        s
    }

    /// `hasLogicalRedundancy` of a connection or LAG id.
    pub fn logical_redundancy(&self, id: &str) -> Option<&str> {
        self.connections
            .iter()
            .find(|c| c.connection_id == id)
            .and_then(|c| c.has_logical_redundancy.as_deref())
            .or_else(|| {
                self.lags
                    .iter()
                    .find(|l| l.lag_id == id)
                    .and_then(|l| l.has_logical_redundancy.as_deref())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_unknown_fields() {
        let w = World::parse(r#"{"virtualInterfaces":[{"virtualInterfaceId":"dxvif-a","vlan":125,"tags":[{"key":"k","value":"v"}],
            "bgpPeers":[{"asn":65000,"addressFamily":"ipv4","futureField":true}]}],"somethingElse":1}"#).unwrap();
        let out: Value = serde_json::from_str(&w.to_json()).unwrap();
        assert_eq!(out["virtualInterfaces"][0]["vlan"], 125);
        assert_eq!(out["virtualInterfaces"][0]["tags"][0]["key"], "k");
        assert_eq!(
            out["virtualInterfaces"][0]["bgpPeers"][0]["futureField"],
            true
        );
        assert_eq!(out["somethingElse"], 1);
    }

    #[test]
    fn malformed_world_names_line_and_column() {
        let err =
            World::parse("{\n  \"virtualInterfaces\": [\n    {\"virtualInterfaceId\": 5}\n  ]\n}")
                .unwrap_err();
        assert!(format!("{err:#}").contains("line 3"), "{err:#}");
    }
}
