// The SYN proxy's one number per connection it opened (translator.h): the
// cookie until the backend answers, then the offset between the backend's
// sequence space and the client's. Kept beside the connection table rather
// than in its 64-byte records (full) or in an array of one per connection
// (8 bytes a connection for every connection, proxied or not), so the
// table's memory stays under 80 bytes a connection: an open-addressing
// table keyed by connection index over a power of two of slots, at most an
// eighth of the connection capacity (at most a byte a connection), linear
// probing over at most kProbe slots.
//
// Slots are never emptied (a probe chain never breaks): an entry whose
// connection is gone, or no longer proxied, is stale, and the next insert
// whose probe passes it takes the slot over (`live` tells). Full (kProbe
// live entries in a row): insert() refuses and the caller drops the
// handshake, counted; the client's next segment tries again.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

namespace nva::nat {

class ProxyTable {
 public:
  static constexpr unsigned kProbe = 32;
  static constexpr std::uint32_t kMinSlots = 64;

  explicit ProxyTable(std::uint32_t connections)
      : slots_(std::bit_floor(std::max(kMinSlots, connections / 8))),
        shift_(32 - std::countr_zero(static_cast<std::uint32_t>(slots_.size()))) {}

  std::size_t slots() const noexcept { return slots_.size(); }
  std::size_t bytes() const noexcept { return slots_.size() * sizeof(Slot); }

  // The number kept for connection `idx`; nullptr if it has none.
  std::uint32_t* find(std::uint32_t idx) noexcept {
    const std::uint32_t key = idx + 1;
    const std::uint32_t mask = static_cast<std::uint32_t>(slots_.size()) - 1;
    for (std::uint32_t i = home(idx), n = 0; n < kProbe; ++n, i = (i + 1) & mask) {
      if (slots_[i].key == key) return &slots_[i].value;
      if (slots_[i].key == 0) return nullptr;
    }
    return nullptr;
  }

  // A place for connection `idx`'s number (its old one if it has one);
  // `live(i)` says whether connection i's entry is still needed. nullptr:
  // the probe found only live entries.
  template <typename Live>
  std::uint32_t* insert(std::uint32_t idx, Live&& live) noexcept {
    const std::uint32_t key = idx + 1;
    const std::uint32_t mask = static_cast<std::uint32_t>(slots_.size()) - 1;
    Slot* free = nullptr;
    for (std::uint32_t i = home(idx), n = 0; n < kProbe; ++n, i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.key == key) return &s.value;
      if (s.key == 0) {
        if (free == nullptr) free = &s;
        break;  // the chain ends: idx is not further on
      }
      if (free == nullptr && !live(s.key - 1)) free = &s;
    }
    if (free == nullptr) return nullptr;
    free->key = key;
    return &free->value;
  }

 private:
  struct Slot {
    std::uint32_t key = 0;  // connection index + 1; 0: never used
    std::uint32_t value = 0;
  };
  std::uint32_t home(std::uint32_t idx) const noexcept {
    return (idx * 0x9E3779B1u) >> shift_;  // Fibonacci hashing
  }

  std::vector<Slot> slots_;
  unsigned shift_;
};

}  // namespace nva::nat
