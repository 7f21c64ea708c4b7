// rte_hash beside a connection table (see rte_hash_index.h).
#include "tests/support/rte_hash_index.h"

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace nva::test {

namespace {

using conntrack::ConnKey;
using conntrack::ConnRef;

std::size_t eal_heap_bytes() {
  rte_malloc_socket_stats st{};
  std::size_t total = 0;
  for (int s = 0; s < RTE_MAX_NUMA_NODES; ++s) {
    if (rte_malloc_get_socket_stats(s, &st) == 0) total += st.heap_allocsz_bytes;
  }
  return total;
}

void* as_data(std::uint32_t ref) noexcept {
  return reinterpret_cast<void*>(std::uintptr_t{ref});
}

std::uint32_t as_ref(const void* data) noexcept {
  return static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(data));
}

}  // namespace

RteHashIndex::RteHashIndex(const conntrack::ConnTable& table) : table_(table) {
  static std::uint32_t seq = 0;
  const std::string name = "nva_ct" + std::to_string(seq++);
  rte_hash_parameters p{};
  p.name = name.c_str();
  p.entries = table.capacity() * 2;  // both directions
  p.key_len = sizeof(ConnKey);
  p.hash_func = rte_hash_crc;
  p.socket_id = SOCKET_ID_ANY;
  p.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
  const std::size_t before = eal_heap_bytes();
  hash_ = rte_hash_create(&p);
  if (hash_ == nullptr) {
    throw std::runtime_error("rte_hash_create for " + std::to_string(table.capacity()) +
                             " connections: " + rte_strerror(rte_errno));
  }
  bytes_ = eal_heap_bytes() - before;
}

RteHashIndex::~RteHashIndex() { rte_hash_free(hash_); }

bool RteHashIndex::insert(std::uint32_t index) noexcept {
  const conntrack::Conn& c = table_.conn(index);
  if (rte_hash_add_key_data(hash_, &c.key[0], as_data(index << 1)) != 0) return false;
  if (rte_hash_add_key_data(hash_, &c.key[1], as_data((index << 1) | 1)) != 0) {
    rte_hash_del_key(hash_, &c.key[0]);
    return false;
  }
  return true;
}

void RteHashIndex::erase(std::uint32_t index) noexcept {
  const conntrack::Conn& c = table_.conn(index);
  rte_hash_del_key(hash_, &c.key[0]);
  rte_hash_del_key(hash_, &c.key[1]);
}

ConnRef RteHashIndex::lookup(const ConnKey& k) const noexcept {
  void* data = nullptr;
  if (rte_hash_lookup_data(hash_, &k, &data) < 0) return {};
  return ConnRef{as_ref(data)};
}

void RteHashIndex::probe_buckets(Probe* probes, unsigned n) const noexcept {
  if (n > kMaxBurst) n = kMaxBurst;
  const void* keys[kMaxBurst];
  for (unsigned i = 0; i < n; ++i) keys[i] = probes[i].key;
  void* data[kMaxBurst];
  std::uint64_t hits = 0;
  rte_hash_lookup_bulk_data(hash_, keys, n, &hits, data);
  for (unsigned i = 0; i < n; ++i) {
    probes[i].cand = (hits >> i) & 1 ? as_ref(data[i]) : ConnRef::kNone;
    // The caller needs the record next: fetch it for the burst.
    if (probes[i].cand != ConnRef::kNone) table_.prefetch_record(probes[i].cand >> 1);
  }
}

double RteHashIndex::bytes_per_conn() const noexcept {
  const std::size_t records = std::size_t{table_.capacity()} * sizeof(conntrack::Conn);
  return static_cast<double>(bytes_ + records) / table_.capacity();
}

}  // namespace nva::test
