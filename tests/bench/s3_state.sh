#!/usr/bin/env bash
# State backend benchmark: what keeping the state in S3 costs against the local file, for the same runs.
# A world of VIFS VIFs with one existing peer each (tests/bench/apply/gen.py), `dxctl sim serve`, and moto's S3
# (tests/s3/moto_s3.py, one request at a time) on loopback:
#   plan   `dxctl plan --detailed-exitcode` of the steady config (VIFS records in the state, "No changes"), hyperfine,
#          local state against S3 state, same binary, same simulator
#   apply  `dxctl apply --auto-approve` creating PEERS new peers, APPLY_RUNS times per backend (alternating), each on
#          a fresh simulator and a fresh state that first adopts the world; wall time (median) and S3 requests per apply
# Figures, not a pass/fail test: it exits non-zero only when it cannot measure.
#
#   tests/bench/s3_state.sh
#   SKIP_BUILD=1 DXCTL=/path/to/dxctl VIFS=1000 PEERS=300 tests/bench/s3_state.sh
#
# Settings (environment): VIFS=300 PEERS=100 PLAN_RUNS=10 APPLY_RUNS=3 DELAY=50ms POLL_INTERVAL=200ms
#   DXCTL=target/release/dxctl (built unless SKIP_BUILD=1; CARGO_TARGET_DIR is honoured)  WORK_DIR=(mktemp; kept)
# Needs hyperfine and python3 with moto[server] (pip install -r tests/requirements.txt).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VIFS="${VIFS:-300}"
PEERS="${PEERS:-100}"
PLAN_RUNS="${PLAN_RUNS:-10}"
APPLY_RUNS="${APPLY_RUNS:-3}"
DELAY="${DELAY:-50ms}"
POLL_INTERVAL="${POLL_INTERVAL:-200ms}"
WORK_DIR="${WORK_DIR:-$(mktemp -d -t dxctl-s3-bench.XXXXXX)}"
die() { echo "s3_state.sh: $*" >&2; exit 1; }

command -v hyperfine >/dev/null || die "hyperfine is required (apt install hyperfine)"
if [[ -z "${SKIP_BUILD:-}" ]]; then
  (cd "$REPO" && cargo build --release --locked -q) || die "cargo build --release failed"
fi
DXCTL="${DXCTL:-${CARGO_TARGET_DIR:-$REPO/target}/release/dxctl}"
[[ -x "$DXCTL" ]] || die "no dxctl binary at $DXCTL"

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_for_file() { # bounded: 20 s
  for _ in $(seq 200); do [[ -s "$1" ]] && return 0; sleep 0.1; done
  die "$2 did not start ($1 missing)"
}

start_sim() { # dir -> sets SIM_PID, SIM_URL
  rm -f "$1/sim.port"
  "$DXCTL" sim serve --world "$WORK_DIR/gen/steady/world.json" --port-file "$1/sim.port" \
    --provision-delay "$DELAY" >/dev/null 2>&1 &
  SIM_PID=$!
  PIDS+=("$SIM_PID")
  wait_for_file "$1/sim.port" "the simulator"
  SIM_URL="http://127.0.0.1:$(cat "$1/sim.port")"
}

mkdir -p "$WORK_DIR/gen"
python3 "$HERE/apply/gen.py" --out "$WORK_DIR/gen/steady" --vifs "$VIFS" --peers 0 >/dev/null || die "gen.py failed"
python3 "$HERE/apply/gen.py" --out "$WORK_DIR/gen/apply" --vifs "$VIFS" --peers "$PEERS" >/dev/null || die "gen.py failed"
cmp -s "$WORK_DIR/gen/steady/world.json" "$WORK_DIR/gen/apply/world.json" || die "gen.py wrote two different worlds"

python3 "$REPO/tests/s3/moto_s3.py" "$WORK_DIR/s3.port" "$WORK_DIR/s3.log" 2>/dev/null &
PIDS+=("$!")
wait_for_file "$WORK_DIR/s3.port" "moto's S3"
export AWS_ENDPOINT_URL_S3="http://127.0.0.1:$(cat "$WORK_DIR/s3.port")"
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
unset DXCTL_STATE
python3 -m awscli s3api create-bucket --bucket dxctl-bench >/dev/null || die "cannot create the bucket"
# Creating a bucket is moto's first request; the S3 store's requests are counted per apply below.

