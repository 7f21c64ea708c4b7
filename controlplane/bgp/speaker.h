// The BGP speaker the control plane uses: peers on Boost.Asio, announce() and
// withdraw() of locally originated IPv4 prefixes, per-peer outbound policy,
// peer state and counters, and events on every state change.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/bgp/fsm.h"
#include "controlplane/bgp/policy.h"

namespace boost::asio {
class io_context;
}

namespace nva::bgp {

inline constexpr std::uint8_t kDefaultMultihopTtl = 255;  // eBGP multihop (Route Server)
inline constexpr Duration kDefaultAdvertisementInterval = std::chrono::milliseconds(500);
// Received prefixes per address family before the session is reset (RFC
// 4486). Route Server sends an NVA the VNet ranges and, with branch-to-branch,
// what the gateways learned (ExpressRoute Premium: up to 10,000 on-premises
// prefixes); 20,000 leaves room for that and bounds a broken or hijacked
// peer at about 1 MB of prefixes (the attributes are not kept).
inline constexpr std::size_t kDefaultMaxPrefixesIn = 20000;

// One peer. Defaults suit Azure Route Server: hold 180 s, multihop TTL 255,
// route refresh, at most 1,000 routes.
struct PeerConfig {
  std::string name;  // in events and status; empty: the address
  Ipv4Address address{};
  std::uint32_t peer_as = 0;
  std::uint16_t port = kPort;  // the peer's port (tests use others)
  // Local address to connect from; also the next hop (next-hop self).
  std::optional<Ipv4Address> source;
  std::uint16_t hold_time = kDefaultHoldTime;
  bool passive = false;  // never connect, wait for the peer
  std::uint8_t ttl = kDefaultMultihopTtl;
  // GTSM (RFC 5082): send with TTL 255 and accept only TTL >= 256 - hops
  // (IP_MINTTL). nullopt: off.
  std::optional<std::uint8_t> gtsm_hops;
  bool four_octet_as = true;  // offer the capability (always with a 4-octet local AS)
  Duration connect_retry_time = kDefaultConnectRetryTime;
  Duration idle_hold_time = kDefaultIdleHoldTime;
  Duration max_idle_hold_time = kDefaultMaxIdleHoldTime;
  ExportPolicy export_policy;
  // Received routes: a new prefix past this many of one address family
  // ends the session with Cease / Maximum Number of Prefixes Reached (RFC
  // 4486, data: AFI, SAFI, this bound); it restarts after the usual
  // IdleHoldTime back-off.
  std::size_t max_prefixes_in = kDefaultMaxPrefixesIn;
  // Keep the received routes' attributes (received_routes(): nva-bgp shows
  // them). false: only their prefixes are kept, to be counted.
  bool keep_received_routes = false;
};

struct SpeakerConfig {
  std::uint32_t local_as = 0;
  Ipv4Address router_id{};
  bool listen = true;  // accept connections from configured peers
  Ipv4Address listen_address{};
  std::uint16_t listen_port = kPort;  // 0: any free port (tests)
  // Announcements to a peer leave at most once per interval (MRAI-like);
  // withdrawals leave at once.
  Duration advertisement_interval = kDefaultAdvertisementInterval;
  std::vector<PeerConfig> peers;
};

// Every problem of the configuration, as messages; empty when it is valid.
// The speaker must only be built from a valid configuration.
std::vector<std::string> validate(const SpeakerConfig& c);

// A peer's counters, X(member, "name", "what it counts"): the members, the
// names /nva/bgp/peers and nva-bgp publish and their order come from this
// one table (as the data plane's, dataplane/common/counter.h). Written and
// read on the speaker's io_context thread only: plain integers.
#define NVA_PEER_COUNTERS(X)                                                         \
  X(prefixes_announced, "prefixes_announced", "NLRI sent (re-announcements too)")    \
  X(prefixes_withdrawn, "prefixes_withdrawn", "withdrawals sent")                    \
  X(established_transitions, "established_transitions", "times the session came up") \
  X(route_refresh_answered, "route_refresh_answered", "ROUTE-REFRESH answered")      \
  X(connections_rejected, "connections_rejected", "unexpected or colliding TCP")     \
  X(routes_held_back, "routes_held_back", "routes over max_routes (last count)")     \
  X(treat_as_withdraw, "treat_as_withdraw", "UPDATEs handled per RFC 7606")          \
  X(prefix_limit_resets, "prefix_limit_resets", "sessions ended by max_prefixes_in")

// Message types as counter and JSON keys, by MessageType value (0 unused).
inline constexpr std::array<std::string_view, 6> kMessageTypeKeys = {
    "", "open", "update", "notification", "keepalive", "route_refresh"};

struct PeerCounters {
  // Messages by type (index = MessageType value; 0 unused).
  std::array<std::uint64_t, 6> messages_sent{};
  std::array<std::uint64_t, 6> messages_received{};
#define NVA_PEER_COUNTER_MEMBER(member, name, doc) std::uint64_t member = 0;
  NVA_PEER_COUNTERS(NVA_PEER_COUNTER_MEMBER)
#undef NVA_PEER_COUNTER_MEMBER

