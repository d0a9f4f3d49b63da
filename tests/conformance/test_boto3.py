"""Conformance of `dxctl sim serve` with AWS Direct Connect, seen through boto3 (a client nobody on the team wrote).

Run by tests/it/conformance.rs, one simulator per world fixture:

    DXCTL_SIM_URL=http://127.0.0.1:PORT DXCTL_SIM_WORLD=world.json python3 -m unittest -v test_boto3

(from tests/conformance). The world file names its fixture in "conformanceFixture"; `load_tests` below runs only
the classes written for that fixture. The fixtures (ids, states, sim settings) are defined in conformance.rs.
Each test class works on its own VIFs, so classes and tests do not depend on each other's order.
"""

import base64
import datetime
import json
import time
import unittest

from dxsim import (
    INVALID_TOKEN,
    LAST_PEER,
    TRANSITIONING,
    ClientError,
    HTTPClientError,
    ReadTimeoutError,
    SimTestCase,
    admin,
    approve,
    bgp_up_delay,
    check_ipv4_block,
    check_ipv6_block,
    client,
    deleted_retention,
    deletion_delay,
    fixture_name,
    freeze_signing_clock,
    not_found,
    parse_duration,
    peer_by_id,
    peer_transitioning,
    poll,
    post_faults,
    provision_delay,
    raw,
    raw_api,
    signed_headers,
    sim_world,
    unsigned_client,
    vif_transitioning,
    world,
)

US, EU = "us-east-1", "eu-west-1"

# The fields of the reference page's create-bgp-peer example output (shared reference create-bgp-peer.txt).
REFERENCE_VIF_KEYS = {
    "virtualInterfaceState", "asn", "vlan", "customerAddress", "ownerAccount", "connectionId", "addressFamily",
    "virtualGatewayId", "virtualInterfaceId", "authKey", "routeFilterPrefixes", "location", "bgpPeers",
    "customerRouterConfig", "amazonAddress", "virtualInterfaceType", "virtualInterfaceName",
}
REFERENCE_PEER_KEYS = {
    "bgpStatus", "customerAddress", "addressFamily", "authKey", "bgpPeerState", "amazonAddress", "asn",
}


def world_vif(vif_id):
    for v in world()["virtualInterfaces"]:
        if v["virtualInterfaceId"] == vif_id:
            return v
    raise KeyError(vif_id)


def world_ids(kind, id_field, region):
    return {x[id_field] for x in world().get(kind, []) if x.get("region", US) == region}


# ==================================================================================================
# Fixture "main": many small VIFs, provisionDelay 200ms, deletionDelay 500ms, deletedRetention 1s,
# publicAsnAllowList [7224]. Default transitioningRule: tests let a VIF settle before changing its peers again.
# ==================================================================================================


class Describe(SimTestCase):
    """DescribeVirtualInterfaces (by id, by connectionId, all, paginated), DescribeConnections/Lags/Interconnects."""

    FIXTURE = "main"

    def test_describe_by_id_returns_the_world_vif_unchanged(self):
        got = self.vif("dxvif-cfds0001")
        want = world_vif("dxvif-cfds0001")
        for key, value in want.items():
            if key == "bgpPeers":
                continue
            self.assertEqual(got.get(key), value, "field {}".format(key))
        self.assertEqual(len(got["bgpPeers"]), 1)
        for key, value in want["bgpPeers"][0].items():
            self.assertEqual(got["bgpPeers"][0].get(key), value, "peer field {}".format(key))

    def test_describe_keeps_4_byte_asn_as_asn_0_and_asn_long(self):
        peer = self.vif("dxvif-cfds0002")["bgpPeers"][0]
        self.assertEqual((peer["asn"], peer["asnLong"]), (0, 4200000010))

    def test_describe_by_connection_id(self):
        got = self.dx.describe_virtual_interfaces(connectionId="dxcon-cfds0001")["virtualInterfaces"]
        self.assertEqual(
            sorted(v["virtualInterfaceId"] for v in got),
            ["dxvif-cfds0001", "dxvif-cfds0002", "dxvif-cfds0003"],
        )
        self.assertTrue(all(v["connectionId"] == "dxcon-cfds0001" for v in got))

    def test_describe_all_lists_the_region_and_keeps_deleted_vifs(self):
        got = {v["virtualInterfaceId"]: v for v in self.dx.describe_virtual_interfaces()["virtualInterfaces"]}
        want = {v["virtualInterfaceId"] for v in world()["virtualInterfaces"] if v.get("region", US) == US}
        self.assertTrue(want <= set(got), "missing: {}".format(sorted(want - set(got))))
        self.assertNotIn("dxvif-cfeu0001", got, "an eu-west-1 VIF listed to a us-east-1 client")
        self.assertEqual(got["dxvif-cfds0003"]["virtualInterfaceState"], "deleted")
        for v in got.values():
            self.assertIn(v.get("region", US), (US,), v["virtualInterfaceId"])

    def test_describe_paginates_with_max_results(self):
        everything = {v["virtualInterfaceId"] for v in self.dx.describe_virtual_interfaces()["virtualInterfaces"]}
        seen, token, pages = [], None, 0
        for _ in range(200):
            kwargs = {"maxResults": 2}
            if token:
                kwargs["nextToken"] = token
            page = self.dx.describe_virtual_interfaces(**kwargs)
            pages += 1
            self.assertLessEqual(len(page["virtualInterfaces"]), 2, "maxResults=2 honoured")
            seen.extend(v["virtualInterfaceId"] for v in page["virtualInterfaces"])
            token = page.get("nextToken")
            if not token:
                break
        else:
            self.fail("nextToken never ran out")
        self.assertGreater(pages, 1, "more VIFs than maxResults, so more than one page")
        self.assertEqual(len(seen), len(set(seen)), "no VIF twice across pages")
        self.assertTrue(everything <= set(seen), "pages miss {}".format(sorted(everything - set(seen))))

    def test_describe_unknown_vif_is_a_client_exception(self):
        self.assert_client_error(
            lambda: self.dx.describe_virtual_interfaces(virtualInterfaceId="dxvif-cfnone00"),
            "DescribeVirtualInterfaces virtualInterfaceId=dxvif-cfnone00",
        )

    def test_describe_connections(self):
        got = {c["connectionId"]: c for c in self.dx.describe_connections()["connections"]}
        self.assertEqual(set(got), world_ids("connections", "connectionId", US))
        self.assertEqual(got["dxcon-cfye0001"]["hasLogicalRedundancy"], "yes")
        self.assertEqual(got["dxcon-cfno0001"]["hasLogicalRedundancy"], "no")
        # loaIssueTime is epoch seconds on the wire (dxcon-cfds0001's is pasted from AWS CLI v2 output as
        # "2023-11-14T22:13:20+00:00", dxcon-cfye0001's written as 1700000000); botocore turns it into a datetime.
        for conn in ("dxcon-cfds0001", "dxcon-cfye0001"):
            self.assertEqual(
                got[conn]["loaIssueTime"],
                datetime.datetime.fromtimestamp(1700000000, tz=datetime.timezone.utc),
            )
        _, _, body = raw_api("DescribeConnections", {"connectionId": "dxcon-cfds0001"})
        self.assertEqual(json.loads(body)["connections"][0]["loaIssueTime"], 1700000000)
        one = self.dx.describe_connections(connectionId="dxcon-cfye0001")["connections"]
        self.assertEqual([c["connectionId"] for c in one], ["dxcon-cfye0001"])
        self.assert_client_error(
            lambda: self.dx.describe_connections(connectionId="dxcon-cfnone00"),
            "DescribeConnections connectionId=dxcon-cfnone00",
            not_found("Connection", "dxcon-cfnone00"),
        )

    def test_describe_lags(self):
        got = self.dx.describe_lags()["lags"]
        self.assertEqual({l["lagId"] for l in got}, world_ids("lags", "lagId", US))
        one = self.dx.describe_lags(lagId="dxlag-cfye0001")["lags"]
        self.assertEqual([(l["lagId"], l["hasLogicalRedundancy"]) for l in one], [("dxlag-cfye0001", "yes")])
        self.assert_client_error(
            lambda: self.dx.describe_lags(lagId="dxlag-cfnone00"), "DescribeLags lagId=dxlag-cfnone00",
            not_found("Lag", "dxlag-cfnone00"),
        )

    def test_describe_interconnects(self):
        got = self.dx.describe_interconnects()["interconnects"]
        self.assertEqual({i["interconnectId"] for i in got}, world_ids("interconnects", "interconnectId", US))
        one = self.dx.describe_interconnects(interconnectId="dxcon-cfic0001")["interconnects"]
        self.assertEqual([i["interconnectId"] for i in one], ["dxcon-cfic0001"])
        self.assertEqual(one[0]["hasLogicalRedundancy"], "unknown")
        self.assert_client_error(
            lambda: self.dx.describe_interconnects(interconnectId="dxcon-cfnone00"),
            "DescribeInterconnects interconnectId=dxcon-cfnone00",
            not_found("Interconnect", "dxcon-cfnone00"),
        )


class Regions(SimTestCase):
    """Each VIF, connection, LAG and interconnect is served only to its region (the SigV4 scope's)."""

    FIXTURE = "main"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.eu = client(region=EU)

    def test_eu_client_sees_only_eu(self):
        listed = self.eu.describe_virtual_interfaces()["virtualInterfaces"]
        ids = {v["virtualInterfaceId"] for v in listed}
        self.assertIn("dxvif-cfeu0001", ids)
        self.assertEqual(ids & world_ids("virtualInterfaces", "virtualInterfaceId", US), set(), "us-east-1 VIFs listed")
        self.assertEqual({v.get("region") for v in listed}, {EU})
        self.assertEqual({c["connectionId"] for c in self.eu.describe_connections()["connections"]}, {"dxcon-cfeu0001"})
        self.assertEqual({l["lagId"] for l in self.eu.describe_lags()["lags"]}, {"dxlag-cfeu0001"})
        self.assertEqual(
            {i["interconnectId"] for i in self.eu.describe_interconnects()["interconnects"]}, {"dxcon-cficeu01"}
        )
        self.assertEqual(self.vif("dxvif-cfeu0001", dx=self.eu)["region"], EU)

    def test_eu_vif_is_invisible_to_us_client(self):
        self.assert_client_error(
            lambda: self.dx.describe_virtual_interfaces(virtualInterfaceId="dxvif-cfeu0001"),
            "us-east-1 DescribeVirtualInterfaces virtualInterfaceId=dxvif-cfeu0001",
        )
        self.assert_client_error(
            lambda: self.eu.describe_virtual_interfaces(virtualInterfaceId="dxvif-cfds0001"),
            "eu-west-1 DescribeVirtualInterfaces virtualInterfaceId=dxvif-cfds0001",
        )
        self.assert_client_error(
            lambda: self.dx.describe_connections(connectionId="dxcon-cfeu0001"),
            "us-east-1 DescribeConnections connectionId=dxcon-cfeu0001",
        )

    def test_eu_vif_cannot_be_changed_from_us(self):
        before = self.peer_ids("dxvif-cfeu0001", dx=self.eu)
        self.assert_client_error(
            lambda: self.dx.create_bgp_peer(
                virtualInterfaceId="dxvif-cfeu0001", newBGPPeer={"asn": 64600, "addressFamily": "ipv6"}
            ),
            "us-east-1 CreateBGPPeer on eu-west-1 dxvif-cfeu0001",
        )
        self.assert_client_error(
            lambda: self.dx.delete_bgp_peer(virtualInterfaceId="dxvif-cfeu0001", bgpPeerId="dxpeer-cfeu0001"),
            "us-east-1 DeleteBGPPeer on eu-west-1 dxvif-cfeu0001",
        )
        self.assert_client_error(
            lambda: self.dx.delete_virtual_interface(virtualInterfaceId="dxvif-cfeu0001"),
            "us-east-1 DeleteVirtualInterface on eu-west-1 dxvif-cfeu0001",
        )
        self.assert_client_error(
            lambda: self.dx.create_private_virtual_interface(
                connectionId="dxcon-cfeu0001",
                newPrivateVirtualInterface={"virtualInterfaceName": "wrong-region", "vlan": 402, "asn": 65000},
            ),
            "us-east-1 CreatePrivateVirtualInterface on eu-west-1 dxcon-cfeu0001",
        )
        after = self.vif("dxvif-cfeu0001", dx=self.eu)
        self.assertEqual(after["virtualInterfaceState"], "available")
        self.assertEqual(sorted(p["bgpPeerId"] for p in after["bgpPeers"]), before)

    def test_eu_client_can_change_eu(self):
        vif, peer = self.create_peer("dxvif-cfeu0001", dx=self.eu, asn=64600, addressFamily="ipv6")
        self.assertEqual(vif["region"], EU)
        check_ipv6_block(self, peer)
        created = self.eu.create_private_virtual_interface(
            connectionId="dxcon-cfeu0001",
            newPrivateVirtualInterface={"virtualInterfaceName": "eu-vif", "vlan": 401, "asn": 65000},
        )
        self.assertEqual(created["region"], EU)
        ids = [v["virtualInterfaceId"] for v in self.dx.describe_virtual_interfaces()["virtualInterfaces"]]
        self.assertNotIn(created["virtualInterfaceId"], ids, "a VIF created in eu-west-1 is listed in us-east-1")


