// The 4096-octet limit on encoding: a clear error from encode(), and
// encode_split() spreading prefixes over messages that each fit.
#include <gtest/gtest.h>

#include "tests/bgp/test_util.h"

namespace nva::bgp::test {
namespace {

const CodecOptions kEbgp{};

Ipv4Prefix host(std::uint32_t i) {
  return *Ipv4Prefix::make(
      {198, 18, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)}, 32);
}

Ipv6Prefix net6(std::uint32_t i) {
  Ipv6Address a{0x20,
                0x01,
                0x0d,
                0xb8,
                static_cast<std::uint8_t>(i >> 8),
                static_cast<std::uint8_t>(i)};
  return *Ipv6Prefix::make(a, 48);
}

UpdateMessage big_update() {
  UpdateMessage u;
  PathAttributes& a = u.path_attributes;
  a.origin = Origin::kIgp;
  a.as_path = AsPath::sequence({65001, 65001, 65001});
  a.next_hop = a4("198.18.0.2");
  a.communities = {Community::of(65001, 1), well_known_community::kNoExport};
  for (std::uint32_t i = 0; i < 1000; ++i) u.nlri.push_back(host(i));  // 5000 octets
  for (std::uint32_t i = 0; i < 900; ++i) u.withdrawn_routes.push_back(host(5000 + i));
  a.mp_reach_nlri = MpReachNlri{Afi::kIpv6, Safi::kUnicast, Bytes(16, 0x20), {}, {}};
  for (std::uint32_t i = 0; i < 600; ++i) a.mp_reach_nlri->ipv6_nlri.push_back(net6(i));
  a.mp_unreach_nlri = MpUnreachNlri{Afi::kIpv6, Safi::kUnicast, {}, {}};
  for (std::uint32_t i = 0; i < 600; ++i)
    a.mp_unreach_nlri->ipv6_withdrawn.push_back(net6(1000 + i));
  return u;
}

TEST(Split, EncodeRefusesMoreThan4096Octets) {
  auto e = encode(big_update(), kEbgp);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().reason, "message longer than 4096 octets");
}

TEST(Split, PiecesFitAndCarryEverything) {
  const UpdateMessage u = big_update();
  auto pieces = encode_split(u, kEbgp);
  ASSERT_TRUE(pieces.ok()) << pieces.error().reason;
  EXPECT_GE(pieces->size(), 4u);
  Prefixes announced, withdrawn;
  for (const Bytes& b : *pieces) {
    ASSERT_LE(b.size(), kMaxMessageLength);
    auto d = decode_message(b, kEbgp);
    ASSERT_TRUE(d.ok()) << describe(d.error());
    EXPECT_EQ(d->update_errors.handling, ErrorHandling::kNone);
    const auto& m = std::get<UpdateMessage>(d->message);
    const Prefixes a = announced_prefixes(m, ErrorHandling::kNone);
    const Prefixes w = withdrawn_prefixes(m, ErrorHandling::kNone);
    if (!a.ipv4.empty() || !a.ipv6.empty()) {
      EXPECT_EQ(m.path_attributes.communities, u.path_attributes.communities);
      EXPECT_EQ(m.path_attributes.as_path, u.path_attributes.as_path);
    }
    announced.ipv4.insert(announced.ipv4.end(), a.ipv4.begin(), a.ipv4.end());
    announced.ipv6.insert(announced.ipv6.end(), a.ipv6.begin(), a.ipv6.end());
    withdrawn.ipv4.insert(withdrawn.ipv4.end(), w.ipv4.begin(), w.ipv4.end());
    withdrawn.ipv6.insert(withdrawn.ipv6.end(), w.ipv6.begin(), w.ipv6.end());
  }
  EXPECT_EQ(announced, announced_prefixes(u, ErrorHandling::kNone));
  EXPECT_EQ(withdrawn, withdrawn_prefixes(u, ErrorHandling::kNone));
}

TEST(Split, SmallUpdateIsOneMessage) {
  UpdateMessage u;
  u.withdrawn_routes = {host(1)};
  auto pieces = encode_split(u, kEbgp);
  ASSERT_TRUE(pieces.ok());
  ASSERT_EQ(pieces->size(), 1u);
  EXPECT_EQ((*pieces)[0], *encode(u, kEbgp));
}

TEST(Split, AttributesAloneTooLong) {
  UpdateMessage u;
  u.path_attributes.origin = Origin::kIgp;
  u.path_attributes.as_path = AsPath::sequence({65001});
  u.path_attributes.next_hop = a4("198.18.0.2");
  u.path_attributes.communities.assign(1100, Community::of(65001, 1));  // 4400 octets
  u.nlri = {host(1)};
  auto pieces = encode_split(u, kEbgp);
  ASSERT_FALSE(pieces.ok());
}

}  // namespace
}  // namespace nva::bgp::test
