//! The generator's unit tests: exact text, labels, what is left out, and generated configs planned for real.
use super::*;
use crate::model::{Asn, BgpStatus, Desired, Observed, Scope, Secret, VifId, VifState, VifType};
use crate::plan::Action;
use proptest::prelude::*;

const KEY: &str = "MKimport-unit-key-5e1f";

fn peer(
    id: &str,
    family: AddressFamily,
    asn: u32,
    addresses: Option<(&str, &str)>,
) -> ObservedPeer {
    ObservedPeer {
        bgp_peer_id: Some(id.to_string()),
        family,
        asn: Asn::new(u64::from(asn)).unwrap(),
        auth_key: Some(Secret::new(format!("{KEY}-{id}"))),
        amazon_address: addresses.map(|a| a.0.to_string()),
        customer_address: addresses.map(|a| a.1.to_string()),
        state: PeerState::Available,
        bgp_status: BgpStatus::Up,
    }
}

fn vif(id: &str, region: &str, connection: &str, peers: Vec<ObservedPeer>) -> ObservedVif {
    ObservedVif {
        id: VifId(id.to_string()),
        scope: Scope::region(region),
        state: VifState::Available,
        vif_type: VifType::Private,
        connection_id: Some(connection.to_string()),
        peers,
    }
}

fn generate_for(regions: &[&str], vifs: &[ObservedVif], split_by: SplitBy) -> Generated {
    let regions: Vec<String> = regions.iter().map(|r| r.to_string()).collect();
    generate(&Request {
        regions: &regions,
        vifs,
        owned_labels: &HashMap::new(),
        split_by,
    })
    .unwrap()
}

/// Writes the files, loads them as `dxctl plan` would with every key variable set to the live key, and plans
/// against the same VIFs with an empty state.
fn plan_generated(generated: &Generated, vifs: &[ObservedVif]) -> crate::plan::Plan {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in &generated.files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let mut env = BTreeMap::new();
    for v in vifs {
        for p in &v.peers {
            if let Some(key) = &p.auth_key {
                // Which variable holds which key is read back from the generated text.
                let wanted = format!("BGP auth key of {} (", comment_text(p.id()));
                for text in generated.files.values() {
                    for block in text.split("variable \"").skip(1) {
                        if block.contains(&wanted) && block.contains(&format!("on {})", v.id)) {
                            let name = block.split('"').next().unwrap();
                            env.insert(format!("DXCTL_VAR_{name}"), key.expose().to_string());
                        }
                    }
                }
            }
        }
    }
    let inputs = crate::config::Inputs {
        env,
        ..Default::default()
    };
    let config = crate::config::load_dir(dir.path(), &inputs).unwrap_or_else(|e| {
        panic!(
            "generated config does not load: {e:?}\n{:#?}",
            generated.files
        )
    });
    let desired: Desired = config.desired("us-east-1");
    let observed = Observed {
        vifs: vifs.to_vec(),
        ..Default::default()
    };
    crate::plan::plan(&desired, &observed, &crate::state::State::default())
}

fn adopts_everything(plan: &crate::plan::Plan, peers: usize) {
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    assert_eq!(plan.changes.len(), peers, "{:#?}", plan.changes);
    for c in &plan.changes {
        assert!(
            matches!(c.action, Action::Adopt { .. } | Action::Wait { .. }),
            "{}: {:?}",
            c.address,
            c.action
        );
    }
}

