// The /nva/ commands end to end: DPDK's telemetry socket, nvactl, dpdk-telemetry.py.
#include <gtest/gtest.h>
#include <rte_eal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "controlplane/api/telemetry.h"
#include "tests/support/eal.h"
#include "tests/support/wait.h"

namespace nva::api {
namespace {

using json = nlohmann::json;

std::string socket_path() {
  return std::string(rte_eal_get_runtime_dir()) + "/dpdk_telemetry.v2";
}

// A telemetry client, as dpdk-telemetry.py does it: SOCK_SEQPACKET, read the
// info message, then one message per command.
class TelClient {
 public:
  explicit TelClient(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_SEQPACKET, 0);
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path.c_str());
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&sun), sizeof(sun)) != 0) {
      error_ = std::string("connect ") + path + ": " + std::strerror(errno);
      return;
    }
    info_ = read();
  }
  ~TelClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  TelClient(const TelClient&) = delete;
  TelClient& operator=(const TelClient&) = delete;

  const std::string& error() const { return error_; }
  const json& info() const { return info_; }

  json request(const std::string& cmd) {
    if (::send(fd_, cmd.data(), cmd.size(), 0) != static_cast<ssize_t>(cmd.size())) {
      return json{{"client_error", "send failed"}};
    }
    return read();
  }

 private:
  json read() {
    std::string buf(1 << 16, '\0');
    const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n <= 0) return json{{"client_error", "recv failed"}};
    buf.resize(static_cast<std::size_t>(n));
    raw_ = buf;
    return json::parse(buf);  // throws (fails the test) on invalid JSON
  }

  int fd_ = -1;
  std::string error_;
  std::string raw_;
  json info_;
};

// Runs a shell command; returns its exit status and stdout (stderr with 2>&1).
std::pair<int, std::string> run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string nvactl(const std::string& args) {
  return std::string("/usr/bin/python3 ") + NVA_SOURCE_ROOT +
         "/scripts/nvactl --socket " + socket_path() + " " + args;
}

const json kWorkers = {{"0", {{"lcore", 1}, {"rx", 1000}, {"tx", 990}, {"drops", 10}}},
                       {"1", {{"lcore", 2}, {"rx", 2000}, {"tx", 1990}, {"drops", 0}}}};

const json kBackends =
    json::array({json{{"service", "web"}, {"address", "10.1.0.4"}, {"healthy", true}},
                 json{{"service", "api"}, {"address", "10.1.0.5"}, {"healthy", true}},
                 json{{"service", "web"}, {"address", "10.1.0.6"}, {"healthy", false}}});

class TelemetrySocket : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(test::EalEnvironment::running());
    ASSERT_TRUE(std::filesystem::exists(socket_path()))
        << socket_path() << ": EAL did not start telemetry";
  }
};

TEST_F(TelemetrySocket, InfoMessageAndPublishedWorkers) {
  Telemetry t;
  t.publish("/nva/workers", kWorkers);
  TelClient c(socket_path());
  ASSERT_EQ(c.error(), "");
  EXPECT_EQ(c.info()["max_output_len"], kTelMaxOutputBytes);
  EXPECT_EQ(c.request("/nva/workers"), (json{{"/nva/workers", kWorkers}}));

  // Publishing replaces the snapshot.
  json next = kWorkers;
  next["0"]["rx"] = 1001;
  t.publish("/nva/workers", next);
  EXPECT_EQ(c.request("/nva/workers")["/nva/workers"]["0"]["rx"], 1001);
}

TEST_F(TelemetrySocket, ServedAnswerIsTelShape) {
  Telemetry t;
  const json doc = {
      {"vip", "192.0.2.10"},
      {"ports", {80, 443}},
      {"snat", true},
      {"neg", -7},
      {"ratio", 0.5},
      {"long", std::string(400, 'L')},
      {"odd.key", "x\x01y"},
      {"backend",
       {{"address", "10.1.0.4"},
        {"weights", {1, 2, json::array({3})}},
        {"tags", {"a", "b"}}}},
  };
  t.publish("/nva/services", doc);
  TelClient c(socket_path());
  const json r = c.request("/nva/services")["/nva/services"];
  EXPECT_EQ(r, tel_shape(doc));
  EXPECT_EQ(r["backend"]["weights"], "[1,2,[3]]");
  EXPECT_EQ(r["odd_key"], "xy");

  // Too big for DPDK's 16 KiB answer: still valid JSON, and marked.
  json big = json::object();
  for (int i = 0; i < 250; ++i) {
    big["svc" + std::to_string(i)] = {{"vip", "192.0.2." + std::to_string(i % 250)},
                                      {"name", std::string(90, 'n')}};
  }
  t.publish("/nva/services", big);
  const json rb = c.request("/nva/services")["/nva/services"];
  EXPECT_EQ(rb[kTelTruncatedKey], 1);
  EXPECT_EQ(rb, tel_shape(big));

  // An array of objects is served keyed by index.
  t.publish("/nva/services", kBackends);
  EXPECT_EQ(c.request("/nva/services")["/nva/services"]["2"]["address"], "10.1.0.6");
}

