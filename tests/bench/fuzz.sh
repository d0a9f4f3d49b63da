#!/usr/bin/env bash
# Long fuzz run: every target in tests/fuzz for FUZZ_SECONDS (default 600) each, FUZZ_JOBS (default: the number of
# cores) at a time, in the `fuzz` profile (optimized, with overflow checks and debug assertions on). Prints executions
# per target and the panics found; exits non-zero if any target found a new panic or crashed.
#
#   tests/bench/fuzz.sh                      # all targets, 600 s each
#   FUZZ_SECONDS=60 tests/bench/fuzz.sh sim_rpcv2 saved_plan
#   FUZZ_SEED=123 ...                        # replay a run's input sequence (the seed is printed per target)
set -euo pipefail
cd "$(dirname "$0")/../.."

SECONDS_EACH=${FUZZ_SECONDS:-600}
JOBS=${FUZZ_JOBS:-$(nproc)}
ALL=(config_hcl var_file state_file saved_plan sim_json11 sim_rpcv2 sim_engine sim_world)
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=("${ALL[@]}")

OUT=$(mktemp -d "${TMPDIR:-/tmp}/dxctl-fuzz.XXXXXX")
echo "building the fuzz test binary (profile fuzz)..." >&2
BIN=$(cargo test --profile fuzz --locked --test fuzz --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "fuzz" and m.get("executable"):
        print(m["executable"])')
[ -x "$BIN" ] || { echo "could not build the fuzz test binary" >&2; exit 1; }

echo "fuzzing ${TARGETS[*]} for ${SECONDS_EACH}s each, ${JOBS} at a time; logs in $OUT" >&2
run_one() {
  local t=$1
  FUZZ_SECONDS=$SECONDS_EACH FUZZ_REPORT_DIR=$OUT/report "$BIN" --exact "$t" --nocapture --test-threads 1 \
    >"$OUT/$t.log" 2>&1
  echo $? >"$OUT/$t.rc"
}
started=$(date +%s)
for t in "${TARGETS[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  run_one "$t" &
done
wait

echo
echo "dxctl fuzz run: ${SECONDS_EACH}s per target, $JOBS in parallel, wall $(( $(date +%s) - started ))s"
failed=0
total=0
for t in "${TARGETS[@]}"; do
  rc=$(cat "$OUT/$t.rc" 2>/dev/null || echo "?")
  if [ -f "$OUT/report/$t.txt" ]; then
    line=$(cat "$OUT/report/$t.txt")
    echo "$line"
    n=$(echo "$line" | sed -n 's/.*executions *\([0-9]*\).*/\1/p')
    total=$(( total + ${n:-0} ))
  else
    echo "fuzz $t: no report (crashed? exit $rc); last lines of $OUT/$t.log:"
    tail -5 "$OUT/$t.log" | sed 's/^/  /'
  fi
  if [ "$rc" != 0 ]; then
    failed=$(( failed + 1 ))
    grep -E "PANIC|HANG|overflow" "$OUT/$t.log" | head -5 | sed 's/^/  /' || true
  fi
done
echo "total executions: $total"
echo "targets with new panics or crashes: $failed"
echo "panics found: $(cat "$OUT"/report/*.txt 2>/dev/null | sed -n 's/.*new-panics \([0-9]*\).*/\1/p' | awk '{s+=$1} END {print s+0}')"
[ "$failed" -eq 0 ]
