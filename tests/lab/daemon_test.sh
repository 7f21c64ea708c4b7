#!/bin/bash
# The daemon end to end in network namespaces: anycast-nva runs in its own
# namespace with an AF_PACKET port (net_af_packet) on a veth; a peer
# namespace plays client and backend with scapy (daemon_traffic.py) and
# Route Server with BIRD 2 (AS 65515): the VIP must be announced to it while
# the daemon runs, withdrawn within 1 s when a worker stalls (test hook,
# SIGUSR1) and announced again when it recovers; a probed backend's VIP
# follows its listener; SIGHUP reloads (MED change without a flap, a broken
# file refused, a file the prober would refuse refused alike); nvactl reads /nva/ telemetry; the drain command withdraws,
# waits and sends Cease (BIRD logs the shutdown communication) and the
# daemon exits cleanly. Everything made here is
# removed on exit.
# Usage: daemon_test.sh ANYCAST_NVA SOURCE_ROOT
set -uo pipefail
nva="$1"
src="$2/tests/lab"
nvactl="$2/scripts/nvactl"
# shellcheck source=tests/lab/pair_lib.sh
. "$src/pair_lib.sh"
pair_require_root_and_bird  # exits 77 (skipped) otherwise
run="${NVA_TEST_RUN_ID:-$$}"
ns_nva="nvat${run}-dnva"
ns_net="nvat${run}-dnet"
if_nva="nv${run}dn"
if_net="nv${run}dp"
work=$(mktemp -d /tmp/nva-daemon.XXXXXX)
pid=""
bird_pid=""
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
  [ -n "${listener_pid:-}" ] && kill -KILL "$listener_pid" 2>/dev/null
  [ -n "$bird_pid" ] && kill -KILL "$bird_pid" 2>/dev/null
  ip netns del "$ns_nva" 2>/dev/null
  ip netns del "$ns_net" 2>/dev/null
  rm -rf "$work" "/var/run/dpdk/nvat${run}_daemon"
}
trap cleanup EXIT

pair_up || exit 1  # data-plane traffic is raw frames from scapy

cat >"$work/nva.ini" <<INI
[eal]
args = -l 0-1 --no-huge --no-pci -m 256 --log-level=*:warning --file-prefix=nvat${run}_daemon --vdev=net_af_packet0,iface=${if_nva}
[dataplane]
workers = 1
ports = net_af_packet0
# The next hop by ARP: the peer namespace's kernel answers for 198.18.0.4.
gateway = 198.18.0.4
address = 198.18.0.2
connections = 4096
maglev_table_size = 307
test_hooks = true
[bgp]
local_as = 65001
router_id = 198.18.0.2
source = 198.18.0.2
peer = 198.18.0.4:65515 name=rs1
med = 50
community = 65001:100
[service.web]
vip = 198.19.0.10
port = 80
mode = dnat+snat
snat = 198.18.1.1
backend = 198.18.2.1:8080
# scapy plays the backend: nothing to probe.
probe = none
# A backend with a real listener in the peer namespace, probed over TCP.
[service.api]
vip = 198.19.0.11
port = 8081
backend = 198.18.0.4:8081
[health]
interval_ms = 100
timeout_ms = 100
rise = 2
fall = 3
hold_down_ms = 300
[drain]
time_ms = 2000
INI

"$nva" --config "$work/nva.ini" --check-config || exit 1

