//! Checks a world file's AWS data against the Direct Connect API model, because the simulator serves it verbatim.
//!
//! The shapes below are the output shapes of the botocore model `directconnect/2012-10-25` (member names, JSON
//! types and enums); the ranges are the ones the API documents. Unknown members are allowed, as worlds keep them.

use std::collections::HashMap;
use std::fmt;

use jsonc_parser::ast::{Object, Value};
use jsonc_parser::common::Ranged as _;
use jsonc_parser::{CollectOptions, ParseOptions};

/// What a member must hold. `null` is accepted for every member that is not required.
#[derive(Clone, Copy)]
enum Ty {
    Str,
    Enum(&'static [&'static str]),
    /// The model's `integer` (32-bit).
    Int(Limit),
    /// The model's `long` (64-bit).
    Long(Limit),
    Bool,
    /// Epoch seconds, as the JSON protocol sends timestamps, or an ISO 8601 date-time with an offset, as AWS CLI v2
    /// prints them (`2023-11-14T22:13:20+00:00`); served as epoch seconds either way.
    Timestamp,
    List(&'static Shape),
    Struct(&'static Shape),
}

/// A documented limit on a number.
#[derive(Clone, Copy)]
enum Limit {
    None,
    Range(i64, i64),
    OneOf(&'static [i64]),
    /// 1..=2147483646, or 0 beside an `asnLong` that carries a 4-byte ASN.
    Asn,
}

struct Shape {
    required: &'static [&'static str],
    members: &'static [(&'static str, Ty)],
}

const S: Ty = Ty::Str;
const B: Ty = Ty::Bool;
const INT: Ty = Ty::Int(Limit::None);
const LONG: Ty = Ty::Long(Limit::None);
const VLAN: Ty = Ty::Int(Limit::Range(1, 4094));
const ASN: Ty = Ty::Int(Limit::Asn);
const ASN_LONG: Ty = Ty::Long(Limit::Range(1, 4_294_967_294));
const MTU: Ty = Ty::Int(Limit::OneOf(&[1500, 8500, 9001]));
const TAGS: Ty = Ty::List(&TAG);
const MAC_SEC_KEYS: Ty = Ty::List(&MAC_SEC_KEY);
const RATE_LIMITER_STATUS: Ty = Ty::Struct(&RATE_LIMITER_STATUS_SHAPE);

// The model's enums, by shape name.
const ADDRESS_FAMILY: Ty = Ty::Enum(&["ipv4", "ipv6"]);
const HAS_LOGICAL_REDUNDANCY: Ty = Ty::Enum(&["unknown", "yes", "no"]);
#[rustfmt::skip]
const VIRTUAL_INTERFACE_STATE: Ty = Ty::Enum(&[
    "confirming", "verifying", "pending", "available", "down", "testing", "deleting", "deleted", "rejected", "unknown",
]);
const BGP_PEER_STATE: Ty = Ty::Enum(&["verifying", "pending", "available", "deleting", "deleted"]);
const BGP_STATUS: Ty = Ty::Enum(&["up", "down", "unknown"]);
#[rustfmt::skip]
const CONNECTION_STATE: Ty = Ty::Enum(&[
    "ordering", "requested", "pending", "available", "down", "deleting", "deleted", "rejected", "unknown",
]);
#[rustfmt::skip]
const LAG_OR_INTERCONNECT_STATE: Ty = Ty::Enum(&[
    "requested", "pending", "available", "down", "deleting", "deleted", "unknown",
]);

// The structures, members in the model's order.
#[rustfmt::skip]
static VIRTUAL_INTERFACE: Shape = Shape { required: &[], members: &[
    ("ownerAccount", S), ("virtualInterfaceId", S), ("location", S), ("connectionId", S),
    ("virtualInterfaceType", S), ("virtualInterfaceName", S), ("vlan", VLAN), ("asn", ASN), ("asnLong", ASN_LONG),
    ("amazonSideAsn", LONG), ("authKey", S), ("amazonAddress", S), ("customerAddress", S),
    ("addressFamily", ADDRESS_FAMILY), ("virtualInterfaceState", VIRTUAL_INTERFACE_STATE),
    ("customerRouterConfig", S), ("mtu", MTU), ("jumboFrameCapable", B), ("virtualGatewayId", S),
    ("directConnectGatewayId", S), ("routeFilterPrefixes", Ty::List(&ROUTE_FILTER_PREFIX)),
    ("bgpPeers", Ty::List(&BGP_PEER)), ("region", S), ("awsDeviceV2", S), ("awsLogicalDeviceId", S),
    ("tags", TAGS), ("siteLinkEnabled", B), ("rateLimit", S),
]};

