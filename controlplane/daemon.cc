// The daemon's control plane (see daemon.h): everything below runs on the
// io_context thread except run()'s signal loop.
#include <utility>  // before Asio: Debian's Boost uses std::exchange without it

#include "controlplane/daemon.h"

#include <arpa/inet.h>

#include <unistd.h>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "controlplane/advertiser.h"
#include "controlplane/api/telemetry.h"
#include "controlplane/bgp/speaker.h"
#include "controlplane/health/dataplane_health.h"
#include "controlplane/health/decision.h"
#include "controlplane/health/prober.h"
#include "controlplane/logger.h"
#include "dataplane/dataplane.h"

namespace nva {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr milliseconds kTick{10};
constexpr milliseconds kCeaseFlush{300};  // NOTIFICATIONs on the wire
constexpr milliseconds kTelemetry{500};   // snapshot period of /nva/
constexpr const char* kVersion = "0.1.0";

std::string ip(std::uint32_t a) {
  in_addr in{htonl(a)};
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &in, buf, sizeof buf);
  return buf;
}

std::string endpoint(std::uint32_t a, std::uint16_t p) {
  return ip(a) + ":" + std::to_string(p);
}

long long ms_since(SteadyClock::time_point t, SteadyClock::time_point now) {
  return std::chrono::duration_cast<milliseconds>(now - t).count();
}

// Through the logger (logger.h): never blocks this thread on stdout; exact
// repeats, or lines of one `key`, are rate-limited.
void log(std::string line, std::string_view key = {}) {
  logging::line(key, std::move(line));
}

health::Target probe_target(const lb::Service& s, const lb::Backend& b,
                            const config::ProbeSettings& p) {
  return {b.addr, p.port ? *p.port : (b.port != 0 ? b.port : s.port)};
}

health::DecisionConfig decision_config(const config::HealthConfig& h) {
  health::DecisionConfig d;
  d.deprefer = h.action == config::UnhealthyAction::kDeprefer;
  d.hold_down = milliseconds(h.hold_down_ms);
  d.damping = h.damping;
  d.half_life = milliseconds(h.damping_half_life_ms);
  d.suppress = h.damping_suppress;
  d.reuse = h.damping_reuse;
  return d;
}

// What a reload cannot change without a restart; empty if nothing.
std::string restart_needed(const config::Config& a, const config::Config& b) {
  if (a.eal_args != b.eal_args) return "eal.args";
  if (!(a.dataplane == b.dataplane)) return "[dataplane]";
  if (a.timeouts.ms != b.timeouts.ms) return "[timeouts]";
  auto sessions = [](config::BgpConfig c) {
    c.prepend = 0;
    c.med.reset();
    c.communities.clear();
    c.large_communities.clear();
    return c;
  };
  if (!(sessions(a.bgp) == sessions(b.bgp))) {
    return "[bgp] sessions (AS, router id, source, peers, timers, max_prefixes_in)";
  }
  return "";
}

}  // namespace

struct Daemon::Impl {
  Impl(config::Config c, std::string p, std::vector<std::string> o, DataPlane& d);

  // --- io thread ---
  // Runs `f`; an exception is logged and counted, never thrown on: every
  // handler this file posts runs under it, so a bug or a refused input in
  // one handler costs that handler, not the process.
  template <typename F>
  void guarded(const char* what, F&& f) noexcept;
  void on_tick();
  void check_dataplane(SteadyClock::time_point now);
  void decide(SteadyClock::time_point now);
  void apply(std::uint32_t vip);
  struct Probe;
  std::vector<Probe> make_probes(const config::Config& c, std::vector<lb::Service>& svcs,
                                 std::map<std::string, std::size_t>& reuse);
  void install_probes(std::vector<Probe> next,
                      const std::map<std::string, std::size_t>& unused);
  void on_probe(std::size_t id, const health::BackendStatus& st);
  void reload();
  void start_drain(const std::string& cause);
  void drain_progress(SteadyClock::time_point now);
  void finish(const std::string& communication);
  std::optional<bgp::RouteAttributes> attributes_for(std::uint32_t vip) const;
  void publish_telemetry(SteadyClock::time_point now);

