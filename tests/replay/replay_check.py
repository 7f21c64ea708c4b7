"""Generates the replay input, or checks the replay output packet by packet.

  replay_check.py gen IN.pcap
  replay_check.py check OUT.pcap SUMMARY.json
"""
import json
import sys

from scapy.all import Ether, rdpcap, wrpcap

from replay_cases import cases


def rebuilt(pkt):
    """The packet with every checksum recomputed by scapy."""
    p = Ether(bytes(pkt))
    for layer in ("IP", "TCP", "UDP", "ICMP"):
        if p.haslayer(layer) and hasattr(p[layer], "chksum"):
            if layer == "UDP" and p[layer].chksum == 0:
                continue  # "no checksum" stays so
            del p[layer].chksum
    return Ether(bytes(p))


def main():
    cmd = sys.argv[1]
    if cmd == "gen":
        wrpcap(sys.argv[2], [i for i, _, _ in cases()])
        return 0
    got = rdpcap(sys.argv[2])
    summary = json.load(open(sys.argv[3]))
    want = [o for _, o, _ in cases() if o is not None]
    failures = 0
    if len(got) != len(want):
        print(f"FAIL: {len(got)} packets out, want {len(want)}")
        failures += 1
    for n, (g, w) in enumerate(zip(got, want)):
        gb, wb = bytes(g), bytes(w)
        if gb != wb:
            print(f"FAIL: packet {n}: got  {Ether(gb).summary()}\n      want {Ether(wb).summary()}")
            print(f"      got  {gb.hex()}\n      want {wb.hex()}")
            failures += 1
        elif bytes(rebuilt(g)) != gb:
            print(f"FAIL: packet {n}: a checksum differs from scapy's recomputation")
            failures += 1
    drops = {}
    exceptions = 0
    for _, _, why in cases():
        if why == "exception":
            exceptions += 1
        elif why:
            drops[why] = drops.get(why, 0) + 1
    for key, val in (("packets_in", len(cases())), ("packets_out", len(want)),
                     ("exceptions", exceptions), ("drops", drops)):
        if summary.get(key) != val:
            print(f"FAIL: summary {key} = {summary.get(key)}, want {val}")
            failures += 1
    # Every packet in is accounted for exactly once.
    accounted = (summary.get("forwarded", 0) + summary.get("answered", 0) +
                 summary.get("dropped", 0) + summary.get("exceptions", 0))
    if accounted != summary.get("packets_in"):
        print(f"FAIL: forwarded + answered + dropped + exceptions = {accounted}, "
              f"packets in = {summary.get('packets_in')}")
        failures += 1
    # Every buffer back in the pool (net_pcap holds none between bursts).
    if summary.get("mbufs_in_use") != 0:
        print(f"FAIL: mbufs_in_use = {summary.get('mbufs_in_use')} after the run, want 0")
        failures += 1
    print(f"replay check: {len(got)} packets compared, {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
