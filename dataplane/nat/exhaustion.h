// Where a worker ran out of SNAT ports: per (backend, SNAT address), the
// heaviest pairs, in fixed memory (the Space-Saving algorithm of Metwally,
// Agrawal and El Abbadi: a pair not tracked takes the slot of the least
// counted one and inherits its count, so every pair with more exhaustions
// than total / kSlots is in the table and no count is under its true value
// by more than the inherited part, `error`). One per worker; no allocation.
#pragma once

#include <array>
#include <cstdint>

namespace nva::nat {

struct ExhaustionEntry {
  std::uint32_t backend_addr = 0;  // host order
  std::uint16_t backend_port = 0;
  std::uint32_t snat_addr = 0;
  std::uint64_t count = 0;  // exhaustions counted for this pair (upper bound)
  std::uint64_t error = 0;  // of `count`, what was inherited from an evicted pair
};

class ExhaustionTally {
 public:
  static constexpr std::size_t kSlots = 16;

  void record(std::uint32_t backend_addr, std::uint16_t backend_port,
              std::uint32_t snat_addr) noexcept {
    ++total_;
    std::size_t min = 0;
    for (std::size_t i = 0; i < used_; ++i) {
      ExhaustionEntry& e = slots_[i];
      if (e.backend_addr == backend_addr && e.backend_port == backend_port &&
          e.snat_addr == snat_addr) {
        ++e.count;
        return;
      }
      if (e.count < slots_[min].count) min = i;
    }
    if (used_ < kSlots) {
      slots_[used_++] = {backend_addr, backend_port, snat_addr, 1, 0};
      return;
    }
    ExhaustionEntry& e = slots_[min];
    e = {backend_addr, backend_port, snat_addr, e.count + 1, e.count};
  }

  std::uint64_t total() const noexcept { return total_; }
  std::size_t size() const noexcept { return used_; }
  const ExhaustionEntry& operator[](std::size_t i) const noexcept { return slots_[i]; }

 private:
  std::array<ExhaustionEntry, kSlots> slots_{};
  std::size_t used_ = 0;
  std::uint64_t total_ = 0;
};

}  // namespace nva::nat
