// The daemon's advertisements: one health decision per VIP (announce,
// de-prefer or withdraw; health/decision.h) and what it means for the
// VIP's route, applied through the Advertiser when BGP is configured.
// Every method runs on the control plane's io_context thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controlplane/bgp/policy.h"
#include "controlplane/config/config.h"
#include "controlplane/health/decision.h"

namespace nva {

class Advertiser;
class Backends;

// The decision's settings from [health].
health::DecisionConfig decision_config(const config::HealthConfig& h);

class VipAdverts {
 public:
  using Log = std::function<void(std::string line)>;

  // `bgp` is null without [bgp]: decisions are made and published, nothing
  // is announced.
  VipAdverts(Advertiser* bgp, Log log) : bgp_(bgp), log_(std::move(log)) {}

  // One decision per VIP of `vips` under `c`: VIPs no longer there are
  // withdrawn and forgotten, new ones start withdrawn (announced once
  // healthy), the others keep their state with `c`'s settings. When the
  // route attributes changed, every VIP is announced again with them.
  // `reload`: say in the log what was added and removed.
  void configure(const std::vector<std::uint32_t>& vips, const config::Config& c,
                 bool reload);
  // Feeds each VIP's health at `now` (the data plane's and its services');
  // a change is logged, and applied unless `draining`.
  void decide(health::Clock::time_point now, bool dataplane_ok,
              const std::string& dataplane_reason, const Backends& backends,
              const std::vector<config::ServiceHealth>& service_health, bool draining);
  // The drain: every announced VIP withdrawn, or re-announced with
  // GRACEFUL_SHUTDOWN (RFC 8326). Returns how many.
  std::size_t drain(bool graceful_shutdown);

  bool route_attributes_changed() const { return attrs_changed_; }
  const std::map<std::uint32_t, health::VipDecision>& decisions() const { return vips_; }
  std::size_t size() const { return vips_.size(); }

 private:
  // The route a VIP has now (nullopt: withdrawn).
  std::optional<bgp::RouteAttributes> attributes_for(std::uint32_t vip) const;
  void apply(std::uint32_t vip);

  Advertiser* bgp_;
  Log log_;
  bgp::RouteAttributes attrs_;  // [bgp]'s, for a healthy VIP
  unsigned deprefer_prepend_ = 0;
  std::optional<std::uint32_t> deprefer_med_;
  bool attrs_changed_ = false;
  std::map<std::uint32_t, health::VipDecision> vips_;
};

}  // namespace nva
