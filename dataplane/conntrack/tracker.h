// One worker's connection tracking: the table, per-class expiry lists, the
// full-table policy and counters.
//
// Expiry without scans: every timeout class has a list in creation or
// requeue order. A packet only refreshes Conn::expires and, if that moved
// it, marks the record refreshed (its line is already in cache); expire()
// looks at list heads
// and either frees a connection whose time has passed or moves a refreshed
// one to its tail (lazy LRU), so each connection is requeued at most once
// per timeout period. The work per call is bounded by `budget`. A
// connection never expires early; one queued behind a refreshed head may
// expire late by as long as that head waited to be requeued.
//
// Full table (netfilter's early drop, oldest first): a new connection
// evicts the longest-idle of the heads of the evictable lists: embryonic
// (SYN_SENT, SYN_RECEIVED and every TCP connection not yet assured, such as
// one picked up mid-stream), unreplied UDP and closed TCP. With none of
// those it is dropped and counted. Assured connections are never evicted,
// so neither a SYN flood nor spoofed mid-stream packets can push them out.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "dataplane/common/counter.h"
#include "dataplane/conntrack/state.h"
#include "dataplane/conntrack/table.h"

namespace nva::conntrack {

// X(member, "telemetry name", "what it counts"): see common/counter.h.
#define NVA_TRACKER_COUNTERS(X)                                                 \
  X(created, "tracker_created", "connections inserted")                         \
  X(expired, "connections_expired", "connections expired")                      \
  /* Evicted for a new connection, by class (embryonic includes TCP          */ \
  /* connections picked up mid-stream whose backend has not answered).       */ \
  X(evicted_embryonic, "evicted_embryonic", "embryonic or unassured evicted")   \
  X(evicted_unreplied, "evicted_unreplied", "unreplied UDP evicted")            \
  X(evicted_closed, "evicted_closed", "closed TCP evicted")                     \
  X(dropped_table_full, "tracker_table_full", "refused: nothing evictable")     \
  X(requeued, "expiry_requeued", "refreshed list heads moved to the tail")      \
  /* TCP segments forwarded without any state change (SegmentVerdict::       */ \
  /* kIgnore: RSTs in the window but not exact, SYNs on synchronized         */ \
  /* connections, implausible ACKs outside the established fast path, which  */ \
  /* does not count its own); the out-of-window RSTs are the translator's.   */ \
  X(tcp_ignored, "tcp_ignored", "TCP segments forwarded without a state change")

struct TrackerCounters {
  NVA_COUNTER_SET(NVA_TRACKER_COUNTERS)
};

class ConnTracker {
 public:
  ConnTracker(std::uint32_t capacity, const Timeouts& timeouts, TableKey key = {});

  ConnTable& table() noexcept { return table_; }
  const ConnTable& table() const noexcept { return table_; }
  const TrackerCounters& counters() const noexcept { return counters_; }
  // Connections evicted for new ones so far, every class.
  std::uint64_t evicted() const noexcept {
    return counters_.evicted_embryonic + counters_.evicted_unreplied +
           counters_.evicted_closed;
  }
  const Timeouts& timeouts() const noexcept { return timeouts_; }

  // Creates a connection in `state` with Conn::flags `flags` (kConnAssured
  // for one that is, e.g. in tests) at time `now_ms`, evicting one (see
  // above) when the table is full. Returns its index or ConnRef::kNone
  // (counted in dropped_table_full).
  std::uint32_t create(const ConnKey& original, const ConnKey& reply, ConnState state,
                       std::uint32_t now_ms, std::uint8_t flags = 0) noexcept;

  // A TCP segment of connection `idx` in direction `dir`: sequence checks,
  // state and expiry (tcp_track(), state.h). kDrop: the caller drops the
  // segment and counts it; kIgnore (counted here) and kAccept: it goes on.
  [[gnu::always_inline]] SegmentVerdict on_tcp(std::uint32_t idx, Dir dir,
                                               const TcpSegment& s,
                                               std::uint32_t now_ms) noexcept {
    Conn& c = table_.conn(idx);
    // Most segments change nothing but the expiry and this direction's
    // sequence: an ACK without SYN, FIN or RST on an assured established
    // connection (the only one in the established class). Inline, without
    // the state machine; always_inline because GCC stopped inlining it
    // (and translate()) when they grew, for +50 instructions per packet.
    // With the header loads the sequence tracking costs ~36-40
    // instructions per packet (docs/BENCHMARKS.md). Both sequences are
    // known (assured implies it).
    constexpr std::uint8_t kSynFinRstAck = 0x02 | 0x01 | 0x04 | 0x10, kAck = 0x10;
    if (c.timeout_class == static_cast<std::uint8_t>(TimeoutClass::kTcpEstablished) &&
        (s.flags & kSynFinRstAck) == kAck) {
      refresh(c, now_ms);
      // Only a segment that would advance the sequence (data beyond what
      // was seen) needs its ACK checked: a pure ACK stops at the first test.
      const unsigned d = static_cast<unsigned>(dir);
      if (static_cast<std::int32_t>(s.end - c.seq_next[d]) > 0 &&
          c.seq_next[1 - d] - s.ack <= kAckWindow) {
        c.seq_next[d] = s.end;
      }
      return SegmentVerdict::kAccept;
    }
    return on_tcp_slow(idx, dir, s, now_ms);
  }