class AddressFamilyRule(SimTestCase):
    """Without logical redundancy "yes", a new peer cannot share an address family with a live peer."""

    FIXTURE = "main"

    def test_second_ipv4_refused_without_redundancy_then_ipv6_allowed_once(self):
        self.refuse_create(
            "dxvif-cfaf0001", "connection hasLogicalRedundancy=no, ipv4 peer exists",
            asn=65001, addressFamily="ipv4",
        )
        self.refuse_create(
            "dxvif-cfaf0001", "connection hasLogicalRedundancy=no, ipv4 peer exists, explicit addresses",
            asn=65001, addressFamily="ipv4", amazonAddress="169.254.60.1/30", customerAddress="169.254.60.2/30",
        )
        _, peer = self.create_peer("dxvif-cfaf0001", asn=65001, addressFamily="ipv6")
        self.assertEqual(peer["addressFamily"], "ipv6")
        # refuse_create lets the new peer settle first, so the family rule refuses, not the transitioning rule
        # (that a pending peer counts as live too shows under transitioningRule off: TransitioningRuleOff).
        self.refuse_create(
            "dxvif-cfaf0001", "hasLogicalRedundancy=no, an ipv6 peer now exists", asn=65002, addressFamily="ipv6",
        )

    def test_deleted_peer_does_not_block_its_family(self):
        _, peer = self.create_peer("dxvif-cfaf0002", asn=65001, addressFamily="ipv6")
        self.assertEqual(peer["addressFamily"], "ipv6")

    def test_redundancy_yes_on_connection_allows_same_family(self):
        _, peer = self.create_peer("dxvif-cfre0001", asn=65001, addressFamily="ipv4")
        check_ipv4_block(self, peer)

    def test_redundancy_yes_allows_a_second_peer_with_the_same_asn(self):
        # Two routers of one AS, one BGP session each: nothing in the rules forbids it, and the addresses the
        # simulator assigns keep the peers apart (DeleteBGPPeer's asn + customerAddress stays unambiguous).
        _, peer = self.create_peer("dxvif-cfre0001", asn=65000, addressFamily="ipv4")
        check_ipv4_block(self, peer)
        self.assertNotEqual(peer["customerAddress"], "169.254.203.2/30")

    def test_redundancy_yes_on_lag_allows_same_family(self):
        _, peer = self.create_peer("dxvif-cflg0001", asn=65001, addressFamily="ipv4")
        check_ipv4_block(self, peer)

    def test_redundancy_unknown_on_interconnect_refuses_same_family(self):
        self.refuse_create(
            "dxvif-cfic0001", "interconnect hasLogicalRedundancy=unknown", asn=65001, addressFamily="ipv4"
        )

    def test_address_family_must_be_ipv4_or_ipv6(self):
        self.refuse_create("dxvif-cfre0001", "addressFamily ipv5", asn=65001, addressFamily="ipv5")


class AddressRules(SimTestCase):
    """IPv6: omit both addresses, get a /125 of the pool. IPv4: both or neither; neither gives a /30 of 169.254/16."""

    FIXTURE = "main"

    def test_ipv6_addresses_must_be_omitted(self):
        vif = "dxvif-cfv60001"
        amazon, customer = "2001:db8:1100:2f0:0:1:9cb4:4211/125", "2001:db8:1100:2f0:0:1:9cb4:4216/125"
        self.refuse_create(vif, "ipv6 with both addresses", asn=65001, addressFamily="ipv6",
                           amazonAddress=amazon, customerAddress=customer)
        self.refuse_create(vif, "ipv6 with customerAddress", asn=65001, addressFamily="ipv6", customerAddress=customer)
        self.refuse_create(vif, "ipv6 with amazonAddress", asn=65001, addressFamily="ipv6", amazonAddress=amazon)

    def test_ipv6_peers_get_distinct_125s_from_the_pool(self):
        _, first = self.create_peer("dxvif-cfv60001", asn=65011, addressFamily="ipv6")
        _, second = self.create_peer("dxvif-cfv60001", asn=65012, addressFamily="ipv6")
        a, b = check_ipv6_block(self, first), check_ipv6_block(self, second)
        self.assertNotEqual(a, b, "two IPv6 peers were given the same /125")

    def test_ipv4_needs_both_addresses_or_neither(self):
        vif = "dxvif-cfv40001"
        self.refuse_create(vif, "ipv4 with only amazonAddress", asn=65001, addressFamily="ipv4",
                           amazonAddress="169.254.70.1/30")
        self.refuse_create(vif, "ipv4 with only customerAddress", asn=65001, addressFamily="ipv4",
                           customerAddress="169.254.70.2/30")
        self.refuse_create(vif, "ipv4 with an amazonAddress that is no address", asn=65001, addressFamily="ipv4",
                           amazonAddress="not-an-address", customerAddress="169.254.70.2/30")

    def test_ipv4_without_addresses_gets_a_30_from_169_254(self):
        _, first = self.create_peer("dxvif-cfv40001", asn=65021, addressFamily="ipv4")
        _, second = self.create_peer("dxvif-cfv40001", asn=65022, addressFamily="ipv4")
        a, b = check_ipv4_block(self, first), check_ipv4_block(self, second)
        self.assertNotEqual(a, b, "two IPv4 peers of one VIF were given the same /30")

    def test_ipv4_with_both_addresses_keeps_them(self):
        _, peer = self.create_peer("dxvif-cfv40001", asn=65023, addressFamily="ipv4",
                                   amazonAddress="169.254.71.1/30", customerAddress="169.254.71.2/30")
        self.assertEqual((peer["amazonAddress"], peer["customerAddress"]), ("169.254.71.1/30", "169.254.71.2/30"))


class AuthKeyAndAsnRules(SimTestCase):
    """authKey 6..80 (generated when omitted); asn 1..2147483646, asnLong 1..4294967294; asn 0 for 4-byte ASNs."""

    FIXTURE = "main"

    def test_auth_key_length(self):
        vif = "dxvif-cfak0001"
        self.refuse_create(vif, "authKey of 5 characters", asn=65001, addressFamily="ipv4", authKey="k" * 5)
        self.refuse_create(vif, "authKey of 81 characters", asn=65001, addressFamily="ipv4", authKey="k" * 81)
        _, six = self.create_peer(vif, asn=65001, addressFamily="ipv4", authKey="k" * 6)
        self.assertEqual(six["authKey"], "k" * 6)
        _, eighty = self.create_peer(vif, asn=65002, addressFamily="ipv4", authKey="k" * 80)
        self.assertEqual(eighty["authKey"], "k" * 80)

    def test_auth_key_generated_when_omitted(self):
        _, a = self.create_peer("dxvif-cfak0001", asn=65003, addressFamily="ipv4")
        _, b = self.create_peer("dxvif-cfak0001", asn=65004, addressFamily="ipv4")
        for peer in (a, b):
            self.assertTrue(peer["authKey"].startswith("0x"), peer["authKey"])
            self.assertEqual(len(peer["authKey"]), 24, "0x + 22 characters: {!r}".format(peer["authKey"]))
        self.assertNotEqual(a["authKey"], b["authKey"], "generated keys differ")

    def test_asn_out_of_range_refused(self):
        vif = "dxvif-cfas0001"
        for what, fields in [
            ("asn 0", {"asn": 0}),
            ("asn -1", {"asn": -1}),
            ("asn 2147483647", {"asn": 2147483647}),
            ("asnLong 0", {"asnLong": 0}),
            ("asnLong 4294967295", {"asnLong": 4294967295}),
            ("asnLong counts when both are sent: asn 65000, asnLong 4294967295", {"asn": 65000, "asnLong": 4294967295}),
            ("neither asn nor asnLong", {}),
        ]:
            with self.subTest(what):
                self.refuse_create(vif, what, addressFamily="ipv4", **fields)

    def test_asn_edges_accepted_and_4_byte_asns_answer_asn_0(self):
        vif = "dxvif-cfas0001"
        for what, fields, want in [
            ("asn 1", {"asn": 1}, (1, 1)),
            ("2-byte asn", {"asn": 65010}, (65010, 65010)),
            ("2-byte asn sent as asnLong", {"asnLong": 65011}, (65011, 65011)),
            ("asn 2147483646 is a 4-byte ASN", {"asn": 2147483646}, (0, 2147483646)),
            ("asnLong 4200000000", {"asnLong": 4200000000}, (0, 4200000000)),
            ("asnLong 4294967294", {"asnLong": 4294967294}, (0, 4294967294)),
            ("asnLong counts when both are sent", {"asn": 65020, "asnLong": 4200000030}, (0, 4200000030)),
        ]:
            with self.subTest(what):
                vif_out, peer = self.create_peer(vif, addressFamily="ipv4", **fields)
                self.assertEqual((peer["asn"], peer.get("asnLong")), want, what)
                described = peer_by_id(self.vif(vif), peer["bgpPeerId"])
                self.assertEqual((described["asn"], described.get("asnLong")), want, "described: " + what)

    def test_public_asn_is_fine_on_a_private_vif(self):
        _, peer = self.create_peer("dxvif-cfas0001", asn=3356, addressFamily="ipv4")
        self.assertEqual(peer["asn"], 3356)


class PublicVifRules(SimTestCase):
    """On a public VIF the peer ASN must be private (64512..65534, 4200000000..4294967294) or allow-listed.

    IPv6 peers (no addresses to give) on a connection with logical redundancy, so only the ASN decides.
    """

    FIXTURE = "main"

    def test_public_asn_refused(self):
        for what, fields in [
            ("public asn 3356", {"asn": 3356}),
            ("asn 64511 (just below the private range)", {"asn": 64511}),
            ("asn 65535 (reserved, not private)", {"asn": 65535}),
            ("asnLong 4199999999 (just below the 4-byte private range)", {"asnLong": 4199999999}),
        ]:
            with self.subTest(what):
                self.refuse_create("dxvif-cfpb0001", what, addressFamily="ipv6", **fields)

    def test_private_or_allow_listed_asn_accepted_and_verifying(self):
        for what, fields in [
            ("allow-listed asn 7224", {"asn": 7224}),
            ("private asn 64512", {"asn": 64512}),
            ("private asn 65534", {"asn": 65534}),
            ("private asnLong 4200000000", {"asnLong": 4200000000}),
            ("private asnLong 4294967294", {"asnLong": 4294967294}),
        ]:
            with self.subTest(what):
                _, peer = self.create_peer("dxvif-cfpb0001", addressFamily="ipv6", **fields)
                self.assertEqual(peer["bgpPeerState"], "verifying", "a new peer on a public VIF starts verifying")


