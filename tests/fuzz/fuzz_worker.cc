// libFuzzer target for whole workers: the input is a program of packets
// (client -> VIP TCP/UDP, backend replies, SNAT returns, fragments, ICMP
// errors quoting translated flows, each with fields from the input and an
// optional corruption, chaining or truncation), polls and clock jumps, run
// through two real workers on a two-queue net_ring ethdev (owner(), handoff,
// translator, connection table, fragment tracker, ICMP translation).
//
// After every input the invariants are checked, and a broken one aborts:
//   - mid-run and at the end, the tracker is consistent both ways (every
//     connection on exactly one expiry list, both its keys finding it);
//   - after the clock passes every timeout, every table is empty, every
//     fragment is released and the mbuf pool is back at its starting count
//     (nothing leaked, nothing freed twice: ASan and the pool would see it);
//   - every packet received is accounted for once (forwarded, answered,
//     dropped by a named reason, or an exception).
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/clock.h"
#include "dataplane/common/rcu.h"
#include "dataplane/lb/service.h"
#include "dataplane/packet/bytes.h"
#include "dataplane/packet/parse.h"
#include "dataplane/port/port.h"
#include "dataplane/steer/handoff.h"
#include "dataplane/worker.h"
#include "tests/support/packet_builder.h"

namespace {

using nva::packet::PacketBuilder;
using Bytes = std::vector<std::uint8_t>;

constexpr std::uint32_t kWorkers = 2;
constexpr unsigned kRingSize = 1024;

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz-worker: invariant broken: %s\n", what);
    std::abort();
  }
}

nva::lb::Backend backend(const char* addr, std::uint16_t port) {
  return {nva::packet::ipv4_from_string(addr), port, 1, true};
}

nva::lb::Service service(const char* name, std::uint8_t proto, const char* vip,
                         std::uint16_t port, std::vector<nva::lb::Backend> backends,
                         const char* snat) {
  nva::lb::Service s;
  s.name = name;
  s.proto = proto;
  s.vip = nva::packet::ipv4_from_string(vip);
  s.port = port;
  s.backends = std::move(backends);
  if (snat != nullptr) {
    s.mode = nva::lb::NatMode::kDnatSnat;
    s.snat_addrs.push_back(nva::packet::ipv4_from_string(snat));
  }
  return s;
}

std::unique_ptr<nva::lb::ServiceTable> services() {
  std::vector<nva::lb::Service> v;
  v.push_back(service("web", 6, "198.19.0.10", 80,
                      {backend("198.18.2.1", 8080), backend("198.18.2.2", 8080)},
                      nullptr));
  v.push_back(
      service("api", 6, "198.19.0.11", 443, {backend("198.18.3.1", 443)}, "198.18.1.1"));
  v.push_back(
      service("dns", 17, "198.19.0.10", 53, {backend("198.18.4.1", 5353)}, "198.18.1.1"));
  return std::make_unique<nva::lb::ServiceTable>(std::move(v), 307);
}

// Two workers on one two-queue ring port, polled on this thread.
struct Rig {
  rte_mempool* pool = nullptr;
  std::array<rte_ring*, kWorkers> rx{}, tx{};
  std::uint16_t port = 0;
  nva::ManualClock clock;
  std::unique_ptr<nva::RcuDomain> rcu;
  std::unique_ptr<nva::RcuPublished<nva::lb::ServiceTable>> table;
  std::unique_ptr<nva::steer::HandoffRings> handoff;
  std::vector<std::unique_ptr<nva::Worker>> workers;
  unsigned baseline_in_use = 0;

