// rte_flow arrays from FlowRules, and their installation (see flow_install.h).
#include "dataplane/steer/flow_install.h"

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

namespace nva::steer {

static_assert(kRssNonfragIpv4Tcp == RTE_ETH_RSS_NONFRAG_IPV4_TCP);
static_assert(kRssNonfragIpv4Udp == RTE_ETH_RSS_NONFRAG_IPV4_UDP);
static_assert(kRssL3SrcOnly == RTE_ETH_RSS_L3_SRC_ONLY);
static_assert(kRssL3DstOnly == RTE_ETH_RSS_L3_DST_ONLY);
static_assert(kRssL4SrcOnly == RTE_ETH_RSS_L4_SRC_ONLY);
static_assert(kRssL4DstOnly == RTE_ETH_RSS_L4_DST_ONLY);

namespace {

std::string error_text(const char* step, int rc, const rte_flow_error& e) {
  const std::string err = rte_strerror(rc < 0 ? -rc : rc);
  if (e.message == nullptr || e.message[0] == '\0' || err == e.message) {
    return std::string(step) + ": " + err;
  }
  return std::string(step) + ": " + e.message + " (" + err + ")";
}

}  // namespace

std::unique_ptr<RteFlowRule> to_rte_flow(const FlowRule& rule) {
  auto r = std::make_unique<RteFlowRule>();
  const FlowMatch& m = rule.match;
  r->attr.group = 0;
  r->attr.priority = rule.priority;
  r->attr.ingress = 1;

  r->ipv4_spec.hdr.src_addr = rte_cpu_to_be_32(m.src & m.src_mask);
  r->ipv4_spec.hdr.dst_addr = rte_cpu_to_be_32(m.dst & m.dst_mask);
  r->ipv4_mask.hdr.src_addr = rte_cpu_to_be_32(m.src_mask);
  r->ipv4_mask.hdr.dst_addr = rte_cpu_to_be_32(m.dst_mask);
  const rte_be16_t sport = rte_cpu_to_be_16(m.sport & m.sport_mask);
  const rte_be16_t dport = rte_cpu_to_be_16(m.dport & m.dport_mask);
  const rte_be16_t sport_mask = rte_cpu_to_be_16(m.sport_mask);
  const rte_be16_t dport_mask = rte_cpu_to_be_16(m.dport_mask);

  r->pattern[0].type = RTE_FLOW_ITEM_TYPE_ETH;  // any Ethernet header
  r->pattern[1].type = RTE_FLOW_ITEM_TYPE_IPV4;
  r->pattern[1].spec = &r->ipv4_spec;
  r->pattern[1].mask = &r->ipv4_mask;
  if (m.proto == 17) {
    r->udp_spec.hdr.src_port = sport;
    r->udp_spec.hdr.dst_port = dport;
    r->udp_mask.hdr.src_port = sport_mask;
    r->udp_mask.hdr.dst_port = dport_mask;
    r->pattern[2].type = RTE_FLOW_ITEM_TYPE_UDP;
    r->pattern[2].spec = &r->udp_spec;
    r->pattern[2].mask = &r->udp_mask;
  } else {
    r->tcp_spec.hdr.src_port = sport;
    r->tcp_spec.hdr.dst_port = dport;
    r->tcp_mask.hdr.src_port = sport_mask;
    r->tcp_mask.hdr.dst_port = dport_mask;
    r->pattern[2].type = RTE_FLOW_ITEM_TYPE_TCP;
    r->pattern[2].spec = &r->tcp_spec;
    r->pattern[2].mask = &r->tcp_mask;
  }
  r->pattern[3].type = RTE_FLOW_ITEM_TYPE_END;

  const FlowAction& a = rule.action;
  if (a.kind == FlowAction::Kind::kRss) {
    r->key = a.key;
    r->queues = a.queues;
    r->rss.func = RTE_ETH_HASH_FUNCTION_TOEPLITZ;
    r->rss.level = 1;  // outermost: the headers matched above
    r->rss.types = rule.rss_types();
    r->rss.key_len = static_cast<std::uint32_t>(r->key.size());
    r->rss.key = r->key.data();
    r->rss.queue_num = static_cast<std::uint32_t>(r->queues.size());
    r->rss.queue = r->queues.data();
    r->actions[0].type = RTE_FLOW_ACTION_TYPE_RSS;
    r->actions[0].conf = &r->rss;
  } else {
    r->queue.index = a.queue;
    r->actions[0].type = RTE_FLOW_ACTION_TYPE_QUEUE;
    r->actions[0].conf = &r->queue;
  }
  r->actions[1].type = RTE_FLOW_ACTION_TYPE_END;
  return r;
}

std::vector<FlowOutcome> install(std::uint16_t port_id,
                                 const std::vector<FlowRule>& rules, bool keep_going) {
  std::vector<FlowOutcome> out(rules.size());
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const auto r = to_rte_flow(rules[i]);
    rte_flow_error err{};
    int rc =
        rte_flow_validate(port_id, &r->attr, r->pattern.data(), r->actions.data(), &err);
    if (rc != 0) {
      out[i].rc = rc;
      out[i].error = error_text("rte_flow_validate", rc, err);
    } else {
      err = rte_flow_error{};
      out[i].flow =
          rte_flow_create(port_id, &r->attr, r->pattern.data(), r->actions.data(), &err);
      if (out[i].flow == nullptr) {
        out[i].rc = -(rte_errno != 0 ? rte_errno : EINVAL);
        out[i].error = error_text("rte_flow_create", out[i].rc, err);
      }
    }
    if (out[i].flow == nullptr && !keep_going) break;
  }
  return out;
}