#[test]
fn seed_vif_is_written_as_fmt_writes_it() {
    let vifs = [vif(
        "dxvif-fg1vuj3d",
        "us-east-1",
        "dxcon-fguhmqlc",
        vec![peer(
            "dxpeer-fg1v4v4e",
            AddressFamily::Ipv4,
            65000,
            Some(("169.254.255.1/30", "169.254.255.2/30")),
        )],
    )];
    let g = generate_for(&["us-east-1"], &vifs, SplitBy::Region);
    assert_eq!(
        g.files.keys().collect::<Vec<_>>(),
        ["providers.hcl", "us-east-1.hcl", "variables.hcl"]
    );
    assert_eq!(
        g.files["us-east-1.hcl"],
        r#"# Written by dxctl import from us-east-1: 1 virtual interface, 1 BGP peer.

# private virtual interface on dxcon-fguhmqlc
virtual_interface "dxvif-fg1vuj3d" {
  # dxpeer-fg1v4v4e
  bgp_peer "ipv4" {
    address_family   = "ipv4"
    asn              = 65000
    amazon_address   = "169.254.255.1/30"
    customer_address = "169.254.255.2/30"
    auth_key         = var.auth_key_dxvif_fg1vuj3d_ipv4
  }
}
"#
    );
    assert_eq!(
        g.files["providers.hcl"],
        "# Written by dxctl import: one provider per imported region. VIFs outside the default one name theirs.\n\
         provider \"aws\" {\n  region = \"us-east-1\"\n}\n"
    );
    assert!(g.files["variables.hcl"].contains(
        "variable \"auth_key_dxvif_fg1vuj3d_ipv4\" {\n  description = \"BGP auth key of dxpeer-fg1v4v4e (ipv4 peer ipv4 on dxvif-fg1vuj3d)\"\n  type        = string\n  sensitive   = true\n}\n"
    ));
    for (name, text) in &g.files {
        assert_eq!(&crate::config::fmt::format(text).unwrap(), text, "{name}");
        assert!(!text.contains(KEY), "{name} holds a key");
    }
    assert_eq!((g.vifs, g.peers, g.keys), (1, 1, 1));
    adopts_everything(&plan_generated(&g, &vifs), 1);
}

#[test]
fn shared_families_4_byte_asns_and_ipv6_get_readable_labels() {
    let vifs = [vif(
        "dxvif-lr000001",
        "us-east-1",
        "dxlag-lr000001",
        vec![
            peer(
                "dxpeer-b",
                AddressFamily::Ipv4,
                65010,
                Some(("169.254.20.1/30", "169.254.20.2/30")),
            ),
            peer(
                "dxpeer-a",
                AddressFamily::Ipv4,
                65010,
                Some(("169.254.10.1/30", "169.254.10.2/30")),
            ),
            peer(
                "dxpeer-c",
                AddressFamily::Ipv6,
                4_200_000_000,
                Some(("2001:db8::1/125", "2001:db8::2/125")),
            ),
        ],
    )];
    let g = generate_for(&["us-east-1"], &vifs, SplitBy::Region);
    let text = &g.files["us-east-1.hcl"];
    let at = |s: &str| text.find(s).unwrap_or_else(|| panic!("{s} not in\n{text}"));
    assert!(at("# dxpeer-a\n  bgp_peer \"ipv4\"") < at("# dxpeer-b\n  bgp_peer \"ipv4_2\""));
    assert!(text.contains("bgp_peer \"ipv6\""));
    assert!(text.contains("asn            = 4200000000 # asdot 64086.59904"));
    // IPv6 addresses cannot be declared; AWS assigned them.
    assert!(!text.contains("2001:db8"));
    adopts_everything(&plan_generated(&g, &vifs), 3);
}

#[test]
fn gone_unusable_and_indistinct_peers_are_left_out_and_reported() {
    let mut deleting = peer("dxpeer-del", AddressFamily::Ipv4, 65001, None);
    deleting.state = PeerState::Deleting;
    let mut pending = peer(
        "dxpeer-pend",
        AddressFamily::Ipv4,
        65002,
        Some(("169.254.1.1/30", "169.254.1.2/30")),
    );
    pending.state = PeerState::Pending;
    let mut dead = vif(
        "dxvif-dead0001",
        "us-east-1",
        "dxcon-1",
        vec![peer("dxpeer-x", AddressFamily::Ipv4, 1, None)],
    );
    dead.state = VifState::Deleted;
    let vifs = [
        vif(
            "dxvif-live0001",
            "us-east-1",
            "dxcon-1",
            vec![
                deleting,
                pending,
                peer("dxpeer-v6a", AddressFamily::Ipv6, 64600, None),
                peer("dxpeer-v6b", AddressFamily::Ipv6, 64600, None),
            ],
        ),
        dead,
        vif("dxvif-empty001", "us-east-1", "dxcon-1", vec![]),
    ];
    let g = generate_for(&["us-east-1"], &vifs, SplitBy::Region);
    let text = &g.files["us-east-1.hcl"];
    assert!(
        text.contains("# dxpeer-pend, pending when imported\n  bgp_peer \"ipv4\""),
        "{text}"
    );
    assert!(
        !text.contains("dxpeer-del") && !text.contains("dxpeer-v6") && !text.contains("dxvif-dead")
    );
    assert_eq!((g.vifs, g.peers), (1, 1));
    let shown: Vec<String> = g.skipped.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "dxvif-dead0001: the virtual interface is deleted; its peers cannot be managed",
            "dxvif-empty001: no BGP peer to import",
            "dxvif-live0001: peer dxpeer-del is deleting",
            "dxvif-live0001: peer dxpeer-v6a (ipv6, ASN 64600) cannot be told apart from another ipv6 peer with ASN 64600 in a config (IPv6 addresses cannot be declared); declare it by hand once one of them is gone",
            "dxvif-live0001: peer dxpeer-v6b (ipv6, ASN 64600) cannot be told apart from another ipv6 peer with ASN 64600 in a config (IPv6 addresses cannot be declared); declare it by hand once one of them is gone",
        ]
    );
    let plan = plan_generated(&g, &vifs[..1]);
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    assert!(matches!(
        plan.changes[..],
        [crate::plan::Change {
            action: Action::Wait { .. },
            ..
        }]
    ));
}

