//! dxctl against `dxctl sim serve` over HTTP: endpoint selection, batched polling, and no calls for bad config.

use super::support::*;

#[test]
fn apply_via_endpoint_url_polls_once_per_region_per_round() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let world = seed_world(cwd, "600ms");
    let sim = SimProcess::start(&world, cwd, &[]);
    let config = config_dir(cwd, "cfg", SEED_HCL);
    let out = run(dxctl(cwd)
        .args([
            "--endpoint-url",
            &sim.url(),
            "apply",
            "--auto-approve",
            "--poll-interval",
            "100ms",
        ])
        .arg(&config));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(sim.count("CreateBGPPeer"), 1);
    assert_eq!(
        sim.count("DescribeConnections"),
        0,
        "redundancy facts are not needed for the seed"
    );
    // One describe to observe, then one per polling round (about 600ms / 100ms), never one per peer.
    let describes = sim.count("DescribeVirtualInterfaces");
    assert!((2..=12).contains(&describes), "describes: {describes}");
    assert!(sim.requests().iter().all(|r| r["region"] == "us-east-1"));
    let world = sim.world();
    let v6 = &world["virtualInterfaces"][0]["bgpPeers"][1];
    assert_eq!(v6["bgpPeerState"], "available");
}

#[test]
fn standard_endpoint_variable_selects_the_simulator() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let world = seed_world(cwd, "100ms");
    let sim = SimProcess::start(&world, cwd, &[]);
    let config = config_dir(cwd, "cfg", SEED_HCL);
    let out = run(dxctl(cwd)
        .env("AWS_ENDPOINT_URL_DIRECT_CONNECT", sim.url())
        .args(["plan", "--detailed-exitcode"])
        .arg(&config));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("Plan: 1 to adopt, 1 to add, 0 to change, 0 to destroy."),
        "{}",
        out.stdout
    );
    assert_eq!(sim.count("DescribeVirtualInterfaces"), 1);
}

#[test]
fn invalid_config_exits_1_with_location_and_sends_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let world = seed_world(cwd, "100ms");
    let sim = SimProcess::start(&world, cwd, &[]);
    let bad = SEED_HCL.replace(
        "asn            = 64600",
        "asn            = 64600\n    customer_address = \"2001:db8::2/125\"",
    );
    let config = config_dir(cwd, "bad", &bad);
    for cmd in ["plan", "apply"] {
        let url = sim.url();
        let mut args = vec!["--endpoint-url", url.as_str(), cmd];
        if cmd == "apply" {
            args.push("--auto-approve");
        }
        let out = run(dxctl(cwd).args(&args).arg(&config));
        assert_eq!(out.code, 1, "{cmd}: {}", out.stderr);
        assert!(
            out.stderr.contains("error[ipv6-addresses]") && out.stderr.contains("main.hcl:16:5"),
            "{cmd}: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty());
    }
    assert_eq!(
        sim.requests().len(),
        0,
        "no API call at all for an invalid config"
    );
}

#[test]
fn second_peer_without_logical_redundancy_is_refused_before_any_create() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let world = seed_world(cwd, "100ms");
    let sim = SimProcess::start(&world, cwd, &[]);
    let hcl = SEED_HCL.replace(
        "  bgp_peer \"v6\" {",
        "  bgp_peer \"v4b\" {\n    address_family = \"ipv4\"\n    asn = 65001\n  }\n\n  bgp_peer \"v6\" {",
    );
    let config = config_dir(cwd, "cfg", &hcl);
    let out = run(dxctl(cwd)
        .args(["--endpoint-url", &sim.url(), "apply", "--auto-approve"])
        .arg(&config));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("main.hcl:13:3: error[family-exclusive]"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("hasLogicalRedundancy is no"),
        "{}",
        out.stderr
    );
    assert_eq!(sim.count("CreateBGPPeer"), 0, "nothing half-applied");
    assert_eq!(sim.count("DescribeConnections"), 1);
}

