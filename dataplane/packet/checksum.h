// Internet checksums: full computation and RFC 1624 incremental updates.
//
// All 16-bit values here are in host order as read with load_be16(); the
// one's-complement sum is byte-order independent, so this is consistent with
// the wire as long as every operand is read the same way.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "dataplane/packet/bytes.h"

namespace nva::packet {

// Adds `len` bytes (big-endian 16-bit words, odd tail padded with zero) to an
// unfolded one's-complement accumulator.
std::uint64_t csum_add_bytes(std::uint64_t acc, const std::uint8_t* p,
                             std::size_t len) noexcept;

// Folds an accumulator to 16 bits with end-around carry (not inverted).
// The upper half of x + rotl(x, half its width) is the one's complement sum
// of x's two halves, carry included: 64 -> 32 -> 16 bits in six
// instructions.
constexpr std::uint16_t csum_fold(std::uint64_t acc) noexcept {
  const auto s32 = static_cast<std::uint32_t>((acc + std::rotl(acc, 32)) >> 32);
  return static_cast<std::uint16_t>((s32 + std::rotl(s32, 16)) >> 16);
}

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). A change of one 16-bit word
// from m to m' contributes ~m + m' (csum_delta16) to an unfolded
// accumulator; any number of such deltas is applied with one fold
// (csum_apply). Equals a full recomputation for any data that does not sum
// to zero (every IPv4 header and TCP/UDP pseudo-header qualifies: the
// version nibble and protocol number are never zero); starting from a
// correct checksum (other than UDP's 0xFFFF form of a zero sum) it never
// yields 0xFFFF.
constexpr std::uint64_t csum_delta16(std::uint16_t old_v, std::uint16_t new_v) noexcept {
  return std::uint64_t{static_cast<std::uint16_t>(~old_v)} + new_v;
}

// The delta of a 32-bit field (an IPv4 address, or two ports): two words,
// summed as one 32-bit word (RFC 1071 2.C: the sum may be taken over wider
// words and folded at the end), since ~ of a 32-bit value complements both
// of its 16-bit halves.
constexpr std::uint64_t csum_delta32(std::uint32_t old_v, std::uint32_t new_v) noexcept {
  return std::uint64_t{static_cast<std::uint32_t>(~old_v)} + new_v;
}

constexpr std::uint16_t csum_apply(std::uint16_t check, std::uint64_t delta) noexcept {
  return static_cast<std::uint16_t>(
      ~csum_fold(std::uint64_t{static_cast<std::uint16_t>(~check)} + delta));
}

// csum_apply() for a delta already folded to 16 bits (a TupleDelta): one
// end-around carry suffices, as ~check + delta < 2^17.
constexpr std::uint16_t csum_apply16(std::uint16_t check, std::uint16_t delta) noexcept {
  const std::uint32_t x = std::uint32_t{static_cast<std::uint16_t>(~check)} + delta;
  return static_cast<std::uint16_t>(~((x & 0xFFFF) + (x >> 16)));
}

constexpr std::uint16_t csum_replace16(std::uint16_t check, std::uint16_t old_v,
                                       std::uint16_t new_v) noexcept {
  return csum_apply(check, csum_delta16(old_v, new_v));
}

constexpr std::uint16_t csum_replace32(std::uint16_t check, std::uint32_t old_v,
                                       std::uint32_t new_v) noexcept {
  return csum_apply(check, csum_delta32(old_v, new_v));
}

// An IPv4 4-tuple, host order.
struct Ipv4Tuple {
  std::uint32_t src_addr = 0;
  std::uint32_t dst_addr = 0;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
};

