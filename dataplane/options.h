// What the data plane is built from (the [dataplane] section of the
// configuration), with its defaults.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/lb/maglev.h"
#include "dataplane/nat/syn_cookie.h"

namespace nva {

// dataplane.rss_precalc: choose SNAT ports so that replies land on the
// allocating worker's queue, where every port's RSS key and table are known
// (auto), or hand every foreign packet off (off). docs/STEERING.md.
enum class RssPrecalc : std::uint8_t { kAuto, kOff };

// dataplane.rss_flow: install rte_flow rules where every port's PMD takes
// them (auto): client -> VIP by RSS on the source-only fields, dnat replies
// on the destination-only fields, SNAT replies to their worker's queue by
// port; a class a port rejects falls back to pre-calculation or handoff.
// off: no rte_flow. docs/STEERING.md.
enum class RssFlow : std::uint8_t { kAuto, kOff };

struct DataplaneOptions {
  static constexpr std::uint32_t kDefaultWorkers = 1;
  static constexpr std::uint32_t kMaxWorkers = 64;
  static constexpr std::uint32_t kDefaultConnections = 1u << 20;  // per worker
  static constexpr std::uint32_t kDefaultHandoffRing = 4096;
  // 0: sized from what can hold packet buffers (DataPlane's MbufBudget).
  static constexpr std::uint32_t kDefaultMbufs = 0;
  // Packet buffers each worker may hold for fragments waiting for their
  // first fragment (a share of the pool, so fragment floods cannot starve RX).
  static constexpr std::uint32_t kFragmentMbufsPerWorker = 512;
  // Packet buffers each worker may hold for the SYN proxy: a client's first
  // data segment waiting for its backend's SYN-ACK (at most a second).
  static constexpr std::uint32_t kProxyHeldPerWorker = 64;
  static constexpr std::uint16_t kDefaultSnatPortMin = 1024;
  static constexpr std::uint32_t kDefaultIdleSleepUs = 200;
  static constexpr std::uint32_t kDefaultIdlePolls = 256;

  std::uint32_t workers = kDefaultWorkers;
  std::vector<std::string> ports;           // ethdev names, e.g. net_af_packet0
  std::optional<std::string> gateway_mac;   // unset: learned (ARP or traffic)
  std::optional<std::uint32_t> gateway_ip;  // set: the gateway's MAC by ARP
  std::optional<std::uint32_t> local_ip;    // source of those ARP requests
  std::uint32_t connections = kDefaultConnections;
  std::uint64_t seed = 0;  // Maglev: the same on every NVA of a service
  // Secret key of the hashes that place flows on workers (owner(), the
  // fragment tracker): random per process, so nobody outside can aim a flood
  // at one worker's handoff ring. Set only to make a test reproducible.
  std::optional<std::uint64_t> hash_key;
  std::uint32_t maglev_table_size = lb::kDefaultMaglevTableSize;
  std::uint32_t handoff_ring_size = kDefaultHandoffRing;
  std::uint32_t mbufs = kDefaultMbufs;  // packet buffers; 0: auto
  std::uint16_t snat_port_min = kDefaultSnatPortMin;
  RssPrecalc rss_precalc = RssPrecalc::kAuto;
  RssFlow rss_flow = RssFlow::kAuto;
  bool tcp_pickup = true;
  // SYN cookies and the SYN proxy (nat/translator.h); auto by default.
  nat::SynProxyMode syn_proxy = nat::SynProxyMode::kAuto;
  bool answer_vip_ping = true;
  bool idle_sleep = true;
  std::uint32_t idle_sleep_us = kDefaultIdleSleepUs;
  std::uint32_t idle_polls = kDefaultIdlePolls;
  // A worker whose heartbeat stands still this long is stuck (VIPs withdrawn).
  static constexpr std::uint32_t kDefaultWatchdogMs = 100;
  std::uint32_t watchdog_ms = kDefaultWatchdogMs;
  // SIGUSR1 stalls / releases worker 0 (watchdog tests only).
  bool test_hooks = false;

  bool operator==(const DataplaneOptions&) const = default;
};

}  // namespace nva
