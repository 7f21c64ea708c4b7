// The worker's established fast path as a burst loop of the benchmarks' own,
// with the connection index as a parameter: our table's (ConnTable) or DPDK's
// rte_hash over the same records (test::RteHashIndex), so the two compare on
// equal terms in the pipeline (BM_IndexLoop_Cuckoo, BM_IndexLoop_RteHash).
// The worker's own loop has our index only.
//
// Per burst, as Worker::process_burst() for plain packets: receive; parse
// each (the next one prefetched), its key, probe_start(); probe_buckets()
// over the burst; then in order probe_finish() and
// Translator::process_hit(), the MACs, transmit. None of the worker's
// per-poll work (RCU, ARP, handoff, expiry); a packet without a connection
// is dropped (the benchmarks count what comes out).
#pragma once

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <array>
#include <cstdint>

#include "bench/pipeline.h"
#include "dataplane/conntrack/conn.h"
#include "dataplane/nat/translator.h"
#include "dataplane/packet/mbuf.h"

namespace nva::bench {

// Index: ConnTable or test::RteHashIndex (their probe_* steps and Probe).
template <typename Index>
class IndexLoop final : public Loop {
 public:
  IndexLoop(Pipeline& p, const Index& index) : p_(p), index_(index) {}

  void poll_once() noexcept override {
    const lb::ServiceTable& svc = p_.services();
    const std::uint32_t now = p_.clock().now_ms();
    nat::Translator& nat = p_.worker().translator();
    rte_mbuf* pkts[kBurst];
    const unsigned got = rte_eth_rx_burst(p_.port(), 0, pkts, kBurst);
    unsigned n = 0;
    for (unsigned i = 0; i < got; ++i) {
      if (i + 1 < got) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void*));
      rte_mbuf* m = pkts[i];
      packet::ParsedPacket& pp = parsed_[n];
      if (packet::parse_mbuf(m, pp) != packet::DropReason::kNone ||
          pp.l3 != packet::L3Kind::kIpv4 || !pp.has_ports ||
          pp.frag != packet::FragState::kNone) {
        rte_pktmbuf_free(m);
        continue;
      }
      keys_[n] = nat::Translator::key_of_headers(packet::first_segment(m), pp);
      index_.probe_start(keys_[n], probes_[n]);
      pkts[n++] = m;
    }
    if (n != 0) index_.probe_buckets(probes_.data(), n);
    unsigned out = 0;
    for (unsigned i = 0; i < n; ++i) {
      rte_mbuf* m = pkts[i];
      const conntrack::ConnRef ref = index_.probe_finish(keys_[i], probes_[i]);
      if (!ref.found() || nat.process_hit(packet::first_segment(m), parsed_[i], ref, svc,
                                          now) != nat::Verdict::kForward) {
        rte_pktmbuf_free(m);
        continue;
      }
      auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
      rte_ether_addr_copy(&p_.gateway_mac(), &eth->dst_addr);
      rte_ether_addr_copy(&p_.port_mac(), &eth->src_addr);
      pkts[out++] = m;
    }
    const unsigned sent =
        rte_eth_tx_burst(p_.port(), 0, pkts, static_cast<std::uint16_t>(out));
    for (unsigned i = sent; i < out; ++i) rte_pktmbuf_free(pkts[i]);
  }

 private:
  Pipeline& p_;
  const Index& index_;
  // The burst's scratch, kept between polls rather than zeroed for each.
  std::array<packet::ParsedPacket, kBurst> parsed_;
  std::array<conntrack::ConnKey, kBurst> keys_;
  std::array<typename Index::Probe, kBurst> probes_;
};

}  // namespace nva::bench