#[rustfmt::skip]
static BGP_PEER: Shape = Shape { required: &[], members: &[
    ("bgpPeerId", S), ("asn", ASN), ("asnLong", ASN_LONG), ("authKey", S), ("addressFamily", ADDRESS_FAMILY),
    ("amazonAddress", S), ("customerAddress", S), ("bgpPeerState", BGP_PEER_STATE), ("bgpStatus", BGP_STATUS),
    ("awsDeviceV2", S), ("awsLogicalDeviceId", S),
]};

#[rustfmt::skip]
static CONNECTION: Shape = Shape { required: &[], members: &[
    ("ownerAccount", S), ("connectionId", S), ("connectionName", S), ("connectionState", CONNECTION_STATE),
    ("region", S), ("location", S), ("bandwidth", S), ("vlan", VLAN), ("partnerName", S),
    ("loaIssueTime", Ty::Timestamp), ("lagId", S), ("awsDevice", S), ("jumboFrameCapable", B),
    ("awsDeviceV2", S), ("awsLogicalDeviceId", S), ("hasLogicalRedundancy", HAS_LOGICAL_REDUNDANCY),
    ("tags", TAGS), ("providerName", S), ("macSecCapable", B), ("portEncryptionStatus", S),
    ("encryptionMode", S), ("macSecKeys", MAC_SEC_KEYS), ("rateLimiterStatus", RATE_LIMITER_STATUS),
    ("partnerInterconnectMacSecCapable", B),
]};

#[rustfmt::skip]
static LAG: Shape = Shape { required: &[], members: &[
    ("connectionsBandwidth", S), ("numberOfConnections", INT), ("lagId", S), ("ownerAccount", S),
    ("lagName", S), ("lagState", LAG_OR_INTERCONNECT_STATE), ("location", S), ("region", S),
    ("minimumLinks", INT), ("awsDevice", S), ("awsDeviceV2", S), ("awsLogicalDeviceId", S),
    ("connections", Ty::List(&CONNECTION)), ("allowsHostedConnections", B), ("jumboFrameCapable", B),
    ("hasLogicalRedundancy", HAS_LOGICAL_REDUNDANCY), ("tags", TAGS), ("providerName", S),
    ("macSecCapable", B), ("encryptionMode", S), ("macSecKeys", MAC_SEC_KEYS),
    ("rateLimiterStatus", RATE_LIMITER_STATUS),
]};

#[rustfmt::skip]
static INTERCONNECT: Shape = Shape { required: &[], members: &[
    ("interconnectId", S), ("interconnectName", S), ("interconnectState", LAG_OR_INTERCONNECT_STATE),
    ("region", S), ("location", S), ("bandwidth", S), ("loaIssueTime", Ty::Timestamp), ("lagId", S),
    ("awsDevice", S), ("jumboFrameCapable", B), ("awsDeviceV2", S), ("awsLogicalDeviceId", S),
    ("hasLogicalRedundancy", HAS_LOGICAL_REDUNDANCY), ("tags", TAGS), ("providerName", S),
    ("macSecCapable", B), ("portEncryptionStatus", S), ("encryptionMode", S), ("macSecKeys", MAC_SEC_KEYS),
]};

static TAG: Shape = Shape {
    required: &["key"],
    members: &[("key", S), ("value", S)],
};
static ROUTE_FILTER_PREFIX: Shape = Shape {
    required: &[],
    members: &[("cidr", S)],
};
#[rustfmt::skip]
static MAC_SEC_KEY: Shape = Shape { required: &[], members: &[
    ("secretARN", S), ("ckn", S), ("state", S), ("startOn", S),
]};
#[rustfmt::skip]
static RATE_LIMITER_STATUS_SHAPE: Shape = Shape { required: &[], members: &[
    ("maxAllowed", INT), ("inUse", INT), ("remaining", INT), ("totalBandwidth", S),
]};

/// The top-level arrays: their key, item shape, and the id each item needs (unique within the array).
const RESOURCES: [(&str, &Shape, &str); 4] = [
    (
        "virtualInterfaces",
        &VIRTUAL_INTERFACE,
        "virtualInterfaceId",
    ),
    ("connections", &CONNECTION, "connectionId"),
    ("lags", &LAG, "lagId"),
    ("interconnects", &INTERCONNECT, "interconnectId"),
];

