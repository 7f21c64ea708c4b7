// Entry point of nva-bench: Google Benchmark's main plus the machine context.
#include <benchmark/benchmark.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_env.h"

namespace {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown";
}

// EAL for the benchmarks that need DPDK memory (rte_hash, mempools): one
// lcore, no PCI, no hugepages unless NVA_BENCH_EAL overrides the arguments.
bool start_eal() {
  std::string args =
      "-l 0 --no-pci --no-huge -m 8192 --no-telemetry --log-level=*:warning";
  if (nva::bench::smoke())
    args = "-l 0 --no-pci --no-huge -m 512 --no-telemetry --log-level=*:warning";
  if (const char* env = std::getenv("NVA_BENCH_EAL")) args = env;
  args += " --file-prefix=nvabench" + std::to_string(::getpid());
  std::vector<std::string> words{"nva-bench"};
  std::istringstream in(args);
  for (std::string w; in >> w;) words.push_back(w);
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(words.size()), argv.data()) < 0) {
    std::fprintf(stderr, "nva-bench: rte_eal_init(%s): %s\n", args.c_str(),
                 rte_strerror(rte_errno));
    return false;
  }
  return true;
}

}  // namespace

bool nva::bench::smoke() { return std::getenv("NVA_BENCH_SMOKE") != nullptr; }

namespace {
std::vector<std::function<void()>>& teardowns() {
  static std::vector<std::function<void()>> v;
  return v;
}
}  // namespace

void nva::bench::at_teardown(std::function<void()> fn) {
  teardowns().push_back(std::move(fn));
}

int main(int argc, char** argv) {
  benchmark::AddCustomContext("cpu_model", cpu_model());
  benchmark::AddCustomContext("hardware_threads",
                              std::to_string(std::thread::hardware_concurrency()));
#ifdef NDEBUG
  benchmark::AddCustomContext("nva_build", "release");
#else
  benchmark::AddCustomContext("nva_build", "debug (figures not representative)");
#endif
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!start_eal()) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  for (auto& fn : teardowns()) fn();
  // The per-run file prefix's runtime directory goes too (EAL leaves it).
  const std::string runtime_dir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  std::error_code ec;
  std::filesystem::remove_all(runtime_dir, ec);
  return 0;
}