TEST_F(TelemetrySocket, BackendsFilteredByService) {
  Telemetry t;
  t.publish("/nva/backends", kBackends);
  TelClient c(socket_path());
  const json all = c.request("/nva/backends")["/nva/backends"];
  EXPECT_EQ(all.size(), 3u);
  const json web = c.request("/nva/backends,web")["/nva/backends"];
  ASSERT_EQ(web.size(), 2u);
  EXPECT_EQ(web["0"]["address"], "10.1.0.4");
  EXPECT_EQ(web["1"]["address"], "10.1.0.6");
  EXPECT_EQ(c.request("/nva/backends,nosuch")["/nva/backends"], json::array());

  // A dict of backends filters the same way.
  t.publish("/nva/backends", {{"b1", kBackends[0]}, {"b2", kBackends[1]}});
  EXPECT_EQ(c.request("/nva/backends,api")["/nva/backends"],
            (json{{"b2", tel_shape(kBackends[1])}}));

  // Commands without a filter refuse parameters.
  EXPECT_TRUE(c.request("/nva/workers,x")["/nva/workers"].contains("error"));
}

TEST_F(TelemetrySocket, DrainRunsTheHandler) {
  Telemetry t;
  std::atomic<int> calls{0};
  std::mutex mu;
  std::string got;
  t.on_command(
      "/nva/drain",
      [&](const std::string& params) {
        ++calls;
        std::lock_guard lock(mu);
        got = params;
        return json{{"draining", true}, {"requested", params}};
      },
      "drain");
  TelClient c(socket_path());
  EXPECT_EQ(c.request("/nva/drain,on"),
            (json{{"/nva/drain", {{"draining", 1}, {"requested", "on"}}}}));
  EXPECT_EQ(calls.load(), 1);
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(got, "on");
  }
  EXPECT_EQ(c.request("/nva/drain")["/nva/drain"]["requested"], "");

  t.on_command(
      "/nva/drain", [](const std::string&) -> json { throw std::runtime_error("busy"); },
      "drain");
  EXPECT_EQ(c.request("/nva/drain"), (json{{"/nva/drain", {{"error", "busy"}}}}));
}

TEST_F(TelemetrySocket, UnpublishedCommandAnswersEmptyDict) {
  Telemetry t;
  TelClient c(socket_path());
  for (const auto& cmd : builtin_commands()) {
    EXPECT_EQ(c.request(cmd.path), (json{{cmd.path, json::object()}})) << cmd.path;
  }
}

TEST_F(TelemetrySocket, RootListsEachNvaCommandOnce) {
  Telemetry a;
  Telemetry b;  // a second instance must not register again
  b.publish("/nva/extra_thing", json{{"x", 1}});
  TelClient c(socket_path());
  const json list = c.request("/")["/"];
  ASSERT_TRUE(list.is_array());
  for (const auto& cmd : builtin_commands()) {
    EXPECT_EQ(std::count(list.begin(), list.end(), cmd.path), 1) << cmd.path;
    const json help = c.request(std::string("/help,") + cmd.path)["/help"];
    EXPECT_EQ(help[cmd.path], cmd.help);
  }
  EXPECT_EQ(std::count(list.begin(), list.end(), "/nva/extra_thing"), 1);
  EXPECT_THROW(b.publish("/nva/bad-name", json{}), std::invalid_argument);
  EXPECT_THROW(b.publish("nva/x", json{}), std::invalid_argument);
}

TEST_F(TelemetrySocket, LatestInstanceServesThenShutdownAnswersError) {
  TelClient c(socket_path());
  {
    Telemetry a;
    a.publish("/nva/info", {{"state", "a"}});
    {
      Telemetry b;
      b.publish("/nva/info", {{"state", "b"}});
      EXPECT_EQ(c.request("/nva/info")["/nva/info"]["state"], "b");
    }
    EXPECT_EQ(c.request("/nva/info")["/nva/info"]["state"], "a");
  }
  EXPECT_TRUE(c.request("/nva/info")["/nva/info"].contains("error"));
}

