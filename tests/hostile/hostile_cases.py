"""The hostile-traffic suite's captures: each scenario is honest traffic
(connections established before the attack, their data after it, and new
clients during it) mixed with a flood of one attack, and what must hold.

  hostile_cases.py list                 the scenario names
  hostile_cases.py gen NAME IN.pcap     writes the scenario's capture
  hostile_cases.py check NAME OUT.pcap SUMMARY.json

Honest packets carry IP identification 0x4e56 (NAT keeps it) and every
flood packet another one, so the translated capture tells them apart: every
honest packet must come out. The summary must account for every packet in
(forwarded + answered + dropped + exceptions) and show the scenario's drops
by name, and the mbuf pool must be back at its starting count: the summary's
mbufs_in_use must be 0, what the "honest" scenario (no flood) shows. net_pcap
holds no buffer between bursts (it allocates one per packet it reads and
frees each one it writes) and an idle worker's TX buffers and handoff ring
are empty, so anything else is a buffer leaked or still held.
"""
import json
import random
import sys

from scapy.all import IP, TCP, UDP, Ether, Raw, rdpcap, wrpcap

CLIENT_MAC = "02:00:00:00:00:01"
PORT_MAC = "02:70:63:61:70:00"  # the pcap PMD's MAC for its first port
WEB, API = "198.19.0.10", "198.19.0.11"
WEB_BE, API_BE, DNS_BE = "198.18.2.1", "198.18.3.1", "198.18.4.1"
HONEST_ID = 0x4E56
TABLE = 4096  # hostile.ini: dataplane.connections
SNAT_PORTS = 512  # hostile.ini: 65024-65535


def eth(ip):
    return Ether(src=CLIENT_MAC, dst=PORT_MAC) / ip


def honest_ip(**kw):
    return IP(id=HONEST_ID, **kw)


def flood_ip(rng, **kw):
    i = rng.randrange(0x10000)
    return IP(id=i if i != HONEST_ID else i + 1, **kw)


def spoofed_src(rng):
    """A random source in the documentation ranges (never an honest one)."""
    net = rng.choice(["203.0.113", "198.51.100"])
    return f"{net}.{rng.randrange(1, 255)}", rng.randrange(1024, 65536)


class Conn:
    """One honest TCP connection to the web VIP (dnat): packets with real
    sequence numbers, client side and backend side."""

    def __init__(self, n, vip=WEB, vport=80, backend=WEB_BE, bport=8080):
        self.client = f"192.0.2.{10 + n % 200}"
        self.cport = 30000 + n
        self.vip, self.vport, self.backend, self.bport = vip, vport, backend, bport
        self.cseq = 1000000 * (n + 1)
        self.bseq = 7000000 * (n + 1)

    def handshake(self):
        c, b = self.cseq, self.bseq
        self.cseq += 1
        self.bseq += 1
        return [
            eth(honest_ip(src=self.client, dst=self.vip) /
                TCP(sport=self.cport, dport=self.vport, flags="S", seq=c)),
            eth(honest_ip(src=self.backend, dst=self.client) /
                TCP(sport=self.bport, dport=self.cport, flags="SA", seq=b, ack=c + 1)),
            eth(honest_ip(src=self.client, dst=self.vip) /
                TCP(sport=self.cport, dport=self.vport, flags="A", seq=c + 1, ack=b + 1)),
        ]

    def data(self, text=b"GET / HTTP/1.1\r\n\r\n"):
        c, b = self.cseq, self.bseq
        self.cseq += len(text)
        out = [eth(honest_ip(src=self.client, dst=self.vip) /
                   TCP(sport=self.cport, dport=self.vport, flags="PA", seq=c, ack=b) /
                   Raw(text))]
        reply = b"HTTP/1.1 200 OK\r\n\r\n"
        self.bseq += len(reply)
        out.append(eth(honest_ip(src=self.backend, dst=self.client) /
                       TCP(sport=self.bport, dport=self.cport, flags="PA", seq=b,
                           ack=self.cseq) / Raw(reply)))
        return out


def established(n):
    conns = [Conn(i) for i in range(n)]
    before = [p for c in conns for p in c.handshake() + c.data()]
    after = [p for c in conns for p in c.data(b"still here")]
    return conns, before, after


def spread_in_order(rng, flood, groups):
    """Each group's packets, in order, at random places in the flood."""
    out = list(flood)
    if not out:
        return [p for g in groups for p in g]
    for g in groups:
        places = sorted(rng.sample(range(len(out) + 1), len(g)))
        for off, (pos, p) in enumerate(zip(places, g)):
            out.insert(pos + off, p)
    return out


