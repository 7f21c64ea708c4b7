// The FSM transition table (RFC 4271 section 8.2.2, without the optional
// DelayOpen and CollisionDetectEstablishedState attributes) and Fsm::perform,
// the one place where a step's side effects happen.
#include "controlplane/bgp/fsm.h"

#include <algorithm>
#include <utility>

namespace nva::bgp {

std::string_view state_name(State s) {
  switch (s) {
    case State::kIdle:
      return "Idle";
    case State::kConnect:
      return "Connect";
    case State::kActive:
      return "Active";
    case State::kOpenSent:
      return "OpenSent";
    case State::kOpenConfirm:
      return "OpenConfirm";
    case State::kEstablished:
      return "Established";
  }
  return "?";
}

std::string_view event_name(EventType e) {
  switch (e) {
    case EventType::kManualStart:
      return "ManualStart";
    case EventType::kManualStop:
      return "ManualStop";
    case EventType::kAutomaticStart:
      return "AutomaticStart";
    case EventType::kManualStartWithPassiveTcpEstablishment:
      return "ManualStart_with_PassiveTcpEstablishment";
    case EventType::kAutomaticStartWithPassiveTcpEstablishment:
      return "AutomaticStart_with_PassiveTcpEstablishment";
    case EventType::kAutomaticStop:
      return "AutomaticStop";
    case EventType::kConnectRetryTimerExpires:
      return "ConnectRetryTimer_Expires";
    case EventType::kHoldTimerExpires:
      return "HoldTimer_Expires";
    case EventType::kKeepaliveTimerExpires:
      return "KeepaliveTimer_Expires";
    case EventType::kIdleHoldTimerExpires:
      return "IdleHoldTimer_Expires";
    case EventType::kTcpCrAcked:
      return "Tcp_CR_Acked";
    case EventType::kTcpConnectionConfirmed:
      return "TcpConnectionConfirmed";
    case EventType::kTcpConnectionFails:
      return "TcpConnectionFails";
    case EventType::kBgpOpen:
      return "BGPOpen";
    case EventType::kBgpHeaderErr:
      return "BGPHeaderErr";
    case EventType::kBgpOpenMsgErr:
      return "BGPOpenMsgErr";
    case EventType::kOpenCollisionDump:
      return "OpenCollisionDump";
    case EventType::kNotifMsgVerErr:
      return "NotifMsgVerErr";
    case EventType::kNotifMsg:
      return "NotifMsg";
    case EventType::kKeepAliveMsg:
      return "KeepAliveMsg";
    case EventType::kUpdateMsg:
      return "UpdateMsg";
    case EventType::kUpdateMsgErr:
      return "UpdateMsgErr";
    case EventType::kRouteRefreshMsg:
      return "RouteRefreshMsg";
  }
  return "?";
}

std::string_view timer_name(Timer t) {
  switch (t) {
    case Timer::kConnectRetry:
      return "ConnectRetryTimer";
    case Timer::kHold:
      return "HoldTimer";
    case Timer::kKeepalive:
      return "KeepaliveTimer";
    case Timer::kIdleHold:
      return "IdleHoldTimer";
  }
  return "?";
}

EventType expiry_event(Timer t) {
  switch (t) {
    case Timer::kConnectRetry:
      return EventType::kConnectRetryTimerExpires;
    case Timer::kHold:
      return EventType::kHoldTimerExpires;
    case Timer::kKeepalive:
      return EventType::kKeepaliveTimerExpires;
    case Timer::kIdleHold:
      return EventType::kIdleHoldTimerExpires;
  }
  return EventType::kHoldTimerExpires;
}

OpenMessage local_open(const FsmConfig& c) {
  std::vector<Capability> caps{MultiprotocolCapability{Afi::kIpv4, Safi::kUnicast},
                               RouteRefreshCapability{}};
  // A 4-octet AS must be announced with the capability (RFC 6793); a peer
  // without it sees AS_TRANS.
  if (c.four_octet_as || c.local_as > 0xFFFF) {
    caps.emplace_back(FourOctetAsCapability{c.local_as});
  }
  return make_open(c.local_as, c.hold_time, c.router_id, std::move(caps));
}

std::optional<DecodeError> validate_open(const FsmConfig& c, const OpenMessage& open) {
  if (auto e = check_peer_as(open, c.peer_as)) return e;
  // 1 and 2 fail decoding (RFC 4271 MUST); 0 is this speaker's refusal.
  if (check_hold_time(open.hold_time)) {
    return DecodeError{ErrorCode::kOpenMessageError,
                       open_error::kUnacceptableHoldTime,
                       {},
                       "unacceptable hold time (0 or below 3 s)"};
  }
  // RFC 6286 section 2.1: only an internal peer must not share our identifier.
  if (c.peer_as == c.local_as && open.bgp_identifier == c.router_id) {
    return DecodeError{ErrorCode::kOpenMessageError,
                       open_error::kBadBgpIdentifier,
                       {},
                       "internal peer uses our BGP identifier"};
  }
  return std::nullopt;
}

Negotiated negotiate(const FsmConfig& c, const OpenMessage& peer_open) {
  Negotiated n;
  n.hold_time = std::min(c.hold_time, peer_open.hold_time);
  n.keepalive_time = static_cast<std::uint16_t>(n.hold_time / 3);
  n.peer_as = peer_open.autonomous_system();
  n.peer_id = peer_open.bgp_identifier;
  n.peer_route_refresh = peer_open.supports_route_refresh();
  n.codec.four_octet_as =
      (c.four_octet_as || c.local_as > 0xFFFF) && peer_open.four_octet_as().has_value();
  n.codec.external_peer = c.peer_as != c.local_as;
  return n;
}

Event message_event(DecodedMessage m) {
  struct Visitor {
    UpdateErrors& errors;
    Event operator()(OpenMessage& o) { return Event(EventType::kBgpOpen, std::move(o)); }
    Event operator()(UpdateMessage& u) {
      Event e(EventType::kUpdateMsg, std::move(u));
      e.update_errors = std::move(errors);
      return e;
    }
    Event operator()(NotificationMessage& n) {
      const bool version =
          n.error_code == static_cast<std::uint8_t>(ErrorCode::kOpenMessageError) &&
          n.error_subcode == open_error::kUnsupportedVersionNumber;
      return Event(version ? EventType::kNotifMsgVerErr : EventType::kNotifMsg,
                   std::move(n));
    }
    Event operator()(KeepaliveMessage&) { return Event(EventType::kKeepAliveMsg); }
    Event operator()(RouteRefreshMessage& r) {
      return Event(EventType::kRouteRefreshMsg, std::move(r));
    }
  };
  return std::visit(Visitor{m.update_errors}, m.message);
}

Event decode_error_event(DecodeError e) {
  EventType t = EventType::kUpdateMsgErr;
  if (e.code == ErrorCode::kMessageHeaderError) t = EventType::kBgpHeaderErr;
  if (e.code == ErrorCode::kOpenMessageError) t = EventType::kBgpOpenMsgErr;
  return Event(t, std::move(e));
}

namespace {

using namespace action;

NotificationMessage notification(ErrorCode code, std::uint8_t subcode) {
  return NotificationMessage{static_cast<std::uint8_t>(code), subcode, {}};
}

// The NOTIFICATION of ManualStop / AutomaticStop: the one given, or Cease /
// Administrative Shutdown with the shutdown communication (RFC 9003).
NotificationMessage stop_notification(const Event& e) {
  if (const auto* n = std::get_if<NotificationMessage>(&e.payload)) return *n;
  if (const auto* s = std::get_if<std::string>(&e.payload)) {
    return administrative_shutdown(*s);
  }
  return administrative_shutdown("");
}

Step to_idle(std::uint32_t actions, std::string_view reason) {
  return Step{State::kIdle, actions, std::nullopt, reason};
}

Step notify_and_idle(NotificationMessage n, std::uint32_t actions,
                     std::string_view reason) {
  return Step{State::kIdle, kSendNotification | kDropTcp | actions, std::move(n), reason};
}

Step stay(State s, std::uint32_t actions = 0, std::string_view reason = {}) {
  return Step{s, actions, std::nullopt, reason};
}

// The catch-all of the states with a connection: FSM Error with the RFC
// 6608 subcode of the state.
Step fsm_error(State s) {
  std::uint8_t subcode = 0;
  if (s == State::kOpenSent) subcode = 1;
  if (s == State::kOpenConfirm) subcode = 2;
  if (s == State::kEstablished) subcode = 3;
  return notify_and_idle(notification(ErrorCode::kFiniteStateMachineError, subcode),
                         kFailure, "unexpected event (FSM error)");
}

// The NOTIFICATION for BGPHeaderErr / BGPOpenMsgErr / UpdateMsgErr.
Step decode_error(const Event& e, State s) {
  const auto* d = std::get_if<DecodeError>(&e.payload);
  if (d == nullptr) return fsm_error(s);
  return notify_and_idle(to_notification(*d), kFailure, d->reason);
}

bool is_start(EventType t) {
  return t == EventType::kManualStart || t == EventType::kAutomaticStart ||
         t == EventType::kManualStartWithPassiveTcpEstablishment ||
         t == EventType::kAutomaticStartWithPassiveTcpEstablishment;
}

Step idle(const Event& e, const FsmConfig& c) {
  using E = EventType;
  const std::uint32_t start = kStartConnectRetryTimer;
  switch (e.type) {
    case E::kManualStart:
      return stay(State::kConnect, kResetConnectRetryCounter | start | kInitiateTcp,
                  "start");
    case E::kAutomaticStart:
      return stay(State::kConnect, start | kInitiateTcp, "start");
    case E::kManualStartWithPassiveTcpEstablishment:
      return stay(State::kActive, kResetConnectRetryCounter | start, "passive start");
    case E::kAutomaticStartWithPassiveTcpEstablishment:
      return stay(State::kActive, start, "passive start");
    case E::kIdleHoldTimerExpires:
      if (c.passive) return stay(State::kActive, start, "restart after IdleHoldTime");
      return stay(State::kConnect, start | kInitiateTcp, "restart after IdleHoldTime");
    case E::kManualStop:
      // Also cancels an automatic restart that is waiting.
      return stay(State::kIdle, kStopIdleHoldTimer | kResetConnectRetryCounter);
    default:
      // RFC 4271: every other event leaves Idle as it is; a connection the
      // peer opens now is refused by the owner.
      return stay(State::kIdle);
  }
}

// Connect and Active: a TCP connection is being made or awaited, no BGP
// message has been exchanged yet, so nothing is sent on errors.
Step connect_or_active(State s, const Event& e, const FsmConfig& c) {
  using E = EventType;
  if (is_start(e.type)) return stay(s);
  switch (e.type) {
    case E::kManualStop:
      return to_idle(
          kDropTcp | kResetConnectRetryCounter | kStopConnectRetryTimer | kNoRestart,
          "stopped");
    case E::kAutomaticStop:
      return to_idle(kDropTcp | kStopConnectRetryTimer | kFailure, "stopped");
    case E::kConnectRetryTimerExpires:
      if (s == State::kActive && c.passive) {
        return stay(State::kActive, kStartConnectRetryTimer);
      }
      return stay(State::kConnect, kDropTcp | kStartConnectRetryTimer | kInitiateTcp,
                  "ConnectRetryTimer expired");
    case E::kTcpCrAcked:
    case E::kTcpConnectionConfirmed:
      return stay(State::kOpenSent,
                  kStopConnectRetryTimer | kSendOpen | kStartOpenHoldTimer,
                  "TCP connection up");
    case E::kTcpConnectionFails:
      return to_idle(kStopConnectRetryTimer | kDropTcp | kFailure,
                     "TCP connection failed");
    default:
      return to_idle(kStopConnectRetryTimer | kDropTcp | kFailure, "unexpected event");
  }
}

// What OpenSent, OpenConfirm and Established share.
std::optional<Step> with_connection(State s, const Event& e) {
  using E = EventType;
  if (is_start(e.type)) return stay(s);
  switch (e.type) {
    case E::kManualStop:
      return notify_and_idle(stop_notification(e), kResetConnectRetryCounter | kNoRestart,
                             "administrative stop");
    case E::kAutomaticStop:
      return notify_and_idle(stop_notification(e), kFailure, "automatic stop");
    case E::kHoldTimerExpires:
      return notify_and_idle(notification(ErrorCode::kHoldTimerExpired, 0), kFailure,
                             "HoldTimer expired");
    case E::kBgpHeaderErr:
    case E::kBgpOpenMsgErr:
      return decode_error(e, s);
    case E::kOpenCollisionDump:
      return notify_and_idle(
          notification(ErrorCode::kCease, cease::kConnectionCollisionResolution),
          kNoRestart, "connection collision resolution");
    case E::kNotifMsgVerErr:
      // RFC 4271: no ConnectRetryCounter increment for a version mismatch.
      return to_idle(kDropTcp | kNotificationReceived, "NOTIFICATION received");
    case E::kNotifMsg:
      // RFC 4271 has OpenSent answer it with an FSM error; answering a
      // NOTIFICATION (after which the peer closes) with one is pointless.
      return to_idle(kDropTcp | kFailure | kNotificationReceived,
                     "NOTIFICATION received");
    default:
      return std::nullopt;
  }
}

Step open_sent(const Event& e, const FsmConfig& c) {
  using E = EventType;
  if (auto common = with_connection(State::kOpenSent, e)) return *common;
  switch (e.type) {
    case E::kTcpConnectionFails:
      // RFC 4271: close, restart the ConnectRetryTimer, listen (Active).
      return stay(State::kActive, kDropTcp | kStartConnectRetryTimer,
                  "TCP connection failed");
    case E::kBgpOpen: {
      const auto* open = std::get_if<OpenMessage>(&e.payload);
      if (open == nullptr) return fsm_error(State::kOpenSent);
      if (auto err = validate_open(c, *open)) {
        return notify_and_idle(to_notification(*err), kFailure, err->reason);
      }
      return stay(State::kOpenConfirm,
                  kNegotiate | kSendKeepalive | kStartKeepaliveTimer | kRestartHoldTimer,
                  "OPEN accepted");
    }
    default:
      return fsm_error(State::kOpenSent);
  }
}

Step open_confirm(const Event& e) {
  using E = EventType;
  if (auto common = with_connection(State::kOpenConfirm, e)) return *common;
  switch (e.type) {
    case E::kKeepaliveTimerExpires:
      return stay(State::kOpenConfirm, kSendKeepalive | kStartKeepaliveTimer);
    case E::kTcpConnectionFails:
      return to_idle(kDropTcp | kFailure, "TCP connection failed");
    case E::kKeepAliveMsg:
      return stay(State::kEstablished, kRestartHoldTimer, "KEEPALIVE received");
    default:
      return fsm_error(State::kOpenConfirm);
  }
}

Step established(const Event& e) {
  using E = EventType;
  if (auto common = with_connection(State::kEstablished, e)) return *common;
  switch (e.type) {
    case E::kKeepaliveTimerExpires:
      return stay(State::kEstablished, kSendKeepalive | kStartKeepaliveTimer);
    case E::kTcpConnectionFails:
      return to_idle(kDropTcp | kFailure, "TCP connection failed");
    case E::kKeepAliveMsg:
      return stay(State::kEstablished, kRestartHoldTimer);
    case E::kUpdateMsg:
      if (!std::holds_alternative<UpdateMessage>(e.payload)) {
        return fsm_error(State::kEstablished);
      }
      return stay(State::kEstablished, kRestartHoldTimer | kDeliverUpdate);
    case E::kRouteRefreshMsg:
      if (!std::holds_alternative<RouteRefreshMessage>(e.payload)) {
        return fsm_error(State::kEstablished);
      }
      return stay(State::kEstablished, kRestartHoldTimer | kDeliverRouteRefresh);
    case E::kUpdateMsgErr:
      return decode_error(e, State::kEstablished);
    default:
      return fsm_error(State::kEstablished);
  }
}

}  // namespace

Step transition(State s, const Event& e, const FsmConfig& c) {
  switch (s) {
    case State::kIdle:
      return idle(e, c);
    case State::kConnect:
    case State::kActive:
      return connect_or_active(s, e, c);
    case State::kOpenSent:
      return open_sent(e, c);
    case State::kOpenConfirm:
      return open_confirm(e);
    case State::kEstablished:
      return established(e);
  }
  return fsm_error(s);
}

Fsm::Fsm(FsmConfig config, FsmClock& clock, FsmTransport& transport,
         FsmObserver& observer)
    : config_(std::move(config)),
      clock_(clock),
      transport_(transport),
      observer_(observer),
      idle_hold_time_(config_.idle_hold_time) {}

void Fsm::handle(Event e) {
  queued_.push_back(std::move(e));
  if (handling_) return;
  handling_ = true;
  while (!queued_.empty()) {
    Event next = std::move(queued_.front());
    queued_.pop_front();
    run(next);
  }
  handling_ = false;
}

void Fsm::run(const Event& e) { perform(transition(state_, e, config_), e); }

void Fsm::send(const Message& m) {
  const CodecOptions codec = negotiated_ ? negotiated_->codec : CodecOptions{};
  auto bytes = encode(m, codec);
  // Only the FSM's own fixed-size messages pass here; none can be too long
  // (a NOTIFICATION's data is bounded by what the codec produced).
  if (!bytes) return;
  transport_.send(std::move(bytes).value());
  observer_.message_sent(type_of(m));
}

void Fsm::perform(const Step& s, const Event& e) {
  const State from = state_;
  const std::uint32_t a = s.actions;
  if (a & kNotificationReceived) {
    if (const auto* n = std::get_if<NotificationMessage>(&e.payload)) {
      observer_.notification_received(*n);
    }
  }
  if ((a & kSendNotification) && s.notification) {
    send(*s.notification);
    observer_.notification_sent(*s.notification);
  }
  if (a & kDropTcp) transport_.close();
  if (a & kStopIdleHoldTimer) clock_.stop(Timer::kIdleHold);
  if (a & kStopConnectRetryTimer) clock_.stop(Timer::kConnectRetry);
  if (a & kStartConnectRetryTimer)
    clock_.start(Timer::kConnectRetry, config_.connect_retry_time);
  if (a & kResetConnectRetryCounter) connect_retry_counter_ = 0;
  if (a & kFailure) ++connect_retry_counter_;
  if (a & kInitiateTcp) transport_.connect();
  if (a & kSendOpen) send(local_open(config_));
  if (a & kStartOpenHoldTimer) clock_.start(Timer::kHold, kOpenHoldTime);
  if (a & kNegotiate) {
    const auto& open = std::get<OpenMessage>(e.payload);
    negotiated_ = negotiate(config_, open);
    peer_id_ = open.bgp_identifier;
  }
  if (a & kSendKeepalive) send(KeepaliveMessage{});
  if (a & kStartKeepaliveTimer) {
    if (negotiated_ && negotiated_->keepalive_time > 0) {
      clock_.start(Timer::kKeepalive, std::chrono::seconds(negotiated_->keepalive_time));
    } else {
      clock_.stop(Timer::kKeepalive);
    }
  }
  if (a & kRestartHoldTimer) {
    if (negotiated_ && negotiated_->hold_time > 0) {
      clock_.start(Timer::kHold, std::chrono::seconds(negotiated_->hold_time));
    } else {
      clock_.stop(Timer::kHold);
    }
  }

  if (from != s.next) {
    if (from == State::kIdle) clock_.stop(Timer::kIdleHold);
    if (s.next == State::kIdle) {
      clock_.stop(Timer::kConnectRetry);
      clock_.stop(Timer::kHold);
      clock_.stop(Timer::kKeepalive);
      if (!(a & kDropTcp)) transport_.close();
      negotiated_.reset();
      peer_id_.reset();
      // DampPeerOscillations: a session that stayed up resets the back-off;
      // each failure doubles the next wait up to the ceiling.
      if (established_at_ && clock_.now() - *established_at_ >= config_.stable_time) {
        idle_hold_time_ = config_.idle_hold_time;
      }
      established_at_.reset();
      if (!(a & kNoRestart)) {
        clock_.start(Timer::kIdleHold, idle_hold_time_);
        if (a & kFailure) {
          idle_hold_time_ = std::min(idle_hold_time_ * 2, config_.max_idle_hold_time);
        }
      }
    }
    if (s.next == State::kEstablished) established_at_ = clock_.now();
    state_ = s.next;
    observer_.state_changed(from, s.next, e.type, s.reason);
    if (s.next == State::kEstablished && negotiated_) observer_.established(*negotiated_);
  }
  if (a & kDeliverUpdate) {
    observer_.update_received(std::get<UpdateMessage>(e.payload), e.update_errors);
  }
  if (a & kDeliverRouteRefresh) {
    observer_.route_refresh_received(std::get<RouteRefreshMessage>(e.payload));
  }
}

}  // namespace nva::bgp
