#!/usr/bin/env python3
"""`scripts/lab status [--json] [--requests N]`: the lab's namespaces, addresses,
processes, BGP sessions, the VIP's routes at every Route Server and on-prem,
and which region and backend answer the VIP. Called by scripts/lab with the
lab's facts (scripts/lib/lab.sh) in the environment: LAB_NAME, STATE, VIP,
LAB_NAMESPACES (suffixes), LAB_BIRDS and LAB_NVAS ("a-nva=PREFIX ...", the
NVAs and their DPDK file prefixes). Every command is bounded in time.
"""
import json
import os
import re
import subprocess
import sys

LAB = os.environ["LAB_NAME"]
STATE = os.environ["STATE"]
VIP = os.environ["VIP"]
NAMESPACES = os.environ["LAB_NAMESPACES"].split()
BIRDS = os.environ["LAB_BIRDS"].split()
NVAS = dict(kv.split("=", 1) for kv in os.environ["LAB_NVAS"].split())


def run(cmd, timeout=5):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout
    except (subprocess.TimeoutExpired, OSError) as e:
        return 1, str(e)


def ns_addresses(ns):
    rc, out = run(["ip", "-n", f"{LAB}-{ns}", "-j", "addr", "show"])
    if rc != 0:
        return None
    res = []
    for link in json.loads(out or "[]"):
        for a in link.get("addr_info", []):
            if a.get("family") == "inet" and link["ifname"] != "lo":
                res.append(f"{link['ifname']} {a['local']}/{a['prefixlen']}")
    return res


def alive(name):
    """The pid in STATE/NAME.pid if that process runs (a zombie does not)."""
    try:
        pid = int(open(os.path.join(STATE, name + ".pid")).read().strip())
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return None if state == "Z" else pid
    except (OSError, ValueError, IndexError):
        return None


def birdc(name, *args):
    rc, out = run(["birdc", "-s", os.path.join(STATE, name + ".ctl")] + list(args), timeout=3)
    return out if rc == 0 else None


def sessions(name):
    out = birdc(name, "show", "protocols")
    if out is None:
        return None
    res = []
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 5 and f[1] == "BGP":
            res.append({"name": f[0], "state": f[3], "since": " ".join(f[4:6]),
                        "info": " ".join(f[6:])})
    return res


def bird_routes(name):
    out = birdc(name, "show", "route", f"{VIP}/32", "all")
    if out is None:
        return None
    routes = []
    cur = None
    for line in out.splitlines():
        m = re.match(r"^(?:(\S+/\d+)\s+)?\s*unicast \[(\S+) ([^\]]+)\]\s*(\*)?", line.strip()
                     if not line.startswith(VIP) else line)
        if m and "unicast" in line:
            cur = {"from": m.group(2), "since": m.group(3).split(" from ")[0].strip(),
                   "best": bool(m.group(4))}
            routes.append(cur)
            continue
        if cur is None:
            continue
        s = line.strip()
        if s.startswith("via "):
            cur["via"] = s.split()[1]
        elif s.startswith("BGP.as_path:"):
            cur["as_path"] = s.split(":", 1)[1].strip()
        elif s.startswith("BGP.next_hop:"):
            cur["next_hop"] = s.split(":", 1)[1].strip()
        elif s.startswith("BGP.local_pref:"):
            cur["local_pref"] = int(s.split(":", 1)[1])
        elif s.startswith("BGP.community:"):
            cur["community"] = s.split(":", 1)[1].strip()
        elif s.startswith("BGP.med:"):
            cur["med"] = int(s.split(":", 1)[1])
    return routes


def kernel_route():
    rc, out = run(["ip", "-n", f"{LAB}-onprem", "-j", "route", "show", VIP])
    if rc != 0:
        return None
    res = []
    for r in json.loads(out or "[]"):
        if "nexthops" in r:
            res += [n.get("gateway") for n in r["nexthops"]]
        elif "gateway" in r:
            res.append(r["gateway"])
    return res


def answers(n):
    res = []
    for _ in range(n):
        rc, out = run(["ip", "netns", "exec", f"{LAB}-client", "curl", "-sS",
                       "--connect-timeout", "2", "--max-time", "3", f"http://{VIP}/"], timeout=6)
        if rc == 0 and out.startswith("region="):
            d = dict(kv.split("=", 1) for kv in out.split())
            res.append({"region": d.get("region"), "instance": d.get("instance"),
                        "backend": d.get("addr")})
        else:
            res.append({"error": out.strip()[:120] or f"exit {rc}"})
    return res


