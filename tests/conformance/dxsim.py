"""Helpers for the boto3 conformance suite against `dxctl sim serve`.

The simulator's URL comes from DXCTL_SIM_URL and its world file from DXCTL_SIM_WORLD (tests/it/conformance.rs
writes the world files and starts one simulator per world). Every request goes to the loopback address in
DXCTL_SIM_URL and nowhere else.
"""

import http.client
import ipaddress
import json
import os
import re
import time
import unittest
import urllib.parse

try:
    import boto3
    import botocore
    from botocore.config import Config
    from botocore.exceptions import ClientError, HTTPClientError, ReadTimeoutError  # noqa: F401 (re-exported)
except ImportError as exc:  # pragma: no cover - reported as a failure by the runner
    raise SystemExit(
        "boto3 is required for the conformance suite: python3 -m pip install -r tests/requirements.txt ({})".format(exc)
    )

# Keys used where the simulator accepts any signature (no `sim.credentials` in the world).
ANY_KEY = "AKIDCONFORMANCE"
ANY_SECRET = "conformance-secret"

IPV6_POOL_BASE = ipaddress.IPv6Address("2001:db8:1100:2f0:0:1:9cb4:4210")
LINK_LOCAL_V4 = ipaddress.IPv4Network("169.254.0.0/16")
# AWS's wording of a refusal while a resource is mid-change ("Connection dxcon-fh9yptf2 is in a transitioning
# state.", terraform-provider-aws PR #3212); the simulator names the VIF, or the peer that is mid-change.
TRANSITIONING = "is in a transitioning state"
# DeleteBGPPeer of a VIF's last live peer, as AWS words it (terraform-provider-aws bgp_peer.go matches this text).
LAST_PEER = "The last BGP Peer on a Virtual Interface cannot be deleted"
INVALID_TOKEN = "The nextToken is not valid for this request."
# States in which a VIF, or a peer on it, makes CreateBGPPeer and DeleteBGPPeer refuse (the default rule).
VIF_TRANSITIONING_STATES = ("pending", "verifying", "confirming")
PEER_TRANSITIONING_STATES = ("pending", "deleting")


def vif_transitioning(vif_id):
    """The refusal text while the VIF itself is pending, verifying or confirming."""
    return "Virtual interface {} is in a transitioning state.".format(vif_id)


def peer_transitioning(vif_id, peer_id):
    """The refusal text while another peer of the VIF is pending or deleting (transitioningRule vif-or-peers)."""
    return "BGP peer {} of virtual interface {} is in a transitioning state.".format(peer_id, vif_id)


def not_found(kind, resource_id):
    """DescribeConnections / DescribeLags / DescribeInterconnects with an unknown id, as AWS words it
    (terraform-provider-aws connection.go and lag.go match "Could not find Connection with ID" and "... Lag ...")."""
    return "Could not find {} with ID {}".format(kind, resource_id)


def sim_url():
    url = os.environ.get("DXCTL_SIM_URL")
    if not url:
        raise RuntimeError("DXCTL_SIM_URL is not set: start `dxctl sim serve` and point DXCTL_SIM_URL at it")
    host = urllib.parse.urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise RuntimeError("DXCTL_SIM_URL must be a loopback address, got {!r}".format(url))
    return url.rstrip("/")


def world():
    """The world file the simulator was started with (its initial state)."""
    path = os.environ.get("DXCTL_SIM_WORLD")
    if not path:
        raise RuntimeError("DXCTL_SIM_WORLD is not set")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def fixture_name():
    return world().get("conformanceFixture")


def parse_duration(text, default):
    """'200ms', '2s', '1m' -> seconds."""
    if not text:
        return default
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m)\s*", text)
    if not m:
        raise ValueError("cannot parse duration {!r}".format(text))
    value, unit = float(m.group(1)), m.group(2)
    return value * {"ms": 0.001, "s": 1.0, "m": 60.0}[unit]


def provision_delay():
    return parse_duration(world().get("sim", {}).get("provisionDelay"), 2.0)


def deletion_delay():
    return parse_duration(world().get("sim", {}).get("deletionDelay"), 1.0)


def deleted_retention():
    """How long deleted peers and VIFs stay listed: sim.deletedRetention, default 15 minutes."""
    return parse_duration(world().get("sim", {}).get("deletedRetention"), 15 * 60.0)


