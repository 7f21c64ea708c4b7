"""Traffic side of the daemon's hostile test (hostile_daemon_test.sh), run in
the peer namespace: scapy plays the clients and the backend of a dnat VIP,
with real sequence numbers, and floods the VIP.

  hostile_daemon_traffic.py IFACE NVA_MAC COUNT OUT.json

Establishes one TCP connection through the daemon, then for each attack
sends COUNT spoofed packets, paced so the AF_PACKET ring keeps up:
bad-checksum ACKs, right-checksum mid-stream ACKs (picked up, never
answered), SYNs, and blind RSTs at the established connection's 4-tuple
(both directions, sequence numbers far outside the window). After each
flood the established connection's data must pass both ways (after the
RSTs, once a closed connection would have expired, the backend first) and a
new client's handshake and data must pass. Writes what it sent per attack to
OUT.json; exit 0 when every honest exchange went through.
"""
import json
import random
import socket
import sys
import threading
import time

from scapy.all import IP, TCP, Ether, Raw, conf, get_if_hwaddr

conf.verb = 0
iface, nva_mac, count, out_path = sys.argv[1], sys.argv[2].lower(), int(sys.argv[3]), \
    sys.argv[4]
my_mac = get_if_hwaddr(iface)
VIP, BACKEND, VPORT, BPORT = "198.19.0.10", "198.18.2.1", 80, 8080
CLOSED_WAIT = 2.0  # s: twice [timeouts] tcp_closed_ms of hostile_daemon_test.sh
HONEST_NET = bytes([192, 0, 2])  # clients; flood sources are 203.0.113/24, 198.51.100/24
rng = random.Random(12)
failures = 0

sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
sock.bind((iface, 0))
nva_mac_bytes = bytes.fromhex(nva_mac.replace(":", ""))

# Frames from the NVA to or from an honest client, collected by a thread
# (raw bytes: the daemon also forwards the flood, which is filtered out
# without dissecting it).
seen = []
stop = threading.Event()


def receive():
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            f = sock.recv(65535)
        except socket.timeout:
            continue
        if (len(f) >= 34 and f[6:12] == nva_mac_bytes and f[12:14] == b"\x08\x00" and
                (f[26:29] == HONEST_NET or f[30:33] == HONEST_NET)):
            seen.append(f)


threading.Thread(target=receive, daemon=True).start()


def send(frames, chunk=64, pause=0.003):
    """Raw frames, `chunk` at a time with a pause between chunks."""
    for i in range(0, len(frames), chunk):
        for f in frames[i:i + chunk]:
            sock.send(f)
        time.sleep(pause)


def exchange(pkt, match, what, timeout=5.0):
    """Sends pkt (again every 0.5 s until an answer) and returns the first
    frame from the NVA that `match` accepts."""
    global failures
    start = len(seen)
    frame = bytes(Ether(src=my_mac, dst=nva_mac) / pkt)
    deadline = time.time() + timeout
    while time.time() < deadline:
        sock.send(frame)
        until = time.time() + 0.5
        while time.time() < until:
            for f in seen[start:]:
                p = Ether(f)
                if TCP in p and match(p):
                    return p
            time.sleep(0.02)
    print(f"FAIL: {what}: nothing came back")
    failures += 1
    return None


