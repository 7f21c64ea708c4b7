// The pipeline the worker benchmarks drive: one Worker polling a ring-backed
// ethdev, the mbufs a generator writes into, and the backends' replies; or,
// in the worker's place, a burst loop of a benchmark's own (Loop).
#pragma once

#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench/flow_packets.h"
#include "dataplane/clock.h"
#include "dataplane/common/rcu.h"
#include "dataplane/lb/service.h"
#include "dataplane/options.h"
#include "dataplane/packet/bytes.h"
#include "dataplane/packet/checksum.h"
#include "dataplane/packet/mbuf.h"
#include "dataplane/port/port.h"
#include "dataplane/steer/handoff.h"
#include "dataplane/worker.h"

namespace nva::bench {

inline constexpr std::uint32_t kVip =
    0xC613000A;  // 198.19.0.10:443, PipelineOptions::mode
// 198.19.0.11:443, a kDnat service (tcp_pickup is on by default), with
// PipelineOptions::pickup_vip.
inline constexpr std::uint32_t kPickupVip = 0xC613000B;

struct PipelineOptions {
  std::uint32_t capacity = 1024;  // connections
  lb::NatMode mode = lb::NatMode::kDnatSnat;
  bool pickup_vip = false;
  // Off here: the benchmarks of honest traffic open thousands of
  // handshakes at once against tables sized to them, which `auto` (the
  // configured default) would take for a flood and answer with cookies.
  // The flood benchmark sets it where it measures it.
  nat::SynProxyMode syn_proxy = nat::SynProxyMode::kOff;
};

// kVip's service in `mode`: 8 backends (198.18.2.0-7:8443); for kDnatSnat
// 64 SNAT addresses x 8 backends x ~64k ports: room for 33M connections,
// so 10M flows fill it to 30 % and the port search stays short. With
// `pickup_vip` also kPickupVip's kDnat service (198.18.3.0-7:8443).
inline std::unique_ptr<lb::ServiceTable> bench_services(lb::NatMode mode,
                                                        bool pickup_vip) {
  std::vector<lb::Service> v;
  lb::Service s;
  s.name = "bench";
  s.proto = 6;
  s.vip = kVip;
  s.port = 443;
  s.mode = mode;
  for (std::uint32_t i = 0; i < 8; ++i)
    s.backends.push_back({0xC6120200 + i, 8443, 1, true});
  if (mode == lb::NatMode::kDnatSnat) {
    for (std::uint32_t i = 0; i < 64; ++i) s.snat_addrs.push_back(0xC6120100 + i);
  }
  v.push_back(s);
  if (pickup_vip) {
    lb::Service d;
    d.name = "pickup";
    d.proto = 6;
    d.vip = kPickupVip;
    d.port = 443;
    d.mode = lb::NatMode::kDnat;
    for (std::uint32_t i = 0; i < 8; ++i)
      d.backends.push_back({0xC6120300 + i, 8443, 1, true});
    v.push_back(d);
  }
  return std::make_unique<lb::ServiceTable>(std::move(v), 65537);
}

// A burst loop that stands in for the worker's poll_once() (loops.h):
// receives from the pipeline's port (queue 0), transmits on it.
class Loop {
 public:
  virtual ~Loop() = default;
  virtual void poll_once() noexcept = 0;

 protected:
  Loop(std::uint16_t port, const rte_ether_addr& mac, const rte_ether_addr& gateway)
      : port_(port), mac_(mac), gateway_(gateway) {}
  // A burst from the port, parsed (the next packet prefetched), as the
  // worker's stage 1: the plain packets (IPv4 TCP/UDP, not a fragment) in
  // pkts[0, n) with their headers in parsed[0, n), the rest freed.
  unsigned receive(rte_mbuf** pkts, packet::ParsedPacket* parsed) noexcept {
    const unsigned got = rte_eth_rx_burst(port_, 0, pkts, kBurst);
    unsigned n = 0;
    for (unsigned i = 0; i < got; ++i) {
      if (i + 1 < got) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void*));
      rte_mbuf* m = pkts[i];
      packet::ParsedPacket& p = parsed[n];
      if (packet::parse_mbuf(m, p) != packet::DropReason::kNone ||
          p.l3 != packet::L3Kind::kIpv4 || !p.has_ports ||
          p.frag != packet::FragState::kNone) {
        rte_pktmbuf_free(m);
        continue;
      }
      pkts[n++] = m;
    }
    return n;
  }
  // As the worker's forward(): the next hop's and the port's MACs into each
  // packet, then one TX burst; what the PMD refuses is freed.
  void forward(rte_mbuf** pkts, unsigned n) noexcept {
    for (unsigned i = 0; i < n; ++i) {
      auto* eth = rte_pktmbuf_mtod(pkts[i], rte_ether_hdr*);
      rte_ether_addr_copy(&gateway_, &eth->dst_addr);
      rte_ether_addr_copy(&mac_, &eth->src_addr);
    }
    const unsigned sent = rte_eth_tx_burst(port_, 0, pkts, static_cast<std::uint16_t>(n));
    for (unsigned i = sent; i < n; ++i) rte_pktmbuf_free(pkts[i]);
  }

 private:
  std::uint16_t port_;
  rte_ether_addr mac_, gateway_;
};

