#!/usr/bin/env python3
"""The sequential baseline: what a shell loop around awscli does, one peer at a time.

For each peer in peers.json (the first --count of them): run
  python3 -m awscli directconnect create-bgp-peer --virtual-interface-id V --new-bgp-peer JSON
then, every --poll-interval seconds, run
  python3 -m awscli directconnect describe-virtual-interfaces --virtual-interface-id V
until the new peer is `available` (at most --max-polls times), then move on to the next peer.

Every call is a fresh awscli process, as in a script, so interpreter and botocore start-up are part of the cost.
The new peer is recognised in the create response by family and ASN, which gen.py makes unique per VIF.
Credentials, region and endpoint come from the caller's environment and arguments (run.sh sets test values).
Prints one JSON object with the timings on stdout; progress on stderr. Exits 1 if any peer fails.
"""

import argparse
import json
import subprocess
import sys
import time


def awscli(endpoint, region, args, timeout):
    cmd = [sys.executable, "-m", "awscli", "--endpoint-url", endpoint, "--region", region, "--output", "json"]
    cmd += ["directconnect"] + args
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:1])} failed ({proc.returncode}): {proc.stderr.strip()}")
    return json.loads(proc.stdout) if proc.stdout.strip() else {}


def asn_of(p):
    long = p.get("asnLong") or 0
    return long if long > 0 else p.get("asn")


def find_peer(vif, peer):
    for p in vif.get("bgpPeers", []):
        if p.get("addressFamily") == peer["addressFamily"] and asn_of(p) == peer["asn"]:
            if p.get("bgpPeerState") not in ("deleting", "deleted"):
                return p
    return None


def new_peer_json(peer):
    new = {"addressFamily": peer["addressFamily"]}
    if peer["asn"] > 65535:
        new["asnLong"] = peer["asn"]
    else:
        new["asn"] = peer["asn"]
    if "amazonAddress" in peer:
        new["amazonAddress"] = peer["amazonAddress"]
        new["customerAddress"] = peer["customerAddress"]
    return json.dumps(new, separators=(",", ":"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint-url", required=True)
    ap.add_argument("--manifest", required=True, help="peers.json written by gen.py")
    ap.add_argument("--count", type=int, default=None, help="only the first N peers (default: all)")
    ap.add_argument("--poll-interval", type=float, default=1.0)
    ap.add_argument("--max-polls", type=int, default=600, help="per peer; the loop is bounded")
    ap.add_argument("--call-timeout", type=float, default=60.0, help="seconds per awscli process")
    args = ap.parse_args()
    if not args.endpoint_url.startswith("http://127.0.0.1:"):
        sys.exit("baseline_awscli.py: the endpoint must be http://127.0.0.1:PORT (the simulator)")

    with open(args.manifest) as f:
        peers = json.load(f)
    if args.count is not None:
        peers = peers[: args.count]

    started = time.monotonic()
    per_peer, polls_total, failures = [], 0, []
    for n, peer in enumerate(peers, 1):
        t0 = time.monotonic()
        vif_id, region = peer["virtualInterfaceId"], peer["region"]
        try:
            created = awscli(
                args.endpoint_url,
                region,
                ["create-bgp-peer", "--virtual-interface-id", vif_id, "--new-bgp-peer", new_peer_json(peer)],
                args.call_timeout,
            )
            mine = find_peer(created.get("virtualInterface", {}), peer)
            if mine is None or not mine.get("bgpPeerId"):
                raise RuntimeError("create-bgp-peer returned no matching new peer")
            peer_id, state, polls = mine["bgpPeerId"], mine.get("bgpPeerState"), 0
            while state != "available":
                if polls >= args.max_polls:
                    raise RuntimeError(f"{peer_id} still {state} after {polls} polls")
                time.sleep(args.poll_interval)
                polls += 1
                described = awscli(
                    args.endpoint_url,
                    region,
                    ["describe-virtual-interfaces", "--virtual-interface-id", vif_id],
                    args.call_timeout,
                )
                found = None
                for vif in described.get("virtualInterfaces", []):
                    for p in vif.get("bgpPeers", []):
                        if p.get("bgpPeerId") == peer_id:
                            found = p
                state = found.get("bgpPeerState") if found else "vanished"
                if state in ("deleting", "deleted", "vanished"):
                    raise RuntimeError(f"{peer_id} went to {state}")
            polls_total += polls
            took = time.monotonic() - t0
            per_peer.append(took)
            print(
                f"baseline: [{n}/{len(peers)}] {peer['label']} on {vif_id} ({region}) {peer_id} "
                f"available after {took:.2f}s, {polls} polls",
                file=sys.stderr,
            )
        except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as e:
            failures.append(f"{peer['label']}: {e}")
            print(f"baseline: [{n}/{len(peers)}] {peer['label']} FAILED: {e}", file=sys.stderr)
            break  # like `set -e` in a shell loop

    result = {
        "peers": len(per_peer),
        "requested": len(peers),
        "wall_s": time.monotonic() - started,
        "per_peer_s": per_peer,
        "polls": polls_total,
        "failures": failures,
    }
    print(json.dumps(result))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
