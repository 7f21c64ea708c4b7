// The daemon's advertisements (adverts.h).
#include "controlplane/daemon/adverts.h"

#include <set>
#include <utility>

#include "controlplane/advertiser.h"
#include "controlplane/daemon/backends.h"

namespace nva {

void VipAdverts::configure(const std::vector<std::uint32_t>& vips,
                           const config::Config& c, bool reload) {
  const bgp::RouteAttributes attrs = config::route_attributes(c.bgp);
  attrs_changed_ = reload && !(attrs == attrs_);
  attrs_ = attrs;
  deprefer_prepend_ = c.health.deprefer_prepend;
  deprefer_med_ = c.health.deprefer_med;
  const health::DecisionConfig d = config::decision_config(c.health);
  const std::set<std::uint32_t> now(vips.begin(), vips.end());
  for (auto it = vips_.begin(); it != vips_.end();) {
    if (now.count(it->first) == 0) {
      log_("reload: VIP " + config::ipv4_string(it->first) +
           " has no service left: withdrawn");
      if (bgp_) bgp_->set(it->first, std::nullopt);
      it = vips_.erase(it);
    } else {
      it->second.set_config(d);
      ++it;
    }
  }
  for (const std::uint32_t v : now) {
    if (vips_.try_emplace(v, d).second && reload) {
      log_("reload: VIP " + config::ipv4_string(v) + " added: announced once healthy");
    }
  }
  if (attrs_changed_ && !held_) {
    for (const auto& [vip, decision] : vips_) apply(vip);
  }
}

void VipAdverts::decide(health::Clock::time_point now, bool dataplane_ok,
                        const std::string& dataplane_reason, const Backends& backends,
                        const std::vector<config::ServiceHealth>& service_health) {
  const std::vector<health::ServiceState> states = backends.states(service_health);
  for (auto& [vip, d] : vips_) {
    std::vector<health::ServiceState> mine;
    for (const std::size_t i : backends.services_of(vip)) mine.push_back(states[i]);
    const health::Health h = health::vip_health(dataplane_ok, dataplane_reason, mine);
    if (const auto c = d.update(h, now)) {
      log_("health: VIP " + config::ipv4_string(vip) + ": " +
           std::string(health::advert_name(c->from)) + " -> " +
           std::string(health::advert_name(c->to)) + ": " + c->reason +
           (held_ ? " (" + why_ + ": not applied)" : ""));
      if (!held_) apply(vip);
    }
  }
}

std::size_t VipAdverts::hold(bool graceful_shutdown, std::string why) {
  held_ = true;
  why_ = std::move(why);
  std::size_t n = 0;
  if (!bgp_) return n;
  for (const auto& [vip, d] : vips_) {
    auto a = bgp_->get(vip);
    if (!a) continue;
    ++n;
    if (graceful_shutdown) {
      a->graceful_shutdown = true;
      bgp_->set(vip, a);
    } else {
      bgp_->set(vip, std::nullopt);
    }
  }
  return n;
}

void VipAdverts::release() {
  if (!held_) return;
  held_ = false;
  why_.clear();
  for (const auto& [vip, d] : vips_) apply(vip);
}

std::optional<bgp::RouteAttributes> VipAdverts::attributes_for(std::uint32_t vip) const {
  const auto it = vips_.find(vip);
  if (it == vips_.end()) return std::nullopt;
  bgp::RouteAttributes a = attrs_;
  switch (it->second.state()) {
    case health::Advert::kAnnounce:
      return a;
    case health::Advert::kDeprefer:
      a.prepend += deprefer_prepend_;
      if (deprefer_med_) a.med = deprefer_med_;
      return a;
    case health::Advert::kWithdraw:
      break;
  }
  return std::nullopt;
}

void VipAdverts::apply(std::uint32_t vip) {
  if (bgp_) bgp_->set(vip, attributes_for(vip));
}

}  // namespace nva
