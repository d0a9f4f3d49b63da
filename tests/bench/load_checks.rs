//! What `cargo test` runs of this bench: the same load and lost-update check at a small scale and without timing,
//! and the simulator's rule checks staying atomic with their writes under concurrent SDK clients. Each check panics
//! on failure; `run` reports each by name, as a test harness would.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

use crate::load_common::{
    api_matches_world, error_code, find_peer, generate_world, ipv4_pair, lost_updates, new_client,
    request_log_matches, run_load, start_sim, LoadPlan, Op, CLIENT_EXCEPTION,
};

/// Runs the checks whose names contain `filter` (all without one), each on its own 4-thread runtime, and fails
/// when any panics.
pub fn run(filter: Option<&str>) -> ExitCode {
    type Check = (&'static str, fn());
    let checks: [Check; 3] = [
        ("concurrent_mixed_load_loses_no_updates", || {
            on_runtime(concurrent_mixed_load_loses_no_updates())
        }),
        (
            "parallel_creates_without_logical_redundancy_admit_one_peer_per_family",
            || on_runtime(parallel_creates_without_logical_redundancy_admit_one_peer_per_family()),
        ),
        (
            "lost_update_check_reports_each_kind_of_difference",
            lost_update_check_reports_each_kind_of_difference,
        ),
    ];
    let mut failed = 0;
    let chosen: Vec<&Check> = checks
        .iter()
        .filter(|(name, _)| filter.is_none_or(|f| name.contains(f)))
        .collect();
    println!("\nrunning {} checks", chosen.len());
    for (name, check) in &chosen {
        let ok = std::panic::catch_unwind(check).is_ok();
        println!("check {name} ... {}", if ok { "ok" } else { "FAILED" });
        failed += usize::from(!ok);
    }
    println!(
        "\ncheck result: {}. {} passed; {failed} failed\n",
        if failed == 0 { "ok" } else { "FAILED" },
        chosen.len() - failed
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn on_runtime(check: impl std::future::Future<Output = ()>) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(check);
}

pub async fn concurrent_mixed_load_loses_no_updates() {
    let seed = generate_world(16, &["us-east-1", "eu-west-1"], "yes", 2);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.jsonl");
    let sim = start_sim(seed.world.clone(), None, Some(log.clone())).await;
    let plan = LoadPlan {
        clients: 16,
        requests: 1_500,
        seed: 7,
    };
    let outcome = run_load(&sim, &seed, &plan).await;

    assert_eq!(outcome.samples().count(), plan.requests);
    let failures: Vec<String> = outcome
        .failures()
        .take(10)
        .map(|f| {
            format!(
                "client {} {}: {} {}",
                f.client,
                f.op.name(),
                f.code,
                f.message
            )
        })
        .collect();
    assert!(
        failures.is_empty(),
        "unexpected errors {:?}, e.g. {failures:#?}",
        outcome.errors_by_code()
    );
    let anomalies: Vec<&String> = outcome.anomalies().collect();
    assert!(anomalies.is_empty(), "malformed answers: {anomalies:#?}");
    let ok = outcome.successes_by_op();
    for op in [
        Op::DescribeAllVifs,
        Op::DescribeVifById,
        Op::DescribeConnections,
        Op::CreatePeer,
        Op::DeletePeer,
    ] {
        assert!(
            ok.get(&op).copied().unwrap_or(0) > 10,
            "too few successful {}: {ok:?}",
            op.name()
        );
    }

    let problems = lost_updates(&sim.world(), &seed, &outcome);
    assert!(problems.is_empty(), "lost updates: {problems:#?}");
    let problems = request_log_matches(&log, &outcome);
    assert!(problems.is_empty(), "request log: {problems:#?}");
    let problems = api_matches_world(&sim, &seed).await;
    assert!(
        problems.is_empty(),
        "the API and the world disagree: {problems:#?}"
    );
    sim.stop().await.unwrap();
}

/// Without logical redundancy a VIF takes one live peer per address family. Many clients race to add an
/// IPv4 and an IPv6 peer to the same empty VIFs: exactly one of each family may win per VIF, and every
/// loser must be refused, so the rule check and the insert happen as one step.
pub async fn parallel_creates_without_logical_redundancy_admit_one_peer_per_family() {
    const VIFS: usize = 6;
    const CLIENTS: usize = 16;
    const REGION: &str = "us-east-1";
    let seed = generate_world(VIFS, &[REGION], "no", 0);
    let vifs = seed.vifs_by_region[REGION].clone();
    let sim = start_sim(seed.world.clone(), None, None).await;

    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(new_client(&sim.endpoint_url(), REGION).await);
    }
    let attempts = CLIENTS * vifs.len() * 2;
    let start = Arc::new(tokio::sync::Barrier::new(attempts));
    let mut tasks = Vec::new();
    for (c, client) in clients.iter().enumerate() {
        for (v, vif) in vifs.iter().enumerate() {
            for family in ["ipv4", "ipv6"] {
                let (client, vif, start) = (client.clone(), vif.clone(), start.clone());
                // Distinct ASN and addresses for every attempt, so only the family rule can refuse it.
                let n = (c * vifs.len() + v) * 2 + usize::from(family == "ipv6");
                let asn = 64_512 + n as i64;
                tasks.push(tokio::spawn(async move {
                    let mut peer = aws_sdk_directconnect::types::NewBgpPeer::builder()
                        .asn(asn as i32)
                        .auth_key(format!("race-key-{n}"));
                    peer = if family == "ipv4" {
                        let (amazon, customer) = ipv4_pair(n);
                        peer.address_family(aws_sdk_directconnect::types::AddressFamily::IPv4)
                            .amazon_address(amazon)
                            .customer_address(customer)
                    } else {
                        peer.address_family(aws_sdk_directconnect::types::AddressFamily::IPv6)
                    };
                    start.wait().await;
                    let result = client
                        .create_bgp_peer()
                        .virtual_interface_id(&vif)
                        .new_bgp_peer(peer.build())
                        .send()
                        .await;
                    let outcome = match result {
                        Ok(out) => Ok(out
                            .virtual_interface()
                            .and_then(|v| find_peer(v, asn, family))
                            .expect("the returned VIF holds the new peer")),
                        Err(e) => Err(error_code(&e)),
                    };
                    (vif, family, outcome)
                }));
            }
        }
    }

    // (vif, family) -> winners' peer ids, and losers' error codes.
    let mut winners: BTreeMap<(String, &str), Vec<String>> = BTreeMap::new();
    let mut refusals: BTreeMap<String, usize> = BTreeMap::new();
    for task in tasks {
        let (vif, family, outcome) = task.await.unwrap();
        match outcome {
            Ok(id) => winners.entry((vif, family)).or_default().push(id),
            Err(code) => *refusals.entry(code).or_default() += 1,
        }
    }
    for vif in &vifs {
        for family in ["ipv4", "ipv6"] {
            let won = winners.get(&(vif.clone(), family)).map_or(0, Vec::len);
            assert_eq!(
                won, 1,
                "{vif} {family}: {won} creates succeeded; all winners: {winners:?}"
            );
        }
    }
    let losers = attempts - vifs.len() * 2;
    assert_eq!(
        refusals,
        BTreeMap::from([(CLIENT_EXCEPTION.to_string(), losers)]),
        "every losing create is refused with {CLIENT_EXCEPTION}"
    );

    // The world agrees: each VIF holds exactly the two winners.
    let world = sim.world();
    for vif in &vifs {
        let v = world
            .virtual_interfaces
            .iter()
            .find(|w| &w.virtual_interface_id == vif)
            .unwrap();
        let mut held: Vec<(String, String)> = v
            .bgp_peers
            .iter()
            .map(|p| {
                (
                    p.address_family.clone().unwrap_or_default(),
                    p.bgp_peer_id.clone().unwrap_or_default(),
                )
            })
            .collect();
        held.sort();
        let expected = vec![
            (
                "ipv4".to_string(),
                winners[&(vif.clone(), "ipv4")][0].clone(),
            ),
            (
                "ipv6".to_string(),
                winners[&(vif.clone(), "ipv6")][0].clone(),
            ),
        ];
        assert_eq!(held, expected, "peers of {vif}");
    }
    sim.stop().await.unwrap();
}

/// The lost-update check is not vacuous: a vanished create, an undone delete and an unreported peer are
/// each reported.
pub fn lost_update_check_reports_each_kind_of_difference() {
    use crate::load_common::{ClientReport, CreatedPeer, LoadOutcome};
    use dxctl::sim::world::Peer;

    let seed = generate_world(2, &["us-east-1"], "yes", 1);
    let vif = seed.vifs_by_region["us-east-1"][0].clone();
    let created = |id: &str, asn: i64, deleted: bool| CreatedPeer {
        client: 0,
        vif: vif.clone(),
        id: id.to_string(),
        asn,
        family: "ipv6",
        customer_address: None,
        deleted,
    };
    let outcome = LoadOutcome {
        plan: LoadPlan {
            clients: 1,
            requests: 0,
            seed: 0,
        },
        wall: std::time::Duration::ZERO,
        reports: vec![ClientReport {
            created: vec![
                created("dxpeer-gone0001", 4_200_000_001, false),
                created("dxpeer-kept0002", 4_200_000_002, true),
                created("dxpeer-fine0003", 4_200_000_003, false),
            ],
            ..ClientReport::default()
        }],
    };
    let peer = |id: &str, asn: i64| Peer {
        bgp_peer_id: Some(id.to_string()),
        asn: Some(0),
        asn_long: Some(asn),
        address_family: Some("ipv6".into()),
        bgp_peer_state: Some("available".into()),
        ..Peer::default()
    };
    let mut world = seed.world.clone();
    std::sync::Arc::make_mut(&mut world.virtual_interfaces[0])
        .bgp_peers
        .extend([
            peer("dxpeer-kept0002", 4_200_000_002),
            peer("dxpeer-fine0003", 4_200_000_003),
            peer("dxpeer-ghost004", 4_200_000_004),
        ]);

    let problems = lost_updates(&world, &seed, &outcome);
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(problems[0].starts_with("lost create: peer dxpeer-gone0001"));
    assert!(problems[1].starts_with("lost delete: peer dxpeer-kept0002"));
    assert!(problems[2].starts_with("phantom: peer dxpeer-ghost004"));

    // Nothing else is wrong with the seed world itself.
    let clean = LoadOutcome {
        reports: Vec::new(),
        ..outcome
    };
    assert!(lost_updates(&seed.world, &seed, &clean).is_empty());
}
