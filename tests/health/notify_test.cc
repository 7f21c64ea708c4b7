// systemd notification (controlplane/daemon/notify.h): READY only once every
// worker's heartbeat moved, STATUS on change, STOPPING once, WATCHDOG every
// half interval and never while a heartbeat stands still; and the real
// sd_notify() to a fake NOTIFY_SOCKET with WATCHDOG_USEC.
#include "controlplane/daemon/notify.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

namespace nva {
namespace {

using std::chrono::milliseconds;
using Beats = std::vector<std::uint64_t>;

struct Recorder {
  std::vector<std::string> sent;
  Notifier notifier{std::chrono::seconds(2),
                    [this](const std::string& m) { sent.push_back(m); }};
};

TEST(Notifier, ReadyOnlyOnceEveryWorkerRuns) {
  Recorder r;
  const auto t0 = Notifier::Clock::now();
  EXPECT_FALSE(r.notifier.tick(t0, {5, 9}, true, "2 workers"));
  EXPECT_FALSE(r.notifier.tick(t0 + milliseconds(10), {6, 9}, true, "2 workers"));
  EXPECT_TRUE(r.sent.empty());  // worker 1 has not moved yet
  EXPECT_FALSE(r.notifier.tick(t0 + milliseconds(20), {7, 10}, false, "2 workers"));
  EXPECT_TRUE(r.sent.empty());  // the daemon's part not started
  r.notifier.tick(t0 + milliseconds(30), {8, 11}, true, "2 workers");
  ASSERT_FALSE(r.sent.empty());
  EXPECT_EQ(r.sent[0], "READY=1\nSTATUS=2 workers");
  EXPECT_TRUE(r.notifier.ready());
}

TEST(Notifier, StatusWhenItChangesAndStoppingOnce) {
  Recorder r;
  const auto t0 = Notifier::Clock::now();
  r.notifier.tick(t0, {1}, true, "a");
  r.notifier.tick(t0 + milliseconds(10), {2}, true, "a");
  r.sent.clear();
  r.notifier.tick(t0 + milliseconds(20), {3}, true, "a");
  r.notifier.tick(t0 + milliseconds(30), {4}, true, "b");
  r.notifier.tick(t0 + milliseconds(40), {5}, true, "b");
  EXPECT_EQ(r.sent, (std::vector<std::string>{"STATUS=b"}));
  r.notifier.stopping("draining");
  r.notifier.stopping("draining again");
  r.notifier.tick(t0 + milliseconds(50), {6}, true, "c");  // no STATUS after stopping
  EXPECT_EQ(r.sent,
            (std::vector<std::string>{"STATUS=b", "STOPPING=1\nSTATUS=draining"}));
}

TEST(Notifier, WatchdogEveryHalfIntervalOnlyWhileHeartbeatsMove) {
  Recorder r;  // WatchdogSec 2 s: a ping at most every second
  const auto t0 = Notifier::Clock::now();
  std::uint64_t beat = 0;
  auto pings = [&r] {
    std::size_t n = 0;
    for (const auto& m : r.sent) n += m == "WATCHDOG=1";
    return n;
  };
  for (int ms = 0; ms <= 3000; ms += 10) {
    ++beat;
    EXPECT_FALSE(r.notifier.tick(t0 + milliseconds(ms), {beat, beat}, true, "s"));
  }
  // Ready at 10 ms with the first ping, then at 1010, 2010.
  EXPECT_EQ(pings(), 3u);
  // Worker 1 stalls: no ping past the one that was due, one log line,
  // however long it lasts.
  int lines = 0;
  const std::uint64_t stuck = beat;
  for (int ms = 3010; ms <= 6000; ms += 10) {
    ++beat;
    if (r.notifier.tick(t0 + milliseconds(ms), {beat, stuck}, true, "s")) ++lines;
  }
  // One more ping at 3010: worker 1 had moved between 2010 and its stall.
  EXPECT_EQ(pings(), 4u);
  EXPECT_EQ(lines, 1);
  // It moves again: pings resume at once, and say so.
  const auto back =
      r.notifier.tick(t0 + milliseconds(6010), {beat + 1, stuck + 1}, true, "s");
  ASSERT_TRUE(back);
  EXPECT_NE(back->find("pings again"), std::string::npos);
  EXPECT_EQ(pings(), 5u);
}

TEST(Notifier, NoWatchdogWithoutAnInterval) {
  std::vector<std::string> sent;
  Notifier n(std::chrono::microseconds(0),
             [&sent](const std::string& m) { sent.push_back(m); });
  const auto t0 = Notifier::Clock::now();
  for (int i = 0; i < 500; ++i)
    n.tick(t0 + milliseconds(10 * i), {std::uint64_t(i)}, true, "s");
  EXPECT_EQ(sent, (std::vector<std::string>{"READY=1\nSTATUS=s"}));
}

// libsystemd's sd_notify() to a datagram socket standing in for systemd's.
TEST(Notifier, FromTheEnvironmentTalksToNotifySocket) {
  const std::string path = "/tmp/nva-notify-test-" + std::to_string(getpid());
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  path.copy(a.sun_path, sizeof a.sun_path - 1);
  unlink(path.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setenv("NOTIFY_SOCKET", path.c_str(), 1);
  setenv("WATCHDOG_USEC", "400000", 1);
  setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);

  Notifier n = Notifier::from_environment();
  EXPECT_EQ(n.watchdog(), std::chrono::microseconds(400000));
  const auto t0 = Notifier::Clock::now();
  n.tick(t0, {1}, true, "1 workers");
  n.tick(t0 + milliseconds(10), {2}, true, "1 workers");
  n.stopping("draining");
  std::vector<std::string> got;
  char buf[512];
  for (int i = 0; i < 3; ++i) {
    const ssize_t k = recv(fd, buf, sizeof buf, 0);
    if (k <= 0) break;
    got.emplace_back(buf, static_cast<std::size_t>(k));
  }
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
  close(fd);
  unlink(path.c_str());
  EXPECT_EQ(got, (std::vector<std::string>{"READY=1\nSTATUS=1 workers", "WATCHDOG=1",
                                           "STOPPING=1\nSTATUS=draining"}));
}

}  // namespace
}  // namespace nva
