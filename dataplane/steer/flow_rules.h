// rte_flow steering described without DPDK: the rules (match and action),
// their builders from the service table, what owner() needs to know of the
// installed classes (FlowSteering), and a software model of the rules that
// predicts a packet's RX queue (FlowModel). flow_install.h turns the rules
// into rte_flow arrays and installs them.
//
// Three traffic classes, in owner()'s order (first match wins; rte_flow
// priority 0 is the highest):
//
//   class        priority  match (per protocol TCP, UDP)          action
//   vip          0         ipv4 dst = VIP/32                     RSS src-only L3+L4
//   snat-return  1         ipv4 dst = SNAT/32, dport & (W-1) = w QUEUE w
//   dnat-return  2         ipv4 src = backend/32 [, sport]       RSS dst-only L3+L4
//
// Both RSS actions hash the client endpoint (addr, port) with the same key
// over queues 0..W-1, so client -> VIP and backend -> client land on the
// same queue. SNAT replies go to the worker of `port % W` (the translator's
// static partition), which a port mask expresses only when W is a power of
// two; otherwise there are no snat-return rules (the class falls back).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/lb/service.h"
#include "dataplane/steer/rss.h"

namespace nva::steer {

// DPDK 22.11's RTE_ETH_RSS_* bits (checked against rte_ethdev.h in
// flow_install.cc), so that the rules stay DPDK-free.
inline constexpr std::uint64_t kRssNonfragIpv4Tcp = std::uint64_t{1} << 4;
inline constexpr std::uint64_t kRssNonfragIpv4Udp = std::uint64_t{1} << 5;
inline constexpr std::uint64_t kRssL3SrcOnly = std::uint64_t{1} << 63;
inline constexpr std::uint64_t kRssL3DstOnly = std::uint64_t{1} << 62;
inline constexpr std::uint64_t kRssL4SrcOnly = std::uint64_t{1} << 61;
inline constexpr std::uint64_t kRssL4DstOnly = std::uint64_t{1} << 60;

enum class FlowClass : std::uint8_t { kVip, kSnatReturn, kDnatReturn };
inline constexpr std::size_t kFlowClassCount = 3;
const char* flow_class_name(FlowClass c) noexcept;  // "vip", "snat-return", ...
inline constexpr std::uint32_t flow_class_priority(FlowClass c) noexcept {
  return static_cast<std::uint32_t>(c);
}

// Fields of IPv4 + TCP/UDP to match, host order; a zero mask matches any.
struct FlowMatch {
  std::uint8_t proto = 6;  // 6 TCP, 17 UDP
  std::uint32_t src = 0, src_mask = 0;
  std::uint32_t dst = 0, dst_mask = 0;
  std::uint16_t sport = 0, sport_mask = 0;
  std::uint16_t dport = 0, dport_mask = 0;
  bool matches(std::uint32_t s, std::uint16_t sp, std::uint32_t d, std::uint16_t dp,
               std::uint8_t pr) const noexcept {
    return pr == proto && ((s ^ src) & src_mask) == 0 && ((d ^ dst) & dst_mask) == 0 &&
           ((sp ^ sport) & sport_mask) == 0 && ((dp ^ dport) & dport_mask) == 0;
  }
  friend bool operator==(const FlowMatch&, const FlowMatch&) = default;
};

enum class RssFields : std::uint8_t {
  kSrcOnly,  // (src addr, src port): L3_SRC_ONLY | L4_SRC_ONLY
  kDstOnly,  // (dst addr, dst port): L3_DST_ONLY | L4_DST_ONLY
};

struct FlowAction {
  enum class Kind : std::uint8_t { kRss, kQueue };
  Kind kind = Kind::kQueue;
  // kRss: Toeplitz with `key` over `fields`, outermost header (level 1).
  RssFields fields = RssFields::kSrcOnly;
  RssKey key{};
  std::vector<std::uint16_t> queues;
  // kQueue
  std::uint16_t queue = 0;
  friend bool operator==(const FlowAction&, const FlowAction&) = default;
};

struct FlowRule {
  FlowClass cls = FlowClass::kVip;
  std::uint32_t priority = 0;
  FlowMatch match;
  FlowAction action;
  // RTE_ETH_RSS_* types of an RSS action: the protocol's non-fragment type
  // and the *_ONLY bits of its fields.
  std::uint64_t rss_types() const noexcept;
  // "vip tcp dst 198.19.0.10/32 -> rss src-only queues 0-3", for logs.
  std::string describe() const;
  friend bool operator==(const FlowRule&, const FlowRule&) = default;
};

// Every rule for the service table and `workers` queues (workers >= 2),
// RSS actions with `key`. Ordered by class, then address, protocol, worker.
// `snat_why` is set when the snat-return class has no rules because the
// worker count is not a power of two (and there are SNAT addresses).
std::vector<FlowRule> build_flow_rules(const lb::ServiceTable& services,
                                       std::uint32_t workers, const RssKey& key,
                                       std::string* snat_why = nullptr);

// The rules of one class.
std::vector<FlowRule> rules_of(const std::vector<FlowRule>& rules, FlowClass c);

// What owner() needs when rte_flow steers: the endpoint hash the RSS
// actions compute, and which classes are steered on every port. With any
// FlowSteering, owner()'s client hash is this endpoint hash (whether or not
// the NIC computes it: a class that fell back is handed off).
class FlowSteering {
 public:
  FlowSteering(const RssKey& key, std::uint32_t workers,
               std::array<bool, kFlowClassCount> steered) noexcept
      : hash_(key), key_(key), workers_(workers), steered_(steered) {}

  // The worker (= queue) the RSS actions give a client endpoint.
  std::uint32_t endpoint_worker(std::uint32_t addr, std::uint16_t port) const noexcept {
    return rss_action_slot(hash_.hash(addr, port), workers_);
  }
  bool steers(FlowClass c) const noexcept {
    return steered_[static_cast<std::size_t>(c)];
  }
  std::uint32_t workers() const noexcept { return workers_; }
  const RssKey& key() const noexcept { return key_; }

 private:
  ToeplitzEndpoint hash_;
  RssKey key_;
  std::uint32_t workers_;
  std::array<bool, kFlowClassCount> steered_;
};

// A software model of a port with these rules installed: the RX queue of
// a TCP/UDP IPv4 packet. The highest-priority matching rule (lowest value,
// then the first given) decides; without a match, the port's own RSS
// (`port_rss`: reta[Toeplitz over the 4-tuple]) if known, else nullopt.
class FlowModel {
 public:
  explicit FlowModel(std::vector<FlowRule> rules,
                     std::optional<RssView> port_rss = std::nullopt);

  // Index of the rule that matches, or -1.
  int match(std::uint32_t src, std::uint16_t sport, std::uint32_t dst,
            std::uint16_t dport, std::uint8_t proto) const noexcept;
  std::optional<std::uint16_t> queue(std::uint32_t src, std::uint16_t sport,
                                     std::uint32_t dst, std::uint16_t dport,
                                     std::uint8_t proto) const noexcept;
  const std::vector<FlowRule>& rules() const noexcept { return rules_; }

 private:
  std::vector<FlowRule> rules_;       // sorted by priority (stable)
  std::vector<std::size_t> hash_of_;  // rule -> index into hashes_
  std::vector<std::unique_ptr<ToeplitzEndpoint>> hashes_;
  std::optional<RssView> port_rss_;
  std::unique_ptr<Toeplitz4> port_hash_;
};

}  // namespace nva::steer
