// A tracked connection: both directions' tuples, NAT facts, state, expiry.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

#include "dataplane/packet/checksum.h"

namespace nva::conntrack {

// One direction's 5-tuple as it appears on the wire, host order. 16 bytes,
// compared and hashed as two 64-bit words.
struct alignas(8) ConnKey {
  std::uint32_t src_addr = 0;
  std::uint32_t dst_addr = 0;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint8_t proto = 0;
  std::uint8_t pad[3] = {0, 0, 0};  // always zero: part of the compare

  // From the two words word0() and word1() return.
  static ConnKey from_words(std::uint64_t w0, std::uint64_t w1) noexcept {
    ConnKey k;
    std::memcpy(static_cast<void*>(&k), &w0, 8);
    std::memcpy(reinterpret_cast<char*>(&k) + 8, &w1, 8);
    return k;
  }
  std::uint64_t word0() const noexcept {
    std::uint64_t w;
    std::memcpy(&w, this, 8);
    return w;
  }
  std::uint64_t word1() const noexcept {
    std::uint64_t w;
    std::memcpy(&w, reinterpret_cast<const char*>(this) + 8, 8);
    return w;
  }
  // This tuple reversed (from dst to src) as a packet carries it on the
  // wire: IPv4 bytes 12-19 (source, destination address) and TCP/UDP bytes
  // 0-3 (source, destination port). A packet translated into a connection's
  // direction d gets the other direction's tuple reversed.
  std::uint64_t reversed_addrs_wire() const noexcept {
    if constexpr (std::endian::native == std::endian::little) {
      return __builtin_bswap64(word0());  // src | dst << 32 -> be(dst) be(src)
    }
    return (std::uint64_t{dst_addr} << 32) | src_addr;
  }
  std::uint32_t reversed_ports_wire() const noexcept {
    if constexpr (std::endian::native == std::endian::little) {
      std::uint32_t w;
      std::memcpy(&w, &src_port, 4);  // src_port | dst_port << 16
      return __builtin_bswap32(w);
    }
    return (std::uint32_t{dst_port} << 16) | src_port;
  }

  friend bool operator==(const ConnKey& a, const ConnKey& b) noexcept {
    return a.word0() == b.word0() && a.word1() == b.word1();
  }
};
static_assert(sizeof(ConnKey) == 16);

// Which of a connection's two tuples a packet matched.
enum class Dir : std::uint8_t {
  kOriginal = 0,  // client -> VIP
  kReply = 1,     // backend -> client (dnat) or backend -> SNAT address
};

enum class ConnState : std::uint8_t {
  kNone = 0,
  kTcpSynSent,      // client SYN seen
  kTcpSynReceived,  // backend SYN-ACK seen
  kTcpEstablished,  // handshake completed
  kTcpFinWait,      // a FIN seen from one side
  kTcpClosing,      // FINs from both sides
  kTcpTimeWait,     // both FINs acknowledged, or closing after the last ACK
  kTcpClosed,       // RST seen
  kUdp,             // one direction seen
  kUdpReplied,      // both directions seen
  kIcmp,
};

// One cache line per connection: the record the fast path touches after the
// index. The index holds two references to it (one per direction).
//
// The service and backend indexes it once held are gone (nothing read them,
// and they named entries of a service table that a reload replaces), and so
// is the copy of `expires` the expiry walk compared with (a one-byte
// `refreshed` mark does its work): the 8 bytes pay for both directions'
// next sequence numbers (RFC 5961 checks, state.h).
struct alignas(64) Conn {
  ConnKey key[2];  // [Dir]: the tuple each direction carries on arrival

  std::uint32_t expires = 0;  // ms clock (see expiry)
  std::uint32_t lru_prev = 0;
  std::uint32_t lru_next = 0;
  // [Dir]: TCP, the next sequence number that direction's sender will use
  // (highest SEG.SEQ + SEG.LEN seen and accepted); valid where
  // kConnSeqOrig / kConnSeqReply says so.
  std::uint32_t seq_next[2] = {0, 0};
  // [Dir]: the checksum change of translating that direction's packets
  // (rewrite_delta(); set with the keys, by ConnTable::insert).
  packet::TupleDelta delta[2];
  ConnState state = ConnState::kNone;
  std::uint8_t flags = 0;          // kConnSnat, ... (state.h)
  std::uint8_t timeout_class = 0;  // also the expiry list it is on
  // Set by every refresh, cleared when (re)queued: the expiry walk requeues
  // a refreshed head instead of stopping at it.
  std::uint8_t refreshed = 0;
};
static_assert(sizeof(Conn) == 64, "a connection is one cache line");

inline constexpr std::uint8_t kConnSnat = 1u << 0;

// The checksum change of a packet arriving with tuple `in` that leaves with
// `other` reversed (see ConnKey::reversed_addrs_wire()), TTL decremented.
constexpr packet::TupleDelta rewrite_delta(const ConnKey& in,
                                           const ConnKey& other) noexcept {
  return packet::tuple_delta(
      {in.src_addr, in.dst_addr, in.src_port, in.dst_port},
      {other.dst_addr, other.src_addr, other.dst_port, other.src_port});
}

// The reply tuple of a connection, given what the original direction looks
// like after translation: the reply comes from the translated destination
// back to the translated source.
constexpr ConnKey reply_key(std::uint32_t backend_addr, std::uint16_t backend_port,
                            std::uint32_t src_after_nat, std::uint16_t src_port_after_nat,
                            std::uint8_t proto) noexcept {
  ConnKey k;
  k.src_addr = backend_addr;
  k.dst_addr = src_after_nat;
  k.src_port = backend_port;
  k.dst_port = src_port_after_nat;
  k.proto = proto;
  return k;
}

}  // namespace nva::conntrack
