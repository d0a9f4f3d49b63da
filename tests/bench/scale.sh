#!/usr/bin/env bash
# Scale benchmark: how dxctl and `dxctl sim serve` grow with the world. For each N in SCALE_VIFS, a world of N VIFs
# (1-2 peers each: every VIF has an IPv4 peer, every EXISTING_V6_EVERY-th one an IPv6 peer too) and two configs are
# generated with tests/bench/apply/gen.py; then, against a fresh simulator run by the binary under test:
#   adopt   an apply of the steady config (every existing peer declared): adopts them all, no API writes (not a phase
#           of the table, but printed: it is the first plan of the run plus N state records)
#   plan    `dxctl plan --detailed-exitcode` of the steady config, everything in place ("No changes"): PLAN_RUNS runs,
#           the median reported
#   apply   `dxctl apply --auto-approve` of the apply config: half the VIFs get one new peer (cycling IPv4 with
#           addresses, IPv4 assigned, IPv6), with a tiny provisioning delay so waiting does not dominate
#   create, describe   the simulator alone, after the apply (tests/bench/scale_calls.py): CALL_CREATES sequential
#           CreateBGPPeer on VIFs without a new peer, then CALL_DESCRIBES DescribeVirtualInterfaces of one region
#           (a third of the VIFs); its CPU for the batch and per call, free of how dxctl paces and polls
#   sandbox the same apply with `dxctl --sandbox` (after an adopt): the simulator runs inside dxctl and saves its
#           world file after every change, so dxctl's CPU includes the simulator's; only for N <= SANDBOX_MAX_VIFS
# Per phase: wall time, dxctl's user+sys CPU and peak RSS (/usr/bin/time, or a python3 getrusage wrapper when it is
# missing), and the simulator's own CPU (utime+stime from /proc) spent during the phase and its peak RSS.
# With DXCTL_BEFORE set, the same runs are made with that binary (client and simulator) in the same run, and the
# table adds after/before ratios; with 5000 and 10000 in SCALE_VIFS it adds the 5k -> 10k growth factor (2.0 is
# linear). Figures, not a pass/fail test: it exits non-zero only when it cannot measure (build, generator, simulator).
#
#   tests/bench/scale.sh                                              # 1000 5000 10000 VIFs, the fresh build
#   SCALE_VIFS="1000 5000" DXCTL_BEFORE=/work/dxctl-before-scale tests/bench/scale.sh
#   SKIP_BUILD=1 DXCTL=/path/to/dxctl SCALE_VIFS=1000 tests/bench/scale.sh
#
# Settings (environment):
#   SCALE_VIFS="1000 5000 10000"  PLAN_RUNS=3  EXISTING_V6_EVERY=2  DELAY=50ms (sim.provisionDelay)
#   POLL_INTERVAL=200ms  APPLY_TIMEOUT=30m  REGIONS=us-east-1,eu-west-1,ap-southeast-2  SEED=42
#   CALL_CREATES=1000 (at most N/2)  CALL_DESCRIBES=30  SANDBOX_MAX_VIFS=5000 (0 skips the sandbox phase)  SIM_ARGS="" (more `sim serve` flags, e.g.
#   "--consistency-window 2s"; the sandbox phase takes the world's settings only)
#   DXCTL=target/release/dxctl (built unless SKIP_BUILD=1; CARGO_TARGET_DIR is honoured)  DXCTL_BEFORE=(none)
#   WORK_DIR=(mktemp; kept, printed)
# All traffic goes to the simulator on 127.0.0.1; every wait is bounded; the simulator is stopped on exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
SCALE_VIFS="${SCALE_VIFS:-1000 5000 10000}"
PLAN_RUNS="${PLAN_RUNS:-3}"
EXISTING_V6_EVERY="${EXISTING_V6_EVERY:-2}"
DELAY="${DELAY:-50ms}"
POLL_INTERVAL="${POLL_INTERVAL:-200ms}"
APPLY_TIMEOUT="${APPLY_TIMEOUT:-30m}"
REGIONS="${REGIONS:-us-east-1,eu-west-1,ap-southeast-2}"
SEED="${SEED:-42}"
SANDBOX_MAX_VIFS="${SANDBOX_MAX_VIFS:-5000}"
CALL_CREATES="${CALL_CREATES:-1000}"
CALL_DESCRIBES="${CALL_DESCRIBES:-30}"
read -r -a SIM_EXTRA <<<"${SIM_ARGS:-}"
WORK_DIR="${WORK_DIR:-$(mktemp -d /tmp/dxctl-bench-scale.XXXXXX)}"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
# Read before the environment is cleared of DXCTL_* below.
BIN_AFTER="${DXCTL:-$TARGET/release/dxctl}"
BIN_BEFORE="${DXCTL_BEFORE:-}"
PYTHON="${PYTHON:-python3}"
# Every dxctl run is killed this long after its own --timeout would have ended it.
OUTER_TIMEOUT=$(( ${APPLY_TIMEOUT%m} * 60 + 120 ))

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
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1
unset HTTP_PROXY HTTPS_PROXY http_proxy https_proxy ALL_PROXY all_proxy

