// Seeded flow hash: the same flow gives the same value on every NVA instance.
//
// Backend choice must not depend on the NIC (its RSS key differs between
// instances and ports), so Maglev lookups hash the flow's own fields with a
// seed from configuration.
#pragma once

#include <cstdint>

namespace nva::lb {

// A 64-bit finaliser with full avalanche (the splitmix64 / murmur3 fmix64
// family): every input bit affects every output bit.
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

// The fields that identify a flow towards a service, host order.
struct FlowTuple {
  std::uint32_t client_addr = 0;
  std::uint32_t vip = 0;
  std::uint16_t client_port = 0;
  std::uint16_t vip_port = 0;
  std::uint8_t proto = 0;
};

constexpr std::uint64_t flow_hash(const FlowTuple& t, std::uint64_t seed) noexcept {
  const std::uint64_t a = (std::uint64_t{t.client_addr} << 32) | t.vip;
  const std::uint64_t b =
      (std::uint64_t{t.client_port} << 32) | (std::uint64_t{t.vip_port} << 16) | t.proto;
  return mix64(mix64(a ^ seed) ^ (b + 0x9e3779b97f4a7c15ull));
}

}  // namespace nva::lb