# BIRD as Route Server with a strict import of the VIPs.
start_bird_rs "filter from_nva" 'filter from_nva {
  if net ~ [198.19.0.10/32, 198.19.0.11/32] && bgp_path.first = 65001 && !(65515 ~ bgp_path) then accept;
  reject;
}'
# The api service's backend: a TCP listener in the peer namespace.
listener_pid=""
start_listener() {
  ip netns exec "$ns_net" /usr/bin/python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.0.4", 8081)); s.listen(64)
while True:
    c, _ = s.accept(); c.close()
' &
  listener_pid=$!
}
stop_listener() { [ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null; wait "$listener_pid" 2>/dev/null; listener_pid=""; }
start_listener
start_nva || exit 1
grep "^port" "$work/nva.log"

status=0
announced=0
for _ in $(seq 1 100); do
  if birdc_ show route 198.19.0.10/32 all 2>/dev/null | grep -q "BGP.as_path: 65001"; then
    announced=1; break
  fi
  sleep 0.1
done
if [ "$announced" -eq 1 ]; then
  echo "ok: the VIP is announced to the Route Server"
  birdc_ show route 198.19.0.10/32 all | grep -E "BGP.(as_path|med|community)"
  birdc_ show route 198.19.0.10/32 all | grep -q "BGP.med: 50" ||
    { echo "FAIL: MED 50 missing"; status=1; }
  birdc_ show route 198.19.0.10/32 all | grep -q "(65001,100)" ||
    { echo "FAIL: community 65001:100 missing"; status=1; }
else
  echo "FAIL: the VIP never reached BIRD"; birdc_ show protocols all nva; status=1
fi
ip netns exec "$ns_net" timeout 60 /usr/bin/python3 "$src/daemon_traffic.py" "$if_net" "$nva_mac" ||
  status=1

# Watchdog: a stalled worker (test hook) must withdraw the VIP within 1 s;
# released, the VIP comes back.
in_bird() { birdc_ show route 198.19.0.10/32 2>/dev/null | grep -q "198.19.0.10/32"; }
t0=$(date +%s%N)
kill -USR1 "$pid"
gone=0
for _ in $(seq 1 30); do in_bird || { gone=1; break; }; sleep 0.05; done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ "$gone" -eq 1 ] && [ "$ms" -le 1000 ]; then
  echo "ok: stalled worker -> VIP withdrawn from the Route Server in ${ms} ms"
else
  echo "FAIL: VIP still announced ${ms} ms after a worker stalled"; status=1
fi
kill -USR1 "$pid"
back=0
for _ in $(seq 1 60); do in_bird && { back=1; break; }; sleep 0.05; done
[ "$back" -eq 1 ] && echo "ok: worker released -> VIP announced again" ||
  { echo "FAIL: VIP not re-announced after the worker recovered"; status=1; }

# Backend health: the api VIP follows its backend's listener (fall 3 x
# 100 ms, rise 2 x 100 ms + hold-down 300 ms); the web VIP stays.
has() { birdc_ show route "$1" 2>/dev/null | grep -q "$1"; }
wait_for() {  # wait_for present|absent PREFIX MAX_MS -> prints ms, 0 if in time
  local want=$1 prefix=$2 max=$3 t0 now
  t0=$(date +%s%N)
  while :; do
    if [ "$want" = present ] && has "$prefix"; then break; fi
    if [ "$want" = absent ] && ! has "$prefix"; then break; fi
    now=$(( ($(date +%s%N) - t0) / 1000000 ))
    [ "$now" -gt "$max" ] && { echo "$now"; return 1; }
    sleep 0.02
  done
  echo $(( ($(date +%s%N) - t0) / 1000000 ))
}
if ms=$(wait_for present 198.19.0.11/32 5000); then
  echo "ok: api VIP announced once its backend probed healthy"
else
  echo "FAIL: api VIP not announced"; status=1
fi
stop_listener
if ms=$(wait_for absent 198.19.0.11/32 1300); then
  echo "ok: backend down -> api VIP withdrawn in ${ms} ms (limit fall x interval + 1 s = 1300)"
  echo "measure: daemon-backend-down-to-withdraw-ms=${ms}"
else
  echo "FAIL: api VIP still announced ${ms} ms after its backend stopped"; status=1