  // A packet of connection `idx` in direction `dir` without sequence
  // information (UDP; a TCP fragment without the header; tests): updates
  // the TCP/UDP state from its flags alone and the expiry. Returns the new
  // state.
  ConnState on_packet(std::uint32_t idx, Dir dir, std::uint8_t tcp_flags,
                      std::uint32_t now_ms) noexcept {
    Conn& c = table_.conn(idx);
    // Most packets change nothing but the expiry: a TCP segment without
    // SYN, FIN or RST on an assured established connection (for which
    // tcp_next() returns the state it has), or any packet of a replied UDP
    // flow (udp_next() likewise). Inline, without the state machine.
    constexpr std::uint8_t kSynFinRst = 0x02 | 0x01 | 0x04;
    if ((c.timeout_class == static_cast<std::uint8_t>(TimeoutClass::kTcpEstablished) &&
         (tcp_flags & kSynFinRst) == 0) ||
        c.state == ConnState::kUdpReplied) {
      refresh(c, now_ms);
      return c.state;
    }
    return on_packet_slow(idx, dir, tcp_flags, now_ms);
  }

  // Sets a state directly (e.g. ICMP), keeping lists consistent.
  void set_state(std::uint32_t idx, ConnState s, std::uint32_t now_ms) noexcept {
    apply(idx, s, now_ms);
  }

  // Frees connections idle past their timeout; examines at most `budget`
  // list heads. Returns how many it freed.
  unsigned expire(std::uint32_t now_ms, unsigned budget) noexcept;

  // Removes one connection now (e.g. its backend was declared dead).
  void remove(std::uint32_t idx) noexcept;

  // Whether connection `idx` may be evicted for a new one: embryonic
  // (including TCP not assured), unreplied UDP or closed TCP.
  bool evictable(std::uint32_t idx) const noexcept {
    const auto cls = static_cast<TimeoutClass>(table_.conn(idx).timeout_class);
    return cls == TimeoutClass::kTcpEmbryonic || cls == TimeoutClass::kUdp ||
           cls == TimeoutClass::kTcpClosed;
  }
  // How long connection `idx` has been without a packet at `now_ms`.
  std::uint32_t idle_ms(std::uint32_t idx, std::uint32_t now_ms) const noexcept {
    const Conn& c = table_.conn(idx);
    return now_ms -
           (c.expires - timeouts_.of(static_cast<TimeoutClass>(c.timeout_class)));
  }

  std::uint32_t list_size(TimeoutClass c) const noexcept {
    return lists_[static_cast<std::size_t>(c)].size;
  }

  // Walks every expiry list (tests and fuzzers; O(connections)): each
  // connection is on the list of its class, linked both ways, and both of
  // its keys find it in the table; the lists hold exactly the table's
  // connections.
  bool consistent() const noexcept;

 private:
  struct List {
    std::uint32_t head = ConnRef::kNone;
    std::uint32_t tail = ConnRef::kNone;
    std::uint32_t size = 0;
  };
  void link_tail(std::uint32_t idx, TimeoutClass c) noexcept;
  void unlink(std::uint32_t idx) noexcept;
  void requeue(std::uint32_t idx) noexcept;
  // Marked refreshed only if the expiry moves (branch-free): packets in the
  // millisecond a connection was queued leave it where it is, as the
  // expires != queued_expires test this mark replaced did.
  void refresh(Conn& c, std::uint32_t now_ms) noexcept {
    const std::uint32_t e =
        now_ms + timeouts_.of(static_cast<TimeoutClass>(c.timeout_class));
    c.refreshed |= static_cast<std::uint8_t>(e != c.expires);
    c.expires = e;
  }
  ConnState on_packet_slow(std::uint32_t idx, Dir dir, std::uint8_t tcp_flags,
                           std::uint32_t now_ms) noexcept;
  SegmentVerdict on_tcp_slow(std::uint32_t idx, Dir dir, const TcpSegment& s,
                             std::uint32_t now_ms) noexcept;
  // The state (and class, from the state and kConnAssured) of connection
  // `idx` after a packet: moves it to its class's list if that changed,
  // refreshes the expiry either way.
  void apply(std::uint32_t idx, ConnState s, std::uint32_t now_ms) noexcept;
  // Frees the longest-idle head of the evictable lists; false if none.
  bool evict_one(std::uint32_t now_ms) noexcept;

  ConnTable table_;
  Timeouts timeouts_;
  std::array<List, kTimeoutClassCount> lists_{};
  TrackerCounters counters_;
};

}  // namespace nva::conntrack
