// IPv4 and IPv6 prefixes and their <length, prefix> NLRI encoding (RFC 4271
// section 4.3, RFC 4760 section 5), with the RFC 7606 section 5.3 checks.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/bgp/wire.h"

namespace nva::bgp {

// An address prefix in canonical form: the bits past `length` are zero.
// make() and parse() only build canonical prefixes; the NLRI decoder clears
// the trailing bits of what it receives (RFC 4271: "the value of trailing
// bits is irrelevant").
template <std::size_t N>
struct BasicPrefix {
  static constexpr std::size_t kAddressBytes = N;
  static constexpr std::uint8_t kMaxLength = static_cast<std::uint8_t>(N * 8);

  std::array<std::uint8_t, N> address{};
  std::uint8_t length = 0;

  // nullopt when length > kMaxLength or a bit past length is set.
  static std::optional<BasicPrefix> make(const std::array<std::uint8_t, N>& address,
                                         std::uint8_t length);
  // "198.18.200.0/24", "2001:db8::/32"; strict like make().
  static std::optional<BasicPrefix> parse(std::string_view text);
  std::string to_string() const;

  // Octets the prefix takes on the wire, the length octet included.
  std::size_t encoded_size() const {
    return 1 + (static_cast<std::size_t>(length) + 7) / 8;
  }

  auto operator<=>(const BasicPrefix&) const = default;
};

using Ipv4Prefix = BasicPrefix<4>;
using Ipv6Prefix = BasicPrefix<16>;

// Why a Withdrawn Routes, NLRI or MP_(UN)REACH_NLRI field is syntactically
// incorrect (RFC 7606 section 5.3): either makes the UPDATE a session reset.
enum class NlriError : std::uint8_t {
  kNone,
  kPrefixLengthTooLong,  // larger than 32 (IPv4) or 128 (IPv6)
  kOverrun,              // the last prefix runs past the end of the field
};
std::string_view nlri_error_reason(NlriError e);

// Decodes a whole field of <length, prefix> tuples, appending to out.
template <std::size_t N>
NlriError decode_prefixes(std::span<const std::uint8_t> field,
                          std::vector<BasicPrefix<N>>& out);

// Appends one prefix (length octet plus the minimum number of octets).
// The prefix length must be <= kMaxLength (the encoder checks it first).
template <std::size_t N>
void encode_prefix(Writer& w, const BasicPrefix<N>& p);

// Addresses: 4 or 16 octets in network order, and their text forms.
using Ipv4Address = std::array<std::uint8_t, 4>;
using Ipv6Address = std::array<std::uint8_t, 16>;
std::optional<Ipv4Address> parse_ipv4(std::string_view text);
std::optional<Ipv6Address> parse_ipv6(std::string_view text);
std::string to_string(const Ipv4Address& a);
std::string to_string(const Ipv6Address& a);

}  // namespace nva::bgp