def bgp_up_delay():
    return parse_duration(world().get("sim", {}).get("bgpUpDelay"), 1.0)


def client(region="us-east-1", key=ANY_KEY, secret=ANY_SECRET, **config):
    """A boto3 Direct Connect client on the simulator: one attempt per call, short timeouts."""
    options = dict(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=5,
        read_timeout=15,
    )
    options.update(config)
    return boto3.session.Session().client(
        "directconnect",
        endpoint_url=sim_url(),
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(**options),
    )


def unsigned_client(region="us-east-1"):
    return client(region=region, signature_version=botocore.UNSIGNED)


def raw(method, path, body=b"", headers=None):
    """One plain HTTP request to the simulator: (status, lower-cased headers, body bytes)."""
    parts = urllib.parse.urlsplit(sim_url())
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def raw_api(operation, body, region="us-east-1", target_prefix="OvertureService."):
    """An AWS JSON 1.1 request with a syntactically valid (not verified) SigV4 Authorization header."""
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": target_prefix + operation,
        "X-Amz-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
        "Authorization": (
            "AWS4-HMAC-SHA256 Credential={}/{}/{}/directconnect/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={}"
        ).format(ANY_KEY, time.strftime("%Y%m%d", time.gmtime()), region, "0" * 64),
    }
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    return raw("POST", "/", body, headers)


def admin_key():
    """The world's first sim.credentials key ({accessKeyId, secretAccessKey}), or None: with credentials configured,
    the simulator's admin routes (/_sim/...) need a SigV4 signature from one of them."""
    keys = world().get("sim", {}).get("credentials") or []
    return keys[0] if keys else None


def signed_headers(method, path, body=b"", headers=None, key=None, secret=None):
    """`headers` plus botocore's SigV4 headers (X-Amz-Date, Authorization) for a request to the simulator, signed
    for directconnect in us-east-1 at botocore's current time (tests freeze it with freeze_signing_clock)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=sim_url() + path, data=body, headers=dict(headers or {}))
    SigV4Auth(Credentials(key, secret), "directconnect", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def admin(method, path, body=b"", headers=None):
    """One request to an admin route, signed with admin_key() when the world has credentials: (status, lower-cased
    headers, body bytes)."""
    key = admin_key()
    if key is not None:
        headers = signed_headers(method, path, body, headers, key["accessKeyId"], key["secretAccessKey"])
    return raw(method, path, body, headers)


def freeze_signing_clock(offset_seconds):
    """A context manager under which botocore signs as if its clock were `offset_seconds` off (botocore.auth reads
    the time through get_current_datetime, which this patches)."""
    import datetime
    from unittest import mock

    import botocore.auth

    real = botocore.auth.get_current_datetime
    return mock.patch.object(
        botocore.auth, "get_current_datetime", lambda *a, **kw: real(*a, **kw) + datetime.timedelta(seconds=offset_seconds)
    )


def sim_world():
    """GET /_sim/world: the simulator's current world (an admin route, not an AWS API request)."""
    status, _, data = admin("GET", "/_sim/world")
    if status != 200:
        raise AssertionError("GET /_sim/world answered {}: {!r}".format(status, data[:200]))
    return json.loads(data)


def approve(peer_id=None, body=None):
    """POST /_sim/approve: the simulator's stand-in for AWS's manual approval of public-VIF peers. `body` (bytes)
    replaces the JSON made from peer_id."""
    if body is None:
        body = json.dumps({} if peer_id is None else {"bgpPeerId": peer_id}).encode()
    status, _, data = admin("POST", "/_sim/approve", body, {"Content-Type": "application/json"})
    return status, data


def post_faults(faults):
    """POST /_sim/faults: replaces the simulator's faults from now on. Returns (status, parsed body)."""
    status, _, data = admin("POST", "/_sim/faults", json.dumps(faults).encode(), {"Content-Type": "application/json"})
    return status, json.loads(data) if data else None