class DeleteBgpPeer(SimTestCase):
    """DeleteBGPPeer by bgpPeerId and by asn/asnLong + customerAddress, and its refusals."""

    FIXTURE = "main"

    def test_delete_by_asn_and_customer_address(self):
        vif = "dxvif-cfdl0002"
        self.settle(vif)  # the other test deletes a peer of this VIF too
        resp = self.dx.delete_bgp_peer(virtualInterfaceId=vif, asn=65002, customerAddress="169.254.21.2/30")
        self.assertIn("virtualInterface", resp, "DeleteBGPPeer returns {virtualInterface}")
        self.assertEqual(resp["virtualInterface"]["virtualInterfaceId"], vif)
        self.assertEqual(peer_by_id(resp["virtualInterface"], "dxpeer-cfdl0004")["bgpPeerState"], "deleting")
        self.assertEqual(peer_by_id(resp["virtualInterface"], "dxpeer-cfdl0003")["bgpPeerState"], "available")

    def test_delete_by_asn_long_and_customer_address(self):
        vif = "dxvif-cfdl0002"
        self.settle(vif)  # the other test deletes a peer of this VIF too
        resp = self.dx.delete_bgp_peer(virtualInterfaceId=vif, asnLong=4200000020, customerAddress="169.254.22.2/30")
        self.assertEqual(peer_by_id(resp["virtualInterface"], "dxpeer-cfdl0005")["bgpPeerState"], "deleting")

    def test_unknown_peer_refused(self):
        vif = "dxvif-cfuk0001"
        self.refuse_delete(vif, "unknown bgpPeerId", bgpPeerId="dxpeer-cfnone00")
        self.refuse_delete(vif, "asn of one peer, customerAddress of the other", asn=65000,
                           customerAddress="169.254.41.2/30")
        self.refuse_delete(vif, "customerAddress matches, asn does not", asn=65099, customerAddress="169.254.40.2/30")
        self.refuse_delete(vif, "bgpPeerId of another VIF's peer", bgpPeerId="dxpeer-cfds0001")

    def test_last_live_peer_cannot_be_deleted(self):
        self.refuse_delete("dxvif-cfls0002", "the only peer, by id", LAST_PEER, bgpPeerId="dxpeer-cfls0003")
        self.refuse_delete("dxvif-cfls0002", "the only peer, by asn", LAST_PEER, asn=65000,
                           customerAddress="169.254.113.2/30")
        err, after = self.refuse_delete("dxvif-cfls0001", "the only live peer beside a deleted one", LAST_PEER,
                                        bgpPeerId="dxpeer-cfls0001")
        self.assertEqual(err["Error"]["Message"], LAST_PEER, "AWS's exact text")
        self.assertEqual(peer_by_id(after, "dxpeer-cfls0001")["bgpPeerState"], "available")

    def test_pending_and_verifying_peers_refused_as_transitioning(self):
        _, after = self.refuse_delete("dxvif-cfpd0001", "pending peer", TRANSITIONING, bgpPeerId="dxpeer-cfpd0002")
        self.assertEqual(peer_by_id(after, "dxpeer-cfpd0002")["bgpPeerState"], "pending")
        self.refuse_delete("dxvif-cfpd0001", "pending peer by asn", TRANSITIONING,
                           asn=65003, customerAddress="169.254.31.2/30")
        _, after = self.refuse_delete("dxvif-cfpd0002", "verifying peer on a public VIF", TRANSITIONING,
                                      bgpPeerId="dxpeer-cfpd0005")
        self.assertEqual(peer_by_id(after, "dxpeer-cfpd0005")["bgpPeerState"], "verifying")

    def test_deleting_peer_refused(self):
        self.refuse_delete("dxvif-cfpd0001", "peer already deleting", bgpPeerId="dxpeer-cfpd0003")

    def test_peers_of_deleted_rejected_or_deleting_vifs_are_frozen(self):
        for vif, state in [("dxvif-cfds0003", "deleted"), ("dxvif-cfrj0001", "rejected"), ("dxvif-cfdg0001", "deleting")]:
            with self.subTest(state):
                self.assertEqual(self.vif(vif)["virtualInterfaceState"], state)
                self.refuse_create(vif, "CreateBGPPeer on a {} VIF".format(state), asn=65001, addressFamily="ipv6")
                self.refuse_create(vif, "CreateBGPPeer ipv4 on a {} VIF".format(state), asn=65001,
                                   addressFamily="ipv4")
        self.refuse_delete("dxvif-cfrj0001", "DeleteBGPPeer on a rejected VIF", bgpPeerId="dxpeer-cfrj0002")
        self.refuse_delete("dxvif-cfdg0001", "DeleteBGPPeer on a deleting VIF", bgpPeerId="dxpeer-cfdg0002")
        self.refuse_delete("dxvif-cfds0003", "DeleteBGPPeer on a deleted VIF", bgpPeerId="dxpeer-cfds0003")

    def test_unknown_vif_refused(self):
        self.assert_client_error(
            lambda: self.dx.create_bgp_peer(virtualInterfaceId="dxvif-cfnone00",
                                            newBGPPeer={"asn": 65000, "addressFamily": "ipv6"}),
            "CreateBGPPeer on unknown dxvif-cfnone00",
        )
        self.assert_client_error(
            lambda: self.dx.delete_bgp_peer(virtualInterfaceId="dxvif-cfnone00", bgpPeerId="dxpeer-cfds0001"),
            "DeleteBGPPeer on unknown dxvif-cfnone00",
        )


class VirtualInterfaces(SimTestCase):
    """CreatePrivate/Public/TransitVirtualInterface and DeleteVirtualInterface, shapes and rules."""

    FIXTURE = "main"

    def check_new_vif(self, vif, kind, name, vlan, connection, state):
        self.assertNotIn("virtualInterface", vif, "{} VIF create returns a bare VirtualInterface".format(kind))
        self.assertRegex(vif.get("virtualInterfaceId", ""), r"^dxvif-[0-9a-z]+$")
        self.assertEqual(vif["virtualInterfaceType"], kind)
        self.assertEqual(vif["virtualInterfaceName"], name)
        self.assertEqual(vif["vlan"], vlan)
        self.assertEqual(vif["connectionId"], connection)
        self.assertEqual(vif["virtualInterfaceState"], state)
        self.assertEqual(len(vif["bgpPeers"]), 1, "a new VIF has its first peer")
        peer = vif["bgpPeers"][0]
        self.assertEqual(peer["bgpPeerState"], state, "the first peer starts with the VIF")
        self.assertRegex(peer.get("bgpPeerId", ""), r"^dxpeer-[0-9a-z]+$")
        for key in ("asn", "authKey", "amazonAddress", "customerAddress", "addressFamily"):
            self.assertEqual(vif.get(key), peer.get(key), "VIF-level {} mirrors the first peer".format(key))
        listed = self.vif(vif["virtualInterfaceId"])
        self.assertEqual(listed["virtualInterfaceType"], kind)
        return peer

    def test_create_private_vif_returns_bare_vif_and_becomes_available(self):
        t0 = time.monotonic()
        vif = self.dx.create_private_virtual_interface(
            connectionId="dxcon-cfno0001",
            newPrivateVirtualInterface={
                "virtualInterfaceName": "conf-private", "vlan": 301, "asn": 65100, "mtu": 9001,
                "authKey": "private-vif-key", "addressFamily": "ipv4", "virtualGatewayId": "vgw-cf000001",
                "tags": [{"key": "team", "value": "network"}],
            },
        )
        peer = self.check_new_vif(vif, "private", "conf-private", 301, "dxcon-cfno0001", "pending")
        check_ipv4_block(self, peer)
        self.assertEqual((peer["asn"], peer["authKey"]), (65100, "private-vif-key"))
        self.assertEqual(vif["mtu"], 9001)
        self.assertEqual(vif["virtualGatewayId"], "vgw-cf000001")
        self.assertEqual(vif["tags"], [{"key": "team", "value": "network"}])
        got, waited, _ = poll(lambda: self.vif(vif["virtualInterfaceId"]),
                              lambda v: v["virtualInterfaceState"] == "available", 5 + 5 * provision_delay())
        self.assertEqual(got["bgpPeers"][0]["bgpPeerState"], "available", "the first peer is available with the VIF")
        self.assertGreaterEqual(time.monotonic() - t0, provision_delay() * 0.9, "available no sooner than provisionDelay")

    def test_create_public_vif_returns_bare_vif_verifying(self):
        vif = self.dx.create_public_virtual_interface(
            connectionId="dxcon-cfno0001",
            newPublicVirtualInterface={
                "virtualInterfaceName": "conf-public", "vlan": 302, "asn": 7224, "addressFamily": "ipv4",
                "amazonAddress": "203.0.113.1/30", "customerAddress": "203.0.113.2/30",
                "routeFilterPrefixes": [{"cidr": "203.0.113.0/24"}],
            },
        )
        peer = self.check_new_vif(vif, "public", "conf-public", 302, "dxcon-cfno0001", "verifying")
        self.assertEqual((peer["amazonAddress"], peer["customerAddress"]), ("203.0.113.1/30", "203.0.113.2/30"))
        self.assertEqual(vif["routeFilterPrefixes"], [{"cidr": "203.0.113.0/24"}])
        poll(lambda: self.vif(vif["virtualInterfaceId"]),
             lambda v: v["virtualInterfaceState"] == "available" and v["bgpPeers"][0]["bgpPeerState"] == "available",
             5 + 5 * provision_delay())

    def test_create_transit_vif_returns_wrapped_vif(self):
        resp = self.dx.create_transit_virtual_interface(
            connectionId="dxcon-cfno0001",
            newTransitVirtualInterface={
                "virtualInterfaceName": "conf-transit", "vlan": 303, "asnLong": 4200000100, "addressFamily": "ipv6",
                "directConnectGatewayId": "5f294f92-bafb-4011-916d-9b0bec1f2f7d",
            },
        )
        self.assertIn("virtualInterface", resp, "CreateTransitVirtualInterface returns {virtualInterface}")
        vif = resp["virtualInterface"]
        self.assertEqual(vif["virtualInterfaceType"], "transit")
        self.assertEqual(vif["virtualInterfaceState"], "pending")
        self.assertEqual(vif["vlan"], 303)
        self.assertEqual(vif["directConnectGatewayId"], "5f294f92-bafb-4011-916d-9b0bec1f2f7d")
        peer = vif["bgpPeers"][0]
        self.assertEqual((peer["asn"], peer["asnLong"]), (0, 4200000100))
        check_ipv6_block(self, peer)
        poll(lambda: self.vif(vif["virtualInterfaceId"]),
             lambda v: v["virtualInterfaceState"] == "available", 5 + 5 * provision_delay())

    def test_create_vif_on_lag_and_interconnect(self):
        on_lag = self.dx.create_private_virtual_interface(
            connectionId="dxlag-cfye0001",
            newPrivateVirtualInterface={"virtualInterfaceName": "conf-on-lag", "vlan": 304, "asn": 65101},
        )
        self.assertEqual(on_lag["connectionId"], "dxlag-cfye0001")
        on_ic = self.dx.create_private_virtual_interface(
            connectionId="dxcon-cfic0001",
            newPrivateVirtualInterface={"virtualInterfaceName": "conf-on-interconnect", "vlan": 305, "asn": 65102},
        )
        self.assertEqual(on_ic["connectionId"], "dxcon-cfic0001")

    def test_create_vif_refusals(self):
        # botocore would refuse a missing name client-side; this client sends it anyway.
        lax = client(parameter_validation=False)
        ok = {"virtualInterfaceName": "conf-bad", "vlan": 310, "asn": 65000}

        def private(connection="dxcon-cfno0001", dx=None, **changes):
            body = dict(ok, **changes)
            body = {k: v for k, v in body.items() if v is not None}
            return lambda: (dx or self.dx).create_private_virtual_interface(
                connectionId=connection, newPrivateVirtualInterface=body)

        cases = [
            ("unknown connection", private(connection="dxcon-cfnone00")),
            ("vlan 0", private(vlan=0)),
            ("vlan 4095", private(vlan=4095)),
            ("vlan 201 already used on dxcon-cfno0001", private(vlan=201)),
            ("no virtualInterfaceName", private(dx=lax, virtualInterfaceName=None)),
            ("asn 0", private(asn=0)),
            ("asnLong 4294967295", private(asn=None, asnLong=4294967295)),
            ("authKey of 5 characters", private(authKey="12345")),
            ("ipv6 with addresses", private(addressFamily="ipv6", amazonAddress="2001:db8::1/125",
                                           customerAddress="2001:db8::6/125")),
            ("ipv4 with only amazonAddress", private(addressFamily="ipv4", amazonAddress="169.254.80.1/30")),
            ("public VIF with a public ASN not allow-listed", lambda: self.dx.create_public_virtual_interface(
                connectionId="dxcon-cfno0001",
                newPublicVirtualInterface={"virtualInterfaceName": "conf-bad-public", "vlan": 311, "asn": 3356,
                                           "amazonAddress": "203.0.113.5/30", "customerAddress": "203.0.113.6/30"})),
            ("transit VIF vlan 4095", lambda: self.dx.create_transit_virtual_interface(
                connectionId="dxcon-cfno0001",
                newTransitVirtualInterface={"virtualInterfaceName": "conf-bad-transit", "vlan": 4095, "asn": 65000})),
        ]
        before = {v["virtualInterfaceId"] for v in self.dx.describe_virtual_interfaces()["virtualInterfaces"]}
        for what, call in cases:
            with self.subTest(what):
                self.assert_client_error(call, "Create*VirtualInterface: " + what)
        after = {v["virtualInterfaceId"] for v in self.dx.describe_virtual_interfaces()["virtualInterfaces"]}
        self.assertEqual(after - before, set(), "a refused create made a VIF")

    def test_delete_vif_deleting_then_deleted_listed_for_the_retention_then_gone(self):
        vif = "dxvif-cfdv0001"
        t0 = time.monotonic()
        resp = self.dx.delete_virtual_interface(virtualInterfaceId=vif)
        self.assertEqual(resp, {"virtualInterfaceState": "deleting", "ResponseMetadata": resp["ResponseMetadata"]})
        self.assertIn(self.vif(vif)["virtualInterfaceState"], ("deleting", "deleted"))
        got, _, _ = poll(lambda: self.vif(vif), lambda v: v["virtualInterfaceState"] == "deleted",
                         5 + 5 * deletion_delay())
        self.assertGreaterEqual(time.monotonic() - t0, deletion_delay() * 0.9, "deleted no sooner than deletionDelay")
        self.assertTrue(all(p["bgpPeerState"] == "deleted" for p in got["bgpPeers"]), got["bgpPeers"])
        self.refuse_create(vif, "CreateBGPPeer on the VIF just deleted", asn=65001, addressFamily="ipv6")
        # "Virtual interfaces deleted fewer than 15 minutes before you make the request are also returned": listed
        # as deleted for sim.deletedRetention (1s in this world), then no longer.
        _, _, history = poll(lambda: self.vif_or_none(vif), lambda v: v is None,
                             5 + 5 * (deletion_delay() + deleted_retention()))
        gone_at = time.monotonic() - t0
        self.assertGreaterEqual(gone_at, (deletion_delay() + deleted_retention()) * 0.9,
                                "listed for deletedRetention after it was deleted")
        self.assertEqual({v["virtualInterfaceState"] for v in history[:-1]}, {"deleted"}, "listed as deleted until gone")
        self.assertGreater(len(history), 2, "seen lingering as deleted more than once")
        self.assert_client_error(lambda: self.dx.describe_virtual_interfaces(virtualInterfaceId=vif),
                                 "DescribeVirtualInterfaces by id of a VIF past its retention")

    def test_delete_unknown_vif_refused(self):
        self.assert_client_error(
            lambda: self.dx.delete_virtual_interface(virtualInterfaceId="dxvif-cfnone00"),
            "DeleteVirtualInterface dxvif-cfnone00",
        )


