// Big-endian loads and stores on unaligned byte pointers (wire order <-> host).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace nva::packet {

inline std::uint16_t load_be16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

inline std::uint32_t load_be32(const std::uint8_t* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::little) {
    v = __builtin_bswap32(v);
  }
  return v;
}

inline void store_be16(std::uint8_t* p, std::uint16_t v) noexcept {
  if constexpr (std::endian::native == std::endian::little) {
    v = __builtin_bswap16(v);
  }
  std::memcpy(p, &v, sizeof v);
}

inline void store_be32(std::uint8_t* p, std::uint32_t v) noexcept {
  if constexpr (std::endian::native == std::endian::little) {
    v = __builtin_bswap32(v);
  }
  std::memcpy(p, &v, sizeof v);
}

// Wire-order loads and stores (no swap), for arithmetic that is byte-order
// independent such as the Internet checksum (RFC 1071 2.B).
template <typename T>
inline T load_raw(const std::uint8_t* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename T>
inline void store_raw(std::uint8_t* p, T v) noexcept {
  std::memcpy(p, &v, sizeof v);
}
// A host-order value in wire order.
constexpr std::uint32_t to_wire32(std::uint32_t v) noexcept {
  if constexpr (std::endian::native == std::endian::little) return __builtin_bswap32(v);
  return v;
}

}  // namespace nva::packet
