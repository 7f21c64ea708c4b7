#!/bin/bash
# The daemon's operating interfaces, without BGP: one worker on a net_null
# port that receives nothing, in a namespace this test makes.
#   systemd   a datagram socket as NOTIFY_SOCKET, WATCHDOG_USEC=1 s: READY=1
#             once the worker runs, WATCHDOG=1 about every 500 ms, none while
#             worker 0 is stalled (dataplane.test_hooks, SIGUSR1) and again
#             once released, STOPPING=1 on SIGTERM, exit 0; and
#             deploy/anycast-nva.service through systemd-analyze verify (a
#             broken copy is reported)
#   metrics   GET /metrics on the namespace's 127.0.0.1:9469, checked by name
#             and value against /nva/ telemetry
#   Azure     a fake Instance Metadata Service on 169.254.169.254:80 in the
#             namespace: a Reboot for this VM takes the VIP down ("maintenance"
#             in /nva/info, /nva/health, STATUS and the metrics), is
#             acknowledged (StartRequests, with Metadata: true), and the VIP
#             comes back when the event is gone
# Usage: daemon_ops_test.sh SOURCE_ROOT ANYCAST_NVA
set -uo pipefail
root=$1
nva=$(readlink -f "$2")
# shellcheck source=../../scripts/lib/lab.sh
. "$root/scripts/lib/lab.sh"
require_root
test_names
make_work nva-ops
tmp=$work
prefix="${run_ns}ops"
ns="${run_ns}ops"
cleanup_path "/var/run/dpdk/$prefix"
pid="" listener=""
on_cleanup() {
  local p
  for p in $pid $listener; do
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
}
failures=0
ok() { echo "ok: $*"; }
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# --- the unit --------------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$tmp/unit" "$tmp/bad"
  sed -e "s#/usr/local/libexec/anycast-nva/nva-vm-setup#$root/deploy/nva-vm-setup#" \
    -e "s#/usr/local/bin/anycast-nva#$nva#g" "$root/deploy/anycast-nva.service" \
    >"$tmp/unit/anycast-nva.service"
  out=$(systemd-analyze verify --man=no "$tmp/unit/anycast-nva.service" 2>&1)
  if [ $? -eq 0 ] && [ -z "$out" ]; then ok "systemd-analyze verify: clean"; else
    fail "systemd-analyze verify: $out"
  fi
  sed 's/^Type=notify/Type=notfy/' "$tmp/unit/anycast-nva.service" >"$tmp/bad/anycast-nva.service"
  out=$(systemd-analyze verify --man=no "$tmp/bad/anycast-nva.service" 2>&1)
  if grep -q "service type" <<<"$out"; then ok "systemd-analyze verify: a broken unit is reported"; else
    fail "systemd-analyze verify said nothing of a broken unit: $out"
  fi
else
  echo "note: no systemd-analyze: the unit is not verified"
fi

# --- the namespace and a fake Instance Metadata Service ----------------------
netns_new "$ns" || { echo "FAIL: cannot make namespace $ns"; exit 1; }
ip -n "$ns" addr add 169.254.169.254/32 dev lo
echo '{"DocumentIncarnation": 1, "Events": []}' >"$tmp/events.json"
cat >"$tmp/imds.py" <<'PY'
import http.server, sys
events, posts = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def answer(self, code, body, kind="application/json"):
        b = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def do_GET(self):
        if self.headers.get("Metadata") != "true":
            return self.answer(400, "no Metadata: true")
        if self.path.startswith("/metadata/scheduledevents"):
            return self.answer(200, open(events).read())
        self.answer(404, "")
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(n).decode()
        with open(posts, "a") as f:
            f.write("%s %s\n" % (self.headers.get("Metadata"), body))
        self.answer(200, "")
    def log_message(self, *a):
        pass
http.server.HTTPServer(("169.254.169.254", 80), H).serve_forever()
PY
spawn "$ns" "$tmp/imds.log" "$LAB_PY" "$tmp/imds.py" "$tmp/events.json" "$tmp/posts"

