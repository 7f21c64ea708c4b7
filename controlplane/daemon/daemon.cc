// The daemon's control plane (see daemon.h): everything below runs on the
// io_context thread except run()'s signal loop. The parts by role: the
// backends and their probes (backends.h), the VIPs' advertisement
// decisions (adverts.h), the /nva/ documents (publish.h); this file holds
// the loop that ties them (tick, data-plane watchdog), reload and drain.
#include <utility>  // before Asio: Debian's Boost uses std::exchange without it

#include "controlplane/daemon/daemon.h"

#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <thread>

#include "controlplane/advertiser.h"
#include "controlplane/api/telemetry.h"
#include "controlplane/bgp/speaker.h"
#include "controlplane/daemon/adverts.h"
#include "controlplane/daemon/backends.h"
#include "controlplane/daemon/maintenance.h"
#include "controlplane/daemon/notify.h"
#include "controlplane/daemon/publish.h"
#include "controlplane/health/dataplane_health.h"
#include "controlplane/logger.h"
#include "controlplane/metrics/metrics.h"
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

long long ms_since(SteadyClock::time_point t, SteadyClock::time_point now) {
  return std::chrono::duration_cast<milliseconds>(now - t).count();
}

// Through the logger (logger.h): never blocks this thread on stdout; exact
// repeats, or lines of one `key`, are rate-limited.
void log(std::string line, std::string_view key = {}) {
  logging::line(key, std::move(line));
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
  void reload();
  void start_drain(const std::string& cause);
  void drain_progress(SteadyClock::time_point now);
  void finish(const std::string& communication);
  void publish_telemetry(SteadyClock::time_point now);
  // "2 workers; VIPs announced 1/1; BGP peers up 2/2" (systemd's STATUS).
  std::string status_line() const;

  config::Config cfg;
  const std::string path;
  const std::vector<std::string> overrides;
  DataPlane& dp;
  asio::io_context io;
  asio::steady_timer tick{io};
  asio::steady_timer flush{io};
  std::thread thread;
  std::unique_ptr<Advertiser> bgp;
  std::unique_ptr<Backends> backends;
  std::unique_ptr<VipAdverts> adverts;
  std::unique_ptr<api::Telemetry> telemetry;
  // The /nva/ documents as last published: what /metrics renders.
  std::map<std::string, nlohmann::json> documents;
  void publish(const std::string& doc_path, nlohmann::json doc);
  std::unique_ptr<metrics::Server> metrics_server;  // [metrics] address
  std::unique_ptr<Maintenance> maintenance;         // [azure] scheduled_events
  SteadyClock::time_point started, next_telemetry;

  // Data-plane health.
  health::DataplaneHealth dp_health{{}};
  bool dp_ok = true;
  std::string dp_reason;
  std::vector<std::uint64_t> heartbeats;  // the last sample's

  // systemd (Type=notify): READY, STATUS, STOPPING, WATCHDOG.
  Notifier notifier = Notifier::from_environment();
  std::string status;  // status_line(), refreshed with the telemetry

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
  backends = std::make_unique<Backends>(
      io, [this](const char* what, const std::function<void()>& f) { guarded(what, f); },
      [](std::string line, std::string key) { log(std::move(line), key); });
  backends->install(backends->plan(cfg));
  adverts = std::make_unique<VipAdverts>(bgp.get(),
                                         [](std::string line) { log(std::move(line)); });
  adverts->configure(backends->vips(), cfg, /*reload=*/false);
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
  if (cfg.metrics.address) {
    const config::Endpoint& m = *cfg.metrics.address;
    metrics_server = std::make_unique<metrics::Server>(
        io, config::ipv4_string(m.addr), m.port, [this] {
          return metrics::render(
              [this](const std::string& doc_path) {
                const auto it = documents.find(doc_path);
                return it == documents.end() ? nlohmann::json() : it->second;
              },
              [](std::string_view name) {
                const std::string_view w = worker_counter_help(name);
                return w.empty() ? bgp::peer_counter_help(name) : w;
              });
        });
    log("anycast-nva: metrics at http://" + health::format_target({m.addr, m.port}) +
        "/metrics");
  }
  if (cfg.azure.scheduled_events) {
    azure::PollerConfig pc;
    pc.host = config::ipv4_string(cfg.azure.imds.addr);
    pc.port = cfg.azure.imds.port;
    pc.vm_name = cfg.azure.vm_name;
    pc.interval = milliseconds(cfg.azure.poll_ms);
    Maintenance::Hooks hooks;
    hooks.hold = [this](const std::string& why) {
      return adverts->hold(cfg.drain.mode == config::DrainConfig::Mode::kGracefulShutdown,
                           why);
    };
    // The drain holds the VIPs for good: a maintenance that ends during it
    // gives nothing back.
    hooks.release = [this] {
      if (!draining) adverts->release();
    };
    hooks.active = [this] { return dp.active_connections(); };
    hooks.log = [](const std::string& line) { log(line); };
    maintenance = std::make_unique<Maintenance>(io, pc, milliseconds(cfg.drain.time_ms),
                                                std::move(hooks));
    maintenance->start();
    log("anycast-nva: Azure Scheduled Events polled at " +
        health::format_target({cfg.azure.imds.addr, cfg.azure.imds.port}) + " every " +
        std::to_string(cfg.azure.poll_ms) + " ms");
  }
  if (bgp) {
    log("anycast-nva: BGP AS " + std::to_string(cfg.bgp.local_as) + ", " +
        std::to_string(adverts->size()) + " VIP(s) for " +
        std::to_string(cfg.bgp.peers.size()) + " peer(s), announced once healthy");
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
  if (backends->take_dirty()) {
    // Published without waiting: a stuck worker cannot hold this thread.
    dp.update_services(backends->services(), cfg.health.dead_backend_connections);
  }
  dp.reclaim();
  adverts->decide(now, dp_ok, dp_reason, *backends, cfg.service_health);
  if (maintenance) maintenance->tick(now);
  if (draining) drain_progress(now);
  if (now >= next_telemetry) {
    next_telemetry = now + kTelemetry;
    publish_telemetry(now);
    status = status_line();
  }
  // The speaker runs once this object exists (its listener is open): ready
  // when the workers are.
  if (const auto line = notifier.tick(now, heartbeats, /*started=*/true, status))
    log(*line);
}

std::string Daemon::Impl::status_line() const {
  std::size_t announced = 0;
  for (const auto& [vip, d] : adverts->decisions())
    announced += !adverts->held() && d.state() != health::Advert::kWithdraw;
  std::string s = std::to_string(dp.worker_count()) + " workers; VIPs announced " +
                  std::to_string(announced) + "/" + std::to_string(adverts->size());
  if (bgp) {
    std::size_t up = 0, all = 0;
    for (const bgp::PeerStatus& p : bgp->speaker().peers()) {
      ++all;
      up += p.state == bgp::State::kEstablished;
    }
    s += "; BGP peers up " + std::to_string(up) + "/" + std::to_string(all);
  }
  if (!dp_ok) s += "; data plane unhealthy";
  if (adverts->held() && !draining)
    s += "; " + adverts->held_why();  // the reason changes by the ms: /nva/info
  return s;
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
  heartbeats = std::move(sample.heartbeats);
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
  } catch (const config::ConfigError& e) {
    log(std::string("reload: ") + e.what() + ": keeping the running configuration");
    return;
  } catch (const std::exception& e) {
    log(std::string("reload: failed: ") + e.what() +
        ": keeping the running configuration");
    return;
  }
  // The settings table's restart column (config/settings.cc).
  if (const auto changed = config::settings_needing_restart(cfg, next);
      !changed.empty()) {
    std::string names;
    for (const std::string& n : changed) names += (names.empty() ? "" : ", ") + n;
    log("reload: " + names +
        " changed, which needs a restart: keeping the running configuration");
    return;
  }
  // Everything that can fail happens before anything running changes.
  const std::size_t before = backends->probes().size();
  Backends::Plan plan;
  try {
    plan = backends->plan(next);
  } catch (const std::exception& e) {
    log(std::string("reload: cannot start the probes: ") + e.what() +
        ": keeping the running configuration");
    return;
  }
  const std::size_t kept = plan.kept;
  cfg = std::move(next);
  backends->install(std::move(plan));
  adverts->configure(backends->vips(), cfg, /*reload=*/true);
  log("reload: applied: " + std::to_string(backends->services().size()) +
      " service(s), " + std::to_string(backends->probes().size()) +
      " backend probe(s) (" + std::to_string(kept) + " kept of " +
      std::to_string(before) + "), route attributes " +
      (adverts->route_attributes_changed() ? "changed" : "unchanged"));
}

