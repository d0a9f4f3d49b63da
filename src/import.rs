//! The HCL `dxctl import` writes for BGP peers that already exist: pure and deterministic, from described VIFs to
//! formatted file texts, so that planning the result adopts every imported peer and changes nothing.
//!
//! What keeps the round trip exact: each peer is written with its family, ASN and (IPv4) addresses exactly as
//! described; a peer that the planner could not tell from another one on its VIF (two IPv6 peers with one ASN: IPv6
//! addresses cannot be declared) is left out rather than written ambiguously; a peer dxctl already owns keeps the
//! label its state records; and auth keys are never written: each becomes a required sensitive variable.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::model::{AddressFamily, ObservedPeer, ObservedVif, PeerSpec, PeerState};

/// How the VIF blocks are spread over files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitBy {
    /// `<region>.hcl`
    Region,
    /// `<connection-id>.hcl`
    Connection,
}

pub const PROVIDERS_FILE: &str = "providers.hcl";
pub const VARIABLES_FILE: &str = "variables.hcl";

/// What to generate from.
pub struct Request<'a> {
    /// The regions described, in the order asked for: the first one that has something to import gets the default
    /// provider, the others an alias each.
    pub regions: &'a [String],
    /// The VIFs to import (already filtered), in any order.
    pub vifs: &'a [ObservedVif],
    /// Labels dxctl's state gives peers it already manages, by (VIF id, BGP peer id).
    pub owned_labels: &'a HashMap<(String, String), String>,
    pub split_by: SplitBy,
}

/// The generated files and what was left out.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Generated {
    /// File name (no directory) to its text, formatted as `dxctl fmt` formats it.
    pub files: BTreeMap<String, String>,
    pub vifs: usize,
    pub peers: usize,
    /// Sensitive variables declared for auth keys.
    pub keys: usize,
    pub skipped: Vec<Skipped>,
}

/// Something described that the generated config does not declare, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Skipped {
    /// A VIF that is deleting, deleted or rejected: its peers cannot be managed.
    UnusableVif { vif: String, state: String },
    /// A VIF id that is not of the `dxvif-…` form the config language takes.
    MalformedVifId { vif: String },
    /// A VIF left with no peer to declare.
    NoPeers { vif: String },
    /// A peer that is deleting or deleted.
    GonePeer {
        vif: String,
        peer: String,
        state: String,
    },
    /// A peer the config cannot tell apart from another one on its VIF.
    Indistinct {
        vif: String,
        peer: String,
        family: AddressFamily,
        asn: u32,
    },
}

impl Skipped {
    pub fn is_vif(&self) -> bool {
        matches!(
            self,
            Skipped::UnusableVif { .. } | Skipped::MalformedVifId { .. } | Skipped::NoPeers { .. }
        )
    }
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skipped::UnusableVif { vif, state } => {
                write!(f, "{vif}: the virtual interface is {state}; its peers cannot be managed")
            }
            Skipped::MalformedVifId { vif } => {
                write!(f, "{vif:?}: not a virtual interface id of the form dxvif-…")
            }
            Skipped::NoPeers { vif } => write!(f, "{vif}: no BGP peer to import"),
            Skipped::GonePeer { vif, peer, state } => write!(f, "{vif}: peer {peer} is {state}"),
            Skipped::Indistinct {
                vif,
                peer,
                family,
                asn,
            } => write!(
                f,
                "{vif}: peer {peer} ({family}, ASN {asn}) cannot be told apart from another {family} peer with ASN \
                 {asn} in a config (IPv6 addresses cannot be declared); declare it by hand once one of them is gone"
            ),
        }
    }
}

/// Why no files could be generated.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// Two outputs would share a file name (a region or connection id named like another file).
    #[error("two generated files would both be named {0}")]
    FileNameClash(String),
    /// The generated text did not parse back (a bug in this module).
    #[error("generated {file} does not parse: {message}")]
    Unparsable { file: String, message: String },
}

/// One peer as it will be declared.
struct Declared<'a> {
    label: String,
    peer: &'a ObservedPeer,
    /// The IPv4 addresses, when the described ones pass the config's address rules.
    addresses: Option<(&'a str, &'a str)>,
    key_variable: Option<String>,
}

/// One VIF as it will be declared.
struct VifOut<'a> {
    vif: &'a ObservedVif,
    peers: Vec<Declared<'a>>,
}

