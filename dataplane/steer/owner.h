// owner(packet): which worker's shard holds a packet's connection, when the
// NIC's RSS cannot be relied on (software handoff mode of DESIGN.md).
//
//   client -> VIP            hash of the client endpoint (source)
//   backend -> client (dnat) hash of the client endpoint (destination)
//   backend -> SNAT address  the SNAT port's partition: port % workers
//
// The worker that creates a connection is owner() of both its directions:
// it is owner() of the client -> VIP packet, and it only hands out SNAT
// ports of its own partition. A pure function of the packet and the
// service table.
#pragma once

#include <cstdint>
#include <span>

#include "dataplane/lb/flow_hash.h"
#include "dataplane/lb/service.h"
#include "dataplane/packet/parse.h"

namespace nva::steer {

inline constexpr std::uint32_t kAnyWorker = 0xFFFFFFFFu;

struct OwnerParams {
  std::uint32_t workers = 1;
  std::uint64_t seed = 0;
};

constexpr std::uint32_t client_owner(std::uint32_t addr, std::uint16_t port,
                                     const OwnerParams& p) noexcept {
  const std::uint64_t h = lb::mix64(((std::uint64_t{addr} << 16) | port) ^ p.seed);
  return static_cast<std::uint32_t>((h >> 32) * p.workers >> 32);
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

// owner() of a TCP/UDP packet with these addresses and ports (fragments use
// it with the ports their first fragment carried).
std::uint32_t owner_of_tuple(std::uint32_t src, std::uint16_t sport, std::uint32_t dst,
                             std::uint16_t dport, const lb::ServiceTable& services,
                             const OwnerParams& p) noexcept;

// ICMP types that quote the packet they are about.
constexpr bool is_icmp_error(std::uint8_t type) noexcept {
  return type == 3 || type == 11 || type == 12;  // unreachable, time exceeded, parameter
}

}  // namespace nva::steer
