// anycast-nva's configuration: plain structs with named defaults (the
// modules' own where a module has one), loaded from an INI file
// (Boost.Program_options' reader) plus command-line overrides by the table
// of settings (settings.h), validated once, separately from applying it.
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

#include "controlplane/bgp/speaker.h"
#include "controlplane/health/decision.h"
#include "controlplane/health/prober.h"
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
  std::uint16_t port = bgp::kPort;
  bool passive = false;
  bool operator==(const BgpPeerConfig&) const = default;
};

struct BgpConfig {
  // The speaker's defaults. hold_time: at least 3 s, 0 refused
  // (bgp::check_hold_time).
  static constexpr std::uint16_t kDefaultHoldTime = bgp::kDefaultHoldTime;
  static constexpr std::uint8_t kDefaultTtl = bgp::kDefaultMultihopTtl;
  static constexpr std::uint32_t kDefaultMaxPrefixesIn =
      static_cast<std::uint32_t>(bgp::kDefaultMaxPrefixesIn);

  bool enabled = false;  // any [bgp] key given
  std::uint32_t local_as = 0;
  std::uint32_t router_id = 0;
  std::optional<std::uint32_t> source;  // local address; also the next hop
  std::uint16_t hold_time = kDefaultHoldTime;
  std::uint8_t ttl = kDefaultTtl;
  std::optional<std::uint8_t> gtsm_hops;
  bool listen = true;
  std::uint16_t listen_port = bgp::kPort;
  std::vector<BgpPeerConfig> peers;
  // Received prefixes per peer and address family; one more resets the
  // session (Cease / Maximum Number of Prefixes Reached, RFC 4486).
  std::uint32_t max_prefixes_in = kDefaultMaxPrefixesIn;
  // Applied to every announced VIP.
  unsigned prepend = 0;
  std::optional<std::uint32_t> med;
  std::vector<std::uint32_t> communities;  // AS:VALUE
  std::vector<std::array<std::uint32_t, 3>> large_communities;
  bool operator==(const BgpConfig&) const = default;
};

// How a service's backends are probed (the [health] defaults, overridden
// per service); the prober's defaults.
struct ProbeSettings {
  using Kind = health::ProbeKind;
  Kind kind = health::ProbeConfig{}.kind;
  std::uint32_t interval_ms =
      static_cast<std::uint32_t>(health::kDefaultInterval.count());
  std::uint32_t timeout_ms = static_cast<std::uint32_t>(health::kDefaultTimeout.count());
  std::uint32_t rise = health::kDefaultRise;
  std::uint32_t fall = health::kDefaultFall;
  std::string http_path = health::ProbeConfig{}.http_path;
  std::uint32_t http_status = health::kDefaultHttpStatus;
  std::optional<std::uint16_t> port;  // probe this port, not the backend's
  bool operator==(const ProbeSettings&) const = default;
};

// What a VIP below its minimum of healthy backends gets.
enum class UnhealthyAction : std::uint8_t {
  kWithdraw,  // the route is withdrawn (default)
  kDeprefer,  // announced with more prepends and/or a higher MED (backup)
};

// [health]: backend probes and the advertisement decision per VIP.
struct HealthConfig {
  ProbeSettings probe;
  std::optional<std::uint32_t> source;  // probes leave from this address
  std::uint32_t min_healthy_backends = 1;
  UnhealthyAction action = UnhealthyAction::kWithdraw;
  unsigned deprefer_prepend = 3;
  std::optional<std::uint32_t> deprefer_med;
  // Hysteresis: after going down, a VIP comes back only once it has been
  // healthy this long.
  std::uint32_t hold_down_ms =
      static_cast<std::uint32_t>(health::DecisionConfig{}.hold_down.count());
  // Damping (RFC 2439 style): every fall adds 1000 to a penalty that halves
  // every half-life; above `suppress` the VIP stays down until the penalty
  // decays below `reuse`. The decision's defaults.
  bool damping = health::DecisionConfig{}.damping;
  std::uint32_t damping_half_life_ms =
      static_cast<std::uint32_t>(health::DecisionConfig{}.half_life.count());
  std::uint32_t damping_suppress =
      static_cast<std::uint32_t>(health::DecisionConfig{}.suppress);
  std::uint32_t damping_reuse =
      static_cast<std::uint32_t>(health::DecisionConfig{}.reuse);
  lb::DeadBackendPolicy dead_backend_connections = lb::DeadBackendPolicy::kKeep;
};

