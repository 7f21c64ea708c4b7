// Path attributes, one home each: every recognised attribute has its spec
// (type code, flags, RFC 7606 approach, mandatory or not), decoder and
// encoder together below, and kAttributes lists them. Then the walk over an
// UPDATE's Path Attributes field (RFC 4271 section 6.3 as revised by RFC
// 7606, the RFC 6793 section 4.2.3 AS4_PATH merge) and the encoder, both
// driven by the table.
#include "controlplane/bgp/attributes.h"

#include <algorithm>
#include <array>
#include <utility>

namespace nva::bgp {
namespace {

namespace type = attribute_type;
namespace flag = attribute_flag;
namespace err = update_error;

constexpr auto kDiscard = ErrorHandling::kAttributeDiscard;
constexpr auto kWithdraw = ErrorHandling::kTreatAsWithdraw;
constexpr auto kReset = ErrorHandling::kSessionReset;

// The Optional and Transitive bits a recognised attribute must carry.
constexpr std::uint8_t kWellKnown = flag::kTransitive;
constexpr std::uint8_t kOptionalNonTransitive = flag::kOptional;
constexpr std::uint8_t kOptionalTransitive = flag::kOptional | flag::kTransitive;

using Value = std::span<const std::uint8_t>;

// What decoding the attributes of one UPDATE has so far: the attributes, and
// AS4_PATH and AS4_AGGREGATOR until they are merged (RFC 6793 4.2.3).
struct Decoded {
  PathAttributes attributes;
  std::optional<AsPath> as4_path;
  std::optional<Aggregator> as4_aggregator;
};

// Why an attribute was not taken: the UPDATE Message Error subcode RFC 4271
// would have sent and a reason, both for the log.
struct Rejection {
  std::uint8_t subcode = 0;
  std::string_view reason;
  // false: the value is malformed, handled as its spec's on_malformed says.
  // true: well-formed or not, this session does not use it: discarded.
  bool ignored = false;
};
Rejection malformed(std::uint8_t subcode, std::string_view reason) {
  return {subcode, reason, false};
}
Rejection ignoring(std::uint8_t subcode, std::string_view reason) {
  return {subcode, reason, true};
}

// When a well-known mandatory attribute must be there (RFC 4271 6.3).
enum class Mandatory : std::uint8_t {
  kNo,
  kWithReachability,  // with NLRI or MP_REACH_NLRI
  kWithNlriField,     // with NLRI only (RFC 4760: optional with MP_REACH_NLRI alone)
};

// One recognised attribute.
struct AttributeSpec {
  std::uint8_t type = 0;
  std::uint8_t flags = 0;  // Optional and Transitive bits (RFC 4271 5, 4760, 6793, 8092)
  // RFC 7606: the approach for a malformed value. Where it is a session
  // reset, a repetition (3.g) or flags in conflict (3.c) reset it too:
  // MP_(UN)REACH_NLRI, which cannot be treated as withdraw without trusting
  // them.
  ErrorHandling on_malformed = ErrorHandling::kNone;
  Mandatory mandatory = Mandatory::kNo;
  std::string_view missing;  // the reason when a mandatory one is missing
  // false: merged into another attribute, whose encoder writes it again: its
  // Extended Length and Partial bits are not kept.
  bool flags_kept = true;
  // Written before all others, by type code (RFC 7606 5.1: MP_(UN)REACH_NLRI).
  bool written_first = false;
  // Sessions that ignore the attribute whatever its flags: why, or nothing.
  std::optional<Rejection> (*ignored)(const CodecOptions& o) = nullptr;
  // Takes the value into `d`, or says why not (then `d` is unchanged).
  std::optional<Rejection> (*decode)(Value v, const CodecOptions& o,
                                     Decoded& d) = nullptr;
  // Sets `value` when `a` has the attribute to send.
  std::optional<EncodeError> (*encode)(const PathAttributes& a, const CodecOptions& o,
                                       std::optional<Bytes>& value) = nullptr;
};

std::size_t as_size(const CodecOptions& o) { return o.four_octet_as ? 4 : 2; }

std::uint32_t read_u32(Value v) {
  std::uint32_t x = 0;
  Reader r(v);
  (void)r.u32(x);
  return x;
}

Bytes u32_value(std::uint32_t x) {
  Bytes v;
  Writer(v).u32(x);
  return v;
}

// --- AS paths (AS_PATH and AS4_PATH) -------------------------------------------

bool is_confed(AsPathSegmentType t) {
  return t == AsPathSegmentType::kAsConfedSequence ||
         t == AsPathSegmentType::kAsConfedSet;
}

bool has_confed(const AsPath& p) {
  return std::any_of(p.segments.begin(), p.segments.end(),
                     [](const AsPathSegment& s) { return is_confed(s.type); });
}

// AS_PATH or AS4_PATH value (RFC 4271 4.3, RFC 7606 section 7.2): reason
// is non-empty when it is malformed.
std::string_view parse_as_path(Value value, std::size_t as_size, AsPath& out) {
  Reader r(value);
  bool seen_plain = false;
  while (!r.empty()) {
    std::uint8_t seg_type = 0, count = 0;
    if (!r.u8(seg_type) || !r.u8(count)) return "AS_PATH segment header truncated";
    if (seg_type < 1 || seg_type > 4) return "unrecognized AS_PATH segment type";
    if (count == 0) return "AS_PATH segment length is zero";
    AsPathSegment seg;
    seg.type = static_cast<AsPathSegmentType>(seg_type);
    // Confederation segments are prepended inside a confederation, so they
    // can only lead the path; one after an ordinary segment is malformed
    // (and would not survive the RFC 6793 merge).
    if (is_confed(seg.type) && seen_plain)
      return "AS_CONFED segment after an AS_SET/AS_SEQUENCE";
    seen_plain = seen_plain || !is_confed(seg.type);
    seg.asns.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      std::uint32_t as = 0;
      if (as_size == 4) {
        if (!r.u32(as)) return "AS_PATH segment overruns the attribute";
      } else {
        std::uint16_t as2 = 0;
        if (!r.u16(as2)) return "AS_PATH segment overruns the attribute";
        as = as2;
      }
      seg.asns.push_back(as);
    }
    out.segments.push_back(std::move(seg));
  }
  return {};
}

// RFC 6793 section 4.2.3: the leading (AS_PATH length - AS4_PATH length)
// ASes of AS_PATH (and any confederation segments before them), then
// AS4_PATH. The caller checked that AS4_PATH is not the longer one.
AsPath merge_as4_path(const AsPath& as_path, const AsPath& as4_path) {
  std::size_t need = as_path.length() - as4_path.length();
  AsPath out;
  for (const AsPathSegment& seg : as_path.segments) {
    if (is_confed(seg.type)) {
      out.segments.push_back(seg);
      continue;
    }
    if (need == 0) break;
    if (seg.type == AsPathSegmentType::kAsSet) {
      out.segments.push_back(seg);
      need -= 1;
      continue;
    }
    const std::size_t take = std::min(need, seg.asns.size());
    AsPathSegment part{seg.type,
                       {seg.asns.begin(), seg.asns.begin() + static_cast<long>(take)}};
    out.segments.push_back(std::move(part));
    need -= take;
  }
  out.segments.insert(out.segments.end(), as4_path.segments.begin(),
                      as4_path.segments.end());
  return out;
}

std::optional<EncodeError> encode_as_path_value(Bytes& out, const AsPath& p,
                                                bool four_octet, bool skip_confed) {
  Writer w(out);
  for (const auto& seg : p.segments) {
    if (skip_confed && is_confed(seg.type)) continue;
    const auto t = static_cast<std::uint8_t>(seg.type);
    if (t < 1 || t > 4) return EncodeError{"unknown AS_PATH segment type"};
    if (seg.asns.empty()) return EncodeError{"empty AS_PATH segment"};
    const bool is_set = seg.type == AsPathSegmentType::kAsSet ||
                        seg.type == AsPathSegmentType::kAsConfedSet;
    if (is_set && seg.asns.size() > 255)
      return EncodeError{"AS_SET with more than 255 ASes"};
    // Sequences longer than 255 ASes become several segments (RFC 4271 5.1.2).
    for (std::size_t i = 0; i < seg.asns.size(); i += 255) {
      const std::size_t n = std::min<std::size_t>(255, seg.asns.size() - i);
      w.u8(t);
      w.u8(static_cast<std::uint8_t>(n));
      for (std::size_t j = i; j < i + n; ++j) {
        const std::uint32_t as = seg.asns[j];
        if (four_octet) {
          w.u32(as);
        } else {
          w.u16(static_cast<std::uint16_t>(as > 0xFFFF ? kAsTrans : as));
        }
      }
    }
  }
  return std::nullopt;
}

bool needs_as4(const AsPath& p) {
  for (const auto& seg : p.segments) {
    if (is_confed(seg.type)) continue;
    for (std::uint32_t as : seg.asns) {
      if (as > 0xFFFF) return true;
    }
  }
  return false;
}

// RFC 6793 4.2.2: a 2-octet session gets AS4_PATH when the path has a
// 4-octet AS.
bool sends_as4_path(const PathAttributes& a, const CodecOptions& o) {
  return !o.four_octet_as && a.as_path && needs_as4(*a.as_path);
}

// --- Aggregators (AGGREGATOR and AS4_AGGREGATOR) -------------------------------

Aggregator parse_aggregator(Value value, std::size_t as_size) {
  Reader r(value);
  Aggregator agg;
  if (as_size == 4) {
    (void)r.u32(agg.autonomous_system);
  } else {
    std::uint16_t as2 = 0;
    (void)r.u16(as2);
    agg.autonomous_system = as2;
  }
  std::span<const std::uint8_t> addr;
  if (r.bytes(4, addr)) std::copy(addr.begin(), addr.end(), agg.address.begin());
  return agg;
}

Bytes aggregator_value(std::uint32_t as, const Ipv4Address& addr, bool four_octet) {
  Bytes out;
  Writer w(out);
  if (four_octet) {
    w.u32(as);
  } else {
    w.u16(static_cast<std::uint16_t>(as));
  }
  w.bytes(addr);
  return out;
}

// RFC 6793 4.2.2: a 2-octet session gets AS4_AGGREGATOR (and AS_TRANS in
// AGGREGATOR) for a 4-octet AS, and with AS4_PATH, or the receiver ignores
// AS4_PATH (4.2.3).
bool sends_as4_aggregator(const PathAttributes& a, const CodecOptions& o) {
  return !o.four_octet_as && a.aggregator &&
         (a.aggregator->autonomous_system > 0xFFFF || sends_as4_path(a, o));
}

// --- MP_REACH_NLRI and MP_UNREACH_NLRI -----------------------------------------

// The address families this codec carries; others are discarded on receipt
// and refused on sending.
bool carried(Afi afi, Safi safi) {
  return safi == Safi::kUnicast && (afi == Afi::kIpv4 || afi == Afi::kIpv6);
}

template <std::size_t N>
bool prefixes_valid(const std::vector<BasicPrefix<N>>& v) {
  return std::all_of(v.begin(), v.end(), [](const BasicPrefix<N>& p) {
    return p.length <= BasicPrefix<N>::kMaxLength;
  });
}

// The prefixes that end an MP_(UN)REACH_NLRI, into the list of its AFI.
std::optional<Rejection> decode_mp_prefixes(Afi afi, Value field,
                                            std::vector<Ipv4Prefix>& v4,
                                            std::vector<Ipv6Prefix>& v6) {
  const NlriError e =
      afi == Afi::kIpv4 ? decode_prefixes(field, v4) : decode_prefixes(field, v6);
  if (e == NlriError::kNone) return std::nullopt;
  return malformed(err::kOptionalAttributeError, nlri_error_reason(e));
}

// Appends the prefixes of an MP_(UN)REACH_NLRI to send: only the list of its
// AFI may have any (`other_family`: the error otherwise).
std::optional<EncodeError> encode_mp_prefixes(Writer& w, Afi afi,
                                              const std::vector<Ipv4Prefix>& v4,
                                              const std::vector<Ipv6Prefix>& v6,
                                              std::string_view other_family) {
  if (afi == Afi::kIpv4 ? !v6.empty() : !v4.empty()) return EncodeError{other_family};
  if (!prefixes_valid(v4) || !prefixes_valid(v6)) {
    return EncodeError{"prefix length exceeds the address size"};
  }
  for (const auto& p : v4) encode_prefix(w, p);
  for (const auto& p : v6) encode_prefix(w, p);
  return std::nullopt;
}

// ORIGIN (RFC 4271 5.1.1, RFC 7606 7.1) -----------------------------------------

std::optional<Rejection> decode_origin(Value v, const CodecOptions& /*o*/, Decoded& d) {
  if (v.size() != 1)
    return malformed(err::kAttributeLengthError, "ORIGIN length is not 1");
  if (v[0] > 2) return malformed(err::kInvalidOriginAttribute, "undefined ORIGIN value");
  d.attributes.origin = static_cast<Origin>(v[0]);
  return std::nullopt;
}

std::optional<EncodeError> encode_origin(const PathAttributes& a,
                                         const CodecOptions& /*o*/,
                                         std::optional<Bytes>& value) {
  if (!a.origin) return std::nullopt;
  const auto o = static_cast<std::uint8_t>(*a.origin);
  if (o > 2) return EncodeError{"undefined ORIGIN value"};
  value = Bytes{o};
  return std::nullopt;
}

constexpr AttributeSpec kOrigin{.type = type::kOrigin,
                                .flags = kWellKnown,
                                .on_malformed = kWithdraw,
                                .mandatory = Mandatory::kWithReachability,
                                .missing = "ORIGIN missing",
                                .decode = decode_origin,
                                .encode = encode_origin};

// AS_PATH (RFC 4271 5.1.2, RFC 7606 7.2) ----------------------------------------

std::optional<Rejection> decode_as_path(Value v, const CodecOptions& o, Decoded& d) {
  AsPath p;
  if (const std::string_view why = parse_as_path(v, as_size(o), p); !why.empty()) {
    return malformed(err::kMalformedAsPath, why);
  }
  if (o.external_peer && has_confed(p)) {
    return malformed(err::kMalformedAsPath, "AS_CONFED segment from an external peer");
  }
  d.attributes.as_path = std::move(p);
  return std::nullopt;
}

std::optional<EncodeError> encode_as_path(const PathAttributes& a, const CodecOptions& o,
                                          std::optional<Bytes>& value) {
  if (!a.as_path) return std::nullopt;
  Bytes v;
  if (auto e = encode_as_path_value(v, *a.as_path, o.four_octet_as, false)) return e;
  value = std::move(v);
  return std::nullopt;
}

constexpr AttributeSpec kAsPath{.type = type::kAsPath,
                                .flags = kWellKnown,
                                .on_malformed = kWithdraw,
                                .mandatory = Mandatory::kWithReachability,
                                .missing = "AS_PATH missing",
                                .decode = decode_as_path,
                                .encode = encode_as_path};

// NEXT_HOP (RFC 4271 5.1.3, RFC 7606 7.3) ---------------------------------------

std::optional<Rejection> decode_next_hop(Value v, const CodecOptions& /*o*/, Decoded& d) {
  if (v.size() != 4)
    return malformed(err::kAttributeLengthError, "NEXT_HOP length is not 4");
  if (v[0] == 0 || v[0] >= 224) {
    return malformed(err::kInvalidNextHopAttribute,
                     "NEXT_HOP is not a unicast host address");
  }
  d.attributes.next_hop = Ipv4Address{v[0], v[1], v[2], v[3]};
  return std::nullopt;
}

std::optional<EncodeError> encode_next_hop(const PathAttributes& a,
                                           const CodecOptions& /*o*/,
                                           std::optional<Bytes>& value) {
  if (a.next_hop) value = Bytes(a.next_hop->begin(), a.next_hop->end());
  return std::nullopt;
}

constexpr AttributeSpec kNextHop{.type = type::kNextHop,
                                 .flags = kWellKnown,
                                 .on_malformed = kWithdraw,
                                 .mandatory = Mandatory::kWithNlriField,
                                 .missing = "NEXT_HOP missing",
                                 .decode = decode_next_hop,
                                 .encode = encode_next_hop};

// MULTI_EXIT_DISC (RFC 4271 5.1.4, RFC 7606 7.4) --------------------------------

std::optional<Rejection> decode_med(Value v, const CodecOptions& /*o*/, Decoded& d) {
  if (v.size() != 4) {
    return malformed(err::kAttributeLengthError, "MULTI_EXIT_DISC length is not 4");
  }
  d.attributes.multi_exit_disc = read_u32(v);
  return std::nullopt;
}

std::optional<EncodeError> encode_med(const PathAttributes& a, const CodecOptions& /*o*/,
                                      std::optional<Bytes>& value) {
  if (a.multi_exit_disc) value = u32_value(*a.multi_exit_disc);
  return std::nullopt;
}

constexpr AttributeSpec kMultiExitDisc{.type = type::kMultiExitDisc,
                                       .flags = kOptionalNonTransitive,
                                       .on_malformed = kWithdraw,
                                       .decode = decode_med,
                                       .encode = encode_med};

// LOCAL_PREF (RFC 4271 5.1.5, RFC 7606 7.5) -------------------------------------

std::optional<Rejection> local_pref_ignored(const CodecOptions& o) {
  if (!o.external_peer) return std::nullopt;
  return ignoring(err::kMalformedAttributeList, "LOCAL_PREF from an external peer");
}

std::optional<Rejection> decode_local_pref(Value v, const CodecOptions& /*o*/,
                                           Decoded& d) {
  if (v.size() != 4)
    return malformed(err::kAttributeLengthError, "LOCAL_PREF length is not 4");
  d.attributes.local_pref = read_u32(v);
  return std::nullopt;
}

std::optional<EncodeError> encode_local_pref(const PathAttributes& a,
                                             const CodecOptions& o,
                                             std::optional<Bytes>& value) {
  if (!a.local_pref) return std::nullopt;
  if (o.external_peer) return EncodeError{"LOCAL_PREF is not sent to external peers"};
  value = u32_value(*a.local_pref);
  return std::nullopt;
}

constexpr AttributeSpec kLocalPref{.type = type::kLocalPref,
                                   .flags = kWellKnown,
                                   .on_malformed = kWithdraw,
                                   .ignored = local_pref_ignored,
                                   .decode = decode_local_pref,
                                   .encode = encode_local_pref};

// ATOMIC_AGGREGATE (RFC 4271 5.1.6, RFC 7606 7.6) -------------------------------

std::optional<Rejection> decode_atomic_aggregate(Value v, const CodecOptions& /*o*/,
                                                 Decoded& d) {
  if (!v.empty()) {
    return malformed(err::kAttributeLengthError, "ATOMIC_AGGREGATE length is not 0");
  }
  d.attributes.atomic_aggregate = true;
  return std::nullopt;
}

std::optional<EncodeError> encode_atomic_aggregate(const PathAttributes& a,
                                                   const CodecOptions& /*o*/,
                                                   std::optional<Bytes>& value) {
  if (a.atomic_aggregate) value = Bytes{};
  return std::nullopt;
}

constexpr AttributeSpec kAtomicAggregate{.type = type::kAtomicAggregate,
                                         .flags = kWellKnown,
                                         .on_malformed = kDiscard,
                                         .decode = decode_atomic_aggregate,
                                         .encode = encode_atomic_aggregate};

// AGGREGATOR (RFC 4271 5.1.7, RFC 6793 4.2.2, RFC 7606 7.7) ---------------------

std::optional<Rejection> decode_aggregator(Value v, const CodecOptions& o, Decoded& d) {
  if (v.size() != as_size(o) + 4) {  // AS, then an IPv4 address
    return malformed(err::kAttributeLengthError, "AGGREGATOR length is wrong");
  }
  d.attributes.aggregator = parse_aggregator(v, as_size(o));
  return std::nullopt;
}

std::optional<EncodeError> encode_aggregator(const PathAttributes& a,
                                             const CodecOptions& o,
                                             std::optional<Bytes>& value) {
  if (!a.aggregator) return std::nullopt;
  const std::uint32_t as =
      sends_as4_aggregator(a, o) ? kAsTrans : a.aggregator->autonomous_system;
  value = aggregator_value(as, a.aggregator->address, o.four_octet_as);
  return std::nullopt;
}

constexpr AttributeSpec kAggregator{.type = type::kAggregator,
                                    .flags = kOptionalTransitive,
                                    .on_malformed = kDiscard,
                                    .decode = decode_aggregator,
                                    .encode = encode_aggregator};

// COMMUNITIES (RFC 1997, RFC 7606 7.8) ------------------------------------------

std::optional<Rejection> decode_communities(Value v, const CodecOptions& /*o*/,
                                            Decoded& d) {
  if (v.empty() || v.size() % 4 != 0) {
    return malformed(err::kAttributeLengthError,
                     "COMMUNITIES length is not a non-zero multiple of 4");
  }
  for (std::size_t i = 0; i < v.size(); i += 4) {
    d.attributes.communities.push_back(Community{read_u32(v.subspan(i, 4))});
  }
  return std::nullopt;
}

std::optional<EncodeError> encode_communities(const PathAttributes& a,
                                              const CodecOptions& /*o*/,
                                              std::optional<Bytes>& value) {
  if (a.communities.empty()) return std::nullopt;
  Bytes v;
  Writer w(v);
  for (const Community& c : a.communities) w.u32(c.value);
  value = std::move(v);
  return std::nullopt;
}

constexpr AttributeSpec kCommunities{.type = type::kCommunities,
                                     .flags = kOptionalTransitive,
                                     .on_malformed = kWithdraw,
                                     .decode = decode_communities,
                                     .encode = encode_communities};

// MP_REACH_NLRI (RFC 4760 section 3, RFC 7606 7.11) -----------------------------

std::optional<Rejection> decode_mp_reach(Value v, const CodecOptions& /*o*/, Decoded& d) {
  Reader r(v);
  std::uint16_t afi = 0;
  std::uint8_t safi = 0, nh_len = 0, reserved = 0;
  std::span<const std::uint8_t> nh;
  if (!r.u16(afi) || !r.u8(safi) || !r.u8(nh_len) || !r.bytes(nh_len, nh) ||
      !r.u8(reserved)) {
    return malformed(err::kOptionalAttributeError, "MP_REACH_NLRI truncated");
  }
  MpReachNlri mp;
  mp.afi = static_cast<Afi>(afi);
  mp.safi = static_cast<Safi>(safi);
  if (!carried(mp.afi, mp.safi)) {
    return ignoring(err::kOptionalAttributeError,
                    "MP_REACH_NLRI for an AFI/SAFI this speaker does not carry");
  }
  if ((mp.afi == Afi::kIpv4 && nh_len != 4) ||
      (mp.afi == Afi::kIpv6 && nh_len != 16 && nh_len != 32)) {
    return malformed(err::kOptionalAttributeError,
                     "MP_REACH_NLRI next hop length does not match the AFI");
  }
  mp.next_hop.assign(nh.begin(), nh.end());
  if (auto why = decode_mp_prefixes(mp.afi, r.rest(), mp.ipv4_nlri, mp.ipv6_nlri)) {
    return why;
  }
  d.attributes.mp_reach_nlri = std::move(mp);
  return std::nullopt;
}

std::optional<EncodeError> encode_mp_reach(const PathAttributes& a,
                                           const CodecOptions& /*o*/,
                                           std::optional<Bytes>& value) {
  if (!a.mp_reach_nlri) return std::nullopt;
  const MpReachNlri& mp = *a.mp_reach_nlri;
  if (!carried(mp.afi, mp.safi)) {
    return EncodeError{"MP_REACH_NLRI for an unsupported AFI/SAFI"};
  }
  const std::size_t nh = mp.next_hop.size();
  if (mp.afi == Afi::kIpv4 ? nh != 4 : (nh != 16 && nh != 32)) {
    return EncodeError{"MP_REACH_NLRI next hop length does not match the AFI"};
  }
  Bytes v;
  Writer w(v);
  w.u16(static_cast<std::uint16_t>(mp.afi));
  w.u8(static_cast<std::uint8_t>(mp.safi));
  w.u8(static_cast<std::uint8_t>(nh));
  w.bytes(mp.next_hop);
  w.u8(0);  // Reserved
  if (auto e = encode_mp_prefixes(w, mp.afi, mp.ipv4_nlri, mp.ipv6_nlri,
                                  "MP_REACH_NLRI prefixes of another address family")) {
    return e;
  }
  value = std::move(v);
  return std::nullopt;
}

constexpr AttributeSpec kMpReachNlri{.type = type::kMpReachNlri,
                                     .flags = kOptionalNonTransitive,
                                     .on_malformed = kReset,
                                     .written_first = true,
                                     .decode = decode_mp_reach,
                                     .encode = encode_mp_reach};

// MP_UNREACH_NLRI (RFC 4760 section 4, RFC 7606 7.12) ---------------------------

std::optional<Rejection> decode_mp_unreach(Value v, const CodecOptions& /*o*/,
                                           Decoded& d) {
  Reader r(v);
  std::uint16_t afi = 0;
  std::uint8_t safi = 0;
  if (!r.u16(afi) || !r.u8(safi)) {
    return malformed(err::kOptionalAttributeError, "MP_UNREACH_NLRI truncated");
  }
  MpUnreachNlri mp;
  mp.afi = static_cast<Afi>(afi);
  mp.safi = static_cast<Safi>(safi);
  if (!carried(mp.afi, mp.safi)) {
    return ignoring(err::kOptionalAttributeError,
                    "MP_UNREACH_NLRI for an AFI/SAFI this speaker does not carry");
  }
  if (auto why =
          decode_mp_prefixes(mp.afi, r.rest(), mp.ipv4_withdrawn, mp.ipv6_withdrawn)) {
    return why;
  }
  d.attributes.mp_unreach_nlri = std::move(mp);
  return std::nullopt;
}

std::optional<EncodeError> encode_mp_unreach(const PathAttributes& a,
                                             const CodecOptions& /*o*/,
                                             std::optional<Bytes>& value) {
  if (!a.mp_unreach_nlri) return std::nullopt;
  const MpUnreachNlri& mp = *a.mp_unreach_nlri;
  if (!carried(mp.afi, mp.safi)) {
    return EncodeError{"MP_UNREACH_NLRI for an unsupported AFI/SAFI"};
  }
  Bytes v;
  Writer w(v);
  w.u16(static_cast<std::uint16_t>(mp.afi));
  w.u8(static_cast<std::uint8_t>(mp.safi));
  if (auto e = encode_mp_prefixes(w, mp.afi, mp.ipv4_withdrawn, mp.ipv6_withdrawn,
                                  "MP_UNREACH_NLRI prefixes of another address family")) {
    return e;
  }
  value = std::move(v);
  return std::nullopt;
}

constexpr AttributeSpec kMpUnreachNlri{.type = type::kMpUnreachNlri,
                                       .flags = kOptionalNonTransitive,
                                       .on_malformed = kReset,
                                       .written_first = true,
                                       .decode = decode_mp_unreach,
                                       .encode = encode_mp_unreach};

// AS4_PATH (RFC 6793 sections 4.1, 6) -------------------------------------------

std::optional<Rejection> as4_path_ignored(const CodecOptions& o) {
  if (!o.four_octet_as) return std::nullopt;
  return ignoring(err::kOptionalAttributeError, "AS4_PATH from a 4-octet AS speaker");
}

std::optional<Rejection> decode_as4_path(Value v, const CodecOptions& /*o*/, Decoded& d) {
  AsPath p;
  if (const std::string_view why = parse_as_path(v, 4, p); !why.empty()) {
    return malformed(err::kOptionalAttributeError, why);
  }
  if (has_confed(p)) {
    return malformed(err::kOptionalAttributeError, "AS_CONFED segment in AS4_PATH");
  }
  d.as4_path = std::move(p);
  return std::nullopt;
}

std::optional<EncodeError> encode_as4_path(const PathAttributes& a, const CodecOptions& o,
                                           std::optional<Bytes>& value) {
  if (!sends_as4_path(a, o)) return std::nullopt;
  Bytes v;
  if (auto e = encode_as_path_value(v, *a.as_path, true, true)) return e;
  value = std::move(v);
  return std::nullopt;
}

constexpr AttributeSpec kAs4Path{.type = type::kAs4Path,
                                 .flags = kOptionalTransitive,
                                 .on_malformed = kDiscard,
                                 .flags_kept = false,
                                 .ignored = as4_path_ignored,
                                 .decode = decode_as4_path,
                                 .encode = encode_as4_path};

// AS4_AGGREGATOR (RFC 6793 sections 4.1, 6) -------------------------------------

std::optional<Rejection> as4_aggregator_ignored(const CodecOptions& o) {
  if (!o.four_octet_as) return std::nullopt;
  return ignoring(err::kOptionalAttributeError,
                  "AS4_AGGREGATOR from a 4-octet AS speaker");
}

std::optional<Rejection> decode_as4_aggregator(Value v, const CodecOptions& /*o*/,
                                               Decoded& d) {
  if (v.size() != 8) {
    return malformed(err::kAttributeLengthError, "AS4_AGGREGATOR length is not 8");
  }
  d.as4_aggregator = parse_aggregator(v, 4);
  return std::nullopt;
}

std::optional<EncodeError> encode_as4_aggregator(const PathAttributes& a,
                                                 const CodecOptions& o,
                                                 std::optional<Bytes>& value) {
  if (sends_as4_aggregator(a, o)) {
    value =
        aggregator_value(a.aggregator->autonomous_system, a.aggregator->address, true);
  }
  return std::nullopt;
}

constexpr AttributeSpec kAs4Aggregator{.type = type::kAs4Aggregator,
                                       .flags = kOptionalTransitive,
                                       .on_malformed = kDiscard,
                                       .flags_kept = false,
                                       .ignored = as4_aggregator_ignored,
                                       .decode = decode_as4_aggregator,
                                       .encode = encode_as4_aggregator};

// RFC 6793 section 4.2.3: the 4-octet path and aggregator of a 2-octet
// session, once every attribute is read.
void merge_as4(Decoded& d, UpdateErrors& errors) {
  PathAttributes& a = d.attributes;
  if (!d.as4_aggregator && !d.as4_path) return;
  if (a.aggregator && a.aggregator->autonomous_system != kAsTrans) {
    if (d.as4_aggregator) {
      errors.add(type::kAs4Aggregator, kDiscard, err::kOptionalAttributeError,
                 "AGGREGATOR is not AS_TRANS, AS4_AGGREGATOR ignored");
    }
    if (d.as4_path) {
      errors.add(type::kAs4Path, kDiscard, err::kOptionalAttributeError,
                 "AGGREGATOR is not AS_TRANS, AS4_PATH ignored");
    }
    return;
  }
  if (d.as4_aggregator) {
    if (a.aggregator) {
      a.aggregator = *d.as4_aggregator;
    } else {
      errors.add(type::kAs4Aggregator, kDiscard, err::kOptionalAttributeError,
                 "AS4_AGGREGATOR without AGGREGATOR");
    }
  }
  if (d.as4_path) {
    if (!a.as_path) {
      errors.add(type::kAs4Path, kDiscard, err::kOptionalAttributeError,
                 "AS4_PATH without AS_PATH");
    } else if (d.as4_path->length() > a.as_path->length()) {
      errors.add(type::kAs4Path, kDiscard, err::kOptionalAttributeError,
                 "AS4_PATH longer than AS_PATH, ignored");
    } else {
      a.as_path = merge_as4_path(*a.as_path, *d.as4_path);
    }
  }
}

// LARGE_COMMUNITIES (RFC 8092 section 6) ----------------------------------------

std::optional<Rejection> decode_large_communities(Value v, const CodecOptions& /*o*/,
                                                  Decoded& d) {
  if (v.empty() || v.size() % 12 != 0) {
    return malformed(err::kAttributeLengthError,
                     "LARGE_COMMUNITIES length is not a non-zero multiple of 12");
  }
  for (std::size_t i = 0; i < v.size(); i += 12) {
    d.attributes.large_communities.push_back({read_u32(v.subspan(i, 4)),
                                              read_u32(v.subspan(i + 4, 4)),
                                              read_u32(v.subspan(i + 8, 4))});
  }
  return std::nullopt;
}

std::optional<EncodeError> encode_large_communities(const PathAttributes& a,
                                                    const CodecOptions& /*o*/,
                                                    std::optional<Bytes>& value) {
  if (a.large_communities.empty()) return std::nullopt;
  Bytes v;
  Writer w(v);
  for (const LargeCommunity& c : a.large_communities) {
    w.u32(c.global_administrator);
    w.u32(c.local_data_1);
    w.u32(c.local_data_2);
  }
  value = std::move(v);
  return std::nullopt;
}

constexpr AttributeSpec kLargeCommunities{.type = type::kLargeCommunities,
                                          .flags = kOptionalTransitive,
                                          .on_malformed = kWithdraw,
                                          .decode = decode_large_communities,
                                          .encode = encode_large_communities};

// --- The table -----------------------------------------------------------------

// Every recognised attribute, by type code: the order in which mandatory
// ones are reported missing and encoding errors are found.
constexpr std::array kAttributes{
    &kOrigin,           &kAsPath,          &kNextHop,    &kMultiExitDisc,
    &kLocalPref,        &kAtomicAggregate, &kAggregator, &kCommunities,
    &kMpReachNlri,      &kMpUnreachNlri,   &kAs4Path,    &kAs4Aggregator,
    &kLargeCommunities,
};
// Each type code once, ascending; every spec complete.
static_assert(std::adjacent_find(kAttributes.begin(), kAttributes.end(),
                                 [](const AttributeSpec* x, const AttributeSpec* y) {
                                   return x->type >= y->type;
                                 }) == kAttributes.end());
static_assert(std::all_of(kAttributes.begin(), kAttributes.end(),
                          [](const AttributeSpec* s) {
                            return s->on_malformed != ErrorHandling::kNone &&
                                   s->decode != nullptr && s->encode != nullptr &&
                                   (s->mandatory == Mandatory::kNo) == s->missing.empty();
                          }));

constexpr auto kByType = [] {
  std::array<const AttributeSpec*, 256> index{};
  for (const AttributeSpec* s : kAttributes) index[s->type] = s;
  return index;
}();

// nullptr for an attribute this codec does not recognise.
const AttributeSpec* spec_of(std::uint8_t t) { return kByType[t]; }

Unexpected<DecodeError> reset(std::uint8_t subcode, std::span<const std::uint8_t> data,
                              std::string_view reason) {
  return unexpected(DecodeError{ErrorCode::kUpdateMessageError, subcode,
                                std::vector<std::uint8_t>(data.begin(), data.end()),
                                reason});
}

// One attribute ready to write.
struct Encoded {
  int order = 0;  // those written first, then by type code
  std::uint8_t flags = 0;
  std::uint8_t type = 0;
  std::vector<std::uint8_t> value;
};

int write_order(const AttributeSpec* s, std::uint8_t t) {
  return s != nullptr && s->written_first ? t : 256 + t;
}

}  // namespace

