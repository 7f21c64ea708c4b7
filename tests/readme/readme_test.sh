#!/bin/bash
# The README's two set-up commands as a new user meets them.
#
# The README must show exactly two commands in its "Run the lab" and "Run the
# tests" blocks; CI (.ci/run) must run the second. The first is run here as
# the README writes it, in a fresh clone of the repository at HEAD (no build/,
# nothing cached, so it configures and compiles build/lab itself), under a lab
# name of its own. It must exit 0 and its output must prove each step of the
# demo: ECMP on-prem with answers from both regions, primary/backup by
# prepend, region A withdrawn within 5 s of its backends stopping with
# answers from region B only, and region A back. `scripts/lab down` follows,
# even on failure.
#
# Uncommitted changes are not in the clone: this tests what a clone gets.
# Usage: readme_test.sh SOURCE_ROOT   (root; exit 77 = skipped)
set -uo pipefail
src=$(readlink -f "${1:?usage: $0 SOURCE_ROOT}")
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: needs root (the lab makes network namespaces)"
  exit 77
fi
command -v git >/dev/null || { echo "FAIL: git not installed (scripts/install-deps)"; exit 1; }
git -C "$src" rev-parse --verify -q HEAD >/dev/null ||
  { echo "FAIL: $src is not a git checkout with a commit: nothing to clone"; exit 1; }

run=${NVA_TEST_RUN_ID:-$$}
tmp=$(mktemp -d /tmp/nva-readme.XXXXXX)
clone="$tmp/anycast-nva"
out="$tmp/demo.out"
# A lab name of its own (namespaces nvat<run>r-..., links nv<run>r...), so a
# lab the user has up is not touched; the command itself is the README's.
export LAB_NAME="nvat${run}r"
export LAB_LINK_PREFIX="nv${run}r"
unset NVA_BIN
failures=0
ok() { echo "ok: $*"; }
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
cleanup() {
  [ -x "$clone/scripts/lab" ] && timeout 120 "$clone/scripts/lab" down >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# --- the README's commands ------------------------------------------------------
# block HEADING: the lines of the first ```sh block after the heading.
block() {
  awk -v h="$1" '
    index($0, h) == 1 { inside = 1; next }
    inside && /^```sh$/ { code = 1; next }
    code && /^```$/ { exit }
    code { print }' "$src/README.md"
}
lab_cmd=$(block "## Run the lab")
test_cmd=$(block "## Run the tests")
[ "$(printf '%s\n' "$lab_cmd" | grep -c .)" -eq 1 ] && ok "README: one lab command: $lab_cmd" ||
  fail "README's 'Run the lab' block must hold one command, holds: '$lab_cmd'"
[ "$(printf '%s\n' "$test_cmd" | grep -c .)" -eq 1 ] && ok "README: one test command: $test_cmd" ||
  fail "README's 'Run the tests' block must hold one command, holds: '$test_cmd'"
if grep -q "^exec bash $test_cmd\$\|^bash $test_cmd\$\|^exec $test_cmd\$" "$src/.ci/run"; then
  ok ".ci/run runs the README's test command ($test_cmd)"
else
  fail ".ci/run does not run '$test_cmd'"
fi
[ "$failures" -eq 0 ] || exit 1

# --- a fresh clone ------------------------------------------------------------------
git clone -q "$src" "$clone" || { echo "FAIL: git clone"; exit 1; }
[ ! -e "$clone/build" ] || { echo "FAIL: the clone has a build/"; exit 1; }
echo "clone of $(git -C "$clone" rev-parse --short HEAD) in $clone; running: $lab_cmd"

t0=$SECONDS
(cd "$clone" && timeout 1500 bash -c "$lab_cmd") >"$out" 2>&1
rc=$?
echo "--- '$lab_cmd' exited $rc after $((SECONDS - t0)) s; its output:"
sed 's/\x1b\[[0-9;]*m//g' "$out" | tee "$out.plain"
echo "---"
[ "$rc" -eq 0 ] && ok "'$lab_cmd' exits 0" || fail "'$lab_cmd' exited $rc"

# --- the lines that prove each step -----------------------------------------------------
# section N: the demo's output from "== (N)" to the next "== (" heading.
section() { awk -v n="== ($1)" 'index($0, n) == 1 { on = 1; print; next } on && /^== \(/ { exit } on' "$out.plain"; }
answered() { section "$1" | sed -n 's/^answered://p'; }
# expect_answers STEP REGIONS WHAT: the step's client answers came from
# exactly REGIONS (A, B or AB), none was an error.
expect_answers() {
  local a r ok_=1
  a=$(answered "$1")
  grep -q "\[error\]" <<<"$a" && ok_=0
  for r in A B; do
    if [[ "$2" == *"$r"* ]]; then
      grep -q "region=$r" <<<"$a" || ok_=0
    else
      grep -q "region=$r" <<<"$a" && ok_=0
    fi
  done
  if [ "$ok_" -eq 1 ] && [ -n "$a" ]; then
    ok "($1) $3:$a"
  else
    fail "($1) answers:$a (want region(s) $2 only, no error)"
  fi
}

s1=$(section 1)
if grep -q "nexthop via 198.51.100.1 " <<<"$s1" && grep -q "nexthop via 198.51.100.5 " <<<"$s1"; then
  ok "(1) on-prem has ECMP next hops to both regions"
else
  fail "(1) on-prem route is not ECMP across both regions"
fi
expect_answers 1 AB "both regions answered"
expect_answers 2 A "with region B prepended, region A alone answered"

s3=$(section 3)
ms=$(sed -n 's/.*withdrew the VIP at both Route Servers \([0-9]*\) ms after.*/\1/p' <<<"$s3")
if [ -n "$ms" ] && [ "$ms" -le 5000 ]; then
  ok "(3) region A withdrawn at both Route Servers in $ms ms"
else
  fail "(3) no withdrawal line within 5 s"
fi
expect_answers 3 B "region B alone answered"

s4=$(section 4)
if grep -q "region A announces the VIP again" <<<"$s4"; then
  ok "(4) $(grep -o "region A announces the VIP again.*" <<<"$s4")"
else
  fail "(4) region A did not announce the VIP again"
fi
expect_answers 4 AB "both regions answered again"

# The lab stays up after the demo: `scripts/lab status --json` reads each
# NVA's own telemetry (running, data plane healthy, the VIP announced).
status_json=$(cd "$clone" && timeout 120 scripts/lab status --json --requests 0 2>/dev/null)
if /usr/bin/python3 -c '
import json, sys
st = json.loads(sys.argv[1])
for r in ("a-nva", "b-nva"):
    n = st["nva"][r]
    assert n and n["state"] == "running" and n["dataplane_healthy"], (r, n)
    assert [v["decision"] for v in n["vips"]] == ["announce"], (r, n["vips"])
' "$status_json"; then
  ok "scripts/lab status: both NVAs running, data plane healthy, VIP announced"
else
  fail "scripts/lab status --json: $(head -c 600 <<<"$status_json")"
fi

if (cd "$clone" && timeout 120 scripts/lab down) >/dev/null 2>&1 &&
  ! ip netns list | grep -q "^$LAB_NAME-"; then
  ok "scripts/lab down removed the lab"
else
  fail "scripts/lab down left namespaces behind"
fi

echo "readme: $failures failure(s)"
[ "$failures" -eq 0 ]
