// A fake Azure Instance Metadata Service on loopback for the tests of
// Scheduled Events (Boost.Beast): every request recorded, each answered by
// the test's function; kSilent accepts and never answers.
#pragma once

#include <utility>  // before Asio: Debian's Boost uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "controlplane/azure/scheduled_events.h"

namespace nva::azure::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;

class FakeImds {
 public:
  struct Seen {
    std::string method, target, metadata, body;
  };
  static constexpr unsigned kSilent = 0;
  using Answer = std::function<std::pair<unsigned, std::string>(const Seen&)>;

  FakeImds(asio::io_context& io, Answer answer)
      : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        answer_(std::move(answer)) {
    accept();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::vector<Seen> seen;

 private:
  struct Conn {
    explicit Conn(tcp::socket s) : sock(std::move(s)) {}
    tcp::socket sock;
    beast::flat_buffer buf;
    http::request<http::string_body> req;
    http::response<http::string_body> res;
  };
  void accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket sock) {
      if (ec) return;
      auto c = std::make_shared<Conn>(std::move(sock));
      http::async_read(
          c->sock, c->buf, c->req, [this, c](beast::error_code ec2, std::size_t) {
            if (ec2) return;
            Seen s{std::string(c->req.method_string()), std::string(c->req.target()),
                   std::string(c->req["Metadata"]), c->req.body()};
            seen.push_back(s);
            const auto [status, body] = answer_(s);
            if (status == kSilent) {
              held_.push_back(c);  // open, unanswered
              return;
            }
            c->res.result(status);
            c->res.version(11);
            c->res.body() = body;
            c->res.prepare_payload();
            http::async_write(c->sock, c->res, [c](beast::error_code, std::size_t) {});
          });
      accept();
    });
  }
  tcp::acceptor acceptor_;
  Answer answer_;
  std::vector<std::shared_ptr<Conn>> held_;
};

inline PollerConfig config_for(const FakeImds& f) {
  PollerConfig c;
  c.host = "127.0.0.1";
  c.port = f.port();
  c.interval = milliseconds(20);
  c.timeout = milliseconds(300);
  return c;
}

// Runs `io` until `done()` or two seconds.
inline void run_until(asio::io_context& io, const std::function<bool()>& done) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!done() && std::chrono::steady_clock::now() < end) {
    io.restart();
    io.run_for(milliseconds(5));
  }
}

}  // namespace nva::azure::test