  Rig() {
    pool = rte_pktmbuf_pool_create("fuzzw_pool", 8191, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                   SOCKET_ID_ANY);
    require(pool != nullptr, "mbuf pool");
    for (std::uint32_t q = 0; q < kWorkers; ++q) {
      rx[q] = rte_ring_create(("fuzzw_rx" + std::to_string(q)).c_str(), kRingSize,
                              SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
      tx[q] = rte_ring_create(("fuzzw_tx" + std::to_string(q)).c_str(), kRingSize,
                              SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
      require(rx[q] != nullptr && tx[q] != nullptr, "rings");
    }
    const int id = rte_eth_from_rings("fuzzw_port", rx.data(), kWorkers, tx.data(),
                                      kWorkers, SOCKET_ID_ANY);
    require(id >= 0, "ring ethdev");
    port = static_cast<std::uint16_t>(id);
    nva::port::PortConfig pc;
    pc.port_id = port;
    pc.queues = kWorkers;
    pc.pool = pool;
    pc.rx_desc = 256;
    pc.tx_desc = 256;
    const nva::port::PortInfo info = nva::port::setup_port(pc);
    rcu = std::make_unique<nva::RcuDomain>(kWorkers);
    table = std::make_unique<nva::RcuPublished<nva::lb::ServiceTable>>(*rcu, services());
    handoff = std::make_unique<nva::steer::HandoffRings>("fuzzw", kWorkers, 512);
    for (std::uint32_t w = 0; w < kWorkers; ++w) {
      nva::WorkerConfig wc;
      wc.id = w;
      wc.workers = kWorkers;
      wc.owner_seed = 0x5eed;
      wc.pool = pool;
      wc.nat.capacity = 512;  // small: full-table policies are reached
      // SYN cookies always on worker 0 (its flows go through the SYN proxy),
      // as configured by default (auto) on worker 1.
      wc.nat.syn_proxy =
          w == 0 ? nva::nat::SynProxyMode::kOn : nva::nat::SynProxyMode::kAuto;
      wc.fragments.datagrams = 64;
      wc.fragments.max_held_mbufs = 128;
      nva::PortBinding pb;
      pb.port_id = port;
      pb.queue = static_cast<std::uint16_t>(w);
      pb.mac = info.mac;
      pb.gateway_mac = {{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc}};
      wc.ports.push_back(pb);
      workers.push_back(std::make_unique<nva::Worker>(wc, *rcu, *table, *handoff, clock));
    }
    baseline_in_use = rte_mempool_in_use_count(pool);
  }

  void inject(std::uint32_t q, const Bytes& frame, std::size_t seg_len) {
    if (frame.empty()) return;
    // A chain of segments of seg_len bytes (0: one segment).
    rte_mbuf* head = nullptr;
    rte_mbuf* last = nullptr;
    const std::size_t step = seg_len == 0 ? frame.size() : seg_len;
    for (std::size_t off = 0; off < frame.size(); off += step) {
      const std::size_t n = std::min(step, frame.size() - off);
      rte_mbuf* m = rte_pktmbuf_alloc(pool);
      if (m == nullptr || n > rte_pktmbuf_tailroom(m)) {
        if (m != nullptr) rte_pktmbuf_free(m);
        if (head != nullptr) rte_pktmbuf_free(head);
        return;
      }
      std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(n)),
                  frame.data() + off, n);
      if (head == nullptr) {
        head = m;
      } else {
        last->next = m;
        head->nb_segs++;
        head->pkt_len += static_cast<std::uint32_t>(n);
      }
      last = m;
    }
    head->port = port;
    if (rte_ring_enqueue(rx[q], head) != 0) rte_pktmbuf_free(head);
  }

  void poll() {
    for (int r = 0; r < 64; ++r) {
      unsigned handled = 0;
      for (auto& w : workers) handled += w->poll_once();
      drain_tx();
      if (handled == 0) break;
    }
  }

  // Frees what the workers sent, keeping the last SYN-ACK a VIP sent (a
  // cookie, or a backend's translated) and the last SYN to a backend, for
  // the program's "answer it" steps (the SYN proxy's handshakes).
  void drain_tx() {
    for (rte_ring* r : tx) {
      void* v = nullptr;
      while (rte_ring_dequeue(r, &v) == 0) {
        auto* m = static_cast<rte_mbuf*>(v);
        const auto* d = rte_pktmbuf_mtod(m, const std::uint8_t*);
        constexpr std::size_t kTcpFlags = 14 + 20 + 13;
        if (m->nb_segs == 1 && m->data_len > kTcpFlags && d[12] == 0x08 && d[13] == 0 &&
            d[14] == 0x45 && d[14 + 9] == 6) {
          const std::uint8_t flags = d[kTcpFlags] & 0x17;  // SYN, ACK, RST, FIN
          if (flags == 0x12) last_synack.assign(d, d + m->data_len);
          if (flags == 0x02) last_syn.assign(d, d + m->data_len);
        }
        rte_pktmbuf_free(m);
      }
    }
  }
  Bytes last_synack, last_syn;

  void check_tables() {
    for (auto& w : workers) {
      require(w->translator().tracker().consistent(), "tracker consistent both ways");
    }
  }

  // Time passes: the workers' expiry runs as it would have all along (the
  // 32-bit millisecond clock is compared modulo 2^31, so a worker must not
  // go 24 days without looking at its lists; a polling worker looks every
  // poll).
  void advance(std::uint32_t ms) {
    clock.advance(ms);
    for (auto& w : workers) {
      auto& tr = w->translator().tracker();
      while (tr.expire(clock.now_ms(), 1u << 16) != 0) {
      }
    }
  }

