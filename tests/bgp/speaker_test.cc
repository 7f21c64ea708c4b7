// The speaker over real sockets on loopback: two speakers peer with each
// other (127.0.0.1 and 127.0.0.2), announce, withdraw, stop with a shutdown
// communication, and resolve a connection collision.
#include "controlplane/bgp/speaker.h"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "controlplane/logger.h"
#include "tests/bgp/test_util.h"

namespace nva::bgp::test {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

constexpr Ipv4Address kA{127, 0, 0, 1};
constexpr Ipv4Address kB{127, 0, 0, 2};

std::uint16_t free_port(asio::io_context& io, const Ipv4Address& a) {
  asio::ip::tcp::acceptor acc(io, {asio::ip::address_v4(a), 0});
  return acc.local_endpoint().port();
}

// B's inbound settings towards A; the hold time both offer.
struct PairOptions {
  std::size_t b_max_prefixes = kDefaultMaxPrefixesIn;
  bool b_keep = true;
  std::uint16_t hold_time = kDefaultHoldTime;
};

class SpeakerPair : public ::testing::Test {
 protected:
  // A: AS 65001 (the NVA); B: AS 65515 (a Route Server), passive unless
  // both_active.
  void make(bool both_active, PairOptions o = {}) {
    const std::uint16_t pa = free_port(io, kA);
    const std::uint16_t pb = free_port(io, kB);
    SpeakerConfig ca;
    ca.local_as = 65001;
    ca.router_id = a4("198.18.0.1");
    ca.listen_address = kA;
    ca.listen_port = pa;
    ca.advertisement_interval = milliseconds(50);
    PeerConfig to_b;
    to_b.name = "b";
    to_b.address = kB;
    to_b.peer_as = 65515;
    to_b.port = pb;
    to_b.source = kA;
    to_b.idle_hold_time = milliseconds(50);
    to_b.max_idle_hold_time = milliseconds(400);  // sessions reset by a test return soon
    to_b.export_policy.communities = {Community::of(65001, 7)};
    to_b.hold_time = o.hold_time;
    ca.peers = {to_b};

    SpeakerConfig cb;
    cb.local_as = 65515;
    cb.router_id = a4("198.18.10.1");
    cb.listen_address = kB;
    cb.listen_port = pb;
    PeerConfig to_a;
    to_a.name = "a";
    to_a.address = kA;
    to_a.peer_as = 65001;
    to_a.port = pa;
    to_a.source = kB;
    to_a.passive = !both_active;
    to_a.idle_hold_time = milliseconds(50);
    to_a.max_idle_hold_time = milliseconds(400);
    to_a.max_prefixes_in = o.b_max_prefixes;
    to_a.keep_received_routes = o.b_keep;
    to_a.hold_time = o.hold_time;
    cb.peers = {to_a};

    ASSERT_TRUE(validate(ca).empty());
    ASSERT_TRUE(validate(cb).empty());
    a = std::make_unique<Speaker>(io, ca);
    b = std::make_unique<Speaker>(io, cb);
    a->on_event([this](const SpeakerEvent& e) { events_a.push_back(e); });
    b->on_event([this](const SpeakerEvent& e) { events_b.push_back(e); });
    ASSERT_FALSE(b->start().has_value());
    ASSERT_FALSE(a->start().has_value());
  }

  bool run_until(const std::function<bool()>& done,
                 milliseconds limit = milliseconds(10000)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io.restart();
      io.run_for(milliseconds(10));
    }
    return done();
  }
  void run_for(milliseconds d) {
    run_until([] { return false; }, d);
  }
  bool both_established() const {
    return a->peers()[0].state == State::kEstablished &&
           b->peers()[0].state == State::kEstablished;
  }
  static int count(const std::vector<SpeakerEvent>& ev, SpeakerEvent::Kind k) {
    int n = 0;
    for (const auto& e : ev) n += e.kind == k;
    return n;
  }

  asio::io_context io;
  std::unique_ptr<Speaker> a;
  std::unique_ptr<Speaker> b;
  std::vector<SpeakerEvent> events_a;
  std::vector<SpeakerEvent> events_b;
};

