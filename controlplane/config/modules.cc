// The configuration as each module takes it (config.h): the prober's
// ProbeConfig and Target, the advertisement decision's DecisionConfig, the
// speaker's SpeakerConfig and a VIP's RouteAttributes. The one place where
// configuration types become module types.
#include <chrono>

#include "controlplane/config/config.h"

namespace nva::config {

health::ProbeConfig probe_config(const ProbeSettings& p,
                                 std::optional<std::uint32_t> source) {
  health::ProbeConfig c;
  c.kind = p.kind;
  c.interval = std::chrono::milliseconds(p.interval_ms);
  c.timeout = std::chrono::milliseconds(p.timeout_ms);
  c.rise = p.rise;
  c.fall = p.fall;
  c.http_path = p.http_path;
  c.http_status = p.http_status;
  c.source = source;
  return c;
}

health::Target probe_target(const lb::Service& s, const lb::Backend& b,
                            const ProbeSettings& p) {
  return {b.addr, p.port ? *p.port : (b.port != 0 ? b.port : s.port)};
}

health::DecisionConfig decision_config(const HealthConfig& h) {
  health::DecisionConfig d;
  d.deprefer = h.action == UnhealthyAction::kDeprefer;
  d.hold_down = std::chrono::milliseconds(h.hold_down_ms);
  d.damping = h.damping;
  d.half_life = std::chrono::milliseconds(h.damping_half_life_ms);
  d.suppress = h.damping_suppress;
  d.reuse = h.damping_reuse;
  return d;
}

bgp::Ipv4Address bgp_address(std::uint32_t a) {
  return {static_cast<std::uint8_t>(a >> 24), static_cast<std::uint8_t>(a >> 16),
          static_cast<std::uint8_t>(a >> 8), static_cast<std::uint8_t>(a)};
}

bgp::SpeakerConfig speaker_config(const BgpConfig& b) {
  bgp::SpeakerConfig s;
  s.local_as = b.local_as;
  s.router_id = bgp_address(b.router_id);
  s.listen = b.listen;
  s.listen_port = b.listen_port;
  if (b.source) s.listen_address = bgp_address(*b.source);
  for (const BgpPeerConfig& p : b.peers) {
    bgp::PeerConfig pc;
    pc.name = p.name;
    pc.address = bgp_address(p.addr);
    pc.peer_as = p.as;
    pc.port = p.port;
    pc.passive = p.passive;
    if (b.source) pc.source = bgp_address(*b.source);
    pc.hold_time = b.hold_time;
    pc.ttl = b.ttl;
    pc.gtsm_hops = b.gtsm_hops;
    // Only exported to: received routes are counted, never stored.
    pc.max_prefixes_in = b.max_prefixes_in;
    pc.keep_received_routes = false;
    s.peers.push_back(pc);
  }
  return s;
}

bgp::RouteAttributes route_attributes(const BgpConfig& b) {
  bgp::RouteAttributes a;
  a.prepend = b.prepend;
  a.med = b.med;
  for (const std::uint32_t c : b.communities) a.communities.push_back({c});
  for (const auto& l : b.large_communities)
    a.large_communities.push_back({l[0], l[1], l[2]});
  return a;
}

}  // namespace nva::config
