#!/bin/bash
# The two-region anycast lab (scripts/lab) end to end, under a name of its own
# (namespaces nvat<run>-..., links nv<run>..., DPDK prefixes nvat<run>_...):
#
#   ecmp            both regions announce the VIP: client connections are
#                   answered by both regions
#   primary-backup  region B prepends its AS: every client gets region A
#   health          region A's backends stopped: the VIP leaves both of region
#                   A's Route Servers within fall x interval + 1 s, clients get
#                   region B; started again: back within rise x interval +
#                   hold-down + 1 s            (needs [health] in the daemon)
#   reload          SIGHUP with a third backend in region A: it gets new flows,
#                   a long connection is untouched, no flap at the Route
#                   Servers                    (needs SIGHUP reload)
#   drain           SIGTERM to region A's NVA while a /slow?s=3 request runs
#                   through it: the route is withdrawn at both Route Servers
#                   before the process exits, the request completes
#                   (needs [drain] in the daemon)
#
# Measured times are printed as "measure: NAME-ms=N".
# Usage: lab_test.sh ANYCAST_NVA SOURCE_ROOT   (root; exit 77 = skipped)
# shellcheck disable=SC2317,SC2015  # conditions called through wait_until; ok() is true
set -uo pipefail
nva=$(readlink -f "${1:?usage: $0 ANYCAST_NVA SOURCE_ROOT}")
srcroot=$(readlink -f "${2:?usage: $0 ANYCAST_NVA SOURCE_ROOT}")
# shellcheck source=scripts/lib/lab.sh
. "$srcroot/scripts/lib/lab.sh"
require_root
require_tools ip bird birdc curl ethtool

test_names
export LAB_NAME="$run_ns"
export LAB_LINK_PREFIX="$run_link"
export NVA_BIN=$nva
lab_init || exit 1
WAIT_EVERY=0.02 # between two looks at the routes: what the measured times resolve
lab() { timeout 120 "$srcroot/scripts/lab" "$@"; }
failures=0
make_work nva-lab-test
on_cleanup() {
  if [ "$failures" -ne 0 ] && [ -d "$STATE" ]; then
    echo "--- lab status at failure"
    timeout 60 "$srcroot/scripts/lab" status 2>&1 | tail -n 40
    for f in a-nva b-nva; do
      echo "--- $f.log (tail)"
      tail -n 25 "$STATE/$f.log" 2>/dev/null
    done
  fi
  timeout 60 "$srcroot/scripts/lab" down >/dev/null 2>&1
}

ok() { echo "ok: $*"; }
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
rs_since() {
  lab_birdc "$1" show route "$VIP/32" | sed -n "s/^$VIP\/32 .*\[nva \([^]]*\) from.*/\1/p"
}
rs_removed() { grep -c "nva.ipv4 > removed" "$STATE/$1.log" 2>/dev/null; }
# since_of NAME: rs_since, asked again while empty (birdc can time out on a
# loaded machine); in `since`.
since_known() { since=$(rs_since "$1") && [ -n "$since" ]; }
since_of() { WAIT_EVERY=0.5 wait_until 15 since_known "$1"; }
# a_routes: the VIP's route at region A's Route Servers, since when, and how
# many removals each logged; empty if a "since" is not known.
a_routes() {
  local rs line=
  for rs in a-rs1 a-rs2; do
    since_of "$rs" || return 1
    line+="$rs since $since, $(rs_removed "$rs") withdraws; "
  done
  echo "${line%; }"
}
# answers N [PATH]: N requests through the VIP, one answer per line
answers() { lab client "$1" "${2:-/}" | grep -E '^ *[0-9]+ '; }
# at_backend: a client's connection is established at one of region A's
# backends (from the SNAT address; the probes come from the NVA's own).
at_backend() {
  local i
  for i in 1 2 3; do
    lab_nsx "a-be$i" ss -Htn state established "( sport = :$BACKEND_PORT and dst $(addr a snat) )" \
      2>/dev/null | grep -q . && return 0
  done
  return 1
}
# backend_up REGION INSTANCE: the region's NVA probes it up (its telemetry).
backend_up() {
  nva_get "$(lab_prefix "$1")" /nva/backends 2>/dev/null | "$LAB_PY" -c '
import json, sys
rows = json.load(sys.stdin)
rows = rows.values() if isinstance(rows, dict) else rows
sys.exit(0 if any(r["address"] == sys.argv[1] and r["state"] == "up" for r in rows) else 1)
' "$(addr "$1" "be$2")"
}

# --- up ----------------------------------------------------------------------------
t0=$(now_ms)
if ! lab up; then
  fail "scripts/lab up"
  exit 1
