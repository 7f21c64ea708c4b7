#!/bin/bash
# anycast-nva under a stand-in for systemd: a datagram socket as
# NOTIFY_SOCKET and WATCHDOG_USEC=1 s. The daemon (one worker on a net_null
# port that receives nothing, no BGP) must send READY=1 once its worker
# runs, WATCHDOG=1 about every 500 ms, none while worker 0 is stalled
# (dataplane.test_hooks, SIGUSR1) and again once released, and STOPPING=1
# on SIGTERM, then exit 0. Also: deploy/anycast-nva.service passes
# systemd-analyze verify (with this build's paths), and a broken copy does
# not. Usage: notify_daemon_test.sh SOURCE_ROOT ANYCAST_NVA
set -uo pipefail
root=$1
nva=$(readlink -f "$2")
# shellcheck source=../../scripts/lib/lab.sh
. "$root/scripts/lib/lab.sh"
test_names
make_work nva-notify
tmp=$work
prefix="${run_ns}notify"
cleanup_path "/var/run/dpdk/$prefix"
pid="" listener=""
on_cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
  [ -n "$listener" ] && kill "$listener" 2>/dev/null
  wait 2>/dev/null
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
NOTIFY_SOCKET="$tmp/notify" WATCHDOG_USEC=1000000 "$nva" --config "$tmp/nva.ini" \
  >"$tmp/log" 2>&1 &
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
echo "notify: $failures failure(s)"
[ "$failures" -eq 0 ]