// Per service: the [health] defaults with its own overrides applied.
struct ServiceHealth {
  ProbeSettings probe;
  std::uint32_t min_healthy_backends = 1;
  bool operator==(const ServiceHealth&) const = default;
};

// [drain]: what SIGTERM (and the drain command) do before the process exits.
struct DrainConfig {
  enum class Mode : std::uint8_t {
    kWithdraw,          // withdraw the VIPs, then drain
    kGracefulShutdown,  // re-announce with GRACEFUL_SHUTDOWN (65535:0), then drain
  };
  Mode mode = Mode::kWithdraw;
  // Established connections keep being forwarded this long at most, or
  // until none are left; then Cease and exit.
  std::uint32_t time_ms = 10000;
};

// An IPv4 address and a port ("127.0.0.1:9469").
struct Endpoint {
  std::uint32_t addr = 0;  // host order
  std::uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
};

// [metrics]: Prometheus /metrics over HTTP (docs/METRICS.md); off unless
// an address is set.
struct MetricsConfig {
  std::optional<Endpoint> address;
};

// [azure]: Azure's Instance Metadata Service. With scheduled_events on, the
// daemon polls Scheduled Events and takes its VIPs down before maintenance
// of this VM (daemon/maintenance.h).
struct AzureConfig {
  static constexpr Endpoint kImds{0xA9FEA9FE, 80};  // 169.254.169.254:80
  bool scheduled_events = false;
  Endpoint imds = kImds;
  std::string vm_name;  // empty: asked of IMDS (compute/name)
  std::uint32_t poll_ms = 1000;
};

struct Config {
  std::string source;                 // file name, for messages
  std::vector<std::string> eal_args;  // without argv[0]
  DataplaneConfig dataplane;
  conntrack::Timeouts timeouts;
  std::vector<lb::Service> services;          // Maglev tables not built yet
  std::vector<ServiceHealth> service_health;  // parallel to `services`
  HealthConfig health;
  DrainConfig drain;
  BgpConfig bgp;
  MetricsConfig metrics;
  AzureConfig azure;
};

// Loads and validates `path`; `overrides` are "section.key=value" strings
// from the command line, applied over the file. Throws ConfigError.
Config load(const std::string& path, const std::vector<std::string>& overrides = {});

// The same from text (tests); `name` stands for the file in messages.
Config parse(const std::string& text, const std::string& name,
             const std::vector<std::string>& overrides = {});

// ---- The configuration as each module takes it (modules.cc): the one
// place where configuration types become module types. parse() refuses
// what the module's own validate() would refuse of them.

// What the prober is given for `p` (probes leave from `source`).
health::ProbeConfig probe_config(const ProbeSettings& p,
                                 std::optional<std::uint32_t> source);
// The address and port a backend of `s` is probed on under `p`.
health::Target probe_target(const lb::Service& s, const lb::Backend& b,
                            const ProbeSettings& p);
// The advertisement decision's settings from [health].
health::DecisionConfig decision_config(const HealthConfig& h);
// A host-order IPv4 address as the speaker takes it.
bgp::Ipv4Address bgp_address(std::uint32_t a);
// The speaker's sessions from [bgp] (the route attributes travel with each
// route: route_attributes()).
bgp::SpeakerConfig speaker_config(const BgpConfig& b);
// A VIP's route attributes from [bgp] (prepend, MED, communities).
bgp::RouteAttributes route_attributes(const BgpConfig& b);

// "198.19.0.10" from a host-order address (messages, logs, telemetry).
std::string ipv4_string(std::uint32_t a);

// A one-paragraph summary for --check-config.
std::string summary(const Config& c);

// The settings that differ between `running` and `next` and that a reload
// cannot apply ("dataplane.workers", in the table's order); empty if none.
std::vector<std::string> settings_needing_restart(const Config& running,
                                                  const Config& next);

// The table of settings in Markdown (`anycast-nva --help-config`; the
// README's configuration table).
std::string settings_markdown();

}  // namespace nva::config
