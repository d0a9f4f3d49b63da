"""`dxctl sim serve` over Smithy RPC v2 CBOR, seen through boto3 (a client nobody on the team wrote) talking CBOR.

botocore ships an RPC v2 CBOR serializer and parser, but its Direct Connect model still lists only `json`. This suite
copies that model into a temporary data directory with `protocols: ["smithy-rpc-v2-cbor"]` (and `protocol` to match)
and puts the directory first on the botocore loader's search path, so the same boto3 calls go over CBOR to
`POST /service/OvertureService/operation/<Op>`. Nothing generated is kept: the copy lives for one run.

Every request is checked on the wire by a `before-send` hook (path, headers, a CBOR map body), every response by an
`after-call` hook (CBOR, `smithy-protocol: rpc-v2-cbor`). Run by tests/it/conformance.rs, one simulator per world:

    DXCTL_SIM_URL=http://127.0.0.1:PORT DXCTL_SIM_WORLD=world.json python3 -m unittest -v test_boto3_cbor

(from tests/conformance). The world names its fixture in "conformanceFixture"; `load_tests` runs its classes.
"""

import atexit
import datetime
import gzip
import json
import os
import shutil
import tempfile
import time
import unittest

import boto3
import botocore
import botocore.parsers
import botocore.serialize
import botocore.session

from dxsim import (
    ANY_KEY,
    ANY_SECRET,
    TRANSITIONING,
    HTTPClientError,
    ReadTimeoutError,
    SimTestCase,
    check_ipv6_block,
    client as json_client,
    deletion_delay,
    fixture_name,
    peer_by_id,
    poll,
    provision_delay,
    raw,
    sim_url,
    sim_world,
    world,
)
from botocore.config import Config
from botocore.exceptions import ClientError

US, EU = "us-east-1", "eu-west-1"
CBOR = "smithy-rpc-v2-cbor"
NAMESPACE = "com.amazonaws.directconnect"
SEED_VIF = "dxvif-fg1vuj3d"
FOUR_BYTE_VIF = "dxvif-cb4b0001"
OPERATION_PATH = "/service/OvertureService/operation/"


# --------------------------------------------------------------------------------------------------
# The CBOR-only copy of botocore's own Direct Connect model.
# --------------------------------------------------------------------------------------------------


def _cbor_data_dir():
    shipped = os.path.join(os.path.dirname(botocore.__file__), "data", "directconnect", "2012-10-25")
    with gzip.open(os.path.join(shipped, "service-2.json.gz"), "rt", encoding="utf-8") as f:
        model = json.load(f)
    model["metadata"]["protocols"] = [CBOR]
    model["metadata"]["protocol"] = CBOR
    root = tempfile.mkdtemp(prefix="dxctl-cbor-model-")
    atexit.register(shutil.rmtree, root, True)
    target = os.path.join(root, "directconnect", "2012-10-25")
    os.makedirs(target)
    with open(os.path.join(target, "service-2.json"), "w", encoding="utf-8") as f:
        json.dump(model, f)
    return root


CBOR_DATA_DIR = _cbor_data_dir()


def cbor_client(region=US, key=ANY_KEY, secret=ANY_SECRET, **config):
    """A boto3 Direct Connect client that loads the CBOR-only model: one attempt per call, short timeouts."""
    session = botocore.session.Session()
    session.get_component("data_loader").search_paths.insert(0, CBOR_DATA_DIR)
    options = dict(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=15)
    options.update(config)
    dx = boto3.session.Session(botocore_session=session).client(
        "directconnect",
        endpoint_url=sim_url(),
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(**options),
    )
    if dx.meta.service_model.resolved_protocol != CBOR:
        raise RuntimeError("the CBOR-only model was not loaded: {}".format(dx.meta.service_model.resolved_protocol))
    return dx


def cbor_decode(data):
    """botocore's own CBOR decoder (the one its RPC v2 parser uses)."""
    parser = botocore.parsers.RpcV2CBORParser()
    stream = parser.get_peekable_stream_from_bytes(data)
    item = parser.parse_data_item(stream)
    if stream.read(1):
        raise AssertionError("bytes after the CBOR data item: {!r}".format(data))
    return item


