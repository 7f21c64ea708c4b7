// The data plane as a whole: mempool, ports, RCU, services, handoff rings
// and workers, built from the configuration after EAL is up.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dataplane/clock.h"
#include "dataplane/common/rcu.h"
#include "dataplane/conntrack/state.h"
#include "dataplane/lb/service.h"
#include "dataplane/options.h"
#include "dataplane/port/port.h"
#include "dataplane/steer/flow_install.h"
#include "dataplane/steer/flow_rules.h"
#include "dataplane/steer/handoff.h"
#include "dataplane/steer/rss.h"
#include "dataplane/worker.h"

namespace nva {

// Every drop counter of worker `w` by name, zeros included, in one order
// that is the same for every worker: the packet faults by
// packet::DropReason (the parser's and the translator's checksum checks
// summed), the translator's nat::NatDrop, the fragment tracker's
// (kFragmentDropNames), then handoff_ring_full and tx_full. A name in two
// tables (only "none", never counted) is one entry. DataPlane::snapshot()
// sums these over the workers; /nva/workers publishes each worker's non-zero
// ones.
std::vector<std::pair<std::string_view, std::uint64_t>> worker_drops(const Worker& w);

// Every other counter of worker `w` by name, in one order that is the same
// for every worker and follows the counter tables (common/counter.h): the
// worker's (NVA_WORKER_COUNTERS) and its heartbeat, the translator's
// (NVA_TRANSLATOR_COUNTERS), the connections in its table now and the
// translator's drops in all, the tracker's (NVA_TRACKER_COUNTERS) and the
// fragment tracker's (NVA_FRAGMENT_COUNTERS). Read from any thread: each
// value is whole (Counter), the set is not a consistent cut. /nva/workers
// publishes them all; a counter added to a table appears there by itself.
std::vector<std::pair<std::string_view, std::uint64_t>> worker_counters(const Worker& w);

// Counters by name, in their tables' order.
using NamedCounters = std::vector<std::pair<std::string_view, std::uint64_t>>;

// One reading of a worker's counters, or their sums over the workers.
struct CounterSnapshot {
  NamedCounters counters;  // worker_counters()
  NamedCounters drops;     // worker_drops(), zeros included
  // The counter or drop called `name`; std::out_of_range names an unknown
  // one (a misspelt name fails loudly, not as a zero).
  std::uint64_t operator[](std::string_view name) const;
  std::uint64_t dropped() const;  // every drop
};

// DataPlane::snapshot(): every worker's counters and their sums by name (a
// sum is not meaningful for every counter: heartbeat).
struct DataPlaneSnapshot {
  std::vector<CounterSnapshot> workers;
  CounterSnapshot total;
  // Per worker: where it ran out of SNAT ports (nat/exhaustion.h).
  std::vector<std::vector<nat::ExhaustionEntry>> snat_exhaustion;
};

// What the worker counter `name` counts (its table's doc column), for
// metrics' HELP lines; empty for a name in no table.
std::string_view worker_counter_help(std::string_view name);

// Everything in the data plane that can hold packet buffers at the same
// time. The pool must be at least total(): less, and a full handoff ring or
// a fragment flood leaves RX without buffers. dataplane.mbufs = 0 sizes the
// pool at total() plus a quarter (at least kMinAutoMbufs).
struct MbufBudget {
  static constexpr std::uint32_t kMinAutoMbufs = 16383;
  std::uint32_t rx_descriptors = 0;  // every port's RX queues, filled by the PMD
  std::uint32_t tx_descriptors = 0;  // sent, not yet freed by the PMD
  std::uint32_t caches = 0;          // per-lcore mempool caches at their flush level
  std::uint32_t bursts = 0;          // workers' RX bursts and TX buffers
  std::uint32_t handoff_rings = 0;   // every worker's handoff ring full
  std::uint32_t fragments = 0;       // fragments held for their first
  std::uint32_t proxy_held = 0;      // the SYN proxy's segments held
  std::uint64_t total() const {
    return std::uint64_t{rx_descriptors} + tx_descriptors + caches + bursts +
           handoff_rings + fragments + proxy_held;
  }
  std::uint32_t auto_size() const;
  // "RX descriptors 1024 + TX descriptors 1024 + ... = 7520"
  std::string describe() const;
};

class DataPlane {
 public:
  // EAL must be initialised. `ports` are ethdev names (the options' unless
  // a caller such as --replay substitutes its own).
  DataPlane(const DataplaneOptions& opts, const conntrack::Timeouts& timeouts,
            const std::vector<lb::Service>& services,
            const std::vector<std::string>& ports);
  ~DataPlane();
  DataPlane(const DataPlane&) = delete;
  DataPlane& operator=(const DataPlane&) = delete;

  // Launches one worker per EAL worker lcore; throws if there are fewer
  // worker lcores than workers.
  void start();
  // Stops and joins the workers.
  void stop();

