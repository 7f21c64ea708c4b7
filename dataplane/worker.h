// A data-plane worker: one lcore, one shard. It polls its RX queue of every
// port and its handoff ring, hands packets that owner() gives to another
// worker over, translates its own, and transmits in bursts.
//
//   poll_once():
//     services = RCU read of the published ServiceTable
//     for each port: RX burst -> parse -> owner? other: handoff ring
//                                        self/any: translate -> TX buffer
//     handoff ring burst -> translate -> TX buffer
//     flush TX buffers; expire a bounded batch; heartbeat++; RCU quiescent
//     nothing received for a while: sleep (RCU offline) - the idle back-off
//
// Everything here is written by this worker only; other threads read the
// heartbeat and the counters (relaxed; counters may be a burst stale).
#pragma once

#include <rte_ether.h>
#include <rte_mbuf.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>
#include <vector>

#include "dataplane/clock.h"
#include "dataplane/common/counter.h"
#include "dataplane/common/rcu.h"
#include "dataplane/lb/service.h"
#include "dataplane/nat/fragments.h"
#include "dataplane/nat/translator.h"
#include "dataplane/options.h"
#include "dataplane/packet/drop_reason.h"
#include "dataplane/steer/handoff.h"
#include "dataplane/steer/owner.h"

namespace nva {

inline constexpr unsigned kBurst = 32;

struct PortBinding {
  std::uint16_t port_id = 0;
  std::uint16_t queue = 0;  // this worker's RX and TX queue on the port
  rte_ether_addr mac{};     // the port's own MAC (source of what we send)
  // Next hop for everything sent out of this port (in an Azure VNet every
  // destination is reached through the gateway). All zero: learn it from
  // the source MAC of the first packet received on the port.
  rte_ether_addr gateway_mac{};
  // With a gateway address the MAC is learned from ARP instead (the
  // gateway's replies, which every worker then uses) and requested once a
  // second while unknown, from `local_ip` (0: an ARP probe from 0.0.0.0).
  std::uint32_t gateway_ip = 0;  // host order; 0: none
  std::uint32_t local_ip = 0;
  // Where workers share what ARP taught them: 0 = unknown, else the MAC in
  // the low 48 bits. Owned by the DataPlane (or a test); null without ARP.
  std::atomic<std::uint64_t>* learned_mac = nullptr;
};

struct IdleConfig {
  bool sleep = true;  // false: pure polling
  std::uint32_t empty_polls_before_sleep = 256;
  std::uint32_t sleep_us = 200;
};

struct WorkerConfig {
  std::uint32_t id = 0;
  std::uint32_t workers = 1;
  std::uint64_t owner_seed = 0;
  // RSS pre-calculation: the ports' common RSS (owned by the DataPlane or a
  // test, outliving the worker); null: software handoff for everything.
  const steer::RssSteering* rss = nullptr;
  // rte_flow steering (owned by the DataPlane, outliving the worker); null:
  // none. With its snat-return class steered, SNAT ports come from the
  // static partition (the queue rules), not from `rss`.
  const steer::FlowSteering* flow = nullptr;
  std::vector<PortBinding> ports;
  nat::TranslatorConfig nat;
  nat::FragmentConfig fragments;
  IdleConfig idle;
  unsigned expire_budget = 64;  // list heads examined per poll
  rte_mempool* pool = nullptr;  // for the ARP requests this worker sends (worker 0)
};

// X(member, "telemetry name", "what it counts"): see common/counter.h.
#define NVA_WORKER_COUNTERS(X)                                                   \
  X(polls, "polls", "poll loop iterations")                                      \
  X(rx, "rx", "packets received from the ports")                                 \
  X(tx, "tx", "packets the ports took for transmission")                         \
  X(tx_dropped, "tx_dropped", "packets the PMD did not take (also tx_full)")     \
  X(handoff_out, "handoff_out", "packets handed to their owner worker")          \
  X(handoff_in, "handoff_in", "packets taken from this worker's handoff ring")   \
  X(handoff_dropped, "handoff_dropped", "owner's ring full (handoff_ring_full)") \
  X(exception_dropped, "exception_dropped", "not ours, no exception path yet")   \
  X(idle_sleeps, "idle_sleeps", "sleeps of the idle back-off")                   \
  X(gateway_learned, "gateway_learned", "gateway MACs learned (traffic, ARP)")   \
  X(arp_requests, "arp_requests", "ARP requests sent for the gateway")           \
  X(no_next_hop, "no_next_hop", "dropped: the gateway's MAC not known yet")      \
  X(proxy_released, "syn_proxy_released", "held segments processed again")       \
  X(proxy_held_full, "syn_proxy_held_full", "held segments dropped for room")    \
  X(proxy_held_timeout, "syn_proxy_held_timeout", "held a second, dropped")

struct alignas(64) WorkerCounters {
  NVA_COUNTER_SET(NVA_WORKER_COUNTERS)
  std::array<Counter, packet::kDropReasonCount> parse_drops{};
};

class Worker {
 public:
  Worker(const WorkerConfig& cfg, RcuDomain& rcu,
         const RcuPublished<lb::ServiceTable>& services, steer::HandoffRings& handoff,
         Clock& clock);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // One iteration of the loop (no sleeping); returns packets handled.
  unsigned poll_once() noexcept;

