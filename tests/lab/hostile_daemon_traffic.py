"""Traffic side of the daemon's hostile test (hostile_daemon_test.sh), run in
the peer namespace: scapy plays the clients and the backend of a dnat VIP,
with real sequence numbers, and floods the VIP.

  hostile_daemon_traffic.py IFACE NVA_MAC COUNT OUT.json NVACTL FILE_PREFIX

Establishes one TCP connection through the daemon, then for each attack
sends COUNT spoofed packets, paced so the AF_PACKET ring keeps up:
bad-checksum ACKs, right-checksum mid-stream ACKs (picked up, never
answered), SYNs, and blind RSTs at the established connection's 4-tuple
(both directions, sequence numbers far outside the window). After each
flood the established connection's data must pass both ways (after the
RSTs, once a closed connection would have expired, the backend first) and a
new client's handshake and data must pass.

The daemon runs with syn_proxy = auto: a client's SYN reaches the backend
(the plain path) or, while a worker is under pressure, is answered by the
NVA with a SYN-ACK whose ISN is a cookie (the SYN proxy). The clients take
whichever comes and check it exactly: on the proxy path the cookie SYN-ACK
(MSS option only), the NVA's SYN to the backend once the client's ACK
returns the cookie (the client's ISN and MSS), the NVA's last ACK to the
backend after its SYN-ACK (client ISN + 1, backend ISN + 1, nothing to the
client), then every segment's sequence moved between the backend's space
and the cookie's; on the plain path, nothing moved. The clients during and
after the SYN flood must take the proxy path, and /nva/workers (read with
NVACTL -f FILE_PREFIX) must show the flood answered with cookies, no state
kept for it and the proxied handshakes completed.

Writes what it sent per attack, and how many clients took the proxy path,
to OUT.json; exit 0 when every honest exchange and check went through.
"""
import json
import random
import socket
import subprocess
import sys
import threading
import time

from scapy.all import IP, TCP, Ether, Raw, conf, get_if_hwaddr

conf.verb = 0
iface, nva_mac, count, out_path = sys.argv[1], sys.argv[2].lower(), int(sys.argv[3]), \
    sys.argv[4]
nvactl, file_prefix = sys.argv[5], sys.argv[6]
my_mac = get_if_hwaddr(iface)
VIP, BACKEND, VPORT, BPORT = "198.19.0.10", "198.18.2.1", 80, 8080
CLOSED_WAIT = 2.0  # s: twice [timeouts] tcp_closed_ms of hostile_daemon_test.sh
HONEST_NET = bytes([192, 0, 2])  # clients; flood sources are 203.0.113/24, 198.51.100/24
MSS = 1460  # the honest clients' MSS option (one the cookies carry exactly)
TABLE = 1024  # connections per worker ([dataplane] connections)
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


def fail(what):
    global failures
    print(f"FAIL: {what}")
    failures += 1


def show(p):
    """A TCP frame in a line: addresses, flags, sequence numbers, options."""
    t = p[TCP]
    return (f"{p[IP].src}:{t.sport} > {p[IP].dst}:{t.dport} {t.flags} seq={t.seq} "
            f"ack={t.ack} win={t.window} len={len(t.payload)} opts={t.options}")


def exchange(pkt, match, what, timeout=5.0, quiet_about=None):
    """Sends pkt (again every 0.5 s until an answer) and returns the first
    frame from the NVA that `match` accepts. On failure, prints what came
    back instead that `quiet_about` (the flow's frames) accepts."""
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
    fail(f"{what}: nothing came back")
    if quiet_about is not None:
        for f in seen[start:][:6]:
            p = Ether(f)
            if TCP in p and quiet_about(p):
                print(f"  instead: {show(p)}")
    return None


def plus(a, b):
    return (a + b) % 2**32


