// A statistics counter with one writer (the worker that owns it) and any
// number of readers on other threads (telemetry, the replay summary, tests).
//
// A plain std::uint64_t read by the control plane while its worker writes it
// is a data race (undefined behaviour, and a torn read on a 32-bit build).
// Counter is a relaxed atomic that is only ever loaded and stored, never
// read-modify-written: with one writer no increment is lost, an increment
// costs what a plain one does on x86-64 (load, add, store; no lock prefix),
// and a reader sees each counter whole. Relaxed: a reader's values of
// several counters are not a consistent cut (a packet counted in rx may not
// be in forwarded yet), which statistics do not need.
//
// Counter sets are declared once as X-macro tables, X(member, "name",
// "what it counts"): the struct's members, the names telemetry publishes
// (docs/TELEMETRY.md lists each; a unit test checks it) and the order of
// every enumeration come from the one table (worker.h, nat/translator.h,
// conntrack/tracker.h, nat/fragments.h; dataplane.h walks them all).
#pragma once

#include <atomic>
#include <cstdint>
#include <ostream>
#include <string_view>

namespace nva {

class Counter {
 public:
  constexpr Counter() noexcept = default;
  constexpr Counter(std::uint64_t v) noexcept : v_(v) {}  // NOLINT: a number
  Counter(const Counter& o) noexcept : v_(o.load()) {}
  Counter& operator=(const Counter& o) noexcept {
    v_.store(o.load(), std::memory_order_relaxed);
    return *this;
  }
  Counter& operator=(std::uint64_t v) noexcept {
    v_.store(v, std::memory_order_relaxed);
    return *this;
  }

  // The writer's side.
  // always_inline, all of the writer's side: GCC outlined add() once the
  // worker grew, a call per increment.
  [[gnu::always_inline]] Counter& operator++() noexcept {
    add(1);
    return *this;
  }
  [[gnu::always_inline]] void operator++(int) noexcept { add(1); }
  [[gnu::always_inline]] Counter& operator+=(std::uint64_t n) noexcept {
    add(n);
    return *this;
  }

  // Anyone's side.
  [[gnu::always_inline]] std::uint64_t load() const noexcept {
    return v_.load(std::memory_order_relaxed);
  }
  operator std::uint64_t() const noexcept { return load(); }  // NOLINT: reads as one
  friend std::ostream& operator<<(std::ostream& os, const Counter& c) {
    return os << c.load();
  }

 private:
  [[gnu::always_inline]] void add(std::uint64_t n) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::atomic<std::uint64_t> v_{0};
};

}  // namespace nva

// In a counter set's struct: a Counter per row of TABLE (an X-macro table
// of X(member, "name", "what it counts")) and for_each(f), which calls
// f(name, value) for each row in the table's order.
#define NVA_COUNTER_MEMBER(member, name, doc) ::nva::Counter member;
#define NVA_COUNTER_VISIT(member, name, doc) f(std::string_view(name), member.load());
#define NVA_COUNTER_SET(TABLE) \
  TABLE(NVA_COUNTER_MEMBER)    \
  template <typename F>        \
  void for_each(F&& f) const { \
    TABLE(NVA_COUNTER_VISIT)   \
  }