/// Generates the files for `request`.
pub fn generate(request: &Request) -> Result<Generated, GenerateError> {
    let mut out = Generated::default();
    let mut vifs: Vec<&ObservedVif> = request.vifs.iter().collect();
    vifs.sort_by(|a, b| a.id.cmp(&b.id).then(a.scope.cmp(&b.scope)));
    vifs.dedup_by(|a, b| a.id == b.id);
    let mut variables = BTreeSet::new();
    let mut declared = Vec::new();
    for vif in vifs {
        if let Some(v) = declare_vif(vif, request.owned_labels, &mut variables, &mut out.skipped) {
            declared.push(v);
        }
    }
    if declared.is_empty() {
        return Ok(out);
    }
    out.vifs = declared.len();
    out.peers = declared.iter().map(|v| v.peers.len()).sum();
    out.keys = variables.len();

    let providers = Providers::new(request.regions, &declared);
    let mut groups: BTreeMap<String, Vec<&VifOut>> = BTreeMap::new();
    for v in &declared {
        let key = match request.split_by {
            SplitBy::Region => v.vif.scope.region.clone(),
            SplitBy::Connection => v
                .vif
                .connection_id
                .clone()
                .unwrap_or_else(|| "no-connection".into()),
        };
        groups.entry(key).or_default().push(v);
    }
    let mut texts = vec![(PROVIDERS_FILE.to_string(), providers.text())];
    if !variables.is_empty() {
        texts.push((VARIABLES_FILE.to_string(), variables_text(&declared)));
    }
    for (key, vifs) in &groups {
        texts.push((
            format!("{}.hcl", file_stem(key)),
            vifs_text(key, vifs, &providers),
        ));
    }
    for (name, text) in texts {
        let formatted =
            crate::config::fmt::format(&text).map_err(|e| GenerateError::Unparsable {
                file: name.clone(),
                message: e.to_string(),
            })?;
        if out.files.insert(name.clone(), formatted).is_some() {
            return Err(GenerateError::FileNameClash(name));
        }
    }
    Ok(out)
}

/// The peers of one VIF to declare, or `None` (with the reason in `skipped`) when nothing is.
fn declare_vif<'a>(
    vif: &'a ObservedVif,
    owned: &HashMap<(String, String), String>,
    variables: &mut BTreeSet<String>,
    skipped: &mut Vec<Skipped>,
) -> Option<VifOut<'a>> {
    let id = vif.id.0.as_str();
    if vif.state.is_unusable() {
        skipped.push(Skipped::UnusableVif {
            vif: id.to_string(),
            state: vif.state.to_string(),
        });
        return None;
    }
    if !is_vif_id(id) {
        skipped.push(Skipped::MalformedVifId {
            vif: id.to_string(),
        });
        return None;
    }
    let mut live = Vec::new();
    for p in &vif.peers {
        if p.state.is_gone() {
            skipped.push(Skipped::GonePeer {
                vif: id.to_string(),
                peer: shown_id(p),
                state: p.state.to_string(),
            });
        } else {
            live.push(p);
        }
    }
    let mut candidates: Vec<(&ObservedPeer, Option<(&str, &str)>)> =
        live.iter().map(|p| (*p, ipv4_addresses(p))).collect();
    candidates.sort_by(|(a, aa), (b, ba)| {
        (a.family, aa.map(|x| x.1), a.asn, &a.bgp_peer_id).cmp(&(
            b.family,
            ba.map(|x| x.1),
            b.asn,
            &b.bgp_peer_id,
        ))
    });
    // The planner's own matching decides what is distinct: a declared peer must match exactly one live one, and
    // the config refuses two peers alike in family, ASN and customer address.
    let specs: Vec<PeerSpec> = candidates.iter().map(|(p, a)| spec(p, *a)).collect();
    let mut identities: HashMap<(AddressFamily, u32, Option<&str>), usize> = HashMap::new();
    for s in &specs {
        *identities
            .entry((s.family, s.asn.get(), s.customer_address.as_deref()))
            .or_default() += 1;
    }
    let mut kept = Vec::new();
    for ((peer, addresses), s) in candidates.iter().zip(&specs) {
        let matching = live.iter().filter(|p| crate::plan::matches(s, p)).count();
        let alike = identities[&(s.family, s.asn.get(), s.customer_address.as_deref())];
        if matching == 1 && alike == 1 {
            kept.push((*peer, *addresses));
        } else {
            skipped.push(Skipped::Indistinct {
                vif: id.to_string(),
                peer: shown_id(peer),
                family: peer.family,
                asn: peer.asn.get(),
            });
        }
    }
    if kept.is_empty() {
        skipped.push(Skipped::NoPeers {
            vif: id.to_string(),
        });
        return None;
    }
    let labels = labels(id, &kept, owned);
    let peers = kept
        .into_iter()
        .zip(labels)
        .map(|((peer, addresses), label)| {
            let key_variable = peer.auth_key.as_ref().map(|_| {
                unique(
                    variables,
                    format!("auth_key_{}_{}", identifier(id), identifier(&label)),
                )
            });
            Declared {
                label,
                peer,
                addresses,
                key_variable,
            }
        })
        .collect();
    Some(VifOut { vif, peers })
}

