// Azure maintenance for the daemon: Scheduled Events (azure/
// scheduled_events.h) that concern this VM take its VIPs down (withdrawn,
// or GRACEFUL_SHUTDOWN as [drain] mode says) before the platform acts;
// once the connections are gone (or the drain time is up) the events are
// acknowledged (StartRequests: the platform may go ahead at once); when no
// event concerns the VM any more (a Freeze is over), the VIPs go back to
// their health decisions. A Reboot, Redeploy, Preempt or Terminate ends
// the VM, so for those the daemon is simply stopped by the platform later,
// VIPs already down.
//
//   idle --events--> draining --drained--> acknowledged --no events--> idle
//                        \-------------------no events------------------/
//
// Every method runs on the control plane's io_context thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/azure/scheduled_events.h"

namespace nva {

class Maintenance {
 public:
  using Clock = std::chrono::steady_clock;
  struct Hooks {
    // Takes the VIPs down, saying why; returns how many were announced.
    std::function<std::size_t(const std::string& why)> hold;
    std::function<void()> release;          // back to the decisions
    std::function<std::uint64_t()> active;  // connections a drain waits for
    std::function<void(const std::string&)> log;
  };
  enum class State : std::uint8_t { kIdle, kDraining, kAcknowledged };
  static std::string_view state_name(State s);  // "idle", "draining", "acknowledged"

  Maintenance(boost::asio::io_context& io, azure::PollerConfig poller,
              std::chrono::milliseconds drain_time, Hooks hooks);
  ~Maintenance();  // the poller's: no callback runs after it
  Maintenance(const Maintenance&) = delete;
  Maintenance& operator=(const Maintenance&) = delete;

  void start();
  // Every control-plane tick: acknowledges once drained.
  void tick(Clock::time_point now);
  // The poller's answer (public for tests that drive it without HTTP).
  void on_events(const std::vector<azure::ScheduledEvent>& events, Clock::time_point now);

  State state() const { return state_; }
  const azure::PollerStatus& poller() const;
  // The events being handled, "Reboot A1 (Scheduled, not before ...)".
  const std::vector<std::string>& events() const { return described_; }

 private:
  void acknowledge();

  std::unique_ptr<azure::Poller> poller_;
  std::chrono::milliseconds drain_time_;
  Hooks hooks_;
  State state_ = State::kIdle;
  Clock::time_point deadline_{}, retry_at_{};
  std::set<std::string> acked_;       // event ids acknowledged
  std::vector<std::string> pending_;  // to acknowledge once drained
  std::vector<std::string> described_;
  bool acking_ = false;
};

}  // namespace nva
