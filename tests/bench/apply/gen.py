#!/usr/bin/env python3
"""Generates the apply benchmark's inputs: a simulator world, a dxctl config directory and a peer manifest.

Layout written under --out:
  world.json      VIFs spread over the regions, each with one existing available ipv4 peer, on connections
                  and LAGs that all have hasLogicalRedundancy "yes"; sim.provisionDelay and sim.faults.latency set.
  config/*.hcl    providers.hcl (a default provider plus one alias per region) and one file per region that
                  declares every VIF's existing peer (so nothing is deleted) and the new peers to create.
  peers.json      the new peers, in creation order, for the awscli baseline (same peers, same parameters).

New peers cycle through three kinds: ipv4 with explicit 169.254.x.y/30 addresses (unique across the whole
world), ipv4 without addresses (AWS assigns a /30), and ipv6 (4-byte ASN). Every ASN is unique within its VIF,
so dxctl's matcher (family + ASN + given addresses) can never mistake one peer for another.

Every parameter has an environment default so run.sh can pass its settings through:
  VIFS (100), PEERS (300), DELAY (3s), LATENCY (20ms), REGIONS (us-east-1,eu-west-1,ap-southeast-2), SEED (42).

For worlds beyond 4000 VIFs (tests/bench/scale.sh), three options, all off by default so the apply benchmark's
inputs stay as they were:
  --vlan-per-parent       number VLANs per connection or LAG (1, 2, ...), as they must be unique only there
  --addresses-per-vif     explicit /30s unique within each VIF only (link-local addresses are per VIF), so the
                          169.254.128.0/17 pool never runs out
  --existing-v6-every N   every Nth VIF (0, N, 2N, ...) also holds an existing available ipv6 peer (ASN 65100) with a
                          /125 from the simulator's own pool start, as if the simulator had assigned it
"""

import argparse
import ipaddress
import json
import os
import sys

KINDS = ("v4addr", "v4auto", "v6")
EXISTING_ASN = 65000
NEW_ASN_BASE = 65001  # 2-byte ASNs for new ipv4 peers: 65001 + index within the VIF
V6_ASN_BASE = 4200000000  # 4-byte ASNs for new ipv6 peers: 4200000000 + index within the VIF
EXPLICIT_POOL = ipaddress.IPv4Address("169.254.128.0")  # far from the auto-assigned /30s at 169.254.0.0
METADATA_BLOCK = ipaddress.IPv4Address("169.254.169.252")
EXISTING_V6_ASN = 65100
IPV6_POOL_START = int(ipaddress.IPv6Address("2001:db8:1100:2f0:0:1:9cb4:4210"))  # the simulator's first /125


def region_alias(region):
    return region.replace("-", "_")


class ExplicitPool:
    """Hands out /30 pairs (amazon .1, customer .2) from 169.254.128.0 upwards, never reusing one."""

    def __init__(self):
        self.next = int(EXPLICIT_POOL)

    def take(self):
        while self.next == int(METADATA_BLOCK):
            self.next += 4
        base = self.next
        if base + 3 > int(ipaddress.IPv4Address("169.254.255.255")):
            sys.exit("gen.py: out of explicit 169.254.128.0/17 addresses; lower PEERS")
        self.next += 4
        return (f"{ipaddress.IPv4Address(base + 1)}/30", f"{ipaddress.IPv4Address(base + 2)}/30")


