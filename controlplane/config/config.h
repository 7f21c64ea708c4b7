// anycast-nva's configuration: plain structs with named defaults, loaded
// from an INI file (Boost.Program_options) plus command-line overrides,
// validated once, separately from applying it.
//
// Errors name the place and the option:
//   nva.ini:12: service.web.vip: not an IPv4 address: '198.19.0.300'
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "dataplane/conntrack/state.h"
#include "dataplane/lb/maglev.h"
#include "dataplane/lb/service.h"
#include "dataplane/options.h"

namespace nva::config {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using DataplaneConfig = nva::DataplaneOptions;

struct Config {
  std::string source;                 // file name, for messages
  std::vector<std::string> eal_args;  // without argv[0]
  DataplaneConfig dataplane;
  conntrack::Timeouts timeouts;
  std::vector<lb::Service> services;  // Maglev tables not built yet
};

// Loads and validates `path`; `overrides` are "section.key=value" strings
// from the command line, applied over the file. Throws ConfigError.
Config load(const std::string& path, const std::vector<std::string>& overrides = {});

// The same from text (tests); `name` stands for the file in messages.
Config parse(const std::string& text, const std::string& name,
             const std::vector<std::string>& overrides = {});

// A one-paragraph summary for --check-config.
std::string summary(const Config& c);

}  // namespace nva::config