  config::Config cfg;
  const std::string path;
  const std::vector<std::string> overrides;
  DataPlane& dp;
  asio::io_context io;
  asio::steady_timer tick{io};
  asio::steady_timer flush{io};
  std::thread thread;
  std::unique_ptr<Advertiser> bgp;
  std::unique_ptr<health::Prober> prober;
  std::unique_ptr<api::Telemetry> telemetry;
  SteadyClock::time_point started, next_telemetry;

  // The services as the workers have them, with the probes' verdicts.
  std::vector<lb::Service> services;
  bool services_dirty = true;
  struct Probe {
    std::size_t service = 0, backend = 0;  // into `services`
    std::size_t id = 0;                    // the prober's
    std::string key;                       // what makes a probe the same across reloads
    std::optional<bool> healthy;           // the last verdict (nullopt: none yet)
  };
  std::vector<Probe> probes;
  std::map<std::size_t, std::size_t> probe_index;  // prober id -> probes[]
  std::map<std::uint32_t, std::vector<std::size_t>> vip_services;  // VIP -> services[]
  std::map<std::uint32_t, health::VipDecision> vips;

  // Data-plane health.
  health::DataplaneHealth dp_health{{}};
  bool dp_ok = true;
  std::string dp_reason;

  // Drain and stop.
  bool draining = false;
  bool finishing = false;
  SteadyClock::time_point drain_start, drain_deadline;
  std::atomic<bool> finished{false};

  // Exceptions caught by guarded() or the run loop (/nva/info).
  std::uint64_t handler_errors = 0;
};

template <typename F>
void Daemon::Impl::guarded(const char* what, F&& f) noexcept {
  try {
    f();
  } catch (const std::exception& e) {
    ++handler_errors;
    log(std::string("control plane: ") + what + ": " + e.what() +
        " (caught; the daemon keeps running)");
  } catch (...) {
    ++handler_errors;
    log(std::string("control plane: ") + what +
        ": unknown exception (caught; the daemon keeps running)");
  }
}

Daemon::Impl::Impl(config::Config c, std::string p, std::vector<std::string> o,
                   DataPlane& d)
    : cfg(std::move(c)), path(std::move(p)), overrides(std::move(o)), dp(d) {
  const auto now = SteadyClock::now();
  started = now;
  next_telemetry = now;
  dp_health.set_watchdog(milliseconds(cfg.dataplane.watchdog_ms));
  if (cfg.bgp.enabled) {
    bgp = std::make_unique<Advertiser>(io, cfg.bgp);
  }
  prober = std::make_unique<health::Prober>(io);
  services = cfg.services;
  std::map<std::string, std::size_t> none;
  install_probes(make_probes(cfg, services, none), none);
  for (const auto& s : services) vips.try_emplace(s.vip, decision_config(cfg.health));
  telemetry = std::make_unique<api::Telemetry>();
  telemetry->on_command(
      "/nva/drain",
      [this](const std::string&) {
        // The telemetry thread: only post, and read nothing the control
        // plane's thread writes.
        asio::post(
            io, [this] { guarded("drain", [this] { start_drain("drain command"); }); });
        return nlohmann::json{{"draining", 1}};
      },
      "Drain: withdraw (or GRACEFUL_SHUTDOWN) the VIPs, forward until idle, then exit");
  if (bgp) {
    log("anycast-nva: BGP AS " + std::to_string(cfg.bgp.local_as) + ", " +
        std::to_string(vips.size()) + " VIP(s) for " +
        std::to_string(cfg.bgp.peers.size()) + " peer(s), announced once healthy");
  }
}

