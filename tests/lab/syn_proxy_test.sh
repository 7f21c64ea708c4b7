#!/bin/bash
# The SYN proxy against real Linux TCP on both ends (dataplane.syn_proxy =
# on): namespaces client, router, backend and nva; anycast-nva in the nva
# namespace with an AF_PACKET port, its gateway the router, which forwards
# between the three links (the VIPs and the SNAT address via the NVA, as
# Route Server would program them; no BGP here). Every connection's
# handshake is with the NVA's SYN cookie, then the NVA's own with the
# backend, and every segment after it has its sequence (backend to client)
# or acknowledgement (client to backend) moved. Proves:
#  (a) 10 sequential curl fetches of a 1 MiB random file from a python
#      http.server through a dnat+snat VIP arrive intact (sha256): the
#      sequence translation over hundreds of segments, the cookie's MSS
#      and the unscaled windows hold;
#  (b) /nva/workers counts them: syn_cookies_valid and
#      syn_proxy_established >= 10; every request that reached the NVA
#      before its backend's SYN-ACK was held and sent on after it
#      (syn_proxy_released = syn_proxy_held, none dropped), so no fetch
#      waits for the client's retransmission;
#  (c) while scapy floods the VIP with spoofed SYNs from TEST-NET-3 (their
#      cookie SYN-ACKs go to the router, which blackholes them), fetches
#      still succeed and the NVA keeps no state per spoofed SYN (its
#      connection count stays small, no connection created but the
#      fetches', a cookie sent for (nearly) every SYN);
#  (d) a VIP port whose backend has no listener fails fast with a reset
#      passed on by the NVA (not a timeout): syn_proxy_refused >= 1;
#  (e) a dnat VIP (the router sends the backend's replies back to the NVA by
#      a policy route) carries the same file intact through the proxy;
#  (f) path MTU discovery works through it: the router's ICMP "fragmentation
#      needed" for a backend segment, quoting it in the client's sequence
#      space, reaches the backend restored to its own sequence numbers and
#      lowers its path MTU (dnat+snat and dnat), and the fetches complete;
#  (g) the daemon is alive at the end and the mbuf pool is back at its
#      starting count.
# Everything made here (namespaces, processes, files, the DPDK runtime
# directory) is removed on exit.
# Usage: syn_proxy_test.sh ANYCAST_NVA SOURCE_ROOT
set -uo pipefail
nva="$1"
root="$2"
nvactl="$root/scripts/nvactl"
py=/usr/bin/python3  # has scapy
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: needs root for network namespaces"
  exit 77
fi
for tool in curl ethtool sha256sum; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
"$py" -c 'import scapy' 2>/dev/null || { echo "SKIP: $py has no scapy"; exit 77; }

run="${NVA_TEST_RUN_ID:-$$}"
ns_c="nvat${run}-sc"
ns_b="nvat${run}-sb"
ns_r="nvat${run}-sr"
ns_n="nvat${run}-sn"
prefix="nvat${run}_synproxy"
work=$(mktemp -d /tmp/nva-syn-proxy.XXXXXX)
pids=()
pid=""
cleanup() {
  local p ns
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  for ns in "$ns_c" "$ns_b" "$ns_r" "$ns_n"; do
    # Anything still running in the test's own namespaces (started here).
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  rm -rf "$work" "/var/run/dpdk/$prefix"
}
trap cleanup EXIT
trap 'exit 143' TERM INT  # (meson's timeout): through the EXIT trap

