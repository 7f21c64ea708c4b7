// anycast-nva: the daemon's entry point (options, --check-config, --replay,
// and the data plane with signal handling).
#include <rte_eal.h>
#include <rte_errno.h>
#include <signal.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "controlplane/advertiser.h"
#include "controlplane/config/config.h"
#include "controlplane/replay.h"
#include "dataplane/dataplane.h"

namespace po = boost::program_options;

namespace {

constexpr const char* kVersion = "anycast-nva 0.1.0";

int run_daemon(const nva::config::Config& cfg) {
  // Signals are waited for by the main thread only; EAL's threads inherit
  // the mask set here.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGUSR1);  // test hook (dataplane.test_hooks)
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  std::vector<std::string> args = {"anycast-nva"};
  args.insert(args.end(), cfg.eal_args.begin(), cfg.eal_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0) {
    std::cerr << "anycast-nva: " << cfg.source
              << ": eal.args: EAL: " << rte_strerror(rte_errno) << "\n";
    return 1;
  }
  int status = 0;
  try {
    nva::DataPlane dp(cfg.dataplane, cfg.timeouts, cfg.services, cfg.dataplane.ports);
    for (const auto& p : dp.ports()) std::cout << nva::port::describe(p) << "\n";
    std::cout << "anycast-nva: steering: " << dp.steering() << "\n";
    dp.start();
    std::unique_ptr<nva::Advertiser> bgp;
    if (cfg.bgp.enabled) {
      std::vector<std::uint32_t> vips;
      for (const auto& s : cfg.services) vips.push_back(s.vip);
      std::sort(vips.begin(), vips.end());
      vips.erase(std::unique(vips.begin(), vips.end()), vips.end());
      bgp = std::make_unique<nva::Advertiser>(cfg.bgp, vips);
      std::cout << "anycast-nva: BGP AS " << cfg.bgp.local_as << ", announcing "
                << vips.size() << " VIP(s) to " << cfg.bgp.peers.size() << " peer(s)"
                << std::endl;
    }
    std::cout << "anycast-nva: running " << dp.worker_count() << " worker(s); "
              << "SIGTERM or SIGINT stops" << std::endl;
    // The control loop: signals, and the workers' heartbeats. A worker whose
    // heartbeat stands still for dataplane.watchdog_ms is stuck: the VIPs
    // are withdrawn until every worker beats again.
    const auto period = std::chrono::milliseconds(10);
    std::vector<std::uint64_t> beats(dp.worker_count(), 0);
    std::vector<std::chrono::steady_clock::time_point> moved(
        dp.worker_count(), std::chrono::steady_clock::now());
    bool healthy = true;
    int sig = 0;
    for (;;) {
      timespec ts{0,
                  std::chrono::duration_cast<std::chrono::nanoseconds>(period).count()};
      sig = sigtimedwait(&sigs, nullptr, &ts);
      if (sig == SIGUSR1 && cfg.dataplane.test_hooks) {
        // Test hook: stall worker 0 (or let it go again).
        auto& w = dp.worker(0);
        w.test_stall = !w.test_stall.load();
        std::cout << "anycast-nva: test hook: worker 0 "
                  << (w.test_stall.load() ? "stalled" : "released") << std::endl;
        continue;
      }
      if (sig == SIGINT || sig == SIGTERM) break;
      const auto now = std::chrono::steady_clock::now();
      bool all_beating = true;
      for (std::size_t i = 0; i < beats.size(); ++i) {
        const std::uint64_t hb = dp.worker(i).heartbeat();
        if (hb != beats[i]) {
          beats[i] = hb;
          moved[i] = now;
        } else if (now - moved[i] >
                   std::chrono::milliseconds(cfg.dataplane.watchdog_ms)) {
          all_beating = false;
        }
      }
      if (all_beating != healthy) {
        healthy = all_beating;
        std::cout << "anycast-nva: data plane "
                  << (healthy ? "healthy again" : "unhealthy") << ": "
                  << (healthy ? "announcing" : "withdrawing") << " the VIPs" << std::endl;
        if (bgp) bgp->set_announced(healthy);
      }
    }
    std::cout << "anycast-nva: signal " << sig << ", stopping" << std::endl;
    // Routes first (the peers stop sending traffic here), then the workers.
    if (bgp) bgp->stop("anycast-nva stopping");
    bgp.reset();
    dp.stop();
    const nva::DataPlaneStats s = dp.stats();
    std::cout << "anycast-nva: rx " << s.rx << ", tx " << s.tx << ", connections created "
              << s.connections_created << ", dropped " << s.dropped() << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "anycast-nva: " << e.what() << "\n";
    status = 1;
  }
  rte_eal_cleanup();
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description opts("anycast-nva options");
  opts.add_options()("help,h", "show this help")("version", "print the version")(
      "config,c", po::value<std::string>(), "configuration file (INI)")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override a configuration value: --set section.key=value (repeatable)")(
      "check-config", "validate the configuration and exit")(
      "replay", po::value<std::string>(),
      "replay a capture through the workers (pcap in)")(
      "replay-out", po::value<std::string>(),
      "where the replay writes the translated capture")(
      "json", "print the replay summary as JSON");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "anycast-nva: " << e.what() << "\n" << opts;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << "usage: anycast-nva --config FILE [--check-config | --replay IN.pcap "
                 "--replay-out OUT.pcap [--json]]\n"
              << opts;
    return 0;
  }
  if (vm.count("version")) {
    std::cout << kVersion << "\n";
    return 0;
  }
  if (!vm.count("config")) {
    std::cerr << "anycast-nva: --config FILE is required\n" << opts;
    return 2;
  }
  if (vm.count("replay") != vm.count("replay-out")) {
    std::cerr << "anycast-nva: --replay and --replay-out go together\n";
    return 2;
  }
  nva::config::Config cfg;
  try {
    const auto overrides = vm.count("set") ? vm["set"].as<std::vector<std::string>>()
                                           : std::vector<std::string>{};
    cfg = nva::config::load(vm["config"].as<std::string>(), overrides);
  } catch (const nva::config::ConfigError& e) {
    std::cerr << "anycast-nva: " << e.what() << "\n";
    return 2;
  }
  if (cfg.bgp.enabled) {
    try {
      nva::check_bgp(cfg.bgp);
    } catch (const nva::config::ConfigError& e) {
      std::cerr << "anycast-nva: " << cfg.source << ": " << e.what() << "\n";
      return 2;
    }
  }
  if (vm.count("check-config")) {
    std::cout << "config OK: " << nva::config::summary(cfg) << "\n";
    return 0;
  }
  if (vm.count("replay")) {
    return nva::replay::run(
        cfg, {vm["replay"].as<std::string>(), vm["replay-out"].as<std::string>(),
              vm.count("json") > 0});
  }
  if (cfg.dataplane.ports.empty()) {
    std::cerr << "anycast-nva: " << cfg.source
              << ": dataplane.ports: no port configured\n";
    return 2;
  }
  return run_daemon(cfg);
}
