// Lab traffic replay: a capture in, through the real worker code on a
// net_pcap port, the translated capture out, and a summary.
#pragma once

#include <string>

#include "controlplane/config/config.h"

namespace nva::replay {

struct ReplayOptions {
  std::string input;   // pcap to read
  std::string output;  // pcap to write
  bool json = false;   // summary as JSON instead of text
};

// Runs the replay; prints the summary to stdout. Returns the process exit
// status (0 on success). EAL must not be initialised yet: the replay starts
// it with its own arguments (no hugepages, one lcore, the pcap vdev).
int run(const config::Config& cfg, const ReplayOptions& opts);

}  // namespace nva::replay
