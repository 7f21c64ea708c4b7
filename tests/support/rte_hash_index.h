// DPDK's rte_hash as a second index of a connection table's records: for
// comparing ours (the table's bucketised cuckoo) against it on the same
// records (bench/loops.h: BM_IndexLoop_RteHash against
// BM_IndexLoop_Cuckoo), checked against a model by
// tests/dataplane/conntrack_rte_hash_test.cc. Needs EAL (the hash lives in
// its heap). Not for the data plane: ConnTable's own index is the one the
// workers use.
//
// The data of each key is its ConnRef (connection index << 1 | direction),
// as our index stores it. Lookups have ConnTable's names and shapes
// (lookup; probe_start, probe_buckets, probe_finish), so one burst loop
// drives either index.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dataplane/conntrack/table.h"

struct rte_hash;

namespace nva::test {

class RteHashIndex {
 public:
  static constexpr unsigned kMaxBurst = conntrack::ConnTable::kMaxBurst;

  // An empty index with room for both keys of every connection `table` can
  // hold (CRC32 hash, extendable buckets: it never refuses below that).
  // Throws std::runtime_error.
  explicit RteHashIndex(const conntrack::ConnTable& table);
  ~RteHashIndex();
  RteHashIndex(const RteHashIndex&) = delete;
  RteHashIndex& operator=(const RteHashIndex&) = delete;

  // Indexes both keys of the table's connection `index` (after the table's
  // insert()); false, and neither indexed, if rte_hash refuses one.
  bool insert(std::uint32_t index) noexcept;
  // Removes both (before the table's erase()).
  void erase(std::uint32_t index) noexcept;

  conntrack::ConnRef lookup(const conntrack::ConnKey& k) const noexcept;

  // A burst's lookup (n <= kMaxBurst) in ConnTable's three steps:
  // probe_start() notes the key, probe_buckets() is one
  // rte_hash_lookup_bulk_data() over the burst's keys and the prefetch of
  // the records found.
  struct Probe {
    const conntrack::ConnKey* key;
    std::uint32_t cand;  // a reference or ConnRef::kNone
  };
  void probe_start(const conntrack::ConnKey& k, Probe& p) const noexcept { p.key = &k; }
  void probe_buckets(Probe* probes, unsigned n) const noexcept;
  conntrack::ConnRef probe_finish(const conntrack::ConnKey&,
                                  const Probe& p) const noexcept {
    return conntrack::ConnRef{p.cand};
  }

  // The EAL heap the hash took.
  std::size_t memory_bytes() const noexcept { return bytes_; }
  // An rte_hash-indexed table's memory per connection: the hash and the
  // 64-byte records (ConnTable::bytes_per_conn() counts its own index).
  double bytes_per_conn() const noexcept;

 private:
  const conntrack::ConnTable& table_;
  ::rte_hash* hash_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace nva::test