// Probes for every backend of `svcs` under `c`, each backend's healthy flag
// set from its probe. `reuse`: key -> prober id of running probes to keep
// (with their health) instead of starting new ones; those used are erased
// from it. Strong guarantee: if adding a probe throws, the probes this call
// added are removed again and the running ones are untouched.
std::vector<Daemon::Impl::Probe> Daemon::Impl::make_probes(
    const config::Config& c, std::vector<lb::Service>& svcs,
    std::map<std::string, std::size_t>& reuse) {
  std::vector<Probe> out;
  std::vector<std::size_t> added;
  try {
    for (std::size_t i = 0; i < svcs.size(); ++i) {
      const config::ProbeSettings& ps = c.service_health[i].probe;
      for (std::size_t j = 0; j < svcs[i].backends.size(); ++j) {
        lb::Backend& b = svcs[i].backends[j];
        const health::Target t = probe_target(svcs[i], b, ps);
        std::ostringstream key;
        key << svcs[i].name << '|' << endpoint(b.addr, b.port) << '|'
            << endpoint(t.addr, t.port) << '|' << static_cast<int>(ps.kind) << '|'
            << ps.interval_ms << '|' << ps.timeout_ms << '|' << ps.rise << '|' << ps.fall
            << '|' << ps.http_path << '|' << ps.http_status << '|'
            << c.health.source.value_or(0);
        Probe p{i, j, 0, key.str()};
        if (const auto it = reuse.find(p.key); it != reuse.end()) {
          p.id = it->second;
          reuse.erase(it);
          p.healthy = prober->status(p.id).healthy;
          b.healthy = p.healthy.value_or(false);
        } else {
          // Unknown until probed: no new connection goes to it before.
          b.healthy = false;
          p.id = prober->add(t, config::probe_config(ps, c.health.source),
                             [this](std::size_t id, const health::BackendStatus& st) {
                               guarded("probe result", [&] { on_probe(id, st); });
                             });
          added.push_back(p.id);
        }
        out.push_back(std::move(p));
      }
    }
  } catch (...) {
    for (const std::size_t id : added) prober->remove(id);
    throw;
  }
  return out;
}

// Makes `next` (probes of `services`) the running probes; stops `unused`.
void Daemon::Impl::install_probes(std::vector<Probe> next,
                                  const std::map<std::string, std::size_t>& unused) {
  for (const auto& [key, id] : unused) prober->remove(id);
  probes = std::move(next);
  probe_index.clear();
  for (std::size_t k = 0; k < probes.size(); ++k) probe_index[probes[k].id] = k;
  vip_services.clear();
  for (std::size_t i = 0; i < services.size(); ++i)
    vip_services[services[i].vip].push_back(i);
  services_dirty = true;
}

void Daemon::Impl::on_probe(std::size_t id, const health::BackendStatus& st) {
  if (const auto it = probe_index.find(id); it != probe_index.end()) {
    Probe& p = probes[it->second];
    p.healthy = st.healthy;
    lb::Service& s = services[p.service];
    lb::Backend& b = s.backends[p.backend];
    const bool up = st.healthy.value_or(false);
    const std::string who =
        "health: service " + s.name + ": backend " + endpoint(b.addr, b.port);
    log(who + " " + (up ? "up" : "down") + " (" +
            health::probe_kind_name(st.kind).data() + ": " + st.last_detail + ")",
        who);
    if (b.healthy != up) {
      b.healthy = up;
      services_dirty = true;
    }
  }
}

void Daemon::Impl::on_tick() {
  // Armed first: if anything below throws (guarded() logs it), the next
  // tick still comes.
  tick.expires_after(kTick);
  tick.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) guarded("tick", [this] { on_tick(); });
  });
  const auto now = SteadyClock::now();
  check_dataplane(now);
  if (services_dirty) {
    // Published without waiting: a stuck worker cannot hold this thread.
    dp.update_services(services, cfg.health.dead_backend_connections);
    services_dirty = false;
  }
  dp.reclaim();
  decide(now);
  if (draining) drain_progress(now);
  if (now >= next_telemetry) {
    next_telemetry = now + kTelemetry;
    publish_telemetry(now);
  }
}

