// DPDK's rte_hash as the index of a connection table's records (the
// benchmarks' comparison, tests/support/rte_hash_index.h) and the table's own
// index, through the same churn: both agree with a model.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "dataplane/conntrack/table.h"
#include "tests/support/eal.h"
#include "tests/support/rte_hash_index.h"

namespace nva::conntrack {
namespace {

ConnKey random_key(std::mt19937_64& rng) {
  ConnKey k;
  k.src_addr = static_cast<std::uint32_t>(rng());
  k.dst_addr = static_cast<std::uint32_t>(rng());
  k.src_port = static_cast<std::uint16_t>(rng());
  k.dst_port = static_cast<std::uint16_t>(rng());
  k.proto = 6;
  return k;
}

struct KeyHash {
  std::size_t operator()(const ConnKey& k) const {
    static const ConnTable t(16);
    return t.hash(k);
  }
};

TEST(ConnTableRteHash, ChurnAndBulkLookupsMatchModel) {
  ASSERT_TRUE(test::EalEnvironment::running());
  ConnTable t(2000);
  test::RteHashIndex rte(t);
  std::mt19937_64 rng(11);
  std::unordered_map<ConnKey, std::uint32_t, KeyHash> model;  // key -> ref
  std::vector<std::uint32_t> live;
  for (int op = 0; op < 20000; ++op) {
    if (live.size() < 2000 && (live.empty() || rng() % 100 < 55)) {
      const ConnKey a = random_key(rng), b = random_key(rng);
      const std::uint32_t idx = t.insert(a, b);
      ASSERT_NE(idx, ConnRef::kNone);
      ASSERT_TRUE(rte.insert(idx));
      model[a] = idx << 1;
      model[b] = (idx << 1) | 1;
      live.push_back(idx);
    } else {
      const std::size_t pos = rng() % live.size();
      model.erase(t.conn(live[pos]).key[0]);
      model.erase(t.conn(live[pos]).key[1]);
      rte.erase(live[pos]);
      t.erase(live[pos]);
      live[pos] = live.back();
      live.pop_back();
    }
  }
  std::vector<ConnKey> keys;
  for (const auto& [k, ref] : model) keys.push_back(k);
  for (int i = 0; i < 100; ++i) keys.push_back(random_key(rng));  // misses
  auto want = [&](const ConnKey& k) {
    const auto it = model.find(k);
    return it == model.end() ? ConnRef::kNone : it->second;
  };
  // Bursts of 32 through the probe steps, as the worker and the benchmarks'
  // IndexLoop run them, and each key through lookup().
  auto check = [&](const auto& index, const char* name) {
    using Probe = typename std::remove_cvref_t<decltype(index)>::Probe;
    for (std::size_t base = 0; base < keys.size(); base += 32) {
      const unsigned n =
          static_cast<unsigned>(std::min<std::size_t>(32, keys.size() - base));
      Probe probes[32];
      for (unsigned i = 0; i < n; ++i) index.probe_start(keys[base + i], probes[i]);
      index.probe_buckets(probes, n);
      for (unsigned i = 0; i < n; ++i) {
        const ConnKey& k = keys[base + i];
        ASSERT_EQ(index.probe_finish(k, probes[i]).raw, want(k)) << name;
        ASSERT_EQ(index.lookup(k).raw, want(k)) << name;
      }
    }
  };
  check(t, "ConnTable");
  check(rte, "rte_hash");
  // ConnTable's lookup_bulk(): the three steps in one call.
  for (std::size_t base = 0; base < keys.size(); base += 32) {
    const unsigned n =
        static_cast<unsigned>(std::min<std::size_t>(32, keys.size() - base));
    const ConnKey* ptrs[32];
    ConnRef out[32];
    for (unsigned i = 0; i < n; ++i) ptrs[i] = &keys[base + i];
    t.lookup_bulk(ptrs, n, out);
    for (unsigned i = 0; i < n; ++i) ASSERT_EQ(out[i].raw, want(keys[base + i]));
  }
  EXPECT_EQ(t.size(), live.size());
  EXPECT_GT(t.bytes_per_conn(), 64.0);
  EXPECT_GT(rte.bytes_per_conn(), 64.0);
}

}  // namespace
}  // namespace nva::conntrack
