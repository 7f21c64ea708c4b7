// Connection tracking: expiry lists, lazy requeue, eviction under pressure.
#include "dataplane/conntrack/tracker.h"

#include <stdexcept>
#include <string>

namespace nva::conntrack {

namespace {

// Wrap-safe "a is at or before b" on 32-bit millisecond clocks.
constexpr bool not_after(std::uint32_t a, std::uint32_t b) noexcept {
  return static_cast<std::int32_t>(a - b) <= 0;
}

constexpr std::uint8_t kTcpProto = 6, kUdpProto = 17;

}  // namespace

ConnTracker::ConnTracker(std::uint32_t capacity, const Timeouts& timeouts, TableKey key)
    : table_(capacity, key), timeouts_(timeouts) {
  for (std::size_t i = 0; i < kTimeoutClassCount; ++i) {
    if (timeouts.ms[i] == 0 || timeouts.ms[i] > kMaxTimeoutMs) {
      throw std::invalid_argument(
          std::string("timeout ") +
          std::string(timeout_class_name(static_cast<TimeoutClass>(i))) + " of " +
          std::to_string(timeouts.ms[i]) + " ms is outside 1.." +
          std::to_string(kMaxTimeoutMs));
    }
  }
}

void ConnTracker::link_tail(std::uint32_t idx, TimeoutClass cls) noexcept {
  List& l = lists_[static_cast<std::size_t>(cls)];
  Conn& c = table_.conn(idx);
  c.timeout_class = static_cast<std::uint8_t>(cls);
  c.refreshed = 0;
  c.lru_prev = l.tail;
  c.lru_next = ConnRef::kNone;
  if (l.tail != ConnRef::kNone) {
    table_.conn(l.tail).lru_next = idx;
  } else {
    l.head = idx;
  }
  l.tail = idx;
  ++l.size;
}

bool ConnTracker::consistent() const noexcept {
  std::uint64_t total = 0;
  for (std::size_t cls = 0; cls < kTimeoutClassCount; ++cls) {
    const List& l = lists_[cls];
    std::uint32_t n = 0, prev = ConnRef::kNone;
    for (std::uint32_t i = l.head; i != ConnRef::kNone; i = table_.conn(i).lru_next) {
      const Conn& c = table_.conn(i);
      if (++n > l.size || c.timeout_class != cls || c.lru_prev != prev) return false;
      for (unsigned d = 0; d < 2; ++d) {
        const ConnRef r = table_.lookup(c.key[d]);
        if (!r.found() || r.index() != i || static_cast<unsigned>(r.dir()) != d)
          return false;
      }
      prev = i;
    }
    if (n != l.size || l.tail != prev) return false;
    total += n;
  }
  return total == table_.size();
}

void ConnTracker::unlink(std::uint32_t idx) noexcept {
  Conn& c = table_.conn(idx);
  List& l = lists_[c.timeout_class];
  if (c.lru_prev != ConnRef::kNone) {
    table_.conn(c.lru_prev).lru_next = c.lru_next;
  } else {
    l.head = c.lru_next;
  }
  if (c.lru_next != ConnRef::kNone) {
    table_.conn(c.lru_next).lru_prev = c.lru_prev;
  } else {
    l.tail = c.lru_prev;
  }
  --l.size;
}

void ConnTracker::requeue(std::uint32_t idx) noexcept {
  const auto cls = static_cast<TimeoutClass>(table_.conn(idx).timeout_class);
  unlink(idx);
  link_tail(idx, cls);
  ++counters_.requeued;
}

bool ConnTracker::evict_one(std::uint32_t now_ms) noexcept {
  constexpr TimeoutClass kEvictable[] = {TimeoutClass::kTcpEmbryonic, TimeoutClass::kUdp,
                                         TimeoutClass::kTcpClosed};
  // A few refreshed heads go to their tail first (as expire() would move
  // them), so that the one compared has been idle since it was queued.
  constexpr unsigned kRequeues = 4;
  std::uint32_t victim = ConnRef::kNone, victim_idle = 0;
  TimeoutClass victim_cls = TimeoutClass::kTcpEmbryonic;
  for (const TimeoutClass cls : kEvictable) {
    const List& l = lists_[static_cast<std::size_t>(cls)];
    for (unsigned i = 0;
         i < kRequeues && l.head != ConnRef::kNone && table_.conn(l.head).refreshed;
         ++i) {
      requeue(l.head);
    }
    if (l.head == ConnRef::kNone) continue;
    const std::uint32_t idle = idle_ms(l.head, now_ms);
    if (victim == ConnRef::kNone || static_cast<std::int32_t>(idle - victim_idle) > 0) {
      victim = l.head;
      victim_idle = idle;
      victim_cls = cls;
    }
  }
  if (victim == ConnRef::kNone) return false;
  remove(victim);
  switch (victim_cls) {
    case TimeoutClass::kUdp:
      ++counters_.evicted_unreplied;
      break;
    case TimeoutClass::kTcpClosed:
      ++counters_.evicted_closed;
      break;
    default:
      ++counters_.evicted_embryonic;
      break;
  }
  return true;
}

std::uint32_t ConnTracker::create(const ConnKey& original, const ConnKey& reply,
                                  ConnState state, std::uint32_t now_ms,
                                  std::uint8_t flags) noexcept {
  std::uint32_t idx = table_.insert(original, reply);
  if (idx == ConnRef::kNone && table_.size() == table_.capacity() && evict_one(now_ms)) {
    idx = table_.insert(original, reply);
  }
  if (idx == ConnRef::kNone) {
    ++counters_.dropped_table_full;
    return ConnRef::kNone;
  }
  Conn& c = table_.conn(idx);
  c.state = state;
  c.flags = flags;
  const TimeoutClass cls = timeout_class(c);
  c.timeout_class = static_cast<std::uint8_t>(cls);
  refresh(c, now_ms);
  link_tail(idx, cls);
  ++counters_.created;
  return idx;
}

void ConnTracker::apply(std::uint32_t idx, ConnState s, std::uint32_t now_ms) noexcept {
  Conn& c = table_.conn(idx);
  c.state = s;
  const auto cls = static_cast<std::uint8_t>(timeout_class(c));
  if (cls != c.timeout_class) {
    unlink(idx);
    c.timeout_class = cls;
    refresh(c, now_ms);
    link_tail(idx, static_cast<TimeoutClass>(cls));
  } else {
    refresh(c, now_ms);
  }
}

ConnState ConnTracker::on_packet_slow(std::uint32_t idx, Dir dir, std::uint8_t tcp_flags,
                                      std::uint32_t now_ms) noexcept {
  Conn& c = table_.conn(idx);
  ConnState next = c.state;
  const std::uint8_t proto = c.key[0].proto;
  if (proto == kTcpProto) {
    next = tcp_next(c.state, dir, tcp_flags, c.flags);
  } else if (proto == kUdpProto) {
    next = udp_next(c.state, dir);
  }
  apply(idx, next, now_ms);
  return next;
}

SegmentVerdict ConnTracker::on_tcp_slow(std::uint32_t idx, Dir dir, const TcpSegment& s,
                                        std::uint32_t now_ms) noexcept {
  Conn& c = table_.conn(idx);
  ConnState next = c.state;
  const SegmentVerdict v = tcp_track(c, dir, s, next);
  switch (v) {
    case SegmentVerdict::kAccept:
      apply(idx, next, now_ms);
      break;
    case SegmentVerdict::kIgnore:
      ++counters_.tcp_ignored;
      break;
    case SegmentVerdict::kDrop:
      break;
  }
  return v;
}

void ConnTracker::remove(std::uint32_t idx) noexcept {
  unlink(idx);
  table_.erase(idx);
}

// Due connections leave their list at once and leave the index in batches:
// the walk prefetches each next record, every victim's index buckets are
// prefetched when it is found and erased kBatch at a time, so that the
// cache misses of a batch overlap instead of following one another.
unsigned ConnTracker::expire(std::uint32_t now_ms, unsigned budget) noexcept {
  constexpr unsigned kBatch = 16;
  std::uint32_t victims[kBatch];
  ConnTable::EraseHint hints[kBatch];
  unsigned nv = 0;
  auto erase_victims = [&] {
    for (unsigned i = 0; i < nv; ++i) table_.erase(victims[i], hints[i]);
    nv = 0;
  };
  unsigned freed = 0;
  for (std::size_t cls = 0; cls < kTimeoutClassCount && budget > 0; ++cls) {
    List& l = lists_[cls];
    while (budget > 0 && l.head != ConnRef::kNone) {
      --budget;
      const std::uint32_t idx = l.head;
      Conn& c = table_.conn(idx);
      if (c.lru_next != ConnRef::kNone) table_.prefetch_record(c.lru_next);
      if (not_after(c.expires, now_ms)) {
        unlink(idx);
        hints[nv] = table_.prepare_erase(idx);
        victims[nv++] = idx;
        if (nv == kBatch) erase_victims();
        ++counters_.expired;
        ++freed;
      } else if (c.refreshed) {
        // Refreshed by packets since it was queued: requeue it at the tail
        // with its new expiry, and look at the next one.
        unlink(idx);
        link_tail(idx, static_cast<TimeoutClass>(cls));
        ++counters_.requeued;
      } else {
        // Not refreshed and not due: entries behind it were queued later
        // (give or take the requeue lag), so stop here.
        break;
      }
    }
  }
  erase_victims();
  return freed;
}

}  // namespace nva::conntrack
