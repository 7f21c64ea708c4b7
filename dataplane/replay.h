// Lab traffic replay (anycast-nva --replay): a capture in, through the real
// worker code on a net_pcap port, the translated capture out, and a summary.
#pragma once

#include <string>
#include <vector>

#include "dataplane/conntrack/state.h"
#include "dataplane/lb/service.h"
#include "dataplane/options.h"

namespace nva::replay {

struct ReplayOptions {
  std::string input;   // pcap to read
  std::string output;  // pcap to write
  bool json = false;   // summary as JSON instead of text
};

// Runs the replay with the configuration's data-plane options, timeouts and
// services (its ports and worker count are the replay's own); prints the
// summary to stdout. Returns the process exit status (0 on success). EAL
// must not be initialised yet: the replay starts it with its own arguments
// (no hugepages, one lcore, the pcap vdev).
int run(const DataplaneOptions& dataplane, const conntrack::Timeouts& timeouts,
        const std::vector<lb::Service>& services, const ReplayOptions& opts);

}  // namespace nva::replay