  // The lcore body: polls until `stop`, sleeping when idle if configured.
  void run(const std::atomic<bool>& stop) noexcept;

  std::uint64_t heartbeat() const noexcept {
    return heartbeat_.load(std::memory_order_relaxed);
  }
  const WorkerCounters& counters() const noexcept { return counters_; }
  const nat::Translator& translator() const noexcept { return nat_; }
  const nat::FragmentTracker& fragments() const noexcept { return frags_; }
  // Drops every packet held (fragments waiting for their first, the SYN
  // proxy's segments waiting for their backend), counted as timed out
  // (DataPlane::flush_held(), --replay's end); not while running.
  void flush_held() noexcept;
  // Packet buffers the SYN proxy's holding keeps now.
  unsigned proxy_held() const noexcept { return proxy_held_n_; }
  nat::Translator& translator() noexcept { return nat_; }
  std::uint32_t id() const noexcept { return cfg_.id; }

  // Test hook: while set, run() spins without polling or heartbeats (a
  // stuck worker, for watchdog tests).
  std::atomic<bool> test_stall{false};

 private:
  struct TxBuffer {
    std::array<rte_mbuf*, kBurst> pkts{};
    unsigned n = 0;
  };
  // A burst: parse all, look the plain TCP/UDP ones up in bulk (prefetched
  // across the burst), translate hits; everything else takes handle().
  void process_burst(rte_mbuf** pkts, unsigned n, std::size_t port_index,
                     bool from_handoff, const lb::ServiceTable& svc,
                     std::uint32_t now) noexcept;
  // One packet, already parsed with result `r` (handle() fills in
  // p.rx_csum before the translator may create a connection for it).
  void handle(rte_mbuf* m, packet::ParsedPacket& p, packet::DropReason r,
              std::size_t port_index, bool from_handoff, const lb::ServiceTable& svc,
              std::uint32_t now) noexcept;
  std::size_t port_index_of(const rte_mbuf* m) const noexcept;
  void send(std::size_t port_index, rte_mbuf* m) noexcept;
  // Next hop's and the port's MACs, then send(); the gateway MAC is known.
  void forward(std::size_t port_index, rte_mbuf* m) noexcept;
  void flush(std::size_t port_index) noexcept;
  void flush_handoff() noexcept;
  void learn_from_arp(const rte_mbuf* m, const packet::ParsedPacket& p,
                      PortBinding& pb) noexcept;
  void resolve_gateways(std::uint32_t now) noexcept;
  void to_worker(std::uint32_t w, rte_mbuf* m) noexcept;
  void finish(nat::Verdict v, rte_mbuf* m, std::size_t port_index) noexcept;
  // Out of line: inlined (twice, with rte_pktmbuf_free) it made finish()'s
  // every forward 8 instructions dearer.
  [[gnu::noinline, gnu::cold]] void resize(rte_mbuf* m) noexcept;
  // Fragments: the datagram tracker's side, and the connection owner's.
  void fragment_at_tracker(rte_mbuf* m, const packet::ParsedPacket& p,
                           std::size_t port_index, const lb::ServiceTable& svc,
                           std::uint32_t now) noexcept;
  void fragment_to_owner(rte_mbuf* m, const packet::ParsedPacket& p,
                         const nat::FragmentTracker::Ports& ports, std::size_t port_index,
                         const lb::ServiceTable& svc, std::uint32_t now) noexcept;

  WorkerConfig cfg_;
  RcuDomain& rcu_;
  const RcuPublished<lb::ServiceTable>& services_;
  steer::HandoffRings& handoff_;
  Clock& clock_;
  nat::Translator nat_;
  nat::FragmentTracker frags_;
  // The SYN proxy's held segments (nat::Verdict::kHold), oldest first.
  struct ProxyHeld {
    rte_mbuf* m = nullptr;
    std::uint32_t conn = 0;
    std::uint32_t since_ms = 0;
    std::size_t port_index = 0;
  };
  static constexpr std::uint32_t kProxyHeldMs = 1000;
  std::array<ProxyHeld, DataplaneOptions::kProxyHeldPerWorker> proxy_held_{};
  unsigned proxy_held_n_ = 0;
  // The burst's service snapshot and time, for segments processed again
  // from finish() (release_held()).
  const lb::ServiceTable* cur_svc_ = nullptr;
  std::uint32_t cur_now_ = 0;
  void hold(rte_mbuf* m, std::size_t port_index) noexcept;
  void release_held(std::uint32_t conn) noexcept;
  void expire_held(std::uint32_t now, bool all) noexcept;
  std::vector<rte_mbuf*> released_;  // scratch: fragments a first one released
  steer::OwnerParams owner_params_;
  std::vector<TxBuffer> tx_;
  // Packets for other workers, gathered per burst and enqueued in bulk.
  std::vector<std::array<rte_mbuf*, kBurst>> out_;
  std::vector<unsigned> out_n_;
  WorkerCounters counters_;
  std::atomic<std::uint64_t> heartbeat_{0};
  std::uint32_t empty_polls_ = 0;
  bool online_ = false;  // RCU reader online (inside run())
  std::uint32_t last_arp_ms_ = 0;
  bool arp_sent_ = false;
};

}  // namespace nva
