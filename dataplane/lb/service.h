// Services (protocol, VIP, port) and their backend pools: the read-mostly
// table that workers consult on a connection miss.
//
// A ServiceTable is an immutable snapshot, built by the control plane and
// published to workers with RCU (dataplane/common/rcu.h); a change of
// backends or health builds a new one with a new Maglev table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dataplane/lb/maglev.h"

namespace nva::lb {

enum class NatMode : std::uint8_t {
  kDnat,      // destination rewritten, client address kept; replies arrive
              // via user-defined routes
  kDnatSnat,  // source also rewritten to an SNAT address of the NVA
};

// What happens to existing connections whose backend the health checks
// marked down: kept until they expire (the default: the backend may still
// serve them), or reset (TCP: the NVA answers the client's next packet with
// an RST; UDP: the flow is re-balanced to a healthy backend).
enum class DeadBackendPolicy : std::uint8_t { kKeep, kReset };

struct Backend {
  std::uint32_t addr = 0;  // host order
  std::uint16_t port = 0;  // 0: the client's destination port (port-0 services)
  std::uint32_t weight = 1;
  bool healthy = true;
};

struct Service {
  std::string name;
  std::uint8_t proto = 6;  // 6 TCP, 17 UDP
  std::uint32_t vip = 0;
  std::uint16_t port = 0;  // 0: every port of the VIP
  NatMode mode = NatMode::kDnat;
  std::vector<Backend> backends;
  std::vector<std::uint32_t> snat_addrs;  // kDnatSnat: sources to use
  std::uint64_t seed = 0;                 // Maglev and flow hash seed
  MaglevTable maglev;                     // over `backends` (unhealthy: weight 0)
};

class ServiceTable {
 public:
  // Builds the Maglev table of every service (healthy backends only) and
  // the lookup index. `maglev_size` must be prime (check_maglev_size()).
  // With DeadBackendPolicy::kReset, the unhealthy backends are listed for
  // is_dead_backend().
  explicit ServiceTable(std::vector<Service> services,
                        std::uint32_t maglev_size = kDefaultMaglevTableSize,
                        DeadBackendPolicy dead = DeadBackendPolicy::kKeep);

  // The service for a packet to (proto, vip, port): an exact port match
  // first, then the VIP's port-0 service. nullptr if none.
  const Service* find(std::uint8_t proto, std::uint32_t vip,
                      std::uint16_t port) const noexcept;

  // Whether `addr` is any service's VIP / any kDnatSnat service's SNAT
  // address / a backend of a kDnat service (backend, port 0 = any).
  bool is_vip(std::uint32_t addr) const noexcept;
  bool is_snat_addr(std::uint32_t addr) const noexcept;
  bool is_dnat_backend(std::uint32_t addr, std::uint16_t port) const noexcept;
  // Any port: for fragments, which carry no port after the first.
  bool is_dnat_backend_addr(std::uint32_t addr) const noexcept;

  // Whether connections to backend addr:port must be reset (kReset and the
  // backend is unhealthy in some service; a backend port 0 matches any).
  bool has_dead_backends() const noexcept { return !dead_backends_.empty(); }
  bool is_dead_backend(std::uint32_t addr, std::uint16_t port) const noexcept;

  const std::vector<Service>& services() const noexcept { return services_; }

 private:
  struct Entry {
    std::uint64_t key;  // proto << 48 | vip << 16 | port
    std::uint32_t index;
    friend bool operator<(const Entry& a, const Entry& b) { return a.key < b.key; }
  };
  static std::uint64_t make_key(std::uint8_t proto, std::uint32_t vip,
                                std::uint16_t port) noexcept {
    return (std::uint64_t{proto} << 48) | (std::uint64_t{vip} << 16) | port;
  }

  std::vector<Service> services_;
  std::vector<Entry> index_;                  // sorted by key
  std::vector<std::uint32_t> vips_;           // sorted, unique
  std::vector<std::uint32_t> snat_addrs_;     // sorted, unique
  std::vector<std::uint64_t> dnat_backends_;  // sorted: addr << 16 | port
  std::vector<std::uint64_t> dead_backends_;  // sorted: addr << 16 | port
};

}  // namespace nva::lb