AsPath AsPath::sequence(std::vector<std::uint32_t> asns) {
  AsPath p;
  if (!asns.empty())
    p.segments.push_back({AsPathSegmentType::kAsSequence, std::move(asns)});
  return p;
}

std::size_t AsPath::length() const {
  std::size_t n = 0;
  for (const auto& s : segments) {
    if (s.type == AsPathSegmentType::kAsSequence) n += s.asns.size();
    if (s.type == AsPathSegmentType::kAsSet) n += 1;
  }
  return n;
}

bool AsPath::contains(std::uint32_t as) const {
  for (const auto& s : segments) {
    if (std::find(s.asns.begin(), s.asns.end(), as) != s.asns.end()) return true;
  }
  return false;
}

bool PathAttributes::has_community(Community c) const {
  return std::find(communities.begin(), communities.end(), c) != communities.end();
}

PathAttributes attributes_to_pass_on(const PathAttributes& received) {
  PathAttributes out = received;
  out.unknown.clear();
  for (const auto& u : received.unknown) {
    if (!(u.flags & flag::kTransitive)) continue;
    UnknownAttribute copy = u;
    copy.flags |= flag::kPartial;
    out.unknown.push_back(std::move(copy));
  }
  return out;
}

std::string_view error_handling_name(ErrorHandling h) {
  switch (h) {
    case ErrorHandling::kNone:
      return "none";
    case ErrorHandling::kAttributeDiscard:
      return "attribute-discard";
    case ErrorHandling::kTreatAsWithdraw:
      return "treat-as-withdraw";
    case ErrorHandling::kSessionReset:
      return "session-reset";
  }
  return "?";
}