/// Which check a value failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Not well-formed JSON.
    Syntax,
    /// The wrong JSON type for the member.
    Type,
    /// A string outside the member's enum.
    Enum,
    /// A number outside the range the API documents.
    Range,
    /// A required member is missing or null.
    Required,
    /// An id used twice.
    Unique,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Rule::Syntax => "syntax",
            Rule::Type => "type",
            Rule::Enum => "enum",
            Rule::Range => "range",
            Rule::Required => "required",
            Rule::Unique => "unique",
        }
    }
}

/// One problem, located at the offending value (or the object lacking a member).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// e.g. `virtualInterfaces[0].bgpPeers[1].bgpPeerState`; empty for syntax errors.
    pub path: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub rule: Rule,
    /// What was expected and what was found, e.g. `expected one of ipv4, ipv6; got "ipv5"`.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}: ", self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{} [{}]", self.message, self.rule.name())
    }
}

/// Every problem found in a world file, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// Checks the AWS-data parts of a world file's text against the Direct Connect API's types and enums.
pub fn check(text: &str) -> Result<(), Problems> {
    let strict = ParseOptions {
        allow_comments: false,
        allow_loose_object_property_names: false,
        allow_trailing_commas: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    };
    let root = match jsonc_parser::parse_to_ast(text, &CollectOptions::default(), &strict) {
        Ok(parsed) => parsed.value,
        Err(e) => {
            return Err(Problems(vec![Problem {
                path: String::new(),
                line: e.line_display(),
                column: e.column_display(),
                rule: Rule::Syntax,
                message: format!("malformed JSON: {}", e.kind()),
            }]))
        }
    };
    let mut checker = Checker {
        text,
        errors: Vec::new(),
        seen: HashMap::new(),
    };
    match &root {
        None => checker.error(
            0,
            "",
            Rule::Syntax,
            "expected a JSON object; got an empty file",
        ),
        Some(Value::Object(top)) => checker.top(top),
        Some(other) => checker.expected(other, "", Rule::Type, "a JSON object"),
    }
    if checker.errors.is_empty() {
        return Ok(());
    }
    checker.errors.sort_by_key(|(offset, _)| *offset);
    Err(Problems(
        checker.errors.into_iter().map(|(_, e)| e).collect(),
    ))
}

struct Checker<'t> {
    text: &'t str,
    /// With the byte offset each was found at, to sort them into file order.
    errors: Vec<(usize, Problem)>,
    /// Ids seen so far, by id member, with the offset of their first use.
    seen: HashMap<&'static str, HashMap<String, usize>>,
}

