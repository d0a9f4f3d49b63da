//! The simulator's world: VIFs, connections and LAGs in the API's own JSON shapes, keeping fields it does not model.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::world_check::Problems;

pub const DEFAULT_REGION: &str = "us-east-1";

/// Why a world file, a `sim` setting or a command-line fault or rate limit was refused.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("cannot read world file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file was read; what is wrong with it is the source.
    #[error("invalid world file {path}")]
    Invalid {
        path: PathBuf,
        #[source]
        source: Box<WorldError>,
    },
    /// The AWS data breaks the Direct Connect API model: every problem, located.
    #[error(transparent)]
    Check(#[from] Problems),
    /// Not the shape of a world (an unknown `sim` setting, say), located.
    #[error("line {line}, column {column}")]
    Json {
        line: usize,
        column: usize,
        #[source]
        source: serde_json::Error,
    },
    /// A duration setting that is not a duration; `setting` is its path under `sim.` (`faults.latency`, or a
    /// region of `consistencyWindowByRegion`).
    #[error("sim.{setting} {value:?}")]
    BadDuration {
        setting: String,
        value: String,
        #[source]
        source: humantime::DurationError,
    },
    /// A fault rate (`throttleRate`…) outside 0..=1.
    #[error("sim.faults.{setting} is {rate}; rates are fractions from 0 to 1")]
    RateOutOfRange { setting: &'static str, rate: f64 },
    /// A `sim.rateLimits` bucket whose `perSecond` or `burst` is not a positive number.
    #[error("sim.rateLimits.{key}: perSecond and burst must be positive numbers")]
    RateLimitNotPositive { key: String },
    /// A `RATE[/BURST]` part that is not a positive number.
    #[error("{text:?} is not a positive number")]
    BadRateLimit { text: String },
    /// A `--fault` that is not `KEY=VALUE`.
    #[error("--fault {spec:?}: expected KEY=VALUE")]
    BadFaultSpec { spec: String },
    /// A `--fault latency=` or `late-write-delay=` that is not a duration.
    #[error("--fault {key}={value}")]
    BadFaultDuration {
        key: String,
        value: String,
        #[source]
        source: humantime::DurationError,
    },
    /// A `--fault` rate that is not a number from 0 to 1.
    #[error("--fault {key}={value}: the rate must be a number from 0 to 1")]
    BadFaultRate { key: String, value: String },
    #[error("unknown fault {key:?}; expected one of {}", Faults::KEYS.join(", "))]
    UnknownFault { key: String },
    #[error("unknown transitioning rule {rule:?}; expected vif-or-peers, vif or off")]
    UnknownTransitioningRule { rule: String },
}

/// A whole world file. `describe-virtual-interfaces` output pastes in as is.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct World {
    /// Each VIF behind an `Arc`, so the versions kept for eventual consistency and the snapshots being saved share
    /// the VIFs that did not change; changing one (`Arc::make_mut`) copies it only while something else holds it.
    #[serde(default, with = "shared_vifs")]
    pub virtual_interfaces: Vec<Arc<Vif>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<Connection>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lags: Vec<Lag>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interconnects: Vec<Interconnect>,
    #[serde(default)]
    pub sim: SimSettings,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `sim` section: behaviour, not AWS data. Unlike the AWS data, an unknown key here is an error (a misspelt
/// setting would otherwise be silently ignored).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SimSettings {
    /// How long a new peer or VIF stays pending (or verifying), e.g. "2s" or "150ms".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provision_delay: Option<String>,
    /// How long each deletion step takes: deleting -> deleted -> removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_delay: Option<String>,
    /// Peers on public VIFs stay `verifying` until approved through `POST /_sim/approve`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub manual_approval: bool,
    /// Public ASNs the account may use on public VIFs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_asn_allow_list: Vec<u64>,
    /// How long a deleted peer or VIF stays listed as `deleted` before it disappears.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_retention: Option<String>,
    /// Eventual consistency: DescribeVirtualInterfaces may show the world as it was up to this long ago.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency_window: Option<String>,
    /// Per-region overrides of `consistencyWindow`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub consistency_window_by_region: BTreeMap<String, String>,
    /// How long after a peer becomes `available` its `bgpStatus` goes `up`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bgp_up_delay: Option<String>,
    /// What makes CreateBGPPeer and DeleteBGPPeer refuse as "transitioning".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transitioning_rule: Option<TransitioningRule>,
    /// Token buckets per operation and region, keyed by operation name or by class (`describe`, `mutating`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rate_limits: BTreeMap<String, RateLimit>,
    /// Seed for generated ids, keys and fault decisions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// When present, SigV4 signatures are verified against these keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<super::sigv4::Credential>,
    /// Access key ids whose session token has expired: their requests get 400 `ExpiredTokenException`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expired_access_keys: Vec<String>,
    /// Operations the caller is not allowed: 400 `AccessDeniedException`, as AWS answers a missing IAM permission.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denied_operations: Vec<String>,
    #[serde(default, skip_serializing_if = "Faults::is_none")]
    pub faults: Faults,
    /// Lifecycle steps still to happen, in the order they were scheduled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_transitions: Vec<Transition>,
}

/// Injected faults. Rates are fractions in 0..=1, drawn per request from the seeded generator. A misspelt key is an
/// error, never a fault silently left out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Faults {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub throttle_rate: f64,
    /// A 500 before the operation runs: nothing changed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub server_error_rate: f64,
    /// The operation runs, then a 500: the change took effect but the caller is told it failed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub server_error_after_rate: f64,
    /// The operation runs, then a 502 with an HTML body and no error code, as a load balancer in front of a
    /// service answers: the change took effect.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bad_gateway_after_rate: f64,
    /// The connection closes before the operation runs: nothing changed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub drop_before_rate: f64,
    /// The operation runs, then the connection closes without a response.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub drop_rate: f64,
    /// A mutating call is held for `lateWriteDelay` and only then runs (after a client's timeout, typically).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub late_write_rate: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_write_delay: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub transitioning_rate: f64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stuck_pending_rate: f64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub end_deleted_rate: f64,
    /// New peers keep `bgpStatus: down` after they become available.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bgp_down_rate: f64,
}

