// Maglev table construction: per-backend permutations filled round-robin.
#include "dataplane/lb/maglev.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include "dataplane/lb/flow_hash.h"

namespace nva::lb {

bool is_prime(std::uint32_t n) noexcept {
  if (n < 2) return false;
  if (n % 2 == 0) return n == 2;
  for (std::uint32_t d = 3; d <= n / d; d += 2) {
    if (n % d == 0) return false;
  }
  return true;
}

std::string check_maglev_size(std::uint32_t size, std::size_t backends) {
  if (!is_prime(size)) return "table size " + std::to_string(size) + " is not prime";
  if (std::uint64_t{size} < 100ull * backends) {
    return "table size " + std::to_string(size) + " is below 100 x " +
           std::to_string(backends) + " backends";
  }
  return {};
}

MaglevTable MaglevTable::build(std::span<const MaglevBackend> backends,
                               std::uint64_t seed, std::uint32_t size) {
  if (!is_prime(size)) {
    throw std::invalid_argument("Maglev table size " + std::to_string(size) +
                                " is not prime");
  }
  MaglevTable t;
  t.slots_.assign(size, kNoBackend);

  // Fill order: (addr, port), independent of configuration order.
  std::vector<std::uint32_t> order;
  std::uint64_t max_weight = 0;
  for (std::uint32_t i = 0; i < backends.size(); ++i) {
    if (backends[i].weight == 0) continue;
    order.push_back(i);
    max_weight = std::max<std::uint64_t>(max_weight, backends[i].weight);
  }
  if (order.empty()) return t;
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    return std::pair(backends[a].addr, backends[a].port) <
           std::pair(backends[b].addr, backends[b].port);
  });

  struct Perm {
    std::uint32_t index;   // into backends
    std::uint64_t offset;  // first preferred slot
    std::uint64_t skip;    // step, in [1, size-1]: coprime with a prime size
    std::uint64_t next;    // how many preferences consumed
    std::uint64_t weight;
    std::uint64_t credit;  // weighted turns owed
  };
  std::vector<Perm> perms;
  perms.reserve(order.size());
  for (std::uint32_t i : order) {
    const std::uint64_t id = (std::uint64_t{backends[i].addr} << 16) | backends[i].port;
    const std::uint64_t h1 = mix64(id ^ seed);
    const std::uint64_t h2 = mix64(id ^ mix64(seed ^ 0x6d61676c6576ull));  // "maglev"
    perms.push_back({i, h1 % size, h2 % (size - 1) + 1, 0, backends[i].weight, 0});
  }

  std::uint32_t filled = 0;
  while (true) {
    // Weighted round: each backend earns its weight in credit and claims a
    // slot per max_weight of credit, so the heaviest claims one per round
    // and every backend's share converges to weight / sum of weights.
    for (Perm& p : perms) {
      for (p.credit += p.weight; p.credit >= max_weight; p.credit -= max_weight) {
        // Next preferred slot that is still free. A permutation of a prime
        // modulus visits every slot, so this ends.
        std::uint64_t slot = (p.offset + p.next * p.skip) % size;
        while (t.slots_[slot] != kNoBackend) {
          ++p.next;
          slot = (p.offset + p.next * p.skip) % size;
        }
        t.slots_[slot] = p.index;
        ++p.next;
        if (++filled == size) return t;
      }
    }
  }
}

}  // namespace nva::lb
