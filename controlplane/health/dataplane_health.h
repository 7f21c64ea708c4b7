// Data-plane health from samples the control plane takes every tick: a
// worker whose heartbeat stands still for the watchdog time (stuck,
// spinning in a bug), a port whose link is down, packet buffers exhausted or
// handoff rings dropping a share of what is handed off, for a sustained
// time. A single drop is not a verdict: anyone can aim packets at one
// worker, and withdrawing the region for it would hand them the region. Pure: the daemon
// feeds samples (DataPlane counters) and time; tests feed their own.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace nva::health {

struct DataplaneSample {
  std::vector<std::uint64_t> heartbeats;            // per worker
  std::vector<std::pair<std::string, bool>> links;  // port name, link up
  std::uint32_t mbufs_free = 0;
  std::uint32_t mbufs_total = 0;
  std::uint64_t handoff_sent = 0;     // total so far, all workers
  std::uint64_t handoff_dropped = 0;  // total so far, all workers
};

class DataplaneHealth {
 public:
  using Clock = std::chrono::steady_clock;
  struct Config {
    std::chrono::milliseconds watchdog{100};
    // Buffers and handoff rings are judged per window; this many bad
    // windows in a row (1 s) make the data plane unhealthy.
    std::chrono::milliseconds window{100};
    unsigned exhausted_windows = 10;
    // Fewer free buffers than this share of the pool counts as exhausted.
    std::uint32_t mbufs_low_percent = 1;
    // A window is bad for handoff when at least handoff_min_drops packets
    // and at least this share of the packets handed off in it were dropped.
    std::uint32_t handoff_drop_percent = 1;
    std::uint64_t handoff_min_drops = 64;
  };

  explicit DataplaneHealth(Config c) : cfg_(c) {}

  // Takes a sample at `now`; returns true when the verdict changed.
  bool update(const DataplaneSample& s, Clock::time_point now);

  bool ok() const noexcept { return ok_; }
  // Every current problem, "; "-separated; empty when ok().
  const std::string& reason() const noexcept { return reason_; }
  void set_watchdog(std::chrono::milliseconds w) { cfg_.watchdog = w; }

 private:
  Config cfg_;
  std::vector<std::uint64_t> beats_;
  std::vector<Clock::time_point> moved_;
  bool started_ = false;
  Clock::time_point window_end_{};
  bool mbufs_ok_in_window_ = false;
  std::uint64_t handoff_at_window_ = 0, sent_at_window_ = 0;
  std::uint64_t last_drop_percent_ = 0;
  unsigned mbufs_bad_ = 0, handoff_bad_ = 0;
  bool ok_ = true;
  std::string reason_;
};

}  // namespace nva::health