/// The spec the generated block declares for a peer, as the planner will see it (the key aside).
fn spec(peer: &ObservedPeer, addresses: Option<(&str, &str)>) -> PeerSpec {
    PeerSpec {
        label: String::new(),
        family: peer.family,
        asn: peer.asn,
        auth_key: None,
        amazon_address: addresses.map(|a| a.0.to_string()),
        customer_address: addresses.map(|a| a.1.to_string()),
        location: Default::default(),
        sensitive: BTreeSet::new(),
    }
}

/// A peer's (amazon, customer) addresses when the config takes them: IPv4, both given, one subnet, two hosts.
fn ipv4_addresses(peer: &ObservedPeer) -> Option<(&str, &str)> {
    if peer.family != AddressFamily::Ipv4 {
        return None;
    }
    let (amazon, customer) = (
        peer.amazon_address.as_deref()?,
        peer.customer_address.as_deref()?,
    );
    let parse = |text: &str| {
        text.parse::<IpNet>()
            .ok()
            .filter(|n| matches!(n.addr(), IpAddr::V4(_)))
    };
    let (a, c) = (parse(amazon)?, parse(customer)?);
    (a.trunc() == c.trunc() && a.addr() != c.addr()).then_some((amazon, customer))
}

/// Labels for a VIF's kept peers, in order: the state's label for a peer dxctl manages, else the family
/// (`ipv4`), numbered from the second peer of a family on (`ipv4_2`).
fn labels(
    vif: &str,
    kept: &[(&ObservedPeer, Option<(&str, &str)>)],
    owned: &HashMap<(String, String), String>,
) -> Vec<String> {
    let from_state: Vec<Option<String>> = kept
        .iter()
        .map(|(p, _)| {
            let id = p.bgp_peer_id.as_ref()?;
            owned.get(&(vif.to_string(), id.clone())).cloned()
        })
        .collect();
    let mut taken: BTreeSet<String> = from_state.iter().flatten().cloned().collect();
    let mut counts: BTreeMap<AddressFamily, usize> = BTreeMap::new();
    kept.iter()
        .zip(from_state)
        .map(|((p, _), label)| {
            label.unwrap_or_else(|| {
                let n = counts.entry(p.family).or_default();
                loop {
                    *n += 1;
                    let label = match *n {
                        1 => p.family.as_str().to_string(),
                        n => format!("{}_{n}", p.family),
                    };
                    if taken.insert(label.clone()) {
                        break label;
                    }
                }
            })
        })
        .collect()
}

/// `name`, or `name_2`, `name_3`… when taken; recorded as taken.
fn unique(taken: &mut BTreeSet<String>, name: String) -> String {
    let mut candidate = name.clone();
    let mut n = 1;
    while !taken.insert(candidate.clone()) {
        n += 1;
        candidate = format!("{name}_{n}");
    }
    candidate
}

/// The providers: the first region (in the order asked) with something imported is the default, the others get
/// an alias each.
struct Providers {
    default: String,
    aliases: BTreeMap<String, String>,
}

impl Providers {
    fn new(asked: &[String], declared: &[VifOut]) -> Providers {
        let used: BTreeSet<&str> = declared
            .iter()
            .map(|v| v.vif.scope.region.as_str())
            .collect();
        let mut order: Vec<&str> = asked
            .iter()
            .map(String::as_str)
            .filter(|r| used.contains(r))
            .collect();
        // Regions the describes reported that were not asked for (none, today) come last, by name.
        order.extend(used.iter().filter(|r| !asked.iter().any(|a| a == *r)));
        let mut seen = BTreeSet::new();
        order.retain(|r| seen.insert(*r));
        let default = order.first().map_or_else(String::new, |r| r.to_string());
        let mut names = BTreeSet::new();
        let aliases = order
            .iter()
            .skip(1)
            .map(|r| (r.to_string(), unique(&mut names, identifier(r))))
            .collect();
        Providers { default, aliases }
    }

    fn text(&self) -> String {
        let mut out = String::from(
            "# Written by dxctl import: one provider per imported region. VIFs outside the default one name theirs.\n",
        );
        out.push_str(&format!(
            "provider \"aws\" {{\n  region = {}\n}}\n",
            quote(&self.default)
        ));
        let mut by_name: Vec<(&String, &String)> = self.aliases.iter().collect();
        by_name.sort_by(|a, b| a.1.cmp(b.1));
        for (region, alias) in by_name {
            out.push_str(&format!(
                "\nprovider \"aws\" {{\n  alias = {}\n  region = {}\n}}\n",
                quote(alias),
                quote(region)
            ));
        }
        out
    }
}

