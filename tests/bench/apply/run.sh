#!/usr/bin/env bash
# Apply benchmark: dxctl apply against `dxctl sim serve`, then a sequential awscli baseline. Prints figures; it is
# not a pass/fail test (it exits non-zero only when it cannot measure: build, generator or simulator failure).
#
#   tests/bench/apply/run.sh                              # 100 VIFs, 300 peers, D=3s, 20ms latency, full baseline
#   BASELINE_PEERS=10 tests/bench/apply/run.sh            # baseline on 10 peers, extrapolated linearly to 300
#   VIFS=12 PEERS=30 DELAY=2s BASELINE_PEERS=3 tests/bench/apply/run.sh   # a quick run
#
# Settings (environment):
#   VIFS=100 PEERS=300 DELAY=3s LATENCY=20ms REGIONS=us-east-1,eu-west-1,ap-southeast-2 SEED=42
#   POLL_INTERVAL=1s       dxctl --poll-interval and the baseline's sleep between describes
#   APPLY_TIMEOUT=10m      dxctl --timeout (the process itself is also killed 60 s after that)
#   BASELINE_PEERS=PEERS   peers the awscli baseline creates; 0 skips it; fewer than PEERS are extrapolated
#   BASELINE_MAX_POLLS=600 describes per peer before the baseline gives up
#   WORK_DIR=(mktemp)      where the world, config, logs and outputs go (kept; the path is printed)
#   SKIP_BUILD=1           use the existing target/release/dxctl (CARGO_TARGET_DIR is honoured)
#   SIM_ARGS=""            more `dxctl sim serve` flags for both simulators, e.g. "--transitioning-rule off"
# All traffic goes to the simulator on 127.0.0.1; every wait is bounded; the simulator is stopped on exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"

VIFS="${VIFS:-100}"
PEERS="${PEERS:-300}"
DELAY="${DELAY:-3s}"
LATENCY="${LATENCY:-20ms}"
REGIONS="${REGIONS:-us-east-1,eu-west-1,ap-southeast-2}"
SEED="${SEED:-42}"
POLL_INTERVAL="${POLL_INTERVAL:-1s}"
APPLY_TIMEOUT="${APPLY_TIMEOUT:-10m}"
BASELINE_PEERS="${BASELINE_PEERS:-$PEERS}"
BASELINE_MAX_POLLS="${BASELINE_MAX_POLLS:-600}"
WORK_DIR="${WORK_DIR:-$(mktemp -d /tmp/dxctl-bench-apply.XXXXXX)}"
read -r -a SIM_EXTRA <<<"${SIM_ARGS:-}"
PYTHON="${PYTHON:-python3}"

if (( BASELINE_PEERS > PEERS )); then BASELINE_PEERS="$PEERS"; fi

# Hermetic AWS environment: nothing from the caller's shell, test credentials, no metadata service, no profiles.
while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep -E '^(AWS_|DXCTL_)' || true)
export AWS_ACCESS_KEY_ID=AKIDBENCHTEST
export AWS_SECRET_ACCESS_KEY=bench-test-secret
export AWS_REGION="${REGIONS%%,*}"
export AWS_DEFAULT_REGION="$AWS_REGION"
export AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null
export AWS_SHARED_CREDENTIALS_FILE=/dev/null
export NO_COLOR=1
# Keep loopback traffic away from any proxy.
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1
unset HTTP_PROXY HTTPS_PROXY http_proxy https_proxy ALL_PROXY all_proxy

log() { printf 'run.sh: %s\n' "$*" >&2; }
now() { date +%s.%N; }
secs() { "$PYTHON" - "$1" <<'EOF'
import re, sys
t, pos, total = sys.argv[1], 0, 0.0
for m in re.finditer(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)", t):
    assert m.start() == pos, t
    total += float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]
    pos = m.end()
assert pos == len(t) and pos, t
print(total)
EOF
}

mkdir -p "$WORK_DIR"
log "work dir: $WORK_DIR"

