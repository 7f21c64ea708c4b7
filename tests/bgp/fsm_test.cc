// The FSM: the (state, event) -> step table row by row, then scenarios with
// an injected clock and transport (timers, hold-time negotiation, errors,
// NOTIFICATION handling, collision dump, IdleHoldTime back-off).
#include "controlplane/bgp/fsm.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <vector>

#include "tests/bgp/test_util.h"

namespace nva::bgp::test {
namespace {

using std::chrono::seconds;
using E = EventType;
using S = State;
namespace act = action;

FsmConfig config() {
  FsmConfig c;
  c.local_as = 65001;
  c.router_id = a4("198.18.0.1");
  c.peer_as = 65515;
  c.hold_time = 180;
  return c;
}

OpenMessage peer_open(std::uint16_t hold = 180, std::uint32_t as = 65515) {
  return make_open(as, hold, a4("198.18.10.1"), {RouteRefreshCapability{}});
}

Event open_event(OpenMessage o) { return Event(E::kBgpOpen, std::move(o)); }

// --- the table ---------------------------------------------------------------

struct Row {
  const char* name;
  State from;
  Event event;
  State to;
  std::uint32_t actions;
  // The NOTIFICATION sent (code, subcode), if any.
  std::optional<std::pair<ErrorCode, std::uint8_t>> notification;
};

std::vector<Row> rows() {
  const DecodeError header{ErrorCode::kMessageHeaderError,
                           header_error::kBadMessageLength,
                           {0, 18},
                           "bad length"};
  const DecodeError update{ErrorCode::kUpdateMessageError,
                           update_error::kMalformedAttributeList,
                           {},
                           "malformed"};
  const NotificationMessage cease{6, 2, {}};
  const std::uint32_t fail_idle = act::kSendNotification | act::kDropTcp | act::kFailure;
  using P = std::pair<ErrorCode, std::uint8_t>;
  return {
      {"Idle_ManualStart", S::kIdle, Event(E::kManualStart), S::kConnect,
       act::kResetConnectRetryCounter | act::kStartConnectRetryTimer | act::kInitiateTcp,
       std::nullopt},
      {"Idle_ManualStartPassive", S::kIdle,
       Event(E::kManualStartWithPassiveTcpEstablishment), S::kActive,
       act::kResetConnectRetryCounter | act::kStartConnectRetryTimer, std::nullopt},
      {"Idle_IdleHoldTimerExpires", S::kIdle, Event(E::kIdleHoldTimerExpires),
       S::kConnect, act::kStartConnectRetryTimer | act::kInitiateTcp, std::nullopt},
      {"Idle_ManualStop", S::kIdle, Event(E::kManualStop), S::kIdle,
       act::kStopIdleHoldTimer | act::kResetConnectRetryCounter, std::nullopt},
      {"Idle_KeepAliveMsgIgnored", S::kIdle, Event(E::kKeepAliveMsg), S::kIdle, 0,
       std::nullopt},
      {"Idle_TcpConnectionConfirmedIgnored", S::kIdle, Event(E::kTcpConnectionConfirmed),
       S::kIdle, 0, std::nullopt},
      {"Connect_TcpCrAcked", S::kConnect, Event(E::kTcpCrAcked), S::kOpenSent,
       act::kStopConnectRetryTimer | act::kSendOpen | act::kStartOpenHoldTimer,
       std::nullopt},
      {"Connect_ConnectRetryTimerExpires", S::kConnect,
       Event(E::kConnectRetryTimerExpires), S::kConnect,
       act::kDropTcp | act::kStartConnectRetryTimer | act::kInitiateTcp, std::nullopt},
      {"Connect_TcpConnectionFails", S::kConnect, Event(E::kTcpConnectionFails), S::kIdle,
       act::kStopConnectRetryTimer | act::kDropTcp | act::kFailure, std::nullopt},
      {"Connect_ManualStop", S::kConnect, Event(E::kManualStop), S::kIdle,
       act::kDropTcp | act::kResetConnectRetryCounter | act::kStopConnectRetryTimer |
           act::kNoRestart,
       std::nullopt},
      {"Connect_KeepAliveMsg", S::kConnect, Event(E::kKeepAliveMsg), S::kIdle,
       act::kStopConnectRetryTimer | act::kDropTcp | act::kFailure, std::nullopt},
      {"Active_TcpConnectionConfirmed", S::kActive, Event(E::kTcpConnectionConfirmed),
       S::kOpenSent,
       act::kStopConnectRetryTimer | act::kSendOpen | act::kStartOpenHoldTimer,
       std::nullopt},
      {"Active_ConnectRetryTimerExpires", S::kActive, Event(E::kConnectRetryTimerExpires),
       S::kConnect, act::kDropTcp | act::kStartConnectRetryTimer | act::kInitiateTcp,
       std::nullopt},
      {"Active_TcpConnectionFails", S::kActive, Event(E::kTcpConnectionFails), S::kIdle,
       act::kStopConnectRetryTimer | act::kDropTcp | act::kFailure, std::nullopt},
      {"OpenSent_BGPOpen", S::kOpenSent, open_event(peer_open()), S::kOpenConfirm,
       act::kNegotiate | act::kSendKeepalive | act::kStartKeepaliveTimer |
           act::kRestartHoldTimer,
       std::nullopt},
      {"OpenSent_BGPOpenBadPeerAs", S::kOpenSent, open_event(peer_open(180, 65000)),
       S::kIdle, fail_idle, P{ErrorCode::kOpenMessageError, open_error::kBadPeerAs}},
      {"OpenSent_BGPHeaderErr", S::kOpenSent, Event(E::kBgpHeaderErr, header), S::kIdle,
       fail_idle, P{ErrorCode::kMessageHeaderError, header_error::kBadMessageLength}},
      {"OpenSent_HoldTimerExpires", S::kOpenSent, Event(E::kHoldTimerExpires), S::kIdle,
       fail_idle, P{ErrorCode::kHoldTimerExpired, 0}},
      {"OpenSent_TcpConnectionFails", S::kOpenSent, Event(E::kTcpConnectionFails),
       S::kActive, act::kDropTcp | act::kStartConnectRetryTimer, std::nullopt},
      {"OpenSent_NotifMsgVerErr", S::kOpenSent,
       Event(E::kNotifMsgVerErr, NotificationMessage{2, 1, {0, 4}}), S::kIdle,
       act::kDropTcp | act::kNotificationReceived, std::nullopt},
      {"OpenSent_UpdateMsgIsFsmError", S::kOpenSent,
       Event(E::kUpdateMsg, UpdateMessage{}), S::kIdle, fail_idle,
       P{ErrorCode::kFiniteStateMachineError, 1}},
      {"OpenSent_OpenCollisionDump", S::kOpenSent, Event(E::kOpenCollisionDump), S::kIdle,
       act::kSendNotification | act::kDropTcp | act::kNoRestart,
       P{ErrorCode::kCease, cease::kConnectionCollisionResolution}},
      {"OpenSent_ManualStop", S::kOpenSent, Event(E::kManualStop, std::string("bye")),
       S::kIdle,
       act::kSendNotification | act::kDropTcp | act::kResetConnectRetryCounter |
           act::kNoRestart,
       P{ErrorCode::kCease, cease::kAdministrativeShutdown}},
      {"OpenConfirm_KeepAliveMsg", S::kOpenConfirm, Event(E::kKeepAliveMsg),
       S::kEstablished, act::kRestartHoldTimer, std::nullopt},
      {"OpenConfirm_KeepaliveTimerExpires", S::kOpenConfirm,
       Event(E::kKeepaliveTimerExpires), S::kOpenConfirm,
       act::kSendKeepalive | act::kStartKeepaliveTimer, std::nullopt},
      {"OpenConfirm_BGPOpenIsFsmError", S::kOpenConfirm, open_event(peer_open()),
       S::kIdle, fail_idle, P{ErrorCode::kFiniteStateMachineError, 2}},
      {"OpenConfirm_OpenCollisionDump", S::kOpenConfirm, Event(E::kOpenCollisionDump),
       S::kIdle, act::kSendNotification | act::kDropTcp | act::kNoRestart,
       P{ErrorCode::kCease, cease::kConnectionCollisionResolution}},
      {"OpenConfirm_NotifMsg", S::kOpenConfirm, Event(E::kNotifMsg, cease), S::kIdle,
       act::kDropTcp | act::kFailure | act::kNotificationReceived, std::nullopt},
      {"OpenConfirm_HoldTimerExpires", S::kOpenConfirm, Event(E::kHoldTimerExpires),
       S::kIdle, fail_idle, P{ErrorCode::kHoldTimerExpired, 0}},
      {"Established_KeepAliveMsg", S::kEstablished, Event(E::kKeepAliveMsg),
       S::kEstablished, act::kRestartHoldTimer, std::nullopt},
      {"Established_UpdateMsg", S::kEstablished, Event(E::kUpdateMsg, UpdateMessage{}),
       S::kEstablished, act::kRestartHoldTimer | act::kDeliverUpdate, std::nullopt},
      {"Established_RouteRefreshMsg", S::kEstablished,
       Event(E::kRouteRefreshMsg, RouteRefreshMessage{}), S::kEstablished,
       act::kRestartHoldTimer | act::kDeliverRouteRefresh, std::nullopt},
      {"Established_UpdateMsgErr", S::kEstablished, Event(E::kUpdateMsgErr, update),
       S::kIdle, fail_idle,
       P{ErrorCode::kUpdateMessageError, update_error::kMalformedAttributeList}},
      {"Established_BGPOpenIsFsmError", S::kEstablished, open_event(peer_open()),
       S::kIdle, fail_idle, P{ErrorCode::kFiniteStateMachineError, 3}},
      {"Established_ConnectRetryIsFsmError", S::kEstablished,
       Event(E::kConnectRetryTimerExpires), S::kIdle, fail_idle,
       P{ErrorCode::kFiniteStateMachineError, 3}},
      {"Established_NotifMsg", S::kEstablished, Event(E::kNotifMsg, cease), S::kIdle,
       act::kDropTcp | act::kFailure | act::kNotificationReceived, std::nullopt},
      {"Established_TcpConnectionFails", S::kEstablished, Event(E::kTcpConnectionFails),
       S::kIdle, act::kDropTcp | act::kFailure, std::nullopt},
      {"Established_AutomaticStop", S::kEstablished,
       Event(E::kAutomaticStop, NotificationMessage{6, 1, {}}), S::kIdle, fail_idle,
       P{ErrorCode::kCease, cease::kMaximumNumberOfPrefixesReached}},
      {"Established_ManualStartIgnored", S::kEstablished, Event(E::kManualStart),
       S::kEstablished, 0, std::nullopt},
  };
}

class FsmTable : public ::testing::TestWithParam<Row> {};

TEST_P(FsmTable, Transition) {
  const Row& r = GetParam();
  const Step s = transition(r.from, r.event, config());
  EXPECT_EQ(state_name(s.next), state_name(r.to));
  EXPECT_EQ(s.actions, r.actions)
      << std::hex << "got 0x" << s.actions << " want 0x" << r.actions;
  if (r.notification) {
    ASSERT_TRUE(s.notification.has_value());
    EXPECT_EQ(s.notification->error_code,
              static_cast<std::uint8_t>(r.notification->first));
    EXPECT_EQ(s.notification->error_subcode, r.notification->second);
  } else {
    EXPECT_FALSE(s.notification.has_value());
  }
}

INSTANTIATE_TEST_SUITE_P(Bgp, FsmTable, ::testing::ValuesIn(rows()),
                         [](const auto& row) { return std::string(row.param.name); });

TEST(FsmTable, PassivePeerNeverConnectsOnConnectRetry) {
  FsmConfig c = config();
  c.passive = true;
  const Step s = transition(S::kActive, Event(E::kConnectRetryTimerExpires), c);
  EXPECT_EQ(s.next, S::kActive);
  EXPECT_EQ(s.actions, act::kStartConnectRetryTimer);
  EXPECT_EQ(transition(S::kIdle, Event(E::kIdleHoldTimerExpires), c).next, S::kActive);
}

TEST(FsmTable, MessageEvents) {
  EXPECT_EQ(message_event({KeepaliveMessage{}, {}}).type, E::kKeepAliveMsg);
  EXPECT_EQ(message_event({NotificationMessage{2, 1, {}}, {}}).type, E::kNotifMsgVerErr);
  EXPECT_EQ(message_event({NotificationMessage{6, 2, {}}, {}}).type, E::kNotifMsg);
  EXPECT_EQ(message_event({RouteRefreshMessage{}, {}}).type, E::kRouteRefreshMsg);
  EXPECT_EQ(decode_error_event({ErrorCode::kMessageHeaderError, 1, {}, ""}).type,
            E::kBgpHeaderErr);
  EXPECT_EQ(decode_error_event({ErrorCode::kOpenMessageError, 2, {}, ""}).type,
            E::kBgpOpenMsgErr);
  EXPECT_EQ(decode_error_event({ErrorCode::kUpdateMessageError, 1, {}, ""}).type,
            E::kUpdateMsgErr);
  EXPECT_EQ(event_name(E::kTcpCrAcked), "Tcp_CR_Acked");
}

TEST(FsmTable, TimerExpiryEvents) {
  EXPECT_EQ(expiry_event(Timer::kConnectRetry), E::kConnectRetryTimerExpires);
  EXPECT_EQ(expiry_event(Timer::kHold), E::kHoldTimerExpires);
  EXPECT_EQ(expiry_event(Timer::kKeepalive), E::kKeepaliveTimerExpires);
  EXPECT_EQ(expiry_event(Timer::kIdleHold), E::kIdleHoldTimerExpires);
}

// --- scenarios with an injected clock and transport ---------------------------

class FakeClock : public FsmClock {
 public:
  TimePoint now() const override { return now_; }
  void start(Timer t, Duration d) override { deadlines_[t] = now_ + d; }
  void stop(Timer t) override { deadlines_.erase(t); }
  bool running(Timer t) const { return deadlines_.contains(t); }
  Duration remaining(Timer t) const {
    return std::chrono::duration_cast<Duration>(deadlines_.at(t) - now_);
  }
  // Moves time on, firing due timers in deadline order.
  void advance(Duration d, Fsm& fsm) {
    const TimePoint end = now_ + d;
    for (;;) {
      auto next = deadlines_.end();
      for (auto it = deadlines_.begin(); it != deadlines_.end(); ++it) {
        if (it->second <= end &&
            (next == deadlines_.end() || it->second < next->second)) {
          next = it;
        }
      }
      if (next == deadlines_.end()) break;
      const Timer t = next->first;
      now_ = next->second;
      deadlines_.erase(next);
      fsm.handle(Event(expiry_event(t)));
    }
    now_ = end;
  }

