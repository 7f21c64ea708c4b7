// The BGP finite state machine of one peer (RFC 4271 section 8): states and
// events by their RFC names, a pure (state, event) -> step table, and the Fsm
// that applies a step's side effects through injected clock and transport.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "controlplane/bgp/message.h"

namespace nva::bgp {

//                     ManualStart / AutomaticStart
//                     (IdleHoldTimer_Expires after an error)
//   +--------+  active ------------------------------> +---------+
//   |  Idle  |  passive --------------+                | Connect |
//   +--------+                        |                +---------+
//     ^  ^  ^                         v                  |   ^  |
//     |  |  |  ManualStop,      +--------+ ConnectRetry  |   |  | Tcp_CR_Acked /
//     |  |  |  TcpConnection-   | Active | <-------------+   |  | TcpConnectionConfirmed:
//     |  |  |  Fails, errors    +--------+ (TcpConnection-   |  | send OPEN
//     |  |  +---------------------| |  ^   Fails: Idle)     |  |
//     |  |    ConnectRetryTimer_  | |  |  ConnectRetryTimer_|  |
//     |  |    Expires (active) ---+-|--|--------------------+  |
//     |  |                          | TcpConnectionFails       v
//     |  |  TcpConnectionConfirmed: |  |               +----------+
//     |  |  send OPEN               +--|-------------> | OpenSent |
//     |  |                             +---------------+----------+
//     |  |  errors, HoldTimer_Expires,                      | BGPOpen (valid):
//     |  |  NOTIFICATION, OpenCollisionDump                 | send KEEPALIVE
//     |  |                                                  v
//     |  +------------------------------------------ +-------------+
//     |                                              | OpenConfirm |
//     |  errors, HoldTimer_Expires, NOTIFICATION,    +-------------+
//     |  ManualStop / AutomaticStop (Cease)                 | KeepAliveMsg
//     |                                                     v
//     +--------------------------------------------- +-------------+
//                                                    | Established | KeepAliveMsg,
//                                                    +-------------+ UpdateMsg,
//                                                                    RouteRefresh:
//                                                                    restart HoldTimer
//
// Every (state, event) pair not drawn is either ignored (Idle, and the
// states without a connection: Connect, Active) or, in the states with a
// connection (OpenSent, OpenConfirm, Established), the catch-all: send a
// Finite State Machine Error NOTIFICATION (RFC 6608 subcode by state), drop
// the connection, go to Idle. Entering Idle other than by ManualStop arms
// the IdleHoldTimer (DampPeerOscillations-style back-off: doubled after each
// failure, reset after a stable Established session), whose expiry is an
// automatic start.

enum class State : std::uint8_t {
  kIdle,
  kConnect,
  kActive,
  kOpenSent,
  kOpenConfirm,
  kEstablished,
};
std::string_view state_name(State s);

// Events by RFC 4271 section 8.1 number; the ones the speaker never raises
// (6, 7, 12, 14, 15, 20: optional session attributes it does not implement)
// are left out. Route refresh is not an RFC 4271 event: it behaves like
// UpdateMsg (RFC 2918).
enum class EventType : std::uint8_t {
  kManualStart = 1,
  kManualStop = 2,
  kAutomaticStart = 3,
  kManualStartWithPassiveTcpEstablishment = 4,
  kAutomaticStartWithPassiveTcpEstablishment = 5,
  kAutomaticStop = 8,
  kConnectRetryTimerExpires = 9,
  kHoldTimerExpires = 10,
  kKeepaliveTimerExpires = 11,
  kIdleHoldTimerExpires = 13,
  kTcpCrAcked = 16,
  kTcpConnectionConfirmed = 17,
  kTcpConnectionFails = 18,
  kBgpOpen = 19,
  kBgpHeaderErr = 21,
  kBgpOpenMsgErr = 22,
  kOpenCollisionDump = 23,
  kNotifMsgVerErr = 24,
  kNotifMsg = 25,
  kKeepAliveMsg = 26,
  kUpdateMsg = 27,
  kUpdateMsgErr = 28,
  kRouteRefreshMsg = 100,
};
// "ManualStart", "Tcp_CR_Acked", "HoldTimer_Expires", ...
std::string_view event_name(EventType e);

// An event and what came with it: the message received, the decode error
// (BGPHeaderErr, BGPOpenMsgErr, UpdateMsgErr), or the shutdown
// communication of ManualStop / AutomaticStop (RFC 9003; empty: none).
struct Event {
  EventType type = EventType::kManualStart;
  std::variant<std::monostate, OpenMessage, UpdateMessage, NotificationMessage,
               RouteRefreshMessage, DecodeError, std::string>
      payload;
  UpdateErrors update_errors;  // UpdateMsg: the RFC 7606 outcome

