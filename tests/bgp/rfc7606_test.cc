// Malformed UPDATEs, table-driven: each yields the RFC 7606 approach
// (attribute discard, treat-as-withdraw) or the session reset with the RFC
// 4271 NOTIFICATION subcode where RFC 7606 still requires one.
#include <gtest/gtest.h>

#include "tests/bgp/test_util.h"

namespace nva::bgp::test {
namespace {

namespace t = attribute_type;
constexpr auto kNone = ErrorHandling::kNone;
constexpr auto kDiscard = ErrorHandling::kAttributeDiscard;
constexpr auto kWithdraw = ErrorHandling::kTreatAsWithdraw;
constexpr auto kReset = ErrorHandling::kSessionReset;

const std::string kOrigin = "40 01 01 00 ";
const std::string kPath = "40 02 04 0201fde9 ";
const std::string kNextHop = "40 03 04 c6120002 ";
const std::string kMandatory = kOrigin + kPath + kNextHop;
const std::string kNlri = "18c612c8";

const CodecOptions kEbgp{.four_octet_as = false, .external_peer = true};
const CodecOptions kIbgp{.four_octet_as = false, .external_peer = false};
const CodecOptions kEbgp4{.four_octet_as = true, .external_peer = true};

struct Malformed {
  const char* name;
  std::string withdrawn, attrs, nlri;
  ErrorHandling handling;
  std::uint8_t type;     // the attribute named in the first error (not for resets)
  std::uint8_t subcode;  // UPDATE Message Error subcode
  CodecOptions options = kEbgp;
};

class Rfc7606 : public ::testing::TestWithParam<Malformed> {};

TEST_P(Rfc7606, Handling) {
  const Malformed& c = GetParam();
  auto d = decode_message(update(hex(c.withdrawn), hex(c.attrs), hex(c.nlri)), c.options);
  if (c.handling == kReset) {
    ASSERT_FALSE(d.ok()) << "expected a session reset";
    EXPECT_EQ(d.error().code, ErrorCode::kUpdateMessageError);
    EXPECT_EQ(d.error().subcode, c.subcode) << describe(d.error());
    return;
  }
  ASSERT_TRUE(d.ok()) << describe(d.error());
  const UpdateErrors& e = d->update_errors;
  EXPECT_EQ(e.handling, c.handling);
  if (c.handling == kNone) {
    EXPECT_TRUE(e.errors.empty());
    return;
  }
  ASSERT_FALSE(e.errors.empty());
  EXPECT_EQ(e.errors[0].type, c.type) << e.errors[0].reason;
  EXPECT_EQ(e.errors[0].subcode, c.subcode) << e.errors[0].reason;
  EXPECT_FALSE(e.errors[0].reason.empty());
}

namespace u = update_error;

INSTANTIATE_TEST_SUITE_P(
    Bgp, Rfc7606,
    ::testing::Values(
        // Section 4: attribute lengths in conflict with the field.
        Malformed{"attribute_overruns_field", "", kMandatory + "c0 08 08 fde90064", kNlri,
                  kWithdraw, t::kCommunities, u::kAttributeLengthError},
        Malformed{"fewer_than_3_octets_left", "", kMandatory + "c0 08", kNlri, kWithdraw,
                  0, u::kMalformedAttributeList},
        Malformed{"extended_header_truncated", "", kMandatory + "d0 08 00", kNlri,
                  kWithdraw, t::kCommunities, u::kAttributeLengthError},
        // Section 3: flags, duplicates, missing mandatory attributes.
        Malformed{"origin_flagged_optional", "", "c0 01 01 00 " + kPath + kNextHop, kNlri,
                  kWithdraw, t::kOrigin, u::kAttributeFlagsError},
        Malformed{"med_flagged_transitive", "", kMandatory + "c0 04 04 00000001", kNlri,
                  kWithdraw, t::kMultiExitDisc, u::kAttributeFlagsError},
        Malformed{"duplicate_origin_first_kept", "", kMandatory + "40 01 01 02", kNlri,
                  kDiscard, t::kOrigin, u::kMalformedAttributeList},
        Malformed{"duplicate_mp_reach", "",
                  "80 0e 09 0001 01 04 c6120002 00 80 0e 09 0001 01 04 c6120002 00" +
                      kOrigin + kPath,
                  "", kReset, 0, u::kMalformedAttributeList},
        Malformed{"duplicate_mp_unreach", "", "80 0f 03 000101 80 0f 03 000101", "",
                  kReset, 0, u::kMalformedAttributeList},
        Malformed{"missing_origin", "", kPath + kNextHop, kNlri, kWithdraw, t::kOrigin,
                  u::kMissingWellKnownAttribute},
        Malformed{"missing_as_path", "", kOrigin + kNextHop, kNlri, kWithdraw, t::kAsPath,
                  u::kMissingWellKnownAttribute},
        Malformed{"missing_next_hop", "", kOrigin + kPath, kNlri, kWithdraw, t::kNextHop,
                  u::kMissingWellKnownAttribute},
        Malformed{"no_next_hop_needed_with_mp_reach_only", "",
                  "80 0e 0d 0001 01 04 c6120002 00 18c612c8 " + kOrigin + kPath, "",
                  kNone, 0, 0},
        Malformed{"attributes_not_needed_for_withdrawals", "18c612c8", "", "", kNone, 0,
                  0},
        Malformed{"unrecognized_well_known", "", kMandatory + "40 63 01 00", kNlri,
                  kReset, 0, u::kUnrecognizedWellKnownAttribute},
        Malformed{"unknown_optional_is_fine", "", kMandatory + "80 63 01 00", kNlri,
                  kNone, 0, 0},
        // Section 7, attribute by attribute.
        Malformed{"origin_length_2", "", "40 01 02 0000 " + kPath + kNextHop, kNlri,
                  kWithdraw, t::kOrigin, u::kAttributeLengthError},
        Malformed{"origin_value_3", "", "40 01 01 03 " + kPath + kNextHop, kNlri,
                  kWithdraw, t::kOrigin, u::kInvalidOriginAttribute},
        Malformed{"as_path_segment_type_5", "", kOrigin + "40 02 04 0501fde9 " + kNextHop,
                  kNlri, kWithdraw, t::kAsPath, u::kMalformedAsPath},
        Malformed{"as_path_segment_length_0", "", kOrigin + "40 02 02 0200 " + kNextHop,
                  kNlri, kWithdraw, t::kAsPath, u::kMalformedAsPath},
        Malformed{"as_path_overrun", "", kOrigin + "40 02 04 0202fde9 " + kNextHop, kNlri,
                  kWithdraw, t::kAsPath, u::kMalformedAsPath},
        Malformed{"as_path_underrun", "", kOrigin + "40 02 05 0201fde902 " + kNextHop,
                  kNlri, kWithdraw, t::kAsPath, u::kMalformedAsPath},
        Malformed{"as_path_confed_from_ebgp", "",
                  kOrigin + "40 02 04 0301fde9 " + kNextHop, kNlri, kWithdraw, t::kAsPath,
                  u::kMalformedAsPath},
        Malformed{"as_path_confed_after_sequence_ibgp", "",
                  kOrigin + "40 02 08 0201fde9 0301fdea " + kNextHop, kNlri, kWithdraw,
                  t::kAsPath, u::kMalformedAsPath, kIbgp},
        Malformed{"next_hop_length_5", "", kOrigin + kPath + "40 03 05 c612000200", kNlri,
                  kWithdraw, t::kNextHop, u::kAttributeLengthError},
        Malformed{"next_hop_zero", "", kOrigin + kPath + "40 03 04 00000000", kNlri,
                  kWithdraw, t::kNextHop, u::kInvalidNextHopAttribute},
        Malformed{"next_hop_multicast", "", kOrigin + kPath + "40 03 04 e0000001", kNlri,
                  kWithdraw, t::kNextHop, u::kInvalidNextHopAttribute},
        Malformed{"med_length_3", "", kMandatory + "80 04 03 000001", kNlri, kWithdraw,
                  t::kMultiExitDisc, u::kAttributeLengthError},
        Malformed{"local_pref_from_ebgp", "", kMandatory + "40 05 04 00000064", kNlri,
                  kDiscard, t::kLocalPref, u::kMalformedAttributeList},
        Malformed{"local_pref_from_ebgp_bad_flags", "", kMandatory + "c0 05 04 00000064",
                  kNlri, kDiscard, t::kLocalPref, u::kMalformedAttributeList},
        Malformed{
            "as4_path_bad_flags_from_4_octet_speaker", "",
            kOrigin + "40 02 06 0201 0000fde9 " + kNextHop + "40 11 06 0201fa56ea01",
            kNlri, kDiscard, t::kAs4Path, u::kOptionalAttributeError, kEbgp4},
        Malformed{"local_pref_length_2_ibgp", "", kMandatory + "40 05 02 0064", kNlri,
                  kWithdraw, t::kLocalPref, u::kAttributeLengthError, kIbgp},
        Malformed{"atomic_aggregate_length_1", "", kMandatory + "40 06 01 00", kNlri,
                  kDiscard, t::kAtomicAggregate, u::kAttributeLengthError},
        Malformed{"aggregator_length_5", "", kMandatory + "c0 07 05 fde9c61200", kNlri,
                  kDiscard, t::kAggregator, u::kAttributeLengthError},
        Malformed{"communities_empty", "", kMandatory + "c0 08 00", kNlri, kWithdraw,
                  t::kCommunities, u::kAttributeLengthError},
        Malformed{"communities_length_3", "", kMandatory + "c0 08 03 fde900", kNlri,
                  kWithdraw, t::kCommunities, u::kAttributeLengthError},
        Malformed{"large_communities_length_8", "",
                  kMandatory + "c0 20 08 0000fde900000001", kNlri, kWithdraw,
                  t::kLargeCommunities, u::kAttributeLengthError},
        Malformed{"large_communities_empty", "", kMandatory + "c0 20 00", kNlri,
                  kWithdraw, t::kLargeCommunities, u::kAttributeLengthError},
        Malformed{"as4_path_malformed", "", kMandatory + "c0 11 03 020100", kNlri,
                  kDiscard, t::kAs4Path, u::kOptionalAttributeError},
        Malformed{"as4_path_confed", "", kMandatory + "c0 11 06 0301fa56ea01", kNlri,
                  kDiscard, t::kAs4Path, u::kOptionalAttributeError},
        Malformed{"as4_aggregator_length_6", "", kMandatory + "c0 12 06 fde9c6120002",
                  kNlri, kDiscard, t::kAs4Aggregator, u::kAttributeLengthError},
        // MP_REACH_NLRI / MP_UNREACH_NLRI (section 7.11, 7.12): session reset.
        Malformed{"mp_reach_flags", "",
                  "c0 0e 09 0001 01 04 c6120002 00 " + kOrigin + kPath, "", kReset, 0,
                  u::kAttributeFlagsError},
        Malformed{"mp_reach_truncated", "", "80 0e 04 0001 01 04 " + kOrigin + kPath, "",
                  kReset, 0, u::kOptionalAttributeError},
        Malformed{"mp_reach_next_hop_length", "",
                  "80 0e 0a 0002 01 05 c612000201 00 " + kOrigin + kPath, "", kReset, 0,
                  u::kOptionalAttributeError},
        Malformed{"mp_reach_prefix_too_long", "",
                  "80 0e 0b 0001 01 04 c6120002 00 21ff " + kOrigin + kPath, "", kReset,
                  0, u::kOptionalAttributeError},
        Malformed{"mp_reach_prefix_overrun", "",
                  "80 0e 0b 0001 01 04 c6120002 00 18c6 " + kOrigin + kPath, "", kReset,
                  0, u::kOptionalAttributeError},
        Malformed{"mp_reach_unsupported_afi", "",
                  "80 0e 09 0019 01 04 c6120002 00 " + kOrigin + kPath, "", kDiscard,
                  t::kMpReachNlri, u::kOptionalAttributeError},
        Malformed{"mp_unreach_truncated", "", "80 0f 02 0001", "", kReset, 0,
                  u::kOptionalAttributeError},
        Malformed{"mp_unreach_prefix_too_long", "", "80 0f 05 0002 01 81ff", "", kReset,
                  0, u::kOptionalAttributeError},
        // Section 5.3 and RFC 4271 6.3: the fixed fields and the prefix fields.
        Malformed{"withdrawn_prefix_too_long", "21c6120001ff", "", "", kReset, 0,
                  u::kInvalidNetworkField},
        Malformed{"withdrawn_overrun", "18c612", "", "", kReset, 0,
                  u::kInvalidNetworkField},
        Malformed{"nlri_prefix_too_long", "", kMandatory, "21c6120001ff", kReset, 0,
                  u::kInvalidNetworkField},
        Malformed{"nlri_overrun", "", kMandatory, "18c6", kReset, 0,
                  u::kInvalidNetworkField},
        // Strongest approach wins (section 3.d).
        Malformed{"discard_and_withdraw", "", kMandatory + "40 06 01 00 c0 08 00", kNlri,
                  kWithdraw, t::kAtomicAggregate, u::kAttributeLengthError}),
    [](const auto& tp) { return std::string(tp.param.name); });

TEST(Rfc7606Lengths, WithdrawnOrAttributeLengthBeyondTheMessage) {
  // Withdrawn Routes Length 5 with only 4 octets of body.
  const Bytes w = message(2, hex("0005 0000"));
  auto d = decode_message(w, kEbgp);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().subcode, update_error::kMalformedAttributeList);
  // Total Path Attribute Length 9 with 4 octets of attributes.
  const Bytes a = message(2, hex("0000 0009 40010100"));
  d = decode_message(a, kEbgp);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().subcode, update_error::kMalformedAttributeList);
}