impl Checker<'_> {
    fn top(&mut self, top: &Object) {
        for prop in &top.properties {
            let name = prop.name.as_str();
            if let Some((_, shape, id)) = RESOURCES.iter().find(|(key, ..)| *key == name) {
                self.resources(name, &prop.value, shape, id);
            } else if name == "sim" && !matches!(prop.value, Value::Object(_)) {
                // The `sim` section's own settings are checked where they are read.
                self.expected(&prop.value, "sim", Rule::Type, "an object");
            }
        }
    }

    fn resources(&mut self, key: &str, value: &Value, shape: &Shape, id: &'static str) {
        let Value::Array(items) = value else {
            return self.expected(value, key, Rule::Type, "an array of objects");
        };
        for (i, item) in items.elements.iter().enumerate() {
            let path = format!("{key}[{i}]");
            let Value::Object(object) = item else {
                self.expected(item, &path, Rule::Type, "an object");
                continue;
            };
            self.require(&path, object, id);
            self.structure(&path, object, shape);
            self.unique(&path, object, id);
            // Peer ids are unique across the whole world, not just their VIF.
            if let Some(Value::Array(peers)) = object.get("bgpPeers").map(|p| &p.value) {
                for (j, peer) in peers.elements.iter().enumerate() {
                    if let Value::Object(peer) = peer {
                        self.unique(&format!("{path}.bgpPeers[{j}]"), peer, "bgpPeerId");
                    }
                }
            }
        }
    }

    fn structure(&mut self, path: &str, object: &Object, shape: &Shape) {
        for name in shape.required {
            self.require(path, object, name);
        }
        for prop in &object.properties {
            let name = prop.name.as_str();
            if let Some((_, ty)) = shape.members.iter().find(|(m, _)| *m == name) {
                self.member(&format!("{path}.{name}"), &prop.value, *ty, object);
            }
        }
    }

    /// A missing member is reported at its object; a null one at the null.
    fn require(&mut self, path: &str, object: &Object, name: &str) {
        match object.get(name).map(|p| &p.value) {
            None => self.error(
                object.start(),
                path,
                Rule::Required,
                &format!("expected a {name} member; it is missing"),
            ),
            Some(null @ Value::NullKeyword(_)) => {
                self.expected(null, &format!("{path}.{name}"), Rule::Required, "a value")
            }
            Some(_) => {}
        }
    }

    fn unique(&mut self, path: &str, object: &Object, id: &'static str) {
        let Some(value @ Value::StringLit(lit)) = object.get(id).map(|p| &p.value) else {
            return;
        };
        let seen = self.seen.entry(id).or_default();
        let Some(&first) = seen.get(lit.value.as_ref()) else {
            seen.insert(lit.value.to_string(), value.start());
            return;
        };
        let (line, column) = line_column(self.text, first);
        let expected = format!("a {id} not used before");
        let message = format!(
            "expected {expected}; got {}, already used at line {line}, column {column}",
            self.got(value)
        );
        self.error(
            value.start(),
            &format!("{path}.{id}"),
            Rule::Unique,
            &message,
        );
    }

    fn member(&mut self, path: &str, value: &Value, ty: Ty, parent: &Object) {
        match (ty, value) {
            (_, Value::NullKeyword(_)) => {}
            (Ty::Str, Value::StringLit(_)) | (Ty::Bool, Value::BooleanLit(_)) => {}
            (Ty::Timestamp, Value::NumberLit(_)) => {}
            (Ty::Timestamp, Value::StringLit(s)) if epoch_seconds(&s.value).is_some() => {}
            (Ty::Enum(allowed), _) => {
                let expected = format!("one of {}", allowed.join(", "));
                match value {
                    Value::StringLit(s) if allowed.contains(&s.value.as_ref()) => {}
                    Value::StringLit(_) => self.expected(value, path, Rule::Enum, &expected),
                    _ => self.expected(value, path, Rule::Type, &expected),
                }
            }
            (Ty::Int(limit), _) => {
                self.number(path, value, i32::MIN.into(), i32::MAX.into(), limit, parent)
            }
            (Ty::Long(limit), _) => self.number(path, value, i64::MIN, i64::MAX, limit, parent),
            (Ty::List(shape), Value::Array(items)) => {
                for (i, item) in items.elements.iter().enumerate() {
                    let path = format!("{path}[{i}]");
                    match item {
                        Value::Object(object) => self.structure(&path, object, shape),
                        _ => self.expected(item, &path, Rule::Type, "an object"),
                    }
                }
            }
            (Ty::Struct(shape), Value::Object(object)) => self.structure(path, object, shape),
            (Ty::Str, _) => self.expected(value, path, Rule::Type, "a string"),
            (Ty::Bool, _) => self.expected(value, path, Rule::Type, "a boolean"),
            (Ty::Timestamp, _) => self.expected(
                value,
                path,
                Rule::Type,
                "a timestamp: epoch seconds (a number) or an ISO 8601 date-time with an offset, such as \
                 2023-11-14T22:13:20+00:00",
            ),
            (Ty::List(_), _) => self.expected(value, path, Rule::Type, "an array"),
            (Ty::Struct(_), _) => self.expected(value, path, Rule::Type, "an object"),
        }
    }

    /// A whole number of the model's width (`min..=max`), then within the documented limit.
    fn number(
        &mut self,
        path: &str,
        value: &Value,
        min: i64,
        max: i64,
        limit: Limit,
        parent: &Object,
    ) {
        let Some(n) = whole(value) else {
            return self.expected(value, path, Rule::Type, "an integer");
        };
        if n < i128::from(min) || n > i128::from(max) {
            let bits = if max == i64::MAX { 64 } else { 32 };
            return self.expected(value, path, Rule::Type, &format!("a {bits}-bit integer"));
        }
        let ok = match limit {
            Limit::None => true,
            Limit::Range(lo, hi) => (i128::from(lo)..=i128::from(hi)).contains(&n),
            Limit::OneOf(allowed) => allowed.iter().any(|a| i128::from(*a) == n),
            Limit::Asn => {
                let four_byte_long = parent
                    .get("asnLong")
                    .and_then(|p| whole(&p.value))
                    .is_some_and(|long| long > 65535);
                (1..=2_147_483_646).contains(&n) || (n == 0 && four_byte_long)
            }
        };
        if !ok {
            let expected = match limit {
                // Not reached: without a limit every whole number in range is ok.
                Limit::None => "any value".to_string(),
                Limit::Range(lo, hi) => format!("{lo}..{hi}"),
                Limit::OneOf(allowed) => {
                    let allowed: Vec<String> = allowed.iter().map(i64::to_string).collect();
                    format!("one of {}", allowed.join(", "))
                }
                Limit::Asn => "1..2147483646 (or 0 beside an asnLong above 65535)".to_string(),
            };
            self.expected(value, path, Rule::Range, &expected);
        }
    }

    fn expected(&mut self, value: &Value, path: &str, rule: Rule, expected: &str) {
        let message = format!("expected {expected}; got {}", self.got(value));
        self.error(value.start(), path, rule, &message);
    }

    fn error(&mut self, offset: usize, path: &str, rule: Rule, message: &str) {
        let (line, column) = line_column(self.text, offset);
        self.errors.push((
            offset,
            Problem {
                path: path.to_string(),
                line,
                column,
                rule,
                message: message.to_string(),
            },
        ));
    }

    /// The offending value as written (shortened), or its kind for arrays and objects.
    fn got(&self, value: &Value) -> String {
        match value {
            Value::Object(_) => "an object".into(),
            Value::Array(_) => "an array".into(),
            other => {
                let written = &self.text[other.start()..other.end()];
                match written.char_indices().nth(40) {
                    Some((cut, _)) => format!("{}...", &written[..cut]),
                    None => written.to_string(),
                }
            }
        }
    }
}

