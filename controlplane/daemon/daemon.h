// The running daemon's control plane: one io_context thread with the BGP
// speaker, the backend probes, the data-plane watchdog, the advertisement
// decision per VIP, drain and configuration reload; the calling thread
// waits for signals.
//
//   SIGTERM, SIGINT   drain (withdraw or GRACEFUL_SHUTDOWN, forward until no
//                     connection is left or [drain] time_ms), Cease, exit;
//                     a second one exits at once
//   SIGHUP            reload the configuration file
//   SIGUSR1           test hook (dataplane.test_hooks): stall worker 0
//   SIGUSR2           test hook (dataplane.test_hooks): two control-plane
//                     handlers throw (one guarded, one bare); the daemon
//                     logs, counts (control_plane_errors) and runs on
#pragma once

#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "controlplane/config/config.h"

namespace nva {

class DataPlane;

class Daemon {
 public:
  // `dp` is built and started. `path` and `overrides` are what `cfg` was
  // loaded from (SIGHUP loads them again).
  Daemon(config::Config cfg, std::string path, std::vector<std::string> overrides,
         DataPlane& dp);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Runs until the drain ends (or a second stop signal); `sigs` are blocked
  // in every thread. Returns the exit status.
  int run(const sigset_t& sigs);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace nva