# --- the daemon and a fake systemd ------------------------------------------
cat >"$tmp/nva.ini" <<INI
[eal]
args = -l 0-1 --no-huge --no-pci -m 256 --vdev=net_null0,no-rx=1 --file-prefix=$prefix --log-level=*:warning
[dataplane]
workers = 1
ports = net_null0
gateway_mac = 12:34:56:78:9a:bc
connections = 1024
maglev_table_size = 307
test_hooks = yes
[drain]
time_ms = 200
[metrics]
address = 127.0.0.1:9469
[azure]
scheduled_events = on
vm_name = nva-ops-test
poll_ms = 100
[service.web]
vip = 198.18.0.10
port = 80
backend = 198.18.1.1:80
probe = none
INI
# Each datagram on one line, with its arrival time (s, monotonic).
cat >"$tmp/listen.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.1)
end = time.monotonic() + float(sys.argv[2])
with open(sys.argv[3], "w") as out:
    while time.monotonic() < end:
        try:
            m = s.recv(4096).decode()
        except socket.timeout:
            continue
        out.write("%.3f %s\n" % (time.monotonic(), m.replace("\n", " | ")))
        out.flush()
PY
"$LAB_PY" "$tmp/listen.py" "$tmp/notify" 30 "$tmp/msgs" &
listener=$!
WAIT_EVERY=0.02 wait_until 1 test -S "$tmp/notify" || fail "the fake notify socket did not appear"
now() { "$LAB_PY" -c 'import time; print("%.3f" % time.monotonic())'; }
# ip netns exec execs the daemon: $! is its pid.
NOTIFY_SOCKET="$tmp/notify" WATCHDOG_USEC=1000000 ip netns exec "$ns" "$nva" \
  --config "$tmp/nva.ini" >"$tmp/log" 2>&1 &
pid=$!
count() { grep -c -- "$1" "$tmp/msgs" 2>/dev/null || true; }
at_least() { [ "$(count "$1")" -ge "$2" ]; }  # PATTERN N: messages matching
wait_for() { wait_until "$3" at_least "$1" "$2"; }  # PATTERN N SECONDS
pings_between() {  # FROM TO (monotonic seconds)
  awk -v a="$1" -v b="$2" '$2 == "WATCHDOG=1" && $1 >= a && $1 < b' "$tmp/msgs" | wc -l
}

if wait_for "READY=1" 1 10; then
  ok "READY=1: $(grep READY=1 "$tmp/msgs" | cut -d' ' -f2-)"
else
  fail "no READY=1 in 10 s"; cat "$tmp/log"
fi
wait_for "WATCHDOG=1" 3 5 && ok "watchdog pings: $(count WATCHDOG=1) in the first second or so" ||
  fail "fewer than 3 WATCHDOG=1 in 5 s"