/// Which states, beyond the peer's own, make CreateBGPPeer and DeleteBGPPeer answer "… is in a transitioning state."
/// (A pending or verifying peer's own deletion is refused that way under every rule.) AWS's exact rule is not public.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransitioningRule {
    /// The VIF is pending, verifying or confirming, or another of its peers is pending or deleting.
    #[default]
    VifOrPeers,
    /// Only the VIF's own state counts.
    Vif,
    /// Neither the VIF's state nor other peers' (the random `transitioningRate` fault still applies).
    Off,
}

impl std::str::FromStr for TransitioningRule {
    type Err = WorldError;
    fn from_str(s: &str) -> Result<Self, WorldError> {
        match s {
            "vif-or-peers" => Ok(TransitioningRule::VifOrPeers),
            "vif" => Ok(TransitioningRule::Vif),
            "off" => Ok(TransitioningRule::Off),
            other => Err(WorldError::UnknownTransitioningRule {
                rule: other.to_string(),
            }),
        }
    }
}

/// A token bucket: `perSecond` tokens a second, holding at most `burst`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    pub per_second: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<f64>,
}

impl RateLimit {
    /// The bucket size: `burst`, or one second's worth (at least 1).
    pub fn capacity(&self) -> f64 {
        self.burst.unwrap_or(self.per_second).max(1.0)
    }

    /// Parses `RATE` or `RATE/BURST`, e.g. `2` or `2.5/5`.
    pub fn parse(text: &str) -> Result<RateLimit, WorldError> {
        let (rate, burst) = match text.split_once('/') {
            Some((r, b)) => (r, Some(b)),
            None => (text, None),
        };
        let number = |t: &str| -> Result<f64, WorldError> {
            t.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v > 0.0)
                .ok_or_else(|| WorldError::BadRateLimit {
                    text: t.to_string(),
                })
        };
        Ok(RateLimit {
            per_second: number(rate)?,
            burst: burst.map(number).transpose()?,
        })
    }
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

impl Faults {
    pub fn is_none(&self) -> bool {
        self == &Faults::default()
    }

    pub fn latency(&self) -> Duration {
        duration(&self.latency).unwrap_or_default()
    }

