// Path attribute decoding (RFC 4271 section 6.3 as revised by RFC 7606,
// RFC 6793 section 4.2.3 AS4_PATH merge) and encoding.
#include "controlplane/bgp/attributes.h"

#include <algorithm>
#include <utility>

namespace nva::bgp {
namespace {

namespace type = attribute_type;
namespace flag = attribute_flag;

// Optional and Transitive bits of a recognised attribute (RFC 4271 5,
// RFC 4760, RFC 6793, RFC 8092).
struct AttributeSpec {
  bool known = false;
  bool optional = false;
  bool transitive = false;
};

AttributeSpec spec_of(std::uint8_t t) {
  switch (t) {
    case type::kOrigin:
    case type::kAsPath:
    case type::kNextHop:
    case type::kLocalPref:
    case type::kAtomicAggregate:
      return {true, false, true};
    case type::kMultiExitDisc:
    case type::kMpReachNlri:
    case type::kMpUnreachNlri:
      return {true, true, false};
    case type::kAggregator:
    case type::kCommunities:
    case type::kAs4Path:
    case type::kAs4Aggregator:
    case type::kLargeCommunities:
      return {true, true, true};
    default:
      return {};
  }
}

std::uint8_t canonical_flags(std::uint8_t t) {
  const AttributeSpec s = spec_of(t);
  return static_cast<std::uint8_t>((s.optional ? flag::kOptional : 0) |
                                   (s.transitive ? flag::kTransitive : 0));
}

bool is_confed(AsPathSegmentType t) {
  return t == AsPathSegmentType::kAsConfedSequence ||
         t == AsPathSegmentType::kAsConfedSet;
}

Unexpected<DecodeError> reset(std::uint8_t subcode, std::span<const std::uint8_t> data,
                              std::string_view reason) {
  return unexpected(DecodeError{ErrorCode::kUpdateMessageError, subcode,
                                std::vector<std::uint8_t>(data.begin(), data.end()),
                                reason});
}

// AS_PATH or AS4_PATH value (RFC 4271 4.3, RFC 7606 section 7.2): reason
// is non-empty when it is malformed.
std::string_view parse_as_path(std::span<const std::uint8_t> value, std::size_t as_size,
                               AsPath& out) {
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

bool has_confed(const AsPath& p) {
  return std::any_of(p.segments.begin(), p.segments.end(),
                     [](const AsPathSegment& s) { return is_confed(s.type); });
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

// MP_REACH_NLRI (RFC 4760 section 3, RFC 7606 section 7.11). Returns a
// session reset, or nothing with `stored` telling whether the AFI/SAFI is
// one this codec carries.
std::optional<DecodeError> parse_mp_reach(std::span<const std::uint8_t> value,
                                          std::span<const std::uint8_t> raw,
                                          MpReachNlri& out, bool& stored) {
  stored = false;
  Reader r(value);
  std::uint16_t afi = 0;
  std::uint8_t safi = 0, nh_len = 0, reserved = 0;
  std::span<const std::uint8_t> nh;
  if (!r.u16(afi) || !r.u8(safi) || !r.u8(nh_len) || !r.bytes(nh_len, nh) ||
      !r.u8(reserved)) {
    return reset(update_error::kOptionalAttributeError, raw, "MP_REACH_NLRI truncated")
        .error;
  }
  out.afi = static_cast<Afi>(afi);
  out.safi = static_cast<Safi>(safi);
  if (out.safi != Safi::kUnicast || (out.afi != Afi::kIpv4 && out.afi != Afi::kIpv6)) {
    return std::nullopt;
  }
  if ((out.afi == Afi::kIpv4 && nh_len != 4) ||
      (out.afi == Afi::kIpv6 && nh_len != 16 && nh_len != 32)) {
    return reset(update_error::kOptionalAttributeError, raw,
                 "MP_REACH_NLRI next hop length does not match the AFI")
        .error;
  }
  out.next_hop.assign(nh.begin(), nh.end());
  const NlriError e = out.afi == Afi::kIpv4 ? decode_prefixes(r.rest(), out.ipv4_nlri)
                                            : decode_prefixes(r.rest(), out.ipv6_nlri);
  if (e != NlriError::kNone) {
    return reset(update_error::kOptionalAttributeError, raw, nlri_error_reason(e)).error;
  }
  stored = true;
  return std::nullopt;
}

std::optional<DecodeError> parse_mp_unreach(std::span<const std::uint8_t> value,
                                            std::span<const std::uint8_t> raw,
                                            MpUnreachNlri& out, bool& stored) {
  stored = false;
  Reader r(value);
  std::uint16_t afi = 0;
  std::uint8_t safi = 0;
  if (!r.u16(afi) || !r.u8(safi)) {
    return reset(update_error::kOptionalAttributeError, raw, "MP_UNREACH_NLRI truncated")
        .error;
  }
  out.afi = static_cast<Afi>(afi);
  out.safi = static_cast<Safi>(safi);
  if (out.safi != Safi::kUnicast || (out.afi != Afi::kIpv4 && out.afi != Afi::kIpv6)) {
    return std::nullopt;
  }
  const NlriError e = out.afi == Afi::kIpv4
                          ? decode_prefixes(r.rest(), out.ipv4_withdrawn)
                          : decode_prefixes(r.rest(), out.ipv6_withdrawn);
  if (e != NlriError::kNone) {
    return reset(update_error::kOptionalAttributeError, raw, nlri_error_reason(e)).error;
  }
  stored = true;
  return std::nullopt;
}

Aggregator parse_aggregator(std::span<const std::uint8_t> value, std::size_t as_size) {
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

std::uint32_t read_u32(std::span<const std::uint8_t> v) {
  std::uint32_t x = 0;
  Reader r(v);
  (void)r.u32(x);
  return x;
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
  constexpr auto kDiscard = ErrorHandling::kAttributeDiscard;
  constexpr auto kWithdraw = ErrorHandling::kTreatAsWithdraw;
  const std::size_t as_size = options.four_octet_as ? 4 : 2;

  PathAttributes a;
  std::bitset<256> seen, failed;
  std::optional<AsPath> as4_path;
  std::optional<Aggregator> as4_aggregator;

  Reader r(field);
  while (!r.empty()) {
    const std::size_t start = r.position();
    std::uint8_t flags = 0, t = 0;
    // RFC 7606 section 4: a truncated attribute header or an attribute that
    // overruns the field is treat-as-withdraw; the NLRI field is still
    // located from the Total Path Attribute Length.
    if (r.remaining() < 3) {
      errors.add(0, kWithdraw, update_error::kMalformedAttributeList,
                 "fewer octets left than an attribute header");
      break;
    }
    (void)r.u8(flags);
    (void)r.u8(t);
    std::uint16_t length = 0;
    if (flags & flag::kExtendedLength) {
      if (!r.u16(length)) {
        errors.add(t, kWithdraw, update_error::kAttributeLengthError,
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
      errors.add(t, kWithdraw, update_error::kAttributeLengthError,
                 "attribute length overruns the path attributes");
      break;
    }
    const auto raw = field.subspan(start, r.position() - start);

    // RFC 7606 section 3.g: a repeated MP_(UN)REACH_NLRI resets the session,
    // any other repeated attribute keeps its first occurrence.
    if (seen.test(t)) {
      if (t == type::kMpReachNlri || t == type::kMpUnreachNlri) {
        return reset(update_error::kMalformedAttributeList, {},
                     "MP_REACH_NLRI or MP_UNREACH_NLRI appears more than once");
      }
      errors.add(t, kDiscard, update_error::kMalformedAttributeList,
                 "attribute appears more than once; the first is kept");
      continue;
    }
    seen.set(t);

    const AttributeSpec spec = spec_of(t);
    if (!spec.known) {
      if (!(flags & flag::kOptional)) {
        return reset(update_error::kUnrecognizedWellKnownAttribute, raw,
                     "unrecognized well-known attribute");
      }
      a.unknown.push_back(
          {flags, t, std::vector<std::uint8_t>(value.begin(), value.end())});
      continue;
    }
    // Attributes this session ignores whatever their flags: LOCAL_PREF from
    // an external peer (RFC 7606 7.5), AS4_* from a 4-octet AS speaker (RFC
    // 6793 4.1).
    if (t == type::kLocalPref && options.external_peer) {
      errors.add(t, kDiscard, update_error::kMalformedAttributeList,
                 "LOCAL_PREF from an external peer");
      failed.set(t);
      continue;
    }
    if ((t == type::kAs4Path || t == type::kAs4Aggregator) && options.four_octet_as) {
      errors.add(t, kDiscard, update_error::kOptionalAttributeError,
                 t == type::kAs4Path ? "AS4_PATH from a 4-octet AS speaker"
                                     : "AS4_AGGREGATOR from a 4-octet AS speaker");
      continue;
    }
    // RFC 7606 section 3.c: Optional/Transitive bits in conflict with the
    // type code make the attribute malformed. MP_(UN)REACH_NLRI cannot be
    // treated as withdraw without trusting it, so that stays a reset.
    if (static_cast<bool>(flags & flag::kOptional) != spec.optional ||
        static_cast<bool>(flags & flag::kTransitive) != spec.transitive) {
      if (t == type::kMpReachNlri || t == type::kMpUnreachNlri) {
        return reset(
            update_error::kAttributeFlagsError, raw,
            "MP_REACH_NLRI/MP_UNREACH_NLRI attribute flags conflict with the type");
      }
      errors.add(t, kWithdraw, update_error::kAttributeFlagsError,
                 "Optional or Transitive bit conflicts with the attribute type");
      failed.set(t);
      continue;
    }

    bool stored = false;
    auto withdraw = [&](std::uint8_t subcode, std::string_view why) {
      errors.add(t, kWithdraw, subcode, why);
      failed.set(t);
    };
    auto discard = [&](std::uint8_t subcode, std::string_view why) {
      errors.add(t, kDiscard, subcode, why);
      failed.set(t);
    };
    switch (t) {
      case type::kOrigin:  // RFC 7606 7.1
        if (length != 1) {
          withdraw(update_error::kAttributeLengthError, "ORIGIN length is not 1");
        } else if (value[0] > 2) {
          withdraw(update_error::kInvalidOriginAttribute, "undefined ORIGIN value");
        } else {
          a.origin = static_cast<Origin>(value[0]);
          stored = true;
        }
        break;
      case type::kAsPath: {  // RFC 7606 7.2
        AsPath p;
        const std::string_view why = parse_as_path(value, as_size, p);
        if (!why.empty()) {
          withdraw(update_error::kMalformedAsPath, why);
        } else if (options.external_peer && has_confed(p)) {
          withdraw(update_error::kMalformedAsPath,
                   "AS_CONFED segment from an external peer");
        } else {
          a.as_path = std::move(p);
          stored = true;
        }
        break;
      }
      case type::kNextHop:  // RFC 7606 7.3
        if (length != 4) {
          withdraw(update_error::kAttributeLengthError, "NEXT_HOP length is not 4");
        } else if (value[0] == 0 || value[0] >= 224) {
          withdraw(update_error::kInvalidNextHopAttribute,
                   "NEXT_HOP is not a unicast host address");
        } else {
          a.next_hop = Ipv4Address{value[0], value[1], value[2], value[3]};
          stored = true;
        }
        break;
      case type::kMultiExitDisc:  // RFC 7606 7.4
        if (length != 4) {
          withdraw(update_error::kAttributeLengthError,
                   "MULTI_EXIT_DISC length is not 4");
        } else {
          a.multi_exit_disc = read_u32(value);
          stored = true;
        }
        break;
      case type::kLocalPref:  // RFC 7606 7.5
        if (length != 4) {
          withdraw(update_error::kAttributeLengthError, "LOCAL_PREF length is not 4");
        } else {
          a.local_pref = read_u32(value);
          stored = true;
        }
        break;
      case type::kAtomicAggregate:  // RFC 7606 7.6
        if (length != 0) {
          discard(update_error::kAttributeLengthError,
                  "ATOMIC_AGGREGATE length is not 0");
        } else {
          a.atomic_aggregate = true;
          stored = true;
        }
        break;
      case type::kAggregator:             // RFC 7606 7.7
        if (length != 2 + as_size + 2) {  // AS, then an IPv4 address
          discard(update_error::kAttributeLengthError, "AGGREGATOR length is wrong");
        } else {
          a.aggregator = parse_aggregator(value, as_size);
          stored = true;
        }
        break;
      case type::kCommunities:  // RFC 7606 7.8
        if (length == 0 || length % 4 != 0) {
          withdraw(update_error::kAttributeLengthError,
                   "COMMUNITIES length is not a non-zero multiple of 4");
        } else {
          for (std::size_t i = 0; i < length; i += 4) {
            a.communities.push_back(Community{read_u32(value.subspan(i, 4))});
          }
          stored = true;
        }
        break;
      case type::kMpReachNlri: {  // RFC 7606 7.11
        MpReachNlri mp;
        if (auto e = parse_mp_reach(value, raw, mp, stored))
          return unexpected(std::move(*e));
        if (stored) {
          a.mp_reach_nlri = std::move(mp);
        } else {
          discard(update_error::kOptionalAttributeError,
                  "MP_REACH_NLRI for an AFI/SAFI this speaker does not carry");
        }
        break;
      }
      case type::kMpUnreachNlri: {  // RFC 7606 7.12
        MpUnreachNlri mp;
        if (auto e = parse_mp_unreach(value, raw, mp, stored))
          return unexpected(std::move(*e));
        if (stored) {
          a.mp_unreach_nlri = std::move(mp);
        } else {
          discard(update_error::kOptionalAttributeError,
                  "MP_UNREACH_NLRI for an AFI/SAFI this speaker does not carry");
        }
        break;
      }
      case type::kAs4Path: {  // RFC 6793 sections 4.1, 6
        AsPath p;
        if (const std::string_view why = parse_as_path(value, 4, p); !why.empty()) {
          discard(update_error::kOptionalAttributeError, why);
        } else if (has_confed(p)) {
          discard(update_error::kOptionalAttributeError, "AS_CONFED segment in AS4_PATH");
        } else {
          as4_path = std::move(p);
        }
        break;  // merged below; the encoder regenerates it, so no flags kept
      }
      case type::kAs4Aggregator:  // RFC 6793 sections 4.1, 6
        if (length != 8) {
          discard(update_error::kAttributeLengthError, "AS4_AGGREGATOR length is not 8");
        } else {
          as4_aggregator = parse_aggregator(value, 4);
        }
        break;
      case type::kLargeCommunities:  // RFC 8092 section 6
        if (length == 0 || length % 12 != 0) {
          withdraw(update_error::kAttributeLengthError,
                   "LARGE_COMMUNITIES length is not a non-zero multiple of 12");
        } else {
          for (std::size_t i = 0; i < length; i += 12) {
            a.large_communities.push_back({read_u32(value.subspan(i, 4)),
                                           read_u32(value.subspan(i + 4, 4)),
                                           read_u32(value.subspan(i + 8, 4))});
          }
          stored = true;
        }
        break;
      default:
        break;
    }
    if (stored) {
      if (flags & flag::kExtendedLength) a.extended_length.set(t);
      if (spec.optional && spec.transitive && (flags & flag::kPartial)) a.partial.set(t);
    }
  }

  // RFC 6793 section 4.2.3: reconstruct the 4-octet path and aggregator.
  if (as4_aggregator || as4_path) {
    if (a.aggregator && a.aggregator->autonomous_system != kAsTrans) {
      if (as4_aggregator) {
        errors.add(type::kAs4Aggregator, kDiscard, update_error::kOptionalAttributeError,
                   "AGGREGATOR is not AS_TRANS, AS4_AGGREGATOR ignored");
      }
      if (as4_path) {
        errors.add(type::kAs4Path, kDiscard, update_error::kOptionalAttributeError,
                   "AGGREGATOR is not AS_TRANS, AS4_PATH ignored");
      }
    } else {
      if (as4_aggregator) {
        if (a.aggregator) {
          a.aggregator = *as4_aggregator;
        } else {
          errors.add(type::kAs4Aggregator, kDiscard,
                     update_error::kOptionalAttributeError,
                     "AS4_AGGREGATOR without AGGREGATOR");
        }
      }
      if (as4_path) {
        if (!a.as_path) {
          errors.add(type::kAs4Path, kDiscard, update_error::kOptionalAttributeError,
                     "AS4_PATH without AS_PATH");
        } else if (as4_path->length() > a.as_path->length()) {
          errors.add(type::kAs4Path, kDiscard, update_error::kOptionalAttributeError,
                     "AS4_PATH longer than AS_PATH, ignored");
        } else {
          a.as_path = merge_as4_path(*a.as_path, *as4_path);
        }
      }
    }
  }

  // Well-known mandatory attributes (RFC 4271 6.3, RFC 7606 3.d): only when
  // the UPDATE carries reachability; NEXT_HOP only for the NLRI field (RFC
  // 4760 makes it optional with MP_REACH_NLRI alone). An attribute already
  // reported as malformed is not reported again as missing.
  if (has_nlri || a.mp_reach_nlri) {
    auto require = [&](std::uint8_t t, bool present, std::string_view why) {
      if (!present && !failed.test(t)) {
        errors.add(t, kWithdraw, update_error::kMissingWellKnownAttribute, why);
      }
    };
    require(type::kOrigin, a.origin.has_value(), "ORIGIN missing");
    require(type::kAsPath, a.as_path.has_value(), "AS_PATH missing");
    if (has_nlri) require(type::kNextHop, a.next_hop.has_value(), "NEXT_HOP missing");
  }

  std::stable_sort(a.unknown.begin(), a.unknown.end(),
                   [](const UnknownAttribute& x, const UnknownAttribute& y) {
                     return x.type < y.type;
                   });
  return a;
}

namespace {

// One attribute ready to write.
struct Encoded {
  int order = 0;  // MP_REACH_NLRI, MP_UNREACH_NLRI, then by type code
  std::uint8_t flags = 0;
  std::uint8_t type = 0;
  std::vector<std::uint8_t> value;
};

std::optional<EncodeError> encode_as_path_value(std::vector<std::uint8_t>& out,
                                                const AsPath& p, bool four_octet,
                                                bool skip_confed) {
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

void put_aggregator(std::vector<std::uint8_t>& out, std::uint32_t as,
                    const Ipv4Address& addr, bool four_octet) {
  Writer w(out);
  if (four_octet) {
    w.u32(as);
  } else {
    w.u16(static_cast<std::uint16_t>(as));
  }
  w.bytes(addr);
}

template <std::size_t N>
bool prefixes_valid(const std::vector<BasicPrefix<N>>& v) {
  return std::all_of(v.begin(), v.end(), [](const BasicPrefix<N>& p) {
    return p.length <= BasicPrefix<N>::kMaxLength;
  });
}

}  // namespace

std::optional<EncodeError> encode_path_attributes(Writer& w, const PathAttributes& a,
                                                  const CodecOptions& options) {
  std::vector<Encoded> attrs;
  auto add = [&](std::uint8_t t, std::vector<std::uint8_t> value) {
    std::uint8_t flags = canonical_flags(t);
    const AttributeSpec s = spec_of(t);
    if (s.optional && s.transitive && a.partial.test(t)) flags |= flag::kPartial;
    if (a.extended_length.test(t)) flags |= flag::kExtendedLength;
    const int order = t == type::kMpReachNlri ? 0 : t == type::kMpUnreachNlri ? 1 : 2 + t;
    attrs.push_back({order, flags, t, std::move(value)});
  };
  auto u32_value = [](std::uint32_t x) {
    std::vector<std::uint8_t> v;
    Writer(v).u32(x);
    return v;
  };

  if (a.origin) {
    const auto o = static_cast<std::uint8_t>(*a.origin);
    if (o > 2) return EncodeError{"undefined ORIGIN value"};
    add(type::kOrigin, {o});
  }
  bool send_as4_path = false;
  if (a.as_path) {
    std::vector<std::uint8_t> v;
    if (auto e = encode_as_path_value(v, *a.as_path, options.four_octet_as, false))
      return e;
    add(type::kAsPath, std::move(v));
    if (!options.four_octet_as && needs_as4(*a.as_path)) {
      std::vector<std::uint8_t> v4;
      if (auto e = encode_as_path_value(v4, *a.as_path, true, true)) return e;
      add(type::kAs4Path, std::move(v4));
      send_as4_path = true;
    }
  }
  if (a.next_hop) add(type::kNextHop, {a.next_hop->begin(), a.next_hop->end()});
  if (a.multi_exit_disc) add(type::kMultiExitDisc, u32_value(*a.multi_exit_disc));
  if (a.local_pref) {
    if (options.external_peer)
      return EncodeError{"LOCAL_PREF is not sent to external peers"};
    add(type::kLocalPref, u32_value(*a.local_pref));
  }
  if (a.atomic_aggregate) add(type::kAtomicAggregate, {});
  if (a.aggregator) {
    const std::uint32_t as = a.aggregator->autonomous_system;
    std::vector<std::uint8_t> v;
    if (options.four_octet_as) {
      put_aggregator(v, as, a.aggregator->address, true);
    } else if (as > 0xFFFF || send_as4_path) {
      // RFC 6793 4.2.2; with AS4_PATH the AGGREGATOR must be AS_TRANS too,
      // or the receiver ignores AS4_PATH (4.2.3).
      put_aggregator(v, kAsTrans, a.aggregator->address, false);
      std::vector<std::uint8_t> v4;
      put_aggregator(v4, as, a.aggregator->address, true);
      add(type::kAs4Aggregator, std::move(v4));
    } else {
      put_aggregator(v, as, a.aggregator->address, false);
    }
    add(type::kAggregator, std::move(v));
  }
  if (!a.communities.empty()) {
    std::vector<std::uint8_t> v;
    Writer cw(v);
    for (const Community& c : a.communities) cw.u32(c.value);
    add(type::kCommunities, std::move(v));
  }
  if (a.mp_reach_nlri) {
    const MpReachNlri& mp = *a.mp_reach_nlri;
    if (mp.safi != Safi::kUnicast || (mp.afi != Afi::kIpv4 && mp.afi != Afi::kIpv6)) {
      return EncodeError{"MP_REACH_NLRI for an unsupported AFI/SAFI"};
    }
    const bool v4 = mp.afi == Afi::kIpv4;
    const std::size_t nh = mp.next_hop.size();
    if (v4 ? nh != 4 : (nh != 16 && nh != 32)) {
      return EncodeError{"MP_REACH_NLRI next hop length does not match the AFI"};
    }
    if (v4 ? !mp.ipv6_nlri.empty() : !mp.ipv4_nlri.empty()) {
      return EncodeError{"MP_REACH_NLRI prefixes of another address family"};
    }
    if (!prefixes_valid(mp.ipv4_nlri) || !prefixes_valid(mp.ipv6_nlri)) {
      return EncodeError{"prefix length exceeds the address size"};
    }
    std::vector<std::uint8_t> v;
    Writer mw(v);
    mw.u16(static_cast<std::uint16_t>(mp.afi));
    mw.u8(static_cast<std::uint8_t>(mp.safi));
    mw.u8(static_cast<std::uint8_t>(nh));
    mw.bytes(mp.next_hop);
    mw.u8(0);  // Reserved
    for (const auto& p : mp.ipv4_nlri) encode_prefix(mw, p);
    for (const auto& p : mp.ipv6_nlri) encode_prefix(mw, p);
    add(type::kMpReachNlri, std::move(v));
  }
  if (a.mp_unreach_nlri) {
    const MpUnreachNlri& mp = *a.mp_unreach_nlri;
    if (mp.safi != Safi::kUnicast || (mp.afi != Afi::kIpv4 && mp.afi != Afi::kIpv6)) {
      return EncodeError{"MP_UNREACH_NLRI for an unsupported AFI/SAFI"};
    }
    const bool v4 = mp.afi == Afi::kIpv4;
    if (v4 ? !mp.ipv6_withdrawn.empty() : !mp.ipv4_withdrawn.empty()) {
      return EncodeError{"MP_UNREACH_NLRI prefixes of another address family"};
    }
    if (!prefixes_valid(mp.ipv4_withdrawn) || !prefixes_valid(mp.ipv6_withdrawn)) {
      return EncodeError{"prefix length exceeds the address size"};
    }
    std::vector<std::uint8_t> v;
    Writer mw(v);
    mw.u16(static_cast<std::uint16_t>(mp.afi));
    mw.u8(static_cast<std::uint8_t>(mp.safi));
    for (const auto& p : mp.ipv4_withdrawn) encode_prefix(mw, p);
    for (const auto& p : mp.ipv6_withdrawn) encode_prefix(mw, p);
    add(type::kMpUnreachNlri, std::move(v));
  }
  if (!a.large_communities.empty()) {
    std::vector<std::uint8_t> v;
    Writer lw(v);
    for (const LargeCommunity& c : a.large_communities) {
      lw.u32(c.global_administrator);
      lw.u32(c.local_data_1);
      lw.u32(c.local_data_2);
    }
    add(type::kLargeCommunities, std::move(v));
  }
  for (const UnknownAttribute& u : a.unknown) {
    if (spec_of(u.type).known)
      return EncodeError{"unknown attribute with a known type code"};
    if (!(u.flags & flag::kOptional)) return EncodeError{"unknown well-known attribute"};
    attrs.push_back({2 + u.type, u.flags, u.type, u.value});
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
