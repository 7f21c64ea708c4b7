// Backend health probes on Boost.Asio: TCP connect and HTTP status probes
// with timeouts, rise/fall per target, and a handler on every state change.
#pragma once

#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/health/rise_fall.h"

namespace boost::asio {
class io_context;
}

namespace nva::health {

enum class ProbeKind : std::uint8_t { kNone, kTcp, kHttp };
std::string_view probe_kind_name(ProbeKind k);  // "none", "tcp", "http"

inline constexpr std::chrono::milliseconds kDefaultInterval{300};
inline constexpr std::chrono::milliseconds kDefaultTimeout{250};
inline constexpr unsigned kDefaultRise = 2;
inline constexpr unsigned kDefaultFall = 3;
inline constexpr unsigned kDefaultHttpStatus = 200;
inline constexpr unsigned kMinHttpStatus = 100;  // validate() refuses others
inline constexpr unsigned kMaxHttpStatus = 599;
// The HTTP status line must end (LF) within this many bytes of the response.
inline constexpr std::size_t kMaxStatusLine = 4096;
// http_path longer than this is rejected by validate().
inline constexpr std::size_t kMaxHttpPath = 1024;
inline constexpr std::uint64_t kDefaultJitterSeed = 0x6e76612d6865616cULL;

// How one target is probed. Defaults detect a dead backend in about 1 s
// (fall 3 x interval 300 ms); see docs/HEALTH.md.
struct ProbeConfig {
  ProbeKind kind = ProbeKind::kTcp;
  // A probe starts every `interval` (measured from the previous start); the
  // whole probe (connect, request, status line) must finish within `timeout`.
  std::chrono::milliseconds interval = kDefaultInterval;
  std::chrono::milliseconds timeout = kDefaultTimeout;
  unsigned rise = kDefaultRise;  // consecutive successes to go up (after being down)
  unsigned fall = kDefaultFall;  // consecutive failures to go down
  std::string http_path = "/";
  unsigned http_status = kDefaultHttpStatus;  // expected status
  std::optional<std::uint32_t> source;        // host-order IPv4 to bind probes to
  auto operator<=>(const ProbeConfig&) const = default;
};

// The http_path setting's one validator: nullopt when the prober can send
// `path` in a request line (starts with '/', only visible ASCII: no spaces,
// controls or bytes >= 0x7f, at most kMaxHttpPath), else why not ("must
// start with '/'"). The configuration calls it for every http_path key, so
// --check-config, start and reload refuse what add() would.
std::optional<std::string> check_http_path(std::string_view path);

// Every problem of the configuration, as messages; empty when it is valid:
// interval > 0, 0 < timeout <= interval, rise and fall >= 1,
// check_http_path(http_path), http_status in kMinHttpStatus..kMaxHttpStatus.
std::vector<std::string> validate(const ProbeConfig& c);

struct Target {
  std::uint32_t addr = 0;  // host order
  std::uint16_t port = 0;  // host order
  auto operator<=>(const Target&) const = default;
};
std::string format_target(const Target& t);  // "10.0.0.1:80"

struct BackendStatus {
  Target target;
  ProbeKind kind = ProbeKind::kTcp;
  std::optional<bool> healthy;  // nullopt until the first result
  std::uint64_t probes = 0;     // completed probes
  std::uint64_t successes = 0;
  std::uint64_t failures = 0;
  std::uint64_t transitions = 0;  // state changes, the first result included
  unsigned streak = 0;            // RiseFall::streak()
  bool in_flight = false;         // a probe is running now
  // The last result: "connected", "http 200", "connect: Connection refused",
  // "bind: Cannot assign requested address", "http 503 (expected 200)",
  // "timeout after 250 ms (connecting)", "http: malformed status line ...".
  std::string last_detail;
  std::chrono::microseconds last_rtt{0};  // duration of the last probe
  // When healthy last changed (steady clock); epoch before the first result.
  std::chrono::steady_clock::time_point last_change{};
};

// Called on the io_context's thread when a target's state changes (including
// the first result), with the reason in status.last_detail. It may call
// add(), remove() (of any id, its own included) and destroy the Prober.
using ChangeHandler = std::function<void(std::size_t id, const BackendStatus& status)>;

// The delay of a target's first probe: spread over [0, interval / 2] along a
// Weyl sequence of the id (consecutive ids land far apart), a pure function
// of (seed, id, interval).
std::chrono::microseconds initial_delay(std::uint64_t seed, std::size_t id,
                                        std::chrono::milliseconds interval);

// Probes targets on one io_context, single-threaded: every method runs on the
// io_context's thread (post() from any other); nothing blocks. Probes of one
// target never overlap (timeout <= interval).
class Prober {
 public:
  explicit Prober(boost::asio::io_context& io,
                  std::uint64_t jitter_seed = kDefaultJitterSeed);
  // Cancels everything; safe while probes are in flight (their completions
  // run later, find the probe stopped and do nothing).
  ~Prober();
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  // Starts probing at once (the first probe after initial_delay(); with
  // ProbeKind::kNone, one handler call reporting healthy). The handler is
  // never called from inside add(). Ids start at 1 and are never reused.
  // Throws std::invalid_argument when validate(c) is not empty.
  std::size_t add(Target t, ProbeConfig c, ChangeHandler on_change);
  // Stops probing (an in-flight probe is abandoned, its socket closed); the
  // handler is not called again. Unknown ids are ignored.
  void remove(std::size_t id);
  bool contains(std::size_t id) const;
  // Throws std::out_of_range for an id that is not (or no longer) there.
  BackendStatus status(std::size_t id) const;
  std::vector<std::size_t> ids() const;  // ascending

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace nva::health
