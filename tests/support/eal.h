// GoogleTest environment that starts DPDK's EAL once per test binary.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace nva::test {

// Starts EAL with --no-huge --no-pci, a unique --file-prefix, one lcore and
// the given extra arguments (e.g. "--vdev=net_ring0"); cleans up on exit.
// Telemetry is off (--no-telemetry) unless extra_args holds "--telemetry".
// Register it in main() with ::testing::AddGlobalTestEnvironment().
class EalEnvironment : public ::testing::Environment {
 public:
  explicit EalEnvironment(std::vector<std::string> extra_args = {});
  void SetUp() override;
  void TearDown() override;

  // The --file-prefix of this run ("nvat<pid>_<random>").
  static const std::string& file_prefix();
  static bool running();

 private:
  std::vector<std::string> extra_args_;
};

// main() for data-plane test binaries: InitGoogleTest, then EAL with
// `extra_args`, then RUN_ALL_TESTS.
int run_with_eal(int argc, char** argv, std::vector<std::string> extra_args);

}  // namespace nva::test
