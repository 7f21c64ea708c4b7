// EAL start-up for test binaries: no hugepages, no PCI, unique file prefix.
#include "tests/support/eal.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "tests/support/run_id.h"

namespace nva::test {

namespace {
bool g_running = false;
std::string g_prefix;
}  // namespace

EalEnvironment::EalEnvironment(std::vector<std::string> extra_args)
    : extra_args_(std::move(extra_args)) {}

const std::string& EalEnvironment::file_prefix() {
  if (g_prefix.empty()) {
    g_prefix = "nvat" + run_id() + "_" + std::to_string(::getpid());
  }
  return g_prefix;
}

bool EalEnvironment::running() { return g_running; }

void EalEnvironment::SetUp() {
  std::vector<std::string> args = {"nva-test",
                                   "-l",
                                   "0",
                                   "--no-huge",
                                   "--no-pci",
                                   "-m",
                                   "256",
                                   "--file-prefix=" + file_prefix(),
                                   "--log-level=*:warning",
                                   "--log-level=lib.eal:error"};
  // Telemetry stays off unless asked for: a later --telemetry does not undo
  // an earlier --no-telemetry in EAL 22.11.
  if (std::find(extra_args_.begin(), extra_args_.end(), "--telemetry") ==
      extra_args_.end()) {
    args.push_back("--no-telemetry");
  }
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int rc = rte_eal_init(static_cast<int>(args.size()), argv.data());
  ASSERT_GE(rc, 0) << "rte_eal_init failed: " << rte_strerror(rte_errno);
  g_running = true;
}

void EalEnvironment::TearDown() {
  if (!g_running) return;
  rte_eal_cleanup();
  g_running = false;
  // EAL leaves its runtime directory behind; remove ours.
  std::error_code ec;
  std::filesystem::remove_all("/var/run/dpdk/" + file_prefix(), ec);
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR")) {
    std::filesystem::remove_all(std::string(xdg) + "/dpdk/" + file_prefix(), ec);
  }
}

int run_with_eal(int argc, char** argv, std::vector<std::string> extra_args) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new EalEnvironment(std::move(extra_args)));
  return RUN_ALL_TESTS();
}

}  // namespace nva::test
