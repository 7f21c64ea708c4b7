// DataPlane: builds and runs the workers from the configuration.
#include "dataplane/dataplane.h"

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

namespace nva {

namespace {

// RSS pre-calculation needs every port's key and table known and the same
// (a reply may come back on any port). nullptr and `why` otherwise.
std::unique_ptr<steer::RssSteering> choose_rss(const DataplaneOptions& d,
                                               const std::vector<port::PortInfo>& ports,
                                               std::string& why) {
  if (d.rss_precalc == RssPrecalc::kOff) {
    why = "dataplane.rss_precalc = off";
    return nullptr;
  }
  if (d.workers <= 1) {
    why = "one worker";
    return nullptr;
  }
  steer::RssView view;
  for (std::size_t i = 0; i < ports.size(); ++i) {
    const port::PortInfo& p = ports[i];
    if (!p.rss || !p.rss_read_reason.empty() || p.rss_key.size() != steer::kRssKeyLen ||
        p.reta.empty()) {
      why = "port " + p.name + " (" + p.driver +
            "): " + (p.rss ? p.rss_read_reason : p.rss_reason);
      return nullptr;
    }
    steer::RssView v;
    std::copy(p.rss_key.begin(), p.rss_key.end(), v.key.begin());
    v.reta = p.reta;
    if (i != 0 && !(v == view)) {
      why = "ports " + ports[0].name + " and " + p.name +
            " hash differently (key or table)";
      return nullptr;
    }
    view = std::move(v);
  }
  return steer::RssSteering::make(view, d.workers, why);
}

}  // namespace

DataPlane::DataPlane(const DataplaneOptions& opts, const conntrack::Timeouts& timeouts,
                     const std::vector<lb::Service>& services,
                     const std::vector<std::string>& ports)
    : opts_(opts) {
  const auto& d = opts;
  if (ports.empty()) throw std::runtime_error("dataplane.ports: no port configured");
  static int instance = 0;
  const std::string prefix =
      "nva" + std::to_string(::getpid()) + "_" + std::to_string(instance++);
  try {
    build(d, timeouts, services, ports, prefix);
  } catch (...) {
    release();
    throw;
  }
}

void DataPlane::build(const DataplaneOptions& d, const conntrack::Timeouts& timeouts,
                      const std::vector<lb::Service>& services,
                      const std::vector<std::string>& ports, const std::string& prefix) {
  pool_ = rte_pktmbuf_pool_create((prefix + "_mbufs").c_str(), d.mbufs, 256, 0,
                                  RTE_MBUF_DEFAULT_BUF_SIZE,
                                  static_cast<int>(rte_socket_id()));
  if (pool_ == nullptr) {
    throw std::runtime_error("mbuf pool of " + std::to_string(d.mbufs) +
                             " (dataplane.mbufs): " + rte_strerror(rte_errno));
  }
  for (const std::string& name : ports) {
    std::uint16_t id = 0;
    if (rte_eth_dev_get_port_by_name(name.c_str(), &id) != 0) {
      throw std::runtime_error("dataplane.ports: no ethdev named '" + name +
                               "' (is it created by eal.args, e.g. --vdev=" + name +
                               ",...?)");
    }
    port::PortConfig pc;
    pc.port_id = id;
    pc.queues = static_cast<std::uint16_t>(d.workers);
    pc.pool = pool_;
    pc.promiscuous = true;
    ports_.push_back(port::setup_port(pc));
  }
  std::string why;
  rss_ = choose_rss(d, ports_, why);
  steering_ = rss_ != nullptr
                  ? "RSS pre-calculation (" + rss_->describe() +
                        "): dnat+snat traffic stays on the NIC's queue; dnat traffic "
                        "is handed off to the client hash's worker"
                  : "software handoff (" + why + ")";
  rcu_ = std::make_unique<RcuDomain>(d.workers);
  services_ = std::make_unique<RcuPublished<lb::ServiceTable>>(
      *rcu_, std::make_unique<lb::ServiceTable>(services, d.maglev_table_size));
  handoff_ =
      std::make_unique<steer::HandoffRings>(prefix, d.workers, d.handoff_ring_size);

  rte_ether_addr gw{};
  if (d.gateway_mac && !port::mac_from_string(*d.gateway_mac, gw)) {
    throw std::runtime_error("dataplane.gateway_mac: not a MAC address");
  }
  for (std::size_t i = 0; i < ports_.size(); ++i) {
    learned_macs_.push_back(std::make_unique<std::atomic<std::uint64_t>>(0));
  }
  for (std::uint32_t w = 0; w < d.workers; ++w) {
    WorkerConfig wc;
    wc.pool = pool_;
    wc.id = w;
    wc.workers = d.workers;
    wc.owner_seed = d.seed;
    wc.rss = rss_.get();
    for (std::size_t i = 0; i < ports_.size(); ++i) {
      const port::PortInfo& pi = ports_[i];
      PortBinding pb;
      pb.gateway_ip = d.gateway_ip.value_or(0);
      pb.local_ip = d.local_ip.value_or(0);
      pb.learned_mac = learned_macs_[i].get();
      pb.port_id = pi.port_id;
      pb.queue = static_cast<std::uint16_t>(w);
      pb.mac = pi.mac;
      pb.gateway_mac = gw;
      wc.ports.push_back(pb);
    }
    wc.nat.capacity = d.connections;
    wc.nat.timeouts = timeouts;
    wc.nat.tcp_pickup = d.tcp_pickup;
    wc.nat.snat_port_min = d.snat_port_min;
    wc.nat.answer_vip_ping = d.answer_vip_ping;
    wc.idle.sleep = d.idle_sleep;
    wc.idle.sleep_us = d.idle_sleep_us;
    wc.idle.empty_polls_before_sleep = d.idle_polls;
    workers_.push_back(
        std::make_unique<Worker>(wc, *rcu_, *services_, *handoff_, clock_));
  }
}

DataPlane::~DataPlane() {
  stop();
  release();
}

void DataPlane::release() noexcept {
  workers_.clear();
  for (const auto& p : ports_) {
    rte_eth_dev_stop(p.port_id);
    rte_eth_dev_close(p.port_id);  // a pcap port writes out its file here
  }
  ports_.clear();
  handoff_.reset();
  rss_.reset();
  services_.reset();
  rcu_.reset();
  rte_mempool_free(pool_);
  pool_ = nullptr;
}

int DataPlane::lcore_main(void* arg) {
  auto* self = static_cast<std::pair<DataPlane*, Worker*>*>(arg);
  self->second->run(self->first->stop_);
  delete self;
  return 0;
}

void DataPlane::start() {
  if (running_) return;
  std::vector<unsigned> lcores;
  unsigned lc = 0;
  RTE_LCORE_FOREACH_WORKER(lc) { lcores.push_back(lc); }
  if (lcores.size() < workers_.size()) {
    throw std::runtime_error("dataplane.workers = " + std::to_string(workers_.size()) +
                             " but eal.args gives " + std::to_string(lcores.size()) +
                             " worker lcore(s) besides the main one (-l)");
  }
  stop_ = false;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    auto* arg = new std::pair<DataPlane*, Worker*>(this, workers_[i].get());
    if (rte_eal_remote_launch(&DataPlane::lcore_main, arg, lcores[i]) != 0) {
      delete arg;
      stop();
      throw std::runtime_error("cannot launch worker " + std::to_string(i) +
                               " on lcore " + std::to_string(lcores[i]));
    }
  }
  running_ = true;
}

