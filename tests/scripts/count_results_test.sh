#!/bin/bash
# Tests scripts/count-results on made-up meson logs: gtest cases count one by
# one, a process that fails after its cases passed (a sanitizer report at
# exit) or dies without XML counts as a failure, skips are reported (and
# counted as failures with --skips-fail).
set -uo pipefail
counter="$1/scripts/count-results"
tmp=$(mktemp -d /tmp/nva-count-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failures=0

make_build() {  # DIR RESULT_OF_GTEST XML(yes/no) RESULT_OF_PLAIN
  mkdir -p "$1/meson-logs"
  cat >"$1/meson-logs/testlog.json" <<JSON
{"name": "p:unit / unit-tests", "result": "$2", "returncode": 1}
{"name": "p:format / clang-format", "result": "$4", "returncode": 0}
JSON
  if [ "$3" = yes ]; then
    cat >"$1/unit-tests.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="3">
  <testsuite name="A" tests="3">
    <testcase name="one" status="run" result="completed" classname="A"/>
    <testcase name="two" status="run" result="completed" classname="A"/>
    <testcase name="three" status="run" result="skipped" classname="A"><skipped message="no root"/></testcase>
  </testsuite>
</testsuites>
XML
  fi
}

expect() {  # NAME WANT_LINE WANT_RC BUILD...
  local name=$1 want=$2 want_rc=$3
  shift 3
  local out rc
  out=$(python3 "$counter" "$@" 2>/dev/null)
  rc=$?
  out=$(tail -n 1 <<<"$out")
  if [ "$out" = "$want" ] && [ "$rc" = "$want_rc" ]; then
    echo "ok: $name"
  else
    echo "FAIL: $name: got '$out' (exit $rc), want '$want' (exit $want_rc)"
    failures=$((failures + 1))
  fi
}

make_build "$tmp/all-ok" OK yes OK
expect "cases counted one by one" "3 passed, 0 failed, 1 skipped" 0 "$tmp/all-ok"

make_build "$tmp/leak-at-exit" FAIL yes OK
expect "process failure after passing cases" "3 passed, 1 failed, 1 skipped" 1 "$tmp/leak-at-exit"

make_build "$tmp/crash" FAIL no OK
expect "crash without XML" "1 passed, 1 failed" 1 "$tmp/crash"

make_build "$tmp/timeout" TIMEOUT no FAIL
expect "timeout and plain failure" "0 passed, 2 failed" 1 "$tmp/timeout"

expect "two builds add up" "6 passed, 1 failed, 2 skipped" 1 "$tmp/all-ok" "$tmp/leak-at-exit"

expect "--skips-fail counts a skip as a failure" "3 passed, 1 failed" 1 --skips-fail "$tmp/all-ok"

cat >"$tmp/all-ok/meson-logs/testlog.json" <<JSON
{"name": "p:unit / unit-tests", "result": "OK", "returncode": 0}
{"name": "p:netns / lab", "result": "SKIP", "returncode": 77}
JSON
expect "a skipped script counts as skipped" "2 passed, 0 failed, 2 skipped" 0 "$tmp/all-ok"
expect "--skips-fail: a skipped script fails" "2 passed, 2 failed" 1 --skips-fail "$tmp/all-ok"

mkdir -p "$tmp/empty"
expect "missing log is a failure" "0 passed, 1 failed" 1 "$tmp/empty"

[ "$failures" -eq 0 ]