def cbor_body(operation, params):
    """The CBOR body botocore's serializer makes for `operation(**params)`."""
    model = cbor_client().meta.service_model.operation_model(operation)
    return botocore.serialize.create_serializer(CBOR).serialize_to_request(params, model)["body"]


def raw_cbor(operation, body=b"\xa0", region=US, path=None, method="POST", **header_overrides):
    """One RPC v2 CBOR request by hand, with a syntactically valid (not verified) SigV4 Authorization header.
    Header overrides use underscores for dashes; None removes a header. Returns (status, headers, decoded body)."""
    headers = {
        "smithy-protocol": "rpc-v2-cbor",
        "Content-Type": "application/cbor",
        "Accept": "application/cbor",
        "X-Amz-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
        "Authorization": (
            "AWS4-HMAC-SHA256 Credential={}/{}/{}/directconnect/aws4_request, "
            "SignedHeaders=content-type;host;smithy-protocol;x-amz-date, Signature={}"
        ).format(ANY_KEY, time.strftime("%Y%m%d", time.gmtime()), region, "0" * 64),
    }
    for name, value in header_overrides.items():
        name = name.replace("_", "-")
        for existing in [h for h in headers if h.lower() == name.lower()]:
            del headers[existing]
        if value is not None:
            headers[name] = value
    status, resp_headers, data = raw(method, path or OPERATION_PATH + operation, body, headers)
    decoded = cbor_decode(data) if data else None
    return status, resp_headers, decoded


WIRES = []  # every recorded client's wire, checked after each test


class Wire:
    """What went over the wire: a before-send hook records each request, an after-call hook each response."""

    def __init__(self, dx):
        self.requests, self.responses = [], []
        self.checked = (0, 0)  # how many requests and responses check() has seen
        WIRES.append(self)
        dx.meta.events.register("before-send", self._sent)
        dx.meta.events.register("after-call", self._answered)

    def _sent(self, request, **_):
        body = request.body if isinstance(request.body, bytes) else (request.body or b"")
        if hasattr(body, "read"):
            body = body.read()
        headers = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
        self.requests.append({"method": request.method, "url": request.url, "headers": headers, "body": body})

    def _answered(self, http_response, model, **_):
        self.responses.append(
            {"operation": model.name, "status": http_response.status_code,
             "headers": {k.lower(): v for k, v in http_response.headers.items()}, "body": http_response.content}
        )

    def check(self, case):
        """Every request since the last check was RPC v2 CBOR on its operation's path; every response answered in
        kind."""
        (requests, responses), self.checked = self.checked, (len(self.requests), len(self.responses))
        for r in self.requests[requests:]:
            what = "{} {}".format(r["method"], r["url"])
            path = "/" + r["url"].split("/", 3)[3]
            case.assertEqual(r["method"], "POST", what)
            case.assertTrue(path.startswith(OPERATION_PATH) and "/" not in path[len(OPERATION_PATH):], what)
            case.assertEqual(r["headers"].get("smithy-protocol"), "rpc-v2-cbor", what)
            case.assertEqual(r["headers"].get("accept"), "application/cbor", what)
            case.assertNotIn("x-amz-target", r["headers"], what)
            if r["body"]:
                case.assertEqual(r["headers"].get("content-type"), "application/cbor", what)
                case.assertEqual(r["body"][0] >> 5, 5, "{}: the body is a CBOR map: {!r}".format(what, r["body"][:40]))
                case.assertIsInstance(cbor_decode(r["body"]), dict, what)
        for r in self.responses[responses:]:
            what = "{} answered {}".format(r["operation"], r["status"])
            case.assertEqual(r["headers"].get("smithy-protocol"), "rpc-v2-cbor", what)
            case.assertEqual(r["headers"].get("content-type"), "application/cbor", what)
            case.assertIsInstance(cbor_decode(r["body"]), dict, what)

    def last_request(self, operation):
        for r in reversed(self.requests):
            if r["url"].endswith(OPERATION_PATH + operation):
                return r
        raise AssertionError("no {} request went out".format(operation))


