// --replay: EAL with a net_pcap port, one worker polled on this thread until
// the capture is used up, then the summary.
#include "dataplane/replay.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "dataplane/dataplane.h"

namespace nva::replay {

namespace {

constexpr const char* kPortName = "net_pcap_replay";
// Rounds without a packet after which the capture counts as used up (the
// pcap PMD returns nothing once the file is read).
constexpr unsigned kIdleRounds = 2000;

// `mbufs_in_use`: buffers not back in the pool after the run (and the
// fragment flush). net_pcap holds none between bursts (it allocates one per
// packet read and frees each one it writes), the worker's TX buffers and
// its handoff ring are empty when it is idle: anything but 0 is a leak or a
// buffer still held.
void print(const CounterSnapshot& s, const ReplayOptions& o, std::uint32_t mbufs_in_use,
           std::uint32_t mbufs_total) {
  std::vector<std::pair<std::string_view, std::uint64_t>> drops;
  for (const auto& d : s.drops)
    if (d.second != 0) drops.push_back(d);
  if (o.json) {
    nlohmann::json j;
    j["input"] = o.input;
    j["output"] = o.output;
    j["packets_in"] = s["rx"];
    j["packets_out"] = s["tx"];
    j["forwarded"] = s["forwarded"];
    j["answered"] = s["replied_local"];
    j["dropped"] = s.dropped();
    j["exceptions"] = s["exception_dropped"];
    j["connections_created"] = s["connections_created"];
    j["connections_live"] = s["connections"];
    j["syn_cookies_sent"] = s["syn_cookies_sent"];
    j["syn_cookies_valid"] = s["syn_cookies_valid"];
    j["syn_proxy_established"] = s["syn_proxy_established"];
    nlohmann::json d = nlohmann::json::object();
    for (const auto& [why, n] : drops) d[std::string(why)] = n;
    j["drops"] = d;
    j["mbufs_in_use"] = mbufs_in_use;
    j["mbufs_total"] = mbufs_total;
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << "replay: " << o.input << " -> " << o.output << "\n"
            << "packets: in " << s["rx"] << ", out " << s["tx"] << " (forwarded "
            << s["forwarded"] << ", answered " << s["replied_local"] << "), dropped "
            << s.dropped() << ", exceptions " << s["exception_dropped"] << "\n"
            << "connections: created " << s["connections_created"] << ", live "
            << s["connections"] << "\n";
  if (s["syn_cookies_sent"] != 0 || s["syn_cookies_valid"] != 0) {
    std::cout << "syn proxy: cookies sent " << s["syn_cookies_sent"] << ", valid "
              << s["syn_cookies_valid"] << ", established " << s["syn_proxy_established"]
              << "\n";
  }
  if (!drops.empty()) {
    std::cout << "drops:";
    for (const auto& [why, n] : drops) std::cout << " " << why << " " << n;
    std::cout << "\n";
  }
  std::cout << "mbufs: in use " << mbufs_in_use << " of " << mbufs_total << "\n";
}

}  // namespace

int run(const DataplaneOptions& dataplane, const conntrack::Timeouts& timeouts,
        const std::vector<lb::Service>& services, const ReplayOptions& o) {
  if (std::ifstream probe(o.input, std::ios::binary); !probe) {
    std::cerr << "anycast-nva: --replay " << o.input << ": cannot read\n";
    return 2;
  }
  if (std::ofstream probe(o.output, std::ios::binary | std::ios::app); !probe) {
    std::cerr << "anycast-nva: --replay-out " << o.output << ": cannot write\n";
    return 2;
  }
  std::vector<std::string> args = {
      "anycast-nva",
      "-l",
      "0",
      "--no-huge",
      "--no-pci",
      "-m",
      "512",
      "--no-telemetry",
      "--log-level=*:warning",
      "--file-prefix=nva-replay-" + std::to_string(::getpid()),
      std::string("--vdev=") + kPortName + ",rx_pcap=" + o.input +
          ",tx_pcap=" + o.output};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0) {
    std::cerr << "anycast-nva: replay: EAL: " << rte_strerror(rte_errno) << "\n";
    return 1;
  }
  int status = 0;
  try {
    DataplaneOptions d = dataplane;
    // One worker on the capture's single queue: the output keeps the input's
    // order, so a replay is repeatable.
    d.workers = 1;
    DataPlane dp(d, timeouts, services, {kPortName});
    dp.run_until_idle(kIdleRounds);
    // Fragments still waiting for their first fragment never get it: they are
    // dropped as timed out, so every packet in is accounted for.
    dp.flush_held();
    const DataPlaneSnapshot s = dp.snapshot();
    // Destroying the data plane closes the port, which writes the capture.
    print(s.total, o, dp.mbufs_total() - dp.mbufs_free(), dp.mbufs_total());
  } catch (const std::exception& e) {
    std::cerr << "anycast-nva: replay: " << e.what() << "\n";
    status = 1;
  }
  // The per-run file prefix's runtime directory goes too (EAL leaves it).
  const std::string runtime_dir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  std::error_code ec;
  std::filesystem::remove_all(runtime_dir, ec);
  return status;
}

}  // namespace nva::replay
