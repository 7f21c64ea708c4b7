// BGP-4 messages (RFC 4271 section 4): OPEN, UPDATE, NOTIFICATION, KEEPALIVE,
// ROUTE-REFRESH (RFC 2918), their decoding (header first) and encoding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "controlplane/bgp/attributes.h"
#include "controlplane/bgp/capability.h"
#include "controlplane/bgp/error.h"
#include "controlplane/bgp/prefix.h"
#include "controlplane/bgp/result.h"

namespace nva::bgp {

inline constexpr std::size_t kHeaderLength = 19;  // marker, length, type
inline constexpr std::size_t kMaxMessageLength = 4096;
inline constexpr std::uint8_t kVersion = 4;
inline constexpr std::uint16_t kPort = 179;

enum class MessageType : std::uint8_t {
  kOpen = 1,
  kUpdate = 2,
  kNotification = 3,
  kKeepalive = 4,
  kRouteRefresh = 5,
};
std::string_view message_type_name(MessageType t);

// The smallest valid Length of each message type (RFC 4271 6.1, RFC 2918).
inline constexpr std::size_t kOpenMinLength = 29;
inline constexpr std::size_t kUpdateMinLength = 23;
inline constexpr std::size_t kNotificationMinLength = 21;
inline constexpr std::size_t kKeepaliveLength = 19;
inline constexpr std::size_t kRouteRefreshLength = 23;

struct Header {
  std::uint16_t length = 0;  // the whole message, header included
  MessageType type = MessageType::kKeepalive;
  bool operator==(const Header&) const = default;
};

// One Capabilities Optional Parameter (type 2, RFC 5492); the only optional
// parameter type in use (type 1, authentication, is deprecated).
struct OptionalParameter {
  std::vector<Capability> capabilities;
  bool operator==(const OptionalParameter&) const = default;
};

struct OpenMessage {
  std::uint8_t version = kVersion;
  std::uint16_t my_autonomous_system = 0;  // AS_TRANS when the real AS needs 4 octets
  std::uint16_t hold_time = 0;
  Ipv4Address bgp_identifier{};
  std::vector<OptionalParameter> optional_parameters;
  // Optional parameters in the RFC 9072 extended format (255, 255, 2-octet
  // length, 2-octet parameter lengths). The encoder also uses it, whatever
  // this says, when they do not fit the classic 255 octets.
  bool extended_optional_parameters = false;

  // Every capability of every optional parameter, in order.
  std::vector<Capability> capabilities() const;
  std::optional<std::uint32_t> four_octet_as() const;
  bool supports_route_refresh() const;
  bool supports(Afi afi, Safi safi) const;
  // The speaker's AS: the 4-octet AS capability if present, else My AS.
  std::uint32_t autonomous_system() const;

  bool operator==(const OpenMessage&) const = default;
};

// An OPEN with all capabilities in one optional parameter; My AS is
// AS_TRANS when local_as does not fit 2 octets (RFC 6793).
OpenMessage make_open(std::uint32_t local_as, std::uint16_t hold_time,
                      Ipv4Address bgp_identifier, std::vector<Capability> capabilities);

// The smallest hold time this speaker offers or accepts, in seconds. RFC
// 4271 allows 0 (no KEEPALIVEs, no hold timer) and allows refusing it
// (section 6.2): with 0 the routes of a peer that died silently never
// expire, so both the configuration and a peer's OPEN are refused.
inline constexpr std::uint16_t kMinHoldTime = 3;

// The one hold-time rule, for the configuration (anycast-nva's [bgp]
// hold_time, nva-bgp's --hold-time, validate(SpeakerConfig)) and for a
// peer's OPEN (validate_open): nullopt when `seconds` is acceptable, else why not.
std::optional<std::string> check_hold_time(std::uint16_t seconds);

// Bad Peer AS (RFC 4271 6.2, RFC 6793): `expected` is the configured AS of
// the peer. Returns the NOTIFICATION to send, data = the 2-octet My AS.
std::optional<DecodeError> check_peer_as(const OpenMessage& open, std::uint32_t expected);

struct UpdateMessage {
  std::vector<Ipv4Prefix> withdrawn_routes;
  PathAttributes path_attributes;
  std::vector<Ipv4Prefix> nlri;

