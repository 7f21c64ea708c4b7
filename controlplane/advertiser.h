// The daemon's BGP side: a Speaker on the control-plane thread's io_context
// that advertises every service VIP as a /32 to the configured peers (the
// Route Server instances) while the daemon runs, and sends Cease with a
// shutdown communication when it stops. Health-driven withdrawal and
// de-preference build on this (issue 6).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "controlplane/config/config.h"

namespace boost::asio {
class io_context;
}

namespace nva::bgp {
class Speaker;
struct SpeakerConfig;
}  // namespace nva::bgp

namespace nva {

// The speaker's configuration from [bgp]; throws config::ConfigError with
// the speaker's own validation messages.
bgp::SpeakerConfig speaker_config(const config::BgpConfig& b);

// Throws config::ConfigError if the speaker would refuse `b`.
void check_bgp(const config::BgpConfig& b);

class Advertiser {
 public:
  // Starts the speaker thread and announces `vips` (host-order addresses).
  // Throws std::runtime_error when the listener cannot be opened.
  Advertiser(const config::BgpConfig& cfg, const std::vector<std::uint32_t>& vips);
  // Stops: Cease to every peer, then the thread ends.
  ~Advertiser();
  Advertiser(const Advertiser&) = delete;
  Advertiser& operator=(const Advertiser&) = delete;

  // Withdraws (false) or re-announces (true) every VIP; thread-safe (posts
  // to the speaker's thread). Used by the data-plane watchdog.
  void set_announced(bool announced);

  // Administrative stop of every session with `communication` (RFC 9003);
  // returns once the NOTIFICATIONs are out or after `wait_ms`.
  void stop(const std::string& communication, unsigned wait_ms = 2000);

 private:
  std::unique_ptr<boost::asio::io_context> io_;
  std::unique_ptr<bgp::Speaker> speaker_;
  std::thread thread_;
  std::vector<std::uint32_t> vips_;
  bool stopped_ = false;
};

}  // namespace nva
