//! The BGP peer rules that can be checked without AWS: families, ASNs, auth key length, address pairs and duplicates.

use std::collections::BTreeMap;
use std::net::IpAddr;

use hcl::Value;
use hcl_edit::repr::Span;
use hcl_edit::structure::Attribute;
use ipnet::IpNet;

use super::{eval, Diagnostic, SourceFile};
use crate::model::{AddressFamily, Asn, Location, PeerSpec, Secret, VifId};

pub const PEER_ATTRIBUTES: &[&str] = &[
    "address_family",
    "asn",
    "auth_key",
    "amazon_address",
    "customer_address",
];

pub fn is_vif_id(id: &str) -> bool {
    id.strip_prefix("dxvif-")
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Builds one peer from its attributes, or pushes every rule it breaks.
pub fn peer(
    src: &SourceFile,
    label: String,
    location: Location,
    attrs: &BTreeMap<&str, &Attribute>,
    diags: &mut Vec<Diagnostic>,
) -> Option<PeerSpec> {
    let before = diags.len();
    let at = |attr: &Attribute| src.span_location(attr.value.span());

    let family = match attrs.get("address_family") {
        None => {
            diags.push(
                Diagnostic::new(
                    location.clone(),
                    "missing-attribute",
                    format!("bgp_peer \"{label}\" needs `address_family`"),
                )
                .with_hint("add address_family = \"ipv4\" or \"ipv6\""),
            );
            None
        }
        Some(attr) => {
            eval::string(src, attr, diags).and_then(|s| match s.parse::<AddressFamily>() {
                Ok(f) => Some(f),
                Err(msg) => {
                    diags.push(Diagnostic::new(at(attr), "address-family", msg));
                    None
                }
            })
        }
    };

    let asn = match attrs.get("asn") {
        None => {
            diags.push(
                Diagnostic::new(location.clone(), "missing-attribute", format!("bgp_peer \"{label}\" needs `asn`"))
                    .with_hint("add asn = 65000 (a number, or a string in asplain \"4200000000\" or asdot \"64086.59904\")"),
            );
            None
        }
        Some(attr) => asn(src, attr, diags),
    };

    let auth_key = attrs.get("auth_key").and_then(|attr| {
        let key = eval::string(src, attr, diags)?;
        let len = key.chars().count();
        if !(6..=80).contains(&len) {
            // Never echo the key itself: only its length.
            diags.push(
                Diagnostic::new(
                    at(attr),
                    "auth-key-length",
                    format!("auth_key must be 6 to 80 characters; this one has {len}"),
                )
                .with_hint("omit auth_key to let AWS generate one"),
            );
            return None;
        }
        Some(Secret::new(key))
    });

    let amazon = attrs
        .get("amazon_address")
        .map(|a| (*a, eval::string(src, a, diags)));
    let customer = attrs
        .get("customer_address")
        .map(|a| (*a, eval::string(src, a, diags)));

    if let Some(family) = family {
        address_rules(src, family, amazon.clone(), customer.clone(), diags);
    }

    if diags.len() > before {
        return None;
    }
    Some(PeerSpec {
        label,
        family: family?,
        asn: asn?,
        auth_key,
        amazon_address: amazon.and_then(|(_, v)| v),
        customer_address: customer.and_then(|(_, v)| v),
        location,
    })
}

fn asn(src: &SourceFile, attr: &Attribute, diags: &mut Vec<Diagnostic>) -> Option<Asn> {
    let loc = src.span_location(attr.value.span());
    let parsed = match eval::value(src, attr, diags)? {
        Value::Number(n) => match n.as_u64() {
            Some(v) => Asn::new(v),
            None => Err(format!("ASN {n} is not a whole number in 1..=4294967294")),
        },
        Value::String(s) => Asn::parse(&s),
        other => Err(format!(
            "asn must be a number or a string, not {}",
            eval::type_name(&other)
        )),
    };
    parsed
        .map_err(|msg| {
            diags.push(
                Diagnostic::new(loc, "asn", msg)
                    .with_hint("valid ASNs are 1..=4294967294; 4-byte ASNs may be written asdot, e.g. \"64086.59904\""),
            )
        })
        .ok()
}

type AddressAttr<'a> = Option<(&'a Attribute, Option<String>)>;

