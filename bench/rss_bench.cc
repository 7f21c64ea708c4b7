// SNAT port choice by RSS pre-calculation: our GF(2) solve over the port's
// own key (steer/rss.h) against DPDK's rte_thash (predictable RSS, which
// rewrites key bits and hands out complements). Both compute, per new
// connection, the hash of the reply's fixed part and a port whose reply
// lands on a wanted reta entry. key_bits_changed: bits of the port's key
// that rte_thash must rewrite (the new key has to be installed on the NIC).
#define ALLOW_EXPERIMENTAL_API 1
#include <benchmark/benchmark.h>
#include <rte_thash.h>

#include <bit>
#include <cstring>
#include <string>
#include <vector>

#include "dataplane/port/port.h"
#include "dataplane/steer/rss.h"

namespace nva {
namespace {

constexpr unsigned kRetaLog = 7;  // 128 entries, 2 workers

void BM_RssSnatPort_Own(benchmark::State& state) {
  steer::RssView view;
  std::memcpy(view.key.data(), port::kDefaultRssKey, view.key.size());
  for (std::uint16_t i = 0; i < (1u << kRetaLog); ++i) view.reta.push_back(i % 2);
  std::string why;
  const auto rss = steer::RssSteering::make(view, 2, why);
  std::uint32_t backend = 0xC6120200, n = 0;
  std::uint16_t port = 0;
  for (auto _ : state) {
    const std::uint32_t fixed = rss->hash(backend++, 0xC6120101, 8443, 0);
    port = rss->candidate(fixed, 1, n++ & 0x7FFF);
    benchmark::DoNotOptimize(port);
  }
  state.counters["key_bits_changed"] = 0;
}
BENCHMARK(BM_RssSnatPort_Own);

void BM_RssSnatPort_RteThash(benchmark::State& state) {
  std::uint8_t key[40];
  std::memcpy(key, port::kDefaultRssKey, sizeof key);
  rte_thash_ctx* ctx =
      rte_thash_init_ctx("nva_bench_thash", sizeof key, kRetaLog, key, 0);
  if (ctx == nullptr) {
    state.SkipWithError("rte_thash_init_ctx failed");
    return;
  }
  // The SNAT port: 16 bits at bit 80 of the IPv4 L4 tuple.
  if (rte_thash_add_helper(ctx, "snat_port", 16, 80) != 0) {
    rte_thash_free_ctx(ctx);
    state.SkipWithError("rte_thash_add_helper failed");
    return;
  }
  rte_thash_subtuple_helper* h = rte_thash_get_helper(ctx, "snat_port");
  const std::uint8_t* new_key = rte_thash_get_key(ctx);
  unsigned changed = 0;
  for (unsigned i = 0; i < sizeof key; ++i) {
    changed +=
        static_cast<unsigned>(std::popcount(static_cast<unsigned>(key[i] ^ new_key[i])));
  }
  std::uint32_t backend = 0xC6120200, n = 0;
  for (auto _ : state) {
    // The reply tuple with random high port bits, then the complement that
    // puts its hash on reta entry `desired` (odd: worker 1's).
    std::uint32_t tuple[3] = {backend++, 0xC6120101,
                              (8443u << 16) | ((n * 0x9E37u) & 0xFF80u)};
    const std::uint32_t desired = (n++ * 2 + 1) & ((1u << kRetaLog) - 1);
    const std::uint32_t hash = rte_softrss(tuple, 3, new_key);
    tuple[2] ^= rte_thash_get_complement(h, hash, desired);
    benchmark::DoNotOptimize(tuple[2]);
  }
  state.counters["key_bits_changed"] = changed;
  rte_thash_free_ctx(ctx);
}
BENCHMARK(BM_RssSnatPort_RteThash);

}  // namespace
}  // namespace nva