log() { printf 'scale.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[[ "$PLAN_RUNS" =~ ^[1-9][0-9]?$ ]] || die "PLAN_RUNS must be 1..99"
[[ "$APPLY_TIMEOUT" =~ ^[0-9]+m$ ]] || die "APPLY_TIMEOUT must be whole minutes, e.g. 30m"
for n in $SCALE_VIFS; do [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "SCALE_VIFS: $n is not a positive integer"; done

mkdir -p "$WORK_DIR"
log "work dir: $WORK_DIR"
RESULTS="$WORK_DIR/results.jsonl"
: >"$RESULTS"

# --- binaries ----------------------------------------------------------------------------------------------------
if [[ "${SKIP_BUILD:-0}" != 1 && "$BIN_AFTER" == "$TARGET/release/dxctl" ]]; then
  log "cargo build --release --locked (in $REPO)"
  (cd "$REPO" && cargo build --release --locked --quiet) >&2 || die "the build failed"
fi
[[ -x "$BIN_AFTER" ]] || die "no dxctl binary at $BIN_AFTER"
BINARIES=()
LABELS=()
if [[ -n "$BIN_BEFORE" ]]; then
  [[ -x "$BIN_BEFORE" ]] || die "DXCTL_BEFORE=$BIN_BEFORE is not executable"
  BINARIES+=("$BIN_BEFORE")
  LABELS+=(before)
fi
BINARIES+=("$BIN_AFTER")
LABELS+=(after)
REV="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$REPO" status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null)" ]]; then REV="$REV+uncommitted"; fi

# --- measuring ---------------------------------------------------------------------------------------------------
# measure OUT -- CMD...: runs CMD (stdin closed) and writes "wall user sys maxrss_kb exit" to OUT.
if [[ -x /usr/bin/time ]]; then
  RUSAGE_TOOL="/usr/bin/time"
else
  RUSAGE_TOOL="python3 getrusage"
fi
measure() {
  local out="$1" rc=0
  shift 2
  if [[ -x /usr/bin/time ]]; then
    local t0 t1
    t0="$(date +%s.%N)"
    /usr/bin/time -f '%U %S %M' -o "$out.time" timeout --kill-after=10 "$OUTER_TIMEOUT" "$@" </dev/null || rc=$?
    t1="$(date +%s.%N)"
    # The last line: GNU time prepends "Command exited with non-zero status N" when the command fails.
    read -r u s m < <(tail -n 1 "$out.time")
    "$PYTHON" -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}', *sys.argv[3:])" \
      "$t0" "$t1" "$u" "$s" "$m" "$rc" >"$out"
  else
    "$PYTHON" - "$out" "$OUTER_TIMEOUT" "$@" <<'EOF' </dev/null || rc=$?
import resource, subprocess, sys, time
out, limit, cmd = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
t0 = time.monotonic()
try:
    rc = subprocess.run(cmd, stdin=subprocess.DEVNULL, timeout=limit).returncode
except subprocess.TimeoutExpired:
    rc = 124
wall = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)  # this wrapper's only child
with open(out, "w") as f:
    f.write(f"{wall:.3f} {ru.ru_utime:.2f} {ru.ru_stime:.2f} {ru.ru_maxrss} {rc}\n")
EOF
  fi
}
CLK_TCK="$(getconf CLK_TCK)"
# The simulator's utime+stime so far, in seconds.
sim_cpu() {
  "$PYTHON" - "/proc/$SIM_PID/stat" "$CLK_TCK" <<'EOF'
import sys
text = open(sys.argv[1]).read()
fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) "
print(f"{(int(fields[11]) + int(fields[12])) / int(sys.argv[2]):.2f}")
EOF
}
sim_hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$SIM_PID/status"; }
# record VIFS LABEL PHASE RUN MEASURE_FILE SIM_CPU_SECONDS SIM_HWM_KB [EXTRA_JSON]
record() {
  "$PYTHON" - "$@" >>"$RESULTS" <<'EOF'
import json, sys
vifs, label, phase, run, mfile, sim_cpu, sim_hwm = sys.argv[1:8]
extra = json.loads(sys.argv[8]) if len(sys.argv) > 8 else {}
wall, user, system, rss, rc = open(mfile).read().split()
print(json.dumps(dict(vifs=int(vifs), binary=label, phase=phase, run=int(run), wall=float(wall),
                      cpu=float(user) + float(system), rss_kb=int(rss), exit=int(rc), sim_cpu=float(sim_cpu),
                      sim_rss_kb=int(sim_hwm or 0), **extra)))
EOF
}

