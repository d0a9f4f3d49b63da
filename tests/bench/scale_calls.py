#!/usr/bin/env python3
"""The simulator's own cost per call, for tests/bench/scale.sh: CreateBGPPeer on VIFs that have no new peer yet
(one IPv6 peer each, sequential), then DescribeVirtualInterfaces of one region, against `dxctl sim serve` on loopback
(a world without sim.credentials, so any SigV4 scope is accepted). The simulator's utime+stime (from /proc, all its
threads) is read around each batch; prints one JSON object with the totals."""

import argparse
import http.client
import json
import os
import sys

AUTH = ("AWS4-HMAC-SHA256 Credential=AKIDBENCHTEST/20260101/{region}/directconnect/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=0")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True, help="the simulator's pid")
    ap.add_argument("--vifs", type=int, required=True, help="N: VIFs in the world (gen.py numbering)")
    ap.add_argument("--regions", required=True)
    ap.add_argument("--creates", type=int, default=1000)
    ap.add_argument("--describes", type=int, default=30)
    args = ap.parse_args()
    regions = [r.strip() for r in args.regions.split(",") if r.strip()]

    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=120)
    failures = []  # the first failure is shown

    def call(op, region, body):
        payload = json.dumps(body)
        conn.request("POST", "/", body=payload, headers={
            "X-Amz-Target": f"OvertureService.{op}",
            "Content-Type": "application/x-amz-json-1.1",
            "Authorization": AUTH.format(region=region),
            "X-Amz-Date": "20260101T000000Z",
        })
        response = conn.getresponse()
        text = response.read()
        if response.status != 200 and not failures:
            print(f"scale_calls.py: {op} answered {response.status}: {text[:300]!r}", file=sys.stderr)
            failures.append(op)
        return response.status

    # The apply gave new peers to VIFs 0 .. N/2-1; the others take one more here.
    first = args.vifs // 2
    creates = min(args.creates, args.vifs - first)
    create_failed = 0
    before = cpu_seconds(args.pid)
    for i in range(first, first + creates):
        status = call("CreateBGPPeer", regions[i % len(regions)], {
            "virtualInterfaceId": f"dxvif-bnch{i:04d}",
            "newBGPPeer": {"asnLong": 4_200_000_100, "addressFamily": "ipv6"},
        })
        create_failed += status != 200
    create_cpu = cpu_seconds(args.pid) - before

    describe_failed = 0
    before = cpu_seconds(args.pid)
    for _ in range(args.describes):
        describe_failed += call("DescribeVirtualInterfaces", regions[0], {}) != 200
    describe_cpu = cpu_seconds(args.pid) - before

    json.dump({"creates": creates, "create_cpu": round(create_cpu, 2), "create_failed": create_failed,
               "describes": args.describes, "describe_cpu": round(describe_cpu, 2),
               "describe_failed": describe_failed}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
