// Prometheus exposition of the /nva/ documents and its HTTP server
// (metrics.h).
#include <utility>  // before Asio: Debian's Boost uses std::exchange without it

#include "controlplane/metrics/metrics.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cmath>
#include <map>
#include <sstream>
#include <stdexcept>

namespace nva::metrics {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;

std::string escape_label(std::string_view v) {
  std::string out;
  for (const char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

constexpr std::string_view kPrefix = "anycast_nva_";

using Labels = std::vector<std::pair<std::string, std::string>>;

// Metric families in name order, each written whole (HELP, TYPE, samples).
class Exposition {
 public:
  void add(const std::string& name, const char* type, std::string help,
           const Labels& labels, double value) {
    Family& f = families_[std::string(kPrefix) + name];
    if (f.type.empty()) {
      f.type = type;
      f.help = std::move(help);
    }
    std::ostringstream line;
    line << kPrefix << name;
    if (!labels.empty()) {
      line << '{';
      for (std::size_t i = 0; i < labels.size(); ++i) {
        line << (i ? "," : "") << labels[i].first << "=\""
             << escape_label(labels[i].second) << '"';
      }
      line << '}';
    }
    line << ' ';
    if (std::floor(value) == value && std::fabs(value) < 1e15) {
      line << static_cast<long long>(value);
    } else {
      line << value;
    }
    f.samples.push_back(line.str());
  }
  std::string text() const {
    std::string out;
    for (const auto& [name, f] : families_) {
      out += "# HELP " + name + " " + f.help + "\n";
      out += "# TYPE " + name + " " + f.type + "\n";
      for (const std::string& s : f.samples) out += s + "\n";
    }
    return out;
  }

 private:
  struct Family {
    std::string type, help;
    std::vector<std::string> samples;
  };
  std::map<std::string, Family> families_;
};

double num(const json& o, const char* key) {
  const auto it = o.find(key);
  return it != o.end() && it->is_number() ? it->get<double>() : 0.0;
}
std::string str(const json& o, const char* key) {
  const auto it = o.find(key);
  if (it == o.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<std::int64_t>());
  return it->dump();
}

// /nva/ documents are arrays, or objects keyed "0", "1", ... (what DPDK
// telemetry's shape makes of arrays of objects): either way, the entries.
std::vector<json> entries(const json& doc) {
  std::vector<json> out;
  if (doc.is_array()) {
    for (const json& e : doc) out.push_back(e);
  } else if (doc.is_object()) {
    for (const auto& [k, e] : doc.items()) out.push_back(e);
  }
  return out;
}

void info(Exposition& x, const json& i) {
  if (!i.is_object()) return;
  x.add("info", "gauge", "the daemon's version and configuration file",
        {{"version", str(i, "version")}, {"config", str(i, "config")}}, 1);
  x.add("uptime_seconds", "gauge", "seconds since the daemon started", {},
        num(i, "uptime_s"));
  for (const char* s : {"running", "maintenance", "draining", "stopping"}) {
    x.add("state", "gauge", "the daemon's state: 1 for the current one", {{"state", s}},
          str(i, "state") == s ? 1 : 0);
  }
  x.add("workers", "gauge", "data-plane workers", {}, num(i, "workers"));
  x.add("dataplane_healthy", "gauge",
        "1 while every worker's heartbeat moves, links are up and buffers and rings keep "
        "up",
        {}, num(i, "dataplane_healthy"));
  x.add("active_connections", "gauge", "connections a drain waits for (all workers)", {},
        num(i, "active_connections"));
  x.add("mbufs_free", "gauge", "free packet buffers in the pool", {},
        num(i, "mbufs_free"));
  x.add("mbufs", "gauge", "packet buffers in the pool", {}, num(i, "mbufs_total"));
  x.add("control_plane_errors_total", "counter",
        "exceptions caught in control-plane handlers", {},
        num(i, "control_plane_errors"));
  x.add("log_lines_total", "counter", "log lines by outcome", {{"outcome", "written"}},
        num(i, "log_lines_written"));
  x.add("log_lines_total", "counter", "log lines by outcome", {{"outcome", "dropped"}},
        num(i, "log_lines_dropped"));
  x.add("log_lines_total", "counter", "log lines by outcome", {{"outcome", "suppressed"}},
        num(i, "log_lines_suppressed"));
}

void workers(Exposition& x, const json& doc, const CounterHelp& help) {
  if (!doc.is_object()) return;
  for (const auto& [worker, w] : doc.items()) {
    if (!w.is_object()) continue;
    for (const auto& [name, v] : w.items()) {
      if (!v.is_number()) continue;
      const double n = v.get<double>();
      if (name == "rx" || name == "tx") {
        x.add("packets_total", "counter",
              "packets received (rx) and sent (tx) by the ports",
              {{"worker", worker}, {"direction", name}}, n);
      } else if (name.rfind("drop_", 0) == 0) {
        x.add("drops_total", "counter",
              "packets dropped, by reason (docs/TELEMETRY.md); reasons never seen are "
              "absent",
              {{"worker", worker}, {"reason", name.substr(5)}}, n);
      } else if (name == "connections") {
        x.add("connections", "gauge", "connections in the worker's table",
              {{"worker", worker}}, n);
      } else if (name == "heartbeat") {
        x.add("heartbeats_total", "counter", "poll-loop heartbeats (moves while alive)",
              {{"worker", worker}}, n);
      } else if (name == "dropped") {
        continue;  // the sum of drops_total
      } else {
        const std::string_view doc_line = help(name);
        x.add(name + "_total", "counter",
              doc_line.empty() ? "worker counter " + name : std::string(doc_line),
              {{"worker", worker}}, n);
      }
    }
  }
}

void snat(Exposition& x, const json& doc) {
  for (const json& e : entries(doc)) {
    x.add("snat_exhausted_total", "counter",
          "SNAT port exhaustion per worker and (backend, SNAT address), heaviest pairs",
          {{"worker", str(e, "worker")},
           {"backend", str(e, "backend")},
           {"snat", str(e, "snat")}},
          num(e, "exhausted"));
  }
}

void services(Exposition& x, const json& svcs, const json& backends) {
  for (const json& s : entries(svcs)) {
    const Labels l{{"service", str(s, "name")}, {"vip", str(s, "vip")}};
    x.add("service_backends", "gauge", "backends configured", l, num(s, "backends"));
    x.add("service_backends_healthy", "gauge", "backends whose probe says up", l,
          num(s, "healthy"));
    x.add("service_min_healthy_backends", "gauge",
          "healthy backends the service needs for its VIP", l, num(s, "min_healthy"));
  }
  for (const json& b : entries(backends)) {
    const Labels l{{"service", str(b, "service")},
                   {"backend", str(b, "address") + ":" + str(b, "port")}};
    x.add("backend_up", "gauge",
          "1 when the backend's probe says up (0: down or unknown)", l,
          num(b, "healthy"));
    x.add("backend_probes_total", "counter", "probes completed", l, num(b, "probes"));
    x.add("backend_probe_failures_total", "counter", "probes failed", l,
          num(b, "failures"));
    x.add("backend_probe_duration_seconds", "gauge", "the last probe's duration", l,
          num(b, "last_rtt_us") / 1e6);
  }
}

void health(Exposition& x, const json& doc) {
  for (const json& v : entries(doc)) {
    const std::string vip = str(v, "vip");
    x.add("vip_advertised", "gauge", "1 while the VIP's route is announced",
          {{"vip", vip}}, num(v, "advertise"));
    for (const char* d : {"announce", "deprefer", "withdraw"}) {
      x.add("vip_decision", "gauge", "the VIP's health decision: 1 for the current one",
            {{"vip", vip}, {"decision", d}}, str(v, "decision") == d ? 1 : 0);
    }
    x.add("vip_decision_info", "gauge", "the VIP's decision with its reason",
          {{"vip", vip}, {"decision", str(v, "decision")}, {"reason", str(v, "reason")}},
          1);
    x.add("vip_falls_total", "counter", "times the VIP went down", {{"vip", vip}},
          num(v, "falls"));
    x.add("vip_suppressed", "gauge", "1 while damping keeps the VIP down", {{"vip", vip}},
          num(v, "suppressed"));
    x.add("vip_damping_penalty", "gauge", "the VIP's damping penalty", {{"vip", vip}},
          num(v, "penalty"));
  }
}

void bgp(Exposition& x, const json& peers, const json& routes, const CounterHelp& help) {
  std::map<std::string, double> advertised;
  for (const json& r : entries(routes)) advertised[str(r, "peer")] += 1;
  for (const json& p : entries(peers)) {
    const std::string peer = str(p, "name");
    const Labels l{{"peer", peer}, {"address", str(p, "address")}};
    x.add("bgp_session_up", "gauge", "1 while the session is Established", l,
          str(p, "state") == "Established" ? 1 : 0);
    x.add("bgp_session_info", "gauge", "the session's FSM state",
          {{"peer", peer}, {"state", str(p, "state")}}, 1);
    x.add("bgp_routes_advertised", "gauge", "routes advertised to the peer now", l,
          advertised[peer]);
    x.add("bgp_prefixes_sent", "gauge", "prefixes in the peer's Adj-RIB-Out", l,
          num(p, "prefixes_sent"));
    x.add("bgp_prefixes_received", "gauge", "prefixes the peer sent", l,
          num(p, "prefixes_received"));
    x.add("bgp_established_transitions_total", "counter", "times the session came up", l,
          num(p, "established_transitions"));
    // The peer's other counters (bgp/speaker.h, NVA_PEER_COUNTERS): messages
    // by type and direction, and each row of the table.
    for (const auto& [name, v] : p.items()) {
      if (!v.is_number() || name == "remote_as" || name == "prefixes_sent" ||
          name == "prefixes_received" || name == "established_transitions" ||
          name == "prefix_limit_resets")
        continue;
      const double n = v.get<double>();
      const auto us = name.rfind('_');
      const std::string dir = us == std::string::npos ? "" : name.substr(us + 1);
      if (dir == "sent" || dir == "received") {
        x.add("bgp_messages_total", "counter", "BGP messages by type and direction",
              {{"peer", peer}, {"type", name.substr(0, us)}, {"direction", dir}}, n);
      } else {
        const std::string_view doc_line = help(name);
        x.add("bgp_" + name + "_total", "counter",
              doc_line.empty() ? "BGP peer counter " + name : std::string(doc_line), l,
              n);
      }
    }
  }
}

}  // namespace

std::string render(const Documents& docs, const CounterHelp& help) {
  Exposition x;
  info(x, docs("/nva/info"));
  workers(x, docs("/nva/workers"), help);
  snat(x, docs("/nva/snat"));
  services(x, docs("/nva/services"), docs("/nva/backends"));
  health(x, docs("/nva/health"));
  bgp(x, docs("/nva/bgp/peers"), docs("/nva/bgp/routes"), help);
  return x.text();
}

// --- the HTTP server ------------------------------------------------------

struct Server::State : std::enable_shared_from_this<Server::State> {
  State(asio::io_context& io, std::function<std::string()> r)
      : acceptor(io), render(std::move(r)) {}
  tcp::acceptor acceptor;
  std::function<std::string()> render;
  int clients = 0;
  std::uint64_t scrapes = 0;
  bool stopped = false;

  struct Conn {
    explicit Conn(tcp::socket s) : stream(std::move(s)) {}
    beast::tcp_stream stream;
    beast::flat_buffer buf{8192};
    http::request<http::empty_body> req;
    http::response<http::string_body> res;
  };

  void accept() {
    acceptor.async_accept(
        [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
          if (self->stopped || ec == asio::error::operation_aborted) return;
          if (!ec) {
            if (self->clients >= kMaxClients) {
              beast::error_code ignored;
              s.close(ignored);  // too many at once: this one waits for nothing
            } else {
              self->serve(std::make_shared<Conn>(std::move(s)));
            }
          }
          self->accept();
        });
  }

  void serve(const std::shared_ptr<Conn>& c) {
    ++clients;
    c->stream.expires_after(std::chrono::milliseconds(kTimeoutMs));
    http::async_read(c->stream, c->buf, c->req,
                     [self = shared_from_this(), c](beast::error_code ec, std::size_t) {
                       if (ec) return self->done(c);
                       self->answer(c);
                     });
  }

  void answer(const std::shared_ptr<Conn>& c) {
    auto& res = c->res;
    res.version(c->req.version());
    res.keep_alive(false);
    const auto target = c->req.target();
    if (c->req.method() != http::verb::get && c->req.method() != http::verb::head) {
      res.result(http::status::method_not_allowed);
      res.set(http::field::allow, "GET, HEAD");
      res.body() = "only GET\n";
    } else if (target == "/metrics" || target.rfind("/metrics?", 0) == 0) {
      res.result(http::status::ok);
      res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      res.body() = render();
      ++scrapes;
    } else if (target == "/") {
      res.result(http::status::ok);
      res.set(http::field::content_type, "text/html");
      res.body() = "<a href=\"/metrics\">/metrics</a>\n";
    } else {
      res.result(http::status::not_found);
      res.body() = "not found: try /metrics\n";
    }
    if (c->req.method() == http::verb::head) {
      res.content_length(res.body().size());
      res.body().clear();
    } else {
      res.prepare_payload();
    }
    http::async_write(c->stream, res,
                      [self = shared_from_this(), c](beast::error_code, std::size_t) {
                        self->done(c);
                      });
  }

  void done(const std::shared_ptr<Conn>& c) {
    --clients;
    beast::error_code ignored;
    c->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    c->stream.close();
  }
};

Server::Server(asio::io_context& io, const std::string& address, std::uint16_t port,
               std::function<std::string()> render)
    : state_(std::make_shared<State>(io, std::move(render))) {
  beast::error_code ec;
  const auto addr = asio::ip::make_address(address, ec);
  const std::string where = "metrics: " + address + ":" + std::to_string(port);
  if (ec) throw std::runtime_error(where + ": not an IP address");
  const tcp::endpoint ep(addr, port);
  state_->acceptor.open(ep.protocol(), ec);
  if (!ec) state_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) state_->acceptor.bind(ep, ec);
  if (!ec) state_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error(where + ": cannot listen: " + ec.message());
  state_->accept();
}

Server::~Server() {
  state_->stopped = true;
  beast::error_code ignored;
  state_->acceptor.close(ignored);
}

std::uint16_t Server::port() const { return state_->acceptor.local_endpoint().port(); }

std::uint64_t Server::scrapes() const { return state_->scrapes; }

}  // namespace nva::metrics