class CborTestCase(SimTestCase):
    """SimTestCase with a CBOR client whose wire is recorded and checked after each test."""

    @classmethod
    def setUpClass(cls):
        got = fixture_name()
        if got != cls.FIXTURE:
            raise RuntimeError("{} needs the {!r} world (see tests/it/conformance.rs); DXCTL_SIM_WORLD is {!r}".format(
                cls.__name__, cls.FIXTURE, got))
        cls.dx = cbor_client()
        cls.wire = Wire(cls.dx)

    def tearDown(self):
        for wire in WIRES:
            wire.check(self)

    def assert_error(self, call, code, status, what, message=None):
        """`call()` raises a ClientError with this code and status, sent the RPC v2 CBOR way."""
        with self.assertRaises(ClientError, msg="{} should be refused with {}".format(what, code)) as cm:
            call()
        err = cm.exception.response
        self.assertEqual(err["Error"]["Code"], code, "{}: error code (HTTP {}, message {!r})".format(
            what, err["ResponseMetadata"]["HTTPStatusCode"], err["Error"].get("Message")))
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], status, "{}: HTTP status".format(what))
        headers = err["ResponseMetadata"]["HTTPHeaders"]
        self.assertEqual(headers.get("smithy-protocol"), "rpc-v2-cbor", what)
        self.assertEqual(headers.get("content-type"), "application/cbor", what)
        # The type is in the body only: the spec says x-amzn-ErrorType SHOULD NOT be sent.
        self.assertNotIn("x-amzn-errortype", headers, what)
        self.assertNotIn("x-amzn-query-error", headers, what)
        self.assertTrue(err["Error"].get("Message"), "{}: a message".format(what))
        if message is not None:
            self.assertIn(message, err["Error"]["Message"], what)
        return err


def world_vif(vif_id):
    for v in world()["virtualInterfaces"]:
        if v["virtualInterfaceId"] == vif_id:
            return v
    raise KeyError(vif_id)


# ==================================================================================================
# Fixture "cbor": the seed world plus a 4-byte-ASN VIF, LOA timestamps, and an eu-west-1 VIF.
# ==================================================================================================


