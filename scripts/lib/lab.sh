# The shell library of the lab and of the tests in network namespaces.
# shellcheck shell=bash disable=SC2034  # its variables are for the scripts that source it
#
# Sourced (bash) by scripts/lab and by the tests that run the daemon, BIRD or
# scapy (tests/lab/*.sh, tests/hostile/hostile_test.sh,
# tests/replay/replay_test.sh): one home for waiting, processes, cleanup,
# namespaces and veths, BIRD as Route Server, the daemon's readiness and
# telemetry, and the two-region lab's names. It defines functions and
# variables only.
#
#   waiting    now_ms; wait_until SECONDS CMD... (sets waited_ms);
#              holds_for SECONDS CMD...; not CMD...
#   processes  running PID; spawn NS LOG CMD... (sets spawned_pid);
#              spawn_detached PIDFILE LOG NS CMD...; alive PIDFILE;
#              stop_pid PID [SIGNAL [SECONDS]]; stop_pidfile FILE [SIGNAL [SECONDS]]
#   tests      require_root; require_tools TOOL...; require_scapy; test_names
#              (sets run, run_ns, run_link); make_work NAME (sets work, and
#              cleanup_on_exit: with the test's on_cleanup, if any); cleanup_path PATH...
#   links      netns_new NS...; netns_del NS...; veth [--no-offload] NS_A IF_A ADDR_A
#              NS_B IF_B ADDR_B; offload_off NS DEV; link_mac NS DEV
#   BIRD       bird_head ROUTER_ID LOG; bird_bgp NAME ...; rs_session ...;
#              rs_import_filter NAME NVA_AS PREFIX...; bird_start NS CONF CTL LOG [PIDFILE];
#              bird_cmd CTL CMD...; bird_has_route CTL PREFIX;
#              bird_established CTL PROTOCOL; bird_withdraws CTL PROTOCOL
#   daemon     nva_start BIN NS INI PREFIX LOG [PIDFILE] (sets nva_pid);
#              nva_wait_ready PREFIX PID LOG [SECONDS]; nva_ready PREFIX;
#              nva_get PREFIX COMMAND [KEY...]; nva_ctl PREFIX NVACTL_ARGS...;
#              nva_next_snapshot PREFIX [SECONDS]
#   pair       pair_up NS_NVA IF_NVA NS_PEER IF_PEER (sets nva_mac);
#              pair_rs WORK NS_PEER IMPORT [DEFINITIONS]; pair_ini_dataplane;
#              pair_ini_bgp
#   lab        lab_init; the names (lab_ns, lab_link, addr, up_gw, ...) and
#              queries (rs_has_vip, onprem_nexthops, region_withdrawn, ...)
#              of the two-region lab (docs/LAB.md)

LAB_LIB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB_NVACTL="$LAB_LIB_ROOT/scripts/nvactl"
# Debian's interpreter: it has scapy (a python3 earlier on PATH may not).
LAB_PY=/usr/bin/python3
[ -x "$LAB_PY" ] || LAB_PY=$(command -v python3)

