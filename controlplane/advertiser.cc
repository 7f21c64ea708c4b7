// Advertiser: the Speaker on the control-plane io_context (see advertiser.h).
#include <utility>  // before Asio: Debian's Boost uses std::exchange without it

#include "controlplane/advertiser.h"

#include <boost/asio/io_context.hpp>
#include <string>

#include "controlplane/bgp/speaker.h"
#include "controlplane/logger.h"

namespace nva {

static_assert(config::BgpConfig::kDefaultMaxPrefixesIn == bgp::kDefaultMaxPrefixesIn);

namespace {

bgp::Ipv4Address to_bgp(std::uint32_t a) {
  return {static_cast<std::uint8_t>(a >> 24), static_cast<std::uint8_t>(a >> 16),
          static_cast<std::uint8_t>(a >> 8), static_cast<std::uint8_t>(a)};
}

// Through the logger (logger.h): a peer that sends UPDATEs by the thousand
// gets `burst` lines a second per event kind, and a count of the rest; the
// control-plane thread never waits for stdout.
void log_event(const bgp::SpeakerEvent& e) {
  std::string key = "bgp: " + (e.peer.empty() ? std::string("speaker") : e.peer) + ": " +
                    std::string(bgp::event_kind_name(e.kind));
  std::string line = key;
  if (e.kind == bgp::SpeakerEvent::Kind::kStateChange) {
    line += " " + std::string(bgp::state_name(e.from)) + " -> " +
            std::string(bgp::state_name(e.to));
  }
  if (!e.detail.empty()) line += " (" + e.detail + ")";
  logging::line(key, std::move(line));
}

}  // namespace

bgp::SpeakerConfig speaker_config(const config::BgpConfig& b) {
  bgp::SpeakerConfig s;
  s.local_as = b.local_as;
  s.router_id = to_bgp(b.router_id);
  s.listen = b.listen;
  s.listen_port = b.listen_port;
  if (b.source) s.listen_address = to_bgp(*b.source);
  for (const config::BgpPeerConfig& p : b.peers) {
    bgp::PeerConfig pc;
    pc.name = p.name;
    pc.address = to_bgp(p.addr);
    pc.peer_as = p.as;
    pc.port = p.port;
    pc.passive = p.passive;
    if (b.source) pc.source = to_bgp(*b.source);
    pc.hold_time = b.hold_time;
    pc.ttl = b.ttl;
    pc.gtsm_hops = b.gtsm_hops;
    // Only exported to: received routes are counted, never stored.
    pc.max_prefixes_in = b.max_prefixes_in;
    pc.keep_received_routes = false;
    s.peers.push_back(pc);
  }
  if (const auto problems = bgp::validate(s); !problems.empty()) {
    std::string msg = "bgp:";
    for (const auto& p : problems) msg += " " + p + ";";
    throw config::ConfigError(msg);
  }
  return s;
}

void check_bgp(const config::BgpConfig& b) { (void)speaker_config(b); }

bgp::RouteAttributes route_attributes(const config::BgpConfig& b) {
  bgp::RouteAttributes a;
  a.prepend = b.prepend;
  a.med = b.med;
  for (std::uint32_t c : b.communities) a.communities.push_back({c});
  for (const auto& l : b.large_communities)
    a.large_communities.push_back({l[0], l[1], l[2]});
  return a;
}

Advertiser::Advertiser(boost::asio::io_context& io, const config::BgpConfig& cfg) {
  speaker_ = std::make_unique<bgp::Speaker>(io, speaker_config(cfg));
  speaker_->on_event(log_event);
  if (auto err = speaker_->start()) throw std::runtime_error("bgp: " + *err);
}

Advertiser::~Advertiser() { stop("anycast-nva stopping"); }

void Advertiser::set(std::uint32_t vip,
                     const std::optional<bgp::RouteAttributes>& attrs) {
  if (stopped_) return;
  const auto prefix = bgp::Ipv4Prefix::make(to_bgp(vip), 32);
  if (!prefix) return;
  const auto it = routes_.find(vip);
  if (attrs) {
    if (it != routes_.end() && it->second == *attrs) return;
    routes_[vip] = *attrs;
    speaker_->announce(*prefix, *attrs);
  } else {
    if (it == routes_.end()) return;
    routes_.erase(it);
    speaker_->withdraw(*prefix);
  }
}

std::optional<bgp::RouteAttributes> Advertiser::get(std::uint32_t vip) const {
  const auto it = routes_.find(vip);
  if (it == routes_.end()) return std::nullopt;
  return it->second;
}

void Advertiser::stop(const std::string& communication) {
  if (stopped_) return;
  stopped_ = true;
  speaker_->stop(communication);
}

}  // namespace nva