class CborWire(CborTestCase):
    """The client really speaks RPC v2 CBOR, and the simulator answers in kind."""

    FIXTURE = "cbor"

    def test_only_the_model_copy_makes_the_client_speak_cbor(self):
        self.assertEqual(self.dx.meta.service_model.resolved_protocol, CBOR)
        self.assertEqual(self.dx.meta.service_model.metadata["protocols"], [CBOR])
        shipped = botocore.session.Session().get_service_model("directconnect")
        self.assertEqual(shipped.resolved_protocol, "json", "botocore's own model is untouched")
        self.assertEqual(shipped.metadata["targetPrefix"], "OvertureService")

    def test_request_and_response_on_the_wire(self):
        resp = self.dx.describe_virtual_interfaces(virtualInterfaceId=SEED_VIF)
        sent = self.wire.last_request("DescribeVirtualInterfaces")
        self.assertTrue(sent["url"].endswith("/service/OvertureService/operation/DescribeVirtualInterfaces"), sent)
        self.assertEqual(cbor_decode(sent["body"]), {"virtualInterfaceId": SEED_VIF})
        self.assertNotIn(b"{", sent["body"][:1], "not JSON")
        signed = sent["headers"]["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
        self.assertIn("smithy-protocol", signed, "the protocol header is signed, and the simulator verified it")
        headers = resp["ResponseMetadata"]["HTTPHeaders"]
        self.assertEqual((headers["content-type"], headers["smithy-protocol"]), ("application/cbor", "rpc-v2-cbor"))
        answered = self.wire.responses[-1]
        self.assertEqual(answered["operation"], "DescribeVirtualInterfaces")
        self.assertEqual(cbor_decode(answered["body"])["virtualInterfaces"][0]["virtualInterfaceId"], SEED_VIF)

    def test_json_1_1_is_still_served_beside_it(self):
        plain = json_client()
        got = plain.describe_virtual_interfaces(virtualInterfaceId=SEED_VIF)
        self.assertIn("json", got["ResponseMetadata"]["HTTPHeaders"]["content-type"])
        self.assertNotIn("smithy-protocol", got["ResponseMetadata"]["HTTPHeaders"])
        self.assertEqual(got["virtualInterfaces"], self.dx.describe_virtual_interfaces(
            virtualInterfaceId=SEED_VIF)["virtualInterfaces"], "the same answer over both protocols")


class CborDescribe(CborTestCase):
    """DescribeVirtualInterfaces (all, by id, 4-byte ASNs, regions) and DescribeConnections (LOA timestamps)."""

    FIXTURE = "cbor"

    def test_describe_all(self):
        got = self.dx.describe_virtual_interfaces()["virtualInterfaces"]
        want = {v["virtualInterfaceId"] for v in world()["virtualInterfaces"] if v.get("region", US) == US}
        self.assertEqual({v["virtualInterfaceId"] for v in got}, want)
        self.assertEqual({v["region"] for v in got}, {US})

    def test_describe_by_id_returns_the_world_vif(self):
        got = self.vif(FOUR_BYTE_VIF)
        want = world_vif(FOUR_BYTE_VIF)
        for key, value in want.items():
            if key != "bgpPeers":
                self.assertEqual(got.get(key), value, "field {}".format(key))
        self.assertEqual(got["bgpPeers"], want["bgpPeers"])

    def test_4_byte_asn_fields(self):
        vif = self.vif(FOUR_BYTE_VIF)
        peer = vif["bgpPeers"][0]
        self.assertEqual((peer["asn"], peer["asnLong"]), (0, 4200000010))
        self.assertEqual((vif["asn"], vif["asnLong"]), (0, 4200000010))
        for value in (peer["asn"], peer["asnLong"], vif["vlan"], vif["amazonSideAsn"]):
            self.assertIs(type(value), int, value)
        self.assertIs(vif["jumboFrameCapable"], False)
        # On the wire: asnLong is a 32-bit unsigned integer (major type 0, additional info 26).
        body = self.wire.responses[-1]["body"]
        self.assertIn(b"\x67asnLong\x1a" + (4200000010).to_bytes(4, "big"), body)

    def test_region_comes_from_the_signature_scope(self):
        eu = cbor_client(region=EU)
        ids = {v["virtualInterfaceId"] for v in eu.describe_virtual_interfaces()["virtualInterfaces"]}
        self.assertEqual(ids, {"dxvif-cbeu0001"})
        self.assert_client_error(lambda: self.dx.describe_virtual_interfaces(virtualInterfaceId="dxvif-cbeu0001"),
                                 "us-east-1 client asking for an eu-west-1 VIF", "does not exist")

    def test_unknown_vif_is_a_client_exception_with_a_message(self):
        err = self.assert_client_error(
            lambda: self.dx.describe_virtual_interfaces(virtualInterfaceId="dxvif-cbnone00"),
            "DescribeVirtualInterfaces of an unknown VIF", "dxvif-cbnone00 does not exist")
        self.assertEqual(err["message"], err["Error"]["Message"], "botocore parsed the modeled error's message")
        body = cbor_decode(self.wire.responses[-1]["body"])
        self.assertEqual(body["__type"], NAMESPACE + "#DirectConnectClientException", "the absolute shape id")

    def test_describe_connections_and_loa_timestamps(self):
        got = {c["connectionId"]: c for c in self.dx.describe_connections()["connections"]}
        self.assertEqual(set(got), {c["connectionId"] for c in world()["connections"] if c["region"] == US})
        utc = datetime.timezone.utc
        # Tag 1 on the wire: botocore turns it into a datetime (an untagged number would stay a number).
        self.assertEqual(got["dxcon-fguhmqlc"]["loaIssueTime"], datetime.datetime.fromtimestamp(1700000000, tz=utc))
        # RFC 3339 text in the world (pasted CLI output) goes out as tag 1 with milliseconds.
        self.assertEqual(got["dxcon-cbor0001"]["loaIssueTime"],
                         datetime.datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=utc))
        body = self.wire.responses[-1]["body"]
        self.assertIn(b"\x6cloaIssueTime\xc1\x1a" + (1700000000).to_bytes(4, "big"), body)
        one = self.dx.describe_connections(connectionId="dxcon-cbor0001")["connections"]
        self.assertEqual([(c["connectionId"], c["hasLogicalRedundancy"]) for c in one], [("dxcon-cbor0001", "no")])
        self.assert_client_error(lambda: self.dx.describe_connections(connectionId="dxcon-cbnone00"),
                                 "DescribeConnections of an unknown connection", "Could not find Connection with ID dxcon-cbnone00")


