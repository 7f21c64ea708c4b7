// Millisecond clocks for workers: the TSC in production, a manual one in
// tests (expiry is driven by the clock, so tests inject time).
#pragma once

#include <rte_cycles.h>

#include <atomic>
#include <cstdint>

namespace nva {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since an arbitrary epoch; wraps at 2^32 (expiry compares
  // wrap-safely).
  virtual std::uint32_t now_ms() noexcept = 0;
};

class TscClock final : public Clock {
 public:
  TscClock() : hz_per_ms_(rte_get_tsc_hz() / 1000 == 0 ? 1 : rte_get_tsc_hz() / 1000) {}
  std::uint32_t now_ms() noexcept override {
    return static_cast<std::uint32_t>(rte_get_tsc_cycles() / hz_per_ms_);
  }

 private:
  std::uint64_t hz_per_ms_;
};

class ManualClock final : public Clock {
 public:
  std::uint32_t now_ms() noexcept override {
    return now_.load(std::memory_order_relaxed);
  }
  void set(std::uint32_t ms) noexcept { now_.store(ms, std::memory_order_relaxed); }
  void advance(std::uint32_t ms) noexcept {
    now_.fetch_add(ms, std::memory_order_relaxed);
  }

 private:
  std::atomic<std::uint32_t> now_{0};
};

}  // namespace nva