class Lifecycles(SimTestCase):
    """pending -> available, verifying -> available, deleting -> deleted -> gone (after deletedRetention), with the
    world's delays."""

    FIXTURE = "main"

    def test_new_peer_pending_then_available_after_the_delay(self):
        vif = "dxvif-cflc0001"
        t0 = time.monotonic()
        _, peer = self.create_peer(vif, asn=64600, addressFamily="ipv6")
        self.assertEqual(peer["bgpPeerState"], "pending")
        poll(lambda: self.peer_state(vif, peer["bgpPeerId"]), lambda s: s == "available", 5 + 5 * provision_delay())
        self.assertGreaterEqual(time.monotonic() - t0, provision_delay() * 0.9, "available no sooner than provisionDelay")

    def test_public_vif_peer_verifying_then_available(self):
        vif = "dxvif-cfpb0002"
        _, peer = self.create_peer(vif, asn=65001, addressFamily="ipv6")
        self.assertEqual(peer["bgpPeerState"], "verifying")
        poll(lambda: self.peer_state(vif, peer["bgpPeerId"]), lambda s: s == "available", 5 + 5 * provision_delay())

    def test_deleted_peer_goes_deleting_deleted_gone(self):
        vif = "dxvif-cfdl0001"
        t0 = time.monotonic()
        resp = self.dx.delete_bgp_peer(virtualInterfaceId=vif, bgpPeerId="dxpeer-cfdl0002")
        self.assertEqual(peer_by_id(resp["virtualInterface"], "dxpeer-cfdl0002")["bgpPeerState"], "deleting")
        seen = ["deleting"]
        marks = {}

        def state():
            s = self.peer_state(vif, "dxpeer-cfdl0002")
            if s != seen[-1]:
                seen.append(s)
                marks[s] = time.monotonic() - t0
            return s

        poll(state, lambda s: s == "<gone>", 5 + 5 * (deletion_delay() + deleted_retention()), interval=0.04)
        self.assertEqual(seen, ["deleting", "deleted", "<gone>"], "peer states after DeleteBGPPeer")
        self.assertGreaterEqual(marks["deleted"], deletion_delay() * 0.9)
        # Listed as deleted for sim.deletedRetention (1s in this world; the default is 15 minutes, see SeedExample).
        self.assertGreaterEqual(marks["<gone>"] - marks["deleted"], deleted_retention() * 0.8)
        self.assertGreaterEqual(marks["<gone>"], (deletion_delay() + deleted_retention()) * 0.9)
        # What is left is the last live peer: it cannot go.
        self.refuse_delete(vif, "last live peer after the other one left", LAST_PEER, bgpPeerId="dxpeer-cfdl0001")
        # The one gone is unknown now.
        self.refuse_delete(vif, "a peer already removed", bgpPeerId="dxpeer-cfdl0002")


class Protocol(SimTestCase):
    """AWS JSON 1.1 details: unsupported operations, missing auth, bad JSON, other paths."""

    FIXTURE = "main"

    def test_unsupported_operation_is_a_json_error(self):
        self.assert_error(lambda: self.dx.describe_locations(), "UnknownOperationException", 400,
                          "DescribeLocations (not simulated)")
        status, headers, body = raw_api("NoSuchOperation", {})
        self.assertEqual(status, 400)
        doc = json.loads(body)
        self.assertEqual(doc.get("__type"), "UnknownOperationException", body)
        self.assertIn("message", doc)
        self.assertEqual(headers.get("x-amzn-errortype", "").split(":")[0], "UnknownOperationException")
        self.assertIn("json", headers.get("content-type", ""))
        # The server keeps serving.
        self.assertTrue(self.dx.describe_virtual_interfaces()["virtualInterfaces"])

    def test_other_path_is_a_404_json_error(self):
        status, _, body = raw("GET", "/no/such/path")
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(body).get("__type"), "UnknownOperationException", body)

    def test_missing_authorization(self):
        self.assert_error(lambda: unsigned_client().describe_virtual_interfaces(),
                          "MissingAuthenticationTokenException", 400, "unsigned DescribeVirtualInterfaces")

    def test_invalid_json_body(self):
        status, headers, body = raw_api("DescribeVirtualInterfaces", b"{not json")
        self.assertEqual(status, 400, body)
        self.assertEqual(json.loads(body).get("__type"), "SerializationException", body)
        self.assertEqual(headers.get("x-amzn-errortype", "").split(":")[0], "SerializationException")

    def test_client_error_body_and_header(self):
        status, headers, body = raw_api("DescribeVirtualInterfaces", {"virtualInterfaceId": "dxvif-cfnone00"})
        self.assertEqual(status, 400)
        doc = json.loads(body)
        self.assertEqual(doc.get("__type"), "DirectConnectClientException")
        self.assertTrue(doc.get("message"))
        self.assertEqual(headers.get("x-amzn-errortype", "").split(":")[0], "DirectConnectClientException")


# ==================================================================================================
# Fixture "seed": the seed world (examples/seed/world.json), provisionDelay 200ms, deletionDelay 300ms.
# ==================================================================================================


class SeedExample(SimTestCase):
    """The AWS CLI reference's create-bgp-peer example, end to end."""

    FIXTURE = "seed"

    def test_seed_example_end_to_end(self):
        vif_id = "dxvif-fg1vuj3d"
        before = self.vif(vif_id)
        self.assertEqual([p["bgpPeerId"] for p in before["bgpPeers"]], ["dxpeer-fg1v4v4e"])

        resp = self.dx.create_bgp_peer(virtualInterfaceId=vif_id, newBGPPeer={"asn": 64600, "addressFamily": "ipv6"})
        vif = resp["virtualInterface"]
        self.assertEqual(len(vif["bgpPeers"]), 2)
        old, new = vif["bgpPeers"]
        self.assertEqual(old["bgpPeerId"], "dxpeer-fg1v4v4e", "the existing peer comes first")
        # subTests: one shape mismatch must not hide the rest of the walk-through.
        with self.subTest("the reference output's VIF and peer fields are all there"):
            self.assertEqual(REFERENCE_VIF_KEYS - set(vif), set(), "missing VIF fields")
            for peer in (old, new):
                self.assertEqual(REFERENCE_PEER_KEYS - set(peer), set(), "missing peer fields")
        with self.subTest("the VIF's own fields are the reference's"):
            for key, want in [("virtualInterfaceState", "available"), ("asn", 65000), ("vlan", 125),
                              ("connectionId", "dxcon-fguhmqlc"), ("virtualInterfaceType", "private"),
                              ("virtualInterfaceName", "Test"), ("location", "EqDC2"), ("addressFamily", "ipv4"),
                              ("amazonAddress", "169.254.255.1/30"), ("customerAddress", "169.254.255.2/30"),
                              ("virtualGatewayId", "vgw-f9eb0c90"), ("ownerAccount", "123456789012")]:
                self.assertEqual(vif.get(key), want, key)
            self.assertEqual(old.get("bgpPeerState"), "available")
        with self.subTest("the new peer is the reference's"):
            self.assertEqual(
                {k: new.get(k) for k in ("addressFamily", "asn", "asnLong", "bgpPeerState", "bgpStatus",
                                         "amazonAddress", "customerAddress")},
                {"addressFamily": "ipv6", "asn": 64600, "asnLong": 64600, "bgpPeerState": "pending",
                 "bgpStatus": "down", "amazonAddress": "2001:db8:1100:2f0:0:1:9cb4:4211/125",
                 "customerAddress": "2001:db8:1100:2f0:0:1:9cb4:4216/125"},
            )
            self.assertTrue(new["authKey"].startswith("0x") and len(new["authKey"]) == 24, new["authKey"])
            self.assertRegex(new["bgpPeerId"], r"^dxpeer-[0-9a-z]+$")
        with self.subTest("customerRouterConfig carries the IPv6 session, as on the reference page"):
            config = vif.get("customerRouterConfig", "")
            for line in ['<logical_connection id="dxvif-fg1vuj3d">', "<vlan>125</vlan>",
                         "<ipv6_customer_address>2001:db8:1100:2f0:0:1:9cb4:4216/125</ipv6_customer_address>",
                         "<ipv6_amazon_address>2001:db8:1100:2f0:0:1:9cb4:4211/125</ipv6_amazon_address>",
                         "<ipv6_bgp_asn>64600</ipv6_bgp_asn>",
                         "<ipv6_bgp_auth_key>{}</ipv6_bgp_auth_key>".format(new["authKey"])]:
                self.assertIn(line, config)

        # pending -> available after provisionDelay.
        got, _, _ = poll(lambda: self.vif(vif_id),
                         lambda v: len(v["bgpPeers"]) == 2 and all(p["bgpPeerState"] == "available" for p in v["bgpPeers"]),
                         5 + 5 * provision_delay())
        self.assertEqual(peer_by_id(got, new["bgpPeerId"])["authKey"], new["authKey"], "the generated key is kept")
        self.assertEqual(got["virtualInterfaceState"], "available")

        # A second IPv6 peer breaks the address-family rule (hasLogicalRedundancy "no").
        self.refuse_create(vif_id, "second ipv6 peer on the seed VIF", asn=64601, addressFamily="ipv6")

        # And back: delete the new peer; it ends deleted; the original stays and is the last live one.
        self.dx.delete_bgp_peer(virtualInterfaceId=vif_id, bgpPeerId=new["bgpPeerId"])
        poll(lambda: self.peer_state(vif_id, new["bgpPeerId"]), lambda s: s == "deleted", 5 + 5 * deletion_delay())
        self.refuse_delete(vif_id, "the seed VIF's last live peer", LAST_PEER, bgpPeerId="dxpeer-fg1v4v4e")
        # With the default deletedRetention (15 minutes, the retention DescribeVirtualInterfaces documents for
        # VIFs) the deleted peer stays listed as deleted.
        self.assertEqual(deleted_retention(), 15 * 60, "this world keeps the default retention")
        time.sleep(max(1.5, 3 * deletion_delay()))
        got = self.vif(vif_id)
        self.assertEqual(sorted((p["bgpPeerId"], p["bgpPeerState"]) for p in got["bgpPeers"]),
                         sorted([("dxpeer-fg1v4v4e", "available"), (new["bgpPeerId"], "deleted")]))

    def test_deleted_vif_stays_listed_with_the_default_retention(self):
        created = self.dx.create_private_virtual_interface(
            connectionId="dxcon-fguhmqlc",
            newPrivateVirtualInterface={"virtualInterfaceName": "seed-second", "vlan": 126, "asn": 65010},
        )
        vif_id = created["virtualInterfaceId"]
        self.settle(vif_id)
        self.assertEqual(self.dx.delete_virtual_interface(virtualInterfaceId=vif_id)["virtualInterfaceState"],
                         "deleting")
        poll(lambda: self.vif(vif_id)["virtualInterfaceState"], lambda s: s == "deleted", 5 + 5 * deletion_delay())
        time.sleep(max(1.5, 3 * deletion_delay()))
        self.assertEqual(self.vif(vif_id)["virtualInterfaceState"], "deleted", "still listed (default: 15 minutes)")
        self.assertIn(vif_id, [v["virtualInterfaceId"] for v in self.dx.describe_virtual_interfaces()["virtualInterfaces"]])


# ==================================================================================================
# Fixture "seed-slow": the seed world with provisionDelay 60s: new peers stay pending for the whole run.
# ==================================================================================================