#[test]
fn missing_vif_is_refused_at_its_config_line() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let world = seed_world(cwd, "100ms");
    let sim = SimProcess::start(&world, cwd, &[]);
    let config = config_dir(
        cwd,
        "cfg",
        &SEED_HCL.replace("dxvif-fg1vuj3d", "dxvif-missing1"),
    );
    let out = run(dxctl(cwd)
        .args(["--endpoint-url", &sim.url(), "plan"])
        .arg(&config));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("main.hcl:5:1: error[vif-not-found]"),
        "{}",
        out.stderr
    );
}

#[test]
fn peers_on_many_vifs_are_polled_in_one_describe_per_round() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    // The seed world plus three more VIFs in the same region, each on a connection of its own.
    let text = std::fs::read_to_string(seed_world(cwd, "500ms")).unwrap();
    let mut world: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut hcl = String::from("provider \"aws\" {\n  region = \"us-east-1\"\n}\n");
    for i in 1..=3 {
        let mut vif = world["virtualInterfaces"][0].clone();
        vif["virtualInterfaceId"] = format!("dxvif-extra{i}").into();
        vif["connectionId"] = format!("dxcon-extra{i}").into();
        vif["bgpPeers"][0]["bgpPeerId"] = format!("dxpeer-extra{i}").into();
        world["virtualInterfaces"].as_array_mut().unwrap().push(vif);
        hcl.push_str(&format!(
            "virtual_interface \"dxvif-extra{i}\" {{\n  bgp_peer \"v6\" {{\n    address_family = \"ipv6\"\n    asn = 64600\n  }}\n}}\n"
        ));
    }
    let world_path = cwd.join("many.json");
    std::fs::write(&world_path, world.to_string()).unwrap();
    let sim = SimProcess::start(&world_path, cwd, &[]);
    let config = config_dir(cwd, "cfg", &hcl);
    let out = run(dxctl(cwd)
        .args([
            "--endpoint-url",
            &sim.url(),
            "apply",
            "--auto-approve",
            "--poll-interval",
            "100ms",
        ])
        .arg(&config));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("Resources: 3 added"), "{}", out.stdout);
    assert_eq!(sim.count("CreateBGPPeer"), 3);

    // After the last create, describes come one per polling round: never two in the same round.
    let requests = sim.requests();
    let last_create = requests
        .iter()
        .rposition(|r| r["operation"] == "CreateBGPPeer")
        .unwrap();
    let times: Vec<time::OffsetDateTime> = requests[last_create + 1..]
        .iter()
        .filter(|r| r["operation"] == "DescribeVirtualInterfaces")
        .map(|r| {
            time::OffsetDateTime::parse(
                r["time"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap()
        })
        .collect();
    assert!(times.len() >= 2, "polled {} times", times.len());
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= time::Duration::milliseconds(80),
            "two describes {gap} apart: one per peer, not per round"
        );
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Hardening: header and idle timeouts, the connection cap, admin auth, the clock-skew window, malformed admin
// requests and the non-loopback warning. Real HTTP on 127.0.0.1, every wait bounded.
// ---------------------------------------------------------------------------------------------------------------

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime};

use dxctl::sim::sigv4::{sign_request, Credential};
use serde_json::{json, Value};

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Reads until the server closes the connection (EOF or reset), at most `limit`: how long that took (`None`: still
/// open at the limit) and what was read.
fn wait_closed(s: &mut TcpStream, limit: Duration) -> (Option<Duration>, Vec<u8>) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while start.elapsed() < limit {
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return (Some(start.elapsed()), got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (Some(start.elapsed()), got),
        }
    }
    (None, got)
}

/// Whether the server has closed `s` (without waiting).
fn is_closed(s: &mut TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 1];
    let closed = match s.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    };
    s.set_nonblocking(false).unwrap();
    closed
}

/// Reads one response with a Content-Length body from a kept-alive connection: (status, body).
fn read_response(s: &mut TcpStream, limit: Duration) -> (u16, String) {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_string();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .expect("content-length");
            if data.len() >= end + 4 + length {
                let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
                let body = String::from_utf8_lossy(&data[end + 4..end + 4 + length]).to_string();
                return (status, body);
            }
        }
        let n = s.read(&mut buf).expect("response within the limit");
        assert!(
            n > 0,
            "connection closed mid-response: {:?}",
            String::from_utf8_lossy(&data)
        );
        data.extend_from_slice(&buf[..n]);
    }
}