# --- build -----------------------------------------------------------------------------------------------------
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
BIN="$TARGET_DIR/release/dxctl"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  log "cargo build --release (in $REPO)"
  (cd "$REPO" && cargo build --release) >&2
fi
[[ -x "$BIN" ]] || { log "no binary at $BIN"; exit 1; }
REV="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$REPO" status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null)" ]]; then REV="$REV+uncommitted src changes"; fi

# --- inputs ----------------------------------------------------------------------------------------------------
"$PYTHON" "$HERE/gen.py" --out "$WORK_DIR/gen" --vifs "$VIFS" --peers "$PEERS" --delay "$DELAY" \
  --latency "$LATENCY" --regions "$REGIONS" --seed "$SEED"
WORLD="$WORK_DIR/gen/world.json"
CONFIG="$WORK_DIR/gen/config"

# --- simulator -------------------------------------------------------------------------------------------------
SIM_PID=""
PORT=""
start_sim() { # $1: name (log and port file prefix)
  local name="$1" port_file="$WORK_DIR/$1.port" i
  rm -f "$port_file" "$WORK_DIR/$name.requests.jsonl"
  "$BIN" sim serve --world "$WORLD" --listen 127.0.0.1:0 --port-file "$port_file" \
    --request-log "$WORK_DIR/$name.requests.jsonl" ${SIM_EXTRA[@]+"${SIM_EXTRA[@]}"} </dev/null >"$WORK_DIR/$name.sim.out" 2>"$WORK_DIR/$name.sim.err" &
  SIM_PID=$!
  for ((i = 0; i < 300; i++)); do # at most 15 s
    if [[ -s "$port_file" ]]; then PORT="$(tr -d '[:space:]' <"$port_file")"; fi
    if [[ "$PORT" =~ ^[0-9]+$ ]]; then break; fi
    if ! kill -0 "$SIM_PID" 2>/dev/null; then
      log "simulator exited early:"; cat "$WORK_DIR/$name.sim.err" >&2; SIM_PID=""; exit 1
    fi
    sleep 0.05
  done
  [[ "$PORT" =~ ^[0-9]+$ ]] || { log "simulator wrote no port file within 15 s"; stop_sim; exit 1; }
  URL="http://127.0.0.1:$PORT"
  log "simulator ($name) pid $SIM_PID on $URL"
}
stop_sim() {
  local i
  if [[ -n "$SIM_PID" ]] && kill -0 "$SIM_PID" 2>/dev/null; then
    kill -TERM "$SIM_PID" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do kill -0 "$SIM_PID" 2>/dev/null || break; sleep 0.05; done
    kill -0 "$SIM_PID" 2>/dev/null && kill -KILL "$SIM_PID" 2>/dev/null || true
    wait "$SIM_PID" 2>/dev/null || true
  fi
  SIM_PID=""
  PORT=""
}
trap stop_sim EXIT
trap 'stop_sim; exit 130' INT TERM
fetch_world() { # $1: output file
  "$PYTHON" - "$URL/_sim/world" "$1" <<'EOF'
import sys, urllib.request
url, out = sys.argv[1], sys.argv[2]
assert url.startswith("http://127.0.0.1:"), url
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
with opener.open(url, timeout=30) as r, open(out, "wb") as f:
    f.write(r.read())
EOF
}

# --- dxctl apply -----------------------------------------------------------------------------------------------
OUTER_TIMEOUT="$("$PYTHON" -c "import math; print(math.ceil($(secs "$APPLY_TIMEOUT")) + 60)")"
start_sim dxctl
DXCTL=("$BIN" --endpoint-url "$URL" --state "$WORK_DIR/dxctl.state.json" --no-color
       apply --auto-approve --poll-interval "$POLL_INTERVAL" --timeout "$APPLY_TIMEOUT" "$CONFIG")