class CborBgpPeers(CborTestCase):
    """CreateBGPPeer and DeleteBGPPeer on the seed VIF, and their refusals, over CBOR."""

    FIXTURE = "cbor"

    def test_seed_example_create_then_delete(self):
        resp = self.dx.create_bgp_peer(virtualInterfaceId=SEED_VIF, newBGPPeer={"asn": 64600, "addressFamily": "ipv6"})
        self.assertEqual(cbor_decode(self.wire.last_request("CreateBGPPeer")["body"]),
                         {"virtualInterfaceId": SEED_VIF, "newBGPPeer": {"asn": 64600, "addressFamily": "ipv6"}})
        self.assertEqual(set(resp) - {"ResponseMetadata"}, {"virtualInterface"}, "CreateBGPPeer returns {virtualInterface}")
        vif = resp["virtualInterface"]
        self.assertEqual(vif["virtualInterfaceId"], SEED_VIF)
        old, new = vif["bgpPeers"]
        self.assertEqual(old["bgpPeerId"], "dxpeer-fg1v4v4e")
        self.assertRegex(new["bgpPeerId"], r"^dxpeer-[0-9a-z]+$")
        self.assertEqual(
            {k: new.get(k) for k in ("addressFamily", "asn", "asnLong", "bgpPeerState", "bgpStatus",
                                     "amazonAddress", "customerAddress")},
            {"addressFamily": "ipv6", "asn": 64600, "asnLong": 64600, "bgpPeerState": "pending", "bgpStatus": "down",
             "amazonAddress": "2001:db8:1100:2f0:0:1:9cb4:4211/125",
             "customerAddress": "2001:db8:1100:2f0:0:1:9cb4:4216/125"},
        )
        check_ipv6_block(self, new)
        self.assertTrue(new["authKey"].startswith("0x") and len(new["authKey"]) == 24, new["authKey"])
        self.assertIn("<ipv6_bgp_asn>64600</ipv6_bgp_asn>", vif["customerRouterConfig"])

        # A pending peer cannot be deleted yet.
        self.refuse_delete(SEED_VIF, "pending peer", TRANSITIONING, bgpPeerId=new["bgpPeerId"])
        # Once it has settled, a second IPv6 peer breaks the address-family rule (hasLogicalRedundancy "no").
        self.refuse_create(SEED_VIF, "second ipv6 peer on the seed VIF", asn=64601, addressFamily="ipv6")

        got, _, _ = poll(lambda: self.vif(SEED_VIF),
                         lambda v: all(p["bgpPeerState"] == "available" for p in v["bgpPeers"]),
                         5 + 5 * provision_delay())
        self.assertEqual(peer_by_id(got, new["bgpPeerId"])["authKey"], new["authKey"])

        resp = self.dx.delete_bgp_peer(virtualInterfaceId=SEED_VIF, bgpPeerId=new["bgpPeerId"])
        self.assertEqual(cbor_decode(self.wire.last_request("DeleteBGPPeer")["body"]),
                         {"virtualInterfaceId": SEED_VIF, "bgpPeerId": new["bgpPeerId"]})
        self.assertEqual(peer_by_id(resp["virtualInterface"], new["bgpPeerId"])["bgpPeerState"], "deleting")
        poll(lambda: self.peer_ids(SEED_VIF), lambda ids: ids == ["dxpeer-fg1v4v4e"], 5 + 10 * deletion_delay())
        self.refuse_delete(SEED_VIF, "the seed VIF's last peer", "The last BGP Peer on a Virtual Interface cannot be deleted",
                           bgpPeerId="dxpeer-fg1v4v4e")

    def test_refusals_carry_messages(self):
        self.assert_client_error(
            lambda: self.dx.create_bgp_peer(virtualInterfaceId="dxvif-cbnone00",
                                            newBGPPeer={"asn": 64600, "addressFamily": "ipv6"}),
            "CreateBGPPeer on an unknown VIF", "dxvif-cbnone00")
        self.refuse_create(FOUR_BYTE_VIF, "addressFamily ipv5", message="ipv5", asn=64600, addressFamily="ipv5")
        self.refuse_create(FOUR_BYTE_VIF, "asnLong out of range", asnLong=4294967295, addressFamily="ipv6")
        self.refuse_delete(FOUR_BYTE_VIF, "unknown peer", "does not exist", bgpPeerId="dxpeer-cbnone00")