fn address_rules(
    src: &SourceFile,
    family: AddressFamily,
    amazon: AddressAttr<'_>,
    customer: AddressAttr<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    let at = |attr: &Attribute| src.span_location(attr.span());
    match family {
        AddressFamily::Ipv6 => {
            for (attr, _) in [amazon, customer].into_iter().flatten() {
                diags.push(
                    Diagnostic::new(
                        at(attr),
                        "ipv6-addresses",
                        format!("IPv6 peers must omit `{}`: you cannot specify custom IPv6 addresses", attr.key.as_str()),
                    )
                    .with_hint("remove amazon_address and customer_address; AWS assigns a /125 from its IPv6 pool"),
                );
            }
        }
        AddressFamily::Ipv4 => {
            let parse = |(attr, text): (&Attribute, Option<String>),
                         diags: &mut Vec<Diagnostic>|
             -> Option<IpNet> {
                let text = text?;
                match text.parse::<IpNet>() {
                    Ok(net) if matches!(net.addr(), IpAddr::V4(_)) => Some(net),
                    Ok(_) => {
                        diags.push(Diagnostic::new(
                            at(attr),
                            "address-family-mismatch",
                            format!("`{}` is an IPv6 address on an ipv4 peer", attr.key.as_str()),
                        ));
                        None
                    }
                    Err(_) => {
                        diags.push(
                            Diagnostic::new(
                                at(attr),
                                "address-cidr",
                                format!(
                                    "`{}` = {text:?} is not an address in CIDR form",
                                    attr.key.as_str()
                                ),
                            )
                            .with_hint(
                                "write it with its prefix length, e.g. \"169.254.255.1/30\"",
                            ),
                        );
                        None
                    }
                }
            };
            match (amazon, customer) {
                (Some(a), Some(c)) => {
                    let attr = c.0;
                    let (a, c) = (parse(a, diags), parse(c, diags));
                    if let (Some(a), Some(c)) = (a, c) {
                        if a.trunc() != c.trunc() {
                            diags.push(Diagnostic::new(at(attr), "ipv4-same-subnet", format!("amazon_address {a} and customer_address {c} are not in the same subnet")));
                        } else if a.addr() == c.addr() {
                            diags.push(Diagnostic::new(
                                at(attr),
                                "ipv4-distinct-hosts",
                                format!(
                                    "amazon_address and customer_address are both {}",
                                    a.addr()
                                ),
                            ));
                        }
                    }
                }
                (Some((attr, _)), None) | (None, Some((attr, _))) => diags.push(
                    Diagnostic::new(
                        at(attr),
                        "ipv4-address-pair",
                        "an ipv4 peer needs both amazon_address and customer_address, or neither",
                    )
                    .with_hint(
                        "give both, or remove this one to let AWS assign a /30 from 169.254.0.0/16",
                    ),
                ),
                (None, None) => {}
            }
        }
    }
}

/// Rules across the peers of one VIF: no two identical in family, ASN and customer address.
pub fn across_peers(vif: &VifId, peers: &[PeerSpec], diags: &mut Vec<Diagnostic>) {
    let mut seen: BTreeMap<(AddressFamily, Asn, Option<&str>), &PeerSpec> = BTreeMap::new();
    for p in peers {
        let key = (p.family, p.asn, p.customer_address.as_deref());
        if let Some(first) = seen.insert(key, p) {
            diags.push(
                Diagnostic::new(
                    p.location.clone(),
                    "duplicate-peer",
                    format!(
                        "bgp_peer \"{}\" on {vif} is identical to bgp_peer \"{}\" (same family, ASN and customer address)",
                        p.label, first.label
                    ),
                )
                .with_hint(format!("first declared at {}", first.location)),
            );
        }
    }
}