  // RFC 4724 End-of-RIB: an empty UPDATE (IPv4 unicast) or one holding only
  // an empty MP_UNREACH_NLRI (that AFI/SAFI).
  bool is_end_of_rib() const;
  bool operator==(const UpdateMessage&) const = default;
};

// Prefixes of both address families.
struct Prefixes {
  std::vector<Ipv4Prefix> ipv4;
  std::vector<Ipv6Prefix> ipv6;
  bool operator==(const Prefixes&) const = default;
};

// What a received UPDATE withdraws and announces, given its RFC 7606
// outcome: with treat-as-withdraw (section 2) its NLRI and MP_REACH_NLRI
// prefixes are withdrawn too and nothing is announced.
Prefixes withdrawn_prefixes(const UpdateMessage& update, ErrorHandling handling);
Prefixes announced_prefixes(const UpdateMessage& update, ErrorHandling handling);

struct NotificationMessage {
  std::uint8_t error_code = 0;
  std::uint8_t error_subcode = 0;
  std::vector<std::uint8_t> data;
  bool operator==(const NotificationMessage&) const = default;
};

NotificationMessage to_notification(const DecodeError& e);
// Cease / Administrative Shutdown with a shutdown communication (RFC 9003):
// a length octet and UTF-8 text, cut to 255 octets at a character boundary.
NotificationMessage administrative_shutdown(std::string_view communication);
// Cease / Maximum Number of Prefixes Reached (RFC 4486 section 4): data =
// AFI (2 octets), SAFI (1), the prefix upper bound (4).
NotificationMessage maximum_prefixes_reached(Afi afi, Safi safi, std::uint32_t bound);
// The shutdown communication of a Cease / Administrative Shutdown or Reset,
// if it carries a well-formed one.
std::optional<std::string> shutdown_communication(const NotificationMessage& n);

struct KeepaliveMessage {
  bool operator==(const KeepaliveMessage&) const = default;
};

// ROUTE-REFRESH (RFC 2918); `subtype` is the Reserved octet that RFC 7313
// made the Message Subtype (0 normal request, 1 BoRR, 2 EoRR).
struct RouteRefreshMessage {
  Afi afi = Afi::kIpv4;
  std::uint8_t subtype = 0;
  Safi safi = Safi::kUnicast;
  bool operator==(const RouteRefreshMessage&) const = default;
};

using Message = std::variant<OpenMessage, UpdateMessage, NotificationMessage,
                             KeepaliveMessage, RouteRefreshMessage>;
MessageType type_of(const Message& m);

// A decoded message and, for an UPDATE, the RFC 7606 outcome: errors that
// did not reset the session (treat-as-withdraw, attribute discard).
struct DecodedMessage {
  Message message;
  UpdateErrors update_errors;
};

// Checks the 19-octet header at the front of `bytes` (more may follow):
// marker all ones, Length 19..4096 and not below the type's minimum (or
// exactly 19 for KEEPALIVE), a known Type. A stream reader calls it as
// soon as 19 octets are in, then waits for Length octets.
Result<Header, DecodeError> decode_header(std::span<const std::uint8_t> bytes);

// Decodes one whole message: `message` must be exactly Length octets long.
// The header is checked first, then the body of its type.
Result<DecodedMessage, DecodeError> decode_message(std::span<const std::uint8_t> message,
                                                   const CodecOptions& options);

// Encoders: header included, never longer than 4096 octets.
Result<Bytes, EncodeError> encode(const OpenMessage& m);
Result<Bytes, EncodeError> encode(const UpdateMessage& m, const CodecOptions& options);
Result<Bytes, EncodeError> encode(const NotificationMessage& m);
Result<Bytes, EncodeError> encode(const KeepaliveMessage& m);
Result<Bytes, EncodeError> encode(const RouteRefreshMessage& m);
Result<Bytes, EncodeError> encode(const Message& m, const CodecOptions& options);

// Encodes an UPDATE as one or more messages of at most 4096 octets: if it
// does not fit, withdrawals (IPv4 and MP_UNREACH_NLRI) go in messages of
// their own and the reachable prefixes are spread over messages that each
// repeat the path attributes. Fails only when the path attributes alone
// leave no room for a prefix.
Result<std::vector<Bytes>, EncodeError> encode_split(const UpdateMessage& m,
                                                     const CodecOptions& options);

}  // namespace nva::bgp
