// anycast-nva: the daemon's entry point (options, --check-config, --replay,
// and the data plane with signal handling).
#include <rte_eal.h>
#include <rte_errno.h>
#include <signal.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "controlplane/config/config.h"
#include "controlplane/daemon/daemon.h"
#include "controlplane/logger.h"
#include "dataplane/dataplane.h"
#include "dataplane/replay.h"

namespace po = boost::program_options;

namespace {

constexpr const char* kVersion = "anycast-nva 0.1.0";

int run_daemon(const nva::config::Config& cfg, const std::string& path,
               const std::vector<std::string>& overrides) {
  // Signals are waited for by the main thread only; EAL's and the control
  // plane's threads inherit the mask set here.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGHUP);
  sigaddset(&sigs, SIGUSR1);  // test hooks (dataplane.test_hooks)
  sigaddset(&sigs, SIGUSR2);
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
    for (const auto& l : dp.flow_lines()) std::cout << "anycast-nva: " << l << "\n";
    std::cout << "anycast-nva: steering: " << dp.steering() << "\n";
    std::cout << "anycast-nva: packet buffers: " << dp.mbufs_total() << " for "
              << dp.mbuf_budget().describe() << std::endl;
    dp.start();
    // From here on, lines go through the logger (logger.h), in order with
    // the control plane's.
    {
      nva::Daemon daemon(cfg, path, overrides, dp);
      nva::logging::line({}, "anycast-nva: running " + std::to_string(dp.worker_count()) +
                                 " worker(s); SIGTERM drains and stops, SIGHUP reloads");
      status = daemon.run(sigs);
    }
    dp.stop();
    const nva::CounterSnapshot s = dp.snapshot().total;
    nva::logging::line({}, "anycast-nva: rx " + std::to_string(s["rx"]) + ", tx " +
                               std::to_string(s["tx"]) + ", connections created " +
                               std::to_string(s["connections_created"]) + ", dropped " +
                               std::to_string(s.dropped()));
    nva::logging::stdout_logger().flush(nva::logging::kExitGrace);
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
      "help-config", "print every configuration setting as a Markdown table and exit")(
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
  if (vm.count("help-config")) {
    std::cout << nva::config::settings_markdown();
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
  if (vm.count("check-config")) {
    std::cout << "config OK: " << nva::config::summary(cfg) << "\n";
    return 0;
  }
  if (vm.count("replay")) {
    return nva::replay::run(cfg.dataplane, cfg.timeouts, cfg.services,
                            {vm["replay"].as<std::string>(),
                             vm["replay-out"].as<std::string>(), vm.count("json") > 0});
  }
  if (cfg.dataplane.ports.empty()) {
    std::cerr << "anycast-nva: " << cfg.source
              << ": dataplane.ports: no port configured\n";
    return 2;
  }
  return run_daemon(cfg, vm["config"].as<std::string>(),
                    vm.count("set") ? vm["set"].as<std::vector<std::string>>()
                                    : std::vector<std::string>{});
}
