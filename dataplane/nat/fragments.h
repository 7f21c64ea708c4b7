// Virtual reassembly of IPv4 fragments: learn a datagram's ports from its
// first fragment, hold later fragments that arrive before it, and release
// every fragment with the ports it belongs to. Fragments are forwarded as
// they came (no reassembly, no re-fragmentation, no MTU surprises).
//
// All fragments of a datagram go to one worker, chosen from (src, dst, id)
// alone (fragment_owner()); that worker hands each fragment, with its ports
// attached, to the owner of the connection (steer/owner.h), which
// translates it. Handoff rings are FIFO, so the first fragment reaches the
// owner before the later ones it released.
//
// A new datagram whose probe finds no free slot takes the slot of the oldest
// datagram still waiting for its first fragment (what a flood of lone later
// fragments creates), else of the oldest: a flood cannot keep honest
// fragmented traffic out for the timeout.
//
// Bounded: a fixed table of datagrams, a fixed number of held fragments per
// datagram, a cap on the packet buffers held at once (a share of the pool:
// fragments that never complete must not starve RX), and a timeout; overflow
// and expiry are counted drops. A datagram leaves the table as soon as all
// its bytes have passed (or at the timeout).
#pragma once

#include <rte_mbuf.h>

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "dataplane/common/counter.h"
#include "dataplane/packet/parse.h"

namespace nva::nat {

struct FragmentConfig {
  static constexpr std::uint32_t kDefaultDatagrams = 1024;  // power of two
  static constexpr std::uint32_t kDefaultTimeoutMs = 2000;
  std::uint32_t datagrams = kDefaultDatagrams;
  std::uint32_t timeout_ms = kDefaultTimeoutMs;
  // Packet buffers held at once, at most (0: datagrams x kMaxHeld, no cap
  // beyond the table's). The data plane sets it from the pool.
  std::uint32_t max_held_mbufs = 0;
};

// X(member, "metric_name"): the tracker's drops; every fragment it frees
// without passing it on is counted in exactly one.
#define NVA_FRAGMENT_DROPS(X)                                                        \
  X(dropped_too_many, "fragment_too_many")             /* more held than kMaxHeld */ \
  X(dropped_held_cap, "fragment_held_cap")             /* max_held_mbufs reached */  \
  X(dropped_timeout, "fragment_timeout")               /* held until the timeout */  \
  X(dropped_first_conflict, "fragment_first_conflict") /* first, other ports */      \
  X(dropped_evicted, "fragment_evicted")               /* its datagram's slot was taken */

// X(member, "telemetry name", "what it counts"): see common/counter.h.
#define NVA_FRAGMENT_COUNTERS(X)                                                    \
  X(first_seen, "fragment_first_seen", "first fragments seen")                      \
  X(held, "fragments_held", "later fragments held for their first")                 \
  X(released, "fragments_released", "held ones released by their first")            \
  X(duplicate_first, "fragment_duplicate_first", "retransmitted first fragments")   \
  X(completed, "fragment_datagrams_completed", "datagrams whose every byte passed") \
  X(datagrams_evicted, "fragment_datagrams_evicted", "slots taken for a new one")

struct FragmentCounters {
  // for_each() walks NVA_FRAGMENT_COUNTERS; the drops: fragment_drops().
  NVA_COUNTER_SET(NVA_FRAGMENT_COUNTERS)
#define NVA_X(member, metric) Counter member;
  NVA_FRAGMENT_DROPS(NVA_X)
#undef NVA_X
};

#define NVA_X(member, metric) +1
inline constexpr std::size_t kFragmentDropCount = 0 NVA_FRAGMENT_DROPS(NVA_X);
#undef NVA_X
inline constexpr std::array<std::string_view, kFragmentDropCount> kFragmentDropNames = {
#define NVA_X(member, metric) metric,
    NVA_FRAGMENT_DROPS(NVA_X)
#undef NVA_X
};
// The drop counters, in kFragmentDropNames' order.
inline std::array<std::uint64_t, kFragmentDropCount> fragment_drops(
    const FragmentCounters& c) noexcept {
  return {
#define NVA_X(member, metric) c.member.load(),
      NVA_FRAGMENT_DROPS(NVA_X)
#undef NVA_X
  };
}

class FragmentTracker {
 public:
  static constexpr unsigned kMaxHeld = 8;

  explicit FragmentTracker(const FragmentConfig& cfg);
  ~FragmentTracker();
  FragmentTracker(const FragmentTracker&) = delete;
  FragmentTracker& operator=(const FragmentTracker&) = delete;

  struct Ports {
    bool known = false;
    std::uint16_t src = 0, dst = 0;
  };

  // A fragment `m` (parsed as `p`). A first fragment records its ports
  // (from p) and appends the later fragments it releases to `released`;
  // returns the ports for `m` itself. A later fragment gets the recorded
  // ports, or is held (returns known = false and keeps `m`), or is dropped
  // and freed (known = false, counted).
  Ports on_fragment(rte_mbuf* m, const packet::ParsedPacket& p, std::uint32_t now_ms,
                    std::vector<rte_mbuf*>& released) noexcept;

  // Frees datagram entries older than the timeout (and their held
  // fragments); examines at most `budget` slots per call.
  void expire(std::uint32_t now_ms, unsigned budget) noexcept;

  // Frees every entry now; held fragments count as timed out (nothing more
  // will arrive: --replay at the end of its capture).
  void flush() noexcept;

  const FragmentCounters& counters() const noexcept { return counters_; }
  std::uint32_t live() const noexcept { return live_; }
  // Packet buffers held now.
  std::uint32_t held_mbufs() const noexcept { return held_now_; }

 private:
  struct Entry {
    std::uint32_t src = 0, dst = 0;
    std::uint32_t id = 0;  // IPv4 identification
    std::uint8_t proto = 0;
    bool used = false;
    bool ports_known = false;
    std::uint16_t sport = 0, dport = 0;
    std::uint32_t expires = 0;
    std::uint32_t bytes = 0;  // fragment payload bytes seen
    std::uint32_t total = 0;  // datagram payload length, once the last is seen
    std::uint8_t nheld = 0;
    std::array<rte_mbuf*, kMaxHeld> held{};
  };
  // The datagram's entry, made if new (evicting one if the probe is full).
  Entry* find(const packet::ParsedPacket& p, std::uint32_t now_ms) noexcept;
  void account(Entry& e, const packet::ParsedPacket& p) noexcept;
  void drop_expired(Entry& e) noexcept;

  FragmentConfig cfg_;
  std::vector<Entry> table_;
  std::uint32_t mask_;
  std::uint32_t live_ = 0;
  std::uint32_t held_now_ = 0;
  std::uint32_t max_held_;
  std::uint32_t sweep_ = 0;
  FragmentCounters counters_;
};

// The worker that tracks a fragment's datagram: a function of the
// addresses, the identification and the protocol only.
std::uint32_t fragment_owner(const packet::ParsedPacket& p, std::uint32_t workers,
                             std::uint64_t seed) noexcept;

}  // namespace nva::nat
