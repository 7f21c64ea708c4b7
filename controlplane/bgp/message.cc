// Message decoding (header first, then the body of its type) and encoding.
#include "controlplane/bgp/message.h"

#include <cstring>

#include <algorithm>
#include <utility>

namespace nva::bgp {
namespace {

constexpr std::string_view kTooLong = "message longer than 4096 octets";

std::vector<std::uint8_t> u16_data(std::uint16_t v) {
  return {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

Unexpected<DecodeError> header_failure(std::uint8_t subcode,
                                       std::vector<std::uint8_t> data,
                                       std::string_view reason) {
  return unexpected(
      DecodeError{ErrorCode::kMessageHeaderError, subcode, std::move(data), reason});
}

Unexpected<DecodeError> open_failure(std::uint8_t subcode, std::vector<std::uint8_t> data,
                                     std::string_view reason) {
  return unexpected(
      DecodeError{ErrorCode::kOpenMessageError, subcode, std::move(data), reason});
}

Unexpected<DecodeError> update_reset(std::uint8_t subcode, std::string_view reason) {
  return unexpected(DecodeError{ErrorCode::kUpdateMessageError, subcode, {}, reason});
}

// --- OPEN (RFC 4271 4.2, RFC 5492, RFC 9072) ---------------------------------

Result<OpenMessage, DecodeError> decode_open(std::span<const std::uint8_t> body) {
  Reader r(body);
  OpenMessage m;
  std::uint8_t opt_len = 0;
  std::span<const std::uint8_t> id;
  // The header check guarantees the 10 fixed octets.
  (void)r.u8(m.version);
  (void)r.u16(m.my_autonomous_system);
  (void)r.u16(m.hold_time);
  (void)r.bytes(4, id);
  (void)r.u8(opt_len);
  std::copy(id.begin(), id.end(), m.bgp_identifier.begin());

  if (m.version != kVersion) {
    return open_failure(open_error::kUnsupportedVersionNumber, u16_data(kVersion),
                        "unsupported version number");
  }
  if (m.hold_time == 1 || m.hold_time == 2) {
    return open_failure(open_error::kUnacceptableHoldTime, {},
                        "hold time of 1 or 2 seconds");
  }
  if (m.bgp_identifier == Ipv4Address{}) {
    return open_failure(open_error::kBadBgpIdentifier, {}, "BGP identifier is 0");
  }

  // RFC 9072: a non-zero length followed by type 255 announces the extended
  // format with 2-octet lengths.
  std::span<const std::uint8_t> params;
  if (opt_len != 0 && !r.empty() && r.rest()[0] == 255) {
    std::uint8_t non_ext_type = 0;
    std::uint16_t ext_len = 0;
    (void)r.u8(non_ext_type);
    if (!r.u16(ext_len) || !r.bytes(ext_len, params) || !r.empty()) {
      return open_failure(
          open_error::kUnspecific, {},
          "extended optional parameters length does not match the message");
    }
    m.extended_optional_parameters = true;
  } else if (!r.bytes(opt_len, params) || !r.empty()) {
    return open_failure(open_error::kUnspecific, {},
                        "optional parameters length does not match the message");
  }

  Reader pr(params);
  while (!pr.empty()) {
    std::uint8_t param_type = 0;
    std::uint16_t param_len = 0;
    std::span<const std::uint8_t> value;
    bool ok = pr.u8(param_type);
    if (m.extended_optional_parameters) {
      ok = ok && pr.u16(param_len);
    } else {
      std::uint8_t l = 0;
      ok = ok && pr.u8(l);
      param_len = l;
    }
    if (!ok || !pr.bytes(param_len, value)) {
      return open_failure(open_error::kUnspecific, {},
                          "optional parameter overruns the optional parameters");
    }
    if (param_type != 2) {
      return open_failure(open_error::kUnsupportedOptionalParameter, {},
                          "optional parameter other than Capabilities");
    }
    auto caps = decode_capabilities(value);
    if (!caps) return unexpected(caps.error());
    m.optional_parameters.push_back({std::move(caps).value()});
  }
  return m;
}

// --- UPDATE (RFC 4271 4.3 and 6.3, RFC 7606) ---------------------------------

Result<DecodedMessage, DecodeError> decode_update(std::span<const std::uint8_t> body,
                                                  const CodecOptions& options) {
  Reader r(body);
  std::uint16_t withdrawn_len = 0, attr_len = 0;
  std::span<const std::uint8_t> withdrawn, attrs;
  // Withdrawn Routes Length + Total Path Attribute Length + 23 > Length.
  if (!r.u16(withdrawn_len) || !r.bytes(withdrawn_len, withdrawn) || !r.u16(attr_len) ||
      !r.bytes(attr_len, attrs)) {
    return update_reset(update_error::kMalformedAttributeList,
                        "withdrawn routes or path attribute length exceeds the message");
  }
  UpdateMessage m;
  // RFC 7606 5.3: a syntactically incorrect prefix field resets the session.
  if (const NlriError e = decode_prefixes(withdrawn, m.withdrawn_routes);
      e != NlriError::kNone) {
    return update_reset(update_error::kInvalidNetworkField, nlri_error_reason(e));
  }
  if (const NlriError e = decode_prefixes(r.rest(), m.nlri); e != NlriError::kNone) {
    return update_reset(update_error::kInvalidNetworkField, nlri_error_reason(e));
  }
  UpdateErrors errors;
  auto a = decode_path_attributes(attrs, !m.nlri.empty(), options, errors);
  if (!a) return unexpected(a.error());
  m.path_attributes = std::move(a).value();
  return DecodedMessage{std::move(m), std::move(errors)};
}

// --- encoding helpers ------------------------------------------------------------

Bytes start_message(MessageType t) {
  Bytes b(16, 0xFF);
  b.push_back(0);
  b.push_back(0);
  b.push_back(static_cast<std::uint8_t>(t));
  return b;
}

Result<Bytes, EncodeError> finish_message(Bytes b) {
  if (b.size() > kMaxMessageLength) return unexpected(EncodeError{kTooLong});
  Writer(b).patch_u16(16, static_cast<std::uint16_t>(b.size()));
  return b;
}

template <std::size_t N>
bool prefixes_valid(const std::vector<BasicPrefix<N>>& v) {
  return std::all_of(v.begin(), v.end(), [](const BasicPrefix<N>& p) {
    return p.length <= BasicPrefix<N>::kMaxLength;
  });
}

template <std::size_t N>
std::size_t encoded_size(const std::vector<BasicPrefix<N>>& v) {
  std::size_t n = 0;
  for (const auto& p : v) n += p.encoded_size();
  return n;
}

}  // namespace

std::string_view message_type_name(MessageType t) {
  switch (t) {
    case MessageType::kOpen:
      return "OPEN";
    case MessageType::kUpdate:
      return "UPDATE";
    case MessageType::kNotification:
      return "NOTIFICATION";
    case MessageType::kKeepalive:
      return "KEEPALIVE";
    case MessageType::kRouteRefresh:
      return "ROUTE-REFRESH";
  }
  return "?";
}

std::vector<Capability> OpenMessage::capabilities() const {
  std::vector<Capability> all;
  for (const auto& p : optional_parameters) {
    all.insert(all.end(), p.capabilities.begin(), p.capabilities.end());
  }
  return all;
}

std::optional<std::uint32_t> OpenMessage::four_octet_as() const {
  for (const auto& p : optional_parameters) {
    for (const auto& c : p.capabilities) {
      if (const auto* as4 = std::get_if<FourOctetAsCapability>(&c)) {
        return as4->autonomous_system;
      }
    }
  }
  return std::nullopt;
}

bool OpenMessage::supports_route_refresh() const {
  for (const auto& p : optional_parameters) {
    for (const auto& c : p.capabilities) {
      if (std::holds_alternative<RouteRefreshCapability>(c)) return true;
    }
  }
  return false;
}

bool OpenMessage::supports(Afi afi, Safi safi) const {
  for (const auto& p : optional_parameters) {
    for (const auto& c : p.capabilities) {
      if (c == Capability{MultiprotocolCapability{afi, safi}}) return true;
    }
  }
  return false;
}

std::uint32_t OpenMessage::autonomous_system() const {
  return four_octet_as().value_or(my_autonomous_system);
}

OpenMessage make_open(std::uint32_t local_as, std::uint16_t hold_time,
                      Ipv4Address bgp_identifier, std::vector<Capability> capabilities) {
  OpenMessage m;
  m.my_autonomous_system =
      static_cast<std::uint16_t>(local_as > 0xFFFF ? kAsTrans : local_as);
  m.hold_time = hold_time;
  m.bgp_identifier = bgp_identifier;
  if (!capabilities.empty()) m.optional_parameters.push_back({std::move(capabilities)});
  return m;
}

std::optional<std::string> check_hold_time(std::uint16_t seconds) {
  if (seconds == 0) {
    return "hold time 0 (no keepalives) is refused: a dead peer's routes would never "
           "expire";
  }
  if (seconds < kMinHoldTime) return "hold time must be at least 3 seconds (RFC 4271)";
  return std::nullopt;
}

std::optional<DecodeError> check_peer_as(const OpenMessage& open,
                                         std::uint32_t expected) {
  if (open.autonomous_system() == expected) return std::nullopt;
  return DecodeError{ErrorCode::kOpenMessageError, open_error::kBadPeerAs,
                     u16_data(open.my_autonomous_system),
                     "peer AS is not the configured one"};
}

bool UpdateMessage::is_end_of_rib() const {
  if (!withdrawn_routes.empty() || !nlri.empty()) return false;
  const PathAttributes& a = path_attributes;
  if (a == PathAttributes{}) return true;
  PathAttributes only_unreach;
  only_unreach.mp_unreach_nlri = a.mp_unreach_nlri;
  only_unreach.extended_length = a.extended_length;
  return a.mp_unreach_nlri && a.mp_unreach_nlri->ipv4_withdrawn.empty() &&
         a.mp_unreach_nlri->ipv6_withdrawn.empty() && a == only_unreach;
}

Prefixes withdrawn_prefixes(const UpdateMessage& u, ErrorHandling handling) {
  Prefixes p;
  p.ipv4 = u.withdrawn_routes;
  const PathAttributes& a = u.path_attributes;
  if (a.mp_unreach_nlri) {
    p.ipv4.insert(p.ipv4.end(), a.mp_unreach_nlri->ipv4_withdrawn.begin(),
                  a.mp_unreach_nlri->ipv4_withdrawn.end());
    p.ipv6 = a.mp_unreach_nlri->ipv6_withdrawn;
  }
  if (handling >= ErrorHandling::kTreatAsWithdraw) {
    const Prefixes ann = announced_prefixes(u, ErrorHandling::kNone);
    p.ipv4.insert(p.ipv4.end(), ann.ipv4.begin(), ann.ipv4.end());
    p.ipv6.insert(p.ipv6.end(), ann.ipv6.begin(), ann.ipv6.end());
  }
  return p;
}

Prefixes announced_prefixes(const UpdateMessage& u, ErrorHandling handling) {
  Prefixes p;
  if (handling >= ErrorHandling::kTreatAsWithdraw) return p;
  p.ipv4 = u.nlri;
  const PathAttributes& a = u.path_attributes;
  if (a.mp_reach_nlri) {
    p.ipv4.insert(p.ipv4.end(), a.mp_reach_nlri->ipv4_nlri.begin(),
                  a.mp_reach_nlri->ipv4_nlri.end());
    p.ipv6 = a.mp_reach_nlri->ipv6_nlri;
  }
  return p;
}

NotificationMessage to_notification(const DecodeError& e) {
  return {static_cast<std::uint8_t>(e.code), e.subcode, e.data};
}

NotificationMessage administrative_shutdown(std::string_view communication) {
  std::size_t n = std::min<std::size_t>(communication.size(), 255);
  // Do not cut a UTF-8 sequence: back off over continuation octets.
  if (n < communication.size()) {
    while (n > 0 && (static_cast<std::uint8_t>(communication[n]) & 0xC0) == 0x80) --n;
  }
  // Length octet, then the text (sized up front: gcc 12's -O3 reports a
  // false -Warray-bounds for push_back followed by insert here).
  std::vector<std::uint8_t> data(n + 1);
  data[0] = static_cast<std::uint8_t>(n);
  if (n != 0) std::memcpy(data.data() + 1, communication.data(), n);
  return {static_cast<std::uint8_t>(ErrorCode::kCease), cease::kAdministrativeShutdown,
          std::move(data)};
}

NotificationMessage maximum_prefixes_reached(Afi afi, Safi safi, std::uint32_t bound) {
  const auto a = static_cast<std::uint16_t>(afi);
  std::vector<std::uint8_t> data{
      static_cast<std::uint8_t>(a >> 8),      static_cast<std::uint8_t>(a),
      static_cast<std::uint8_t>(safi),        static_cast<std::uint8_t>(bound >> 24),
      static_cast<std::uint8_t>(bound >> 16), static_cast<std::uint8_t>(bound >> 8),
      static_cast<std::uint8_t>(bound)};
  return {static_cast<std::uint8_t>(ErrorCode::kCease),
          cease::kMaximumNumberOfPrefixesReached, std::move(data)};
}

std::optional<std::string> shutdown_communication(const NotificationMessage& n) {
  if (n.error_code != static_cast<std::uint8_t>(ErrorCode::kCease) ||
      (n.error_subcode != cease::kAdministrativeShutdown &&
       n.error_subcode != cease::kAdministrativeReset) ||
      n.data.empty() || n.data[0] + 1u > n.data.size()) {
    return std::nullopt;
  }
  return std::string(n.data.begin() + 1, n.data.begin() + 1 + n.data[0]);
}

MessageType type_of(const Message& m) { return static_cast<MessageType>(m.index() + 1); }

Result<Header, DecodeError> decode_header(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kHeaderLength) {
    return header_failure(header_error::kBadMessageLength, {}, "fewer than 19 octets");
  }
  for (std::size_t i = 0; i < 16; ++i) {
    if (bytes[i] != 0xFF) {
      return header_failure(header_error::kConnectionNotSynchronized, {},
                            "marker is not all ones");
    }
  }
  Header h;
  h.length = static_cast<std::uint16_t>(bytes[16] << 8 | bytes[17]);
  const std::uint8_t t = bytes[18];
  if (h.length < kHeaderLength || h.length > kMaxMessageLength) {
    return header_failure(header_error::kBadMessageLength, u16_data(h.length),
                          "length outside 19..4096");
  }
  if (t < 1 || t > 5)
    return header_failure(header_error::kBadMessageType, {t}, "unknown type");
  h.type = static_cast<MessageType>(t);
  const bool too_short =
      (h.type == MessageType::kOpen && h.length < kOpenMinLength) ||
      (h.type == MessageType::kUpdate && h.length < kUpdateMinLength) ||
      (h.type == MessageType::kNotification && h.length < kNotificationMinLength) ||
      (h.type == MessageType::kKeepalive && h.length != kKeepaliveLength) ||
      (h.type == MessageType::kRouteRefresh && h.length < kRouteRefreshLength);
  if (too_short) {
    return header_failure(header_error::kBadMessageLength, u16_data(h.length),
                          "length wrong for the message type");
  }
  return h;
}

Result<DecodedMessage, DecodeError> decode_message(std::span<const std::uint8_t> message,
                                                   const CodecOptions& options) {
  auto h = decode_header(message);
  if (!h) return unexpected(h.error());
  if (message.size() != h->length) {
    return header_failure(header_error::kBadMessageLength, u16_data(h->length),
                          "length does not match the octets received");
  }
  const auto body = message.subspan(kHeaderLength);
  switch (h->type) {
    case MessageType::kOpen: {
      auto m = decode_open(body);
      if (!m) return unexpected(m.error());
      return DecodedMessage{std::move(m).value(), {}};
    }
    case MessageType::kUpdate:
      return decode_update(body, options);
    case MessageType::kNotification: {
      NotificationMessage n{body[0], body[1], {body.begin() + 2, body.end()}};
      return DecodedMessage{std::move(n), {}};
    }
    case MessageType::kKeepalive:
      return DecodedMessage{KeepaliveMessage{}, {}};
    case MessageType::kRouteRefresh: {
      if (body.size() != 4) {
        // RFC 7313 section 5: the data is the whole message.
        return unexpected(DecodeError{ErrorCode::kRouteRefreshMessageError,
                                      route_refresh_error::kInvalidMessageLength,
                                      {message.begin(), message.end()},
                                      "ROUTE-REFRESH length is not 23"});
      }
      RouteRefreshMessage rr;
      rr.afi = static_cast<Afi>(body[0] << 8 | body[1]);
      rr.subtype = body[2];
      rr.safi = static_cast<Safi>(body[3]);
      return DecodedMessage{rr, {}};
    }
  }
  return header_failure(header_error::kBadMessageType, {}, "unknown type");
}

Result<Bytes, EncodeError> encode(const OpenMessage& m) {
  Bytes params;
  Writer pw(params);
  std::vector<Bytes> values;
  bool extended = m.extended_optional_parameters;
  for (const auto& p : m.optional_parameters) {
    Bytes v;
    Writer vw(v);
    for (const auto& c : p.capabilities) {
      if (!encode_capability(vw, c))
        return unexpected(EncodeError{"capability too long"});
    }
    if (v.size() > 0xFFFF) return unexpected(EncodeError{"optional parameter too long"});
    if (v.size() > 255) extended = true;
    values.push_back(std::move(v));
  }
  std::size_t classic_total = 0;
  for (const auto& v : values) classic_total += 2 + v.size();
  if (classic_total > 255) extended = true;

  Bytes b = start_message(MessageType::kOpen);
  Writer w(b);
  w.u8(m.version);
  w.u16(m.my_autonomous_system);
  w.u16(m.hold_time);
  w.bytes(m.bgp_identifier);
  if (extended) {
    std::size_t total = 0;
    for (const auto& v : values) total += 3 + v.size();
    if (total > 0xFFFF) return unexpected(EncodeError{kTooLong});
    w.u8(255);  // Non-Ext OP Len
    w.u8(255);  // Non-Ext OP Type
    w.u16(static_cast<std::uint16_t>(total));
    for (const auto& v : values) {
      w.u8(2);
      w.u16(static_cast<std::uint16_t>(v.size()));
      w.bytes(v);
    }
  } else {
    w.u8(static_cast<std::uint8_t>(classic_total));
    for (const auto& v : values) {
      w.u8(2);
      w.u8(static_cast<std::uint8_t>(v.size()));
      w.bytes(v);
    }
  }
  return finish_message(std::move(b));
}

Result<Bytes, EncodeError> encode(const UpdateMessage& m, const CodecOptions& options) {
  if (!prefixes_valid(m.withdrawn_routes) || !prefixes_valid(m.nlri)) {
    return unexpected(EncodeError{"prefix length exceeds the address size"});
  }
  Bytes attrs;
  Writer aw(attrs);
  if (auto e = encode_path_attributes(aw, m.path_attributes, options))
    return unexpected(*e);
  const std::size_t withdrawn_size = encoded_size(m.withdrawn_routes);
  if (kHeaderLength + 4 + withdrawn_size + attrs.size() + encoded_size(m.nlri) >
      kMaxMessageLength) {
    return unexpected(EncodeError{kTooLong});
  }
  Bytes b = start_message(MessageType::kUpdate);
  Writer w(b);
  w.u16(static_cast<std::uint16_t>(withdrawn_size));
  for (const auto& p : m.withdrawn_routes) encode_prefix(w, p);
  w.u16(static_cast<std::uint16_t>(attrs.size()));
  w.bytes(attrs);
  for (const auto& p : m.nlri) encode_prefix(w, p);
  return finish_message(std::move(b));
}

Result<Bytes, EncodeError> encode(const NotificationMessage& m) {
  Bytes b = start_message(MessageType::kNotification);
  Writer w(b);
  w.u8(m.error_code);
  w.u8(m.error_subcode);
  if (m.data.size() > kMaxMessageLength) return unexpected(EncodeError{kTooLong});
  w.bytes(m.data);
  return finish_message(std::move(b));
}

Result<Bytes, EncodeError> encode(const KeepaliveMessage&) {
  return finish_message(start_message(MessageType::kKeepalive));
}

Result<Bytes, EncodeError> encode(const RouteRefreshMessage& m) {
  Bytes b = start_message(MessageType::kRouteRefresh);
  Writer w(b);
  w.u16(static_cast<std::uint16_t>(m.afi));
  w.u8(m.subtype);
  w.u8(static_cast<std::uint8_t>(m.safi));
  return finish_message(std::move(b));
}

Result<Bytes, EncodeError> encode(const Message& m, const CodecOptions& options) {
  return std::visit(
      [&](const auto& x) -> Result<Bytes, EncodeError> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, UpdateMessage>) {
          return encode(x, options);
        } else {
          return encode(x);
        }
      },
      m);
}