# --- metrics -------------------------------------------------------------------
scrape() { ip netns exec "$ns" curl -s --max-time 2 http://127.0.0.1:9469/metrics >"$tmp/metrics"; }
metric() { awk -v m="$1" '$1 == m {print $2}' "$tmp/metrics"; }  # NAME{LABELS}: value
if wait_until 5 scrape && [ -s "$tmp/metrics" ]; then
  ok "GET /metrics: $(grep -vc '^#' "$tmp/metrics") samples"
else
  fail "no /metrics on 127.0.0.1:9469"
fi
nva_next_snapshot "$prefix" >/dev/null 2>&1
scrape
for pair in "anycast_nva_workers:/nva/info workers" \
  "anycast_nva_mbufs:/nva/info mbufs_total" \
  "anycast_nva_active_connections:/nva/info active_connections" \
  "anycast_nva_service_backends{service=\"web\",vip=\"198.18.0.10\"}:/nva/services 0 backends"; do
  name=${pair%%:*}
  # shellcheck disable=SC2086  # the command and its keys
  want=$(nva_get "$prefix" ${pair#*:})
  got=$(metric "$name")
  [ -n "$got" ] && [ "$got" = "$want" ] && ok "metric $name = $got, as telemetry says" ||
    fail "metric $name = '$got', telemetry says '$want'"
done
[ "$(metric 'anycast_nva_state{state="running"}')" = 1 ] && ok "metric state running" ||
  fail "state metric: $(grep anycast_nva_state "$tmp/metrics")"
[ "$(metric 'anycast_nva_packets_total{worker="0",direction="rx"}')" = 0 ] &&
  ok "metric packets_total rx 0 (the port receives nothing)" || fail "packets_total rx"

# --- Azure maintenance --------------------------------------------------------
state_is() { [ "$(nva_get "$prefix" /nva/info state 2>/dev/null)" = "$1" ]; }
cat >"$tmp/events.json" <<'JSON'
{"DocumentIncarnation": 2, "Events": [{"EventId": "E7", "EventType": "Reboot",
 "ResourceType": "VirtualMachine", "Resources": ["nva-ops-test"],
 "EventStatus": "Scheduled", "NotBefore": "Mon, 30 Nov 2026 10:00:00 GMT"}]}
JSON
if wait_until 5 state_is maintenance; then
  ok "a Reboot for this VM: /nva/info state maintenance"
else
  fail "no maintenance state after the event: $(nva_get "$prefix" /nva/azure)"
fi
reason=$(nva_get "$prefix" /nva/health 0 reason)
[[ "$reason" == "maintenance: Reboot E7"* ]] && ok "/nva/health: $reason" ||
  fail "/nva/health reason: $reason"
posted() { grep -q 'true {"StartRequests":\[{"EventId":"E7"}\]}' "$tmp/posts" 2>/dev/null; }
wait_until 5 posted && ok "acknowledged: StartRequests E7 with Metadata: true" ||
  fail "no StartRequests for E7: $(cat "$tmp/posts" 2>/dev/null)"
acked() { [ "$(nva_get "$prefix" /nva/azure state 2>/dev/null)" = acknowledged ]; }
wait_until 3 acked && ok "/nva/azure state acknowledged" || fail "/nva/azure: $(nva_get "$prefix" /nva/azure)"
wait_until 3 at_least "STATUS=.*maintenance: Reboot E7" 1 && ok "systemd STATUS names the maintenance" ||
  fail "no STATUS with the maintenance"
scrape
[ "$(metric 'anycast_nva_state{state="maintenance"}')" = 1 ] && ok "metric state maintenance" ||
  fail "state metric: $(grep anycast_nva_state "$tmp/metrics")"
echo '{"DocumentIncarnation": 3, "Events": []}' >"$tmp/events.json"
wait_until 5 state_is running && ok "the event gone: running again" || fail "still $(nva_get "$prefix" /nva/info state)"
grep -q "azure: maintenance over" "$tmp/log" && ok "logged: maintenance over" || fail "no 'maintenance over' line"

# --- the watchdog -----------------------------------------------------------------
stalled=$(now)
kill -USR1 "$pid"  # stall worker 0
sleep 2.5
released=$(now)    # taken before the signal: a ping before it was in the stall
kill -USR1 "$pid"  # release it
# A ping already due when the stall began may still go out (its heartbeat
# moved before): none from 0.6 s on.
n=$(pings_between "$(awk -v t="$stalled" 'BEGIN {print t + 0.6}')" "$released")
[ "$n" -eq 0 ] && ok "no watchdog ping while worker 0 stood still" ||
  fail "$n watchdog pings while worker 0 stood still"
grep -q "systemd: watchdog ping held back" "$tmp/log" && ok "logged: the ping held back" ||
  fail "no log line for the held-back ping"
sleep 1.5
n=$(pings_between "$released" "$(now)")
[ "$n" -ge 2 ] && ok "pings again after release ($n in 1.5 s)" || fail "$n pings after release"
kill -TERM "$pid"
if wait_for "STOPPING=1" 1 5; then ok "STOPPING=1 on SIGTERM"; else fail "no STOPPING=1"; fi
if ! wait_until 5 not running "$pid"; then
  fail "anycast-nva still running 5 s after SIGTERM"
else
  wait "$pid"
  rc=$?
  pid=""
  [ "$rc" -eq 0 ] && ok "exit 0 after the drain" || fail "exit status $rc"
fi
[ "$failures" -eq 0 ] || { echo "--- messages"; cat "$tmp/msgs"; echo "--- log"; cat "$tmp/log"; }
echo "daemon-ops: $failures failure(s)"
[ "$failures" -eq 0 ]
