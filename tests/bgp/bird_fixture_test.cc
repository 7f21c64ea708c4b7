// Messages captured from a real BIRD 2 (tests/data/bgp/): decoded to the
// expected structs, and re-encoded to the same bytes.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/bgp/test_util.h"

namespace nva::bgp::test {
namespace {

CodecOptions options_for(const std::string& name) {
  // rs and as4: BIRD towards a 2-octet peer; mp: 4-octet AS negotiated.
  return CodecOptions{.four_octet_as = name.starts_with("bird-mp-"),
                      .external_peer = true};
}

template <class T>
T decode_as(const std::string& name) {
  const Bytes b = fixture(name);
  auto d = decode_message(b, options_for(name));
  EXPECT_TRUE(d.ok()) << name << ": " << (d.ok() ? "" : describe(d.error()));
  if (!d.ok()) return T{};
  EXPECT_EQ(d->update_errors.handling, ErrorHandling::kNone) << name;
  EXPECT_TRUE(std::holds_alternative<T>(d->message)) << name;
  if (!std::holds_alternative<T>(d->message)) return T{};
  return std::get<T>(d->message);
}

TEST(BirdFixture, EveryMessageDecodesAndReencodesToTheSameBytes) {
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(NVA_BGP_FIXTURE_DIR)) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with("bird-") || !name.ends_with(".hex")) continue;
    ++n;
    const Bytes b = fixture(name);
    ASSERT_GE(b.size(), 19u) << name;
    auto d = decode_message(b, options_for(name));
    ASSERT_TRUE(d.ok()) << name << ": " << describe(d.error());
    EXPECT_EQ(d->update_errors, UpdateErrors{}) << name;
    auto again = encode(d->message, options_for(name));
    ASSERT_TRUE(again.ok()) << name << ": " << again.error().reason;
    EXPECT_EQ(to_hex(*again), to_hex(b)) << name;
  }
  EXPECT_GE(n, 20u) << "fixtures missing in " << NVA_BGP_FIXTURE_DIR;
}

TEST(BirdFixture, RouteServerOpen) {
  const auto open = decode_as<OpenMessage>("bird-rs-open-1.hex");
  EXPECT_EQ(open.version, 4);
  EXPECT_EQ(open.my_autonomous_system, 65515);
  EXPECT_EQ(open.hold_time, 180);
  EXPECT_EQ(open.bgp_identifier, a4("198.18.0.1"));
  EXPECT_FALSE(open.extended_optional_parameters);
  const std::vector<Capability> caps = {
      MultiprotocolCapability{Afi::kIpv4, Safi::kUnicast},
      RouteRefreshCapability{},
      UnknownCapability{64, {0x00, 0x78}},  // graceful restart, 120 s
      UnknownCapability{70, {}},            // enhanced route refresh
      UnknownCapability{71, {}},            // long-lived graceful restart
  };
  ASSERT_EQ(open.optional_parameters.size(), 1u);
  EXPECT_EQ(open.optional_parameters[0].capabilities, caps);
  EXPECT_FALSE(open.four_octet_as());  // Route Server: 2-octet AS only
  EXPECT_TRUE(open.supports_route_refresh());
  EXPECT_TRUE(open.supports(Afi::kIpv4, Safi::kUnicast));
  EXPECT_FALSE(check_peer_as(open, 65515));
  EXPECT_TRUE(check_peer_as(open, 65516));
}

TEST(BirdFixture, FourOctetOpens) {
  const auto mp = decode_as<OpenMessage>("bird-mp-open-1.hex");
  EXPECT_EQ(mp.four_octet_as(), 65515u);
  EXPECT_TRUE(mp.supports(Afi::kIpv6, Safi::kUnicast));
  const auto as4 = decode_as<OpenMessage>("bird-as4-open-1.hex");
  EXPECT_EQ(as4.my_autonomous_system, kAsTrans);
  EXPECT_EQ(as4.autonomous_system(), 4200000002u);
  EXPECT_FALSE(check_peer_as(as4, 4200000002u));
}

