// Connection state from packet flags in both directions, and idle timeouts.
//
//   TCP (flags seen on either direction; "orig" = client -> VIP):
//
//        orig SYN                reply SYN+ACK             orig ACK
//   [new] -------> SYN_SENT ----------------> SYN_RECEIVED --------> ESTABLISHED
//                     |  \__ orig SYN (retransmit) stays               |
//                     |                                                | FIN (either)
//                     +---------------- FIN (either) ----------------> FIN_WAIT
//                                                                      | FIN (other side)
//                                                                      v
//                                          TIME_WAIT <---- ACK ---- CLOSING
//   RST (either direction, any state) -> CLOSED
//   orig SYN in TIME_WAIT or CLOSED -> SYN_SENT (the tuple is reused)
//
//   UDP: first packet -> UDP (unreplied); a reply -> UDP_REPLIED.
//   ICMP queries: ICMP.
//
// Every state maps to a timeout class; the connection expires after that
// long without a packet. A change of class moves the connection between
// expiry lists (tracker.h).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "dataplane/conntrack/conn.h"

namespace nva::conntrack {

enum class TimeoutClass : std::uint8_t {
  kTcpEmbryonic = 0,  // SYN_SENT, SYN_RECEIVED: evictable under pressure
  kTcpEstablished,
  kTcpClosing,  // FIN_WAIT, CLOSING
  kTcpTimeWait,
  kTcpClosed,  // after RST
  kUdp,        // unreplied
  kUdpReplied,
  kIcmp,
  kCount,
};
inline constexpr std::size_t kTimeoutClassCount =
    static_cast<std::size_t>(TimeoutClass::kCount);

// Idle timeouts in milliseconds. Defaults follow RFC 5382 (TCP: established
// at least 2 h 4 min, transitory at least 4 min) and RFC 4787 (UDP at least
// 2 min, 5 min recommended), with short embryonic and closed timeouts so a
// SYN flood or RST storm frees its state quickly.
struct Timeouts {
  static constexpr std::uint32_t kDefaultTcpEmbryonicMs = 30'000;
  static constexpr std::uint32_t kDefaultTcpEstablishedMs = 7'440'000;
  static constexpr std::uint32_t kDefaultTcpClosingMs = 240'000;
  static constexpr std::uint32_t kDefaultTcpTimeWaitMs = 120'000;
  static constexpr std::uint32_t kDefaultTcpClosedMs = 10'000;
  static constexpr std::uint32_t kDefaultUdpMs = 30'000;
  static constexpr std::uint32_t kDefaultUdpRepliedMs = 300'000;
  static constexpr std::uint32_t kDefaultIcmpMs = 30'000;

  std::array<std::uint32_t, kTimeoutClassCount> ms = {
      kDefaultTcpEmbryonicMs, kDefaultTcpEstablishedMs,
      kDefaultTcpClosingMs,   kDefaultTcpTimeWaitMs,
      kDefaultTcpClosedMs,    kDefaultUdpMs,
      kDefaultUdpRepliedMs,   kDefaultIcmpMs};

  std::uint32_t of(TimeoutClass c) const noexcept {
    return ms[static_cast<std::size_t>(c)];
  }
};

// Longest timeout allowed: expiry compares 32-bit millisecond clocks.
inline constexpr std::uint32_t kMaxTimeoutMs = 1u << 30;  // ~12 days

TimeoutClass timeout_class(ConnState s) noexcept;
std::string_view state_name(ConnState s) noexcept;
std::string_view timeout_class_name(TimeoutClass c) noexcept;

// Connection flags kept in Conn::flags beside kConnSnat.
inline constexpr std::uint8_t kConnFinOrig = 1u << 1;   // FIN seen client -> VIP
inline constexpr std::uint8_t kConnFinReply = 1u << 2;  // FIN seen backend -> client

// The next TCP state after a packet with `tcp_flags` in direction `dir`;
// updates the FIN bits in `conn_flags`.
ConnState tcp_next(ConnState cur, Dir dir, std::uint8_t tcp_flags,
                   std::uint8_t& conn_flags) noexcept;

// UDP: the first packet makes kUdp; a reply makes it kUdpReplied.
constexpr ConnState udp_next(ConnState cur, Dir dir) noexcept {
  return dir == Dir::kReply || cur == ConnState::kUdpReplied ? ConnState::kUdpReplied
                                                             : ConnState::kUdp;
}

}  // namespace nva::conntrack