TEST_F(SpeakerPair, AnnounceWithdrawAndAdministrativeStop) {
  make(false);
  RouteAttributes r;
  r.med = 50;
  r.prepend = 1;
  r.large_communities = {{65001, 1, 2}};
  const auto p = p4("198.18.200.0/24");
  a->announce(p, r);
  ASSERT_TRUE(run_until([&] { return both_established(); }));
  ASSERT_TRUE(run_until([&] { return b->received_routes("a").size() == 1; }));
  const PathAttributes got = b->received_routes("a").at(p);
  EXPECT_EQ(got.as_path, AsPath::sequence({65001, 65001}));
  EXPECT_EQ(got.multi_exit_disc, 50u);
  EXPECT_EQ(got.next_hop, kA);
  EXPECT_EQ(got.communities, std::vector{Community::of(65001, 7)});
  EXPECT_EQ(got.large_communities, (std::vector<LargeCommunity>{{65001, 1, 2}}));
  EXPECT_EQ(count(events_a, SpeakerEvent::Kind::kEndOfRibSent), 1);
  EXPECT_TRUE(run_until(
      [&] { return count(events_b, SpeakerEvent::Kind::kEndOfRibReceived) == 1; }));
  const auto status = a->peers()[0];
  ASSERT_TRUE(status.negotiated.has_value());
  EXPECT_EQ(status.negotiated->hold_time, kDefaultHoldTime);
  EXPECT_TRUE(status.negotiated->codec.four_octet_as);
  EXPECT_EQ(status.routes_sent, 1u);
  EXPECT_EQ(a->sent_routes("b").size(), 1u);

  // A flapping route: 50 changes within the interval reach B coalesced.
  const auto updates_before = b->peers()[0].counters.messages_received[2];
  for (std::uint32_t i = 0; i < 50; ++i) {
    r.med = 100 + i;
    a->announce(p, r);
  }
  ASSERT_TRUE(
      run_until([&] { return b->received_routes("a").at(p).multi_exit_disc == 149u; }));
  run_for(milliseconds(200));
  EXPECT_LE(b->peers()[0].counters.messages_received[2] - updates_before, 2u);

  // A withdrawal leaves at once.
  a->withdraw(p);
  EXPECT_TRUE(
      run_until([&] { return b->received_routes("a").empty(); }, milliseconds(1000)));

  // Administrative stop: B receives Cease with the communication.
  a->stop("maintenance window");
  ASSERT_TRUE(run_until(
      [&] { return count(events_b, SpeakerEvent::Kind::kNotificationReceived) == 1; }));
  const SpeakerEvent* n = nullptr;
  for (const auto& e : events_b) {
    if (e.kind == SpeakerEvent::Kind::kNotificationReceived) n = &e;
  }
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(shutdown_communication(*n->notification), "maintenance window");
  EXPECT_EQ(a->peers()[0].state, State::kIdle);
  run_for(milliseconds(300));
  EXPECT_EQ(a->peers()[0].state, State::kIdle);  // no automatic restart
}

// Issue 12, finding 9: B accepts at most 3 prefixes from A. A fourth ends
// the session with Cease / Maximum Number of Prefixes Reached (RFC 4486,
// data AFI 1, SAFI 1, bound 3); B keeps no attributes (only counts), the
// session comes back after the back-off and, once A is within the limit,
// stays up.
TEST_F(SpeakerPair, PeerPastTheInboundLimitGetsCeaseMaximumPrefixes) {
  make(false, {.b_max_prefixes = 3, .b_keep = false});
  for (int i = 0; i < 4; ++i) {
    a->announce(*Ipv4Prefix::make({198, 18, static_cast<std::uint8_t>(200 + i), 0}, 24),
                {});
  }
  ASSERT_TRUE(
      run_until([&] { return a->peers()[0].last_notification_received.has_value(); }));
  const NotificationMessage n = *a->peers()[0].last_notification_received;
  EXPECT_EQ(n.error_code, static_cast<std::uint8_t>(ErrorCode::kCease));
  EXPECT_EQ(n.error_subcode, cease::kMaximumNumberOfPrefixesReached);
  EXPECT_EQ(n.data, (std::vector<std::uint8_t>{0, 1, 1, 0, 0, 0, 3}));
  EXPECT_EQ(b->peers()[0].last_notification_sent, n);
  EXPECT_GE(b->peers()[0].counters.prefix_limit_resets, 1u);
  EXPECT_GE(count(events_b, SpeakerEvent::Kind::kPrefixLimit), 1);
  // It comes back (IdleHoldTime back-off) and is reset again while A sends 4.
  ASSERT_TRUE(run_until([&] { return b->peers()[0].counters.prefix_limit_resets >= 2; }));

  a->withdraw(*Ipv4Prefix::make({198, 18, 203, 0}, 24));
  // Withdrawn while the session is down (between resets): it must not be
  // in the table sent when the session comes back.
  ASSERT_TRUE(run_until(
      [&] { return both_established() && b->peers()[0].routes_received == 3; }));
  const auto resets = b->peers()[0].counters.prefix_limit_resets;
  run_for(milliseconds(300));
  EXPECT_TRUE(both_established());
  EXPECT_EQ(b->peers()[0].counters.prefix_limit_resets, resets);
  EXPECT_EQ(b->peers()[0].routes_received, 3u);
  EXPECT_TRUE(b->received_routes("a").empty());  // counted, not kept
}