fi
echo "measure: lab-up-ms=$(($(now_ms) - t0))"
lab up >/dev/null 2>&1 && ok "scripts/lab up a second time is fine" || fail "second scripts/lab up"

# --- ECMP --------------------------------------------------------------------------
if wait_until 30 onprem_ecmp; then
  ok "on-prem has two next hops for the VIP (${waited_ms} ms)"
else
  fail "on-prem does not have both regions for the VIP"
fi
out=$(answers 24)
na=$(grep -c "region=A" <<<"$out")
nb=$(grep -c "region=B" <<<"$out")
echo "ecmp: 24 connections: region A $na, region B $nb, errors $((24 - na - nb))"
if [ "$na" -gt 0 ] && [ "$nb" -gt 0 ] && [ $((na + nb)) -eq 24 ]; then
  ok "ECMP: connections answered by both regions"
else
  fail "ECMP: expected answers from both regions and no errors"
  echo "$out"
fi
lab status --json >"$work/status.json" 2>&1 &&
  /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["up"] and d["routes"]["onprem-kernel"]' \
    "$work/status.json" && ok "status --json" || fail "status --json"

# Each region's NVA serves /metrics in its namespace; the VIP is advertised
# and region A's worker has carried the connections above.
lab metrics A >"$work/metrics-a" 2>&1
if grep -q "^anycast_nva_vip_advertised{vip=\"$VIP\"} 1$" "$work/metrics-a" &&
  awk '$1 ~ /^anycast_nva_packets_total\{worker="0",direction="rx"\}$/ && $2 > 0 {f=1} END {exit !f}' \
    "$work/metrics-a"; then
  ok "scripts/lab metrics A: the VIP advertised, packets received"
else
  fail "scripts/lab metrics A"
  head -20 "$work/metrics-a"
fi
lab metrics B | grep -q '^anycast_nva_bgp_session_up{' && ok "scripts/lab metrics B: BGP sessions" ||
  fail "scripts/lab metrics B"

# --- primary/backup -----------------------------------------------------------------
lab set B prepend 3 || fail "scripts/lab set B prepend 3"
if wait_until 30 onprem_only_via "$(up_gw a)" && ms=$waited_ms && wait_until 10 rs_has_vip b-rs1; then
  ok "region B prepended: on-prem routes the VIP only to region A (${ms} ms)"
else
  fail "on-prem does not prefer region A after region B prepended"
fi
lab_birdc onprem show route "$VIP/32" all | grep -q "BGP.as_path: 65515 65001 65001 65001 65001" &&
  ok "on-prem sees region B's prepended path as backup" || fail "no prepended path from region B at on-prem"
out=$(answers 10)
na=$(grep -c "region=A" <<<"$out")
[ "$na" -eq 10 ] && ok "primary/backup: 10 of 10 connections answered by region A" ||
  { fail "primary/backup: $na of 10 answered by region A"; echo "$out"; }

# --- health: backends down -> withdraw, up -> announce -----------------------------
# a_backends stop|start MEASURE LIMIT_MS WHY SECONDS WHAT CONDITION...: region
# A's backends 1 and 2 stopped or started, the clock from the second; then
# CONDITION within SECONDS (1 if not), timed: "measure: MEASURE-ms=N", and
# within LIMIT_MS (WHY that limit)?
a_backends() {
  local act=$1 name=$2 limit=$3 why=$4 secs=$5 what=$6 t0 ms
  shift 6
  lab backend A 1 "$act" >/dev/null
  t0=$(now_ms)
  lab backend A 2 "$act" >/dev/null
  if ! wait_until "$secs" "$@"; then
    fail "backends $act: $what: not within $secs s"
    return 1
  fi
  ms=$(($(now_ms) - t0))
  echo "measure: $name-ms=$ms"
  if [ "$ms" -le "$limit" ]; then
    ok "backends $act: $what in $ms ms (<= $why)"
  else
    fail "backends $act: $what after $ms ms (limit $limit)"
  fi
}
withdrawn=0
a_backends stop backend-down-to-withdraw 1900 "3 x 300 + 1000" 10 \
  "VIP withdrawn at both Route Servers of A" region_withdrawn a && withdrawn=1
wait_until 10 onprem_only_via "$(up_gw b)"
out=$(answers 6)
nb=$(grep -c "region=B" <<<"$out")
[ "$nb" -eq 6 ] && ok "clients get region B while A has no backend" ||
  { fail "$nb of 6 answered by region B"; echo "$out"; }