#[test]
fn regions_get_providers_and_files_split_by_connection() {
    let vifs = [
        vif(
            "dxvif-eu000001",
            "eu-west-1",
            "dxcon-eu1",
            vec![peer("dxpeer-1", AddressFamily::Ipv4, 65020, None)],
        ),
        vif(
            "dxvif-us000001",
            "us-east-1",
            "dxlag-us1",
            vec![peer("dxpeer-2", AddressFamily::Ipv6, 65010, None)],
        ),
        vif(
            "dxvif-us000002",
            "us-east-1",
            "dxlag-us1",
            vec![peer("dxpeer-3", AddressFamily::Ipv6, 65011, None)],
        ),
    ];
    let g = generate_for(
        &["us-east-1", "ap-southeast-2", "eu-west-1"],
        &vifs,
        SplitBy::Connection,
    );
    assert_eq!(
        g.files.keys().collect::<Vec<_>>(),
        [
            "dxcon-eu1.hcl",
            "dxlag-us1.hcl",
            "providers.hcl",
            "variables.hcl"
        ]
    );
    let providers = &g.files["providers.hcl"];
    assert!(providers.contains("provider \"aws\" {\n  region = \"us-east-1\"\n}"));
    assert!(providers.contains("alias  = \"eu_west_1\"\n  region = \"eu-west-1\""));
    assert!(
        !providers.contains("ap-southeast-2"),
        "a region with nothing imported gets no provider"
    );
    assert!(g.files["dxcon-eu1.hcl"].contains("  provider = aws.eu_west_1\n\n  # dxpeer-1"));
    assert!(!g.files["dxlag-us1.hcl"].contains("provider ="));
    adopts_everything(&plan_generated(&g, &vifs), 3);
    let by_region = generate_for(&["eu-west-1", "us-east-1"], &vifs, SplitBy::Region);
    assert_eq!(
        by_region.files.keys().collect::<Vec<_>>(),
        [
            "eu-west-1.hcl",
            "providers.hcl",
            "us-east-1.hcl",
            "variables.hcl"
        ]
    );
    assert!(by_region.files["providers.hcl"].contains("alias  = \"us_east_1\""));
}

#[test]
fn managed_peers_keep_the_label_their_state_records() {
    let vifs = [vif(
        "dxvif-owned001",
        "us-east-1",
        "dxcon-1",
        vec![
            peer("dxpeer-1", AddressFamily::Ipv4, 65000, None),
            peer("dxpeer-2", AddressFamily::Ipv6, 65000, None),
        ],
    )];
    let owned = HashMap::from([(
        ("dxvif-owned001".to_string(), "dxpeer-2".to_string()),
        "ipv4".to_string(),
    )]);
    let regions = ["us-east-1".to_string()];
    let g = generate(&Request {
        regions: &regions,
        vifs: &vifs,
        owned_labels: &owned,
        split_by: SplitBy::Region,
    })
    .unwrap();
    let text = &g.files["us-east-1.hcl"];
    assert!(
        text.contains("# dxpeer-2\n  bgp_peer \"ipv4\" {\n    address_family = \"ipv6\""),
        "{text}"
    );
    assert!(text.contains("# dxpeer-1\n  bgp_peer \"ipv4_2\""), "{text}");
}

