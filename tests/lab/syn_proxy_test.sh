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
# shellcheck disable=SC2317  # the conditions are called through wait_until
set -uo pipefail
nva="$1"
# shellcheck source=scripts/lib/lab.sh
. "$2/scripts/lib/lab.sh"
py=$LAB_PY  # has scapy
require_root
require_tools curl ethtool sha256sum
require_scapy
test_names
ns_c="$run_ns-sc"
ns_b="$run_ns-sb"
ns_r="$run_ns-sr"
ns_n="$run_ns-sn"
prefix="${run_ns}_synproxy"
make_work nva-syn-proxy
cleanup_path "/var/run/dpdk/$prefix"

status=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; status=1; }

# --- topology ---------------------------------------------------------------
# client 198.18.4.10 -- .4.1 router .2.254 -- 198.18.2.1 backend
#                              router .0.1 -- 198.18.0.2 nva (AF_PACKET)
# VIPs 198.19.0.10 (dnat+snat, SNAT 198.18.1.1), 198.19.0.11 (dnat).
VIP=198.19.0.10
VIP_DNAT=198.19.0.11
BACKEND=198.18.2.1
SNAT=198.18.1.1
# to_router SUFFIX NS ADDR/LEN ROUTER_ADDR/LEN: NS's veth to the router; no
# checksum offload, no super-frames: the NVA checks checksums and sees frames
# of at most the MTU, as on a NIC.
to_router() { veth --no-offload "$2" "${run_link}$1" "$3" "$ns_r" "${run_link}$1r" "$4"; }
topology() {
  local l
  netns_new "$ns_c" "$ns_b" "$ns_r" "$ns_n" || return 1
  to_router c "$ns_c" 198.18.4.10/24 198.18.4.1/24 || return 1
  to_router b "$ns_b" "$BACKEND/24" 198.18.2.254/24 || return 1
  to_router n "$ns_n" 198.18.0.2/24 198.18.0.1/24 || return 1
  ip -n "$ns_c" route add default via 198.18.4.1
  ip -n "$ns_b" route add default via 198.18.2.254
  ip netns exec "$ns_r" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
    net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.all.send_redirects=0 \
    net.ipv4.conf.default.send_redirects=0 >/dev/null
  for l in "${run_link}cr" "${run_link}br" "${run_link}nr"; do
    ip netns exec "$ns_r" sysctl -qw "net.ipv4.conf.$l.rp_filter=0" >/dev/null
  done
  # The NVA's kernel keeps ARP; it must not forward what the data plane sees.
  ip netns exec "$ns_n" sysctl -qw net.ipv4.ip_forward=0 >/dev/null
  ip -n "$ns_r" route add 198.19.0.0/24 via 198.18.0.2
  ip -n "$ns_r" route add "$SNAT/32" via 198.18.0.2
  # The dnat VIP's backend answers the client's own address: its replies
  # go to the NVA (Azure: a UDR on the backends' subnet).
  ip -n "$ns_r" rule add iif "${run_link}br" from "$BACKEND" ipproto tcp sport 8080 lookup 100
  ip -n "$ns_r" route add default via 198.18.0.2 table 100
  # The cookie SYN-ACKs to the spoofed sources end here.
  ip -n "$ns_r" route add blackhole 203.0.113.0/24
}
topology || { echo "FAIL: the namespaces could not be set up"; exit 1; }
nva_mac=$(link_mac "$ns_n" "${run_link}n")

# --- the backend: a 1 MiB random file over HTTP ------------------------------
mkdir -p "$work/www"
head -c 1048576 /dev/urandom >"$work/www/blob"
want=$(sha256sum "$work/www/blob" | cut -d' ' -f1)
spawn "$ns_b" "$work/backend.log" "$py" -m http.server 8080 --bind "$BACKEND" \
  --directory "$work/www"