  // Passes every timeout: expiry frees all, the pool is whole again.
  void settle() {
    poll();
    check_tables();
    for (int step = 0; step < 4; ++step) {
      advance(nva::conntrack::kMaxTimeoutMs / 2);
      poll();
    }
    for (auto& w : workers) {
      w->flush_held();
      require(w->translator().tracker().table().size() == 0, "every connection expired");
      require(w->fragments().held_mbufs() == 0, "every fragment released");
      require(w->proxy_held() == 0, "every SYN proxy segment released");
    }
    drain_tx();
    require(rte_mempool_in_use_count(pool) == baseline_in_use, "no mbuf leaked");
  }

  // Every packet received is accounted for once: forwarded or answered (the
  // owner's translator), an exception, or a drop by a named reason (parser,
  // translator, fragment tracker, a full handoff ring). Cumulative over all
  // inputs so far.
  void check_accounting() {
    std::uint64_t rx_total = 0, out = 0;
    for (auto& w : workers) {
      const nva::WorkerCounters& c = w->counters();
      rx_total += c.rx;
      out += c.exception_dropped + c.handoff_dropped;
      out += c.proxy_held_full + c.proxy_held_timeout;  // held, never processed again
      for (auto n : c.parse_drops) out += n;
      const auto& t = w->translator().counters();
      out += t.forwarded + t.replied_local;
      for (auto n : t.drops) out += n;
      for (auto n : t.packet_drops) out += n;  // checksums, before state
      for (auto n : nva::nat::fragment_drops(w->fragments().counters())) out += n;
    }
    if (rx_total != out) {
      std::fprintf(stderr, "fuzz-worker: %llu packets received, %llu accounted for\n",
                   static_cast<unsigned long long>(rx_total),
                   static_cast<unsigned long long>(out));
    }
    require(rx_total == out, "every packet accounted for once");
  }
};

// Reads the input as it is consumed; zeros past its end.
struct Reader {
  const std::uint8_t* p;
  std::size_t n;
  bool done() const { return n == 0; }
  std::uint8_t u8() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() << 8 | u8()); }
  std::uint32_t u32() { return std::uint32_t{u16()} << 16 | u16(); }
};

const char* kClients[] = {"203.0.113.5", "203.0.113.6", "198.51.100.9", "192.0.2.77"};
const char* kWebBackends[] = {"198.18.2.1", "198.18.2.2"};

Bytes tcp_packet(Reader& r, const char* src, std::uint16_t sport, const char* dst,
                 std::uint16_t dport) {
  nva::packet::TcpOpts t;
  t.flags = r.u8();
  t.seq = r.u32();
  t.ack = r.u32();
  return PacketBuilder()
      .Eth()
      .IPv4(src, dst, {.ttl = static_cast<std::uint8_t>(1 + r.u8() % 64)})
      .TCP(sport, dport, t)
      .Payload(r.u8() % 64, 'd')
      .Build();
}

// The answer to a SYN or SYN-ACK the workers sent (`sent`, a frame): from
// its destination back to its source with sequence `own_seq`,
// acknowledging its ISN + 1, with the input's flags (mostly ACK; SYN-ACK,
// RST, ... as they come), offsets and payload; empty if nothing was sent.
Bytes answer(Reader& r, const Bytes& sent, std::uint32_t own_seq) {
  if (sent.size() < 14 + 20 + 20) return {};
  nva::packet::ParsedPacket p;
  if (nva::packet::parse(sent, p) != nva::packet::DropReason::kNone || !p.has_ports) {
    return {};
  }
  const std::uint8_t* t = sent.data() + p.l4_offset;
  const std::uint32_t seq = nva::packet::load_be32(t + 4);
  nva::packet::TcpOpts o;
  o.flags = r.u8() & 1 ? 0x10 : r.u8();  // mostly the handshake's ACK
  o.seq = own_seq + (r.u8() & 3);
  o.ack = seq + 1 - (r.u8() & 1);
  o.window = r.u16();
  const std::string src = nva::packet::ipv4_to_string(p.ipv4_dst);
  const std::string dst = nva::packet::ipv4_to_string(p.ipv4_src);
  return PacketBuilder()
      .Eth()
      .IPv4(src, dst)
      .TCP(p.dst_port, p.src_port, o)
      .Payload(r.u8() % 48, 'h')
      .Build();
}