def nva_state(prefix):
    """An anycast-nva as its own telemetry tells it (/nva/info and /nva/health
    through scripts/nvactl, by its file PREFIX), or None when it does not answer."""
    nvactl = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nvactl")
    out = {}
    for key, cmd in (("info", "/nva/info"), ("health", "/nva/health")):
        rc, text = run(["/usr/bin/python3", nvactl, "--file-prefix", prefix,
                        "--json", "raw", cmd], timeout=6)
        if rc != 0:
            return None
        try:
            out[key] = json.loads(text)
        except ValueError:
            return None
    info, health = out["info"], out["health"]
    decisions = health.values() if isinstance(health, dict) else health
    return {"state": info.get("state"),
            "dataplane_healthy": bool(info.get("dataplane_healthy")),
            "dataplane_reason": info.get("dataplane_reason", ""),
            "vips": [{"vip": d.get("vip"), "decision": d.get("decision"),
                      "reason": d.get("reason", "")} for d in decisions]}


def main():
    as_json = "--json" in sys.argv
    n = 4
    if "--requests" in sys.argv:
        n = int(sys.argv[sys.argv.index("--requests") + 1])
    st = {"lab": LAB, "up": os.path.exists(os.path.join(STATE, "up")), "vip": VIP,
          "nva": {},
          "namespaces": {}, "processes": {}, "bgp": {}, "routes": {}}
    for ns in NAMESPACES:
        st["namespaces"][f"{LAB}-{ns}"] = ns_addresses(ns)
    procs = BIRDS + list(NVAS) + [ns for ns in NAMESPACES if "-be" in ns]
    for p in procs:
        st["processes"][p] = alive(p)
    for b in BIRDS:
        st["bgp"][b] = sessions(b)
        st["routes"][b] = bird_routes(b)
    st["routes"]["onprem-kernel"] = kernel_route()
    for name, prefix in NVAS.items():
        st["nva"][name] = nva_state(prefix) if st["processes"][name] else None
    st["answers"] = answers(n)
    if as_json:
        json.dump(st, sys.stdout, indent=2)
        print()
        return
    print(f"lab {LAB}: {'up' if st['up'] else 'not up'}; VIP {VIP}")
    print("\nanycast-nva (its own /nva/ telemetry):")
    for name, n in st["nva"].items():
        if n is None:
            print(f"  {name:<7} (not running or not answering)")
            continue
        dp = "healthy" if n["dataplane_healthy"] else f"unhealthy: {n['dataplane_reason']}"
        print(f"  {name:<7} {n['state']}, data plane {dp}")
        for v in n["vips"]:
            why = f" ({v['reason']})" if v["reason"] else ""
            print(f"          VIP {v['vip']}: {v['decision']}{why}")
    print("\nnamespaces and addresses:")
    for ns, addrs in st["namespaces"].items():
        print(f"  {ns:<22} {'(missing)' if addrs is None else ', '.join(addrs)}")
    print("\nprocesses:")
    print("  " + "  ".join(f"{p}={'pid ' + str(v) if v else 'stopped'}"
                           for p, v in st["processes"].items()))
    print("\nBGP sessions:")
    for b, ss in st["bgp"].items():
        if ss is None:
            print(f"  {b:<7} (BIRD not answering)")
            continue
        for s in ss:
            print(f"  {b:<7} {s['name']:<8} {s['state']:<12} since {s['since']:<24} {s['info']}")
    print(f"\nroutes for {VIP}/32:")
    for b in BIRDS:
        rs = st["routes"][b]
        if not rs:
            print(f"  {b:<7} {'(BIRD not answering)' if rs is None else 'none'}")
            continue
        for r in rs:
            extra = f" local_pref {r['local_pref']}" if b == "onprem" and "local_pref" in r else ""
            print(f"  {b:<7} {'*' if r['best'] else ' '} from {r['from']:<6} "
                  f"next hop {r.get('next_hop', r.get('via', '?')):<12} as path "
                  f"[{r.get('as_path', '')}]{extra} since {r['since']}")
    k = st["routes"]["onprem-kernel"]
    print(f"  on-prem kernel: {'none' if not k else 'via ' + ', '.join(k)}")
    print(f"\n{n} requests to http://{VIP}/ from the client:")
    for a in st["answers"]:
        if "error" in a:
            print(f"  error: {a['error']}")
        else:
            print(f"  region {a['region']} instance {a['instance']} ({a['backend']})")


if __name__ == "__main__":
    main()