void Daemon::Impl::check_dataplane(SteadyClock::time_point now) {
  health::DataplaneSample sample;
  sample.heartbeats.reserve(dp.worker_count());
  for (std::size_t i = 0; i < dp.worker_count(); ++i) {
    sample.heartbeats.push_back(dp.worker(i).heartbeat());
  }
  for (std::size_t i = 0; i < dp.ports().size(); ++i) {
    sample.links.emplace_back(dp.ports()[i].name, dp.link_up(i));
  }
  sample.mbufs_free = dp.mbufs_free();
  sample.mbufs_total = dp.mbufs_total();
  sample.handoff_sent = dp.handoff_sent();
  sample.handoff_dropped = dp.handoff_dropped();
  if (dp_health.update(sample, now)) {
    log(dp_health.ok() ? "health: data plane healthy again"
                       : "health: data plane unhealthy: " + dp_health.reason());
  }
  dp_ok = dp_health.ok();
  dp_reason = dp_health.reason();
}

void Daemon::Impl::decide(SteadyClock::time_point now) {
  std::vector<std::uint32_t> healthy(services.size(), 0), known(services.size(), 0);
  for (const Probe& p : probes) {
    known[p.service] += p.healthy.has_value();
    healthy[p.service] += p.healthy.value_or(false);
  }
  for (auto& [vip, d] : vips) {
    std::vector<health::ServiceState> states;
    for (const std::size_t i : vip_services[vip]) {
      health::ServiceState st;
      st.name = services[i].name;
      st.total = static_cast<std::uint32_t>(services[i].backends.size());
      st.min_healthy = cfg.service_health[i].min_healthy_backends;
      st.known = known[i];
      st.healthy = healthy[i];
      states.push_back(st);
    }
    const health::Health h = health::vip_health(dp_ok, dp_reason, states);
    if (const auto c = d.update(h, now)) {
      log("health: VIP " + ip(vip) + ": " + std::string(health::advert_name(c->from)) +
          " -> " + std::string(health::advert_name(c->to)) + ": " + c->reason +
          (draining ? " (draining: not applied)" : ""));
      if (!draining) apply(vip);
    }
  }
}

std::optional<bgp::RouteAttributes> Daemon::Impl::attributes_for(
    std::uint32_t vip) const {
  const auto it = vips.find(vip);
  if (it == vips.end()) return std::nullopt;
  bgp::RouteAttributes a = route_attributes(cfg.bgp);
  switch (it->second.state()) {
    case health::Advert::kAnnounce:
      return a;
    case health::Advert::kDeprefer:
      a.prepend += cfg.health.deprefer_prepend;
      if (cfg.health.deprefer_med) a.med = cfg.health.deprefer_med;
      return a;
    case health::Advert::kWithdraw:
      break;
  }
  return std::nullopt;
}

void Daemon::Impl::apply(std::uint32_t vip) {
  if (bgp) bgp->set(vip, attributes_for(vip));
}