    /// Sets one fault from a command-line `KEY=VALUE`.
    pub fn set(&mut self, spec: &str) -> Result<(), WorldError> {
        let (key, value) = spec
            .split_once('=')
            .ok_or_else(|| WorldError::BadFaultSpec {
                spec: spec.to_string(),
            })?;
        if key == "latency" || key == "late-write-delay" {
            humantime::parse_duration(value).map_err(|source| WorldError::BadFaultDuration {
                key: key.to_string(),
                value: value.to_string(),
                source,
            })?;
            let slot = if key == "latency" {
                &mut self.latency
            } else {
                &mut self.late_write_delay
            };
            *slot = Some(value.to_string());
            return Ok(());
        }
        let rate: f64 = value
            .parse()
            .ok()
            .filter(|r| (0.0..=1.0).contains(r))
            .ok_or_else(|| WorldError::BadFaultRate {
                key: key.to_string(),
                value: value.to_string(),
            })?;
        let slot = match key {
            "throttle" => &mut self.throttle_rate,
            "server-error" | "server-error-before" => &mut self.server_error_rate,
            "server-error-after" => &mut self.server_error_after_rate,
            "bad-gateway-after" => &mut self.bad_gateway_after_rate,
            "drop-before" => &mut self.drop_before_rate,
            "drop" | "drop-after" => &mut self.drop_rate,
            "late-write" => &mut self.late_write_rate,
            "transitioning" => &mut self.transitioning_rate,
            "stuck-pending" => &mut self.stuck_pending_rate,
            "end-deleted" => &mut self.end_deleted_rate,
            "bgp-down" => &mut self.bgp_down_rate,
            other => {
                return Err(WorldError::UnknownFault {
                    key: other.to_string(),
                })
            }
        };
        *slot = rate;
        Ok(())
    }

    /// The `--fault` keys, for help and error messages.
    pub const KEYS: [&'static str; 13] = [
        "throttle",
        "server-error",
        "server-error-after",
        "bad-gateway-after",
        "drop-before",
        "drop",
        "late-write",
        "late-write-delay",
        "latency",
        "transitioning",
        "stuck-pending",
        "end-deleted",
        "bgp-down",
    ];

    /// How long a late write is held: `lateWriteDelay`, default 5s.
    pub fn late_write_delay(&self) -> Duration {
        duration(&self.late_write_delay).unwrap_or(Duration::from_secs(5))
    }

    /// Checks rates and durations, as a world file's `sim.faults` is checked on load.
    pub fn checked(&self) -> Result<(), WorldError> {
        for (name, rate) in [
            ("throttleRate", self.throttle_rate),
            ("serverErrorRate", self.server_error_rate),
            ("serverErrorAfterRate", self.server_error_after_rate),
            ("badGatewayAfterRate", self.bad_gateway_after_rate),
            ("dropBeforeRate", self.drop_before_rate),
            ("dropRate", self.drop_rate),
            ("lateWriteRate", self.late_write_rate),
            ("transitioningRate", self.transitioning_rate),
            ("stuckPendingRate", self.stuck_pending_rate),
            ("endDeletedRate", self.end_deleted_rate),
            ("bgpDownRate", self.bgp_down_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(WorldError::RateOutOfRange {
                    setting: name,
                    rate,
                });
            }
        }
        for (name, d) in [
            ("latency", &self.latency),
            ("lateWriteDelay", &self.late_write_delay),
        ] {
            if let Some(d) = d {
                check_duration(&format!("faults.{name}"), d)?;
            }
        }
        Ok(())
    }
}

impl SimSettings {
    fn check(&self) -> Result<(), WorldError> {
        let durations = [
            ("provisionDelay", &self.provision_delay),
            ("deletionDelay", &self.deletion_delay),
            ("deletedRetention", &self.deleted_retention),
            ("consistencyWindow", &self.consistency_window),
            ("bgpUpDelay", &self.bgp_up_delay),
        ];
        let by_region = self
            .consistency_window_by_region
            .iter()
            .map(|(r, d)| (r.as_str(), d));
        for (name, d) in durations
            .into_iter()
            .filter_map(|(n, d)| d.as_ref().map(|d| (n, d)))
            .chain(by_region)
        {
            check_duration(name, d)?;
        }
        for (key, limit) in &self.rate_limits {
            if !(limit.per_second.is_finite() && limit.per_second > 0.0)
                || limit.burst.is_some_and(|b| !(b.is_finite() && b > 0.0))
            {
                return Err(WorldError::RateLimitNotPositive { key: key.clone() });
            }
        }
        self.faults.checked()
    }

    pub fn provision_delay(&self) -> Option<Duration> {
        duration(&self.provision_delay)
    }

    pub fn deletion_delay(&self) -> Option<Duration> {
        duration(&self.deletion_delay)
    }

    pub fn deleted_retention(&self) -> Option<Duration> {
        duration(&self.deleted_retention)
    }

