// Capability TLV decoding and encoding (RFC 5492 section 4).
#include "controlplane/bgp/capability.h"

namespace nva::bgp {
namespace {

Unexpected<DecodeError> malformed(std::string_view reason) {
  return unexpected(
      DecodeError{ErrorCode::kOpenMessageError, open_error::kUnspecific, {}, reason});
}

}  // namespace

Result<std::vector<Capability>, DecodeError> decode_capabilities(
    std::span<const std::uint8_t> value) {
  std::vector<Capability> caps;
  Reader r(value);
  while (!r.empty()) {
    std::uint8_t code = 0, length = 0;
    std::span<const std::uint8_t> v;
    if (!r.u8(code) || !r.u8(length) || !r.bytes(length, v)) {
      return malformed("capability overruns its optional parameter");
    }
    Reader cr(v);
    switch (code) {
      case capability_code::kMultiprotocol: {
        std::uint16_t afi = 0;
        std::uint8_t reserved = 0, safi = 0;
        if (length != 4 || !cr.u16(afi) || !cr.u8(reserved) || !cr.u8(safi)) {
          return malformed("multiprotocol capability length is not 4");
        }
        caps.push_back(
            MultiprotocolCapability{static_cast<Afi>(afi), static_cast<Safi>(safi)});
        break;
      }
      case capability_code::kRouteRefresh:
        if (length != 0) return malformed("route refresh capability length is not 0");
        caps.push_back(RouteRefreshCapability{});
        break;
      case capability_code::kFourOctetAs: {
        std::uint32_t as = 0;
        if (length != 4 || !cr.u32(as))
          return malformed("4-octet AS capability length is not 4");
        caps.push_back(FourOctetAsCapability{as});
        break;
      }
      default:
        caps.push_back(
            UnknownCapability{code, std::vector<std::uint8_t>(v.begin(), v.end())});
        break;
    }
  }
  return caps;
}

bool encode_capability(Writer& w, const Capability& c) {
  if (const auto* mp = std::get_if<MultiprotocolCapability>(&c)) {
    w.u8(capability_code::kMultiprotocol);
    w.u8(4);
    w.u16(static_cast<std::uint16_t>(mp->afi));
    w.u8(0);
    w.u8(static_cast<std::uint8_t>(mp->safi));
  } else if (std::holds_alternative<RouteRefreshCapability>(c)) {
    w.u8(capability_code::kRouteRefresh);
    w.u8(0);
  } else if (const auto* as4 = std::get_if<FourOctetAsCapability>(&c)) {
    w.u8(capability_code::kFourOctetAs);
    w.u8(4);
    w.u32(as4->autonomous_system);
  } else {
    const auto& u = std::get<UnknownCapability>(c);
    if (u.value.size() > 255) return false;
    w.u8(u.code);
    w.u8(static_cast<std::uint8_t>(u.value.size()));
    w.bytes(u.value);
  }
  return true;
}

}  // namespace nva::bgp
