// Connection table: record pool plus bucketised cuckoo index (see table.h).
#include "dataplane/conntrack/table.h"

#include <sys/mman.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

namespace nva::conntrack {

namespace {

constexpr std::uint32_t kMaxCapacity = 1u << 30;
constexpr double kMaxLoad = 0.9;  // index entries / slots at full capacity

constexpr std::size_t kHugePage = 2u << 20;

// Anonymous memory on transparent huge pages where the kernel gives them
// (2 MiB aligned, madvised before the first touch: random lookups over
// hundreds of MiB otherwise miss the TLB on every access), and pre-faulted
// so the packet path never takes a page fault.
void* map_memory(std::size_t bytes) {
  const std::size_t len = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  void* raw = ::mmap(nullptr, len + kHugePage, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = (start + kHugePage - 1) & ~(kHugePage - 1);
  if (aligned > start) ::munmap(raw, aligned - start);
  const std::size_t tail = (start + len + kHugePage) - (aligned + len);
  if (tail > 0) ::munmap(reinterpret_cast<void*>(aligned + len), tail);
  void* p = reinterpret_cast<void*>(aligned);
  (void)::madvise(p, len, MADV_HUGEPAGE);
#ifdef MADV_POPULATE_WRITE
  if (::madvise(p, len, MADV_POPULATE_WRITE) == 0) return p;
#endif
  std::memset(p, 0, len);  // older kernels: fault every page in now
  return p;
}

std::size_t mapped_size(std::size_t bytes) {
  return (bytes + kHugePage - 1) / kHugePage * kHugePage;
}

}  // namespace

// Entries of `b` whose signature equals `sig`: two bits per entry (bits 2i
// and 2i+1 for entry i), compared 8 at a time with SSE2.
std::uint32_t ConnTable::match(const Bucket& b, std::uint16_t sig) noexcept {
#if defined(__SSE2__)
  const __m128i s = _mm_set1_epi16(static_cast<short>(sig));
  const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&b.sig[0]));
  const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&b.sig[2]));
  const auto m_lo = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi16(lo, s)));
  const auto m_hi = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi16(hi, s)));
  return m_lo | (m_hi << 4);
#else
  std::uint32_t m = 0;
  for (unsigned i = 0; i < kBucketEntries; ++i) {
    if (b.sig[i] == sig) m |= 3u << (2 * i);
  }
  return m;
#endif
}

ConnTable::ConnTable(std::uint32_t capacity, TableKey key)
    : key_{key.k0, key.k1 | (1ull << 63)}, capacity_(capacity) {
  if (capacity == 0 || capacity > kMaxCapacity) {
    throw std::invalid_argument("connection table capacity " + std::to_string(capacity) +
                                " is outside 1.." + std::to_string(kMaxCapacity));
  }
  const double slots = 2.0 * capacity / kMaxLoad;
  nbuckets_ = static_cast<std::uint32_t>(slots / kBucketEntries) + 2;
  buckets_bytes_ = std::size_t{nbuckets_} * sizeof(Bucket);
  conns_bytes_ = std::size_t{capacity} * sizeof(Conn);
  buckets_ = static_cast<Bucket*>(map_memory(buckets_bytes_));
  try {
    conns_ = static_cast<Conn*>(map_memory(conns_bytes_));
  } catch (...) {
    ::munmap(buckets_, mapped_size(buckets_bytes_));
    throw;
  }
  for (std::uint32_t b = 0; b < nbuckets_; ++b) {
    for (unsigned i = 0; i < kBucketEntries; ++i) buckets_[b].ref[i] = ConnRef::kNone;
  }
  // Free list in index order, so a fresh table hands out 0, 1, 2, ...
  for (std::uint32_t i = 0; i < capacity; ++i) {
    conns_[i].lru_next = i + 1 < capacity ? i + 1 : ConnRef::kNone;
  }
  free_head_ = 0;
}

ConnTable::~ConnTable() {
  ::munmap(buckets_, mapped_size(buckets_bytes_));
  ::munmap(conns_, mapped_size(conns_bytes_));
}

std::size_t ConnTable::memory_bytes() const noexcept {
  return buckets_bytes_ + conns_bytes_ + sizeof(*this);
}

