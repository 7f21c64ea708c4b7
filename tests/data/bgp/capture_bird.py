#!/usr/bin/python3
"""Captures the raw BGP messages a real BIRD 2 sends, as hex fixture files.

Run as root from anywhere:  tests/data/bgp/capture_bird.py [OUTPUT_DIR]

It creates a network namespace of its own (nvabgp-PID, loopback addresses
from 198.18.0.0/15 only), starts BIRD inside it configured like Azure Route
Server (local AS 65515, passive, multihop, hold 180 s / keepalive 60 s, no
4-octet AS), plays the peer from a plain TCP socket and writes every message
BIRD sends as one .hex file. Two more sessions exercise what Route Server
never sends: 4-octet AS with an IPv6 channel ("mp") and a 4-octet local AS
towards a 2-octet peer, which makes BIRD send AS4_PATH ("as4"). BIRD and the
namespace are removed afterwards, also on failure. Only the standard library.
"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

BIRD_ADDR = "198.18.0.1"
SESSIONS = {
    # name: (peer address, peer AS, offer 4-octet AS capability, AFIs offered)
    "rs": ("198.18.0.2", 65001, False, [1]),
    "mp": ("198.18.0.3", 4200000001, True, [1, 2]),
    "as4": ("198.18.0.4", 65002, False, [1]),
}

BIRD_CONF = """
router id 198.18.0.1;
log "{log}" all;
protocol device {{ }}

# What the NVA's Route Server would hold: the anycast prefix (with a MED,
# communities incl. GRACEFUL_SHUTDOWN and a large community) and one more
# prefix, in a protocol of its own so that disabling it sends a withdrawal.
protocol static s_anycast {{ ipv4; route 198.18.200.0/24 blackhole; }}
protocol static s_extra {{ ipv4; route 198.18.201.0/24 blackhole; }}
protocol static s_v6 {{ ipv6; route 2001:db8:200::/48 blackhole; }}

filter export_rs {{
  if net = 198.18.200.0/24 then {{
    bgp_med = 50;
    bgp_community.add((65515, 100));
    bgp_community.add((65535, 0));
    bgp_large_community.add((65515, 1, 2));
  }}
  accept;
}}

# Azure Route Server: AS 65515, eBGP multihop, 60/180 s, 2-octet AS only,
# route refresh.
protocol bgp bgp_rs {{
  local {bird} as 65515;
  neighbor 198.18.0.2 as 65001;
  multihop 2;
  passive on;
  hold time 180;
  keepalive time 60;
  enable as4 off;
  enable route refresh on;
  ipv4 {{ import all; export filter export_rs; }};
}}

# Not Route Server: 4-octet AS negotiated, IPv4 and IPv6 unicast.
protocol bgp bgp_mp {{
  local {bird} as 65515;
  neighbor 198.18.0.3 as 4200000001;
  multihop 2;
  passive on;
  hold time 180;
  keepalive time 60;
  ipv4 {{ import all; export filter export_rs; }};
  ipv6 {{ import all; export all; next hop address 2001:db8::1; }};
}}