class CborProtocol(CborTestCase):
    """The protocol's own rules, by hand: routing, headers, bodies, and error shapes."""

    FIXTURE = "cbor"

    def test_a_raw_request_is_answered_in_cbor(self):
        status, headers, body = raw_cbor("DescribeConnections", cbor_body("DescribeConnections", {}))
        self.assertEqual(status, 200, body)
        self.assertEqual((headers["content-type"], headers["smithy-protocol"]), ("application/cbor", "rpc-v2-cbor"))
        self.assertIn("dxcon-fguhmqlc", [c["connectionId"] for c in body["connections"]])
        # An empty body is an empty input structure.
        status, _, body = raw_cbor("DescribeConnections", b"", Content_Type=None)
        self.assertEqual(status, 200, body)

    def test_service_name_may_be_absolute_and_a_prefix_is_ignored(self):
        for path in (
            "/service/com.amazonaws.directconnect.OvertureService/operation/DescribeConnections",
            "/v1/prefix/service/OvertureService/operation/DescribeConnections",
        ):
            status, _, body = raw_cbor("DescribeConnections", path=path)
            self.assertEqual(status, 200, "{}: {}".format(path, body))

    def assert_raw_error(self, got, status, name, what):
        code, headers, body = got
        self.assertEqual(code, status, "{}: {}".format(what, body))
        self.assertEqual(headers.get("content-type"), "application/cbor", what)
        self.assertEqual(headers.get("smithy-protocol"), "rpc-v2-cbor", what)
        self.assertNotIn("x-amzn-errortype", headers, what)
        self.assertEqual(body["__type"].rsplit("#", 1)[-1], name, what)
        self.assertIn("#", body["__type"], "{}: an absolute shape id".format(what))
        self.assertTrue(body.get("message"), what)
        return body

    def test_routing_errors(self):
        self.assert_raw_error(raw_cbor("DescribeConnections", smithy_protocol=None), 404,
                              "UnknownOperationException", "no smithy-protocol header")
        body = self.assert_raw_error(raw_cbor("DescribeConnections", smithy_protocol="rpc-v2-json"), 404,
                                     "UnknownOperationException", "smithy-protocol: rpc-v2-json")
        self.assertIn("rpc-v2-json", body["message"])
        body = self.assert_raw_error(
            raw_cbor("DescribeConnections", path="/service/NoSuchService/operation/DescribeConnections"), 404,
            "UnknownOperationException", "unknown service")
        self.assertIn("NoSuchService", body["message"])
        self.assert_raw_error(
            raw_cbor("x", path=OPERATION_PATH + NAMESPACE + ".DescribeConnections"), 404,
            "UnknownOperationException", "an absolute operation shape id")
        self.assert_raw_error(raw_cbor("NoSuchOperation"), 400, "UnknownOperationException", "unknown operation")
        self.assert_error(lambda: self.dx.describe_locations(), "UnknownOperationException", 400,
                          "DescribeLocations (not simulated)")
        status, headers, _ = raw_cbor("DescribeConnections", method="GET", body=b"")
        self.assertEqual((status, headers.get("allow")), (405, "POST"))

    def test_malformed_requests(self):
        self.assert_raw_error(raw_cbor("DescribeConnections", X_Amz_Target="OvertureService.DescribeConnections"),
                              400, "SerializationException", "X-Amz-Target on an rpc-v2-cbor request")
        self.assert_raw_error(raw_cbor("DescribeConnections", b"{}", Content_Type="application/x-amz-json-1.1"),
                              415, "UnsupportedMediaTypeException", "a JSON body")
        self.assert_raw_error(raw_cbor("DescribeConnections", Accept="application/json"),
                              406, "NotAcceptableException", "Accept: application/json")
        for what, body in (("truncated CBOR", b"\xa1\x61"), ("a byte string member", b"\xa1\x61a\x41\x00"),
                           ("a list, not a map", b"\x80"), ("JSON text", b"{}")):
            self.assert_raw_error(raw_cbor("DescribeConnections", body), 400, "SerializationException", what)
        # The server keeps serving.
        self.assertTrue(self.dx.describe_connections()["connections"])

    def test_missing_authorization(self):
        unsigned = cbor_client(signature_version=botocore.UNSIGNED)
        Wire(unsigned)
        self.assert_error(lambda: unsigned.describe_virtual_interfaces(), "MissingAuthenticationTokenException", 400,
                          "unsigned DescribeVirtualInterfaces")

    def test_error_body_is_type_and_message(self):
        _, _, body = raw_cbor("DescribeVirtualInterfaces", cbor_body("DescribeVirtualInterfaces",
                                                                     {"virtualInterfaceId": "dxvif-cbnone00"}))
        self.assertEqual(set(body), {"__type", "message"})
        self.assertEqual(body["__type"], NAMESPACE + "#DirectConnectClientException")


