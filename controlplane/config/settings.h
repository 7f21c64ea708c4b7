// The settings table: every configuration key once, with its section, type,
// default (read from the structs' own defaults), range, whether a reload
// applies it, its one-line doc and how it is read (the validator of the
// module that uses it). parse() walks it, settings_needing_restart() asks it, and
// `anycast-nva --help-config` prints it: the README's table, which a unit
// test holds to it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/config/config.h"

namespace nva::config {

// One value as given: "section.key", its text (trimmed) and its place,
// "file:line" or "command line".
struct Value {
  std::string key;
  std::string text;
  std::string where;
};

// Throws ConfigError("<where>: <key>: <msg>").
[[noreturn]] void fail(const Value& v, const std::string& msg);

// One [service.NAME] as its own keys give it; the probe keys it leaves
// unset come from [health] once the whole file is read.
struct ServiceDraft {
  lb::Service service;
  std::optional<ProbeSettings::Kind> probe;
  std::optional<std::uint16_t> probe_port;
  std::optional<std::string> http_path;
  std::optional<std::uint32_t> http_status;
  std::optional<std::uint32_t> min_healthy_backends;
  std::string where;  // the place of its first value
};

// An address one value gave (the checks that no SNAT or backend address is
// a VIP name the value).
struct AddressUse {
  std::uint32_t addr = 0;
  Value value;
};

// What the settings write into while the values are read.
struct Draft {
  Config config;
  std::map<std::string, ServiceDraft> services;     // by name
  ServiceDraft* service = nullptr;                  // the current value's service
  std::vector<AddressUse> snat_uses, backend_uses;  // in the order given
};

// When a changed value takes effect.
enum class Apply : std::uint8_t {
  kReload,   // SIGHUP applies it in place
  kRestart,  // SIGHUP refuses the file with it changed
};

inline constexpr std::string_view kServiceSection = "service.NAME";

struct Setting {
  std::string section;  // "dataplane", ...; kServiceSection: each service's
  std::string key;
  std::string type;          // "integer", "boolean", "IPv4 address", ...
  std::string default_text;  // from the structs' defaults; empty: none
  std::string range;         // "1..64", "`auto`, `off`", ...
  Apply apply = Apply::kRestart;
  std::string doc;          // one line
  bool repeatable = false;  // each line adds one (a backend, a peer)
  // Reads `v` into the draft (d.service: its service, for service keys);
  // throws ConfigError naming `v`.
  std::function<void(Draft&, const Value&)> set;
  // Whether two configurations differ in it (every setting outside
  // [service.NAME]; a reload applies every service key).
  std::function<bool(const Config&, const Config&)> differs;

  std::string name() const { return section + "." + key; }
};

// Every setting, in the README's order.
const std::vector<Setting>& settings();

}  // namespace nva::config
