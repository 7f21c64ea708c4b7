"""The replay test's packets: what goes in, and what must come out.

Each case is (input packet, expected output packet or None, drop reason or
None). Expected packets are built by scapy from scratch, so their checksums
are scapy's, computed independently of anycast-nva's incremental updates.
"""
from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, Raw

CLIENT_MAC = "02:00:00:00:00:01"
GW = "12:34:56:78:9a:bc"       # dataplane.gateway_mac
PORT_MAC = "02:70:63:61:70:00"  # the pcap PMD's MAC for its first port
C1, C2, C3 = "203.0.113.5", "203.0.113.6", "203.0.113.7"
WEB, API = "198.19.0.10", "198.19.0.11"
WEB_BE, API_BE, DNS_BE = "198.18.2.1", "198.18.3.1", "198.18.4.1"
SNAT, SNAT_PORT = "198.18.1.1", 65535


def inp(ip):
    return Ether(src=CLIENT_MAC, dst=PORT_MAC) / ip


def out(ip):
    return Ether(src=PORT_MAC, dst=GW) / ip


def cases():
    c = []
    # dnat: handshake, data both ways
    c.append((inp(IP(src=C1, dst=WEB, ttl=64) / TCP(sport=40000, dport=80, flags="S", seq=1)),
              out(IP(src=C1, dst=WEB_BE, ttl=63) / TCP(sport=40000, dport=8080, flags="S", seq=1)), None))
    c.append((inp(IP(src=WEB_BE, dst=C1, ttl=64) / TCP(sport=8080, dport=40000, flags="SA", seq=9, ack=2)),
              out(IP(src=WEB, dst=C1, ttl=63) / TCP(sport=80, dport=40000, flags="SA", seq=9, ack=2)), None))
    c.append((inp(IP(src=C1, dst=WEB, ttl=50) / TCP(sport=40000, dport=80, flags="PA", seq=2, ack=10) / Raw(b"GET / HTTP/1.0\r\n\r\n")),
              out(IP(src=C1, dst=WEB_BE, ttl=49) / TCP(sport=40000, dport=8080, flags="PA", seq=2, ack=10) / Raw(b"GET / HTTP/1.0\r\n\r\n")), None))
    # dnat+snat: both directions
    c.append((inp(IP(src=C2, dst=API) / TCP(sport=50000, dport=443, flags="S")),
              out(IP(src=SNAT, dst=API_BE, ttl=63) / TCP(sport=SNAT_PORT, dport=443, flags="S")), None))
    c.append((inp(IP(src=API_BE, dst=SNAT) / TCP(sport=443, dport=SNAT_PORT, flags="SA")),
              out(IP(src=API, dst=C2, ttl=63) / TCP(sport=443, dport=50000, flags="SA")), None))
    # UDP dnat+snat with a payload of odd length
    c.append((inp(IP(src=C3, dst=WEB) / UDP(sport=5000, dport=53) / Raw(b"query")),
              out(IP(src=SNAT, dst=DNS_BE, ttl=63) / UDP(sport=SNAT_PORT, dport=5353) / Raw(b"query")), None))
    c.append((inp(IP(src=DNS_BE, dst=SNAT) / UDP(sport=5353, dport=SNAT_PORT) / Raw(b"answer!")),
              out(IP(src=WEB, dst=C3, ttl=63) / UDP(sport=53, dport=5000) / Raw(b"answer!")), None))
    # UDP without checksum keeps none
    c.append((inp(IP(src=C3, dst=WEB) / UDP(sport=5000, dport=53, chksum=0) / Raw(b"again")),
              out(IP(src=SNAT, dst=DNS_BE, ttl=63) / UDP(sport=SNAT_PORT, dport=5353, chksum=0) / Raw(b"again")), None))
    # ping to a VIP: answered by the NVA (back to the sender's MAC)
    c.append((inp(IP(src=C1, dst=WEB, ttl=9) / ICMP(type=8, id=7, seq=1) / Raw(b"ping")),
              Ether(src=PORT_MAC, dst=CLIENT_MAC) / IP(src=WEB, dst=C1, ttl=64) / ICMP(type=0, id=7, seq=1) / Raw(b"ping"), None))
    # counted drops
    c.append((inp(IP(src=C1, dst=WEB, ttl=1) / TCP(sport=40001, dport=80, flags="S")), None, "ttl_exceeded"))
    c.append((inp(IP(src=C1, dst=WEB) / TCP(sport=40002, dport=81, flags="S")), None, "no_service"))
    c.append((inp(IP(src=API_BE, dst=SNAT) / TCP(sport=443, dport=1234, flags="A")), None, "unknown_return"))
    c.append((inp(IP(src=C2, dst=API) / TCP(sport=50001, dport=443, flags="A")), None, "midstream_no_conn"))
    trunc = bytes(inp(IP(src=C1, dst=WEB) / TCP(sport=1, dport=80)))[:30]
    c.append((Ether(trunc), None, "ipv4_truncated"))
    c.append((Ether(src=CLIENT_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(pdst=WEB), None, "exception"))
    # a later fragment whose first never comes: held, and at the end of the
    # capture dropped as timed out (not lost from the summary)
    c.append((inp(IP(src=C1, dst=WEB, proto=17, id=999, frag=100) / Raw(b"y" * 24)), None,
              "fragment_timeout"))
    return c