 private:
  TimePoint now_{};
  std::map<Timer, TimePoint> deadlines_;
};

class FakeTransport : public FsmTransport {
 public:
  void connect() override { ++connects; }
  void send(Bytes m) override {
    auto d = decode_message(m, {});
    ASSERT_TRUE(d.ok()) << describe(d.error());
    sent.push_back(d->message);
  }
  void close() override { ++closes; }
  int connects = 0;
  int closes = 0;
  std::vector<Message> sent;
};

class Recorder : public FsmObserver {
 public:
  void state_changed(State from, State to, EventType, std::string_view) override {
    changes.emplace_back(from, to);
  }
  void established(const Negotiated& n) override { negotiated = n; }
  void update_received(const UpdateMessage& u, const UpdateErrors&) override {
    updates.push_back(u);
  }
  void route_refresh_received(const RouteRefreshMessage&) override { ++refreshes; }
  void notification_received(const NotificationMessage& n) override { received = n; }
  std::vector<std::pair<State, State>> changes;
  std::optional<Negotiated> negotiated;
  std::vector<UpdateMessage> updates;
  int refreshes = 0;
  std::optional<NotificationMessage> received;
};

class FsmRun : public ::testing::Test {
 protected:
  explicit FsmRun(FsmConfig c = config()) : fsm(c, clock, transport, observer) {}

