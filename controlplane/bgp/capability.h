// OPEN capabilities (RFC 5492): multiprotocol (RFC 4760), route refresh
// (RFC 2918), 4-octet AS (RFC 6793); any other capability kept as bytes.
#pragma once

#include <cstdint>
#include <span>
#include <variant>
#include <vector>

#include "controlplane/bgp/error.h"
#include "controlplane/bgp/result.h"
#include "controlplane/bgp/wire.h"

namespace nva::bgp {

// Address Family Identifier (IANA) and Subsequent AFI (RFC 4760).
enum class Afi : std::uint16_t { kIpv4 = 1, kIpv6 = 2 };
enum class Safi : std::uint8_t { kUnicast = 1 };

// Capability Codes (IANA "Capability Codes").
namespace capability_code {
inline constexpr std::uint8_t kMultiprotocol = 1;
inline constexpr std::uint8_t kRouteRefresh = 2;
inline constexpr std::uint8_t kExtendedMessage = 6;
inline constexpr std::uint8_t kGracefulRestart = 64;
inline constexpr std::uint8_t kFourOctetAs = 65;
inline constexpr std::uint8_t kAddPath = 69;
inline constexpr std::uint8_t kEnhancedRouteRefresh = 70;
inline constexpr std::uint8_t kLongLivedGracefulRestart = 71;
}  // namespace capability_code

// Multiprotocol Extensions (code 1): AFI, reserved octet, SAFI.
struct MultiprotocolCapability {
  Afi afi = Afi::kIpv4;
  Safi safi = Safi::kUnicast;
  bool operator==(const MultiprotocolCapability&) const = default;
};

// Route Refresh (code 2), no value.
struct RouteRefreshCapability {
  bool operator==(const RouteRefreshCapability&) const = default;
};

// Support for 4-octet AS number (code 65): the speaker's real AS.
struct FourOctetAsCapability {
  std::uint32_t autonomous_system = 0;
  bool operator==(const FourOctetAsCapability&) const = default;
};

// Any other capability, value as received (at most 255 octets).
struct UnknownCapability {
  std::uint8_t code = 0;
  std::vector<std::uint8_t> value;
  bool operator==(const UnknownCapability&) const = default;
};

using Capability = std::variant<MultiprotocolCapability, RouteRefreshCapability,
                                FourOctetAsCapability, UnknownCapability>;

// Decodes the value of one Capabilities Optional Parameter (type 2): a list
// of <code, length, value>. A capability that overruns the parameter, or a
// known one with the wrong length, is OPEN Message Error / Unspecific.
Result<std::vector<Capability>, DecodeError> decode_capabilities(
    std::span<const std::uint8_t> value);

// Appends one capability TLV; fails if an unknown value exceeds 255 octets.
bool encode_capability(Writer& w, const Capability& c);

}  // namespace nva::bgp