class Flow:
    """One honest client of the VIP and the backend's side of it.

    cseq is the client's next sequence number; bseq the backend's, in the
    backend's own space. The client sees the backend's sequence less `off`:
    the backend's ISN less the NVA's cookie when the handshake went through
    the SYN proxy (`proxied`), 0 on the plain path."""

    CLIENT_WINDOW = 29200

    def __init__(self, n):
        self.client, self.cport = f"192.0.2.{10 + n}", 30000 + n
        self.cseq, self.bseq = 1_000_000 * (n + 1), 7_000_000 * (n + 1)
        self.off = 0
        self.proxied = False
        self.name = f"client {self.client}:{self.cport}"

    def client_view(self, seq):
        """The backend's sequence number `seq` as the client sees it."""
        return (seq - self.off) % 2**32

    def ours(self, p):
        return (p[IP].src in (self.client, VIP, BACKEND) and
                p[IP].dst in (self.client, VIP, BACKEND) and
                self.cport in (p[TCP].sport, p[TCP].dport))

    def to_backend(self, p, flags, seq, ack=None, payload=None):
        """The NVA's frame to the backend (the client's address: dnat) with
        exactly these flags, sequence number, acknowledgement (if ACK) and
        payload."""
        return (p[IP].src == self.client and p[IP].dst == BACKEND and
                p[TCP].sport == self.cport and p[TCP].dport == BPORT and
                p[TCP].flags == flags and p[TCP].seq == seq and
                (ack is None or p[TCP].ack == ack) and
                (payload is None or bytes(p[TCP].payload) == payload))

    def to_client(self, p, flags, seq=None, ack=None, payload=None):
        return (p[IP].src == VIP and p[IP].dst == self.client and p[TCP].sport == VPORT and
                p[TCP].dport == self.cport and p[TCP].flags == flags and
                (seq is None or p[TCP].seq == seq) and (ack is None or p[TCP].ack == ack) and
                (payload is None or bytes(p[TCP].payload) == payload))

    def client_pkt(self, flags, seq, ack=0, payload=b"", **kw):
        pkt = IP(src=self.client, dst=VIP) / TCP(sport=self.cport, dport=VPORT, flags=flags,
                                                 seq=seq, ack=ack, window=self.CLIENT_WINDOW,
                                                 **kw)
        return pkt / Raw(payload) if payload else pkt

    def backend_pkt(self, flags, seq, ack, payload=b"", **kw):
        pkt = IP(src=BACKEND, dst=self.client) / TCP(sport=BPORT, dport=self.cport,
                                                     flags=flags, seq=seq, ack=ack, **kw)
        return pkt / Raw(payload) if payload else pkt

    def connect(self):
        """The handshake, by whichever path the NVA takes: the client's SYN
        reaches the backend (plain) or comes back as a cookie SYN-ACK."""
        c = self.cseq
        first = exchange(self.client_pkt("S", c, options=[("MSS", MSS)]),
                         lambda p: (self.to_backend(p, "S", c) or
                                    self.to_client(p, "SA", ack=plus(c, 1))),
                         f"{self.name}: SYN to the backend or a cookie SYN-ACK",
                         quiet_about=self.ours)
        if first is None:
            return False
        if first[IP].src == VIP:
            return self.connect_proxied(first)
        return self.connect_plain(first)

    def connect_plain(self, syn):
        c, b = self.cseq, self.bseq
        if ("MSS", MSS) not in syn[TCP].options:
            fail(f"{self.name}: the SYN to the backend lost its MSS option: {show(syn)}")
        ok = exchange(self.backend_pkt("SA", b, plus(c, 1), options=[("MSS", MSS)]),
                      lambda p: self.to_client(p, "SA", b, plus(c, 1)),
                      f"{self.name}: SYN-ACK to the client", quiet_about=self.ours)
        self.cseq, self.bseq = plus(c, 1), plus(b, 1)
        ok = ok and exchange(self.client_pkt("A", self.cseq, self.bseq),
                             lambda p: self.to_backend(p, "A", self.cseq, self.bseq),
                             f"{self.name}: ACK to the backend", quiet_about=self.ours)
        return ok is not None and ok is not False

    def connect_proxied(self, synack):
        """The SYN proxy: the cookie SYN-ACK offers the client's MSS and
        nothing else; the client's ACK of it becomes the NVA's SYN to the
        backend (the client's ISN, MSS and window); the backend's SYN-ACK is
        answered by the NVA (client ISN + 1, backend ISN + 1) and never
        reaches the client."""
        c, b = self.cseq, self.bseq
        cookie = synack[TCP].seq
        self.proxied = True
        if synack[TCP].options != [("MSS", MSS)] or synack[TCP].window != 65535:
            fail(f"{self.name}: cookie SYN-ACK {show(synack)}: want the MSS option "
                 f"{MSS} alone and window 65535")
        syn = exchange(self.client_pkt("A", plus(c, 1), plus(cookie, 1)),
                       lambda p: self.to_backend(p, "S", c, 0),
                       f"{self.name}: the NVA's SYN to the backend (cookie {cookie:#010x} "
                       f"returned)", quiet_about=self.ours)
        if syn is None:
            return False
        if syn[TCP].options != [("MSS", MSS)] or syn[TCP].window != self.CLIENT_WINDOW:
            fail(f"{self.name}: the NVA's SYN {show(syn)}: want the MSS option {MSS} "
                 f"alone and the client's window {self.CLIENT_WINDOW}")
        start = len(seen)
        last = exchange(self.backend_pkt("SA", b, plus(c, 1), options=[("MSS", MSS)]),
                        lambda p: self.to_backend(p, "A", plus(c, 1), plus(b, 1)),
                        f"{self.name}: the NVA's last ACK to the backend",
                        quiet_about=self.ours)
        if last is None:
            return False
        time.sleep(0.2)
        leaked = [Ether(f) for f in seen[start:]]
        leaked = [p for p in leaked
                  if TCP in p and p[IP].dst == self.client and p[TCP].dport == self.cport]
        if leaked:
            fail(f"{self.name}: the client got {show(leaked[0])} during the backend's "
                 "handshake")
        self.cseq, self.bseq = plus(c, 1), plus(b, 1)
        self.off = (b - cookie) % 2**32
        print(f"ok: {self.name}: handshake through the SYN proxy (cookie {cookie:#010x}, "
              f"backend ISN {b}, the NVA's SYN and last ACK exact)")
        return True

    def data(self, tag, backend_first=False):
        """A request to the backend and its answer to the client; with
        `backend_first` the backend speaks first (a push, then the client's
        reply): the reply direction has no pick-up, so it passes only if the
        connection is still in the table. Sequence numbers are checked
        exactly: the client's acknowledgement arrives in the backend's space,
        the backend's sequence in the client's (moved by `off`)."""
        req, resp = f"GET /{tag}\r\n".encode(), f"200 {tag}\r\n".encode()

        def request():
            r = exchange(self.client_pkt("PA", self.cseq, self.client_view(self.bseq), req),
                         lambda p: self.to_backend(p, "PA", self.cseq, self.bseq, req),
                         f"{self.name}: {tag}: client to backend", quiet_about=self.ours)
            self.cseq = plus(self.cseq, len(req))
            return r

        def answer():
            r = exchange(self.backend_pkt("PA", self.bseq, self.cseq, resp),
                         lambda p: self.to_client(p, "PA", self.client_view(self.bseq),
                                                  self.cseq, resp),
                         f"{self.name}: {tag}: backend to client", quiet_about=self.ours)
            self.bseq = plus(self.bseq, len(resp))
            return r

        first, second = (answer, request) if backend_first else (request, answer)
        ok, ok2 = first(), second()
        if ok is not None and ok2 is not None:
            print(f"ok: {self.name}: {tag}: data both ways, sequence numbers exact"
                  f"{' (backend first)' if backend_first else ''}"
                  f"{' (proxied)' if self.proxied else ''}")


