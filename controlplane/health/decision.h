// The advertisement decision of one VIP: announce it, announce it
// de-preferred (longer AS path / higher MED: a backup), or withdraw it,
// from the health of the data plane and of the VIP's services, with
// hysteresis (a hold-down before coming back) and damping (RFC 2439 style:
// a VIP that keeps falling stays down until its penalty decays).
//
// Pure: time is passed in, nothing is sent; the daemon applies the result
// and logs every change with its reason.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nva::health {

using Clock = std::chrono::steady_clock;

enum class Advert : std::uint8_t {
  kAnnounce,  // healthy: the normal route
  kDeprefer,  // unhealthy, action deprefer: announced as a backup
  kWithdraw,  // unhealthy (action withdraw), or not yet known to be healthy
};
std::string_view advert_name(Advert a);

struct DecisionConfig {
  bool deprefer = false;  // unhealthy -> kDeprefer instead of kWithdraw
  std::chrono::milliseconds hold_down{1000};
  bool damping = true;
  std::chrono::milliseconds half_life{15000};
  double penalty_per_fall = 1000;
  double suppress = 3000;
  double reuse = 750;
};

// One service's part in its VIP's health.
struct ServiceState {
  std::string name;
  std::uint32_t healthy = 0;  // backends up
  std::uint32_t known = 0;    // backends with a probe result
  std::uint32_t total = 0;
  std::uint32_t min_healthy = 1;
  bool ok() const noexcept {
    return healthy >= min_healthy && (min_healthy == 0 || known > 0);
  }
};

// Whether a VIP can be served, and why (for the log): the data plane must
// be healthy and every service of the VIP must have its minimum of healthy
// backends (a VIP with one failing service is better served by another
// region than blackholed for that service).
struct Health {
  bool ok = false;
  std::string reason;
  bool known = true;  // false: some probe has not answered yet
};
Health vip_health(bool dataplane_ok, const std::string& dataplane_reason,
                  const std::vector<ServiceState>& services);

class VipDecision {
 public:
  explicit VipDecision(DecisionConfig c) : cfg_(c) {}

  struct Change {
    Advert from, to;
    std::string reason;
  };
  // Feeds the current health at `now`; returns the change, if any. Going
  // down is immediate; coming back waits for the hold-down (not before the
  // first announcement) and for damping to release.
  std::optional<Change> update(const Health& h, Clock::time_point now);

  Advert state() const noexcept { return state_; }
  double penalty(Clock::time_point now) const noexcept;
  bool suppressed() const noexcept { return suppressed_; }
  std::uint64_t falls() const noexcept { return falls_; }
  // Why the state is what it is (the last change's reason, or what it
  // waits for).
  const std::string& reason() const noexcept { return reason_; }
  void set_config(DecisionConfig c) { cfg_ = c; }

 private:
  Advert down_state() const noexcept {
    return cfg_.deprefer ? Advert::kDeprefer : Advert::kWithdraw;
  }

  DecisionConfig cfg_;
  Advert state_ = Advert::kWithdraw;
  bool ever_up_ = false;
  bool suppressed_ = false;
  double penalty_ = 0;
  Clock::time_point penalty_at_{};
  std::optional<Clock::time_point> healthy_since_;
  std::uint64_t falls_ = 0;
  std::string reason_ = "starting: health not known yet";
};

}  // namespace nva::health