void UpdateErrors::add(std::uint8_t t, ErrorHandling h, std::uint8_t subcode,
                       std::string_view reason) {
  errors.push_back({t, h, subcode, reason});
  handling = std::max(handling, h);
}

Result<PathAttributes, DecodeError> decode_path_attributes(
    std::span<const std::uint8_t> field, bool has_nlri, const CodecOptions& options,
    UpdateErrors& errors) {
  Decoded d;
  std::bitset<256> seen;

  Reader r(field);
  while (!r.empty()) {
    const std::size_t start = r.position();
    std::uint8_t flags = 0, t = 0;
    // RFC 7606 section 4: a truncated attribute header or an attribute that
    // overruns the field is treat-as-withdraw; the NLRI field is still
    // located from the Total Path Attribute Length.
    if (r.remaining() < 3) {
      errors.add(0, kWithdraw, err::kMalformedAttributeList,
                 "fewer octets left than an attribute header");
      break;
    }
    (void)r.u8(flags);
    (void)r.u8(t);
    std::uint16_t length = 0;
    if (flags & flag::kExtendedLength) {
      if (!r.u16(length)) {
        errors.add(t, kWithdraw, err::kAttributeLengthError,
                   "extended attribute header truncated");
        break;
      }
    } else {
      std::uint8_t l = 0;
      (void)r.u8(l);
      length = l;
    }
    std::span<const std::uint8_t> value;
    if (!r.bytes(length, value)) {
      errors.add(t, kWithdraw, err::kAttributeLengthError,
                 "attribute length overruns the path attributes");
      break;
    }
    const auto raw = field.subspan(start, r.position() - start);
    const AttributeSpec* spec = spec_of(t);

    // RFC 7606 section 3.g: a repeated MP_(UN)REACH_NLRI resets the session,
    // any other repeated attribute keeps its first occurrence.
    if (seen.test(t)) {
      if (spec != nullptr && spec->on_malformed == kReset) {
        return reset(err::kMalformedAttributeList, {},
                     "MP_REACH_NLRI or MP_UNREACH_NLRI appears more than once");
      }
      errors.add(t, kDiscard, err::kMalformedAttributeList,
                 "attribute appears more than once; the first is kept");
      continue;
    }
    seen.set(t);

    if (spec == nullptr) {
      if (!(flags & flag::kOptional)) {
        return reset(err::kUnrecognizedWellKnownAttribute, raw,
                     "unrecognized well-known attribute");
      }
      d.attributes.unknown.push_back(
          {flags, t, std::vector<std::uint8_t>(value.begin(), value.end())});
      continue;
    }
    // Attributes this session ignores whatever their flags (LOCAL_PREF from
    // an external peer, AS4_* from a 4-octet AS speaker).
    if (const auto why = spec->ignored ? spec->ignored(options) : std::nullopt) {
      errors.add(t, kDiscard, why->subcode, why->reason);
      continue;
    }
    // RFC 7606 section 3.c: Optional/Transitive bits in conflict with the
    // type code make the attribute malformed: treat-as-withdraw, or a reset
    // for an attribute whose malformation resets.
    if ((flags & (flag::kOptional | flag::kTransitive)) != spec->flags) {
      if (spec->on_malformed == kReset) {
        return reset(
            err::kAttributeFlagsError, raw,
            "MP_REACH_NLRI/MP_UNREACH_NLRI attribute flags conflict with the type");
      }
      errors.add(t, kWithdraw, err::kAttributeFlagsError,
                 "Optional or Transitive bit conflicts with the attribute type");
      continue;
    }
    if (const auto why = spec->decode(value, options, d)) {
      const ErrorHandling h = why->ignored ? kDiscard : spec->on_malformed;
      if (h == kReset) return reset(why->subcode, raw, why->reason);
      errors.add(t, h, why->subcode, why->reason);
      continue;
    }
    if (spec->flags_kept) {
      if (flags & flag::kExtendedLength) d.attributes.extended_length.set(t);
      if (spec->flags == kOptionalTransitive && (flags & flag::kPartial)) {
        d.attributes.partial.set(t);
      }
    }
  }

  merge_as4(d, errors);

  // Well-known mandatory attributes (RFC 4271 6.3, RFC 7606 3.d): only when
  // the UPDATE carries reachability. One that was there but malformed is not
  // reported again as missing.
  if (has_nlri || d.attributes.mp_reach_nlri) {
    for (const AttributeSpec* s : kAttributes) {
      const bool needed = s->mandatory == Mandatory::kWithReachability ||
                          (s->mandatory == Mandatory::kWithNlriField && has_nlri);
      if (needed && !seen.test(s->type)) {
        errors.add(s->type, kWithdraw, err::kMissingWellKnownAttribute, s->missing);
      }
    }
  }

  PathAttributes& a = d.attributes;
  std::stable_sort(a.unknown.begin(), a.unknown.end(),
                   [](const UnknownAttribute& x, const UnknownAttribute& y) {
                     return x.type < y.type;
                   });
  return std::move(a);
}