TEST(Rfc7606Lengths, UnrecognizedWellKnownCarriesTheAttribute) {
  auto d =
      decode_message(update({}, hex(kMandatory + "40 63 02 abcd"), hex(kNlri)), kEbgp);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(to_hex(d.error().data), "406302abcd");
}

TEST(Rfc7606Lengths, TreatAsWithdrawKeepsTheWellFormedParts) {
  // A malformed COMMUNITIES: the NLRI is still found and becomes a withdrawal.
  auto d = decode_message(
      update(hex("18c612c9"), hex(kMandatory + "c0 08 03 fde900"), hex(kNlri)), kEbgp);
  ASSERT_TRUE(d.ok());
  const auto& up = std::get<UpdateMessage>(d->message);
  EXPECT_TRUE(up.path_attributes.communities.empty());
  EXPECT_EQ(up.path_attributes.origin, Origin::kIgp);
  const Prefixes w = withdrawn_prefixes(up, d->update_errors.handling);
  EXPECT_EQ(w.ipv4,
            (std::vector<Ipv4Prefix>{p4("198.18.201.0/24"), p4("198.18.200.0/24")}));
  EXPECT_EQ(error_handling_name(d->update_errors.handling), "treat-as-withdraw");
}

}  // namespace
}  // namespace nva::bgp::test
