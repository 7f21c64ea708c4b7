// The daemon's BGP side: a Speaker on the control-plane io_context that
// originates each VIP as a /32 towards the configured peers (the Route
// Server instances), with the [bgp] attributes, de-preferred or withdrawn
// as the health decision says; Cease with a shutdown communication on stop.
// Every method runs on the io_context's thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "controlplane/bgp/policy.h"
#include "controlplane/config/config.h"

namespace boost::asio {
class io_context;
}

namespace nva::bgp {
class Speaker;
}  // namespace nva::bgp

namespace nva {

// Where a VIP's route goes (the Advertiser; a fake in tests).
class RouteSink {
 public:
  virtual ~RouteSink() = default;
  // Announces `vip`/32 with `attrs`, or withdraws it (nullopt).
  virtual void set(std::uint32_t vip,
                   const std::optional<bgp::RouteAttributes>& attrs) = 0;
  virtual std::optional<bgp::RouteAttributes> get(std::uint32_t vip) const = 0;
};

class Advertiser : public RouteSink {
 public:
  // Starts the speaker (listener and sessions; config::speaker_config(),
  // which config::parse() has validated); nothing is announced yet.
  // Throws std::runtime_error when the listener cannot be opened.
  Advertiser(boost::asio::io_context& io, const config::BgpConfig& cfg);
  ~Advertiser() override;
  Advertiser(const Advertiser&) = delete;
  Advertiser& operator=(const Advertiser&) = delete;

  // Announces `vip`/32 with `attrs`, or withdraws it (nullopt). Setting
  // what is already set sends nothing.
  void set(std::uint32_t vip, const std::optional<bgp::RouteAttributes>& attrs) override;
  std::optional<bgp::RouteAttributes> get(std::uint32_t vip) const override;

  // Administrative stop of every session with `communication` (RFC 9003).
  void stop(const std::string& communication);

  bgp::Speaker& speaker() { return *speaker_; }

 private:
  std::unique_ptr<bgp::Speaker> speaker_;
  std::map<std::uint32_t, bgp::RouteAttributes> routes_;
  bool stopped_ = false;
};

}  // namespace nva
