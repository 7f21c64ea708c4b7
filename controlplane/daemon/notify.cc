// systemd notification (notify.h).
#include "controlplane/daemon/notify.h"

#include <systemd/sd-daemon.h>

namespace nva {

namespace {

// Whether every entry of `now` is past the same entry of `then` (and there
// is at least one worker).
bool all_moved(const std::vector<std::uint64_t>& then,
               const std::vector<std::uint64_t>& now) {
  if (now.empty() || then.size() != now.size()) return false;
  for (std::size_t i = 0; i < now.size(); ++i) {
    if (now[i] == then[i]) return false;
  }
  return true;
}

}  // namespace

Notifier Notifier::from_environment() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0) usec = 0;
  return Notifier(std::chrono::microseconds(usec),
                  [](const std::string& m) { sd_notify(0, m.c_str()); });
}

std::optional<std::string> Notifier::tick(Clock::time_point now,
                                          const std::vector<std::uint64_t>& heartbeats,
                                          bool started, const std::string& status) {
  if (first_beats_.empty()) {
    first_beats_ = heartbeats;
    ping_beats_ = heartbeats;
    next_ping_ = now;
  }
  if (!ready_) {
    if (!started || !all_moved(first_beats_, heartbeats)) return std::nullopt;
    ready_ = true;
    status_ = status;
    send_("READY=1\nSTATUS=" + status);
  } else if (status != status_ && !stopping_) {
    status_ = status;
    send_("STATUS=" + status);
  }
  if (watchdog_.count() == 0 || now < next_ping_) return std::nullopt;
  if (!all_moved(ping_beats_, heartbeats)) {
    if (held_) return std::nullopt;
    held_ = true;
    return "systemd: watchdog ping held back: a worker's heartbeat stands still";
  }
  send_("WATCHDOG=1");
  ping_beats_ = heartbeats;
  next_ping_ = now + watchdog_ / 2;
  if (held_) {
    held_ = false;
    return "systemd: watchdog pings again: every worker's heartbeat moves";
  }
  return std::nullopt;
}

void Notifier::stopping(const std::string& status) {
  if (stopping_) return;
  stopping_ = true;
  status_ = status;
  send_("STOPPING=1\nSTATUS=" + status);
}

}  // namespace nva