if [ "$withdrawn" -eq 1 ]; then
  a_backends start backend-up-to-announce 2600 "2 x 300 + 1000 + 1000" 15 \
    "VIP announced again at both Route Servers of A" region_announced a
else
  lab backend A 1 start >/dev/null
  lab backend A 2 start >/dev/null
  fail "backends start: not measured (the VIP was never withdrawn)"
fi
wait_until 10 onprem_only_via "$(up_gw a)"

# --- SIGHUP: a third backend --------------------------------------------------------
lab backend A 3 start >/dev/null
routes0=$(a_routes)
lab_nsx client curl -sS --max-time 15 "http://$VIP/slow?s=5" >"$work/long.out" 2>&1 &
long=$!
wait_until 5 at_backend || echo "note: the long connection is not seen at a backend"
reload_out=$(lab set A backends 1,2,3 2>&1)
echo "$reload_out"
if grep -q "SIGHUP (reload" <<<"$reload_out"; then
  WAIT_EVERY=0.2 wait_until 10 backend_up a 3 || echo "note: region A's NVA does not probe backend 3 up"
  out=$(answers 24)
  n3=$(grep -c "region=A instance=3" <<<"$out")
  na=$(grep -c "region=A" <<<"$out")
  echo "reload: 24 connections: region A $na, of them instance 3: $n3"
  [ "$n3" -gt 0 ] && [ "$na" -eq 24 ] && ok "reload: the third backend receives new flows" ||
    { fail "reload: the third backend got $n3 of 24 new flows ($na answered by A)"; echo "$out"; }
else
  fail "reload: scripts/lab did not send SIGHUP"
fi
if wait "$long" && grep -q "region=A" "$work/long.out"; then
  ok "reload: the long connection completed: $(cat "$work/long.out")"
else
  fail "reload: the long connection broke: $(cat "$work/long.out")"
fi
routes1=$(a_routes)
if [ -n "$routes0" ] && [ "$routes0" = "$routes1" ]; then
  ok "reload: no route flap at region A's Route Servers ($routes0)"
else
  fail "reload: the route changed at region A's Route Servers (before: '$routes0', after: '$routes1')"
fi

# --- SIGTERM: drain -----------------------------------------------------------------
wait_until 10 region_announced a
wait_until 10 onprem_only_via "$(up_gw a)"
lab_nsx client curl -sS --max-time 15 "http://$VIP/slow?s=3" >"$work/drain.out" 2>&1 &
slow=$!
wait_until 5 at_backend || echo "note: the /slow request is not seen at a backend"
pid=$(cat "$STATE/a-nva.pid")
kill -TERM "$pid"
t0=$(now_ms)
withdrawn_ms=""
withdrawn_alive=0
exited_ms=""
# drain_watch: notes when region A's Route Servers are first seen without the
# VIP, and whether the process still ran after that; true once it exited.
drain_watch() {
  if [ -z "$withdrawn_ms" ] && region_withdrawn a; then
    withdrawn_ms=$(($(now_ms) - t0))
    running "$pid" && withdrawn_alive=1
  fi
  not running "$pid"
}
wait_until 20 drain_watch && exited_ms=$(($(now_ms) - t0))
[ -n "$withdrawn_ms" ] && echo "measure: sigterm-to-withdraw-ms=$withdrawn_ms"
[ -n "$exited_ms" ] && echo "measure: sigterm-to-exit-ms=$exited_ms"
if [ -n "$withdrawn_ms" ] && [ "$withdrawn_alive" -eq 1 ]; then
  ok "drain: VIP withdrawn at both of region A's Route Servers ($withdrawn_ms ms) before the process exited (${exited_ms:-?} ms)"
else
  fail "drain: VIP not seen withdrawn while the process still ran (withdrawn ${withdrawn_ms:-never} ms, exit ${exited_ms:-never} ms)"
fi
[ -n "$exited_ms" ] || fail "drain: anycast-nva still running 20 s after SIGTERM"
if wait "$slow" && grep -q "region=A" "$work/drain.out"; then
  ok "drain: the /slow request completed: $(cat "$work/drain.out")"
else
  fail "drain: the /slow request did not complete: $(cat "$work/drain.out")"
fi

# --- down ---------------------------------------------------------------------------
lab down >/dev/null
left=$(ip netns list | grep -c "^$LAB_NAME-")
if [ "$left" -eq 0 ] && [ ! -d "$STATE" ]; then
  ok "scripts/lab down removed namespaces and state"
else
  fail "scripts/lab down left $left namespaces"
fi

echo "lab test: $failures failure(s)"
[ "$failures" -eq 0 ]
