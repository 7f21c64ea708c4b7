// Ethdev set-up with capability probing (see port.h).
#include "dataplane/port/port.h"

#include <rte_errno.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace nva::port {

namespace {

[[noreturn]] void fail(const PortConfig& cfg, const char* step, int rc) {
  char name[RTE_ETH_NAME_MAX_LEN] = "?";
  rte_eth_dev_get_name_by_port(cfg.port_id, name);
  throw std::runtime_error(std::string("port ") + std::to_string(cfg.port_id) + " (" +
                           name + "): " + step + ": " + rte_strerror(rc < 0 ? -rc : rc));
}

// Sets the redirection table to i -> i % queues (where the PMD lets it)
// and reads back the table and key the port uses.
void read_rss(const rte_eth_dev_info& dev, std::uint16_t queues, PortInfo& info) {
  const std::uint16_t port = info.port_id;
  const std::size_t key_len = dev.hash_key_size != 0 ? dev.hash_key_size : 40;
  std::vector<std::uint8_t> key(std::max<std::size_t>(key_len, 64), 0);
  rte_eth_rss_conf rc{};
  rc.rss_key = key.data();
  rc.rss_key_len = static_cast<std::uint8_t>(key_len);
  if (int rc_get = rte_eth_dev_rss_hash_conf_get(port, &rc); rc_get != 0) {
    info.rss_read_reason = std::string("key cannot be read: ") + rte_strerror(-rc_get);
  } else if (rc.rss_key_len != sizeof kDefaultRssKey) {
    info.rss_read_reason = "key of " + std::to_string(rc.rss_key_len) + " bytes";
  } else {
    info.rss_key.assign(key.begin(), key.begin() + rc.rss_key_len);
  }
  if (dev.reta_size == 0) {
    if (info.rss_read_reason.empty()) {
      info.rss_read_reason = "the PMD reports no redirection table";
    }
    return;
  }
  const std::size_t groups =
      (dev.reta_size + RTE_ETH_RETA_GROUP_SIZE - 1) / RTE_ETH_RETA_GROUP_SIZE;
  std::vector<rte_eth_rss_reta_entry64> conf(groups);
  for (std::size_t i = 0; i < dev.reta_size; ++i) {
    auto& g = conf[i / RTE_ETH_RETA_GROUP_SIZE];
    g.mask |= 1ull << (i % RTE_ETH_RETA_GROUP_SIZE);
    g.reta[i % RTE_ETH_RETA_GROUP_SIZE] = static_cast<std::uint16_t>(i % queues);
  }
  info.reta_set = rte_eth_dev_rss_reta_update(port, conf.data(), dev.reta_size) == 0;
  for (auto& g : conf) std::fill(std::begin(g.reta), std::end(g.reta), 0xFFFF);
  if (int rc_q = rte_eth_dev_rss_reta_query(port, conf.data(), dev.reta_size);
      rc_q != 0) {
    if (!info.rss_read_reason.empty()) info.rss_read_reason += "; ";
    info.rss_read_reason +=
        std::string("redirection table cannot be read: ") + rte_strerror(-rc_q);
    return;
  }
  info.reta.resize(dev.reta_size);
  for (std::size_t i = 0; i < dev.reta_size; ++i) {
    info.reta[i] = conf[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE];
  }
}

}  // namespace

std::string mac_to_string(const rte_ether_addr& mac) {
  char buf[RTE_ETHER_ADDR_FMT_SIZE];
  rte_ether_format_addr(buf, sizeof buf, &mac);
  return buf;
}

bool mac_from_string(const std::string& s, rte_ether_addr& out) {
  return rte_ether_unformat_addr(s.c_str(), &out) == 0;
}

