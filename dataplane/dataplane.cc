// DataPlane: builds and runs the workers from the configuration.
#include "dataplane/dataplane.h"

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <iostream>
#include <random>

#include <stdexcept>
#include "dataplane/lb/flow_hash.h"

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

// The RSS key of the rte_flow RSS actions: the one the ports are given.
steer::RssKey flow_key() {
  steer::RssKey k;
  std::copy(std::begin(port::kDefaultRssKey), std::end(port::kDefaultRssKey), k.begin());
  return k;
}

// Where a class goes when rte_flow does not steer it.
std::string fallback_of(steer::FlowClass c, bool precalc) {
  switch (c) {
    case steer::FlowClass::kVip:
      return precalc ? "RSS pre-calculation (dnat+snat), handoff (dnat)" : "handoff";
    case steer::FlowClass::kSnatReturn:
      return precalc ? "RSS pre-calculation" : "handoff";
    case steer::FlowClass::kDnatReturn:
      return "handoff";
  }
  return "handoff";
}

// "rte_flow on port net_ring0 (net_ring): steers none; falls back: vip ->
// handoff, ... (<reason>)": the reason once when every class has the same.
std::string flow_line(const port::PortInfo& p, std::size_t index,
                      const steer::FlowSteeringInstall* fi, const std::string& off,
                      bool precalc) {
  std::string s = "rte_flow on port " + p.name + " (" + p.driver + "): ";
  if (fi == nullptr) return s + "off (" + off + ")";
  std::string steered, fallback, common;
  bool same = true;
  for (std::size_t c = 0; c < steer::kFlowClassCount; ++c) {
    const auto cls = static_cast<steer::FlowClass>(c);
    if (fi->steers(cls)) {
      steered += std::string(steered.empty() ? "" : ", ") + steer::flow_class_name(cls);
      continue;
    }
    const std::string& why = fi->port_reason(index, cls);
    if (fallback.empty()) {
      common = why;
    } else if (why != common) {
      same = false;
    }
    fallback += std::string(fallback.empty() ? "" : ", ") + steer::flow_class_name(cls) +
                " -> " + fallback_of(cls, precalc);
  }
  if (!same) {
    fallback.clear();
    for (std::size_t c = 0; c < steer::kFlowClassCount; ++c) {
      const auto cls = static_cast<steer::FlowClass>(c);
      if (fi->steers(cls)) continue;
      const std::string& rule = fi->port_rule(index, cls);
      fallback += std::string(fallback.empty() ? "" : "; ") +
                  steer::flow_class_name(cls) + " -> " + fallback_of(cls, precalc) +
                  " (" + (rule.empty() ? "" : "'" + rule + "': ") +
                  fi->port_reason(index, cls) + ")";
    }
  } else if (!fallback.empty()) {
    fallback += " (" + common + ")";
  }
  s += "steers " + (steered.empty() ? std::string("none") : steered);
  if (!fallback.empty()) s += "; falls back: " + fallback;
  return s;
}

constexpr std::uint32_t kMempoolCache = 256;

// What the ports, workers, rings and fragment tracking can hold at once.
// Descriptor counts are the ones the PMD will use (adjusted to its limits).
MbufBudget count_mbufs(const DataplaneOptions& d,
                       const std::vector<std::uint16_t>& ports) {
  MbufBudget b;
  const port::PortConfig defaults;
  for (std::uint16_t id : ports) {
    std::uint16_t rxd = defaults.rx_desc, txd = defaults.tx_desc;
    rte_eth_dev_adjust_nb_rx_tx_desc(id, &rxd, &txd);  // on failure: the defaults
    b.rx_descriptors += d.workers * std::uint32_t{rxd};
    b.tx_descriptors += d.workers * std::uint32_t{txd};
  }
  // A cache is flushed above 1.5 x its size; the workers and the main lcore.
  b.caches = (d.workers + 1) * (kMempoolCache * 3 / 2);
  // Per worker: one RX burst, one TX buffer per port, one burst of output.
  b.bursts = d.workers * static_cast<std::uint32_t>(ports.size() + 2) * kBurst;
  b.handoff_rings = d.workers * d.handoff_ring_size;
  b.fragments = d.workers * DataplaneOptions::kFragmentMbufsPerWorker;
  b.proxy_held = d.workers * DataplaneOptions::kProxyHeldPerWorker;
  return b;
}

}  // namespace

