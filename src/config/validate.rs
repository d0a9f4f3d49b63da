//! The BGP peer rules that can be checked without AWS: families, ASNs, auth key length, address pairs and duplicates.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::ops::Range;

use hcl::Value;
use hcl_edit::repr::Span;
use hcl_edit::structure::Attribute;
use ipnet::IpNet;

use super::eval::{type_name, Evaluator};
use super::{Diagnostic, SourceFile};
use crate::model::{AddressFamily, Asn, PeerSpec, Secret, VifId};

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

/// How a value may appear in a message: secrets never do.
fn shown(text: &str, secret: bool) -> String {
    if secret {
        "(sensitive)".into()
    } else {
        format!("{text:?}")
    }
}

/// Builds one peer from its attributes, or pushes every rule it breaks.
pub fn peer(
    src: &SourceFile,
    ev: &Evaluator,
    label: String,
    span: Option<Range<usize>>,
    attrs: &BTreeMap<&str, &Attribute>,
    diags: &mut Vec<Diagnostic>,
) -> Option<PeerSpec> {
    let before = diags.len();
    let mut sensitive = BTreeSet::from(["auth_key"]);
    let missing = |diags: &mut Vec<Diagnostic>, what: &str, hint: &str| {
        diags.push(
            Diagnostic::at(
                src,
                span.clone(),
                "missing-attribute",
                format!("bgp_peer \"{label}\" needs `{what}`"),
            )
            .with_hint(hint),
        );
    };

    let family = match attrs.get("address_family") {
        None => {
            missing(
                diags,
                "address_family",
                "add address_family = \"ipv4\" or \"ipv6\"",
            );
            None
        }
        Some(attr) => {
            ev.string(src, attr, diags)
                .and_then(|(s, secret)| match s.parse::<AddressFamily>() {
                    Ok(f) => Some(f),
                    Err(_) => {
                        diags.push(Diagnostic::at(
                            src,
                            attr.value.span(),
                            "address-family",
                            format!(
                                "address_family must be \"ipv4\" or \"ipv6\", not {}",
                                shown(&s, secret)
                            ),
                        ));
                        None
                    }
                })
        }
    };

    let asn = match attrs.get("asn") {
        None => {
            missing(diags, "asn", "add asn = 65000 (a number, or a string in asplain \"4200000000\" or asdot \"64086.59904\")");
            None
        }
        Some(attr) => asn(src, ev, attr, diags, &mut sensitive),
    };

    let auth_key = attrs.get("auth_key").and_then(|attr| {
        let (key, _) = ev.string(src, attr, diags)?;
        let len = key.chars().count();
        if !(6..=80).contains(&len) {
            // Never echo the key itself: only its length.
            diags.push(
                Diagnostic::at(
                    src,
                    attr.value.span(),
                    "auth-key-length",
                    format!("auth_key must be 6 to 80 characters; this one has {len}"),
                )
                .with_hint("omit auth_key to let AWS generate one"),
            );
            return None;
        }
        Some(Secret::new(key))
    });

    let mut address = |key: &'static str| -> Option<Address> {
        let attr = *attrs.get(key)?;
        let (text, secret) = ev.string(src, attr, diags)?;
        if secret {
            sensitive.insert(key);
        }
        Some(Address { attr, text, secret })
    };
    let amazon = address("amazon_address");
    let customer = address("customer_address");
    if let Some(family) = family {
        address_rules(src, family, amazon.as_ref(), customer.as_ref(), diags);
    }

    if diags.len() > before {
        return None;
    }
    Some(PeerSpec {
        label,
        family: family?,
        asn: asn?,
        auth_key,
        amazon_address: amazon.map(|a| a.text),
        customer_address: customer.map(|a| a.text),
        location: src.span_location(span),
        sensitive,
    })
}

