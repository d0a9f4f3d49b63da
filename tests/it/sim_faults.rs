//! How the real Rust SDK sees each injected simulator fault (before and after the operation's effect, late writes),
//! the `sim serve` flags for rate limits, consistency windows, deleted retention and BGP timing, and SigV4.

use std::time::{Duration, Instant};

use aws_sdk_directconnect::config::retry::RetryConfig;
use aws_sdk_directconnect::config::timeout::TimeoutConfig;
use aws_sdk_directconnect::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
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
        sdk_client(
            &self.running.endpoint_url(),
            access_key,
            secret,
            fast_retries(),
            None,
        )
        .await
    }

    async fn client(&self) -> Client {
        self.client_with("AKIDTEST", "secret").await
    }

    /// One attempt per call: the client sees each fault itself.
    async fn one_attempt_client(&self, timeouts: Option<TimeoutConfig>) -> Client {
        sdk_client(
            &self.running.endpoint_url(),
            "AKIDTEST",
            "secret",
            RetryConfig::disabled(),
            timeouts,
        )
        .await
    }

    /// The seed VIF's IPv6 peers in the simulator's world.
    fn ipv6_peers(&self) -> Vec<String> {
        self.running.world().virtual_interfaces[0]
            .bgp_peers
            .iter()
            .filter(|p| p.address_family.as_deref() == Some("ipv6"))
            .map(|p| p.state().to_string())
            .collect()
    }

    /// `(status, fault)` of each logged request.
    fn log(&self) -> Vec<(u64, String)> {
        self.requests()
            .iter()
            .map(|r| {
                (
                    r["status"].as_u64().unwrap(),
                    r["fault"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn fast_retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(10))
}

/// dxctl's SDK client for `url` in us-east-1, with the given retries and timeouts.
async fn sdk_client(
    url: &str,
    access_key: &str,
    secret: &str,
    retry: RetryConfig,
    timeouts: Option<TimeoutConfig>,
) -> Client {
    let dc = SdkDirectConnect::new(&ClientSettings {
        endpoint_url: Some(url.to_string()),
        static_credentials: Some((access_key.into(), secret.into())),
        region: Some("us-east-1".into()),
        profile: None,
        ..ClientSettings::default()
    })
    .await;
    let mut conf = dc
        .client("us-east-1")
        .config()
        .to_builder()
        .retry_config(retry);
    if let Some(timeouts) = timeouts {
        conf = conf.timeout_config(timeouts);
    }
    Client::from_conf(conf.build())
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
        2 * 4,
        "AWS_MAX_ATTEMPTS bounds the SDK's retries in each of the plan's 4 rounds of describing"
    );
    assert_eq!(
        out.stderr.matches("trying again").count(),
        3,
        "each failed round is reported: {}",
        out.stderr
    );

    let bad = run(std::process::Command::new(bin())
        .args(["sim", "serve", "--world"])
        .arg(&world)
        .args(["--fault", "throttle=2"]));
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("from 0 to 1"), "{}", bad.stderr);
}

#[tokio::test]
async fn server_error_after_the_effect_is_a_500_for_a_peer_that_exists() {
    // With retries disabled the first attempt's 500 reaches the caller, and the peer was created all the same.
    let h = Harness::start(|w| w.sim.faults.server_error_after_rate = 1.0).await;
    let err = h
        .one_attempt_client(None)
        .await
        .create_bgp_peer()
        .virtual_interface_id("dxvif-fg1vuj3d")
        .new_bgp_peer(ipv6_peer())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some("DirectConnectServerException"),
        "{}",
        DisplayErrorContext(&err)
    );
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));
    assert_eq!(h.ipv6_peers(), ["pending"], "the 500 came after the create");
    assert_eq!(h.log(), [(500, "server-error-after".to_string())]);

    // By default the SDK retries a 500 CreateBGPPeer: the retries run too (refused, since the first attempt's peer
    // is pending), each answered 500 again. One peer, three attempts, and the caller only ever saw 500s.
    let h = Harness::start(|w| w.sim.faults.server_error_after_rate = 1.0).await;
    let result = create_ipv6(&h.client().await).await;
    assert_eq!(result, Err("DirectConnectServerException".to_string()));
    assert_eq!(h.ipv6_peers(), ["pending"], "exactly one peer");
    assert_eq!(h.log(), vec![(500, "server-error-after".to_string()); 3]);
}

/// A 502 with an HTML page and no error code after the create took effect: the SDK reports no code at all, and
/// dxctl's classification calls it a server failure (it may have taken effect), never a refusal.
#[tokio::test]
async fn an_uncoded_502_after_the_effect_is_a_server_failure_not_a_refusal() {
    let h = Harness::start(|w| w.sim.faults.bad_gateway_after_rate = 1.0).await;
    let err = h
        .one_attempt_client(None)
        .await
        .create_bgp_peer()
        .virtual_interface_id("dxvif-fg1vuj3d")
        .new_bgp_peer(ipv6_peer())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), None, "{}", DisplayErrorContext(&err));
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(502));
    let failure = dxctl::aws::Failure::from_sdk(&err);
    assert_eq!(failure.kind, dxctl::aws::FailureKind::Server, "{failure}");
    assert_eq!(h.ipv6_peers(), ["pending"], "the 502 came after the create");
    assert_eq!(h.log(), [(502, "bad-gateway-after".to_string())]);
}

