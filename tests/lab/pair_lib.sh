# Sourced by the daemon tests in namespaces (daemon_test.sh,
# hostile_daemon_test.sh): the namespace pair, BIRD as Route Server, and the
# daemon's start. The caller sets ns_nva, ns_net, if_nva, if_net, work and
# nva, and removes what these make in its own EXIT trap (pid, bird_pid).

# Skips the test (exit 77) without root or BIRD.
pair_require_root_and_bird() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: needs root for network namespaces"
    exit 77
  fi
  local tool
  for tool in bird birdc; do
    if ! command -v "$tool" >/dev/null; then
      echo "SKIP: $tool not installed (scripts/install-deps)"
      exit 77
    fi
  done
}

# The NVA's namespace and its peer's (client, backend and Route Server), one
# veth between them: 198.18.0.2 on the NVA's side, 198.18.0.4 on the peer's
# (the kernels keep their addresses for BGP and probes; AF_PACKET leaves the
# kernel its traffic). Sets nva_mac.
pair_up() {
  ip netns add "$ns_nva" && ip netns add "$ns_net" || return 1
  ip link add "$if_nva" type veth peer name "$if_net" || return 1
  ip link set "$if_nva" netns "$ns_nva" && ip link set "$if_net" netns "$ns_net" || return 1
  local ns
  for ns in "$ns_nva" "$ns_net"; do ip -n "$ns" link set lo up; done
  ip -n "$ns_nva" link set "$if_nva" up
  ip -n "$ns_net" link set "$if_net" up
  ip -n "$ns_nva" addr add 198.18.0.2/24 dev "$if_nva"
  ip -n "$ns_net" addr add 198.18.0.4/24 dev "$if_net"
  nva_mac=$(ip -n "$ns_nva" -o link show "$if_nva" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
}

# start_bird_rs IMPORT [DEFINITIONS]: BIRD 2 in the peer namespace as Route
# Server (AS 65515, 2-octet ASN only) for the NVA at 198.18.0.2 (AS 65001),
# with the ipv4 channel's IMPORT ("all", "filter NAME") and DEFINITIONS
# (filters) before the protocol. Sets bird_pid; birdc_ talks to it.
start_bird_rs() {
  cat >"$work/bird.conf" <<BIRD
router id 198.18.0.4;
log "$work/bird.log" all;
protocol device { scan time 1; }
${2:-}
protocol bgp nva {
  local 198.18.0.4 as 65515;
  neighbor 198.18.0.2 as 65001;
  multihop;
  enable as4 off;
  connect delay time 1;
  connect retry time 2;
  ipv4 { import $1; export none; };
}
BIRD
  ip netns exec "$ns_net" bird -f -c "$work/bird.conf" -s "$work/bird.ctl" >"$work/bird.out" 2>&1 &
  bird_pid=$!
}
birdc_() { birdc -s "$work/bird.ctl" "$@"; }

# start_nva: the daemon in the NVA's namespace with $work/nva.ini; waits up
# to 20 s for "running". Sets pid; on failure prints the log and returns 1.
start_nva() {
  ip netns exec "$ns_nva" "$nva" --config "$work/nva.ini" >"$work/nva.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    grep -q "running" "$work/nva.log" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  echo "FAIL: anycast-nva did not start"
  cat "$work/nva.log"
  return 1
}