// The other bucket of an entry in `bucket`: (f(sig) - bucket) mod n, an
// involution, so it needs only the entry's signature, not its key.
std::uint32_t ConnTable::alternative(std::uint32_t bucket,
                                     std::uint16_t sig) const noexcept {
  const std::uint32_t f = fastrange(std::uint32_t{sig} * 0x9E3779B1u, nbuckets_);
  return f >= bucket ? f - bucket : f + nbuckets_ - bucket;
}

// Only the entries whose signature matches (match(), SIMD) are visited: a
// miss, which the slow path's SNAT port search and re-lookups mostly are,
// costs two match() calls instead of twenty compares.
ConnRef ConnTable::scan(const Bucket& b, std::uint16_t sig,
                        const ConnKey& k) const noexcept {
  for (std::uint32_t m = match(b, sig); m != 0;) {
    const unsigned i = static_cast<unsigned>(__builtin_ctz(m)) >> 1;
    m &= ~(3u << (2 * i));
    if (b.ref[i] == ConnRef::kNone) continue;
    const ConnRef r{b.ref[i]};
    if (conns_[r.index()].key[r.raw & 1] == k) return r;
  }
  return {};
}

ConnRef ConnTable::lookup(const ConnKey& k, std::uint64_t h) const noexcept {
  const std::uint32_t b1 = primary(h);
  const std::uint16_t sig = signature(h);
  // Both buckets at once: a miss (what the slow path's checks of new
  // tuples mostly are) reads both, and their misses then overlap.
  const std::uint32_t b2 = alternative(b1, sig);
  __builtin_prefetch(&buckets_[b2]);
  const ConnRef r = scan(buckets_[b1], sig, k);
  if (r.found()) return r;
  return scan(buckets_[b2], sig, k);
}

void ConnTable::lookup_bulk(const ConnKey* const* keys, unsigned n,
                            ConnRef* out) const noexcept {
  Probe probes[kMaxBurst];
  if (n > kMaxBurst) n = kMaxBurst;
  for (unsigned i = 0; i < n; ++i) probe_start(*keys[i], probes[i]);
  probe_buckets(probes, n);
  for (unsigned i = 0; i < n; ++i) out[i] = probe_finish(*keys[i], probes[i]);
}

// Most entries live in their primary bucket (insert tries it first), so the
// alternative is fetched only for the keys without a signature match there:
// fetching both for every key doubled the bucket lines in flight for the
// few that use the second.
void ConnTable::probe_buckets(Probe* probes, unsigned n) const noexcept {
  if (n > kMaxBurst) n = kMaxBurst;
  for (std::uint64_t& w : recent_) w = 0;
  // The first match of the signature in `b`, or kRecheck (the slot is
  // empty: a stale signature); its record prefetched.
  auto first_match = [&](const Bucket& b, std::uint32_t m) {
    const std::uint32_t c = b.ref[static_cast<unsigned>(__builtin_ctz(m)) >> 1];
    if (c == ConnRef::kNone) return kRecheck;
    __builtin_prefetch(&conns_[c >> 1]);
    return c;
  };
  // The primary bucket; keys without a signature match there get their
  // alternative bucket prefetched and wait for the second loop.
  std::uint8_t alt[kMaxBurst];
  unsigned nalt = 0;
  for (unsigned i = 0; i < n; ++i) {
    Probe& p = probes[i];
    const std::uint16_t sig = signature(p.hash);
    const Bucket& b = buckets_[p.bucket];
    const std::uint32_t m = match(b, sig);
    if (m != 0) {
      p.cand = first_match(b, m);
      continue;
    }
    p.bucket = alternative(p.bucket, sig);
    __builtin_prefetch(&buckets_[p.bucket]);
    alt[nalt++] = static_cast<std::uint8_t>(i);
  }
  // The alternative buckets; no match in either is a miss.
  for (unsigned j = 0; j < nalt; ++j) {
    Probe& p = probes[alt[j]];
    const Bucket& b = buckets_[p.bucket];
    const std::uint32_t m = match(b, signature(p.hash));
    p.cand = m == 0 ? ConnRef::kNone : first_match(b, m);
  }
}

