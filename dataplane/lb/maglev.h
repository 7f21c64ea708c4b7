// Maglev consistent hashing (Eisenbud et al., NSDI 2016) with weights.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace nva::lb {

inline constexpr std::uint32_t kDefaultMaglevTableSize = 65537;  // prime

struct MaglevBackend {
  std::uint32_t addr = 0;  // IPv4, host order
  std::uint16_t port = 0;
  std::uint32_t weight = 1;  // 0: present but receives no new flows
};

// A built lookup table: slot -> index into the backend list it was built
// from (in the order given to build()). Immutable once built, so workers
// read it without synchronisation; replace it whole (RCU) to change it.
class MaglevTable {
 public:
  static constexpr std::uint32_t kNoBackend = 0xFFFFFFFFu;

  // Builds a table of `size` slots (a prime, at least 100 x the number of
  // backends for an even spread) over `backends`. The permutation of each
  // backend depends only on its address, port and `seed`, and the fill
  // visits backends in (addr, port) order, so two builds from the same set,
  // in any order, with the same seed and size are identical. Each backend's
  // share of slots follows its weight (credit-based weighted round-robin).
  // With no backend of non-zero weight every slot is kNoBackend. Throws
  // std::invalid_argument when `size` is not prime (validate with
  // check_maglev_size() first; tables are built off the packet path).
  static MaglevTable build(std::span<const MaglevBackend> backends, std::uint64_t seed,
                           std::uint32_t size = kDefaultMaglevTableSize);

  // Backend index for a flow hash; kNoBackend if none is usable.
  std::uint32_t lookup(std::uint64_t hash) const noexcept {
    return slots_.empty() ? kNoBackend
                          : slots_[static_cast<std::uint32_t>(hash % slots_.size())];
  }

  std::uint32_t size() const noexcept {
    return static_cast<std::uint32_t>(slots_.size());
  }
  std::span<const std::uint32_t> slots() const noexcept { return slots_; }

 private:
  std::vector<std::uint32_t> slots_;
};

// True when n is prime (trial division; table sizes are small).
bool is_prime(std::uint32_t n) noexcept;

// Checks a configured table size: prime and >= 100 x backends. Returns an
// empty string when fine, else the reason.
std::string check_maglev_size(std::uint32_t size, std::size_t backends);

}  // namespace nva::lb
