// The Prober over real sockets on loopback: TCP listeners, closed ports,
// silent listeners, tiny HTTP servers (200, 503, garbage, oversized), down
// then up with measured detection times, source binding, kind none, and
// removal or destruction while probes are in flight (run under ASan).
#include "controlplane/health/prober.h"

#include <gtest/gtest.h>

#include <utility>  // before Asio: Debian's Boost uses std::exchange without it

#include <boost/asio.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace nva::health {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::uint32_t kLoopback = 0x7f000001;    // 127.0.0.1
constexpr std::uint32_t kUnassigned = 0xc000027b;  // 192.0.2.123 (TEST-NET-1)

// A loopback server on the test's io_context. kAcceptAndClose: a plain TCP
// listener; kSilent: accepts, reads nothing, answers nothing; kRespond:
// reads the request head, records it, writes `response` and closes.
class TestServer {
 public:
  enum class Mode : std::uint8_t { kAcceptAndClose, kSilent, kRespond };

  TestServer(asio::io_context& io, Mode mode, std::string response = {})
      : state_(std::make_shared<State>(io, mode, std::move(response))) {
    state_->open(0);
  }
  ~TestServer() { state_->close(); }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  std::uint16_t port() const { return state_->port; }
  Target target() const { return {kLoopback, state_->port}; }
  // Stops listening (connections are refused) and drops held connections.
  void close() { state_->close(); }
  // Listens again on the same port.
  void reopen() { state_->open(state_->port); }
  const std::vector<std::string>& requests() const { return state_->requests; }
  std::size_t accepted() const { return state_->accepted; }

 private:
  struct State : std::enable_shared_from_this<State> {
    State(asio::io_context& i, Mode m, std::string r)
        : io(i), mode(m), response(std::move(r)), acceptor(i) {}

    void open(std::uint16_t p) {
      const tcp::endpoint ep(asio::ip::address_v4(kLoopback), p);
      acceptor.open(ep.protocol());
      acceptor.set_option(tcp::acceptor::reuse_address(true));
      acceptor.bind(ep);
      acceptor.listen();
      port = acceptor.local_endpoint().port();
      accept();
    }
    void close() {
      boost::system::error_code ignored;
      acceptor.close(ignored);
      for (auto& s : held) s.close(ignored);
      held.clear();
    }
    void accept() {
      acceptor.async_accept([self = shared_from_this()](
                                const boost::system::error_code& ec, tcp::socket s) {
        if (ec) return;
        ++self->accepted;
        self->serve(std::move(s));
        self->accept();
      });
    }
    void serve(tcp::socket s) {
      switch (mode) {
        case Mode::kAcceptAndClose:
          return;  // s closes here
        case Mode::kSilent:
          held.push_back(std::move(s));
          return;
        case Mode::kRespond:
          break;
      }
      auto conn = std::make_shared<Conn>(std::move(s));
      asio::async_read_until(
          conn->socket, asio::dynamic_buffer(conn->in, 8192), "\r\n\r\n",
          [self = shared_from_this(), conn](const boost::system::error_code& ec,
                                            std::size_t) {
            if (ec) return;
            self->requests.push_back(conn->in);
            asio::async_write(
                conn->socket, asio::buffer(self->response),
                [self, conn](const boost::system::error_code&, std::size_t) {
                  boost::system::error_code ignored;
                  conn->socket.shutdown(tcp::socket::shutdown_both, ignored);
                  conn->socket.close(ignored);
                });
          });
    }

    struct Conn {
      explicit Conn(tcp::socket s) : socket(std::move(s)) {}
      tcp::socket socket;
      std::string in;
    };

    asio::io_context& io;
    Mode mode;
    std::string response;
    tcp::acceptor acceptor;
    std::uint16_t port = 0;
    std::vector<tcp::socket> held;
    std::vector<std::string> requests;
    std::size_t accepted = 0;
  };

  std::shared_ptr<State> state_;
};

