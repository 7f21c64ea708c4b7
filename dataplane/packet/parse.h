// Frame parser: where each header is, the L4 ports and the fragment state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "dataplane/packet/bytes.h"
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

  // What the receiving NIC said of the checksums (kRxCsum* bits): the
  // worker sets them from the mbuf before a packet may create a connection;
  // the parser leaves 0 (nothing known: the translator checks in software).
  std::uint8_t rx_csum = 0;
  // How many bytes from the frame's start its first buffer can hold (its
  // data and the room after it), for packets the translator may rewrite
  // into longer ones (the SYN proxy): the worker sets it beside rx_csum, on
  // the slow paths; 0: the frame's size.
  std::uint16_t frame_room = 0;

  std::uint32_t l4_len() const noexcept { return l3_end - l4_offset; }
};

inline constexpr std::uint8_t kRxCsumIpGood = 1u << 0;
inline constexpr std::uint8_t kRxCsumIpBad = 1u << 1;
inline constexpr std::uint8_t kRxCsumL4Good = 1u << 2;
inline constexpr std::uint8_t kRxCsumL4Bad = 1u << 3;

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
// The same for a multi-segment packet (see parse() above); parse_mbuf()
// takes it when parse_fast() has said no.
DropReason parse_full(std::span<const std::uint8_t> headers, std::size_t total_len,
                      ParsedPacket& out) noexcept;

// parse()'s first step, the common case in a few loads and compares:
// untagged Ethernet, IPv4 without options, not a fragment, a complete TCP
// (no options beyond the contiguous bytes) or UDP header, in the
// `buf.size()` contiguous bytes of a packet of `total_len` >= buf.size()
// bytes. Returns false, touching nothing the full parser would not
// overwrite, for anything else, which then takes the full walk. Both must
// agree on every field (the fuzz target checks it). Always inline: in the
// worker's burst loop it saves the call and set-up, about 20 of parse()'s
// 90 instructions per packet.
[[gnu::always_inline]] inline bool parse_fast(std::span<const std::uint8_t> buf,
                                              std::size_t total_len,
                                              ParsedPacket& out) noexcept {
  const std::uint8_t* d = buf.data();
  const std::size_t n = buf.size();
  constexpr std::size_t kL3 = kEthHeaderLen, kL4 = kEthHeaderLen + kIpv4MinHeaderLen;
  if (n < kL4 + kUdpHeaderLen || load_be16(d + 12) != ethertype::kIpv4 ||
      d[kL3] != 0x45) {
    return false;
  }
  const std::size_t total = load_be16(d + kL3 + 2);
  if (total < kIpv4MinHeaderLen || total > total_len - kL3) return false;
  if ((load_be16(d + kL3 + 6) & 0x3FFF) != 0) return false;  // MF or an offset
  const std::uint8_t proto = d[kL3 + 9];
  const std::size_t l4_avail = total - kIpv4MinHeaderLen;
  const std::uint8_t* l4 = d + kL4;
  std::uint8_t flags = 0;
  if (proto == ipproto::kTcp) {
    if (n < kL4 + kTcpMinHeaderLen || l4_avail < kTcpMinHeaderLen) return false;
    const std::size_t doff = static_cast<std::size_t>(l4[12] >> 4) * 4;
    if (doff < kTcpMinHeaderLen || doff > l4_avail || doff > n - kL4) return false;
    flags = l4[13];
  } else if (proto == ipproto::kUdp) {
    const std::size_t ulen = load_be16(l4 + 4);
    if (ulen < kUdpHeaderLen || ulen > l4_avail) return false;
  } else {
    return false;
  }
  out = ParsedPacket{};
  out.l3_offset = kL3;
  out.l4_offset = kL4;
  out.l3_end = static_cast<std::uint32_t>(kL3 + total);
  out.ethertype = ethertype::kIpv4;
  out.l3 = L3Kind::kIpv4;
  out.l4_proto = proto;
  out.ttl = d[kL3 + 8];
  out.ipv4_src = load_be32(d + kL3 + 12);
  out.ipv4_dst = load_be32(d + kL3 + 16);
  out.frag_id = load_be16(d + kL3 + 4);
  out.has_ports = true;
  out.src_port = load_be16(l4);
  out.dst_port = load_be16(l4 + 2);
  out.tcp_flags = flags;
  return true;
}

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