fi
has 198.19.0.10/32 || { echo "FAIL: the web VIP went with the api backend"; status=1; }
start_listener
if ms=$(wait_for present 198.19.0.11/32 2000); then
  echo "ok: backend up -> api VIP announced again in ${ms} ms (rise x interval + hold-down = 500)"
  echo "measure: daemon-backend-up-to-announce-ms=${ms}"
else
  echo "FAIL: api VIP not re-announced ${ms} ms after its backend came back"; status=1
fi

# SIGHUP: a changed MED reaches the Route Server as an update, without a
# withdrawal; a broken file is refused and changes nothing.
withdraws() { birdc_ show protocols all nva | awk '/Import withdraws:/ {print $3}'; }
w0=$(withdraws)
sed -i 's/^med = 50$/med = 60/' "$work/nva.ini"
kill -HUP "$pid"
ok=0
for _ in $(seq 1 50); do
  birdc_ show route 198.19.0.10/32 all | grep -q "BGP.med: 60" && { ok=1; break; }
  sleep 0.1
done
w1=$(withdraws)
if [ "$ok" -eq 1 ] && [ "$w0" = "$w1" ]; then
  echo "ok: SIGHUP: MED 60 announced, no withdrawal (withdraws received: $w0 -> $w1)"
else
  echo "FAIL: SIGHUP: MED 60 seen=$ok, withdraws $w0 -> $w1"; status=1
fi
cp "$work/nva.ini" "$work/nva.ini.good"
echo "bogus line" >>"$work/nva.ini"
kill -HUP "$pid"
for _ in $(seq 1 30); do grep -q "keeping the running configuration" "$work/nva.log" && break; sleep 0.1; done
if grep -q "keeping the running configuration" "$work/nva.log" && has 198.19.0.10/32 &&
   has 198.19.0.11/32 && kill -0 "$pid" 2>/dev/null; then
  echo "ok: SIGHUP with a broken file: refused, routes and daemon untouched"
  grep "reload:" "$work/nva.log" | tail -1
else
  echo "FAIL: a broken file on SIGHUP was not refused cleanly"; status=1
fi
cp "$work/nva.ini.good" "$work/nva.ini"

# SIGHUP with a file only the prober's own check refused (issue 12, finding
# 3: http_path with a non-ASCII byte passed --check-config, then Prober::add
# threw on the control-plane thread and the daemon aborted): --check-config
# and the reload now run the same validation; the daemon keeps running.
path_utf8=$(printf '/h\303\251alth')
awk -v p="$path_utf8" '{print} /^\[service.api\]$/ {print "http_path = " p}' \
  "$work/nva.ini.good" >"$work/nva.ini"
refused0=$(grep -c "keeping the running configuration" "$work/nva.log")
if "$nva" --config "$work/nva.ini" --check-config >"$work/check.out" 2>&1; then
  echo "FAIL: --check-config accepted http_path $path_utf8"; status=1
else
  echo "ok: --check-config refuses it: $(cat "$work/check.out")"
fi
kill -HUP "$pid"
for _ in $(seq 1 30); do
  [ "$(grep -c "keeping the running configuration" "$work/nva.log")" -gt "$refused0" ] && break
  sleep 0.1
done
sleep 0.5  # an abort would come right after the reload
if kill -0 "$pid" 2>/dev/null &&
   grep -q "reload: .*service.api.http_path: not an HTTP path.*keeping the running configuration" \
     "$work/nva.log" &&
   ! grep -q "control plane:" "$work/nva.log" && has 198.19.0.10/32 && has 198.19.0.11/32; then
  echo "ok: SIGHUP with http_path $path_utf8: refused with the reason, daemon and routes untouched"
  grep "reload:" "$work/nva.log" | tail -1
else
  echo "FAIL: SIGHUP with http_path $path_utf8 was not refused cleanly"
  kill -0 "$pid" 2>/dev/null || echo "  the daemon died"
  tail -5 "$work/nva.log"; status=1
fi
cp "$work/nva.ini.good" "$work/nva.ini"

