// Configuration loading: Boost.Program_options' INI reader tokenises the
// file and refuses unknown keys, the table of settings (settings.cc) reads
// each value, and the checks across settings run at the end.
//
// Why not po::parse_config_file() alone: it returns the options without
// their line, and its own errors (an unknown key, a line that is not INI)
// name none either. Of the 44 file errors config_test.cc expected before
// this table, 40 name their line (nva.ini:12: ...); parse_config_file would
// have lost the line of all 40. The line used to come from a second,
// hand-written lexer run beside Boost's (index_lines), and the two could
// disagree: "[ dataplane ]" was "dataplane" to one and " dataplane " to the
// other, and the error said "nva.ini:0". Now there is one lexer, Boost's:
// LineReader below is the same reader parse_config_file uses
// (po::detail::common_config_file_iterator), given its lines through the
// getline() hook it has for that, so it counts them; the line of an option,
// or of an error, is the line the reader was on. Boost.Program_options also
// knows every key outside [service.NAME] (the table's, registered by name;
// "service.*" for the rest, whose keys the table checks).
#include "controlplane/config/config.h"

#include <boost/program_options/detail/config_file.hpp>
#include <boost/program_options/errors.hpp>
#include <fstream>
#include <istream>
#include <map>
#include <set>
#include <sstream>

#include "controlplane/config/settings.h"

