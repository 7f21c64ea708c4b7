// Frame parser: where each header is, the L4 ports and the fragment state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "dataplane/packet/drop_reason.h"
#include "dataplane/packet/protocols.h"

namespace nva::packet {

enum class L3Kind : std::uint8_t { kNone, kIpv4, kIpv6 };

enum class FragState : std::uint8_t {
  kNone,   // not a fragment (IPv6 atomic fragments count as kNone)
  kFirst,  // offset 0, more fragments follow: holds the L4 header
  kLater,  // offset > 0: no L4 header in this fragment
};

// What parse() found. Offsets are from the start of the frame. Fields past
// the failing header are unspecified when parse() returns a drop reason.
struct ParsedPacket {
  std::uint32_t l3_offset = 0;  // IPv4/IPv6 header
  std::uint32_t l4_offset = 0;  // after IPv4 options / IPv6 extension headers
  std::uint32_t l3_end = 0;     // end of the IP datagram (frame may be padded)
  std::uint16_t ethertype = 0;  // innermost EtherType
  std::uint8_t vlan_depth = 0;
  std::uint16_t vlan_tci[kMaxVlanTags] = {};  // outermost first

  L3Kind l3 = L3Kind::kNone;
  std::uint8_t l4_proto = 0;  // upper-layer protocol after any extension headers
  std::uint8_t ttl = 0;       // IPv4 TTL or IPv6 hop limit
  std::uint32_t ipv4_src = 0, ipv4_dst = 0;  // host order; IPv4 only

  FragState frag = FragState::kNone;
  std::uint32_t frag_offset = 0;           // bytes
  bool more_fragments = false;             // MF flag (IPv4) / M bit (IPv6)
  std::uint32_t frag_id = 0;               // IPv4 identification or IPv6 fragment id
  std::uint32_t ipv6_frag_hdr_offset = 0;  // 0 when there is none

  // L4 facts; valid when frag != kLater.
  bool has_ports = false;      // TCP or UDP
  std::uint16_t src_port = 0;  // host order
  std::uint16_t dst_port = 0;
  std::uint8_t tcp_flags = 0;
  std::uint8_t icmp_type = 0;  // ICMP or ICMPv6
  std::uint8_t icmp_code = 0;
  std::uint16_t icmp_echo_id = 0;  // echo request/reply only
  bool is_icmp_echo = false;

  std::uint32_t l4_len() const noexcept { return l3_end - l4_offset; }
};

// Parses an Ethernet frame (no FCS). Never reads outside `frame`. Returns
// DropReason::kNone on success; any other value names the malformation.
// A non-IP EtherType (ARP, LLDP, ...) returns kNotIp with the L2 fields set,
// so a caller can punt it to the kernel instead of dropping it.
DropReason parse(std::span<const std::uint8_t> frame, ParsedPacket& out) noexcept;

// The same for a packet of `total_len` bytes of which only the first
// `headers.size()` are contiguous (a multi-segment mbuf): length fields are
// checked against `total_len`, and a header that would run past `headers`
// gives kHeadersSplit. L4 offsets may then point past `headers`' end only for
// payload, never for a header the parser read.
DropReason parse(std::span<const std::uint8_t> headers, std::size_t total_len,
                 ParsedPacket& out) noexcept;

// The full header walk without the common-case shortcut that parse() takes
// first; for tests and the fuzz target, which check that both agree.
DropReason parse_full(std::span<const std::uint8_t> frame, ParsedPacket& out) noexcept;

// Parses the IP packet an ICMP or ICMPv6 error quotes, starting at
// `l3_offset` of `buf` (the rest of the ICMP message); the version nibble
// picks IPv4 or IPv6 (else kNotIp). A quote is usually cut short (RFC 792
// guarantees the IP header and 8 bytes of data), so the datagram's length
// field may exceed the buffer (l3_end is clamped to it) and TCP/UDP need
// only their first 8 bytes, which hold the ports; has_ports then says so,
// and tcp_flags stays 0. Malformed headers are still rejected.
DropReason parse_quoted_ip(std::span<const std::uint8_t> buf, std::size_t l3_offset,
                           ParsedPacket& out) noexcept;

}  // namespace nva::packet
