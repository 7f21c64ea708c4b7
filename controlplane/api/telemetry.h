// DPDK telemetry commands under /nva/: snapshots published by the control plane.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

struct rte_tel_data;

namespace nva::api {

// Limits of DPDK 22.11's telemetry library (lib/telemetry/telemetry.c and
// rte_telemetry.h; checked against the installed 22.11.11).
inline constexpr std::size_t kTelMaxOutputBytes = 16384;  // MAX_OUTPUT_LEN, /info
inline constexpr std::size_t kTelMaxCmdLen = 55;          // MAX_CMD_LEN 56 with NUL
inline constexpr std::size_t kTelMaxHelpLen = 127;        // MAX_HELP_LEN 128 with NUL
inline constexpr std::size_t kTelMaxParamsLen = 1000;     // the 1024-byte read buffer

// What to_tel_data() returns when it had to drop or shorten something (the
// answer then carries the markers described in docs/TELEMETRY.md).
inline constexpr int kTelTruncated = 1;

// Marker that ends a shortened string, and the key added to a shortened dict.
inline constexpr const char* kTelStringMarker = "...[truncated]";
inline constexpr const char* kTelTruncatedKey = "truncated";

// The JSON value DPDK 22.11 can actually serve for `j`, as a JSON document:
// - one level of container nesting below the top: objects and arrays deeper
//   than that become compact JSON strings;
// - a top-level array holding objects or arrays becomes an object keyed by
//   index ("0", "1", ...), because DPDK arrays cannot hold objects;
// - dict keys are limited to [A-Za-z0-9_/] (others become '_') and 127 bytes;
// - strings are cut to 127 bytes (8191 for a top-level string) ending in
//   kTelStringMarker; doubles, null and integers below INT32_MIN become
//   strings; bools become 0/1; mixed arrays become string arrays;
// - at most 256 dict / 512 array entries and about `max_bytes` of output:
//   a shortened object gets "truncated": 1, a shortened array becomes an
//   array of strings ending in "...[truncated: K of N]".
// Sets *truncated when anything was shortened. Pure: needs no EAL.
nlohmann::json tel_shape(const nlohmann::json& j,
                         std::size_t max_bytes = kTelMaxOutputBytes,
                         bool* truncated = nullptr);

// Converts json to rte_tel_data within DPDK 22.11's limits (see tel_shape(),
// whose result this emits). Nested containers are allocated with
// rte_tel_data_alloc() and attached with keep=0: DPDK frees them when it
// writes the answer. Returns 0, kTelTruncated, or a negative errno (d is
// then left as an empty dict, with nothing attached).
int to_tel_data(const nlohmann::json& j, rte_tel_data* d,
                std::size_t max_bytes = kTelMaxOutputBytes);

// One /nva/ command that Telemetry registers.
struct TelCommand {
  const char* path;
  const char* help;  // at most kTelMaxHelpLen bytes
};
// The commands every Telemetry registers, in the order of docs/TELEMETRY.md.
const std::vector<TelCommand>& builtin_commands();

class Telemetry {
 public:
  // Registers the /nva/ commands with rte_telemetry_register_cmd (EAL must be
  // initialised; commands registered once per process — a second instance
  // must not double-register: make registration idempotent with a
  // process-wide registry, the latest instance serves).
  Telemetry();
  // Later calls answer {"error": ...}; waits for handlers still running on the
  // telemetry thread, so nothing they captured is used after this returns.
  ~Telemetry();
  Telemetry(const Telemetry&) = delete;
  Telemetry& operator=(const Telemetry&) = delete;

  // Replaces the snapshot served under `path` (e.g. "/nva/workers"). A path
  // that is not a built-in command is registered on first use. Throws
  // std::invalid_argument for a path DPDK cannot register ('/' first, at most
  // kTelMaxCmdLen bytes of [A-Za-z0-9_/]).
  void publish(const std::string& path, nlohmann::json value);

  // Commands with an action: the handler runs on the TELEMETRY thread and
  // must only post work; it returns the json to answer. A handler that throws
  // answers {"error": what()}. `help` is cut to kTelMaxHelpLen bytes; it
  // replaces the help only for paths not registered yet (DPDK keeps the first).
  void on_command(const std::string& path,
                  std::function<nlohmann::json(const std::string& params)> handler,
                  const std::string& help);

  // The answer `path` would give for `params` (what the telemetry callback
  // converts with to_tel_data). For tests and for a local nvactl fallback.
  nlohmann::json answer(const std::string& path, const std::string& params) const;

  struct State;  // shared with the process-wide registry

 private:
  std::shared_ptr<State> state_;
};

}  // namespace nva::api
