#!/bin/bash
# The hostile suite through the daemon (issue 12): anycast-nva in its own
# namespace with an AF_PACKET port of two queues, two workers (dnat traffic
# handed off to its owner) with tables of 1,024 connections, BIRD as
# Route Server in the peer namespace, scapy (hostile_daemon_traffic.py) as
# clients and backend. With one TCP connection established, the VIP is
# flooded with COUNT spoofed packets of each kind: bad-checksum ACKs,
# right-checksum mid-stream ACKs, SYNs, blind RSTs at the connection's
# 4-tuple. The connection's data must pass both ways after each flood (after
# the RSTs, past a short tcp_closed_ms, the backend first: an accepted RST
# would have let the connection expire, and replies are never picked up) and
# new clients must connect. syn_proxy is auto: the clients take the plain
# path while the workers are at ease and the SYN proxy (a cookie SYN-ACK
# from the NVA, its own handshake with the backend, sequence numbers moved)
# once the spoofed ACKs fill their tables; both are checked to the sequence
# number, the SYN flood must be answered with cookies and leave no state,
# and the clients during and after it must connect through the proxy. Then
# the daemon must be alive and healthy, the VIP announced without a
# withdrawal, the mbuf pool back at its starting count, and /nva/workers
# must show the drops by name. Everything made here is removed on exit.
# No fragment flood here: net_af_packet (22.11) joins its sockets to a
# PACKET_FANOUT group with PACKET_FANOUT_FLAG_DEFRAG, so the kernel
# reassembles (or holds) fragments before the daemon sees them: lone
# fragments never reach it (measured: of 1,200 sent, the worker's rx counted
# none). tests/hostile/ floods the worker with them by --replay.
# Usage: hostile_daemon_test.sh ANYCAST_NVA SOURCE_ROOT [COUNT]
# shellcheck disable=SC2317  # the conditions are called through wait_until
set -uo pipefail
nva="$1"
src="$2/tests/lab"
count="${3:-3000}"
# shellcheck source=scripts/lib/lab.sh
. "$2/scripts/lib/lab.sh"
require_root
require_tools bird birdc
test_names
ns_nva="$run_ns-hnva"
ns_net="$run_ns-hnet"
if_nva="${run_link}hn"
if_net="${run_link}hp"
prefix="${run_ns}_hostile"
make_work nva-hostile-daemon
cleanup_path "/var/run/dpdk/$prefix"

pair_up "$ns_nva" "$if_nva" "$ns_net" "$if_net" || exit 1

# framecnt: RX rings of 4,096 frames (512 by default) hold a whole flood if
# the daemon is descheduled, so the kernel drops none on a busy machine.
# Three lcores on two CPUs: the main one shares CPU 0 with worker 2 (the
# workers sleep when idle).
cat >"$work/nva.ini" <<INI
[eal]
args = --lcores=0@0,1@1,2@0 --no-huge --no-pci -m 256 --log-level=*:warning --file-prefix=${prefix} --vdev=net_af_packet0,iface=${if_nva},framecnt=4096,qpairs=2
[dataplane]
workers = 2
$(pair_ini_dataplane)
# Small, so the floods fill it many times over.
connections = 1024
# syn_proxy: auto (the default); the scripted clients take either path.
maglev_table_size = 307
[bgp]
$(pair_ini_bgp)
[service.web]
vip = 198.19.0.10
port = 80
mode = dnat
backend = 198.18.2.1:8080
# scapy plays the backend: nothing to probe.
probe = none
[timeouts]
# Short, so an RST wrongly accepted shows within the test: the connection
# expires and the backend's next segment (no pick-up on replies) is dropped.
tcp_closed_ms = 1000
INI
"$nva" --config "$work/nva.ini" --check-config || exit 1

pair_rs "$work" "$ns_net" all || { echo "FAIL: BIRD did not start"; cat "$work/bird.out"; exit 1; }
announced() { bird_has_route "$work/bird.ctl" 198.19.0.10/32; }
withdraws() { bird_withdraws "$work/bird.ctl" nva; }

nva_start "$nva" "$ns_nva" "$work/nva.ini" "$prefix" "$work/nva.log" ||
  { echo "FAIL: anycast-nva did not start"; exit 1; }
pid=$nva_pid
status=0
wait_until 10 announced || { echo "FAIL: the VIP never reached BIRD"; cat "$work/nva.log"; exit 1; }
echo "ok: the VIP is announced to the Route Server"
w0=$(withdraws)