    pub fn bgp_up_delay(&self) -> Option<Duration> {
        duration(&self.bgp_up_delay)
    }

    /// The consistency window of a region: its override, else `consistencyWindow`, else zero.
    pub fn consistency_window(&self, region: &str) -> Duration {
        self.consistency_window_by_region
            .get(region)
            .map(|d| duration(&Some(d.clone())))
            .unwrap_or_else(|| duration(&self.consistency_window))
            .unwrap_or_default()
    }

    /// The largest consistency window of any region.
    pub fn max_consistency_window(&self) -> Duration {
        self.consistency_window_by_region
            .values()
            .filter_map(|d| duration(&Some(d.clone())))
            .chain(duration(&self.consistency_window))
            .max()
            .unwrap_or_default()
    }

    /// The token bucket for an operation: by name, else by class (`describe` or `mutating`).
    pub fn rate_limit(&self, operation: &str) -> Option<RateLimit> {
        let class = if operation.starts_with("Describe") {
            "describe"
        } else {
            "mutating"
        };
        self.rate_limits
            .get(operation)
            .or_else(|| self.rate_limits.get(class))
            .copied()
    }
}

/// A scheduled lifecycle step of a VIF (no `bgpPeerId`) or of one of its peers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transition {
    pub virtual_interface_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bgp_peer_id: Option<String>,
    /// `available`, `deleted`, or `removed` (a deleted peer leaving the list).
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
    /// Rewrites `customerRouterConfig` from the VIF's first live IPv4 and IPv6 peers, in the API's XML form.
    pub fn refresh_router_config(&mut self) {
        fn esc(s: &str) -> String {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        }
        let mut xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<logical_connection id=\"{}\">\n",
            esc(&self.virtual_interface_id)
        );
        if let Some(vlan) = self.extra.get("vlan") {
            xml.push_str(&format!(" <vlan>{vlan}</vlan>\n"));
        }
        for (family, prefix) in [("ipv4", ""), ("ipv6", "ipv6_")] {
            let Some(p) = self
                .bgp_peers
                .iter()
                .find(|p| p.is_live() && p.address_family.as_deref() == Some(family))
            else {
                continue;
            };
            let field = |name: &str, value: Option<String>| {
                value
                    .map(|v| format!(" <{prefix}{name}>{}</{prefix}{name}>\n", esc(&v)))
                    .unwrap_or_default()
            };
            xml.push_str(&field("customer_address", p.customer_address.clone()));
            xml.push_str(&field("amazon_address", p.amazon_address.clone()));
            xml.push_str(&field("bgp_asn", p.asn_value().map(|a| a.to_string())));
            xml.push_str(&field("bgp_auth_key", p.auth_key.clone()));
        }
        let amazon_asn = self
            .extra
            .get("amazonSideAsn")
            .and_then(Value::as_i64)
            .unwrap_or(7224);
        xml.push_str(&format!(" <amazon_bgp_asn>{amazon_asn}</amazon_bgp_asn>\n"));
        let kind = self.virtual_interface_type.as_deref().unwrap_or("private");
        xml.push_str(&format!(
            " <connection_type>{}</connection_type>\n</logical_connection>\n",
            esc(kind)
        ));
        self.extra
            .insert("customerRouterConfig".into(), Value::String(xml));
    }

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

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Interconnect {
    pub interconnect_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_logical_redundancy: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// (De)serialises `World::virtual_interfaces` as a plain array of VIFs.
mod shared_vifs {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::Vif;

    pub fn serialize<S: Serializer>(vifs: &[Arc<Vif>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(vifs.iter().map(|v| v.as_ref()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Arc<Vif>>, D::Error> {
        Ok(Vec::<Vif>::deserialize(d)?
            .into_iter()
            .map(Arc::new)
            .collect())
    }
}

/// Checks the duration setting `sim.{setting}`.
fn check_duration(setting: &str, value: &str) -> Result<(), WorldError> {
    humantime::parse_duration(value)
        .map(drop)
        .map_err(|source| WorldError::BadDuration {
            setting: setting.to_string(),
            value: value.to_string(),
            source,
        })
}

/// A duration setting such as "2s"; `parse` already rejected malformed ones.
fn duration(text: &Option<String>) -> Option<Duration> {
    text.as_deref()
        .and_then(|d| humantime::parse_duration(d).ok())
}

/// Anything a VIF can sit on: a connection, LAG or interconnect.
pub struct Parent<'a> {
    pub region: &'a str,
    pub logical_redundancy: Option<&'a str>,
    pub owner_account: Option<&'a str>,
    pub location: Option<&'a Value>,
    pub aws_device: Option<&'a Value>,
}

impl World {
    pub fn load(path: &Path) -> Result<World, WorldError> {
        let text = std::fs::read_to_string(path).map_err(|source| WorldError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        World::parse(&text).map_err(|e| WorldError::Invalid {
            path: path.to_path_buf(),
            source: Box::new(e),
        })
    }

    /// Parses a world; errors carry line and column.
    pub fn parse(text: &str) -> Result<World, WorldError> {
        super::world_check::check(text)?;
        let mut world: World = serde_json::from_str(text).map_err(|source| WorldError::Json {
            line: source.line(),
            column: source.column(),
            source,
        })?;
        world.sim.check()?;
        world.timestamps_to_epoch_seconds();
        Ok(world)
    }

    /// Pasted AWS CLI v2 output carries ISO 8601 timestamps; the JSON protocol sends epoch seconds, so the world
    /// keeps those (the Rust SDK reads a string where it expects an epoch-seconds timestamp as an error).
    fn timestamps_to_epoch_seconds(&mut self) {
        use super::world_check::timestamps_to_epoch_seconds as fix;
        for v in &mut self.virtual_interfaces {
            fix("virtualInterfaces", &mut Arc::make_mut(v).extra);
        }
        for c in &mut self.connections {
            fix("connections", &mut c.extra);
        }
        for l in &mut self.lags {
            fix("lags", &mut l.extra);
        }
        for i in &mut self.interconnects {
            fix("interconnects", &mut i.extra);
        }
    }

    /// The connection, LAG or interconnect with this id, in any region.
    pub fn parent(&self, id: &str) -> Option<Parent<'_>> {
        fn parent<'a>(
            region: &'a Option<String>,
            lr: &'a Option<String>,
            extra: &'a Map<String, Value>,
        ) -> Parent<'a> {
            Parent {
                region: region.as_deref().unwrap_or(DEFAULT_REGION),
                logical_redundancy: lr.as_deref(),
                owner_account: extra.get("ownerAccount").and_then(Value::as_str),
                location: extra.get("location"),
                aws_device: extra.get("awsDeviceV2"),
            }
        }
        let found = self
            .connections
            .iter()
            .find(|c| c.connection_id == id)
            .map(|c| (&c.region, &c.has_logical_redundancy, &c.extra));
        let found = found.or_else(|| {
            self.lags
                .iter()
                .find(|l| l.lag_id == id)
                .map(|l| (&l.region, &l.has_logical_redundancy, &l.extra))
        });
        let found = found.or_else(|| {
            self.interconnects
                .iter()
                .find(|i| i.interconnect_id == id)
                .map(|i| (&i.region, &i.has_logical_redundancy, &i.extra))
        });
        found.map(|(region, lr, extra)| parent(region, lr, extra))
    }

    pub fn to_json(&self) -> String {
        // Cannot fail: the world holds strings, numbers, booleans and string-keyed maps only.
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// `hasLogicalRedundancy` of a connection, LAG or interconnect id.
    pub fn logical_redundancy(&self, id: &str) -> Option<&str> {
        self.parent(id).and_then(|p| p.logical_redundancy)
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
    fn a_misspelt_sim_setting_or_fault_is_an_error() {
        for text in [
            r#"{"sim": {"consistencyWindows": "2s"}}"#,
            r#"{"sim": {"faults": {"throtleRate": 1}}}"#,
        ] {
            let err = World::parse(text).unwrap_err();
            let WorldError::Json {
                line: 1, source, ..
            } = &err
            else {
                panic!("{err:?}");
            };
            assert!(source.to_string().contains("unknown field"), "{err:?}");
        }
        World::parse(r#"{"sim": {"consistencyWindow": "2s", "faults": {"throttleRate": 1}}}"#)
            .unwrap();
    }

    #[test]
    fn a_bad_sim_setting_is_refused_by_kind() {
        let err = World::parse(r#"{"sim": {"consistencyWindowByRegion": {"eu-west-1": "soon"}}}"#)
            .unwrap_err();
        assert!(
            matches!(&err, WorldError::BadDuration { setting, value, .. } if setting == "eu-west-1" && value == "soon"),
            "{err:?}"
        );
        let err = World::parse(r#"{"sim": {"faults": {"latency": "2 parsecs"}}}"#).unwrap_err();
        assert!(
            matches!(&err, WorldError::BadDuration { setting, .. } if setting == "faults.latency"),
            "{err:?}"
        );
        let err = World::parse(r#"{"sim": {"faults": {"dropRate": 1.5}}}"#).unwrap_err();
        assert!(
            matches!(
                err,
                WorldError::RateOutOfRange {
                    setting: "dropRate",
                    ..
                }
            ),
            "{err:?}"
        );
        let err =
            World::parse(r#"{"sim": {"rateLimits": {"describe": {"perSecond": 0}}}}"#).unwrap_err();
        assert!(
            matches!(&err, WorldError::RateLimitNotPositive { key } if key == "describe"),
            "{err:?}"
        );
    }

    #[test]
    fn a_world_file_is_refused_as_unreadable_or_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.json");
        let err = World::load(&missing).unwrap_err();
        assert!(
            matches!(&err, WorldError::Read { path, source } if *path == missing && source.kind() == std::io::ErrorKind::NotFound),
            "{err:?}"
        );
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, r#"{"virtualInterfaces": 5}"#).unwrap();
        let err = World::load(&bad).unwrap_err();
        let WorldError::Invalid { path, source } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(*path, bad);
        assert!(matches!(**source, WorldError::Check(_)), "{err:?}");
        // As the binary prints it: the file, then the located problem.
        assert_eq!(
            format!("{:#}", anyhow::Error::from(err)),
            format!(
                "invalid world file {}: {source}",
                bad.display(),
                source = World::parse(r#"{"virtualInterfaces": 5}"#).unwrap_err()
            )
        );
    }

    #[test]
    fn fault_specs_are_refused_by_kind() {
        let mut faults = Faults::default();
        let err = faults.set("nonsense").unwrap_err();
        assert!(
            matches!(&err, WorldError::BadFaultSpec { spec } if spec == "nonsense"),
            "{err:?}"
        );
        assert_eq!(err.to_string(), r#"--fault "nonsense": expected KEY=VALUE"#);
        let err = faults.set("nonsense=0.5").unwrap_err();
        assert!(
            matches!(&err, WorldError::UnknownFault { key } if key == "nonsense"),
            "{err:?}"
        );
        assert!(err
            .to_string()
            .starts_with(r#"unknown fault "nonsense"; expected one of throttle, server-error,"#));
        for spec in ["throttle=2", "throttle=-0.1", "throttle=often"] {
            let err = faults.set(spec).unwrap_err();
            assert!(
                matches!(&err, WorldError::BadFaultRate { key, .. } if key == "throttle"),
                "{spec}: {err:?}"
            );
        }
        let err = faults.set("latency=slow").unwrap_err();
        assert!(
            matches!(&err, WorldError::BadFaultDuration { key, value, .. } if key == "latency" && value == "slow"),
            "{err:?}"
        );
        assert_eq!(faults, Faults::default(), "a refused fault changes nothing");
        faults.set("throttle=0.25").unwrap();
        faults.set("latency=20ms").unwrap();
        assert_eq!(
            (faults.throttle_rate, faults.latency()),
            (0.25, Duration::from_millis(20))
        );
    }

    #[test]
    fn rate_limits_and_rules_are_refused_by_kind() {
        assert_eq!(
            RateLimit::parse("2.5/5").unwrap(),
            RateLimit {
                per_second: 2.5,
                burst: Some(5.0)
            }
        );
        for (text, bad) in [("0", "0"), ("2/-1", "-1"), ("fast", "fast")] {
            let err = RateLimit::parse(text).unwrap_err();
            assert!(
                matches!(&err, WorldError::BadRateLimit { text } if text == bad),
                "{text}: {err:?}"
            );
        }
        let err = "sometimes".parse::<TransitioningRule>().unwrap_err();
        assert!(
            matches!(&err, WorldError::UnknownTransitioningRule { rule } if rule == "sometimes"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            r#"unknown transitioning rule "sometimes"; expected vif-or-peers, vif or off"#
        );
    }

    #[test]
    fn malformed_world_names_line_and_column() {
        let err =
            World::parse("{\n  \"virtualInterfaces\": [\n    {\"virtualInterfaceId\": 5}\n  ]\n}")
                .unwrap_err();
        assert!(format!("{err:#}").contains("line 3"), "{err:#}");
    }
}
