// rte_flow steering against DPDK: the rte_flow arrays built from FlowRules
// (item types, spec and mask bytes in network order, RSS and QUEUE action
// configurations), and installation on a net_ring port, which has no
// rte_flow: a clean rejection with the PMD's reason, every class falling
// back, nothing left installed.
#include <gtest/gtest.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include <cstring>
#include <string>
#include <vector>

#include "dataplane/port/port.h"
#include "dataplane/steer/flow_install.h"
#include "tests/support/eal.h"
#include "tests/support/packet_builder.h"
#include "tests/support/services.h"

namespace nva::steer {
namespace {

using packet::ipv4_from_string;

RssKey default_key() {
  RssKey k;
  std::copy(std::begin(port::kDefaultRssKey), std::end(port::kDefaultRssKey), k.begin());
  return k;
}

std::vector<std::uint8_t> bytes(const void* p, std::size_t n) {
  const auto* b = static_cast<const std::uint8_t*>(p);
  return {b, b + n};
}

lb::ServiceTable table() {
  std::vector<lb::Service> v;
  v.push_back(test::service({.name = "web",
                             .vip = "198.19.0.10",
                             .port = 80,
                             .backends = {test::backend("198.18.2.1", 8080)}}));
  v.push_back(test::service({.name = "api",
                             .vip = "198.19.0.11",
                             .port = 443,
                             .backends = {test::backend("198.18.3.1", 443)},
                             .snat = {"198.18.1.1"}}));
  return lb::ServiceTable(std::move(v), 307);
}

TEST(RteFlow, VipRuleIsRssOnSourceOnlyFields) {
  FlowRule rule;
  rule.cls = FlowClass::kVip;
  rule.priority = 0;
  rule.match.proto = 6;
  rule.match.dst = ipv4_from_string("198.19.0.10");
  rule.match.dst_mask = 0xFFFFFFFFu;
  rule.action.kind = FlowAction::Kind::kRss;
  rule.action.fields = RssFields::kSrcOnly;
  rule.action.key = default_key();
  rule.action.queues = {0, 1, 2, 3};
  const auto r = to_rte_flow(rule);

  EXPECT_EQ(r->attr.ingress, 1u);
  EXPECT_EQ(r->attr.egress, 0u);
  EXPECT_EQ(r->attr.group, 0u);
  EXPECT_EQ(r->attr.priority, 0u);
  ASSERT_EQ(r->pattern[0].type, RTE_FLOW_ITEM_TYPE_ETH);
  EXPECT_EQ(r->pattern[0].spec, nullptr);
  EXPECT_EQ(r->pattern[0].mask, nullptr);
  ASSERT_EQ(r->pattern[1].type, RTE_FLOW_ITEM_TYPE_IPV4);
  const auto* spec = static_cast<const rte_flow_item_ipv4*>(r->pattern[1].spec);
  const auto* mask = static_cast<const rte_flow_item_ipv4*>(r->pattern[1].mask);
  ASSERT_NE(spec, nullptr);
  ASSERT_NE(mask, nullptr);
  EXPECT_EQ(bytes(&spec->hdr.dst_addr, 4), (std::vector<std::uint8_t>{198, 19, 0, 10}));
  EXPECT_EQ(bytes(&mask->hdr.dst_addr, 4),
            (std::vector<std::uint8_t>{0xFF, 0xFF, 0xFF, 0xFF}));
  EXPECT_EQ(bytes(&mask->hdr.src_addr, 4), (std::vector<std::uint8_t>{0, 0, 0, 0}));
  EXPECT_EQ(mask->hdr.next_proto_id, 0);
  ASSERT_EQ(r->pattern[2].type, RTE_FLOW_ITEM_TYPE_TCP);
  const auto* tmask = static_cast<const rte_flow_item_tcp*>(r->pattern[2].mask);
  EXPECT_EQ(tmask->hdr.src_port, 0);
  EXPECT_EQ(tmask->hdr.dst_port, 0);
  EXPECT_EQ(r->pattern[3].type, RTE_FLOW_ITEM_TYPE_END);

  ASSERT_EQ(r->actions[0].type, RTE_FLOW_ACTION_TYPE_RSS);
  const auto* rss = static_cast<const rte_flow_action_rss*>(r->actions[0].conf);
  EXPECT_EQ(rss->func, RTE_ETH_HASH_FUNCTION_TOEPLITZ);
  EXPECT_EQ(rss->level, 1u);
  EXPECT_EQ(rss->types, RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_L3_SRC_ONLY |
                            RTE_ETH_RSS_L4_SRC_ONLY);
  ASSERT_EQ(rss->key_len, 40u);
  EXPECT_EQ(std::memcmp(rss->key, port::kDefaultRssKey, 40), 0);
  ASSERT_EQ(rss->queue_num, 4u);
  for (std::uint16_t q = 0; q < 4; ++q) EXPECT_EQ(rss->queue[q], q);
  EXPECT_EQ(r->actions[1].type, RTE_FLOW_ACTION_TYPE_END);
}

TEST(RteFlow, DnatReturnRuleMatchesSourceAndHashesTheDestination) {
  FlowRule rule;
  rule.cls = FlowClass::kDnatReturn;
  rule.priority = 2;
  rule.match.proto = 17;
  rule.match.src = ipv4_from_string("198.18.2.1");
  rule.match.src_mask = 0xFFFFFFFFu;
  rule.match.sport = 8080;  // 0x1F90
  rule.match.sport_mask = 0xFFFF;
  rule.action.kind = FlowAction::Kind::kRss;
  rule.action.fields = RssFields::kDstOnly;
  rule.action.key = default_key();
  rule.action.queues = {0, 1};
  const auto r = to_rte_flow(rule);
  EXPECT_EQ(r->attr.priority, 2u);
  const auto* spec = static_cast<const rte_flow_item_ipv4*>(r->pattern[1].spec);
  EXPECT_EQ(bytes(&spec->hdr.src_addr, 4), (std::vector<std::uint8_t>{198, 18, 2, 1}));
  ASSERT_EQ(r->pattern[2].type, RTE_FLOW_ITEM_TYPE_UDP);
  const auto* uspec = static_cast<const rte_flow_item_udp*>(r->pattern[2].spec);
  const auto* umask = static_cast<const rte_flow_item_udp*>(r->pattern[2].mask);
  EXPECT_EQ(bytes(&uspec->hdr.src_port, 2), (std::vector<std::uint8_t>{0x1F, 0x90}));
  EXPECT_EQ(bytes(&umask->hdr.src_port, 2), (std::vector<std::uint8_t>{0xFF, 0xFF}));
  EXPECT_EQ(umask->hdr.dst_port, 0);
  const auto* rss = static_cast<const rte_flow_action_rss*>(r->actions[0].conf);
  EXPECT_EQ(rss->types, RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_L3_DST_ONLY |
                            RTE_ETH_RSS_L4_DST_ONLY);
  EXPECT_EQ(rss->queue_num, 2u);
}

TEST(RteFlow, SnatReturnRuleQueuesByTheLowPortBits) {
  const std::vector<FlowRule> rules =
      rules_of(build_flow_rules(table(), 4, default_key()), FlowClass::kSnatReturn);
  ASSERT_EQ(rules.size(), 8u);
  const auto r = to_rte_flow(rules[3]);  // TCP, worker 3
  EXPECT_EQ(r->attr.priority, 1u);
  const auto* spec = static_cast<const rte_flow_item_ipv4*>(r->pattern[1].spec);
  EXPECT_EQ(bytes(&spec->hdr.dst_addr, 4), (std::vector<std::uint8_t>{198, 18, 1, 1}));
  ASSERT_EQ(r->pattern[2].type, RTE_FLOW_ITEM_TYPE_TCP);
  const auto* tspec = static_cast<const rte_flow_item_tcp*>(r->pattern[2].spec);
  const auto* tmask = static_cast<const rte_flow_item_tcp*>(r->pattern[2].mask);
  EXPECT_EQ(bytes(&tspec->hdr.dst_port, 2), (std::vector<std::uint8_t>{0, 3}));
  EXPECT_EQ(bytes(&tmask->hdr.dst_port, 2), (std::vector<std::uint8_t>{0, 3}));
  EXPECT_EQ(tmask->hdr.src_port, 0);
  ASSERT_EQ(r->actions[0].type, RTE_FLOW_ACTION_TYPE_QUEUE);
  EXPECT_EQ(static_cast<const rte_flow_action_queue*>(r->actions[0].conf)->index, 3);
  EXPECT_EQ(r->actions[1].type, RTE_FLOW_ACTION_TYPE_END);
}

// net_ring has no rte_flow: validate fails with the PMD's reason, no flow
// is created, and every class falls back with a reason naming the port.
TEST(RteFlow, NetRingRejectsCleanlyAndEveryClassFallsBack) {
  ASSERT_TRUE(test::EalEnvironment::running());
  std::uint16_t port = 0;
  ASSERT_EQ(rte_eth_dev_get_port_by_name("net_ring0", &port), 0);
  const std::vector<FlowRule> rules = build_flow_rules(table(), 2, default_key());
  ASSERT_FALSE(rules.empty());

  std::vector<FlowOutcome> out = install(port, rules);
  ASSERT_EQ(out.size(), rules.size());
  EXPECT_EQ(out[0].flow, nullptr);
  EXPECT_LT(out[0].rc, 0);
  EXPECT_EQ(out[0].error.rfind("rte_flow_validate: ", 0), 0u) << out[0].error;
  for (std::size_t i = 1; i < out.size(); ++i) {
    EXPECT_EQ(out[i].flow, nullptr);  // not tried after the first rejection
    EXPECT_EQ(out[i].rc, 0);
  }
  out = install(port, rules, true);
  for (const FlowOutcome& o : out) EXPECT_LT(o.rc, 0) << o.error;
  uninstall(port, out);

  FlowSteeringInstall fi;
  fi.install_all({{port, "net_ring0", "net_ring"}}, rules, {});
  EXPECT_FALSE(fi.any());
  EXPECT_EQ(fi.flows(), 0u);
  for (std::size_t c = 0; c < kFlowClassCount; ++c) {
    const std::string& why = fi.reason(static_cast<FlowClass>(c));
    EXPECT_EQ(why.rfind("port net_ring0 (net_ring) rejected '", 0), 0u) << why;
    EXPECT_NE(why.find("rte_flow_validate"), std::string::npos) << why;
  }
  // A class without rules says why it has none.
  fi.install_all({{port, "net_ring0", "net_ring"}}, rules_of(rules, FlowClass::kVip),
                 {"", "3 workers: ...", ""});
  EXPECT_EQ(fi.reason(FlowClass::kSnatReturn), "3 workers: ...");
  EXPECT_EQ(fi.reason(FlowClass::kDnatReturn), "no rules, and no other class installed");
  EXPECT_EQ(fi.update(rules), "");  // nothing steered: nothing to update
}

}  // namespace
}  // namespace nva::steer