rm -f "$WORK_DIR/dxctl.state.json" "$WORK_DIR/dxctl.state.json.backup"
log "running: ${DXCTL[*]}"
set +e
T0=$(now)
(cd "$WORK_DIR" && timeout --kill-after=10 "$OUTER_TIMEOUT" "${DXCTL[@]}" \
  </dev/null >"$WORK_DIR/dxctl.stdout" 2>"$WORK_DIR/dxctl.stderr")
DX_RC=$?
T1=$(now)
set -e
log "dxctl apply exited $DX_RC after $("$PYTHON" -c "print(f'{$T1-$T0:.2f}')") s"
if (( DX_RC != 0 )); then
  log "dxctl apply failed; last lines of its stderr and stdout:"
  tail -n 30 "$WORK_DIR/dxctl.stderr" >&2 || true
  tail -n 10 "$WORK_DIR/dxctl.stdout" >&2 || true
fi
fetch_world "$WORK_DIR/dxctl.world.json"
cp "$WORK_DIR/dxctl.requests.jsonl" "$WORK_DIR/dxctl.apply-requests.jsonl"
# Idempotence check after the measurement (its requests are not counted): a second plan must show no changes.
set +e
(cd "$WORK_DIR" && timeout 120 "$BIN" --endpoint-url "$URL" --state "$WORK_DIR/dxctl.state.json" --no-color \
  plan --detailed-exitcode "$CONFIG" </dev/null >"$WORK_DIR/dxctl.replan.stdout" 2>"$WORK_DIR/dxctl.replan.stderr")
REPLAN_RC=$?
set -e
stop_sim

# --- awscli baseline -------------------------------------------------------------------------------------------
BASE_ARGS=()
if (( BASELINE_PEERS > 0 )); then
  start_sim baseline
  BASELINE=("$PYTHON" "$HERE/baseline_awscli.py" --endpoint-url "$URL" --manifest "$WORK_DIR/gen/peers.json"
            --count "$BASELINE_PEERS" --poll-interval "$(secs "$POLL_INTERVAL")"
            --max-polls "$BASELINE_MAX_POLLS")
  log "running: ${BASELINE[*]}"
  set +e
  B0=$(now)
  "${BASELINE[@]}" </dev/null >"$WORK_DIR/baseline.result.json" 2>"$WORK_DIR/baseline.stderr"
  B_RC=$?
  B1=$(now)
  set -e
  log "baseline exited $B_RC after $("$PYTHON" -c "print(f'{$B1-$B0:.2f}')") s"
  (( B_RC == 0 )) || tail -n 5 "$WORK_DIR/baseline.stderr" >&2 || true
  stop_sim
  BASE_ARGS=(--baseline-log "$WORK_DIR/baseline.requests.jsonl" --baseline-result "$WORK_DIR/baseline.result.json"
             --baseline-start "$B0" --baseline-end "$B1" --baseline-exit "$B_RC")
fi

# --- figures ---------------------------------------------------------------------------------------------------
echo "command: ${DXCTL[*]}"
if (( BASELINE_PEERS > 0 )); then echo "baseline: ${BASELINE[*]}"; fi
"$PYTHON" "$HERE/report.py" --dxctl-log "$WORK_DIR/dxctl.apply-requests.jsonl" --dxctl-start "$T0" --dxctl-end "$T1" \
  --dxctl-exit "$DX_RC" --dxctl-world "$WORK_DIR/dxctl.world.json" --delay "$DELAY" --poll-interval "$POLL_INTERVAL" \
  --latency "$LATENCY" --vifs "$VIFS" --peers "$PEERS" --regions "$REGIONS" --dxctl-version "dxctl $REV" \
  "${BASE_ARGS[@]}"
case "$REPLAN_RC" in
  0) echo "  post-apply plan --detailed-exitcode: 0 (no changes)" ;;
  2) echo "  post-apply plan --detailed-exitcode: 2 (CHANGES REMAIN; see $WORK_DIR/dxctl.replan.stdout)" ;;
  *) echo "  post-apply plan --detailed-exitcode: $REPLAN_RC (error; see $WORK_DIR/dxctl.replan.stderr)" ;;
esac
echo "  logs and outputs: $WORK_DIR"
