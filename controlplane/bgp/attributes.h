// UPDATE path attributes (RFC 4271 section 5, RFC 1997, RFC 4760, RFC 6793,
// RFC 8092) and their decoding with RFC 7606 revised error handling.
#pragma once

#include <bitset>
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "controlplane/bgp/capability.h"
#include "controlplane/bgp/error.h"
#include "controlplane/bgp/prefix.h"
#include "controlplane/bgp/result.h"
#include "controlplane/bgp/wire.h"

namespace nva::bgp {

// What the session negotiated and what kind of peer it is; decoding and
// encoding of UPDATEs depend on it.
struct CodecOptions {
  // Both sides advertised the 4-octet AS capability (RFC 6793): AS_PATH and
  // AGGREGATOR carry 4-octet ASNs, AS4_PATH/AS4_AGGREGATOR are not used.
  bool four_octet_as = false;
  // eBGP: LOCAL_PREF is discarded on receipt and refused on sending, and
  // AS_CONFED_* segments make an AS_PATH malformed (RFC 7606 section 7.2).
  bool external_peer = true;
  bool operator==(const CodecOptions&) const = default;
};

// Attribute Type Codes (IANA "BGP Path Attributes").
namespace attribute_type {
inline constexpr std::uint8_t kOrigin = 1;
inline constexpr std::uint8_t kAsPath = 2;
inline constexpr std::uint8_t kNextHop = 3;
inline constexpr std::uint8_t kMultiExitDisc = 4;
inline constexpr std::uint8_t kLocalPref = 5;
inline constexpr std::uint8_t kAtomicAggregate = 6;
inline constexpr std::uint8_t kAggregator = 7;
inline constexpr std::uint8_t kCommunities = 8;
inline constexpr std::uint8_t kMpReachNlri = 14;
inline constexpr std::uint8_t kMpUnreachNlri = 15;
inline constexpr std::uint8_t kAs4Path = 17;
inline constexpr std::uint8_t kAs4Aggregator = 18;
inline constexpr std::uint8_t kLargeCommunities = 32;
}  // namespace attribute_type

// Attribute Flags (RFC 4271 section 4.3); the low four bits are unused.
namespace attribute_flag {
inline constexpr std::uint8_t kOptional = 0x80;
inline constexpr std::uint8_t kTransitive = 0x40;
inline constexpr std::uint8_t kPartial = 0x20;
inline constexpr std::uint8_t kExtendedLength = 0x10;
}  // namespace attribute_flag

// AS_TRANS (RFC 6793): stands for a 4-octet AS towards a 2-octet speaker.
inline constexpr std::uint32_t kAsTrans = 23456;

enum class Origin : std::uint8_t { kIgp = 0, kEgp = 1, kIncomplete = 2 };

enum class AsPathSegmentType : std::uint8_t {
  kAsSet = 1,
  kAsSequence = 2,
  kAsConfedSequence = 3,  // RFC 5065
  kAsConfedSet = 4,       // RFC 5065
};

struct AsPathSegment {
  AsPathSegmentType type = AsPathSegmentType::kAsSequence;
  std::vector<std::uint32_t> asns;  // never empty on the wire
  bool operator==(const AsPathSegment&) const = default;
};

// The AS path with 4-octet ASNs, whatever the session's AS size: on 2-octet
// sessions the decoder has already merged AS4_PATH in (RFC 6793 section
// 4.2.3) and the encoder splits it again (AS_TRANS plus AS4_PATH).
struct AsPath {
  std::vector<AsPathSegment> segments;

  // A single AS_SEQUENCE (empty path if asns is empty).
  static AsPath sequence(std::vector<std::uint32_t> asns);
  // Path length for route selection (RFC 4271 9.1.2.2): an AS_SET counts
  // one, confederation segments count zero.
  std::size_t length() const;
  bool contains(std::uint32_t as) const;
  bool operator==(const AsPath&) const = default;
};

struct Aggregator {
  std::uint32_t autonomous_system = 0;
  Ipv4Address address{};
  bool operator==(const Aggregator&) const = default;
};

// A community (RFC 1997): high 16 bits an AS, low 16 bits a value.
struct Community {
  std::uint32_t value = 0;

