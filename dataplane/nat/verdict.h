// What the translator decided for a packet, and why it dropped one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace nva::nat {

enum class Verdict : std::uint8_t {
  kForward,     // translated in place: send it out
  kReplyLocal,  // answered in place by the NVA (echo request to a VIP): send back
  // Rewritten in place to another length (Translator::reply_len(), the SYN
  // proxy's packets): trim or extend the buffer, then send it out.
  kForwardResized,
  // Kept by the caller (the SYN proxy's first data segment while the
  // backend has not answered, Translator::held_conn()), who processes it
  // again when the translator says so (Translator::take_release()).
  kHold,
  kException,  // not data-plane traffic: the kernel's (exception path) or a drop
  kDrop,       // dropped; the reason is counted
};

// X(enumerator, value, "metric_name"). Values are stable: append only.
#define NVA_NAT_DROP_REASONS(X)                       \
  X(kNone, 0, "none")                                 \
  X(kNoService, 1, "no_service")                      \
  X(kNoBackend, 2, "no_backend")                      \
  X(kTtlExceeded, 3, "ttl_exceeded")                  \
  X(kTableFull, 4, "table_full")                      \
  X(kSnatPortsExhausted, 5, "snat_ports_exhausted")   \
  X(kUnknownReturn, 6, "unknown_return")              \
  X(kMidstreamNoConn, 7, "midstream_no_conn")         \
  X(kReplyTupleInUse, 8, "reply_tuple_in_use")        \
  X(kFragment, 9, "fragment")                         \
  X(kIpv6, 10, "ipv6")                                \
  X(kUnsupportedProtocol, 11, "unsupported_protocol") \
  X(kIcmpErrorUntracked, 12, "icmp_error_untracked")  \
  X(kWrongWorker, 13, "wrong_worker")                 \
  X(kFragmentNoConn, 14, "fragment_no_conn")          \
  X(kDeadBackend, 15, "dead_backend")                 \
  X(kTcpOutOfWindow, 16, "tcp_out_of_window")         \
  X(kSynProxyNoRoom, 17, "syn_proxy_no_room")         \
  X(kSynProxyFull, 18, "syn_proxy_full")

enum class NatDrop : std::uint8_t {
#define NVA_X(name, value, metric) name = value,
  NVA_NAT_DROP_REASONS(NVA_X)
#undef NVA_X
};
// Counted from the list, and the values are 0..count-1 with none skipped:
// counter arrays are indexed by value.
#define NVA_X(name, value, metric) +1
inline constexpr std::size_t kNatDropCount = 0 NVA_NAT_DROP_REASONS(NVA_X);
#undef NVA_X
#define NVA_X(name, value, metric) \
  static_assert(static_cast<std::size_t>(NatDrop::name) < kNatDropCount);
NVA_NAT_DROP_REASONS(NVA_X)
#undef NVA_X

std::string_view nat_drop_name(NatDrop d) noexcept;

}  // namespace nva::nat
