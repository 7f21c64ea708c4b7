// Addresses as the daemon's logs and telemetry write them.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <string>

namespace nva {

// "198.18.0.1" from a host-order address.
inline std::string ipv4_string(std::uint32_t a) {
  in_addr in{htonl(a)};
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &in, buf, sizeof buf);
  return buf;
}

// "198.18.0.1:80".
inline std::string endpoint_string(std::uint32_t a, std::uint16_t port) {
  return ipv4_string(a) + ":" + std::to_string(port);
}

}  // namespace nva
