// Connection-table benchmarks: our table against DPDK's rte_hash, bulk
// lookups of established flows at 1e6 and 1e7 connections, and inserts.
//
// Both tables index every connection twice (original and reply tuple), as
// the data plane needs, and each hit then updates its 64-byte connection
// record (ours holds the key there; rte_hash's data is the record index, so
// the record is one more line to fetch). Keys come in a random order, 32 per burst,
// so nearly every lookup misses the CPU caches at the larger sizes, as real
// traffic over many flows does. NVA_BENCH_SMOKE=1 (the test run) caps sizes
// at 1e5 so every benchmark runs once quickly.
#include <benchmark/benchmark.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_env.h"
#include "dataplane/conntrack/table.h"

namespace nva::conntrack {
namespace {

constexpr unsigned kBurst = 32;

std::uint32_t scaled(std::int64_t n) {
  if (bench::smoke() && n > 100000) return 100000;
  return static_cast<std::uint32_t>(n);
}

struct Flows {
  std::vector<ConnKey> keys;         // 2 per connection: [2i] original, [2i+1] reply
  std::vector<std::uint32_t> order;  // random permutation of key indexes
};

const Flows& flows(std::uint32_t conns) {
  static std::unique_ptr<Flows> cached;
  static std::uint32_t cached_n = 0;
  if (cached && cached_n == conns) return *cached;
  cached = std::make_unique<Flows>();
  cached_n = conns;
  std::mt19937_64 rng(conns);
  cached->keys.resize(std::size_t{conns} * 2);
  for (std::uint32_t i = 0; i < conns; ++i) {
    // Client -> VIP, and backend -> SNAT address, as the NAT creates them.
    ConnKey& a = cached->keys[2 * i];
    a.src_addr = static_cast<std::uint32_t>(rng());
    a.dst_addr = 0xC6130001;
    a.src_port = static_cast<std::uint16_t>(rng());
    a.dst_port = 443;
    a.proto = 6;
    ConnKey& b = cached->keys[2 * i + 1];
    b.src_addr = 0xC6120200 + static_cast<std::uint32_t>(rng() % 64);
    b.dst_addr = 0xC6120100 + (i >> 16);
    b.src_port = 8443;
    b.dst_port = static_cast<std::uint16_t>(i);
    b.proto = 6;
  }
  cached->order.resize(cached->keys.size());
  for (std::uint32_t i = 0; i < cached->order.size(); ++i) cached->order[i] = i;
  std::shuffle(cached->order.begin(), cached->order.end(), rng);
  return *cached;
}

// --- our table --------------------------------------------------------------

ConnTable& own_table(std::uint32_t conns) {
  static std::unique_ptr<ConnTable> cached;
  if (cached && cached->capacity() == conns) return *cached;
  cached.reset();
  cached = std::make_unique<ConnTable>(conns);
  const Flows& f = flows(conns);
  for (std::uint32_t i = 0; i < conns; ++i) {
    if (cached->insert(f.keys[2 * i], f.keys[2 * i + 1]) == ConnRef::kNone) {
      std::abort();  // a full table here is a bug, not a measurement
    }
  }
  return *cached;
}

void BM_ConnTable_LookupBulk(benchmark::State& state) {
  const std::uint32_t n = scaled(state.range(0));
  const Flows& f = flows(n);
  ConnTable& t = own_table(n);
  std::size_t pos = 0;
  const ConnKey* ptrs[kBurst];
  ConnRef out[kBurst];
  std::uint64_t found = 0;
  for (auto _ : state) {
    for (unsigned i = 0; i < kBurst; ++i) {
      ptrs[i] = &f.keys[f.order[pos]];
      if (++pos == f.order.size()) pos = 0;
    }
    t.lookup_bulk(ptrs, kBurst, out);
    // What the fast path does next with a hit: touch the record.
    for (unsigned i = 0; i < kBurst; ++i) {
      if (!out[i].found()) continue;
      ++found;
      t.conn(out[i].index()).expires += out[i].raw & 1;
    }
    benchmark::DoNotOptimize(out);
  }
  if (found != static_cast<std::uint64_t>(state.iterations()) * kBurst)
    state.SkipWithError("lookup missed");
  state.SetItemsProcessed(state.iterations() * kBurst);
  state.counters["conns"] = n;
  state.counters["bytes_per_conn"] = t.bytes_per_conn();
}
BENCHMARK(BM_ConnTable_LookupBulk)
    ->Arg(1000000)
    ->Arg(10000000)
    ->Unit(benchmark::kNanosecond);

// Insert and erase at a steady 90 % fill: the slow path's table work.
void BM_ConnTable_InsertErase(benchmark::State& state) {
  const std::uint32_t n = scaled(state.range(0));
  ConnTable t(n);
  std::mt19937_64 rng(9);
  std::vector<std::uint32_t> live;
  auto random_key = [&] {
    ConnKey k;
    k.src_addr = static_cast<std::uint32_t>(rng());
    k.dst_addr = static_cast<std::uint32_t>(rng());
    k.src_port = static_cast<std::uint16_t>(rng());
    k.dst_port = 443;
    k.proto = 6;
    return k;
  };
  while (live.size() < n * 9ull / 10)
    live.push_back(t.insert(random_key(), random_key()));
  std::size_t victim = 0;
  for (auto _ : state) {
    t.erase(live[victim]);
    live[victim] = t.insert(random_key(), random_key());
    if (live[victim] == ConnRef::kNone) state.SkipWithError("insert failed");
    if (++victim == live.size()) victim = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["index_full"] = static_cast<double>(t.index_full());
}
BENCHMARK(BM_ConnTable_InsertErase)->Arg(1000000);

// --- rte_hash ---------------------------------------------------------------

struct RteHashFree {
  void operator()(rte_hash* h) const noexcept { rte_hash_free(h); }
};

struct RteTable {
  std::unique_ptr<rte_hash, RteHashFree> h;
  std::vector<Conn> records;  // the same 64-byte records as ours
  std::uint32_t conns = 0;
  double bytes_per_conn = 0;
};

std::size_t heap_bytes() {
  rte_malloc_socket_stats st{};
  rte_malloc_get_socket_stats(0, &st);
  return st.heap_allocsz_bytes;
}

RteTable& rte_table(std::uint32_t conns) {
  static RteTable cached;
  static const bool registered = [] {
    // rte_hash memory belongs to EAL: free it before rte_eal_cleanup().
    bench::at_teardown([] {
      cached.h.reset();
      cached.records.clear();
    });
    return true;
  }();
  (void)registered;
  if (cached.h && cached.conns == conns) return cached;
  cached.h.reset();
  const std::size_t before = heap_bytes();
  const std::string name = "bench_ct_" + std::to_string(conns);
  rte_hash_parameters p{};
  p.name = name.c_str();
  p.entries = conns * 2;  // two keys per connection
  p.key_len = sizeof(ConnKey);
  p.hash_func = rte_hash_crc;
  p.hash_func_init_val = 0;
  p.socket_id = 0;
  p.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE;  // never refuse below `entries`
  cached.h.reset(rte_hash_create(&p));
  if (!cached.h) {
    std::fprintf(stderr, "rte_hash_create: %s\n", rte_strerror(rte_errno));
    std::abort();
  }
  cached.conns = conns;
  cached.records.assign(conns, Conn{});
  const Flows& f = flows(conns);
  for (std::uint32_t i = 0; i < 2 * conns; ++i) {
    // Data: connection index << 1 | direction, as our index stores.
    if (rte_hash_add_key_data(cached.h.get(), &f.keys[i],
                              reinterpret_cast<void*>(std::uintptr_t{i})) != 0) {
      std::abort();
    }
  }
  // The records themselves (64 bytes each, as ours) come on top.
  cached.bytes_per_conn =
      static_cast<double>(heap_bytes() - before) / conns + sizeof(Conn);  // + records
  return cached;
}

template <bool kWithHash, bool kRecord>
void BM_RteHash_LookupBulk(benchmark::State& state) {
  const std::uint32_t n = scaled(state.range(0));
  const Flows& f = flows(n);
  RteTable& t = rte_table(n);
  // With the hash precomputed (as a NIC's RSS hash would supply it).
  std::vector<hash_sig_t> sigs;
  if constexpr (kWithHash) {
    sigs.resize(f.keys.size());
    for (std::size_t i = 0; i < f.keys.size(); ++i) {
      sigs[i] = rte_hash_hash(t.h.get(), &f.keys[i]);
    }
  }
  std::size_t pos = 0;
  const void* ptrs[kBurst];
  hash_sig_t burst_sigs[kBurst];
  void* data[kBurst];
  std::uint64_t hits = 0;
  for (auto _ : state) {
    for (unsigned i = 0; i < kBurst; ++i) {
      ptrs[i] = &f.keys[f.order[pos]];
      if constexpr (kWithHash) burst_sigs[i] = sigs[f.order[pos]];
      if (++pos == f.order.size()) pos = 0;
    }
    std::uint64_t mask = 0;
    if constexpr (kWithHash) {
      rte_hash_lookup_with_hash_bulk_data(t.h.get(), ptrs, burst_sigs, kBurst, &mask,
                                          data);
    } else {
      rte_hash_lookup_bulk_data(t.h.get(), ptrs, kBurst, &mask, data);
    }
    hits += static_cast<std::uint64_t>(__builtin_popcountll(mask));
    // rte_hash returns the connection index; the fast path then needs the
    // record (a separate line): prefetch all, then touch each.
    if constexpr (kRecord) {
      for (unsigned i = 0; i < kBurst; ++i) {
        const auto ref = reinterpret_cast<std::uintptr_t>(data[i]);
        __builtin_prefetch(&t.records[ref >> 1]);
      }
      for (unsigned i = 0; i < kBurst; ++i) {
        const auto ref = reinterpret_cast<std::uintptr_t>(data[i]);
        t.records[ref >> 1].expires += ref & 1;
      }
    }
    benchmark::DoNotOptimize(data);
  }
  if (hits != static_cast<std::uint64_t>(state.iterations()) * kBurst)
    state.SkipWithError("lookup missed");
  state.SetItemsProcessed(state.iterations() * kBurst);
  state.counters["conns"] = n;
  state.counters["bytes_per_conn"] = t.bytes_per_conn;
}
BENCHMARK(BM_RteHash_LookupBulk<false, true>)
    ->Name("BM_RteHash_LookupBulk")
    ->Arg(1000000)
    ->Arg(10000000);
BENCHMARK(BM_RteHash_LookupBulk<true, true>)
    ->Name("BM_RteHash_LookupBulkWithHash")
    ->Arg(1000000)
    ->Arg(10000000);
// For reference: rte_hash's lookup alone, without fetching the record.
BENCHMARK(BM_RteHash_LookupBulk<false, false>)
    ->Name("BM_RteHash_IndexOnly")
    ->Arg(1000000)
    ->Arg(10000000);

}  // namespace
}  // namespace nva::conntrack
