// Where a worker ran out of SNAT ports: per (backend, SNAT address), the
// heaviest pairs, in fixed memory (the Space-Saving algorithm of Metwally,
// Agrawal and El Abbadi: a pair not tracked takes the slot of the least
// counted one and inherits its count, so every pair with more exhaustions
// than total / kSlots is in the table and no count is under its true value
// by more than the inherited part, `error`). One per worker; no allocation.
// The control plane reads it while the worker records (read(): a sequence
// lock, so an entry is never half old, half new).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

#include "dataplane/common/counter.h"

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
  // read() gives up after this many tries torn by a write (a worker that
  // records without pause); the next reading gets it.
  static constexpr int kReadTries = 1000;

  // The worker's side (one writer).
  void record(std::uint32_t backend_addr, std::uint16_t backend_port,
              std::uint32_t snat_addr) noexcept {
    ++total_;
    const std::size_t used = used_.load(std::memory_order_relaxed);
    std::size_t min = 0;
    for (std::size_t i = 0; i < used; ++i) {
      Slot& e = slots_[i];
      if (e.backend_addr.load(std::memory_order_relaxed) == backend_addr &&
          e.backend_port.load(std::memory_order_relaxed) == backend_port &&
          e.snat_addr.load(std::memory_order_relaxed) == snat_addr) {
        ++e.count;  // one value: whole without the sequence lock
        return;
      }
      if (e.count.load() < slots_[min].count.load()) min = i;
    }
    const std::size_t i = used < kSlots ? used : min;
    const std::uint64_t inherited = used < kSlots ? 0 : slots_[min].count.load();
    const std::uint32_t seq = seq_.load(std::memory_order_relaxed);
    seq_.store(seq + 1, std::memory_order_relaxed);  // odd: being written
    std::atomic_thread_fence(std::memory_order_release);
    Slot& e = slots_[i];
    e.backend_addr.store(backend_addr, std::memory_order_relaxed);
    e.backend_port.store(backend_port, std::memory_order_relaxed);
    e.snat_addr.store(snat_addr, std::memory_order_relaxed);
    e.count = inherited + 1;
    e.error = inherited;
    if (used < kSlots) used_.store(used + 1, std::memory_order_relaxed);
    seq_.store(seq + 2, std::memory_order_release);
  }

  std::uint64_t total() const noexcept { return total_.load(); }
  std::size_t size() const noexcept { return used_.load(std::memory_order_relaxed); }
  // The writer's own view of one slot (tests).
  ExhaustionEntry operator[](std::size_t i) const noexcept { return entry(slots_[i]); }

  // Any thread: every tracked pair, each entry whole. Empty after
  // kReadTries torn readings.
  std::vector<ExhaustionEntry> read() const {
    std::vector<ExhaustionEntry> out;
    for (int attempt = 0; attempt < kReadTries; ++attempt) {
      const std::uint32_t before = seq_.load(std::memory_order_acquire);
      if ((before & 1) != 0) continue;
      out.clear();
      const std::size_t used = used_.load(std::memory_order_relaxed);
      for (std::size_t i = 0; i < used && i < kSlots; ++i)
        out.push_back(entry(slots_[i]));
      std::atomic_thread_fence(std::memory_order_acquire);
      if (seq_.load(std::memory_order_relaxed) == before) return out;
    }
    return {};
  }

 private:
  struct Slot {
    std::atomic<std::uint32_t> backend_addr{0};
    std::atomic<std::uint16_t> backend_port{0};
    std::atomic<std::uint32_t> snat_addr{0};
    Counter count, error;
  };
  static ExhaustionEntry entry(const Slot& e) noexcept {
    return {e.backend_addr.load(std::memory_order_relaxed),
            e.backend_port.load(std::memory_order_relaxed),
            e.snat_addr.load(std::memory_order_relaxed), e.count.load(), e.error.load()};
  }

  std::array<Slot, kSlots> slots_{};
  std::atomic<std::size_t> used_{0};
  std::atomic<std::uint32_t> seq_{0};  // even: stable; odd: a slot being rewritten
  Counter total_;
};

}  // namespace nva::nat