fn variables_text(declared: &[VifOut]) -> String {
    let mut out = String::from(
        "# The BGP auth keys of the imported peers. dxctl import never writes a key: each is a sensitive variable\n\
         # without a default, so `dxctl plan` asks for every one. Give each the peer's current key (AWS shows it as\n\
         # bgpPeers[].authKey in DescribeVirtualInterfaces) in one of these ways:\n\
         #   export DXCTL_VAR_<name>=...           in the environment (a CI secret, a password manager)\n\
         #   dxctl plan --var <name>=...           on the command line\n\
         #   dxctl plan --var-file keys.hcl        lines of <name> = \"...\", in a file kept out of git\n\
         # A value that differs from the live key plans a replacement of that peer (the plan says\n\
         # `auth_key = (sensitive) # forces replacement`), which interrupts its BGP session.\n",
    );
    for v in declared {
        for p in &v.peers {
            if let Some(name) = &p.key_variable {
                out.push_str(&format!(
                    "\nvariable {} {{\n  description = {}\n  type = string\n  sensitive = true\n}}\n",
                    quote(name),
                    quote(&format!(
                        "BGP auth key of {} ({} peer {} on {})",
                        shown_id(p.peer),
                        p.peer.family,
                        p.label,
                        v.vif.id
                    ))
                ));
            }
        }
    }
    out
}

/// The VIF blocks of one file.
fn vifs_text(key: &str, vifs: &[&VifOut], providers: &Providers) -> String {
    let peers: usize = vifs.iter().map(|v| v.peers.len()).sum();
    let mut out = format!(
        "# Written by dxctl import from {}: {} virtual interface{}, {} BGP peer{}.\n",
        comment_text(key),
        vifs.len(),
        plural(vifs.len()),
        peers,
        plural(peers)
    );
    for v in vifs {
        out.push('\n');
        out.push_str(&format!(
            "# {} virtual interface on {}\n",
            comment_text(v.vif.vif_type.as_str()),
            comment_text(
                v.vif
                    .connection_id
                    .as_deref()
                    .unwrap_or("an unknown connection")
            )
        ));
        out.push_str(&format!("virtual_interface {} {{\n", quote(&v.vif.id.0)));
        if let Some(alias) = providers.aliases.get(&v.vif.scope.region) {
            out.push_str(&format!("  provider = aws.{alias}\n\n"));
        }
        for (i, p) in v.peers.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&peer_text(p));
        }
        out.push_str("}\n");
    }
    out
}

fn peer_text(p: &Declared) -> String {
    let peer = p.peer;
    let mut out = format!("  # {}", shown_id(peer));
    if peer.state != PeerState::Available {
        out.push_str(&format!(
            ", {} when imported",
            comment_text(peer.state.as_str())
        ));
    }
    out.push('\n');
    out.push_str(&format!("  bgp_peer {} {{\n", quote(&p.label)));
    out.push_str(&format!(
        "    address_family = {}\n",
        quote(peer.family.as_str())
    ));
    let asn = peer.asn.get();
    if peer.asn.is_four_byte() {
        out.push_str(&format!(
            "    asn = {asn} # asdot {}.{}\n",
            asn >> 16,
            asn & 0xffff
        ));
    } else {
        out.push_str(&format!("    asn = {asn}\n"));
    }
    if let Some((amazon, customer)) = p.addresses {
        out.push_str(&format!("    amazon_address = {}\n", quote(amazon)));
        out.push_str(&format!("    customer_address = {}\n", quote(customer)));
    }
    if let Some(name) = &p.key_variable {
        out.push_str(&format!("    auth_key = var.{name}\n"));
    }
    out.push_str("  }\n");
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Whether the config language takes this VIF id (as its loader checks).
fn is_vif_id(id: &str) -> bool {
    id.strip_prefix("dxvif-")
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// A peer's id as shown in comments and messages.
fn shown_id(peer: &ObservedPeer) -> String {
    comment_text(peer.bgp_peer_id.as_deref().unwrap_or("(no id)"))
}

/// Text safe in a `#` comment: one line, no control characters.
fn comment_text(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// An HCL identifier from free text: letters, digits and `_`, starting with a letter.
fn identifier(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out.insert_str(0, "r_");
    }
    out
}

/// A file name stem from a region or connection id: no separators, no leading dot.
fn file_stem(text: &str) -> String {
    let out: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() {
        "_".into()
    } else {
        out
    }
}

/// An HCL string literal: quotes, backslashes, control characters and template openers escaped.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests;
