#!/bin/bash
# BGP interop: nva-bgp against two real BIRD 2 instances playing the two Azure
# Route Server instances (AS 65515, eBGP multihop, 2-octet ASN only, route
# refresh, strict RFC 8212 import policy that accepts only our prefix), each
# in a network namespace of its own.
#
#   Usage: tests/lab/bgp_interop.sh NVA_BGP_BINARY SOURCE_ROOT   (root; exit 77 = skipped)
#
# Checks: both sessions reach Established; the prefix is in both BIRDs with
# the expected AS path (prepends), MED, communities and large community;
# BIRD's ROUTE-REFRESH (birdc reload in) is answered; a withdrawal leaves
# both BIRDs within a second and a re-announcement comes back; BIRD killed
# and restarted re-establishes; BIRD restarted with a lower hold time is
# honoured (and kept alive); BIRD offering more prefixes than nva-bgp's
# inbound limit gets Cease / Maximum Number of Prefixes Reached; SIGTERM sends Cease with the shutdown
# communication and nva-bgp exits 0. Everything it makes (namespaces, veths,
# BIRD processes, files) is removed on exit, also on failure.
# shellcheck disable=SC2317  # the conditions are called through wait_until
set -uo pipefail

nva_bgp=${1:?usage: $0 NVA_BGP_BINARY SOURCE_ROOT}
# shellcheck source=scripts/lib/lab.sh
. "${2:?usage: $0 NVA_BGP_BINARY SOURCE_ROOT}/scripts/lib/lab.sh"
require_root
require_tools ip bird birdc
test_names
ns_nva="$run_ns-bgp-nva"
ns_rs=("$run_ns-bgp-rs1" "$run_ns-bgp-rs2")
rs_addr=(198.18.10.1 198.18.10.2)
nva_addr=198.18.0.1
anycast=198.18.200.0/24
nva_pid=
bird_pid=("" "")
failures=0
make_work nva-bgp-interop
on_cleanup() {
  exec 3>&- 2>/dev/null
  if [ "$failures" -ne 0 ]; then
    echo "--- nva-bgp output ---"
    tail -n 60 "$work/nva.log" 2>/dev/null
    for i in 0 1; do
      echo "--- BIRD rs$((i + 1)) log ---"
      cat "$work/rs$i/bird.out" 2>/dev/null
      tail -n 30 "$work/rs$i/bird.log" 2>/dev/null
    done
  fi
}

ok() { echo "ok: $*"; }
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

rs_ctl() { echo "$work/rs$1/bird.ctl"; }
birdc_rs() { bird_cmd "$(rs_ctl "$1")" "${@:2}"; }
rs_established() { bird_established "$(rs_ctl "$1")" nva; }
rs_has_route() { bird_has_route "$(rs_ctl "$1")" "$anycast"; }
# nva_events PATTERN: the number of JSON lines of nva-bgp matching it (keys
# come sorted: "event" before "peer").
nva_events() { grep -c -- "$1" "$work/nva.log" 2>/dev/null || true; }
nva_event_count_above() { [ "$(nva_events "$1")" -gt "$2" ]; }

# --- namespaces: NVA in the middle, one Route Server instance on each side ----
netns_new "$ns_nva" "${ns_rs[@]}" || { fail "ip netns add"; exit 1; }
ip -n "$ns_nva" addr add "$nva_addr/32" dev lo
for i in 0 1; do
  ns=${ns_rs[$i]}
  n=$((i + 1))
  ip -n "$ns" addr add "${rs_addr[$i]}/32" dev lo
  veth "$ns_nva" "rs$n" "198.18.$n.1/30" "$ns" nva "198.18.$n.2/30" || { fail "veth"; exit 1; }
  # Loopback to loopback: the sessions are multihop, as with Route Server.
  ip -n "$ns_nva" route add "${rs_addr[$i]}/32" via "198.18.$n.2"
  ip -n "$ns" route add "$nva_addr/32" via "198.18.$n.1"
done