std::uint32_t MbufBudget::auto_size() const {
  const std::uint64_t want = total() + total() / 4;
  return static_cast<std::uint32_t>(std::max<std::uint64_t>(want, kMinAutoMbufs));
}

std::string MbufBudget::describe() const {
  return "RX descriptors " + std::to_string(rx_descriptors) + " + TX descriptors " +
         std::to_string(tx_descriptors) + " + lcore caches " + std::to_string(caches) +
         " + worker bursts " + std::to_string(bursts) + " + handoff rings " +
         std::to_string(handoff_rings) + " + held fragments " +
         std::to_string(fragments) + " + SYN proxy held " + std::to_string(proxy_held) +
         " = " + std::to_string(total());
}

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
  std::vector<std::uint16_t> port_ids;
  for (const std::string& name : ports) {
    std::uint16_t id = 0;
    if (rte_eth_dev_get_port_by_name(name.c_str(), &id) != 0) {
      throw std::runtime_error("dataplane.ports: no ethdev named '" + name +
                               "' (is it created by eal.args, e.g. --vdev=" + name +
                               ",...?)");
    }
    port_ids.push_back(id);
  }
  budget_ = count_mbufs(d, port_ids);
  if (d.mbufs != 0 && d.mbufs < budget_.total()) {
    throw std::runtime_error(
        "dataplane.mbufs = " + std::to_string(d.mbufs) +
        " is fewer packet buffers than the data plane can hold at once (" +
        budget_.describe() + "): raise it to at least " +
        std::to_string(budget_.total()) + ", or leave it unset to size it automatically");
  }
  const std::uint32_t mbufs = d.mbufs != 0 ? d.mbufs : budget_.auto_size();
  pool_ = rte_pktmbuf_pool_create((prefix + "_mbufs").c_str(), mbufs, kMempoolCache, 0,
                                  RTE_MBUF_DEFAULT_BUF_SIZE,
                                  static_cast<int>(rte_socket_id()));
  if (pool_ == nullptr) {
    throw std::runtime_error(
        "mbuf pool of " + std::to_string(mbufs) + " (dataplane.mbufs" +
        (d.mbufs == 0 ? ", sized automatically" : "") + "): " + rte_strerror(rte_errno));
  }
  for (std::uint16_t id : port_ids) {
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
  auto table = std::make_unique<lb::ServiceTable>(services, d.maglev_table_size);
  choose_flow(d, *table);
  rcu_ = std::make_unique<RcuDomain>(d.workers);
  services_ = std::make_unique<RcuPublished<lb::ServiceTable>>(*rcu_, std::move(table));
  handoff_ =
      std::make_unique<steer::HandoffRings>(prefix, d.workers, d.handoff_ring_size);

  rte_ether_addr gw{};
  if (d.gateway_mac && !port::mac_from_string(*d.gateway_mac, gw)) {
    throw std::runtime_error("dataplane.gateway_mac: not a MAC address");
  }
  for (std::size_t i = 0; i < ports_.size(); ++i) {
    learned_macs_.push_back(std::make_unique<std::atomic<std::uint64_t>>(0));
  }
  std::uint64_t hash_key = 0;
  if (d.hash_key) {
    hash_key = *d.hash_key;
  } else {
    std::random_device rd;  // getrandom(2)
    hash_key = (std::uint64_t{rd()} << 32) ^ rd();
  }
  for (std::uint32_t w = 0; w < d.workers; ++w) {
    WorkerConfig wc;
    wc.pool = pool_;
    wc.id = w;
    wc.workers = d.workers;
    wc.owner_seed = hash_key;
    // The table's key from the same secret, not equal to it.
    wc.nat.table_key = {lb::mix64(hash_key ^ 0x9E3779B97F4A7C15ull),
                        lb::mix64(hash_key ^ 0xC2B2AE3D27D4EB4Full)};
    wc.rss = rss_.get();
    wc.flow = flow_.get();
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
    wc.fragments.max_held_mbufs = DataplaneOptions::kFragmentMbufsPerWorker;
    wc.nat.capacity = d.connections;
    wc.nat.timeouts = timeouts;
    wc.nat.tcp_pickup = d.tcp_pickup;
    wc.nat.syn_proxy = d.syn_proxy;
    wc.nat.syn_cookie_key = {lb::mix64(hash_key ^ 0x165667B19E3779F9ull),
                             lb::mix64(hash_key ^ 0x27D4EB2F165667C5ull)};
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

void DataPlane::choose_flow(const DataplaneOptions& d, const lb::ServiceTable& table) {
  std::string off;
  if (d.rss_flow == RssFlow::kOff) {
    off = "dataplane.rss_flow = off";
  } else if (d.workers <= 1) {
    off = "one worker";
  }
  if (off.empty()) {
    std::array<std::string, steer::kFlowClassCount> absent;
    if (!std::has_single_bit(d.workers)) {
      absent[static_cast<std::size_t>(steer::FlowClass::kSnatReturn)] =
          std::to_string(d.workers) +
          " workers: SNAT port % workers is not a mask of the port (needs a power of "
          "two)";
    }
    flow_rules_ = steer::build_flow_rules(table, d.workers, flow_key());
    std::vector<steer::FlowPort> fp;
    for (const port::PortInfo& p : ports_) fp.push_back({p.port_id, p.name, p.driver});
    flow_install_ = std::make_unique<steer::FlowSteeringInstall>();
    flow_install_->install_all(fp, flow_rules_, absent);
    if (flow_install_->any()) {
      flow_ = std::make_unique<steer::FlowSteering>(flow_key(), d.workers,
                                                    flow_install_->steered());
      std::string classes;
      for (std::size_t c = 0; c < steer::kFlowClassCount; ++c) {
        const auto cls = static_cast<steer::FlowClass>(c);
        if (!flow_->steers(cls)) continue;
        classes += std::string(classes.empty() ? "" : ", ") + steer::flow_class_name(cls);
      }
      steering_ = "rte_flow (" + classes + "), then " + steering_;
    }
  }
  for (std::size_t i = 0; i < ports_.size(); ++i) {
    flow_lines_.push_back(
        flow_line(ports_[i], i, flow_install_.get(), off, rss_ != nullptr));
  }
}

void DataPlane::release() noexcept {
  workers_.clear();
  flow_install_.reset();  // the rules go before their ports close
  flow_.reset();
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
  auto table =
      std::make_unique<lb::ServiceTable>(services, opts_.maglev_table_size, dead);
  if (flow_ != nullptr) {
    // New rules before the table that needs them; either order is correct
    // (a packet the rules miss is handed off), this one hands off less.
    std::vector<steer::FlowRule> rules =
        steer::build_flow_rules(*table, opts_.workers, flow_key());
    if (rules != flow_rules_) {
      const std::string failed = flow_install_->update(rules);
      if (!failed.empty()) {
        std::cerr << "anycast-nva: steering: rte_flow update: " << failed
                  << " (that traffic is handed off)\n";
      }
      flow_rules_ = std::move(rules);
    }
  }
  services_->publish_deferred(std::move(table));
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

std::uint64_t DataPlane::handoff_sent() const {
  std::uint64_t n = 0;
  for (const auto& w : workers_) n += w->counters().handoff_out;
  return n;
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

void DataPlane::flush_held() {
  for (auto& w : workers_) w->flush_held();
}

std::vector<std::pair<std::string_view, std::uint64_t>> worker_drops(const Worker& w) {
  std::vector<std::pair<std::string_view, std::uint64_t>> out;
  out.reserve(packet::kDropReasonCount + nat::kNatDropCount + nat::kFragmentDropCount +
              4);
  auto add = [&out](std::string_view name, std::uint64_t n) {
    for (auto& [have, count] : out) {
      if (have == name) {
        count += n;
        return;
      }
    }
    out.emplace_back(name, n);
  };
  const WorkerCounters& c = w.counters();
  const nat::TranslatorCounters& t = w.translator().counters();
  for (std::size_t i = 0; i < packet::kDropReasonCount; ++i) {
    add(packet::drop_reason_name(static_cast<packet::DropReason>(i)),
        c.parse_drops[i] + t.packet_drops[i]);
  }
  for (std::size_t i = 0; i < nat::kNatDropCount; ++i)
    add(nat::nat_drop_name(static_cast<nat::NatDrop>(i)), t.drops[i]);
  const auto f = nat::fragment_drops(w.fragments().counters());
  for (std::size_t i = 0; i < f.size(); ++i) add(nat::kFragmentDropNames[i], f[i]);
  add("handoff_ring_full", c.handoff_dropped);
  add("tx_full", c.tx_dropped);
  add("syn_proxy_held_full", c.proxy_held_full);
  add("syn_proxy_held_timeout", c.proxy_held_timeout);
  return out;
}

std::vector<std::pair<std::string_view, std::uint64_t>> worker_counters(const Worker& w) {
  std::vector<std::pair<std::string_view, std::uint64_t>> out;
  auto add = [&out](std::string_view name, std::uint64_t n) {
    out.emplace_back(name, n);
  };
  w.counters().for_each(add);
  add("heartbeat", w.heartbeat());
  const nat::Translator& t = w.translator();
  t.counters().for_each(add);
  add("connections", t.tracker().table().size());
  add("nat_dropped", t.counters().dropped());
  t.tracker().counters().for_each(add);
  w.fragments().counters().for_each(add);
  return out;
}

std::string_view worker_counter_help(std::string_view name) {
#define NVA_COUNTER_DOC(member, n, doc) {n, doc},
  static constexpr std::pair<std::string_view, std::string_view> kDocs[] = {
      NVA_WORKER_COUNTERS(NVA_COUNTER_DOC) NVA_TRANSLATOR_COUNTERS(NVA_COUNTER_DOC)
          NVA_TRACKER_COUNTERS(NVA_COUNTER_DOC) NVA_FRAGMENT_COUNTERS(NVA_COUNTER_DOC)};
#undef NVA_COUNTER_DOC
  for (const auto& [n, doc] : kDocs) {
    if (n == name) return doc;
  }
  return {};
}

std::uint64_t CounterSnapshot::operator[](std::string_view name) const {
  for (const NamedCounters* set : {&counters, &drops}) {
    for (const auto& [have, n] : *set) {
      if (have == name) return n;
    }
  }
  throw std::out_of_range("no counter named '" + std::string(name) + "'");
}

std::uint64_t CounterSnapshot::dropped() const {
  std::uint64_t n = 0;
  for (const auto& d : drops) n += d.second;
  return n;
}

DataPlaneSnapshot DataPlane::snapshot() const {
  DataPlaneSnapshot s;
  s.workers.reserve(workers_.size());
  for (const auto& w : workers_) {
    s.workers.push_back({worker_counters(*w), worker_drops(*w)});
    s.snat_exhaustion.push_back(w->translator().exhaustion().read());
  }
  // The same names in the same order for every worker.
  auto sum = [](NamedCounters& into, const NamedCounters& from) {
    if (into.empty()) {
      into = from;
      return;
    }
    for (std::size_t i = 0; i < from.size(); ++i) into[i].second += from[i].second;
  };
  for (const CounterSnapshot& w : s.workers) {
    sum(s.total.counters, w.counters);
    sum(s.total.drops, w.drops);
  }
  return s;
}

}  // namespace nva