/// What is wrong with an IPv4 address in CIDR form that does not parse: the missing prefix length, the part or
/// octet that is invalid, or the prefix length out of range.
fn cidr_hint(text: &str) -> String {
    const EXAMPLE: &str = "e.g. \"169.254.255.1/30\"";
    let Some((address, prefix)) = text.trim().split_once('/') else {
        return format!("write it with its prefix length, {EXAMPLE}");
    };
    let parts: Vec<&str> = address.split('.').collect();
    if parts.len() != 4 {
        return format!(
            "an IPv4 address has four parts separated by dots; `{address}` has {}, {EXAMPLE}",
            parts.len()
        );
    }
    for (i, part) in parts.iter().enumerate() {
        let ordinal = ["first", "second", "third", "fourth"][i];
        let valid = !part.is_empty()
            && part.bytes().all(|b| b.is_ascii_digit())
            && part.parse::<u8>().is_ok()
            && !(part.len() > 1 && part.starts_with('0'));
        if !valid {
            let why = if part.is_empty() {
                "is empty".to_string()
            } else if part.bytes().all(|b| b.is_ascii_digit()) && part.parse::<u8>().is_ok() {
                format!("({part}) has a leading zero")
            } else if part.bytes().all(|b| b.is_ascii_digit()) {
                format!("({part}) is more than 255")
            } else {
                format!("(`{part}`) is not a number")
            };
            return format!("the {ordinal} octet of `{address}` {why}: each octet is 0 to 255");
        }
    }
    match prefix.parse::<u8>() {
        Ok(len) if len <= 32 => format!("`{text}` is not a valid address in CIDR form, {EXAMPLE}"),
        _ => format!("the prefix length `/{prefix}` must be a number from 0 to 32, {EXAMPLE}"),
    }
}

struct Address<'a> {
    attr: &'a Attribute,
    text: String,
    secret: bool,
}

fn asn(
    src: &SourceFile,
    ev: &Evaluator,
    attr: &Attribute,
    diags: &mut Vec<Diagnostic>,
    sensitive: &mut BTreeSet<&'static str>,
) -> Option<Asn> {
    let v = ev.attribute(src, attr, diags)?;
    if v.secret {
        sensitive.insert("asn");
    }
    let parsed = match &v.value {
        Value::Number(n) => match n.as_u64() {
            Some(x) => Asn::new(x),
            None => Err(format!(
                "ASN {} is not a whole number in 1..=4294967294",
                if v.secret {
                    "(sensitive)".into()
                } else {
                    n.to_string()
                }
            )),
        },
        Value::String(s) => Asn::parse(s),
        other => Err(format!(
            "asn must be a number or a string, not {}",
            type_name(other)
        )),
    };
    parsed
        .map_err(|msg| {
            let msg = if v.secret { "the ASN (sensitive) is not valid: 1..=4294967294, asplain or asdot".to_string() } else { msg };
            diags.push(
                Diagnostic::at(src, attr.value.span(), "asn", msg)
                    .with_hint("valid ASNs are 1..=4294967294; 4-byte ASNs may be written asdot, e.g. \"64086.59904\""),
            )
        })
        .ok()
}

