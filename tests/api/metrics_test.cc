// Prometheus metrics (controlplane/metrics/metrics.h): the exposition of
// known /nva/ documents line by line (names, labels, types, HELP from the
// counter tables, escaping), and the HTTP server over real sockets: GET
// /metrics with Prometheus' content type, 404, 405, HEAD, and a client that
// never sends a request does not stop the others.
#include "controlplane/metrics/metrics.h"

#include <gtest/gtest.h>

#include <utility>  // before Asio: Debian's Boost uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "controlplane/bgp/speaker.h"
#include "dataplane/dataplane.h"

namespace nva::metrics {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;

std::map<std::string, json> documents() {
  return {
      {"/nva/info",
       {{"version", "0.1.0"},
        {"uptime_s", 42},
        {"state", "draining"},
        {"workers", 2},
        {"dataplane_healthy", 1},
        {"active_connections", 7},
        {"mbufs_free", 1000},
        {"mbufs_total", 16383},
        {"control_plane_errors", 0},
        {"log_lines_written", 12},
        {"log_lines_dropped", 0},
        {"log_lines_suppressed", 3},
        {"config", "nva.ini"}}},
      {"/nva/workers",
       {{"0",
         {{"rx", 100},
          {"tx", 90},
          {"connections", 5},
          {"heartbeat", 777},
          {"syn_cookies_sent", 4},
          {"syn_cookies_valid", 3},
          {"syn_proxy_established", 3},
          {"connections_created", 9},
          {"connections_expired", 4},
          {"handoff_out", 6},
          {"handoff_dropped", 0},
          {"drop_l4_bad_checksum", 2},
          {"dropped", 2}}},
        {"1",
         {{"rx", 1}, {"tx", 1}, {"connections", 0}, {"heartbeat", 3}, {"dropped", 0}}}}},
      {"/nva/snat", json::array({{{"worker", 1},
                                  {"backend", "198.18.3.1:443"},
                                  {"snat", "198.18.1.1"},
                                  {"exhausted", 9},
                                  {"error", 0}}})},
      {"/nva/services", json::array({{{"name", "web"},
                                      {"vip", "198.19.0.10"},
                                      {"backends", 2},
                                      {"healthy", 1},
                                      {"min_healthy", 1}}})},
      {"/nva/backends", json::array({{{"service", "web"},
                                      {"address", "198.18.2.1"},
                                      {"port", 8080},
                                      {"healthy", 1},
                                      {"probes", 10},
                                      {"failures", 1},
                                      {"last_rtt_us", 250}}})},
      {"/nva/health", json::array({{{"vip", "198.19.0.10"},
                                    {"decision", "announce"},
                                    {"advertise", 0},
                                    {"reason", "draining \"now\""},
                                    {"falls", 1},
                                    {"suppressed", 0},
                                    {"penalty", 500}}})},
      {"/nva/bgp/peers", json::array({{{"name", "rs1"},
                                       {"address", "198.18.0.4"},
                                       {"state", "Established"},
                                       {"prefixes_sent", 1},
                                       {"prefixes_received", 0},
                                       {"established_transitions", 2},
                                       {"update_sent", 5},
                                       {"keepalive_received", 8},
                                       {"treat_as_withdraw", 1},
                                       {"prefix_limit_resets", 0}}})},
      {"/nva/bgp/routes", json::array({{{"peer", "rs1"}, {"prefix", "198.19.0.10/32"}}})},
  };
}

std::string render_known() {
  const auto docs = documents();
  return render(
      [&docs](const std::string& p) {
        const auto it = docs.find(p);
        return it == docs.end() ? json() : it->second;
      },
      [](std::string_view n) {
        const std::string_view w = worker_counter_help(n);
        return w.empty() ? bgp::peer_counter_help(n) : w;
      });
}

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST(Metrics, RendersEveryDocumentInPrometheusShape) {
  const std::string t = render_known();
  for (const char* line : {
           "anycast_nva_state{state=\"draining\"} 1",
           "anycast_nva_state{state=\"running\"} 0",
           "anycast_nva_active_connections 7",
           "anycast_nva_mbufs 16383",
           "anycast_nva_log_lines_total{outcome=\"suppressed\"} 3",
           "anycast_nva_packets_total{worker=\"0\",direction=\"rx\"} 100",
           "anycast_nva_packets_total{worker=\"1\",direction=\"tx\"} 1",
           "anycast_nva_drops_total{worker=\"0\",reason=\"l4_bad_checksum\"} 2",
           "anycast_nva_connections{worker=\"0\"} 5",
           "anycast_nva_heartbeats_total{worker=\"0\"} 777",
           "anycast_nva_syn_cookies_sent_total{worker=\"0\"} 4",
           "anycast_nva_snat_exhausted_total{worker=\"1\",backend=\"198.18.3.1:443\","
           "snat="
           "\"198.18.1.1\"} 9",
           "anycast_nva_service_backends_healthy{service=\"web\",vip=\"198.19.0.10\"} 1",
           "anycast_nva_backend_up{service=\"web\",backend=\"198.18.2.1:8080\"} 1",
           "anycast_nva_backend_probe_duration_seconds{service=\"web\",backend=\"198.18."
           "2.1:"
           "8080\"} 0.00025",
           "anycast_nva_vip_decision{vip=\"198.19.0.10\",decision=\"announce\"} 1",
           "anycast_nva_vip_decision{vip=\"198.19.0.10\",decision=\"withdraw\"} 0",
           "anycast_nva_vip_decision_info{vip=\"198.19.0.10\",decision=\"announce\","
           "reason="
           "\"draining \\\"now\\\"\"} 1",
           "anycast_nva_vip_advertised{vip=\"198.19.0.10\"} 0",
           "anycast_nva_bgp_session_up{peer=\"rs1\",address=\"198.18.0.4\"} 1",
           "anycast_nva_bgp_routes_advertised{peer=\"rs1\",address=\"198.18.0.4\"} 1",
           "anycast_nva_bgp_messages_total{peer=\"rs1\",type=\"update\",direction="
           "\"sent\"} 5",
           "anycast_nva_bgp_messages_total{peer=\"rs1\",type=\"keepalive\",direction="
           "\"received\"} 8",
           "anycast_nva_bgp_treat_as_withdraw_total{peer=\"rs1\",address=\"198.18.0.4\"} "
           "1",
           "# HELP anycast_nva_bgp_treat_as_withdraw_total UPDATEs handled per RFC 7606",
           "# TYPE anycast_nva_packets_total counter",
           "# TYPE anycast_nva_connections gauge",
           "# HELP anycast_nva_syn_cookies_sent_total SYNs answered with a cookie",
       }) {
    EXPECT_TRUE(has_line(t, line)) << "missing: " << line << "\n" << t;
  }
  EXPECT_FALSE(has_line(t, "anycast_nva_dropped_total{worker=\"0\"} 2"));  // a sum
  // Every family once, its samples together after HELP and TYPE.
  std::map<std::string, int> types;
  std::string last_family;
  std::istringstream in(t);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# TYPE ", 0) == 0) {
      last_family = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_EQ(++types[last_family], 1) << last_family;
    } else if (line[0] != '#') {
      EXPECT_EQ(line.rfind(last_family, 0), 0u) << line << " outside " << last_family;
    }
  }
}

