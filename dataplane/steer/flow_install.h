// rte_flow steering on real ports: FlowRule (flow_rules.h) -> rte_flow
// attribute, pattern and action arrays with their own storage, install
// (rte_flow_validate then rte_flow_create per rule, with the PMD's message
// on rejection), and the per-class decision across all ports: a class that
// any port rejects is removed from every port and falls back.
#pragma once

#include <rte_flow.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/steer/flow_rules.h"

namespace nva::steer {

// The rte_flow arrays of one rule. The pattern and actions point into this
// object: neither copied nor moved (hold it by unique_ptr).
//
//   pattern: ETH (any) / IPV4 (src, dst: spec and mask, network order) /
//            TCP or UDP (src_port, dst_port: spec and mask) / END
//   actions: RSS {Toeplitz, level 1 (outermost), types = rss_types(),
//            key 40 bytes, queues} or QUEUE {index} / END
struct RteFlowRule {
  RteFlowRule() = default;
  RteFlowRule(const RteFlowRule&) = delete;
  RteFlowRule& operator=(const RteFlowRule&) = delete;

  rte_flow_attr attr{};
  std::array<rte_flow_item, 4> pattern{};
  std::array<rte_flow_action, 2> actions{};
  rte_flow_item_ipv4 ipv4_spec{}, ipv4_mask{};
  rte_flow_item_tcp tcp_spec{}, tcp_mask{};
  rte_flow_item_udp udp_spec{}, udp_mask{};
  rte_flow_action_rss rss{};
  rte_flow_action_queue queue{};
  RssKey key{};
  std::vector<std::uint16_t> queues;
};

std::unique_ptr<RteFlowRule> to_rte_flow(const FlowRule& rule);

// What became of one rule on one port.
struct FlowOutcome {
  rte_flow* flow = nullptr;  // non-null: created
  int rc = 0;                // negative errno of validate or create
  std::string error;         // "rte_flow_validate: <PMD message> (<strerror>)"
};

// rte_flow_validate, then rte_flow_create, for each rule in order; stops
// at the first rejection unless `keep_going` (the rest are then not tried:
// their outcome is empty with rc 0 and no flow).
std::vector<FlowOutcome> install(std::uint16_t port_id,
                                 const std::vector<FlowRule>& rules,
                                 bool keep_going = false);
// rte_flow_destroy of every created flow; the outcomes' flows are cleared.
void uninstall(std::uint16_t port_id, std::vector<FlowOutcome>& outcomes) noexcept;

struct FlowPort {
  std::uint16_t port_id = 0;
  std::string name;    // for the log
  std::string driver;  // for the log
};

// The installed rules of every port and which classes they steer.
class FlowSteeringInstall {
 public:
  FlowSteeringInstall() = default;
  FlowSteeringInstall(const FlowSteeringInstall&) = delete;
  FlowSteeringInstall& operator=(const FlowSteeringInstall&) = delete;
  ~FlowSteeringInstall() { clear(); }

  // Installs every class on every port. A class is steered when every port
  // accepted all of its rules; otherwise its rules are destroyed on every
  // port and reason(class) says which port rejected which rule and why.
  // `absent` gives a reason for classes built without rules (e.g. the
  // worker count for snat-return; empty: the class has no traffic).
  void install_all(const std::vector<FlowPort>& ports, const std::vector<FlowRule>& rules,
                   const std::array<std::string, kFlowClassCount>& absent);
  // After a configuration change: installs the new rules of the classes
  // already steered (make before break), then destroys the old ones.
  // Rejected rules are destroyed and listed in the returned message (empty:
  // all installed); the class stays steered (owner() cannot change under
  // running workers) and its rejected traffic is handed off.
  std::string update(const std::vector<FlowRule>& rules);
  void clear() noexcept;

  bool steers(FlowClass c) const noexcept {
    return steered_[static_cast<std::size_t>(c)];
  }
  const std::array<bool, kFlowClassCount>& steered() const noexcept { return steered_; }
  const std::string& reason(FlowClass c) const noexcept {
    return reason_[static_cast<std::size_t>(c)];
  }
  // Why class c is not steered, as seen from port p: the PMD's error for
  // its first rejected rule (port_rule(): that rule), "removed: <another
  // port's rejection>", or why the class has no rules; empty when steered.
  const std::string& port_reason(std::size_t p, FlowClass c) const noexcept {
    return port_reason_[p][static_cast<std::size_t>(c)];
  }
  const std::string& port_rule(std::size_t p, FlowClass c) const noexcept {
    return port_rule_[p][static_cast<std::size_t>(c)];
  }
  bool any() const noexcept { return steered_[0] || steered_[1] || steered_[2]; }
  std::size_t flows() const noexcept;

 private:
  std::vector<FlowPort> ports_;
  // [port][class]: the created flows.
  std::vector<std::array<std::vector<FlowOutcome>, kFlowClassCount>> flows_;
  std::vector<std::array<std::string, kFlowClassCount>> port_reason_;
  std::vector<std::array<std::string, kFlowClassCount>> port_rule_;
  std::array<bool, kFlowClassCount> steered_{};
  std::array<std::string, kFlowClassCount> reason_{};
};

}  // namespace nva::steer
