// The settings table (settings.h): how each kind of value is read and shown
// (a Codec), then one row per key. A row's default is its field in a
// default-built Config (or service), shown by its codec, so the README
// cannot name another default than the structs hold.
#include "controlplane/config/settings.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <sstream>
#include <type_traits>
#include <utility>

#include "controlplane/bgp/message.h"
#include "controlplane/bgp/policy.h"

namespace nva::config {

void fail(const Value& v, const std::string& msg) {
  throw ConfigError(v.where + ": " + v.key + ": " + msg);
}

std::string ipv4_string(std::uint32_t a) {
  in_addr in{htonl(a)};
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &in, buf, sizeof buf);
  return buf;
}

namespace {

// ---- reading one value ----

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  const auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
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

std::uint32_t to_ipv4(const Value& v) {
  in_addr a{};
  if (inet_pton(AF_INET, v.text.c_str(), &a) != 1)
    fail(v, "not an IPv4 address: '" + v.text + "'");
  return ntohl(a.s_addr);
}

// A part of `v` read on its own (a list item, a backend's port), named as `v`.
Value part(const Value& v, std::string text) { return {v.key, std::move(text), v.where}; }

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

// ---- codecs: how one kind of value is read and shown ----

template <class T>
struct Codec {
  std::string type;
  std::string range;
  std::function<T(const Value&)> read;        // throws ConfigError naming the value
  std::function<std::string(const T&)> show;  // the default column
};

template <class T>
Codec<T> number(std::uint64_t min, std::uint64_t max) {
  return {"integer", std::to_string(min) + ".." + std::to_string(max),
          [min, max](const Value& v) { return static_cast<T>(to_uint(v, min, max)); },
          [](const T& x) { return std::to_string(x); }};
}

// `c` and one more rule, the module's own: `check` says why a value is
// refused. `range` replaces c's.
template <class T>
Codec<T> checked(Codec<T> c, std::string range,
                 std::function<std::optional<std::string>(const T&)> check) {
  c.range = std::move(range);
  c.read = [read = std::move(c.read), check = std::move(check)](const Value& v) {
    T x = read(v);
    if (const auto why = check(x)) fail(v, *why);
    return x;
  };
  return c;
}

Codec<bool> boolean() {
  return {"boolean", "`true`, `false` (also yes/no, on/off, 1/0)", to_bool,
          [](const bool& b) { return std::string(b ? "true" : "false"); }};
}

Codec<std::uint32_t> ipv4() {
  return {"IPv4 address", "", to_ipv4,
          [](const std::uint32_t& a) { return a == 0 ? std::string() : ipv4_string(a); }};
}

// "ADDR:PORT"
Codec<Endpoint> endpoint() {
  return {"IPv4 address:port", "",
          [](const Value& v) {
            const auto colon = v.text.rfind(':');
            if (colon == std::string::npos)
              fail(v, "expected ADDR:PORT, got '" + v.text + "'");
            Endpoint e;
            e.addr = to_ipv4(part(v, v.text.substr(0, colon)));
            e.port = static_cast<std::uint16_t>(
                to_uint(part(v, v.text.substr(colon + 1)), 1, 65535));
            return e;
          },
          [](const Endpoint& e) {
            return e.addr == 0 ? std::string()
                               : ipv4_string(e.addr) + ":" + std::to_string(e.port);
          }};
}

Codec<std::string> text(std::string type) {
  return {std::move(type), "", [](const Value& v) { return v.text; },
          [](const std::string& s) { return s; }};
}

// One of `names` ("not a, b or c: 'x'" otherwise).
template <class T>
Codec<T> one_of(std::vector<std::pair<std::string, T>> names) {
  std::string list, range;
  for (std::size_t i = 0; i < names.size(); ++i) {
    list += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i].first;
    range += (i == 0 ? "`" : ", `") + names[i].first + "`";
  }
  return {"choice", range,
          [names, list](const Value& v) {
            for (const auto& [name, x] : names) {
              if (v.text == name) return x;
            }
            fail(v, "not " + list + ": '" + v.text + "'");
          },
          [names](const T& x) {
            for (const auto& [name, y] : names) {
              if (y == x) return name;
            }
            return std::string();
          }};
}

// `c`, or nothing: `unset` in the default column.
template <class T>
Codec<std::optional<T>> optional(Codec<T> c, std::string unset) {
  return {
      c.type, c.range,
      [read = c.read](const Value& v) { return std::optional<T>(read(v)); },
      [show = c.show, unset](const std::optional<T>& x) { return x ? show(*x) : unset; }};
}

