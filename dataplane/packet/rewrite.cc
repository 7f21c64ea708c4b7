// In-place IPv4 NAT rewrite with RFC 1624 incremental checksum updates.
#include "dataplane/packet/rewrite.h"

#include "dataplane/packet/bytes.h"
#include "dataplane/packet/checksum.h"

namespace nva::packet {

void rewrite_ipv4(std::span<std::uint8_t> frame, const ParsedPacket& parsed,
                  const Ipv4Rewrite& rw) noexcept {
  std::uint8_t* const ip = frame.data() + parsed.l3_offset;
  const std::uint32_t old_src = load_be32(ip + 12);
  const std::uint32_t old_dst = load_be32(ip + 16);
  const std::uint32_t new_src =
      (rw.fields & kRewriteSrcAddr) != 0 ? rw.src_addr : old_src;
  const std::uint32_t new_dst =
      (rw.fields & kRewriteDstAddr) != 0 ? rw.dst_addr : old_dst;

  // The address delta is shared by the IPv4 header and the L4 pseudo-header;
  // every checksum is folded once.
  const std::uint64_t addr_delta =
      csum_delta32(old_src, new_src) + csum_delta32(old_dst, new_dst);
  store_be16(ip + 10, csum_apply(load_be16(ip + 10), addr_delta));
  store_be32(ip + 12, new_src);
  store_be32(ip + 16, new_dst);

  if (parsed.frag == FragState::kLater) return;
  const bool tcp = parsed.l4_proto == ipproto::kTcp;
  if (!tcp && parsed.l4_proto != ipproto::kUdp) return;

  std::uint8_t* const l4 = frame.data() + parsed.l4_offset;
  const std::size_t csum_at = tcp ? 16 : 6;
  const std::uint16_t old_sport = load_be16(l4);
  const std::uint16_t old_dport = load_be16(l4 + 2);
  const std::uint16_t new_sport =
      (rw.fields & kRewriteSrcPort) != 0 ? rw.src_port : old_sport;
  const std::uint16_t new_dport =
      (rw.fields & kRewriteDstPort) != 0 ? rw.dst_port : old_dport;
  store_be16(l4, new_sport);
  store_be16(l4 + 2, new_dport);

  const std::uint16_t l4_csum = load_be16(l4 + csum_at);
  if (!tcp && l4_csum == 0) return;  // UDP without checksum (RFC 768)
  std::uint16_t c = csum_apply(l4_csum, addr_delta + csum_delta16(old_sport, new_sport) +
                                            csum_delta16(old_dport, new_dport));
  if (!tcp && c == 0) c = 0xFFFF;
  store_be16(l4 + csum_at, c);
}

bool ipv4_decrement_ttl(std::span<std::uint8_t> frame,
                        const ParsedPacket& parsed) noexcept {
  std::uint8_t* const ip = frame.data() + parsed.l3_offset;
  const std::uint8_t ttl = ip[8];
  if (ttl <= 1) return false;
  // TTL shares a 16-bit word with the protocol field.
  const std::uint16_t old_word = load_be16(ip + 8);
  const auto new_word = static_cast<std::uint16_t>(old_word - 0x0100);
  ip[8] = static_cast<std::uint8_t>(ttl - 1);
  store_be16(ip + 10, csum_replace16(load_be16(ip + 10), old_word, new_word));
  return true;
}

}  // namespace nva::packet
