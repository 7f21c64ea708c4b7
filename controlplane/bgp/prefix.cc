// IPv4/IPv6 prefixes: canonical construction, text forms, NLRI decoding and
// encoding.
#include "controlplane/bgp/prefix.h"

#include <arpa/inet.h>

#include <charconv>

namespace nva::bgp {
namespace {

// True if no bit at or past `length` is set.
template <std::size_t N>
bool host_bits_zero(const std::array<std::uint8_t, N>& a, std::uint8_t length) {
  for (std::size_t i = 0; i < N; ++i) {
    const std::size_t first_bit = i * 8;
    if (first_bit + 8 <= length) continue;
    const std::uint8_t keep =
        first_bit >= length
            ? 0
            : static_cast<std::uint8_t>(0xFF << (8 - (length - first_bit)));
    if ((a[i] & ~keep & 0xFF) != 0) return false;
  }
  return true;
}

template <std::size_t N>
void clear_host_bits(std::array<std::uint8_t, N>& a, std::uint8_t length) {
  for (std::size_t i = 0; i < N; ++i) {
    const std::size_t first_bit = i * 8;
    if (first_bit + 8 <= length) continue;
    const std::uint8_t keep =
        first_bit >= length
            ? 0
            : static_cast<std::uint8_t>(0xFF << (8 - (length - first_bit)));
    a[i] &= keep;
  }
}

template <std::size_t N>
std::optional<std::array<std::uint8_t, N>> parse_address(std::string_view text) {
  const std::string s(text);
  std::array<std::uint8_t, N> a{};
  if (inet_pton(N == 4 ? AF_INET : AF_INET6, s.c_str(), a.data()) != 1)
    return std::nullopt;
  return a;
}

template <std::size_t N>
std::string format_address(const std::array<std::uint8_t, N>& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(N == 4 ? AF_INET : AF_INET6, a.data(), buf, sizeof(buf)) == nullptr) {
    return "?";
  }
  return buf;
}

}  // namespace

template <std::size_t N>
std::optional<BasicPrefix<N>> BasicPrefix<N>::make(
    const std::array<std::uint8_t, N>& address, std::uint8_t length) {
  if (length > kMaxLength || !host_bits_zero(address, length)) return std::nullopt;
  BasicPrefix p;
  p.address = address;
  p.length = length;
  return p;
}

template <std::size_t N>
std::optional<BasicPrefix<N>> BasicPrefix<N>::parse(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto addr = parse_address<N>(text.substr(0, slash));
  if (!addr) return std::nullopt;
  const std::string_view len_text = text.substr(slash + 1);
  unsigned len = 0;
  const auto [end, ec] =
      std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (ec != std::errc() || end != len_text.data() + len_text.size() || len_text.empty() ||
      len > kMaxLength) {
    return std::nullopt;
  }
  return make(*addr, static_cast<std::uint8_t>(len));
}

template <std::size_t N>
std::string BasicPrefix<N>::to_string() const {
  return format_address(address) + "/" + std::to_string(length);
}

std::string_view nlri_error_reason(NlriError e) {
  switch (e) {
    case NlriError::kNone:
      return "";
    case NlriError::kPrefixLengthTooLong:
      return "prefix length exceeds the address size";
    case NlriError::kOverrun:
      return "prefix runs past the end of its field";
  }
  return "";
}

template <std::size_t N>
NlriError decode_prefixes(std::span<const std::uint8_t> field,
                          std::vector<BasicPrefix<N>>& out) {
  Reader r(field);
  while (!r.empty()) {
    std::uint8_t length = 0;
    (void)r.u8(length);
    if (length > BasicPrefix<N>::kMaxLength) return NlriError::kPrefixLengthTooLong;
    std::span<const std::uint8_t> octets;
    if (!r.bytes((static_cast<std::size_t>(length) + 7) / 8, octets))
      return NlriError::kOverrun;
    BasicPrefix<N> p;
    p.length = length;
    std::copy(octets.begin(), octets.end(), p.address.begin());
    clear_host_bits(p.address, length);
    out.push_back(p);
  }
  return NlriError::kNone;
}

template <std::size_t N>
void encode_prefix(Writer& w, const BasicPrefix<N>& p) {
  std::array<std::uint8_t, N> a = p.address;
  clear_host_bits(a, p.length);
  w.u8(p.length);
  w.bytes(std::span<const std::uint8_t>(a.data(),
                                        (static_cast<std::size_t>(p.length) + 7) / 8));
}

std::optional<Ipv4Address> parse_ipv4(std::string_view text) {
  return parse_address<4>(text);
}
std::optional<Ipv6Address> parse_ipv6(std::string_view text) {
  return parse_address<16>(text);
}
std::string to_string(const Ipv4Address& a) { return format_address(a); }
std::string to_string(const Ipv6Address& a) { return format_address(a); }

template struct BasicPrefix<4>;
template struct BasicPrefix<16>;
template NlriError decode_prefixes<4>(std::span<const std::uint8_t>,
                                      std::vector<Ipv4Prefix>&);
template NlriError decode_prefixes<16>(std::span<const std::uint8_t>,
                                       std::vector<Ipv6Prefix>&);
template void encode_prefix<4>(Writer&, const Ipv4Prefix&);
template void encode_prefix<16>(Writer&, const Ipv6Prefix&);

}  // namespace nva::bgp
