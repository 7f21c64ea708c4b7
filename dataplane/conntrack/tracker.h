// One worker's connection tracking: the table, per-class expiry lists, the
// full-table policy and counters.
//
// Expiry without scans: every timeout class has a list in creation or
// requeue order. A packet only refreshes Conn::expires (the record's line is
// already in cache); expire() looks at list heads and either frees a
// connection whose time has passed or moves a refreshed one (expires !=
// queued_expires) to its tail (lazy LRU), so each connection is requeued at
// most once per timeout period. The work per call is bounded by `budget`.
// A connection never expires early; one queued behind a refreshed head may
// expire late by as long as that head waited to be requeued.
//
// Full table: a new connection first evicts the oldest embryonic (SYN_SENT
// or SYN_RECEIVED) connection; if there is none it is dropped and counted.
// Established connections are never evicted, so a SYN flood cannot push
// them out.
#pragma once

#include <array>
#include <cstdint>

#include "dataplane/conntrack/state.h"
#include "dataplane/conntrack/table.h"

namespace nva::conntrack {

struct TrackerCounters {
  std::uint64_t created = 0;
  std::uint64_t expired = 0;
  std::uint64_t evicted_embryonic = 0;
  std::uint64_t dropped_table_full = 0;
  std::uint64_t requeued = 0;
};

class ConnTracker {
 public:
  ConnTracker(std::uint32_t capacity, const Timeouts& timeouts,
              IndexKind index = IndexKind::kCuckoo);

  ConnTable& table() noexcept { return table_; }
  const ConnTable& table() const noexcept { return table_; }
  const TrackerCounters& counters() const noexcept { return counters_; }
  const Timeouts& timeouts() const noexcept { return timeouts_; }

  // Creates a connection in `state` at time `now_ms`. Returns its index or
  // ConnRef::kNone (counted in dropped_table_full).
  std::uint32_t create(const ConnKey& original, const ConnKey& reply, ConnState state,
                       std::uint32_t now_ms) noexcept;

  // A packet of connection `idx` in direction `dir`: updates the TCP/UDP
  // state from its flags and the expiry. Returns the new state.
  ConnState on_packet(std::uint32_t idx, Dir dir, std::uint8_t tcp_flags,
                      std::uint32_t now_ms) noexcept {
    Conn& c = table_.conn(idx);
    // Most packets change nothing but the expiry: a TCP
    // segment without SYN, FIN or RST on an established connection (for
    // which tcp_next() returns the state it has), or any packet of a
    // replied UDP flow (udp_next() likewise). Inline, without the state
    // machine.
    constexpr std::uint8_t kSynFinRst = 0x02 | 0x01 | 0x04;
    if ((c.state == ConnState::kTcpEstablished && (tcp_flags & kSynFinRst) == 0) ||
        c.state == ConnState::kUdpReplied) {
      refresh(c, now_ms);
      return c.state;
    }
    return on_packet_slow(idx, dir, tcp_flags, now_ms);
  }

  // Sets a state directly (e.g. ICMP), keeping lists consistent.
  void set_state(std::uint32_t idx, ConnState s, std::uint32_t now_ms) noexcept;

  // Frees connections idle past their timeout; examines at most `budget`
  // list heads. Returns how many it freed.
  unsigned expire(std::uint32_t now_ms, unsigned budget) noexcept;

  // Removes one connection now (e.g. its backend was declared dead).
  void remove(std::uint32_t idx) noexcept;

  std::uint32_t list_size(TimeoutClass c) const noexcept {
    return lists_[static_cast<std::size_t>(c)].size;
  }

 private:
  struct List {
    std::uint32_t head = ConnRef::kNone;
    std::uint32_t tail = ConnRef::kNone;
    std::uint32_t size = 0;
  };
  void link_tail(std::uint32_t idx, TimeoutClass c) noexcept;
  void unlink(std::uint32_t idx) noexcept;
  void refresh(Conn& c, std::uint32_t now_ms) noexcept {
    c.expires = now_ms + timeouts_.of(static_cast<TimeoutClass>(c.timeout_class));
  }
  ConnState on_packet_slow(std::uint32_t idx, Dir dir, std::uint8_t tcp_flags,
                           std::uint32_t now_ms) noexcept;

  ConnTable table_;
  Timeouts timeouts_;
  std::array<List, kTimeoutClassCount> lists_{};
  TrackerCounters counters_;
};

}  // namespace nva::conntrack
