// Data-plane health from samples the control plane takes every tick: a
// worker whose heartbeat stands still for the watchdog time (stuck,
// spinning in a bug), a port whose link is down, packet buffers or handoff
// rings exhausted for a sustained time. Pure: the daemon feeds samples
// (DataPlane counters) and time; tests feed their own.
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
  std::uint64_t handoff_at_window_ = 0;
  unsigned mbufs_bad_ = 0, handoff_bad_ = 0;
  bool ok_ = true;
  std::string reason_;
};

}  // namespace nva::health