namespace nva::config {

namespace po = boost::program_options;

namespace {

// A line as Boost's reader sees it: from '#' on cut, blanks trimmed (its
// trim_ws). Only to quote a line in a message, and for the two cases below
// that Boost's reader does not refuse by itself ("[]", "= value").
std::string as_read(const std::string& line) {
  const std::string s = line.substr(0, line.find('#'));
  const auto b = s.find_first_not_of(" \t\r\n");
  const auto e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

bool no_key(const std::string& line) { return as_read(line).starts_with('='); }

// Boost.Program_options' INI reader, counting the lines it reads.
class LineReader : public po::detail::common_config_file_iterator {
 public:
  LineReader(std::istream& in, const std::set<std::string>& names)
      : common_config_file_iterator(names, /*allow_unregistered=*/false), in_(in) {}
  int line() const { return line_; }
  const std::string& text() const { return text_; }  // the line last read

 protected:
  bool getline(std::string& s) override {
    if (!std::getline(in_, s)) return false;
    ++line_;
    text_ = s;
    // Boost 1.74 takes "[]" for a section and reads before the start of
    // its empty name (later versions refuse it, as this does).
    if (as_read(s) == "[]")
      throw po::invalid_config_file_syntax("[]", po::invalid_syntax::unrecognized_line);
    return true;
  }

 private:
  std::istream& in_;
  int line_ = 0;
  std::string text_;
};

// The names Boost.Program_options knows: the table's, and "service.*".
const std::set<std::string>& registered_names() {
  static const std::set<std::string> names = [] {
    std::set<std::string> n;
    for (const Setting& s : settings()) {
      n.insert(s.section == kServiceSection ? "service.*" : s.name());
    }
    return n;
  }();
  return names;
}

// A line that is neither "key = value", a section nor a comment.
struct BadLine {
  int line = 0;
  std::string text;  // as read
};

// Every option of `text` with the place `where(line)` gives it. Throws
// BadLine, or ConfigError for an unknown key.
template <class Where>
std::vector<Value> read_ini(const std::string& text, Where where) {
  std::istringstream in(text);
  LineReader reader(in, registered_names());
  const po::detail::common_config_file_iterator end;
  std::vector<Value> out;
  try {
    for (reader.get(); reader != end; reader.get()) {
      // No key ("= 5"): the name is the section's prefix alone, which is
      // registered under [service.NAME] ("service.*") and unknown elsewhere.
      if (no_key(reader.text())) throw BadLine{reader.line(), as_read(reader.text())};
      out.push_back({reader->string_key, reader->value.front(), where(reader.line())});
    }
  } catch (const po::unknown_option& e) {
    if (no_key(reader.text())) throw BadLine{reader.line(), as_read(reader.text())};
    throw ConfigError(where(reader.line()) + ": " + e.get_option_name() +
                      ": unknown option");
  } catch (const po::invalid_config_file_syntax& e) {
    throw BadLine{reader.line(), e.tokens()};
  } catch (const po::error& e) {
    throw ConfigError(where(reader.line()) + ": " + e.what());
  }
  return out;
}

std::vector<Value> read_file(const std::string& text, const std::string& name) {
  const auto where = [&name](int line) { return name + ":" + std::to_string(line); };
  try {
    return read_ini(text, where);
  } catch (const BadLine& b) {
    if (!b.text.empty() && b.text.front() == '[')
      throw ConfigError(where(b.line) + ": malformed section header '" + b.text + "'");
    throw ConfigError(where(b.line) +
                      ": expected 'key = value', '[section]' or a # comment, got '" +
                      b.text + "'");
  }
}

// --set "section.key=value": read as a line of the file would be.
Value read_override(const std::string& ov) {
  std::vector<Value> values;
  try {
    values = read_ini(ov, [](int) { return std::string("command line"); });
  } catch (const BadLine&) {
    values.clear();
  }
  if (values.size() != 1)
    throw ConfigError("command line: --set " + ov + ": expected section.key=value");
  return values.front();
}

// The setting `v` gives; for a service key, d.service becomes its service.
const Setting& setting_of(const Value& v, Draft& d) {
  static const std::map<std::string, const Setting*> by_name = [] {
    std::map<std::string, const Setting*> m;
    for (const Setting& s : settings()) m[s.name()] = &s;
    return m;
  }();
  std::string name = v.key;
  if (v.key.rfind("service.", 0) == 0) {
    const std::string rest = v.key.substr(8);
    const auto dot = rest.find('.');
    if (dot == std::string::npos || dot == 0) fail(v, "expected [service.NAME] sections");
    const std::string sname = rest.substr(0, dot);
    ServiceDraft& s = d.services[sname];
    if (s.where.empty()) {
      s.service.name = sname;
      s.where = v.where;
    }
    d.service = &s;
    name = std::string(kServiceSection) + rest.substr(dot);
  }
  const auto it = by_name.find(name);
  if (it == by_name.end()) fail(v, "unknown option");
  return *it->second;
}

// The checks across settings, and the services with [health] filled in.
Config finish(Draft& d, const std::string& name) {
  Config& c = d.config;
  if (c.health.probe.timeout_ms > c.health.probe.interval_ms) {
    throw ConfigError(name + ": health: timeout_ms (" +
                      std::to_string(c.health.probe.timeout_ms) +
                      ") must not exceed interval_ms (" +
                      std::to_string(c.health.probe.interval_ms) + ")");
  }
  if (c.health.damping_reuse >= c.health.damping_suppress) {
    throw ConfigError(name + ": health: damping_reuse must be below damping_suppress");
  }
  if (c.bgp.enabled) {
    const std::string where = name + ": bgp: ";
    if (c.bgp.local_as == 0) throw ConfigError(where + "local_as is required");
    if (c.bgp.router_id == 0) throw ConfigError(where + "router_id is required");
    if (c.bgp.peers.empty()) throw ConfigError(where + "no peer");
    std::set<std::uint32_t> addrs;
    for (const auto& p : c.bgp.peers) {
      if (!addrs.insert(p.addr).second) {
        throw ConfigError(where + "peer " + p.name + " is given twice");
      }
    }
  }
  // An address that is some service's VIP cannot be a SNAT source (replies
  // to it would be taken for client traffic of that VIP) nor a backend
  // (the NVA would forward to itself: a forwarding loop).
  std::map<std::uint32_t, std::string> vip_of;  // VIP -> first service by name
  for (const auto& [sname, s] : d.services) {
    if (s.service.vip != 0) vip_of.try_emplace(s.service.vip, sname);
  }
  const auto loop = [&vip_of](const AddressUse& u, const std::string& what) {
    if (const auto it = vip_of.find(u.addr); it != vip_of.end()) {
      fail(u.value, what + " address " + ipv4_string(u.addr) + " is the VIP of service " +
                        it->second + " (a forwarding loop)");
    }
  };
  for (const AddressUse& u : d.snat_uses) loop(u, "SNAT");
  for (const AddressUse& u : d.backend_uses) loop(u, "backend");
  std::set<std::uint64_t> keys;
  for (auto& [sname, sd] : d.services) {
    lb::Service& s = sd.service;
    const std::string where = sd.where + ": service." + sname + ": ";
    if (s.vip == 0) throw ConfigError(where + "no vip");
    if (s.backends.empty()) throw ConfigError(where + "no backend");
    if (s.mode == lb::NatMode::kDnatSnat && s.snat_addrs.empty()) {
      throw ConfigError(where + "mode dnat+snat needs snat addresses");
    }
    if (s.mode == lb::NatMode::kDnat && !s.snat_addrs.empty()) {
      throw ConfigError(where + "snat addresses given but mode is dnat");
    }
    if (const std::string why =
            lb::check_maglev_size(c.dataplane.maglev_table_size, s.backends.size());
        !why.empty()) {
      throw ConfigError(where + "dataplane.maglev_table_size: " + why);
    }
    const std::uint64_t k =
        (std::uint64_t{s.proto} << 48) | (std::uint64_t{s.vip} << 16) | s.port;
    if (!keys.insert(k).second) {
      throw ConfigError(where + "another service has the same protocol, vip and port");
    }
    ServiceHealth sh{c.health.probe, c.health.min_healthy_backends};
    if (sd.probe) sh.probe.kind = *sd.probe;
    if (sd.probe_port) sh.probe.port = *sd.probe_port;
    if (sd.http_path) sh.probe.http_path = *sd.http_path;
    if (sd.http_status) sh.probe.http_status = *sd.http_status;
    if (sd.min_healthy_backends) sh.min_healthy_backends = *sd.min_healthy_backends;
    if (sh.probe.kind != ProbeSettings::Kind::kNone && !sh.probe.port) {
      if (s.proto != 6) {
        throw ConfigError(where +
                          "a UDP service's backends cannot be probed over TCP on their "
                          "own port: set probe_port or probe = none");
      }
      for (const lb::Backend& b : s.backends) {
        if (b.port == 0 && s.port == 0) {
          throw ConfigError(where +
                            "a backend without a port (port-0 service) needs probe_port "
                            "or probe = none");
        }
      }
    }
    // The prober's whole check of what it will be given (each key was
    // checked on its own above; this catches combinations).
    if (const auto problems = health::validate(probe_config(sh.probe, c.health.source));
        !problems.empty()) {
      throw ConfigError(where + "probe: " + problems.front());
    }
    if (sh.min_healthy_backends > s.backends.size()) {
      throw ConfigError(where + "min_healthy_backends " +
                        std::to_string(sh.min_healthy_backends) + " exceeds its " +
                        std::to_string(s.backends.size()) + " backend(s)");
    }
    s.seed = c.dataplane.seed;
    c.services.push_back(std::move(s));
    c.service_health.push_back(sh);
  }
  // The speaker's whole check of the sessions it will be given (the keys
  // were checked on their own above; this catches the rest, such as two
  // peers of one name).
  if (c.bgp.enabled) {
    if (const auto problems = bgp::validate(speaker_config(c.bgp)); !problems.empty()) {
      std::string msg = name + ": bgp:";
      for (const std::string& p : problems) msg += " " + p + ";";
      throw ConfigError(msg);
    }
  }
  return std::move(c);
}

}  // namespace

Config parse(const std::string& text, const std::string& name,
             const std::vector<std::string>& overrides) {
  std::vector<Value> values = read_file(text, name);
  for (const std::string& ov : overrides) {
    Value v = read_override(ov);
    std::erase_if(values, [&v](const Value& w) { return w.key == v.key; });
    values.push_back(std::move(v));
  }

  Draft d;
  d.config.source = name;
  std::set<std::string> given;
  for (const Value& v : values) {
    const Setting& s = setting_of(v, d);
    if (!s.repeatable && !given.insert(v.key).second) fail(v, "given more than once");
    if (s.section == "bgp") d.config.bgp.enabled = true;  // any [bgp] key: BGP on
    s.set(d, v);
  }
  return finish(d, name);
}

Config load(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path, overrides);
}

std::string summary(const Config& c) {
  std::size_t backends = 0;
  for (const auto& s : c.services) backends += s.backends.size();
  std::string ports;
  for (const auto& p : c.dataplane.ports) ports += (ports.empty() ? "" : ",") + p;
  const std::string bgp = c.bgp.enabled
                              ? ", BGP AS " + std::to_string(c.bgp.local_as) + " with " +
                                    std::to_string(c.bgp.peers.size()) + " peer(s)"
                              : ", no BGP";
  return c.source + ": " + std::to_string(c.services.size()) + " service(s), " +
         std::to_string(backends) + " backend(s), " +
         std::to_string(c.dataplane.workers) + " worker(s), ports " +
         (ports.empty() ? "(none)" : ports) + ", " +
         std::to_string(c.dataplane.connections) + " connections per worker" + bgp;
}

}  // namespace nva::config
