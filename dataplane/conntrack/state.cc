// TCP state transitions and the state -> timeout-class map.
#include "dataplane/conntrack/state.h"

namespace nva::conntrack {

namespace {
constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10;
}  // namespace

TimeoutClass timeout_class(ConnState s) noexcept {
  switch (s) {
    case ConnState::kNone:
    case ConnState::kTcpSynSent:
    case ConnState::kTcpSynReceived:
      return TimeoutClass::kTcpEmbryonic;
    case ConnState::kTcpEstablished:
      return TimeoutClass::kTcpEstablished;
    case ConnState::kTcpFinWait:
    case ConnState::kTcpClosing:
      return TimeoutClass::kTcpClosing;
    case ConnState::kTcpTimeWait:
      return TimeoutClass::kTcpTimeWait;
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
    conn_flags &= static_cast<std::uint8_t>(~(kConnFinOrig | kConnFinReply));
    return ConnState::kTcpSynSent;
  }

  if (f & kFin) {
    conn_flags |= orig ? kConnFinOrig : kConnFinReply;
    const bool both = (conn_flags & kConnFinOrig) && (conn_flags & kConnFinReply);
    switch (cur) {
      case ConnState::kTcpSynSent:
      case ConnState::kTcpSynReceived:
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
      if (orig && (f & kAck) && !(f & kSyn)) return ConnState::kTcpEstablished;
      return cur;
    case ConnState::kTcpClosing:
      if (f & kAck) return ConnState::kTcpTimeWait;  // the last FIN acknowledged
      return cur;
    default:
      return cur;
  }
}

}  // namespace nva::conntrack