# ==================================================================================================
# Fixture "cbor-sigv4": the seed world with sim.credentials: CBOR requests are verified too.
# ==================================================================================================


class CborSigV4(CborTestCase):
    FIXTURE = "cbor-sigv4"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        creds = world()["sim"]["credentials"]
        cls.key, cls.secret = creds[0]["accessKeyId"], creds[0]["secretAccessKey"]
        cls.dx = cbor_client(key=cls.key, secret=cls.secret)
        cls.wire = Wire(cls.dx)

    def signed(self, secret, key=None):
        dx = cbor_client(key=key or self.key, secret=secret)
        Wire(dx)
        return dx

    def test_listed_key_works(self):
        self.assertEqual(self.vif(SEED_VIF)["virtualInterfaceId"], SEED_VIF)

    def test_wrong_secret_is_invalid_signature(self):
        self.assert_error(lambda: self.signed(self.secret + "x").describe_virtual_interfaces(),
                          "InvalidSignatureException", 400, "signed with a wrong secret",
                          "The request signature we calculated does not match the signature you provided.")

    def test_unknown_key_is_unrecognized_client(self):
        self.assert_error(lambda: self.signed(self.secret, key="AKIDNOTLISTED000").describe_virtual_interfaces(),
                          "UnrecognizedClientException", 400, "an unknown access key",
                          "The security token included in the request is invalid.")

    def test_refused_create_changes_nothing(self):
        self.assert_error(
            lambda: self.signed("not-the-secret").create_bgp_peer(
                virtualInterfaceId=SEED_VIF, newBGPPeer={"asn": 64600, "addressFamily": "ipv6"}),
            "InvalidSignatureException", 400, "CreateBGPPeer signed with a wrong secret")
        self.assertEqual(self.peer_ids(SEED_VIF), ["dxpeer-fg1v4v4e"])

    def test_cbor_body_changed_after_signing_is_invalid_signature(self):
        tampered = self.signed(self.secret)
        swapped = []

        def swap_body(request, **_):
            # Same length, so the signed Content-Length still holds; only the payload hash differs.
            body = request.body
            request.body = body.replace(SEED_VIF.encode(), b"dxvif-fg1vuj3x")
            swapped.append(request.body != body and request.body[0] >> 5 == 5)

        tampered.meta.events.register_first("before-send", swap_body)
        self.assert_error(lambda: tampered.describe_virtual_interfaces(virtualInterfaceId=SEED_VIF),
                          "InvalidSignatureException", 400, "a CBOR body that is not the one signed")
        self.assertEqual(swapped, [True], "the hook changed the signed CBOR body")

    def test_unsigned_request(self):
        unsigned = cbor_client(signature_version=botocore.UNSIGNED)
        Wire(unsigned)
        self.assert_error(lambda: unsigned.describe_virtual_interfaces(), "MissingAuthenticationTokenException", 400,
                          "unsigned request with credentials configured")


# ==================================================================================================
# Fault fixtures: the seed world with sim.faults at rate 1, each on its own simulator.
# ==================================================================================================


