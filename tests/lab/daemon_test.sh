#!/bin/bash
# The daemon end to end in network namespaces: anycast-nva runs in its own
# namespace with an AF_PACKET port (net_af_packet) on a veth; a peer
# namespace plays client and backend with scapy (daemon_traffic.py). Then
# SIGTERM must stop it cleanly. Everything made here is removed on exit.
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
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
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
# No addresses: the NVA's kernel stays out of the way; the peer sends raw frames.
nva_mac=$(ip -n "$ns_nva" -o link show "$if_nva" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
net_mac=$(ip -n "$ns_net" -o link show "$if_net" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')

cat >"$work/nva.ini" <<INI
[eal]
args = -l 0-1 --no-huge --no-pci -m 256 --no-telemetry --log-level=*:warning --file-prefix=nvat${run}_daemon --vdev=net_af_packet0,iface=${if_nva}
[dataplane]
workers = 1
ports = net_af_packet0
gateway_mac = ${net_mac}
connections = 4096
maglev_table_size = 307
[service.web]
vip = 198.19.0.10
port = 80
mode = dnat+snat
snat = 198.18.1.1
backend = 198.18.2.1:8080
INI

"$nva" --config "$work/nva.ini" --check-config || exit 1
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
ip netns exec "$ns_net" timeout 60 /usr/bin/python3 "$src/daemon_traffic.py" "$if_net" "$nva_mac" ||
  status=1

kill -TERM "$pid"
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
  echo "FAIL: anycast-nva still running 5 s after SIGTERM"; status=1
else
  wait "$pid"; rc=$?
  [ "$rc" -eq 0 ] || { echo "FAIL: anycast-nva exited $rc after SIGTERM"; status=1; }
fi
pid=""
cat "$work/nva.log"
exit $status
