// The daemon's backends (controlplane/daemon/backends.h) on a real Prober:
// a reload keeps the probes whose key did not change, with their health,
// starts the others with health unknown, stops the ones dropped, and
// changes nothing when a probe cannot start. Probes of kind none (one
// result, healthy, with no socket) keep the test off the network.
#include "controlplane/daemon/backends.h"

#include <gtest/gtest.h>

#include <utility>  // before Asio: Debian's Boost uses std::exchange without it

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controlplane/advertiser.h"
#include "controlplane/daemon/adverts.h"

namespace nva {
namespace {

using std::chrono::milliseconds;

const char* kConfig = R"(
[health]
probe = none
[service.web]
vip = 198.18.0.10
port = 80
backend = 198.18.1.1:80
backend = 198.18.1.2:80
backend = 198.18.1.2:80
[service.api]
vip = 198.18.0.11
port = 443
backend = 198.18.1.3:443
)";

struct Harness {
  boost::asio::io_context io;
  std::vector<std::string> lines;
  int guarded = 0;
  Backends backends{io,
                    [this](const char*, const std::function<void()>& f) {
                      ++guarded;
                      f();
                    },
                    [this](std::string line, std::string) { lines.push_back(line); }};

  // Installs `c`'s backends and waits for every probe's first result.
  void start(const config::Config& c) {
    backends.install(backends.plan(c));
    settle();
  }

  // Runs the io_context until every probe has a result (kind none: one each).
  void settle() {
    for (int i = 0; i < 200; ++i) {
      io.restart();  // run_for() stops the context when it runs out of work
      io.run_for(milliseconds(5));
      bool all = true;
      for (const auto& p : backends.probes()) all = all && p.healthy.has_value();
      if (all) return;
    }
    FAIL() << "probes did not report";
  }
};

std::set<std::size_t> ids(const Backends& b) {
  std::set<std::size_t> out;
  for (const auto& p : b.probes()) out.insert(p.id);
  return out;
}

TEST(Backends, ProbesStartUnknownThenSetTheBackendsHealth) {
  Harness h;
  const config::Config c = config::parse(kConfig, "nva.ini");
  h.backends.install(h.backends.plan(c));
  ASSERT_EQ(h.backends.probes().size(), 4u);  // the repeated backend has its own
  EXPECT_TRUE(h.backends.take_dirty());
  EXPECT_FALSE(h.backends.take_dirty());
  for (const auto& s : h.backends.services())
    for (const auto& b : s.backends) EXPECT_FALSE(b.healthy);
  h.settle();
  EXPECT_EQ(h.guarded, 4);
  EXPECT_TRUE(h.backends.take_dirty());
  for (const auto& s : h.backends.services())
    for (const auto& b : s.backends) EXPECT_TRUE(b.healthy);
  const auto states = h.backends.states(c.service_health);
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states[0].name, "api");  // services by name
  EXPECT_EQ(states[0].healthy, 1u);
  EXPECT_EQ(states[1].healthy, 3u);
  EXPECT_EQ(states[1].known, 3u);
  EXPECT_EQ(h.backends.vips(), (std::vector<std::uint32_t>{0xC612000A, 0xC612000B}));
  EXPECT_EQ(h.backends.services_of(0xC612000B), (std::vector<std::size_t>{0}));
  EXPECT_TRUE(h.backends.services_of(0xC6120099).empty());
  ASSERT_FALSE(h.lines.empty());
  EXPECT_NE(h.lines.front().find("health: service "), std::string::npos);
}

TEST(Backends, AReloadKeepsUnchangedProbesWithTheirHealth) {
  Harness h;
  const config::Config c = config::parse(kConfig, "nva.ini");
  h.start(c);
  const auto before = ids(h.backends);

  Backends::Plan same = h.backends.plan(c);
  EXPECT_EQ(same.kept, 4u);
  EXPECT_TRUE(same.unused.empty());
  for (const auto& s : same.services)
    for (const auto& b : s.backends) EXPECT_TRUE(b.healthy);  // kept: no gap
  h.backends.install(std::move(same));
  EXPECT_EQ(ids(h.backends), before);

  // api's probe moves to another port: its key changes, web's do not.
  config::Config next = config::parse(std::string(kConfig) + "probe_port = 8443\n",
                                      "nva.ini");  // in [service.api]
  Backends::Plan plan = h.backends.plan(next);
  EXPECT_EQ(plan.kept, 3u);
  ASSERT_EQ(plan.unused.size(), 1u);
  EXPECT_EQ(plan.unused.begin()->first.service, "api");
  EXPECT_EQ(plan.unused.begin()->first.target.port, 443);
  EXPECT_FALSE(plan.services[0].backends[0].healthy);  // new probe: unknown
  const std::size_t old_api = plan.unused.begin()->second;
  h.backends.install(std::move(plan));
  const auto after = ids(h.backends);
  EXPECT_EQ(after.count(old_api), 0u);
  EXPECT_EQ(after.size(), 4u);
  h.settle();
  EXPECT_TRUE(h.backends.services()[0].backends[0].healthy);
}

