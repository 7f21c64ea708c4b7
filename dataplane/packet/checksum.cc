// Full Internet checksum computations (the incremental ones are inline).
#include "dataplane/packet/checksum.h"

#include "dataplane/packet/bytes.h"

namespace nva::packet {

std::uint64_t csum_add_bytes(std::uint64_t acc, const std::uint8_t* p,
                             std::size_t len) noexcept {
  // 32-bit big-endian loads into a 64-bit accumulator: 2^32 additions of
  // 32-bit values cannot overflow it, far beyond any packet.
  while (len >= 4) {
    acc += load_be32(p);
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    acc += load_be16(p);
    p += 2;
    len -= 2;
  }
  if (len == 1) acc += std::uint32_t{p[0]} << 8;
  return acc;
}

namespace {

// Sum of `len` bytes with the 16-bit field at `field` skipped.
std::uint64_t sum_without_field(const std::uint8_t* p, std::size_t len,
                                std::size_t field) noexcept {
  // The field is 2-byte aligned within the header in every caller, so the
  // two halves keep their word alignment.
  if (field >= len) return csum_add_bytes(0, p, len);
  std::uint64_t acc = csum_add_bytes(0, p, field);
  if (field + 2 <= len) acc = csum_add_bytes(acc, p + field + 2, len - field - 2);
  return acc;
}

}  // namespace

std::uint16_t ipv4_header_checksum(const std::uint8_t* hdr, std::size_t len) noexcept {
  return static_cast<std::uint16_t>(~csum_fold(sum_without_field(hdr, len, 10)));
}

std::uint16_t ipv4_l4_checksum(const std::uint8_t* l4, std::size_t len,
                               std::size_t csum_field, std::uint32_t src,
                               std::uint32_t dst, std::uint8_t proto) noexcept {
  std::uint64_t acc = sum_without_field(l4, len, csum_field);
  acc += (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF);
  acc += proto;
  acc += len;
  return static_cast<std::uint16_t>(~csum_fold(acc));
}

std::uint16_t ipv6_l4_checksum(const std::uint8_t* l4, std::size_t len,
                               std::size_t csum_field, const std::uint8_t* src16,
                               const std::uint8_t* dst16, std::uint8_t proto) noexcept {
  std::uint64_t acc = sum_without_field(l4, len, csum_field);
  acc = csum_add_bytes(acc, src16, 16);
  acc = csum_add_bytes(acc, dst16, 16);
  acc += (len >> 16) + (len & 0xFFFF);
  acc += proto;
  return static_cast<std::uint16_t>(~csum_fold(acc));
}

bool ipv4_header_checksum_ok_any(const std::uint8_t* hdr, std::size_t len) noexcept {
  return csum_fold(csum_add_bytes(0, hdr, len)) == 0xFFFF;
}

bool ipv4_l4_sum_ok(std::uint64_t acc, std::size_t len, std::uint32_t src,
                    std::uint32_t dst, std::uint8_t proto) noexcept {
  acc += (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF);
  acc += proto;
  acc += len;
  return csum_fold(acc) == 0xFFFF;
}

bool ipv4_l4_checksum_ok(const std::uint8_t* l4, std::size_t len, std::uint32_t src,
                         std::uint32_t dst, std::uint8_t proto) noexcept {
  constexpr std::uint8_t kUdp = 17;
  if (proto == kUdp && len >= 8 && load_be16(l4 + 6) == 0) return true;  // none
  return ipv4_l4_sum_ok(csum_add_bytes(0, l4, len), len, src, dst, proto);
}

std::uint16_t inet_checksum(const std::uint8_t* p, std::size_t len,
                            std::size_t csum_field) noexcept {
  return static_cast<std::uint16_t>(~csum_fold(sum_without_field(p, len, csum_field)));
}

}  // namespace nva::packet
