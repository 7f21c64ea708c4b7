// Burst loops of the benchmarks' own, run by Pipeline::push() in the
// worker's place (Pipeline::drive_with()): each keeps one part of the
// worker's per-packet work and leaves out the rest, its per-poll work (RCU,
// ARP, handoff ring, expiry) included. Both receive as the worker's stage 1
// (Loop::receive(): parse, the next packet prefetched, plain IPv4 TCP/UDP
// kept) and send as its forward() (Loop::forward(): MACs, one TX burst).
//
//   ForwardLoop   TTL and IPv4 checksum in between: what every forwarded
//                 packet costs without a connection lookup or NAT, the I/O
//                 path's ceiling (BM_Worker_Forward)
//   IndexLoop     the established fast path in between, as
//                 Worker::process_burst() runs it (key, probe_start(); the
//                 burst's probe_buckets(); probe_finish() and
//                 Translator::process_hit()), with the connection index a
//                 parameter: our table's (ConnTable) or DPDK's rte_hash over
//                 the same records (test::RteHashIndex), compared on equal
//                 terms (BM_IndexLoop_Cuckoo, BM_IndexLoop_RteHash); the
//                 worker has our index only
//
// A packet either loop cannot forward is dropped (the benchmarks count what
// comes out).
#pragma once

#include <rte_mbuf.h>

#include <array>
#include <cstdint>

#include "bench/pipeline.h"
#include "dataplane/conntrack/conn.h"
#include "dataplane/nat/translator.h"
#include "dataplane/packet/mbuf.h"
#include "dataplane/packet/rewrite.h"

namespace nva::bench {

class ForwardLoop final : public Loop {
 public:
  explicit ForwardLoop(const Pipeline& p)
      : Loop(p.port(), p.port_mac(), p.gateway_mac()) {}

  void poll_once() noexcept override {
    rte_mbuf* pkts[kBurst];
    const unsigned n = receive(pkts, parsed_.data());
    unsigned out = 0;
    for (unsigned i = 0; i < n; ++i) {
      if (!packet::ipv4_decrement_ttl(packet::first_segment(pkts[i]), parsed_[i])) {
        rte_pktmbuf_free(pkts[i]);
        continue;
      }
      pkts[out++] = pkts[i];
    }
    forward(pkts, out);
  }

 private:
  // The burst's headers, kept between polls rather than zeroed for each.
  std::array<packet::ParsedPacket, kBurst> parsed_;
};

// Index: ConnTable or test::RteHashIndex (their probe_* steps and Probe).
template <typename Index>
class IndexLoop final : public Loop {
 public:
  IndexLoop(Pipeline& p, const Index& index)
      : Loop(p.port(), p.port_mac(), p.gateway_mac()), p_(p), index_(index) {}

  void poll_once() noexcept override {
    const lb::ServiceTable& svc = p_.services();
    const std::uint32_t now = p_.clock().now_ms();
    nat::Translator& nat = p_.worker().translator();
    rte_mbuf* pkts[kBurst];
    const unsigned n = receive(pkts, parsed_.data());
    for (unsigned i = 0; i < n; ++i) {
      keys_[i] =
          nat::Translator::key_of_headers(packet::first_segment(pkts[i]), parsed_[i]);
      index_.probe_start(keys_[i], probes_[i]);
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
      pkts[out++] = m;
    }
    forward(pkts, out);
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
