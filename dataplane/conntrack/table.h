// One shard's connection table: a pool of connection records and a
// bucketised cuckoo index that finds each connection from both directions.
//
// Layout (per connection, at the configured capacity):
//   record  64 bytes, one cache line (conn.h)
//   index   2 entries (one per direction) of 6 bytes in 64-byte buckets of
//           10, sized for a load of at most 90 %: ~13.3 bytes
//   total   ~78 bytes per connection (bytes_per_conn() reports the exact
//           figure for a capacity); free records are chained through their
//           own lru_next field, so the pool needs no side array
// A lookup touches one or two bucket lines and one record line; the bulk
// lookup prefetches them for a burst before touching any.
//
// The benchmarks measure this index against DPDK's rte_hash over the same
// records (bench/loops.h, with tests/support/rte_hash_index.h).
//
// Single-writer, single-reader: only the owning worker calls anything here
// (the design's shard rule), so there are no atomics and no locks. Memory
// is allocated once, at construction, never on the packet path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "dataplane/conntrack/conn.h"

namespace nva::conntrack {

// Reference to one direction of one connection, as the index stores it.
struct ConnRef {
  static constexpr std::uint32_t kNone = 0xFFFFFFFFu;
  std::uint32_t raw = kNone;  // conn index << 1 | direction

  bool found() const noexcept { return raw != kNone; }
  std::uint32_t index() const noexcept { return raw >> 1; }
  Dir dir() const noexcept { return static_cast<Dir>(raw & 1); }
};

// The secret of the index hash. The default is a fixed pair (tests and
// benchmarks get reproducible layouts); the data plane gives every process
// a random one (DataplaneOptions::hash_key), so nobody outside can aim
// packets at one bucket pair.
struct TableKey {
  std::uint64_t k0 = 0xFFFFFFFF85A308D3ull;
  std::uint64_t k1 = 0x13198A2E03707344ull;
};

class ConnTable {
 public:
  static constexpr unsigned kBucketEntries = 10;
  static constexpr unsigned kMaxBurst = 64;

  // `capacity` connections (at most 2^30). Throws std::bad_alloc or
  // std::invalid_argument; call at start-up only.
  explicit ConnTable(std::uint32_t capacity, TableKey key = {});
  ~ConnTable();
  ConnTable(const ConnTable&) = delete;
  ConnTable& operator=(const ConnTable&) = delete;

  // The hash of a key; pass it to lookup/insert to avoid recomputing.
  // One 64 x 64 -> 128-bit multiply of the two key words, each xored with a
  // word of the table's secret key, folded (the "mum" step of wyhash): four
  // instructions where
  // two rounds of a 64-bit finaliser took sixteen, and the table fills to
  // its design load with zero failures on sequential addresses, sequential
  // ports and SNAT-like tuples alike (unit-tested at 2^18; 1e6 and 1e7 when
  // it was chosen). The low 32 bits pick the bucket, the top 16 give the
  // signature, and they are independent (a CRC's linearity would correlate
  // them, which starves the cuckoo of alternatives). The product is 0 for
  // every port of one address pair only, the pair equal to k0 (word1 never
  // equals k1: its top bytes are zero and k1's top bit is set). With a
  // secret key nobody can compute that pair, nor aim SYNs at one bucket
  // pair (which would cost those SYNs their connection, index_full, never
  // an established one).
  [[gnu::always_inline]] std::uint64_t hash(const ConnKey& k) const noexcept {
    __extension__ using U128 = unsigned __int128;
    const U128 m = static_cast<U128>(k.word0() ^ key_.k0) * (k.word1() ^ key_.k1);
    return static_cast<std::uint64_t>(m) ^ static_cast<std::uint64_t>(m >> 64);
  }

  ConnRef lookup(const ConnKey& k) const noexcept { return lookup(k, hash(k)); }
  ConnRef lookup(const ConnKey& k, std::uint64_t h) const noexcept;

  // Looks up n <= kMaxBurst keys, prefetching buckets and records across
  // the burst. out[i] is the result for keys[i]. Starts a new
  // inserted_since_bulk() filter. The three probe steps below in a row.
  void lookup_bulk(const ConnKey* const* keys, unsigned n, ConnRef* out) const noexcept;

  // A burst's lookup in three steps, so that a caller walking its burst
  // anyway (the worker: parse, then translate) runs the first and last
  // inside its own loops: probe_start() for each key (hash, primary bucket
  // prefetched), probe_buckets() over the burst (signatures matched, the
  // candidate record or the alternative bucket prefetched; starts a new
  // inserted_since_bulk() filter), probe_finish() for each (the key
  // confirmed in the record).
  struct Probe {
    std::uint64_t hash;
    std::uint32_t bucket;  // primary; the alternative when it has the candidate
    std::uint32_t cand;    // a reference, ConnRef::kNone, or kRecheck
  };
  void probe_start(const ConnKey& k, Probe& p) const noexcept {
    p.hash = hash(k);
    p.bucket = primary(p.hash);
    __builtin_prefetch(&buckets_[p.bucket]);
  }
  void probe_buckets(Probe* probes, unsigned n) const noexcept;
  ConnRef probe_finish(const ConnKey& k, const Probe& p) const noexcept {
    if (p.cand == ConnRef::kNone) return {};
    if (p.cand != kRecheck) {
      const ConnRef r{p.cand};
      if (conns_[r.index()].key[r.raw & 1] == k) return r;
    }
    // A stale slot or a signature collision: both buckets in full.
    return lookup(k, p.hash);
  }