def poll(fetch, done, timeout, interval=0.05):
    """Calls fetch() until done(value); bounded by timeout. Returns (value, seconds waited, history)."""
    start = time.monotonic()
    history = []
    for _ in range(max(1, int(timeout / interval)) + 1):
        value = fetch()
        history.append(value)
        if done(value):
            return value, time.monotonic() - start, history
        time.sleep(interval)
    raise AssertionError("condition not reached within {:.1f}s; last values: {!r}".format(timeout, history[-5:]))


def peer_by_id(vif, peer_id):
    for p in vif.get("bgpPeers", []):
        if p.get("bgpPeerId") == peer_id:
            return p
    return None


def check_ipv6_block(case, peer):
    """amazon = network+1, customer = network+6 of one /125 carved from the pool."""
    amazon = ipaddress.ip_interface(peer["amazonAddress"])
    customer = ipaddress.ip_interface(peer["customerAddress"])
    case.assertEqual(amazon.version, 6, peer)
    case.assertEqual(amazon.network.prefixlen, 125, peer)
    case.assertEqual(customer.network, amazon.network, peer)
    base = amazon.network.network_address
    case.assertEqual(amazon.ip, base + 1, peer)
    case.assertEqual(customer.ip, base + 6, peer)
    offset = int(base) - int(IPV6_POOL_BASE)
    case.assertTrue(offset >= 0 and offset % 8 == 0, "{} is not a /125 of the pool at {}".format(base, IPV6_POOL_BASE))
    return amazon.network


def check_ipv4_block(case, peer):
    """A /30 of 169.254.0.0/16: amazon .1, customer .2 of the block."""
    amazon = ipaddress.ip_interface(peer["amazonAddress"])
    customer = ipaddress.ip_interface(peer["customerAddress"])
    case.assertEqual(amazon.version, 4, peer)
    case.assertEqual(amazon.network.prefixlen, 30, peer)
    case.assertEqual(customer.network, amazon.network, peer)
    case.assertTrue(amazon.network.subnet_of(LINK_LOCAL_V4), peer)
    case.assertEqual(amazon.ip, amazon.network.network_address + 1, peer)
    case.assertEqual(customer.ip, amazon.network.network_address + 2, peer)
    return amazon.network


