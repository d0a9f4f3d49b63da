//! Domain types shared by config, planner, executor and state, so that no layer handles raw SDK shapes or bare strings.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A Direct Connect virtual interface id such as `dxvif-fg1vuj3d`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VifId(pub String);

impl fmt::Display for VifId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A BGP address family, as the API spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddressFamily {
    Ipv4,
    Ipv6,
}

impl AddressFamily {
    pub fn as_str(self) -> &'static str {
        match self {
            AddressFamily::Ipv4 => "ipv4",
            AddressFamily::Ipv6 => "ipv6",
        }
    }
}

impl fmt::Display for AddressFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AddressFamily {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ipv4" => Ok(AddressFamily::Ipv4),
            "ipv6" => Ok(AddressFamily::Ipv6),
            other => Err(format!(
                "address_family must be \"ipv4\" or \"ipv6\", not {other:?}"
            )),
        }
    }
}

/// A BGP autonomous system number as Direct Connect accepts it: 1..=4294967294.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct Asn(u32);

impl TryFrom<u64> for Asn {
    type Error = String;
    fn try_from(value: u64) -> Result<Asn, String> {
        Asn::new(value)
    }
}

impl From<Asn> for u64 {
    fn from(asn: Asn) -> u64 {
        u64::from(asn.0)
    }
}

impl Asn {
    pub const MAX: u64 = 4_294_967_294;
    /// The largest value the API's 32-bit signed `asn` field takes.
    pub const MAX_SHORT_FIELD: u64 = 2_147_483_646;

    pub fn new(value: u64) -> Result<Asn, String> {
        if (1..=Self::MAX).contains(&value) {
            Ok(Asn(value as u32))
        } else {
            Err(format!("ASN {value} is outside 1..=4294967294"))
        }
    }

    /// Parses asplain (`4200000000`) or asdot (`64086.59904`).
    pub fn parse(text: &str) -> Result<Asn, String> {
        let text = text.trim();
        if let Some((high, low)) = text.split_once('.') {
            let part = |p: &str| -> Result<u64, String> {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!(
                        "malformed asdot ASN {text:?}: expected HIGH.LOW, both 0..=65535"
                    ));
                }
                let v: u64 = p
                    .parse()
                    .map_err(|_| format!("malformed asdot ASN {text:?}"))?;
                if v > 65535 {
                    return Err(format!(
                        "malformed asdot ASN {text:?}: each part must be 0..=65535"
                    ));
                }
                Ok(v)
            };
            return Asn::new(part(high)? * 65536 + part(low)?);
        }
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "malformed ASN {text:?}: expected asplain digits or asdot HIGH.LOW"
            ));
        }
        let v: u64 = text
            .parse()
            .map_err(|_| format!("ASN {text:?} is outside 1..=4294967294"))?;
        Asn::new(v)
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// Whether this ASN needs the API's `asnLong` field (it does not fit a 2-byte ASN).
    pub fn is_four_byte(self) -> bool {
        self.0 > 65535
    }

    /// Private ranges: 64512..=65534 and 4200000000..=4294967294.
    pub fn is_private(self) -> bool {
        (64512..=65534).contains(&self.0) || (4_200_000_000..=4_294_967_294).contains(&self.0)
    }
}

impl fmt::Display for Asn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A secret value (a BGP auth key). Debug and Display never show it; only `expose` does.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value, and registers it with the redaction point so no output ever shows it.
    pub fn new(value: impl Into<String>) -> Secret {
        let value = value.into();
        crate::redact::register(&value);
        Secret(value)
    }
    /// The clear value, for sending to AWS or comparing in memory. Never print it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive)")
    }
}

