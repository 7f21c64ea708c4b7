// Services for tests, one expression each:
//   test::service({.name = "web", .vip = "198.19.0.10", .port = 80,
//                  .backends = {test::backend("198.18.2.1", 8080)}})
// Header-only (unit tests link no test-support library).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dataplane/lb/service.h"
#include "tests/support/packet_builder.h"

namespace nva::test {

struct ServiceSpec {
  std::string name;
  std::uint8_t proto = 6;
  std::string vip;
  std::uint16_t port = 0;
  lb::NatMode mode = lb::NatMode::kDnat;
  std::vector<lb::Backend> backends;
  std::vector<std::string> snat;
  std::uint64_t seed = 0;
};

inline lb::Backend backend(const std::string& addr, std::uint16_t port,
                           std::uint32_t weight = 1, bool healthy = true) {
  return {packet::ipv4_from_string(addr), port, weight, healthy};
}

inline lb::Service service(const ServiceSpec& s) {
  lb::Service out;
  out.name = s.name;
  out.proto = s.proto;
  out.vip = packet::ipv4_from_string(s.vip);
  out.port = s.port;
  out.mode = s.snat.empty() ? s.mode : lb::NatMode::kDnatSnat;
  out.backends = s.backends;
  for (const std::string& a : s.snat)
    out.snat_addrs.push_back(packet::ipv4_from_string(a));
  out.seed = s.seed;
  return out;
}

}  // namespace nva::test