// The checksum change of the fast path's rewrite of a packet carrying
// `from` into one carrying `to`, with the TTL decremented: folded one's
// complement sums, in wire order. A connection maps each direction's tuple
// to one fixed tuple, so this is a per-connection constant, computed when
// the connection is created (VPP's NAT44 sessions keep the same), and the
// packet path only adds it (rewrite_ipv4_tuple() in rewrite.h): RFC 1624's
// ~m + m' terms depend on the old and new field values alone, and the
// TTL's is ~m + (m - 0x100) = 0xFEFF whatever the TTL (> 1) and the
// protocol in its word.
struct TupleDelta {
  std::uint16_t l3 = 0;  // IPv4 header: both addresses and the TTL
  std::uint16_t l4 = 0;  // TCP/UDP: pseudo-header addresses and both ports
};

constexpr TupleDelta tuple_delta(const Ipv4Tuple& from, const Ipv4Tuple& to) noexcept {
  const std::uint64_t addrs =
      csum_delta32(from.src_addr, to.src_addr) + csum_delta32(from.dst_addr, to.dst_addr);
  const std::uint64_t ports =
      csum_delta32((std::uint32_t{from.src_port} << 16) | from.dst_port,
                   (std::uint32_t{to.src_port} << 16) | to.dst_port);
  auto wire = [](std::uint16_t v) {
    return std::endian::native == std::endian::little ? __builtin_bswap16(v) : v;
  };
  return {wire(csum_fold(addrs + 0xFEFF)), wire(csum_fold(addrs + ports))};
}

// Checksum of an IPv4 header of `len` bytes, computed as if its checksum
// field were zero (the value to store in it).
std::uint16_t ipv4_header_checksum(const std::uint8_t* hdr, std::size_t len) noexcept;

// TCP/UDP/ICMPv6-style checksum of `len` bytes of L4 data at `l4` with the
// IPv4 pseudo-header; the checksum field at `l4 + csum_field` counts as zero.
// For UDP the caller maps a result of 0 to 0xFFFF (RFC 768).
std::uint16_t ipv4_l4_checksum(const std::uint8_t* l4, std::size_t len,
                               std::size_t csum_field, std::uint32_t src,
                               std::uint32_t dst, std::uint8_t proto) noexcept;

// The same with the IPv6 pseudo-header (RFC 8200 section 8.1).
std::uint16_t ipv6_l4_checksum(const std::uint8_t* l4, std::size_t len,
                               std::size_t csum_field, const std::uint8_t* src16,
                               const std::uint8_t* dst16, std::uint8_t proto) noexcept;

// Whether a received checksum is right: the sum of the covered bytes,
// checksum field included, is all ones. The IPv4 header of `len` bytes;
// TCP or UDP data of `len` bytes at `l4` with its pseudo-header (a UDP
// checksum of 0 means none, RFC 768: true).
bool ipv4_header_checksum_ok_any(const std::uint8_t* hdr, std::size_t len) noexcept;
inline bool ipv4_header_checksum_ok(const std::uint8_t* hdr, std::size_t len) noexcept {
  if (len != 20) return ipv4_header_checksum_ok_any(hdr, len);
  // Without options (nearly every packet): five words, one fold.
  const std::uint64_t acc = std::uint64_t{load_be32(hdr)} + load_be32(hdr + 4) +
                            load_be32(hdr + 8) + load_be32(hdr + 12) +
                            load_be32(hdr + 16);
  return csum_fold(acc) == 0xFFFF;
}
bool ipv4_l4_checksum_ok(const std::uint8_t* l4, std::size_t len, std::uint32_t src,
                         std::uint32_t dst, std::uint8_t proto) noexcept;
// The TCP/UDP check for a sum `acc` (unfolded, csum_add_bytes()) taken over
// the L4 bytes elsewhere (e.g. the segments of a chained mbuf).
bool ipv4_l4_sum_ok(std::uint64_t acc, std::size_t len, std::uint32_t src,
                    std::uint32_t dst, std::uint8_t proto) noexcept;

// Plain Internet checksum of `len` bytes with the field at `csum_field`
// counting as zero (ICMPv4: no pseudo-header).
std::uint16_t inet_checksum(const std::uint8_t* p, std::size_t len,
                            std::size_t csum_field) noexcept;

}  // namespace nva::packet