// Issue 12, finding 9: B logs every event, through the daemon's logger,
// into a pipe nobody reads (a blocked stdout). With hold time 3 s
// (KEEPALIVE every second) the session must outlive the hold time several
// times over while A's flapping route keeps B's events coming: the log
// drops lines, the control-plane thread never waits for it.
TEST_F(SpeakerPair, ABlockedLogDoesNotStallKeepalives) {
  make(false, {.hold_time = 3});
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);  // fds[0] is never read
  {
    logging::LoggerConfig lc;
    lc.burst = 1'000'000;  // this is about blocking, not rate limits
    lc.queue_lines = 64;
    logging::Logger logger(fds[1], lc);
    b->on_event([&](const SpeakerEvent& e) {
      events_b.push_back(e);
      for (int i = 0; i < 4; ++i) {
        logger.log("", std::string(3000, 'x') + std::string(event_kind_name(e.kind)));
      }
    });
    const auto p = p4("198.18.200.0/24");
    RouteAttributes r;
    a->announce(p, r);
    ASSERT_TRUE(run_until([&] { return both_established(); }));
    ASSERT_EQ(a->peers()[0].negotiated->hold_time, 3);
    const auto est_a = a->peers()[0].counters.established_transitions;
    const auto est_b = b->peers()[0].counters.established_transitions;
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(7000);
    std::uint32_t med = 0;
    while (std::chrono::steady_clock::now() < until) {
      r.med = ++med;
      a->announce(p, r);
      run_for(milliseconds(20));
    }
    EXPECT_TRUE(both_established());
    EXPECT_EQ(a->peers()[0].counters.established_transitions, est_a);
    EXPECT_EQ(b->peers()[0].counters.established_transitions, est_b);
    EXPECT_FALSE(b->peers()[0].last_notification_sent.has_value());
    EXPECT_GT(count(events_b, SpeakerEvent::Kind::kUpdateReceived), 50);
    // The pipe (64 KiB: about 21 lines) was full, the queue too: lines
    // were dropped instead of waited for.
    const logging::LoggerStats s = logger.stats();
    EXPECT_LT(s.written, 64u);
    EXPECT_GT(s.dropped, 0u);
    b->on_event([](const SpeakerEvent&) {});
  }  // the logger gives up on the blocked pipe within kExitGrace
  ::close(fds[0]);
  ::close(fds[1]);
}

// Both sides connect at once: each sees the other's connection while its
// own is being opened, runs a second FSM for it, and exactly one connection
// survives (by collision resolution, or because one side's attempt had not
// got past Connect). The session then stays up.
TEST_F(SpeakerPair, BothActiveEndUpWithOneSessionThatStaysUp) {
  make(true);
  a->announce(p4("198.18.200.0/24"), {});
  ASSERT_TRUE(run_until([&] { return both_established(); }));
  const auto est_a = a->peers()[0].counters.established_transitions;
  const auto est_b = b->peers()[0].counters.established_transitions;
  run_for(milliseconds(500));
  EXPECT_TRUE(both_established());
  EXPECT_EQ(a->peers()[0].counters.established_transitions, est_a);
  EXPECT_EQ(b->peers()[0].counters.established_transitions, est_b);
  EXPECT_TRUE(run_until([&] { return b->received_routes("a").size() == 1; }));
}

// A scripted peer on plain blocking sockets (its own thread): reads and
// writes whole messages.
// Plain recv() so that SO_RCVTIMEO applies (Asio's blocking read retries).
void read_exact(asio::ip::tcp::socket& s, std::uint8_t* p, std::size_t n) {
  while (n > 0) {
    const ssize_t got = ::recv(s.native_handle(), p, n, 0);
    if (got <= 0) throw std::runtime_error("closed or timed out");
    p += got;
    n -= static_cast<std::size_t>(got);
  }
}

Message read_message(asio::ip::tcp::socket& s) {
  Bytes m(kHeaderLength);
  read_exact(s, m.data(), m.size());
  auto h = decode_header(m);
  if (!h) throw std::runtime_error("bad header");
  m.resize(h->length);
  read_exact(s, m.data() + kHeaderLength, m.size() - kHeaderLength);
  auto d = decode_message(m, {});
  if (!d) throw std::runtime_error("bad message");
  return d->message;
}

void write_message(asio::ip::tcp::socket& s, const Message& m) {
  auto b = encode(m, {});
  asio::write(s, asio::buffer(*b));
}