# --- simulator ---------------------------------------------------------------------------------------------------
SIM_PID=""
URL=""
start_sim() { # BIN WORLD DIR
  local bin="$1" world="$2" dir="$3" port="" i
  rm -f "$dir/sim.port" "$dir/requests.jsonl"
  "$bin" sim serve --world "$world" --listen 127.0.0.1:0 --port-file "$dir/sim.port" \
    --request-log "$dir/requests.jsonl" ${SIM_EXTRA[@]+"${SIM_EXTRA[@]}"} </dev/null >"$dir/sim.out" 2>"$dir/sim.err" &
  SIM_PID=$!
  for ((i = 0; i < 1200; i++)); do # at most 60 s (a 10k world takes a moment to load)
    if [[ -s "$dir/sim.port" ]]; then port="$(tr -d '[:space:]' <"$dir/sim.port")"; fi
    if [[ "$port" =~ ^[0-9]+$ ]]; then break; fi
    kill -0 "$SIM_PID" 2>/dev/null || { cat "$dir/sim.err" >&2; SIM_PID=""; die "the simulator exited early"; }
    sleep 0.05
  done
  [[ "$port" =~ ^[0-9]+$ ]] || { stop_sim; die "the simulator wrote no port file within 60 s"; }
  URL="http://127.0.0.1:$port"
}
stop_sim() {
  local i
  if [[ -n "$SIM_PID" ]] && kill -0 "$SIM_PID" 2>/dev/null; then
    kill -TERM "$SIM_PID" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do kill -0 "$SIM_PID" 2>/dev/null || break; sleep 0.05; done
    kill -0 "$SIM_PID" 2>/dev/null && kill -KILL "$SIM_PID" 2>/dev/null || true
    wait "$SIM_PID" 2>/dev/null || true
  fi
  SIM_PID=""
}
trap stop_sim EXIT
trap 'stop_sim; exit 130' INT TERM

# --- runs --------------------------------------------------------------------------------------------------------
GEN_FLAGS=(--vlan-per-parent --addresses-per-vif --existing-v6-every "$EXISTING_V6_EVERY" --delay "$DELAY"
           --latency 0s --regions "$REGIONS" --seed "$SEED")
for n in $SCALE_VIFS; do
  gen="$WORK_DIR/$n/gen"
  "$PYTHON" "$HERE/apply/gen.py" --out "$gen/steady" --vifs "$n" --peers 0 "${GEN_FLAGS[@]}" \
    || die "gen.py failed for $n VIFs"
  "$PYTHON" "$HERE/apply/gen.py" --out "$gen/apply" --vifs "$n" --peers $(( n / 2 )) "${GEN_FLAGS[@]}" \
    || die "gen.py failed for $n VIFs"
  cmp -s "$gen/steady/world.json" "$gen/apply/world.json" || die "gen.py wrote two different worlds for $n VIFs"
  world="$gen/steady/world.json"

  for idx in "${!BINARIES[@]}"; do
    bin="${BINARIES[$idx]}" label="${LABELS[$idx]}" dir="$WORK_DIR/$n/${LABELS[$idx]}"
    mkdir -p "$dir"
    rm -f "$dir"/state.json*
    start_sim "$bin" "$world" "$dir"
    log "$n VIFs, $label ($bin): simulator pid $SIM_PID on $URL"
    dx=("$bin" --endpoint-url "$URL" --state "$dir/state.json" --no-color)

    # adopt: every existing peer into state (a plan plus state writes; no API writes).
    c0="$(sim_cpu)"
    measure "$dir/adopt.m" -- "${dx[@]}" apply --auto-approve --timeout "$APPLY_TIMEOUT" "$gen/steady/config" \
      >"$dir/adopt.out" 2>"$dir/adopt.err"
    record "$n" "$label" adopt 1 "$dir/adopt.m" "$("$PYTHON" -c "print(round($(sim_cpu) - $c0, 2))")" "$(sim_hwm_kb)"

    # plan: steady state, nothing to do.
    for ((run = 1; run <= PLAN_RUNS; run++)); do
      c0="$(sim_cpu)"
      measure "$dir/plan$run.m" -- "${dx[@]}" plan --detailed-exitcode "$gen/steady/config" \
        >"$dir/plan$run.out" 2>"$dir/plan$run.err"
      record "$n" "$label" plan "$run" "$dir/plan$run.m" "$("$PYTHON" -c "print(round($(sim_cpu) - $c0, 2))")" \
        "$(sim_hwm_kb)" "{\"no_changes\": $(grep -qx 'No changes. Your infrastructure matches the configuration.' "$dir/plan$run.out" && echo true || echo false)}"
    done

    # apply: half the VIFs get one new peer.
    c0="$(sim_cpu)"
    measure "$dir/apply.m" -- "${dx[@]}" apply --auto-approve --poll-interval "$POLL_INTERVAL" \
      --timeout "$APPLY_TIMEOUT" "$gen/apply/config" >"$dir/apply.out" 2>"$dir/apply.err"
    c1="$(sim_cpu)"
    creates="$("$PYTHON" -c "
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    n += r.get('operation') == 'CreateBGPPeer' and r.get('status') == 200
print(n)" "$dir/requests.jsonl")"
    record "$n" "$label" apply 1 "$dir/apply.m" "$("$PYTHON" -c "print(round($c1 - $c0, 2))")" "$(sim_hwm_kb)" \
      "{\"creates\": $creates, \"wanted\": $(( n / 2 ))}"

    # create, describe: the simulator's cost per call.
    "$PYTHON" "$HERE/scale_calls.py" --port "${URL##*:}" --pid "$SIM_PID" --vifs "$n" --regions "$REGIONS" \
      --creates "$CALL_CREATES" --describes "$CALL_DESCRIBES" >"$dir/calls.json" || die "scale_calls.py failed"
    "$PYTHON" - "$n" "$label" "$dir/calls.json" "$(sim_hwm_kb)" >>"$RESULTS" <<'EOF'