# De-prefer instead of withdraw (reloaded): a dead backend leaves its VIP
# announced as a backup (2 more prepends, MED 500); and drains announce
# GRACEFUL_SHUTDOWN (65535:0) instead of withdrawing.
sed -i -e 's/^hold_down_ms = 300$/hold_down_ms = 300\naction = deprefer\ndeprefer_prepend = 2\ndeprefer_med = 500\ndamping = false/' \
  -e 's/^time_ms = 2000$/time_ms = 2000\nmode = graceful-shutdown/' "$work/nva.ini"
kill -HUP "$pid"
for _ in $(seq 1 30); do [ "$(grep -c "reload: applied" "$work/nva.log")" -ge 2 ] && break; sleep 0.1; done
api_path() { birdc_ show route 198.19.0.11/32 all 2>/dev/null | sed -n 's/.*BGP.as_path: //p'; }
api_med() { birdc_ show route 198.19.0.11/32 all 2>/dev/null | sed -n 's/.*BGP.med: //p'; }
stop_listener
ok=0
for _ in $(seq 1 65); do
  [ "$(api_path)" = "65001 65001 65001" ] && [ "$(api_med)" = "500" ] && { ok=1; break; }
  sleep 0.02
done
if [ "$ok" -eq 1 ]; then
  echo "ok: action = deprefer: backend down -> api VIP kept as a backup (AS path $(api_path), MED $(api_med))"
else
  echo "FAIL: action = deprefer: api VIP has AS path '$(api_path)', MED '$(api_med)'"; status=1
fi
start_listener
ok=0
for _ in $(seq 1 100); do [ "$(api_path)" = "65001" ] && { ok=1; break; }; sleep 0.02; done
[ "$ok" -eq 1 ] && echo "ok: backend up -> api VIP preferred again (AS path $(api_path))" ||
  { echo "FAIL: api VIP still de-preferred: '$(api_path)'"; status=1; }

# State through DPDK telemetry (/nva/), read with nvactl.
prefix="nvat${run}_daemon"
health_ok() {  # the snapshots are republished every 500 ms
  out=$(/usr/bin/python3 "$nvactl" -f "$prefix" --json show health 2>&1) &&
   /usr/bin/python3 -c '
import json, sys
d = json.loads(sys.argv[1])
rows = list(d.values()) if isinstance(d, dict) else d
vips = {r["vip"]: r for r in rows}
assert vips["198.19.0.10"]["decision"] == "announce", vips
assert vips["198.19.0.11"]["decision"] == "announce", vips
' "$out"
}
ok=0
for _ in $(seq 1 10); do health_ok 2>/dev/null && { ok=1; break; }; sleep 0.2; done
if [ "$ok" -eq 1 ]; then
  echo "ok: nvactl show health: both VIPs announced"
else
  echo "FAIL: nvactl show health: $out"; status=1
fi
if out=$(/usr/bin/python3 "$nvactl" -f "$prefix" --json show backends api 2>&1) &&
   /usr/bin/python3 -c '
import json, sys
d = json.loads(sys.argv[1])
rows = list(d.values()) if isinstance(d, dict) else d
assert len(rows) == 1 and rows[0]["address"] == "198.18.0.4" and rows[0]["state"] == "up", rows
' "$out"; then
  echo "ok: nvactl show backends api: 198.18.0.4 up"
else
  echo "FAIL: nvactl show backends api: $out"; status=1
fi
/usr/bin/python3 "$nvactl" -f "$prefix" show workers || status=1
# The tracker's and translator's counters and the drops by name
# (drop_<reason>, non-zero only) that add up to `dropped`.
if out=$(/usr/bin/python3 "$nvactl" -f "$prefix" --json show workers 2>&1) &&
   /usr/bin/python3 -c '
import json, sys
w = json.loads(sys.argv[1])["0"]
for k in ("evicted_embryonic", "evicted_unreplied", "evicted_closed", "tcp_ignored",
          "snat_evicted", "connections_expired", "dropped"):
    assert k in w, (k, w)
