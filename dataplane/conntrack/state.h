// Connection state from packet flags in both directions, and idle timeouts.
//
//   TCP (flags seen on either direction; "orig" = client -> VIP):
//
//        orig SYN                reply SYN+ACK             orig ACK
//   [new] -------> SYN_SENT ----------------> SYN_RECEIVED --------> ESTABLISHED
//                     |  \__ orig SYN (retransmit) stays     (ASSURED) |
//                     |  \__ FIN (either): stays, FIN noted             | FIN (either)
//                     |                                                v
//                     |                                             FIN_WAIT
//                     |                                                | FIN (other side)
//                     |                                                v
//                     |                    TIME_WAIT <---- ACK ---- CLOSING
//   RST (either direction, any state) -> CLOSED, if acceptable (below)
//   orig SYN in TIME_WAIT or CLOSED -> SYN_SENT (the tuple is reused)
//   orig SYN in a synchronized state: ignored (RFC 5961 section 4: the
//   endpoint answers it with a challenge ACK; we keep state and sequences)
//
//   A connection picked up mid-stream (tcp_pickup) starts in ESTABLISHED
//   without ASSURED; it becomes ASSURED when the backend answers (a reply
//   that acknowledges the client's sequence).
//
//   UDP: first packet -> UDP (unreplied); a reply -> UDP_REPLIED.
//   ICMP queries: ICMP.
//
// ASSURED (netfilter's word): the reply direction has answered. Until then
// a TCP connection, whatever its state, lives in the embryonic class (short,
// evictable): a SYN flood, spoofed mid-stream ACKs and FINs or RSTs before
// the handshake completes all stay there. CLOSED and unreplied UDP are
// evictable too; an assured connection never is (tracker.h).
//
// Sequence checks (RFC 5961, as a middlebox can do them with 8 bytes):
// Conn::seq_next[d] is the next sequence number of direction d's sender,
// the highest SEG.SEQ + SEG.LEN accepted. A segment advances it only if
// its ACK is plausible, i.e. acknowledges nothing the other side has not
// sent and lags it by at most kAckWindow (a blind sender must guess the
// other direction's sequence too). An RST closes the connection only if
// SEG.SEQ is exactly seq_next[d]; within kRstWindow of it, it is forwarded
// and changes nothing (the endpoint sends its challenge ACK, and the exact
// RST that follows it closes us too); farther away it is dropped. The
// handshake completes only with an ACK of the SYN-ACK's sequence + 1.
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
  kTcpEmbryonic = 0,  // SYN_SENT, SYN_RECEIVED, any TCP not assured: evictable
  kTcpEstablished,
  kTcpClosing,  // FIN_WAIT, CLOSING
  kTcpTimeWait,
  kTcpClosed,  // after RST: evictable
  kUdp,        // unreplied: evictable
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

// The class of a connection in state `s`, assured (kConnAssured) or not.
TimeoutClass timeout_class(ConnState s, bool assured) noexcept;
inline TimeoutClass timeout_class(const Conn& c) noexcept;
std::string_view state_name(ConnState s) noexcept;
std::string_view timeout_class_name(TimeoutClass c) noexcept;

// Connection flags kept in Conn::flags beside kConnSnat.
inline constexpr std::uint8_t kConnFinOrig = 1u << 1;   // FIN seen client -> VIP
inline constexpr std::uint8_t kConnFinReply = 1u << 2;  // FIN seen backend -> client
inline constexpr std::uint8_t kConnAssured = 1u << 3;   // the reply direction answered
inline constexpr std::uint8_t kConnSeqOrig = 1u << 4;   // seq_next[kOriginal] is set
inline constexpr std::uint8_t kConnSeqReply = 1u << 5;  // seq_next[kReply] is set
// Opened by the SYN proxy (nat/translator.h): the client's handshake was
// with the NVA's SYN cookie, so the two sides' views of the backend's
// sequence differ by an offset the translator keeps beside the table.
// seq_next[] and all checks are in the backend's (the wire's reply) space.
inline constexpr std::uint8_t kConnSynProxy = 1u << 6;

inline TimeoutClass timeout_class(const Conn& c) noexcept {
  return timeout_class(c.state, (c.flags & kConnAssured) != 0);
}

// The next TCP state after a packet with `tcp_flags` in direction `dir`,
// from the flags alone; updates the FIN and ASSURED bits in `conn_flags`
// (a tuple reused by a new SYN starts with none of them).
ConnState tcp_next(ConnState cur, Dir dir, std::uint8_t tcp_flags,
                   std::uint8_t& conn_flags) noexcept;

// What the sequence checks need of a TCP segment, host order.
struct TcpSegment {
  std::uint8_t flags = 0;
  std::uint32_t seq = 0;  // SEG.SEQ
  // SEG.SEQ + the payload length; SEG.LEN also counts SYN and FIN, which
  // seg_end() adds (the established fast path sees neither).
  std::uint32_t end = 0;
  std::uint32_t ack = 0;  // SEG.ACK; meaningful with the ACK flag
};
// SEG.SEQ + SEG.LEN.
constexpr std::uint32_t seg_end(const TcpSegment& s) noexcept {
  return s.end + (s.flags & 1u) + ((s.flags >> 1) & 1u);  // FIN 0x01, SYN 0x02
}

// How far an RST's sequence may be from seq_next and still be forwarded
// (without any state change), and how far a segment's ACK may lag the
// other direction's seq_next and still advance this direction's.
inline constexpr std::uint32_t kRstWindow = 1u << 20;
inline constexpr std::uint32_t kAckWindow = 1u << 20;

enum class SegmentVerdict : std::uint8_t {
  kAccept,  // state and sequences updated
  kIgnore,  // forwarded, state and sequences untouched (see the diagram)
  kDrop,    // an RST outside the window: the caller drops and counts it
};

// tcp_next() with the sequence checks above, for connection `c` (its
// state, flags and seq_next; `next` gets the new state, which the caller
// stores, moving the connection between lists). Flags and seq_next are
// updated only on kAccept.
SegmentVerdict tcp_track(Conn& c, Dir dir, const TcpSegment& s, ConnState& next) noexcept;

// UDP: the first packet makes kUdp; a reply makes it kUdpReplied.
constexpr ConnState udp_next(ConnState cur, Dir dir) noexcept {
  return dir == Dir::kReply || cur == ConnState::kUdpReplied ? ConnState::kUdpReplied
                                                             : ConnState::kUdp;
}

}  // namespace nva::conntrack