TEST(Backends, APlanThatCannotStartAProbeChangesNothing) {
  Harness h;
  const config::Config c = config::parse(kConfig, "nva.ini");
  h.start(c);
  const auto before = ids(h.backends);
  config::Config bad =
      config::parse(std::string(kConfig) + "probe_port = 8443\n", "nva.ini");
  // The prober refuses an interval of 0 (config::parse would too).
  bad.service_health[0].probe.kind = config::ProbeSettings::Kind::kTcp;
  bad.service_health[0].probe.interval_ms = 0;
  EXPECT_THROW((void)h.backends.plan(bad), std::invalid_argument);
  EXPECT_EQ(ids(h.backends), before);
  // The running probes are still there: the same plan keeps all of them.
  EXPECT_EQ(h.backends.plan(c).kept, 4u);
}

TEST(VipAdverts, AReloadForgetsVipsWithoutServicesAndAddsNewOnesWithdrawn) {
  std::vector<std::string> lines;
  VipAdverts v(nullptr, [&lines](std::string line) { lines.push_back(line); });
  const config::Config c = config::parse(kConfig, "nva.ini");
  v.configure({0xC612000A, 0xC612000B}, c, /*reload=*/false);
  EXPECT_EQ(v.size(), 2u);
  EXPECT_TRUE(lines.empty());
  v.configure({0xC612000B, 0xC612000C}, c, /*reload=*/true);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v.decisions().count(0xC612000A), 0u);
  EXPECT_EQ(v.decisions().at(0xC612000C).state(), health::Advert::kWithdraw);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "reload: VIP 198.18.0.10 has no service left: withdrawn");
  EXPECT_EQ(lines[1], "reload: VIP 198.18.0.12 added: announced once healthy");
  EXPECT_FALSE(v.route_attributes_changed());
}

// Routes as a map, every set() recorded.
struct FakeSink : RouteSink {
  std::map<std::uint32_t, bgp::RouteAttributes> routes;
  int sets = 0;
  void set(std::uint32_t vip, const std::optional<bgp::RouteAttributes>& a) override {
    ++sets;
    if (a) {
      routes[vip] = *a;
    } else {
      routes.erase(vip);
    }
  }
  std::optional<bgp::RouteAttributes> get(std::uint32_t vip) const override {
    const auto it = routes.find(vip);
    return it == routes.end() ? std::nullopt : std::optional(it->second);
  }
};

// hold() takes the announced VIPs down and keeps them there through health
// changes (logged "not applied"); release() applies what the decisions say
// now; a graceful-shutdown hold re-announces with the community instead.
TEST(VipAdverts, HoldKeepsTheVipsDownUntilRelease) {
  Harness h;
  const config::Config c = config::parse(kConfig, "nva.ini");
  h.start(c);
  FakeSink sink;
  std::vector<std::string> lines;
  VipAdverts v(&sink, [&lines](std::string line) { lines.push_back(line); });
  v.configure(h.backends.vips(), c, /*reload=*/false);
  const auto t0 = health::Clock::now();
  v.decide(t0, true, "", h.backends, c.service_health);
  ASSERT_EQ(sink.routes.size(), 2u);  // both healthy: announced

  EXPECT_EQ(v.hold(false, "maintenance: Reboot A1"), 2u);
  EXPECT_TRUE(sink.routes.empty());
  EXPECT_TRUE(v.held());
  const int sets = sink.sets;
  lines.clear();
  v.decide(t0 + std::chrono::seconds(1), false, "worker 0 stuck", h.backends,
           c.service_health);  // down: decided, logged, not applied
  EXPECT_EQ(sink.sets, sets);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("(maintenance: Reboot A1: not applied)"), std::string::npos)
      << lines[0];
  // Healthy again; the hold-down (1 s) keeps the decisions at withdraw.
  v.decide(t0 + std::chrono::seconds(2), true, "", h.backends, c.service_health);
  v.release();
  EXPECT_FALSE(v.held());
  EXPECT_TRUE(sink.routes.empty());  // what the decisions say now: withdrawn
  v.decide(t0 + std::chrono::seconds(4), true, "", h.backends, c.service_health);
  EXPECT_EQ(sink.routes.size(), 2u);  // back, and applied

  EXPECT_EQ(v.hold(true, "draining"), 2u);
  ASSERT_EQ(sink.routes.size(), 2u);
  for (const auto& [vip, a] : sink.routes) EXPECT_TRUE(a.graceful_shutdown);
}

}  // namespace
}  // namespace nva