Result<std::vector<Bytes>, EncodeError> encode_split(const UpdateMessage& m,
                                                     const CodecOptions& options) {
  auto whole = encode(m, options);
  if (whole) return std::vector<Bytes>{std::move(whole).value()};
  if (whole.error().reason != kTooLong) return unexpected(whole.error());

  std::vector<UpdateMessage> pieces;
  // Room for prefixes once the header, both length fields and (for the MP
  // attributes) a 4-octet attribute header plus AFI/SAFI are counted.
  constexpr std::size_t kFixed = kHeaderLength + 4;

  // 1. IPv4 withdrawals, no attributes.
  for (std::size_t i = 0; i < m.withdrawn_routes.size();) {
    UpdateMessage u;
    std::size_t used = kFixed;
    while (i < m.withdrawn_routes.size() &&
           used + m.withdrawn_routes[i].encoded_size() <= kMaxMessageLength) {
      used += m.withdrawn_routes[i].encoded_size();
      u.withdrawn_routes.push_back(m.withdrawn_routes[i++]);
    }
    pieces.push_back(std::move(u));
  }
  // 2. MP_UNREACH_NLRI withdrawals, that attribute alone.
  if (const auto& un = m.path_attributes.mp_unreach_nlri) {
    const std::size_t n = un->ipv4_withdrawn.size() + un->ipv6_withdrawn.size();
    for (std::size_t i = 0; i < n || (i == 0 && n == 0);) {
      UpdateMessage u;
      MpUnreachNlri part{un->afi, un->safi, {}, {}};
      std::size_t used = kFixed + 4 + 3;
      for (; i < n; ++i) {
        const std::size_t sz =
            i < un->ipv4_withdrawn.size()
                ? un->ipv4_withdrawn[i].encoded_size()
                : un->ipv6_withdrawn[i - un->ipv4_withdrawn.size()].encoded_size();
        if (used + sz > kMaxMessageLength) break;
        used += sz;
        if (i < un->ipv4_withdrawn.size()) {
          part.ipv4_withdrawn.push_back(un->ipv4_withdrawn[i]);
        } else {
          part.ipv6_withdrawn.push_back(
              un->ipv6_withdrawn[i - un->ipv4_withdrawn.size()]);
        }
      }
      u.path_attributes.mp_unreach_nlri = std::move(part);
      pieces.push_back(std::move(u));
      if (n == 0) break;
    }
  }
  // 3. Reachability: the other attributes repeated in every message.
  UpdateMessage base;
  base.path_attributes = m.path_attributes;
  base.path_attributes.mp_unreach_nlri.reset();
  std::vector<std::size_t> sizes;  // IPv4 NLRI first, then MP_REACH_NLRI prefixes
  const MpReachNlri* reach = nullptr;
  if (base.path_attributes.mp_reach_nlri) {
    reach = &*m.path_attributes.mp_reach_nlri;
    base.path_attributes.mp_reach_nlri->ipv4_nlri.clear();
    base.path_attributes.mp_reach_nlri->ipv6_nlri.clear();
  }
  const std::size_t n4 = m.nlri.size();
  const std::size_t nmp4 = reach ? reach->ipv4_nlri.size() : 0;
  const std::size_t nmp = reach ? nmp4 + reach->ipv6_nlri.size() : 0;
  if (n4 + nmp > 0) {
    auto base_bytes = encode(base, options);
    if (!base_bytes) return unexpected(base_bytes.error());
    // One spare octet: MP_REACH_NLRI may need the extended length.
    const std::size_t base_size = base_bytes->size() + (reach ? 1 : 0);
    for (std::size_t i = 0; i < n4 + nmp;) {
      UpdateMessage u = base;
      std::size_t used = base_size;
      std::size_t added = 0;
      for (; i < n4 + nmp; ++i) {
        std::size_t sz = 0;
        if (i < n4) {
          sz = m.nlri[i].encoded_size();
        } else if (i - n4 < nmp4) {
          sz = reach->ipv4_nlri[i - n4].encoded_size();
        } else {
          sz = reach->ipv6_nlri[i - n4 - nmp4].encoded_size();
        }
        if (used + sz > kMaxMessageLength) break;
        used += sz;
        ++added;
        if (i < n4) {
          u.nlri.push_back(m.nlri[i]);
        } else if (i - n4 < nmp4) {
          u.path_attributes.mp_reach_nlri->ipv4_nlri.push_back(reach->ipv4_nlri[i - n4]);
        } else {
          u.path_attributes.mp_reach_nlri->ipv6_nlri.push_back(
              reach->ipv6_nlri[i - n4 - nmp4]);
        }
      }
      if (added == 0) {
        return unexpected(EncodeError{"path attributes leave no room for a prefix"});
      }
      pieces.push_back(std::move(u));
    }
  }

  std::vector<Bytes> out;
  for (const UpdateMessage& u : pieces) {
    auto b = encode(u, options);
    if (!b) return unexpected(b.error());
    out.push_back(std::move(b).value());
  }
  return out;
}

}  // namespace nva::bgp
