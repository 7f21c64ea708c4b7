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
set -uo pipefail
nva=$(readlink -f "${1:?usage: $0 ANYCAST_NVA SOURCE_ROOT}")
srcroot=$(readlink -f "${2:?usage: $0 ANYCAST_NVA SOURCE_ROOT}")
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: needs root for network namespaces"
  exit 77
fi
for tool in ip bird birdc curl ethtool; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool not installed (scripts/install-deps)"
    exit 77
  fi
done

run=${NVA_TEST_RUN_ID:-$$}
export LAB_NAME="nvat${run}"
export LAB_LINK_PREFIX="nv${run}"
export NVA_BIN=$nva
state=/run/nva-lab-$LAB_NAME
vip=198.19.0.10
lab() { timeout 120 "$srcroot/scripts/lab" "$@"; }
failures=0
tmp=$(mktemp -d /tmp/nva-lab-test.XXXXXX)

cleanup() {
  if [ "$failures" -ne 0 ] && [ -d "$state" ]; then
    echo "--- lab status at failure"
    timeout 60 "$srcroot/scripts/lab" status 2>&1 | tail -n 40
    for f in a-nva b-nva; do
      echo "--- $f.log (tail)"
      tail -n 25 "$state/$f.log" 2>/dev/null
    done
  fi
  timeout 60 "$srcroot/scripts/lab" down >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { echo "ok: $*"; }
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# A process that exists and is not a zombie (PID 1 may reap orphans late).
running() { [ -r "/proc/$1/stat" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }
birdc_() { timeout 3 birdc -s "$state/$1.ctl" "${@:2}" 2>/dev/null; }
rs_has_vip() { birdc_ "$1" show route "$vip/32" | grep -q "^$vip/32"; }
rs_since() { birdc_ "$1" show route "$vip/32" | sed -n "s/^$vip\/32 .*\[nva \([^]]*\) from.*/\1/p"; }
rs_removed() { grep -c "nva.ipv4 > removed" "$state/$1.log" 2>/dev/null; }
a_withdrawn() { ! rs_has_vip a-rs1 && ! rs_has_vip a-rs2; }
a_announced() { rs_has_vip a-rs1 && rs_has_vip a-rs2; }
two_nexthops() { [ "$(nexthops)" -eq 2 ]; }
nexthops() { ip -n "$LAB_NAME-onprem" route show "$vip" 2>/dev/null | grep -o 'via [0-9.]*' | sort -u | wc -l; }
only_via() { [ "$(ip -n "$LAB_NAME-onprem" route show "$vip" 2>/dev/null | grep -o 'via [0-9.]*' | sort -u)" = "via $1" ]; }
# wait_ms MAX_MS COMMAND...: polls every 20 ms; prints the elapsed ms; true once COMMAND is.
wait_ms() {
  local max=$1 t0
  shift
  t0=$(now_ms)
  while ! "$@"; do
    if [ $(($(now_ms) - t0)) -ge "$max" ]; then
      echo $(($(now_ms) - t0))
      return 1
    fi
    sleep 0.02
  done
  echo $(($(now_ms) - t0))
}
# answers N [PATH]: N requests through the VIP, one answer per line
answers() { lab client "$1" "${2:-/}" | grep -E '^ *[0-9]+ '; }

# --- up ----------------------------------------------------------------------------
t0=$(now_ms)
if ! lab up; then
  fail "scripts/lab up"
  exit 1
fi
echo "measure: lab-up-ms=$(($(now_ms) - t0))"
lab up >/dev/null 2>&1 && ok "scripts/lab up a second time is fine" || fail "second scripts/lab up"

# --- ECMP --------------------------------------------------------------------------
if ms=$(wait_ms 30000 two_nexthops); then
  ok "on-prem has two next hops for the VIP (${ms} ms)"
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
lab status --json >"$tmp/status.json" 2>&1 &&
  /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["up"] and d["routes"]["onprem-kernel"]' \
    "$tmp/status.json" && ok "status --json" || fail "status --json"

# --- primary/backup -----------------------------------------------------------------
lab set B prepend 3 || fail "scripts/lab set B prepend 3"
if ms=$(wait_ms 30000 only_via 198.51.100.1) && wait_ms 10000 rs_has_vip b-rs1 >/dev/null; then
  ok "region B prepended: on-prem routes the VIP only to region A (${ms} ms)"
else
  fail "on-prem does not prefer region A after region B prepended"
fi
birdc_ onprem show route "$vip/32" all | grep -q "BGP.as_path: 65515 65001 65001 65001 65001" &&
  ok "on-prem sees region B's prepended path as backup" || fail "no prepended path from region B at on-prem"
out=$(answers 10)
na=$(grep -c "region=A" <<<"$out")
[ "$na" -eq 10 ] && ok "primary/backup: 10 of 10 connections answered by region A" ||
  { fail "primary/backup: $na of 10 answered by region A"; echo "$out"; }

# --- health: backends down -> withdraw, up -> announce -----------------------------
{
  lab backend A 1 stop >/dev/null
  t0=$(now_ms)
  lab backend A 2 stop >/dev/null
  withdrawn=0
  if wait_ms 10000 a_withdrawn >/dev/null; then
    withdrawn=1
    ms=$(($(now_ms) - t0))
    echo "measure: backend-down-to-withdraw-ms=$ms"
    [ "$ms" -le 1900 ] && ok "backends down: VIP withdrawn at both Route Servers of A in $ms ms (<= 3 x 300 + 1000)" ||
      fail "backends down: withdrawn after $ms ms (limit 1900)"
  else
    fail "backends down: VIP still at region A's Route Servers after 10 s"
  fi
  wait_ms 10000 only_via 198.51.100.5 >/dev/null
  out=$(answers 6)
  nb=$(grep -c "region=B" <<<"$out")
  [ "$nb" -eq 6 ] && ok "clients get region B while A has no backend" ||
    { fail "$nb of 6 answered by region B"; echo "$out"; }
  lab backend A 1 start >/dev/null
  t0=$(now_ms)
  lab backend A 2 start >/dev/null
  if [ "$withdrawn" -eq 0 ]; then
    fail "backends up: not measured (the VIP was never withdrawn)"
  elif wait_ms 15000 a_announced >/dev/null; then
    ms=$(($(now_ms) - t0))
    echo "measure: backend-up-to-announce-ms=$ms"
    [ "$ms" -le 2600 ] && ok "backends up: VIP announced again in $ms ms (<= 2 x 300 + 1000 + 1000)" ||
      fail "backends up: announced after $ms ms (limit 2600)"
  else
    fail "backends up: VIP not announced again within 15 s"
  fi
  wait_ms 10000 only_via 198.51.100.1 >/dev/null
}

# --- SIGHUP: a third backend --------------------------------------------------------
lab backend A 3 start >/dev/null
# birdc can time out on a loaded machine: an empty answer is asked again.
retry_nonempty() {
  local v
  for _ in 1 2 3 4 5; do
    v=$("$@")
    [ -n "$v" ] && break
    sleep 0.5
  done
  echo "$v"
}
since1=$(retry_nonempty rs_since a-rs1)
since2=$(retry_nonempty rs_since a-rs2)
rem1=$(rs_removed a-rs1)
rem2=$(rs_removed a-rs2)
ip netns exec "$LAB_NAME-client" curl -sS --max-time 15 "http://$vip/slow?s=5" >"$tmp/long.out" 2>&1 &
long=$!
sleep 1
reload_out=$(lab set A backends 1,2,3 2>&1)
echo "$reload_out"
if grep -q "SIGHUP (reload" <<<"$reload_out"; then
  sleep 1
  out=$(answers 24)
  n3=$(grep -c "region=A instance=3" <<<"$out")
  na=$(grep -c "region=A" <<<"$out")
  echo "reload: 24 connections: region A $na, of them instance 3: $n3"
  [ "$n3" -gt 0 ] && [ "$na" -eq 24 ] && ok "reload: the third backend receives new flows" ||
    { fail "reload: the third backend got $n3 of 24 new flows ($na answered by A)"; echo "$out"; }
else
  fail "reload: scripts/lab did not send SIGHUP"
fi
if wait "$long" && grep -q "region=A" "$tmp/long.out"; then
  ok "reload: the long connection completed: $(cat "$tmp/long.out")"
else
  fail "reload: the long connection broke: $(cat "$tmp/long.out")"
fi
now1=$(retry_nonempty rs_since a-rs1)
now2=$(retry_nonempty rs_since a-rs2)
nrem1=$(rs_removed a-rs1)
nrem2=$(rs_removed a-rs2)
if [ -n "$since1" ] && [ "$since1" = "$now1" ] && [ "$since2" = "$now2" ] &&
  [ "$rem1" = "$nrem1" ] && [ "$rem2" = "$nrem2" ]; then
  ok "reload: no route flap at region A's Route Servers (route since $since1)"
else
  fail "reload: the route changed at region A's Route Servers (a-rs1 since '$since1' -> '$now1', withdraws $rem1 -> $nrem1; a-rs2 since '$since2' -> '$now2', withdraws $rem2 -> $nrem2)"
fi

# --- SIGTERM: drain -----------------------------------------------------------------
wait_ms 10000 a_announced >/dev/null
wait_ms 10000 only_via 198.51.100.1 >/dev/null
ip netns exec "$LAB_NAME-client" curl -sS --max-time 15 "http://$vip/slow?s=3" >"$tmp/drain.out" 2>&1 &
slow=$!
sleep 0.7
pid=$(cat "$state/a-nva.pid")
kill -TERM "$pid"
t0=$(now_ms)
withdrawn_ms=""
exited_ms=""
while [ $(($(now_ms) - t0)) -lt 20000 ]; do
  alive=1
  running "$pid" || alive=0
  if [ -z "$withdrawn_ms" ] && a_withdrawn; then
    withdrawn_ms=$(($(now_ms) - t0))
    # Still running after the withdrawal was seen (checked again, after it)?
    running "$pid" && withdrawn_alive=1 || withdrawn_alive=0
  fi
  if [ "$alive" -eq 0 ]; then
    exited_ms=$(($(now_ms) - t0))
    break
  fi
  sleep 0.02
done
[ -n "$withdrawn_ms" ] && echo "measure: sigterm-to-withdraw-ms=$withdrawn_ms"
[ -n "$exited_ms" ] && echo "measure: sigterm-to-exit-ms=$exited_ms"
if [ -n "$withdrawn_ms" ] && [ "${withdrawn_alive:-0}" -eq 1 ]; then
  ok "drain: VIP withdrawn at both of region A's Route Servers ($withdrawn_ms ms) before the process exited (${exited_ms:-?} ms)"
else
  fail "drain: VIP not seen withdrawn while the process still ran (withdrawn ${withdrawn_ms:-never} ms, exit ${exited_ms:-never} ms)"
fi
[ -n "$exited_ms" ] || fail "drain: anycast-nva still running 20 s after SIGTERM"
if wait "$slow" && grep -q "region=A" "$tmp/drain.out"; then
  ok "drain: the /slow request completed: $(cat "$tmp/drain.out")"
else
  fail "drain: the /slow request did not complete: $(cat "$tmp/drain.out")"
fi

# --- down ---------------------------------------------------------------------------
lab down >/dev/null
left=$(ip netns list | grep -c "^$LAB_NAME-")
[ "$left" -eq 0 ] && [ ! -d "$state" ] && ok "scripts/lab down removed namespaces and state" ||
  fail "scripts/lab down left $left namespaces"

echo "lab test: $failures failure(s)"
[ "$failures" -eq 0 ]