# start_bird I HOLD [ROUTES]: BIRD as Route Server instance I with hold time
# HOLD, offering the NVA ROUTES static prefixes (default none).
start_bird() {
  local i=$1 hold=$2 n=$(($1 + 1)) routes=${3:-0}
  local offered="" export="none"
  if [ "$routes" -gt 0 ]; then
    offered="protocol static offered { ipv4;"
    for k in $(seq 1 "$routes"); do offered+=" route 10.99.$k.0/24 blackhole;"; done
    offered+=" }"
    export='where proto = "offered"'
  fi
  mkdir -p "$work/rs$i"
  {
    bird_head "${rs_addr[$i]}" "$work/rs$i/bird.log"
    cat <<EOF
# The route to the NVA: BIRD resolves the multihop next hop through it.
protocol static route_to_nva { ipv4; route $nva_addr/32 via 198.18.$n.1; }
$offered
EOF
    rs_import_filter from_nva 65001 "$anycast"
    rs_session "${rs_addr[$i]}" "$nva_addr" 65001 "import filter from_nva; export $export;" \
      "hold time $hold" "keepalive time $((hold / 3))" "enable route refresh on" \
      "error wait time 1, 4"
  } >"$work/rs$i/bird.conf"
  : >"$work/rs$i/bird.log"
  : >"$work/rs$i/bird.out"
  bird_start "${ns_rs[$i]}" "$work/rs$i/bird.conf" "$(rs_ctl "$i")" "$work/rs$i/bird.out" ||
    fail "BIRD rs$n did not start"
  bird_pid[i]=$spawned_pid
}

stop_bird() {
  local i=$1 sig=$2
  stop_pid "${bird_pid[$i]}" "$sig" 10
  bird_pid[i]=
}

start_bird 0 180
start_bird 1 180

# --- nva-bgp in the NVA namespace, commands through a FIFO --------------------
mkfifo "$work/ctl"
ip netns exec "$ns_nva" "$nva_bgp" --local-as 65001 --router-id "$nva_addr" \
  --source "$nva_addr" --peer "${rs_addr[0]}:65515" --peer "${rs_addr[1]}:65515" \
  --announce "$anycast" --prepend 2 --med 50 --community 65001:100 \
  --community graceful-shutdown --large-community 65001:1:2 \
  --idle-hold-time-ms 500 --advertisement-interval-ms 200 --connect-retry-time 5 \
  --max-prefixes-in 3 \
  <"$work/ctl" >"$work/nva.log" 2>"$work/nva.err" &
nva_pid=$!
cleanup_pids+=("$nva_pid")
exec 3>"$work/ctl"
nva_command() { echo "$*" >&3; }

# 1. Both sessions reach Established.
for i in 0 1; do
  if wait_until 20 rs_established "$i"; then
    ok "rs$((i + 1)): session Established"
  else
    fail "rs$((i + 1)): session not Established"
  fi
done
wait_until 5 nva_event_count_above '"event":"established"' 1 ||
  fail "nva-bgp did not report both sessions established"

# 2. The prefix with its attributes in both.
check_attributes() {
  local i=$1 out
  out=$(birdc_rs "$i" show route "$anycast" all)
  local missing=()
  grep -q "BGP.as_path: 65001 65001 65001\$" <<<"$out" || missing+=("AS path 65001 x3")
  grep -q "BGP.med: 50" <<<"$out" || missing+=("MED 50")
  grep -q "(65001,100)" <<<"$out" || missing+=("community 65001:100")
  grep -q "(65535,0)" <<<"$out" || missing+=("GRACEFUL_SHUTDOWN")
  grep -q "(65001, 1, 2)" <<<"$out" || missing+=("large community 65001:1:2")
  grep -q "BGP.next_hop: $nva_addr" <<<"$out" || missing+=("next hop $nva_addr")
  if [ "${#missing[@]}" -eq 0 ]; then
    ok "rs$((i + 1)): $anycast with AS path, MED, communities, next hop"
  else
    fail "rs$((i + 1)): missing ${missing[*]}; BIRD has: $out"
  fi
}
for i in 0 1; do
  wait_until 5 rs_has_route "$i" || fail "rs$((i + 1)): $anycast not received"
  check_attributes "$i"
done

# 3. ROUTE-REFRESH from BIRD ("reload in" asks the peer to re-send) is answered.
before=$(nva_events '"event":"route-refresh","peer":"198.18.10.1"')
birdc_rs 0 reload in nva >/dev/null
if wait_until 5 nva_event_count_above '"event":"route-refresh","peer":"198.18.10.1"' "$before" &&
  grep '"event":"route-refresh","peer":"198.18.10.1"' "$work/nva.log" | tail -n 1 |
  grep -q '"routes":1'; then
  ok "rs1: ROUTE-REFRESH answered with the Adj-RIB-Out"
else
  fail "rs1: ROUTE-REFRESH not answered"
fi
if ! { wait_until 5 rs_has_route 0 && rs_established 0; }; then
  fail "rs1: route or session lost after ROUTE-REFRESH"