/// A DescribeVirtualInterfaces request (AWS JSON 1.1) with a syntactically valid SigV4 header, kept alive.
fn describe_request(port: u16) -> String {
    let body = "{}";
    format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-amz-json-1.1\r\n\
         X-Amz-Target: OvertureService.DescribeVirtualInterfaces\r\nX-Amz-Date: 20260101T000000Z\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/directconnect/aws4_request, \
         SignedHeaders=host, Signature={}\r\nContent-Length: {}\r\n\r\n{body}",
        "0".repeat(64),
        body.len()
    )
}

#[test]
fn a_request_head_sent_slowly_is_cut_off_at_the_header_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let world = seed_world(tmp.path(), "100ms");
    let sim = SimProcess::start(
        &world,
        tmp.path(),
        &["--header-timeout", "500ms", "--idle-timeout", "5s"],
    );

    // Half a request line, then nothing.
    let mut s = connect(sim.port);
    s.write_all(b"POST / HT").unwrap();
    let (closed, got) = wait_closed(&mut s, Duration::from_secs(4));
    let closed = closed.expect("a half-sent request line is cut off");
    assert!(
        closed >= Duration::from_millis(400) && closed < Duration::from_millis(2500),
        "closed after {closed:?}, not at the 500ms header timeout (idle timeout 5s)"
    );
    assert!(
        got.is_empty(),
        "no answer: {:?}",
        String::from_utf8_lossy(&got)
    );

    // A byte every 100ms does not keep the clock from running: it starts at the head's first byte.
    let mut s = connect(sim.port);
    let start = Instant::now();
    let head = format!(
        "GET /_sim/world HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-Pad: {}",
        sim.port,
        "a".repeat(100)
    );
    let mut cut = None;
    for byte in head.bytes() {
        if s.write_all(&[byte]).is_err() || is_closed(&mut s) {
            cut = Some(start.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let cut = cut.expect("a trickled head is cut off");
    assert!(
        cut < Duration::from_millis(2500),
        "trickled head lasted {cut:?}"
    );

    // A complete head whose body never comes in full: 408 once the body's time (as long again) is up, then closed.
    let mut s = connect(sim.port);
    let start = Instant::now();
    write!(
        s,
        "POST /_sim/faults HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 20\r\n\r\n{{}}",
        sim.port
    )
    .unwrap();
    let (closed, got) = wait_closed(&mut s, Duration::from_secs(4));
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    closed.expect("closed after the 408");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_millis(3000),
        "408 after {took:?}"
    );

    // The simulator still serves.
    assert_eq!(
        sim.world()["virtualInterfaces"][0]["virtualInterfaceId"],
        "dxvif-fg1vuj3d"
    );
}

#[test]
fn idle_connections_are_closed_after_the_idle_timeout_and_busy_ones_are_not() {
    let tmp = tempfile::tempdir().unwrap();
    let world = seed_world(tmp.path(), "100ms");
    let sim = SimProcess::start(
        &world,
        tmp.path(),
        &[
            "--header-timeout",
            "300ms",
            "--idle-timeout",
            "1s",
            "--fault",
            "latency=1500ms",
        ],
    );
    let window = |closed: Option<Duration>, what: &str| {
        let closed = closed.unwrap_or_else(|| panic!("{what}: still open after 5s"));
        assert!(
            closed >= Duration::from_millis(800) && closed < Duration::from_secs(4),
            "{what}: closed after {closed:?}, not at the 1s idle timeout (header timeout 300ms)"
        );
    };

    // A connection that never sends a byte lives past the header timeout, until the idle timeout.
    let mut silent = connect(sim.port);
    window(
        wait_closed(&mut silent, Duration::from_secs(5)).0,
        "never-used connection",
    );

    // A kept-alive connection: a request slower than the idle timeout is answered, twice on the same connection,
    // and the connection is closed an idle timeout after the last answer.
    let mut s = connect(sim.port);
    for round in 0..2 {
        let start = Instant::now();
        s.write_all(describe_request(sim.port).as_bytes()).unwrap();
        let (status, body) = read_response(&mut s, Duration::from_secs(10));
        assert_eq!(status, 200, "round {round}: {body}");
        assert!(
            start.elapsed() >= Duration::from_millis(1400),
            "the latency fault applied"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let (closed, got) = wait_closed(&mut s, Duration::from_secs(5));
    assert!(got.is_empty());
    let closed = closed.map(|d| d + Duration::from_millis(300));
    window(closed, "kept-alive connection after its answer");
}

/// Connections in /proc/PID/fd (Linux), the simulator's open files.
#[cfg(target_os = "linux")]
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

#[cfg(target_os = "linux")]
#[test]
fn at_the_connection_cap_idle_connections_make_room_for_real_requests() {
    const CAP: usize = 32;
    const EXTRA: usize = 16;
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let world = seed_world(cwd, "100ms");
    // Timeouts far longer than the test: only the cap is at work.
    let sim = SimProcess::start(
        &world,
        cwd,
        &[
            "--max-connections",
            &CAP.to_string(),
            "--header-timeout",
            "60s",
            "--idle-timeout",
            "60s",
        ],
    );
    let baseline = open_fds(sim.pid());

    // CAP + EXTRA connections that never finish a request: half silent, half with half a request head.
    let mut idle: Vec<TcpStream> = Vec::new();
    for i in 0..CAP + EXTRA {
        let mut s = connect(sim.port);
        if i % 2 == 1 {
            s.write_all(b"GET /_sim/wor").unwrap();
        }
        idle.push(s);
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(300));
    let during = open_fds(sim.pid());
    assert!(
        during <= baseline + CAP + 2,
        "{during} open files with the cap at {CAP} (baseline {baseline})"
    );

    // A raw HTTP request and a real SDK client (dxctl plan) are served promptly.
    let start = Instant::now();
    assert_eq!(
        sim.world()["virtualInterfaces"][0]["virtualInterfaceId"],
        "dxvif-fg1vuj3d"
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "raw request took {:?}",
        start.elapsed()
    );
    let config = config_dir(cwd, "cfg", SEED_HCL);
    let mut plan = dxctl(cwd);
    plan.args(["--endpoint-url", &sim.url(), "plan", "--detailed-exitcode"])
        .arg(&config);
    let start = Instant::now();
    let out = run_bounded(plan, cwd, "plan", Duration::from_secs(30));
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "plan took {:?}",
        start.elapsed()
    );
    assert!(open_fds(sim.pid()) <= baseline + CAP + 2);

    // The oldest idle connections made room: at least EXTRA of ours were closed by the simulator.
    let closed = idle.iter_mut().map(is_closed).filter(|c| *c).count();
    assert!(
        closed >= EXTRA,
        "only {closed} idle connections were closed"
    );
    assert!(is_closed(&mut idle[0]), "the oldest went first");
}

const ADMIN_SECRET: &str = "admin/Secret+Key/0123456789abcdefghij";

/// The seed world with `sim.credentials` (so SigV4 is verified) and a public VIF whose peer awaits approval.
fn locked_world(dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(seed_world(dir, "100ms")).unwrap();
    let mut world: Value = serde_json::from_str(&text).unwrap();
    let mut public = world["virtualInterfaces"][0].clone();
    public["virtualInterfaceId"] = json!("dxvif-pub00001");
    public["virtualInterfaceType"] = json!("public");
    public["vlan"] = json!(3001);
    public["bgpPeers"][0]["bgpPeerId"] = json!("dxpeer-pub00001");
    public["bgpPeers"][0]["bgpPeerState"] = json!("verifying");
    world["virtualInterfaces"]
        .as_array_mut()
        .unwrap()
        .push(public);
    world["sim"]["manualApproval"] = json!(true);
    world["sim"]["credentials"] =
        json!([{"accessKeyId": "AKIDADMIN", "secretAccessKey": ADMIN_SECRET}]);
    let path = dir.join("locked.json");
    std::fs::write(&path, serde_json::to_string_pretty(&world).unwrap()).unwrap();
    path
}

fn key(secret: &str) -> Credential {
    serde_json::from_value(json!({"accessKeyId": "AKIDADMIN", "secretAccessKey": secret})).unwrap()
}

#[test]
fn admin_routes_need_a_configured_key_when_sigv4_is_on() {
    let tmp = tempfile::tempdir().unwrap();
    let world = locked_world(tmp.path());
    let sim = SimProcess::start(&world, tmp.path(), &[]);
    let auth_key = sim.world()["virtualInterfaces"][0]["bgpPeers"][0]["authKey"]
        .as_str()
        .unwrap()
        .to_string();
    let now = SystemTime::now();
    let wrong = key("not-the-secret");
    let right = key(ADMIN_SECRET);
    for (method, path, body) in [
        ("GET", "/_sim/world", ""),
        ("POST", "/_sim/approve", "{}"),
        ("POST", "/_sim/faults", r#"{"dropRate": 1.0}"#),
    ] {
        for (what, signer, code) in [
            ("unsigned", None, "MissingAuthenticationTokenException"),
            (
                "wrong secret",
                Some((&wrong, now)),
                "InvalidSignatureException",
            ),
            (
                "signed 20 minutes ago",
                Some((&right, now - Duration::from_secs(20 * 60))),
                "InvalidSignatureException",
            ),
        ] {
            let (status, answer) = admin_request(sim.port, method, path, body, signer);
            assert_eq!(status, 400, "{method} {path} {what}: {answer}");
            let answer_json: Value = serde_json::from_str(&answer).unwrap();
            assert_eq!(answer_json["__type"], code, "{method} {path} {what}");
            for leaked in [
                auth_key.as_str(),
                ADMIN_SECRET,
                "virtualInterfaces",
                "dxpeer-",
            ] {
                assert!(
                    !answer.contains(leaked),
                    "{method} {path} {what} leaks {leaked}: {answer}"
                );
            }
        }
    }
    // Nothing was approved or faulted by the refused requests.
    let world = sim.world();
    assert_eq!(
        world["virtualInterfaces"][1]["bgpPeers"][0]["bgpPeerState"],
        "verifying"
    );
    assert!(
        world["sim"]["faults"].get("dropRate").is_none(),
        "{}",
        world["sim"]
    );
    // Signed with the listed key (by SimProcess::world, as above), within the window: served.
    let (status, _) = admin_request(
        sim.port,
        "GET",
        "/_sim/world",
        "",
        Some((&right, now - Duration::from_secs(5 * 60))),
    );
    assert_eq!(status, 200);
}

/// An API call (DescribeVirtualInterfaces over AWS JSON 1.1) signed with the admin key at `time`: (status, body).
fn api_call_signed_at(port: u16, time: SystemTime) -> (u16, Value) {
    let host = format!("127.0.0.1:{port}");
    let body = "{}";
    let headers = [
        ("host", host.as_str()),
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", "OvertureService.DescribeVirtualInterfaces"),
    ];
    let signed = sign_request(
        "POST",
        &format!("http://{host}/"),
        &headers,
        body.as_bytes(),
        &key(ADMIN_SECRET),
        "us-east-1",
        "directconnect",
        time,
    )
    .unwrap();
    let mut request = "POST / HTTP/1.1\r\n".to_string();
    for (name, value) in headers
        .iter()
        .map(|&(n, v)| (n.to_string(), v.to_string()))
        .chain(signed)
    {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    let mut s = connect(port);
    s.write_all(request.as_bytes()).unwrap();
    let (status, body) = read_response(&mut s, Duration::from_secs(10));
    (status, serde_json::from_str(&body).unwrap())
}

#[test]
fn signatures_outside_the_clock_skew_window_are_refused_in_aws_words() {
    let tmp = tempfile::tempdir().unwrap();
    let world = locked_world(tmp.path());
    let sim = SimProcess::start(&world, tmp.path(), &[]);
    let now = SystemTime::now();
    let minutes = |m: u64| Duration::from_secs(m * 60);
    for (time, expected) in [
        (now - minutes(20), "Signature expired: "),
        (now + minutes(20), "Signature not yet current: "),
        (now - minutes(60 * 24 * 365 * 25), "Signature expired: "),
    ] {
        let (status, body) = api_call_signed_at(sim.port, time);
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["__type"], "InvalidSignatureException", "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.starts_with(expected), "{message}");
        assert!(message.ends_with(" 15 min.)"), "{message}");
    }
    for time in [now - minutes(5), now + minutes(5)] {
        let (status, body) = api_call_signed_at(sim.port, time);
        assert_eq!(status, 200, "{body}");
        assert!(body["virtualInterfaces"].is_array(), "{body}");
    }
    let codes: Vec<Value> = sim
        .requests()
        .iter()
        .map(|r| r["errorCode"].clone())
        .collect();
    assert_eq!(
        codes
            .iter()
            .filter(|c| *c == "InvalidSignatureException")
            .count(),
        3,
        "{codes:?}"
    );
}

#[test]
fn malformed_admin_requests_are_400s_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let world = locked_world(tmp.path());
    let sim = SimProcess::start(&world, tmp.path(), &[]);
    let state = |sim: &SimProcess| {
        sim.world()["virtualInterfaces"][1]["bgpPeers"][0]["bgpPeerState"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for bad in [
        "not json",
        "",
        "{",
        "[]",
        "null",
        r#"{"bgpPeerId": null}"#,
        r#"{"bgpPeerId": 7}"#,
        r#"{"bgpPeerId": ""}"#,
        r#"{"peer": "dxpeer-pub00001"}"#,
        r#"{"bgpPeerId": "dxpeer-pub00001", "all": true}"#,
    ] {
        let (status, body) = sim.admin("POST", "/_sim/approve", bad);
        assert_eq!(status, 400, "approve {bad:?}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["__type"], "ValidationException", "approve {bad:?}");
        assert_eq!(state(&sim), "verifying", "approve {bad:?} approved nothing");
    }
    for bad in [
        "not json",
        "",
        "[1, 2]",
        r#"{"dropRate": "often"}"#,
        r#"{"dropRat": 1}"#,
    ] {
        let (status, body) = sim.admin("POST", "/_sim/faults", bad);
        assert_eq!(status, 400, "faults {bad:?}: {body}");
        assert!(
            body.contains("ValidationException"),
            "faults {bad:?}: {body}"
        );
    }
    let (status, body) = sim.admin("POST", "/_sim/approve", "{}");
    assert_eq!((status, body.as_str()), (200, r#"{"approved":1}"#));
    assert_eq!(state(&sim), "available");
}

/// `dxctl sim serve --listen ADDR` until its port file appears, then killed: its stderr.
fn serve_stderr(dir: &std::path::Path, listen: &str) -> String {
    let port_file = dir.join(format!(
        "{}.port",
        listen.replace([':', '.', '[', ']'], "_")
    ));
    let stderr = dir.join(format!(
        "{}.stderr",
        listen.replace([':', '.', '[', ']'], "_")
    ));
    let world = seed_world(dir, "100ms");
    let mut cmd = std::process::Command::new(bin());
    hermetic(&mut cmd)
        .args(["sim", "serve", "--listen", listen, "--world"])
        .arg(&world)
        .arg("--port-file")
        .arg(&port_file)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap());
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !port_file.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(port_file.exists(), "no port file for --listen {listen}");
    std::fs::read_to_string(&stderr).unwrap()
}

#[test]
fn listening_beyond_loopback_warns_on_stderr() {
    let tmp = tempfile::tempdir().unwrap();
    let stderr = serve_stderr(tmp.path(), "0.0.0.0:0");
    assert!(stderr.contains("warning:"), "{stderr}");
    assert!(stderr.contains("beyond loopback"), "{stderr}");
    assert!(
        stderr.contains("auth key") && stderr.contains("no TLS"),
        "{stderr}"
    );
    let stderr = serve_stderr(tmp.path(), "127.0.0.1:0");
    assert!(!stderr.contains("warning"), "{stderr}");
}