nvajson() { nva_get "$prefix" "$1"; }
mbufs_free() { nva_get "$prefix" /nva/info mbufs_free; }
# The pool as a snapshot after the start shows it, idle.
nva_next_snapshot "$prefix"
free0=$(mbufs_free) || { echo "FAIL: nvactl cannot read /nva/info"; exit 1; }

ip netns exec "$ns_net" timeout 120 "$LAB_PY" "$src/hostile_daemon_traffic.py" \
  "$if_net" "$nva_mac" "$count" "$work/sent.json" "$LAB_NVACTL" "$prefix" || status=1

# The counters of a snapshot after the floods; the pool back once idle.
nva_next_snapshot "$prefix"
if running "$pid"; then
  echo "ok: the daemon is alive"
else
  echo "FAIL: the daemon died"; cat "$work/nva.log"; exit 1
fi
w1=$(withdraws)
if announced && [ "$w0" = "$w1" ]; then
  echo "ok: the VIP stayed announced (withdraws received: $w0 -> $w1)"
else
  echo "FAIL: the VIP was withdrawn during the floods (withdraws $w0 -> $w1)"; status=1
fi
pool_back() { free1=$(mbufs_free) && [ "$free1" = "$free0" ]; }
if WAIT_EVERY=0.2 wait_until 3 pool_back; then
  echo "ok: mbuf pool back at its starting count ($free1 free)"
else
  echo "FAIL: mbufs free $free0 before the floods, $free1 after"; status=1
fi
nva_ctl "$prefix" show workers
if [ -f "$work/sent.json" ] && nvajson /nva/workers >"$work/workers.json" &&
   nvajson /nva/info >"$work/info.json" &&
   "$LAB_PY" - "$work/sent.json" "$work/workers.json" "$work/info.json" <<'PY'
import json, sys
sent = json.load(open(sys.argv[1]))
workers = json.load(open(sys.argv[2]))
# Every worker's counters summed (a field absent from a worker is 0 there).
w = {}
for counters in workers.values():
    for k, v in counters.items():
        if isinstance(v, int):
            w[k] = w.get(k, 0) + v
info = json.load(open(sys.argv[3]))
fails = []
# Drops are counted for (nearly) all of a flood: the kernel may lose a few
# frames before the AF_PACKET ring, never the daemon without a name.
def at_least(field, want):
    if w.get(field, 0) < want:
        fails.append(f"{field} = {w.get(field, 0)}, want >= {want}")
at_least("drop_l4_bad_checksum", int(0.98 * sent["bad-checksum-acks"]))
at_least("drop_tcp_out_of_window", int(0.98 * sent["blind-rsts"]))
# 1,024 connections per worker: the picked-up ACKs (never answered) evict
# one another; no honest client is refused for a full table.
at_least("evicted_embryonic", int(0.98 * sent["spoofed-acks"]) - 1024 * len(workers))
# The SYNs after them find both workers under pressure (a quarter of the
# table embryonic, syn_proxy = auto): cookies, no state (a worker not yet
# under pressure creates up to a quarter of its table first).
at_least("syn_cookies_sent", int(0.98 * sent["syn-flood"]) - 256 * len(workers))
# Every client that took the SYN proxy completed its handshake there.
at_least("syn_proxy_established", sent["proxied-clients"])
at_least("syn_cookies_valid", sent["proxied-clients"])
if sent["proxied-clients"] == 0 or sent["plain-clients"] == 0:
    fails.append(f"clients: {sent['plain-clients']} plain, {sent['proxied-clients']} "
                 "proxied: want both paths exercised")
if w.get("drop_table_full", 0):
    fails.append(f"drop_table_full = {w['drop_table_full']}, want none")
named = sum(v for k, v in w.items() if k.startswith("drop_"))
if named != w["dropped"]:
    fails.append(f"drop_* add up to {named}, dropped = {w['dropped']}")
if w.get("handoff_out", 0) == 0:
    fails.append("nothing handed off: the two-worker path was not exercised")
if info["dataplane_healthy"] != 1:
    fails.append(f"data plane unhealthy: {info['dataplane_reason']}")
for f in fails:
    print("FAIL: /nva/workers: " + f)
print("sent " + json.dumps(sent))
print("drops " + json.dumps({k: v for k, v in w.items() if k.startswith("drop_")}))
sys.exit(1 if fails else 0)
PY
then
  echo "ok: /nva/workers: the floods' drops by name, evictions, SYN cookies, no table_full, handoffs, data plane healthy"
else
  echo "FAIL: /nva/workers"; status=1
fi
grep -E "health:|control plane:" "$work/nva.log"
exit $status