  MessageType last_sent() const { return type_of(transport.sent.back()); }
  const NotificationMessage& last_notification() const {
    return std::get<NotificationMessage>(transport.sent.back());
  }
  // ManualStart, TCP up, OPEN exchange, KEEPALIVE: Established.
  void establish(std::uint16_t peer_hold = 180) {
    fsm.handle(Event(E::kManualStart));
    fsm.handle(Event(E::kTcpCrAcked));
    fsm.handle(open_event(peer_open(peer_hold)));
    fsm.handle(Event(E::kKeepAliveMsg));
    ASSERT_EQ(fsm.state(), S::kEstablished);
  }

  FakeClock clock;
  FakeTransport transport;
  Recorder observer;
  Fsm fsm;
};

TEST_F(FsmRun, HandshakeSendsOpenAndKeepaliveAndNegotiates) {
  fsm.handle(Event(E::kManualStart));
  EXPECT_EQ(fsm.state(), S::kConnect);
  EXPECT_EQ(transport.connects, 1);
  EXPECT_TRUE(clock.running(Timer::kConnectRetry));

  fsm.handle(Event(E::kTcpCrAcked));
  EXPECT_EQ(fsm.state(), S::kOpenSent);
  EXPECT_FALSE(clock.running(Timer::kConnectRetry));
  EXPECT_EQ(clock.remaining(Timer::kHold), kOpenHoldTime);
  ASSERT_EQ(last_sent(), MessageType::kOpen);
  const auto& open = std::get<OpenMessage>(transport.sent.back());
  EXPECT_EQ(open.my_autonomous_system, 65001);
  EXPECT_EQ(open.hold_time, 180);
  EXPECT_TRUE(open.supports_route_refresh());
  EXPECT_TRUE(open.supports(Afi::kIpv4, Safi::kUnicast));
  EXPECT_EQ(open.four_octet_as(), 65001u);

  fsm.handle(open_event(peer_open(90)));
  EXPECT_EQ(fsm.state(), S::kOpenConfirm);
  EXPECT_EQ(last_sent(), MessageType::kKeepalive);
  EXPECT_EQ(clock.remaining(Timer::kHold), seconds(90));
  EXPECT_EQ(clock.remaining(Timer::kKeepalive), seconds(30));

  fsm.handle(Event(E::kKeepAliveMsg));
  EXPECT_EQ(fsm.state(), S::kEstablished);
  ASSERT_TRUE(observer.negotiated.has_value());
  EXPECT_EQ(observer.negotiated->hold_time, 90);
  EXPECT_EQ(observer.negotiated->keepalive_time, 30);
  EXPECT_TRUE(observer.negotiated->peer_route_refresh);
  EXPECT_FALSE(observer.negotiated->codec.four_octet_as);  // the peer did not offer it
  EXPECT_TRUE(observer.negotiated->codec.external_peer);
  const std::vector<std::pair<State, State>> want{{S::kIdle, S::kConnect},
                                                  {S::kConnect, S::kOpenSent},
                                                  {S::kOpenSent, S::kOpenConfirm},
                                                  {S::kOpenConfirm, S::kEstablished}};
  EXPECT_EQ(observer.changes, want);
}

TEST_F(FsmRun, KeepalivesEveryThirdOfTheHoldTimeAndHoldTimerExpiry) {
  establish(9);  // the peer's lower hold time wins: 9 s, keepalive 3 s
  const std::size_t before = transport.sent.size();
  clock.advance(seconds(8), fsm);
  EXPECT_EQ(transport.sent.size(), before + 2);  // at 3 s and 6 s
  EXPECT_EQ(last_sent(), MessageType::kKeepalive);
  fsm.handle(Event(E::kKeepAliveMsg));  // restarts the 9 s hold timer
  clock.advance(seconds(8), fsm);
  EXPECT_EQ(fsm.state(), S::kEstablished);
  clock.advance(seconds(1), fsm);
  EXPECT_EQ(fsm.state(), S::kIdle);
  EXPECT_EQ(last_notification().error_code,
            static_cast<std::uint8_t>(ErrorCode::kHoldTimerExpired));
  EXPECT_GE(transport.closes, 1);
  EXPECT_TRUE(clock.running(Timer::kIdleHold));
  EXPECT_FALSE(clock.running(Timer::kKeepalive));
}

// Issue 12, finding 10: a peer offering hold time 0 (no keepalives: its
// routes would never expire if it died) is refused with OPEN Message Error /
// Unacceptable Hold Time, which RFC 4271 6.2 allows; the session goes down
// with the normal back-off. 3 s, the smallest allowed, is accepted.
TEST_F(FsmRun, PeerHoldTimeZeroIsRefusedWithUnacceptableHoldTime) {
  fsm.handle(Event(E::kManualStart));
  fsm.handle(Event(E::kTcpCrAcked));
  fsm.handle(open_event(peer_open(0)));
  EXPECT_EQ(fsm.state(), S::kIdle);
  ASSERT_EQ(last_sent(), MessageType::kNotification);
  EXPECT_EQ(last_notification().error_code,
            static_cast<std::uint8_t>(ErrorCode::kOpenMessageError));
  EXPECT_EQ(last_notification().error_subcode, open_error::kUnacceptableHoldTime);
  EXPECT_GE(transport.closes, 1);
  EXPECT_FALSE(observer.negotiated.has_value());
  EXPECT_EQ(fsm.connect_retry_counter(), 1u);
  EXPECT_TRUE(clock.running(Timer::kIdleHold));  // it retries, backed off

  ASSERT_TRUE(validate_open(config(), peer_open(0)).has_value());
  EXPECT_FALSE(validate_open(config(), peer_open(3)).has_value());
}

TEST_F(FsmRun, PeerHoldTimeThreeIsAccepted) {
  establish(3);
  EXPECT_EQ(clock.remaining(Timer::kHold), seconds(3));
  EXPECT_EQ(clock.remaining(Timer::kKeepalive), seconds(1));
}

TEST(HoldTime, OneRuleForConfigurationAndPeers) {
  EXPECT_TRUE(check_hold_time(0).has_value());
  EXPECT_TRUE(check_hold_time(1).has_value());
  EXPECT_TRUE(check_hold_time(2).has_value());
  EXPECT_FALSE(check_hold_time(kMinHoldTime).has_value());
  EXPECT_FALSE(check_hold_time(180).has_value());
  EXPECT_FALSE(check_hold_time(65535).has_value());
}

TEST_F(FsmRun, UpdatesAndRouteRefreshAreDeliveredAndRestartTheHoldTimer) {
  establish();
  clock.advance(seconds(170), fsm);
  UpdateMessage u;
  u.withdrawn_routes = {p4("198.18.200.0/24")};
  fsm.handle(Event(E::kUpdateMsg, u));
  EXPECT_EQ(clock.remaining(Timer::kHold), seconds(180));
  fsm.handle(Event(E::kRouteRefreshMsg, RouteRefreshMessage{}));
  ASSERT_EQ(observer.updates.size(), 1u);
  EXPECT_EQ(observer.updates[0], u);
  EXPECT_EQ(observer.refreshes, 1);
}

TEST_F(FsmRun, ManualStopSendsCeaseWithShutdownCommunicationAndStaysDown) {
  establish();
  fsm.handle(Event(E::kManualStop, std::string("maintenance")));
  EXPECT_EQ(fsm.state(), S::kIdle);
  ASSERT_EQ(last_sent(), MessageType::kNotification);
  EXPECT_EQ(shutdown_communication(last_notification()), "maintenance");
  EXPECT_FALSE(clock.running(Timer::kIdleHold));
  clock.advance(std::chrono::hours(1), fsm);
  EXPECT_EQ(fsm.state(), S::kIdle);
  EXPECT_EQ(fsm.connect_retry_counter(), 0u);
}

TEST_F(FsmRun, ManualStopInIdleCancelsTheAutomaticRestart) {
  fsm.handle(Event(E::kManualStart));
  fsm.handle(Event(E::kTcpConnectionFails));
  ASSERT_TRUE(clock.running(Timer::kIdleHold));
  fsm.handle(Event(E::kManualStop));
  EXPECT_FALSE(clock.running(Timer::kIdleHold));
}

TEST_F(FsmRun, NotificationReceivedGoesIdleWithoutAnswering) {
  establish();
  const std::size_t before = transport.sent.size();
  fsm.handle(message_event({administrative_shutdown("bye"), {}}));
  EXPECT_EQ(fsm.state(), S::kIdle);
  EXPECT_EQ(transport.sent.size(), before);
  ASSERT_TRUE(observer.received.has_value());
  EXPECT_EQ(shutdown_communication(*observer.received), "bye");
  EXPECT_FALSE(fsm.negotiated().has_value());
}

TEST_F(FsmRun, BadPeerAsIsRefusedWithOpenMessageError) {
  fsm.handle(Event(E::kManualStart));
  fsm.handle(Event(E::kTcpCrAcked));
  fsm.handle(open_event(peer_open(180, 64512)));
  EXPECT_EQ(fsm.state(), S::kIdle);
  EXPECT_EQ(last_notification().error_code,
            static_cast<std::uint8_t>(ErrorCode::kOpenMessageError));
  EXPECT_EQ(last_notification().error_subcode, open_error::kBadPeerAs);
  EXPECT_EQ(fsm.connect_retry_counter(), 1u);
}

TEST_F(FsmRun, UnexpectedMessageIsAnFsmError) {
  fsm.handle(Event(E::kManualStart));
  fsm.handle(Event(E::kTcpCrAcked));
  fsm.handle(Event(E::kKeepAliveMsg));  // before the OPEN
  EXPECT_EQ(fsm.state(), S::kIdle);
  EXPECT_EQ(last_notification().error_code,
            static_cast<std::uint8_t>(ErrorCode::kFiniteStateMachineError));
  EXPECT_EQ(last_notification().error_subcode, 1);  // RFC 6608: in OpenSent
}

TEST_F(FsmRun, CollisionDumpSendsCeaseAndDoesNotRestart) {
  fsm.handle(Event(E::kManualStart));
  fsm.handle(Event(E::kTcpCrAcked));
  fsm.handle(open_event(peer_open()));
  fsm.handle(Event(E::kOpenCollisionDump));
  EXPECT_EQ(fsm.state(), S::kIdle);
  EXPECT_EQ(last_notification().error_code, static_cast<std::uint8_t>(ErrorCode::kCease));
  EXPECT_EQ(last_notification().error_subcode, cease::kConnectionCollisionResolution);
  EXPECT_FALSE(clock.running(Timer::kIdleHold));
}

TEST_F(FsmRun, ConnectRetryTimerReconnects) {
  fsm.handle(Event(E::kManualStart));
  clock.advance(kDefaultConnectRetryTime, fsm);
  EXPECT_EQ(fsm.state(), S::kConnect);
  EXPECT_EQ(transport.connects, 2);
  EXPECT_EQ(transport.closes, 1);  // the first attempt was dropped
}

TEST_F(FsmRun, IdleHoldTimeDoublesAfterEachFailureUpToTheCeiling) {
  fsm.handle(Event(E::kManualStart));
  std::vector<Duration> waits;
  for (int i = 0; i < 9; ++i) {
    fsm.handle(Event(E::kTcpConnectionFails));
    ASSERT_EQ(fsm.state(), S::kIdle);
    waits.push_back(clock.remaining(Timer::kIdleHold));
    clock.advance(clock.remaining(Timer::kIdleHold), fsm);  // automatic restart
    ASSERT_EQ(fsm.state(), S::kConnect);
  }
  const std::vector<Duration> want{seconds(1),  seconds(2),  seconds(4),
                                   seconds(8),  seconds(16), seconds(32),
                                   seconds(60), seconds(60), seconds(60)};
  EXPECT_EQ(waits, want);
  EXPECT_EQ(transport.connects, 10);
  EXPECT_EQ(fsm.connect_retry_counter(), 9u);
}

TEST_F(FsmRun, AStableSessionResetsTheBackOff) {
  fsm.handle(Event(E::kManualStart));
  for (int i = 0; i < 3; ++i) {
    fsm.handle(Event(E::kTcpConnectionFails));
    clock.advance(clock.remaining(Timer::kIdleHold), fsm);
  }
  EXPECT_EQ(fsm.next_idle_hold_time(), seconds(8));
  // Established only briefly: the back-off stays.
  fsm.handle(Event(E::kTcpCrAcked));
  fsm.handle(open_event(peer_open()));
  fsm.handle(Event(E::kKeepAliveMsg));
  fsm.handle(Event(E::kTcpConnectionFails));
  EXPECT_EQ(clock.remaining(Timer::kIdleHold), seconds(8));
  clock.advance(seconds(8), fsm);
  // Established for longer than stable_time: back to the first wait.
  fsm.handle(Event(E::kTcpCrAcked));
  fsm.handle(open_event(peer_open()));
  fsm.handle(Event(E::kKeepAliveMsg));
  clock.advance(kDefaultStableTime, fsm);
  fsm.handle(Event(E::kTcpConnectionFails));
  EXPECT_EQ(clock.remaining(Timer::kIdleHold), kDefaultIdleHoldTime);
}

class PassiveFsmRun : public FsmRun {
 protected:
  static FsmConfig passive() {
    FsmConfig c = config();
    c.passive = true;
    return c;
  }
  PassiveFsmRun() : FsmRun(passive()) {}
};

TEST_F(PassiveFsmRun, WaitsForThePeerAndNeverConnects) {
  fsm.handle(Event(E::kManualStartWithPassiveTcpEstablishment));
  EXPECT_EQ(fsm.state(), S::kActive);
  clock.advance(std::chrono::minutes(5), fsm);
  EXPECT_EQ(fsm.state(), S::kActive);
  EXPECT_EQ(transport.connects, 0);
  fsm.handle(Event(E::kTcpConnectionConfirmed));
  EXPECT_EQ(fsm.state(), S::kOpenSent);
  EXPECT_EQ(last_sent(), MessageType::kOpen);
  // After an error it restarts passive again.
  fsm.handle(Event(E::kHoldTimerExpires));
  clock.advance(clock.remaining(Timer::kIdleHold), fsm);
  EXPECT_EQ(fsm.state(), S::kActive);
  EXPECT_EQ(transport.connects, 0);
}

TEST(FsmOpen, FourOctetLocalAsUsesAsTransAndTheCapability) {
  FsmConfig c = config();
  c.local_as = 4200000001;
  c.four_octet_as = false;  // ignored: a 4-octet AS always needs the capability
  const OpenMessage o = local_open(c);
  EXPECT_EQ(o.my_autonomous_system, kAsTrans);
  EXPECT_EQ(o.four_octet_as(), 4200000001u);
  // Route Server (2-octet only): no 4-octet AS_PATH on the session.
  EXPECT_FALSE(negotiate(c, peer_open()).codec.four_octet_as);
  OpenMessage with =
      make_open(65515, 180, a4("198.18.10.1"), {FourOctetAsCapability{65515}});
  EXPECT_TRUE(negotiate(c, with).codec.four_octet_as);
}

TEST(FsmOpen, InternalPeerWithOurIdentifierIsRefused) {
  FsmConfig c = config();
  c.peer_as = c.local_as;
  OpenMessage o = make_open(65001, 180, c.router_id, {});
  auto e = validate_open(c, o);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->subcode, open_error::kBadBgpIdentifier);
  c.peer_as = 65515;  // external: allowed (RFC 6286)
  o.my_autonomous_system = 65515;
  EXPECT_FALSE(validate_open(c, o).has_value());
}

}  // namespace
}  // namespace nva::bgp::test