/// Defines an enum of the strings Direct Connect reports for one field, parsed once at the `aws/` boundary: each
/// known value a variant, anything else kept verbatim in `Other` (AWS may add values; they are shown, never matched).
macro_rules! aws_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
            /// A value this dxctl does not know.
            Other(String),
        }

        impl $name {
            pub fn parse(text: &str) -> $name {
                match text {
                    $($text => $name::$variant,)+
                    other => $name::Other(other.to_string()),
                }
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(text) => text,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> $name {
                $name::parse(text)
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

aws_enum! {
    /// A virtual interface's `virtualInterfaceState`.
    VifState {
        Confirming = "confirming",
        Verifying = "verifying",
        Pending = "pending",
        Available = "available",
        Down = "down",
        Testing = "testing",
        Deleting = "deleting",
        Deleted = "deleted",
        Rejected = "rejected",
        Unknown = "unknown",
    }
}

impl VifState {
    /// A VIF in this state takes no BGP peer changes.
    pub fn is_unusable(&self) -> bool {
        matches!(
            self,
            VifState::Deleting | VifState::Deleted | VifState::Rejected
        )
    }
}

aws_enum! {
    /// A virtual interface's `virtualInterfaceType`.
    VifType {
        Private = "private",
        Public = "public",
        Transit = "transit",
    }
}

aws_enum! {
    /// A connection's or LAG's `hasLogicalRedundancy`: whether a VIF on it may have two peers in one family.
    Redundancy {
        Yes = "yes",
        No = "no",
        Unknown = "unknown",
    }
}

aws_enum! {
    /// A BGP peer's `bgpStatus`: whether its session is established.
    BgpStatus {
        Up = "up",
        Down = "down",
        Unknown = "unknown",
    }
}

/// The state of a BGP peer as Direct Connect reports it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PeerState {
    Verifying,
    Pending,
    Available,
    Deleting,
    Deleted,
    Other(String),
}

impl PeerState {
    pub fn parse(text: &str) -> PeerState {
        match text {
            "verifying" => PeerState::Verifying,
            "pending" => PeerState::Pending,
            "available" => PeerState::Available,
            "deleting" => PeerState::Deleting,
            "deleted" => PeerState::Deleted,
            other => PeerState::Other(other.to_string()),
        }
    }
    pub fn as_str(&self) -> &str {
        match self {
            PeerState::Verifying => "verifying",
            PeerState::Pending => "pending",
            PeerState::Available => "available",
            PeerState::Deleting => "deleting",
            PeerState::Deleted => "deleted",
            PeerState::Other(s) => s,
        }
    }
    /// A peer in this state is gone or going, so it never matches a desired peer.
    pub fn is_gone(&self) -> bool {
        matches!(self, PeerState::Deleting | PeerState::Deleted)
    }
}

impl fmt::Display for PeerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A peer's address in plans and state: `virtual_interface.<vif>.bgp_peer.<label>`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PeerAddress(pub String);

impl PeerAddress {
    pub fn new(vif: &VifId, label: &str) -> PeerAddress {
        PeerAddress(format!("virtual_interface.{vif}.bgp_peer.{label}"))
    }
}

impl fmt::Display for PeerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a declaration sits in the config, for located errors.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    /// `file:line:column`; just the file for a place without lines (`(state)`: the state file's entry).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return f.write_str(&self.file);
        }
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Where a VIF lives: a region, and the AWS profile (account) its provider names.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope {
    pub region: String,
    pub profile: Option<String>,
}

impl Scope {
    pub fn region(region: impl Into<String>) -> Scope {
        Scope {
            region: region.into(),
            profile: None,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.profile {
            Some(p) => write!(f, "{} (profile {p})", self.region),
            None => f.write_str(&self.region),
        }
    }
}

/// A BGP peer the config asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerSpec {
    pub label: String,
    pub family: AddressFamily,
    pub asn: Asn,
    pub auth_key: Option<Secret>,
    pub amazon_address: Option<String>,
    pub customer_address: Option<String>,
    pub location: Location,
    /// Fields whose values are secret (from `env()`, `file()` or a sensitive variable); always `auth_key`.
    pub sensitive: std::collections::BTreeSet<&'static str>,
}

/// A virtual interface the config declares, with the peers wanted on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VifSpec {
    pub id: VifId,
    /// The region and profile this VIF's provider resolves to.
    pub scope: Scope,
    pub peers: Vec<PeerSpec>,
    pub location: Location,
}

/// Everything the config asks for, sorted by VIF id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Desired {
    pub vifs: Vec<VifSpec>,
    /// `moved { from, to }` blocks: renames of managed peers, in config order.
    pub moved: Vec<MovedBlock>,
}

/// A `moved { from = ..., to = ... }` block: the managed peer at `from` is the one `to` declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MovedBlock {
    pub from: PeerAddress,
    pub to: PeerAddress,
    pub location: Location,
}

/// A BGP peer as described by AWS, converted away from SDK types (which print auth keys in Debug).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedPeer {
    pub bgp_peer_id: Option<String>,
    pub family: AddressFamily,
    pub asn: Asn,
    pub auth_key: Option<Secret>,
    pub amazon_address: Option<String>,
    pub customer_address: Option<String>,
    pub state: PeerState,
    pub bgp_status: BgpStatus,
}

impl ObservedPeer {
    /// The peer's id, or `?` for an answer that carried none.
    pub fn id(&self) -> &str {
        self.bgp_peer_id.as_deref().unwrap_or("?")
    }
}

/// A virtual interface as described by AWS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedVif {
    pub id: VifId,
    pub scope: Scope,
    pub state: VifState,
    pub vif_type: VifType,
    pub connection_id: Option<String>,
    pub peers: Vec<ObservedPeer>,
}

