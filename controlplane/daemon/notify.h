// systemd's service notification for the daemon (deploy/anycast-nva.service,
// Type=notify), through libsystemd's sd_notify:
//
//   READY=1      once every worker's heartbeat has moved and, with [bgp],
//                the speaker is running (sessions may still be connecting:
//                STATUS says how many are up; waiting for Route Server would
//                let systemd's start timeout kill a daemon that is fine)
//   STATUS=...   "3 workers; VIPs announced 2/2; BGP peers up 1/2", when it
//                changes
//   STOPPING=1   when the drain begins
//   WATCHDOG=1   every half WatchdogSec, and only if every worker's heartbeat
//                has moved since the last one: a stuck worker stops the
//                pings and systemd restarts the daemon
//
// Not under systemd (no NOTIFY_SOCKET), sd_notify sends nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace nva {

class Notifier {
 public:
  using Clock = std::chrono::steady_clock;
  using Send = std::function<void(const std::string& message)>;

  // `watchdog`: the unit's WatchdogSec (0: no pings).
  Notifier(std::chrono::microseconds watchdog, Send send)
      : watchdog_(watchdog), send_(std::move(send)) {}
  // From the environment: WATCHDOG_USEC (sd_watchdog_enabled) and
  // sd_notify() to NOTIFY_SOCKET.
  static Notifier from_environment();

  // Every control-plane tick. `heartbeats` per worker; `started`: the
  // daemon's own part of being ready (BGP speaker running). Returns a line
  // for the log when the watchdog is held back (once per stall).
  std::optional<std::string> tick(Clock::time_point now,
                                  const std::vector<std::uint64_t>& heartbeats,
                                  bool started, const std::string& status);
  // The drain began.
  void stopping(const std::string& status);

  bool ready() const { return ready_; }
  std::chrono::microseconds watchdog() const { return watchdog_; }

 private:
  std::chrono::microseconds watchdog_;
  Send send_;
  bool ready_ = false;
  bool stopping_ = false;
  bool held_ = false;  // a ping is due but a heartbeat stands still
  std::string status_;
  std::vector<std::uint64_t> first_beats_;  // heartbeats when first seen
  std::vector<std::uint64_t> ping_beats_;   // heartbeats at the last ping
  Clock::time_point next_ping_{};
};

}  // namespace nva
