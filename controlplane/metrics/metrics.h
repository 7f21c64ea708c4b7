// Prometheus metrics (text exposition format 0.0.4) of the daemon's /nva/
// documents, and the HTTP server that serves them at /metrics.
//
// One source of facts: the renderer reads the same JSON snapshots the
// daemon publishes to DPDK telemetry every half second (docs/TELEMETRY.md),
// so a scrape never touches a worker and shows what nvactl shows. Names
// follow Prometheus conventions: anycast_nva_ prefix, _total for counters,
// labels for worker, direction, reason, service, backend, vip, peer
// (docs/METRICS.md lists them all).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace nva::metrics {

// The document published under `path` ("/nva/workers"); null when none.
using Documents = std::function<nlohmann::json(const std::string& path)>;
// What a worker's or a BGP peer's counter counts, by its name (its table's
// doc column); empty when unknown.
using CounterHelp = std::function<std::string_view(std::string_view name)>;

// The exposition of every metric the documents hold.
std::string render(const Documents& docs, const CounterHelp& help);

// "a\"b\\c\nd" as a label value: backslash, double quote and newline escaped.
std::string escape_label(std::string_view v);

// HTTP/1.1 on the control plane's io_context: GET /metrics answers
// render()'s text (Content-Type text/plain; version=0.0.4), GET / a pointer
// to it, anything else 404 (or 405 for another method). At most kMaxClients
// connections at once (more are closed at accept), each with kTimeout for the
// whole exchange; one request per connection.
class Server {
 public:
  static constexpr int kMaxClients = 16;
  static constexpr int kTimeoutMs = 5000;
  // Listens on `address`:`port` (port 0: any, see port()). Throws
  // std::runtime_error naming the address when it cannot.
  Server(boost::asio::io_context& io, const std::string& address, std::uint16_t port,
         std::function<std::string()> render);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  std::uint16_t port() const;
  std::uint64_t scrapes() const;  // answered GET /metrics

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace nva::metrics
