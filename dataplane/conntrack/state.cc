// TCP state transitions and the state -> timeout-class map.
#include "dataplane/conntrack/state.h"

namespace nva::conntrack {

namespace {
constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10;
}  // namespace

TimeoutClass timeout_class(ConnState s, bool assured) noexcept {
  switch (s) {
    case ConnState::kNone:
    case ConnState::kTcpSynSent:
    case ConnState::kTcpSynReceived:
      return TimeoutClass::kTcpEmbryonic;
    case ConnState::kTcpEstablished:
      return assured ? TimeoutClass::kTcpEstablished : TimeoutClass::kTcpEmbryonic;
    case ConnState::kTcpFinWait:
    case ConnState::kTcpClosing:
      return assured ? TimeoutClass::kTcpClosing : TimeoutClass::kTcpEmbryonic;
    case ConnState::kTcpTimeWait:
      return assured ? TimeoutClass::kTcpTimeWait : TimeoutClass::kTcpEmbryonic;
    case ConnState::kTcpClosed:
      return TimeoutClass::kTcpClosed;
    case ConnState::kUdp:
      return TimeoutClass::kUdp;
    case ConnState::kUdpReplied:
      return TimeoutClass::kUdpReplied;
    case ConnState::kIcmp:
      return TimeoutClass::kIcmp;
  }
  return TimeoutClass::kTcpClosed;
}

std::string_view state_name(ConnState s) noexcept {
  switch (s) {
    case ConnState::kNone:
      return "none";
    case ConnState::kTcpSynSent:
      return "syn_sent";
    case ConnState::kTcpSynReceived:
      return "syn_received";
    case ConnState::kTcpEstablished:
      return "established";
    case ConnState::kTcpFinWait:
      return "fin_wait";
    case ConnState::kTcpClosing:
      return "closing";
    case ConnState::kTcpTimeWait:
      return "time_wait";
    case ConnState::kTcpClosed:
      return "closed";
    case ConnState::kUdp:
      return "udp";
    case ConnState::kUdpReplied:
      return "udp_replied";
    case ConnState::kIcmp:
      return "icmp";
  }
  return "unknown";
}

std::string_view timeout_class_name(TimeoutClass c) noexcept {
  switch (c) {
    case TimeoutClass::kTcpEmbryonic:
      return "tcp_embryonic";
    case TimeoutClass::kTcpEstablished:
      return "tcp_established";
    case TimeoutClass::kTcpClosing:
      return "tcp_closing";
    case TimeoutClass::kTcpTimeWait:
      return "tcp_time_wait";
    case TimeoutClass::kTcpClosed:
      return "tcp_closed";
    case TimeoutClass::kUdp:
      return "udp";
    case TimeoutClass::kUdpReplied:
      return "udp_replied";
    case TimeoutClass::kIcmp:
      return "icmp";
    case TimeoutClass::kCount:
      break;
  }
  return "unknown";
}

ConnState tcp_next(ConnState cur, Dir dir, std::uint8_t f,
                   std::uint8_t& conn_flags) noexcept {
  const bool orig = dir == Dir::kOriginal;
  if (f & kRst) return ConnState::kTcpClosed;

  // A fresh SYN from the client on a finished tuple starts it over.
  if (orig && (f & kSyn) && !(f & kAck) &&
      (cur == ConnState::kTcpTimeWait || cur == ConnState::kTcpClosed ||
       cur == ConnState::kNone)) {
    conn_flags &=
        static_cast<std::uint8_t>(~(kConnFinOrig | kConnFinReply | kConnAssured |
                                    kConnSeqOrig | kConnSeqReply | kConnSynProxy));
    return ConnState::kTcpSynSent;
  }

  // A connection picked up mid-stream is assured by its backend's answer.
  if (!orig && !(conn_flags & kConnAssured) && cur != ConnState::kTcpSynSent &&
      cur != ConnState::kTcpSynReceived && cur != ConnState::kTcpClosed &&
      cur != ConnState::kNone) {
    conn_flags |= kConnAssured;
  }

  if (f & kFin) {
    conn_flags |= orig ? kConnFinOrig : kConnFinReply;
    const bool both = (conn_flags & kConnFinOrig) && (conn_flags & kConnFinReply);
    switch (cur) {
      case ConnState::kTcpSynSent:
      case ConnState::kTcpSynReceived:
        // Before the handshake completes a FIN is noted, nothing more: the
        // connection stays embryonic (a SYN+FIN flood holds nothing long).
        if (cur == ConnState::kTcpSynReceived && orig && (f & kAck) && !(f & kSyn)) {
          conn_flags |= kConnAssured;  // the ACK completes the handshake
          return both ? ConnState::kTcpClosing : ConnState::kTcpFinWait;
        }
        return cur;
      case ConnState::kTcpEstablished:
      case ConnState::kTcpFinWait:
        return both ? ConnState::kTcpClosing : ConnState::kTcpFinWait;
      default:
        return cur;  // CLOSING, TIME_WAIT, CLOSED: FIN retransmits change nothing
    }
  }

  switch (cur) {
    case ConnState::kTcpSynSent:
      if (!orig && (f & kSyn) && (f & kAck)) return ConnState::kTcpSynReceived;
      return cur;
    case ConnState::kTcpSynReceived:
      if (orig && (f & kAck) && !(f & kSyn)) {
        conn_flags |= kConnAssured;  // both directions seen: the handshake is done
        if ((conn_flags & kConnFinOrig) && (conn_flags & kConnFinReply)) {
          return ConnState::kTcpClosing;
        }
        return (conn_flags & (kConnFinOrig | kConnFinReply)) ? ConnState::kTcpFinWait
                                                             : ConnState::kTcpEstablished;
      }
      return cur;
    case ConnState::kTcpClosing:
      if (f & kAck) return ConnState::kTcpTimeWait;  // the last FIN acknowledged
      return cur;
    default:
      return cur;
  }
}

SegmentVerdict tcp_track(Conn& c, Dir dir, const TcpSegment& s,
                         ConnState& next) noexcept {
  const unsigned d = static_cast<unsigned>(dir), o = 1 - d;
  const bool orig = dir == Dir::kOriginal;
  const std::uint8_t dbit = orig ? kConnSeqOrig : kConnSeqReply;
  const std::uint8_t obit = orig ? kConnSeqReply : kConnSeqOrig;
  const bool known_d = (c.flags & dbit) != 0, known_o = (c.flags & obit) != 0;
  const bool has_ack = (s.flags & kAck) != 0;
  const std::uint32_t end = seg_end(s);
  next = c.state;

  if (s.flags & kRst) {
    if (c.state == ConnState::kTcpSynSent && !orig) {
      // RFC 9293 3.10.7.3: in SYN-SENT a reset is acceptable only if it
      // acknowledges the SYN.
      if (!has_ack || !known_o || s.ack != c.seq_next[o]) return SegmentVerdict::kDrop;
    } else if (known_d && c.state != ConnState::kTcpClosed) {
      const std::uint32_t off = s.seq - c.seq_next[d];
      if (off != 0) {
        return off + kRstWindow <= 2 * kRstWindow ? SegmentVerdict::kIgnore
                                                  : SegmentVerdict::kDrop;
      }
    }
    next = tcp_next(c.state, dir, s.flags, c.flags);
    return SegmentVerdict::kAccept;
  }

  if (s.flags & kSyn) {
    if (orig && !has_ack) {
      switch (c.state) {
        case ConnState::kNone:
        case ConnState::kTcpSynSent:
        case ConnState::kTcpTimeWait:
        case ConnState::kTcpClosed:
          // A new SYN, its retransmit, or a reuse of a finished tuple.
          next = tcp_next(c.state, dir, s.flags, c.flags);
          c.seq_next[d] = end;
          c.flags |= dbit;
          return SegmentVerdict::kAccept;
        default:
          return SegmentVerdict::kIgnore;  // synchronized: RFC 5961 section 4
      }
    }
    if (!orig && has_ack &&
        (c.state == ConnState::kTcpSynSent || c.state == ConnState::kTcpSynReceived)) {
      // The SYN-ACK must acknowledge the client's SYN.
      if (known_o && s.ack != c.seq_next[o]) return SegmentVerdict::kIgnore;
      next = tcp_next(c.state, dir, s.flags, c.flags);
      c.seq_next[d] = end;
      c.flags |= dbit;
      return SegmentVerdict::kAccept;
    }
    return SegmentVerdict::kIgnore;  // SYN-ACK from the client, SYN from the backend, ...
  }

  // ACKs, data, FINs. The handshake completes only with an ACK of the
  // SYN-ACK; otherwise the ACK must be plausible (see state.h) to advance
  // this direction's sequence or change the state.
  if (c.state == ConnState::kTcpSynReceived && orig && has_ack && known_o &&
      s.ack != c.seq_next[o]) {
    return SegmentVerdict::kIgnore;
  }
  if (known_o && (!has_ack || c.seq_next[o] - s.ack > kAckWindow)) {
    return SegmentVerdict::kIgnore;
  }
  if (!known_d || static_cast<std::int32_t>(end - c.seq_next[d]) > 0) {
    c.seq_next[d] = end;
    c.flags |= dbit;
  }
  next = tcp_next(c.state, dir, s.flags, c.flags);
  return SegmentVerdict::kAccept;
}

}  // namespace nva::conntrack