def build(vifs, peers, delay, latency, regions, seed, vlan_per_parent=False, addresses_per_vif=False,
          existing_v6_every=0):
    regions = [r.strip() for r in regions if r.strip()]
    if not regions:
        sys.exit("gen.py: no regions")
    if vifs < 1 or peers < 0 or existing_v6_every < 0:
        sys.exit("gen.py: need VIFS >= 1, PEERS >= 0 and --existing-v6-every >= 0")
    if vifs > 4000 and not vlan_per_parent:
        sys.exit("gen.py: at most 4000 VIFs (vlan numbers) without --vlan-per-parent")
    shared_pool = ExplicitPool()
    pools = {}  # VIF id -> its own pool, with --addresses-per-vif

    def pool_for(vif_id):
        if not addresses_per_vif:
            return shared_pool
        return pools.setdefault(vif_id, ExplicitPool())

    vlans = {}  # parent id -> last vlan used, with --vlan-per-parent

    # Parents: per region two connections and two LAGs, all with logical redundancy, so a VIF may carry
    # several peers of one family. VIFs alternate between them.
    connections, lags, parents = [], [], {}
    for r, region in enumerate(regions):
        short = f"r{r}"
        ids = []
        for n in range(2):
            cid = f"dxcon-bnch{short}c{n}"
            connections.append(
                {
                    "connectionId": cid,
                    "connectionName": f"bench-{region}-con{n}",
                    "connectionState": "available",
                    "region": region,
                    "location": f"BENCH{r}",
                    "bandwidth": "10Gbps",
                    "hasLogicalRedundancy": "yes",
                }
            )
            lid = f"dxlag-bnch{short}l{n}"
            lags.append(
                {
                    "lagId": lid,
                    "lagName": f"bench-{region}-lag{n}",
                    "lagState": "available",
                    "region": region,
                    "location": f"BENCH{r}",
                    "numberOfConnections": 2,
                    "connectionsBandwidth": "10Gbps",
                    "hasLogicalRedundancy": "yes",
                }
            )
            ids += [cid, lid]
        parents[region] = ids

    world_vifs, vif_meta = [], []
    for i in range(vifs):
        region = regions[i % len(regions)]
        parent_ids = parents[region]
        parent = parent_ids[(i // len(regions)) % len(parent_ids)]
        vif_id = f"dxvif-bnch{i:04d}"
        amazon, customer = pool_for(vif_id).take()
        if vlan_per_parent:
            vlans[parent] = vlans.get(parent, 0) + 1
            if vlans[parent] > 4094:
                sys.exit(f"gen.py: more than 4094 VIFs on {parent}; add regions")
            vlan = vlans[parent]
        else:
            vlan = 100 + i
        world_vifs.append(
            {
                "virtualInterfaceId": vif_id,
                "virtualInterfaceName": f"bench-{i:04d}",
                "virtualInterfaceType": "private",
                "virtualInterfaceState": "available",
                "ownerAccount": "123456789012",
                "connectionId": parent,
                "location": f"BENCH{regions.index(region)}",
                "vlan": vlan,
                "asn": EXISTING_ASN,
                "amazonSideAsn": 64512,
                "virtualGatewayId": f"vgw-bnch{i:04d}",
                "region": region,
                "bgpPeers": [
                    {
                        "bgpPeerId": f"dxpeer-bnch{i:04d}",
                        "addressFamily": "ipv4",
                        "asn": EXISTING_ASN,
                        "authKey": f"0xBenchExistingKey{i:04d}",
                        "amazonAddress": amazon,
                        "customerAddress": customer,
                        "bgpPeerState": "available",
                        "bgpStatus": "up",
                    }
                ],
            }
        )
        existing_v6 = None
        if existing_v6_every and i % existing_v6_every == 0:
            base = IPV6_POOL_START + 8 * (i // existing_v6_every)
            existing_v6 = {"asn": EXISTING_V6_ASN}
            world_vifs[-1]["bgpPeers"].append(
                {
                    "bgpPeerId": f"dxpeer-bnch{i:04d}v6",
                    "addressFamily": "ipv6",
                    "asn": EXISTING_V6_ASN,
                    "authKey": f"0xBenchExistingV6Key{i:04d}",
                    "amazonAddress": f"{ipaddress.IPv6Address(base + 1)}/125",
                    "customerAddress": f"{ipaddress.IPv6Address(base + 6)}/125",
                    "bgpPeerState": "available",
                    "bgpStatus": "up",
                }
            )
        vif_meta.append(
            {
                "id": vif_id,
                "region": region,
                "existing": {"asn": EXISTING_ASN, "amazon": amazon, "customer": customer},
                "existing_v6": existing_v6,
                "new": [],
            }
        )

    manifest = []
    for k in range(peers):
        meta = vif_meta[k % vifs]
        j = len(meta["new"])  # index of this new peer within its VIF
        kind = KINDS[k % len(KINDS)]
        peer = {
            "label": f"p{k:04d}_{kind}",
            "virtualInterfaceId": meta["id"],
            "region": meta["region"],
            "kind": kind,
        }
        if kind == "v6":
            peer.update(addressFamily="ipv6", asn=V6_ASN_BASE + j)
        else:
            peer.update(addressFamily="ipv4", asn=NEW_ASN_BASE + j)
            if kind == "v4addr":
                peer["amazonAddress"], peer["customerAddress"] = pool_for(meta["id"]).take()
        meta["new"].append(peer)
        manifest.append(peer)

    world = {
        "virtualInterfaces": world_vifs,
        "connections": connections,
        "lags": lags,
        "sim": {
            "provisionDelay": delay,
            "deletionDelay": "1s",
            "seed": seed,
            "faults": {"latency": latency},
        },
    }
    return world, vif_meta, manifest, regions


def hcl_files(vif_meta, regions):
    files = {}
    lines = [
        "# Generated by tests/bench/apply/gen.py: one provider per region.",
        'provider "aws" {',
        f'  region = "{regions[0]}"',
        "}",
    ]
    for region in regions:
        alias = region_alias(region)
        lines += [
            "",
            'provider "aws" {',
            f'  alias  = "{alias}"',
            f'  region = "{region}"',
            "}",
        ]
    files["providers.hcl"] = "\n".join(lines) + "\n"

    for region in regions:
        alias = region_alias(region)
        out = [f"# Generated by tests/bench/apply/gen.py: the VIFs in {region}."]
        for meta in (m for m in vif_meta if m["region"] == region):
            ex = meta["existing"]
            out += [
                "",
                f'virtual_interface "{meta["id"]}" {{',
                f"  provider = aws.{alias}",
                "",
                '  bgp_peer "existing_v4" {',
                '    address_family   = "ipv4"',
                f'    asn              = {ex["asn"]}',
                f'    amazon_address   = "{ex["amazon"]}"',
                f'    customer_address = "{ex["customer"]}"',
                "  }",
            ]
            if meta.get("existing_v6"):
                out += [
                    "",
                    '  bgp_peer "existing_v6" {',
                    '    address_family = "ipv6"',
                    f'    asn            = {meta["existing_v6"]["asn"]}',
                    "  }",
                ]
            for p in meta["new"]:
                out += ["", f'  bgp_peer "{p["label"]}" {{']
                if p["kind"] == "v4addr":
                    out += [
                        '    address_family   = "ipv4"',
                        f'    asn              = {p["asn"]}',
                        f'    amazon_address   = "{p["amazonAddress"]}"',
                        f'    customer_address = "{p["customerAddress"]}"',
                    ]
                else:
                    out += [
                        f'    address_family = "{p["addressFamily"]}"',
                        f'    asn            = {p["asn"]}',
                    ]
                out.append("  }")
            out.append("}")
        files[f"{region}.hcl"] = "\n".join(out) + "\n"
    return files


def main():
    env = os.environ.get
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="directory to write world.json, config/ and peers.json into")
    ap.add_argument("--vifs", type=int, default=int(env("VIFS", "100")))
    ap.add_argument("--peers", type=int, default=int(env("PEERS", "300")), help="new peers to create")
    ap.add_argument("--delay", default=env("DELAY", "3s"), help="sim.provisionDelay (humantime, e.g. 3s)")
    ap.add_argument("--latency", default=env("LATENCY", "20ms"), help="sim.faults.latency")
    ap.add_argument("--regions", default=env("REGIONS", "us-east-1,eu-west-1,ap-southeast-2"))
    ap.add_argument("--seed", type=int, default=int(env("SEED", "42")))
    ap.add_argument("--vlan-per-parent", action="store_true", help="number VLANs per connection or LAG")
    ap.add_argument("--addresses-per-vif", action="store_true", help="explicit /30s unique per VIF only")
    ap.add_argument("--existing-v6-every", type=int, default=0, metavar="N",
                    help="every Nth VIF also holds an existing ipv6 peer (0: none)")
    args = ap.parse_args()

    world, vif_meta, manifest, regions = build(
        args.vifs, args.peers, args.delay, args.latency, args.regions.split(","), args.seed,
        vlan_per_parent=args.vlan_per_parent, addresses_per_vif=args.addresses_per_vif,
        existing_v6_every=args.existing_v6_every,
    )
    config = os.path.join(args.out, "config")
    os.makedirs(config, exist_ok=True)
    for name in os.listdir(config):
        if name.endswith(".hcl"):
            os.remove(os.path.join(config, name))
    with open(os.path.join(args.out, "world.json"), "w") as f:
        json.dump(world, f, indent=2)
        f.write("\n")
    for name, text in hcl_files(vif_meta, regions).items():
        with open(os.path.join(config, name), "w") as f:
            f.write(text)
    with open(os.path.join(args.out, "peers.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")

    kinds = {k: sum(1 for p in manifest if p["kind"] == k) for k in KINDS}
    per_region = {r: sum(1 for p in manifest if p["region"] == r) for r in regions}
    print(
        f"gen.py: {args.vifs} VIFs ({sum(len(v['bgpPeers']) for v in world['virtualInterfaces'])} existing peers), "
        f"{len(manifest)} new peers "
        f"({', '.join(f'{k}={n}' for k, n in kinds.items())}) over "
        f"{', '.join(f'{r}={n}' for r, n in per_region.items())}; "
        f"provisionDelay={args.delay}, latency={args.latency} -> {args.out}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