def seed_peer_ids_in_sim():
    """The seed VIF's peers as the simulator holds them (through the admin route, which faults do not touch)."""
    for v in sim_world()["virtualInterfaces"]:
        if v["virtualInterfaceId"] == SEED_VIF:
            return [p["bgpPeerId"] for p in v["bgpPeers"]]
    raise AssertionError("the seed VIF is missing from /_sim/world")


def latency():
    text = world()["sim"]["faults"].get("latency", "0ms")
    return float(text[:-2]) / 1000 if text.endswith("ms") else float(text[:-1])


class CborFaultThrottle(CborTestCase):
    """sim.faults throttleRate 1 and latency: every call is a ThrottlingException, answered after the latency."""

    FIXTURE = "cbor-fault-throttle"

    def test_every_request_is_throttled_late_and_nothing_runs(self):
        for what, call in (
            ("DescribeVirtualInterfaces", lambda: self.dx.describe_virtual_interfaces()),
            ("CreateBGPPeer", lambda: self.dx.create_bgp_peer(
                virtualInterfaceId=SEED_VIF, newBGPPeer={"asn": 64600, "addressFamily": "ipv6"})),
        ):
            start = time.monotonic()
            self.assert_error(call, "ThrottlingException", 400, what + " under throttleRate=1", "Rate exceeded")
            self.assertGreaterEqual(time.monotonic() - start, latency(), what + ": the latency fault applies")
            body = cbor_decode(self.wire.responses[-1]["body"])
            self.assertEqual(body["__type"], "com.amazon.coral.availability#ThrottlingException")
        self.assertEqual(seed_peer_ids_in_sim(), ["dxpeer-fg1v4v4e"])


class CborFaultServerError(CborTestCase):
    """sim.faults serverErrorRate 1: every call is a 500 DirectConnectServerException."""

    FIXTURE = "cbor-fault-server-error"

    def test_every_request_is_a_server_error(self):
        self.assert_error(lambda: self.dx.describe_virtual_interfaces(), "DirectConnectServerException", 500,
                          "DescribeVirtualInterfaces under serverErrorRate=1")
        body = cbor_decode(self.wire.responses[-1]["body"])
        self.assertEqual(body["__type"], NAMESPACE + "#DirectConnectServerException")
        self.assert_error(
            lambda: self.dx.create_bgp_peer(virtualInterfaceId=SEED_VIF,
                                            newBGPPeer={"asn": 64600, "addressFamily": "ipv6"}),
            "DirectConnectServerException", 500, "CreateBGPPeer under serverErrorRate=1")
        self.assertEqual(seed_peer_ids_in_sim(), ["dxpeer-fg1v4v4e"])


class CborFaultDrop(CborTestCase):
    """sim.faults dropRate 1: the operation runs, then the connection closes with no response."""

    FIXTURE = "cbor-fault-drop"

    def test_dropped_create_still_creates(self):
        with self.assertRaises(HTTPClientError, msg="CreateBGPPeer under dropRate=1 gets no response") as cm:
            self.dx.create_bgp_peer(virtualInterfaceId=SEED_VIF, newBGPPeer={"asn": 64600, "addressFamily": "ipv6"})
        self.assertNotIsInstance(cm.exception, ReadTimeoutError, "the connection is closed, not left hanging")
        self.assertEqual(len(self.wire.requests), 1, "the request went out, over CBOR")
        self.assertEqual(self.wire.responses, [], "no response came back")
        self.assertEqual(len(seed_peer_ids_in_sim()), 2, "the dropped CreateBGPPeer was executed")


def load_tests(loader, standard_tests, pattern):
    """Only the classes written for the world the simulator runs (DXCTL_SIM_WORLD's conformanceFixture)."""
    fixture = fixture_name()
    suite = unittest.TestSuite()
    for case in (CborWire, CborDescribe, CborBgpPeers, CborProtocol, CborSigV4, CborFaultThrottle,
                 CborFaultServerError, CborFaultDrop):
        if case.FIXTURE == fixture:
            suite.addTests(loader.loadTestsFromTestCase(case))
    if suite.countTestCases() == 0:
        raise RuntimeError("no CBOR conformance tests for world fixture {!r}".format(fixture))
    return suite


if __name__ == "__main__":
    unittest.main()
