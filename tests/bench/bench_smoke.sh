#!/bin/bash
# Every benchmark of nva-bench once at small sizes (NVA_BENCH_SMOKE): each
# must run, and none may report an error. Google Benchmark exits 0 when a
# benchmark calls SkipWithError ("ERROR OCCURRED"), so that is checked here.
# Usage: bench_smoke.sh NVA_BENCH
set -uo pipefail
out=$(mktemp /tmp/nva-bench-smoke.XXXXXX)
trap 'rm -f "$out"' EXIT
NVA_BENCH_SMOKE=1 "$1" --benchmark_min_time=0.001 --benchmark_format=console >"$out" 2>&1
rc=$?
cat "$out"
if [ "$rc" -ne 0 ]; then
  echo "FAIL: nva-bench exited $rc"
  exit 1
fi
if grep -q "ERROR OCCURRED" "$out"; then
  echo "FAIL: benchmarks reported errors:"
  grep "ERROR OCCURRED" "$out"
  exit 1
fi
echo "bench smoke: $(grep -c '^BM_' "$out") benchmarks ran"