  // Runs every worker on the calling thread, round-robin, until `idle_polls`
  // consecutive rounds receive nothing (replay: the capture has ended).
  void run_until_idle(unsigned idle_polls);

  // Builds a new service table (Maglev tables included) off the packet path
  // and publishes it to the workers with RCU, without waiting: the old one
  // is freed by a later reclaim() once no worker can still see it (a stuck
  // worker cannot stall the control plane). Existing connections keep their
  // backend (unless the table asks to reset those of dead backends); new
  // ones use the new table. Call from the control-plane thread only.
  void update_services(const std::vector<lb::Service>& services,
                       lb::DeadBackendPolicy dead = lb::DeadBackendPolicy::kKeep);
  // Frees retired service tables; returns how many still wait for a worker.
  std::size_t reclaim() { return services_->reclaim(); }
  // The table the workers use now (control-plane thread only).
  const lb::ServiceTable& services() const { return *services_->read(); }

  // Every worker's counters (worker_counters(), worker_drops()) and their
  // sums, from any thread while the workers run. Memory order: each value is
  // one relaxed atomic load (common/counter.h): whole, never torn, and never
  // older than what an earlier snapshot() on the same thread saw; the set
  // is not a consistent cut (a packet in rx may not be in forwarded yet).
  // The logs, --replay's summary, /nva/workers and the tests read this.
  DataPlaneSnapshot snapshot() const;
  // Connections that still carry traffic: every timeout class but TCP
  // time-wait and closed (a drain waits for these).
  std::uint64_t active_connections() const;
  // Whether port i's link is up (a PMD that cannot tell counts as up).
  bool link_up(std::size_t i) const;
  // Packets handed to their owner's ring, and dropped because it was full,
  // all workers.
  std::uint64_t handoff_sent() const;
  std::uint64_t handoff_dropped() const;
  // Free buffers in the packet pool, and its size.
  std::uint32_t mbufs_free() const;
  std::uint32_t mbufs_total() const;
  // What the pool was sized or checked against.
  const MbufBudget& mbuf_budget() const { return budget_; }
  // --replay at the end of its capture: every worker drops the packets it
  // still holds (fragments as fragment_timeout, the SYN proxy's segments as
  // syn_proxy_held_timeout). Workers must not be running.
  void flush_held();
  const std::vector<port::PortInfo>& ports() const { return ports_; }
  // How packets reach their owner, for the start-up log: "RSS
  // pre-calculation (...)" or "software handoff (<why>)", after
  // "rte_flow (<classes>), then " when rte_flow steers some class.
  const std::string& steering() const { return steering_; }
  bool rss_precalc() const { return rss_ != nullptr; }
  // One line per port: which classes rte_flow steers, which fall back to
  // what, and why ("rte_flow on port X (driver): ...").
  const std::vector<std::string>& flow_lines() const { return flow_lines_; }
  // Whether rte_flow steers class c on every port.
  bool rss_flow(steer::FlowClass c) const { return flow_ != nullptr && flow_->steers(c); }
  Worker& worker(std::size_t i) { return *workers_[i]; }
  std::size_t worker_count() const { return workers_.size(); }

 private:
  static int lcore_main(void* arg);
  void build(const DataplaneOptions& d, const conntrack::Timeouts& timeouts,
             const std::vector<lb::Service>& services,
             const std::vector<std::string>& ports, const std::string& prefix);
  // Installs the rte_flow rules (dataplane.rss_flow) and says per port
  // what they steer; sets flow_ when some class is steered on every port.
  void choose_flow(const DataplaneOptions& d, const lb::ServiceTable& table);
  void release() noexcept;

  DataplaneOptions opts_;
  MbufBudget budget_;
  rte_mempool* pool_ = nullptr;
  std::vector<port::PortInfo> ports_;
  // Per port: the gateway MAC learned by ARP, shared by the workers.
  std::vector<std::unique_ptr<std::atomic<std::uint64_t>>> learned_macs_;
  std::unique_ptr<RcuDomain> rcu_;
  std::unique_ptr<RcuPublished<lb::ServiceTable>> services_;
  std::unique_ptr<steer::HandoffRings> handoff_;
  std::unique_ptr<steer::RssSteering> rss_;  // null: software handoff
  std::string steering_;
  // rte_flow: the installed rules (null: dataplane.rss_flow = off or one
  // worker), what owner() knows of them (null: no class steered), the rules
  // last installed (update_services() reinstalls when they change).
  std::unique_ptr<steer::FlowSteeringInstall> flow_install_;
  std::unique_ptr<steer::FlowSteering> flow_;
  std::vector<steer::FlowRule> flow_rules_;
  std::vector<std::string> flow_lines_;
  TscClock clock_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> stop_{false};
  bool running_ = false;
};

}  // namespace nva
