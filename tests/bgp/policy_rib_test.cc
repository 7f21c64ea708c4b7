// Outbound policy (prepend, MED, communities, next hop) and the RIBs:
// coalesced announcements, immediate withdrawals, the route limit, refresh.
#include <gtest/gtest.h>

#include <cstddef>
#include <memory>

#if defined(__SANITIZE_ADDRESS__)
#define NVA_HAS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NVA_HAS_ASAN 1
#endif
#endif
#ifdef NVA_HAS_ASAN
// The sanitizer runtime's count of live heap bytes (gcc ships no header for it).
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#endif

#include "controlplane/bgp/policy.h"
#include "controlplane/bgp/rib.h"
#include "tests/bgp/test_util.h"

namespace nva::bgp::test {
namespace {

const ExportContext kCtx{65001, {198, 18, 0, 1}};

TEST(Policy, LocalAsOncePlusPrependsOfRouteAndPeer) {
  RouteAttributes r;
  r.prepend = 2;
  ExportPolicy peer;
  peer.prepend = 1;
  const PathAttributes a = export_attributes(r, peer, kCtx);
  EXPECT_EQ(a.as_path, AsPath::sequence({65001, 65001, 65001, 65001}));
  EXPECT_EQ(a.origin, Origin::kIgp);
  EXPECT_EQ(a.next_hop, a4("198.18.0.1"));  // next-hop self
  EXPECT_FALSE(a.multi_exit_disc.has_value());
  EXPECT_TRUE(a.communities.empty());
}

TEST(Policy, PeerMedReplacesRouteMedAndExplicitNextHop) {
  RouteAttributes r;
  r.med = 50;
  ExportPolicy peer;
  EXPECT_EQ(export_attributes(r, peer, kCtx).multi_exit_disc, 50u);
  peer.med = 200;
  peer.next_hop = a4("198.18.0.9");
  const PathAttributes a = export_attributes(r, peer, kCtx);
  EXPECT_EQ(a.multi_exit_disc, 200u);
  EXPECT_EQ(a.next_hop, a4("198.18.0.9"));
}

TEST(Policy, CommunitiesMergedSortedWithWellKnownOnes) {
  RouteAttributes r;
  r.communities = {Community::of(65001, 200), Community::of(65001, 100)};
  r.no_advertise = true;
  r.large_communities = {{65001, 1, 2}};
  ExportPolicy peer;
  peer.communities = {Community::of(65001, 100)};
  peer.graceful_shutdown = true;
  peer.large_communities = {{65001, 1, 2}, {65001, 0, 9}};
  const PathAttributes a = export_attributes(r, peer, kCtx);
  const std::vector<Community> want{Community::of(65001, 100), Community::of(65001, 200),
                                    well_known_community::kGracefulShutdown,
                                    well_known_community::kNoAdvertise};
  EXPECT_EQ(a.communities, want);
  const std::vector<LargeCommunity> lwant{{65001, 0, 9}, {65001, 1, 2}};
  EXPECT_EQ(a.large_communities, lwant);
  // Both encode: what the speaker sends is a valid UPDATE.
  UpdateMessage u;
  u.path_attributes = a;
  u.nlri = {p4("198.18.200.0/24")};
  EXPECT_TRUE(encode(u, CodecOptions{}).ok());
}

TEST(Policy, CommunityText) {
  EXPECT_EQ(parse_community("65001:100"), Community::of(65001, 100));
  EXPECT_EQ(parse_community("graceful-shutdown"),
            well_known_community::kGracefulShutdown);
  EXPECT_EQ(parse_community("no-advertise"), well_known_community::kNoAdvertise);
  EXPECT_FALSE(parse_community("65536:1").has_value());
  EXPECT_FALSE(parse_community("1:2:3").has_value());
  EXPECT_FALSE(parse_community("x").has_value());
  EXPECT_EQ(to_string(Community::of(65535, 0)), "65535:0");
  const auto l = parse_large_community("4200000001:1:2");
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(*l, (LargeCommunity{4200000001u, 1, 2}));
  EXPECT_EQ(to_string(*l), "4200000001:1:2");
  EXPECT_FALSE(parse_large_community("1:2").has_value());
  EXPECT_FALSE(parse_large_community("1:2:-3").has_value());
}

PathAttributes attrs(std::uint32_t med) {
  RouteAttributes r;
  r.med = med;
  return export_attributes(r, {}, kCtx);
}

TEST(AdjRibOut, AnnouncementsWaitAndAreGroupedByAttributes) {
  AdjRibOut rib;
  rib.set(p4("198.18.200.0/24"), attrs(1));
  rib.set(p4("198.18.201.0/24"), attrs(1));
  rib.set(p4("198.18.202.0/24"), attrs(2));
  EXPECT_TRUE(rib.has_pending());
  EXPECT_EQ(rib.sent_count(), 0u);
  std::size_t held = 0;
  const auto updates = rib.take_announcements(kDefaultMaxRoutes, held);
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(updates[0].nlri, (std::vector{p4("198.18.200.0/24"), p4("198.18.201.0/24")}));
  EXPECT_EQ(updates[1].nlri, std::vector{p4("198.18.202.0/24")});
  EXPECT_EQ(held, 0u);
  EXPECT_EQ(rib.sent_count(), 3u);
  EXPECT_FALSE(rib.has_pending());
  // The same attributes again: nothing to send.
  rib.set(p4("198.18.200.0/24"), attrs(1));
  EXPECT_FALSE(rib.has_pending());
}

TEST(AdjRibOut, AFlappingPrefixIsAnnouncedOnceWithItsLatestAttributes) {
  AdjRibOut rib;
  const auto p = p4("198.18.200.0/24");
  for (std::uint32_t i = 0; i < 100; ++i) {
    rib.set(p, attrs(i));
    EXPECT_FALSE(rib.remove(p));  // never sent: no withdrawal needed
  }
  rib.set(p, attrs(7));
  std::size_t held = 0;
  const auto updates = rib.take_announcements(kDefaultMaxRoutes, held);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].path_attributes.multi_exit_disc, 7u);
  // Once sent, a withdrawal is due at once.
  EXPECT_TRUE(rib.remove(p));
  EXPECT_FALSE(rib.has_pending());
  EXPECT_EQ(rib.sent_count(), 0u);
  EXPECT_EQ(withdrawal({p}).withdrawn_routes, std::vector{p});
}

