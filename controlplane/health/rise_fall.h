// RiseFall: the pure up/down state machine of one health-checked target
// (consecutive successes to come up, consecutive failures to go down).
#pragma once

#include <optional>

namespace nva::health {

// Initial state is unknown; the FIRST result sets the state at once (up or
// down). Afterwards a healthy target goes down after `fall` consecutive
// failures and an unhealthy one comes up after `rise` consecutive successes;
// a result that agrees with the state resets the count. No sockets, no clock.
//
//   unknown --ok--> up        unknown --fail--> down
//   up   --fall consecutive failures-->  down
//   down --rise consecutive successes--> up
class RiseFall {
 public:
  // rise and fall below 1 act as 1 (validate() rejects them in a config).
  explicit RiseFall(unsigned rise, unsigned fall);

  // Records one probe result. Returns true when the state changed
  // (including unknown -> known).
  bool record(bool ok);

  std::optional<bool> healthy() const { return healthy_; }
  // Consecutive results equal to the latest one, ending with it (0 before
  // the first result). While it disagrees with healthy(), it is the progress
  // towards rise or fall.
  unsigned streak() const { return streak_; }
  unsigned rise() const { return rise_; }
  unsigned fall() const { return fall_; }

 private:
  unsigned rise_;
  unsigned fall_;
  std::optional<bool> healthy_;
  bool last_ = false;
  unsigned streak_ = 0;
};

}  // namespace nva::health