# --- the NVA -------------------------------------------------------------------
# One worker on CPU 1, the main lcore (control plane, not polling) on CPU 0;
# the worker sleeps when idle. RX ring of 4,096 frames for the flood.
cat >"$work/nva.ini" <<INI
[eal]
args = --lcores=0@0,1@1 --no-huge --no-pci -m 256 --log-level=*:warning --file-prefix=${prefix} --vdev=net_af_packet0,iface=${run_link}n,framecnt=4096
[dataplane]
workers = 1
ports = net_af_packet0
gateway = 198.18.0.1
address = 198.18.0.2
connections = 4096
maglev_table_size = 307
syn_proxy = on
INI
# service NAME VIP PORT MODE BACKEND_PORT: a service to the backend, not
# probed (the closed port would never be healthy).
service() {
  printf '[service.%s]\nvip = %s\nport = %s\nmode = %s\n' "$1" "$2" "$3" "$4"
  [ "$4" = dnat ] || echo "snat = $SNAT"
  printf 'backend = %s:%s\nprobe = none\n' "$BACKEND" "$5"
}
{
  service web "$VIP" 80 dnat+snat 8080
  # Nothing listens on 8099: the backend's kernel refuses.
  service closed "$VIP" 81 dnat+snat 8099
  service direct "$VIP_DNAT" 80 dnat 8080
} >>"$work/nva.ini"
"$nva" --config "$work/nva.ini" --check-config >/dev/null || { echo "FAIL: config"; exit 1; }
nva_start "$nva" "$ns_n" "$work/nva.ini" "$prefix" "$work/nva.log" ||
  { echo "FAIL: anycast-nva did not start"; exit 1; }
pid=$nva_pid
backend_listens() { ip netns exec "$ns_r" bash -c "exec 3<>/dev/tcp/$BACKEND/8080" 2>/dev/null; }
wait_until 5 backend_listens || echo "note: the backend does not answer yet"

# field NAME: worker 0's counter NAME (snapshots are republished every 500 ms).
field() { nva_get "$prefix" /nva/workers 0 "$1"; }
mbufs_free() { nva_get "$prefix" /nva/info mbufs_free; }
# The pool as a snapshot after the start shows it, idle.
nva_next_snapshot "$prefix"
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
nva_next_snapshot "$prefix"
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
spawn "$ns_r" "$work/flood.log" "$py" "$work/flood.py" "${run_link}nr" "$nva_mac" "$VIP" "$flood" \
  "$work/flood.ready"
flood_pid=$spawned_pid
WAIT_EVERY=0.1 wait_until 30 test -f "$work/flood.ready"
during=0
ok_during=0
maxconn=0
i=100
# While it floods (about 4 s; 60 s and 90 fetches at the most).
end=$(($(now_ms) + 60000))
while running "$flood_pid" && [ "$i" -lt 190 ] && [ "$(now_ms)" -lt "$end" ]; do
  i=$((i + 1))
  if fetch "$i"; then ok_during=$((ok_during + 1)); fi
  running "$flood_pid" && during=$((during + 1))  # still flooding after it
  c=$(field connections)
  [ "$c" -gt "$maxconn" ] && maxconn=$c
done
wait "$flood_pid"
cat "$work/flood.log"
fetches=$((i - 100))
fetch 200 && after=1 || after=0
nva_next_snapshot "$prefix"
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
nva_next_snapshot "$prefix"
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
nva_next_snapshot "$prefix"
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
ip -n "$ns_r" link set "${run_link}cr" mtu 1400
ip netns exec "$ns_r" sysctl -qw net.ipv4.conf.all.accept_local=1 \
  "net.ipv4.conf.${run_link}nr.accept_local=1" >/dev/null
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
if running "$pid"; then
  pass "(g) the daemon is alive"
else
  fail "(g) the daemon died"; cat "$work/nva.log"; exit 1
fi
pool_back() { free1=$(mbufs_free) && [ "$free1" = "$free0" ]; }
if WAIT_EVERY=0.2 wait_until 3 pool_back; then
  pass "(g) mbuf pool back at its starting count ($free1 free)"
else
  fail "(g) mbufs free $free0 at the start, $free1 at the end"
fi
nva_ctl "$prefix" show workers
[ "$status" -eq 0 ] && echo "PASS: syn_proxy_test" || echo "FAIL: syn_proxy_test"
exit $status
