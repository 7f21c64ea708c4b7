// Wire constants: EtherTypes, IP protocol numbers, header sizes and caps.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nva::packet {

namespace ethertype {
inline constexpr std::uint16_t kIpv4 = 0x0800;
inline constexpr std::uint16_t kArp = 0x0806;
inline constexpr std::uint16_t kVlan = 0x8100;     // 802.1Q C-tag
inline constexpr std::uint16_t kQinQ = 0x88A8;     // 802.1ad S-tag
inline constexpr std::uint16_t kQinQOld = 0x9100;  // pre-standard S-tag
inline constexpr std::uint16_t kIpv6 = 0x86DD;
}  // namespace ethertype

namespace ipproto {
inline constexpr std::uint8_t kHopByHop = 0;
inline constexpr std::uint8_t kIcmp = 1;
inline constexpr std::uint8_t kTcp = 6;
inline constexpr std::uint8_t kUdp = 17;
inline constexpr std::uint8_t kRouting = 43;
inline constexpr std::uint8_t kFragment = 44;
inline constexpr std::uint8_t kEsp = 50;
inline constexpr std::uint8_t kAh = 51;
inline constexpr std::uint8_t kIcmpv6 = 58;
inline constexpr std::uint8_t kNoNext = 59;
inline constexpr std::uint8_t kDestOpts = 60;
inline constexpr std::uint8_t kMobility = 135;
}  // namespace ipproto

inline constexpr std::size_t kEthHeaderLen = 14;
inline constexpr std::size_t kVlanTagLen = 4;
inline constexpr std::size_t kIpv4MinHeaderLen = 20;
inline constexpr std::size_t kIpv6HeaderLen = 40;
inline constexpr std::size_t kTcpMinHeaderLen = 20;
inline constexpr std::size_t kUdpHeaderLen = 8;
inline constexpr std::size_t kIcmpHeaderLen = 8;

// Caps on header walks: wire input never makes the parser loop unboundedly.
inline constexpr unsigned kMaxVlanTags = 2;        // 802.1Q, or QinQ
inline constexpr unsigned kMaxIpv6ExtHeaders = 8;  // RFC 8200 lists 6 kinds

}  // namespace nva::packet
