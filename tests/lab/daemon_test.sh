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
# shellcheck disable=SC2317  # the conditions are called through wait_until
set -uo pipefail
nva="$1"
src="$2/tests/lab"
# shellcheck source=scripts/lib/lab.sh
. "$2/scripts/lib/lab.sh"
require_root
require_tools bird birdc
test_names
ns_nva="$run_ns-dnva"
ns_net="$run_ns-dnet"
if_nva="${run_link}dn"
if_net="${run_link}dp"
prefix="${run_ns}_daemon"
make_work nva-daemon
cleanup_path "/var/run/dpdk/$prefix"

pair_up "$ns_nva" "$if_nva" "$ns_net" "$if_net" || exit 1  # data-plane traffic is raw frames from scapy

cat >"$work/nva.ini" <<INI
[eal]
args = -l 0-1 --no-huge --no-pci -m 256 --log-level=*:warning --file-prefix=${prefix} --vdev=net_af_packet0,iface=${if_nva}
[dataplane]
workers = 1
# The next hop by ARP: the peer namespace's kernel answers for it.
$(pair_ini_dataplane)
connections = 4096
maglev_table_size = 307
test_hooks = true
[bgp]
$(pair_ini_bgp)
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
backend = ${PAIR_PEER}:8081
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
pair_rs "$work" "$ns_net" "filter from_nva" \
  "$(rs_import_filter from_nva "$PAIR_NVA_AS" 198.19.0.10/32 198.19.0.11/32)" ||
  { echo "FAIL: BIRD did not start"; cat "$work/bird.out"; exit 1; }
birdc_() { bird_cmd "$work/bird.ctl" "$@"; }
# The api service's backend: a TCP listener in the peer namespace.
listener_pid=""
start_listener() {
  spawn "$ns_net" "$work/listener.log" "$LAB_PY" -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 8081)); s.listen(64)
while True:
    c, _ = s.accept(); c.close()
' "$PAIR_PEER"
  listener_pid=$spawned_pid
}
stop_listener() { [ -n "$listener_pid" ] && stop_pid "$listener_pid"; listener_pid=""; }
start_listener
nva_start "$nva" "$ns_nva" "$work/nva.ini" "$prefix" "$work/nva.log" ||
  { echo "FAIL: anycast-nva did not start"; exit 1; }
pid=$nva_pid
grep "^port" "$work/nva.log"

status=0
web_announced() { birdc_ show route 198.19.0.10/32 all | grep -q "BGP.as_path: 65001"; }
if wait_until 10 web_announced; then
  echo "ok: the VIP is announced to the Route Server"
  birdc_ show route 198.19.0.10/32 all | grep -E "BGP.(as_path|med|community)"
  birdc_ show route 198.19.0.10/32 all | grep -q "BGP.med: 50" ||
    { echo "FAIL: MED 50 missing"; status=1; }
  birdc_ show route 198.19.0.10/32 all | grep -q "(65001,100)" ||
    { echo "FAIL: community 65001:100 missing"; status=1; }
else
  echo "FAIL: the VIP never reached BIRD"; birdc_ show protocols all nva; status=1
fi
ip netns exec "$ns_net" timeout 60 "$LAB_PY" "$src/daemon_traffic.py" "$if_net" "$nva_mac" ||
  status=1

# Watchdog: a stalled worker (test hook) must withdraw the VIP within 1 s;
# released, the VIP comes back.
has() { bird_has_route "$work/bird.ctl" "$1"; }
kill -USR1 "$pid"
if WAIT_EVERY=0.02 wait_until 1 not has 198.19.0.10/32; then
  echo "ok: stalled worker -> VIP withdrawn from the Route Server in ${waited_ms} ms"
else
  echo "FAIL: VIP still announced ${waited_ms} ms after a worker stalled"; status=1
fi
kill -USR1 "$pid"
if WAIT_EVERY=0.02 wait_until 5 has 198.19.0.10/32; then
  echo "ok: worker released -> VIP announced again"
else
  echo "FAIL: VIP not re-announced after the worker recovered"; status=1
fi

# Backend health: the api VIP follows its backend's listener (fall 3 x
# 100 ms, rise 2 x 100 ms + hold-down 300 ms); the web VIP stays.
if WAIT_EVERY=0.02 wait_until 5 has 198.19.0.11/32; then
  echo "ok: api VIP announced once its backend probed healthy"
else
  echo "FAIL: api VIP not announced"; status=1
fi
stop_listener
if WAIT_EVERY=0.02 wait_until 1.3 not has 198.19.0.11/32; then
  echo "ok: backend down -> api VIP withdrawn in ${waited_ms} ms (limit fall x interval + 1 s = 1300)"
  echo "measure: daemon-backend-down-to-withdraw-ms=${waited_ms}"
