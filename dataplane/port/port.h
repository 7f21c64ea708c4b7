// Generic ethdev set-up for any PMD named by EAL arguments: one RX and one
// TX queue per worker, RSS with a known key where the PMD has RSS, offload
// capabilities probed and reported.
#pragma once

#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_mempool.h>

#include <cstdint>
#include <string>
#include <vector>

namespace nva::port {

// The Toeplitz key anycast-nva installs when the PMD lets it (40 bytes, the
// symmetric-free default of many NICs). RSS pre-calculation works with
// whatever key a port ends up with (steer/rss.h).
inline constexpr std::uint8_t kDefaultRssKey[40] = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

struct PortConfig {
  std::uint16_t port_id = 0;
  std::uint16_t queues = 1;  // RX and TX queues: one per worker
  std::uint16_t rx_desc = 1024;
  std::uint16_t tx_desc = 1024;
  rte_mempool* pool = nullptr;
  bool promiscuous = false;
};

// What the port turned out to be.
struct PortInfo {
  std::uint16_t port_id = 0;
  std::string name;    // e.g. "net_ring0", "0000:00:08.0"
  std::string driver;  // e.g. "net_ring", "mlx5_pci"
  rte_ether_addr mac{};
  std::uint16_t queues = 0;
  bool rss = false;        // RSS configured with kDefaultRssKey
  std::string rss_reason;  // why not, when rss is false
  // RSS as the port applies it, read back after start where the PMD lets
  // it be read (RSS pre-calculation needs both): the key (empty: unknown)
  // and the redirection table, the RX queue of each entry (empty: unknown).
  // We set the table to entry i -> queue i % queues where the PMD allows
  // (netvsc); where it does not (MANA: key only), its own table is read.
  std::vector<std::uint8_t> rss_key;
  std::vector<std::uint16_t> reta;
  bool reta_set = false;        // our table was accepted
  std::string rss_read_reason;  // why the key or the table is unknown
  bool tx_ipv4_cksum = false, tx_tcp_cksum = false, tx_udp_cksum = false;
  bool rx_cksum = false;
};

// Configures and starts the port. Throws std::runtime_error naming the port
// and the step that failed.
PortInfo setup_port(const PortConfig& cfg);

// One line for the start-up log: name, driver, MAC, queues, RSS, offloads.
std::string describe(const PortInfo& info);

std::string mac_to_string(const rte_ether_addr& mac);
// Parses "02:00:00:00:00:01"; false if malformed.
bool mac_from_string(const std::string& s, rte_ether_addr& out);

}  // namespace nva::port