void Daemon::Impl::reload() {
  if (draining) {
    log("reload: draining: ignored");
    return;
  }
  log("reload: reading " + path);
  config::Config next;
  try {
    // The same validation as --check-config and start (config::load calls
    // each setting's own validator: the prober's, the speaker's).
    next = config::load(path, overrides);
    if (next.bgp.enabled) check_bgp(next.bgp);
  } catch (const config::ConfigError& e) {
    log(std::string("reload: ") + e.what() + ": keeping the running configuration");
    return;
  } catch (const std::exception& e) {
    log(std::string("reload: failed: ") + e.what() +
        ": keeping the running configuration");
    return;
  }
  if (const std::string why = restart_needed(cfg, next); !why.empty()) {
    log("reload: " + why +
        " changed, which needs a restart: keeping the running "
        "configuration");
    return;
  }
  const bool attrs_changed = !(route_attributes(cfg.bgp) == route_attributes(next.bgp));
  std::map<std::string, std::size_t> reuse;
  for (const Probe& p : probes) reuse[p.key] = p.id;
  const std::size_t before = reuse.size();
  // Everything that can fail happens before anything running changes.
  std::vector<lb::Service> next_services = next.services;
  std::vector<Probe> next_probes;
  try {
    next_probes = make_probes(next, next_services, reuse);
  } catch (const std::exception& e) {
    log(std::string("reload: cannot start the probes: ") + e.what() +
        ": keeping the running configuration");
    return;
  }
  const std::size_t kept = before - reuse.size();
  cfg = std::move(next);
  services = std::move(next_services);
  install_probes(std::move(next_probes), reuse);

  std::set<std::uint32_t> now_vips;
  for (const auto& s : services) now_vips.insert(s.vip);
  for (auto it = vips.begin(); it != vips.end();) {
    if (now_vips.count(it->first) == 0) {
      log("reload: VIP " + ip(it->first) + " has no service left: withdrawn");
      if (bgp) bgp->set(it->first, std::nullopt);
      it = vips.erase(it);
    } else {
      it->second.set_config(decision_config(cfg.health));
      ++it;
    }
  }
  for (std::uint32_t v : now_vips) {
    if (vips.try_emplace(v, decision_config(cfg.health)).second) {
      log("reload: VIP " + ip(v) + " added: announced once healthy");
    }
  }
  if (attrs_changed) {
    for (const auto& [vip, d] : vips) apply(vip);
  }
  log("reload: applied: " + std::to_string(services.size()) + " service(s), " +
      std::to_string(probes.size()) + " backend probe(s) (" + std::to_string(kept) +
      " kept of " + std::to_string(before) + "), route attributes " +
      (attrs_changed ? "changed" : "unchanged"));
}

void Daemon::Impl::start_drain(const std::string& cause) {
  if (draining) return;
  draining = true;
  drain_start = SteadyClock::now();
  drain_deadline = drain_start + milliseconds(cfg.drain.time_ms);
  const bool gshut = cfg.drain.mode == config::DrainConfig::Mode::kGracefulShutdown;
  std::size_t n = 0;
  if (bgp) {
    for (const auto& [vip, d] : vips) {
      auto a = bgp->get(vip);
      if (!a) continue;
      ++n;
      if (gshut) {
        a->graceful_shutdown = true;
        bgp->set(vip, a);
      } else {
        bgp->set(vip, std::nullopt);
      }
    }
  }
  log("drain: " + cause + ": " + (gshut ? "GRACEFUL_SHUTDOWN on " : "withdrew ") +
      std::to_string(n) + " VIP(s); forwarding while connections remain, at most " +
      std::to_string(cfg.drain.time_ms) + " ms");
  drain_progress(drain_start);
}

void Daemon::Impl::drain_progress(SteadyClock::time_point now) {
  if (finishing) return;
  const std::uint64_t active = dp.active_connections();
  if (active != 0 && now < drain_deadline) return;
  log("drain: done after " + std::to_string(ms_since(drain_start, now)) + " ms: " +
      (active == 0 ? std::string("no active connection left")
                   : "time up with " + std::to_string(active) + " active connection(s)"));
  finish("anycast-nva stopping");
}

void Daemon::Impl::finish(const std::string& communication) {
  if (finishing) return;
  finishing = true;
  if (bgp) bgp->stop(communication);
  publish_telemetry(SteadyClock::now());
  flush.expires_after(kCeaseFlush);
  flush.async_wait([this](const boost::system::error_code&) { finished = true; });
}

