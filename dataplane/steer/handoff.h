// Software handoff: one bounded ring per worker that other workers enqueue
// packets into when owner() names it (multi-producer, single-consumer).
#pragma once

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <cstdint>
#include <string>
#include <vector>

namespace nva::steer {

class HandoffRings {
 public:
  // `workers` rings of `size` slots (a power of two), named after `prefix`.
  HandoffRings(const std::string& prefix, std::uint32_t workers, std::uint32_t size);
  ~HandoffRings();
  HandoffRings(const HandoffRings&) = delete;
  HandoffRings& operator=(const HandoffRings&) = delete;

  // Enqueues up to n packets for `worker`; returns how many went in (the
  // caller frees and counts the rest as congestion drops).
  unsigned enqueue(std::uint32_t worker, rte_mbuf* const* pkts, unsigned n) noexcept {
    return rte_ring_mp_enqueue_burst(rings_[worker], reinterpret_cast<void* const*>(pkts),
                                     n, nullptr);
  }
  // Dequeues up to n packets handed to `worker` (only `worker` calls this).
  unsigned dequeue(std::uint32_t worker, rte_mbuf** pkts, unsigned n) noexcept {
    return rte_ring_sc_dequeue_burst(rings_[worker], reinterpret_cast<void**>(pkts), n,
                                     nullptr);
  }
  unsigned count(std::uint32_t worker) const noexcept {
    return rte_ring_count(rings_[worker]);
  }
  std::uint32_t workers() const noexcept {
    return static_cast<std::uint32_t>(rings_.size());
  }

 private:
  std::vector<rte_ring*> rings_;
};

}  // namespace nva::steer