  Event() = default;
  explicit Event(EventType t) : type(t) {}
  template <class P>
  Event(EventType t, P p) : type(t), payload(std::move(p)) {}
};

using Duration = std::chrono::milliseconds;
using TimePoint = std::chrono::steady_clock::time_point;

inline constexpr std::uint16_t kDefaultHoldTime = 180;  // Azure Route Server: 60/180 s
inline constexpr Duration kDefaultConnectRetryTime = std::chrono::seconds(30);
inline constexpr Duration kDefaultIdleHoldTime = std::chrono::seconds(1);
inline constexpr Duration kDefaultMaxIdleHoldTime = std::chrono::seconds(60);
inline constexpr Duration kDefaultStableTime = std::chrono::seconds(60);
inline constexpr Duration kOpenHoldTime = std::chrono::minutes(4);  // RFC 4271 8.2.2

// What one peer's FSM needs to know; plain values with named defaults.
struct FsmConfig {
  std::uint32_t local_as = 0;
  Ipv4Address router_id{};
  std::uint32_t peer_as = 0;
  std::uint16_t hold_time = kDefaultHoldTime;  // offered; >= kMinHoldTime
  bool passive = false;                        // wait for the peer to connect
  bool four_octet_as = true;                   // offer the RFC 6793 capability
  Duration connect_retry_time = kDefaultConnectRetryTime;
  Duration idle_hold_time = kDefaultIdleHoldTime;         // first back-off
  Duration max_idle_hold_time = kDefaultMaxIdleHoldTime;  // back-off ceiling
  // An Established session at least this long resets the back-off.
  Duration stable_time = kDefaultStableTime;
};

// What the OPEN exchange settled.
struct Negotiated {
  std::uint16_t hold_time = 0;  // min(ours, theirs), >= kMinHoldTime
  std::uint16_t keepalive_time = 0;
  std::uint32_t peer_as = 0;
  Ipv4Address peer_id{};
  bool peer_route_refresh = false;
  CodecOptions codec;  // four_octet_as: both sides; external_peer: eBGP
  bool operator==(const Negotiated&) const = default;
};

// The OPEN this FSM sends: IPv4 unicast, route refresh, 4-octet AS.
OpenMessage local_open(const FsmConfig& c);
// Checks a received OPEN against the configuration (peer AS, BGP
// Identifier) and check_hold_time (a hold time of 0 gets OPEN Message Error
// / Unacceptable Hold Time); nullopt when it is acceptable.
std::optional<DecodeError> validate_open(const FsmConfig& c, const OpenMessage& open);
Negotiated negotiate(const FsmConfig& c, const OpenMessage& peer_open);

// Side effects of a step; Fsm::perform applies them in the order it lists
// them (NOTIFICATION before the connection drops, drop before reconnect).
namespace action {
inline constexpr std::uint32_t kStopConnectRetryTimer = 1u << 0;
inline constexpr std::uint32_t kStartConnectRetryTimer = 1u << 1;  // (re)start
inline constexpr std::uint32_t kResetConnectRetryCounter = 1u << 2;
inline constexpr std::uint32_t kInitiateTcp = 1u << 3;
inline constexpr std::uint32_t kSendNotification = 1u << 4;  // Step::notification
inline constexpr std::uint32_t kDropTcp = 1u << 5;
inline constexpr std::uint32_t kSendOpen = 1u << 6;
inline constexpr std::uint32_t kStartOpenHoldTimer = 1u << 7;  // the large value
inline constexpr std::uint32_t kNegotiate = 1u << 8;           // from the OPEN
inline constexpr std::uint32_t kSendKeepalive = 1u << 9;
inline constexpr std::uint32_t kStartKeepaliveTimer = 1u << 10;
inline constexpr std::uint32_t kRestartHoldTimer = 1u << 11;
inline constexpr std::uint32_t kDeliverUpdate = 1u << 12;
inline constexpr std::uint32_t kDeliverRouteRefresh = 1u << 13;
// A failure (RFC: increment ConnectRetryCounter, DampPeerOscillations):
// counted and doubles the next IdleHoldTime.
inline constexpr std::uint32_t kFailure = 1u << 14;
// Entering Idle without an automatic restart (ManualStop; a connection
// dumped by collision resolution).
inline constexpr std::uint32_t kNoRestart = 1u << 15;
inline constexpr std::uint32_t kNotificationReceived = 1u << 16;
inline constexpr std::uint32_t kStopIdleHoldTimer = 1u << 17;  // ManualStop in Idle
}  // namespace action

// The outcome of one (state, event) pair.
struct Step {
  State next = State::kIdle;
  std::uint32_t actions = 0;
  std::optional<NotificationMessage> notification;  // with kSendNotification
  std::string_view reason;                          // for logs and events
  bool operator==(const Step&) const = default;
};

// The transition table: pure, no side effects.
Step transition(State s, const Event& e, const FsmConfig& c);

// The event a received message raises: BGPOpen, UpdateMsg (with its RFC
// 7606 outcome), NotifMsg or NotifMsgVerErr, KeepAliveMsg, RouteRefreshMsg.
Event message_event(DecodedMessage m);
// The event a message that failed to decode raises: BGPHeaderErr,
// BGPOpenMsgErr or UpdateMsgErr (a ROUTE-REFRESH error counts as the last).
Event decode_error_event(DecodeError e);

enum class Timer : std::uint8_t { kConnectRetry, kHold, kKeepalive, kIdleHold };
std::string_view timer_name(Timer t);
// The event a timer's expiry raises: ConnectRetryTimer_Expires, ...
EventType expiry_event(Timer t);

// Time: the current time and one-shot timers whose expiry the owner feeds
// back as expiry_event(). start() of a running timer restarts it.
class FsmClock {
 public:
  virtual ~FsmClock() = default;
  virtual TimePoint now() const = 0;
  virtual void start(Timer t, Duration d) = 0;
  virtual void stop(Timer t) = 0;
};

// The connection: connect() starts a TCP connection (the owner reports
// Tcp_CR_Acked or TcpConnectionFails), send() queues one whole message,
// close() drops the connection (after the queued messages, best effort).
class FsmTransport {
 public:
  virtual ~FsmTransport() = default;
  virtual void connect() = 0;
  virtual void send(Bytes message) = 0;
  virtual void close() = 0;
};

// What the FSM tells its owner; every method may be left as it is.
class FsmObserver {
 public:
  virtual ~FsmObserver() = default;
  virtual void state_changed(State /*from*/, State /*to*/, EventType /*cause*/,
                             std::string_view /*reason*/) {}
  virtual void established(const Negotiated& /*n*/) {}
  virtual void update_received(const UpdateMessage& /*u*/, const UpdateErrors& /*e*/) {}
  virtual void route_refresh_received(const RouteRefreshMessage& /*r*/) {}
  virtual void notification_sent(const NotificationMessage& /*n*/) {}
  virtual void notification_received(const NotificationMessage& /*n*/) {}
  virtual void message_sent(MessageType /*t*/) {}
};

class Fsm {
 public:
  Fsm(FsmConfig config, FsmClock& clock, FsmTransport& transport, FsmObserver& observer);
  Fsm(const Fsm&) = delete;
  Fsm& operator=(const Fsm&) = delete;