// Snapshots for the /nva/ telemetry commands (docs/TELEMETRY.md).
void Daemon::Impl::publish_telemetry(SteadyClock::time_point now) {
  using nlohmann::json;
  telemetry->publish(
      "/nva/info",
      {{"version", kVersion},
       {"uptime_s",
        std::chrono::duration_cast<std::chrono::seconds>(now - started).count()},
       {"state", finishing  ? "stopping"
                 : draining ? "draining"
                            : "running"},
       {"workers", dp.worker_count()},
       {"pid", static_cast<std::uint64_t>(getpid())},
       {"dataplane_healthy", dp_ok ? 1 : 0},
       {"dataplane_reason", dp_reason},
       {"active_connections", dp.active_connections()},
       {"mbufs_free", dp.mbufs_free()},
       {"control_plane_errors", handler_errors},
       {"config", cfg.source}});
  json workers = json::object();
  for (std::size_t i = 0; i < dp.worker_count(); ++i) {
    // Every counter of the worker's tables (worker_counters()), by name.
    json w = json::object();
    for (const auto& [name, n] : worker_counters(dp.worker(i))) w[std::string(name)] = n;
    // Drops by reason, non-zero only, as flat "drop_<reason>" fields: DPDK
    // telemetry serves one level of containers below the top (a nested
    // object would become a string cut at 127 bytes), and zeros for every
    // reason would cost ~1.5 KiB of the 16 KiB answer per worker.
    std::uint64_t dropped = 0;
    for (const auto& [name, n] : worker_drops(dp.worker(i))) {
      dropped += n;
      if (n != 0) w["drop_" + std::string(name)] = n;
    }
    w["dropped"] = dropped;
    workers[std::to_string(i)] = std::move(w);
  }
  telemetry->publish("/nva/workers", std::move(workers));

  json snat = json::array();
  for (std::size_t i = 0; i < dp.worker_count(); ++i) {
    const nat::ExhaustionTally& t = dp.worker(i).translator().exhaustion();
    for (std::size_t k = 0; k < t.size(); ++k) {
      snat.push_back({{"worker", i},
                      {"backend", endpoint(t[k].backend_addr, t[k].backend_port)},
                      {"snat", ip(t[k].snat_addr)},
                      {"exhausted", t[k].count},
                      {"error", t[k].error}});
    }
  }
  telemetry->publish("/nva/snat", std::move(snat));

  json svcs = json::array();
  json backends = json::array();
  for (std::size_t i = 0; i < services.size(); ++i) {
    const lb::Service& s = services[i];
    std::uint32_t up = 0;
    for (const Probe& p : probes) {
      if (p.service != i) continue;
      const health::BackendStatus st = prober->status(p.id);
      const lb::Backend& b = s.backends[p.backend];
      up += st.healthy.value_or(false);
      backends.push_back(
          {{"service", s.name},
           {"address", ip(b.addr)},
           {"port", b.port},
           {"weight", b.weight},
           {"healthy", st.healthy.value_or(false) ? 1 : 0},
           {"state", !st.healthy   ? "unknown"
                     : *st.healthy ? "up"
                                   : "down"},
           {"probe", std::string(health::probe_kind_name(st.kind))},
           {"last_detail", st.last_detail},
           {"last_rtt_us", st.last_rtt.count()},
           {"probes", st.probes},
           {"failures", st.failures},
           {"last_change_s",
            st.transitions == 0
                ? -1
                : std::chrono::duration_cast<std::chrono::seconds>(now - st.last_change)
                      .count()}});
    }
    svcs.push_back({{"name", s.name},
                    {"vip", ip(s.vip)},
                    {"port", s.port},
                    {"proto", s.proto == 6 ? "tcp" : "udp"},
                    {"mode", s.mode == lb::NatMode::kDnat ? "dnat" : "dnat+snat"},
                    {"snat", s.mode == lb::NatMode::kDnatSnat ? 1 : 0},
                    {"backends", s.backends.size()},
                    {"healthy", up},
                    {"min_healthy", cfg.service_health[i].min_healthy_backends}});
  }
  telemetry->publish("/nva/services", std::move(svcs));
  telemetry->publish("/nva/backends", std::move(backends));

  json decisions = json::array();
  for (const auto& [vip, d] : vips) {
    const auto attrs = bgp ? bgp->get(vip) : std::nullopt;
    decisions.push_back({{"vip", ip(vip)},
                         {"decision", std::string(health::advert_name(d.state()))},
                         {"advertise", attrs ? 1 : 0},
                         {"reason", draining ? "draining" : d.reason()},
                         {"falls", d.falls()},
                         {"suppressed", d.suppressed() ? 1 : 0},
                         {"penalty", static_cast<std::uint64_t>(d.penalty(now))}});
  }
  telemetry->publish("/nva/health", std::move(decisions));

  if (!bgp) return;
  json peers = json::array();
  json routes = json::array();
  for (const bgp::PeerStatus& p : bgp->speaker().peers()) {
    peers.push_back({{"name", p.name},
                     {"address", bgp::to_string(p.address)},
                     {"remote_as", p.negotiated ? p.negotiated->peer_as : 0},
                     {"state", std::string(bgp::state_name(p.state))},
                     {"prefixes_sent", p.routes_sent},
                     {"prefixes_received", p.routes_received},
                     {"prefix_limit_resets", p.counters.prefix_limit_resets},
                     {"established_transitions", p.counters.established_transitions},
                     {"last_error", p.last_notification_received ? "notification received"
                                    : p.last_notification_sent   ? "notification sent"
                                                                 : ""}});
    for (const auto& [prefix, attrs] : bgp->speaker().sent_routes(p.name)) {
      routes.push_back({{"peer", p.name},
                        {"prefix", prefix.to_string()},
                        {"direction", "advertised"},
                        {"med", attrs.multi_exit_disc ? *attrs.multi_exit_disc : 0},
                        {"communities", attrs.communities.size()}});
    }
  }
  telemetry->publish("/nva/bgp/peers", std::move(peers));
  telemetry->publish("/nva/bgp/routes", std::move(routes));
}