def workers():
    """/nva/workers summed over the workers (a snapshot, republished every
    500 ms) and the number of workers."""
    out = subprocess.run([sys.executable, nvactl, "-f", file_prefix, "--json", "raw",
                          "/nva/workers"], capture_output=True, text=True, timeout=10)
    per_worker = json.loads(out.stdout)
    w = {}
    for counters in per_worker.values():
        for k, v in counters.items():
            if isinstance(v, int):
                w[k] = w.get(k, 0) + v
    return w, len(per_worker)


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


def syn_flood(frames, n):
    """The SYN flood, slower than the others (about 2 s) with a client
    connecting in the middle of it, and after it; /nva/workers before and
    after: a cookie for (nearly) every SYN, no state for them, the honest
    handshakes proxied."""
    time.sleep(0.7)  # the snapshot after the last exchange
    w0, nworkers = workers()
    flooder = threading.Thread(target=send, args=(frames, 16, 0.01))
    t = time.time()
    flooder.start()
    time.sleep(0.3)
    during = Flow(10 + n)
    if during.connect():
        print(f"ok: during the SYN flood: a new client's handshake passes"
              f"{'' if flooder.is_alive() else ' (the flood had ended)'}")
        during.data("first")
    peak = workers()[0]["connections"]
    flooder.join()
    print(f"syn-flood: {len(frames)} packets sent in {time.time() - t:.2f} s")
    est.data("after-syn-flood")
    after = Flow(n)
    if after.connect():
        print("ok: after syn-flood: a new client's handshake passes")
        after.data("first")
    time.sleep(0.7)
    w1, _ = workers()
    d = {k: w1.get(k, 0) - w0.get(k, 0) for k in w1}
    honest = [during, after]
    for f in honest:
        if not f.proxied:
            fail(f"{f.name}: the handshake during or after the SYN flood took the plain "
                 "path, not the SYN proxy")
    # Before a worker is under pressure (a quarter of its table embryonic)
    # its SYNs create connections; the spoofed ACKs' pick-ups before this
    # flood keep both workers there, so in practice every SYN gets a cookie.
    quarter = TABLE // 4 * nworkers
    want_sent = int(0.98 * len(frames)) - quarter
    if d["syn_cookies_sent"] < want_sent:
        fail(f"syn-flood: syn_cookies_sent +{d['syn_cookies_sent']}, want >= {want_sent}")
    if d["connections_created"] > quarter + len(honest):
        fail(f"syn-flood: {d['connections_created']} connections created during the flood "
             f"of {len(frames)} SYNs, want <= {quarter + len(honest)}")
    if d["syn_proxy_established"] < len(honest):
        fail(f"syn-flood: syn_proxy_established +{d['syn_proxy_established']}, want >= "
             f"{len(honest)} (the honest clients)")
    print(f"ok: syn-flood: /nva/workers: syn_cookies_sent +{d['syn_cookies_sent']}, "
          f"connections_created +{d['connections_created']} for {len(frames)} SYNs "
          f"(connections {peak} during the flood, {w1['connections']} after, tables of "
          f"{TABLE * nworkers}), syn_cookies_valid +{d['syn_cookies_valid']}, "
          f"syn_proxy_established +{d['syn_proxy_established']}")
    return honest


est = Flow(0)
if not est.connect():
    print("FAIL: the established connection could not be set up")
    sys.exit(1)
est.data("before")
sent = {}
clients = [est]
t0 = time.time()
for n, (kind, frames) in enumerate(floods(est).items(), start=1):
    if kind == "syn-flood":
        clients += syn_flood(frames, n)
        sent[kind] = len(frames)
        continue
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
    clients.append(new)
    if new.connect():
        print(f"ok: after {kind}: a new client's handshake passes"
              f"{' (SYN proxy)' if new.proxied else ''}")
        new.data("first")
print(f"floods and checks took {time.time() - t0:.1f} s")
stop.set()
sent["proxied-clients"] = sum(1 for f in clients if f.proxied)
sent["plain-clients"] = sum(1 for f in clients if not f.proxied)
print(f"clients: {sent['plain-clients']} by the plain path, {sent['proxied-clients']} by the "
      "SYN proxy")
json.dump(sent, open(out_path, "w"))
sys.exit(1 if failures else 0)