/// What AWS looks like for the regions the config touches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    pub vifs: Vec<ObservedVif>,
    /// `hasLogicalRedundancy` by connection or LAG id, for the regions where it was needed.
    pub logical_redundancy: BTreeMap<String, Redundancy>,
    /// When each scope's DescribeVirtualInterfaces started, in milliseconds since the Unix epoch: what settles a
    /// write-ahead intent is a describe that started late enough.
    pub described_at_ms: BTreeMap<Scope, u64>,
}

impl Observed {
    /// Every VIF by id (the first listed under an id), built once for lookups in loops.
    pub fn by_id(&self) -> std::collections::HashMap<&VifId, &ObservedVif> {
        let mut index = std::collections::HashMap::with_capacity(self.vifs.len());
        for v in &self.vifs {
            index.entry(&v.id).or_insert(v);
        }
        index
    }

    /// Whether the VIF's connection or LAG allows two peers in one family; `None` when not described yet. Only
    /// `yes` allows it: `unknown` is treated as `no`, the safe reading.
    pub fn redundancy(&self, vif: &ObservedVif) -> Option<bool> {
        let conn = vif.connection_id.as_ref()?;
        Some(*self.logical_redundancy.get(conn)? == Redundancy::Yes)
    }

    pub fn redundancy_text(&self, vif: &ObservedVif) -> &str {
        vif.connection_id
            .as_ref()
            .and_then(|c| self.logical_redundancy.get(c))
            .map_or("unknown", |s| s.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn asdot_and_asplain_agree() {
        assert_eq!(Asn::parse("64086.59904").unwrap().get(), 4_200_000_000);
        assert_eq!(Asn::parse("4200000000").unwrap().get(), 4_200_000_000);
        assert_eq!(Asn::parse("64600").unwrap().get(), 64600);
    }

    #[test]
    fn asn_bounds_and_malformed() {
        assert!(Asn::parse("0").is_err());
        assert!(Asn::parse("4294967295").is_err());
        assert!(Asn::parse("4294967294").is_ok());
        assert!(Asn::parse("1.").is_err());
        assert!(Asn::parse(".1").is_err());
        assert!(Asn::parse("65536.1").is_err());
        assert!(Asn::parse("-5").is_err());
        assert!(Asn::parse("99999999999999999999999").is_err());
    }

    #[test]
    fn private_ranges() {
        assert!(Asn::new(64512).unwrap().is_private());
        assert!(Asn::new(65534).unwrap().is_private());
        assert!(!Asn::new(65535).unwrap().is_private());
        assert!(!Asn::new(7224).unwrap().is_private());
        assert!(Asn::new(4_200_000_000).unwrap().is_private());
    }

    #[test]
    fn asn_is_range_checked_when_read_from_json() {
        for bad in ["0", "4294967295", "-1", "1.5", "\"64600\""] {
            assert!(serde_json::from_str::<Asn>(bad).is_err(), "{bad}");
        }
        let asn: Asn = serde_json::from_str("4294967294").unwrap();
        assert_eq!(asn.get(), 4_294_967_294);
        assert_eq!(serde_json::to_string(&asn).unwrap(), "4294967294");
    }

    #[test]
    fn aws_enums_parse_known_values_and_keep_unknown_ones() {
        for text in [
            "available",
            "down",
            "deleted",
            "rejected",
            "unknown",
            "brand-new",
        ] {
            assert_eq!(VifState::parse(text).as_str(), text);
        }
        assert_eq!(VifState::parse("deleting"), VifState::Deleting);
        assert!(VifState::Rejected.is_unusable() && !VifState::Down.is_unusable());
        assert_eq!(VifType::parse("public"), VifType::Public);
        assert_eq!(
            Redundancy::parse("maybe"),
            Redundancy::Other("maybe".into())
        );
        assert_eq!(BgpStatus::parse("up"), BgpStatus::Up);
        assert_eq!(serde_json::to_string(&Redundancy::Yes).unwrap(), "\"yes\"");
    }

    #[test]
    fn secret_never_formats() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s} {s:?}"), "(sensitive) (sensitive)");
    }

    proptest! {
        #[test]
        fn asdot_roundtrips(high in 0u64..=65535, low in 0u64..=65535) {
            let value = high * 65536 + low;
            let parsed = Asn::parse(&format!("{high}.{low}"));
            if value == 0 || value > Asn::MAX {
                prop_assert!(parsed.is_err());
            } else {
                prop_assert_eq!(parsed.unwrap().get() as u64, value);
            }
        }

        #[test]
        fn parse_never_panics(s in ".*") {
            let _ = Asn::parse(&s);
        }
    }
}