#[test]
fn hostile_ids_cannot_break_out_of_strings_comments_or_the_directory() {
    let mut odd = vif(
        "dxvif-ok000001",
        "us-east-1",
        "../../etc/passwd\n}",
        vec![peer("dxpeer-\n}x", AddressFamily::Ipv4, 65000, None)],
    );
    odd.vif_type = VifType::Other("weird\ntype".into());
    let bad = vif(
        "dxvif-\"x",
        "us-east-1",
        "dxcon-1",
        vec![peer("dxpeer-1", AddressFamily::Ipv4, 65000, None)],
    );
    let vifs = [odd, bad];
    let g = generate_for(&["us-east-1"], &vifs, SplitBy::Connection);
    assert!(
        g.files
            .keys()
            .all(|k| !k.contains('/') && !k.starts_with('.')),
        "{:?}",
        g.files.keys()
    );
    assert_eq!(
        g.skipped,
        [Skipped::MalformedVifId {
            vif: "dxvif-\"x".into()
        }]
    );
    adopts_everything(&plan_generated(&g, &vifs[..1]), 1);
}

#[test]
fn nothing_to_import_writes_nothing() {
    let g = generate_for(&["us-east-1"], &[], SplitBy::Region);
    assert!(g.files.is_empty() && g.skipped.is_empty());
}

#[test]
fn quoting_escapes_what_hcl_interprets() {
    assert_eq!(quote("a\"b\\c${x}%{y}\n"), r#""a\"b\\c$${x}%%{y}\n""#);
    assert_eq!(identifier("eu-west-1"), "eu_west_1");
    assert_eq!(identifier("1x"), "r_1x");
    assert_eq!(file_stem("../a b"), "___a_b");
}

fn arbitrary_peer() -> impl Strategy<Value = ObservedPeer> {
    (
        prop::bool::ANY,
        prop::sample::select(vec![1u32, 65000, 65001, 4_200_000_000]),
        prop::option::of((0u8..4, 0u8..2)),
        prop::sample::select(vec![
            PeerState::Available,
            PeerState::Pending,
            PeerState::Verifying,
            PeerState::Deleting,
            PeerState::Deleted,
        ]),
        prop::bool::ANY,
        0u32..1_000_000,
    )
        .prop_map(|(v6, asn, net, state, keyed, id)| {
            let family = if v6 {
                AddressFamily::Ipv6
            } else {
                AddressFamily::Ipv4
            };
            let addresses = net.map(|(n, host)| {
                if v6 {
                    (
                        format!("2001:db8::{n}:1/125"),
                        format!("2001:db8::{n}:2/125"),
                    )
                } else {
                    (
                        format!("169.254.{n}.1/30"),
                        format!("169.254.{n}.{}/30", 2 + host),
                    )
                }
            });
            let mut p = peer(&format!("dxpeer-{id}"), family, asn, None);
            p.amazon_address = addresses.as_ref().map(|a| a.0.clone());
            p.customer_address = addresses.map(|a| a.1);
            p.state = state;
            if !keyed {
                p.auth_key = None;
            }
            p
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Whatever the peers, the generated config plans only adoptions (or waits) of what it declares, and
    /// declares every live peer it does not report as left out.
    #[test]
    fn generated_config_plans_only_adoptions(peers in prop::collection::vec(prop::collection::vec(arbitrary_peer(), 0..5), 1..4)) {
        let vifs: Vec<ObservedVif> = peers
            .into_iter()
            .enumerate()
            .map(|(i, mut ps)| {
                ps.sort_by(|a, b| a.bgp_peer_id.cmp(&b.bgp_peer_id));
                ps.dedup_by(|a, b| a.bgp_peer_id == b.bgp_peer_id);
                vif(&format!("dxvif-p{i:07}"), if i % 2 == 0 { "us-east-1" } else { "eu-west-1" }, "dxcon-1", ps)
            })
            .collect();
        let g = generate_for(&["us-east-1", "eu-west-1"], &vifs, SplitBy::Region);
        let live: usize = vifs.iter().flat_map(|v| &v.peers).filter(|p| !p.state.is_gone()).count();
        let indistinct = g.skipped.iter().filter(|s| matches!(s, Skipped::Indistinct { .. })).count();
        prop_assert_eq!(g.peers + indistinct, live);
        if g.files.is_empty() {
            prop_assert_eq!(g.peers, 0);
        } else {
            let plan = plan_generated(&g, &vifs);
            prop_assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
            prop_assert_eq!(plan.changes.len(), g.peers);
            for c in &plan.changes {
                prop_assert!(matches!(c.action, Action::Adopt { .. } | Action::Wait { .. }), "{:?}", c.action);
            }
        }
    }
}