bool ConnTable::index_insert(std::uint64_t h, std::uint32_t ref) noexcept {
  const std::uint16_t sig = signature(h);
  const std::uint32_t b1 = primary(h);
  auto place = [&](std::uint32_t b) {
    Bucket& bk = buckets_[b];
    for (unsigned i = 0; i < kBucketEntries; ++i) {
      if (bk.ref[i] == ConnRef::kNone) {
        bk.sig[i] = sig;
        bk.ref[i] = ref;
        return true;
      }
    }
    return false;
  };
  if (place(b1)) return true;
  const std::uint32_t b2 = alternative(b1, sig);
  if (place(b2)) return true;

  // Both full: breadth-first search for a chain of moves ending in a bucket
  // with a free slot, then shift entries along it (nothing is homeless at
  // any point). Bounded: at most kMaxNodes buckets are examined.
  constexpr unsigned kMaxNodes = 512;
  struct Node {
    std::uint32_t bucket;
    std::int32_t parent;  // node index, -1 for the two roots
    std::uint8_t slot;    // slot in the parent's bucket that leads here
  };
  Node nodes[kMaxNodes];
  unsigned count = 0;
  nodes[count++] = {b1, -1, 0};
  nodes[count++] = {b2, -1, 0};
  for (unsigned q = 0; q < count; ++q) {
    const Bucket& bk = buckets_[nodes[q].bucket];
    for (unsigned j = 0; j < kBucketEntries; ++j) {
      if (bk.ref[j] == ConnRef::kNone) {
        // Free slot j in node q's bucket: move entries down the path.
        unsigned free_slot = j;
        unsigned cur = q;
        while (nodes[cur].parent >= 0) {
          const Node& c = nodes[cur];
          Bucket& from = buckets_[nodes[c.parent].bucket];
          Bucket& to = buckets_[c.bucket];
          to.sig[free_slot] = from.sig[c.slot];
          to.ref[free_slot] = from.ref[c.slot];
          free_slot = c.slot;
          cur = static_cast<unsigned>(c.parent);
        }
        Bucket& root = buckets_[nodes[cur].bucket];
        root.sig[free_slot] = sig;
        root.ref[free_slot] = ref;
        return true;
      }
    }
    for (unsigned j = 0; j < kBucketEntries && count < kMaxNodes; ++j) {
      nodes[count++] = {alternative(nodes[q].bucket, bk.sig[j]),
                        static_cast<std::int32_t>(q), static_cast<std::uint8_t>(j)};
    }
  }
  return false;
}

void ConnTable::index_erase(std::uint64_t h, std::uint32_t ref) noexcept {
  auto clear = [&](std::uint32_t b) {
    Bucket& bk = buckets_[b];
    for (unsigned i = 0; i < kBucketEntries; ++i) {
      if (bk.ref[i] == ref) {
        bk.ref[i] = ConnRef::kNone;
        return true;
      }
    }
    return false;
  };
  const std::uint32_t b1 = primary(h);
  if (!clear(b1)) clear(alternative(b1, signature(h)));
}

std::uint32_t ConnTable::insert(const ConnKey& original, const ConnKey& reply) noexcept {
  if (free_head_ == ConnRef::kNone) return ConnRef::kNone;
  const std::uint32_t idx = free_head_;
  Conn& c = conns_[idx];
  const std::uint32_t next_free = c.lru_next;
  c = Conn{};
  c.key[0] = original;
  c.key[1] = reply;
  c.delta[0] = rewrite_delta(original, reply);
  c.delta[1] = rewrite_delta(reply, original);
  // No room in the index: counted, and the record stays first on the free
  // list (its link restored).
  auto refuse = [&] {
    ++index_full_;
    c.lru_next = next_free;
    return ConnRef::kNone;
  };
  const std::uint64_t h_original = hash(original);
  if (!index_insert(h_original, idx << 1)) return refuse();
  if (!index_insert(hash(reply), (idx << 1) | 1)) {
    index_erase(h_original, idx << 1);
    return refuse();
  }
  free_head_ = next_free;
  ++used_;
  note_insert(original, reply);
  return idx;
}

ConnTable::EraseHint ConnTable::prepare_erase(std::uint32_t index) const noexcept {
  EraseHint e;
  for (unsigned d = 0; d < 2; ++d) {
    e.hash[d] = hash(conns_[index].key[d]);
    __builtin_prefetch(&buckets_[primary(e.hash[d])]);
  }
  return e;
}

void ConnTable::erase(std::uint32_t index, const EraseHint& hint) noexcept {
  Conn& c = conns_[index];
  index_erase(hint.hash[0], index << 1);
  index_erase(hint.hash[1], (index << 1) | 1);
  c.state = ConnState::kNone;
  c.lru_next = free_head_;
  free_head_ = index;
  --used_;
  ++erases_;
}

}  // namespace nva::conntrack
