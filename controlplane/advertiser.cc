// Advertiser: the Speaker on its own io_context thread (see advertiser.h).
#include <utility>  // before Asio: Debian's Boost uses std::exchange without it

#include "controlplane/advertiser.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <future>
#include <iostream>

#include "controlplane/bgp/speaker.h"

namespace nva {

namespace {

bgp::Ipv4Address to_bgp(std::uint32_t a) {
  return {static_cast<std::uint8_t>(a >> 24), static_cast<std::uint8_t>(a >> 16),
          static_cast<std::uint8_t>(a >> 8), static_cast<std::uint8_t>(a)};
}

void log_event(const bgp::SpeakerEvent& e) {
  std::cout << "bgp: " << (e.peer.empty() ? "speaker" : e.peer) << ": "
            << bgp::event_kind_name(e.kind);
  if (e.kind == bgp::SpeakerEvent::Kind::kStateChange) {
    std::cout << " " << bgp::state_name(e.from) << " -> " << bgp::state_name(e.to);
  }
  if (!e.detail.empty()) std::cout << " (" << e.detail << ")";
  std::cout << std::endl;
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
    pc.export_policy.prepend = b.prepend;
    pc.export_policy.med = b.med;
    for (std::uint32_t c : b.communities) pc.export_policy.communities.push_back({c});
    for (const auto& l : b.large_communities) {
      pc.export_policy.large_communities.push_back({l[0], l[1], l[2]});
    }
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

Advertiser::Advertiser(const config::BgpConfig& cfg,
                       const std::vector<std::uint32_t>& vips)
    : io_(std::make_unique<boost::asio::io_context>()), vips_(vips) {
  speaker_ = std::make_unique<bgp::Speaker>(*io_, speaker_config(cfg));
  speaker_->on_event(log_event);
  if (auto err = speaker_->start()) throw std::runtime_error("bgp: " + *err);
  for (std::uint32_t vip : vips) {
    if (auto prefix = bgp::Ipv4Prefix::make(to_bgp(vip), 32)) {
      speaker_->announce(*prefix, bgp::RouteAttributes{});
    }
  }
  thread_ = std::thread([this] { io_->run(); });
}

void Advertiser::set_announced(bool announced) {
  boost::asio::post(*io_, [this, announced] {
    for (std::uint32_t vip : vips_) {
      const auto prefix = bgp::Ipv4Prefix::make(to_bgp(vip), 32);
      if (!prefix) continue;
      if (announced) {
        speaker_->announce(*prefix, bgp::RouteAttributes{});
      } else {
        speaker_->withdraw(*prefix);
      }
    }
  });
}

void Advertiser::stop(const std::string& communication, unsigned wait_ms) {
  if (stopped_) return;
  stopped_ = true;
  std::promise<void> done;
  boost::asio::post(*io_, [&] {
    speaker_->stop(communication);
    done.set_value();
  });
  done.get_future().wait_for(std::chrono::milliseconds(wait_ms));
  // Give the NOTIFICATIONs a moment on the wire before the loop ends.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  io_->stop();
  if (thread_.joinable()) thread_.join();
}

Advertiser::~Advertiser() { stop("anycast-nva stopping"); }

}  // namespace nva
