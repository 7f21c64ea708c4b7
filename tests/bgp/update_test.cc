// UPDATE and every path attribute: byte vectors paired with decoded structs,
// checked both ways; AS4_PATH merge and AS_TRANS encoding (RFC 6793).
#include <gtest/gtest.h>

#include <functional>

#include "tests/bgp/test_util.h"

namespace nva::bgp::test {
namespace {

namespace t = attribute_type;

// ORIGIN IGP, AS_PATH 65001 (2-octet), NEXT_HOP 198.18.0.2.
const std::string kOrigin = "40 01 01 00 ";
const std::string kPath2 = "40 02 04 0201fde9 ";
const std::string kNextHop = "40 03 04 c6120002 ";
const std::string kNlri = "18c612c8";  // 198.18.200.0/24

UpdateMessage base() {
  UpdateMessage u;
  u.nlri = {p4("198.18.200.0/24")};
  u.path_attributes.origin = Origin::kIgp;
  u.path_attributes.as_path = AsPath::sequence({65001});
  u.path_attributes.next_hop = a4("198.18.0.2");
  return u;
}

const CodecOptions kEbgp2{.four_octet_as = false, .external_peer = true};
const CodecOptions kEbgp4{.four_octet_as = true, .external_peer = true};
const CodecOptions kIbgp4{.four_octet_as = true, .external_peer = false};

struct UpdateCase {
  const char* name;
  CodecOptions options;
  std::string withdrawn, attrs, nlri;
  std::function<UpdateMessage()> want;
};

class UpdateBothWays : public ::testing::TestWithParam<UpdateCase> {};

TEST_P(UpdateBothWays, DecodeAndEncode) {
  const UpdateCase& c = GetParam();
  const Bytes b = update(hex(c.withdrawn), hex(c.attrs), hex(c.nlri));
  auto d = decode_message(b, c.options);
  ASSERT_TRUE(d.ok()) << describe(d.error());
  EXPECT_EQ(d->update_errors, UpdateErrors{});
  const UpdateMessage want = c.want();
  EXPECT_EQ(std::get<UpdateMessage>(d->message), want);
  auto e = encode(want, c.options);
  ASSERT_TRUE(e.ok()) << e.error().reason;
  EXPECT_EQ(to_hex(*e), to_hex(b));
}

std::string communities_256() {
  std::string s = "d0 08 0100 ";
  for (int i = 0; i < 64; ++i) s += "fde90001";
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Bgp, UpdateBothWays,
    ::testing::Values(
        UpdateCase{"mandatory_only", kEbgp2, "", kOrigin + kPath2 + kNextHop, kNlri,
                   base},
        UpdateCase{"end_of_rib", kEbgp2, "", "", "", [] { return UpdateMessage{}; }},
        UpdateCase{"withdrawal", kEbgp2, "18c612c8 20c6120001", "", "",
                   [] {
                     UpdateMessage u;
                     u.withdrawn_routes = {p4("198.18.200.0/24"), p4("198.18.0.1/32")};
                     return u;
                   }},
        UpdateCase{"origin_egp", kEbgp2, "", "40 01 01 01 " + kPath2 + kNextHop, kNlri,
                   [] {
                     auto u = base();
                     u.path_attributes.origin = Origin::kEgp;
                     return u;
                   }},
        UpdateCase{"origin_incomplete", kEbgp2, "", "40 01 01 02 " + kPath2 + kNextHop,
                   kNlri,
                   [] {
                     auto u = base();
                     u.path_attributes.origin = Origin::kIncomplete;
                     return u;
                   }},
        UpdateCase{"as_sequence_and_set", kEbgp2, "",
                   kOrigin + "40 02 0a 0202fde9fdea 0101fdeb " + kNextHop, kNlri,
                   [] {
                     auto u = base();
                     u.path_attributes.as_path =
                         AsPath{{{AsPathSegmentType::kAsSequence, {65001, 65002}},
                                 {AsPathSegmentType::kAsSet, {65003}}}};
                     return u;
                   }},
        UpdateCase{"as_path_4_octet", kEbgp4, "",
                   kOrigin + "40 02 0a 0202 fa56ea01 0000fde9 " + kNextHop, kNlri,
                   [] {
                     auto u = base();
                     u.path_attributes.as_path = AsPath::sequence({4200000001u, 65001});
                     return u;
                   }},
        UpdateCase{"empty_as_path_ibgp", kIbgp4, "", kOrigin + "40 02 00 " + kNextHop,
                   kNlri,
                   [] {
                     auto u = base();
                     u.path_attributes.as_path = AsPath{};
                     return u;
                   }},
        UpdateCase{"confed_segments_ibgp", kIbgp4, "",
                   kOrigin + "40 02 0c 0301 0000fdea 0201 0000fde9 " + kNextHop, kNlri,
                   [] {
                     auto u = base();
                     u.path_attributes.as_path =
                         AsPath{{{AsPathSegmentType::kAsConfedSequence, {65002}},
                                 {AsPathSegmentType::kAsSequence, {65001}}}};
                     return u;
                   }},
        UpdateCase{"med", kEbgp2, "", kOrigin + kPath2 + kNextHop + "80 04 04 00000032",
                   kNlri,
                   [] {
                     auto u = base();
                     u.path_attributes.multi_exit_disc = 50;
                     return u;
                   }},
        UpdateCase{"local_pref_ibgp", kIbgp4, "",
                   kOrigin + "40 02 06 0201 0000fde9 " + kNextHop + "40 05 04 00000064",
                   kNlri,
                   [] {
                     auto u = base();
                     u.path_attributes.local_pref = 100;
                     return u;
                   }},
        UpdateCase{"atomic_aggregate_and_aggregator_2_octet", kEbgp2, "",
                   kOrigin + kPath2 + kNextHop + "40 06 00 c0 07 06 fde9 c6120002", kNlri,
                   [] {
                     auto u = base();
                     u.path_attributes.atomic_aggregate = true;
                     u.path_attributes.aggregator = Aggregator{65001, a4("198.18.0.2")};
                     return u;
                   }},
        UpdateCase{
            "aggregator_4_octet", kEbgp4, "",
            kOrigin + "40 02 06 0201 0000fde9 " + kNextHop + "c0 07 08 fa56ea01 c6120002",
            kNlri,
            [] {
              auto u = base();
              u.path_attributes.aggregator = Aggregator{4200000001u, a4("198.18.0.2")};
              return u;
            }},
        UpdateCase{
            "well_known_communities", kEbgp2, "",
            kOrigin + kPath2 + kNextHop + "c0 08 10 ffffff01 ffffff02 ffff0000 fde90064",
            kNlri,
            [] {
              auto u = base();
              u.path_attributes.communities = {
                  well_known_community::kNoExport, well_known_community::kNoAdvertise,
                  well_known_community::kGracefulShutdown, Community::of(65001, 100)};
              return u;
            }},
        UpdateCase{"partial_communities", kEbgp2, "",
                   kOrigin + kPath2 + kNextHop + "e0 08 04 fde90064", kNlri,
                   [] {
                     auto u = base();
                     u.path_attributes.communities = {Community::of(65001, 100)};
                     u.path_attributes.partial.set(t::kCommunities);
                     return u;
                   }},
        UpdateCase{"large_communities", kEbgp2, "",
                   kOrigin + kPath2 + kNextHop +
                       "c0 20 18 0000fde9 00000001 00000002 fa56ea01 ffffffff 00000000",
                   kNlri,
                   [] {
                     auto u = base();
                     u.path_attributes.large_communities = {{65001, 1, 2},
                                                            {4200000001u, 0xFFFFFFFF, 0}};
                     return u;
                   }},
        UpdateCase{"extended_length_on_short_value", kEbgp2, "",
                   "50 01 0001 00 " + kPath2 + kNextHop, kNlri,
                   [] {
                     auto u = base();
                     u.path_attributes.extended_length.set(t::kOrigin);
                     return u;
                   }},
        UpdateCase{"extended_length_needed", kEbgp2, "",
                   kOrigin + kPath2 + kNextHop + communities_256(), kNlri,
                   [] {
                     auto u = base();
                     u.path_attributes.communities.assign(64, Community::of(65001, 1));
                     u.path_attributes.extended_length.set(t::kCommunities);
                     return u;
                   }},
        UpdateCase{
            "unknown_attributes_kept", kEbgp2, "",
            kOrigin + kPath2 + kNextHop + "c0 63 02 abcd 80 64 01 ff", kNlri,
            [] {
              auto u = base();
              u.path_attributes.unknown = {{0xC0, 99, {0xAB, 0xCD}}, {0x80, 100, {0xFF}}};
              return u;
            }},
        UpdateCase{"mp_reach_ipv4", kEbgp2, "",
                   "80 0e 0d 0001 01 04 c6120002 00 18c612c8 " + kOrigin + kPath2, "",
                   [] {
                     UpdateMessage u;
                     u.path_attributes.origin = Origin::kIgp;
                     u.path_attributes.as_path = AsPath::sequence({65001});
                     u.path_attributes.mp_reach_nlri =
                         MpReachNlri{Afi::kIpv4,
                                     Safi::kUnicast,
                                     hex("c6120002"),
                                     {p4("198.18.200.0/24")},
                                     {}};
                     return u;
                   }},
        UpdateCase{"mp_reach_ipv6_link_local", kEbgp2, "",
                   "90 0e 002c 0002 01 20 20010db8000000000000000000000001"
                   "fe800000000000000000000000000001 00 3020010db80200 " +
                       kOrigin + kPath2,
                   "",
                   [] {
                     UpdateMessage u;
                     u.path_attributes.origin = Origin::kIgp;
                     u.path_attributes.as_path = AsPath::sequence({65001});
                     u.path_attributes.mp_reach_nlri =
                         MpReachNlri{Afi::kIpv6,
                                     Safi::kUnicast,
                                     hex("20010db8000000000000000000000001 "
                                         "fe800000000000000000000000000001"),
                                     {},
                                     {p6("2001:db8:200::/48")}};
                     u.path_attributes.extended_length.set(t::kMpReachNlri);
                     return u;
                   }},
        UpdateCase{"mp_unreach_ipv6", kEbgp2, "", "80 0f 0a 0002 01 3020010db80200", "",
                   [] {
                     UpdateMessage u;
                     u.path_attributes.mp_unreach_nlri = MpUnreachNlri{
                         Afi::kIpv6, Safi::kUnicast, {}, {p6("2001:db8:200::/48")}};
                     return u;
                   }},
        UpdateCase{"as4_path_merged", kEbgp2, "",
                   kOrigin + "40 02 06 0202 5ba0 fde9 " + kNextHop +
                       "c0 11 0a 0202 fa56ea01 0000fde9",
                   kNlri,
                   [] {
                     auto u = base();
                     u.path_attributes.as_path = AsPath::sequence({4200000001u, 65001});
                     return u;
                   }},
        UpdateCase{
            "as4_aggregator_merged", kEbgp2, "",
            kOrigin + "40 02 04 0201 5ba0 " + kNextHop +
                "c0 07 06 5ba0 c6120002 c0 11 06 0201 fa56ea01 c0 12 08 fa56ea01 "
                "c6120002",
            kNlri,
            [] {
              auto u = base();
              u.path_attributes.as_path = AsPath::sequence({4200000001u});
              u.path_attributes.aggregator = Aggregator{4200000001u, a4("198.18.0.2")};
              return u;
            }}),
    [](const auto& tp) { return std::string(tp.param.name); });

TEST(Update, As4PathShorterThanAsPathKeepsTheLeadingAses) {
  // An old speaker (65002) prepended itself after the 4-octet AS.
  const Bytes b = update({},
                         hex(kOrigin + "40 02 08 0203 fdea 5ba0 fde9 " + kNextHop +
                             "c0 11 0a 0202 fa56ea01 0000fde9"),
                         hex(kNlri));
  auto d = decode_message(b, kEbgp2);
  ASSERT_TRUE(d.ok());
  const auto& u = std::get<UpdateMessage>(d->message);
  EXPECT_EQ(*u.path_attributes.as_path,
            (AsPath{{{AsPathSegmentType::kAsSequence, {65002}},
                     {AsPathSegmentType::kAsSequence, {4200000001u, 65001}}}}));
  EXPECT_EQ(u.path_attributes.as_path->length(), 3u);
  // Re-encoding gives a canonical pair that decodes to the same path.
  auto e = encode(u, kEbgp2);
  ASSERT_TRUE(e.ok());
  auto again = decode_message(*e, kEbgp2);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(std::get<UpdateMessage>(again->message), u);
}

TEST(Update, As4PathIgnoredCases) {
  struct Case {
    const char* name;
    CodecOptions options;
    std::string attrs;
    std::uint8_t type;
  };
  const Case cases[] = {
      {"aggregator_not_as_trans", kEbgp2,
       kOrigin + kPath2 + kNextHop + "c0 07 06 fdea c6120002 c0 11 06 0201 fa56ea01",
       t::kAs4Path},
      {"as4_path_longer", kEbgp2,
       kOrigin + kPath2 + kNextHop + "c0 11 0a 0202 fa56ea01 fa56ea02", t::kAs4Path},
      {"as4_path_from_4_octet_speaker", kEbgp4,
       kOrigin + "40 02 06 0201 0000fde9 " + kNextHop + "c0 11 06 0201 fa56ea01",
       t::kAs4Path},
      {"as4_aggregator_without_aggregator", kEbgp2,
       kOrigin + kPath2 + kNextHop + "c0 12 08 fa56ea01 c6120002", t::kAs4Aggregator},
  };
  for (const Case& c : cases) {
    auto d = decode_message(update({}, hex(c.attrs), hex(kNlri)), c.options);
    ASSERT_TRUE(d.ok()) << c.name;
    EXPECT_EQ(d->update_errors.handling, ErrorHandling::kAttributeDiscard) << c.name;
    ASSERT_EQ(d->update_errors.errors.size(), 1u) << c.name;
    EXPECT_EQ(d->update_errors.errors[0].type, c.type) << c.name;
    const auto& u = std::get<UpdateMessage>(d->message);
    EXPECT_FALSE(u.path_attributes.as_path->contains(4200000001u)) << c.name;
  }
}

TEST(Update, FourOctetLocalAsTowardsTwoOctetPeer) {
  // RFC 6793 4.2.2: AS_TRANS in AS_PATH and AGGREGATOR, real ASes in
  // AS4_PATH and AS4_AGGREGATOR.
  auto u = base();
  u.path_attributes.as_path = AsPath::sequence({4200000001u, 4200000001u, 65001});
  u.path_attributes.aggregator = Aggregator{4200000001u, a4("198.18.0.2")};
  auto e = encode(u, kEbgp2);
  ASSERT_TRUE(e.ok());
  const Bytes want = update({},
                            hex(kOrigin + "40 02 08 0203 5ba0 5ba0 fde9 " + kNextHop +
                                "c0 07 06 5ba0 c6120002"
                                "c0 11 0e 0203 fa56ea01 fa56ea01 0000fde9"
                                "c0 12 08 fa56ea01 c6120002"),
                            hex(kNlri));
  EXPECT_EQ(to_hex(*e), to_hex(want));
  auto d = decode_message(*e, kEbgp2);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(std::get<UpdateMessage>(d->message), u);

  // No 4-octet AS in the path: no AS4_PATH at all.
  auto plain = encode(base(), kEbgp2);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(to_hex(*plain),
            to_hex(update({}, hex(kOrigin + kPath2 + kNextHop), hex(kNlri))));
}

TEST(Update, ExtendedLengthChosenByTheEncoder) {
  auto u = base();
  u.path_attributes.communities.assign(64, Community::of(65001, 1));  // 256 octets
  auto e = encode(u, kEbgp2);
  ASSERT_TRUE(e.ok());
  auto d = decode_message(*e, kEbgp2);
  ASSERT_TRUE(d.ok());
  const auto& got = std::get<UpdateMessage>(d->message);
  EXPECT_TRUE(got.path_attributes.extended_length.test(t::kCommunities));
  EXPECT_EQ(got.path_attributes.communities, u.path_attributes.communities);
}

TEST(Update, LongSequencesAreSplitIntoSegments) {
  auto u = base();
  std::vector<std::uint32_t> asns(300, 65001);
  u.path_attributes.as_path = AsPath::sequence(asns);
  auto e = encode(u, kEbgp2);
  ASSERT_TRUE(e.ok());
  auto d = decode_message(*e, kEbgp2);
  ASSERT_TRUE(d.ok());
  const AsPath& p = *std::get<UpdateMessage>(d->message).path_attributes.as_path;
  ASSERT_EQ(p.segments.size(), 2u);
  EXPECT_EQ(p.segments[0].asns.size(), 255u);
  EXPECT_EQ(p.length(), 300u);
}

TEST(Update, PassingOnSetsPartialAndDropsNonTransitive) {
  PathAttributes a = base().path_attributes;
  a.unknown = {{0xC0, 99, {1}}, {0x80, 100, {2}}};
  const PathAttributes out = attributes_to_pass_on(a);
  ASSERT_EQ(out.unknown.size(), 1u);
  EXPECT_EQ(out.unknown[0], (UnknownAttribute{0xE0, 99, {1}}));
  auto u = base();
  u.path_attributes = out;
  auto e = encode(u, kEbgp2);
  ASSERT_TRUE(e.ok());
  EXPECT_NE(to_hex(*e).find("e06301"), std::string::npos);
}

TEST(Update, EncoderRefusals) {
  auto u = base();
  u.path_attributes.local_pref = 100;
  EXPECT_FALSE(encode(u, kEbgp2).ok());  // LOCAL_PREF to an external peer
  EXPECT_TRUE(encode(u, kIbgp4).ok());

  u = base();
  u.path_attributes.as_path = AsPath{{{AsPathSegmentType::kAsSequence, {}}}};
  EXPECT_FALSE(encode(u, kEbgp2).ok());

  u = base();
  u.nlri[0].length = 33;
  EXPECT_FALSE(encode(u, kEbgp2).ok());

  u = base();
  u.path_attributes.mp_reach_nlri =
      MpReachNlri{Afi::kIpv6, Safi::kUnicast, hex("c6120002"), {}, {p6("2001:db8::/32")}};
  EXPECT_FALSE(encode(u, kEbgp2).ok());  // next hop length

  u = base();
  u.path_attributes.unknown = {{0x40, 99, {}}};
  EXPECT_FALSE(encode(u, kEbgp2).ok());  // unknown well-known
}

TEST(Update, WithdrawnAndAnnouncedPrefixes) {
  UpdateMessage u = base();
  u.withdrawn_routes = {p4("198.18.201.0/24")};
  u.path_attributes.mp_reach_nlri =
      MpReachNlri{Afi::kIpv6, Safi::kUnicast, Bytes(16, 1), {}, {p6("2001:db8::/32")}};
  const Prefixes ann = announced_prefixes(u, ErrorHandling::kAttributeDiscard);
  EXPECT_EQ(ann.ipv4, u.nlri);
  EXPECT_EQ(ann.ipv6.size(), 1u);
  EXPECT_EQ(withdrawn_prefixes(u, ErrorHandling::kNone).ipv4,
            std::vector<Ipv4Prefix>{p4("198.18.201.0/24")});
  const Prefixes w = withdrawn_prefixes(u, ErrorHandling::kTreatAsWithdraw);
  EXPECT_EQ(w.ipv4.size(), 2u);
  EXPECT_EQ(w.ipv6.size(), 1u);
  EXPECT_EQ(announced_prefixes(u, ErrorHandling::kTreatAsWithdraw), Prefixes{});
}

}  // namespace
}  // namespace nva::bgp::test
