// The daemon's backends: the services as the workers have them, each
// backend's healthy flag set by its probe. One probe per (service,
// backend), identified by what decides how it probes (ProbeKey), so a
// reload keeps the probes it does not change, with their health.
// Every method runs on the control plane's io_context thread.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controlplane/config/config.h"
#include "controlplane/health/decision.h"
#include "controlplane/health/prober.h"
#include "dataplane/lb/service.h"

namespace boost::asio {
class io_context;
}

namespace nva {

// What makes two probes the same across a reload.
struct ProbeKey {
  std::string service;
  std::uint32_t backend_addr = 0;
  std::uint16_t backend_port = 0;
  health::Target target;
  health::ProbeConfig config;
  auto operator<=>(const ProbeKey&) const = default;
};

class Backends {
 public:
  // Runs a probe result handler; the daemon's guard (a throw is logged and
  // counted, never propagated into the prober).
  using Guard = std::function<void(const char* what, const std::function<void()>& f)>;
  // Logs a line with a rate-limit key (logger.h).
  using Log = std::function<void(std::string line, std::string key)>;

  Backends(boost::asio::io_context& io, Guard guard, Log log);
  ~Backends();
  Backends(const Backends&) = delete;
  Backends& operator=(const Backends&) = delete;

  struct Probe {
    std::size_t service = 0, backend = 0;  // into services()
    std::size_t id = 0;                    // the prober's
    ProbeKey key;
    std::optional<bool> healthy;  // the last verdict (nullopt: none yet)
  };

  // The next services and their probes, started but not yet in use.
  struct Plan {
    std::vector<lb::Service> services;
    std::vector<Probe> probes;
    std::multimap<ProbeKey, std::size_t> unused;  // running probes the plan drops
    std::size_t kept = 0;                         // running probes the plan keeps
  };
  // Probes for every backend of c.services: a running probe with the same
  // key is kept (with its health), others are started (health unknown: no
  // new connection goes to the backend before its first result). Strong
  // guarantee: if a probe cannot start, the ones this call started are
  // stopped again and what runs is untouched.
  Plan plan(const config::Config& c);
  // Makes `p` the running services and probes; stops p.unused.
  void install(Plan p);

  const std::vector<lb::Service>& services() const { return services_; }
  const std::vector<Probe>& probes() const { return probes_; }
  // The services of one VIP (indexes into services()).
  const std::vector<std::size_t>& services_of(std::uint32_t vip) const;
  // The VIPs of services(), ascending.
  std::vector<std::uint32_t> vips() const;
  // True once after services() changed (install, a backend up or down):
  // the workers' table must be rebuilt.
  bool take_dirty() {
    const bool d = dirty_;
    dirty_ = false;
    return d;
  }
  // Per service: its part in its VIP's health (min_healthy from
  // `service_health`, parallel to services()).
  std::vector<health::ServiceState> states(
      const std::vector<config::ServiceHealth>& service_health) const;
  health::BackendStatus status(const Probe& p) const { return prober_->status(p.id); }

 private:
  void on_probe(std::size_t id, const health::BackendStatus& st);

  Guard guard_;
  Log log_;
  std::unique_ptr<health::Prober> prober_;
  std::vector<lb::Service> services_;
  std::vector<Probe> probes_;
  std::map<std::size_t, std::size_t> index_;  // prober id -> probes_[]
  std::map<std::uint32_t, std::vector<std::size_t>> by_vip_;
  bool dirty_ = true;
};

}  // namespace nva
