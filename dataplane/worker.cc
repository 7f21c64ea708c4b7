// The worker loop (see worker.h).
#include "dataplane/worker.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>

#include <stdexcept>

#include "dataplane/packet/mbuf.h"

namespace nva {

Worker::Worker(const WorkerConfig& cfg, RcuDomain& rcu,
               const RcuPublished<lb::ServiceTable>& services,
               steer::HandoffRings& handoff, Clock& clock)
    : cfg_(cfg),
      rcu_(rcu),
      services_(services),
      handoff_(handoff),
      clock_(clock),
      nat_([&] {
        nat::TranslatorConfig n = cfg.nat;
        n.worker = cfg.id;
        n.workers = cfg.workers;
        return n;
      }()),
      owner_params_{cfg.workers, cfg.owner_seed},
      tx_(cfg.ports.size()),
      out_(cfg.workers),
      out_n_(cfg.workers, 0) {
  if (cfg.workers != handoff.workers()) {
    throw std::invalid_argument("worker " + std::to_string(cfg.id) + ": " +
                                std::to_string(cfg.workers) + " workers but " +
                                std::to_string(handoff.workers()) + " handoff rings");
  }
  rcu_.register_reader(cfg_.id);
  rcu_.online(cfg_.id);
}

Worker::~Worker() {
  for (std::size_t i = 0; i < tx_.size(); ++i) flush(i);
  rcu_.offline(cfg_.id);
  rcu_.unregister_reader(cfg_.id);
}

void Worker::flush(std::size_t pi) noexcept {
  TxBuffer& b = tx_[pi];
  if (b.n == 0) return;
  const PortBinding& pb = cfg_.ports[pi];
  const std::uint16_t sent = rte_eth_tx_burst(pb.port_id, pb.queue, b.pkts.data(),
                                              static_cast<std::uint16_t>(b.n));
  counters_.tx += sent;
  for (unsigned i = sent; i < b.n; ++i) rte_pktmbuf_free(b.pkts[i]);
  counters_.tx_dropped += b.n - sent;
  b.n = 0;
}

void Worker::send(std::size_t pi, rte_mbuf* m) noexcept {
  TxBuffer& b = tx_[pi];
  b.pkts[b.n++] = m;
  if (b.n == kBurst) flush(pi);
}

void Worker::flush_handoff() noexcept {
  for (std::uint32_t w = 0; w < cfg_.workers; ++w) {
    const unsigned n = out_n_[w];
    if (n == 0) continue;
    const unsigned in = handoff_.enqueue(w, out_[w].data(), n);
    counters_.handoff_out += in;
    for (unsigned i = in; i < n; ++i) rte_pktmbuf_free(out_[w][i]);
    counters_.handoff_dropped += n - in;
    out_n_[w] = 0;
  }
}

void Worker::handle(rte_mbuf* m, std::size_t pi, bool from_handoff,
                    const lb::ServiceTable& svc, std::uint32_t now) noexcept {
  packet::ParsedPacket p;
  const packet::DropReason r = packet::parse_mbuf(m, p);
  PortBinding& pb = cfg_.ports[pi];
  if (r != packet::DropReason::kNone && r != packet::DropReason::kNotIp) {
    ++counters_.parse_drops[static_cast<std::size_t>(r)];
    rte_pktmbuf_free(m);
    return;
  }
  // Learn the gateway from the first packet when it is not configured.
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  if (rte_is_zero_ether_addr(&pb.gateway_mac) && m->data_len >= sizeof(rte_ether_hdr)) {
    rte_ether_addr_copy(&eth->src_addr, &pb.gateway_mac);
    ++counters_.gateway_learned;
  }
  if (r == packet::DropReason::kNotIp) {
    ++counters_.exception_dropped;  // ARP & co.: no exception path yet
    rte_pktmbuf_free(m);
    return;
  }
  if (!from_handoff) {
    const std::uint32_t o = steer::owner(packet::first_segment(m), p, svc, owner_params_);
    if (o != steer::kAnyWorker && o != cfg_.id) {
      out_[o][out_n_[o]++] = m;
      if (out_n_[o] == kBurst) flush_handoff();
      return;
    }
  }
  switch (nat_.process(packet::first_segment(m), p, svc, now)) {
    case nat::Verdict::kForward:
      rte_ether_addr_copy(&pb.gateway_mac, &eth->dst_addr);
      rte_ether_addr_copy(&pb.mac, &eth->src_addr);
      send(pi, m);
      return;
    case nat::Verdict::kReplyLocal:
      rte_ether_addr_copy(&eth->src_addr, &eth->dst_addr);
      rte_ether_addr_copy(&pb.mac, &eth->src_addr);
      send(pi, m);
      return;
    case nat::Verdict::kException:
      ++counters_.exception_dropped;
      rte_pktmbuf_free(m);
      return;
    case nat::Verdict::kDrop:
      rte_pktmbuf_free(m);
      return;
  }
}

unsigned Worker::poll_once() noexcept {
  const lb::ServiceTable* svc = services_.read();
  const std::uint32_t now = clock_.now_ms();
  unsigned handled = 0;
  rte_mbuf* burst[kBurst];
  if (svc != nullptr) {
    for (std::size_t pi = 0; pi < cfg_.ports.size(); ++pi) {
      const PortBinding& pb = cfg_.ports[pi];
      const std::uint16_t n = rte_eth_rx_burst(pb.port_id, pb.queue, burst, kBurst);
      counters_.rx += n;
      handled += n;
      for (std::uint16_t i = 0; i < n; ++i) {
        if (i + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(burst[i + 1], void*));
        handle(burst[i], pi, false, *svc, now);
      }
    }
    flush_handoff();
    const unsigned h = handoff_.dequeue(cfg_.id, burst, kBurst);
    counters_.handoff_in += h;
    handled += h;
    for (unsigned i = 0; i < h; ++i) {
      // Sent back out of the port it came in on (one-armed).
      std::size_t pi = 0;
      while (pi + 1 < cfg_.ports.size() && cfg_.ports[pi].port_id != burst[i]->port) ++pi;
      handle(burst[i], pi, true, *svc, now);
    }
    for (std::size_t pi = 0; pi < tx_.size(); ++pi) flush(pi);
    nat_.expire(now, cfg_.expire_budget);
  }
  ++counters_.polls;
  heartbeat_.store(heartbeat_.load(std::memory_order_relaxed) + 1,
                   std::memory_order_relaxed);
  rcu_.quiescent(cfg_.id);
  return handled;
}

void Worker::run(const std::atomic<bool>& stop) noexcept {
  while (!stop.load(std::memory_order_relaxed)) {
    if (test_stall.load(std::memory_order_relaxed)) {
      rte_pause();
      continue;
    }
    if (poll_once() != 0) {
      empty_polls_ = 0;
      continue;
    }
    if (cfg_.idle.sleep && ++empty_polls_ >= cfg_.idle.empty_polls_before_sleep) {
      rcu_.offline(cfg_.id);
      rte_delay_us_sleep(cfg_.idle.sleep_us);
      rcu_.online(cfg_.id);
      ++counters_.idle_sleeps;
    }
  }
}

}  // namespace nva