class PendingPeer(SimTestCase):
    FIXTURE = "seed-slow"

    def test_deleting_a_pending_peer_is_a_transitioning_error(self):
        vif_id = "dxvif-fg1vuj3d"
        _, peer = self.create_peer(vif_id, asn=64600, addressFamily="ipv6")
        self.assertEqual(peer["bgpPeerState"], "pending")
        self.assertEqual(peer["customerAddress"], "2001:db8:1100:2f0:0:1:9cb4:4216/125")
        self.refuse_delete(vif_id, "pending peer by id", TRANSITIONING, bgpPeerId=peer["bgpPeerId"])
        self.refuse_delete(vif_id, "pending peer by asn + customerAddress", TRANSITIONING,
                           asn=64600, customerAddress=peer["customerAddress"])
        self.assertEqual(self.peer_state(vif_id, peer["bgpPeerId"]), "pending")
        # While a peer is pending, the default transitioningRule refuses any other peer change on its VIF, naming
        # the peer (that the family rule counts a pending peer as live shows under TransitioningRuleOff).
        self.refuse_create(vif_id, "ipv6 beside a pending ipv6 peer", settle=False,
                           message=peer_transitioning(vif_id, peer["bgpPeerId"]), asn=64601, addressFamily="ipv6")
        self.refuse_create(vif_id, "ipv4 beside a pending ipv6 peer", settle=False,
                           message=peer_transitioning(vif_id, peer["bgpPeerId"]), asn=64601, addressFamily="ipv4",
                           amazonAddress="169.254.254.1/30", customerAddress="169.254.254.2/30")


# ==================================================================================================
# Fixture "approval": sim.manualApproval true, provisionDelay 200ms.
# ==================================================================================================


class ManualApproval(SimTestCase):
    FIXTURE = "approval"

    def test_public_peer_stays_verifying_until_approved(self):
        vif = "dxvif-cfma0001"
        _, first = self.create_peer(vif, asn=64513, addressFamily="ipv4")
        _, second = self.create_peer(vif, asn=64514, addressFamily="ipv4")
        _, third = self.create_peer(vif, asn=64515, addressFamily="ipv4")
        for p in (first, second, third):
            self.assertEqual(p["bgpPeerState"], "verifying")
        time.sleep(max(1.0, 4 * provision_delay()))
        self.assertEqual(self.peer_state(vif, first["bgpPeerId"]), "verifying", "no approval, no progress")
        self.refuse_delete(vif, "verifying peer awaiting approval", TRANSITIONING, bgpPeerId=first["bgpPeerId"])

        # A malformed approval is a 400 ValidationException and approves nothing (never "all" by accident).
        for bad in (b"not json", b"", b"[]", b"null", b'{"bgpPeerId": null}', b'{"bgpPeerId": 7}',
                    b'{"bgpPeerId": ""}', b'{"bgpPeerID": "x"}', b'{"bgpPeerId": "%s", "all": true}' % first["bgpPeerId"].encode()):
            with self.subTest(body=bad):
                status, data = approve(body=bad)
                self.assertEqual(status, 400, data)
                self.assertEqual(json.loads(data).get("__type"), "ValidationException", data)
        for p in (first, second, third):
            self.assertEqual(self.peer_state(vif, p["bgpPeerId"]), "verifying", "refused approvals approve nothing")

        status, body = approve(first["bgpPeerId"])
        self.assertEqual(status, 200, body)
        poll(lambda: self.peer_state(vif, first["bgpPeerId"]), lambda s: s == "available", 5 + 5 * provision_delay())
        self.assertEqual(self.peer_state(vif, second["bgpPeerId"]), "verifying", "approving one peer approves only it")

        status, body = approve()
        self.assertEqual(status, 200, body)
        for p in (second, third):
            poll(lambda: self.peer_state(vif, p["bgpPeerId"]), lambda s: s == "available", 5 + 5 * provision_delay())

    def test_private_peer_needs_no_approval(self):
        vif = "dxvif-cfma0002"
        _, peer = self.create_peer(vif, asn=64600, addressFamily="ipv6")
        self.assertEqual(peer["bgpPeerState"], "pending")
        poll(lambda: self.peer_state(vif, peer["bgpPeerId"]), lambda s: s == "available", 5 + 5 * provision_delay())


# ==================================================================================================
# Fixture "sigv4": the seed world with sim.credentials: signatures are verified.
# ==================================================================================================


class SigV4(SimTestCase):
    FIXTURE = "sigv4"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        creds = world()["sim"]["credentials"]
        cls.key, cls.secret = creds[0]["accessKeyId"], creds[0]["secretAccessKey"]
        cls.key2, cls.secret2 = creds[1]["accessKeyId"], creds[1]["secretAccessKey"]
        cls.dx = client(key=cls.key, secret=cls.secret)

    def test_listed_keys_work_in_any_region(self):
        self.assertEqual(self.vif("dxvif-fg1vuj3d")["virtualInterfaceId"], "dxvif-fg1vuj3d")
        other = client(key=self.key2, secret=self.secret2)
        self.assertEqual(len(other.describe_virtual_interfaces()["virtualInterfaces"]), 1)
        eu = client(region=EU, key=self.key, secret=self.secret)
        self.assertEqual(eu.describe_virtual_interfaces()["virtualInterfaces"], [])

    def test_wrong_secret_is_invalid_signature(self):
        bad = client(key=self.key, secret=self.secret + "x")
        self.assert_error(
            lambda: bad.describe_virtual_interfaces(), "InvalidSignatureException", 400,
            "DescribeVirtualInterfaces signed with a wrong secret",
            "The request signature we calculated does not match the signature you provided.",
        )
        # Another listed key's secret is a wrong secret for this key too.
        crossed = client(key=self.key, secret=self.secret2)
        self.assert_error(lambda: crossed.describe_virtual_interfaces(), "InvalidSignatureException", 400,
                          "key 1 signed with key 2's secret")

    def test_unknown_key_is_unrecognized_client(self):
        stranger = client(key="AKIDNOTLISTED000", secret=self.secret)
        self.assert_error(
            lambda: stranger.describe_virtual_interfaces(), "UnrecognizedClientException", 400,
            "DescribeVirtualInterfaces with an unknown access key",
            "The security token included in the request is invalid.",
        )

    def test_refused_signature_changes_nothing(self):
        bad = client(key=self.key, secret="not-the-secret")
        self.assert_error(
            lambda: bad.create_bgp_peer(virtualInterfaceId="dxvif-fg1vuj3d",
                                        newBGPPeer={"asn": 64600, "addressFamily": "ipv6"}),
            "InvalidSignatureException", 400, "CreateBGPPeer signed with a wrong secret",
        )
        self.assertEqual(self.peer_ids("dxvif-fg1vuj3d"), ["dxpeer-fg1v4v4e"])

    def test_body_changed_after_signing_is_invalid_signature(self):
        tampered = client(key=self.key, secret=self.secret)
        swapped = []

        def swap_body(request, **_):
            # Same length, so Content-Length (signed) still holds; only the payload hash differs.
            body = request.body if isinstance(request.body, bytes) else request.body.encode()
            request.body = body.replace(b"dxvif-fg1vuj3d", b"dxvif-fg1vuj3x")
            swapped.append(request.body != body)

        tampered.meta.events.register("before-send", swap_body)
        self.assert_error(lambda: tampered.describe_virtual_interfaces(virtualInterfaceId="dxvif-fg1vuj3d"),
                          "InvalidSignatureException", 400, "a body that is not the one signed")
        self.assertEqual(swapped, [True], "the hook changed the signed body")

    def test_unsigned_request(self):
        self.assert_error(lambda: unsigned_client().describe_virtual_interfaces(),
                          "MissingAuthenticationTokenException", 400, "unsigned request with credentials configured")

    def test_signatures_outside_the_clock_skew_window_are_refused(self):
        """boto3 signing with its clock 20 minutes off is refused in AWS's words; 5 minutes off is accepted."""
        dx = client(key=self.key, secret=self.secret)
        with freeze_signing_clock(-20 * 60):
            err = self.assert_error(lambda: dx.describe_virtual_interfaces(), "InvalidSignatureException", 400,
                                    "signed 20 minutes ago", "Signature expired: ")
        self.assertRegex(err["Error"]["Message"],
                         r"^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)$")
        with freeze_signing_clock(20 * 60):
            err = self.assert_error(lambda: dx.describe_virtual_interfaces(), "InvalidSignatureException", 400,
                                    "signed 20 minutes ahead", "Signature not yet current: ")
        self.assertRegex(err["Error"]["Message"],
                         r"^Signature not yet current: \d{8}T\d{6}Z is still later than \d{8}T\d{6}Z \(\d{8}T\d{6}Z \+ 15 min\.\)$")
        for offset in (-5 * 60, 5 * 60):
            with freeze_signing_clock(offset):
                self.assertEqual(self.vif(SEED_VIF, dx)["virtualInterfaceId"], SEED_VIF, "{}s off".format(offset))
        self.assertEqual(self.peer_ids(SEED_VIF), ["dxpeer-fg1v4v4e"])

    def test_admin_routes_need_a_listed_key(self):
        secrets = [self.secret.encode(), self.secret2.encode()]
        for method, path, body in (("GET", "/_sim/world", b""), ("POST", "/_sim/approve", b"{}"),
                                   ("POST", "/_sim/faults", b'{"dropRate": 1.0}')):
            headers = {"Content-Type": "application/json"} if body else {}
            refusals = (
                ("unsigned", raw(method, path, body, headers), "MissingAuthenticationTokenException"),
                ("wrong secret", raw(method, path, body, signed_headers(method, path, body, headers, self.key,
                                                                        "not-the-secret")), "InvalidSignatureException"),
                ("unknown key", raw(method, path, body, signed_headers(method, path, body, headers, "AKIDNOTLISTED000",
                                                                       self.secret)), "UnrecognizedClientException"),
            )
            for what, (status, _, data), code in refusals:
                with self.subTest(path=path, what=what):
                    self.assertEqual(status, 400, data)
                    self.assertEqual(json.loads(data).get("__type"), code, data)
                    self.assertNotIn(b"authKey", data)
                    self.assertNotIn(b"virtualInterfaces", data)
                    for secret in secrets:
                        self.assertNotIn(secret, data)
            with freeze_signing_clock(-20 * 60):
                status, _, data = raw(method, path, body, signed_headers(method, path, body, headers, self.key,
                                                                         self.secret))
            self.assertEqual(status, 400, data)
            self.assertIn(b"Signature expired", data)
        # The refused POST /_sim/faults changed nothing: calls still go through.
        self.assertEqual(self.peer_ids(SEED_VIF), ["dxpeer-fg1v4v4e"])
        status, _, data = raw("GET", "/_sim/world", b"", signed_headers("GET", "/_sim/world", b"", {}, self.key2,
                                                                         self.secret2))
        self.assertEqual(status, 200, data[:200])
        self.assertIn(SEED_VIF, [v["virtualInterfaceId"] for v in json.loads(data)["virtualInterfaces"]])
        self.assertEqual(admin("GET", "/_sim/world")[0], 200, "dxsim's admin helper signs with the world's key")


# ==================================================================================================
# Fault fixtures: the seed world with one fault at rate 1 (so every draw hits), each on its own simulator.
# ==================================================================================================

SEED_VIF = "dxvif-fg1vuj3d"


def seed_peers_in_sim():
    """The seed VIF's peers as the simulator holds them (through the admin route, which faults do not touch)."""
    for v in sim_world()["virtualInterfaces"]:
        if v["virtualInterfaceId"] == SEED_VIF:
            return v["bgpPeers"]
    raise AssertionError("the seed VIF is missing from /_sim/world")


class FaultThrottle(SimTestCase):
    """--fault throttle=1: every API request is answered 400 ThrottlingException "Rate exceeded"."""

    FIXTURE = "fault-throttle"

    def test_every_request_is_throttled_and_nothing_runs(self):
        self.assert_error(lambda: self.dx.describe_virtual_interfaces(), "ThrottlingException", 400,
                          "DescribeVirtualInterfaces under throttle=1", "Rate exceeded")
        self.assert_error(
            lambda: self.dx.create_bgp_peer(virtualInterfaceId=SEED_VIF,
                                            newBGPPeer={"asn": 64600, "addressFamily": "ipv6"}),
            "ThrottlingException", 400, "CreateBGPPeer under throttle=1", "Rate exceeded")
        self.assertEqual([p["bgpPeerId"] for p in seed_peers_in_sim()], ["dxpeer-fg1v4v4e"])


class FaultServerError(SimTestCase):
    """--fault server-error=1: every API request is answered 500 DirectConnectServerException."""

    FIXTURE = "fault-server-error"

    def test_every_request_is_a_server_error(self):
        self.assert_error(lambda: self.dx.describe_virtual_interfaces(), "DirectConnectServerException", 500,
                          "DescribeVirtualInterfaces under server-error=1")
        self.assert_error(
            lambda: self.dx.create_bgp_peer(virtualInterfaceId=SEED_VIF,
                                            newBGPPeer={"asn": 64600, "addressFamily": "ipv6"}),
            "DirectConnectServerException", 500, "CreateBGPPeer under server-error=1")
        self.assertEqual([p["bgpPeerId"] for p in seed_peers_in_sim()], ["dxpeer-fg1v4v4e"])