void DataPlane::stop() {
  if (!running_) return;
  stop_ = true;
  rte_eal_mp_wait_lcore();
  running_ = false;
}

void DataPlane::update_services(const std::vector<lb::Service>& services,
                                lb::DeadBackendPolicy dead) {
  services_->publish_deferred(
      std::make_unique<lb::ServiceTable>(services, opts_.maglev_table_size, dead));
}

void DataPlane::run_until_idle(unsigned idle_polls) {
  unsigned idle = 0;
  while (idle < idle_polls) {
    unsigned handled = 0;
    for (auto& w : workers_) handled += w->poll_once();
    idle = handled == 0 ? idle + 1 : 0;
  }
}

std::uint64_t DataPlane::active_connections() const {
  std::uint64_t n = 0;
  for (const auto& w : workers_) {
    const auto& tr = w->translator().tracker();
    for (std::size_t c = 0; c < conntrack::kTimeoutClassCount; ++c) {
      const auto cls = static_cast<conntrack::TimeoutClass>(c);
      if (cls != conntrack::TimeoutClass::kTcpTimeWait &&
          cls != conntrack::TimeoutClass::kTcpClosed) {
        n += tr.list_size(cls);
      }
    }
  }
  return n;
}

bool DataPlane::link_up(std::size_t i) const {
  rte_eth_link link{};
  if (rte_eth_link_get_nowait(ports_[i].port_id, &link) != 0) return true;
  return link.link_status != RTE_ETH_LINK_DOWN;
}

std::uint64_t DataPlane::handoff_dropped() const {
  std::uint64_t n = 0;
  for (const auto& w : workers_) n += w->counters().handoff_dropped;
  return n;
}

std::uint32_t DataPlane::mbufs_free() const {
  return pool_ != nullptr ? rte_mempool_avail_count(pool_) : 0;
}

std::uint32_t DataPlane::mbufs_total() const {
  return pool_ != nullptr ? pool_->size : 0;
}

DataPlaneStats DataPlane::stats() const {
  DataPlaneStats s;
  std::array<std::uint64_t, packet::kDropReasonCount> parse{};
  std::array<std::uint64_t, nat::kNatDropCount> nat{};
  for (const auto& w : workers_) {
    const WorkerCounters& c = w->counters();
    s.rx += c.rx;
    s.tx += c.tx;
    s.tx_dropped += c.tx_dropped;
    s.handoff_out += c.handoff_out;
    s.handoff_dropped += c.handoff_dropped;
    s.exceptions += c.exception_dropped;
    for (std::size_t i = 0; i < parse.size(); ++i) parse[i] += c.parse_drops[i];
    const nat::TranslatorCounters& t = w->translator().counters();
    s.forwarded += t.forwarded;
    s.replied_local += t.replied_local;
    s.connections_created += t.created;
    s.dead_backend_resets += t.dead_backend_resets;
    for (std::size_t i = 0; i < nat.size(); ++i) nat[i] += t.drops[i];
    const auto& tr = w->translator().tracker();
    s.connections_live += tr.table().size();
    s.connections_expired += tr.counters().expired;
    s.evicted_embryonic += tr.counters().evicted_embryonic;
  }
  for (std::size_t i = 0; i < parse.size(); ++i) {
    if (parse[i] != 0) {
      s.drops.emplace_back(
          std::string(packet::drop_reason_name(static_cast<packet::DropReason>(i))),
          parse[i]);
    }
  }
  for (std::size_t i = 0; i < nat.size(); ++i) {
    if (nat[i] != 0) {
      s.drops.emplace_back(std::string(nat::nat_drop_name(static_cast<nat::NatDrop>(i))),
                           nat[i]);
    }
  }
  if (s.handoff_dropped != 0)
    s.drops.emplace_back("handoff_ring_full", s.handoff_dropped);
  if (s.tx_dropped != 0) s.drops.emplace_back("tx_full", s.tx_dropped);
  return s;
}

}  // namespace nva