PortInfo setup_port(const PortConfig& cfg) {
  if (!rte_eth_dev_is_valid_port(cfg.port_id)) fail(cfg, "no such port", ENODEV);
  if (cfg.pool == nullptr) fail(cfg, "no mempool", EINVAL);
  PortInfo info;
  info.port_id = cfg.port_id;
  char name[RTE_ETH_NAME_MAX_LEN] = {};
  rte_eth_dev_get_name_by_port(cfg.port_id, name);
  info.name = name;

  rte_eth_dev_info dev{};
  if (int rc = rte_eth_dev_info_get(cfg.port_id, &dev); rc != 0) fail(cfg, "info", rc);
  info.driver = dev.driver_name != nullptr ? dev.driver_name : "?";
  if (cfg.queues > dev.max_rx_queues || cfg.queues > dev.max_tx_queues) {
    throw std::runtime_error("port " + info.name + ": " + std::to_string(cfg.queues) +
                             " queues asked, the PMD has at most " +
                             std::to_string(dev.max_rx_queues) + " RX / " +
                             std::to_string(dev.max_tx_queues) + " TX");
  }

  rte_eth_conf conf{};
  // RSS over IPv4/IPv6 TCP/UDP with our key, where the PMD offers it.
  const std::uint64_t want_hf = RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP;
  const std::uint64_t hf = want_hf & dev.flow_type_rss_offloads;
  if (cfg.queues > 1 && hf != 0) {
    if (dev.hash_key_size != 0 && dev.hash_key_size != sizeof kDefaultRssKey) {
      info.rss_reason = "key size " + std::to_string(dev.hash_key_size) + " != 40";
    } else {
      conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
      conf.rx_adv_conf.rss_conf.rss_key = const_cast<std::uint8_t*>(kDefaultRssKey);
      conf.rx_adv_conf.rss_conf.rss_key_len = sizeof kDefaultRssKey;
      conf.rx_adv_conf.rss_conf.rss_hf = hf;
      info.rss = true;
    }
  } else if (cfg.queues > 1) {
    info.rss_reason =
        "the PMD offers no RSS (software handoff keeps flows on their owner)";
  } else {
    info.rss_reason = "one queue";
  }

  // Checksum offloads: probed and reported; the workers use incremental
  // updates, which need no offload and work on every PMD.
  info.tx_ipv4_cksum = (dev.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0;
  info.tx_tcp_cksum = (dev.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_CKSUM) != 0;
  info.tx_udp_cksum = (dev.tx_offload_capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) != 0;
  info.rx_cksum =
      (dev.rx_offload_capa & RTE_ETH_RX_OFFLOAD_CHECKSUM) == RTE_ETH_RX_OFFLOAD_CHECKSUM;

  if (int rc = rte_eth_dev_configure(cfg.port_id, cfg.queues, cfg.queues, &conf);
      rc != 0) {
    fail(cfg, "configure", rc);
  }
  std::uint16_t rxd = cfg.rx_desc, txd = cfg.tx_desc;
  if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(cfg.port_id, &rxd, &txd); rc != 0) {
    fail(cfg, "descriptor counts", rc);
  }
  const int socket = rte_eth_dev_socket_id(cfg.port_id);
  const unsigned sock = socket < 0 ? 0u : static_cast<unsigned>(socket);
  for (std::uint16_t q = 0; q < cfg.queues; ++q) {
    if (int rc = rte_eth_rx_queue_setup(cfg.port_id, q, rxd, sock, nullptr, cfg.pool);
        rc != 0) {
      fail(cfg, "RX queue setup", rc);
    }
    if (int rc = rte_eth_tx_queue_setup(cfg.port_id, q, txd, sock, nullptr); rc != 0) {
      fail(cfg, "TX queue setup", rc);
    }
  }
  if (int rc = rte_eth_dev_start(cfg.port_id); rc != 0) fail(cfg, "start", rc);
  if (cfg.promiscuous) (void)rte_eth_promiscuous_enable(cfg.port_id);
  if (int rc = rte_eth_macaddr_get(cfg.port_id, &info.mac); rc != 0) fail(cfg, "MAC", rc);
  info.queues = cfg.queues;
  if (info.rss) {
    read_rss(dev, cfg.queues, info);
  } else {
    info.rss_read_reason = info.rss_reason;
  }
  return info;
}

std::string describe(const PortInfo& i) {
  std::string s = "port " + std::to_string(i.port_id) + " " + i.name + " (" + i.driver +
                  ") mac " + mac_to_string(i.mac) + ", " + std::to_string(i.queues) +
                  " queue(s), RSS " + (i.rss ? "on" : "off (" + i.rss_reason + ")");
  if (i.rss) {
    s += i.rss_read_reason.empty()
             ? ", key and " + std::to_string(i.reta.size()) + "-entry table known" +
                   (i.reta_set ? " (table set)" : " (the PMD's table)")
             : ", " + i.rss_read_reason;
  }
  s += ", offloads:";
  if (i.rx_cksum) s += " rx-cksum";
  if (i.tx_ipv4_cksum) s += " tx-ipv4-cksum";
  if (i.tx_tcp_cksum) s += " tx-tcp-cksum";
  if (i.tx_udp_cksum) s += " tx-udp-cksum";
  if (!i.rx_cksum && !i.tx_ipv4_cksum && !i.tx_tcp_cksum && !i.tx_udp_cksum) s += " none";
  return s;
}

}  // namespace nva::port
