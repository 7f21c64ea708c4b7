// The advertisement decision of one VIP (see decision.h).
#include "controlplane/health/decision.h"

#include <cmath>

namespace nva::health {

std::string_view advert_name(Advert a) {
  switch (a) {
    case Advert::kAnnounce:
      return "announce";
    case Advert::kDeprefer:
      return "deprefer";
    case Advert::kWithdraw:
      return "withdraw";
  }
  return "?";
}

Health vip_health(bool dataplane_ok, const std::string& dataplane_reason,
                  const std::vector<ServiceState>& services) {
  if (!dataplane_ok) return {false, "data plane: " + dataplane_reason};
  std::string ok_parts;
  for (const ServiceState& s : services) {
    const std::string counts = std::to_string(s.healthy) + " of " +
                               std::to_string(s.total) + " backends healthy (need " +
                               std::to_string(s.min_healthy) + ")";
    if (!s.ok()) {
      if (s.known == 0 && s.min_healthy > 0) {
        return {false, "service " + s.name + ": no probe result yet", false};
      }
      return {false, "service " + s.name + ": " + counts};
    }
    ok_parts += (ok_parts.empty() ? "" : ", ") + ("service " + s.name + ": " + counts);
  }
  return {true, ok_parts.empty() ? "data plane healthy" : ok_parts};
}

double VipDecision::penalty(Clock::time_point now) const noexcept {
  if (penalty_ == 0) return 0;
  const double dt = std::chrono::duration<double>(now - penalty_at_).count();
  const double hl = std::chrono::duration<double>(cfg_.half_life).count();
  return penalty_ * std::exp2(-dt / hl);
}

std::optional<VipDecision::Change> VipDecision::update(const Health& h,
                                                       Clock::time_point now) {
  const Advert from = state_;
  if (!h.ok) {
    healthy_since_.reset();
    if (state_ == Advert::kAnnounce) {
      ++falls_;
      if (cfg_.damping) {
        // Decayed penalty plus this fall, capped so that suppression ends
        // within a few half-lives.
        penalty_ = std::min(penalty(now) + cfg_.penalty_per_fall, 2 * cfg_.suppress);
        penalty_at_ = now;
        if (penalty_ > cfg_.suppress) suppressed_ = true;
      }
      state_ = down_state();
      reason_ = h.reason;
      return Change{from, state_, reason_};
    }
    // Known to be down (at start, or the action changed on reload): the
    // down state of the configured action; unknown health stays withdrawn.
    if (state_ != down_state() && h.known) {
      state_ = down_state();
      reason_ = h.reason;
      return Change{from, state_, reason_};
    }
    reason_ = h.reason;
    return std::nullopt;
  }
  if (state_ == Advert::kAnnounce) return std::nullopt;
  if (!healthy_since_) healthy_since_ = now;
  if (suppressed_) {
    const double p = penalty(now);
    if (p >= cfg_.reuse) {
      reason_ = "healthy, but suppressed by damping (penalty " +
                std::to_string(static_cast<long>(p)) + ", reuse below " +
                std::to_string(static_cast<long>(cfg_.reuse)) + ")";
      return std::nullopt;
    }
    suppressed_ = false;
  }
  if (ever_up_ && now - *healthy_since_ < cfg_.hold_down) {
    reason_ =
        "healthy, holding down for " + std::to_string(cfg_.hold_down.count()) + " ms";
    return std::nullopt;
  }
  const bool first = !ever_up_;
  ever_up_ = true;
  state_ = Advert::kAnnounce;
  reason_ = h.reason;
  if (!first) {
    reason_ += " (healthy for " +
               std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                  now - *healthy_since_)
                                  .count()) +
               " ms)";
  }
  return Change{from, state_, reason_};
}

}  // namespace nva::health
