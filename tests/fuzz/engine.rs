//! The engine target's inputs are generated, not mutated: scripts of operations with JSON inputs shaped like the
//! API's (the right member names, with values at and past every limit) or arbitrary, against the seed worlds, with
//! time moving between calls. A script is JSON text, so a minimized one reads as a reproducer.

use base64::Engine as _;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

use crate::targets::{worlds, NOW_MS};
use dxctl::sim::Engine;

const OPERATIONS: &[&str] = &[
    "DescribeVirtualInterfaces",
    "DescribeConnections",
    "DescribeLags",
    "DescribeInterconnects",
    "CreateBGPPeer",
    "DeleteBGPPeer",
    "CreatePrivateVirtualInterface",
    "CreatePublicVirtualInterface",
    "CreateTransitVirtualInterface",
    "DeleteVirtualInterface",
];

const REGIONS: &[&str] = &[
    "us-east-1",
    "eu-west-1",
    "ap-south-1",
    "",
    "US-EAST-1",
    "ü-west-1",
];

const FIELDS: &[&str] = &[
    "virtualInterfaceId",
    "connectionId",
    "lagId",
    "interconnectId",
    "bgpPeerId",
    "asn",
    "asnLong",
    "customerAddress",
    "amazonAddress",
    "addressFamily",
    "authKey",
    "maxResults",
    "nextToken",
    "newBGPPeer",
    "newPrivateVirtualInterface",
    "newPublicVirtualInterface",
    "newTransitVirtualInterface",
    "virtualInterfaceName",
    "vlan",
    "mtu",
    "virtualGatewayId",
    "directConnectGatewayId",
    "routeFilterPrefixes",
    "tags",
    "enableSiteLink",
];

/// The seed worlds' ids (computed once), a few that exist nowhere, and `$last-peer`.
fn id_pool() -> Vec<String> {
    static POOL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let mut pool: Vec<String> = vec![
            "".into(),
            "dxvif-zzzzzzzz".into(),
            "dxpeer-é".into(),
            "$last-peer".into(),
        ];
        for w in worlds() {
            let text = w.to_json();
            for part in text.split('"') {
                if part.starts_with("dx") && part.contains('-') && part.len() < 40 {
                    pool.push(part.to_string());
                }
            }
        }
        pool.sort();
        pool.dedup();
        pool
    })
    .clone()
}

fn ids() -> BoxedStrategy<Value> {
    let pool = id_pool();
    prop_oneof![
        8 => prop::sample::select(pool).prop_map(Value::String),
        1 => ".{0,12}".prop_map(Value::String),
    ]
    .boxed()
}

fn numbers() -> BoxedStrategy<Value> {
    let edges: Vec<Value> = crate::mutate::NUMBERS
        .iter()
        .filter_map(|n| serde_json::from_str(n).ok())
        .collect();
    prop_oneof![
        3 => prop::sample::select(edges),
        3 => (-5i64..70_000).prop_map(Value::from),
        1 => (4_199_999_990u64..4_294_967_300).prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(|x| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)),
        1 => Just(json!("65000")),
    ]
    .boxed()
}

fn addresses() -> BoxedStrategy<Value> {
    prop::sample::select(vec![
        "169.254.255.1/30",
        "169.254.255.2/30",
        "169.254.0.1/31",
        "10.0.0.1/8",
        "203.0.113.1/30",
        "2001:db8::1/125",
        "169.254.255.1",
        "169.254.255.1/33",
        "300.1.1.1/30",
        "::/0",
        "0.0.0.0/0",
        "",
        "/",
        "1.2.3.4/30/30",
        "١٦٩.254.0.1/30",
    ])
    .prop_map(|s| Value::String(s.into()))
    .boxed()
}

fn text() -> BoxedStrategy<Value> {
    prop_oneof![
        prop::sample::select(vec!["ipv4", "ipv6", "IPv4", "", "0xKey", "0x", "name"])
            .prop_map(|s| Value::String(s.into())),
        (
            0usize..90,
            prop::sample::select(vec!["a", "é", "😀", "\u{0}"])
        )
            .prop_map(|(n, c)| Value::String(c.repeat(n))),
        ".{0,20}".prop_map(Value::String),
    ]
    .boxed()
}

/// Page tokens: the engine's own form (base64 of a cursor) with any listing and position, garbage, or the one the
/// previous describe answered (`$last`).
fn tokens() -> BoxedStrategy<Value> {
    let cursor = (
        prop::sample::select(vec![
            "DescribeVirtualInterfaces/us-east-1//",
            "DescribeVirtualInterfaces/eu-west-1//",
            "DescribeConnections/us-east-1/",
            "other",
        ]),
        prop_oneof![ids(), text()],
    )
        .prop_map(|(listing, after)| {
            let json = json!({"listing": listing, "after": after}).to_string();
            Value::String(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json))
        });
    prop_oneof![
        3 => Just(json!("$last")),
        3 => cursor,
        1 => ".{0,30}".prop_map(Value::String),
        1 => Just(json!("e30")),
    ]
    .boxed()
}

fn any_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        numbers(),
        text(),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(FIELDS), inner), 0..4).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
    .boxed()
}

