// Advertiser: the Speaker on the control-plane io_context (see advertiser.h).
#include <utility>  // before Asio: Debian's Boost uses std::exchange without it

#include "controlplane/advertiser.h"

#include <boost/asio/io_context.hpp>
#include <string>

#include "controlplane/bgp/speaker.h"
#include "controlplane/logger.h"

namespace nva {

namespace {

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

Advertiser::Advertiser(boost::asio::io_context& io, const config::BgpConfig& cfg) {
  speaker_ = std::make_unique<bgp::Speaker>(io, config::speaker_config(cfg));
  speaker_->on_event(log_event);
  if (auto err = speaker_->start()) throw std::runtime_error("bgp: " + *err);
}

Advertiser::~Advertiser() { stop("anycast-nva stopping"); }

void Advertiser::set(std::uint32_t vip,
                     const std::optional<bgp::RouteAttributes>& attrs) {
  if (stopped_) return;
  const auto prefix = bgp::Ipv4Prefix::make(config::bgp_address(vip), 32);
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
