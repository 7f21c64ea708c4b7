// In-place NAT rewrites of IPv4 packets with incremental checksum updates.
#pragma once

#include <cstdint>
#include <span>

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

// The fast path's whole rewrite in one pass: new source and destination
// address and port, and the TTL decremented, with each checksum folded once.
// Same result as ipv4_decrement_ttl() then rewrite_ipv4() with all four
// fields (tested); the caller has checked that TTL > 1.
void rewrite_ipv4_tuple(std::span<std::uint8_t> frame, const ParsedPacket& parsed,
                        std::uint32_t src_addr, std::uint16_t src_port,
                        std::uint32_t dst_addr, std::uint16_t dst_port) noexcept;

// Decrements the IPv4 TTL with an incremental header-checksum update.
// Returns false, changing nothing, when TTL <= 1 (the caller drops and counts).
bool ipv4_decrement_ttl(std::span<std::uint8_t> frame,
                        const ParsedPacket& parsed) noexcept;

}  // namespace nva::packet