// Comma-separated values of `c`, each read on its own.
template <class T>
Codec<std::vector<T>> list_of(Codec<T> c, std::string type) {
  return {std::move(type), c.range,
          [read = c.read](const Value& v) {
            std::vector<T> out;
            for (const std::string& item : split_list(v.text))
              out.push_back(read(part(v, item)));
            return out;
          },
          [show = c.show](const std::vector<T>& xs) {
            std::string out;
            for (const T& x : xs) out += (out.empty() ? "" : ", ") + show(x);
            return out;
          }};
}

// `c` for a value with no default: its zero shows as none.
template <class T>
Codec<T> required(Codec<T> c) {
  c.show = [show = std::move(c.show)](const T& x) {
    return x == T{} ? std::string() : show(x);
  };
  return c;
}

// `auto` (0) or a number of `c`.
Codec<std::uint32_t> auto_or(Codec<std::uint32_t> c) {
  return {"integer or `auto`", "`auto`, " + c.range,
          [read = c.read](const Value& v) { return v.text == "auto" ? 0u : read(v); },
          [show = c.show](const std::uint32_t& x) {
            return x == 0 ? std::string("auto") : show(x);
          }};
}

Codec<std::vector<std::string>> words() {
  return {"words", "split on spaces",
          [](const Value& v) {
            std::vector<std::string> out;
            std::istringstream in(v.text);
            for (std::string w; in >> w;) out.push_back(w);
            return out;
          },
          [](const std::vector<std::string>& ws) {
            std::string out;
            for (const std::string& w : ws) out += (out.empty() ? "" : " ") + w;
            return out;
          }};
}

Codec<std::string> mac() {
  return checked<std::string>(text("MAC address"), "`aa:bb:cc:dd:ee:ff`",
                              [](const std::string& s) -> std::optional<std::string> {
                                if (valid_mac(s)) return std::nullopt;
                                return "not a MAC address (aa:bb:cc:dd:ee:ff): '" + s +
                                       "'";
                              });
}

// The prober's own check (health::check_http_path): what passes here is
// what Prober::add accepts.
Codec<std::string> http_path() {
  return {"HTTP path",
          "starts with `/`, visible ASCII only, at most " +
              std::to_string(health::kMaxHttpPath) + " characters",
          [](const Value& v) {
            if (const auto why = health::check_http_path(v.text))
              fail(v, "not an HTTP path: " + *why + ": '" + v.text + "'");
            return v.text;
          },
          [](const std::string& s) { return s; }};
}

Codec<ProbeSettings::Kind> probe_kind() {
  using health::ProbeKind;
  std::vector<std::pair<std::string, ProbeKind>> names;
  for (const ProbeKind k : {ProbeKind::kTcp, ProbeKind::kHttp, ProbeKind::kNone}) {
    names.emplace_back(health::probe_kind_name(k), k);
  }
  return one_of(std::move(names));
}

Codec<std::uint32_t> http_status() {
  return number<std::uint32_t>(health::kMinHttpStatus, health::kMaxHttpStatus);
}

Codec<std::uint32_t> min_healthy() { return number<std::uint32_t>(0, 65535); }

// The speaker's own parsers (nva-bgp's --community and --large-community).
Codec<std::uint32_t> community() {
  return {"community",
          "`AS:VALUE` (16 bits each), `graceful-shutdown`, `no-export`, `no-advertise`",
          [](const Value& v) {
            const auto c = bgp::parse_community(v.text);
            if (!c) fail(v, "'" + v.text + "' is not AS:VALUE");
            return c->value;
          },
          [](const std::uint32_t& c) { return bgp::to_string(bgp::Community{c}); }};
}

Codec<std::array<std::uint32_t, 3>> large_community() {
  return {"large community", "`GLOBAL:DATA1:DATA2` (32 bits each)",
          [](const Value& v) {
            const auto c = bgp::parse_large_community(v.text);
            if (!c) fail(v, "'" + v.text + "' is not GLOBAL:DATA1:DATA2");
            return std::array<std::uint32_t, 3>{c->global_administrator, c->local_data_1,
                                                c->local_data_2};
          },
          [](const std::array<std::uint32_t, 3>& c) {
            return bgp::to_string(bgp::LargeCommunity{c[0], c[1], c[2]});
          }};
}

// "ADDR[:PORT] [weight=N]"
lb::Backend to_backend(const Value& v) {
  std::istringstream in(v.text);
  std::string endpoint, extra;
  in >> endpoint;
  lb::Backend b;
  const auto colon = endpoint.find(':');
  b.addr = to_ipv4(part(v, endpoint.substr(0, colon)));
  if (colon != std::string::npos) {
    b.port = static_cast<std::uint16_t>(
        to_uint(part(v, endpoint.substr(colon + 1)), 1, 65535));
  }
  while (in >> extra) {
    if (extra.rfind("weight=", 0) != 0)
      fail(v, "unknown backend attribute '" + extra + "'");
    b.weight = static_cast<std::uint32_t>(to_uint(part(v, extra.substr(7)), 0, 1u << 20));
  }
  return b;
}