TEST(Metrics, EscapesLabelValues) {
  EXPECT_EQ(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(escape_label("plain"), "plain");
}

TEST(Metrics, MissingDocumentsRenderNothingForThem) {
  const std::string t = render([](const std::string&) { return json(); },
                               [](std::string_view) { return std::string_view(); });
  EXPECT_TRUE(t.empty()) << t;
}

// The Grafana dashboard (deploy/grafana/anycast-nva.json) asks only for
// metrics the daemon exposes.
TEST(Metrics, TheDashboardUsesOnlyMetricsThatExist) {
  std::ifstream f(std::string(NVA_SOURCE_ROOT) + "/deploy/grafana/anycast-nva.json");
  ASSERT_TRUE(f) << "deploy/grafana/anycast-nva.json";
  const json dash = json::parse(f);
  const std::string t = render_known();
  const std::regex name("anycast_nva_[a-z_]+");
  int exprs = 0;
  for (const json& panel : dash.at("panels")) {
    for (const json& target : panel.at("targets")) {
      const std::string expr = target.at("expr");
      ++exprs;
      for (std::sregex_iterator it(expr.begin(), expr.end(), name), end; it != end;
           ++it) {
        EXPECT_TRUE(has_line(t, "# TYPE " + it->str() + " counter") ||
                    has_line(t, "# TYPE " + it->str() + " gauge"))
            << panel.at("title") << ": " << it->str() << " is not exposed";
      }
    }
  }
  EXPECT_GE(exprs, 20);
}

// One HTTP exchange with the server on `io` (run by this call).
struct Reply {
  unsigned status = 0;
  std::string content_type, body;
};
Reply fetch(asio::io_context& io, std::uint16_t port, http::verb verb,
            const std::string& target) {
  Reply out;
  tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  http::request<http::empty_body> req(verb, target, 11);
  req.set(http::field::host, "127.0.0.1");
  bool done = false;
  http::response<http::string_body> res;
  beast::flat_buffer buf;
  http::async_write(s, req, [&](beast::error_code ec, std::size_t) {
    if (ec) {
      done = true;
      return;
    }
    http::async_read(s, buf, res, [&](beast::error_code, std::size_t) { done = true; });
  });
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!done && std::chrono::steady_clock::now() < end) {
    io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
  out.status = res.result_int();
  out.content_type = std::string(res[http::field::content_type]);
  out.body = res.body();
  return out;
}

TEST(MetricsServer, ServesMetricsOverHttp) {
  asio::io_context io;
  Server server(io, "127.0.0.1", 0, [] { return std::string("anycast_nva_up 1\n"); });
  ASSERT_NE(server.port(), 0);
  // A client that connects and says nothing must not hold the others.
  tcp::socket idle(io);
  idle.connect({asio::ip::make_address("127.0.0.1"), server.port()});

  const Reply r = fetch(io, server.port(), http::verb::get, "/metrics");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.body, "anycast_nva_up 1\n");
  EXPECT_EQ(server.scrapes(), 1u);
  EXPECT_EQ(fetch(io, server.port(), http::verb::get, "/nope").status, 404u);
  EXPECT_EQ(fetch(io, server.port(), http::verb::post, "/metrics").status, 405u);
  const Reply head = fetch(io, server.port(), http::verb::head, "/metrics");
  EXPECT_EQ(head.status, 200u);
  EXPECT_TRUE(head.body.empty());
}

TEST(MetricsServer, RefusesAnAddressItCannotUseWithTheAddress) {
  asio::io_context io;
  try {
    Server s(io, "not-an-ip", 9469, [] { return std::string(); });
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "metrics: not-an-ip:9469: not an IP address");
  }
  try {
    Server s(io, "192.0.2.77", 9469, [] { return std::string(); });  // not ours
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("metrics: 192.0.2.77:9469: cannot listen:"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace nva::metrics