class FaultTransitioning(SimTestCase):
    """sim.faults.transitioningRate 1: mutating calls are refused as transitioning; describes still work."""

    FIXTURE = "fault-transitioning"

    def test_mutations_refused_as_transitioning(self):
        self.assertEqual(self.peer_ids(SEED_VIF), ["dxpeer-fg1v4v4e"])
        self.refuse_create(SEED_VIF, "CreateBGPPeer under transitioningRate=1", message=TRANSITIONING,
                           asn=64600, addressFamily="ipv6")
        self.assert_client_error(
            lambda: self.dx.delete_virtual_interface(virtualInterfaceId=SEED_VIF),
            "DeleteVirtualInterface under transitioningRate=1", TRANSITIONING)
        self.assertEqual(self.vif(SEED_VIF)["virtualInterfaceState"], "available")


class FaultDrop(SimTestCase):
    """sim.faults.dropRate 1: the operation runs, then the connection closes with no response."""

    FIXTURE = "fault-drop"

    def test_dropped_create_still_creates(self):
        with self.assertRaises(HTTPClientError, msg="CreateBGPPeer under dropRate=1 gets no response") as cm:
            self.dx.create_bgp_peer(virtualInterfaceId=SEED_VIF, newBGPPeer={"asn": 64600, "addressFamily": "ipv6"})
        self.assertNotIsInstance(cm.exception, ReadTimeoutError, "the connection is closed, not left hanging")
        peers = seed_peers_in_sim()
        self.assertEqual(len(peers), 2, "the dropped CreateBGPPeer was executed: {}".format(peers))
        self.assertEqual((peers[1]["addressFamily"], peers[1]["asn"]), ("ipv6", 64600))


class FaultStuckPending(SimTestCase):
    """sim.faults.stuckPendingRate 1: new peers never leave pending."""

    FIXTURE = "fault-stuck-pending"

    def test_new_peer_stays_pending(self):
        _, peer = self.create_peer(SEED_VIF, asn=64600, addressFamily="ipv6")
        self.assertEqual(peer["bgpPeerState"], "pending")
        time.sleep(max(1.0, 5 * provision_delay()))
        self.assertEqual(self.peer_state(SEED_VIF, peer["bgpPeerId"]), "pending")


class FaultEndDeleted(SimTestCase):
    """sim.faults.endDeletedRate 1: new peers end in "deleted" instead of "available"."""

    FIXTURE = "fault-end-deleted"

    def test_new_peer_ends_deleted(self):
        _, peer = self.create_peer(SEED_VIF, asn=64600, addressFamily="ipv6")
        self.assertEqual(peer["bgpPeerState"], "pending")
        _, _, history = poll(lambda: self.peer_state(SEED_VIF, peer["bgpPeerId"]), lambda s: s == "deleted",
                             5 + 5 * provision_delay())
        self.assertNotIn("available", history)


class FaultServerErrorAfter(SimTestCase):
    """--fault server-error-after=1: the operation runs, then 500 DirectConnectServerException. The client is told
    it failed; the change happened anyway (the other side of FaultServerError)."""

    FIXTURE = "fault-server-error-after"

    def test_create_answers_500_but_the_peer_exists(self):
        err = self.assert_error(
            lambda: self.dx.create_bgp_peer(virtualInterfaceId=SEED_VIF,
                                            newBGPPeer={"asn": 64600, "addressFamily": "ipv6"}),
            "DirectConnectServerException", 500, "CreateBGPPeer under server-error-after=1")
        self.assertEqual(err["ResponseMetadata"]["RetryAttempts"], 0, "one attempt: the client saw the fault itself")
        peers = seed_peers_in_sim()
        self.assertEqual([(p["addressFamily"], p["asn"], p["bgpPeerState"]) for p in peers[1:]],
                         [("ipv6", 64600, "pending")], "the CreateBGPPeer that answered 500 created the peer")
        # Reads run too, then answer 500.
        self.assert_error(lambda: self.dx.describe_virtual_interfaces(), "DirectConnectServerException", 500,
                          "DescribeVirtualInterfaces under server-error-after=1")


class FaultBadGatewayAfter(SimTestCase):
    """--fault bad-gateway-after=1: the operation runs, then 502 with an HTML page and no error code, as a load
    balancer in front of a service answers. The client cannot tell what happened; the change happened."""

    FIXTURE = "fault-bad-gateway-after"

    def test_create_answers_an_uncoded_502_but_the_peer_exists(self):
        with self.assertRaises(ClientError, msg="CreateBGPPeer under bad-gateway-after=1") as cm:
            self.dx.create_bgp_peer(virtualInterfaceId=SEED_VIF, newBGPPeer={"asn": 64600, "addressFamily": "ipv6"})
        err = cm.exception.response
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], 502)
        self.assertEqual(err["ResponseMetadata"]["RetryAttempts"], 0, "one attempt: the client saw the fault itself")
        self.assertNotIn("x-amzn-errortype", err["ResponseMetadata"]["HTTPHeaders"], "no AWS error code")
        self.assertEqual(err["ResponseMetadata"]["HTTPHeaders"].get("content-type"), "text/html")
        # botocore makes a code up from the status; it is not an AWS error code.
        self.assertEqual(err["Error"]["Code"], "502")
        peers = seed_peers_in_sim()
        self.assertEqual([(p["addressFamily"], p["asn"], p["bgpPeerState"]) for p in peers[1:]],
                         [("ipv6", 64600, "pending")], "the CreateBGPPeer that answered 502 created the peer")


class FaultDropBefore(SimTestCase):
    """sim.faults.dropBeforeRate 1: the connection closes before the operation runs: no response, no change (the
    other side of FaultDrop)."""

    FIXTURE = "fault-drop-before"

    def test_dropped_create_creates_nothing(self):
        with self.assertRaises(HTTPClientError, msg="CreateBGPPeer under dropBeforeRate=1 gets no response") as cm:
            self.dx.create_bgp_peer(virtualInterfaceId=SEED_VIF, newBGPPeer={"asn": 64600, "addressFamily": "ipv6"})
        self.assertNotIsInstance(cm.exception, ReadTimeoutError, "the connection is closed, not left hanging")
        self.assertEqual([p["bgpPeerId"] for p in seed_peers_in_sim()], ["dxpeer-fg1v4v4e"],
                         "the dropped CreateBGPPeer never ran")
        with self.assertRaises(HTTPClientError, msg="reads are dropped too"):
            self.dx.describe_virtual_interfaces()


class FaultLateWrite(SimTestCase):
    """--fault late-write=1 --fault late-write-delay=1500ms: a mutating call is held for the delay, then its write
    lands, even when the client has timed out and hung up. Reads are not held."""

    FIXTURE = "fault-late-write"
    DELAY = 1.5

    def test_write_lands_after_the_client_timed_out_and_a_patient_client_waits(self):
        impatient = client(read_timeout=0.5)
        t0 = time.monotonic()
        with self.assertRaises(ReadTimeoutError, msg="CreateBGPPeer held past the client's read timeout"):
            impatient.create_bgp_peer(virtualInterfaceId=SEED_VIF, newBGPPeer={"asn": 64600, "addressFamily": "ipv6"})
        self.assertLess(time.monotonic() - t0, self.DELAY, "the client gave up before the write landed")
        # Right after the timeout the peer is not there, and reads answer at once.
        t_read = time.monotonic()
        self.assertEqual(self.peer_ids(SEED_VIF), ["dxpeer-fg1v4v4e"], "no peer yet: the write is still held")
        self.assertLess(time.monotonic() - t_read, self.DELAY / 2, "a read is not held")
        self.assertEqual(len(seed_peers_in_sim()), 1)
        # Then it lands, though nobody is waiting for the answer.
        got, _, _ = poll(lambda: self.vif(SEED_VIF), lambda v: len(v["bgpPeers"]) == 2, 5 + 3 * self.DELAY)
        landed = time.monotonic() - t0
        self.assertGreaterEqual(landed, self.DELAY * 0.9, "the write landed after lateWriteDelay")
        new = [p for p in got["bgpPeers"] if p["bgpPeerId"] != "dxpeer-fg1v4v4e"][0]
        self.assertEqual((new["addressFamily"], new["asn"]), ("ipv6", 64600))

        # A client that waits long enough gets the answer, after the delay.
        patient = client(read_timeout=10)
        t0 = time.monotonic()
        resp = patient.delete_virtual_interface(virtualInterfaceId=SEED_VIF)
        self.assertGreaterEqual(time.monotonic() - t0, self.DELAY * 0.9, "the answer waited for the late write")
        self.assertEqual(resp["virtualInterfaceState"], "deleting")
        self.assertIn(self.vif(SEED_VIF)["virtualInterfaceState"], ("deleting", "deleted"))


class FaultBgpDown(SimTestCase):
    """--fault bgp-down=1 (bgpUpDelay 200ms): new peers become available but their bgpStatus stays down."""

    FIXTURE = "fault-bgp-down"

    def test_available_peer_stays_bgp_down(self):
        _, peer = self.create_peer(SEED_VIF, asn=64600, addressFamily="ipv6")
        self.assertEqual((peer["bgpPeerState"], peer["bgpStatus"]), ("pending", "down"))
        poll(lambda: self.peer_state(SEED_VIF, peer["bgpPeerId"]), lambda s: s == "available",
             5 + 5 * provision_delay())
        time.sleep(max(1.0, 5 * bgp_up_delay()))
        got = peer_by_id(self.vif(SEED_VIF), peer["bgpPeerId"])
        self.assertEqual((got["bgpPeerState"], got["bgpStatus"]), ("available", "down"),
                         "held down well past bgpUpDelay")


class FaultSwitch(SimTestCase):
    """POST /_sim/faults replaces the faults from then on (the world starts with serverErrorRate 1); bad input is
    a 400 ValidationException and leaves the faults as they were."""

    FIXTURE = "fault-switch"

    def test_faults_replaced_while_running(self):
        self.assert_error(lambda: self.dx.describe_virtual_interfaces(), "DirectConnectServerException", 500,
                          "DescribeVirtualInterfaces under the world's serverErrorRate=1")
        status, body = post_faults({})
        self.assertEqual((status, body), (200, {"faults": {}}))
        self.assertEqual(self.peer_ids(SEED_VIF), ["dxpeer-fg1v4v4e"], "no faults: requests go through")

        status, body = post_faults({"dropBeforeRate": 1.0})
        self.assertEqual((status, body), (200, {"faults": {"dropBeforeRate": 1.0}}))
        with self.assertRaises(HTTPClientError, msg="dropBeforeRate=1 set through POST /_sim/faults"):
            self.dx.describe_virtual_interfaces()

        for bad in ({"throttleRate": 2}, {"serverErrorAfterRate": -0.5}, {"lateWriteDelay": "soon"},
                    {"dropRate": "often"}):
            with self.subTest(bad=bad):
                status, body = post_faults(bad)
                self.assertEqual(status, 400, body)
                self.assertEqual(body.get("__type"), "ValidationException", body)
                self.assertTrue(body.get("message"), body)
        for bad in (b"[1, 2]", b"not json", b"", b"null", b'{"throttleRate": 0.5, "unknownRate": 1}'):
            with self.subTest(bad=bad):
                status, _, data = admin("POST", "/_sim/faults", bad, {"Content-Type": "application/json"})
                self.assertEqual(status, 400, data)
                self.assertEqual(json.loads(data).get("__type"), "ValidationException", data)
        with self.assertRaises(HTTPClientError, msg="refused fault settings leave the faults as they were"):
            self.dx.describe_virtual_interfaces()

        self.assertEqual(post_faults({"serverErrorAfterRate": 1.0})[0], 200)
        self.assert_error(
            lambda: self.dx.create_bgp_peer(virtualInterfaceId=SEED_VIF,
                                            newBGPPeer={"asn": 64600, "addressFamily": "ipv6"}),
            "DirectConnectServerException", 500, "CreateBGPPeer under serverErrorAfterRate=1 set at run time")
        self.assertEqual(post_faults({})[0], 200)
        self.assertEqual(len(self.vif(SEED_VIF)["bgpPeers"]), 2, "the create ran before its 500")


# ==================================================================================================
# Fixture "consistency": consistencyWindow 500ms; eu-west-1 0s and us-west-2 3s (consistencyWindowByRegion).
# ==================================================================================================