TEST(BirdFixture, RouteServerAnnouncesTheAnycastPrefix) {
  const auto u = decode_as<UpdateMessage>("bird-rs-update-2.hex");
  UpdateMessage want;
  want.nlri = {p4("198.18.200.0/24")};
  PathAttributes& a = want.path_attributes;
  a.origin = Origin::kIgp;
  a.as_path = AsPath::sequence({65515});
  a.next_hop = a4("198.18.0.1");
  a.multi_exit_disc = 50;
  a.communities = {Community::of(65515, 100), well_known_community::kGracefulShutdown};
  a.large_communities = {{65515, 1, 2}};
  EXPECT_EQ(u, want);
  EXPECT_TRUE(u.path_attributes.has_community(well_known_community::kGracefulShutdown));
}

TEST(BirdFixture, EndOfRibWithdrawalRouteRefreshAndCease) {
  EXPECT_TRUE(decode_as<UpdateMessage>("bird-rs-update-3.hex").is_end_of_rib());
  EXPECT_FALSE(decode_as<UpdateMessage>("bird-rs-update-2.hex").is_end_of_rib());

  UpdateMessage withdraw;
  withdraw.withdrawn_routes = {p4("198.18.201.0/24")};
  EXPECT_EQ(decode_as<UpdateMessage>("bird-rs-update-6.hex"), withdraw);

  EXPECT_EQ(decode_as<RouteRefreshMessage>("bird-rs-route-refresh-1.hex"),
            (RouteRefreshMessage{Afi::kIpv4, 0, Safi::kUnicast}));

  const auto cease = decode_as<NotificationMessage>("bird-rs-notification-1.hex");
  EXPECT_EQ(cease.error_code, 6);
  EXPECT_EQ(cease.error_subcode, cease::kAdministrativeShutdown);
  EXPECT_EQ(shutdown_communication(cease), "maintenance");
  EXPECT_EQ(cease, administrative_shutdown("maintenance"));

  const auto plain = decode_as<NotificationMessage>("bird-mp-notification-1.hex");
  EXPECT_EQ(plain, (NotificationMessage{6, 2, {}}));
  EXPECT_EQ(decode_as<KeepaliveMessage>("bird-rs-keepalive-1.hex"), KeepaliveMessage{});
}

TEST(BirdFixture, FourOctetPathAndIpv6) {
  const auto v4 = decode_as<UpdateMessage>("bird-mp-update-1.hex");
  EXPECT_EQ(v4.path_attributes.as_path, AsPath::sequence({65515}));

  const auto v6 = decode_as<UpdateMessage>("bird-mp-update-3.hex");
  ASSERT_TRUE(v6.path_attributes.mp_reach_nlri);
  const MpReachNlri& mp = *v6.path_attributes.mp_reach_nlri;
  EXPECT_EQ(mp.afi, Afi::kIpv6);
  const auto nh = *parse_ipv6("2001:db8::1");
  EXPECT_EQ(mp.next_hop, Bytes(nh.begin(), nh.end()));
  EXPECT_EQ(mp.ipv6_nlri, std::vector<Ipv6Prefix>{p6("2001:db8:200::/48")});
  EXPECT_TRUE(v6.nlri.empty());
  EXPECT_FALSE(v6.path_attributes.next_hop);  // NEXT_HOP not needed with MP_REACH only
  EXPECT_TRUE(v6.path_attributes.extended_length.test(attribute_type::kMpReachNlri));

  const auto eor6 = decode_as<UpdateMessage>("bird-mp-update-4.hex");
  EXPECT_TRUE(eor6.is_end_of_rib());
  ASSERT_TRUE(eor6.path_attributes.mp_unreach_nlri);
  EXPECT_EQ(eor6.path_attributes.mp_unreach_nlri->afi, Afi::kIpv6);
}

TEST(BirdFixture, As4PathFromAFourOctetLocalAsIsMerged) {
  const auto u = decode_as<UpdateMessage>("bird-as4-update-1.hex");
  EXPECT_EQ(u.path_attributes.as_path, AsPath::sequence({4200000002u}));
  // The same bytes read by a 4-octet session would be wrong, so the codec
  // option matters: decoding them as 2-octet gives AS_TRANS plus AS4_PATH.
  const Bytes b = fixture("bird-as4-update-1.hex");
  const auto raw = decode_message(b, {.four_octet_as = true});
  // 2-octet AS_PATH bytes do not parse as 4-octet: treat-as-withdraw.
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->update_errors.handling, ErrorHandling::kTreatAsWithdraw);
}

}  // namespace
}  // namespace nva::bgp::test
