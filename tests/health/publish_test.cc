// The /nva/ documents (controlplane/daemon/publish.h) from known inputs:
// every counter by name, drops as non-zero drop_<reason> fields with their
// sum, SNAT exhaustion per worker, services and backends with probe state.
#include "controlplane/daemon/publish.h"

#include <gtest/gtest.h>

#include <utility>  // before Asio: Debian's Boost uses std::exchange without it

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <string>

#include "controlplane/daemon/backends.h"
#include "dataplane/dataplane.h"

namespace nva {
namespace {

TEST(Publish, WorkersCarryEveryCounterAndTheirNonZeroDrops) {
  DataPlaneSnapshot s;
  s.workers.push_back({{{"rx", 7}, {"tx", 5}, {"syn_cookies_sent", 0}},
                       {{"table_full", 0}, {"l4_bad_checksum", 2}, {"tx_full", 1}}});
  s.workers.push_back({{{"rx", 1}, {"tx", 1}, {"syn_cookies_sent", 4}},
                       {{"table_full", 0}, {"l4_bad_checksum", 0}, {"tx_full", 0}}});
  const nlohmann::json w = workers_json(s);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w["0"]["rx"], 7);
  EXPECT_EQ(w["0"]["syn_cookies_sent"], 0);  // counters: zeros included
  EXPECT_EQ(w["1"]["syn_cookies_sent"], 4);
  EXPECT_EQ(w["0"]["drop_l4_bad_checksum"], 2);
  EXPECT_EQ(w["0"]["drop_tx_full"], 1);
  EXPECT_FALSE(w["0"].contains("drop_table_full"));  // drops: non-zero only
  EXPECT_EQ(w["0"]["dropped"], 3);
  EXPECT_EQ(w["1"]["dropped"], 0);
  EXPECT_EQ(w["1"].size(), 4u);  // rx, tx, syn_cookies_sent, dropped
}

TEST(Publish, SnatExhaustionPerWorker) {
  DataPlaneSnapshot s;
  s.snat_exhaustion = {{}, {{0xC6120301, 443, 0xC6120101, 9, 2}}};
  const nlohmann::json j = snat_json(s);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["worker"], 1);
  EXPECT_EQ(j[0]["backend"], "198.18.3.1:443");
  EXPECT_EQ(j[0]["snat"], "198.18.1.1");
  EXPECT_EQ(j[0]["exhausted"], 9);
  EXPECT_EQ(j[0]["error"], 2);
}

TEST(Publish, ServicesAndBackendsWithTheirProbes) {
  boost::asio::io_context io;
  Backends b(
      io, [](const char*, const std::function<void()>& f) { f(); },
      [](std::string, std::string) {});
  const config::Config c = config::parse(R"(
[service.web]
vip = 198.18.0.10
port = 80
mode = dnat+snat
snat = 198.18.1.1
backend = 198.18.2.1:8080 weight=3
probe = none
)",
                                         "nva.ini");
  b.install(b.plan(c));
  const auto now = std::chrono::steady_clock::now();
  ServicesJson before = services_json(b, c.service_health, now);
  ASSERT_EQ(before.backends.size(), 1u);
  EXPECT_EQ(before.backends[0]["state"], "unknown");
  EXPECT_EQ(before.backends[0]["last_change_s"], -1);
  for (int i = 0; i < 100 && !b.probes()[0].healthy; ++i) {
    io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
  const ServicesJson j = services_json(b, c.service_health, now);
  ASSERT_EQ(j.services.size(), 1u);
  EXPECT_EQ(j.services[0]["name"], "web");
  EXPECT_EQ(j.services[0]["vip"], "198.18.0.10");
  EXPECT_EQ(j.services[0]["mode"], "dnat+snat");
  EXPECT_EQ(j.services[0]["snat"], 1);
  EXPECT_EQ(j.services[0]["healthy"], 1);
  EXPECT_EQ(j.services[0]["min_healthy"], 1);
  ASSERT_EQ(j.backends.size(), 1u);
  EXPECT_EQ(j.backends[0]["address"], "198.18.2.1");
  EXPECT_EQ(j.backends[0]["port"], 8080);
  EXPECT_EQ(j.backends[0]["weight"], 3);
  EXPECT_EQ(j.backends[0]["state"], "up");
  EXPECT_EQ(j.backends[0]["probe"], "none");
}

}  // namespace
}  // namespace nva
