// The daemon's backends and their probes (backends.h).
#include "controlplane/daemon/backends.h"

#include <utility>

namespace nva {

Backends::Backends(boost::asio::io_context& io, Guard guard, Log log)
    : guard_(std::move(guard)),
      log_(std::move(log)),
      prober_(std::make_unique<health::Prober>(io)) {}

Backends::~Backends() = default;

Backends::Plan Backends::plan(const config::Config& c) {
  Plan out;
  out.services = c.services;
  for (const Probe& p : probes_) out.unused.emplace(p.key, p.id);
  std::vector<std::size_t> added;
  try {
    for (std::size_t i = 0; i < out.services.size(); ++i) {
      const lb::Service& s = out.services[i];
      const config::ProbeSettings& ps = c.service_health[i].probe;
      for (std::size_t j = 0; j < s.backends.size(); ++j) {
        lb::Backend& b = out.services[i].backends[j];
        const health::Target t = config::probe_target(s, b, ps);
        Probe p{i, j, 0,
                ProbeKey{s.name, b.addr, b.port, t,
                         config::probe_config(ps, c.health.source)},
                std::nullopt};
        if (const auto it = out.unused.find(p.key); it != out.unused.end()) {
          p.id = it->second;
          out.unused.erase(it);
          ++out.kept;
          p.healthy = prober_->status(p.id).healthy;
          b.healthy = p.healthy.value_or(false);
        } else {
          b.healthy = false;
          p.id = prober_->add(t, p.key.config,
                              [this](std::size_t id, const health::BackendStatus& st) {
                                guard_("probe result", [&] { on_probe(id, st); });
                              });
          added.push_back(p.id);
        }
        out.probes.push_back(std::move(p));
      }
    }
  } catch (...) {
    for (const std::size_t id : added) prober_->remove(id);
    throw;
  }
  return out;
}

void Backends::install(Plan p) {
  for (const auto& [key, id] : p.unused) prober_->remove(id);
  services_ = std::move(p.services);
  probes_ = std::move(p.probes);
  index_.clear();
  for (std::size_t k = 0; k < probes_.size(); ++k) index_[probes_[k].id] = k;
  by_vip_.clear();
  for (std::size_t i = 0; i < services_.size(); ++i)
    by_vip_[services_[i].vip].push_back(i);
  dirty_ = true;
}

const std::vector<std::size_t>& Backends::services_of(std::uint32_t vip) const {
  static const std::vector<std::size_t> kNone;
  const auto it = by_vip_.find(vip);
  return it != by_vip_.end() ? it->second : kNone;
}

std::vector<std::uint32_t> Backends::vips() const {
  std::vector<std::uint32_t> out;
  for (const auto& [vip, svcs] : by_vip_) out.push_back(vip);
  return out;
}

std::vector<health::ServiceState> Backends::states(
    const std::vector<config::ServiceHealth>& service_health) const {
  std::vector<health::ServiceState> out(services_.size());
  for (std::size_t i = 0; i < services_.size(); ++i) {
    out[i].name = services_[i].name;
    out[i].total = static_cast<std::uint32_t>(services_[i].backends.size());
    out[i].min_healthy = service_health[i].min_healthy_backends;
  }
  for (const Probe& p : probes_) {
    out[p.service].known += p.healthy.has_value();
    out[p.service].healthy += p.healthy.value_or(false);
  }
  return out;
}

void Backends::on_probe(std::size_t id, const health::BackendStatus& st) {
  const auto it = index_.find(id);
  if (it == index_.end()) return;
  Probe& p = probes_[it->second];
  p.healthy = st.healthy;
  lb::Service& s = services_[p.service];
  lb::Backend& b = s.backends[p.backend];
  const bool up = st.healthy.value_or(false);
  const std::string who = "health: service " + s.name + ": backend " +
                          health::format_target({b.addr, b.port});
  log_(who + " " + (up ? "up" : "down") + " (" +
           std::string(health::probe_kind_name(st.kind)) + ": " + st.last_detail + ")",
       who);
  if (b.healthy != up) {
    b.healthy = up;
    dirty_ = true;
  }
}

}  // namespace nva
