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

class Backends;
class RouteSink;

class VipAdverts {
 public:
  using Log = std::function<void(std::string line)>;

  // `bgp` is null without [bgp]: decisions are made and published, nothing
  // is announced.
  VipAdverts(RouteSink* bgp, Log log) : bgp_(bgp), log_(std::move(log)) {}

  // One decision per VIP of `vips` under `c`: VIPs no longer there are
  // withdrawn and forgotten, new ones start withdrawn (announced once
  // healthy), the others keep their state with `c`'s settings. When the
  // route attributes changed, every VIP is announced again with them.
  // `reload`: say in the log what was added and removed.
  void configure(const std::vector<std::uint32_t>& vips, const config::Config& c,
                 bool reload);
  // Feeds each VIP's health at `now` (the data plane's and its services');
  // a change is logged, and applied unless the VIPs are held.
  void decide(health::Clock::time_point now, bool dataplane_ok,
              const std::string& dataplane_reason, const Backends& backends,
              const std::vector<config::ServiceHealth>& service_health);
  // Takes every announced VIP down (withdrawn, or re-announced with
  // GRACEFUL_SHUTDOWN, RFC 8326) and keeps it there whatever its health
  // until release(); `why` ("draining", "maintenance: ...") is what the
  // logs and /nva/health say. Returns how many were announced.
  std::size_t hold(bool graceful_shutdown, std::string why);
  // Back to the decisions: each VIP as its health says now.
  void release();
  bool held() const { return held_; }
  const std::string& held_why() const { return why_; }

  bool route_attributes_changed() const { return attrs_changed_; }
  const std::map<std::uint32_t, health::VipDecision>& decisions() const { return vips_; }
  std::size_t size() const { return vips_.size(); }

 private:
  // The route a VIP has now (nullopt: withdrawn).
  std::optional<bgp::RouteAttributes> attributes_for(std::uint32_t vip) const;
  void apply(std::uint32_t vip);

  RouteSink* bgp_;
  Log log_;
  bool held_ = false;
  std::string why_;
  bgp::RouteAttributes attrs_;  // [bgp]'s, for a healthy VIP
  unsigned deprefer_prepend_ = 0;
  std::optional<std::uint32_t> deprefer_med_;
  bool attrs_changed_ = false;
  std::map<std::uint32_t, health::VipDecision> vips_;
};

}  // namespace nva
