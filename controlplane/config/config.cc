// Configuration loading: Boost.Program_options reads the INI syntax; a line
// index gives every value its line for messages; validators turn text into
// the typed structs.
#include "controlplane/config/config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cctype>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "controlplane/bgp/message.h"
#include "controlplane/bgp/policy.h"

namespace nva::config {

namespace po = boost::program_options;

namespace {

struct Value {
  std::string key;    // "section.name"
  std::string text;   // as written, trimmed
  std::string where;  // "file:line" or "command line"
};

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\r");
  const auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

[[noreturn]] void fail(const Value& v, const std::string& msg) {
  throw ConfigError(v.where + ": " + v.key + ": " + msg);
}

// Where each key's occurrences are, in order; also rejects lines that are
// not INI, with their number (Boost's own syntax errors carry none).
std::map<std::string, std::vector<int>> index_lines(const std::string& text,
                                                    const std::string& name) {
  std::map<std::string, std::vector<int>> lines;
  std::istringstream in(text);
  std::string line, section;
  for (int n = 1; std::getline(in, line); ++n) {
    std::string s = line;
    if (const auto hash = s.find('#'); hash != std::string::npos) s.erase(hash);
    s = trim(s);
    if (s.empty()) continue;
    if (s.front() == '[') {
      if (s.back() != ']' || s.size() < 3) {
        throw ConfigError(name + ":" + std::to_string(n) +
                          ": malformed section header '" + s + "'");
      }
      section = trim(s.substr(1, s.size() - 2));
      continue;
    }
    const auto eq = s.find('=');
    if (eq == std::string::npos || trim(s.substr(0, eq)).empty()) {
      throw ConfigError(name + ":" + std::to_string(n) +
                        ": expected 'key = value', '[section]' or a # comment, got '" +
                        s + "'");
    }
    const std::string key = trim(s.substr(0, eq));
    lines[section.empty() ? key : section + "." + key].push_back(n);
  }
  return lines;
}

std::uint64_t to_uint(const Value& v, std::uint64_t min, std::uint64_t max) {
  const std::string& t = v.text;
  if (t.empty() ||
      !std::all_of(t.begin(), t.end(), [](unsigned char c) { return std::isdigit(c); })) {
    fail(v, "not a number: '" + t + "'");
  }
  if (t.size() > 19)
    fail(v, "out of range " + std::to_string(min) + ".." + std::to_string(max));
  const std::uint64_t x = std::stoull(t);
  if (x < min || x > max) {
    fail(v, std::to_string(x) + " is out of range " + std::to_string(min) + ".." +
                std::to_string(max));
  }
  return x;
}

bool to_bool(const Value& v) {
  std::string t = v.text;
  std::transform(t.begin(), t.end(), t.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (t == "true" || t == "yes" || t == "on" || t == "1") return true;
  if (t == "false" || t == "no" || t == "off" || t == "0") return false;
  fail(v, "not a boolean (true/false): '" + v.text + "'");
}

std::uint32_t to_ipv4(const Value& v, const std::string& text) {
  in_addr a{};
  if (inet_pton(AF_INET, text.c_str(), &a) != 1)
    fail(v, "not an IPv4 address: '" + text + "'");
  return ntohl(a.s_addr);
}

std::string ipv4_string(std::uint32_t a) {
  in_addr in{htonl(a)};
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &in, buf, sizeof buf);
  return buf;
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, ',')) {
    item = trim(item);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

bool valid_mac(const std::string& s) {
  if (s.size() != 17) return false;
  for (std::size_t i = 0; i < 17; ++i) {
    if (i % 3 == 2) {
      if (s[i] != ':') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

// "ADDR[:PORT] [weight=N]"
lb::Backend to_backend(const Value& v) {
  std::istringstream in(v.text);
  std::string endpoint, extra;
  in >> endpoint;
  lb::Backend b;
  const auto colon = endpoint.find(':');
  b.addr = to_ipv4(v, endpoint.substr(0, colon));
  if (colon != std::string::npos) {
    b.port = static_cast<std::uint16_t>(
        to_uint({v.key, endpoint.substr(colon + 1), v.where}, 1, 65535));
  }
  while (in >> extra) {
    if (extra.rfind("weight=", 0) != 0)
      fail(v, "unknown backend attribute '" + extra + "'");
    b.weight = static_cast<std::uint32_t>(
        to_uint({v.key, extra.substr(7), v.where}, 0, 1u << 20));
  }
  return b;
}

// "ADDR:AS [name=N] [port=P] [passive]"
ProbeSettings::Kind to_probe_kind(const Value& v) {
  if (v.text == "tcp") return ProbeSettings::Kind::kTcp;
  if (v.text == "http") return ProbeSettings::Kind::kHttp;
  if (v.text == "none") return ProbeSettings::Kind::kNone;
  fail(v, "not tcp, http or none: '" + v.text + "'");
}

// The prober's own check (health::check_http_path): what passes here is what
// Prober::add accepts.
std::string to_http_path(const Value& v) {
  if (const auto why = health::check_http_path(v.text))
    fail(v, "not an HTTP path: " + *why + ": '" + v.text + "'");
  return v.text;
}

BgpPeerConfig to_peer(const Value& v) {
  std::istringstream in(v.text);
  std::string endpoint, extra;
  in >> endpoint;
  const auto colon = endpoint.find(':');
  if (colon == std::string::npos) fail(v, "expected ADDR:AS, got '" + endpoint + "'");
  BgpPeerConfig p;
  p.addr = to_ipv4(v, endpoint.substr(0, colon));
  p.as = static_cast<std::uint32_t>(
      to_uint({v.key, endpoint.substr(colon + 1), v.where}, 1, 0xFFFFFFFFull));
  p.name = endpoint.substr(0, colon);
  while (in >> extra) {
    if (extra == "passive") {
      p.passive = true;
    } else if (extra.rfind("name=", 0) == 0 && extra.size() > 5) {
      p.name = extra.substr(5);
    } else if (extra.rfind("port=", 0) == 0) {
      p.port = static_cast<std::uint16_t>(
          to_uint({v.key, extra.substr(5), v.where}, 1, 65535));
    } else {
      fail(v, "unknown peer attribute '" + extra + "'");
    }
  }
  return p;
}

}  // namespace

Config parse(const std::string& text, const std::string& name,
             const std::vector<std::string>& overrides) {
  const auto lines = index_lines(text, name);

  // Boost.Program_options reads the file; every option is "unregistered"
  // here because services have free-form section names, so the known-key
  // check and the typed conversions below give the messages.
  std::vector<Value> values;
  {
    std::istringstream in(text);
    po::options_description none;
    po::parsed_options parsed(nullptr);
    try {
      parsed = po::parse_config_file(in, none, /*allow_unregistered=*/true);
    } catch (const po::error& e) {
      throw ConfigError(name + ": " + e.what());
    }
    std::map<std::string, std::size_t> seen;
    for (const auto& o : parsed.options) {
      const std::size_t k = seen[o.string_key]++;
      const auto it = lines.find(o.string_key);
      const int line = it != lines.end() && k < it->second.size() ? it->second[k] : 0;
      values.push_back({o.string_key, o.value.empty() ? "" : trim(o.value.front()),
                        name + ":" + std::to_string(line)});
    }
  }
  for (const std::string& ov : overrides) {
    const auto eq = ov.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw ConfigError("command line: --set " + ov + ": expected section.key=value");
    }
    const std::string key = trim(ov.substr(0, eq));
    values.erase(std::remove_if(values.begin(), values.end(),
                                [&](const Value& v) { return v.key == key; }),
                 values.end());
    values.push_back({key, trim(ov.substr(eq + 1)), "command line"});
  }

  Config c;
  c.source = name;
  std::map<std::string, lb::Service> services;  // by name
  // Per-service probe overrides, applied over [health] at the end.
  struct ProbeOverrides {
    std::optional<ProbeSettings::Kind> kind;
    std::optional<std::uint16_t> port;
    std::optional<std::string> http_path;
    std::optional<std::uint32_t> http_status;
    std::optional<std::uint32_t> min_healthy;
  };
  std::map<std::string, ProbeOverrides> overrides_of;
  std::map<std::string, std::string> service_where;
  // Every snat and backend address with its place, for the VIP checks.
  struct AddressUse {
    std::uint32_t addr = 0;
    Value value;
  };
  std::vector<AddressUse> snat_uses, backend_uses;
  std::set<std::string> scalars_seen;
  for (const Value& v : values) {
    const auto dot = v.key.find('.');
    const std::string section = dot == std::string::npos ? "" : v.key.substr(0, dot);
    const std::string rest = dot == std::string::npos ? v.key : v.key.substr(dot + 1);
    const bool repeatable = (section == "service" && rest.size() > 8 &&
                             rest.compare(rest.size() - 8, 8, ".backend") == 0) ||
                            v.key == "bgp.peer";
    if (!repeatable && !scalars_seen.insert(v.key).second)
      fail(v, "given more than once");

    if (v.key == "eal.args") {
      std::istringstream in(v.text);
      for (std::string w; in >> w;) c.eal_args.push_back(w);
    } else if (section == "dataplane") {
      DataplaneConfig& d = c.dataplane;
      if (rest == "workers") {
        d.workers =
            static_cast<std::uint32_t>(to_uint(v, 1, DataplaneConfig::kMaxWorkers));
      } else if (rest == "ports") {
        d.ports = split_list(v.text);
        if (d.ports.empty()) fail(v, "no port named");
      } else if (rest == "gateway_mac") {
        if (!valid_mac(v.text))
          fail(v, "not a MAC address (aa:bb:cc:dd:ee:ff): '" + v.text + "'");
        d.gateway_mac = v.text;
      } else if (rest == "gateway") {
        d.gateway_ip = to_ipv4(v, v.text);
      } else if (rest == "address") {
        d.local_ip = to_ipv4(v, v.text);
      } else if (rest == "connections") {
        d.connections = static_cast<std::uint32_t>(to_uint(v, 16, 1u << 30));
      } else if (rest == "seed") {
        d.seed = to_uint(v, 0, ~0ull);
      } else if (rest == "maglev_table_size") {
        d.maglev_table_size = static_cast<std::uint32_t>(to_uint(v, 2, 1u << 26));
        if (!lb::is_prime(d.maglev_table_size)) fail(v, v.text + " is not prime");
      } else if (rest == "handoff_ring_size") {
        d.handoff_ring_size = static_cast<std::uint32_t>(to_uint(v, 64, 1u << 20));
        if ((d.handoff_ring_size & (d.handoff_ring_size - 1)) != 0) {
          fail(v, v.text + " is not a power of two");
        }
      } else if (rest == "mbufs") {
        d.mbufs =
            v.text == "auto" ? 0 : static_cast<std::uint32_t>(to_uint(v, 1023, 1u << 24));
      } else if (rest == "snat_port_min") {
        d.snat_port_min = static_cast<std::uint16_t>(to_uint(v, 1, 65535));
      } else if (rest == "rss_precalc") {
        if (v.text == "auto") {
          d.rss_precalc = RssPrecalc::kAuto;
        } else if (v.text == "off") {
          d.rss_precalc = RssPrecalc::kOff;
        } else {
          fail(v, "not auto or off: '" + v.text + "'");
        }
      } else if (rest == "rss_flow") {
        if (v.text == "auto") {
          d.rss_flow = RssFlow::kAuto;
        } else if (v.text == "off") {
          d.rss_flow = RssFlow::kOff;
        } else {
          fail(v, "not auto or off: '" + v.text + "'");
        }
      } else if (rest == "tcp_pickup") {
        d.tcp_pickup = to_bool(v);
      } else if (rest == "syn_proxy") {
        if (v.text == "auto") {
          d.syn_proxy = nat::SynProxyMode::kAuto;
        } else if (v.text == "on") {
          d.syn_proxy = nat::SynProxyMode::kOn;
        } else if (v.text == "off") {
          d.syn_proxy = nat::SynProxyMode::kOff;
        } else {
          fail(v, "not auto, on or off: '" + v.text + "'");
        }
      } else if (rest == "answer_vip_ping") {
        d.answer_vip_ping = to_bool(v);
      } else if (rest == "idle_sleep") {
        d.idle_sleep = to_bool(v);
      } else if (rest == "idle_sleep_us") {
        d.idle_sleep_us = static_cast<std::uint32_t>(to_uint(v, 1, 1'000'000));
      } else if (rest == "watchdog_ms") {
        d.watchdog_ms = static_cast<std::uint32_t>(to_uint(v, 10, 60'000));
      } else if (rest == "test_hooks") {
        d.test_hooks = to_bool(v);
      } else if (rest == "idle_polls") {
        d.idle_polls = static_cast<std::uint32_t>(to_uint(v, 1, 1u << 24));
      } else {
        fail(v, "unknown option");
      }
    } else if (section == "bgp") {
      BgpConfig& b = c.bgp;
      b.enabled = true;
      if (rest == "local_as") {
        b.local_as = static_cast<std::uint32_t>(to_uint(v, 1, 0xFFFFFFFFull));
      } else if (rest == "router_id") {
        b.router_id = to_ipv4(v, v.text);
      } else if (rest == "source") {
        b.source = to_ipv4(v, v.text);
      } else if (rest == "hold_time") {
        b.hold_time = static_cast<std::uint16_t>(to_uint(v, 0, 65535));
        // The speaker's own rule (it refuses a peer's OPEN by it too).
        if (const auto why = bgp::check_hold_time(b.hold_time)) fail(v, *why);
      } else if (rest == "ttl") {
        b.ttl = static_cast<std::uint8_t>(to_uint(v, 1, 255));
      } else if (rest == "gtsm_hops") {
        b.gtsm_hops = static_cast<std::uint8_t>(to_uint(v, 1, 255));
      } else if (rest == "peer") {
        b.peers.push_back(to_peer(v));
      } else if (rest == "max_prefixes_in") {
        b.max_prefixes_in = static_cast<std::uint32_t>(to_uint(v, 1, 1'000'000));
      } else if (rest == "listen") {
        b.listen = to_bool(v);
      } else if (rest == "listen_port") {
        b.listen_port = static_cast<std::uint16_t>(to_uint(v, 1, 65535));
      } else if (rest == "prepend") {
        b.prepend = static_cast<unsigned>(to_uint(v, 0, 16));
      } else if (rest == "med") {
        b.med = static_cast<std::uint32_t>(to_uint(v, 0, 0xFFFFFFFFull));
      } else if (rest == "community") {
        // The speaker's own parser (nva-bgp's --community too): AS:VALUE or
        // a well-known community by name.
        for (const std::string& item : split_list(v.text)) {
          const auto community = bgp::parse_community(item);
          if (!community) fail(v, "'" + item + "' is not AS:VALUE");
          b.communities.push_back(community->value);
        }
      } else if (rest == "large_community") {
        for (const std::string& item : split_list(v.text)) {
          const auto large = bgp::parse_large_community(item);
          if (!large) fail(v, "'" + item + "' is not GLOBAL:DATA1:DATA2");
          b.large_communities.push_back(
              {large->global_administrator, large->local_data_1, large->local_data_2});
        }
      } else {
        fail(v, "unknown option");
      }
    } else if (section == "health") {
      HealthConfig& h = c.health;
      if (rest == "probe") {
        h.probe.kind = to_probe_kind(v);
      } else if (rest == "interval_ms") {
        h.probe.interval_ms = static_cast<std::uint32_t>(to_uint(v, 10, 3'600'000));
      } else if (rest == "timeout_ms") {
        h.probe.timeout_ms = static_cast<std::uint32_t>(to_uint(v, 10, 3'600'000));
      } else if (rest == "rise") {
        h.probe.rise = static_cast<std::uint32_t>(to_uint(v, 1, 100));
      } else if (rest == "fall") {
        h.probe.fall = static_cast<std::uint32_t>(to_uint(v, 1, 100));
      } else if (rest == "http_path") {
        h.probe.http_path = to_http_path(v);
      } else if (rest == "http_status") {
        h.probe.http_status = static_cast<std::uint32_t>(to_uint(v, 100, 599));
      } else if (rest == "source") {
        h.source = to_ipv4(v, v.text);
      } else if (rest == "min_healthy_backends") {
        h.min_healthy_backends = static_cast<std::uint32_t>(to_uint(v, 0, 65535));
      } else if (rest == "action") {
        if (v.text == "withdraw") {
          h.action = UnhealthyAction::kWithdraw;
        } else if (v.text == "deprefer") {
          h.action = UnhealthyAction::kDeprefer;
        } else {
          fail(v, "not withdraw or deprefer: '" + v.text + "'");
        }
      } else if (rest == "deprefer_prepend") {
        h.deprefer_prepend = static_cast<unsigned>(to_uint(v, 0, 16));
      } else if (rest == "deprefer_med") {
        h.deprefer_med = static_cast<std::uint32_t>(to_uint(v, 0, 0xFFFFFFFFull));
      } else if (rest == "hold_down_ms") {
        h.hold_down_ms = static_cast<std::uint32_t>(to_uint(v, 0, 3'600'000));
      } else if (rest == "damping") {
        h.damping = to_bool(v);
      } else if (rest == "damping_half_life_ms") {
        h.damping_half_life_ms = static_cast<std::uint32_t>(to_uint(v, 100, 3'600'000));
      } else if (rest == "damping_suppress") {
        h.damping_suppress = static_cast<std::uint32_t>(to_uint(v, 1, 1'000'000));
      } else if (rest == "damping_reuse") {
        h.damping_reuse = static_cast<std::uint32_t>(to_uint(v, 1, 1'000'000));
      } else if (rest == "dead_backend_connections") {
        if (v.text == "keep") {
          h.dead_backend_connections = lb::DeadBackendPolicy::kKeep;
        } else if (v.text == "reset") {
          h.dead_backend_connections = lb::DeadBackendPolicy::kReset;
        } else {
          fail(v, "not keep or reset: '" + v.text + "'");
        }
      } else {
        fail(v, "unknown option");
      }
    } else if (section == "drain") {
      if (rest == "mode") {
        if (v.text == "withdraw") {
          c.drain.mode = DrainConfig::Mode::kWithdraw;
        } else if (v.text == "graceful-shutdown") {
          c.drain.mode = DrainConfig::Mode::kGracefulShutdown;
        } else {
          fail(v, "not withdraw or graceful-shutdown: '" + v.text + "'");
        }
      } else if (rest == "time_ms") {
        c.drain.time_ms = static_cast<std::uint32_t>(to_uint(v, 0, 3'600'000));
      } else {
        fail(v, "unknown option");
      }
    } else if (section == "timeouts") {
      bool known = false;
      for (std::size_t i = 0; i < conntrack::kTimeoutClassCount; ++i) {
        const auto cls = static_cast<conntrack::TimeoutClass>(i);
        if (rest == std::string(conntrack::timeout_class_name(cls)) + "_ms") {
          c.timeouts.ms[i] =
              static_cast<std::uint32_t>(to_uint(v, 1, conntrack::kMaxTimeoutMs));
          known = true;
        }
      }
      if (!known) fail(v, "unknown option");
    } else if (section == "service") {
      const auto dot2 = rest.find('.');
      if (dot2 == std::string::npos || dot2 == 0)
        fail(v, "expected [service.NAME] sections");
      const std::string sname = rest.substr(0, dot2);
      const std::string field = rest.substr(dot2 + 1);
      lb::Service& s = services[sname];
      s.name = sname;
      if (!service_where.count(sname)) service_where[sname] = v.where;
      if (field == "proto") {
        if (v.text == "tcp") {
          s.proto = 6;
        } else if (v.text == "udp") {
          s.proto = 17;
        } else {
          fail(v, "not tcp or udp: '" + v.text + "'");
        }
      } else if (field == "vip") {
        s.vip = to_ipv4(v, v.text);
      } else if (field == "port") {
        s.port = static_cast<std::uint16_t>(to_uint(v, 0, 65535));
      } else if (field == "mode") {
        if (v.text == "dnat") {
          s.mode = lb::NatMode::kDnat;
        } else if (v.text == "dnat+snat") {
          s.mode = lb::NatMode::kDnatSnat;
        } else {
          fail(v, "not dnat or dnat+snat: '" + v.text + "'");
        }
      } else if (field == "snat") {
        for (const std::string& a : split_list(v.text)) {
          s.snat_addrs.push_back(to_ipv4(v, a));
          snat_uses.push_back({s.snat_addrs.back(), v});
        }
      } else if (field == "backend") {
        s.backends.push_back(to_backend(v));
        backend_uses.push_back({s.backends.back().addr, v});
      } else if (field == "probe") {
        overrides_of[sname].kind = to_probe_kind(v);
      } else if (field == "probe_port") {
        overrides_of[sname].port = static_cast<std::uint16_t>(to_uint(v, 1, 65535));
      } else if (field == "http_path") {
        overrides_of[sname].http_path = to_http_path(v);
      } else if (field == "http_status") {
        overrides_of[sname].http_status =
            static_cast<std::uint32_t>(to_uint(v, 100, 599));
      } else if (field == "min_healthy_backends") {
        overrides_of[sname].min_healthy =
            static_cast<std::uint32_t>(to_uint(v, 0, 65535));
      } else {
        fail(v, "unknown option");
      }
    } else {
      fail(v, "unknown option");
    }
  }

  // Cross-field checks.
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
  for (const auto& [sname, s] : services) {
    if (s.vip != 0) vip_of.try_emplace(s.vip, sname);
  }
  for (const AddressUse& u : snat_uses) {
    if (const auto it = vip_of.find(u.addr); it != vip_of.end()) {
      fail(u.value, "SNAT address " + ipv4_string(u.addr) + " is the VIP of service " +
                        it->second + " (a forwarding loop)");
    }
  }
  for (const AddressUse& u : backend_uses) {
    if (const auto it = vip_of.find(u.addr); it != vip_of.end()) {
      fail(u.value, "backend address " + ipv4_string(u.addr) + " is the VIP of service " +
                        it->second + " (a forwarding loop)");
    }
  }
  std::set<std::uint64_t> keys;
  for (auto& [sname, s] : services) {
    const std::string where = service_where[sname] + ": service." + sname + ": ";
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
    const ProbeOverrides& o = overrides_of[sname];
    if (o.kind) sh.probe.kind = *o.kind;
    if (o.port) sh.probe.port = *o.port;
    if (o.http_path) sh.probe.http_path = *o.http_path;
    if (o.http_status) sh.probe.http_status = *o.http_status;
    if (o.min_healthy) sh.min_healthy_backends = *o.min_healthy;
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
  return c;
}

health::ProbeConfig probe_config(const ProbeSettings& p,
                                 std::optional<std::uint32_t> source) {
  health::ProbeConfig c;
  switch (p.kind) {
    case ProbeSettings::Kind::kNone:
      c.kind = health::ProbeKind::kNone;
      break;
    case ProbeSettings::Kind::kTcp:
      c.kind = health::ProbeKind::kTcp;
      break;
    case ProbeSettings::Kind::kHttp:
      c.kind = health::ProbeKind::kHttp;
      break;
  }
  c.interval = std::chrono::milliseconds(p.interval_ms);
  c.timeout = std::chrono::milliseconds(p.timeout_ms);
  c.rise = p.rise;
  c.fall = p.fall;
  c.http_path = p.http_path;
  c.http_status = p.http_status;
  c.source = source;
  return c;
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
