#!/bin/bash
# The daemon end to end in network namespaces: anycast-nva runs in its own
# namespace with an AF_PACKET port (net_af_packet) on a veth; a peer
# namespace plays client and backend with scapy (daemon_traffic.py) and
# Route Server with BIRD 2 (AS 65515): the VIP must be announced to it while
# the daemon runs, withdrawn within 1 s when a worker stalls (test hook,
# SIGUSR1) and announced again when it recovers; SIGTERM must send Cease
# (BIRD logs the shutdown communication) and stop the daemon cleanly. Everything made here is
# removed on exit.
# Usage: daemon_test.sh ANYCAST_NVA SOURCE_ROOT
set -uo pipefail
nva="$1"
src="$2/tests/lab"
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: needs root for network namespaces"
  exit 77
fi
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
  [ -n "$bird_pid" ] && kill -KILL "$bird_pid" 2>/dev/null
  ip netns del "$ns_nva" 2>/dev/null
  ip netns del "$ns_net" 2>/dev/null
  rm -rf "$work" "/var/run/dpdk/nvat${run}_daemon"
}
trap cleanup EXIT

ip netns add "$ns_nva" && ip netns add "$ns_net" || exit 1
ip link add "$if_nva" type veth peer name "$if_net" || exit 1
ip link set "$if_nva" netns "$ns_nva" && ip link set "$if_net" netns "$ns_net" || exit 1
for ns in "$ns_nva" "$ns_net"; do ip -n "$ns" link set lo up; done
ip -n "$ns_nva" link set "$if_nva" up
ip -n "$ns_net" link set "$if_net" up
# The kernels keep their addresses for BGP (AF_PACKET leaves the kernel its
# traffic); data-plane traffic is raw frames from scapy.
ip -n "$ns_nva" addr add 198.18.0.2/24 dev "$if_nva"
ip -n "$ns_net" addr add 198.18.0.4/24 dev "$if_net"
nva_mac=$(ip -n "$ns_nva" -o link show "$if_nva" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')

cat >"$work/nva.ini" <<INI
[eal]
args = -l 0-1 --no-huge --no-pci -m 256 --no-telemetry --log-level=*:warning --file-prefix=nvat${run}_daemon --vdev=net_af_packet0,iface=${if_nva}
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
INI

"$nva" --config "$work/nva.ini" --check-config || exit 1

# BIRD as Route Server: AS 65515, 2-octet ASN only, strict import of the VIP.
if command -v bird >/dev/null; then
  cat >"$work/bird.conf" <<BIRD
router id 198.18.0.4;
log "$work/bird.log" all;
protocol device { scan time 1; }
filter from_nva {
  if net = 198.19.0.10/32 && bgp_path.first = 65001 && !(65515 ~ bgp_path) then accept;
  reject;
}
protocol bgp nva {
  local 198.18.0.4 as 65515;
  neighbor 198.18.0.2 as 65001;
  multihop;
  enable as4 off;
  connect delay time 1;
  connect retry time 2;
  ipv4 { import filter from_nva; export none; };
}
BIRD
  ip netns exec "$ns_net" bird -f -c "$work/bird.conf" -s "$work/bird.ctl" >"$work/bird.out" 2>&1 &
  bird_pid=$!
fi
birdc_() { birdc -s "$work/bird.ctl" "$@"; }
ip netns exec "$ns_nva" "$nva" --config "$work/nva.ini" >"$work/nva.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  grep -q "running" "$work/nva.log" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
if ! grep -q "running" "$work/nva.log"; then
  echo "FAIL: anycast-nva did not start"; cat "$work/nva.log"; exit 1
fi
grep "^port" "$work/nva.log"

status=0
if [ -n "$bird_pid" ]; then
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
else
  echo "note: bird not installed, BGP part skipped"
fi
ip netns exec "$ns_net" timeout 60 /usr/bin/python3 "$src/daemon_traffic.py" "$if_net" "$nva_mac" ||
  status=1

# Watchdog: a stalled worker (test hook) must withdraw the VIP within 1 s;
# released, the VIP comes back.
if [ -n "$bird_pid" ]; then
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
fi

kill -TERM "$pid"
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
  echo "FAIL: anycast-nva still running 5 s after SIGTERM"; status=1
else
  wait "$pid"; rc=$?
  [ "$rc" -eq 0 ] || { echo "FAIL: anycast-nva exited $rc after SIGTERM"; status=1; }
fi
pid=""
if [ -n "$bird_pid" ]; then
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
fi
cat "$work/nva.log"
exit $status
