// rte_flow steering without hardware: the endpoint Toeplitz against
// rte_softrss, the rule builders (exact matches and actions for a small
// service table), the software model of the rules against owner() on a
// million random packets, and connections created through the translators
// whose replies the model puts on the creating worker.
#include <gtest/gtest.h>
#include <rte_thash.h>

#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "dataplane/nat/translator.h"
#include "dataplane/port/port.h"
#include "dataplane/steer/flow_rules.h"
#include "dataplane/steer/owner.h"
#include "tests/support/packet_builder.h"
#include "tests/support/services.h"

namespace nva::steer {
namespace {

using Bytes = std::vector<std::uint8_t>;
using packet::ipv4_from_string;

constexpr std::uint32_t kAll = 0xFFFFFFFFu;

RssKey default_key() {
  RssKey k;
  std::copy(std::begin(port::kDefaultRssKey), std::end(port::kDefaultRssKey), k.begin());
  return k;
}

RssKey random_key(std::mt19937& rng) {
  RssKey k;
  for (auto& b : k) b = static_cast<std::uint8_t>(rng());
  return k;
}

std::uint32_t ip(const char* s) { return ipv4_from_string(s); }

std::uint32_t in(std::uint32_t net, std::mt19937& rng) {
  return net + static_cast<std::uint32_t>(rng() & 0xFFFF);
}

// web: dnat TCP 80 (two backends on 8080); api: dnat+snat TCP 443 (one SNAT
// address); dns: dnat UDP 53 on web's VIP with a port-0 backend.
lb::ServiceTable small_table() {
  std::vector<lb::Service> v;
  v.push_back(test::service({.name = "web",
                             .vip = "198.19.0.10",
                             .port = 80,
                             .backends = {test::backend("198.18.2.2", 8080),
                                          test::backend("198.18.2.1", 8080)}}));
  v.push_back(test::service({.name = "api",
                             .vip = "198.19.0.11",
                             .port = 443,
                             .backends = {test::backend("198.18.3.1", 443)},
                             .snat = {"198.18.1.1"}}));
  v.push_back(test::service({.name = "dns",
                             .proto = 17,
                             .vip = "198.19.0.10",
                             .port = 53,
                             .backends = {test::backend("198.18.4.1", 0)}}));
  return lb::ServiceTable(std::move(v), 307);
}

TEST(FlowRules, EndpointToeplitzMatchesRteSoftrss) {
  std::mt19937 rng(11);
  for (int k = 0; k < 20; ++k) {
    const RssKey key = random_key(rng);
    const ToeplitzEndpoint t(key);
    for (int i = 0; i < 1000; ++i) {
      const std::uint32_t a = rng();
      const auto p = static_cast<std::uint16_t>(rng());
      // (addr, port) then 16 zero bits: zeros add nothing to a Toeplitz hash.
      std::uint32_t words[2] = {a, std::uint32_t{p} << 16};
      ASSERT_EQ(t.hash(a, p), rte_softrss(words, 2, key.data()));
    }
  }
}

TEST(FlowRules, RssActionSlotIsMlx5IndirectionTable) {
  EXPECT_EQ(rss_action_slot(0x12345677, 4), 3u);      // & 3
  EXPECT_EQ(rss_action_slot(0x12345677, 3), 3u % 3);  // (& 3) % 3
  EXPECT_EQ(rss_action_slot(0x12345676, 3), 2u);
  EXPECT_EQ(rss_action_slot(0x1234567D, 5), 5u % 5);  // (& 7) % 5
  EXPECT_EQ(rss_action_slot(0xFFFFFFFF, 1), 0u);
}

TEST(FlowRules, BuildersGiveTheExpectedMatchesAndActions) {
  const lb::ServiceTable svc = small_table();
  const RssKey key = default_key();
  std::string snat_why;
  const std::vector<FlowRule> rules = build_flow_rules(svc, 4, key, &snat_why);
  EXPECT_EQ(snat_why, "");
  // 2 VIPs x 2 protocols, 1 SNAT address x 2 protocols x 4 workers,
  // 3 dnat backends x 2 protocols.
  ASSERT_EQ(rules.size(), 4u + 8u + 6u);

  const std::vector<std::uint16_t> q4 = {0, 1, 2, 3};
  // VIPs, sorted by address, TCP then UDP: dst /32 only.
  const std::uint32_t vips[] = {ip("198.19.0.10"), ip("198.19.0.11")};
  for (int i = 0; i < 4; ++i) {
    const FlowRule& r = rules[static_cast<std::size_t>(i)];
    EXPECT_EQ(r.cls, FlowClass::kVip);
    EXPECT_EQ(r.priority, 0u);
    FlowMatch m;
    m.proto = i % 2 == 0 ? 6 : 17;
    m.dst = vips[i / 2];
    m.dst_mask = kAll;
    EXPECT_EQ(r.match, m) << r.describe();
    EXPECT_EQ(r.action.kind, FlowAction::Kind::kRss);
    EXPECT_EQ(r.action.fields, RssFields::kSrcOnly);
    EXPECT_EQ(r.action.key, key);
    EXPECT_EQ(r.action.queues, q4);
    EXPECT_EQ(r.rss_types(), (i % 2 == 0 ? kRssNonfragIpv4Tcp : kRssNonfragIpv4Udp) |
                                 kRssL3SrcOnly | kRssL4SrcOnly);
  }
  // SNAT returns: dst /32, dport & 3 == w -> queue w.
  for (int i = 0; i < 8; ++i) {
    const FlowRule& r = rules[static_cast<std::size_t>(4 + i)];
    EXPECT_EQ(r.cls, FlowClass::kSnatReturn);
    EXPECT_EQ(r.priority, 1u);
    FlowMatch m;
    m.proto = i < 4 ? 6 : 17;
    m.dst = ip("198.18.1.1");
    m.dst_mask = kAll;
    m.dport = static_cast<std::uint16_t>(i % 4);
    m.dport_mask = 3;
    EXPECT_EQ(r.match, m) << r.describe();
    EXPECT_EQ(r.action.kind, FlowAction::Kind::kQueue);
    EXPECT_EQ(r.action.queue, i % 4);
    EXPECT_EQ(r.rss_types(), 0u);
  }
  // dnat backends, sorted by (addr, port): src /32 and the source port
  // (none for the port-0 backend); RSS on the destination.
  const std::pair<const char*, std::uint16_t> backends[] = {
      {"198.18.2.1", 8080}, {"198.18.2.2", 8080}, {"198.18.4.1", 0}};
  for (int i = 0; i < 6; ++i) {
    const FlowRule& r = rules[static_cast<std::size_t>(12 + i)];
    EXPECT_EQ(r.cls, FlowClass::kDnatReturn);
    EXPECT_EQ(r.priority, 2u);
    FlowMatch m;
    m.proto = i % 2 == 0 ? 6 : 17;
    m.src = ip(backends[i / 2].first);
    m.src_mask = kAll;
    m.sport = backends[i / 2].second;
    m.sport_mask = backends[i / 2].second != 0 ? 0xFFFF : 0;
    EXPECT_EQ(r.match, m) << r.describe();
    EXPECT_EQ(r.action.fields, RssFields::kDstOnly);
    EXPECT_EQ(r.action.queues, q4);
    EXPECT_EQ(r.rss_types(), (i % 2 == 0 ? kRssNonfragIpv4Tcp : kRssNonfragIpv4Udp) |
                                 kRssL3DstOnly | kRssL4DstOnly);
  }
  EXPECT_EQ(rules[4].describe(),
            "snat-return prio 1 tcp dst 198.18.1.1/32 dport 0&3 -> queue 0");
  EXPECT_EQ(rules[0].describe(),
            "vip prio 0 tcp dst 198.19.0.10/32 -> rss src-only queues 4");
  EXPECT_EQ(rules[16].describe(),
            "dnat-return prio 2 tcp src 198.18.4.1/32 -> rss dst-only queues 4");
}

TEST(FlowRules, SnatReturnNeedsAPowerOfTwoOfWorkers) {
  const lb::ServiceTable svc = small_table();
  std::string why;
  const std::vector<FlowRule> rules = build_flow_rules(svc, 3, default_key(), &why);
  EXPECT_TRUE(rules_of(rules, FlowClass::kSnatReturn).empty());
  EXPECT_EQ(rules_of(rules, FlowClass::kVip).size(), 4u);
  EXPECT_EQ(rules_of(rules, FlowClass::kDnatReturn).size(), 6u);
  EXPECT_NE(why.find("3 workers"), std::string::npos) << why;
  EXPECT_NE(why.find("power of two"), std::string::npos) << why;
  EXPECT_TRUE(build_flow_rules(svc, 1, default_key()).empty());  // one queue
}

// A random table: `vips` VIPs, each with a dnat and a dnat+snat service
// (TCP or UDP, some of port 0), backends (some of port 0), SNAT addresses.
lb::ServiceTable random_table(std::mt19937& rng, std::vector<std::uint32_t>& vips,
                              std::vector<std::pair<std::uint32_t, std::uint16_t>>& dnat,
                              std::vector<std::uint32_t>& snat_backends,
                              std::vector<std::uint32_t>& snats) {
  std::vector<lb::Service> v;
  for (int i = 0; i < 3; ++i) {
    const std::uint32_t vip = in(0xC6130000u, rng);
    vips.push_back(vip);
    lb::Service d;
    d.name = "d" + std::to_string(i);
    d.proto = rng() % 2 == 0 ? 6 : 17;
    d.vip = vip;
    d.port = static_cast<std::uint16_t>(i == 0 ? 0 : 1 + rng() % 1000);
    d.mode = lb::NatMode::kDnat;
    for (int b = 0; b < 2; ++b) {
      const auto port =
          static_cast<std::uint16_t>(rng() % 3 == 0 ? 0 : 1 + rng() % 65535);
      d.backends.push_back({in(0xC6120000u, rng), port, 1, true});
      dnat.emplace_back(d.backends.back().addr, port);
    }
    v.push_back(d);
    lb::Service s;
    s.name = "s" + std::to_string(i);
    s.proto = d.proto == 6 ? 17 : 6;
    s.vip = vip;
    s.port = static_cast<std::uint16_t>(1001 + rng() % 1000);
    s.mode = lb::NatMode::kDnatSnat;
    s.backends = {{in(0xC6120000u, rng), 443, 1, true}};
    snat_backends.push_back(s.backends[0].addr);
    s.snat_addrs = {in(0xC6110000u, rng)};
    snats.push_back(s.snat_addrs[0]);
    v.push_back(s);
  }
  return lb::ServiceTable(std::move(v), 307);
}

// The property of issue 5: the model of the installed rules (and, where
// no rule matches, of the port's own RSS) puts every packet of ours on
// owner()'s worker, and no rule matches a packet owner() leaves to any
// worker. 1e6 packets (about 3 s under ASan) over cases of 2, 3, 4 and 8 workers, with
// and without the port's RSS known (with 3 workers there are no snat-return rules: SNAT
// replies fall back to RSS pre-calculation, or to handoff when RSS is
// unknown, where the model has no prediction and the test skips them).
TEST(FlowRules, ModelAgreesWithOwnerOnAMillionPackets) {
  const auto t0 = std::chrono::steady_clock::now();
  std::mt19937 rng(12);
  constexpr int kCases = 16;
  constexpr int kPackets = 1000000;
  constexpr int kPerCase = kPackets / kCases;
  std::uint64_t compared = 0, matched_rule = 0, skipped = 0;
  for (int c = 0; c < kCases; ++c) {
    const std::uint32_t workers = std::array<std::uint32_t, 4>{2, 3, 4, 8}[c % 4];
    const bool rss_known = (c / 4) % 2 == 0;
    std::vector<std::uint32_t> vips, snat_backends, snats;
    std::vector<std::pair<std::uint32_t, std::uint16_t>> dnat;
    const lb::ServiceTable svc = random_table(rng, vips, dnat, snat_backends, snats);
    const RssKey key = random_key(rng);
    std::string snat_why;
    const std::vector<FlowRule> rules = build_flow_rules(svc, workers, key, &snat_why);
    const bool snat_flow = snat_why.empty();
    ASSERT_EQ(snat_flow, workers != 3);
    std::optional<RssView> view;
    std::unique_ptr<RssSteering> rss;
    if (rss_known) {
      RssView v;
      v.key = random_key(rng);
      for (std::uint32_t i = 0; i < 128; ++i) {
        v.reta.push_back(static_cast<std::uint16_t>(i % workers));
      }
      std::string why;
      rss = RssSteering::make(v, workers, why);
      ASSERT_NE(rss, nullptr) << why;
      view = v;
    }
    const FlowModel model(rules, view);
    const FlowSteering flow(key, workers, {true, snat_flow, true});
    const OwnerParams op{workers, 77, rss.get(), &flow};
    for (int n = 0; n < kPerCase; ++n) {
      std::uint32_t src = rng(), dst = rng();
      auto sport = static_cast<std::uint16_t>(rng()),
           dport = static_cast<std::uint16_t>(rng());
      const std::uint8_t proto = rng() % 2 == 0 ? 6 : 17;
      switch (rng() % 4) {
        case 0:  // client -> VIP (any port: dnat, dnat+snat or none)
          dst = vips[rng() % vips.size()];
          break;
        case 1: {  // backend -> client (dnat)
          const auto& b = dnat[rng() % dnat.size()];
          src = b.first;
          if (b.second != 0) sport = b.second;
          break;
        }
        case 2:  // backend -> SNAT address
          src = snat_backends[rng() % snat_backends.size()];
          sport = 443;
          dst = snats[rng() % snats.size()];
          break;
        default:  // anything else
          break;
      }
      const std::uint32_t o = owner_of_tuple(src, sport, dst, dport, proto, svc, op);
      const int rule = model.match(src, sport, dst, dport, proto);
      if (o == kAnyWorker) {
        ASSERT_EQ(rule, -1) << model.rules()[static_cast<std::size_t>(rule)].describe();
        continue;
      }
      const std::optional<std::uint16_t> q = model.queue(src, sport, dst, dport, proto);
      if (!q) {
        // Only SNAT replies without snat-return rules and without RSS.
        ASSERT_FALSE(snat_flow || rss_known);
        ASSERT_TRUE(svc.is_snat_addr(dst));
        ++skipped;
        continue;
      }
      ASSERT_EQ(*q, o) << "case " << c << " workers " << workers << " packet " << n
                       << " rule " << rule;
      ++compared;
      matched_rule += rule >= 0;
    }
  }
  EXPECT_GT(compared, kPackets / 2u);
  EXPECT_GT(matched_rule, compared * 9 / 10);
  EXPECT_LT(skipped, kPackets / 10u);
  const double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  RecordProperty("packets", std::to_string(kPackets));
  RecordProperty("seconds", std::to_string(s));
}

Bytes tcp(std::uint32_t s, std::uint16_t sp, std::uint32_t d, std::uint16_t dp,
          std::uint8_t flags) {
  return packet::PacketBuilder()
      .Eth()
      .IPv4(packet::ipv4_to_string(s), packet::ipv4_to_string(d))
      .TCP(sp, dp, {.flags = flags})
      .Build();
}

// Through the translators: a connection made on owner()'s worker (the
// queue the model puts the client's packet on) gets a reply that the model
// puts on the same queue, for dnat (backend -> client, RSS on the
// destination) and dnat+snat (SNAT port by the static partition under the
// queue rules, or by pre-calculation when snat-return fell back).
TEST(FlowRules, RepliesLandOnTheCreatingWorker) {
  std::mt19937 rng(13);
  for (std::uint32_t workers : {2u, 3u, 4u}) {
    const lb::ServiceTable svc = small_table();
    const RssKey key = default_key();
    std::string snat_why;
    const std::vector<FlowRule> rules = build_flow_rules(svc, workers, key, &snat_why);
    const bool snat_flow = snat_why.empty();
    RssView v;
    v.key = random_key(rng);
    for (std::uint32_t i = 0; i < 64; ++i)
      v.reta.push_back(static_cast<std::uint16_t>(i % workers));
    std::string why;
    const auto rss = RssSteering::make(v, workers, why);
    ASSERT_NE(rss, nullptr);
    const FlowModel model(rules, v);
    const FlowSteering flow(key, workers, {true, snat_flow, true});
    const OwnerParams op{workers, 5, rss.get(), &flow};
    std::vector<std::unique_ptr<nat::Translator>> w;
    for (std::uint32_t i = 0; i < workers; ++i) {
      nat::TranslatorConfig cfg;
      cfg.worker = i;
      cfg.workers = workers;
      cfg.capacity = 4000;
      cfg.rss = snat_flow ? nullptr : rss.get();  // as the DataPlane does
      // Every flow here stays embryonic: no SYN cookies, connections made.
      cfg.syn_proxy = nat::SynProxyMode::kOff;
      w.push_back(std::make_unique<nat::Translator>(cfg));
    }
    for (int n = 0; n < 2000; ++n) {
      const std::uint32_t client = rng();
      const auto cport = static_cast<std::uint16_t>(1 + rng() % 65535);
      const bool snat = n % 2 == 0;
      Bytes fwd = tcp(client, cport, snat ? ip("198.19.0.11") : ip("198.19.0.10"),
                      snat ? 443 : 80, 0x02);
      packet::ParsedPacket p;
      ASSERT_EQ(packet::parse(fwd, p), packet::DropReason::kNone);
      const std::uint32_t o = owner(fwd, p, svc, op);
      ASSERT_EQ(model.queue(p.ipv4_src, p.src_port, p.ipv4_dst, p.dst_port, 6), o);
      ASSERT_EQ(w[o]->process(fwd, p, svc, 0), nat::Verdict::kForward);
      ASSERT_EQ(packet::parse(fwd, p), packet::DropReason::kNone);
      Bytes rev = tcp(p.ipv4_dst, p.dst_port, p.ipv4_src, p.src_port, 0x12);
      packet::ParsedPacket r;
      ASSERT_EQ(packet::parse(rev, r), packet::DropReason::kNone);
      ASSERT_EQ(model.queue(r.ipv4_src, r.src_port, r.ipv4_dst, r.dst_port, 6), o)
          << (snat ? "dnat+snat" : "dnat") << " workers " << workers;
      ASSERT_EQ(owner(rev, r, svc, op), o);
      ASSERT_EQ(w[o]->process(rev, r, svc, 0), nat::Verdict::kForward);
    }
  }
}

// Without FlowSteering owner() is what it was: flow steering only changes
// the client hash and, when steered, the owner of client -> VIP for
// dnat+snat and of SNAT replies.
TEST(FlowRules, OwnerWithoutFlowIsUnchanged) {
  const lb::ServiceTable svc = small_table();
  const OwnerParams plain{4, 5};
  std::mt19937 rng(14);
  for (int n = 0; n < 1000; ++n) {
    const std::uint32_t c = rng();
    const auto cp = static_cast<std::uint16_t>(rng());
    EXPECT_EQ(owner_of_tuple(c, cp, ip("198.19.0.10"), 80, 6, svc, plain),
              client_owner(c, cp, plain));
    EXPECT_EQ(owner_of_tuple(ip("198.18.3.1"), 443, ip("198.18.1.1"), cp, 6, svc, plain),
              cp % 4u);
  }
}

}  // namespace
}  // namespace nva::steer