Bytes make_packet(Reader& r, std::uint8_t kind, const Rig& rig) {
  if (kind % 9 == 7) {  // a client answers the last SYN-ACK (a cookie, or not)
    const Bytes& sa = rig.last_synack;
    // The client's next sequence is what the SYN-ACK acknowledges.
    return answer(r, sa, sa.size() >= 54 ? nva::packet::load_be32(sa.data() + 42) : 0);
  }
  if (kind % 9 == 8) return answer(r, rig.last_syn, r.u32());  // a backend, a SYN
  const char* client = kClients[r.u8() % 4];
  const auto cport = static_cast<std::uint16_t>(40000 + r.u8() % 8);
  switch (kind % 9) {
    case 0:  // client -> web VIP (dnat)
      return tcp_packet(r, client, cport, "198.19.0.10", 80);
    case 1:  // client -> api VIP (dnat+snat)
      return tcp_packet(r, client, cport, "198.19.0.11", 443);
    case 2:  // web backend -> client (dnat return)
      return tcp_packet(r, kWebBackends[r.u8() % 2], 8080, client, cport);
    case 3:  // api backend -> SNAT address (a port of any worker's partition)
      return tcp_packet(r, "198.18.3.1", 443, "198.18.1.1",
                        static_cast<std::uint16_t>(1024 + r.u8() % 64));
    case 4: {  // UDP: client -> dns VIP, or the backend's answer to the SNAT address
      if (r.u8() & 1) {
        return PacketBuilder()
            .Eth()
            .IPv4(client, "198.19.0.10")
            .UDP(cport, 53)
            .Payload(r.u8() % 32, 'q')
            .Build();
      }
      return PacketBuilder()
          .Eth()
          .IPv4("198.18.4.1", "198.18.1.1")
          .UDP(5353, static_cast<std::uint16_t>(1024 + r.u8() % 64))
          .Payload(r.u8() % 32, 'a')
          .Build();
    }
    case 5: {  // a fragment of a UDP datagram to the dns VIP
      const std::uint16_t id = r.u8() % 8;
      const bool first = (r.u8() & 3) == 0;
      const auto offset = static_cast<std::uint16_t>(first ? 0 : 8 * (1 + r.u8() % 8));
      PacketBuilder b;
      b.Eth().IPv4(
          client, "198.19.0.10",
          {.id = id, .mf = (r.u8() & 1) != 0, .frag_offset = offset, .protocol = 17});
      if (first) b.UDP(cport, 53, {.length = 200});
      return b.Payload(24 + r.u8() % 40, 'f').Build();
    }
    default: {  // an ICMP error quoting a translated packet (either side)
      const bool to_snat = r.u8() & 1;
      Bytes quoted =
          to_snat ? PacketBuilder()
                        .IPv4("198.18.1.1", "198.18.3.1")
                        .TCP(static_cast<std::uint16_t>(1024 + r.u8() % 64), 443)
                        .Build()
                  : PacketBuilder().IPv4("198.19.0.10", client).TCP(80, cport).Build();
      quoted.resize(28 + r.u8() % quoted.size());
      return PacketBuilder()
          .Eth()
          .IPv4(to_snat ? "198.18.9.1" : "192.0.2.1",
                to_snat ? "198.18.1.1" : "198.19.0.10")
          .ICMP(r.u8() & 1 ? 3 : 11, r.u8() % 5)
          .Payload(quoted)
          .Build();
    }
  }
}

// EAL and the rig, once per process (libFuzzer, or the corpus replay main).
std::string g_runtime_dir;  // EAL's, removed at exit

Rig& rig_once() {
  static Rig* rig = [] {
    const std::string prefix = "--file-prefix=nvafuzzw" + std::to_string(::getpid());
    std::vector<std::string> args = {"fuzz-worker",
                                     "-l",
                                     "0",
                                     "--no-huge",
                                     "--no-pci",
                                     "-m",
                                     "256",
                                     "--no-telemetry",
                                     "--log-level=*:error",
                                     prefix};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    require(rte_eal_init(static_cast<int>(args.size()), argv.data()) >= 0, "EAL");
    g_runtime_dir = rte_eal_get_runtime_dir();
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(g_runtime_dir, ec);
    });
    return new Rig();  // lives until the process ends
  }();
  return *rig;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Rig& rig = rig_once();
  Reader r{data, size};
  for (int op = 0; op < 512 && !r.done(); ++op) {
    const std::uint8_t code = r.u8();
    if (code < 200) {
      Bytes f = make_packet(r, code, rig);
      const std::uint8_t mangle = r.u8();
      if ((mangle & 3) == 1 && !f.empty())
        f[r.u16() % f.size()] ^= r.u8() | 1;                              // corrupt
      if ((mangle & 3) == 2) f.resize(r.u16() % (f.size() + 1));          // truncate
      const std::size_t seg = (mangle & 12) == 4 ? 16 + r.u8() % 64 : 0;  // chain
      rig.inject(r.u8() % kWorkers, f, seg);
    } else if (code < 240) {
      rig.poll();
      if (code & 1) rig.check_tables();
    } else {
      rig.advance(code < 250 ? r.u16() : std::uint32_t{r.u16()} * 1000);
    }
  }
  rig.settle();
  rig.check_accounting();
  return 0;
}