TEST_F(TelemetrySocket, DestructorWaitsForARunningHandler) {
  auto t = std::make_unique<Telemetry>();
  std::promise<void> entered;
  std::promise<void> release;
  auto release_f = release.get_future().share();
  t->on_command(
      "/nva/drain",
      [&entered, release_f](const std::string&) {
        entered.set_value();
        release_f.wait();
        return json{{"ok", 1}};
      },
      "drain");
  auto answer = std::async(std::launch::async, [] {
    TelClient c(socket_path());
    return c.request("/nva/drain");
  });
  entered.get_future().wait();
  std::atomic<bool> destroyed{false};
  std::thread killer([&] {
    t.reset();
    destroyed = true;
  });
  // Still waiting for the handler, for as long as we look (100 ms).
  EXPECT_TRUE(
      test::holds_for([&] { return !destroyed.load(); }, std::chrono::milliseconds(100)));
  release.set_value();
  killer.join();
  EXPECT_TRUE(destroyed.load());
  EXPECT_EQ(answer.get(), (json{{"/nva/drain", {{"ok", 1}}}}));
}

TEST_F(TelemetrySocket, NvactlShowsAndDrains) {
  Telemetry t;
  t.publish("/nva/workers", kWorkers);
  t.publish("/nva/backends", kBackends);
  std::atomic<int> drains{0};
  t.on_command(
      "/nva/drain",
      [&](const std::string&) {
        ++drains;
        return json{{"draining", true}};
      },
      "drain");

  auto [rc, out] = run(nvactl("--json show workers"));
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(json::parse(out), kWorkers);

  std::tie(rc, out) = run(nvactl("--json show backends web"));
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(json::parse(out).size(), 2u);

  std::tie(rc, out) = run(nvactl("show workers"));
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("COUNTER"), std::string::npos) << out;
  EXPECT_NE(out.find("1990"), std::string::npos) << out;

  std::tie(rc, out) = run(nvactl("show backends"));
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("10.1.0.6"), std::string::npos) << out;

  std::tie(rc, out) = run(nvactl("drain"));
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(drains.load(), 1);

  std::tie(rc, out) = run(nvactl("--json raw /nva/health"));
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(json::parse(out), json::object());

  std::tie(rc, out) = run(nvactl("commands"));
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("/nva/bgp/routes"), std::string::npos) << out;
}

// /nva/workers as the daemon publishes it: each worker's non-zero drops as
// drop_<reason> fields (docs/TELEMETRY.md). nvactl shows one column per
// worker, one row per counter, the drops last with 0 where a worker has none.
TEST_F(TelemetrySocket, NvactlShowsWorkersDropsByName) {
  const json workers = {
      {"0",
       {{"rx", 5000},
        {"dropped", 4100},
        {"evicted_embryonic", 7},
        {"drop_l4_bad_checksum", 4096},
        {"drop_tcp_out_of_window", 4}}},
      {"1",
       {{"rx", 10}, {"dropped", 3}, {"evicted_embryonic", 0}, {"drop_table_full", 3}}}};
  Telemetry t;
  t.publish("/nva/workers", workers);
  auto [rc, out] = run(nvactl("--json show workers"));
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(json::parse(out), workers);
  std::tie(rc, out) = run(nvactl("show workers"));
  ASSERT_EQ(rc, 0) << out;
  const std::string expected =
      "COUNTER                 0     1\n"
      "dropped                 4100  3\n"
      "evicted_embryonic       7     0\n"
      "rx                      5000  10\n"
      "drop_l4_bad_checksum    4096  0\n"
      "drop_table_full         0     3\n"
      "drop_tcp_out_of_window  4     0\n";
  EXPECT_EQ(out, expected);
}

TEST_F(TelemetrySocket, NvactlSaysWhichSocketIsMissing) {
  const std::string missing =
      "/var/run/dpdk/nva-no-such-prefix-" + std::to_string(::getpid());
  auto [rc, out] = run(std::string("/usr/bin/python3 ") + NVA_SOURCE_ROOT +
                       "/scripts/nvactl --file-prefix nva-no-such-prefix-" +
                       std::to_string(::getpid()) + " show info 2>&1");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find(missing + "/dpdk_telemetry.v2"), std::string::npos) << out;
  EXPECT_NE(out.find("--no-telemetry"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(missing));
}

TEST_F(TelemetrySocket, DpdkTelemetryPyReadsNvaCommands) {
  const char* script = "/usr/bin/dpdk-telemetry.py";
  if (!std::filesystem::exists(script)) GTEST_SKIP() << script << " is not installed";
  Telemetry t;
  t.publish("/nva/info", {{"version", "0.1.0"}, {"state", "running"}});
  auto [rc, out] = run("printf '/nva/info\\n' | /usr/bin/python3 " + std::string(script) +
                       " -f " + test::EalEnvironment::file_prefix());
  ASSERT_EQ(rc, 0) << out;
  // Non-interactive: one JSON line per command.
  const auto last = out.find_last_of('{', out.rfind("/nva/info"));
  ASSERT_NE(last, std::string::npos) << out;
  EXPECT_EQ(json::parse(out.substr(last)),
            (json{{"/nva/info", {{"version", "0.1.0"}, {"state", "running"}}}}));
}

}  // namespace
}  // namespace nva::api