TEST(AdjRibOut, RoutesOverTheLimitAreHeldBackUntilThereIsRoom) {
  AdjRibOut rib;
  rib.set(p4("198.18.200.0/24"), attrs(1));
  rib.set(p4("198.18.201.0/24"), attrs(1));
  rib.set(p4("198.18.202.0/24"), attrs(1));
  std::size_t held = 0;
  auto updates = rib.take_announcements(2, held);
  EXPECT_EQ(held, 1u);
  EXPECT_EQ(rib.sent_count(), 2u);
  EXPECT_TRUE(rib.has_pending());
  // A changed route the peer already has is not held back.
  rib.set(p4("198.18.200.0/24"), attrs(5));
  updates = rib.take_announcements(2, held);
  EXPECT_EQ(held, 1u);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].nlri, std::vector{p4("198.18.200.0/24")});
  EXPECT_TRUE(rib.remove(p4("198.18.201.0/24")));
  updates = rib.take_announcements(2, held);
  EXPECT_EQ(held, 0u);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].nlri, std::vector{p4("198.18.202.0/24")});
}

TEST(AdjRibOut, RefreshResendsAndSessionDownForgetsWhatWasSent) {
  AdjRibOut rib;
  rib.set(p4("198.18.200.0/24"), attrs(1));
  std::size_t held = 0;
  (void)rib.take_announcements(kDefaultMaxRoutes, held);
  rib.resend_all();
  auto updates = rib.take_announcements(kDefaultMaxRoutes, held);
  ASSERT_EQ(updates.size(), 1u);
  rib.session_down();
  EXPECT_EQ(rib.sent_count(), 0u);
  EXPECT_EQ(rib.wanted_count(), 1u);
  EXPECT_FALSE(rib.remove(p4("198.18.200.0/24")));  // the peer has nothing
}