// The speaker (BGP Identifier 198.18.0.1) connects to the scripted peer;
// the peer opens a second connection to the speaker and sends its OPEN
// there first. RFC 4271 6.8: the connection of the higher identifier's
// side survives; the other gets Cease / Connection Collision Resolution.
// Returns which connection got the Cease: 1 = the speaker's, 2 = the peer's.
int collide(const Ipv4Address& peer_id) {
  asio::io_context io;
  const std::uint16_t pa = free_port(io, kA);
  asio::ip::tcp::acceptor acc(io, {asio::ip::address_v4(kB), 0});
  SpeakerConfig c;
  c.local_as = 65001;
  c.router_id = a4("198.18.0.1");
  c.listen_address = kA;
  c.listen_port = pa;
  PeerConfig p;
  p.address = kB;
  p.peer_as = 65515;
  p.port = acc.local_endpoint().port();
  p.source = kA;
  c.peers = {p};
  Speaker speaker(io, c);
  EXPECT_FALSE(speaker.start().has_value());

  auto peer = std::async(std::launch::async, [&]() -> int {
    asio::io_context pio;
    asio::ip::tcp::socket first(pio);
    acc.accept(first);  // the speaker's connection
    if (type_of(read_message(first)) != MessageType::kOpen) return -1;
    asio::ip::tcp::socket second(pio);
    second.open(asio::ip::tcp::v4());
    second.bind({asio::ip::address_v4(kB), 0});
    second.connect({asio::ip::address_v4(kA), pa});
    if (type_of(read_message(second)) != MessageType::kOpen) return -2;
    const OpenMessage open = make_open(65515, 180, peer_id, {});
    write_message(second, open);
    write_message(first, open);
    // The survivor answers with a KEEPALIVE and then waits: read each
    // connection with a timeout.
    for (auto* s : {&first, &second}) {
      const timeval tv{1, 0};
      ::setsockopt(s->native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
    for (int which = 1; which <= 2; ++which) {
      auto& s = which == 1 ? first : second;
      try {
        for (int i = 0; i < 3; ++i) {
          const Message m = read_message(s);
          if (const auto* n = std::get_if<NotificationMessage>(&m)) {
            return n->error_code == 6 &&
                           n->error_subcode == cease::kConnectionCollisionResolution
                       ? which
                       : -3;
          }
        }
      } catch (const std::exception&) {
        // timed out: no NOTIFICATION on this one
      }
    }
    return 0;
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (peer.wait_for(milliseconds(0)) != std::future_status::ready &&
         std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(milliseconds(10));
  }
  if (peer.wait_for(milliseconds(0)) != std::future_status::ready) {
    speaker.stop("");
    acc.close();
    io.restart();
    io.run_for(milliseconds(100));
    return -4;
  }
  try {
    return peer.get();
  } catch (const std::exception&) {
    return -5;
  }
}

TEST(SpeakerCollision, HigherPeerIdentifierKeepsTheConnectionThePeerOpened) {
  EXPECT_EQ(collide(a4("198.18.10.1")), 1);
}

TEST(SpeakerCollision, LowerPeerIdentifierKeepsTheConnectionWeOpened) {
  EXPECT_EQ(collide(a4("10.0.0.1")), 2);
}

TEST(SpeakerConfig, ValidationFindsEveryProblem) {
  SpeakerConfig c;
  PeerConfig p;
  p.hold_time = 2;
  p.ttl = 0;
  p.export_policy.prepend = kMaxPrepend + 1;
  c.peers = {p, p};
  const auto errors = validate(c);
  // local AS, router id; per peer: address, AS, hold, TTL, prepend; twice
  // plus the duplicate address and name.
  EXPECT_EQ(errors.size(), 2u + 2 * 5 + 2) << ::testing::PrintToString(errors);
}

// Issue 12, findings 9 and 10: the rules anycast-nva's [bgp] and nva-bgp's
// options share (both are checked by validate()).
TEST(SpeakerConfig, HoldTimeZeroAndNoInboundLimitAreRefused) {
  SpeakerConfig c;
  c.local_as = 65001;
  c.router_id = a4("198.18.0.1");
  PeerConfig p;
  p.name = "rs1";
  p.address = a4("198.18.0.4");
  p.peer_as = 65515;
  c.peers = {p};
  EXPECT_TRUE(validate(c).empty());
  c.peers[0].hold_time = 0;
  c.peers[0].max_prefixes_in = 0;
  const std::vector<std::string> want = {
      "peer rs1: hold time 0 (no keepalives) is refused: a dead peer's routes would "
      "never expire",
      "peer rs1: inbound prefix limit must be >= 1"};
  EXPECT_EQ(validate(c), want);
}

}  // namespace
}  // namespace nva::bgp::test