  // Creates a connection with both tuples indexed. Returns its index, or
  // ConnRef::kNone when the pool is full or the index has no room (the
  // caller counts the drop or evicts and retries). The keys must not be
  // present already.
  std::uint32_t insert(const ConnKey& original, const ConnKey& reply) noexcept;

  // Removes a connection and both its index entries; the record returns to
  // the pool.
  void erase(std::uint32_t index) noexcept { erase(index, prepare_erase(index)); }
  // erase() in two steps, for a batch (expiry): prepare_erase() hashes both
  // keys and prefetches their primary buckets, so that the batch's cache
  // misses overlap; erase(index, hint) then finds the entries there.
  struct EraseHint {
    std::uint64_t hash[2] = {0, 0};  // [Dir]
  };
  EraseHint prepare_erase(std::uint32_t index) const noexcept;
  void erase(std::uint32_t index, const EraseHint& hint) noexcept;
  // Fetches a record that will be needed soon (the expiry walk's next).
  void prefetch_record(std::uint32_t index) const noexcept {
    __builtin_prefetch(&conns_[index]);
  }

  Conn& conn(std::uint32_t index) noexcept { return conns_[index]; }
  const Conn& conn(std::uint32_t index) const noexcept { return conns_[index]; }

  // Bumped by every erase: a lookup's hit still holds while it is unchanged
  // (its record cannot have been freed and reused; inserts move index
  // entries, never records).
  std::uint32_t erases() const noexcept { return erases_; }
  // Whether `k` can have been inserted since the last probe_buckets() (or
  // lookup_bulk(), which runs it): false means a miss there still holds,
  // without a second lookup. A 512-bit filter of the keys inserted since,
  // so a burst of new connections, two keys each, looks again only for the
  // few keys whose bit another insert set.
  bool inserted_since_bulk(const ConnKey& k) const noexcept {
    const unsigned b = recent_bit(k);
    return (recent_[b >> 6] >> (b & 63)) & 1;
  }

  std::uint32_t size() const noexcept { return used_; }
  std::uint32_t capacity() const noexcept { return capacity_; }
  std::size_t memory_bytes() const noexcept;
  double bytes_per_conn() const noexcept {
    return static_cast<double>(memory_bytes()) / capacity_;
  }
  // Index inserts that failed although the pool had room (should stay 0 at
  // the designed load; a counter, never an error on the packet path).
  std::uint64_t index_full() const noexcept { return index_full_; }

 private:
  struct alignas(64) Bucket {
    std::uint16_t sig[kBucketEntries];
    std::uint32_t ref[kBucketEntries];
    std::uint32_t pad;
  };
  static_assert(sizeof(Bucket) == 64);

  // A probe's candidate that needs a full lookup (the matching slot was
  // empty: a stale signature); never a reference, as indexes stay below
  // 2^30.
  static constexpr std::uint32_t kRecheck = 0xFFFFFFFEu;

  // Lemire's multiply-shift range reduction: x scaled to [0, n).
  static constexpr std::uint32_t fastrange(std::uint32_t x, std::uint32_t n) noexcept {
    return static_cast<std::uint32_t>((std::uint64_t{x} * n) >> 32);
  }
  std::uint32_t primary(std::uint64_t h) const noexcept {
    return fastrange(static_cast<std::uint32_t>(h), nbuckets_);
  }
  std::uint32_t alternative(std::uint32_t bucket, std::uint16_t sig) const noexcept;
  static std::uint16_t signature(std::uint64_t h) noexcept {
    return static_cast<std::uint16_t>(h >> 48);
  }
  bool index_insert(std::uint64_t h, std::uint32_t ref) noexcept;
  void index_erase(std::uint64_t h, std::uint32_t ref) noexcept;
  ConnRef scan(const Bucket& b, std::uint16_t sig, const ConnKey& k) const noexcept;
  static std::uint32_t match(const Bucket& b, std::uint16_t sig) noexcept;
  // A key's bit in recent_: a cheap multiplicative hash (a false positive
  // only costs a lookup).
  static unsigned recent_bit(const ConnKey& k) noexcept {
    return static_cast<unsigned>(((k.word0() ^ k.word1()) * 0x9E3779B97F4A7C15ull) >> 55);
  }
  void note_insert(const ConnKey& a, const ConnKey& b) noexcept {
    for (const unsigned bit : {recent_bit(a), recent_bit(b)}) {
      recent_[bit >> 6] |= 1ull << (bit & 63);
    }
  }

  TableKey key_;
  std::uint32_t capacity_ = 0;
  std::uint32_t nbuckets_ = 0;
  std::uint32_t used_ = 0;
  std::uint32_t erases_ = 0;
  // Keys inserted since probe_buckets() (which clears it: a lookup starts
  // a new window, hence mutable), by recent_bit().
  mutable std::uint64_t recent_[8] = {};
  std::uint64_t index_full_ = 0;
  Bucket* buckets_ = nullptr;
  Conn* conns_ = nullptr;
  std::uint32_t free_head_ = ConnRef::kNone;  // free records, via lru_next
  std::size_t buckets_bytes_ = 0, conns_bytes_ = 0;
};

}  // namespace nva::conntrack