struct Event {
  std::size_t id = 0;
  BackendStatus status;
  Clock::time_point at;
};

class ProberTest : public ::testing::Test {
 protected:
  // Fast probes for tests: 50 ms interval, 40 ms timeout, rise 2, fall 3.
  static ProbeConfig fast(ProbeKind kind = ProbeKind::kTcp) {
    ProbeConfig c;
    c.kind = kind;
    c.interval = milliseconds(50);
    c.timeout = milliseconds(40);
    return c;
  }

  ChangeHandler recorder() {
    return [this](std::size_t id, const BackendStatus& s) {
      events.push_back({id, s, Clock::now()});
    };
  }

  // Runs the io_context until pred() holds or `limit` passes.
  template <typename Pred>
  bool run_until(Pred pred, milliseconds limit = milliseconds(2000)) {
    const auto end = Clock::now() + limit;
    while (!pred()) {
      if (Clock::now() >= end) return false;
      if (io.stopped()) io.restart();
      io.run_one_for(milliseconds(10));
    }
    return true;
  }
  void run_for(milliseconds d) {
    const auto end = Clock::now() + d;
    while (Clock::now() < end) {
      if (io.stopped()) io.restart();
      io.run_one_until(end);
    }
  }

  std::size_t events_for(std::size_t id) const {
    std::size_t n = 0;
    for (const auto& e : events) n += e.id == id ? 1 : 0;
    return n;
  }
  // Runs until target `id` has reported `n` changes; returns the last one.
  const Event& wait_event(std::size_t id, std::size_t n,
                          milliseconds limit = milliseconds(2000)) {
    EXPECT_TRUE(run_until([&] { return events_for(id) >= n; }, limit))
        << "target " << id << ": " << events_for(id) << " of " << n << " changes";
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
      if (it->id == id) return *it;
    }
    static const Event kNoEvent{};
    return kNoEvent;
  }

  asio::io_context io;
  std::vector<Event> events;
  std::unique_ptr<Prober> prober = std::make_unique<Prober>(io);
};

// A loopback port nothing listens on (bound once, then closed): refused.
std::uint16_t closed_port(asio::io_context& io) {
  tcp::acceptor a(io, tcp::endpoint(asio::ip::address_v4(kLoopback), 0));
  return a.local_endpoint().port();
}

TEST_F(ProberTest, TcpListenerIsHealthy) {
  TestServer server(io, TestServer::Mode::kAcceptAndClose);
  const auto id = prober->add(server.target(), fast(), recorder());
  const auto& e = wait_event(id, 1);
  EXPECT_EQ(e.status.healthy, true);
  EXPECT_EQ(e.status.last_detail, "connected");
  EXPECT_EQ(e.status.probes, 1u);
  EXPECT_EQ(e.status.successes, 1u);
  EXPECT_EQ(e.status.transitions, 1u);
  EXPECT_EQ(e.status.kind, ProbeKind::kTcp);
  EXPECT_GT(e.status.last_rtt.count(), 0);
  EXPECT_LT(e.status.last_rtt, milliseconds(40));
  // Stays up without further handler calls.
  run_for(milliseconds(200));
  EXPECT_EQ(events_for(id), 1u);
  const auto s = prober->status(id);
  EXPECT_GE(s.probes, 3u);
  EXPECT_EQ(s.failures, 0u);
  EXPECT_GE(server.accepted(), 3u);
}

TEST_F(ProberTest, ClosedPortIsUnhealthyRefused) {
  const std::uint16_t port = closed_port(io);
  const auto id = prober->add({kLoopback, port}, fast(), recorder());
  const auto& e = wait_event(id, 1);
  EXPECT_EQ(e.status.healthy, false);
  EXPECT_EQ(e.status.last_detail, "connect: Connection refused");
  EXPECT_EQ(e.status.failures, 1u);
}

