//! How the real Rust SDK sees each injected simulator fault, and SigV4 verification.

use std::time::{Duration, Instant};

use aws_sdk_directconnect::config::retry::RetryConfig;
use aws_sdk_directconnect::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_directconnect::types::{AddressFamily, NewBgpPeer};
use aws_sdk_directconnect::Client;
use dxctl::aws::{ClientSettings, SdkDirectConnect};
use dxctl::sim::{self, RunningSim, SimOptions, World};
use serde_json::Value;

use super::support::*;

struct Harness {
    running: RunningSim,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start(change: impl FnOnce(&mut World)) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let mut world = World::load(&repo().join("examples/seed/world.json")).unwrap();
        world.sim.provision_delay = Some("200ms".into());
        change(&mut world);
        let log = dir.path().join("requests.jsonl");
        let running = sim::start(
            world,
            SimOptions {
                request_log: Some(log.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        Harness {
            running,
            log,
            _dir: dir,
        }
    }

    /// The SDK client with fast retries (3 attempts, 10 ms initial backoff), signed with `secret`.
    async fn client_with(&self, access_key: &str, secret: &str) -> Client {
        let dc = SdkDirectConnect::new(&ClientSettings {
            endpoint_url: Some(self.running.endpoint_url()),
            static_credentials: Some((access_key.into(), secret.into())),
            region: Some("us-east-1".into()),
            profile: None,
            ..ClientSettings::default()
        })
        .await;
        let conf = dc
            .client("us-east-1")
            .config()
            .to_builder()
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(10)),
            )
            .build();
        Client::from_conf(conf)
    }

    async fn client(&self) -> Client {
        self.client_with("AKIDTEST", "secret").await
    }

    fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn ipv6_peer() -> NewBgpPeer {
    NewBgpPeer::builder()
        .asn(64600)
        .address_family(AddressFamily::IPv6)
        .build()
}

async fn create_ipv6(client: &Client) -> Result<String, String> {
    client
        .create_bgp_peer()
        .virtual_interface_id("dxvif-fg1vuj3d")
        .new_bgp_peer(ipv6_peer())
        .send()
        .await
        .map(|out| {
            let vif = out.virtual_interface().unwrap();
            let peer = vif
                .bgp_peers()
                .iter()
                .find(|p| p.address_family() == Some(&AddressFamily::IPv6))
                .unwrap();
            peer.bgp_peer_id().unwrap().to_string()
        })
        .map_err(|e| e.code().unwrap_or("(no code)").to_string())
}

async fn peer_state(client: &Client, id: &str) -> String {
    let out = client.describe_virtual_interfaces().send().await.unwrap();
    out.virtual_interfaces()
        .iter()
        .flat_map(|v| v.bgp_peers())
        .find(|p| p.bgp_peer_id() == Some(id))
        .map(|p| p.bgp_peer_state().unwrap().as_str().to_string())
        .unwrap_or_else(|| "gone".into())
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_then_surfaces_as_throttling_exception() {
    let h = Harness::start(|w| w.sim.faults.throttle_rate = 1.0).await;
    let err = h
        .client()
        .await
        .describe_virtual_interfaces()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some("ThrottlingException"),
        "{}",
        DisplayErrorContext(&err)
    );
    assert_eq!(
        h.requests().len(),
        3,
        "the SDK's standard mode retried throttling to its 3 attempts"
    );
    assert!(h
        .requests()
        .iter()
        .all(|r| r["status"] == 400 && r["errorCode"] == "ThrottlingException"));
}

#[tokio::test]
async fn some_throttling_is_hidden_by_retries() {
    let h = Harness::start(|w| {
        w.sim.faults.throttle_rate = 0.3;
        w.sim.seed = Some(11);
    })
    .await;
    let client = h.client().await;
    let mut ok = 0;
    for _ in 0..20 {
        if client.describe_virtual_interfaces().send().await.is_ok() {
            ok += 1;
        }
    }
    let throttled = h
        .requests()
        .iter()
        .filter(|r| r["errorCode"] == "ThrottlingException")
        .count();
    assert!(throttled > 0, "some requests were throttled");
    assert!(
        ok >= 18,
        "retries absorb a 30% throttle rate: {ok}/20 succeeded"
    );
}

#[tokio::test]
async fn server_errors_are_retried_then_surface_as_server_exception() {
    let h = Harness::start(|w| w.sim.faults.server_error_rate = 1.0).await;
    let err = h
        .client()
        .await
        .describe_connections()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some("DirectConnectServerException"),
        "{}",
        DisplayErrorContext(&err)
    );
    assert_eq!(h.requests().len(), 3);
    assert!(h.requests().iter().all(|r| r["status"] == 500));
}

#[tokio::test]
async fn dropped_connections_surface_as_dispatch_errors_after_retries() {
    let h = Harness::start(|w| w.sim.faults.drop_rate = 1.0).await;
    let err = h
        .client()
        .await
        .describe_virtual_interfaces()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        None,
        "no service error: the connection closed with no response"
    );
    let text = format!("{}", DisplayErrorContext(&err));
    assert!(
        text.contains("dispatch failure")
            || text.contains("response error")
            || text.contains("io error"),
        "{text}"
    );
    assert_eq!(h.requests().len(), 3, "transient I/O errors are retried");
    assert!(h.requests().iter().all(|r| r["fault"] == "drop"));
}