state_arg() { # mode key -> --state value
  if [[ "$1" == local ]]; then echo "$WORK_DIR/$2/state.json"; else echo "s3://dxctl-bench/$2/state.json"; fi
}

# plan: one simulator, both states adopted from it.
mkdir -p "$WORK_DIR/plan"
start_sim "$WORK_DIR/plan"
for mode in local s3; do
  "$DXCTL" -q --endpoint-url "$SIM_URL" --state "$(state_arg "$mode" plan-$mode)" \
    apply --auto-approve --poll-interval "$POLL_INTERVAL" "$WORK_DIR/gen/steady/config" >/dev/null \
    || die "the $mode adopt failed"
done
hyperfine -N --warmup 1 --runs "$PLAN_RUNS" --export-json "$WORK_DIR/plan.json" \
  -n local "$DXCTL -q --endpoint-url $SIM_URL --state $(state_arg local plan-local) plan --detailed-exitcode $WORK_DIR/gen/steady/config" \
  -n s3 "$DXCTL -q --endpoint-url $SIM_URL --state $(state_arg s3 plan-s3) plan --detailed-exitcode $WORK_DIR/gen/steady/config" \
  >"$WORK_DIR/plan.txt" || die "hyperfine plan failed (see $WORK_DIR/plan.txt)"
kill "$SIM_PID"

# apply: fresh simulator and state per run, alternating backends.
: >"$WORK_DIR/apply.tsv"
for run in $(seq "$APPLY_RUNS"); do
  for mode in local s3; do
    dir="$WORK_DIR/apply-$mode-$run"
    mkdir -p "$dir"
    start_sim "$dir"
    state="$(state_arg "$mode" "apply-$mode-$run")"
    "$DXCTL" -q --endpoint-url "$SIM_URL" --state "$state" apply --auto-approve --poll-interval "$POLL_INTERVAL" \
      "$WORK_DIR/gen/steady/config" >/dev/null || die "the $mode adopt failed"
    before=$(wc -l <"$WORK_DIR/s3.log")
    start=$(date +%s%N)
    "$DXCTL" -q --endpoint-url "$SIM_URL" --state "$state" apply --auto-approve --poll-interval "$POLL_INTERVAL" \
      "$WORK_DIR/gen/apply/config" >"$dir/apply.out" 2>&1 || die "the $mode apply failed (see $dir/apply.out)"
    end=$(date +%s%N)
    requests=$(( $(wc -l <"$WORK_DIR/s3.log") - before ))
    printf '%s\t%s\t%s\n' "$mode" "$(( (end - start) / 1000000 ))" "$requests" >>"$WORK_DIR/apply.tsv"
    kill "$SIM_PID"
  done
done

python3 - "$WORK_DIR" "$VIFS" "$PEERS" <<'EOF'
import json, statistics, sys
work, vifs, peers = sys.argv[1], sys.argv[2], sys.argv[3]
plan = {r["command"]: r for r in json.load(open(f"{work}/plan.json"))["results"]}
rows = [l.split("\t") for l in open(f"{work}/apply.tsv").read().split("\n") if l]
apply = {m: [int(r[1]) / 1000 for r in rows if r[0] == m] for m in ("local", "s3")}
reqs = {m: [int(r[2]) for r in rows if r[0] == m] for m in ("local", "s3")}
print(f"State backends, {vifs} VIFs (plan: {vifs} records, no changes; apply: {peers} new peers)")
print(f"{'':8}{'plan mean ± sd':>20}{'apply median':>16}{'S3 requests/apply':>20}")
for m in ("local", "s3"):
    p = plan[m]
    print(f"{m:8}{p['mean']:>12.3f} s ± {p['stddev']:.3f}{statistics.median(apply[m]):>14.2f} s{statistics.median(reqs[m]):>20}")
print(f"s3/local{plan['s3']['mean'] / plan['local']['mean']:>14.2f}x{statistics.median(apply['s3']) / statistics.median(apply['local']):>20.2f}x")
print(f"apply runs (s): local {apply['local']}, s3 {apply['s3']}")
EOF
echo "  logs and outputs: $WORK_DIR"