// "ADDR:AS [name=N] [port=P] [passive]"
BgpPeerConfig to_peer(const Value& v) {
  std::istringstream in(v.text);
  std::string endpoint, extra;
  in >> endpoint;
  const auto colon = endpoint.find(':');
  if (colon == std::string::npos) fail(v, "expected ADDR:AS, got '" + endpoint + "'");
  BgpPeerConfig p;
  p.addr = to_ipv4(part(v, endpoint.substr(0, colon)));
  p.as = static_cast<std::uint32_t>(
      to_uint(part(v, endpoint.substr(colon + 1)), 1, 0xFFFFFFFFull));
  p.name = endpoint.substr(0, colon);
  while (in >> extra) {
    if (extra == "passive") {
      p.passive = true;
    } else if (extra.rfind("name=", 0) == 0 && extra.size() > 5) {
      p.name = extra.substr(5);
    } else if (extra.rfind("port=", 0) == 0) {
      p.port = static_cast<std::uint16_t>(to_uint(part(v, extra.substr(5)), 1, 65535));
    } else {
      fail(v, "unknown peer attribute '" + extra + "'");
    }
  }
  return p;
}

// ---- rows ----

// Where a row writes: the configuration, or the service of the value.
struct InConfig {
  using Target = Config;
  static Config& of(Draft& d) { return d.config; }
};
struct InService {
  using Target = ServiceDraft;
  static ServiceDraft& of(Draft& d) { return *d.service; }
};

template <class In>
const typename In::Target& defaults() {
  static const typename In::Target kDefaults{};
  return kDefaults;
}

// The columns every row has.
Setting columns(std::string section, std::string key, Apply apply, std::string type,
                std::string range, std::string doc) {
  Setting s;
  s.section = std::move(section);
  s.key = std::move(key);
  s.type = std::move(type);
  s.range = std::move(range);
  s.apply = apply;
  s.doc = std::move(doc);
  return s;
}

// A row of the configuration compares `field` of two (a reload applies
// every service key: they need none).
template <class In, class F>
void compare_by(Setting& s, F field) {
  if constexpr (std::is_same_v<In, InConfig>) {
    s.differs = [field](const Config& a, const Config& b) {
      return !(field(a) == field(b));
    };
  }
}

// A key whose value `c` reads into `field(target)`; `field` is a generic
// lambda giving the member of a (const or not) target.
template <class In, class F, class T>
Setting make(std::string section, std::string key, Apply apply, F field, Codec<T> c,
             std::string doc) {
  Setting s =
      columns(std::move(section), std::move(key), apply, c.type, c.range, std::move(doc));
  s.default_text = c.show(field(defaults<In>()));
  s.set = [field, read = c.read](Draft& d, const Value& v) {
    field(In::of(d)) = read(v);
  };
  compare_by<In>(s, field);
  return s;
}

// A repeatable key: each value `c` reads is appended to `field(target)`.
template <class In, class F, class T>
Setting repeated(std::string section, std::string key, Apply apply, F field, Codec<T> c,
                 std::string doc) {
  Setting s = columns(std::move(section), std::move(key), apply, c.type + ", repeatable",
                      c.range, std::move(doc));
  s.repeatable = true;
  s.set = [field, read = c.read](Draft& d, const Value& v) {
    field(In::of(d)).push_back(read(v));
  };
  compare_by<In>(s, field);
  return s;
}

template <class F, class T>
Setting row(std::string section, std::string key, Apply apply, F field, Codec<T> c,
            std::string doc) {
  return make<InConfig>(std::move(section), std::move(key), apply, field, std::move(c),
                        std::move(doc));
}

// Every service key is applied by a reload.
template <class F, class T>
Setting service(std::string key, F field, Codec<T> c, std::string doc) {
  return make<InService>(std::string(kServiceSection), std::move(key), Apply::kReload,
                         field, std::move(c), std::move(doc));
}

// A timeout class's doc, by TimeoutClass; the key is its name + "_ms".
constexpr std::array<std::string_view, conntrack::kTimeoutClassCount> kTimeoutDocs = {
    "SYN_SENT, SYN_RECEIVED and every TCP connection not yet assured (picked up, or "
    "FIN/RST before the handshake); evictable when the table or a SNAT pair is full, as "
    "are unreplied UDP and closed TCP",
    "established TCP: the RFC 5382 minimum (2 h 4 min)",
    "FIN_WAIT and CLOSING",
    "TIME_WAIT",
    "after an RST",
    "unreplied UDP",
    "replied UDP (RFC 4787)",
    "ICMP",
};