  // f(name, value) for every counter: "<type>_sent" and "<type>_received"
  // per message type ("update_sent"), then the table's rows in order.
  template <typename F>
  void for_each(F&& f) const {
    for (std::size_t t = 1; t < messages_sent.size(); ++t) {
      const std::string type(kMessageTypeKeys[t]);
      f(type + "_sent", messages_sent[t]);
      f(type + "_received", messages_received[t]);
    }
#define NVA_PEER_COUNTER_VISIT(member, name, doc) f(std::string(name), member);
    NVA_PEER_COUNTERS(NVA_PEER_COUNTER_VISIT)
#undef NVA_PEER_COUNTER_VISIT
  }
};

// What the peer counter `name` counts; empty for an unknown name.
std::string_view peer_counter_help(std::string_view name);

struct PeerStatus {
  std::string name;
  Ipv4Address address{};
  State state = State::kIdle;
  std::optional<Negotiated> negotiated;
  std::size_t routes_sent = 0;      // Adj-RIB-Out as the peer has it
  std::size_t routes_received = 0;  // Adj-RIB-In
  std::optional<NotificationMessage> last_notification_sent;
  std::optional<NotificationMessage> last_notification_received;
  PeerCounters counters;
};

struct SpeakerEvent {
  enum class Kind : std::uint8_t {
    kStateChange,           // from, to, cause, detail (reason)
    kEstablished,           // negotiated
    kNotificationSent,      // notification
    kNotificationReceived,  // notification
    kRouteRefreshReceived,  // count: routes re-sent
    kEndOfRibReceived,
    kUpdateReceived,      // count: routes in Adj-RIB-In; detail: RFC 7606 action
    kEndOfRibSent,        // count: routes in the initial table
    kRouteLimit,          // count: routes held back; detail
    kPrefixLimit,         // count: max_prefixes_in, passed; detail (family)
    kConnectionRejected,  // detail
    kCollision,           // detail: which connection was kept
    kError,               // detail (listener, socket options)
  };
  Kind kind = Kind::kStateChange;
  std::string peer;  // name; empty for speaker-wide events
  State from = State::kIdle;
  State to = State::kIdle;
  EventType cause = EventType::kManualStart;
  std::string detail;
  std::optional<Negotiated> negotiated;
  std::optional<NotificationMessage> notification;
  std::size_t count = 0;
};
std::string_view event_kind_name(SpeakerEvent::Kind k);

using EventHandler = std::function<void(const SpeakerEvent&)>;

// All methods run on the io_context's thread (post() from any other); the
// speaker is single-threaded like the rest of the control plane.
class Speaker {
 public:
  Speaker(boost::asio::io_context& io, SpeakerConfig config);
  ~Speaker();
  Speaker(const Speaker&) = delete;
  Speaker& operator=(const Speaker&) = delete;

  void on_event(EventHandler handler);
  // Opens the listener and starts every peer (active or passive). Returns
  // an error message when the listener cannot be opened.
  std::optional<std::string> start();
  // Administrative stop of every peer: Cease / Administrative Shutdown with
  // the shutdown communication (RFC 9003); connections close once the
  // NOTIFICATION is written; the listener closes.
  void stop(const std::string& communication);
  // Stops (ManualStop) or starts (ManualStart) one peer.
  bool stop_peer(const std::string& name, const std::string& communication);
  bool start_peer(const std::string& name);

  // Locally originated routes: announcements are coalesced per prefix,
  // withdrawals go out at once.
  void announce(const Ipv4Prefix& prefix, const RouteAttributes& attributes);
  void withdraw(const Ipv4Prefix& prefix);
  const std::map<Ipv4Prefix, RouteAttributes>& routes() const;

  std::vector<PeerStatus> peers() const;
  // Adj-RIB-In / Adj-RIB-Out of a peer (empty for an unknown name; the
  // Adj-RIB-In is empty unless the peer has keep_received_routes).
  std::map<Ipv4Prefix, PathAttributes> received_routes(const std::string& name) const;
  std::map<Ipv4Prefix, PathAttributes> sent_routes(const std::string& name) const;
  // The port the listener is bound to (listen_port 0 picks one).
  std::uint16_t listen_port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nva::bgp