def scenario(name):
    rng = random.Random(name)
    conns, before, after = established(8)
    groups = [c.handshake() + c.data() for c in (Conn(100 + i) for i in range(20))]
    expect = {}
    if name == "honest":
        # The baseline: the same honest traffic without a flood; nothing dropped.
        flood = []
        expect = {"drops_total": 0}
    elif name == "bad-checksum-acks":
        # Mid-stream ACKs (tcp_pickup would take them) with a wrong TCP
        # checksum: no state for them, every one a named drop.
        flood = []
        for _ in range(TABLE):
            s, sp = spoofed_src(rng)
            p = eth(flood_ip(rng, src=s, dst=WEB) /
                    TCP(sport=sp, dport=80, flags="A", seq=rng.getrandbits(32),
                        ack=rng.getrandbits(32), chksum=rng.randrange(0x10000)))
            flood.append(p)
        expect = {"drops_at_least": {"l4_bad_checksum": TABLE - 8}}
    elif name == "spoofed-acks":
        # The same with right checksums: picked up, but not assured (the
        # backend never answers), so new clients evict them.
        flood = []
        for _ in range(TABLE):
            s, sp = spoofed_src(rng)
            flood.append(eth(flood_ip(rng, src=s, dst=WEB) /
                             TCP(sport=sp, dport=80, flags="A",
                                 seq=rng.getrandbits(32), ack=rng.getrandbits(32))))
        expect = {"no_drops": ["table_full"]}
    elif name == "syn-flood":
        # Twice the table in spoofed SYNs: embryonic entries, evicted for
        # honest clients; established connections untouched.
        flood = []
        for _ in range(2 * TABLE):
            s, sp = spoofed_src(rng)
            flood.append(eth(flood_ip(rng, src=s, dst=WEB) /
                             TCP(sport=sp, dport=80, flags="S", seq=rng.getrandbits(32))))
        expect = {"no_drops": ["table_full"]}
    elif name == "syn-flood-cookies":
        # Four tables of spoofed SYNs with SYN cookies (syn_proxy = auto, as
        # by default): once a quarter of the table is embryonic, every SYN is
        # answered with a cookie SYN-ACK from the VIP and creates nothing,
        # so the table never fills; established connections untouched.
        # (Honest new clients must answer their cookie: the daemon tests do,
        # interactively; scripted ones here cannot.)
        flood = []
        for _ in range(4 * TABLE):
            s, sp = spoofed_src(rng)
            flood.append(eth(flood_ip(rng, src=s, dst=WEB) /
                             TCP(sport=sp, dport=80, flags="S", seq=rng.getrandbits(32))))
        groups = []
        expect = {"no_drops": ["table_full"], "drops_total": 0,
                  "summary_at_least": {"syn_cookies_sent": 4 * TABLE - TABLE // 4},
                  "summary_at_most": {"connections_live": TABLE // 4 + 8},
                  "syn_acks_from_vip_at_least": 4 * TABLE - TABLE // 4}
    elif name == "blind-rst":
        # RSTs with the right 4-tuples of the established connections (both
        # directions) and guessed sequence numbers: out of the window, each
        # a drop; the connections keep flowing.
        flood = []
        for _ in range(2000):
            c = rng.choice(conns)
            if rng.random() < 0.5:
                ip = flood_ip(rng, src=c.client, dst=WEB)
                tcp = TCP(sport=c.cport, dport=80, flags="R", seq=rng.getrandbits(32))
            else:
                ip = flood_ip(rng, src=WEB_BE, dst=c.client)
                tcp = TCP(sport=8080, dport=c.cport, flags="R", seq=rng.getrandbits(32))
            flood.append(eth(ip / tcp))
        expect = {"drops_at_least": {"tcp_out_of_window": 1990}, "flood_out_at_most": 10}
    elif name == "fragment-flood":
        # Lone later fragments from spoofed sources: their first never comes.
        # At most a share of the pool is held; an honest fragmented datagram
        # (first fragment first) and honest TCP pass.
        flood = []
        for i in range(3000):
            s, _ = spoofed_src(rng)
            flood.append(eth(flood_ip(rng, src=s, dst=WEB, proto=17, frag=25, flags=0) /
                             Raw(b"x" * 64)))
        payload = bytes(range(256)) * 4
        whole = IP(id=HONEST_ID, src="192.0.2.250", dst=WEB) / UDP(sport=5353, dport=53) / \
            Raw(payload)
        frags = [eth(f) for f in whole.fragment(512)]
        groups = groups + [frags]
        expect = {"drops_prefix_at_least": {"fragment_": 3000}}
    elif name == "snat-syn-fin":
        # SYN then FIN from each spoofed client of the dnat+snat service: more
        # pairs than the SNAT pair has ports. FIN before the handshake stays
        # embryonic and the pair's oldest embryonic entry makes room, so
        # honest clients of the service still get a port.
        flood = []
        for _ in range(3 * SNAT_PORTS):
            s, sp = spoofed_src(rng)
            seq = rng.getrandbits(32)
            flood.append(eth(flood_ip(rng, src=s, dst=API) /
                             TCP(sport=sp, dport=443, flags="S", seq=seq)))
            flood.append(eth(flood_ip(rng, src=s, dst=API) /
                             TCP(sport=sp, dport=443, flags="FA", seq=seq + 1, ack=0)))
        groups = [[eth(honest_ip(src=f"192.0.2.{20 + i}", dst=API) /
                       TCP(sport=31000 + i, dport=443, flags="S", seq=4242))]
                  for i in range(20)]
        expect = {"no_drops": ["snat_ports_exhausted", "table_full"]}
    else:
        raise SystemExit(f"unknown scenario {name}")
    # Half of the new clients come during the flood, half once it has filled
    # whatever it fills; the established connections' data comes last.
    half = len(groups) // 2
    pkts = before + spread_in_order(rng, flood, groups[:half]) + \
        [p for g in groups[half:] for p in g] + after
    honest = sum(1 for p in pkts if p[IP].id == HONEST_ID)
    return pkts, honest, len(flood), expect, flood


NAMES = ["honest", "bad-checksum-acks", "spoofed-acks", "syn-flood", "syn-flood-cookies",
         "blind-rst", "fragment-flood", "snat-syn-fin"]


def syn_proxy(name):
    """The dataplane.syn_proxy setting a scenario runs with (hostile.ini has off)."""
    return "auto" if name == "syn-flood-cookies" else "off"


def check(name, out_pcap, summary_path):
    _, honest, flood, expect, _ = scenario(name)
    summary = json.load(open(summary_path))
    got = rdpcap(out_pcap)
    failures = []
    honest_out = sum(1 for p in got if IP in p and p[IP].id == HONEST_ID)
    flood_out = sum(1 for p in got if IP in p and p[IP].id != HONEST_ID)
    if honest_out != honest:
        failures.append(f"{honest_out} of {honest} honest packets came out")
    drops = summary.get("drops", {})
    accounted = sum(summary.get(k, 0) for k in ("forwarded", "answered", "dropped",
                                                 "exceptions"))
    if accounted != summary.get("packets_in"):
        failures.append(f"accounted {accounted} of {summary.get('packets_in')} packets in")
    for reason, n in expect.get("drops_at_least", {}).items():
        if drops.get(reason, 0) < n:
            failures.append(f"drops {reason} = {drops.get(reason, 0)}, want >= {n}")
    for prefix, n in expect.get("drops_prefix_at_least", {}).items():
        total = sum(v for k, v in drops.items() if k.startswith(prefix))
        if total < n:
            failures.append(f"drops {prefix}* = {total}, want >= {n}")
    if "drops_total" in expect and summary.get("dropped") != expect["drops_total"]:
        failures.append(f"dropped {summary.get('dropped')}, want {expect['drops_total']}")
    # The pool back at its starting count: every buffer freed or sent.
    if summary.get("mbufs_in_use") != 0:
        failures.append(f"mbufs_in_use {summary.get('mbufs_in_use')} after the run, want 0 "
                        f"(the honest baseline's)")
    for reason in expect.get("no_drops", []):
        if drops.get(reason, 0):
            failures.append(f"drops {reason} = {drops[reason]}, want none")
    for key, n in expect.get("summary_at_least", {}).items():
        if summary.get(key, 0) < n:
            failures.append(f"{key} = {summary.get(key, 0)}, want >= {n}")
    for key, n in expect.get("summary_at_most", {}).items():
        if summary.get(key, 0) > n:
            failures.append(f"{key} = {summary.get(key, 0)}, want <= {n}")
    if "syn_acks_from_vip_at_least" in expect:
        # Cookie SYN-ACKs: from the VIP, acknowledging a flood SYN's ISN.
        syn_isns = {p[TCP].seq for p in scenario(name)[4] if p[TCP].flags == "S"}
        cookies = sum(1 for p in got if TCP in p and p[IP].src == WEB and
                      p[TCP].flags == "SA" and (p[TCP].ack - 1) % 2**32 in syn_isns)
        if cookies < expect["syn_acks_from_vip_at_least"]:
            failures.append(f"{cookies} cookie SYN-ACKs came out, want >= "
                            f"{expect['syn_acks_from_vip_at_least']}")
    if "flood_out_at_most" in expect and flood_out > expect["flood_out_at_most"]:
        failures.append(f"{flood_out} flood packets came out, want <= "
                        f"{expect['flood_out_at_most']}")
    print(f"{name}: {summary.get('packets_in')} in ({flood} flood, {honest} honest), "
          f"honest out {honest_out}, flood out {flood_out}, drops {json.dumps(drops)}, "
          f"mbufs in use {summary.get('mbufs_in_use')} of {summary.get('mbufs_total')}")
    for f in failures:
        print(f"FAIL: {name}: {f}")
    return 1 if failures else 0


def main():
    if sys.argv[1] == "list":
        print("\n".join(NAMES))
        return 0
    if sys.argv[1] == "syn-proxy":
        print(syn_proxy(sys.argv[2]))
        return 0
    if sys.argv[1] == "gen":
        pkts, _, _, _, _ = scenario(sys.argv[2])
        wrpcap(sys.argv[3], pkts)
        return 0
    return check(sys.argv[2], sys.argv[3], sys.argv[4])


if __name__ == "__main__":
    sys.exit(main())