#[tokio::test]
async fn a_dropped_create_still_happened_and_the_sdks_blind_retries_were_refused() {
    // The operation runs before the connection drops: exactly the lost-response case dxctl must handle.
    let h = Harness::start(|w| w.sim.faults.drop_rate = 1.0).await;
    let result = create_ipv6(&h.client().await).await;
    assert_eq!(
        result,
        Err("(no code)".to_string()),
        "the client saw only dropped connections"
    );
    let world = h.running.world();
    let v6 = world.virtual_interfaces[0]
        .bgp_peers
        .iter()
        .filter(|p| p.address_family.as_deref() == Some("ipv6"))
        .count();
    assert_eq!(v6, 1, "the first attempt created the peer");
    // The SDK re-sent CreateBGPPeer blindly; the family rule refused the repeats (their answers were dropped too).
    let log: Vec<(u64, String)> = h
        .requests()
        .iter()
        .map(|r| {
            (
                r["status"].as_u64().unwrap(),
                r["errorCode"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        log,
        vec![
            (200, String::new()),
            (400, "DirectConnectClientException".to_string()),
            (400, "DirectConnectClientException".to_string())
        ]
    );
}

#[tokio::test]
async fn latency_delays_every_response() {
    let h = Harness::start(|w| w.sim.faults.latency = Some("300ms".into())).await;
    let client = h.client().await;
    client.describe_lags().send().await.unwrap();
    let started = Instant::now();
    client.describe_lags().send().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn transitioning_state_is_a_client_exception_the_sdk_does_not_retry() {
    let h = Harness::start(|w| w.sim.faults.transitioning_rate = 1.0).await;
    let client = h.client().await;
    let err = client
        .create_bgp_peer()
        .virtual_interface_id("dxvif-fg1vuj3d")
        .new_bgp_peer(ipv6_peer())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("DirectConnectClientException"));
    assert!(
        err.message().unwrap().contains("transitioning state"),
        "{:?}",
        err.message()
    );
    assert_eq!(h.requests().len(), 1, "not retried by the SDK");
    client
        .describe_virtual_interfaces()
        .send()
        .await
        .expect("reads are never refused as transitioning");
}

#[tokio::test]
async fn stuck_pending_peers_never_become_available() {
    let h = Harness::start(|w| w.sim.faults.stuck_pending_rate = 1.0).await;
    let client = h.client().await;
    let id = create_ipv6(&client).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(peer_state(&client, &id).await, "pending");
}

#[tokio::test]
async fn some_peers_end_deleted_instead_of_available() {
    let h = Harness::start(|w| w.sim.faults.end_deleted_rate = 1.0).await;
    let client = h.client().await;
    let id = create_ipv6(&client).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(peer_state(&client, &id).await, "deleted");
}

#[tokio::test]
async fn sigv4_is_verified_when_the_world_names_credentials() {
    let h = Harness::start(|w| {
        w.sim.credentials = vec![serde_json::from_value(
            serde_json::json!({"accessKeyId": "AKIDGOOD", "secretAccessKey": "right-secret"}),
        )
        .unwrap()];
    })
    .await;
    h.client_with("AKIDGOOD", "right-secret")
        .await
        .describe_virtual_interfaces()
        .send()
        .await
        .expect("the right key signs");
    let err = h
        .client_with("AKIDGOOD", "wrong-secret")
        .await
        .describe_virtual_interfaces()
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidSignatureException"));
    let err = h
        .client_with("AKIDOTHER", "right-secret")
        .await
        .describe_virtual_interfaces()
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("UnrecognizedClientException"));
    // JSON-protocol services answer signature failures with HTTP 400, as DynamoDB and ECS do.
    assert!(h
        .requests()
        .iter()
        .any(|r| r["status"] == 400 && r["errorCode"] == "UnrecognizedClientException"));
}

#[test]
fn fault_flags_on_sim_serve_reach_dxctl_as_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let world = seed_world(cwd, "100ms");
    let sim = SimProcess::start(&world, cwd, &["--fault", "throttle=1", "--seed", "3"]);
    let config = config_dir(cwd, "cfg", SEED_HCL);
    let out = run(dxctl(cwd)
        .env("AWS_MAX_ATTEMPTS", "2")
        .args(["--endpoint-url", &sim.url(), "plan"])
        .arg(&config));
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("ThrottlingException"), "{}", out.stderr);
    assert_eq!(
        sim.count("DescribeVirtualInterfaces"),
        2,
        "AWS_MAX_ATTEMPTS bounds the SDK's retries"
    );

    let bad = run(std::process::Command::new(bin())
        .args(["sim", "serve", "--world"])
        .arg(&world)
        .args(["--fault", "throttle=2"]));
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("from 0 to 1"), "{}", bad.stderr);
}
