// In-place NAT rewrites of IPv4 packets with incremental checksum updates.
#pragma once

#include <bit>
#include <cstdint>
#include <span>

#include "dataplane/packet/bytes.h"
#include "dataplane/packet/checksum.h"
#include "dataplane/packet/parse.h"

namespace nva::packet {

// Which fields a rewrite changes; combine with |.
enum RewriteField : std::uint8_t {
  kRewriteSrcAddr = 1u << 0,
  kRewriteDstAddr = 1u << 1,
  kRewriteSrcPort = 1u << 2,
  kRewriteDstPort = 1u << 3,
};

// New values (host order) for the fields named in `fields`.
struct Ipv4Rewrite {
  std::uint8_t fields = 0;
  std::uint32_t src_addr = 0;
  std::uint32_t dst_addr = 0;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
};

// Rewrites addresses and/or ports of an IPv4 packet that parse() accepted
// into `parsed`, updating checksums incrementally (RFC 1624):
// - the IPv4 header checksum for address changes;
// - the TCP or UDP checksum for the pseudo-header addresses and the ports;
//   a UDP checksum of 0 ("none") stays 0, and a result of 0 is sent as 0xFFFF;
// - later fragments carry no L4 header: only the IP header changes, and port
//   rewrites are ignored (the caller has matched the fragment to its flow);
// - other protocols (ICMP included) get only the address rewrite; ICMP's
//   checksum has no pseudo-header.
// `parsed` stays valid except for the rewritten address/port values.
void rewrite_ipv4(std::span<std::uint8_t> frame, const ParsedPacket& parsed,
                  const Ipv4Rewrite& rw) noexcept;

// The fast path's whole rewrite in one pass: the new addresses (IPv4 bytes
// 12-19 as they go on the wire) and ports (TCP/UDP bytes 0-3, likewise),
// the TTL decremented, and each checksum changed by the precomputed
// `delta` of this mapping (tuple_delta(), for the packet's tuple as
// parsed). Same result as ipv4_decrement_ttl() then rewrite_ipv4() with all
// four fields (tested); the caller has checked that TTL > 1. Later
// fragments only get the IP header, other protocols (no ports) likewise; a
// UDP checksum of 0 stays 0 and a result of 0 is sent as 0xFFFF. Inline:
// it is the per-packet work of every connection hit.
// always_inline: GCC outlined it once its callers grew (a call per hit).
[[gnu::always_inline]] inline void rewrite_ipv4_tuple(std::span<std::uint8_t> frame,
                                                      const ParsedPacket& parsed,
                                                      std::uint64_t addrs_wire,
                                                      std::uint32_t ports_wire,
                                                      TupleDelta delta) noexcept {
  std::uint8_t* const ip = frame.data() + parsed.l3_offset;
  // The TTL is its 16-bit word's first byte: in wire order the low byte on
  // a little-endian machine, the high byte on a big-endian one.
  constexpr std::uint16_t kTtlOne =
      std::endian::native == std::endian::little ? 0x0001 : 0x0100;
  store_raw(ip + 8,
            static_cast<std::uint16_t>(load_raw<std::uint16_t>(ip + 8) - kTtlOne));
  store_raw(ip + 10, csum_apply16(load_raw<std::uint16_t>(ip + 10), delta.l3));
  store_raw(ip + 12, addrs_wire);

  if (parsed.frag == FragState::kLater) return;
  const bool tcp = parsed.l4_proto == ipproto::kTcp;
  if (!tcp && parsed.l4_proto != ipproto::kUdp) return;
  std::uint8_t* const l4 = frame.data() + parsed.l4_offset;
  store_raw(l4, ports_wire);
  std::uint8_t* const ck = l4 + (tcp ? 16 : 6);
  const auto old_ck = load_raw<std::uint16_t>(ck);
  if (!tcp && old_ck == 0) return;  // UDP without checksum (RFC 768)
  std::uint16_t c = csum_apply16(old_ck, delta.l4);
  if (!tcp && c == 0) c = 0xFFFF;  // the same in either byte order
  store_raw(ck, c);
}

// Decrements the IPv4 TTL with an incremental header-checksum update.
// Returns false, changing nothing, when TTL <= 1 (the caller drops and counts).
bool ipv4_decrement_ttl(std::span<std::uint8_t> frame,
                        const ParsedPacket& parsed) noexcept;

}  // namespace nva::packet