Daemon::Daemon(config::Config cfg, std::string path, std::vector<std::string> overrides,
               DataPlane& dp)
    : impl_(std::make_unique<Impl>(std::move(cfg), std::move(path), std::move(overrides),
                                   dp)) {}

Daemon::~Daemon() {
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

int Daemon::run(const sigset_t& sigs) {
  Impl& m = *impl_;
  asio::post(m.io, [&m] { m.guarded("tick", [&m] { m.on_tick(); }); });
  m.thread = std::thread([&m] {
    // The last line of defence for handlers this file does not wrap (the
    // speaker's, the prober's): Asio lets run() be called again after a
    // handler threw; the io_context's other work is untouched.
    for (;;) {
      try {
        m.io.run();
        return;
      } catch (const std::exception& e) {
        ++m.handler_errors;
        log(std::string("control plane: handler failed: ") + e.what() +
            " (caught; the daemon keeps running)");
      } catch (...) {
        ++m.handler_errors;
        log("control plane: handler failed: unknown exception (caught; the daemon keeps "
            "running)");
      }
    }
  });
  bool stopping = false;
  while (!m.finished.load()) {
    timespec ts{0, 100'000'000};
    const int sig = sigtimedwait(&sigs, nullptr, &ts);
    if (sig == SIGUSR1 && m.cfg.dataplane.test_hooks) {
      auto& w = m.dp.worker(0);
      w.test_stall = !w.test_stall.load();
      log(std::string("anycast-nva: test hook: worker 0 ") +
          (w.test_stall.load() ? "stalled" : "released"));
    } else if (sig == SIGUSR2 && m.cfg.dataplane.test_hooks) {
      // Test hook: one handler that throws under guarded() and one that
      // throws bare (caught by the run loop); the daemon must run on.
      asio::post(m.io, [&m] {
        m.guarded("test hook",
                  [] { throw std::runtime_error("test hook: a throwing handler"); });
      });
      asio::post(m.io,
                 [] { throw std::runtime_error("test hook: a bare throwing handler"); });
    } else if (sig == SIGHUP) {
      asio::post(m.io, [&m] { m.guarded("reload", [&m] { m.reload(); }); });
    } else if (sig == SIGTERM || sig == SIGINT) {
      const std::string name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
      if (!stopping) {
        stopping = true;
        asio::post(m.io,
                   [&m, name] { m.guarded("drain", [&] { m.start_drain(name); }); });
      } else {
        log("anycast-nva: " + name + " again: stopping without waiting for the drain");
        asio::post(m.io, [&m] {
          m.guarded("stop", [&m] { m.finish("anycast-nva stopping"); });
        });
      }
    }
  }
  m.io.stop();
  m.thread.join();
  return 0;
}

}  // namespace nva
