#!/usr/bin/env python3
"""Prints the apply benchmark's figures from the simulator's request logs and the measured wall times.

Called by run.sh; reads only local files. Polling rounds are found in the request log: the
DescribeVirtualInterfaces calls made after the first CreateBGPPeer, grouped into rounds wherever the gap between
two calls exceeds a fraction of the poll interval (a round's calls go out together, rounds are a poll interval
apart). The DescribeVirtualInterfaces calls before the first create are dxctl's plan-time observation.
"""

import argparse
import collections
import datetime
import json
import re
import sys


def seconds(text):
    """Humantime-style durations as used by the simulator and dxctl: 3s, 500ms, 1m, 1m30s, 2.5s."""
    total, pos = 0.0, 0
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    for m in re.finditer(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)", text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * units[m.group(2)]
        pos = m.end()
    if pos != len(text) or pos == 0:
        sys.exit(f"report.py: cannot parse duration {text!r}")
    return total


def epoch(ts):
    """RFC 3339 with up to nanoseconds (the simulator's log) to epoch seconds."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", ts)
    if not m:
        raise ValueError(f"bad time {ts!r}")
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    base = datetime.datetime.fromisoformat(m.group(1) + zone).timestamp()
    frac = float("0." + m.group(2)) if m.group(2) else 0.0
    return base + frac


def load(path):
    entries = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                e = json.loads(line)
                e["t"] = epoch(e["time"])
            except (ValueError, KeyError) as err:
                sys.exit(f"report.py: {path}:{n}: {err}")
            entries.append(e)
    entries.sort(key=lambda e: e["t"])
    return entries


def analyse(entries, poll_interval):
    by_op = collections.Counter(e.get("operation", "?") for e in entries)
    by_op_region = collections.Counter((e.get("operation", "?"), e.get("region", "?")) for e in entries)
    errors = collections.Counter(
        (e.get("operation", "?"), e.get("status"), e.get("errorCode")) for e in entries if e.get("status") != 200
    )
    creates = [e for e in entries if e.get("operation") == "CreateBGPPeer"]
    first_create = creates[0]["t"] if creates else None
    dvi = [e for e in entries if e.get("operation") == "DescribeVirtualInterfaces"]
    observe = [e for e in dvi if first_create is None or e["t"] < first_create]
    polling = [e for e in dvi if first_create is not None and e["t"] >= first_create]
    gap = min(0.5 * poll_interval, 0.3)
    rounds = []
    for e in polling:
        if rounds and e["t"] - rounds[-1][-1]["t"] <= gap:
            rounds[-1].append(e)
        else:
            rounds.append([e])
    return {
        "total": len(entries),
        "by_op": by_op,
        "by_op_region": by_op_region,
        "errors": errors,
        "creates": creates,
        "observe": observe,
        "polling": polling,
        "rounds": rounds,
        "first": entries[0]["t"] if entries else None,
        "last": entries[-1]["t"] if entries else None,
    }


def table(rows, header=None):
    rows = [header] + rows if header else rows
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, r in enumerate(rows):
        cells = []
        for i, c in enumerate(r):
            c = str(c)
            cells.append(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]))
        out.append("  " + "  ".join(cells).rstrip())
        if header and n == 0:
            out.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dxctl-log", required=True)
    ap.add_argument("--dxctl-start", type=float, required=True, help="epoch seconds")
    ap.add_argument("--dxctl-end", type=float, required=True)
    ap.add_argument("--dxctl-exit", type=int, required=True)
    ap.add_argument("--dxctl-world", help="GET /_sim/world after the apply")
    ap.add_argument("--baseline-log")
    ap.add_argument("--baseline-result", help="baseline_awscli.py's JSON line")
    ap.add_argument("--baseline-start", type=float)
    ap.add_argument("--baseline-end", type=float)
    ap.add_argument("--baseline-exit", type=int)
    ap.add_argument("--delay", required=True)
    ap.add_argument("--poll-interval", required=True)
    ap.add_argument("--latency", required=True)
    ap.add_argument("--vifs", type=int, required=True)
    ap.add_argument("--peers", type=int, required=True)
    ap.add_argument("--regions", required=True)
    ap.add_argument("--dxctl-version", default="")
    args = ap.parse_args()

    delay, poll = seconds(args.delay), seconds(args.poll_interval)
    regions = [r for r in args.regions.split(",") if r]
    limit = delay + poll
    wall = args.dxctl_end - args.dxctl_start
    d = analyse(load(args.dxctl_log), poll)

    print()
    print("=" * 78)
    print("dxctl apply benchmark")
    print("=" * 78)
    print(
        f"  world: {args.vifs} VIFs in {len(regions)} regions ({', '.join(regions)}), {args.peers} peers to create, "
        f"provisionDelay D={args.delay}, latency={args.latency}, --poll-interval {args.poll_interval}"
    )
    if args.dxctl_version:
        print(f"  binary: {args.dxctl_version}")
    print(f"  dxctl exit code: {args.dxctl_exit}" + ("" if args.dxctl_exit == 0 else "   <-- APPLY FAILED"))
    if args.dxctl_world:
        with open(args.dxctl_world) as f:
            world = json.load(f)
        states = collections.Counter(
            p.get("bgpPeerState") for v in world.get("virtualInterfaces", []) for p in v.get("bgpPeers", [])
        )
        expected = args.vifs + args.peers
        ok = states.get("available", 0) == expected and sum(states.values()) == expected
        print(
            f"  world after apply: {dict(states)} (expected {expected} available: {'ok' if ok else 'MISMATCH'})"
        )

    print()
    print("Wall time")
    rows = [
        ["dxctl apply wall time", f"{wall:.2f} s"],
        ["physical limit D + poll interval", f"{limit:.2f} s"],
        ["ratio wall / limit", f"{wall / limit:.2f}x"],
    ]
    if d["creates"] and d["first"] is not None:
        c0, c1 = d["creates"][0]["t"], d["creates"][-1]["t"]
        rows += [
            ["  start-up + plan (to first CreateBGPPeer)", f"{c0 - args.dxctl_start:.2f} s"],
            ["  create phase (first to last CreateBGPPeer)", f"{c1 - c0:.2f} s"],
            ["  mean gap between CreateBGPPeer calls", f"{(c1 - c0) / max(len(d['creates']) - 1, 1) * 1000:.1f} ms"],
            ["  wait (last CreateBGPPeer to exit)", f"{args.dxctl_end - c1:.2f} s"],
        ]
    print(table(rows))

    print()
    print(f"API calls by operation (dxctl): {d['total']} in all")
    ops = sorted(d["by_op"])
    rows = []
    for op in ops:
        rows.append([op] + [d["by_op_region"].get((op, r), 0) for r in regions] + [d["by_op"][op]])
    print(table(rows, header=["operation"] + regions + ["total"]))
    if d["errors"]:
        print("  non-200 responses:")
        for (op, status, code), n in sorted(d["errors"].items(), key=lambda x: -x[1]):
            print(f"    {op} {status} {code}: {n}")

    print()
    print("Polling (DescribeVirtualInterfaces after the first CreateBGPPeer)")
    rounds = d["rounds"]
    sizes = [len(r) for r in rounds]
    polling_calls = len(d["polling"])
    rows = [
        ["plan-time DescribeVirtualInterfaces", len(d["observe"])],
        ["polling DescribeVirtualInterfaces", polling_calls],
        ["polling rounds", len(rounds)],
        ["calls per round (min/mean/max)", f"{min(sizes)}/{sum(sizes) / len(sizes):.2f}/{max(sizes)}" if sizes else "-"],
        [f"rounds x regions ({len(rounds)} x {len(regions)})", len(rounds) * len(regions)],
        [f"rounds x peers ({len(rounds)} x {args.peers})", len(rounds) * args.peers],
        ["polling calls / (rounds x regions)", f"{polling_calls / (len(rounds) * len(regions)):.2f}" if rounds else "-"],
    ]
    if len(rounds) >= 2:
        starts = [r[0]["t"] for r in rounds]
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        rows.append(["interval between rounds (mean)", f"{sum(gaps) / len(gaps):.2f} s"])
    print(table(rows))

    if args.baseline_result:
        with open(args.baseline_result) as f:
            text = f.read().strip().splitlines()
        base = json.loads(text[-1]) if text else {}
        b = analyse(load(args.baseline_log), poll) if args.baseline_log else None
        done = base.get("peers", 0)
        bwall = args.baseline_end - args.baseline_start
        print()
        print("Sequential awscli baseline (create, then describe every poll interval until available, per peer)")
        print(f"  baseline exit code: {args.baseline_exit}" + ("" if args.baseline_exit == 0 else "   <-- BASELINE FAILED"))
        if base.get("failures"):
            for fail in base["failures"]:
                print(f"  failure: {fail}")
        if done == 0:
            print("  no peer completed; no ratio")
            print("=" * 78)
            return
        per_peer = bwall / done
        extrapolated = done < args.peers
        full = per_peer * args.peers
        rows = [
            [f"baseline wall time, {done} peers (measured)", f"{bwall:.2f} s"],
            ["baseline per peer (measured)", f"{per_peer:.2f} s"],
            [
                f"baseline wall time, {args.peers} peers" + (f" (EXTRAPOLATED linearly from {done})" if extrapolated else " (measured)"),
                f"{full:.1f} s",
            ],
            ["ratio dxctl / baseline (wall time)", f"{wall / full:.4f}  ({full / wall:.1f}x faster)" if wall > 0 else "-"],
        ]
        print(table(rows))
        if b:
            print()
            scale = args.peers / done
            print(
                f"API calls by operation (baseline): {b['total']} for {done} peers"
                + (f"; x{scale:g} = extrapolated to {args.peers} peers" if extrapolated else "")
            )
            rows = []
            for op in sorted(set(b["by_op"]) | set(d["by_op"])):
                n = b["by_op"].get(op, 0)
                rows.append([op, n, f"{n * scale:.0f}", d["by_op"].get(op, 0)])
            total_full = b["total"] * scale
            rows.append(["total", b["total"], f"{total_full:.0f}", d["total"]])
            label = f"{args.peers} peers" + (" (extrap.)" if extrapolated else "")
            print(table(rows, header=["operation", f"baseline {done} peers", f"baseline {label}", "dxctl"]))
            print(f"  ratio dxctl / baseline (API calls): {d['total'] / total_full:.4f}")
    print("=" * 78)


if __name__ == "__main__":
    main()
