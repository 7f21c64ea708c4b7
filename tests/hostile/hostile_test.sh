#!/bin/bash
# The hostile-traffic suite: every scenario of hostile_cases.py (a flood of
# one attack mixed with honest traffic) through the real worker code by
# `anycast-nva --replay`; each must let every honest packet through, account
# for every packet, show its drops by name and leave no buffer out of the
# pool (mbufs_in_use 0, as the "honest" baseline without a flood).
# Usage: hostile_test.sh ANYCAST_NVA SOURCE_ROOT
set -uo pipefail
nva="$1"
src="$2/tests/hostile"
# shellcheck source=scripts/lib/lab.sh
. "$2/scripts/lib/lab.sh"
make_work nva-hostile
failures=0
for name in $(PYTHONPATH="$src" "$LAB_PY" "$src/hostile_cases.py" list); do
  PYTHONPATH="$src" "$LAB_PY" "$src/hostile_cases.py" gen "$name" "$work/$name.in.pcap" ||
    { echo "FAIL: $name: generating the capture"; failures=$((failures + 1)); continue; }
  # hostile.ini with the scenario's syn_proxy setting.
  mode=$(PYTHONPATH="$src" "$LAB_PY" "$src/hostile_cases.py" syn-proxy "$name")
  sed "s/^syn_proxy = off\$/syn_proxy = $mode/" "$src/hostile.ini" >"$work/$name.ini"
  if ! timeout 120 "$nva" --config "$work/$name.ini" --replay "$work/$name.in.pcap" \
    --replay-out "$work/$name.out.pcap" --json >"$work/$name.json" 2>"$work/$name.err"; then
    echo "FAIL: $name: anycast-nva --replay exited $?"
    cat "$work/$name.err" "$work/$name.json"
    failures=$((failures + 1))
    continue
  fi
  PYTHONPATH="$src" "$LAB_PY" "$src/hostile_cases.py" check "$name" "$work/$name.out.pcap" \
    "$work/$name.json" || failures=$((failures + 1))
done
echo "hostile: $failures scenario(s) failed"
[ "$failures" -eq 0 ]
