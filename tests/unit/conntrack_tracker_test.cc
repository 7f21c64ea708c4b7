// Connection tracking: TCP states from flags (table-driven), expiry with an
// injected clock, bounded work, and the full-table policy under a SYN flood.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "dataplane/conntrack/state.h"
#include "dataplane/conntrack/tracker.h"

namespace nva::conntrack {
namespace {

constexpr std::uint8_t F = 0x01, S = 0x02, R = 0x04, A = 0x10;
constexpr Dir O = Dir::kOriginal, P = Dir::kReply;

struct Step {
  Dir dir;
  std::uint8_t flags;
  ConnState want;
};

struct TcpCase {
  const char* name;
  ConnState start;
  std::vector<Step> steps;
};

void PrintTo(const TcpCase& c, std::ostream* os) { *os << c.name; }

class TcpStates : public ::testing::TestWithParam<TcpCase> {};

TEST_P(TcpStates, FollowFlags) {
  const TcpCase& c = GetParam();
  ConnState s = c.start;
  std::uint8_t flags = 0;
  int i = 0;
  for (const Step& st : c.steps) {
    s = tcp_next(s, st.dir, st.flags, flags);
    EXPECT_EQ(state_name(s), state_name(st.want)) << c.name << " step " << i;
    ++i;
  }
}

// on_packet() skips the state machine for packets that cannot change the
// state (see tracker.h): for every state, direction and flag byte it must
// agree with tcp_next()/udp_next() and count and refresh the same.
TEST(Tracker, OnPacketAgreesWithTheStateMachine) {
  const ConnState states[] = {ConnState::kTcpSynSent,     ConnState::kTcpSynReceived,
                              ConnState::kTcpEstablished, ConnState::kTcpFinWait,
                              ConnState::kTcpClosing,     ConnState::kTcpTimeWait,
                              ConnState::kTcpClosed,      ConnState::kUdp,
                              ConnState::kUdpReplied};
  Timeouts t;
  for (std::size_t i = 0; i < kTimeoutClassCount; ++i) {
    t.ms[i] = static_cast<std::uint32_t>(1000 * (i + 1));
  }
  for (const ConnState start : states) {
    const bool udp = start == ConnState::kUdp || start == ConnState::kUdpReplied;
    for (const std::uint8_t initial : {std::uint8_t{0}, kConnAssured}) {
      for (const Dir dir : {O, P}) {
        for (unsigned f = 0; f < 256; ++f) {
          const auto flags = static_cast<std::uint8_t>(udp ? 0 : f);
          ConnTracker tr(4, t);
          ConnKey k, r;
          k.src_addr = 1;
          k.proto = udp ? 17 : 6;
          r.src_addr = 2;
          r.proto = k.proto;
          const std::uint32_t c = tr.create(k, r, start, 0, initial);
          ASSERT_NE(c, ConnRef::kNone);
          std::uint8_t cflags = tr.table().conn(c).flags;
          const ConnState want =
              udp ? udp_next(start, dir) : tcp_next(start, dir, flags, cflags);
          EXPECT_EQ(state_name(tr.on_packet(c, dir, flags, 500)), state_name(want))
              << state_name(start) << " flags " << f;
          const Conn& conn = tr.table().conn(c);
          EXPECT_EQ(state_name(conn.state), state_name(want));
          EXPECT_EQ(conn.flags, cflags);
          EXPECT_EQ(conn.expires,
                    500 + t.of(timeout_class(want, (cflags & kConnAssured) != 0)));
          EXPECT_EQ(conn.timeout_class, static_cast<std::uint8_t>(timeout_class(conn)));
          if (udp) break;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, TcpStates,
    ::testing::Values(
        TcpCase{"handshake_and_close",
                ConnState::kNone,
                {{O, S, ConnState::kTcpSynSent},
                 {P, S | A, ConnState::kTcpSynReceived},
                 {O, A, ConnState::kTcpEstablished},
                 {O, A, ConnState::kTcpEstablished},
                 {P, F | A, ConnState::kTcpFinWait},
                 {O, A, ConnState::kTcpFinWait},
                 {O, F | A, ConnState::kTcpClosing},
                 {P, A, ConnState::kTcpTimeWait}}},
        TcpCase{"syn_retransmit",
                ConnState::kNone,
                {{O, S, ConnState::kTcpSynSent}, {O, S, ConnState::kTcpSynSent}}},
        TcpCase{"ack_before_synack_is_not_established",
                ConnState::kTcpSynSent,
                {{O, A, ConnState::kTcpSynSent}, {P, A, ConnState::kTcpSynSent}}},
        TcpCase{"synack_from_client_ignored",
                ConnState::kTcpSynSent,
                {{O, S | A, ConnState::kTcpSynSent}}},
        TcpCase{"rst_from_backend_closes",
                ConnState::kTcpEstablished,
                {{P, R, ConnState::kTcpClosed}}},
        TcpCase{"rst_during_handshake",
                ConnState::kTcpSynReceived,
                {{O, R | A, ConnState::kTcpClosed}}},
        // Issue 12, finding 6: a FIN before the handshake completes is
        // noted, and the connection stays embryonic; the handshake's ACK
        // then finds the FINs.
        TcpCase{"fin_during_handshake",
                ConnState::kTcpSynReceived,
                {{O, F, ConnState::kTcpSynReceived},
                 {P, F | A, ConnState::kTcpSynReceived},
                 {O, A, ConnState::kTcpClosing}}},
        TcpCase{"syn_fin_stays_syn_sent",
                ConnState::kNone,
                {{O, S | F, ConnState::kTcpSynSent}, {O, F, ConnState::kTcpSynSent}}},
        TcpCase{
            "syn_on_established_changes_nothing",
            ConnState::kTcpEstablished,
            {{O, S, ConnState::kTcpEstablished}, {P, S | A, ConnState::kTcpEstablished}}},
        TcpCase{"fin_retransmit_in_time_wait",
                ConnState::kTcpTimeWait,
                {{P, F | A, ConnState::kTcpTimeWait}}},
        TcpCase{"tuple_reuse_from_time_wait",
                ConnState::kTcpTimeWait,
                {{O, S, ConnState::kTcpSynSent},
                 {P, S | A, ConnState::kTcpSynReceived},
                 {O, A, ConnState::kTcpEstablished}}},
        TcpCase{"tuple_reuse_after_rst",
                ConnState::kTcpClosed,
                {{O, S, ConnState::kTcpSynSent}}},
        TcpCase{"syn_from_backend_does_not_reuse",
                ConnState::kTcpClosed,
                {{P, S, ConnState::kTcpClosed}}},
        TcpCase{"simultaneous_fins",
                ConnState::kTcpEstablished,
                {{O, F | A, ConnState::kTcpFinWait},
                 {P, F | A, ConnState::kTcpClosing},
                 {O, A, ConnState::kTcpTimeWait}}}),
    [](const auto& tp) { return std::string(tp.param.name); });

TEST(UdpStates, ReplyMakesReplied) {
  EXPECT_EQ(udp_next(ConnState::kNone, O), ConnState::kUdp);
  EXPECT_EQ(udp_next(ConnState::kUdp, O), ConnState::kUdp);
  EXPECT_EQ(udp_next(ConnState::kUdp, P), ConnState::kUdpReplied);
  EXPECT_EQ(udp_next(ConnState::kUdpReplied, O), ConnState::kUdpReplied);
}

ConnKey key(std::uint32_t n, std::uint8_t proto = 6) {
  ConnKey k;
  k.src_addr = 0xC6120000 + n;
  k.dst_addr = 0xC6130001;
  k.src_port = static_cast<std::uint16_t>(1024 + n % 60000);
  k.dst_port = 443;
  k.proto = proto;
  return k;
}

ConnKey rkey(std::uint32_t n, std::uint8_t proto = 6) {
  ConnKey k;
  k.src_addr = 0xC6120200;
  k.dst_addr = 0xC6120100 + n / 60000;
  k.src_port = 8443;
  k.dst_port = static_cast<std::uint16_t>(1024 + n % 60000);
  k.proto = proto;
  return k;
}

Timeouts short_timeouts() {
  Timeouts t;
  t.ms = {1000, 10000, 4000, 2000, 500, 3000, 6000, 1500};
  return t;
}

TEST(Tracker, IdleConnectionsExpireByClassAndActiveOnesStay) {
  ConnTracker tr(100, short_timeouts());
  const auto est =
      tr.create(key(1), rkey(1), ConnState::kTcpEstablished, 0, kConnAssured);
  const auto syn = tr.create(key(2), rkey(2), ConnState::kTcpSynSent, 0);
  const auto udp = tr.create(key(3, 17), rkey(3, 17), ConnState::kUdp, 0);
  ASSERT_NE(est, ConnRef::kNone);
  EXPECT_EQ(tr.expire(999, 100), 0u);
  EXPECT_EQ(tr.expire(1000, 100), 1u);  // embryonic: 1 s
  EXPECT_FALSE(tr.table().lookup(key(2)).found());
  (void)syn;
  // Keep the established one busy: it never expires while packets flow.
  for (std::uint32_t t = 1000; t <= 30000; t += 1000) {
    tr.on_packet(est, O, A, t);
    tr.expire(t, 100);
  }
  EXPECT_TRUE(tr.table().lookup(key(1)).found());
  EXPECT_FALSE(tr.table().lookup(key(3, 17)).found());  // UDP: 3 s idle
  (void)udp;
  EXPECT_EQ(tr.expire(30000 + 9999, 100), 0u);
  EXPECT_EQ(tr.expire(30000 + 10000, 100), 1u);
  EXPECT_EQ(tr.table().size(), 0u);
  EXPECT_EQ(tr.counters().expired, 3u);
  EXPECT_GT(tr.counters().requeued, 0u);
}

TEST(Tracker, StateChangesMoveBetweenTimeoutClasses) {
  ConnTracker tr(10, short_timeouts());
  const auto c = tr.create(key(1), rkey(1), ConnState::kTcpSynSent, 0);
  EXPECT_EQ(tr.list_size(TimeoutClass::kTcpEmbryonic), 1u);
  tr.on_packet(c, P, S | A, 100);
  tr.on_packet(c, O, A, 200);
  EXPECT_EQ(tr.table().conn(c).state, ConnState::kTcpEstablished);
  EXPECT_EQ(tr.list_size(TimeoutClass::kTcpEmbryonic), 0u);
  EXPECT_EQ(tr.list_size(TimeoutClass::kTcpEstablished), 1u);
  // Established lives 10 s from the last packet, not 1 s.
  EXPECT_EQ(tr.expire(5000, 10), 0u);
  tr.on_packet(c, P, R, 6000);  // RST: closed, 500 ms
  EXPECT_EQ(tr.list_size(TimeoutClass::kTcpClosed), 1u);
  EXPECT_EQ(tr.expire(6499, 10), 0u);
  EXPECT_EQ(tr.expire(6500, 10), 1u);
}

TEST(Tracker, ExpiryWorkIsBounded) {
  ConnTracker tr(10000, short_timeouts());
  for (std::uint32_t i = 0; i < 5000; ++i) {
    ASSERT_NE(tr.create(key(i), rkey(i), ConnState::kUdp, 0), ConnRef::kNone);
  }
  unsigned total = 0;
  int calls = 0;
  while (tr.table().size() > 0) {
    const unsigned n = tr.expire(10000, 64);
    EXPECT_LE(n, 64u);
    total += n;
    ASSERT_LT(++calls, 1000);
  }
  EXPECT_EQ(total, 5000u);
}

TEST(Tracker, ClockWrapsAround) {
  ConnTracker tr(10, short_timeouts());
  const std::uint32_t t0 = 0xFFFFFF00u;
  tr.create(key(1, 17), rkey(1, 17), ConnState::kUdp, t0);
  EXPECT_EQ(tr.expire(t0 + 2999, 10), 0u);  // wraps past zero
  EXPECT_EQ(tr.expire(t0 + 3000, 10), 1u);
}

// A SYN flood against a full table: embryonic connections are recycled
// oldest first; established ones are never touched; with no embryonic
// connection left, new ones are dropped and counted.
TEST(Tracker, SynFloodNeverHarmsEstablished) {
  constexpr std::uint32_t kCap = 1000;
  ConnTracker tr(kCap, Timeouts{});
  for (std::uint32_t i = 0; i < 600; ++i) {
    ASSERT_NE(tr.create(key(i), rkey(i), ConnState::kTcpEstablished, 0, kConnAssured),
              ConnRef::kNone);
  }
  for (std::uint32_t i = 600; i < 100000; ++i) {
    ASSERT_NE(tr.create(key(i), rkey(i), ConnState::kTcpSynSent, i), ConnRef::kNone) << i;
  }
  for (std::uint32_t i = 0; i < 600; ++i) {
    ASSERT_TRUE(tr.table().lookup(key(i)).found()) << "established " << i << " evicted";
  }
  // The newest embryonic connections survive, the oldest went first.
  EXPECT_TRUE(tr.table().lookup(key(99999)).found());
  EXPECT_FALSE(tr.table().lookup(key(600)).found());
  EXPECT_EQ(tr.counters().evicted_embryonic, 100000u - 600 - 400);
  EXPECT_EQ(tr.counters().dropped_table_full, 0u);

  // All established: nothing may be evicted, new connections are dropped.
  ConnTracker full(10, Timeouts{});
  for (std::uint32_t i = 0; i < 10; ++i) {
    full.create(key(i), rkey(i), ConnState::kTcpEstablished, 0, kConnAssured);
  }
  EXPECT_EQ(full.create(key(50), rkey(50), ConnState::kTcpSynSent, 1), ConnRef::kNone);
  EXPECT_EQ(full.counters().dropped_table_full, 1u);
  EXPECT_EQ(full.table().size(), 10u);
}

// Issue 12: a full table evicts the idlest of the evictable lists' heads
// (embryonic, which holds unassured pickups too; unreplied UDP; closed),
// whatever their class, and never an assured connection.
TEST(Tracker, FullTableEvictsTheIdlestUnassuredNeverAnAssured) {
  ConnTracker tr(5, Timeouts{});
  const auto assured =
      tr.create(key(0), rkey(0), ConnState::kTcpEstablished, 0, kConnAssured);
  const auto pickup = tr.create(key(1), rkey(1), ConnState::kTcpEstablished, 10);
  tr.create(key(2, 17), rkey(2, 17), ConnState::kUdp, 20);
  tr.create(key(3), rkey(3), ConnState::kTcpClosed, 30);
  tr.create(key(4), rkey(4), ConnState::kTcpSynSent, 40);
  EXPECT_EQ(tr.list_size(TimeoutClass::kTcpEmbryonic), 2u);  // the pickup is
  EXPECT_EQ(tr.list_size(TimeoutClass::kTcpEstablished), 1u);
  tr.on_packet(pickup, O, A, 45);  // still unassured: the client's side only
  EXPECT_EQ(tr.list_size(TimeoutClass::kTcpEmbryonic), 2u);
  // Idle at 50: UDP 30, closed 20, SYN 10, pickup 5.
  ASSERT_NE(tr.create(key(5), rkey(5), ConnState::kTcpSynSent, 50), ConnRef::kNone);
  EXPECT_FALSE(tr.table().lookup(key(2, 17)).found());
  EXPECT_EQ(tr.counters().evicted_unreplied, 1u);
  ASSERT_NE(tr.create(key(6), rkey(6), ConnState::kTcpSynSent, 50), ConnRef::kNone);
  EXPECT_FALSE(tr.table().lookup(key(3)).found());
  EXPECT_EQ(tr.counters().evicted_closed, 1u);
  ASSERT_NE(tr.create(key(7), rkey(7), ConnState::kTcpSynSent, 50), ConnRef::kNone);
  EXPECT_FALSE(tr.table().lookup(key(4)).found());
  ASSERT_NE(tr.create(key(8), rkey(8), ConnState::kTcpSynSent, 50), ConnRef::kNone);
  EXPECT_FALSE(tr.table().lookup(key(1)).found());
  EXPECT_EQ(tr.counters().evicted_embryonic, 2u);
  for (std::uint32_t i = 9; i < 100; ++i) {
    ASSERT_NE(tr.create(key(i), rkey(i), ConnState::kTcpSynSent, 50 + i), ConnRef::kNone);
  }
  EXPECT_TRUE(tr.table().lookup(key(0)).found());
  EXPECT_EQ(tr.table().conn(assured).state, ConnState::kTcpEstablished);
  EXPECT_EQ(tr.counters().dropped_table_full, 0u);
  EXPECT_TRUE(tr.consistent());
}

// consistent() (what the worker fuzzer checks) sees a record on the wrong
// list, a list longer than its count, and a key the index has lost.
TEST(Tracker, ConsistentSeesBrokenListsAndIndex) {
  ConnTracker tr(8, Timeouts{});
  std::uint32_t idx[4];
  for (std::uint32_t i = 0; i < 4; ++i) {
    idx[i] = tr.create(key(i), rkey(i), ConnState::kTcpSynSent, i);
  }
  ASSERT_TRUE(tr.consistent());
  Conn& c = tr.table().conn(idx[2]);
  c.timeout_class = static_cast<std::uint8_t>(TimeoutClass::kUdp);
  EXPECT_FALSE(tr.consistent());
  c.timeout_class = static_cast<std::uint8_t>(TimeoutClass::kTcpEmbryonic);
  ASSERT_TRUE(tr.consistent());
  const std::uint32_t next = c.lru_next;
  c.lru_next = idx[0];  // a cycle
  EXPECT_FALSE(tr.consistent());
  c.lru_next = next;
  ASSERT_TRUE(tr.consistent());
  c.key[1].dst_port ^= 1;  // the reply key no longer finds its record
  EXPECT_FALSE(tr.consistent());
}

// tcp_track(): the sequence checks of state.h, one segment at a time.
struct Track {
  Conn c;
  Track() { c.key[0].proto = 6; }
  SegmentVerdict step(Dir d, std::uint8_t flags, std::uint32_t seq, std::uint32_t len,
                      std::uint32_t ack) {
    ConnState next = c.state;
    const SegmentVerdict v = tcp_track(c, d, {flags, seq, seq + len, ack}, next);
    if (v == SegmentVerdict::kAccept) c.state = next;
    return v;
  }
};

TEST(TcpTrack, TheHandshakeNeedsTheRightAcks) {
  Track t;
  EXPECT_EQ(t.step(O, S, 100, 0, 0), SegmentVerdict::kAccept);
  EXPECT_EQ(t.c.state, ConnState::kTcpSynSent);
  // RFC 9293 3.10.7.3: a reset in SYN-SENT must acknowledge the SYN.
  EXPECT_EQ(t.step(P, R | A, 0, 0, 555), SegmentVerdict::kDrop);
  EXPECT_EQ(t.step(P, R, 0, 0, 0), SegmentVerdict::kDrop);
  // A SYN-ACK that does not acknowledge the SYN is not the backend's.
  EXPECT_EQ(t.step(P, S | A, 7000, 0, 999), SegmentVerdict::kIgnore);
  EXPECT_EQ(t.c.state, ConnState::kTcpSynSent);
  EXPECT_EQ(t.step(P, S | A, 7000, 0, 101), SegmentVerdict::kAccept);
  EXPECT_EQ(t.c.state, ConnState::kTcpSynReceived);
  // A blind ACK cannot complete the handshake; the client's can.
  EXPECT_EQ(t.step(O, A, 101, 0, 12345), SegmentVerdict::kIgnore);
  EXPECT_EQ(t.c.state, ConnState::kTcpSynReceived);
  EXPECT_EQ(t.c.flags & kConnAssured, 0);
  EXPECT_EQ(t.step(O, A, 101, 0, 7001), SegmentVerdict::kAccept);
  EXPECT_EQ(t.c.state, ConnState::kTcpEstablished);
  EXPECT_NE(t.c.flags & kConnAssured, 0);
  EXPECT_EQ(t.c.seq_next[0], 101u);
  EXPECT_EQ(t.c.seq_next[1], 7001u);
}

TEST(TcpTrack, ResetsAndFinsNeedTheirSequence) {
  Track t;
  t.step(O, S, 0xFFFFFFF0u, 0, 0);  // the sequence wraps past 2^32
  t.step(P, S | A, 7000, 0, 0xFFFFFFF1u);
  t.step(O, A, 0xFFFFFFF1u, 0, 7001);
  ASSERT_EQ(t.c.state, ConnState::kTcpEstablished);
  EXPECT_EQ(t.step(O, A, 0xFFFFFFF1u, 100, 7001), SegmentVerdict::kAccept);
  EXPECT_EQ(t.c.seq_next[0], 0x55u);
  // Retransmitted (older) data does not move it back.
  EXPECT_EQ(t.step(O, A, 0xFFFFFFF1u, 10, 7001), SegmentVerdict::kAccept);
  EXPECT_EQ(t.c.seq_next[0], 0x55u);
  // RSTs from the backend: far, near, exact.
  EXPECT_EQ(t.step(P, R, 7001 + kRstWindow + 1, 0, 0), SegmentVerdict::kDrop);
  EXPECT_EQ(t.step(P, R, 7001 - kRstWindow - 1, 0, 0), SegmentVerdict::kDrop);
  EXPECT_EQ(t.step(P, R, 7001 + kRstWindow, 0, 0), SegmentVerdict::kIgnore);
  EXPECT_EQ(t.step(P, R, 7000, 0, 0), SegmentVerdict::kIgnore);
  EXPECT_EQ(t.c.state, ConnState::kTcpEstablished);
  // A FIN whose ACK the other side could not have sent changes nothing.
  EXPECT_EQ(t.step(P, F | A, 7001, 0, 0x55u + 1), SegmentVerdict::kIgnore);
  EXPECT_EQ(t.step(P, F | A, 7001, 0, 0x55u - kAckWindow - 1), SegmentVerdict::kIgnore);
  EXPECT_EQ(t.c.state, ConnState::kTcpEstablished);
  EXPECT_EQ(t.step(P, F | A, 7001, 0, 0x55u - 20), SegmentVerdict::kAccept);
  EXPECT_EQ(t.c.state, ConnState::kTcpFinWait);
  EXPECT_EQ(t.c.seq_next[1], 7002u);
  EXPECT_EQ(t.step(P, R, 7002, 0, 0), SegmentVerdict::kAccept);
  EXPECT_EQ(t.c.state, ConnState::kTcpClosed);
  // A new SYN reuses the tuple from scratch: not assured, new sequence.
  EXPECT_EQ(t.step(O, S, 5, 0, 0), SegmentVerdict::kAccept);
  EXPECT_EQ(t.c.state, ConnState::kTcpSynSent);
  EXPECT_EQ(t.c.flags & (kConnAssured | kConnSeqReply), 0);
  EXPECT_EQ(t.c.seq_next[0], 6u);
}

// A pickup: the client's sequence from its first segment, the backend's
// from its answer, which must acknowledge the client's.
TEST(TcpTrack, PickupLearnsBothSequences) {
  Track t;
  t.c.state = ConnState::kTcpEstablished;
  EXPECT_EQ(t.step(O, A, 500, 10, 9), SegmentVerdict::kAccept);
  EXPECT_EQ(t.c.seq_next[0], 510u);
  EXPECT_EQ(t.c.flags & kConnAssured, 0);
  // The backend's RST for a connection it never had: its sequence is not
  // known yet, so nothing to check it against.
  Track r = t;
  EXPECT_EQ(r.step(P, R, 9, 0, 0), SegmentVerdict::kAccept);
  EXPECT_EQ(r.c.state, ConnState::kTcpClosed);
  EXPECT_EQ(t.step(P, A, 9, 0, 510 + kAckWindow), SegmentVerdict::kIgnore);
  EXPECT_EQ(t.step(P, A, 9, 0, 505), SegmentVerdict::kAccept);
  EXPECT_NE(t.c.flags & kConnAssured, 0);
  EXPECT_EQ(t.c.seq_next[1], 9u);
  EXPECT_EQ(timeout_class(t.c), TimeoutClass::kTcpEstablished);
}

TEST(Tracker, RejectsBadTimeouts) {
  Timeouts t;
  t.ms[0] = 0;
  EXPECT_THROW(ConnTracker(10, t), std::invalid_argument);
  t.ms[0] = kMaxTimeoutMs + 1;
  EXPECT_THROW(ConnTracker(10, t), std::invalid_argument);
}

}  // namespace
}  // namespace nva::conntrack
