// owner(packet): which worker's shard holds a packet's connection.
//
//                            software handoff        RSS pre-calculation (rss set)
//   client -> VIP, dnat+snat hash of the client      the worker the NIC picks:
//                            endpoint (source)       reta[Toeplitz(tuple)]
//   client -> VIP, dnat      hash of the client endpoint (source), both modes
//   backend -> client (dnat) hash of the client endpoint (destination), both
//   backend -> SNAT address  port % workers          reta[Toeplitz(tuple)]
//
// With rte_flow (OwnerParams::flow, flow_rules.h) the client hash is the
// Toeplitz hash of the client endpoint alone, what the RSS actions on
// source-only (client -> VIP) and destination-only (backend -> client)
// fields compute; a steered vip class makes it the owner of client -> VIP
// for dnat+snat services too, and a steered snat-return class makes SNAT
// replies port % workers (the queue rules) even where RSS is known.
//
// The worker that creates a connection is owner() of both its directions:
// it is owner() of the client -> VIP packet, and it only hands out SNAT
// ports whose reply owner() gives back to it (its partition, or with RSS a
// port chosen by RssSteering::candidate()). A pure function of the packet,
// the service table and the parameters.
#pragma once

#include <cstdint>
#include <span>

#include "dataplane/lb/flow_hash.h"
#include "dataplane/lb/service.h"
#include "dataplane/packet/parse.h"
#include "dataplane/steer/flow_rules.h"
#include "dataplane/steer/rss.h"

namespace nva::steer {

inline constexpr std::uint32_t kAnyWorker = 0xFFFFFFFFu;

struct OwnerParams {
  std::uint32_t workers = 1;
  std::uint64_t seed = 0;
  // Set when every port's RSS key and table are known (pre-calculation on):
  // dnat+snat traffic is then owned by the worker the NIC delivers it to.
  const RssSteering* rss = nullptr;
  // Set when rte_flow rules steer at least one class on every port
  // ('flow' steering): client endpoints are hashed as the rules hash them.
  const FlowSteering* flow = nullptr;
};

constexpr std::uint32_t client_owner(std::uint32_t addr, std::uint16_t port,
                                     const OwnerParams& p) noexcept {
  const std::uint64_t h = lb::mix64(((std::uint64_t{addr} << 16) | port) ^ p.seed);
  return static_cast<std::uint32_t>((h >> 32) * p.workers >> 32);
}

// The client endpoint's worker: the rte_flow RSS actions' hash with
// `flow`, else client_owner().
inline std::uint32_t client_worker(std::uint32_t addr, std::uint16_t port,
                                   const OwnerParams& p) noexcept {
  return p.flow != nullptr ? p.flow->endpoint_worker(addr, port)
                           : client_owner(addr, port, p);
}

constexpr std::uint32_t snat_port_owner(std::uint16_t port,
                                        const OwnerParams& p) noexcept {
  return port % p.workers;
}

// kAnyWorker for packets that belong to no connection of ours (non-IPv4,
// not TCP/UDP, not VIP/SNAT/backend traffic): any worker may handle them.
// An ICMP error belongs to the owner of the connection it quotes: the quoted
// packet reversed is a packet of that connection.
std::uint32_t owner(std::span<const std::uint8_t> frame, const packet::ParsedPacket& pkt,
                    const lb::ServiceTable& services, const OwnerParams& p) noexcept;

// owner() of a TCP/UDP packet with these addresses, ports and protocol
// (fragments use it with the ports their first fragment carried).
std::uint32_t owner_of_tuple(std::uint32_t src, std::uint16_t sport, std::uint32_t dst,
                             std::uint16_t dport, std::uint8_t proto,
                             const lb::ServiceTable& services,
                             const OwnerParams& p) noexcept;

}  // namespace nva::steer