std::optional<EncodeError> encode_path_attributes(Writer& w, const PathAttributes& a,
                                                  const CodecOptions& options) {
  std::vector<Encoded> attrs;
  for (const AttributeSpec* s : kAttributes) {
    std::optional<Bytes> value;
    if (auto e = s->encode(a, options, value)) return e;
    if (!value) continue;
    std::uint8_t flags = s->flags;
    if (s->flags == kOptionalTransitive && a.partial.test(s->type))
      flags |= flag::kPartial;
    if (a.extended_length.test(s->type)) flags |= flag::kExtendedLength;
    attrs.push_back({write_order(s, s->type), flags, s->type, std::move(*value)});
  }
  for (const UnknownAttribute& u : a.unknown) {
    if (spec_of(u.type) != nullptr)
      return EncodeError{"unknown attribute with a known type code"};
    if (!(u.flags & flag::kOptional)) return EncodeError{"unknown well-known attribute"};
    attrs.push_back({write_order(nullptr, u.type), u.flags, u.type, u.value});
  }

  std::stable_sort(attrs.begin(), attrs.end(),
                   [](const Encoded& x, const Encoded& y) { return x.order < y.order; });
  for (const Encoded& e : attrs) {
    if (e.value.size() > 0xFFFF) return EncodeError{"attribute longer than 65535 octets"};
    const bool ext = (e.flags & flag::kExtendedLength) || e.value.size() > 255;
    w.u8(ext ? e.flags | flag::kExtendedLength : e.flags);
    w.u8(e.type);
    if (ext) {
      w.u16(static_cast<std::uint16_t>(e.value.size()));
    } else {
      w.u8(static_cast<std::uint8_t>(e.value.size()));
    }
    w.bytes(e.value);
  }
  return std::nullopt;
}

}  // namespace nva::bgp
