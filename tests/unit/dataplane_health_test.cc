// Data-plane health from samples: a stopped heartbeat after the watchdog
// time, a link down at once, buffers and handoff rings only when exhausted
// for a sustained time; every problem named.
#include <gtest/gtest.h>

#include "controlplane/health/dataplane_health.h"

namespace nva::health {
namespace {

using namespace std::chrono_literals;
using Clock = DataplaneHealth::Clock;

DataplaneSample sample(std::uint64_t hb0, std::uint64_t hb1) {
  DataplaneSample s;
  s.heartbeats = {hb0, hb1};
  s.links = {{"net_ring0", true}};
  s.mbufs_free = 1000;
  s.mbufs_total = 1000;
  return s;
}

TEST(DataplaneHealth, AStoppedHeartbeatIsUnhealthyAfterTheWatchdog) {
  DataplaneHealth h({});
  auto t = Clock::now();
  EXPECT_FALSE(h.update(sample(1, 1), t));
  EXPECT_TRUE(h.ok());
  std::uint64_t beat = 1;
  for (int i = 0; i < 10; ++i) {  // worker 1 stands still, worker 0 beats
    t += 10ms;
    EXPECT_FALSE(h.update(sample(++beat, 1), t)) << i;
  }
  t += 1ms;  // 101 ms
  EXPECT_TRUE(h.update(sample(++beat, 1), t));
  EXPECT_FALSE(h.ok());
  EXPECT_EQ(h.reason(), "worker 1 heartbeat stopped 101 ms ago");
  t += 10ms;
  EXPECT_TRUE(h.update(sample(++beat, 2), t));  // beats again
  EXPECT_TRUE(h.ok());
  EXPECT_EQ(h.reason(), "");
}

TEST(DataplaneHealth, LinkDownAtOnce) {
  DataplaneHealth h({});
  auto t = Clock::now();
  auto s = sample(1, 1);
  h.update(s, t);
  s.links.emplace_back("net_af_packet0", false);
  s.heartbeats = {2, 2};
  EXPECT_TRUE(h.update(s, t + 10ms));
  EXPECT_EQ(h.reason(), "port net_af_packet0 link down");
}

TEST(DataplaneHealth, BuffersMustStayExhaustedForASecond) {
  DataplaneHealth h({});
  auto t = Clock::now();
  std::uint64_t beat = 0;
  auto s = sample(0, 0);
  h.update(s, t);
  s.mbufs_free = 5;  // below 1 % of 1000
  int changed_at = -1;
  for (int i = 1; i <= 160; ++i) {  // 10 ms ticks, windows end every 10th
    t += 10ms;
    s.heartbeats = {++beat, beat};
    s.mbufs_free = i == 50 ? 500 : 5;  // one good sample at tick 50
    if (h.update(s, t) && changed_at < 0) changed_at = i;
  }
  EXPECT_FALSE(h.ok());
  EXPECT_EQ(h.reason(), "packet buffers exhausted (5 of 1000 free) for 1000 ms");
  // The good sample ends a run of 4 bad windows; ten more (ticks 51..150)
  // make it unhealthy.
  EXPECT_EQ(changed_at, 150);
}

TEST(DataplaneHealth, HandoffDropsInEveryWindowForASecond) {
  DataplaneHealth h({});
  auto t = Clock::now();
  std::uint64_t beat = 0;
  auto s = sample(0, 0);
  h.update(s, t);
  for (int i = 1; i <= 105; ++i) {
    t += 10ms;
    s.heartbeats = {++beat, beat};
    s.handoff_sent += 90;
    s.handoff_dropped += 10;  // 100 a window, 10 %
    h.update(s, t);
  }
  EXPECT_FALSE(h.ok());
  EXPECT_EQ(h.reason(), "handoff rings dropping 10 % of handed-off packets for 1000 ms");
  for (int i = 1; i <= 20; ++i) {  // drops stop: healthy within a window
    t += 10ms;
    s.heartbeats = {++beat, beat};
    h.update(s, t);
  }
  EXPECT_TRUE(h.ok());
}

// Drops that someone can cause by aiming packets at one worker, below the
// rate: a few per window whatever the traffic, or a large number that is a
// small share of what is handed off. Neither withdraws anything.
TEST(DataplaneHealth, HandoffDropsBelowTheRateAreNotAVerdict) {
  DataplaneHealth h({});
  auto t = Clock::now();
  std::uint64_t beat = 0;
  auto s = sample(0, 0);
  h.update(s, t);
  for (int i = 1; i <= 300; ++i) {
    t += 10ms;
    s.heartbeats = {++beat, beat};
    if (i <= 150) {
      s.handoff_dropped += 6;  // 60 a window: under handoff_min_drops, at 100 %
    } else {
      s.handoff_sent += 100000;
      s.handoff_dropped += 90;  // 900 a window: under 1 % of a million
    }
    h.update(s, t);
    ASSERT_TRUE(h.ok()) << "tick " << i << ": " << h.reason();
  }
}

TEST(DataplaneHealth, EveryProblemIsNamed) {
  DataplaneHealth h({});
  auto t = Clock::now();
  auto s = sample(1, 1);
  h.update(s, t);
  s.links[0].second = false;
  h.update(s, t + 150ms);
  EXPECT_EQ(
      h.reason(),
      "worker 0 heartbeat stopped 150 ms ago; worker 1 heartbeat stopped 150 ms ago; "
      "port net_ring0 link down");
}

}  // namespace
}  // namespace nva::health