# Not Route Server: a 4-octet local AS towards a 2-octet peer (AS4_PATH).
protocol bgp bgp_as4 {{
  local {bird} as 4200000002;
  neighbor 198.18.0.4 as 65002;
  multihop 2;
  passive on;
  hold time 180;
  keepalive time 60;
  ipv4 {{ import all; export filter export_rs; }};
}}
"""

TYPES = {1: "open", 2: "update", 3: "notification", 4: "keepalive", 5: "route-refresh"}


def run(*argv, check=True):
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def message(msg_type, body=b""):
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), msg_type) + body


def open_message(peer_as, identifier, four_octet, afis):
    caps = b""
    for afi in afis:
        caps += struct.pack("!BBHBB", 1, 4, afi, 0, 1)  # multiprotocol, unicast
    caps += b"\x02\x00"  # route refresh
    if four_octet:
        caps += struct.pack("!BBI", 65, 4, peer_as)
    params = struct.pack("!BB", 2, len(caps)) + caps
    my_as = peer_as if peer_as <= 0xFFFF else 23456
    return message(1, struct.pack("!BHH4sB", 4, my_as, 180,
                                  socket.inet_aton(identifier), len(params)) + params)


class Peer:
    """One TCP connection to BIRD that records what arrives."""

    def __init__(self, addr):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((addr, 0))
        self.sock.settimeout(10)
        for _ in range(50):
            try:
                self.sock.connect((BIRD_ADDR, 179))
                break
            except (ConnectionRefusedError, OSError):
                time.sleep(0.2)
        else:
            raise RuntimeError("BIRD does not accept connections on port 179")
        self.buf = b""
        self.got = []

    def recv_one(self, timeout):
        self.sock.settimeout(timeout)
        while True:
            if len(self.buf) >= 19:
                length = struct.unpack("!H", self.buf[16:18])[0]
                if len(self.buf) >= length:
                    msg, self.buf = self.buf[:length], self.buf[length:]
                    self.got.append(msg)
                    return msg
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                return None
            if not chunk:
                return None
            self.buf += chunk

    def recv_until(self, msg_type, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            msg = self.recv_one(max(0.1, deadline - time.time()))
            if msg is None:
                break
            if msg[18] == msg_type:
                return msg
        raise RuntimeError(f"no {TYPES[msg_type]} from BIRD")

    def drain(self, quiet=1.5):
        while self.recv_one(quiet) is not None:
            pass


def birdc(sock, *args):
    out = run("birdc", "-s", sock, *args)
    return out.stdout


def capture(sock, name):
    addr, peer_as, four_octet, afis = SESSIONS[name]
    peer = Peer(addr)
    peer.recv_until(1)  # BIRD's OPEN
    peer.sock.sendall(open_message(peer_as, addr, four_octet, afis) + message(4))
    peer.recv_until(4)  # KEEPALIVE: Established
    peer.drain()  # the initial UPDATEs (and End-of-RIB)
    if name == "rs":
        # Route refresh both ways, a withdrawal, then an administrative stop
        # with a shutdown communication (RFC 9003).
        peer.sock.sendall(message(5, struct.pack("!HBB", 1, 0, 1)))
        peer.drain()
        birdc(sock, "reload", "in", "bgp_" + name)
        peer.recv_until(5)
        birdc(sock, "disable", "s_extra")
        peer.recv_until(2)
        birdc(sock, "disable", "bgp_" + name, "\"maintenance\"")
    else:
        birdc(sock, "disable", "bgp_" + name)
    peer.recv_until(3)
    peer.sock.close()
    return peer.got


def inside(outdir, workdir):
    """Runs in the namespace: starts BIRD, captures, stops BIRD."""
    conf = os.path.join(workdir, "bird.conf")
    sock = os.path.join(workdir, "bird.ctl")
    with open(conf, "w") as f:
        f.write(BIRD_CONF.format(bird=BIRD_ADDR, log=os.path.join(workdir, "bird.log")))
    check = run("bird", "-p", "-c", conf, check=False)
    if check.returncode != 0:
        raise RuntimeError(f"bird.conf: {check.stderr.strip()}")
    bird = subprocess.Popen(["bird", "-f", "-c", conf, "-s", sock,
                             "-P", os.path.join(workdir, "bird.pid")])
    try:
        for _ in range(50):
            if os.path.exists(sock):
                break
            time.sleep(0.1)
        version = birdc(sock, "show", "status").splitlines()[0].strip()
        written = []
        for name in SESSIONS:
            counts = {}
            for msg in capture(sock, name):
                kind = TYPES.get(msg[18], f"type{msg[18]}")
                counts[kind] = counts.get(kind, 0) + 1
                path = os.path.join(outdir, f"bird-{name}-{kind}-{counts[kind]}.hex")
                with open(path, "w") as f:
                    f.write(msg.hex() + "\n")
                written.append(os.path.basename(path))
        print("\n".join(written))
        print(f"captured from {version}")
    finally:
        bird.send_signal(signal.SIGTERM)
        try:
            bird.wait(5)
        except subprocess.TimeoutExpired:
            bird.kill()
            bird.wait()


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "--inside":
        inside(sys.argv[2], sys.argv[3])
        return 0
    outdir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1
                             else os.path.dirname(os.path.abspath(__file__)))
    if os.geteuid() != 0 or not shutil.which("bird"):
        print("capture_bird: needs root and bird2 (apt-get install bird2)", file=sys.stderr)
        return 2
    ns = f"nvabgp-{os.getpid()}"
    workdir = tempfile.mkdtemp(prefix="nvabgp-")
    run("ip", "netns", "add", ns)
    try:
        run("ip", "-n", ns, "link", "set", "lo", "up")
        for addr in [BIRD_ADDR] + [s[0] for s in SESSIONS.values()]:
            run("ip", "-n", ns, "addr", "add", f"{addr}/32", "dev", "lo")
        subprocess.run(["ip", "netns", "exec", ns, sys.executable,
                        os.path.abspath(__file__), "--inside", outdir, workdir],
                       check=True, timeout=120)
    finally:
        # Whatever still runs in the namespace was started by this script.
        pids = run("ip", "netns", "pids", ns, check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        run("ip", "netns", "del", ns, check=False)
        if os.path.exists(os.path.join(workdir, "bird.log")):
            with open(os.path.join(workdir, "bird.log")) as f:
                log = f.read()
            if "Error" in log or "error" in log:
                print(log, file=sys.stderr)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