fn typed(field: &'static str, depth: u32) -> BoxedStrategy<Value> {
    match field {
        "virtualInterfaceId"
        | "connectionId"
        | "lagId"
        | "interconnectId"
        | "bgpPeerId"
        | "virtualGatewayId"
        | "directConnectGatewayId" => ids(),
        "asn" | "asnLong" | "vlan" | "mtu" | "maxResults" => numbers(),
        "customerAddress" | "amazonAddress" => addresses(),
        "nextToken" => tokens(),
        "newBGPPeer"
        | "newPrivateVirtualInterface"
        | "newPublicVirtualInterface"
        | "newTransitVirtualInterface"
            if depth == 0 =>
        {
            object(1)
        }
        "routeFilterPrefixes" => {
            prop::collection::vec(addresses().prop_map(|a| json!({"cidr": a})), 0..3)
                .prop_map(Value::Array)
                .boxed()
        }
        "tags" => prop::collection::vec(
            (text(), text()).prop_map(|(k, v)| json!({"key": k, "value": v})),
            0..3,
        )
        .prop_map(Value::Array)
        .boxed(),
        "enableSiteLink" => any::<bool>().prop_map(Value::Bool).boxed(),
        _ => text(),
    }
}

fn member(depth: u32) -> BoxedStrategy<(String, Value)> {
    let options: Vec<BoxedStrategy<(String, Value)>> = FIELDS
        .iter()
        .map(|&field| {
            (
                Just(field.to_string()),
                prop_oneof![5 => typed(field, depth), 1 => any_value()],
            )
                .boxed()
        })
        .collect();
    proptest::strategy::Union::new(options).boxed()
}

fn object(depth: u32) -> BoxedStrategy<Value> {
    prop::collection::vec(member(depth), 0..7)
        .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>()))
        .boxed()
}

fn call() -> impl Strategy<Value = Value> {
    let op = prop_oneof![
        12 => prop::sample::select(OPERATIONS).prop_map(str::to_string),
        1 => prop::sample::select(vec!["DescribeTags", "", "createbgppeer", "Create", "Delete"]).prop_map(str::to_string),
    ];
    let input = prop_oneof![12 => object(0), 1 => any_value()];
    let after = prop_oneof![
        4 => Just(0u64),
        6 => 0u64..3_000,
        2 => 0u64..20_000_000,
        1 => Just(u64::MAX / 2),
    ];
    let approve = prop_oneof![6 => Just(Value::Null), 1 => Just(json!("*")), 1 => ids()];
    (op, prop::sample::select(REGIONS), input, after, approve)
        .prop_map(|(op, region, input, after, approve)| {
            json!({"op": op, "region": region, "input": input, "after_ms": after, "approve": approve})
        })
}

/// A script: which seed world, then up to 12 calls.
pub fn script() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<prop::sample::Index>(),
        prop::collection::vec(call(), 1..12),
    )
        .prop_map(|(world, calls)| {
            let world = world.index(worlds().len());
            serde_json::to_vec(&json!({"world": world, "calls": calls}))
                .expect("a script serializes")
        })
}

/// Replaces `$last` (the previous describe's `nextToken`) and `$last-peer` (the last created peer's id).
fn substitute(value: &mut Value, token: &Option<String>, peer: &Option<String>) {
    match value {
        Value::String(s) if s == "$last" => *s = token.clone().unwrap_or_default(),
        Value::String(s) if s == "$last-peer" => *s = peer.clone().unwrap_or_default(),
        Value::Array(a) => a.iter_mut().for_each(|v| substitute(v, token, peer)),
        Value::Object(m) => m.values_mut().for_each(|v| substitute(v, token, peer)),
        _ => {}
    }
}

/// Target 5c: a script of calls against a fresh engine on a seed world, as the server makes them (advance, fault
/// draw, rate limit, operation, encoded answer), then `approve` and lifecycles run to the end.
pub fn sim_engine(bytes: &[u8]) {
    let Ok(script) = serde_json::from_slice::<Value>(bytes) else {
        return;
    };
    let worlds = worlds();
    let index = script["world"].as_u64().unwrap_or(0) as usize % worlds.len();
    let mut engine = Engine::new(worlds[index].clone(), None);
    let mut now = NOW_MS;
    let (mut token, mut peer) = (None, None);
    for call in script["calls"].as_array().into_iter().flatten() {
        now = now.saturating_add(call["after_ms"].as_u64().unwrap_or(0));
        let op = call["op"].as_str().unwrap_or("");
        let region = call["region"].as_str().unwrap_or("us-east-1");
        let mut input = call["input"].clone();
        substitute(&mut input, &token, &peer);
        engine.advance(now);
        let _ = engine.roll_fault(op);
        let _ = engine.within_rate_limit(op, region, now);
        if let Ok(out) = engine.handle(op, region, &input, now) {
            if let Some(t) = out.body.get("nextToken").and_then(Value::as_str) {
                token = Some(t.to_string());
            }
            if let Some(id) = out
                .body
                .pointer("/virtualInterface/bgpPeers")
                .and_then(Value::as_array)
                .and_then(|p| p.last())
            {
                peer = id
                    .get("bgpPeerId")
                    .and_then(Value::as_str)
                    .map(str::to_string);
            }
            let _ = dxctl::sim::rpcv2::encode(&out.body);
            let _ = out.body.to_string();
        }
        match &call["approve"] {
            Value::String(s) if s == "*" => {
                engine.approve(None, now);
            }
            Value::String(id) => {
                engine.approve(Some(id), now);
            }
            _ => {}
        }
    }
    for step in [1_000u64, 60_000, 3_600_000, 86_400_000] {
        engine.advance(now.saturating_add(step));
    }
    let _ = engine.world.to_json();
}