class EventualConsistency(SimTestCase):
    """DescribeVirtualInterfaces may show the world as it was a seeded-random moment up to the region's window ago,
    never older; a mutation's own response, and the checks mutations make, always see the live world."""

    FIXTURE = "consistency"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        sim = world()["sim"]
        cls.window = parse_duration(sim["consistencyWindow"], None)
        cls.by_region = {r: parse_duration(d, None) for r, d in sim["consistencyWindowByRegion"].items()}

    def listed_peers(self, vif_id, dx=None):
        """The VIF's peers as a describe-all answers (None when the VIF is not listed)."""
        for v in (dx or self.dx).describe_virtual_interfaces()["virtualInterfaces"]:
            if v["virtualInterfaceId"] == vif_id:
                return {p["bgpPeerId"]: p["bgpPeerState"] for p in v["bgpPeers"]}
        return None

    def create(self, vif_id, dx=None):
        """CreateBGPPeer without looking first (a describe could be stale); returns (new peer id, monotonic time
        the response arrived). The response is fresh: it has the new peer."""
        resp = (dx or self.dx).create_bgp_peer(virtualInterfaceId=vif_id,
                                               newBGPPeer={"asn": 65010, "addressFamily": "ipv6"})
        answered = time.monotonic()
        peers = resp["virtualInterface"]["bgpPeers"]
        self.assertEqual(len(peers), 2, "the CreateBGPPeer response has the new peer")
        new = [p for p in peers if p["bgpPeerId"] != "dxpeer-" + vif_id[len("dxvif-"):]][0]
        self.assertEqual(new["bgpPeerState"], "pending")
        return new["bgpPeerId"], answered

    def sample(self, vif_id, peer_id, until, dx=None, at_least=5):
        """Describes until `until` (monotonic; at least `at_least` of them): for each, whether it listed the peer."""
        seen = []
        for _ in range(500):
            if len(seen) >= at_least and time.monotonic() >= until:
                break
            peers = self.listed_peers(vif_id, dx)
            self.assertIsNotNone(peers, "the VIF itself is always listed")
            if peer_id in peers:
                self.assertIn(peers[peer_id], ("pending", "available"), "a state the peer really had")
            seen.append(peer_id in peers)
        return seen

    def test_stale_within_the_window_fresh_beyond_it(self):
        vif = "dxvif-cs000001"
        peer, answered = self.create(vif)
        # Mutations check the live world: DeleteBGPPeer knows the new peer, and that it is pending.
        self.assert_client_error(lambda: self.dx.delete_bgp_peer(virtualInterfaceId=vif, bgpPeerId=peer),
                                 "DeleteBGPPeer of the peer just created", "BGP peer {} {}".format(peer, TRANSITIONING))
        seen = self.sample(vif, peer, answered + self.window * 0.5)
        self.assertIn(False, seen, "describes within the window sometimes show the world before the create")
        time.sleep(max(0.0, answered + self.window + 0.05 - time.monotonic()))
        seen = self.sample(vif, peer, 0, at_least=30)
        self.assertEqual(seen, [True] * len(seen), "no describe is staler than the window")

    def test_stale_views_never_reach_back_past_the_window(self):
        first, answered = self.create("dxvif-cs000002")
        time.sleep(max(0.0, answered + self.window + 0.05 - time.monotonic()))
        second, answered = self.create("dxvif-cs000003")
        missed, older = [], []
        for _ in range(40):
            resp = self.dx.describe_virtual_interfaces()["virtualInterfaces"]
            ids = {p["bgpPeerId"] for v in resp for p in v["bgpPeers"]}
            missed.append(second not in ids)
            older.append(first in ids)
        self.assertIn(True, missed, "some describes right after the second create are stale")
        self.assertEqual(older, [True] * len(older), "even stale, every describe has the create older than the window")

    def test_region_without_a_window_is_always_fresh(self):
        self.assertEqual(self.by_region[EU], 0)
        eu = client(region=EU)
        peer, _ = self.create("dxvif-cseu0001", dx=eu)
        seen = [peer in (self.listed_peers("dxvif-cseu0001", eu) or {}) for _ in range(30)]
        self.assertEqual(seen, [True] * 30, "eu-west-1 (consistencyWindowByRegion 0s) is never stale")

    def test_region_with_a_longer_window_is_stale_beyond_the_default(self):
        region = "us-west-2"
        self.assertGreater(self.by_region[region], self.window + 1.0)
        west = client(region=region)
        peer, answered = self.create("dxvif-csw20001", dx=west)
        time.sleep(max(0.0, answered + self.window + 0.1 - time.monotonic()))
        seen = self.sample("dxvif-csw20001", peer, answered + self.window + 0.5, dx=west, at_least=15)
        self.assertIn(False, seen, "us-west-2 (3s) is still stale past the default 500ms window")


# ==================================================================================================
# Fixtures "transitioning", "transitioning-vif", "transitioning-off": one world (provisionDelay and deletionDelay
# 800ms) under each transitioningRule. AWS's exact rule is not public: these pin down the simulator's three.
# ==================================================================================================


class _TransitioningRule(SimTestCase):
    """Checks shared by the three rules. PEERS_BLOCK: another pending or deleting peer refuses peer changes on its
    VIF; VIF_BLOCKS: a pending, verifying or confirming VIF refuses them."""

    PEERS_BLOCK = VIF_BLOCKS = None

    def test_second_create_while_the_first_is_pending(self):
        vif = "dxvif-trcr0001"
        _, first = self.create_peer(vif, settle=False, asn=65101, addressFamily="ipv4")
        self.assertEqual(first["bgpPeerState"], "pending")
        second = {"asn": 65102, "addressFamily": "ipv4"}
        if self.PEERS_BLOCK:
            text = peer_transitioning(vif, first["bgpPeerId"])
            err = self.refuse_create(vif, "second create while the first is pending", settle=False, message=text,
                                     **second)
            self.assertEqual(err["Error"]["Message"], text, "AWS's wording, naming the peer mid-change")
            # Once the first is available, the same request goes through.
            self.create_peer(vif, **second)
        else:
            resp, _ = self.create_peer(vif, settle=False, **second)
            self.assertEqual(peer_by_id(resp, first["bgpPeerId"])["bgpPeerState"], "pending",
                             "created while the first peer was still pending")

    def test_delete_while_another_peer_is_deleting(self):
        vif = "dxvif-trdl0001"
        resp = self.dx.delete_bgp_peer(virtualInterfaceId=vif, bgpPeerId="dxpeer-trdl0001")
        self.assertEqual(peer_by_id(resp["virtualInterface"], "dxpeer-trdl0001")["bgpPeerState"], "deleting")
        if self.PEERS_BLOCK:
            err, _ = self.refuse_delete(vif, "delete while another peer is deleting",
                                        peer_transitioning(vif, "dxpeer-trdl0001"), bgpPeerId="dxpeer-trdl0002")
            self.assertEqual(err["Error"]["Message"], peer_transitioning(vif, "dxpeer-trdl0001"))
            self.settle(vif)
        resp = self.dx.delete_bgp_peer(virtualInterfaceId=vif, bgpPeerId="dxpeer-trdl0002")
        self.assertEqual(peer_by_id(resp["virtualInterface"], "dxpeer-trdl0002")["bgpPeerState"], "deleting")
        if not self.PEERS_BLOCK:
            self.assertEqual(peer_by_id(resp["virtualInterface"], "dxpeer-trdl0001")["bgpPeerState"], "deleting",
                             "deleted while the other peer was still deleting")

    def test_create_while_a_peer_is_deleting_and_delete_while_one_is_pending(self):
        vif = "dxvif-trmx0001"
        self.dx.delete_bgp_peer(virtualInterfaceId=vif, bgpPeerId="dxpeer-trmx0001")
        new = {"asn": 65103, "addressFamily": "ipv4"}
        if self.PEERS_BLOCK:
            self.refuse_create(vif, "create while another peer is deleting", settle=False,
                               message=peer_transitioning(vif, "dxpeer-trmx0001"), **new)
        # Under the default rule, once the deleting peer is deleted; otherwise at once.
        _, created = self.create_peer(vif, settle=self.PEERS_BLOCK, **new)
        self.assertEqual(created["bgpPeerState"], "pending")
        if self.PEERS_BLOCK:
            self.refuse_delete(vif, "delete while another peer is pending",
                               peer_transitioning(vif, created["bgpPeerId"]), bgpPeerId="dxpeer-trmx0002")
        else:
            resp = self.dx.delete_bgp_peer(virtualInterfaceId=vif, bgpPeerId="dxpeer-trmx0002")
            self.assertEqual(peer_by_id(resp["virtualInterface"], created["bgpPeerId"])["bgpPeerState"], "pending")

    def test_pending_and_verifying_vifs(self):
        creates = [
            ("pending", lambda: self.dx.create_private_virtual_interface(
                connectionId="dxcon-tryes001",
                newPrivateVirtualInterface={"virtualInterfaceName": "tr-pending", "vlan": 201, "asn": 65000})),
            ("verifying", lambda: self.dx.create_public_virtual_interface(
                connectionId="dxcon-tryes001",
                newPublicVirtualInterface={"virtualInterfaceName": "tr-verifying", "vlan": 202, "asn": 65000,
                                           "amazonAddress": "203.0.113.1/30", "customerAddress": "203.0.113.2/30"})),
        ]
        for state, create in creates:
            vif = create()
            vif_id = vif["virtualInterfaceId"]
            self.assertEqual(vif["virtualInterfaceState"], state)
            new = {"asn": 65001, "addressFamily": "ipv6"}
            if self.VIF_BLOCKS:
                err = self.refuse_create(vif_id, "CreateBGPPeer on a {} VIF".format(state), settle=False,
                                         message=vif_transitioning(vif_id), **new)
                self.assertEqual(err["Error"]["Message"], vif_transitioning(vif_id))
                self.create_peer(vif_id, **new)  # once the VIF is available
            else:
                self.create_peer(vif_id, settle=False, **new)

    def test_confirming_vif(self):
        vif = "dxvif-trcf0001"
        self.assertEqual(self.vif(vif)["virtualInterfaceState"], "confirming")
        new = {"asn": 65001, "addressFamily": "ipv6"}
        if self.VIF_BLOCKS:
            self.refuse_create(vif, "CreateBGPPeer on a confirming VIF", settle=False,
                               message=vif_transitioning(vif), **new)
            self.refuse_delete(vif, "DeleteBGPPeer on a confirming VIF", vif_transitioning(vif),
                               bgpPeerId="dxpeer-trcf0001")
        else:
            self.create_peer(vif, settle=False, **new)
            resp = self.dx.delete_bgp_peer(virtualInterfaceId=vif, bgpPeerId="dxpeer-trcf0001")
            self.assertEqual(peer_by_id(resp["virtualInterface"], "dxpeer-trcf0001")["bgpPeerState"], "deleting")

    def test_a_pending_peer_itself_cannot_be_deleted(self):
        # Whatever the rule: a peer still pending refuses its own deletion as transitioning.
        vif = "dxvif-trfa0001"
        _, peer = self.create_peer(vif, settle=False, asn=65001, addressFamily="ipv6")
        self.refuse_delete(vif, "the pending peer itself", TRANSITIONING, bgpPeerId=peer["bgpPeerId"])
        if not self.PEERS_BLOCK:
            # Not refused as transitioning: the family rule counts the pending peer as live (no logical redundancy).
            err = self.refuse_create(vif, "ipv6 beside a pending ipv6 peer", settle=False, asn=65002,
                                     addressFamily="ipv6")
            self.assertNotIn(TRANSITIONING, err["Error"]["Message"])


class TransitioningRuleDefault(_TransitioningRule):
    """No transitioningRule in the world: vif-or-peers."""

    FIXTURE = "transitioning"
    PEERS_BLOCK = VIF_BLOCKS = True


class TransitioningRuleVif(_TransitioningRule):
    """transitioningRule "vif": only the VIF's own state refuses."""

    FIXTURE = "transitioning-vif"
    PEERS_BLOCK, VIF_BLOCKS = False, True


class TransitioningRuleOff(_TransitioningRule):
    """`sim serve --transitioning-rule off`: never refused for another peer's or the VIF's state."""

    FIXTURE = "transitioning-off"
    PEERS_BLOCK = VIF_BLOCKS = False


# ==================================================================================================
# Fixture "paging": 160 VIFs on dxcon-pg000001, 5 connections, 3 LAGs, 3 interconnects (us-east-1); deletionDelay
# 100ms and deletedRetention 200ms, so a deleted VIF leaves the listing while a page chain is under way.
# ==================================================================================================


