#!/usr/bin/env python3
"""Prints tests/bench/scale.sh's table from its results.jsonl: one row per VIF count, binary and phase (plan: the
median of its runs by wall time), then after/before ratios and the 5k -> 10k growth factors."""

import json
import statistics
import sys
from collections import defaultdict


def rows(path):
    runs = defaultdict(list)
    with open(path) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                runs[(r["vifs"], r["binary"], r["phase"])].append(r)
    out = {}
    for key, rs in runs.items():
        if len(rs) == 1:
            out[key] = dict(rs[0])
            continue
        # The median run by wall time, with the median of each figure.
        row = dict(sorted(rs, key=lambda r: r["wall"])[len(rs) // 2])
        for field in ("wall", "cpu", "rss_kb", "sim_cpu", "sim_rss_kb"):
            values = [r[field] for r in rs if r[field] is not None]
            row[field] = statistics.median(values) if values else None
        row["exit"] = max(r["exit"] for r in rs)
        row["no_changes"] = all(r.get("no_changes", False) for r in rs)
        row["runs"] = len(rs)
        out[key] = row
    return out


def note(row):
    bits = []
    if row["phase"] == "plan":
        bits.append(f"median of {row.get('runs', 1)}")
        bits.append("No changes" if row.get("no_changes") else "CHANGES or error")
    if row.get("calls"):
        each = row["sim_cpu"] / row["calls"] * 1000
        bits.append(f"simulator alone: {row['calls']} calls, {each:.3f} ms CPU each")
        if row.get("failed"):
            bits.append(f"{row['failed']} failed")
    if row["phase"] == "sandbox":
        bits.append("simulator in-process")
    if row["phase"] in ("apply", "sandbox"):
        bits.append(f"{row.get('creates', '?')}/{row.get('wanted', '?')} peers created")
    if row["exit"] != 0:
        bits.append(f"exit {row['exit']}")
    return "; ".join(bits)


FIGURES = (("wall", "wall s"), ("cpu", "dxctl cpu s"), ("rss_kb", "dxctl RSS MB"), ("sim_cpu", "sim cpu s"),
           ("sim_rss_kb", "sim RSS MB"))
PHASES = ("adopt", "plan", "apply", "create", "describe", "sandbox")


def fmt(field, value):
    if value is None:
        return "-"
    if field.endswith("rss_kb"):
        return f"{value / 1024:.0f}"
    return f"{value:.2f}"


def ratio(new, old):
    """new / old, or "-" when there is nothing to compare (an in-process simulator, a figure too small to read)."""
    return f"{new / old:.2f}" if old and new is not None else "-"


def main():
    table = rows(sys.argv[1])
    vifs = sorted({k[0] for k in table})
    binaries = [b for b in ("before", "after") if any(k[1] == b for k in table)]
    head = f"{'VIFs':>6} {'binary':<7} {'phase':<8}" + "".join(f"{h:>13}" for _, h in FIGURES) + "  notes"
    print(head)
    print("-" * len(head))
    for n in vifs:
        for phase in PHASES:
            for b in binaries:
                row = table.get((n, b, phase))
                if row:
                    print(f"{n:>6} {b:<7} {phase:<8}" + "".join(f"{fmt(f, row[f]):>13}" for f, _ in FIGURES)
                          + f"  {note(row)}")
    if len(binaries) == 2:
        print()
        print("after / before (below 1: the new build is cheaper)")
        print(f"{'VIFs':>6} {'phase':<8}" + "".join(f"{h:>13}" for _, h in FIGURES))
        for n in vifs:
            for phase in PHASES:
                a, b = table.get((n, "after", phase)), table.get((n, "before", phase))
                if a and b:
                    cells = "".join(f"{ratio(a[f], b[f]):>13}" for f, _ in FIGURES)
                    print(f"{n:>6} {phase:<8}{cells}")
    if 5000 in vifs and 10000 in vifs:
        print()
        print("growth 5000 -> 10000 VIFs (2.00 is linear)")
        print(f"{'binary':<7} {'phase':<8}" + "".join(f"{h:>13}" for _, h in FIGURES))
        for b in binaries:
            for phase in PHASES:
                lo, hi = table.get((5000, b, phase)), table.get((10000, b, phase))
                if lo and hi:
                    cells = "".join(f"{ratio(hi[f], lo[f]):>13}" for f, _ in FIGURES)
                    print(f"{b:<7} {phase:<8}{cells}")


if __name__ == "__main__":
    main()