#[tokio::test]
async fn drop_before_changes_nothing_drop_after_does() {
    for (before, rate) in [(true, "drop-before"), (false, "drop")] {
        let h = Harness::start(|w| {
            if before {
                w.sim.faults.drop_before_rate = 1.0;
            } else {
                w.sim.faults.drop_rate = 1.0;
            }
        })
        .await;
        let err = h
            .one_attempt_client(None)
            .await
            .create_bgp_peer()
            .virtual_interface_id("dxvif-fg1vuj3d")
            .new_bgp_peer(ipv6_peer())
            .send()
            .await
            .unwrap_err();
        // No response at all: the SDK reports the connection failure, not a service error.
        assert!(
            matches!(
                err,
                SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
            ),
            "{rate}: {}",
            DisplayErrorContext(&err)
        );
        assert_eq!(err.code(), None, "{rate}");
        if before {
            assert!(h.ipv6_peers().is_empty(), "{rate}: nothing ran");
            assert_eq!(h.log(), [(0, "drop-before".to_string())]);
        } else {
            assert_eq!(h.ipv6_peers(), ["pending"], "{rate}: the create ran");
            assert_eq!(h.log(), [(200, "drop".to_string())]);
        }
    }
    // With its default retries the SDK tries three times; dropped before the effect, none of them created anything.
    let h = Harness::start(|w| w.sim.faults.drop_before_rate = 1.0).await;
    assert_eq!(
        create_ipv6(&h.client().await).await,
        Err("(no code)".to_string())
    );
    assert!(h.ipv6_peers().is_empty());
    assert_eq!(h.log(), vec![(0, "drop-before".to_string()); 3]);
}

#[tokio::test]
async fn a_late_write_lands_after_the_sdks_operation_timeout() {
    let h = Harness::start(|w| {
        w.sim.faults.late_write_rate = 1.0;
        w.sim.faults.late_write_delay = Some("800ms".into());
    })
    .await;
    let client = h
        .one_attempt_client(Some(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_millis(300))
                .build(),
        ))
        .await;
    let started = Instant::now();
    let err = client
        .create_bgp_peer()
        .virtual_interface_id("dxvif-fg1vuj3d")
        .new_bgp_peer(ipv6_peer())
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(err, SdkError::TimeoutError(_)),
        "{}",
        DisplayErrorContext(&err)
    );
    assert!(h.ipv6_peers().is_empty(), "not there when the SDK gave up");
    // Reads are not held: a describe answers within the same timeout, and does not show the peer yet.
    let out = client.describe_virtual_interfaces().send().await.unwrap();
    assert_eq!(out.virtual_interfaces()[0].bgp_peers().len(), 1);
    let deadline = Instant::now() + Duration::from_secs(5);
    while h.ipv6_peers().is_empty() {
        assert!(Instant::now() < deadline, "the late write never landed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        started.elapsed() >= Duration::from_millis(720),
        "landed after lateWriteDelay: {:?}",
        started.elapsed()
    );
    assert_eq!(h.ipv6_peers(), ["pending"]);
    assert!(h.log().contains(&(200, "late-write".to_string())));
}