class Paging(SimTestCase):
    """maxResults (at most 100 a page; absent: everything) and opaque nextTokens that resume after the last id
    returned, on DescribeVirtualInterfaces, DescribeConnections, DescribeLags and DescribeInterconnects."""

    FIXTURE = "paging"

    def chain(self, call, key, id_key, max_results, between=None):
        """Follows nextToken to the end (bounded); returns (ids in order, page sizes)."""
        ids, sizes, token = [], [], None
        for i in range(400):
            kwargs = {"maxResults": max_results}
            if token:
                kwargs["nextToken"] = token
            page = call(**kwargs)
            sizes.append(len(page[key]))
            ids.extend(x[id_key] for x in page[key])
            token = page.get("nextToken")
            if not token:
                return ids, sizes
            self.assertNotIn(ids[-1], token, "the token is opaque")
            if between:
                between(i, ids[-1])
        self.fail("nextToken never ran out")

    def all_vif_ids(self):
        resp = self.dx.describe_virtual_interfaces()
        self.assertNotIn("nextToken", resp, "no maxResults: everything in one answer")
        return [v["virtualInterfaceId"] for v in resp["virtualInterfaces"]]

    def test_1_max_results_above_100_gives_pages_of_100(self):
        everything = self.all_vif_ids()
        self.assertGreaterEqual(len(everything), 160)
        ids, sizes = self.chain(self.dx.describe_virtual_interfaces, "virtualInterfaces", "virtualInterfaceId", 1000)
        self.assertEqual(sizes[0], 100, "maxResults 1000 is capped at 100")
        self.assertEqual(sizes, [100] * (len(everything) // 100) + [len(everything) % 100], sizes)
        self.assertEqual(ids, sorted(everything), "each VIF once, in id order")
        ids, sizes = self.chain(self.dx.describe_virtual_interfaces, "virtualInterfaces", "virtualInterfaceId", 30)
        self.assertEqual(set(sizes[:-1]), {30})
        self.assertEqual(ids, sorted(everything))

    def test_2_connections_lags_and_interconnects_page_too(self):
        for call, key, id_key, kind in [
            (self.dx.describe_connections, "connections", "connectionId", "connections"),
            (self.dx.describe_lags, "lags", "lagId", "lags"),
            (self.dx.describe_interconnects, "interconnects", "interconnectId", "interconnects"),
        ]:
            with self.subTest(key):
                resp = call()
                self.assertNotIn("nextToken", resp)
                everything = sorted(x[id_key] for x in resp[key])
                self.assertEqual(set(everything), world_ids(kind, id_key, US))
                ids, sizes = self.chain(call, key, id_key, 2)
                self.assertEqual(sizes, [2] * (len(everything) // 2) + ([1] if len(everything) % 2 else []))
                self.assertEqual(ids, everything, "each once, in id order")
                ids, sizes = self.chain(call, key, id_key, 1000)
                self.assertEqual((ids, sizes), (everything, [len(everything)]))

    def test_3_bad_tokens_are_refused(self):
        vif_token = self.dx.describe_virtual_interfaces(maxResults=1)["nextToken"]
        conn_token = self.dx.describe_connections(maxResults=1)["nextToken"]
        lag_token = self.dx.describe_lags(maxResults=1)["nextToken"]
        forged = base64.urlsafe_b64encode(b'{"listing":"elsewhere","after":"dxvif-pg000001"}').decode().rstrip("=")
        eu = client(region=EU)
        cases = [
            ("garbage", lambda: self.dx.describe_virtual_interfaces(maxResults=5, nextToken="not a token!")),
            ("garbage on DescribeConnections", lambda: self.dx.describe_connections(nextToken="xyz")),
            ("garbage on DescribeLags", lambda: self.dx.describe_lags(nextToken="xyz")),
            ("garbage on DescribeInterconnects", lambda: self.dx.describe_interconnects(nextToken="xyz")),
            ("well-formed but for another listing", lambda: self.dx.describe_virtual_interfaces(nextToken=forged)),
            ("a DescribeConnections token", lambda: self.dx.describe_virtual_interfaces(nextToken=conn_token)),
            ("a DescribeVirtualInterfaces token", lambda: self.dx.describe_connections(nextToken=vif_token)),
            ("a DescribeLags token", lambda: self.dx.describe_interconnects(nextToken=lag_token)),
            ("a token of the unfiltered listing, with connectionId",
             lambda: self.dx.describe_virtual_interfaces(connectionId="dxcon-pg000001", nextToken=vif_token)),
            ("a us-east-1 token in eu-west-1", lambda: eu.describe_virtual_interfaces(nextToken=vif_token)),
        ]
        for what, call in cases:
            with self.subTest(what):
                err = self.assert_client_error(call, "nextToken: " + what, INVALID_TOKEN)
                self.assertEqual(err["Error"]["Message"], INVALID_TOKEN)
        # The good token still works, and resumes after the first VIF.
        first = self.dx.describe_virtual_interfaces(maxResults=1)["virtualInterfaces"][0]["virtualInterfaceId"]
        page = self.dx.describe_virtual_interfaces(maxResults=1, nextToken=vif_token)["virtualInterfaces"]
        self.assertEqual(len(page), 1)
        self.assertGreater(page[0]["virtualInterfaceId"], first)

    def test_4_page_chain_returns_each_vif_once_while_vifs_come_and_go(self):
        before = set(self.all_vif_ids())
        victims = ["dxvif-pg000150", "dxvif-pg000003", "dxvif-pg000120", "dxvif-pg000060", "dxvif-pg000159",
                   "dxvif-pg000090"]
        created, deleted = {}, set()

        def churn(i, cursor):
            new = self.dx.create_private_virtual_interface(
                connectionId="dxcon-pg000001",
                newPrivateVirtualInterface={"virtualInterfaceName": "churn-{}".format(i), "vlan": 1000 + i,
                                            "asn": 65000},
            )
            created[new["virtualInterfaceId"]] = cursor
            if i < len(victims):
                self.dx.delete_virtual_interface(virtualInterfaceId=victims[i])
                deleted.add(victims[i])
            time.sleep(0.1)

        ids, sizes = self.chain(self.dx.describe_virtual_interfaces, "virtualInterfaces", "virtualInterfaceId", 25,
                                between=churn)
        self.assertGreater(len(sizes), 6)
        self.assertEqual(len(ids), len(set(ids)), "no VIF twice")
        self.assertEqual(ids, sorted(ids), "in id order")
        stayed = before - deleted
        self.assertEqual(stayed - set(ids), set(), "VIFs listed throughout are all returned")
        self.assertEqual(set(ids) - before - set(created), set(), "nothing that never existed")
        for vif_id, cursor in created.items():
            # Created between pages: returned exactly when its id sorts after the page it followed.
            self.assertEqual(vif_id in ids, vif_id > cursor, "{} created after page ending {}".format(vif_id, cursor))
        poll(lambda: set(self.all_vif_ids()) & deleted, lambda left: not left, 5)


# ==================================================================================================
# Fixture "bgp": provisionDelay 300ms, bgpUpDelay 500ms, deletionDelay 300ms.
# ==================================================================================================


class BgpStatus(SimTestCase):
    """bgpStatus: down while pending, up bgpUpDelay after the peer becomes available, down once deleting.

    On AWS the session comes up when the customer router establishes it; the simulator's delay stands in for that."""

    FIXTURE = "bgp"

    def watch(self, vif_id, peer_id, t0):
        """Polls the peer until BGP is up; returns [(seconds since t0, bgpPeerState, bgpStatus)]."""
        seen = []

        def fetch():
            peer = peer_by_id(self.vif(vif_id), peer_id)
            seen.append((time.monotonic() - t0, peer["bgpPeerState"], peer["bgpStatus"]))
            return peer["bgpStatus"]

        poll(fetch, lambda s: s == "up", 5 + 5 * (provision_delay() + bgp_up_delay()), interval=0.03)
        return seen

    def check_timeline(self, seen):
        states = [(state, status) for _, state, status in seen]
        self.assertTrue(all(status == "down" for state, status in states if state == "pending"), states)
        self.assertIn(("available", "down"), states, "available before BGP is up")
        available = next(t for t, state, _ in seen if state == "available")
        up = next(t for t, _, status in seen if status == "up")
        self.assertGreaterEqual(up, (provision_delay() + bgp_up_delay()) * 0.9, "up no sooner than both delays")
        self.assertGreaterEqual(up - available, bgp_up_delay() * 0.6, "up about bgpUpDelay after available")

    def test_new_peer_goes_up_after_bgp_up_delay(self):
        vif = "dxvif-bg000001"
        t0 = time.monotonic()
        _, peer = self.create_peer(vif, settle=False, asn=65001, addressFamily="ipv6")
        self.assertEqual((peer["bgpPeerState"], peer["bgpStatus"]), ("pending", "down"))
        self.check_timeline(self.watch(vif, peer["bgpPeerId"], t0))

    def test_new_vif_first_peer_goes_up_after_bgp_up_delay(self):
        t0 = time.monotonic()
        vif = self.dx.create_private_virtual_interface(
            connectionId="dxcon-bgye0001",
            newPrivateVirtualInterface={"virtualInterfaceName": "bgp-new", "vlan": 201, "asn": 65000},
        )
        peer = vif["bgpPeers"][0]
        self.assertEqual(peer["bgpStatus"], "down")
        self.check_timeline(self.watch(vif["virtualInterfaceId"], peer["bgpPeerId"], t0))

    def test_deleting_peer_is_down(self):
        vif = "dxvif-bg000002"
        self.assertEqual({p["bgpStatus"] for p in self.vif(vif)["bgpPeers"]}, {"up"})
        resp = self.dx.delete_bgp_peer(virtualInterfaceId=vif, bgpPeerId="dxpeer-bg000003")
        peer = peer_by_id(resp["virtualInterface"], "dxpeer-bg000003")
        self.assertEqual((peer["bgpPeerState"], peer["bgpStatus"]), ("deleting", "down"))
        got, _, _ = poll(lambda: peer_by_id(self.vif(vif), "dxpeer-bg000003"), lambda p: p["bgpPeerState"] == "deleted",
                         5 + 5 * deletion_delay())
        self.assertEqual(got["bgpStatus"], "down")
        self.assertEqual(peer_by_id(self.vif(vif), "dxpeer-bg000002")["bgpStatus"], "up", "the other peer stays up")


# ==================================================================================================
# Fixture "rate-limit": rateLimits CreateBGPPeer 1/s burst 3, "mutating" 0.2/s burst 2; describes unlimited.
# ==================================================================================================


class RateLimits(SimTestCase):
    """A token bucket per operation and region: the burst, then 400 ThrottlingException "Rate exceeded"."""

    FIXTURE = "rate-limit"

    def throttled(self, call, what):
        err = self.assert_error(call, "ThrottlingException", 400, what, "Rate exceeded")
        self.assertEqual(err["Error"]["Message"], "Rate exceeded")

    def test_create_bgp_peer_burst_then_throttled_per_region(self):
        new = {"asn": 65001, "addressFamily": "ipv6"}
        for i in (1, 2, 3):
            self.create_peer("dxvif-rl00000{}".format(i), settle=False, **new)
        before = self.peer_ids("dxvif-rl000004")
        self.throttled(lambda: self.dx.create_bgp_peer(virtualInterfaceId="dxvif-rl000004", newBGPPeer=new),
                       "a fourth CreateBGPPeer within the burst's second")
        self.assertEqual(self.peer_ids("dxvif-rl000004"), before, "a throttled call changes nothing")
        # eu-west-1 has its own bucket.
        self.create_peer("dxvif-rleu0001", dx=client(region=EU), settle=False, **new)
        # One token a second refills it.
        time.sleep(1.1)
        self.create_peer("dxvif-rl000004", settle=False, **new)
        self.throttled(lambda: self.dx.create_bgp_peer(virtualInterfaceId="dxvif-rl000005", newBGPPeer=new),
                       "CreateBGPPeer right after the refilled token was used")

    def test_mutating_limit_spares_describes_and_other_operations(self):
        # The "mutating" class limit, per operation: DeleteBGPPeer has a burst of 2 (refused calls use tokens too).
        for _ in range(2):
            self.assert_client_error(
                lambda: self.dx.delete_bgp_peer(virtualInterfaceId="dxvif-rl000006", bgpPeerId="dxpeer-rl000006"),
                "DeleteBGPPeer of the last peer", LAST_PEER)
        self.throttled(
            lambda: self.dx.delete_bgp_peer(virtualInterfaceId="dxvif-rl000006", bgpPeerId="dxpeer-rl000006"),
            "a third DeleteBGPPeer")
        # Another mutating operation has its own bucket.
        self.assert_client_error(lambda: self.dx.delete_virtual_interface(virtualInterfaceId="dxvif-rlnone00"),
                                 "DeleteVirtualInterface of an unknown VIF")
        # Describes have no limit.
        for _ in range(25):
            self.assertTrue(self.dx.describe_virtual_interfaces()["virtualInterfaces"])
            self.dx.describe_connections()


def load_tests(loader, standard_tests, pattern):
    """Only the classes written for the world the simulator runs (DXCTL_SIM_WORLD's conformanceFixture)."""
    fixture = fixture_name()
    suite = unittest.TestSuite()
    for case in (Describe, Regions, AddressFamilyRule, AddressRules, AuthKeyAndAsnRules, PublicVifRules,
                 DeleteBgpPeer, VirtualInterfaces, Lifecycles, Protocol, SeedExample, PendingPeer, ManualApproval,
                 SigV4, FaultThrottle, FaultServerError, FaultServerErrorAfter, FaultBadGatewayAfter,
                 FaultTransitioning, FaultDropBefore, FaultDrop, FaultLateWrite, FaultStuckPending, FaultEndDeleted, FaultBgpDown, FaultSwitch,
                 EventualConsistency, TransitioningRuleDefault, TransitioningRuleVif, TransitioningRuleOff, Paging,
                 BgpStatus, RateLimits):
        if case.FIXTURE == fixture:
            suite.addTests(loader.loadTestsFromTestCase(case))
    if suite.countTestCases() == 0:
        raise RuntimeError("no conformance tests for world fixture {!r}".format(fixture))
    return suite


if __name__ == "__main__":
    unittest.main()