TEST_F(ProberTest, SilentHttpListenerTimesOut) {
  TestServer server(io, TestServer::Mode::kSilent);
  const auto t0 = Clock::now();
  const auto id = prober->add(server.target(), fast(ProbeKind::kHttp), recorder());
  const auto& e = wait_event(id, 1);
  EXPECT_EQ(e.status.healthy, false);
  EXPECT_EQ(e.status.last_detail, "timeout after 40 ms (waiting for the status line)");
  EXPECT_GE(e.status.last_rtt, milliseconds(40));
  EXPECT_LT(e.status.last_rtt, milliseconds(40 + 200));
  // The first probe starts within interval / 2; it then takes the timeout.
  EXPECT_LT(e.at - t0, milliseconds(25 + 40 + 300));
}

TEST_F(ProberTest, Http200IsHealthyAndTheRequestIsExact) {
  TestServer server(io, TestServer::Mode::kRespond,
                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  auto c = fast(ProbeKind::kHttp);
  c.http_path = "/healthz?full=1";
  const auto id = prober->add(server.target(), c, recorder());
  const auto& e = wait_event(id, 1);
  EXPECT_EQ(e.status.healthy, true);
  EXPECT_EQ(e.status.last_detail, "http 200");
  ASSERT_FALSE(server.requests().empty());
  EXPECT_EQ(server.requests()[0],
            "GET /healthz?full=1 HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            "User-Agent: anycast-nva\r\n\r\n");
}

TEST_F(ProberTest, Http503IsUnhealthy) {
  TestServer server(io, TestServer::Mode::kRespond,
                    "HTTP/1.0 503 Service Unavailable\r\n\r\n");
  const auto id = prober->add(server.target(), fast(ProbeKind::kHttp), recorder());
  const auto& e = wait_event(id, 1);
  EXPECT_EQ(e.status.healthy, false);
  EXPECT_EQ(e.status.last_detail, "http 503 (expected 200)");
}

TEST_F(ProberTest, ExpectedStatusOtherThan200) {
  TestServer server(io, TestServer::Mode::kRespond, "HTTP/1.0 204 No Content\r\n\r\n");
  auto c = fast(ProbeKind::kHttp);
  c.http_status = 204;
  const auto id = prober->add(server.target(), c, recorder());
  EXPECT_EQ(wait_event(id, 1).status.healthy, true);
}

TEST_F(ProberTest, StatusLineWithoutLineEndBeforeCloseCounts) {
  TestServer server(io, TestServer::Mode::kRespond, "HTTP/1.0 200 OK");
  const auto id = prober->add(server.target(), fast(ProbeKind::kHttp), recorder());
  const auto& e = wait_event(id, 1);
  EXPECT_EQ(e.status.healthy, true);
  EXPECT_EQ(e.status.last_detail, "http 200");
}

TEST_F(ProberTest, BadResponsesAreFailuresWithADetail) {
  struct Case {
    std::string response;
    std::string detail;
  };
  const std::vector<Case> cases = {
      {"SSH-2.0-OpenSSH_9.2\r\n", "http: malformed status line \"SSH-2.0-OpenSSH_9.2\""},
      {"HTTP/1.1 20 OK\r\n\r\n", "http: malformed status line \"HTTP/1.1 20 OK\""},
      {"HTTP/1.1 2000 OK\r\n\r\n", "http: malformed status line \"HTTP/1.1 2000 OK\""},
      {"HTTP/1.1 999 Odd\r\n\r\n", "http: malformed status line \"HTTP/1.1 999 Odd\""},
      {"HTTP/1.1200 OK\r\n\r\n", "http: malformed status line \"HTTP/1.1200 OK\""},
      {"\x01\x02HTTP\r\n", "http: malformed status line \"??HTTP\""},
      {"", "http: connection closed before the status line"},
      {std::string(8192, 'A'), "http: no status line within 4096 bytes"},
      {"HTTP/1.1 200 " + std::string(5000, 'x') + "\r\n",
       "http: no status line within 4096 bytes"},
  };
  std::vector<std::unique_ptr<TestServer>> servers;
  std::vector<std::size_t> ids;
  for (const auto& k : cases) {
    servers.push_back(
        std::make_unique<TestServer>(io, TestServer::Mode::kRespond, k.response));
    ids.push_back(
        prober->add(servers.back()->target(), fast(ProbeKind::kHttp), recorder()));
  }
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& e = wait_event(ids[i], 1);
    EXPECT_EQ(e.status.healthy, false) << i;
    EXPECT_EQ(e.status.last_detail, cases[i].detail) << i;
  }
  const auto s = prober->status(ids[0]);
  EXPECT_EQ(s.failures, s.probes);
}

TEST_F(ProberTest, LongMalformedLineIsTruncatedInTheDetail) {
  TestServer server(io, TestServer::Mode::kRespond, std::string(200, 'z') + "\r\n");
  const auto id = prober->add(server.target(), fast(ProbeKind::kHttp), recorder());
  const auto& e = wait_event(id, 1);
  EXPECT_EQ(e.status.last_detail,
            "http: malformed status line \"" + std::string(64, 'z') + "...\"");
}

// Down after `fall` failures, up after `rise` successes, with the measured
// times within loose bounds: the first failing probe starts within one
// interval of the outage, then fall - 1 more intervals (refused: no timeout).
TEST_F(ProberTest, DownThenUpFollowsFallAndRise) {
  TestServer server(io, TestServer::Mode::kAcceptAndClose);
  const auto c = fast();
  const auto id = prober->add(server.target(), c, recorder());
  ASSERT_EQ(wait_event(id, 1).status.healthy, true);
  run_for(milliseconds(120));

  const auto down_at = Clock::now();
  server.close();
  const Event down = wait_event(id, 2);
  EXPECT_EQ(down.status.healthy, false);
  EXPECT_EQ(down.status.last_detail, "connect: Connection refused");
  EXPECT_EQ(down.status.streak, c.fall);
  const auto t_down = down.at - down_at;
  EXPECT_GE(t_down, (c.fall - 1) * c.interval - milliseconds(10));
  EXPECT_LE(t_down, c.fall * c.interval + c.timeout + milliseconds(500));

  run_for(milliseconds(120));  // stays down
  EXPECT_EQ(events_for(id), 2u);

  const auto up_at = Clock::now();
  server.reopen();
  const Event up = wait_event(id, 3);
  EXPECT_EQ(up.status.healthy, true);
  EXPECT_EQ(up.status.last_detail, "connected");
  EXPECT_EQ(up.status.streak, c.rise);
  const auto t_up = up.at - up_at;
  EXPECT_GE(t_up, (c.rise - 1) * c.interval - milliseconds(10));
  EXPECT_LE(t_up, c.rise * c.interval + c.timeout + milliseconds(500));
  EXPECT_EQ(up.status.transitions, 3u);
  EXPECT_GE(up.status.last_change, up_at);
}

// Probes start `interval` after the previous start and never overlap.
TEST_F(ProberTest, ProbesRunOncePerInterval) {
  TestServer server(io, TestServer::Mode::kAcceptAndClose);
  const auto id = prober->add(server.target(), fast(), recorder());
  ASSERT_TRUE(wait_event(id, 1).status.healthy);
  const auto before = prober->status(id).probes;
  run_for(milliseconds(1000));
  const auto n = prober->status(id).probes - before;
  EXPECT_GE(n, 14u);  // 20 expected; a loaded machine may lose a few
  EXPECT_LE(n, 21u);
}

TEST_F(ProberTest, SlowProbesNeverOverlap) {
  TestServer server(io, TestServer::Mode::kSilent);
  auto c = fast(ProbeKind::kHttp);
  c.timeout = c.interval;  // each probe takes the whole interval
  const auto id = prober->add(server.target(), c, recorder());
  ASSERT_EQ(wait_event(id, 1).status.healthy, false);
  const auto before = prober->status(id);
  run_for(milliseconds(500));
  const auto after = prober->status(id);
  EXPECT_LE(after.probes - before.probes, 10u);
  EXPECT_GE(after.probes - before.probes, 5u);
  // At most one connection per probe ever reached the server.
  EXPECT_LE(server.accepted(), after.probes + 1);
}

TEST_F(ProberTest, SourceLoopbackWorks) {
  TestServer server(io, TestServer::Mode::kAcceptAndClose);
  auto c = fast();
  c.source = kLoopback;
  const auto id = prober->add(server.target(), c, recorder());
  const auto& e = wait_event(id, 1);
  EXPECT_EQ(e.status.healthy, true);
  EXPECT_EQ(e.status.last_detail, "connected");
}

TEST_F(ProberTest, UnassignableSourceIsAFailureNotAnException) {
  TestServer server(io, TestServer::Mode::kAcceptAndClose);
  auto c = fast(ProbeKind::kHttp);
  c.source = kUnassigned;
  const auto id = prober->add(server.target(), c, recorder());
  const auto& e = wait_event(id, 1);
  EXPECT_EQ(e.status.healthy, false);
  bool nonlocal_bind = false;
  if (std::ifstream f("/proc/sys/net/ipv4/ip_nonlocal_bind"); f) {
    int v = 0;
    f >> v;
    nonlocal_bind = v != 0;
  }
  if (!nonlocal_bind) {
    EXPECT_EQ(e.status.last_detail, "bind: Cannot assign requested address");
  } else {
    EXPECT_FALSE(e.status.last_detail.empty());
  }
  // And it keeps probing (and failing) on schedule.
  run_for(milliseconds(200));
  EXPECT_GE(prober->status(id).failures, 3u);
}

TEST_F(ProberTest, KindNoneIsHealthyAtOnceWithOneCall) {
  ProbeConfig c;
  c.kind = ProbeKind::kNone;
  const auto id = prober->add({kLoopback, 1}, c, recorder());
  EXPECT_TRUE(events.empty());  // never from inside add()
  const auto& e = wait_event(id, 1, milliseconds(100));
  EXPECT_EQ(e.status.healthy, true);
  EXPECT_EQ(e.status.kind, ProbeKind::kNone);
  EXPECT_EQ(e.status.last_detail, "no probe (kind none)");
  run_for(milliseconds(100));
  EXPECT_EQ(events.size(), 1u);
  EXPECT_EQ(prober->status(id).probes, 0u);
}

TEST_F(ProberTest, InvalidConfigThrowsFromAdd) {
  auto c = fast();
  c.timeout = milliseconds(500);
  EXPECT_THROW(prober->add({kLoopback, 80}, c, recorder()), std::invalid_argument);
  EXPECT_TRUE(prober->ids().empty());
}

TEST_F(ProberTest, IdsStatusAndRemove) {
  TestServer server(io, TestServer::Mode::kAcceptAndClose);
  const auto a = prober->add(server.target(), fast(), recorder());
  const auto b = prober->add(server.target(), fast(), recorder());
  EXPECT_EQ(a, 1u);
  EXPECT_EQ(b, 2u);
  EXPECT_EQ(prober->ids(), (std::vector<std::size_t>{1, 2}));
  EXPECT_EQ(prober->status(a).target.port, server.port());
  EXPECT_FALSE(prober->status(a).healthy.has_value());
  prober->remove(a);
  prober->remove(a);   // twice: ignored
  prober->remove(99);  // unknown: ignored
  EXPECT_FALSE(prober->contains(a));
  EXPECT_TRUE(prober->contains(b));
  EXPECT_THROW(prober->status(a), std::out_of_range);
  EXPECT_EQ(prober->add(server.target(), fast(), recorder()), 3u);  // never reused
  wait_event(b, 1);
  EXPECT_EQ(events_for(a), 0u);
}

TEST_F(ProberTest, FirstProbesOfManyTargetsAreSpread) {
  TestServer server(io, TestServer::Mode::kAcceptAndClose);
  auto c = fast();
  c.interval = milliseconds(200);
  c.timeout = milliseconds(100);
  std::vector<std::size_t> ids;
  for (int i = 0; i < 16; ++i) ids.push_back(prober->add(server.target(), c, recorder()));
  ASSERT_TRUE(run_until([&] { return events.size() >= ids.size(); }));
  const auto first = events.front().at;
  const auto last = events.back().at;
  // Spread over [0, interval / 2]: far from one burst.
  EXPECT_GE(last - first, milliseconds(60));
  EXPECT_LE(last - first, milliseconds(100 + 100));
}

TEST_F(ProberTest, RemoveWhileInFlight) {
  TestServer server(io, TestServer::Mode::kSilent);
  auto c = fast(ProbeKind::kHttp);
  c.timeout = milliseconds(200);
  c.interval = milliseconds(250);
  const auto id = prober->add(server.target(), c, recorder());
  ASSERT_TRUE(run_until([&] { return prober->status(id).in_flight; }));
  ASSERT_TRUE(run_until([&] { return server.accepted() >= 1; }));
  prober->remove(id);
  run_for(milliseconds(400));
  EXPECT_TRUE(events.empty());
  EXPECT_FALSE(prober->contains(id));
}

TEST_F(ProberTest, RemoveFromItsOwnHandler) {
  const std::uint16_t port = closed_port(io);
  int calls = 0;
  std::size_t id = 0;
  id = prober->add({kLoopback, port}, fast(), [&](std::size_t i, const BackendStatus&) {
    ++calls;
    prober->remove(i);
  });
  run_for(milliseconds(300));
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(prober->contains(id));
}

TEST_F(ProberTest, DestroyFromAHandler) {
  const std::uint16_t port = closed_port(io);
  TestServer silent(io, TestServer::Mode::kSilent);
  int calls = 0;
  prober->add({kLoopback, port}, fast(), [&](std::size_t, const BackendStatus&) {
    ++calls;
    prober.reset();
  });
  auto c = fast(ProbeKind::kHttp);
  c.timeout = c.interval;
  prober->add(silent.target(), c, recorder());
  run_for(milliseconds(300));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(prober, nullptr);
  EXPECT_TRUE(events.empty());
}

TEST_F(ProberTest, DestroyWithProbesInFlight) {
  TestServer silent(io, TestServer::Mode::kSilent);
  const std::uint16_t port = closed_port(io);
  auto c = fast(ProbeKind::kHttp);
  c.timeout = c.interval;
  std::vector<std::size_t> ids;
  for (int i = 0; i < 8; ++i) {
    ids.push_back(prober->add(silent.target(), c, recorder()));
    ids.push_back(prober->add({kLoopback, port}, fast(), recorder()));
  }
  ASSERT_TRUE(run_until([&] {
    std::size_t n = 0;
    for (const auto id : ids) n += prober->status(id).in_flight ? 1 : 0;
    return n >= 4;
  }));
  const auto seen = events.size();
  prober.reset();
  run_for(milliseconds(200));
  EXPECT_EQ(events.size(), seen);
}

// The io_context goes away without running the abandoned completions: they
// are destroyed with it, and with them the last references to the probes.
TEST(ProberLifetime, DestroyProberThenIoContextWithoutRunning) {
  auto io = std::make_unique<asio::io_context>();
  auto silent = std::make_unique<TestServer>(*io, TestServer::Mode::kSilent);
  auto prober = std::make_unique<Prober>(*io);
  ProbeConfig c;
  c.kind = ProbeKind::kHttp;
  c.interval = milliseconds(50);
  c.timeout = milliseconds(50);
  const auto id =
      prober->add(silent->target(), c, [](std::size_t, const BackendStatus&) {});
  const auto end = Clock::now() + milliseconds(2000);
  while (!prober->status(id).in_flight && Clock::now() < end) {
    io->run_one_for(milliseconds(10));
  }
  ASSERT_TRUE(prober->status(id).in_flight);
  prober.reset();
  silent.reset();
  io.reset();
}

}  // namespace
}  // namespace nva::health
