"""Traffic side of the daemon test, run inside the peer namespace.

  daemon_traffic.py IFACE NVA_MAC

Sends a client SYN to the VIP, expects the SNATed SYN to the backend; sends
the backend's SYN-ACK to the SNAT address, expects it from the VIP to the
client; pings the VIP, expects the NVA's answer. Exit 0 when all arrive.
"""
import sys
import time

from scapy.all import ICMP, IP, TCP, Ether, AsyncSniffer, sendp, get_if_hwaddr, conf

conf.verb = 0
iface, nva_mac = sys.argv[1], sys.argv[2]
my_mac = get_if_hwaddr(iface)
CLIENT, VIP, BACKEND, SNAT = "203.0.113.5", "198.19.0.10", "198.18.2.1", "198.18.1.1"
failures = 0


def exchange(pkt, match, what, timeout=5.0):
    """Sends pkt (until an answer, a few times) and returns the first frame
    that `match` accepts."""
    global failures
    seen = []  # AsyncSniffer.results is only set at stop(): collect here
    sniffer = AsyncSniffer(iface=iface, store=False, prn=seen.append,
                           lfilter=lambda p: p.haslayer(IP) and p[Ether].src == nva_mac.lower()
                           and match(p))
    sniffer.start()
    time.sleep(0.2)
    deadline = time.time() + timeout
    got = None
    while time.time() < deadline and got is None:
        sendp(Ether(src=my_mac, dst=nva_mac) / pkt, iface=iface)
        for _ in range(10):
            if seen:
                got = seen[0]
                break
            time.sleep(0.1)
    sniffer.stop()
    if got is None:
        print(f"FAIL: {what}: nothing came back")
        failures += 1
    else:
        print(f"ok: {what}: {got.summary()}")
    return got


syn = exchange(IP(src=CLIENT, dst=VIP) / TCP(sport=40000, dport=80, flags="S", seq=1),
               lambda p: p.haslayer(TCP) and p[IP].dst == BACKEND and p[TCP].dport == 8080,
               "client SYN to the VIP leaves SNATed to the backend")
if syn is not None:
    ok = (syn[IP].src == SNAT and syn[IP].ttl == 63 and syn[Ether].dst == my_mac
          and syn[Ether].src == nva_mac)
    if not ok:
        print(f"FAIL: translated SYN has wrong fields: {syn.show(dump=True)}")
        failures += 1
    sport = syn[TCP].sport
    synack = exchange(IP(src=BACKEND, dst=SNAT) / TCP(sport=8080, dport=sport, flags="SA", seq=9, ack=2),
                      lambda p: p.haslayer(TCP) and p[IP].dst == CLIENT and p[TCP].flags == "SA",
                      "backend SYN-ACK to the SNAT address leaves from the VIP to the client")
    if synack is not None and (synack[IP].src != VIP or synack[TCP].sport != 80
                               or synack[TCP].dport != 40000):
        print("FAIL: reply not translated back to VIP:80 -> client:40000")
        failures += 1
exchange(IP(src=CLIENT, dst=VIP) / ICMP(type=8, id=5, seq=1),
         lambda p: p.haslayer(ICMP) and p[ICMP].type == 0 and p[IP].src == VIP,
         "ping to the VIP is answered")
sys.exit(1 if failures else 0)
