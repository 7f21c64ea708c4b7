// Handoff benchmarks: two workers on a two-queue ring-backed ethdev, driven
// on one thread (worker 0's poll, then worker 1's), so the figures are CPU
// time summed over both workers: Mpps per core. Every burst of 32 packets
// (established dnat+snat connections, client -> VIP, 64 bytes) arrives on
// worker 0's RX queue; <percent foreign> of them are owned by worker 1 and
// cross the handoff ring. BM_Worker_Handoff_Precalc is the same traffic
// with RSS pre-calculation on: the NIC already put every packet on its
// owner's queue, and owner() is the Toeplitz hash of the tuple.
#include <benchmark/benchmark.h>
#include <rte_cycles.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include <array>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench/flow_packets.h"
#include "dataplane/packet/bytes.h"
#include "dataplane/packet/checksum.h"
#include "dataplane/port/port.h"
#include "dataplane/worker.h"
#include "tests/support/packet_builder.h"

namespace nva {
namespace {

using bench::FlowPackets;
using bench::kClientBase;

constexpr std::uint32_t kVip = 0xC613000A;  // 198.19.0.10
constexpr std::uint32_t kFlowsPerWorker = 4096;
constexpr std::uint64_t kSeed = 77;

std::unique_ptr<lb::ServiceTable> services() {
  lb::Service s;
  s.name = "bench";
  s.proto = 6;
  s.vip = kVip;
  s.port = 443;
  s.mode = lb::NatMode::kDnatSnat;
  for (std::uint32_t i = 0; i < 8; ++i)
    s.backends.push_back({0xC6120200 + i, 8443, 1, true});
  for (std::uint32_t i = 0; i < 8; ++i) s.snat_addrs.push_back(0xC6120100 + i);
  return std::make_unique<lb::ServiceTable>(std::vector<lb::Service>{s}, 65537);
}

class TwoWorkers {
 public:
  explicit TwoWorkers(bool precalc)
      : rcu_(2), services_(rcu_, services()), handoff_(name("h"), 2, 1024) {
    pool_ = rte_pktmbuf_pool_create(name("pool").c_str(), 4095, 256, 0,
                                    RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    for (int q = 0; q < 2; ++q) {
      rx_[q] =
          rte_ring_create(name("rx").c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
      tx_[q] =
          rte_ring_create(name("tx").c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
      if (rx_[q] == nullptr || tx_[q] == nullptr) std::abort();
    }
    if (pool_ == nullptr) std::abort();
    const int port =
        rte_eth_from_rings(name("port").c_str(), rx_.data(), 2, tx_.data(), 2, 0);
    if (port < 0) std::abort();
    port_ = static_cast<std::uint16_t>(port);
    port::PortConfig pc;
    pc.port_id = port_;
    pc.queues = 2;
    pc.pool = pool_;
    const port::PortInfo info = port::setup_port(pc);
    if (precalc) {
      steer::RssView view;
      std::memcpy(view.key.data(), port::kDefaultRssKey, view.key.size());
      for (std::uint16_t i = 0; i < 128; ++i) view.reta.push_back(i % 2);
      std::string why;
      rss_ = steer::RssSteering::make(view, 2, why);
      if (rss_ == nullptr) std::abort();
    }
    for (std::uint32_t w = 0; w < 2; ++w) {
      WorkerConfig wc;
      wc.id = w;
      wc.workers = 2;
      wc.owner_seed = kSeed;
      wc.rss = rss_.get();
      PortBinding pb;
      pb.port_id = port_;
      pb.queue = static_cast<std::uint16_t>(w);
      pb.mac = info.mac;
      pb.gateway_mac = rte_ether_addr{{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc}};
      wc.ports.push_back(pb);
      wc.nat.capacity = 4 * kFlowsPerWorker;
      wc.idle.sleep = false;
      workers_[w] = std::make_unique<Worker>(wc, rcu_, services_, handoff_, clock_);
    }
    // Flows by owner, as owner() (the workers' own parameters) says.
    const steer::OwnerParams op{2, kSeed, rss_.get()};
    const lb::ServiceTable* svc = services_.read();
    for (std::uint32_t f = 0;
         owned_[0].size() < kFlowsPerWorker || owned_[1].size() < kFlowsPerWorker; ++f) {
      const std::uint32_t o =
          steer::owner_of_tuple(kClientBase + f, 40000, kVip, 443, 6, *svc, op);
      if (owned_[o].size() < kFlowsPerWorker) owned_[o].push_back(f);
    }
    for (unsigned i = 0; i < kBurst; ++i) {
      rte_mbuf* m = rte_pktmbuf_alloc(pool_);
      rte_pktmbuf_append(m, static_cast<std::uint16_t>(gen_.size()));
      spare_.push_back(m);
    }
    // Open every connection on its owner's queue (untimed).
    std::array<std::uint32_t, kBurst> ids{};
    for (std::uint32_t w = 0; w < 2; ++w) {
      for (std::uint32_t i = 0; i < kFlowsPerWorker; i += kBurst) {
        for (unsigned k = 0; k < kBurst; ++k)
          ids[k] = owned_[w][(i + k) % kFlowsPerWorker];
        run(ids.data(), w, 0x02);
      }
    }
  }
  ~TwoWorkers() {
    for (auto& w : workers_) w.reset();
    rte_eth_dev_stop(port_);
    rte_eth_dev_close(port_);
    for (rte_mbuf* m : spare_) rte_pktmbuf_free(m);
    for (int q = 0; q < 2; ++q) {
      for (rte_ring* r : {rx_[q], tx_[q]}) {
        void* m = nullptr;
        while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
        rte_ring_free(r);
      }
    }
    rte_mempool_free(pool_);
  }

  // One burst of these flows onto RX queue `q`, both workers polled, all
  // transmitted packets collected; returns how many left.
  unsigned run(const std::uint32_t* flows, std::uint32_t q, std::uint8_t flags) {
    for (unsigned i = 0; i < kBurst; ++i) gen_.write(spare_[i], flows[i], flags);
    rte_ring_enqueue_bulk(rx_[q], reinterpret_cast<void* const*>(spare_.data()), kBurst,
                          nullptr);
    workers_[0]->poll_once();
    workers_[1]->poll_once();
    unsigned got = rte_ring_dequeue_burst(tx_[0], reinterpret_cast<void**>(spare_.data()),
                                          kBurst, nullptr);
    got += rte_ring_dequeue_burst(tx_[1], reinterpret_cast<void**>(spare_.data() + got),
                                  kBurst - got, nullptr);
    for (unsigned i = got; i < kBurst; ++i) {
      spare_[i] = rte_pktmbuf_alloc(pool_);
      rte_pktmbuf_append(spare_[i], static_cast<std::uint16_t>(gen_.size()));
    }
    return got;
  }

  const std::vector<std::uint32_t>& owned(std::uint32_t w) const { return owned_[w]; }
  std::uint64_t handoffs() const {
    return workers_[0]->counters().handoff_out + workers_[1]->counters().handoff_out;
  }

 private:
  static std::string name(const char* what) {
    static int seq = 0;
    return std::string("bh") + std::to_string(seq++) + what;
  }
  RcuDomain rcu_;
  RcuPublished<lb::ServiceTable> services_;
  steer::HandoffRings handoff_;
  ManualClock clock_;
  std::unique_ptr<steer::RssSteering> rss_;
  rte_mempool* pool_ = nullptr;
  std::array<rte_ring*, 2> rx_{}, tx_{};
  std::uint16_t port_ = 0;
  std::array<std::unique_ptr<Worker>, 2> workers_;
  std::array<std::vector<std::uint32_t>, 2> owned_;
  FlowPackets gen_{"198.19.0.10", 443};
  std::vector<rte_mbuf*> spare_;
};

// Bursts of flows for worker 0's queue with `pct` percent of worker 1's
// flows spread through each burst.
std::vector<std::uint32_t> bursts(const TwoWorkers& p, int pct, std::size_t n) {
  std::vector<std::uint32_t> v(n);
  const unsigned foreign = static_cast<unsigned>(kBurst * pct / 100);
  std::uint32_t a = 0, b = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const bool is_foreign = (i % kBurst * 13) % kBurst < foreign;  // 13: odd, spreads
    v[i] = is_foreign ? p.owned(1)[b++ % kFlowsPerWorker]
                      : p.owned(0)[a++ % kFlowsPerWorker];
  }
  return v;
}

void measure(benchmark::State& state, TwoWorkers& p,
             const std::vector<std::uint32_t>& v) {
  std::size_t pos = 0;
  std::uint64_t packets = 0;
  const std::uint64_t h0 = p.handoffs();
  const std::uint64_t t0 = rte_rdtsc();
  for (auto _ : state) {
    packets += p.run(&v[pos], 0, 0x10);
    pos = (pos + kBurst) % v.size();
  }
  const std::uint64_t cycles = rte_rdtsc() - t0;
  state.SetItemsProcessed(static_cast<std::int64_t>(packets));
  state.counters["Mpps"] =
      benchmark::Counter(static_cast<double>(packets) / 1e6, benchmark::Counter::kIsRate);
  state.counters["cycles_per_packet"] =
      packets == 0 ? 0 : static_cast<double>(cycles) / static_cast<double>(packets);
  state.counters["handoff_share"] =
      packets == 0
          ? 0
          : static_cast<double>(p.handoffs() - h0) / static_cast<double>(packets);
  if (packets != static_cast<std::uint64_t>(state.iterations()) * kBurst) {
    state.SkipWithError("packets were dropped");
  }
}

void BM_Worker_Handoff(benchmark::State& state) {
  TwoWorkers p(false);
  measure(state, p, bursts(p, static_cast<int>(state.range(0)), 1 << 16));
}
BENCHMARK(BM_Worker_Handoff)->ArgName("percent_foreign")->Arg(0)->Arg(50)->Arg(100);

// Pre-calculated: the NIC's RSS put every packet on its owner's queue.
void BM_Worker_Handoff_Precalc(benchmark::State& state) {
  TwoWorkers p(true);
  measure(state, p, bursts(p, 0, 1 << 16));
}
BENCHMARK(BM_Worker_Handoff_Precalc);

}  // namespace
}  // namespace nva
