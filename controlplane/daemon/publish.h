// What the daemon publishes under /nva/ (docs/TELEMETRY.md), one function
// per command, each from the part of the daemon that holds the facts. The
// daemon calls them on its io_context thread every half second.
#pragma once

#include <chrono>
#include <vector>

#include <nlohmann/json.hpp>

#include "controlplane/config/config.h"

namespace nva {

class Advertiser;
class Backends;
class Maintenance;
class VipAdverts;
struct DataPlaneSnapshot;

// /nva/workers: per worker, every counter by name, its non-zero drops as
// drop_<reason> (DPDK telemetry serves one level of containers below the
// top: a nested object would become a string cut at 127 bytes; zeros for
// every reason would cost ~1.5 KiB of the 16 KiB answer per worker) and
// their sum as dropped.
nlohmann::json workers_json(const DataPlaneSnapshot& s);

// /nva/snat: per worker, the (backend, SNAT address) pairs that ran out of
// ports.
nlohmann::json snat_json(const DataPlaneSnapshot& s);

// /nva/services and /nva/backends.
struct ServicesJson {
  nlohmann::json services, backends;
};
ServicesJson services_json(const Backends& b,
                           const std::vector<config::ServiceHealth>& service_health,
                           std::chrono::steady_clock::time_point now);

// /nva/health: each VIP's decision and why (while the VIPs are held:
// "draining", "maintenance: ...").
nlohmann::json health_json(const VipAdverts& v, const Advertiser* bgp,
                           std::chrono::steady_clock::time_point now);

// /nva/azure: Scheduled Events as the daemon sees them (with [azure]
// scheduled_events on).
nlohmann::json azure_json(const Maintenance& m);

// /nva/bgp/peers and /nva/bgp/routes.
struct BgpJson {
  nlohmann::json peers, routes;
};
BgpJson bgp_json(Advertiser& bgp);

}  // namespace nva