fi

# 4. A withdrawal leaves both within a second; a re-announcement comes back.
nva_command withdraw "$anycast"
if wait_until 1 not rs_has_route 0 && wait_until 1 not rs_has_route 1; then
  ok "withdrawal reached both within a second"
else
  fail "withdrawal did not reach both within a second"
fi
nva_command announce "$anycast"
if wait_until 5 rs_has_route 0 && wait_until 5 rs_has_route 1; then
  ok "re-announcement reached both"
else
  fail "re-announcement did not reach both"
fi

# 5. BIRD killed and restarted: the session comes back with the route.
before=$(nva_events '"event":"established".*"peer":"198.18.10.1"')
stop_bird 0 9
start_bird 0 180
if wait_until 30 rs_established 0 && wait_until 5 rs_has_route 0 &&
  wait_until 5 nva_event_count_above '"event":"established".*"peer":"198.18.10.1"' "$before"; then
  ok "rs1: killed and restarted, Established again with the route"
else
  fail "rs1: not re-established after a restart"
fi

# 6. BIRD restarted with hold time 9: the negotiated hold time is 9 s,
#    keepalives every 3 s keep the session up past the hold time.
before=$(nva_events '"event":"established".*"peer":"198.18.10.2"')
stop_bird 1 TERM
start_bird 1 9
if wait_until 30 rs_established 1 &&
  wait_until 5 nva_event_count_above '"event":"established".*"peer":"198.18.10.2"' "$before" &&
  grep '"event":"established".*"peer":"198.18.10.2"' "$work/nva.log" | tail -n 1 |
  grep -q '"hold_time":9,'; then
  ok "rs2: lower hold time negotiated (9 s)"
else
  fail "rs2: hold time 9 not negotiated"
fi
flaps=$(nva_events '"event":"established".*"peer":"198.18.10.2"')
# 12 s without another "established" (a drop and reconnect), then still up.
if WAIT_EVERY=0.2 holds_for 12 not nva_event_count_above \
  '"event":"established".*"peer":"198.18.10.2"' "$flaps" && rs_established 1; then
  ok "rs2: session stays up beyond the 9 s hold time"
else
  fail "rs2: session dropped with hold time 9"
fi
wait_until 5 rs_has_route 1 || fail "rs2: route missing after the restart"

# 6b. The inbound limit (issue 12, finding 9): rs2 offers 4 prefixes, nva-bgp
#     takes 3 (--max-prefixes-in 3): Cease / Maximum Number of Prefixes
#     Reached (RFC 4486), which BIRD decodes; then rs2 as before.
stop_bird 1 TERM
start_bird 1 9 4
if wait_until 20 grep -q "Received: Maximum number of prefixes reached" "$work/rs1/bird.log" &&
  wait_until 5 grep -q '"event":"prefix-limit".*"peer":"198.18.10.2"' "$work/nva.log"; then
  ok "rs2: 4 prefixes past nva-bgp's limit of 3: Cease / Maximum Number of Prefixes Reached"
else
  fail "rs2: no Cease / Maximum Number of Prefixes Reached past the inbound limit"
fi
stop_bird 1 TERM
start_bird 1 9
wait_until 30 rs_established 1 || fail "rs2: not re-established after the limit check"

# 7. SIGTERM: Cease / Administrative Shutdown with the communication; exit 0.
kill -TERM "$nva_pid"
if ! WAIT_EVERY=0.1 wait_until 10 not running "$nva_pid"; then
  fail "nva-bgp still running 10 s after SIGTERM"
else
  wait "$nva_pid"
  rc=$?
  nva_pid=
  if [ "$rc" -eq 0 ]; then ok "nva-bgp exited 0 after SIGTERM"; else fail "nva-bgp exited $rc"; fi
fi
for i in 0 1; do
  if wait_until 5 grep -q 'Received: Administrative shutdown: "nva-bgp stopping"' \
    "$work/rs$i/bird.log"; then
    ok "rs$((i + 1)): received Cease with the shutdown communication"
  else
    fail "rs$((i + 1)): no Administrative Shutdown received"
  fi
done
if grep -q ERROR "$work/nva.err" 2>/dev/null; then
  fail "nva-bgp stderr: $(head -n 20 "$work/nva.err")"
fi

if [ "$failures" -eq 0 ]; then
  echo "bgp-interop: all checks passed"
  exit 0
fi
echo "bgp-interop: $failures check(s) failed"
exit 1
