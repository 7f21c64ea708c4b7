// Virtual reassembly table (see fragments.h).
#include "dataplane/nat/fragments.h"

#include <stdexcept>
#include <string>

#include "dataplane/lb/flow_hash.h"

namespace nva::nat {

namespace {

constexpr bool not_after(std::uint32_t a, std::uint32_t b) noexcept {
  return static_cast<std::int32_t>(a - b) <= 0;
}

// Linear probing over at most this many slots.
constexpr unsigned kProbe = 16;

}  // namespace

std::uint32_t fragment_owner(const packet::ParsedPacket& p, std::uint32_t workers,
                             std::uint64_t seed) noexcept {
  if (workers <= 1) return 0;
  const std::uint64_t h =
      lb::mix64(((std::uint64_t{p.ipv4_src} << 32) | p.ipv4_dst) ^
                lb::mix64((std::uint64_t{p.frag_id} << 8 | p.l4_proto) ^ seed));
  return static_cast<std::uint32_t>((h >> 32) * workers >> 32);
}

FragmentTracker::FragmentTracker(const FragmentConfig& cfg) : cfg_(cfg) {
  if (cfg.datagrams == 0 || (cfg.datagrams & (cfg.datagrams - 1)) != 0) {
    throw std::invalid_argument("fragment table size " + std::to_string(cfg.datagrams) +
                                " is not a power of two");
  }
  table_.resize(cfg.datagrams);
  mask_ = cfg.datagrams - 1;
  max_held_ = cfg.max_held_mbufs != 0 ? cfg.max_held_mbufs : cfg.datagrams * kMaxHeld;
}

FragmentTracker::~FragmentTracker() {
  for (Entry& e : table_) {
    for (unsigned i = 0; i < e.nheld; ++i) rte_pktmbuf_free(e.held[i]);
  }
}

FragmentTracker::Entry* FragmentTracker::find(const packet::ParsedPacket& p,
                                              std::uint32_t now_ms) noexcept {
  const std::uint64_t h = lb::mix64(((std::uint64_t{p.ipv4_src} << 32) | p.ipv4_dst) ^
                                    (std::uint64_t{p.frag_id} << 8) ^ p.l4_proto);
  Entry* free_slot = nullptr;
  for (unsigned i = 0; i < kProbe; ++i) {
    Entry& e = table_[(h + i) & mask_];
    if (e.used && not_after(e.expires, now_ms)) drop_expired(e);  // in passing
    if (!e.used) {
      if (free_slot == nullptr) free_slot = &e;
      continue;
    }
    if (e.src == p.ipv4_src && e.dst == p.ipv4_dst && e.id == p.frag_id &&
        e.proto == p.l4_proto) {
      return &e;
    }
  }
  if (free_slot == nullptr) {
    // Evict: the oldest of the probed datagrams still waiting for their
    // first fragment, else the oldest of them all.
    Entry* victim = nullptr;
    for (unsigned i = 0; i < kProbe; ++i) {
      Entry& e = table_[(h + i) & mask_];
      const bool better = victim == nullptr || (!e.ports_known && victim->ports_known) ||
                          (e.ports_known == victim->ports_known &&
                           static_cast<std::int32_t>(e.expires - victim->expires) < 0);
      if (better) victim = &e;
    }
    counters_.dropped_evicted += victim->nheld;
    held_now_ -= victim->nheld;
    for (unsigned k = 0; k < victim->nheld; ++k) rte_pktmbuf_free(victim->held[k]);
    ++counters_.datagrams_evicted;
    *victim = Entry{};
    --live_;
    free_slot = victim;
  }
  *free_slot = Entry{};
  free_slot->used = true;
  free_slot->src = p.ipv4_src;
  free_slot->dst = p.ipv4_dst;
  free_slot->id = p.frag_id;
  free_slot->proto = p.l4_proto;
  free_slot->expires = now_ms + cfg_.timeout_ms;
  ++live_;
  return free_slot;
}

FragmentTracker::Ports FragmentTracker::on_fragment(
    rte_mbuf* m, const packet::ParsedPacket& p, std::uint32_t now_ms,
    std::vector<rte_mbuf*>& released) noexcept {
  Entry* e = find(p, now_ms);
  if (p.frag == packet::FragState::kFirst) {
    if (e->ports_known) {
      // A retransmitted first fragment: the same ports pass, others do not.
      ++counters_.duplicate_first;
      if (e->sport != p.src_port || e->dport != p.dst_port) {
        ++counters_.dropped_first_conflict;
        rte_pktmbuf_free(m);
        return {};
      }
    }
    ++counters_.first_seen;
    e->ports_known = true;
    e->sport = p.src_port;
    e->dport = p.dst_port;
    counters_.released += e->nheld;
    held_now_ -= e->nheld;
    for (unsigned i = 0; i < e->nheld; ++i) released.push_back(e->held[i]);
    e->nheld = 0;
    const Ports ports{true, e->sport, e->dport};
    account(*e, p);
    return ports;
  }
  if (e->ports_known) {
    const Ports ports{true, e->sport, e->dport};
    account(*e, p);
    return ports;
  }
  if (e->nheld == kMaxHeld) {
    ++counters_.dropped_too_many;
    rte_pktmbuf_free(m);
    return {};
  }
  if (held_now_ >= max_held_) {
    ++counters_.dropped_held_cap;
    rte_pktmbuf_free(m);
    return {};
  }
  e->held[e->nheld++] = m;
  ++held_now_;
  ++counters_.held;
  // Its bytes count now; the entry cannot complete before the first
  // fragment's bytes arrive too.
  e->bytes += p.l3_end - p.l4_offset;
  if (!p.more_fragments) e->total = p.frag_offset + (p.l3_end - p.l4_offset);
  return {};
}

// Adds a passing fragment's bytes; frees the entry once the whole datagram
// has passed (the last fragment gives the length).
void FragmentTracker::account(Entry& e, const packet::ParsedPacket& p) noexcept {
  e.bytes += p.l3_end - p.l4_offset;
  if (!p.more_fragments) e.total = p.frag_offset + (p.l3_end - p.l4_offset);
  if (e.total != 0 && e.bytes >= e.total) {
    ++counters_.completed;
    e = Entry{};
    --live_;
  }
}

void FragmentTracker::expire(std::uint32_t now_ms, unsigned budget) noexcept {
  for (unsigned i = 0; i < budget && live_ > 0; ++i) {
    Entry& e = table_[sweep_];
    sweep_ = (sweep_ + 1) & mask_;
    if (e.used && not_after(e.expires, now_ms)) drop_expired(e);
  }
}

void FragmentTracker::flush() noexcept {
  for (Entry& e : table_) {
    if (e.used) drop_expired(e);
  }
}

void FragmentTracker::drop_expired(Entry& e) noexcept {
  for (unsigned k = 0; k < e.nheld; ++k) rte_pktmbuf_free(e.held[k]);
  counters_.dropped_timeout += e.nheld;
  held_now_ -= e.nheld;
  e = Entry{};
  --live_;
}

}  // namespace nva::nat