class SimTestCase(unittest.TestCase):
    """Base class: checks the world fixture, and offers clients and refusal assertions."""

    FIXTURE = None  # the world's "conformanceFixture" this class is written for
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        got = fixture_name()
        if got != cls.FIXTURE:
            raise RuntimeError(
                "{} needs the {!r} world (see tests/it/conformance.rs); DXCTL_SIM_WORLD is {!r}".format(
                    cls.__name__, cls.FIXTURE, got
                )
            )
        cls.dx = client()

    # -- reading -------------------------------------------------------------------------------

    def vif(self, vif_id, dx=None):
        got = (dx or self.dx).describe_virtual_interfaces(virtualInterfaceId=vif_id)["virtualInterfaces"]
        self.assertEqual([v["virtualInterfaceId"] for v in got], [vif_id], "describe by virtualInterfaceId")
        return got[0]

    def vif_or_none(self, vif_id, dx=None):
        """The VIF, or None once it is no longer listed (describing all, so no error is involved)."""
        for v in (dx or self.dx).describe_virtual_interfaces()["virtualInterfaces"]:
            if v["virtualInterfaceId"] == vif_id:
                return v
        return None

    def peer_ids(self, vif_id, dx=None):
        return sorted(p.get("bgpPeerId", "") for p in self.vif(vif_id, dx).get("bgpPeers", []))

    def peer_state(self, vif_id, peer_id):
        peer = peer_by_id(self.vif(vif_id), peer_id)
        return "<gone>" if peer is None else peer["bgpPeerState"]

    def settle(self, vif_id, dx=None, timeout=None):
        """Waits (bounded) until neither the VIF nor any of its peers is mid-change, as a careful client does
        before changing peers: under the default transitioningRule, a pending or deleting peer (or a pending,
        verifying or confirming VIF) makes CreateBGPPeer and DeleteBGPPeer refuse as transitioning."""

        def settled(vif):
            return vif["virtualInterfaceState"] not in VIF_TRANSITIONING_STATES and not any(
                p.get("bgpPeerState") in PEER_TRANSITIONING_STATES for p in vif.get("bgpPeers", [])
            )

        if timeout is None:
            timeout = 5 + 5 * max(provision_delay(), deletion_delay())
        vif, _, _ = poll(lambda: self.vif(vif_id, dx), settled, timeout)
        return vif

    # -- writing -------------------------------------------------------------------------------

    def create_peer(self, vif_id, dx=None, settle=True, **new_peer):
        """CreateBGPPeer (once the VIF has settled, unless settle=False); returns (the VIF from the response, the
        new peer in it)."""
        dx = dx or self.dx
        if settle:
            self.settle(vif_id, dx)
        before = set(self.peer_ids(vif_id, dx))
        resp = dx.create_bgp_peer(virtualInterfaceId=vif_id, newBGPPeer=new_peer)
        self.assertIn("virtualInterface", resp, "CreateBGPPeer returns {virtualInterface}")
        vif = resp["virtualInterface"]
        self.assertEqual(vif["virtualInterfaceId"], vif_id)
        new = [p for p in vif.get("bgpPeers", []) if p.get("bgpPeerId") not in before]
        self.assertEqual(len(new), 1, "exactly one new peer in the CreateBGPPeer response: {}".format(vif.get("bgpPeers")))
        peer = new[0]
        self.assertRegex(peer.get("bgpPeerId", ""), r"^dxpeer-[0-9a-z]+$")
        return vif, peer

    # -- refusals ------------------------------------------------------------------------------

    def assert_error(self, call, code, status, what, message=None):
        """`call()` must raise a ClientError whose botocore-parsed code and HTTP status are as given."""
        with self.assertRaises(ClientError, msg="{} should be refused with {}".format(what, code)) as cm:
            call()
        err = cm.exception.response
        self.assertEqual(
            err["Error"]["Code"], code, "{}: error code (HTTP {}, message {!r})".format(
                what, err["ResponseMetadata"]["HTTPStatusCode"], err["Error"].get("Message"))
        )
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], status, "{}: HTTP status".format(what))
        header = err["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-errortype", "")
        self.assertEqual(header.split(":")[0], code, "{}: x-amzn-ErrorType header".format(what))
        self.assertTrue(err["Error"].get("Message"), "{}: a message".format(what))
        if message is not None:
            self.assertIn(message, err["Error"]["Message"], what)
        return err

    def assert_client_error(self, call, what, message=None):
        return self.assert_error(call, "DirectConnectClientException", 400, what, message)

    def refuse_create(self, vif_id, what, dx=None, message=None, settle=True, **new_peer):
        """CreateBGPPeer must be a DirectConnectClientException and leave the VIF's peers as they were.

        With settle (the default) the VIF first settles, and a refusal without an expected message must not be a
        transitioning one: the rule under test refused, not a peer that happened to be mid-change."""
        dx = dx or self.dx
        if settle:
            self.settle(vif_id, dx)
        before = self.peer_ids(vif_id, dx)
        err = self.assert_client_error(
            lambda: dx.create_bgp_peer(virtualInterfaceId=vif_id, newBGPPeer=new_peer),
            "CreateBGPPeer {} newBGPPeer={} ({})".format(vif_id, new_peer, what),
            message,
        )
        if settle and message is None:
            self.assertNotIn(TRANSITIONING, err["Error"]["Message"], "refused by the rule under test ({})".format(what))
        self.assertEqual(self.peer_ids(vif_id, dx), before, "a refused CreateBGPPeer changes nothing ({})".format(what))
        return err

    def refuse_delete(self, vif_id, what, message=None, **selector):
        """DeleteBGPPeer must be a DirectConnectClientException and leave every peer (and its state) as it was."""

        def peers(vif):
            return sorted((p.get("bgpPeerId", ""), p.get("bgpPeerState")) for p in vif.get("bgpPeers", []))

        before = peers(self.vif(vif_id))
        err = self.assert_client_error(
            lambda: self.dx.delete_bgp_peer(virtualInterfaceId=vif_id, **selector),
            "DeleteBGPPeer {} {} ({})".format(vif_id, selector, what),
            message,
        )
        if message is None:
            self.assertNotIn(TRANSITIONING, err["Error"]["Message"], "refused by the rule under test ({})".format(what))
        after = self.vif(vif_id)
        self.assertEqual(peers(after), before, "a refused DeleteBGPPeer changes nothing ({})".format(what))
        return err, after
