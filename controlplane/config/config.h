// anycast-nva's configuration: plain structs with named defaults, loaded
// from an INI file (Boost.Program_options) plus command-line overrides,
// validated once, separately from applying it.
//
// Errors name the place and the option:
//   nva.ini:12: service.web.vip: not an IPv4 address: '198.19.0.300'
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "dataplane/conntrack/state.h"
#include "dataplane/lb/maglev.h"
#include "dataplane/lb/service.h"
#include "dataplane/options.h"

namespace nva::config {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using DataplaneConfig = nva::DataplaneOptions;

// [bgp]: the speaker that advertises the services' VIPs (as /32s) to the
// Route Server instances. Absent: no BGP.
struct BgpPeerConfig {
  std::string name;  // default: the address
  std::uint32_t addr = 0;
  std::uint32_t as = 0;
  std::uint16_t port = 179;
  bool passive = false;
};

struct BgpConfig {
  static constexpr std::uint16_t kDefaultHoldTime = 180;  // Route Server: 60/180 s
  static constexpr std::uint8_t kDefaultTtl = 255;        // eBGP multihop

  bool enabled = false;  // any [bgp] key given
  std::uint32_t local_as = 0;
  std::uint32_t router_id = 0;
  std::optional<std::uint32_t> source;  // local address; also the next hop
  std::uint16_t hold_time = kDefaultHoldTime;
  std::uint8_t ttl = kDefaultTtl;
  std::optional<std::uint8_t> gtsm_hops;
  bool listen = true;
  std::uint16_t listen_port = 179;
  std::vector<BgpPeerConfig> peers;
  // Applied to every announced VIP.
  unsigned prepend = 0;
  std::optional<std::uint32_t> med;
  std::vector<std::uint32_t> communities;  // AS:VALUE
  std::vector<std::array<std::uint32_t, 3>> large_communities;
};

struct Config {
  std::string source;                 // file name, for messages
  std::vector<std::string> eal_args;  // without argv[0]
  DataplaneConfig dataplane;
  conntrack::Timeouts timeouts;
  std::vector<lb::Service> services;  // Maglev tables not built yet
  BgpConfig bgp;
};

// Loads and validates `path`; `overrides` are "section.key=value" strings
// from the command line, applied over the file. Throws ConfigError.
Config load(const std::string& path, const std::vector<std::string>& overrides = {});

// The same from text (tests); `name` stands for the file in messages.
Config parse(const std::string& text, const std::string& name,
             const std::vector<std::string>& overrides = {});

// A one-paragraph summary for --check-config.
std::string summary(const Config& c);

}  // namespace nva::config
