// Read-mostly tables published to workers with RCU (rte_rcu_qsbr).
//
// The control plane builds a new immutable snapshot off the packet path and
// publishes it; workers read the current pointer without locks and report a
// quiescent state once per poll loop, when they hold no snapshot pointer.
// The old snapshot is freed only after every online worker has reported, so
// a worker never sees freed memory and never blocks.
#pragma once

#include <rte_rcu_qsbr.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace nva {

// One QSBR variable for all readers (workers); thread ids 0..max_threads-1.
class RcuDomain {
 public:
  explicit RcuDomain(std::uint32_t max_threads);
  ~RcuDomain();
  RcuDomain(const RcuDomain&) = delete;
  RcuDomain& operator=(const RcuDomain&) = delete;

  rte_rcu_qsbr* qsbr() const noexcept { return v_; }

  // Worker side. register_reader() once per worker thread, then online();
  // quiescent() every loop; offline() before sleeping (so writers do not
  // wait for a sleeping worker) and online() after waking.
  void register_reader(std::uint32_t id) { check(rte_rcu_qsbr_thread_register(v_, id)); }
  void unregister_reader(std::uint32_t id) noexcept {
    rte_rcu_qsbr_thread_unregister(v_, id);
  }
  void online(std::uint32_t id) noexcept { rte_rcu_qsbr_thread_online(v_, id); }
  void offline(std::uint32_t id) noexcept { rte_rcu_qsbr_thread_offline(v_, id); }
  void quiescent(std::uint32_t id) noexcept { rte_rcu_qsbr_quiescent(v_, id); }

  // Writer side: returns once every online reader has passed a quiescent
  // state after the call began. Never call it from a reader.
  void synchronize() noexcept { rte_rcu_qsbr_synchronize(v_, RTE_QSBR_THRID_INVALID); }

 private:
  static void check(int rc) {
    if (rc != 0) throw std::runtime_error("rte_rcu_qsbr: error " + std::to_string(rc));
  }
  rte_rcu_qsbr* v_ = nullptr;
};

// A pointer to an immutable T that readers load and the writer replaces.
template <typename T>
class RcuPublished {
 public:
  explicit RcuPublished(RcuDomain& domain, std::unique_ptr<const T> initial = nullptr)
      : domain_(domain), current_(initial.release()) {}
  ~RcuPublished() {
    for (auto& r : retired_) delete r.ptr;
    delete current_.load(std::memory_order_relaxed);
  }
  RcuPublished(const RcuPublished&) = delete;
  RcuPublished& operator=(const RcuPublished&) = delete;

  // Reader: valid until the reader's next quiescent() or offline().
  const T* read() const noexcept { return current_.load(std::memory_order_acquire); }

  // Writer: installs `next`, waits for a grace period, frees the previous
  // snapshot. Writers are serialised by the caller (one control thread).
  void publish(std::unique_ptr<const T> next) {
    const T* old = current_.exchange(next.release(), std::memory_order_acq_rel);
    domain_.synchronize();
    delete old;
  }

  // Writer, never blocking: installs `next` and retires the previous
  // snapshot with a QSBR token; reclaim() frees it once every online reader
  // has passed a quiescent state. The control plane uses this, so a stuck
  // worker (which the watchdog reports) cannot stall it.
  void publish_deferred(std::unique_ptr<const T> next) {
    const T* old = current_.exchange(next.release(), std::memory_order_acq_rel);
    if (old != nullptr) retired_.push_back({old, rte_rcu_qsbr_start(domain_.qsbr())});
    reclaim();
  }

  // Frees the retired snapshots no reader can still see; returns how many
  // are still waiting.
  std::size_t reclaim() {
    std::size_t kept = 0;
    for (auto& r : retired_) {
      if (rte_rcu_qsbr_check(domain_.qsbr(), r.token, false) == 1) {
        delete r.ptr;
      } else {
        retired_[kept++] = r;
      }
    }
    retired_.resize(kept);
    return kept;
  }

 private:
  struct Retired {
    const T* ptr;
    std::uint64_t token;
  };
  RcuDomain& domain_;
  std::atomic<const T*> current_;
  std::vector<Retired> retired_;
};

}  // namespace nva
