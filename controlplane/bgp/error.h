// NOTIFICATION error codes and subcodes (RFC 4271 section 4.5 and 6, RFC 4486,
// RFC 5492, RFC 7313, RFC 8538) and the typed errors the codec returns.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nva::bgp {

// NOTIFICATION Error Code.
enum class ErrorCode : std::uint8_t {
  kMessageHeaderError = 1,
  kOpenMessageError = 2,
  kUpdateMessageError = 3,
  kHoldTimerExpired = 4,
  kFiniteStateMachineError = 5,
  kCease = 6,
  kRouteRefreshMessageError = 7,  // RFC 7313
};

// Error Subcodes of Message Header Error (RFC 4271 section 6.1).
namespace header_error {
inline constexpr std::uint8_t kConnectionNotSynchronized = 1;
inline constexpr std::uint8_t kBadMessageLength = 2;
inline constexpr std::uint8_t kBadMessageType = 3;
}  // namespace header_error

// Error Subcodes of OPEN Message Error (RFC 4271 section 6.2, RFC 5492).
namespace open_error {
inline constexpr std::uint8_t kUnspecific = 0;
inline constexpr std::uint8_t kUnsupportedVersionNumber = 1;
inline constexpr std::uint8_t kBadPeerAs = 2;
inline constexpr std::uint8_t kBadBgpIdentifier = 3;
inline constexpr std::uint8_t kUnsupportedOptionalParameter = 4;
inline constexpr std::uint8_t kUnacceptableHoldTime = 6;
inline constexpr std::uint8_t kUnsupportedCapability = 7;
}  // namespace open_error

// Error Subcodes of UPDATE Message Error (RFC 4271 section 6.3).
namespace update_error {
inline constexpr std::uint8_t kMalformedAttributeList = 1;
inline constexpr std::uint8_t kUnrecognizedWellKnownAttribute = 2;
inline constexpr std::uint8_t kMissingWellKnownAttribute = 3;
inline constexpr std::uint8_t kAttributeFlagsError = 4;
inline constexpr std::uint8_t kAttributeLengthError = 5;
inline constexpr std::uint8_t kInvalidOriginAttribute = 6;
inline constexpr std::uint8_t kInvalidNextHopAttribute = 8;
inline constexpr std::uint8_t kOptionalAttributeError = 9;
inline constexpr std::uint8_t kInvalidNetworkField = 10;
inline constexpr std::uint8_t kMalformedAsPath = 11;
}  // namespace update_error

// Error Subcodes of Cease (RFC 4486, RFC 8538).
namespace cease {
inline constexpr std::uint8_t kMaximumNumberOfPrefixesReached = 1;
inline constexpr std::uint8_t kAdministrativeShutdown = 2;
inline constexpr std::uint8_t kPeerDeConfigured = 3;
inline constexpr std::uint8_t kAdministrativeReset = 4;
inline constexpr std::uint8_t kConnectionRejected = 5;
inline constexpr std::uint8_t kOtherConfigurationChange = 6;
inline constexpr std::uint8_t kConnectionCollisionResolution = 7;
inline constexpr std::uint8_t kOutOfResources = 8;
inline constexpr std::uint8_t kHardReset = 9;
}  // namespace cease

// Error Subcodes of ROUTE-REFRESH Message Error (RFC 7313).
namespace route_refresh_error {
inline constexpr std::uint8_t kInvalidMessageLength = 1;
}  // namespace route_refresh_error

// A received message that must end the session: the NOTIFICATION to send
// (code, subcode, data as RFC 4271 section 6 prescribes) and a fixed
// human-readable reason for logs.
struct DecodeError {
  ErrorCode code = ErrorCode::kMessageHeaderError;
  std::uint8_t subcode = 0;
  std::vector<std::uint8_t> data;
  std::string_view reason;

  bool operator==(const DecodeError&) const = default;
};

// A message the encoder refuses to build (too long, inconsistent fields).
struct EncodeError {
  std::string_view reason;

  bool operator==(const EncodeError&) const = default;
};

// "UPDATE Message Error / Malformed AS_PATH" and the like, for logs.
std::string_view error_code_name(std::uint8_t code);
std::string_view error_subcode_name(std::uint8_t code, std::uint8_t subcode);
std::string describe(const DecodeError& e);

}  // namespace nva::bgp