# --- waiting ------------------------------------------------------------------

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# _lab_ms SECONDS: whole or decimal seconds ("1.5") in milliseconds.
_lab_ms() {
  local s=$1 i f=
  i=${s%%.*}
  [[ "$s" == *.* ]] && f=${s#*.}
  f=${f}000
  echo $((10#${i:-0} * 1000 + 10#${f:0:3}))
}

# not COMMAND...: true when COMMAND fails (for wait_until and holds_for).
not() { ! "$@"; }

# wait_until SECONDS COMMAND...: runs COMMAND until it succeeds (0) or SECONDS
# have passed (1), with $WAIT_EVERY seconds between tries (0.05 unless the
# caller sets it: WAIT_EVERY=0.2 wait_until 30 ...). Bounded in time and in
# tries (SECONDS / WAIT_EVERY + 2). Sets waited_ms: the time from the call to
# the end of the try that succeeded (or of the last one).
waited_ms=0
wait_until() {
  local limit every tries n=0 t0
  limit=$(_lab_ms "$1")
  shift
  every=${WAIT_EVERY:-0.05}
  tries=$(_lab_ms "$every")
  tries=$((limit / (tries > 0 ? tries : 1) + 2))
  t0=$(now_ms)
  while :; do
    if "$@"; then
      waited_ms=$(($(now_ms) - t0))
      return 0
    fi
    n=$((n + 1))
    waited_ms=$(($(now_ms) - t0))
    if [ "$waited_ms" -ge "$limit" ] || [ "$n" -ge "$tries" ]; then return 1; fi
    sleep "$every"
  done
}

# holds_for SECONDS COMMAND...: 0 if COMMAND succeeds at every try for
# SECONDS ($WAIT_EVERY apart), 1 at the first try where it fails (waited_ms
# says when): for what must not happen within a time.
holds_for() {
  local s=$1
  shift
  ! wait_until "$s" not "$@"
}

# --- processes ----------------------------------------------------------------

# running PID: the process exists and is not a zombie (the lab's processes
# are orphans: whoever is PID 1 may take a while to reap them).
running() {
  [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null
}
# alive PIDFILE: the pid file's process is running.
alive() { [ -f "$1" ] && running "$(cat "$1" 2>/dev/null)"; }

# spawn NS LOG COMMAND...: COMMAND in namespace NS, a child of this shell
# (wait gets its status), output appended to LOG; its pid in spawned_pid.
# Killed at exit if cleanup_on_exit was called.
cleanup_pids=()
spawned_pid=
spawn() {
  local n=$1 logf=$2
  shift 2
  ip netns exec "$n" "$@" </dev/null >>"$logf" 2>&1 &
  spawned_pid=$!
  cleanup_pids+=("$spawned_pid")
}

# spawn_detached PIDFILE LOG NS COMMAND...: COMMAND in NS in a session of its
# own (it outlives the caller: the lab's processes), output appended to LOG,
# its pid in PIDFILE and spawned_pid; 1 if the pid file is not there in 1 s.
spawn_detached() {
  local pidf=$1 logf=$2 n=$3
  shift 3
  rm -f "$pidf"
  # shellcheck disable=SC2016  # $$ and "$@" are the inner shell's
  setsid sh -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pidf" \
    ip netns exec "$n" "$@" </dev/null >>"$logf" 2>&1 &
  WAIT_EVERY=0.02 wait_until 1 test -s "$pidf" || return 1
  spawned_pid=$(cat "$pidf")
}

# stop_pid PID [SIGNAL [SECONDS]]: SIGNAL (TERM), then up to SECONDS (5) for
# the process to end, then KILL; a child of this shell is reaped.
stop_pid() {
  local p=$1 sig=${2:-TERM} w=${3:-5}
  if running "$p"; then
    kill "-$sig" "$p" 2>/dev/null
    WAIT_EVERY=0.02 wait_until "$w" not running "$p" || kill -KILL "$p" 2>/dev/null
  fi
  wait "$p" 2>/dev/null
  return 0
}
# stop_pidfile FILE [SIGNAL [SECONDS]]: stop_pid for the pid in FILE, which goes.
stop_pidfile() {
  [ -f "$1" ] || return 0
  stop_pid "$(cat "$1")" "${2:-TERM}" "${3:-5}"
  rm -f "$1"
}

# --- tests: skipping, names, cleanup ------------------------------------------
# A test skips (exit 77) without what it needs.

require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: needs root for network namespaces"
    exit 77
  fi
}
require_tools() {
  local t
  for t in "$@"; do
    if ! command -v "$t" >/dev/null; then
      echo "SKIP: $t not installed (scripts/install-deps)"
      exit 77
    fi
  done
}
require_scapy() {
  "$LAB_PY" -c 'import scapy' 2>/dev/null || {
    echo "SKIP: $LAB_PY has no scapy (scripts/install-deps)"
    exit 77
  }
}

# test_names: names unique to this run. scripts/test exports NVA_TEST_RUN_ID
# and removes whatever carries it after a crash; without it, this shell's pid.
# Sets run, run_ns (namespaces "$run_ns-x" and DPDK file prefixes
# "${run_ns}_x" start with it) and run_link (veth names: "${run_link}x", at
# most 4 more characters for Linux's 15).
test_names() {
  run=${NVA_TEST_RUN_ID:-$$}
  run_ns="nvat$run"
  run_link="nv$run"
}

# cleanup_on_exit: at exit, also on INT or TERM (meson's timeout), runs the
# test's on_cleanup if it defines one (logs on failure, scripts/lab down),
# kills what spawn started, kills what runs in the namespaces netns_new made
# and deletes them, and removes the paths of cleanup_path and make_work.
cleanup_netns=()
cleanup_paths=()
cleanup_on_exit() {
  trap _lab_cleanup EXIT
  trap 'exit 143' TERM
  trap 'exit 130' INT
}
cleanup_path() { cleanup_paths+=("$@"); }
_lab_cleanup() {
  local p jobs
  if declare -F on_cleanup >/dev/null; then on_cleanup; fi
  # Only children not reaped yet: a pid waited for may be another's by now.
  jobs=" $(jobs -p | tr '\n' ' ') "
  for p in "${cleanup_pids[@]}"; do
    [[ "$jobs" == *" $p "* ]] || continue
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  netns_del "${cleanup_netns[@]}"
  [ "${#cleanup_paths[@]}" -eq 0 ] || rm -rf "${cleanup_paths[@]}"
}

# make_work NAME: a new directory /tmp/NAME.XXXXXX in `work`, removed at
# exit with the rest (it calls cleanup_on_exit).
make_work() {
  work=$(mktemp -d "/tmp/$1.XXXXXX") || exit 1
  cleanup_paths+=("$work")
  cleanup_on_exit
}

# --- namespaces and links -----------------------------------------------------

# netns_new NS...: each namespace with lo up; deleted at exit (cleanup_on_exit).
netns_new() {
  local n
  for n in "$@"; do
    ip netns add "$n" || return 1
    cleanup_netns+=("$n")
    ip -n "$n" link set lo up || return 1
  done
}
# netns_del NS...: kills whatever runs in each namespace (only ever one this
# run made), then deletes it, and with it its end of every veth.
netns_del() {
  local n p
  for n in "$@"; do
    for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$n" 2>/dev/null
  done
  return 0
}

# offload_off NS DEV: no checksum offload, no super-frames (TSO, GSO, GRO):
# an AF_PACKET port then sees what a NIC would, checksums and at most the MTU.
offload_off() {
  ip netns exec "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
}

# veth [--no-offload] NS_A IF_A ADDR_A NS_B IF_B ADDR_B: a veth pair made
# inside the namespaces (no name ever in the root namespace), both ends up,
# with ADDR/LEN on each ("" for none); --no-offload: offload_off on both.
veth() {
  local off=0
  [ "$1" = --no-offload ] && { off=1; shift; }
  local na=$1 ia=$2 aa=$3 nb=$4 ib=$5 ab=$6
  ip -n "$na" link add "$ia" type veth peer name "$ib" netns "$nb" || return 1
  [ -z "$aa" ] || ip -n "$na" addr add "$aa" dev "$ia" || return 1
  [ -z "$ab" ] || ip -n "$nb" addr add "$ab" dev "$ib" || return 1
  ip -n "$na" link set "$ia" up && ip -n "$nb" link set "$ib" up || return 1
  if [ "$off" -eq 1 ]; then
    offload_off "$na" "$ia"
    offload_off "$nb" "$ib"
  fi
}

# link_mac NS DEV: the link's MAC address.
link_mac() { ip -n "$1" -o link show "$2" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'; }

# --- BIRD as Route Server ------------------------------------------------------
# Azure Route Server: AS 65515, 2-octet ASNs only towards the NVA, eBGP
# multihop; every lab BIRD connects quickly (delay 1 s, retry 2 s).

RS_AS=65515

# bird_head ROUTER_ID LOG: how every lab BIRD's configuration starts: the
# router id, everything logged to LOG with millisecond times, interfaces
# scanned every second.
bird_head() {
  cat <<EOF
router id $1;
log "$2" all;
timeformat route iso long ms;
timeformat protocol iso long ms;
timeformat log iso long ms;
protocol device { scan time 1; }
EOF
}

# bird_bgp NAME LOCAL LOCAL_AS NEIGHBOR NEIGHBOR_AS CHANNEL [OPTION...]: a
# multihop "protocol bgp NAME" with each OPTION as a line and CHANNEL as the
# ipv4 channel's body ("import all; export none;").
bird_bgp() {
  local name=$1 l=$2 las=$3 nbr=$4 nas=$5 channel=$6 o
  shift 6
  echo "protocol bgp $name {"
  echo "  local $l as $las;"
  echo "  neighbor $nbr as $nas;"
  echo "  multihop;"
  echo "  connect delay time 1;"
  echo "  connect retry time 2;"
  for o in "$@"; do echo "  $o;"; done
  echo "  ipv4 { $channel };"
  echo "}"
}

# rs_session LOCAL NVA NVA_AS CHANNEL [OPTION...]: a Route Server instance's
# session with the NVA, named "nva" (the tests read `show protocols all nva`
# and, with "debug { routes }", the log's "nva.ipv4 > added/removed").
rs_session() {
  local l=$1 n=$2 nas=$3 channel=$4
  shift 4
  bird_bgp nva "$l" "$RS_AS" "$n" "$nas" "$channel" "enable as4 off" "$@"
}

# rs_import_filter NAME NVA_AS PREFIX...: the Route Server's import policy
# (RFC 8212: a filter, not "all"): only the PREFIXes, from the NVA's AS, and
# no path through the Route Server's own AS.
rs_import_filter() {
  local name=$1 nas=$2
  shift 2
  local set
  set=$(printf '%s, ' "$@")
  cat <<EOF
filter $name {
  if net ~ [ ${set%, } ] && bgp_path.first = $nas && !($RS_AS ~ bgp_path) then accept;
  reject;
}
EOF
}

# bird_cmd CTL COMMAND...: birdc on the control socket CTL (3 s at most).
bird_cmd() {
  local s=$1
  shift
  timeout 3 birdc -s "$s" "$@" 2>/dev/null
}
bird_has_route() { bird_cmd "$1" show route "$2" | grep -q "^$2"; }
bird_established() { bird_cmd "$1" show protocols "$2" | grep -q Established; }
# bird_withdraws CTL PROTOCOL: the withdrawals the protocol has imported.
bird_withdraws() { bird_cmd "$1" show protocols all "$2" | awk '/Import withdraws:/ {print $3}'; }

# bird_start NS CONF CTL LOG [PIDFILE]: BIRD 2 in NS with CONF and control
# socket CTL, output appended to LOG: a child of this shell (spawned_pid),
# or with PIDFILE detached (the lab's). 0 once its control socket answers
# (10 s at most), 1 if it does not or BIRD exited.
bird_start() {
  local n=$1 conf=$2 ctl=$3 logf=$4 pidf=${5:-}
  rm -f "$ctl"
  if [ -n "$pidf" ]; then
    spawn_detached "$pidf" "$logf" "$n" bird -f -c "$conf" -s "$ctl" || return 1
  else
    spawn "$n" "$logf" bird -f -c "$conf" -s "$ctl"
  fi
  WAIT_EVERY=0.1 wait_until 10 _lab_up_or_gone "$spawned_pid" bird_cmd "$ctl" show status \
    >/dev/null && running "$spawned_pid"
}

# _lab_up_or_gone PID COMMAND...: COMMAND succeeds, or the process is gone.
_lab_up_or_gone() {
  local p=$1
  shift
  ! running "$p" || "$@"
}

# --- the daemon: start, readiness and telemetry --------------------------------
# Through DPDK's telemetry socket of the daemon's EAL file prefix, with
# scripts/nvactl's client (docs/TELEMETRY.md); the daemon republishes its
# /nva/ snapshots every 500 ms.

# The telemetry helper: "get PREFIX COMMAND [KEY...]" prints a value (JSON
# for objects and lists), "ready PREFIX" exits 0 when the daemon runs.
_lab_nvaq=$(
  cat <<'PY'
import importlib.machinery, importlib.util, json, os, sys
loader = importlib.machinery.SourceFileLoader("nvactl", sys.argv[1])
nvactl = importlib.util.module_from_spec(importlib.util.spec_from_loader("nvactl", loader))
loader.exec_module(nvactl)
mode, prefix, args = sys.argv[2], sys.argv[3], sys.argv[4:]
try:
    client = nvactl.Client(os.path.join(nvactl.runtime_dir(prefix), nvactl.SOCKET_NAME))
    try:
        if mode == "get":
            v = client.request(args[0])
            for k in args[1:]:
                v = v[k] if isinstance(v, dict) else v[int(k)]
            print(v if isinstance(v, str) else json.dumps(v))
        else:
            info, workers = client.request("/nva/info"), client.request("/nva/workers")
            sys.exit(0 if info["state"] == "running" and info["dataplane_healthy"] == 1
                     and len(workers) == info["workers"]
                     and all(w["heartbeat"] > 0 for w in workers.values()) else 1)
    finally:
        client.close()
except (nvactl.NvactlError, KeyError, IndexError, TypeError, ValueError) as e:
    sys.exit("nva_get %s: %s" % (" ".join(sys.argv[3:]), e))
PY
)

# nva_get PREFIX COMMAND [KEY...]: the value at KEY... (a dict key or a list
# index) of the daemon's answer to COMMAND (/nva/info ...); non-zero, and why
# on stderr, if it does not answer or a KEY is missing.
nva_get() { "$LAB_PY" -c "$_lab_nvaq" "$LAB_NVACTL" get "$@"; }

# nva_ctl PREFIX ARGS...: scripts/nvactl for the daemon with file prefix PREFIX.
nva_ctl() {
  local p=$1
  shift
  "$LAB_PY" "$LAB_NVACTL" -f "$p" "$@"
}

# nva_ready PREFIX: the daemon says it runs: /nva/info's state is "running"
# with a healthy data plane, and each of its workers has a heartbeat in
# /nva/workers (the worker loop turned since it started).
nva_ready() { "$LAB_PY" -c "$_lab_nvaq" "$LAB_NVACTL" ready "$1" 2>/dev/null; }

# nva_wait_ready PREFIX PID LOG [SECONDS]: waits up to SECONDS (20) for
# nva_ready while the process runs; if it does not come, says why and shows
# the log's end (stderr), and returns 1.
nva_wait_ready() {
  local prefix=$1 p=$2 logf=$3 limit=${4:-20}
  if WAIT_EVERY=0.1 wait_until "$limit" _lab_up_or_gone "$p" nva_ready "$prefix" &&
    running "$p"; then
    return 0
  fi
  if running "$p"; then
    echo "anycast-nva ($prefix): its telemetry does not say running after $limit s" >&2
  else
    echo "anycast-nva ($prefix) exited before it was running" >&2
  fi
  tail -n 40 "$logf" >&2
  return 1
}

# nva_start BIN NS INI PREFIX LOG [PIDFILE]: anycast-nva BIN with INI
# (whose EAL file prefix is PREFIX) in NS, output in LOG (emptied first): a
# child of this shell, or with PIDFILE detached; its pid in nva_pid;
# nva_wait_ready's answer.
nva_pid=
nva_start() {
  local bin=$1 n=$2 ini=$3 prefix=$4 logf=$5 pidf=${6:-}
  : >"$logf"
  if [ -n "$pidf" ]; then
    spawn_detached "$pidf" "$logf" "$n" "$bin" --config "$ini" || return 1
  else
    spawn "$n" "$logf" "$bin" --config "$ini"
  fi
  nva_pid=$spawned_pid
  nva_wait_ready "$prefix" "$nva_pid" "$logf"
}

# nva_next_snapshot PREFIX [SECONDS]: waits (3 s at most) for a snapshot
# published after the call (worker 0's heartbeat changes): what it counts
# includes everything that happened before the call.
nva_next_snapshot() {
  local hb
  hb=$(nva_get "$1" /nva/workers 0 heartbeat) || return 1
  WAIT_EVERY=0.1 wait_until "${2:-3}" _lab_heartbeat_not "$1" "$hb"
}
_lab_heartbeat_not() {
  local hb
  hb=$(nva_get "$1" /nva/workers 0 heartbeat) && [ "$hb" != "$2" ]
}

# --- the NVA and its peer -------------------------------------------------------
# tests/lab/daemon_test.sh and hostile_daemon_test.sh: the NVA's namespace and
# its peer's (client, backend and Route Server), one veth between them,
# PAIR_NVA on the NVA's side, PAIR_PEER on the peer's (the kernels keep their
# addresses for BGP and probes; AF_PACKET leaves the kernel its traffic).

PAIR_NVA=198.18.0.2
PAIR_PEER=198.18.0.4
PAIR_NVA_AS=65001

# pair_ini_dataplane, pair_ini_bgp: the NVA's configuration lines for the
# pair, in its [dataplane] (the port, the peer as next hop, its own address)
# and [bgp] (its AS, the peer as Route Server rs1).
pair_ini_dataplane() {
  printf 'ports = net_af_packet0\ngateway = %s\naddress = %s\n' "$PAIR_PEER" "$PAIR_NVA"
}
pair_ini_bgp() {
  printf 'local_as = %s\nrouter_id = %s\nsource = %s\npeer = %s:%s name=rs1\n' \
    "$PAIR_NVA_AS" "$PAIR_NVA" "$PAIR_NVA" "$PAIR_PEER" "$RS_AS"
}

# pair_up NS_NVA IF_NVA NS_PEER IF_PEER: both namespaces and the veth (the
# namespaces go at exit); sets nva_mac, the NVA's end's MAC address.
pair_up() {
  netns_new "$1" "$3" || return 1
  veth "$1" "$2" "$PAIR_NVA/24" "$3" "$4" "$PAIR_PEER/24" || return 1
  nva_mac=$(link_mac "$1" "$2")
}

# pair_rs WORK NS_PEER IMPORT [DEFINITIONS]: BIRD in the peer's namespace as
# Route Server for the NVA (AS PAIR_NVA_AS) with the ipv4 channel's IMPORT
# ("all", "filter NAME") and DEFINITIONS (filters) before the session; its
# files are WORK/bird.{conf,log,ctl,out}. bird_start's answer.
pair_rs() {
  local w=$1 n=$2 import=$3 defs=${4:-}
  {
    bird_head "$PAIR_PEER" "$w/bird.log"
    echo "$defs"
    rs_session "$PAIR_PEER" "$PAIR_NVA" "$PAIR_NVA_AS" "import $import; export none;"
  } >"$w/bird.conf"
  bird_start "$n" "$w/bird.conf" "$w/bird.ctl" "$w/bird.out"
}

# --- the two-region lab (docs/LAB.md) ------------------------------------------
# Its names and addresses and what scripts/lab and tests/lab/lab_test.sh ask
# of it. lab_init first.

# lab_init: LAB_NAME (default nvalab) and LAB_LINK_PREFIX (default LAB_NAME
# cut to 8 characters) checked, STATE, and the lab's constants. 1 (and why)
# if a name is not usable.
lab_init() {
  LAB_NAME=${LAB_NAME:-nvalab}
  LAB_LINK_PREFIX=${LAB_LINK_PREFIX:-${LAB_NAME:0:8}}
  if ! [[ "$LAB_NAME" =~ ^[a-z0-9]{1,16}$ ]]; then
    echo "lab: LAB_NAME must be 1-16 characters a-z0-9, got '$LAB_NAME'" >&2
    return 1
  fi
  if ! [[ "$LAB_LINK_PREFIX" =~ ^[a-z0-9]{1,10}$ ]]; then
    echo "lab: LAB_LINK_PREFIX must be 1-10 characters a-z0-9 (link names <= 15)" >&2
    return 1
  fi
  STATE=/run/nva-lab-$LAB_NAME
  VIP=198.19.0.10
  VIP_PORT=80
  BACKEND_PORT=8080
  AS_A=65001
  AS_B=${LAB_AS_B:-65001}
  AS_ONPREM=65100
  REGIONS=(a b)
  HOSTS=(nva rs1 rs2 be1 be2 be3)
  BIRDS=(onprem a-rs1 a-rs2 b-rs1 b-rs2)
}

lab_ns() { echo "$LAB_NAME-$1"; }         # lab_ns a-gw -> nvalab-a-gw
lab_link() { echo "$LAB_LINK_PREFIX$1"; } # lab_link anh -> nvalabanh
lab_nsx() {                               # lab_nsx a-gw COMMAND...: in a lab namespace
  local n
  n=$(lab_ns "$1")
  shift
  ip netns exec "$n" "$@"
}
lab_prefix() { echo "${LAB_NAME}_$1"; } # region -> its NVA's DPDK file prefix
lc() { echo "$1" | tr 'AB' 'ab'; }
uc() { echo "$1" | tr 'ab' 'AB'; }
oct() { [ "$1" = a ] && echo 1 || echo 2; } # region -> third octet
up_gw() { [ "$1" = a ] && echo 198.51.100.1 || echo 198.51.100.5; }
up_rt() { [ "$1" = a ] && echo 198.51.100.2 || echo 198.51.100.6; }
region_as() { [ "$1" = a ] && echo "$AS_A" || echo "$AS_B"; }
# host name -> last octet
host_octet() {
  case "$1" in
    nva) echo 2 ;; snat) echo 3 ;; rs1) echo 4 ;; rs2) echo 5 ;;
    be1) echo 11 ;; be2) echo 12 ;; be3) echo 13 ;;
  esac
}
# host name -> short link code (link names: PREFIX + region + code + g|h)
host_code() {
  case "$1" in
    nva) echo n ;; rs1) echo r1 ;; rs2) echo r2 ;; be1) echo b1 ;; be2) echo b2 ;; be3) echo b3 ;;
  esac
}
addr() { echo "198.18.$(oct "$1").$(host_octet "$2")"; } # addr a nva
lab_all_ns() {
  echo client onprem
  local r h
  for r in "${REGIONS[@]}"; do
    echo "$r-gw"
    for h in "${HOSTS[@]}"; do echo "$r-$h"; done
  done
}

# lab_birdc NAME COMMAND...: NAME = onprem, a-rs1, ...
lab_birdc() {
  local s="$STATE/$1.ctl"
  shift
  bird_cmd "$s" "$@"
}
rs_has_vip() { bird_has_route "$STATE/$1.ctl" "$VIP/32"; }
region_withdrawn() { ! rs_has_vip "$1-rs1" && ! rs_has_vip "$1-rs2"; }
region_announced() { rs_has_vip "$1-rs1" && rs_has_vip "$1-rs2"; }
# onprem_nexthops: the uplinks the on-prem kernel uses for the VIP.
onprem_nexthops() {
  ip -n "$(lab_ns onprem)" route show "$VIP" 2>/dev/null | grep -o 'via [0-9.]*' |
    awk '{print $2}' | sort -u
}
onprem_ecmp() { [ "$(onprem_nexthops | wc -l)" -eq 2 ]; }
onprem_only_via() { [ "$(onprem_nexthops | tr '\n' ' ')" = "$1 " ]; }