/// Epoch seconds of an ISO 8601 / RFC 3339 date-time with an offset (`2023-11-14T22:13:20+00:00`, `…20.5Z`):
/// whole seconds as an integer, fractional ones as a float.
pub fn epoch_seconds(text: &str) -> Option<serde_json::Number> {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    let at = time::OffsetDateTime::parse(text, &Rfc3339)
        .or_else(|_| time::OffsetDateTime::parse(text, &Iso8601::DEFAULT))
        .ok()?;
    if at.nanosecond() == 0 {
        Some(at.unix_timestamp().into())
    } else {
        serde_json::Number::from_f64(at.unix_timestamp_nanos() as f64 / 1e9)
    }
}

/// Rewrites the ISO 8601 timestamps among the members of one resource of `kind` (`connections`, `lags`, …; nested
/// structures included) as epoch seconds, so they go out on the wire as the JSON protocol sends timestamps.
pub fn timestamps_to_epoch_seconds(
    kind: &str,
    members: &mut serde_json::Map<String, serde_json::Value>,
) {
    if let Some((_, shape, _)) = RESOURCES.iter().find(|(key, ..)| *key == kind) {
        normalize(members, shape);
    }
}

fn normalize(members: &mut serde_json::Map<String, serde_json::Value>, shape: &Shape) {
    use serde_json::Value as Json;
    for (name, ty) in shape.members {
        match (ty, members.get_mut(*name)) {
            (Ty::Timestamp, Some(value)) => {
                if let Some(seconds) = value.as_str().and_then(epoch_seconds) {
                    *value = Json::Number(seconds);
                }
            }
            (Ty::List(inner), Some(Json::Array(items))) => {
                for item in items {
                    if let Json::Object(object) = item {
                        normalize(object, inner);
                    }
                }
            }
            (Ty::Struct(inner), Some(Json::Object(object))) => normalize(object, inner),
            _ => {}
        }
    }
}

/// The value of a number literal written as a whole number (`125`, not `125.0`, `1.25e2` or `"125"`).
fn whole(value: &Value) -> Option<i128> {
    match value {
        // `-0` is no integer a client reads back: JSON parsers (serde_json among them) take it as the float -0.0.
        Value::NumberLit(n)
            if n.value.starts_with('-') && n.value[1..].bytes().all(|b| b == b'0') =>
        {
            None
        }
        Value::NumberLit(n) => n.value.parse().ok(),
        _ => None,
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

#[cfg(test)]
mod tests;