void uninstall(std::uint16_t port_id, std::vector<FlowOutcome>& outcomes) noexcept {
  for (FlowOutcome& o : outcomes) {
    if (o.flow == nullptr) continue;
    rte_flow_error err{};
    (void)rte_flow_destroy(port_id, o.flow, &err);
    o.flow = nullptr;
  }
}

void FlowSteeringInstall::install_all(
    const std::vector<FlowPort>& ports, const std::vector<FlowRule>& rules,
    const std::array<std::string, kFlowClassCount>& absent) {
  clear();
  ports_ = ports;
  flows_.resize(ports.size());
  port_reason_.resize(ports.size());
  port_rule_.resize(ports.size());
  bool pmd_takes_flows = false;
  std::array<bool, kFlowClassCount> has_rules{};
  for (std::size_t c = 0; c < kFlowClassCount; ++c) {
    const auto cls = static_cast<FlowClass>(c);
    const std::vector<FlowRule> mine = rules_of(rules, cls);
    has_rules[c] = !mine.empty();
    if (mine.empty()) continue;
    bool ok = true;
    for (std::size_t p = 0; p < ports.size(); ++p) {
      flows_[p][c] = install(ports[p].port_id, mine);
      for (std::size_t i = 0; i < mine.size(); ++i) {
        if (flows_[p][c][i].flow != nullptr) continue;
        port_reason_[p][c] = flows_[p][c][i].error;
        port_rule_[p][c] = mine[i].describe();
        if (ok) {
          reason_[c] = "port " + ports[p].name + " (" + ports[p].driver + ") rejected '" +
                       port_rule_[p][c] + "': " + port_reason_[p][c];
        }
        ok = false;
        break;
      }
    }
    if (!ok) {
      for (std::size_t p = 0; p < ports.size(); ++p) {
        uninstall(ports[p].port_id, flows_[p][c]);
        flows_[p][c].clear();
        if (port_reason_[p][c].empty()) port_reason_[p][c] = "removed: " + reason_[c];
      }
    }
    steered_[c] = ok;
    pmd_takes_flows = pmd_takes_flows || ok;
  }
  // A class without rules now (no SNAT address, no dnat backend) counts as
  // steered when the ports took the other classes' rules: its rules come
  // with a configuration change, and a rejection then means handoff.
  for (std::size_t c = 0; c < kFlowClassCount; ++c) {
    if (has_rules[c]) continue;
    if (absent[c].empty() && pmd_takes_flows) {
      steered_[c] = true;
      continue;
    }
    reason_[c] =
        !absent[c].empty() ? absent[c] : "no rules, and no other class installed";
    for (std::size_t p = 0; p < ports.size(); ++p) {
      port_reason_[p][c] = reason_[c];
      if (!absent[c].empty()) continue;
      // The port took no rule: the class would fare no better. Its first
      // rejection says why.
      for (std::size_t o = 0; o < kFlowClassCount; ++o) {
        if (has_rules[o] && !port_reason_[p][o].empty()) {
          port_reason_[p][c] = port_reason_[p][o];
          break;
        }
      }
    }
  }
}

std::string FlowSteeringInstall::update(const std::vector<FlowRule>& rules) {
  std::string failed;
  for (std::size_t c = 0; c < kFlowClassCount; ++c) {
    if (!steered_[c]) continue;
    const std::vector<FlowRule> mine = rules_of(rules, static_cast<FlowClass>(c));
    for (std::size_t p = 0; p < ports_.size(); ++p) {
      std::vector<FlowOutcome> fresh = install(ports_[p].port_id, mine, true);
      for (std::size_t i = 0; i < mine.size(); ++i) {
        if (fresh[i].flow != nullptr) continue;
        if (!failed.empty()) failed += "; ";
        failed += "port " + ports_[p].name + " rejected '" + mine[i].describe() +
                  "': " + fresh[i].error;
      }
      uninstall(ports_[p].port_id, flows_[p][c]);
      std::erase_if(fresh, [](const FlowOutcome& o) { return o.flow == nullptr; });
      flows_[p][c] = std::move(fresh);
    }
  }
  return failed;
}

void FlowSteeringInstall::clear() noexcept {
  for (std::size_t p = 0; p < flows_.size(); ++p) {
    for (auto& per_class : flows_[p]) uninstall(ports_[p].port_id, per_class);
  }
  flows_.clear();
  port_reason_.clear();
  port_rule_.clear();
  ports_.clear();
  steered_ = {};
  reason_ = {};
}

std::size_t FlowSteeringInstall::flows() const noexcept {
  std::size_t n = 0;
  for (const auto& per_port : flows_) {
    for (const auto& per_class : per_port) {
      for (const FlowOutcome& o : per_class) n += o.flow != nullptr;
    }
  }
  return n;
}

}  // namespace nva::steer
