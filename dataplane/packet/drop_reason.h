// Stable, enumerated reasons a packet is not forwarded, each with a name.
//
// The numeric values are part of the interface (counters, telemetry, logs):
// append new reasons, never renumber or reuse one.
#pragma once

#include <cstdint>
#include <string_view>

namespace nva::packet {

// X(enumerator, value, "metric_name", "what happened")
#define NVA_PARSE_DROP_REASONS(X)                                                        \
  X(kNone, 0, "none", "no drop")                                                         \
  X(kEthTruncated, 1, "eth_truncated", "frame shorter than an Ethernet header")          \
  X(kVlanTruncated, 2, "vlan_truncated", "VLAN tag cut short")                           \
  X(kVlanTooDeep, 3, "vlan_too_deep", "more VLAN tags than the cap")                     \
  X(kNotIp, 4, "not_ip", "EtherType is neither IPv4 nor IPv6")                           \
  X(kIpv4Truncated, 5, "ipv4_truncated", "IPv4 header cut short")                        \
  X(kIpv4BadVersion, 6, "ipv4_bad_version", "IPv4 version field is not 4")               \
  X(kIpv4BadIhl, 7, "ipv4_bad_ihl", "IPv4 IHL below 5")                                  \
  X(kIpv4BadTotalLength, 8, "ipv4_bad_total_length",                                     \
    "IPv4 total length below the header or beyond the frame")                            \
  X(kIpv4BadOptions, 9, "ipv4_bad_options", "IPv4 option runs past header")              \
  X(kIpv4BadFragment, 10, "ipv4_bad_fragment", "IPv4 fragment beyond 65535 bytes")       \
  X(kIpv6Truncated, 11, "ipv6_truncated", "IPv6 header cut short")                       \
  X(kIpv6BadVersion, 12, "ipv6_bad_version", "IPv6 version field is not 6")              \
  X(kIpv6BadPayloadLength, 13, "ipv6_bad_payload_length",                                \
    "IPv6 payload length beyond the frame (or jumbogram)")                               \
  X(kIpv6ExtTruncated, 14, "ipv6_ext_truncated", "IPv6 extension header cut short")      \
  X(kIpv6ExtTooMany, 15, "ipv6_ext_too_many",                                            \
    "more IPv6 extension headers than the cap")                                          \
  X(kIpv6HopByHopNotFirst, 16, "ipv6_hop_by_hop_not_first",                              \
    "Hop-by-Hop options header after the first position")                                \
  X(kIpv6BadFragment, 17, "ipv6_bad_fragment",                                           \
    "IPv6 fragment header repeated or fragment beyond 65535 bytes")                      \
  X(kTcpTruncated, 18, "tcp_truncated", "TCP header cut short")                          \
  X(kTcpBadDataOffset, 19, "tcp_bad_data_offset",                                        \
    "TCP data offset below 5 or beyond the IP payload")                                  \
  X(kUdpTruncated, 20, "udp_truncated", "UDP header cut short")                          \
  X(kUdpBadLength, 21, "udp_bad_length", "UDP length below 8 or beyond the IP payload")  \
  X(kIcmpTruncated, 22, "icmp_truncated", "ICMP header cut short")                       \
  X(kIcmpv6Truncated, 23, "icmpv6_truncated", "ICMPv6 header cut short")                 \
  X(kHeadersSplit, 24, "headers_split", "headers span more than the first mbuf segment") \
  X(kTcpFragmentOverlap, 25, "tcp_fragment_overlap",                                     \
    "TCP fragment at offset 8 would overwrite the header (RFC 1858)")                    \
  X(kIpv6BadExtLength, 26, "ipv6_bad_ext_length",                                        \
    "IPv6 AH header below 12 bytes or not 8-byte aligned")                               \
  X(kIpv4BadChecksum, 27, "ipv4_bad_checksum",                                           \
    "IPv4 header checksum wrong (checked before a packet creates a connection)")         \
  X(kL4BadChecksum, 28, "l4_bad_checksum",                                               \
    "TCP or UDP checksum wrong (checked before a packet creates a connection)")

enum class DropReason : std::uint8_t {
#define NVA_X(name, value, metric, text) name = value,
  NVA_PARSE_DROP_REASONS(NVA_X)
#undef NVA_X
};

inline constexpr std::size_t kDropReasonCount = 29;

// Metric-style name ("ipv4_bad_ihl"); "unknown" for a value not in the list.
std::string_view drop_reason_name(DropReason r) noexcept;
// One-line human description.
std::string_view drop_reason_text(DropReason r) noexcept;

}  // namespace nva::packet