else
  echo "FAIL: api VIP still announced ${waited_ms} ms after its backend stopped"; status=1
fi
has 198.19.0.10/32 || { echo "FAIL: the web VIP went with the api backend"; status=1; }
start_listener
if WAIT_EVERY=0.02 wait_until 2 has 198.19.0.11/32; then
  echo "ok: backend up -> api VIP announced again in ${waited_ms} ms (rise x interval + hold-down = 500)"
  echo "measure: daemon-backend-up-to-announce-ms=${waited_ms}"
else
  echo "FAIL: api VIP not re-announced ${waited_ms} ms after its backend came back"; status=1
fi

# SIGHUP: a changed MED reaches the Route Server as an update, without a
# withdrawal; a broken file is refused and changes nothing.
withdraws() { bird_withdraws "$work/bird.ctl" nva; }
med_is() { birdc_ show route 198.19.0.10/32 all | grep -q "BGP.med: $1"; }
w0=$(withdraws)
sed -i 's/^med = 50$/med = 60/' "$work/nva.ini"
kill -HUP "$pid"
ok=0
wait_until 5 med_is 60 && ok=1
w1=$(withdraws)
if [ "$ok" -eq 1 ] && [ "$w0" = "$w1" ]; then
  echo "ok: SIGHUP: MED 60 announced, no withdrawal (withdraws received: $w0 -> $w1)"
else
  echo "FAIL: SIGHUP: MED 60 seen=$ok, withdraws $w0 -> $w1"; status=1
fi
cp "$work/nva.ini" "$work/nva.ini.good"
echo "bogus line" >>"$work/nva.ini"
refusals() { grep -c "keeping the running configuration" "$work/nva.log"; }
refusals_above() { [ "$(refusals)" -gt "$1" ]; }
kill -HUP "$pid"
wait_until 3 refusals_above 0
if refusals_above 0 && has 198.19.0.10/32 && has 198.19.0.11/32 && running "$pid"; then
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
refused0=$(refusals)
if "$nva" --config "$work/nva.ini" --check-config >"$work/check.out" 2>&1; then
  echo "FAIL: --check-config accepted http_path $path_utf8"; status=1
else
  echo "ok: --check-config refuses it: $(cat "$work/check.out")"
fi
kill -HUP "$pid"
wait_until 3 refusals_above "$refused0"
# An abort would come right after the reload: the control plane must still
# publish its telemetry after it.
nva_next_snapshot "$prefix" || echo "  no telemetry snapshot after the reload"
if running "$pid" &&
   grep -q "reload: .*service.api.http_path: not an HTTP path.*keeping the running configuration" \
     "$work/nva.log" &&
   ! grep -q "control plane:" "$work/nva.log" && has 198.19.0.10/32 && has 198.19.0.11/32; then
  echo "ok: SIGHUP with http_path $path_utf8: refused with the reason, daemon and routes untouched"
  grep "reload:" "$work/nva.log" | tail -1
else
  echo "FAIL: SIGHUP with http_path $path_utf8 was not refused cleanly"
  running "$pid" || echo "  the daemon died"
  tail -5 "$work/nva.log"; status=1
fi
cp "$work/nva.ini.good" "$work/nva.ini"

# De-prefer instead of withdraw (reloaded): a dead backend leaves its VIP
# announced as a backup (2 more prepends, MED 500); and drains announce
# GRACEFUL_SHUTDOWN (65535:0) instead of withdrawing.
sed -i -e 's/^hold_down_ms = 300$/hold_down_ms = 300\naction = deprefer\ndeprefer_prepend = 2\ndeprefer_med = 500\ndamping = false/' \
  -e 's/^time_ms = 2000$/time_ms = 2000\nmode = graceful-shutdown/' "$work/nva.ini"
kill -HUP "$pid"
applied() { [ "$(grep -c "reload: applied" "$work/nva.log")" -ge 2 ]; }
wait_until 3 applied
api_path() { birdc_ show route 198.19.0.11/32 all | sed -n 's/.*BGP.as_path: //p'; }
api_med() { birdc_ show route 198.19.0.11/32 all | sed -n 's/.*BGP.med: //p'; }
api_is() { [ "$(api_path)" = "$1" ] && { [ -z "${2:-}" ] || [ "$(api_med)" = "$2" ]; }; }
stop_listener
if WAIT_EVERY=0.02 wait_until 3 api_is "65001 65001 65001" 500; then
  echo "ok: action = deprefer: backend down -> api VIP kept as a backup (AS path $(api_path), MED $(api_med))"
else
  echo "FAIL: action = deprefer: api VIP has AS path '$(api_path)', MED '$(api_med)'"; status=1