class Flow:
    """One honest client of the VIP and the backend's side of it."""

    def __init__(self, n):
        self.client, self.cport = f"192.0.2.{10 + n}", 30000 + n
        self.cseq, self.bseq = 1_000_000 * (n + 1), 7_000_000 * (n + 1)
        self.name = f"client {self.client}:{self.cport}"

    def to_backend(self, p, flags, payload=None):
        return (p[IP].src == self.client and p[IP].dst == BACKEND and
                p[TCP].sport == self.cport and p[TCP].dport == BPORT and
                p[TCP].flags == flags and (payload is None or bytes(p[TCP].payload) == payload))

    def to_client(self, p, flags, payload=None):
        return (p[IP].src == VIP and p[IP].dst == self.client and p[TCP].sport == VPORT and
                p[TCP].dport == self.cport and p[TCP].flags == flags and
                (payload is None or bytes(p[TCP].payload) == payload))

    def connect(self):
        c, b = self.cseq, self.bseq
        ok = exchange(IP(src=self.client, dst=VIP) /
                      TCP(sport=self.cport, dport=VPORT, flags="S", seq=c),
                      lambda p: self.to_backend(p, "S"), f"{self.name}: SYN to the backend")
        ok = ok and exchange(IP(src=BACKEND, dst=self.client) /
                             TCP(sport=BPORT, dport=self.cport, flags="SA", seq=b, ack=c + 1),
                             lambda p: self.to_client(p, "SA"),
                             f"{self.name}: SYN-ACK to the client")
        self.cseq, self.bseq = c + 1, b + 1
        ok = ok and exchange(IP(src=self.client, dst=VIP) /
                             TCP(sport=self.cport, dport=VPORT, flags="A", seq=self.cseq,
                                 ack=self.bseq),
                             lambda p: self.to_backend(p, "A"), f"{self.name}: ACK to the backend")
        return ok is not None and ok is not False

    def data(self, tag, backend_first=False):
        """A request to the backend and its answer to the client; with
        `backend_first` the backend speaks first (a push, then the client's
        reply): the reply direction has no pick-up, so it passes only if the
        connection is still in the table."""
        req, resp = f"GET /{tag}\r\n".encode(), f"200 {tag}\r\n".encode()

        def request():
            r = exchange(IP(src=self.client, dst=VIP) /
                         TCP(sport=self.cport, dport=VPORT, flags="PA", seq=self.cseq,
                             ack=self.bseq) / Raw(req),
                         lambda p: self.to_backend(p, "PA", req),
                         f"{self.name}: {tag}: client to backend")
            self.cseq += len(req)
            return r

        def answer():
            r = exchange(IP(src=BACKEND, dst=self.client) /
                         TCP(sport=BPORT, dport=self.cport, flags="PA", seq=self.bseq,
                             ack=self.cseq) / Raw(resp),
                         lambda p: self.to_client(p, "PA", resp),
                         f"{self.name}: {tag}: backend to client")
            self.bseq += len(resp)
            return r

        first, second = (answer, request) if backend_first else (request, answer)
        ok, ok2 = first(), second()
        if ok is not None and ok2 is not None:
            print(f"ok: {self.name}: {tag}: data both ways"
                  f"{' (backend first)' if backend_first else ''}")


def spoofed():
    net = rng.choice(["203.0.113", "198.51.100"])
    return f"{net}.{rng.randrange(1, 255)}", rng.randrange(1024, 65536)


def frame(pkt):
    return bytes(Ether(src=my_mac, dst=nva_mac) / pkt)


def far_from(seq):
    """A guessed sequence number at least 2^24 from `seq` (outside any window)."""
    while True:
        s = rng.getrandbits(32)
        if min((s - seq) % 2**32, (seq - s) % 2**32) >= 2**24:
            return s


def floods(est):
    out = {}
    frames = []
    for _ in range(count):
        s, sp = spoofed()
        good = IP(src=s, dst=VIP) / TCP(sport=sp, dport=VPORT, flags="A",
                                        seq=rng.getrandbits(32), ack=rng.getrandbits(32))
        right = IP(bytes(good))[TCP].chksum
        bad = good.copy()
        bad[TCP].chksum = right ^ 0x5A5A
        frames.append(frame(bad))
    out["bad-checksum-acks"] = frames
    out["spoofed-acks"] = [frame(IP(src=s, dst=VIP) /
                                 TCP(sport=sp, dport=VPORT, flags="A",
                                     seq=rng.getrandbits(32), ack=rng.getrandbits(32)))
                           for s, sp in (spoofed() for _ in range(count))]
    out["syn-flood"] = [frame(IP(src=s, dst=VIP) /
                              TCP(sport=sp, dport=VPORT, flags="S", seq=rng.getrandbits(32)))
                        for s, sp in (spoofed() for _ in range(count))]
    frames = []
    for i in range(count):
        if i % 2 == 0:
            pkt = IP(src=est.client, dst=VIP) / TCP(sport=est.cport, dport=VPORT, flags="R",
                                                    seq=far_from(est.cseq))
        else:
            pkt = IP(src=BACKEND, dst=est.client) / TCP(sport=BPORT, dport=est.cport,
                                                        flags="R", seq=far_from(est.bseq))
        frames.append(frame(pkt))
    out["blind-rsts"] = frames
    return out


est = Flow(0)
if not est.connect():
    print("FAIL: the established connection could not be set up")
    sys.exit(1)
est.data("before")
sent = {}
t0 = time.time()
for n, (kind, frames) in enumerate(floods(est).items(), start=1):
    t = time.time()
    send(frames)
    sent[kind] = len(frames)
    print(f"{kind}: {len(frames)} packets sent in {time.time() - t:.2f} s")
    if kind == "blind-rsts":
        # An accepted RST would close the connection (tcp_closed_ms = 1000 in
        # the test's configuration): past that, the backend speaks first.
        time.sleep(CLOSED_WAIT)
        est.data(f"after-{kind}", backend_first=True)
    else:
        est.data(f"after-{kind}")
    new = Flow(n)
    if new.connect():
        print(f"ok: after {kind}: a new client's handshake passes")
        new.data("first")
print(f"floods and checks took {time.time() - t0:.1f} s")
stop.set()
json.dump(sent, open(out_path, "w"))
sys.exit(1 if failures else 0)