import json, sys
vifs, label, path, hwm = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4] or 0)
c = json.load(open(path))
for phase in ("create", "describe"):
    failed = c[phase + "_failed"]
    print(json.dumps(dict(vifs=vifs, binary=label, phase=phase, run=1, wall=None, cpu=None, rss_kb=None,
                          exit=int(failed > 0), sim_cpu=c[phase + "_cpu"], sim_rss_kb=hwm, calls=c[phase + "s"],
                          failed=failed)))
EOF
    stop_sim

    # sandbox: the same apply with the simulator inside dxctl, saving its world file.
    if (( n <= SANDBOX_MAX_VIFS )); then
      sb="$dir/sandbox"
      rm -rf "$sb"
      mkdir -p "$sb"
      dxs=("$bin" --sandbox "$world" --state "$sb/state.json" --no-color)
      (cd "$sb" && timeout "$OUTER_TIMEOUT" "${dxs[@]}" apply --auto-approve --timeout "$APPLY_TIMEOUT" \
        "$gen/steady/config" </dev/null >"$sb/adopt.out" 2>"$sb/adopt.err") || log "sandbox adopt failed (see $sb)"
      measure "$sb/apply.m" -- "${dxs[@]}" apply --auto-approve --poll-interval "$POLL_INTERVAL" \
        --timeout "$APPLY_TIMEOUT" "$gen/apply/config" >"$sb/apply.out" 2>"$sb/apply.err"
      created="$("$PYTHON" -c "
import json, sys
w = json.load(open(sys.argv[1]))
print(sum(1 for v in w['virtualInterfaces'] for p in v['bgpPeers'] if not p['bgpPeerId'].startswith('dxpeer-bnch')))" \
        "$sb/sandbox/world.json" 2>/dev/null || echo '"?"')"
      record "$n" "$label" sandbox 1 "$sb/apply.m" 0 0 "{\"creates\": $created, \"wanted\": $(( n / 2 ))}"
    fi
    log "$n VIFs, $label: done ($(tail -n 1 "$RESULTS"))"
  done
done

# --- figures -----------------------------------------------------------------------------------------------------
echo "scale benchmark: worktree at $REV; dxctl CPU and RSS by $RUSAGE_TOOL"
echo "  after:  $BIN_AFTER"
if [[ -n "$BIN_BEFORE" ]]; then echo "  before: $BIN_BEFORE"; fi
echo "  per N: gen.py --vifs N ${GEN_FLAGS[*]} (--peers 0 for plan, N/2 for apply);"
echo "  plan = dxctl plan --detailed-exitcode (median of $PLAN_RUNS); apply = dxctl apply --auto-approve --poll-interval $POLL_INTERVAL"
echo "  create, describe = the simulator alone: sequential CreateBGPPeer (IPv6) / DescribeVirtualInterfaces of one region"
echo "  sandbox = the same apply as dxctl --sandbox (simulator in-process, saving its world; its CPU is dxctl's)"
if (( ${#SIM_EXTRA[@]} )); then echo "  sim serve ${SIM_EXTRA[*]}"; fi
"$PYTHON" "$HERE/scale_report.py" "$RESULTS"
echo "  logs and outputs: $WORK_DIR"