fi
start_listener
if WAIT_EVERY=0.02 wait_until 4 api_is 65001; then
  echo "ok: backend up -> api VIP preferred again (AS path $(api_path))"
else
  echo "FAIL: api VIP still de-preferred: '$(api_path)'"; status=1
fi

# State through DPDK telemetry (/nva/), read with nvactl.
health_ok() {  # the snapshots are republished every 500 ms
  out=$(nva_ctl "$prefix" --json show health 2>&1) &&
   "$LAB_PY" -c '
import json, sys
d = json.loads(sys.argv[1])
rows = list(d.values()) if isinstance(d, dict) else d
vips = {r["vip"]: r for r in rows}
assert vips["198.19.0.10"]["decision"] == "announce", vips
assert vips["198.19.0.11"]["decision"] == "announce", vips
' "$out"
}
if WAIT_EVERY=0.2 wait_until 4 health_ok 2>/dev/null; then
  echo "ok: nvactl show health: both VIPs announced"
else
  echo "FAIL: nvactl show health: $out"; status=1
fi
if out=$(nva_ctl "$prefix" --json show backends api 2>&1) &&
   "$LAB_PY" -c '
import json, sys
d = json.loads(sys.argv[1])
rows = list(d.values()) if isinstance(d, dict) else d
assert len(rows) == 1 and rows[0]["address"] == sys.argv[2] and rows[0]["state"] == "up", rows
' "$out" "$PAIR_PEER"; then
  echo "ok: nvactl show backends api: $PAIR_PEER up"
else
  echo "FAIL: nvactl show backends api: $out"; status=1
fi
nva_ctl "$prefix" show workers || status=1
# The tracker's and translator's counters and the drops by name
# (drop_<reason>, non-zero only) that add up to `dropped`.
if out=$(nva_ctl "$prefix" --json show workers 2>&1) &&
   "$LAB_PY" -c '
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
errors_are() { out=$(nva_get "$prefix" /nva/info control_plane_errors 2>&1) && [ "$out" = "$1" ]; }
errors_are 0 || { echo "FAIL: control_plane_errors is not 0 before the hook: $out"; status=1; }
kill -USR2 "$pid"
ok=0
WAIT_EVERY=0.2 wait_until 5 errors_are 2 && ok=1
# Were the daemon to die of it, it would be right after: a snapshot later, it runs.
nva_next_snapshot "$prefix" || echo "  no telemetry snapshot after the throwing handlers"
if [ "$ok" -eq 1 ] && running "$pid" &&
   grep -q "control plane: test hook: test hook: a throwing handler (caught" "$work/nva.log" &&
   grep -q "control plane: handler failed: test hook: a bare throwing handler (caught" \
     "$work/nva.log" && has 198.19.0.10/32 && health_ok 2>/dev/null; then
  echo "ok: two throwing control-plane handlers: logged, counted (control_plane_errors 2), daemon and routes untouched"
else
  echo "FAIL: a throwing control-plane handler: errors=$out"
  running "$pid" || echo "  the daemon died"
  grep "control plane:" "$work/nva.log"; status=1
fi

# The drain command (nvactl drain; SIGTERM does the same, see the lab test),
# here with drain.mode = graceful-shutdown: the VIPs are re-announced with
# 65535:0 while the process still runs (the SYNs of the traffic test keep
# connections active: it waits for [drain] time_ms = 2 s), then Cease and
# exit.
nva_ctl "$prefix" drain || { echo "FAIL: nvactl drain"; status=1; }
gshut() { birdc_ show route 198.19.0.10/32 all | grep -q "(65535,0)"; }
if WAIT_EVERY=0.02 wait_until 3 gshut && running "$pid"; then
  echo "ok: drain command -> VIP announced with GRACEFUL_SHUTDOWN (65535,0) while the daemon still forwards"
else
  echo "FAIL: drain command: no GRACEFUL_SHUTDOWN on the VIP before the daemon exited"; status=1
fi
if ! WAIT_EVERY=0.1 wait_until 8 not running "$pid"; then
  echo "FAIL: anycast-nva still running 8 s after the drain command"; status=1
else
  wait "$pid"; rc=$?
  [ "$rc" -eq 0 ] || { echo "FAIL: anycast-nva exited $rc after draining"; status=1; }
fi
if grep -q 'anycast-nva stopping' "$work/bird.log"; then
  echo "ok: Route Server got Cease with the shutdown communication"
else
  echo "FAIL: no shutdown communication in BIRD's log"; tail -5 "$work/bird.log"; status=1
fi
if has 198.19.0.10/32; then
  echo "FAIL: the VIP is still in BIRD after the daemon stopped"; status=1
else
  echo "ok: the VIP is withdrawn from the Route Server"
fi
cat "$work/nva.log"
exit $status