TEST(AdjRibIn, KeepsAnnouncedRoutesAndTreatAsWithdraw) {
  AdjRibIn rib;
  UpdateMessage u;
  u.path_attributes = attrs(3);
  u.nlri = {p4("198.18.100.0/24"), p4("198.18.101.0/24")};
  rib.apply(u, {});
  EXPECT_EQ(rib.size(), 2u);
  EXPECT_EQ(rib.ipv4().at(p4("198.18.100.0/24")).multi_exit_disc, 3u);
  UpdateErrors twd;
  twd.add(attribute_type::kOrigin, ErrorHandling::kTreatAsWithdraw, 6, "bad origin");
  u.nlri = {p4("198.18.100.0/24")};
  rib.apply(u, twd);  // RFC 7606: withdrawn, not announced
  EXPECT_EQ(rib.size(), 1u);
  UpdateMessage w;
  w.withdrawn_routes = {p4("198.18.101.0/24")};
  rib.apply(w, {});
  EXPECT_EQ(rib.size(), 0u);
}

// Issue 12, finding 9: a peer's routes without their attributes (the
// daemon's mode) and never past the limit.
UpdateMessage many_routes(std::uint32_t first, std::uint32_t count) {
  UpdateMessage u;
  u.path_attributes = attrs(7);
  for (std::uint32_t i = 0; i < 200; ++i) {
    u.path_attributes.communities.push_back(Community::of(65001, i));
  }
  for (std::uint32_t i = first; i < first + count; ++i) {
    u.nlri.push_back(*Ipv4Prefix::make(
        {10, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i), 0}, 24));
  }
  return u;
}

TEST(AdjRibIn, CountOnlyKeepsNoAttributesAndStopsAtTheLimit) {
  AdjRibIn rib(/*keep_attributes=*/false);
  EXPECT_FALSE(rib.apply(many_routes(0, 100), {}, 100).has_value());
  EXPECT_EQ(rib.size(), 100u);
  EXPECT_EQ(rib.ipv4_count(), 100u);
  EXPECT_TRUE(rib.ipv4().empty());
  // Re-announcing known prefixes is within the limit; one new one is not,
  // and is not added.
  EXPECT_FALSE(rib.apply(many_routes(50, 50), {}, 100).has_value());
  EXPECT_EQ(rib.apply(many_routes(90, 20), {}, 100), Afi::kIpv4);
  EXPECT_EQ(rib.size(), 100u);
  UpdateMessage w;
  w.withdrawn_routes = many_routes(0, 10).nlri;
  EXPECT_FALSE(rib.apply(w, {}, 100).has_value());
  EXPECT_EQ(rib.size(), 90u);
  rib.clear();
  EXPECT_EQ(rib.size(), 0u);

  AdjRibIn full;  // nva-bgp's mode: the same limit
  EXPECT_EQ(full.apply(many_routes(0, 101), {}, 100), Afi::kIpv4);
  EXPECT_EQ(full.size(), 100u);
  EXPECT_EQ(full.ipv4().size(), 100u);
}

// What a received route costs in memory: with attributes, each route holds
// its own copy (200 communities here); counted only, a set node.
TEST(AdjRibIn, CountOnlyMemoryDoesNotGrowWithTheAttributes) {
  constexpr std::uint32_t kRoutes = 2000;
  const UpdateMessage u = many_routes(0, kRoutes);
#ifdef NVA_HAS_ASAN
  const auto bytes_for = [&](bool keep) {
    auto rib = std::make_unique<AdjRibIn>(keep);
    const std::size_t before = __sanitizer_get_current_allocated_bytes();
    EXPECT_FALSE(rib->apply(u, {}).has_value());
    return (__sanitizer_get_current_allocated_bytes() - before) / kRoutes;
  };
  const std::size_t counted = bytes_for(false);
  const std::size_t kept = bytes_for(true);
  EXPECT_LE(counted, 128u) << "bytes per route, counted only";
  EXPECT_GE(kept, 800u) << "bytes per route with 200 communities";
#endif
  AdjRibIn rib(false);
  EXPECT_FALSE(rib.apply(u, {}).has_value());
  EXPECT_EQ(rib.size(), kRoutes);
  EXPECT_TRUE(rib.ipv4().empty());
}

TEST(MaximumPrefixes, CeaseSubcodeOneWithAfiSafiAndBound) {
  const NotificationMessage n =
      maximum_prefixes_reached(Afi::kIpv6, Safi::kUnicast, 70000);
  EXPECT_EQ(n.error_code, 6);
  EXPECT_EQ(n.error_subcode, 1);
  EXPECT_EQ(n.data, (std::vector<std::uint8_t>{0, 2, 1, 0, 1, 0x11, 0x70}));
  const auto bytes = encode(n);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes->size(), kNotificationMinLength + 7);
}

}  // namespace
}  // namespace nva::bgp::test