constexpr Apply kReload = Apply::kReload;
constexpr Apply kRestart = Apply::kRestart;

std::vector<Setting> build() {
  using D = DataplaneConfig;
  std::vector<Setting> t;

  // [eal]
  t.push_back(row(
      "eal", "args", kRestart, [](auto& c) -> auto& { return c.eal_args; }, words(),
      "EAL arguments (lcores, devices, vdevs)"));

  // [dataplane]
  const auto dp = [&](std::string key, auto field, auto codec, std::string doc) {
    t.push_back(row("dataplane", std::move(key), kRestart, field, codec, std::move(doc)));
  };
  dp(
      "workers", [](auto& c) -> auto& { return c.dataplane.workers; },
      number<std::uint32_t>(1, D::kMaxWorkers),
      "worker lcores; EAL must give as many besides the main lcore");
  dp(
      "ports", [](auto& c) -> auto& { return c.dataplane.ports; },
      checked<std::vector<std::string>>(
          list_of(text("ethdev name"), "ethdev names"), "comma-separated",
          [](const std::vector<std::string>& p) -> std::optional<std::string> {
            if (p.empty()) return "no port named";
            return std::nullopt;
          }),
      "the ports' ethdev names (`net_af_packet0`, a PCI address, ...)");
  dp(
      "gateway_mac", [](auto& c) -> auto& { return c.dataplane.gateway_mac; },
      optional(mac(), "learned"),
      "next hop for everything sent; unset: by ARP if `dataplane.gateway` is set, else "
      "the source MAC of the first packet received (in an Azure VNet every packet comes "
      "from the gateway)");
  dp(
      "gateway", [](auto& c) -> auto& { return c.dataplane.gateway_ip; },
      optional(ipv4(), ""),
      "the gateway's address: its MAC is then asked for by ARP once a second until "
      "known, and taken from its ARP packets");
  dp(
      "address", [](auto& c) -> auto& { return c.dataplane.local_ip; },
      optional(ipv4(), ""), "our address on the port (the ARP requests' source)");
  dp(
      "connections", [](auto& c) -> auto& { return c.dataplane.connections; },
      number<std::uint32_t>(16, 1u << 30),
      "connection table capacity per worker (78 bytes each, and at most one more for the "
      "SYN proxy's offsets unless `syn_proxy = off`)");
  dp(
      "seed", [](auto& c) -> auto& { return c.dataplane.seed; },
      number<std::uint64_t>(0, ~0ull),
      "Maglev seed: the same on every NVA of a service (which worker owns a flow is "
      "decided by a secret per-process key instead, so nobody outside can aim packets at "
      "one worker)");
  dp(
      "maglev_table_size", [](auto& c) -> auto& { return c.dataplane.maglev_table_size; },
      checked<std::uint32_t>(number<std::uint32_t>(2, 1u << 26), "prime, 2..67108864",
                             [](const std::uint32_t& n) -> std::optional<std::string> {
                               if (lb::is_prime(n)) return std::nullopt;
                               return std::to_string(n) + " is not prime";
                             }),
      "Maglev table entries per service: at least 100 x the backends of any service");
  dp(
      "handoff_ring_size", [](auto& c) -> auto& { return c.dataplane.handoff_ring_size; },
      checked<std::uint32_t>(number<std::uint32_t>(64, 1u << 20),
                             "power of two, 64..1048576",
                             [](const std::uint32_t& n) -> std::optional<std::string> {
                               if ((n & (n - 1)) == 0) return std::nullopt;
                               return std::to_string(n) + " is not a power of two";
                             }),
      "slots per worker handoff ring");
  dp(
      "mbufs", [](auto& c) -> auto& { return c.dataplane.mbufs; },
      auto_or(number<std::uint32_t>(1023, 1u << 24)),
      "packet buffers. `auto`: what the ports' descriptors, the lcore caches, the "
      "workers' bursts, full handoff rings, held fragments (512 per worker) and the SYN "
      "proxy's held segments (64 per worker) can hold at once, plus a quarter, at least "
      "16383 (logged at start: `packet buffers: N for RX descriptors ... = M`); a number "
      "below that sum is refused with the sum spelled out");
  dp(
      "snat_port_min", [](auto& c) -> auto& { return c.dataplane.snat_port_min; },
      number<std::uint16_t>(1, 65535),
      "lowest SNAT port; each worker uses the ports p with p % workers = its index");
  dp(
      "tcp_pickup", [](auto& c) -> auto& { return c.dataplane.tcp_pickup; }, boolean(),
      "`dnat` services accept mid-stream TCP for unknown flows (embryonic until the "
      "backend answers)");
  dp(
      "syn_proxy", [](auto& c) -> auto& { return c.dataplane.syn_proxy; },
      one_of<nat::SynProxyMode>({{"auto", nat::SynProxyMode::kAuto},
                                 {"on", nat::SynProxyMode::kOn},
                                 {"off", nat::SynProxyMode::kOff}}),
      "SYN cookies: the NVA answers a SYN itself and opens the backend connection when "
      "the client's ACK returns a valid cookie, so a SYN flood creates no state. `auto`: "
      "while a worker is under pressure (a quarter of its table embryonic, or a "
      "connection evicted or a SNAT pair out of ports in the last second); `on`: always; "
      "`off`: never. Proxied connections have no window scaling, SACK or timestamps. See "
      "`docs/DESIGN.md`");
  dp(
      "answer_vip_ping", [](auto& c) -> auto& { return c.dataplane.answer_vip_ping; },
      boolean(), "answer ICMP echo requests to VIPs");
  dp(
      "idle_sleep", [](auto& c) -> auto& { return c.dataplane.idle_sleep; }, boolean(),
      "sleep when idle (false: pure polling)");
  dp(
      "idle_sleep_us", [](auto& c) -> auto& { return c.dataplane.idle_sleep_us; },
      number<std::uint32_t>(1, 1'000'000), "sleep length");
  dp(
      "idle_polls", [](auto& c) -> auto& { return c.dataplane.idle_polls; },
      number<std::uint32_t>(1, 1u << 24), "empty polls before sleeping");
  dp(
      "rss_precalc", [](auto& c) -> auto& { return c.dataplane.rss_precalc; },
      one_of<RssPrecalc>({{"auto", RssPrecalc::kAuto}, {"off", RssPrecalc::kOff}}),
      "`auto`: where every port's RSS key and redirection table are known, SNAT ports "
      "are chosen so replies land on the creating worker's queue (no handoff for "
      "`dnat+snat`); `off`: software handoff. See `docs/STEERING.md`");
  dp(
      "rss_flow", [](auto& c) -> auto& { return c.dataplane.rss_flow; },
      one_of<RssFlow>({{"auto", RssFlow::kAuto}, {"off", RssFlow::kOff}}),
      "`auto`: install rte_flow rules where the PMD validates them (VIP: RSS on "
      "source-only fields; `dnat` return: destination-only; SNAT return: queue by port), "
      "each rejected class falls back, logged; `off`: none");
  dp(
      "watchdog_ms", [](auto& c) -> auto& { return c.dataplane.watchdog_ms; },
      number<std::uint32_t>(10, 60'000),
      "a worker whose heartbeat stands still this long is stuck: the VIPs are withdrawn "
      "until all workers beat again");
  dp(
      "test_hooks", [](auto& c) -> auto& { return c.dataplane.test_hooks; }, boolean(),
      "tests only: SIGUSR1 stalls / releases worker 0; SIGUSR2 makes two control-plane "
      "handlers throw (the daemon must log, count and run on)");

  // [timeouts]: one key per connection timeout class, named after it.
  for (std::size_t i = 0; i < conntrack::kTimeoutClassCount; ++i) {
    const auto cls = static_cast<conntrack::TimeoutClass>(i);
    t.push_back(row(
        "timeouts", std::string(conntrack::timeout_class_name(cls)) + "_ms",
        kRestart, [i](auto& c) -> auto& { return c.timeouts.ms[i]; },
        number<std::uint32_t>(1, conntrack::kMaxTimeoutMs),
        std::string(kTimeoutDocs[i])));
  }

  // [service.NAME]
  t.push_back(service(
      "proto", [](auto& s) -> auto& { return s.service.proto; },
      one_of<std::uint8_t>({{"tcp", 6}, {"udp", 17}}), "the service's protocol"));
  t.push_back(service(
      "vip", [](auto& s) -> auto& { return s.service.vip; }, ipv4(),
      "the anycast address (required)"));
  t.push_back(service(
      "port", [](auto& s) -> auto& { return s.service.port; },
      number<std::uint16_t>(0, 65535), "the service's port (0: every port of the VIP)"));
  t.push_back(service(
      "mode", [](auto& s) -> auto& { return s.service.mode; },
      one_of<lb::NatMode>(
          {{"dnat", lb::NatMode::kDnat}, {"dnat+snat", lb::NatMode::kDnatSnat}}),
      "`dnat` (client address kept) or `dnat+snat`"));
  {
    Setting snat = service(
        "snat", [](auto& s) -> auto& { return s.service.snat_addrs; },
        list_of(ipv4(), "IPv4 addresses"),
        "SNAT addresses, comma-separated (`dnat+snat`); none may be a VIP of any service "
        "(a forwarding loop)");
    snat.range = "comma-separated";
    snat.set = [set = std::move(snat.set)](Draft& d, const Value& v) {
      set(d, v);
      for (const std::uint32_t a : d.service->service.snat_addrs)
        d.snat_uses.push_back({a, v});
    };
    t.push_back(std::move(snat));
  }
  {
    Setting backend = repeated<InService>(
        std::string(kServiceSection), "backend", kReload,
        [](auto& s) -> auto& { return s.service.backends; },
        Codec<lb::Backend>{"backend",
                           "`ADDR[:PORT] [weight=N]`: port 1..65535, weight 0..1048576",
                           to_backend, nullptr},
        "a backend; no port: the client's destination port; its address may not be a VIP "
        "of any service (a forwarding loop)");
    backend.set = [set = std::move(backend.set)](Draft& d, const Value& v) {
      set(d, v);
      d.backend_uses.push_back({d.service->service.backends.back().addr, v});
    };
    t.push_back(std::move(backend));
  }
  t.push_back(service(
      "probe", [](auto& s) -> auto& { return s.probe; },
      optional(probe_kind(), "`health.probe`"),
      "the service's own probe (a UDP service needs `probe_port` or `probe = none`)"));
  t.push_back(service(
      "probe_port", [](auto& s) -> auto& { return s.probe_port; },
      optional(number<std::uint16_t>(1, 65535), "the backend's"),
      "probe this port instead of the backend's"));
  t.push_back(service(
      "http_path", [](auto& s) -> auto& { return s.http_path; },
      optional(http_path(), "`health.http_path`"), "the service's own HTTP probe path"));
  t.push_back(service(
      "http_status", [](auto& s) -> auto& { return s.http_status; },
      optional(http_status(), "`health.http_status`"),
      "the service's own expected HTTP status"));
  t.push_back(service(
      "min_healthy_backends", [](auto& s) -> auto& { return s.min_healthy_backends; },
      optional(min_healthy(), "`health.min_healthy_backends`"),
      "the service's own minimum of healthy backends"));

  // [health]
  const auto health_row = [&](std::string key, auto field, auto codec, std::string doc) {
    t.push_back(row("health", std::move(key), kReload, field, codec, std::move(doc)));
  };
  health_row(
      "probe", [](auto& c) -> auto& { return c.health.probe.kind; }, probe_kind(),
      "backend probe from the NVA's kernel: `tcp` (connect), `http` (GET, expected "
      "status) or `none` (always healthy)");
  health_row(
      "interval_ms", [](auto& c) -> auto& { return c.health.probe.interval_ms; },
      number<std::uint32_t>(10, 3'600'000),
      "a probe starts every interval: a dead backend is found in about fall x interval "
      "(~1 s)");
  health_row(
      "timeout_ms", [](auto& c) -> auto& { return c.health.probe.timeout_ms; },
      number<std::uint32_t>(10, 3'600'000),
      "a probe must finish within this; at most `interval_ms`");
  health_row(
      "rise", [](auto& c) -> auto& { return c.health.probe.rise; },
      number<std::uint32_t>(1, 100),
      "consecutive successes to come up (the first result counts at once)");
  health_row(
      "fall", [](auto& c) -> auto& { return c.health.probe.fall; },
      number<std::uint32_t>(1, 100), "consecutive failures to go down");
  health_row(
      "http_path", [](auto& c) -> auto& { return c.health.probe.http_path; }, http_path(),
      "the HTTP probe's request path (percent-encode the rest)");
  health_row(
      "http_status", [](auto& c) -> auto& { return c.health.probe.http_status; },
      http_status(), "the HTTP probe's expected status");
  health_row(
      "source", [](auto& c) -> auto& { return c.health.source; }, optional(ipv4(), ""),
      "the probes' source address");
  health_row(
      "min_healthy_backends",
      [](auto& c) -> auto& { return c.health.min_healthy_backends; }, min_healthy(),
      "a VIP is announced while the data plane is healthy and each of its services has "
      "this many healthy backends");
  health_row(
      "action", [](auto& c) -> auto& { return c.health.action; },
      one_of<UnhealthyAction>({{"withdraw", UnhealthyAction::kWithdraw},
                               {"deprefer", UnhealthyAction::kDeprefer}}),
      "below that: `withdraw`, or `deprefer`: announce with `deprefer_prepend` more "
      "AS-path prepends and MED `deprefer_med` (if set)");
  health_row(
      "deprefer_prepend", [](auto& c) -> auto& { return c.health.deprefer_prepend; },
      number<unsigned>(0, bgp::kMaxPrepend), "the AS-path prepends `deprefer` adds");
  health_row(
      "deprefer_med", [](auto& c) -> auto& { return c.health.deprefer_med; },
      optional(number<std::uint32_t>(0, 0xFFFFFFFFull), "none"),
      "the MED `deprefer` announces (none: `bgp.med`)");
  health_row(
      "hold_down_ms", [](auto& c) -> auto& { return c.health.hold_down_ms; },
      number<std::uint32_t>(0, 3'600'000),
      "a VIP that went down comes back only after being healthy this long");
  health_row(
      "damping", [](auto& c) -> auto& { return c.health.damping; }, boolean(),
      "every fall adds 1000 to a penalty that halves every half-life; above `suppress` "
      "the VIP stays down until the penalty is below `reuse`");
  health_row(
      "damping_half_life_ms",
      [](auto& c) -> auto& { return c.health.damping_half_life_ms; },
      number<std::uint32_t>(100, 3'600'000), "the penalty's half-life");
  health_row(
      "damping_suppress", [](auto& c) -> auto& { return c.health.damping_suppress; },
      number<std::uint32_t>(1, 1'000'000), "the penalty above which the VIP stays down");
  health_row(
      "damping_reuse", [](auto& c) -> auto& { return c.health.damping_reuse; },
      number<std::uint32_t>(1, 1'000'000),
      "the penalty below which it may come back; below `damping_suppress`");
  health_row(
      "dead_backend_connections",
      [](auto& c) -> auto& { return c.health.dead_backend_connections; },
      one_of<lb::DeadBackendPolicy>({{"keep", lb::DeadBackendPolicy::kKeep},
                                     {"reset", lb::DeadBackendPolicy::kReset}}),
      "connections of a backend marked down: `keep` until they expire, or `reset` (TCP: "
      "the NVA answers the client with an RST; UDP: re-balanced)");

  // [drain]
  t.push_back(row(
      "drain", "mode", kReload, [](auto& c) -> auto& { return c.drain.mode; },
      one_of<DrainConfig::Mode>(
          {{"withdraw", DrainConfig::Mode::kWithdraw},
           {"graceful-shutdown", DrainConfig::Mode::kGracefulShutdown}}),
      "on SIGTERM: `withdraw` the VIPs, or `graceful-shutdown`: announce them with "
      "community 65535:0 (RFC 8326)"));
  t.push_back(row(
      "drain", "time_ms", kReload, [](auto& c) -> auto& { return c.drain.time_ms; },
      number<std::uint32_t>(0, 3'600'000),
      "then keep forwarding until no connection is active or this long, then Cease and "
      "exit"));

  // [metrics]
  t.push_back(row(
      "metrics", "address", kRestart, [](auto& c) -> auto& { return c.metrics.address; },
      optional(endpoint(), "off"),
      "serve Prometheus metrics at http://ADDR:PORT/metrics (docs/METRICS.md); keep it "
      "on "
      "127.0.0.1 or a management address"));

  // [azure]
  t.push_back(row(
      "azure", "scheduled_events", kRestart,
      [](auto& c) -> auto& { return c.azure.scheduled_events; }, boolean(),
      "poll Azure Scheduled Events: take the VIPs down before maintenance of this VM, "
      "acknowledge once drained (deploy/README.md)"));
  t.push_back(row(
      "azure", "imds", kRestart, [](auto& c) -> auto& { return c.azure.imds; },
      endpoint(), "the Instance Metadata Service"));
  t.push_back(row(
      "azure", "vm_name", kRestart, [](auto& c) -> auto& { return c.azure.vm_name; },
      checked<std::string>(text("VM name"), "1-64 of `A-Z a-z 0-9 - _ .`",
                           [](const std::string& n) -> std::optional<std::string> {
                             const bool ok =
                                 !n.empty() && n.size() <= 64 &&
                                 std::all_of(n.begin(), n.end(), [](unsigned char c) {
                                   return std::isalnum(c) || c == '-' || c == '_' ||
                                          c == '.';
                                 });
                             if (ok) return std::nullopt;
                             return "not an Azure VM name: '" + n + "'";
                           }),
      "this VM's name in the events' Resources; unset: asked of IMDS"));
  t.push_back(row(
      "azure", "poll_ms", kRestart, [](auto& c) -> auto& { return c.azure.poll_ms; },
      number<std::uint32_t>(100, 60'000), "how often Scheduled Events are polled"));

  // [bgp]: the sessions need a restart; the route attributes are reloaded.
  const auto bgp_row = [&](std::string key, Apply apply, auto field, auto codec,
                           std::string doc) {
    t.push_back(row("bgp", std::move(key), apply, field, codec, std::move(doc)));
  };
  bgp_row(
      "local_as", kRestart, [](auto& c) -> auto& { return c.bgp.local_as; },
      required(number<std::uint32_t>(1, 0xFFFFFFFFull)),
      "our AS (4-octet allowed: AS_TRANS towards 2-octet peers); any [bgp] key turns BGP "
      "on, and then this is required");
  bgp_row(
      "router_id", kRestart, [](auto& c) -> auto& { return c.bgp.router_id; }, ipv4(),
      "our router id; required with BGP");
  bgp_row(
      "source", kRestart, [](auto& c) -> auto& { return c.bgp.source; },
      optional(ipv4(), ""), "local address of the sessions, and the next hop");
  t.push_back(repeated<InConfig>(
      "bgp", "peer", kRestart, [](auto& c) -> auto& { return c.bgp.peers; },
      Codec<BgpPeerConfig>{
          "peer",
          "`ADDR:AS [name=N] [port=P] [passive]`: AS 1..4294967295, port 1..65535",
          to_peer, nullptr},
      "a peer, one line each (both Route Server instances); at least one with BGP"));
  bgp_row(
      "hold_time", kRestart, [](auto& c) -> auto& { return c.bgp.hold_time; },
      checked<std::uint16_t>(
          number<std::uint16_t>(0, 65535), std::to_string(bgp::kMinHoldTime) + "..65535",
          [](const std::uint16_t& s) { return bgp::check_hold_time(s); }),
      "hold time in seconds (0, no keepalives, is refused here and in a peer's OPEN)");
  bgp_row(
      "ttl", kRestart, [](auto& c) -> auto& { return c.bgp.ttl; },
      number<std::uint8_t>(1, 255), "multihop TTL");
  bgp_row(
      "gtsm_hops", kRestart, [](auto& c) -> auto& { return c.bgp.gtsm_hops; },
      optional(number<std::uint8_t>(1, 255), "off"),
      "GTSM (RFC 5082): the peers' distance");
  bgp_row(
      "listen", kRestart, [](auto& c) -> auto& { return c.bgp.listen; }, boolean(),
      "accept the peers' connections too");
  bgp_row(
      "listen_port", kRestart, [](auto& c) -> auto& { return c.bgp.listen_port; },
      number<std::uint16_t>(1, 65535), "the port they connect to");
  bgp_row(
      "max_prefixes_in", kRestart, [](auto& c) -> auto& { return c.bgp.max_prefixes_in; },
      number<std::uint32_t>(1, 1'000'000),
      "received prefixes per peer and address family (counted, never stored); one more "
      "resets the session with Cease / Maximum Number of Prefixes Reached (RFC 4486) and "
      "it retries after the back-off; see `docs/BGP.md`");
  bgp_row(
      "prepend", kReload, [](auto& c) -> auto& { return c.bgp.prepend; },
      number<unsigned>(0, bgp::kMaxPrepend), "AS-path prepends on every announced VIP");
  bgp_row(
      "med", kReload, [](auto& c) -> auto& { return c.bgp.med; },
      optional(number<std::uint32_t>(0, 0xFFFFFFFFull), "none"),
      "MED on every announced VIP");
  bgp_row(
      "community", kReload, [](auto& c) -> auto& { return c.bgp.communities; },
      list_of(community(), "communities"),
      "communities on every announced VIP, comma-separated, read as `nva-bgp "
      "--community` reads them");
  bgp_row(
      "large_community", kReload,
      [](auto& c) -> auto& { return c.bgp.large_communities; },
      list_of(large_community(), "large communities"),
      "large communities (RFC 8092) on every announced VIP, comma-separated");
  return t;
}

}  // namespace

const std::vector<Setting>& settings() {
  static const std::vector<Setting> table = build();
  return table;
}

std::vector<std::string> settings_needing_restart(const Config& running,
                                                  const Config& next) {
  std::vector<std::string> changed;
  for (const Setting& s : settings()) {
    if (s.apply == Apply::kRestart && s.differs(running, next))
      changed.push_back(s.name());
  }
  return changed;
}

std::string settings_markdown() {
  const auto cell = [](const std::string& s) {
    return s.empty() ? " |" : " " + s + " |";
  };
  std::string out =
      "| key | type | default | range | takes effect | meaning |\n| --- | --- | --- | "
      "--- | --- | --- |\n";
  for (const Setting& s : settings()) {
    out += "|" + cell("`" + s.name() + "`") + cell(s.type) + cell(s.default_text) +
           cell(s.range) + cell(s.apply == Apply::kReload ? "on reload" : "on restart") +
           cell(s.doc) + "\n";
  }
  return out;
}

}  // namespace nva::config