  // Runs the event through transition() and perform(). Events raised while
  // one is being handled (by a callback) are queued and run after it.
  void handle(Event e);

  State state() const { return state_; }
  const FsmConfig& config() const { return config_; }
  // Set once BGPOpen was accepted; cleared in Idle.
  const std::optional<Negotiated>& negotiated() const { return negotiated_; }
  std::uint32_t connect_retry_counter() const { return connect_retry_counter_; }
  // The IdleHoldTime the next failure will wait.
  Duration next_idle_hold_time() const { return idle_hold_time_; }
  // The BGP Identifier of the peer, once its OPEN arrived (collisions).
  const std::optional<Ipv4Address>& peer_id() const { return peer_id_; }

 private:
  void run(const Event& e);
  // The one place for side effects.
  void perform(const Step& s, const Event& e);
  void send(const Message& m);

  FsmConfig config_;
  FsmClock& clock_;
  FsmTransport& transport_;
  FsmObserver& observer_;
  State state_ = State::kIdle;
  std::optional<Negotiated> negotiated_;
  std::optional<Ipv4Address> peer_id_;
  std::uint32_t connect_retry_counter_ = 0;
  Duration idle_hold_time_;
  std::optional<TimePoint> established_at_;
  bool handling_ = false;
  std::deque<Event> queued_;
};

}  // namespace nva::bgp
