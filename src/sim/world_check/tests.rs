use std::path::{Path, PathBuf};

use super::*;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn errors(text: &str) -> Vec<Problem> {
    check(text).expect_err("the world is refused").0
}

/// `(path, line, column, rule)` of each error.
fn located(text: &str) -> Vec<(String, usize, usize, &'static str)> {
    errors(text)
        .into_iter()
        .map(|e| (e.path, e.line, e.column, e.rule.name()))
        .collect()
}

fn vif(fields: &str) -> String {
    format!(r#"{{"virtualInterfaces": [{{"virtualInterfaceId": "dxvif-a", {fields}}}]}}"#)
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn example_worlds_pass() {
    for dir in std::fs::read_dir(repo().join("examples")).unwrap() {
        let world = dir.unwrap().path().join("world.json");
        if world.exists() {
            let text = std::fs::read_to_string(&world).unwrap();
            assert_eq!(check(&text), Ok(()), "{}", world.display());
        }
    }
}

#[test]
fn invalid_fixtures_snapshots() {
    let files = json_files(&repo().join("tests/fixtures/worlds/invalid"));
    assert!(files.len() >= 12, "only {} fixtures", files.len());
    for file in files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        let rendered = check(&text)
            .expect_err(&format!("{name} is refused"))
            .to_string();
        let parsed = crate::sim::World::parse(&text).expect_err(&name);
        assert_eq!(
            format!("{parsed:#}"),
            rendered,
            "World::parse reports the same"
        );
        insta::assert_snapshot!(name, rendered);
    }
}

#[test]
fn a_well_formed_world_with_every_kind_passes() {
    let text = r#"{
      "virtualInterfaces": [{
        "virtualInterfaceId": "dxvif-a", "region": "eu-west-1", "vlan": 4094, "asn": 0, "asnLong": 4200000000,
        "amazonSideAsn": 64512, "mtu": 9001, "jumboFrameCapable": true, "virtualInterfaceState": "confirming",
        "routeFilterPrefixes": [{"cidr": "203.0.113.0/24"}], "tags": [{"key": "k"}, {"key": "k2", "value": null}],
        "bgpPeers": [
          {"bgpPeerId": "dxpeer-a", "asn": 1, "asnLong": 1, "addressFamily": "ipv4", "bgpPeerState": "verifying", "bgpStatus": "unknown"},
          {"bgpPeerId": "dxpeer-b", "asn": 2147483646, "addressFamily": "ipv6", "futureField": {"x": [1.5]}}
        ],
        "someNewMember": "kept", "customerRouterConfig": null
      }],
      "connections": [{"connectionId": "dxcon-a", "loaIssueTime": 1700000000.5, "vlan": 1, "hasLogicalRedundancy": "unknown",
                       "macSecKeys": [{"secretARN": "arn", "state": "associated"}], "rateLimiterStatus": {"inUse": 0}}],
      "lags": [{"lagId": "dxlag-a", "numberOfConnections": 2, "connections": [{"connectionId": "dxcon-a"}], "lagState": "down"}],
      "interconnects": [{"interconnectId": "dxcon-a", "interconnectState": "requested"}],
      "sim": {"anything": ["goes", "here"]},
      "conformanceFixture": 7
    }"#;
    assert_eq!(check(text), Ok(()));
    assert_eq!(check(r#"{"connections": []}"#), Ok(()));
}

#[test]
fn integers_must_be_written_whole_and_fit_their_width() {
    for bad in ["\"125\"", "125.0", "1.25e2", "true", "[125]"] {
        assert_eq!(
            located(&vif(&format!(r#""vlan": {bad}"#))),
            [("virtualInterfaces[0].vlan".into(), 1, 66, "type")],
            "{bad}"
        );
    }
    let e = &errors(&vif(r#""numberOfFoo": 1, "vlan": 3000000000"#))[0];
    assert_eq!(
        e.message, "expected a 32-bit integer; got 3000000000",
        "{e}"
    );
    let e = &errors(&vif(r#""amazonSideAsn": 1e3"#))[0];
    assert_eq!(e.message, "expected an integer; got 1e3");
    // Found by the sim_world fuzz target: `-0` passed, then came back from a written world as -0.0.
    let e = &errors(&vif(r#""amazonSideAsn": -0"#))[0];
    assert_eq!(e.message, "expected an integer; got -0");
}

#[test]
fn documented_ranges() {
    let range = |fields: &str| -> Vec<String> {
        check(&vif(fields))
            .err()
            .map(|e| e.0.into_iter().map(|e| e.message).collect())
            .unwrap_or_default()
    };
    assert!(range(r#""vlan": 1, "mtu": 1500, "asn": 1, "asnLong": 4294967294"#).is_empty());
    assert_eq!(range(r#""vlan": -1"#), ["expected 1..4094; got -1"]);
    assert_eq!(
        range(r#""mtu": 8501"#),
        ["expected one of 1500, 8500, 9001; got 8501"]
    );
    assert_eq!(range(r#""asnLong": 0"#), ["expected 1..4294967294; got 0"]);
    assert_eq!(
        range(r#""asn": 2147483647"#),
        ["expected 1..2147483646 (or 0 beside an asnLong above 65535); got 2147483647"]
    );
    // asn 0 is how the API answers for a 4-byte asnLong, and only then.
    assert!(range(r#""asn": 0, "asnLong": 65536"#).is_empty());
    assert_eq!(range(r#""asn": 0, "asnLong": 65535"#).len(), 1);
    assert_eq!(range(r#""asn": 0"#).len(), 1);
    // Unchecked where the API states no range.
    assert!(range(r#""amazonSideAsn": 0"#).is_empty());
}

#[test]
fn null_is_accepted_except_for_required_members() {
    assert_eq!(
        check(&vif(r#""vlan": null, "bgpPeerState": null, "tags": null"#)),
        Ok(())
    );
    assert_eq!(
        located(
            r#"{"virtualInterfaces": [{"virtualInterfaceId": null, "tags": [{"key": null}]}]}"#
        ),
        [
            (
                "virtualInterfaces[0].virtualInterfaceId".into(),
                1,
                47,
                "required"
            ),
            ("virtualInterfaces[0].tags[0].key".into(), 1, 70, "required"),
        ]
    );
}

#[test]
fn ids_are_required_and_unique_within_their_kind() {
    let text = r#"{
  "connections": [{"connectionId": "dx-1"}, {"connectionName": "x"}, {"connectionId": 5}],
  "lags": [{"lagId": "dx-1", "connections": [{"connectionId": "dx-1"}]}, {"lagId": "dx-1"}],
  "interconnects": [{"interconnectId": "dx-1"}, {}]
}"#;
    assert_eq!(
        located(text),
        [
            ("connections[1]".into(), 2, 45, "required"),
            ("connections[2].connectionId".into(), 2, 87, "type"),
            ("lags[1].lagId".into(), 3, 84, "unique"),
            ("interconnects[1]".into(), 4, 49, "required"),
        ]
    );
    let e = &errors(text)[2];
    assert_eq!(
        e.message,
        r#"expected a lagId not used before; got "dx-1", already used at line 3, column 22"#
    );
}

#[test]
fn top_level_and_resource_shapes() {
    assert_eq!(
        located(r#"{"virtualInterfaces": {}, "connections": [1, null], "lags": null, "sim": []}"#),
        [
            ("virtualInterfaces".into(), 1, 23, "type"),
            ("connections[0]".into(), 1, 43, "type"),
            ("connections[1]".into(), 1, 46, "type"),
            ("lags".into(), 1, 61, "type"),
            ("sim".into(), 1, 74, "type"),
        ]
    );
    assert_eq!(located("5"), [(String::new(), 1, 1, "type")]);
    assert_eq!(located(" \n"), [(String::new(), 1, 1, "syntax")]);
}

#[test]
fn nested_lists_and_structures_are_checked() {
    let text = r#"{"lags": [{"lagId": "dxlag-a", "rateLimiterStatus": {"inUse": "1"},
      "connections": [{"connectionState": "gone", "tags": [5]}]}]}"#;
    let got: Vec<String> = errors(text).iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            r#"line 1, column 63: lags[0].rateLimiterStatus.inUse: expected an integer; got "1" [type]"#,
            r#"line 2, column 43: lags[0].connections[0].connectionState: expected one of ordering, requested, pending, available, down, deleting, deleted, rejected, unknown; got "gone" [enum]"#,
            "line 2, column 60: lags[0].connections[0].tags[0]: expected an object; got 5 [type]",
        ]
    );
}

#[test]
fn malformed_json_is_located() {
    let e =
        &errors("{\n  \"virtualInterfaces\": [\n    {\"virtualInterfaceId\" \"dxvif-a\"}\n  ]\n}")
            [0];
    assert_eq!((e.line, e.column, e.rule), (3, 27, Rule::Syntax), "{e}");
    // Strict JSON: none of the JSONC conveniences.
    for text in [
        "{} // comment",
        "{'virtualInterfaces': []}",
        "{virtualInterfaces: []}",
        r#"{"virtualInterfaces": [],}"#,
        r#"{"vlan": 0x7d}"#,
        r#"{"vlan": +1}"#,
        r#"{"vlan": .5}"#,
        r#"{"vlan": NaN}"#,
        "{} {}",
    ] {
        assert_eq!(errors(text)[0].rule, Rule::Syntax, "{text}");
    }
}

#[test]
fn columns_count_characters_and_long_values_are_shortened() {
    let text = format!(
        "{{\"virtualInterfaces\": [{{\"virtualInterfaceName\": \"café\", \"virtualInterfaceId\": \"dxvif-a\", \"addressFamily\": \"{}\"}}]}}",
        "x".repeat(100)
    );
    let e = &errors(&text)[0];
    assert_eq!((e.line, e.column), (1, 107));
    assert_eq!(
        e.message,
        format!(r#"expected one of ipv4, ipv6; got "{}..."#, "x".repeat(39))
    );
}

#[test]
fn timestamps_are_epoch_seconds_or_iso_8601_date_times() {
    let connection = |loa: &str| {
        format!(r#"{{"connections": [{{"connectionId": "dxcon-a", "loaIssueTime": {loa}}}]}}"#)
    };
    // Numbers as the JSON protocol sends them; ISO 8601 as AWS CLI v2 prints them (and RFC 3339 forms).
    for good in [
        "1700000000",
        "1700000000.5",
        r#""2023-11-14T22:13:20+00:00""#,
        r#""2023-11-14T22:13:20.123000+00:00""#,
        r#""2023-11-14T22:13:20Z""#,
        r#""2023-11-14T23:13:20+01:00""#,
        r#""20231114T221320Z""#,
    ] {
        assert_eq!(check(&connection(good)), Ok(()), "{good}");
    }
    for bad in [
        r#""2023-11-14""#,
        r#""2023-11-14T22:13:20""#,
        r#""2023-11-14T25:13:20Z""#,
        r#""yesterday""#,
        r#""""#,
        "true",
    ] {
        let e = errors(&connection(bad));
        assert_eq!(e.len(), 1, "{bad}: {e:?}");
        assert_eq!(
            (e[0].path.as_str(), e[0].rule),
            ("connections[0].loaIssueTime", Rule::Type),
            "{bad}"
        );
        assert!(
            e[0].message.starts_with(
                "expected a timestamp: epoch seconds (a number) or an ISO 8601 date-time"
            ),
            "{}",
            e[0].message
        );
    }
    assert_eq!(
        epoch_seconds("2023-11-14T22:13:20+00:00"),
        Some(1_700_000_000.into())
    );
    assert_eq!(
        epoch_seconds("2023-11-14T23:13:20+01:00"),
        Some(1_700_000_000.into())
    );
    assert_eq!(
        epoch_seconds("2023-11-14T22:13:20.5Z").and_then(|n| n.as_f64()),
        Some(1_700_000_000.5)
    );
    assert_eq!(epoch_seconds("2023-11-14"), None);
}

#[test]
fn iso_8601_timestamps_load_as_epoch_seconds() {
    let world = crate::sim::World::parse(
        r#"{
          "connections": [{"connectionId": "dxcon-a", "loaIssueTime": "2023-11-14T22:13:20+00:00"}],
          "lags": [{"lagId": "dxlag-a",
                    "connections": [{"connectionId": "dxcon-b", "loaIssueTime": "2023-11-14T22:13:20.500000+00:00"}]}],
          "interconnects": [{"interconnectId": "dxcon-c", "loaIssueTime": 1700000000}]
        }"#,
    )
    .unwrap();
    let out: serde_json::Value = serde_json::from_str(&world.to_json()).unwrap();
    assert_eq!(out["connections"][0]["loaIssueTime"], 1_700_000_000);
    assert_eq!(
        out["lags"][0]["connections"][0]["loaIssueTime"],
        1_700_000_000.5
    );
    assert_eq!(out["interconnects"][0]["loaIssueTime"], 1_700_000_000);
}