void Daemon::Impl::start_drain(const std::string& cause) {
  if (draining) return;
  draining = true;
  drain_start = SteadyClock::now();
  drain_deadline = drain_start + milliseconds(cfg.drain.time_ms);
  const bool gshut = cfg.drain.mode == config::DrainConfig::Mode::kGracefulShutdown;
  const std::size_t n = adverts->hold(gshut, "draining");
  log("drain: " + cause + ": " + (gshut ? "GRACEFUL_SHUTDOWN on " : "withdrew ") +
      std::to_string(n) + " VIP(s); forwarding while connections remain, at most " +
      std::to_string(cfg.drain.time_ms) + " ms");
  notifier.stopping("draining (" + cause + "): " + std::to_string(n) +
                    " VIP(s) withdrawn or GRACEFUL_SHUTDOWN");
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
  const DataPlaneSnapshot snap = dp.snapshot();
  const logging::LoggerStats logs = logging::stdout_logger().stats();
  publish("/nva/info",
          {{"version", kVersion},
           {"uptime_s",
            std::chrono::duration_cast<std::chrono::seconds>(now - started).count()},
           {"state", finishing  ? "stopping"
                     : draining ? "draining"
                     : maintenance && maintenance->state() != Maintenance::State::kIdle
                         ? "maintenance"
                         : "running"},
           {"workers", dp.worker_count()},
           {"pid", static_cast<std::uint64_t>(getpid())},
           {"dataplane_healthy", dp_ok ? 1 : 0},
           {"dataplane_reason", dp_reason},
           {"active_connections", dp.active_connections()},
           {"mbufs_free", dp.mbufs_free()},
           {"mbufs_total", dp.mbufs_total()},
           {"control_plane_errors", handler_errors},
           {"log_lines_written", logs.written},
           {"log_lines_dropped", logs.dropped},
           {"log_lines_suppressed", logs.suppressed},
           {"config", cfg.source}});
  publish("/nva/workers", workers_json(snap));
  publish("/nva/snat", snat_json(snap));
  ServicesJson svcs = services_json(*backends, cfg.service_health, now);
  publish("/nva/services", std::move(svcs.services));
  publish("/nva/backends", std::move(svcs.backends));
  publish("/nva/health", health_json(*adverts, bgp.get(), now));
  if (maintenance) publish("/nva/azure", azure_json(*maintenance));
  if (!bgp) return;
  BgpJson b = bgp_json(*bgp);
  publish("/nva/bgp/peers", std::move(b.peers));
  publish("/nva/bgp/routes", std::move(b.routes));
}

void Daemon::Impl::publish(const std::string& doc_path, nlohmann::json doc) {
  if (metrics_server) documents[doc_path] = doc;
  telemetry->publish(doc_path, std::move(doc));
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
