#!/usr/bin/env bash
# Idle-connection flood benchmark: CONNS idle TCP connections (half silent, half with half a request head) against
# `dxctl sim serve`, then one raw HTTP request and one boto3 call. Prints how many files the simulator holds, how
# long the two requests took (or that they failed), and how many of the idle connections it closed. Figures, not a
# pass/fail test.
#
#   tests/bench/idle_connections.sh                                  # 6000 connections, simulator at ulimit -n 4096
#   CONNS=19000 SIM_NOFILE=20000 tests/bench/idle_connections.sh     # the full-size run
#   BASELINE_DXCTL=/path/to/older/dxctl tests/bench/idle_connections.sh   # the same flood against another build
#
# Settings (environment): CONNS=6000 SIM_NOFILE=4096 SIM_ARGS="" (e.g. "--max-connections 256")
#   DXCTL=target/release/dxctl (built unless SKIP_BUILD=1)   WORK_DIR=(mktemp; kept, printed)
# Traffic stays on 127.0.0.1; connections are opened at most CONNS, requests time out after 10 s, the simulator is
# stopped on exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CONNS="${CONNS:-6000}"
SIM_NOFILE="${SIM_NOFILE:-4096}"
SIM_ARGS="${SIM_ARGS:-}"
WORK_DIR="${WORK_DIR:-$(mktemp -d /tmp/dxctl-bench-idle.XXXXXX)}"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
DXCTL="${DXCTL:-$TARGET/release/dxctl}"
PYTHON="${PYTHON:-python3}"

while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep -E '^(AWS_|DXCTL_)' || true)
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1

log() { printf '%s\n' "$*" >&2; }

if [[ "${SKIP_BUILD:-0}" != 1 && "$DXCTL" == "$TARGET/release/dxctl" ]]; then
  log "building $DXCTL"
  (cd "$REPO" && cargo build --locked --release --bin dxctl >&2)
fi
mkdir -p "$WORK_DIR"
log "work dir: $WORK_DIR"

SIM_PID=""
stop_sim() { if [[ -n "$SIM_PID" ]]; then kill "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true; SIM_PID=""; fi; }
trap stop_sim EXIT
trap 'stop_sim; exit 130' INT TERM

run() { # $1: label, $2: dxctl binary
  local label="$1" bin="$2" port_file="$WORK_DIR/$1.port"
  rm -f "$port_file"
  # shellcheck disable=SC2086 # SIM_ARGS is a list of flags
  (ulimit -n "$SIM_NOFILE" && exec "$bin" sim serve --world "$REPO/examples/seed/world.json" \
      --port-file "$port_file" $SIM_ARGS) 2>"$WORK_DIR/$label.stderr" &
  SIM_PID=$!
  for _ in $(seq 150); do [[ -s "$port_file" ]] && break; sleep 0.1; done
  [[ -s "$port_file" ]] || { log "$label: simulator wrote no port file within 15 s"; stop_sim; exit 1; }
  "$PYTHON" - "$label" "$(cat "$port_file")" "$SIM_PID" "$CONNS" <<'EOF'
import http.client, os, resource, socket, sys, time

label, port, pid, conns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
conns = min(conns, hard - 200)

def sim_files():
    try:
        return len(os.listdir("/proc/{}/fd".format(pid)))
    except OSError:
        return -1

def timed(what, call):
    start = time.monotonic()
    try:
        call()
        return "{} ok in {:.3f}s".format(what, time.monotonic() - start)
    except Exception as exc:  # the figure is the failure
        return "{} FAILED after {:.3f}s: {}".format(what, time.monotonic() - start, type(exc).__name__)

def raw_world():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/_sim/world")
    r = c.getresponse()
    assert r.status == 200, r.status
    r.read()
    c.close()

def sdk_describe():
    import boto3
    from botocore.config import Config
    dx = boto3.session.Session().client(
        "directconnect", endpoint_url="http://127.0.0.1:{}".format(port), region_name="us-east-1",
        aws_access_key_id="AKIDBENCH", aws_secret_access_key="bench-secret",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=10, read_timeout=10))
    dx.describe_virtual_interfaces()

before = sim_files()
idle, refused = [], 0
start = time.monotonic()
failing = 0
for i in range(conns):
    if failing >= 10 or time.monotonic() - start > 180:
        break  # the listen backlog is full and stays full, or the phase is over its time
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
        if i % 2:
            s.send(b"GET /_sim/wor")
        idle.append(s)
        failing = 0
    except OSError:
        refused += 1
        failing += 1
        s.close()
opened = time.monotonic() - start
time.sleep(1)
during = sim_files()
results = [timed("raw GET /_sim/world", raw_world), timed("boto3 DescribeVirtualInterfaces", sdk_describe)]
def is_closed(s):
    s.setblocking(False)
    try:
        return s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True

closed = sum(1 for s in idle if is_closed(s))
for s in idle:
    s.close()
print("== {}: {} idle connections opened in {:.1f}s ({} failed to connect{}) ==".format(
    label, len(idle), opened, refused, "; gave up" if len(idle) + refused < conns else ""))
print("  simulator open files: {} before, {} during the flood".format(before, during))
for line in results:
    print("  " + line)
print("  idle connections closed by the simulator: {} of {}".format(closed, len(idle)))
EOF
  sed 's/^/  stderr: /' "$WORK_DIR/$label.stderr" | head -5
  stop_sim
}

echo "CONNS=$CONNS SIM_NOFILE=$SIM_NOFILE SIM_ARGS=$SIM_ARGS"
run dxctl "$DXCTL"
if [[ -n "${BASELINE_DXCTL:-}" ]]; then
  run baseline "$BASELINE_DXCTL"
fi