  static constexpr Community of(std::uint16_t as, std::uint16_t local) {
    return Community{static_cast<std::uint32_t>(as) << 16 | local};
  }
  auto operator<=>(const Community&) const = default;
};

// Well-known communities (RFC 1997, RFC 8326).
namespace well_known_community {
inline constexpr Community kGracefulShutdown{0xFFFF0000};  // 65535:0, RFC 8326
inline constexpr Community kNoExport{0xFFFFFF01};
inline constexpr Community kNoAdvertise{0xFFFFFF02};
inline constexpr Community kNoExportSubconfed{0xFFFFFF03};
}  // namespace well_known_community

// A large community (RFC 8092).
struct LargeCommunity {
  std::uint32_t global_administrator = 0;
  std::uint32_t local_data_1 = 0;
  std::uint32_t local_data_2 = 0;
  auto operator<=>(const LargeCommunity&) const = default;
};

// MP_REACH_NLRI (RFC 4760) for IPv4 or IPv6 unicast. The next hop is 4
// octets (IPv4) or 16 or 32 octets (IPv6 global, optionally link-local);
// only the NLRI list of the attribute's AFI is used.
struct MpReachNlri {
  Afi afi = Afi::kIpv4;
  Safi safi = Safi::kUnicast;
  std::vector<std::uint8_t> next_hop;
  std::vector<Ipv4Prefix> ipv4_nlri;
  std::vector<Ipv6Prefix> ipv6_nlri;
  bool operator==(const MpReachNlri&) const = default;
};

// MP_UNREACH_NLRI (RFC 4760); with no prefixes it is an End-of-RIB marker.
struct MpUnreachNlri {
  Afi afi = Afi::kIpv4;
  Safi safi = Safi::kUnicast;
  std::vector<Ipv4Prefix> ipv4_withdrawn;
  std::vector<Ipv6Prefix> ipv6_withdrawn;
  bool operator==(const MpUnreachNlri&) const = default;
};

// An attribute this codec does not interpret, kept as received.
struct UnknownAttribute {
  std::uint8_t flags = 0;
  std::uint8_t type = 0;
  std::vector<std::uint8_t> value;
  bool operator==(const UnknownAttribute&) const = default;
};

// The path attributes of one UPDATE. Absent attributes are nullopt or empty
// (an empty COMMUNITIES or LARGE_COMMUNITIES is malformed, so empty means
// absent). The encoder writes MP_REACH_NLRI and MP_UNREACH_NLRI first (RFC
// 7606 section 5.1), then the rest by ascending type code.
struct PathAttributes {
  std::optional<Origin> origin;
  std::optional<AsPath> as_path;
  std::optional<Ipv4Address> next_hop;
  std::optional<std::uint32_t> multi_exit_disc;
  std::optional<std::uint32_t> local_pref;
  bool atomic_aggregate = false;
  std::optional<Aggregator> aggregator;
  std::vector<Community> communities;
  std::optional<MpReachNlri> mp_reach_nlri;
  std::optional<MpUnreachNlri> mp_unreach_nlri;
  std::vector<LargeCommunity> large_communities;
  std::vector<UnknownAttribute> unknown;  // in the order received
  // Extended Length and Partial bits of the recognised attributes, by type
  // code, as received: kept so a re-encoded message is byte-identical. The
  // encoder sets Extended Length anyway when a value exceeds 255 octets.
  std::bitset<256> extended_length;
  std::bitset<256> partial;

  bool has_community(Community c) const;
  bool operator==(const PathAttributes&) const = default;
};

// The attributes as they are passed on to another peer (RFC 4271 section
// 5): unknown optional transitive attributes get the Partial bit, unknown
// non-transitive ones are dropped.
PathAttributes attributes_to_pass_on(const PathAttributes& received);

// RFC 7606 section 2 error-handling approaches, weakest first.
enum class ErrorHandling : std::uint8_t {
  kNone = 0,
  kAttributeDiscard = 1,
  kTreatAsWithdraw = 2,
  kSessionReset = 3,  // only inside the decoder: a session reset is a DecodeError
};
std::string_view error_handling_name(ErrorHandling h);

// One malformed (or unexpected) attribute of a received UPDATE and what the
// receiver does about it. `subcode` is the UPDATE Message Error subcode RFC
// 4271 would have sent, for logs.
struct AttributeError {
  std::uint8_t type = 0;  // attribute type code; 0 when no attribute could be read
  ErrorHandling handling = ErrorHandling::kNone;
  std::uint8_t subcode = 0;
  std::string_view reason;
  bool operator==(const AttributeError&) const = default;
};

// The RFC 7606 outcome of decoding a received UPDATE that did not need a
// session reset: the strongest approach over all errors (section 3.d) and
// every error found. kTreatAsWithdraw: every prefix of the UPDATE (NLRI and
// MP_REACH_NLRI) is to be handled as withdrawn.
struct UpdateErrors {
  ErrorHandling handling = ErrorHandling::kNone;
  std::vector<AttributeError> errors;

  void add(std::uint8_t type, ErrorHandling h, std::uint8_t subcode,
           std::string_view reason);
  bool operator==(const UpdateErrors&) const = default;
};

// Decodes the Path Attributes field of an UPDATE. `has_nlri` says whether
// the NLRI field is non-empty (NEXT_HOP is then mandatory). Errors that RFC
// 7606 still answers with a session reset are returned; all others are
// recorded in `errors` and the attribute is left out of the result.
Result<PathAttributes, DecodeError> decode_path_attributes(
    std::span<const std::uint8_t> field, bool has_nlri, const CodecOptions& options,
    UpdateErrors& errors);

// Appends the Path Attributes field (without its length).
std::optional<EncodeError> encode_path_attributes(Writer& w, const PathAttributes& a,
                                                  const CodecOptions& options);

}  // namespace nva::bgp