status=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; status=1; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# --- topology ---------------------------------------------------------------
# client 198.18.4.10 -- .4.1 router .2.254 -- 198.18.2.1 backend
#                              router .0.1 -- 198.18.0.2 nva (AF_PACKET)
# VIPs 198.19.0.10 (dnat+snat, SNAT 198.18.1.1), 198.19.0.11 (dnat).
VIP=198.19.0.10
VIP_DNAT=198.19.0.11
BACKEND=198.18.2.1
SNAT=198.18.1.1
# veth LINK_IN_NS NS ADDR/LEN LINK_IN_ROUTER ROUTER_ADDR/LEN
veth() {
  ip link add "$1" type veth peer name "$4" || return 1
  ip link set "$1" netns "$2" && ip link set "$4" netns "$ns_r" || return 1
  ip -n "$2" addr add "$3" dev "$1" && ip -n "$2" link set "$1" up || return 1
  ip -n "$ns_r" addr add "$5" dev "$4" && ip -n "$ns_r" link set "$4" up || return 1
  # No checksum offload, no super-frames: the NVA checks checksums and
  # sees frames of at most the MTU, as on a NIC.
  ip netns exec "$2" ethtool -K "$1" tx off rx off tso off gso off gro off >/dev/null 2>&1
  ip netns exec "$ns_r" ethtool -K "$4" tx off rx off tso off gso off gro off >/dev/null 2>&1
  return 0
}
topology() {
  local ns
  for ns in "$ns_c" "$ns_b" "$ns_r" "$ns_n"; do
    ip netns add "$ns" || return 1
    ip -n "$ns" link set lo up
  done
  veth "nv${run}c" "$ns_c" 198.18.4.10/24 "nv${run}cr" 198.18.4.1/24 || return 1
  veth "nv${run}b" "$ns_b" "$BACKEND/24" "nv${run}br" 198.18.2.254/24 || return 1
  veth "nv${run}n" "$ns_n" 198.18.0.2/24 "nv${run}nr" 198.18.0.1/24 || return 1
  ip -n "$ns_c" route add default via 198.18.4.1
  ip -n "$ns_b" route add default via 198.18.2.254
  ip netns exec "$ns_r" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
    net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.all.send_redirects=0 \
    net.ipv4.conf.default.send_redirects=0 >/dev/null
  for l in "nv${run}cr" "nv${run}br" "nv${run}nr"; do
    ip netns exec "$ns_r" sysctl -qw "net.ipv4.conf.$l.rp_filter=0" >/dev/null
  done
  # The NVA's kernel keeps ARP; it must not forward what the data plane sees.
  ip netns exec "$ns_n" sysctl -qw net.ipv4.ip_forward=0 >/dev/null
  ip -n "$ns_r" route add 198.19.0.0/24 via 198.18.0.2
  ip -n "$ns_r" route add "$SNAT/32" via 198.18.0.2
  # The dnat VIP's backend answers the client's own address: its replies
  # go to the NVA (Azure: a UDR on the backends' subnet).
  ip -n "$ns_r" rule add iif "nv${run}br" from "$BACKEND" ipproto tcp sport 8080 lookup 100
  ip -n "$ns_r" route add default via 198.18.0.2 table 100
  # The cookie SYN-ACKs to the spoofed sources end here.
  ip -n "$ns_r" route add blackhole 203.0.113.0/24
}
topology || { echo "FAIL: the namespaces could not be set up"; exit 1; }
nva_mac=$(ip -n "$ns_n" -o link show "nv${run}n" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')

# --- the backend: a 1 MiB random file over HTTP ------------------------------
mkdir -p "$work/www"
head -c 1048576 /dev/urandom >"$work/www/blob"
want=$(sha256sum "$work/www/blob" | cut -d' ' -f1)
ip netns exec "$ns_b" "$py" -m http.server 8080 --bind "$BACKEND" \
  --directory "$work/www" >"$work/backend.log" 2>&1 &
pids+=($!)

# --- the NVA -------------------------------------------------------------------
# One worker on CPU 1, the main lcore (control plane, not polling) on CPU 0;
# the worker sleeps when idle. RX ring of 4,096 frames for the flood.
cat >"$work/nva.ini" <<INI
[eal]
args = --lcores=0@0,1@1 --no-huge --no-pci -m 256 --log-level=*:warning --file-prefix=${prefix} --vdev=net_af_packet0,iface=nv${run}n,framecnt=4096
[dataplane]
workers = 1
ports = net_af_packet0
gateway = 198.18.0.1
address = 198.18.0.2
connections = 4096
maglev_table_size = 307
syn_proxy = on
[service.web]
vip = ${VIP}
port = 80
mode = dnat+snat
snat = ${SNAT}
backend = ${BACKEND}:8080
probe = none
# Nothing listens on 8099: the backend's kernel refuses.
[service.closed]
vip = ${VIP}
port = 81
mode = dnat+snat
snat = ${SNAT}
backend = ${BACKEND}:8099
probe = none
[service.direct]
vip = ${VIP_DNAT}
port = 80
mode = dnat
backend = ${BACKEND}:8080
probe = none
INI
"$nva" --config "$work/nva.ini" --check-config >/dev/null || { echo "FAIL: config"; exit 1; }
ip netns exec "$ns_n" "$nva" --config "$work/nva.ini" >"$work/nva.log" 2>&1 &
pid=$!
started=0
for _ in $(seq 1 100); do
  grep -q "running" "$work/nva.log" && { started=1; break; }
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
[ "$started" -eq 1 ] || { echo "FAIL: anycast-nva did not start"; cat "$work/nva.log"; exit 1; }
for _ in $(seq 1 50); do
  ip netns exec "$ns_r" bash -c "exec 3<>/dev/tcp/$BACKEND/8080" 2>/dev/null && break
  sleep 0.1
done

nvajson() { "$py" "$nvactl" -f "$prefix" --json raw "$1"; }
# field NAME: worker 0's counter NAME (snapshots are republished every 500 ms).
field() {
  nvajson /nva/workers | "$py" -c "import json,sys; print(json.load(sys.stdin)['0'].get('$1', 0))"
}
mbufs_free() {
  nvajson /nva/info | "$py" -c 'import json,sys; print(json.load(sys.stdin)["mbufs_free"])'
}
sleep 1
free0=$(mbufs_free) || { echo "FAIL: nvactl cannot read /nva/info"; exit 1; }

# fetch N [VIP]: the blob through the VIP into $work/got.N; 0 if intact.
fetch() {
  local out="$work/got.$1" got
  rm -f "$out"
  ip netns exec "$ns_c" curl -sS --max-time 20 -o "$out" -w '%{time_starttransfer}\n' \
    "http://${2:-$VIP}/blob" 2>>"$work/curl.err" >>"$work/ttfb" || return 1
  got=$(sha256sum "$out" | cut -d' ' -f1)
  [ "$got" = "$want" ] || { echo "  fetch $1: sha256 $got, want $want" >&2; return 1; }
}

# --- (a) 10 fetches through the proxy ----------------------------------------------
t0=$(now_ms)
good=0
: >"$work/ttfb"
for i in $(seq 1 10); do fetch "$i" && good=$((good + 1)); done
ms=$(( $(now_ms) - t0 ))
# A request that reaches the NVA before the backend's SYN-ACK is held and
# sent on after it (the counters below); one lost would wait for the
# client's retransmission (200 ms, Linux's minimum RTO). Times are shown,
# not checked (a loaded machine is slow for other reasons).
slow=$(awk '$1 >= 0.15 { n++ } END { print n + 0 }' "$work/ttfb")
echo "note: $slow of 10 fetches waited >= 150 ms for the first byte"
if [ "$good" -eq 10 ]; then
  pass "(a) 10 sequential 1 MiB fetches through the SYN proxy intact (sha256) in ${ms} ms"
else
  fail "(a) $good of 10 fetches intact"; cat "$work/curl.err"
fi

# --- (b) the counters -------------------------------------------------------------------
sleep 0.7
valid=$(field syn_cookies_valid)
est=$(field syn_proxy_established)
if [ "$valid" -ge 10 ] && [ "$est" -ge 10 ]; then
  pass "(b) syn_cookies_valid = $valid, syn_proxy_established = $est (>= 10)"
else
  fail "(b) syn_cookies_valid = $valid, syn_proxy_established = $est, want >= 10 each"
fi
held=$(field syn_proxy_held)
released=$(field syn_proxy_released)
lost=$(( $(field syn_proxy_held_full) + $(field syn_proxy_held_timeout) ))
if [ "$released" -eq "$held" ] && [ "$lost" -eq 0 ]; then
  pass "(b) requests that beat the backend's SYN-ACK held and sent on: $held held, $released released, 0 dropped"
else
  fail "(b) syn_proxy_held $held, syn_proxy_released $released, dropped $lost"
fi

# --- (c) a spoofed SYN flood ---------------------------------------------------------------
flood=6000
sent0=$(field syn_cookies_sent)
created0=$(field connections_created)
cat >"$work/flood.py" <<'PY'
import random, socket, sys, time
from scapy.all import IP, TCP, Ether, get_if_hwaddr
iface, nva_mac, vip, count, ready = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
rng = random.Random(7)
me = get_if_hwaddr(iface)
frames = [bytes(Ether(src=me, dst=nva_mac) /
                IP(src=f"203.0.113.{rng.randrange(1, 255)}", dst=vip) /
                TCP(sport=rng.randrange(1024, 65536), dport=80, flags="S",
                    seq=rng.getrandbits(32), window=64240, options=[("MSS", 1460)]))
          for _ in range(count)]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
open(ready, "w").close()
t = time.time()
for i in range(0, count, 40):  # about 4 s: fetches run under it
    for f in frames[i:i + 40]:
        s.send(f)
    time.sleep(0.025)
print(f"flood: {count} spoofed SYNs sent in {time.time() - t:.1f} s")
PY
ip netns exec "$ns_r" "$py" "$work/flood.py" "nv${run}nr" "$nva_mac" "$VIP" "$flood" \
  "$work/flood.ready" >"$work/flood.log" 2>&1 &
flood_pid=$!
pids+=("$flood_pid")
for _ in $(seq 1 300); do [ -f "$work/flood.ready" ] && break; sleep 0.1; done
during=0
ok_during=0
maxconn=0
i=100
while kill -0 "$flood_pid" 2>/dev/null; do
  i=$((i + 1))
  if fetch "$i"; then ok_during=$((ok_during + 1)); fi
  kill -0 "$flood_pid" 2>/dev/null && during=$((during + 1))  # still flooding after it
  c=$(field connections)
  [ "$c" -gt "$maxconn" ] && maxconn=$c
done
wait "$flood_pid"
cat "$work/flood.log"
fetches=$((i - 100))
fetch 200 && after=1 || after=0
sleep 0.7
c=$(field connections)
[ "$c" -gt "$maxconn" ] && maxconn=$c
sent=$(( $(field syn_cookies_sent) - sent0 ))
created=$(( $(field connections_created) - created0 ))
if [ "$fetches" -ge 2 ] && [ "$during" -ge 1 ] && [ "$ok_during" -eq "$fetches" ] &&
   [ "$after" -eq 1 ]; then
  pass "(c) $fetches fetches under the flood of $flood spoofed SYNs (all intact) and one after it"
else
  fail "(c) fetches under the flood: $ok_during of $fetches intact ($during overlapped it), after: $after"
fi
if [ "$sent" -ge $((flood * 95 / 100)) ] && [ "$created" -le $((fetches + 1)) ] &&
   [ "$maxconn" -le 100 ]; then
  pass "(c) no state per spoofed SYN: $sent cookies sent, $created connections created (the fetches'), at most $maxconn in the table"
else
  fail "(c) cookies sent $sent (want >= $((flood * 95 / 100))), connections created $created (want <= $((fetches + 1))), table up to $maxconn (want <= 100)"
fi

# --- (d) a refused port -----------------------------------------------------------------------
refused0=$(field syn_proxy_refused)
t0=$(now_ms)
ip netns exec "$ns_c" curl -sS --max-time 10 -o /dev/null "http://$VIP:81/" 2>"$work/refused.err"
rc=$?
ms=$(( $(now_ms) - t0 ))
sleep 0.7
refused=$(( $(field syn_proxy_refused) - refused0 ))
if { [ "$rc" -eq 56 ] || [ "$rc" -eq 7 ]; } && [ "$ms" -lt 3000 ] && [ "$refused" -ge 1 ]; then
  pass "(d) no listener: curl failed in ${ms} ms ($(tr -d '\n' <"$work/refused.err")), syn_proxy_refused +$refused"
else
  fail "(d) no listener: curl exit $rc after ${ms} ms ($(cat "$work/refused.err")), syn_proxy_refused +$refused"
fi

# --- (e) a dnat VIP -------------------------------------------------------------------------------
est0=$(field syn_proxy_established)
good=0
for i in 301 302 303; do fetch "$i" "$VIP_DNAT" && good=$((good + 1)); done
sleep 0.7
estd=$(( $(field syn_proxy_established) - est0 ))
if [ "$good" -eq 3 ] && [ "$estd" -ge 3 ]; then
  pass "(e) dnat VIP: 3 fetches intact through the proxy (syn_proxy_established +$estd)"
else
  fail "(e) dnat VIP: $good of 3 fetches intact, syn_proxy_established +$estd"
fi

# --- (f) path MTU discovery through the proxy ---------------------------------------------------
# The router's link to the client shrinks to 1,400 bytes: the backend's
# 1,500-byte segments (the cookie's MSS is the client's, 1,460) get an ICMP
# "fragmentation needed" from the router, quoting them as the client would
# have had them (the VIP's address and port, the sequence in the cookie's
# space). The NVA sends it on to the backend with the quote restored (its
# own address, port and sequence numbers), which Linux checks against its
# unacknowledged window: only then does it lower the path MTU, and only then
# can the fetch finish. (accept_local: the error comes back to the router
# that sent it, from its own address, after the NVA.)
ip -n "$ns_r" link set "nv${run}cr" mtu 1400
ip netns exec "$ns_r" sysctl -qw net.ipv4.conf.all.accept_local=1 \
  "net.ipv4.conf.nv${run}nr.accept_local=1" >/dev/null
good=0
fetch 401 && good=$((good + 1))
fetch 402 "$VIP_DNAT" && good=$((good + 1))
mtu_snat=$(ip -n "$ns_b" route get "$SNAT" | grep -o 'mtu [0-9]*')
mtu_dnat=$(ip -n "$ns_b" route get 198.18.4.10 | grep -o 'mtu [0-9]*')
if [ "$good" -eq 2 ] && [ "$mtu_snat" = "mtu 1400" ] && [ "$mtu_dnat" = "mtu 1400" ]; then
  pass "(f) path MTU 1400 learnt by the backend through the proxy's ICMP translation, both fetches intact"
else
  fail "(f) path MTU: $good of 2 fetches intact, the backend's path MTU to the SNAT address '$mtu_snat', to the client '$mtu_dnat' (want mtu 1400)"
  tail -n 3 "$work/curl.err"
fi

# --- (g) the daemon and its pool ------------------------------------------------------------------
sleep 1
if kill -0 "$pid" 2>/dev/null; then
  pass "(g) the daemon is alive"
else
  fail "(g) the daemon died"; cat "$work/nva.log"; exit 1
fi
free1=$(mbufs_free)
if [ "$free1" = "$free0" ]; then
  pass "(g) mbuf pool back at its starting count ($free1 free)"
else
  fail "(g) mbufs free $free0 at the start, $free1 at the end"
fi
"$py" "$nvactl" -f "$prefix" show workers
[ "$status" -eq 0 ] && echo "PASS: syn_proxy_test" || echo "FAIL: syn_proxy_test"
exit $status