// One worker, one ring-backed port, and the generator's mbufs around them.
class Pipeline {
 public:
  Pipeline(std::uint32_t capacity, lb::NatMode mode)
      : Pipeline(PipelineOptions{capacity, mode}) {}
  explicit Pipeline(const PipelineOptions& o)
      : rcu_(1),
        services_(rcu_, bench_services(o.mode, o.pickup_vip)),
        handoff_(name("h"), 1, 1024) {
    pool_ = rte_pktmbuf_pool_create(name("pool").c_str(), 4095, 256, 0,
                                    RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    rx_ = rte_ring_create(name("rx").c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    tx_ = rte_ring_create(name("tx").c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (pool_ == nullptr || rx_ == nullptr || tx_ == nullptr) std::abort();
    const int port = rte_eth_from_rings(name("port").c_str(), &rx_, 1, &tx_, 1, 0);
    if (port < 0) std::abort();
    port_ = static_cast<std::uint16_t>(port);
    port::PortConfig pc;
    pc.port_id = port_;
    pc.pool = pool_;
    const port::PortInfo info = port::setup_port(pc);
    WorkerConfig wc;
    PortBinding pb;
    pb.port_id = port_;
    pb.mac = port_mac_ = info.mac;
    pb.gateway_mac = gateway_mac_;
    wc.ports.push_back(pb);
    wc.nat.capacity = o.capacity;
    wc.nat.syn_proxy = o.syn_proxy;
    // Held fragments capped as the data plane caps them (a share of this
    // 4,095-mbuf pool): a fragment flood must not starve the generator.
    wc.fragments.max_held_mbufs = DataplaneOptions::kFragmentMbufsPerWorker;
    worker_ = std::make_unique<Worker>(wc, rcu_, services_, handoff_, clock_);
    for (unsigned i = 0; i < kBurst; ++i) {
      rte_mbuf* m = rte_pktmbuf_alloc(pool_);
      rte_pktmbuf_append(m, static_cast<std::uint16_t>(gen_.size()));
      spare_.push_back(m);
    }
  }
  ~Pipeline() {
    worker_.reset();
    rte_eth_dev_stop(port_);
    rte_eth_dev_close(port_);
    for (rte_mbuf* m : spare_) rte_pktmbuf_free(m);
    for (rte_ring* r : {rx_, tx_}) {
      void* m = nullptr;
      while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
      rte_ring_free(r);
    }
    rte_mempool_free(pool_);
  }
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Writes the backend's packet of the connection whose client -> VIP
  // tuple is `original` (its reply tuple, read from the worker's table: to
  // the SNAT address and port it chose) with the given TCP flags, the
  // backend's ISN and an ACK of the client's SYN into m; checksums computed
  // in full. False if the worker has no such connection.
  bool write_reply_of(rte_mbuf* m, const conntrack::ConnKey& original,
                      std::uint8_t flags) {
    const conntrack::ConnTable& t = worker_->translator().tracker().table();
    const conntrack::ConnRef ref = t.lookup(original);
    if (!ref.found() || ref.dir() != conntrack::Dir::kOriginal) return false;
    const conntrack::ConnKey& r = t.conn(ref.index()).key[1];
    std::uint8_t* d = rte_pktmbuf_mtod(m, std::uint8_t*);
    std::memcpy(d, gen_.bytes().data(), gen_.size());
    packet::store_be32(d + 26, r.src_addr);
    packet::store_be32(d + 30, r.dst_addr);
    packet::store_be16(d + 34, r.src_port);
    packet::store_be16(d + 36, r.dst_port);
    packet::store_be32(d + 38, kBackendIsn);
    packet::store_be32(d + 42, kClientIsn + 1);  // the client's SYN acknowledged
    d[47] = flags;
    packet::store_be16(d + 24, 0);
    packet::store_be16(d + 24, packet::ipv4_header_checksum(d + 14, 20));
    packet::store_be16(
        d + 50, packet::ipv4_l4_checksum(d + 34, 20, 16, r.src_addr, r.dst_addr, 6));
    return true;
  }

  // The client -> VIP tuple of flow `f` of the generator (client
  // kClientBase + f, port 40000, to kVip:443).
  static conntrack::ConnKey client_key(std::uint32_t f) {
    conntrack::ConnKey k;
    k.src_addr = kClientBase + f;
    k.dst_addr = kVip;
    k.src_port = 40000;
    k.dst_port = 443;
    k.proto = 6;
    return k;
  }

  // write_reply_of() for flow `f` of the generator.
  bool write_reply(rte_mbuf* m, std::uint32_t f, std::uint8_t flags) {
    return write_reply_of(m, client_key(f), flags);
  }

  // The backends' packets of the given flows through the worker.
  unsigned run_replies(const std::uint32_t* flows, std::uint8_t flags) {
    for (unsigned i = 0; i < kBurst; ++i) {
      if (!write_reply(spare_[i], flows[i], flags)) return 0;
    }
    return push();
  }

  // One burst of the given flows through the worker. Out of line so that
  // callgrind counts the bursts (scripts/bench-callgrind).
  [[gnu::noinline]] unsigned run(const std::uint32_t* flows, std::uint8_t flags) {
    for (unsigned i = 0; i < kBurst; ++i) gen_.write(spare_[i], flows[i], flags);
    return push();
  }

  // The generator's kBurst mbufs (frames of FlowPackets::size() bytes), to
  // write before push(); after it, the first `got` are what the worker
  // transmitted.
  rte_mbuf* spare(unsigned i) { return spare_[i]; }

  // The spare mbufs, written, through the worker and back: returns how
  // many it transmitted. Those it dropped or kept (held fragments) are
  // replaced from the pool, in one bulk allocation per burst.
  unsigned push() {
    rte_ring_enqueue_bulk(rx_, reinterpret_cast<void* const*>(spare_.data()), kBurst,
                          nullptr);
    if (loop_ == nullptr) {
      worker_->poll_once();
    } else {
      loop_->poll_once();
    }
    const unsigned got = rte_ring_dequeue_burst(
        tx_, reinterpret_cast<void**>(spare_.data()), kBurst, nullptr);
    if (got < kBurst) {
      if (rte_pktmbuf_alloc_bulk(pool_, &spare_[got], kBurst - got) != 0) std::abort();
      for (unsigned i = got; i < kBurst; ++i) {
        rte_pktmbuf_append(spare_[i], static_cast<std::uint16_t>(gen_.size()));
      }
    }
    return got;
  }

  // From now on push() runs `loop` (outliving its use) instead of the
  // worker's poll_once(); nullptr: the worker again.
  void drive_with(Loop* loop) { loop_ = loop; }

  Worker& worker() { return *worker_; }
  ManualClock& clock() { return clock_; }
  const FlowPackets& packets() const { return gen_; }
  // What a Loop needs of the worker's surroundings: the port (queue 0), its
  // MAC and the next hop's, the published services.
  std::uint16_t port() const { return port_; }
  const rte_ether_addr& port_mac() const { return port_mac_; }
  const rte_ether_addr& gateway_mac() const { return gateway_mac_; }
  const lb::ServiceTable& services() const { return *services_.read(); }

 private:
  static std::string name(const char* what) {
    static int seq = 0;
    return std::string("bw") + std::to_string(seq++) + what;
  }
  RcuDomain rcu_;
  RcuPublished<lb::ServiceTable> services_;
  steer::HandoffRings handoff_;
  ManualClock clock_;
  rte_mempool* pool_ = nullptr;
  rte_ring* rx_ = nullptr;
  rte_ring* tx_ = nullptr;
  std::uint16_t port_ = 0;
  rte_ether_addr port_mac_{};
  rte_ether_addr gateway_mac_{{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc}};
  std::unique_ptr<Worker> worker_;
  Loop* loop_ = nullptr;
  FlowPackets gen_{"198.19.0.10", 443};
  std::vector<rte_mbuf*> spare_;
};

}  // namespace nva::bench