named = {k: v for k, v in w.items() if k.startswith("drop_")}
assert all(v > 0 for v in named.values()), named
assert sum(named.values()) == w["dropped"], w
' "$out"; then
  echo "ok: nvactl show workers: eviction counters, drops by name adding up to dropped"
else
  echo "FAIL: nvactl show workers: $out"; status=1
fi

# No exception ends the control plane (issue 12, finding 3): the SIGUSR2 test
# hook makes one guarded handler and one bare handler throw on the
# control-plane thread; both are logged and counted, the daemon, its BGP
# session and its telemetry carry on.
errors_are() {
  out=$(/usr/bin/python3 "$nvactl" -f "$prefix" --json raw /nva/info 2>&1) &&
    /usr/bin/python3 -c '
import json, sys
d = json.loads(sys.argv[1])
d = d.get("/nva/info", d)
assert d["control_plane_errors"] == int(sys.argv[2]), d
' "$out" "$1"
}
errors_are 0 || { echo "FAIL: control_plane_errors is not 0 before the hook: $out"; status=1; }
kill -USR2 "$pid"
ok=0
for _ in $(seq 1 20); do errors_are 2 2>/dev/null && { ok=1; break; }; sleep 0.2; done
sleep 0.5
if [ "$ok" -eq 1 ] && kill -0 "$pid" 2>/dev/null &&
   grep -q "control plane: test hook: test hook: a throwing handler (caught" "$work/nva.log" &&
   grep -q "control plane: handler failed: test hook: a bare throwing handler (caught" \
     "$work/nva.log" && has 198.19.0.10/32 && health_ok 2>/dev/null; then
  echo "ok: two throwing control-plane handlers: logged, counted (control_plane_errors 2), daemon and routes untouched"
else
  echo "FAIL: a throwing control-plane handler: errors=$out"
  kill -0 "$pid" 2>/dev/null || echo "  the daemon died"
  grep "control plane:" "$work/nva.log"; status=1
fi

# The drain command (nvactl drain; SIGTERM does the same, see the lab test),
# here with drain.mode = graceful-shutdown: the VIPs are re-announced with
# 65535:0 while the process still runs (the SYNs of the traffic test keep
# connections active: it waits for [drain] time_ms = 2 s), then Cease and
# exit.
/usr/bin/python3 "$nvactl" -f "$prefix" drain || { echo "FAIL: nvactl drain"; status=1; }
gshut=0
for _ in $(seq 1 75); do
  birdc_ show route 198.19.0.10/32 all 2>/dev/null | grep -q "(65535,0)" && { gshut=1; break; }
  sleep 0.02
done
if [ "$gshut" -eq 1 ] && kill -0 "$pid" 2>/dev/null; then
  echo "ok: drain command -> VIP announced with GRACEFUL_SHUTDOWN (65535,0) while the daemon still forwards"
else
  echo "FAIL: drain command: no GRACEFUL_SHUTDOWN on the VIP before the daemon exited"; status=1
fi
for _ in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
  echo "FAIL: anycast-nva still running 8 s after the drain command"; status=1
else
  wait "$pid"; rc=$?
  [ "$rc" -eq 0 ] || { echo "FAIL: anycast-nva exited $rc after draining"; status=1; }
fi
pid=""
if grep -q 'anycast-nva stopping' "$work/bird.log"; then
  echo "ok: Route Server got Cease with the shutdown communication"
else
  echo "FAIL: no shutdown communication in BIRD's log"; tail -5 "$work/bird.log"; status=1
fi
if birdc_ show route 198.19.0.10/32 2>/dev/null | grep -q "198.19.0.10/32"; then
  echo "FAIL: the VIP is still in BIRD after the daemon stopped"; status=1
else
  echo "ok: the VIP is withdrawn from the Route Server"
fi
cat "$work/nva.log"
exit $status
