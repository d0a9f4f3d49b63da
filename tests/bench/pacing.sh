#!/usr/bin/env bash
# Pacing benchmark: one apply of PEERS new peers (one per VIF) against `dxctl sim serve` limiting CreateBGPPeer to
# RATE per second (burst BURST) in the region. Prints the wall time against the floor PEERS / RATE, the creates the
# simulator accepted and throttled, and whether every peer was created. Figures, not a pass/fail test.
#
#   tests/bench/pacing.sh                                   # 1000 peers at 5/s (about 200 s)
#   PEERS=200 RATE=10 tests/bench/pacing.sh                 # a quick run
#   BASELINE_DXCTL=/path/to/older/dxctl tests/bench/pacing.sh   # the same apply with another build, same run
#
# Settings (environment): PEERS=1000 RATE=5 BURST=5 DELAY=500ms POLL_INTERVAL=1s APPLY_TIMEOUT=30m
#   DXCTL=target/release/dxctl (built unless SKIP_BUILD=1)   WORK_DIR=(mktemp; kept, printed)
# Traffic stays on 127.0.0.1; the simulator is stopped on exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PEERS="${PEERS:-1000}"
RATE="${RATE:-5}"
BURST="${BURST:-5}"
DELAY="${DELAY:-500ms}"
POLL_INTERVAL="${POLL_INTERVAL:-1s}"
APPLY_TIMEOUT="${APPLY_TIMEOUT:-30m}"
WORK_DIR="${WORK_DIR:-$(mktemp -d /tmp/dxctl-bench-pacing.XXXXXX)}"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
DXCTL="${DXCTL:-$TARGET/release/dxctl}"

while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep -E '^(AWS_|DXCTL_)' || true)
export AWS_ACCESS_KEY_ID=AKIDBENCHTEST AWS_SECRET_ACCESS_KEY=bench-test-secret AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null NO_COLOR=1
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1
unset HTTP_PROXY HTTPS_PROXY http_proxy https_proxy ALL_PROXY all_proxy

log() { printf 'pacing.sh: %s\n' "$*" >&2; }
if [[ "${SKIP_BUILD:-}" != 1 && "$DXCTL" == "$TARGET/release/dxctl" ]]; then
  log "building release dxctl"
  (cd "$REPO" && cargo build --release --locked --quiet)
fi

# The world: PEERS VIFs on one connection with logical redundancy, each with one unmanaged IPv4 peer; the config
# asks for one new IPv6 peer on each.
python3 - "$WORK_DIR" "$PEERS" "$DELAY" <<'EOF'
import json, os, sys
work, peers, delay = sys.argv[1], int(sys.argv[2]), sys.argv[3]
vifs, hcl = [], ['provider "aws" {\n  region = "us-east-1"\n}\n']
for i in range(peers):
    vid = "dxvif-pb%06d" % i
    vifs.append({"virtualInterfaceId": vid, "virtualInterfaceType": "private", "virtualInterfaceState": "available",
                 "connectionId": "dxcon-pb000001", "vlan": 1 + i % 4094, "region": "us-east-1",
                 "bgpPeers": [{"bgpPeerId": "dxpeer-pb%06d" % i, "addressFamily": "ipv4", "asn": 65000,
                               "amazonAddress": "169.254.250.1/30", "customerAddress": "169.254.250.2/30",
                               "authKey": "0xexistingkey", "bgpPeerState": "available", "bgpStatus": "up"}]})
    hcl.append('\nvirtual_interface "%s" {\n  bgp_peer "v6" {\n    address_family = "ipv6"\n    asn = 65001\n  }\n}\n' % vid)
world = {"virtualInterfaces": vifs,
         "connections": [{"connectionId": "dxcon-pb000001", "region": "us-east-1", "hasLogicalRedundancy": "yes"}],
         "sim": {"provisionDelay": delay}}
os.makedirs(os.path.join(work, "cfg"), exist_ok=True)
json.dump(world, open(os.path.join(work, "world.json"), "w"))
open(os.path.join(work, "cfg", "main.hcl"), "w").write("".join(hcl))
EOF

SIM_PID=""
stop_sim() { if [[ -n "$SIM_PID" ]]; then kill "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true; SIM_PID=""; fi; }
trap stop_sim EXIT

# One measured apply with binary $1 (label $2): a fresh simulator, a fresh state.
measure() {
  local bin="$1" label="$2" dir="$WORK_DIR/$2"
  mkdir -p "$dir"
  rm -f "$dir/port" "$dir/requests.jsonl"
  "$DXCTL" sim serve --world "$WORK_DIR/world.json" --port-file "$dir/port" --request-log "$dir/requests.jsonl" \
    --rate-limit "CreateBGPPeer=$RATE/$BURST" >/dev/null 2>&1 &
  SIM_PID=$!
  for _ in $(seq 1 200); do [[ -s "$dir/port" ]] && break; sleep 0.05; done
  [[ -s "$dir/port" ]] || { log "the simulator did not start"; exit 1; }
  local port start end code=0
  port="$(cat "$dir/port")"
  start="$(date +%s.%N)"
  timeout "$(( ${APPLY_TIMEOUT%m} * 60 + 60 ))" "$bin" --endpoint-url "http://127.0.0.1:$port" --state "$dir/state.json" \
    apply --auto-approve --poll-interval "$POLL_INTERVAL" --timeout "$APPLY_TIMEOUT" "$WORK_DIR/cfg" \
    >"$dir/apply.out" 2>"$dir/apply.err" || code=$?
  end="$(date +%s.%N)"
  stop_sim
  python3 - "$label" "$dir" "$start" "$end" "$code" "$PEERS" "$RATE" <<'EOF'
import json, sys
label, d, start, end, code, peers, rate = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
reqs = [json.loads(l) for l in open(d + "/requests.jsonl")]
creates = [r for r in reqs if r.get("operation") == "CreateBGPPeer"]
ok = sum(1 for r in creates if r["status"] == 200)
throttled = sum(1 for r in creates if r.get("fault") == "rate-limit")
floor = peers / rate
wall = end - start
print("%-9s %4d peers at %g/s: %7.1f s wall, floor %g s (ratio %.2f); CreateBGPPeer %d sent, %d accepted, %d throttled; exit %d"
      % (label, peers, rate, wall, floor, wall / floor, len(creates), ok, throttled, code))
EOF
}

log "work dir $WORK_DIR"
measure "$DXCTL" dxctl
if [[ -n "${BASELINE_DXCTL:-}" ]]; then
  measure "$BASELINE_DXCTL" baseline
fi
