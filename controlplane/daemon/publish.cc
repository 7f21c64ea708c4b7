// The /nva/ telemetry documents (publish.h).
#include "controlplane/daemon/publish.h"

#include <string>

#include "controlplane/advertiser.h"
#include "controlplane/bgp/speaker.h"
#include "controlplane/daemon/adverts.h"
#include "controlplane/daemon/backends.h"
#include "controlplane/daemon/maintenance.h"
#include "dataplane/dataplane.h"

namespace nva {

using nlohmann::json;

json workers_json(const DataPlaneSnapshot& s) {
  json workers = json::object();
  for (std::size_t i = 0; i < s.workers.size(); ++i) {
    const CounterSnapshot& c = s.workers[i];
    json w = json::object();
    for (const auto& [name, n] : c.counters) w[std::string(name)] = n;
    for (const auto& [name, n] : c.drops) {
      if (n != 0) w["drop_" + std::string(name)] = n;
    }
    w["dropped"] = c.dropped();
    workers[std::to_string(i)] = std::move(w);
  }
  return workers;
}

json snat_json(const DataPlaneSnapshot& s) {
  json snat = json::array();
  for (std::size_t i = 0; i < s.snat_exhaustion.size(); ++i) {
    for (const nat::ExhaustionEntry& e : s.snat_exhaustion[i]) {
      snat.push_back(
          {{"worker", i},
           {"backend", health::format_target({e.backend_addr, e.backend_port})},
           {"snat", config::ipv4_string(e.snat_addr)},
           {"exhausted", e.count},
           {"error", e.error}});
    }
  }
  return snat;
}

ServicesJson services_json(const Backends& b,
                           const std::vector<config::ServiceHealth>& service_health,
                           std::chrono::steady_clock::time_point now) {
  ServicesJson out{json::array(), json::array()};
  const std::vector<lb::Service>& services = b.services();
  for (std::size_t i = 0; i < services.size(); ++i) {
    const lb::Service& s = services[i];
    std::uint32_t up = 0;
    for (const Backends::Probe& p : b.probes()) {
      if (p.service != i) continue;
      const health::BackendStatus st = b.status(p);
      const lb::Backend& be = s.backends[p.backend];
      up += st.healthy.value_or(false);
      out.backends.push_back(
          {{"service", s.name},
           {"address", config::ipv4_string(be.addr)},
           {"port", be.port},
           {"weight", be.weight},
           {"healthy", st.healthy.value_or(false) ? 1 : 0},
           {"state", !st.healthy   ? "unknown"
                     : *st.healthy ? "up"
                                   : "down"},
           {"probe", std::string(health::probe_kind_name(st.kind))},
           {"last_detail", st.last_detail},
           {"last_rtt_us", st.last_rtt.count()},
           {"probes", st.probes},
           {"failures", st.failures},
           {"last_change_s",
            st.transitions == 0
                ? -1
                : std::chrono::duration_cast<std::chrono::seconds>(now - st.last_change)
                      .count()}});
    }
    out.services.push_back({{"name", s.name},
                            {"vip", config::ipv4_string(s.vip)},
                            {"port", s.port},
                            {"proto", s.proto == 6 ? "tcp" : "udp"},
                            {"mode", s.mode == lb::NatMode::kDnat ? "dnat" : "dnat+snat"},
                            {"snat", s.mode == lb::NatMode::kDnatSnat ? 1 : 0},
                            {"backends", s.backends.size()},
                            {"healthy", up},
                            {"min_healthy", service_health[i].min_healthy_backends}});
  }
  return out;
}

json health_json(const VipAdverts& v, const Advertiser* bgp,
                 std::chrono::steady_clock::time_point now) {
  json decisions = json::array();
  for (const auto& [vip, d] : v.decisions()) {
    const auto attrs = bgp ? bgp->get(vip) : std::nullopt;
    decisions.push_back({{"vip", config::ipv4_string(vip)},
                         {"decision", std::string(health::advert_name(d.state()))},
                         {"advertise", attrs ? 1 : 0},
                         {"reason", v.held() ? v.held_why() : d.reason()},
                         {"falls", d.falls()},
                         {"suppressed", d.suppressed() ? 1 : 0},
                         {"penalty", static_cast<std::uint64_t>(d.penalty(now))}});
  }
  return decisions;
}

json azure_json(const Maintenance& m) {
  const azure::PollerStatus& p = m.poller();
  json j{{"state", std::string(Maintenance::state_name(m.state()))},
         {"vm_name", p.vm_name},
         {"polls", p.polls},
         {"failures", p.failures},
         {"last_error", p.last_error},
         {"incarnation", p.incarnation},
         {"acknowledged", p.acknowledged},
         {"events", m.events().size()}};
  // Flat fields (DPDK telemetry serves one level below the top).
  for (std::size_t i = 0; i < m.events().size() && i < 8; ++i)
    j["event_" + std::to_string(i)] = m.events()[i];
  return j;
}

BgpJson bgp_json(Advertiser& bgp) {
  BgpJson out{json::array(), json::array()};
  for (const bgp::PeerStatus& p : bgp.speaker().peers()) {
    json peer{{"name", p.name},
              {"address", bgp::to_string(p.address)},
              {"remote_as", p.negotiated ? p.negotiated->peer_as : 0},
              {"state", std::string(bgp::state_name(p.state))},
              {"prefixes_sent", p.routes_sent},
              {"prefixes_received", p.routes_received},
              {"last_error", p.last_notification_received ? "notification received"
                             : p.last_notification_sent   ? "notification sent"
                                                          : ""}};
    // Every counter of the peer by name (bgp/speaker.h, NVA_PEER_COUNTERS).
    p.counters.for_each(
        [&peer](const std::string& name, std::uint64_t n) { peer[name] = n; });
    out.peers.push_back(std::move(peer));
    for (const auto& [prefix, attrs] : bgp.speaker().sent_routes(p.name)) {
      out.routes.push_back({{"peer", p.name},
                            {"prefix", prefix.to_string()},
                            {"direction", "advertised"},
                            {"med", attrs.multi_exit_disc ? *attrs.multi_exit_disc : 0},
                            {"communities", attrs.communities.size()}});
    }
  }
  return out;
}

}  // namespace nva