fn address_rules(
    src: &SourceFile,
    family: AddressFamily,
    amazon: Option<&Address>,
    customer: Option<&Address>,
    diags: &mut Vec<Diagnostic>,
) {
    let at = |a: &Address| a.attr.span();
    match family {
        AddressFamily::Ipv6 => {
            for a in [amazon, customer].into_iter().flatten() {
                diags.push(
                    Diagnostic::at(src, at(a), "ipv6-addresses", format!("IPv6 peers must omit `{}`: you cannot specify custom IPv6 addresses", a.attr.key.as_str()))
                        .with_hint("remove amazon_address and customer_address; AWS assigns a /125 from its IPv6 pool"),
                );
            }
        }
        AddressFamily::Ipv4 => {
            let parse = |a: &Address, diags: &mut Vec<Diagnostic>| -> Option<IpNet> {
                match a.text.parse::<IpNet>() {
                    Ok(net) if matches!(net.addr(), IpAddr::V4(_)) => Some(net),
                    Ok(_) => {
                        diags.push(Diagnostic::at(
                            src,
                            at(a),
                            "address-family-mismatch",
                            format!(
                                "`{}` is an IPv6 address on an ipv4 peer",
                                a.attr.key.as_str()
                            ),
                        ));
                        None
                    }
                    Err(_) => {
                        diags.push(
                            Diagnostic::at(
                                src,
                                at(a),
                                "address-cidr",
                                format!(
                                    "`{}` = {} is not an address in CIDR form",
                                    a.attr.key.as_str(),
                                    shown(&a.text, a.secret)
                                ),
                            )
                            .with_hint(if a.secret {
                                "write it as four numbers 0 to 255 and a prefix length, e.g. \
                                 \"169.254.255.1/30\""
                                    .to_string()
                            } else {
                                cidr_hint(&a.text)
                            }),
                        );
                        None
                    }
                }
            };
            match (amazon, customer) {
                (Some(a), Some(c)) => {
                    let (an, cn) = (parse(a, diags), parse(c, diags));
                    if let (Some(an), Some(cn)) = (an, cn) {
                        if an.trunc() != cn.trunc() {
                            diags.push(
                                Diagnostic::at(src, at(c), "ipv4-same-subnet", "amazon_address and customer_address are not in the same subnet")
                                    .with_hint("both must share one network, e.g. 169.254.255.1/30 and 169.254.255.2/30"),
                            );
                        } else if an.addr() == cn.addr() {
                            diags.push(Diagnostic::at(
                                src,
                                at(c),
                                "ipv4-distinct-hosts",
                                "amazon_address and customer_address are the same host",
                            ));
                        }
                    }
                }
                (Some(a), None) | (None, Some(a)) => diags.push(
                    Diagnostic::at(
                        src,
                        at(a),
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
pub fn across_peers(
    src: &SourceFile,
    vif: &VifId,
    peers: &[PeerSpec],
    diags: &mut Vec<Diagnostic>,
) {
    let mut seen: BTreeMap<(AddressFamily, Asn, Option<&str>), &PeerSpec> = BTreeMap::new();
    for p in peers {
        let key = (p.family, p.asn, p.customer_address.as_deref());
        if let Some(first) = seen.insert(key, p) {
            let mut d = Diagnostic::new(
                p.location.clone(),
                "duplicate-peer",
                format!(
                    "bgp_peer \"{}\" on {vif} is identical to bgp_peer \"{}\" (same family, ASN and customer address)",
                    p.label, first.label
                ),
            )
            .with_hint(format!("first declared at {}", first.location));
            d.span = line_span(src, p.location.line);
            diags.push(d);
        }
    }
}

/// The byte span of a 1-based line, for diagnostics that only know their line.
fn line_span(src: &SourceFile, line: usize) -> Option<Range<usize>> {
    let start: usize = src
        .text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let len = src.text[start..]
        .find('\n')
        .unwrap_or(src.text.len() - start);
    Some(start..start + len)
}

#[cfg(test)]
mod tests {
    use super::cidr_hint;

    #[test]
    fn an_invalid_address_names_the_part_that_is_wrong() {
        let cases = [
            ("169.254.255.1", "write it with its prefix length"),
            (
                "169.254.300.1/30",
                "the third octet of `169.254.300.1` (300) is more than 255",
            ),
            (
                "169.254.x.1/30",
                "the third octet of `169.254.x.1` (`x`) is not a number",
            ),
            ("169.254..1/30", "the third octet of `169.254..1` is empty"),
            (
                "01.254.255.1/30",
                "the first octet of `01.254.255.1` (01) has a leading zero",
            ),
            (
                "169.254.1/30",
                "an IPv4 address has four parts separated by dots; `169.254.1` has 3",
            ),
            (
                "169.254.255.1/33",
                "the prefix length `/33` must be a number from 0 to 32",
            ),
            (
                "169.254.255.1/",
                "the prefix length `/` must be a number from 0 to 32",
            ),
        ];
        for (text, want) in cases {
            let hint = cidr_hint(text);
            assert!(hint.starts_with(want), "{text}: {hint}");
        }
    }
}
