// rte_flow rules without DPDK: builders and the software model (see flow_rules.h).
#include "dataplane/steer/flow_rules.h"

#include <algorithm>
#include <bit>
#include <cstdio>

namespace nva::steer {

namespace {

constexpr std::array<std::uint8_t, 2> kProtos = {6, 17};

// Formatted with snprintf, not operator+ chains: gcc 12 at -O3 reports a false
// -Wrestrict inside std::string concatenation (see meson.build).
std::string field_str(const char* name, std::uint32_t v, std::uint32_t mask, bool addr) {
  if (mask == 0) return {};
  char buf[64];
  if (addr) {
    std::snprintf(buf, sizeof buf, " %s %u.%u.%u.%u/%d", name, v >> 24, (v >> 16) & 0xFF,
                  (v >> 8) & 0xFF, v & 0xFF, std::popcount(mask));
  } else if (mask != 0xFFFF) {
    std::snprintf(buf, sizeof buf, " %s %u&%u", name, v, mask);
  } else {
    std::snprintf(buf, sizeof buf, " %s %u", name, v);
  }
  return buf;
}

FlowAction rss_action(RssFields fields, const RssKey& key, std::uint32_t workers) {
  FlowAction a;
  a.kind = FlowAction::Kind::kRss;
  a.fields = fields;
  a.key = key;
  for (std::uint32_t q = 0; q < workers; ++q)
    a.queues.push_back(static_cast<std::uint16_t>(q));
  return a;
}

template <typename T>
void sort_unique(std::vector<T>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace

const char* flow_class_name(FlowClass c) noexcept {
  switch (c) {
    case FlowClass::kVip:
      return "vip";
    case FlowClass::kSnatReturn:
      return "snat-return";
    case FlowClass::kDnatReturn:
      return "dnat-return";
  }
  return "?";
}

std::uint64_t FlowRule::rss_types() const noexcept {
  if (action.kind != FlowAction::Kind::kRss) return 0;
  const std::uint64_t proto = match.proto == 17 ? kRssNonfragIpv4Udp : kRssNonfragIpv4Tcp;
  return proto | (action.fields == RssFields::kSrcOnly ? kRssL3SrcOnly | kRssL4SrcOnly
                                                       : kRssL3DstOnly | kRssL4DstOnly);
}

std::string FlowRule::describe() const {
  std::string s = flow_class_name(cls);
  s += " prio ";
  s += std::to_string(priority);
  s += match.proto == 17 ? " udp" : " tcp";
  s += field_str("src", match.src, match.src_mask, true);
  s += field_str("dst", match.dst, match.dst_mask, true);
  s += field_str("sport", match.sport, match.sport_mask, false);
  s += field_str("dport", match.dport, match.dport_mask, false);
  s += " -> ";
  if (action.kind == FlowAction::Kind::kQueue) {
    s += "queue ";
    s += std::to_string(action.queue);
    return s;
  }
  s += action.fields == RssFields::kSrcOnly ? "rss src-only" : "rss dst-only";
  s += " queues ";
  s += std::to_string(action.queues.size());
  return s;
}

std::vector<FlowRule> build_flow_rules(const lb::ServiceTable& services,
                                       std::uint32_t workers, const RssKey& key,
                                       std::string* snat_why) {
  std::vector<std::uint32_t> vips, snats;
  std::vector<std::pair<std::uint32_t, std::uint16_t>> backends;
  for (const lb::Service& s : services.services()) {
    vips.push_back(s.vip);
    if (s.mode == lb::NatMode::kDnatSnat) {
      snats.insert(snats.end(), s.snat_addrs.begin(), s.snat_addrs.end());
    } else {
      for (const lb::Backend& b : s.backends) backends.emplace_back(b.addr, b.port);
    }
  }
  sort_unique(vips);
  sort_unique(snats);
  sort_unique(backends);

  // A rule of class `cls` for protocol `proto`, at the class's priority.
  auto rule = [](FlowClass cls, std::uint8_t proto) {
    FlowRule r;
    r.cls = cls;
    r.priority = flow_class_priority(cls);
    r.match.proto = proto;
    return r;
  };
  std::vector<FlowRule> rules;
  if (workers < 2) return rules;  // one queue: nothing to steer
  // owner() treats every TCP/UDP packet to a VIP alike (whatever its port),
  // so one rule per VIP and protocol, not per service port.
  for (std::uint32_t vip : vips) {
    for (std::uint8_t proto : kProtos) {
      FlowRule r = rule(FlowClass::kVip, proto);
      r.match.dst = vip;
      r.match.dst_mask = 0xFFFFFFFFu;
      r.action = rss_action(RssFields::kSrcOnly, key, workers);
      rules.push_back(std::move(r));
    }
  }
  if (!snats.empty() && !std::has_single_bit(workers)) {
    if (snat_why != nullptr) {
      *snat_why = std::to_string(workers) +
                  " workers: SNAT port % workers is not a mask of the port (needs a "
                  "power of two)";
    }
  } else {
    for (std::uint32_t snat : snats) {
      for (std::uint8_t proto : kProtos) {
        for (std::uint32_t w = 0; w < workers; ++w) {
          FlowRule r = rule(FlowClass::kSnatReturn, proto);
          r.match.dst = snat;
          r.match.dst_mask = 0xFFFFFFFFu;
          r.match.dport = static_cast<std::uint16_t>(w);
          r.match.dport_mask = static_cast<std::uint16_t>(workers - 1);
          r.action.kind = FlowAction::Kind::kQueue;
          r.action.queue = static_cast<std::uint16_t>(w);
          rules.push_back(std::move(r));
        }
      }
    }
  }
  // Backend port 0 stands for every port (ServiceTable::is_dnat_backend).
  for (const auto& [addr, port] : backends) {
    for (std::uint8_t proto : kProtos) {
      FlowRule r = rule(FlowClass::kDnatReturn, proto);
      r.match.src = addr;
      r.match.src_mask = 0xFFFFFFFFu;
      r.match.sport = port;
      r.match.sport_mask = port != 0 ? 0xFFFF : 0;
      r.action = rss_action(RssFields::kDstOnly, key, workers);
      rules.push_back(std::move(r));
    }
  }
  return rules;
}

std::vector<FlowRule> rules_of(const std::vector<FlowRule>& rules, FlowClass c) {
  std::vector<FlowRule> out;
  for (const FlowRule& r : rules) {
    if (r.cls == c) out.push_back(r);
  }
  return out;
}

FlowModel::FlowModel(std::vector<FlowRule> rules, std::optional<RssView> port_rss)
    : rules_(std::move(rules)), port_rss_(std::move(port_rss)) {
  std::stable_sort(
      rules_.begin(), rules_.end(),
      [](const FlowRule& a, const FlowRule& b) { return a.priority < b.priority; });
  std::vector<RssKey> keys;
  for (const FlowRule& r : rules_) {
    std::size_t i = 0;
    if (r.action.kind == FlowAction::Kind::kRss) {
      i = static_cast<std::size_t>(std::find(keys.begin(), keys.end(), r.action.key) -
                                   keys.begin());
      if (i == keys.size()) {
        keys.push_back(r.action.key);
        hashes_.push_back(std::make_unique<ToeplitzEndpoint>(r.action.key));
      }
    }
    hash_of_.push_back(i);
  }
  if (port_rss_ && std::has_single_bit(port_rss_->reta.size())) {
    port_hash_ = std::make_unique<Toeplitz4>(port_rss_->key);
  }
}

int FlowModel::match(std::uint32_t src, std::uint16_t sport, std::uint32_t dst,
                     std::uint16_t dport, std::uint8_t proto) const noexcept {
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    if (rules_[i].match.matches(src, sport, dst, dport, proto))
      return static_cast<int>(i);
  }
  return -1;
}

std::optional<std::uint16_t> FlowModel::queue(std::uint32_t src, std::uint16_t sport,
                                              std::uint32_t dst, std::uint16_t dport,
                                              std::uint8_t proto) const noexcept {
  const int m = match(src, sport, dst, dport, proto);
  if (m < 0) {
    if (port_hash_ == nullptr) return std::nullopt;
    const std::uint32_t h = port_hash_->hash(src, dst, sport, dport);
    return port_rss_->reta[h & (port_rss_->reta.size() - 1)];
  }
  const auto i = static_cast<std::size_t>(m);
  const FlowAction& a = rules_[i].action;
  if (a.kind == FlowAction::Kind::kQueue) return a.queue;
  if (a.queues.empty()) return std::nullopt;
  const ToeplitzEndpoint& t = *hashes_[hash_of_[i]];
  const std::uint32_t h =
      a.fields == RssFields::kSrcOnly ? t.hash(src, sport) : t.hash(dst, dport);
  return a.queues[rss_action_slot(h, static_cast<std::uint32_t>(a.queues.size()))];
}

}  // namespace nva::steer
