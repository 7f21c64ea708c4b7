// Waiting in tests on a condition with a deadline instead of a fixed sleep.
#pragma once

#include <chrono>
#include <cstdint>
#include <thread>

namespace nva::test {

// Looks at `cond` every `every` until it is true (returns true) or `limit`
// has passed (returns false). Bounded in time and in looks (limit / every +
// 2), so a condition that never comes ends the wait, not the test run.
template <typename Cond>
bool eventually(Cond&& cond, std::chrono::milliseconds limit = std::chrono::seconds(5),
                std::chrono::microseconds every = std::chrono::microseconds(500)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  const std::int64_t looks =
      std::chrono::duration_cast<std::chrono::microseconds>(limit).count() /
          (every.count() > 0 ? every.count() : 1) +
      2;
  for (std::int64_t i = 0; i < looks; ++i) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
  return false;
}

// True if `cond` is true at every look for the whole of `span` (looked at
// every `every`); false at the first look where it is not. For what must not
// happen: a time is what such a test is about.
template <typename Cond>
bool holds_for(Cond&& cond, std::chrono::milliseconds span,
               std::chrono::microseconds every = std::chrono::microseconds(500)) {
  return !eventually([&cond] { return !cond(); }, span, every);
}

}  // namespace nva::test
