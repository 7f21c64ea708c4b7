// Configuration: a full file parses into the structs; each bad value gives
// "file:line: option: reason"; command-line overrides; cross-field checks.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <string>

#include "controlplane/bgp/policy.h"
#include "controlplane/config/config.h"
#include "controlplane/config/settings.h"

namespace nva::config {
namespace {

const char* kGood = R"(# comment
[eal]
args = -l 0-1 --no-huge   --vdev=net_ring0

[dataplane]
workers = 2
ports = net_ring0, net_ring1
gateway_mac = 12:34:56:78:9a:bc
gateway = 198.18.0.1
address = 198.18.0.2
connections = 4096
seed = 42
maglev_table_size = 307
tcp_pickup = no
idle_sleep = off
watchdog_ms = 250
test_hooks = yes

[timeouts]
tcp_established_ms = 600000   # 10 min

[service.web]
proto = tcp
vip = 198.19.0.10
port = 80
mode = dnat+snat
snat = 198.18.1.1, 198.18.1.2
backend = 198.18.2.1:8080 weight=3
backend = 198.18.2.2

[service.dns]
proto = udp
vip = 198.19.0.10
port = 53
backend = 198.18.4.1:5353
probe = none
)";

TEST(Config, ParsesEverySection) {
  const Config c = parse(kGood, "nva.ini");
  EXPECT_EQ(c.eal_args,
            (std::vector<std::string>{"-l", "0-1", "--no-huge", "--vdev=net_ring0"}));
  EXPECT_EQ(c.dataplane.workers, 2u);
  EXPECT_EQ(c.dataplane.ports, (std::vector<std::string>{"net_ring0", "net_ring1"}));
  EXPECT_EQ(c.dataplane.gateway_mac.value_or(""), "12:34:56:78:9a:bc");
  EXPECT_EQ(c.dataplane.gateway_ip.value_or(0), 0xC6120001u);
  EXPECT_EQ(c.dataplane.local_ip.value_or(0), 0xC6120002u);
  EXPECT_EQ(c.dataplane.connections, 4096u);
  EXPECT_EQ(c.dataplane.seed, 42u);
  EXPECT_FALSE(c.dataplane.tcp_pickup);
  EXPECT_FALSE(c.dataplane.idle_sleep);
  EXPECT_EQ(c.dataplane.watchdog_ms, 250u);
  EXPECT_TRUE(c.dataplane.test_hooks);
  EXPECT_TRUE(c.dataplane.answer_vip_ping);  // default
  EXPECT_EQ(c.timeouts.of(conntrack::TimeoutClass::kTcpEstablished), 600000u);
  EXPECT_EQ(c.timeouts.of(conntrack::TimeoutClass::kUdp),
            conntrack::Timeouts::kDefaultUdpMs);
  ASSERT_EQ(c.services.size(), 2u);
  const lb::Service& dns = c.services[0];  // sorted by name
  const lb::Service& web = c.services[1];
  EXPECT_EQ(dns.name, "dns");
  EXPECT_EQ(dns.proto, 17);
  EXPECT_EQ(dns.mode, lb::NatMode::kDnat);
  EXPECT_EQ(web.proto, 6);
  EXPECT_EQ(web.vip, 0xC613000Au);
  EXPECT_EQ(web.port, 80);
  EXPECT_EQ(web.mode, lb::NatMode::kDnatSnat);
  ASSERT_EQ(web.snat_addrs.size(), 2u);
  ASSERT_EQ(web.backends.size(), 2u);
  EXPECT_EQ(web.backends[0].port, 8080);
  EXPECT_EQ(web.backends[0].weight, 3u);
  EXPECT_EQ(web.backends[1].port, 0);
  EXPECT_EQ(web.backends[1].weight, 1u);
  EXPECT_EQ(web.seed, 42u);
  EXPECT_NE(summary(c).find("2 service(s), 3 backend(s), 2 worker(s)"),
            std::string::npos);
}

std::string error_of(const std::string& text, std::vector<std::string> overrides = {}) {
  try {
    parse(text, "nva.ini", overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

struct BadCase {
  const char* text;
  const char* error;
};

class BadConfig : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadConfig, NamesFileLineOptionAndReason) {
  EXPECT_EQ(error_of(GetParam().text), GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Table, BadConfig,
    ::testing::Values(
        BadCase{"[service.web]\nproto = tcp\nvip = 198.19.0.300\n",
                "nva.ini:3: service.web.vip: not an IPv4 address: '198.19.0.300'"},
        BadCase{"[dataplane]\nworkers = 0\n",
                "nva.ini:2: dataplane.workers: 0 is out of range 1..64"},
        BadCase{"[dataplane]\nworkers = two\n",
                "nva.ini:2: dataplane.workers: not a number: 'two'"},
        BadCase{"[dataplane]\n\nworkers = 1\nworkers = 2\n",
                "nva.ini:4: dataplane.workers: given more than once"},
        BadCase{"[dataplane]\nwrokers = 1\n",
                "nva.ini:2: dataplane.wrokers: unknown option"},
        BadCase{"[dataplane]\nmaglev_table_size = 1000\n",
                "nva.ini:2: dataplane.maglev_table_size: 1000 is not prime"},
        BadCase{
            "[dataplane]\ngateway_mac = 12:34:56\n",
            "nva.ini:2: dataplane.gateway_mac: not a MAC address (aa:bb:cc:dd:ee:ff): "
            "'12:34:56'"},
        BadCase{"[dataplane]\nrss_precalc = on\n",
                "nva.ini:2: dataplane.rss_precalc: not auto or off: 'on'"},
        BadCase{"[dataplane]\nrss_flow = yes\n",
                "nva.ini:2: dataplane.rss_flow: not auto or off: 'yes'"},
        BadCase{"[dataplane]\nsyn_proxy = always\n",
                "nva.ini:2: dataplane.syn_proxy: not auto, on or off: 'always'"},
        BadCase{"[dataplane]\ntcp_pickup = maybe\n",
                "nva.ini:2: dataplane.tcp_pickup: not a boolean (true/false): 'maybe'"},
        BadCase{"[timeouts]\nudp_ms = 0\n",
                "nva.ini:2: timeouts.udp_ms: 0 is out of range 1..1073741824"},
        BadCase{"[service.web]\nproto = sctp\n",
                "nva.ini:2: service.web.proto: not tcp or udp: 'sctp'"},
        BadCase{"[service.web]\nvip = 198.19.0.1\nbackend = 198.18.2.1:99999\n",
                "nva.ini:3: service.web.backend: 99999 is out of range 1..65535"},
        BadCase{"[service.web]\nvip = 198.19.0.1\nbackend = 198.18.2.1 weigth=2\n",
                "nva.ini:3: service.web.backend: unknown backend attribute 'weigth=2'"},
        BadCase{"[service.web]\nvip = 198.19.0.1\n",
                "nva.ini:2: service.web: no backend"},
        BadCase{
            "[service.web]\nvip = 198.19.0.1\nmode = dnat+snat\nbackend = 198.18.2.1\n",
            "nva.ini:2: service.web: mode dnat+snat needs snat addresses"},
        BadCase{
            "[service.a]\nvip = 198.19.0.1\nport = 80\nbackend = 198.18.2.1\n"
            "[service.b]\nvip = 198.19.0.1\nport = 80\nbackend = 198.18.2.2\n",
            "nva.ini:6: service.b: another service has the same protocol, vip and port"},
        BadCase{"[dataplane]\nworkers 2\n",
                "nva.ini:2: expected 'key = value', '[section]' or a # comment, got "
                "'workers 2'"},
        BadCase{"[dataplane\nworkers = 2\n",
                "nva.ini:1: malformed section header '[dataplane'"},
        BadCase{
            "[dataplane]\nmaglev_table_size = 307\n[service.web]\nvip = 198.19.0.1\n"
            "backend = 198.18.2.1\nbackend = 198.18.2.2\nbackend = 198.18.2.3\nbackend = "
            "198.18.2.4\n",
            "nva.ini:4: service.web: dataplane.maglev_table_size: table size 307 is "
            "below "
            "100 x 4 backends"}),
    [](const auto& tp) { return "case" + std::to_string(tp.index); });

TEST(Config, BgpSection) {
  const std::string text = std::string(kGood) + R"(
[bgp]
local_as = 65001
router_id = 198.18.0.2
source = 198.18.0.2
hold_time = 90
max_prefixes_in = 500
peer = 198.18.0.4:65515 name=rs1
peer = 198.18.0.5:65515 name=rs2 passive port=1179
prepend = 2
med = 50
community = 65001:100, 65535:65281
large_community = 65001:1:2
)";
  const Config c = parse(text, "nva.ini");
  ASSERT_TRUE(c.bgp.enabled);
  EXPECT_EQ(c.bgp.local_as, 65001u);
  EXPECT_EQ(c.bgp.router_id, 0xC6120002u);
  EXPECT_EQ(c.bgp.source.value_or(0), 0xC6120002u);
  EXPECT_EQ(c.bgp.hold_time, 90);
  EXPECT_EQ(c.bgp.max_prefixes_in, 500u);
  ASSERT_EQ(c.bgp.peers.size(), 2u);
  EXPECT_EQ(c.bgp.peers[0].name, "rs1");
  EXPECT_EQ(c.bgp.peers[0].as, 65515u);
  EXPECT_FALSE(c.bgp.peers[0].passive);
  EXPECT_TRUE(c.bgp.peers[1].passive);
  EXPECT_EQ(c.bgp.peers[1].port, 1179);
  EXPECT_EQ(c.bgp.prepend, 2u);
  EXPECT_EQ(c.bgp.med.value_or(0), 50u);
  EXPECT_EQ(c.bgp.communities, (std::vector<std::uint32_t>{0xFDE90064u, 0xFFFFFF01u}));
  ASSERT_EQ(c.bgp.large_communities.size(), 1u);
  EXPECT_EQ(c.bgp.large_communities[0][2], 2u);
  EXPECT_NE(summary(c).find("BGP AS 65001 with 2 peer(s)"), std::string::npos);
  EXPECT_FALSE(parse(kGood, "nva.ini").bgp.enabled);
  EXPECT_EQ(parse(kGood, "nva.ini").bgp.max_prefixes_in, 20000u);
  EXPECT_EQ(error_of("[bgp]\nmax_prefixes_in = 0\n"),
            "nva.ini:2: bgp.max_prefixes_in: 0 is out of range 1..1000000");
}

TEST(Config, BgpErrors) {
  EXPECT_EQ(error_of("[bgp]\nlocal_as = 65001\npeer = 198.18.0.4\n"),
            "nva.ini:3: bgp.peer: expected ADDR:AS, got '198.18.0.4'");
  EXPECT_EQ(error_of("[bgp]\nhold_time = 2\n"),
            "nva.ini:2: bgp.hold_time: hold time must be at least 3 seconds (RFC 4271)");
  // Issue 12, finding 10: 0 (no keepalives) would keep a dead VM's routes.
  EXPECT_EQ(error_of("[bgp]\nhold_time = 0\n"),
            "nva.ini:2: bgp.hold_time: hold time 0 (no keepalives) is refused: a dead "
            "peer's routes would never expire");
  EXPECT_EQ(
      error_of("[bgp]\nlocal_as = 1\nrouter_id = 1.1.1.1\npeer = 198.18.0.4:65515\n",
               {"bgp.hold_time=0"}),
      "command line: bgp.hold_time: hold time 0 (no keepalives) is refused: a dead "
      "peer's routes would never expire");
  EXPECT_EQ(error_of("[bgp]\nlocal_as = 1\nrouter_id = 1.1.1.1\npeer = 198.18.0.4:65515\n"
                     "hold_time = 3\n"),
            "(no error)");
  EXPECT_EQ(error_of("[bgp]\ncommunity = 65001\n"),
            "nva.ini:2: bgp.community: '65001' is not AS:VALUE");
  EXPECT_EQ(error_of("[bgp]\nlocal_as = 65001\nrouter_id = 198.18.0.2\n"),
            "nva.ini: bgp: no peer");
  EXPECT_EQ(error_of("[bgp]\nrouter_id = 198.18.0.2\npeer = 198.18.0.4:65515\n"),
            "nva.ini: bgp: local_as is required");
  EXPECT_EQ(error_of("[bgp]\nlocal_as = 1\nrouter_id = 1.1.1.1\npeer = 198.18.0.4:65515\n"
                     "peer = 198.18.0.4:65516\n"),
            "nva.ini: bgp: peer 198.18.0.4 is given twice");
  EXPECT_EQ(error_of("[bgp]\npeer = 198.18.0.4:65515 shy\n"),
            "nva.ini:2: bgp.peer: unknown peer attribute 'shy'");
}

// Issue 16: bgp.community and nva-bgp's --community are read by one parser,
// bgp::parse_community: the well-known names are accepted by both (they are
// values the number form gives too: 65535:0 is GRACEFUL_SHUTDOWN), and what
// one refuses the other refuses. The same for large communities.
TEST(Config, CommunitiesAreReadByTheSpeakersParser) {
  const std::string bgp =
      "[bgp]\nlocal_as = 65001\nrouter_id = 198.18.0.2\npeer = 198.18.0.4:65515\n";
  const Config c = parse(bgp +
                             "community = graceful-shutdown, no-export, 65001:7, "
                             "no-advertise, 65535:0\n",
                         "nva.ini");
  EXPECT_EQ(
      c.bgp.communities,
      (std::vector<std::uint32_t>{
          bgp::well_known_community::kGracefulShutdown.value,
          bgp::well_known_community::kNoExport.value, bgp::Community::of(65001, 7).value,
          bgp::well_known_community::kNoAdvertise.value, 0xFFFF0000u}));
  for (const std::string item :
       {"65001:100", "0:0", "65535:65535", "graceful-shutdown", "no-export",
        "no-advertise", "65536:1", "1:65536", "1:2:3", "65001", ":1", "1:", "x", "-1:2",
        "+1:2", "GRACEFUL-SHUTDOWN", "no_export"}) {
    const std::string error = error_of(bgp + "community = " + item + "\n");
    const auto parsed = bgp::parse_community(item);
    EXPECT_EQ(error == "(no error)", parsed.has_value()) << item << ": " << error;
    if (parsed) {
      EXPECT_EQ(parse(bgp + "community = " + item + "\n", "nva.ini").bgp.communities,
                (std::vector<std::uint32_t>{parsed->value}))
          << item;
    } else {
      EXPECT_EQ(error, "nva.ini:5: bgp.community: '" + item + "' is not AS:VALUE");
    }
  }
  for (const std::string item : {"65001:1:2", "0:0:0", "4294967295:4294967295:4294967295",
                                 "4294967296:1:2", "1:2", "1:2:3:4", "a:b:c", "1::2"}) {
    const std::string error = error_of(bgp + "large_community = " + item + "\n");
    const auto parsed = bgp::parse_large_community(item);
    EXPECT_EQ(error == "(no error)", parsed.has_value()) << item << ": " << error;
    if (parsed) {
      const Config l = parse(bgp + "large_community = " + item + "\n", "nva.ini");
      ASSERT_EQ(l.bgp.large_communities.size(), 1u);
      EXPECT_EQ(
          l.bgp.large_communities[0],
          (std::array<std::uint32_t, 3>{parsed->global_administrator,
                                        parsed->local_data_1, parsed->local_data_2}));
    } else {
      EXPECT_EQ(error, "nva.ini:5: bgp.large_community: '" + item +
                           "' is not GLOBAL:DATA1:DATA2");
    }
  }
}

// Issue 12, finding 10: an address that is a VIP as a SNAT source or a
// backend is a forwarding loop; the error names the line and key that give it.
TEST(Config, SnatOrBackendAddressThatIsAVipIsRefused) {
  EXPECT_EQ(error_of("[service.a]\nvip = 198.19.0.1\nmode = dnat+snat\n"
                     "snat = 198.18.1.1, 198.19.0.1\nbackend = 198.18.2.1\n"),
            "nva.ini:4: service.a.snat: SNAT address 198.19.0.1 is the VIP of service a "
            "(a forwarding loop)");
  // Another service's VIP, given before that service.
  EXPECT_EQ(error_of("[service.a]\nvip = 198.19.0.1\nmode = dnat+snat\n"
                     "snat = 198.19.0.2\nbackend = 198.18.2.1\n"
                     "[service.b]\nvip = 198.19.0.2\nbackend = 198.18.2.2\n"),
            "nva.ini:4: service.a.snat: SNAT address 198.19.0.2 is the VIP of service b "
            "(a forwarding loop)");
  EXPECT_EQ(error_of("[service.a]\nvip = 198.19.0.1\nport = 80\n"
                     "backend = 198.18.2.1:80\nbackend = 198.19.0.1:8080 weight=2\n"),
            "nva.ini:5: service.a.backend: backend address 198.19.0.1 is the VIP of "
            "service a (a forwarding loop)");
  EXPECT_EQ(error_of("[service.a]\nvip = 198.19.0.1\nbackend = 198.19.0.2:80\n"
                     "[service.b]\nvip = 198.19.0.2\nport = 80\nbackend = 198.18.2.1\n"),
            "nva.ini:3: service.a.backend: backend address 198.19.0.2 is the VIP of "
            "service b (a forwarding loop)");
  EXPECT_EQ(error_of("[service.a]\nvip = 198.19.0.1\nport = 80\nbackend = 198.18.2.1\n",
                     {"service.a.backend=198.19.0.1"}),
            "command line: service.a.backend: backend address 198.19.0.1 is the VIP of "
            "service a (a forwarding loop)");
  // Neighbours of a VIP are fine.
  EXPECT_EQ(error_of("[service.a]\nvip = 198.19.0.1\nport = 80\nmode = dnat+snat\n"
                     "snat = 198.19.0.2\nbackend = 198.19.0.3\n"),
            "(no error)");
}

TEST(Config, HealthAndDrainSections) {
  const Config d = parse(kGood, "nva.ini");
  ASSERT_EQ(d.service_health.size(), d.services.size());
  EXPECT_EQ(d.service_health[0].probe.kind, ProbeSettings::Kind::kNone);  // dns: set
  EXPECT_EQ(d.service_health[1].probe.kind, ProbeSettings::Kind::kTcp);   // default
  EXPECT_EQ(d.service_health[1].probe.interval_ms, 300u);
  EXPECT_EQ(d.service_health[1].probe.fall, 3u);
  EXPECT_EQ(d.service_health[1].min_healthy_backends, 1u);
  EXPECT_EQ(d.health.action, UnhealthyAction::kWithdraw);
  EXPECT_EQ(d.drain.mode, DrainConfig::Mode::kWithdraw);
  EXPECT_EQ(d.drain.time_ms, 10000u);

  // [health] after the services still gives them its defaults; a service's
  // own keys win.
  const std::string text = std::string(kGood) + R"(
[service.web]
probe = http
http_path = /ready
min_healthy_backends = 1
[health]
probe = tcp
interval_ms = 500
timeout_ms = 400
rise = 4
fall = 2
http_status = 204
source = 198.18.0.2
min_healthy_backends = 1
action = deprefer
deprefer_prepend = 5
deprefer_med = 1000
hold_down_ms = 3000
damping = off
dead_backend_connections = reset
[drain]
mode = graceful-shutdown
time_ms = 2500
)";
  const Config c = parse(text, "nva.ini");
  // services are ordered by name: dns, web (web got the http keys above).
  ASSERT_EQ(c.services[1].name, "web");
  EXPECT_EQ(c.service_health[0].probe.kind, ProbeSettings::Kind::kNone);
  EXPECT_EQ(c.service_health[1].probe.kind, ProbeSettings::Kind::kHttp);
  EXPECT_EQ(c.service_health[1].probe.http_path, "/ready");
  EXPECT_EQ(c.service_health[1].probe.http_status, 204u);
  EXPECT_EQ(c.service_health[1].probe.interval_ms, 500u);
  EXPECT_EQ(c.service_health[1].probe.rise, 4u);
  EXPECT_EQ(c.health.source.value_or(0), 0xC6120002u);
  EXPECT_EQ(c.health.action, UnhealthyAction::kDeprefer);
  EXPECT_EQ(c.health.deprefer_prepend, 5u);
  EXPECT_EQ(c.health.deprefer_med.value_or(0), 1000u);
  EXPECT_EQ(c.health.hold_down_ms, 3000u);
  EXPECT_FALSE(c.health.damping);
  EXPECT_EQ(c.health.dead_backend_connections, lb::DeadBackendPolicy::kReset);
  EXPECT_EQ(c.drain.mode, DrainConfig::Mode::kGracefulShutdown);
  EXPECT_EQ(c.drain.time_ms, 2500u);
}

TEST(Config, HealthErrors) {
  EXPECT_EQ(error_of("[health]\nprobe = icmp\n"),
            "nva.ini:2: health.probe: not tcp, http or none: 'icmp'");
  EXPECT_EQ(error_of("[health]\naction = panic\n"),
            "nva.ini:2: health.action: not withdraw or deprefer: 'panic'");
  EXPECT_EQ(error_of("[health]\nhttp_path = healthz\n"),
            "nva.ini:2: health.http_path: not an HTTP path: must start with '/': "
            "'healthz'");
  EXPECT_EQ(error_of("[health]\ninterval_ms = 100\ntimeout_ms = 200\n"),
            "nva.ini: health: timeout_ms (200) must not exceed interval_ms (100)");
  EXPECT_EQ(error_of("[drain]\nmode = later\n"),
            "nva.ini:2: drain.mode: not withdraw or graceful-shutdown: 'later'");
  EXPECT_EQ(error_of("[service.web]\nvip = 198.19.0.1\nbackend = 198.18.2.1:80\n"
                     "min_healthy_backends = 2\n"),
            "nva.ini:2: service.web: min_healthy_backends 2 exceeds its 1 backend(s)");
  EXPECT_EQ(error_of("[service.web]\nvip = 198.19.0.1\nport = 0\nbackend = 198.18.2.1\n"),
            "nva.ini:2: service.web: a backend without a port (port-0 service) needs "
            "probe_port or probe = none");
  EXPECT_EQ(error_of("[service.web]\nvip = 198.19.0.1\nbackend = 198.18.2.1\n"
                     "probe = none\n"),
            "(no error)");
  EXPECT_EQ(error_of("[service.dns]\nproto = udp\nvip = 198.19.0.1\nport = 53\n"
                     "backend = 198.18.2.1\n"),
            "nva.ini:2: service.dns: a UDP service's backends cannot be probed over TCP "
            "on their own port: set probe_port or probe = none");
}

// Finding 3 of issue 12: "/h\xc3\xa9alth" (UTF-8 "/h\u00e9alth") passed the configuration
// and made Prober::add throw on reload. The configuration now asks the prober's own
// validator, so what parse() accepts, add() accepts.
TEST(Config, HttpPathIsCheckedByTheProbersValidator) {
  EXPECT_EQ(error_of("[health]\nhttp_path = /h\xc3\xa9"
                     "alth\n"),
            "nva.ini:2: health.http_path: not an HTTP path: must hold only visible "
            "ASCII (no spaces, controls or non-ASCII bytes; percent-encode them): "
            "'/h\xc3\xa9"
            "alth'");
  EXPECT_EQ(error_of("[service.web]\nvip = 198.19.0.1\nbackend = 198.18.2.1:80\n"
                     "probe = http\nhttp_path = /h\xc3\xa9"
                     "alth\n"),
            "nva.ini:5: service.web.http_path: not an HTTP path: must hold only visible "
            "ASCII (no spaces, controls or non-ASCII bytes; percent-encode them): "
            "'/h\xc3\xa9"
            "alth'");
  EXPECT_EQ(error_of("", {"health.http_path=/" + std::string(health::kMaxHttpPath, 'a')}),
            "command line: health.http_path: not an HTTP path: must be at most 1024 "
            "characters: '/" +
                std::string(health::kMaxHttpPath, 'a') + "'");
  // Agreement both ways over paths either side of every rule.
  for (const std::string path : {"/", "/ready", "/a%20b", "healthz", "/a b",
                                 "/h\xc3\xa9"
                                 "alth",
                                 "/x\x7f", "/\x01"}) {
    const std::string text =
        "[service.web]\nvip = 198.19.0.1\nbackend = 198.18.2.1:80\n"
        "probe = http\nhttp_path = " +
        path + "\n";
    const bool accepted = error_of(text) == "(no error)";
    ProbeSettings p;
    p.http_path = path;
    EXPECT_EQ(accepted, !health::check_http_path(path).has_value()) << path;
    EXPECT_EQ(accepted, health::validate(probe_config(p, std::nullopt)).empty()) << path;
    if (accepted) {
      const Config c = parse(text, "nva.ini");
      EXPECT_TRUE(
          health::validate(probe_config(c.service_health[0].probe, c.health.source))
              .empty());
    }
  }
}

TEST(Config, CommandLineOverridesTheFile) {
  const Config c =
      parse(kGood, "nva.ini", {"dataplane.workers=4", "service.web.port = 8080"});
  EXPECT_EQ(c.dataplane.workers, 4u);
  EXPECT_EQ(c.services[1].port, 8080);
  EXPECT_EQ(error_of(kGood, {"dataplane.workers=100"}),
            "command line: dataplane.workers: 100 is out of range 1..64");
  EXPECT_EQ(error_of(kGood, {"workers"}),
            "command line: --set workers: expected section.key=value");
}

// Issue 16: one lexer, Boost.Program_options' INI reader, counting its own
// lines. The old second lexer (index_lines) read "[ dataplane ]" as
// "dataplane" while Boost read " dataplane ", and the error said line 0.
TEST(Config, LinesComeFromBoostsOwnReader) {
  EXPECT_EQ(error_of("# c\n[ dataplane ]\nworkers = 1\n"),
            "nva.ini:3:  dataplane .workers: unknown option");
  EXPECT_EQ(error_of("[]\nworkers = 1\n"), "nva.ini:1: malformed section header '[]'");
  EXPECT_EQ(error_of("[dataplane]\n\n = 5 # x\n"),
            "nva.ini:3: expected 'key = value', '[section]' or a # comment, got '= 5'");
  EXPECT_EQ(error_of("[service.web]\nvip = 198.19.0.1\n= 5\n"),
            "nva.ini:3: expected 'key = value', '[section]' or a # comment, got '= 5'");
  EXPECT_EQ(error_of("[service]\nvip = 198.19.0.1\n"),
            "nva.ini:2: service.vip: expected [service.NAME] sections");
  EXPECT_EQ(error_of("[service.web]\nvip = 198.19.0.1\nbakend = 198.18.2.1\n"),
            "nva.ini:3: service.web.bakend: unknown option");
  // CRLF line ends and comments after a value.
  const Config c =
      parse("[dataplane]\r\nworkers = 3 # three\r\n\r\n[timeouts]\r\nudp_ms = 5\r\n",
            "nva.ini");
  EXPECT_EQ(c.dataplane.workers, 3u);
  EXPECT_EQ(c.timeouts.of(conntrack::TimeoutClass::kUdp), 5u);
  // Overrides are read by the same reader, and checked against the same names.
  EXPECT_EQ(error_of("", {"dataplane.wrokers=1"}),
            "command line: dataplane.wrokers: unknown option");
  EXPECT_EQ(error_of("", {"=5"}), "command line: --set =5: expected section.key=value");
  EXPECT_EQ(error_of("", {"[dataplane]"}),
            "command line: --set [dataplane]: expected section.key=value");
  EXPECT_EQ(parse(kGood, "nva.ini", {" dataplane.workers =  4 "}).dataplane.workers, 4u);
}

// Every setting's refused value names its file, line and key, whatever line
// it is on (the reader's count) and whatever the key's codec.
TEST(Config, EverySettingsErrorNamesItsLine) {
  std::size_t checked = 0;
  for (const Setting& s : settings()) {
    if (s.name() == "eal.args" || s.name() == "dataplane.ports") continue;  // any text
    const bool service = s.section == kServiceSection;
    const std::string section = service ? "service.web" : s.section;
    const std::string text =
        "# a comment\n\n[" + section + "]\n  # another\n" + s.key + " = !\n";
    const std::string prefix = "nva.ini:5: " + section + "." + s.key + ": ";
    EXPECT_EQ(error_of(text).rfind(prefix, 0), 0u) << error_of(text);
    EXPECT_EQ(
        error_of("", {section + "." + s.key + "=!"}).rfind("command line: " + section, 0),
        0u)
        << s.name();
    ++checked;
  }
  EXPECT_EQ(checked + 2, settings().size());
}

// The table itself: one row per key, a restart row can compare two
// configurations, one-line docs that fit a Markdown cell.
TEST(Config, SettingsTableIsWellFormed) {
  std::set<std::string> names;
  for (const Setting& s : settings()) {
    EXPECT_TRUE(names.insert(s.name()).second) << s.name();
    EXPECT_FALSE(s.type.empty()) << s.name();
    EXPECT_FALSE(s.doc.empty()) << s.name();
    for (const std::string* text : {&s.type, &s.default_text, &s.range, &s.doc}) {
      EXPECT_EQ(text->find_first_of("|\n"), std::string::npos)
          << s.name() << ": " << *text;
    }
    EXPECT_TRUE(s.set) << s.name();
    if (s.section == kServiceSection) {
      EXPECT_EQ(s.apply, Apply::kReload) << s.name();
    } else {
      EXPECT_TRUE(s.differs) << s.name();
    }
  }
  // Defaults come from the structs.
  const auto default_of = [](const std::string& name) {
    for (const Setting& s : settings()) {
      if (s.name() == name) return s.default_text;
    }
    return std::string("(no such setting)");
  };
  EXPECT_EQ(default_of("dataplane.workers"),
            std::to_string(DataplaneConfig::kDefaultWorkers));
  EXPECT_EQ(default_of("dataplane.mbufs"), "auto");
  EXPECT_EQ(default_of("dataplane.maglev_table_size"),
            std::to_string(lb::kDefaultMaglevTableSize));
  EXPECT_EQ(default_of("timeouts.tcp_established_ms"),
            std::to_string(conntrack::Timeouts::kDefaultTcpEstablishedMs));
  EXPECT_EQ(default_of("health.interval_ms"),
            std::to_string(health::kDefaultInterval.count()));
  EXPECT_EQ(default_of("health.probe"), "tcp");
  EXPECT_EQ(default_of("service.NAME.probe"), "`health.probe`");
  EXPECT_EQ(default_of("bgp.hold_time"), std::to_string(bgp::kDefaultHoldTime));
  EXPECT_EQ(default_of("bgp.gtsm_hops"), "off");
}

// The table's restart column is the rule the daemon's hand-written
// restart_needed() had: eal, [dataplane], [timeouts] and the BGP sessions
// (every [bgp] key but the route attributes) need a restart.
TEST(Config, RestartColumnKeepsTheDaemonsRule) {
  const std::set<std::string> attributes = {"bgp.prepend", "bgp.med", "bgp.community",
                                            "bgp.large_community"};
  for (const Setting& s : settings()) {
    const bool restart = s.section == "eal" || s.section == "dataplane" ||
                         s.section == "timeouts" || s.section == "metrics" ||
                         s.section == "azure" ||
                         (s.section == "bgp" && attributes.count(s.name()) == 0);
    EXPECT_EQ(s.apply == Apply::kRestart, restart) << s.name();
  }
  const std::string bgp =
      "[bgp]\nlocal_as = 65001\nrouter_id = 198.18.0.2\npeer = 198.18.0.4:65515\n";
  const Config a = parse(kGood + bgp, "nva.ini");
  const auto changed = [&](std::vector<std::string> overrides) {
    return settings_needing_restart(a, parse(kGood + bgp, "nva.ini", overrides));
  };
  using Names = std::vector<std::string>;
  EXPECT_EQ(changed({}), Names{});
  EXPECT_EQ(changed({"dataplane.workers=3"}), Names{"dataplane.workers"});
  EXPECT_EQ(changed({"eal.args=-l 0-3", "timeouts.udp_ms=5"}),
            (Names{"eal.args", "timeouts.udp_ms"}));
  EXPECT_EQ(changed({"bgp.hold_time=90", "bgp.peer=198.18.0.5:65515"}),
            (Names{"bgp.peer", "bgp.hold_time"}));
  EXPECT_EQ(changed({"bgp.prepend=2", "bgp.community=65001:1", "health.rise=5",
                     "drain.time_ms=5", "service.web.port=81", "service.web.probe=none"}),
            Names{});
  // BGP turned on or off: its sessions, by their required local_as.
  EXPECT_EQ(settings_needing_restart(parse(kGood, "nva.ini"), a),
            (Names{"bgp.local_as", "bgp.router_id", "bgp.peer"}));
}

// Issue 16: the README's configuration table is the one the settings table
// prints (`anycast-nva --help-config`), not a copy kept by hand.
TEST(Config, ReadmeTableIsTheSettingsTable) {
  std::ifstream f(std::string(NVA_SOURCE_ROOT) + "/README.md");
  ASSERT_TRUE(f) << "cannot read README.md";
  std::string line, table;
  bool in_section = false;
  while (std::getline(f, line)) {
    if (line.rfind("### ", 0) == 0 || line.rfind("## ", 0) == 0) {
      in_section = line == "### Configuration";
    } else if (in_section && line.rfind("|", 0) == 0) {
      table += line + "\n";
    }
  }
  EXPECT_EQ(table, settings_markdown())
      << "README.md's configuration table differs from the settings table; replace it "
         "with the output of `anycast-nva --help-config`";
}

// Issue 16: the configuration becomes module types in one place
// (config/modules.cc), and its defaults are the modules' own.
TEST(Config, ModulesGetTheirOwnTypesAndDefaults) {
  EXPECT_EQ(probe_config(ProbeSettings{}, std::nullopt), health::ProbeConfig{});
  const health::DecisionConfig d = decision_config(HealthConfig{});
  const health::DecisionConfig want;
  EXPECT_EQ(d.deprefer, want.deprefer);
  EXPECT_EQ(d.hold_down, want.hold_down);
  EXPECT_EQ(d.damping, want.damping);
  EXPECT_EQ(d.half_life, want.half_life);
  EXPECT_EQ(d.suppress, want.suppress);
  EXPECT_EQ(d.reuse, want.reuse);

  const Config c = parse(std::string(kGood) + R"(
[bgp]
local_as = 65001
router_id = 198.18.0.2
source = 198.18.0.2
peer = 198.18.0.4:65515 name=rs1 passive port=1179
hold_time = 90
prepend = 2
med = 7
community = 65001:1, graceful-shutdown
large_community = 65001:1:2
)",
                         "nva.ini");
  const bgp::SpeakerConfig s = speaker_config(c.bgp);
  EXPECT_TRUE(bgp::validate(s).empty());
  EXPECT_EQ(s.local_as, 65001u);
  EXPECT_EQ(s.router_id, (bgp::Ipv4Address{198, 18, 0, 2}));
  ASSERT_EQ(s.peers.size(), 1u);
  EXPECT_EQ(s.peers[0].name, "rs1");
  EXPECT_EQ(s.peers[0].address, (bgp::Ipv4Address{198, 18, 0, 4}));
  EXPECT_EQ(s.peers[0].port, 1179);
  EXPECT_TRUE(s.peers[0].passive);
  EXPECT_EQ(s.peers[0].hold_time, 90);
  EXPECT_EQ(s.peers[0].source, (bgp::Ipv4Address{198, 18, 0, 2}));
  EXPECT_EQ(s.peers[0].max_prefixes_in, bgp::kDefaultMaxPrefixesIn);
  EXPECT_EQ(s.peers[0].ttl, bgp::kDefaultMultihopTtl);
  const bgp::RouteAttributes a = route_attributes(c.bgp);
  EXPECT_EQ(a.prepend, 2u);
  EXPECT_EQ(a.med, 7u);
  EXPECT_EQ(a.communities,
            (std::vector<bgp::Community>{bgp::Community::of(65001, 1),
                                         bgp::well_known_community::kGracefulShutdown}));
  EXPECT_EQ(a.large_communities, (std::vector<bgp::LargeCommunity>{{65001, 1, 2}}));
  // A service's probe target: probe_port, else the backend's port, else the
  // service's.
  const lb::Service& web = c.services[1];
  EXPECT_EQ(probe_target(web, web.backends[0], c.service_health[1].probe).port, 8080);
  EXPECT_EQ(probe_target(web, web.backends[1], c.service_health[1].probe).port, 80);
  ProbeSettings on_port = c.service_health[1].probe;
  on_port.port = 8081;
  EXPECT_EQ(probe_target(web, web.backends[0], on_port).port, 8081);
}

// The speaker's own validate() runs in parse(): --check-config, the start
// and a reload refuse what the speaker would, with the file named (it ran
// after loading, in main.cc and in the daemon's reload, before).
TEST(Config, SpeakerValidatesTheSessions) {
  const std::string bgp = "[bgp]\nlocal_as = 65001\nrouter_id = 198.18.0.2\n";
  EXPECT_EQ(
      error_of(bgp +
               "peer = 198.18.0.4:65515 name=rs\npeer = 198.18.0.5:65515 name=rs\n"),
      "nva.ini: bgp: peer rs: name given twice;");
  EXPECT_EQ(error_of(bgp + "peer = 0.0.0.0:65515\n"),
            "nva.ini: bgp: peer 0.0.0.0: address must not be 0.0.0.0;");
}

TEST(Config, RssPrecalcIsAutoUnlessTurnedOff) {
  EXPECT_EQ(parse(kGood, "nva.ini", {}).dataplane.rss_precalc, RssPrecalc::kAuto);
  EXPECT_EQ(parse(kGood, "nva.ini", {"dataplane.rss_precalc=off"}).dataplane.rss_precalc,
            RssPrecalc::kOff);
  EXPECT_EQ(parse(kGood, "nva.ini", {"dataplane.rss_precalc=auto"}).dataplane.rss_precalc,
            RssPrecalc::kAuto);
}

TEST(Config, RssFlowIsAutoUnlessTurnedOff) {
  EXPECT_EQ(parse(kGood, "nva.ini", {}).dataplane.rss_flow, RssFlow::kAuto);
  EXPECT_EQ(parse(kGood, "nva.ini", {"dataplane.rss_flow=off"}).dataplane.rss_flow,
            RssFlow::kOff);
  EXPECT_EQ(parse(kGood, "nva.ini", {"dataplane.rss_flow=auto"}).dataplane.rss_flow,
            RssFlow::kAuto);
}

TEST(Config, SynProxyIsAutoUnlessSet) {
  EXPECT_EQ(parse(kGood, "nva.ini", {}).dataplane.syn_proxy, nat::SynProxyMode::kAuto);
  EXPECT_EQ(parse(kGood, "nva.ini", {"dataplane.syn_proxy=on"}).dataplane.syn_proxy,
            nat::SynProxyMode::kOn);
  EXPECT_EQ(parse(kGood, "nva.ini", {"dataplane.syn_proxy=off"}).dataplane.syn_proxy,
            nat::SynProxyMode::kOff);
}

TEST(Config, MissingFileIsNamed) {
  EXPECT_THROW(load("/nonexistent/nva.ini"), ConfigError);
  try {
    load("/nonexistent/nva.ini");
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/nva.ini: cannot open");
  }
}

TEST(Config, ExampleInDeployIsValid) {
  const Config c = load(std::string(NVA_SOURCE_ROOT) + "/deploy/anycast-nva.ini");
  EXPECT_EQ(c.services.size(), 1u);
  ASSERT_TRUE(c.metrics.address);
  EXPECT_EQ(*c.metrics.address, (Endpoint{0x7F000001, 9469}));
  EXPECT_TRUE(c.azure.scheduled_events);
  EXPECT_EQ(c.azure.imds, AzureConfig::kImds);
  EXPECT_EQ(c.azure.vm_name, "");
}

// [metrics] and [azure]: endpoints and names read with their place.
TEST(Config, MetricsAndAzureSettings) {
  const Config c = parse(std::string(kGood) +
                             "[metrics]\naddress = 0.0.0.0:9100\n[azure]\n"
                             "scheduled_events = yes\nimds = 198.18.9.9:8080\n"
                             "vm_name = nva-a_1.x\npoll_ms = 250\n",
                         "nva.ini");
  EXPECT_EQ(*c.metrics.address, (Endpoint{0, 9100}));
  EXPECT_EQ(c.azure.imds, (Endpoint{0xC6120909, 8080}));
  EXPECT_EQ(c.azure.vm_name, "nva-a_1.x");
  EXPECT_EQ(c.azure.poll_ms, 250u);
  EXPECT_FALSE(parse(kGood, "nva.ini").metrics.address);
  EXPECT_EQ(error_of("[metrics]\naddress = 127.0.0.1\n"),
            "nva.ini:2: metrics.address: expected ADDR:PORT, got '127.0.0.1'");
  EXPECT_EQ(error_of("[metrics]\naddress = 127.0.0.1:0\n"),
            "nva.ini:2: metrics.address: 0 is out of range 1..65535");
  EXPECT_EQ(error_of("[azure]\nvm_name = a b\n"),
            "nva.ini:2: azure.vm_name: not an Azure VM name: 'a b'");
  EXPECT_EQ(error_of("[azure]\npoll_ms = 5\n"),
            "nva.ini:2: azure.poll_ms: 5 is out of range 100..60000");
}

}  // namespace
}  // namespace nva::config