#[tokio::test]
async fn attempt_timeouts_are_retried_and_every_late_attempt_lands() {
    // Each attempt times out and is retried; all three writes land later, in order: the first creates the peer, the
    // other two are refused (transitioning while it is pending, then the address-family rule). The SDK saw only
    // timeouts: a blind retry of a timed-out write is not harmless.
    let h = Harness::start(|w| {
        w.sim.faults.late_write_rate = 1.0;
        w.sim.faults.late_write_delay = Some("500ms".into());
    })
    .await;
    let client = sdk_client(
        &h.running.endpoint_url(),
        "AKIDTEST",
        "secret",
        fast_retries(),
        Some(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_millis(150))
                .build(),
        ),
    )
    .await;
    let err = client
        .create_bgp_peer()
        .virtual_interface_id("dxvif-fg1vuj3d")
        .new_bgp_peer(ipv6_peer())
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(err, SdkError::TimeoutError(_)),
        "{}",
        DisplayErrorContext(&err)
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while h.requests().len() < 3 {
        assert!(Instant::now() < deadline, "the late attempts never landed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(h.ipv6_peers().len(), 1, "one peer");
    assert_eq!(
        h.log(),
        [
            (200, "late-write".to_string()),
            (400, "late-write".to_string()),
            (400, "late-write".to_string())
        ]
    );
}

/// `dxctl sim serve` on the seed world with `flags`, and a one-attempt SDK client for it.
async fn serve(dir: &std::path::Path, flags: &[&str]) -> (SimProcess, Client) {
    let world = seed_world(dir, "100ms");
    let sim = SimProcess::start(&world, dir, flags);
    let client = sdk_client(
        &sim.url(),
        "AKIDTEST",
        "secret",
        RetryConfig::disabled(),
        None,
    )
    .await;
    (sim, client)
}

#[tokio::test]
async fn rate_limit_flag_throttles_per_operation() {
    let tmp = tempfile::tempdir().unwrap();
    let (sim, client) = serve(tmp.path(), &["--rate-limit", "describe=0.5/2"]).await;
    for _ in 0..2 {
        client.describe_connections().send().await.unwrap();
    }
    let err = client.describe_connections().send().await.unwrap_err();
    assert_eq!(err.code(), Some("ThrottlingException"));
    assert_eq!(err.message(), Some("Rate exceeded"));
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    // Each operation has its own bucket, and mutating calls have no limit.
    client.describe_virtual_interfaces().send().await.unwrap();
    client.describe_virtual_interfaces().send().await.unwrap();
    create_ipv6(&client).await.unwrap();
    let limited: Vec<Value> = sim
        .requests()
        .into_iter()
        .filter(|r| r["fault"] == "rate-limit")
        .collect();
    assert_eq!(limited.len(), 1, "{limited:?}");
    assert_eq!(limited[0]["operation"], "DescribeConnections");

    let bad = run(std::process::Command::new(bin())
        .args(["sim", "serve", "--world"])
        .arg(tmp.path().join("world.json"))
        .args(["--rate-limit", "CreateBGPPeer=fast"]));
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("--rate-limit"), "{}", bad.stderr);
}

/// Whether a describe right now lists the peer `id`.
async fn lists_peer(client: &Client, id: &str) -> bool {
    let out = client.describe_virtual_interfaces().send().await.unwrap();
    out.virtual_interfaces()
        .iter()
        .flat_map(|v| v.bgp_peers())
        .any(|p| p.bgp_peer_id() == Some(id))
}

#[tokio::test]
async fn consistency_window_flag_makes_describes_stale_in_its_region() {
    let tmp = tempfile::tempdir().unwrap();
    let (_sim, client) = serve(
        tmp.path(),
        &[
            "--consistency-window",
            "0s",
            "--consistency-window",
            "us-east-1=600ms",
        ],
    )
    .await;
    let id = create_ipv6(&client).await.unwrap();
    let answered = Instant::now();
    let mut stale = 0;
    while answered.elapsed() < Duration::from_millis(300) {
        if !lists_peer(&client, &id).await {
            stale += 1;
        }
    }
    assert!(stale > 0, "some describes within the window are stale");
    tokio::time::sleep(Duration::from_millis(650).saturating_sub(answered.elapsed())).await;
    for _ in 0..20 {
        assert!(lists_peer(&client, &id).await, "never staler than 600ms");
    }
}

#[tokio::test]
async fn deleted_retention_and_bgp_up_delay_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let (_sim, client) = serve(
        tmp.path(),
        &[
            "--deletion-delay",
            "100ms",
            "--deleted-retention",
            "400ms",
            "--bgp-up-delay",
            "200ms",
        ],
    )
    .await;
    let id = create_ipv6(&client).await.unwrap();
    let created = Instant::now();
    let peer = |out: &aws_sdk_directconnect::operation::describe_virtual_interfaces::DescribeVirtualInterfacesOutput| {
        out.virtual_interfaces()[0]
            .bgp_peers()
            .iter()
            .find(|p| p.bgp_peer_id() == Some(id.as_str()))
            .map(|p| {
                (
                    p.bgp_peer_state().unwrap().as_str().to_string(),
                    p.bgp_status().unwrap().as_str().to_string(),
                )
            })
    };
    // Available after 100ms, BGP up 200ms later.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let out = client.describe_virtual_interfaces().send().await.unwrap();
        if peer(&out) == Some(("available".into(), "up".into())) {
            break;
        }
        assert!(Instant::now() < deadline, "{:?}", peer(&out));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        created.elapsed() >= Duration::from_millis(250),
        "{:?}",
        created.elapsed()
    );

    client
        .delete_bgp_peer()
        .virtual_interface_id("dxvif-fg1vuj3d")
        .bgp_peer_id(&id)
        .send()
        .await
        .unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let out = client.describe_virtual_interfaces().send().await.unwrap();
        let state = peer(&out).map(|(s, _)| s);
        if seen.last().map(|(s, _)| s) != Some(&state) {
            seen.push((state.clone(), Instant::now()));
        }
        if state.is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "{seen:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let states: Vec<Option<&str>> = seen.iter().map(|(s, _)| s.as_deref()).collect();
    assert_eq!(states, [Some("deleting"), Some("deleted"), None]);
    let lingered = seen[2].1 - seen[1].1;
    assert!(
        lingered >= Duration::from_millis(300),
        "listed as deleted for --deleted-retention: {lingered:?}"
    );
}
