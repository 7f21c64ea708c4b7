// Azure maintenance (controlplane/daemon/maintenance.h): an event for this
// VM takes the VIPs down, the acknowledgement waits for the connections to
// go (or the drain time), a new event once drained is acknowledged at
// once, a failed acknowledgement is tried again, and the VIPs come back when
// no event concerns the VM; end to end through HTTP against a fake IMDS.
#include "controlplane/daemon/maintenance.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/health/fake_imds.h"

namespace nva {
namespace {

using azure::ScheduledEvent;
using azure::test::FakeImds;
using azure::test::run_until;
using std::chrono::milliseconds;

const char* kReboot = R"({"DocumentIncarnation": 3, "Events": [
  {"EventId": "A1", "EventType": "Reboot", "EventStatus": "Scheduled",
   "Resources": ["nva-a-1"], "NotBefore": "Mon, 19 Sep 2016 18:29:47 GMT"}]})";
const char* kNone = R"({"DocumentIncarnation": 4, "Events": []})";

struct World {
  boost::asio::io_context io;
  std::uint64_t active = 0;
  std::vector<std::string> holds, lines;
  int releases = 0;
  unsigned ack_status = 200;
  std::string document = kNone;
  FakeImds imds{io, [this](const FakeImds::Seen& s) -> std::pair<unsigned, std::string> {
                  if (s.method == "POST") return {ack_status, ""};
                  return {200, document};
                }};
  Maintenance m{io, config(), milliseconds(300),
                Maintenance::Hooks{[this](const std::string& why) {
                                     holds.push_back(why);
                                     return std::size_t{2};
                                   },
                                   [this] { ++releases; }, [this] { return active; },
                                   [this](const std::string& l) { lines.push_back(l); }}};

  azure::PollerConfig config() {
    azure::PollerConfig c = azure::test::config_for(imds);
    c.vm_name = "nva-a-1";
    return c;
  }
  std::vector<std::string> posts() const {
    std::vector<std::string> out;
    for (const auto& s : imds.seen)
      if (s.method == "POST") out.push_back(s.body);
    return out;
  }
  // Runs the io_context and the daemon's tick until `done()` (2 s at most).
  void run(const std::function<bool()>& done) {
    run_until(io, [&] {
      m.tick(Maintenance::Clock::now());
      return done();
    });
  }
};

ScheduledEvent event(std::string id, std::string type) {
  ScheduledEvent e;
  e.id = std::move(id);
  e.type = std::move(type);
  e.status = "Scheduled";
  e.resources = {"nva-a-1"};
  return e;
}

TEST(Maintenance, DrainsThenAcknowledgesThenReleasesWhenTheEventIsGone) {
  World w;
  w.active = 3;
  w.document = kReboot;
  w.m.start();
  w.run([&] { return !w.holds.empty(); });
  ASSERT_EQ(w.holds.size(), 1u);
  EXPECT_EQ(
      w.holds[0],
      "maintenance: Reboot A1 (Scheduled, not before Mon, 19 Sep 2016 18:29:47 GMT)");
  EXPECT_EQ(w.m.state(), Maintenance::State::kDraining);
  // Connections still there, drain time (300 ms) not up: no acknowledgement.
  const auto t0 = std::chrono::steady_clock::now();
  w.run([&] { return std::chrono::steady_clock::now() - t0 > milliseconds(100); });
  EXPECT_TRUE(w.posts().empty());
  w.active = 0;
  w.run([&] { return w.m.state() == Maintenance::State::kAcknowledged; });
  EXPECT_EQ(w.posts(),
            (std::vector<std::string>{R"({"StartRequests":[{"EventId":"A1"}]})"}));
  EXPECT_EQ(w.m.events(),
            (std::vector<std::string>{
                "Reboot A1 (Scheduled, not before Mon, 19 Sep 2016 18:29:47 GMT)"}));
  // The event stays listed: acknowledged once only.
  w.run([&] { return w.m.poller().polls >= 10; });
  EXPECT_EQ(w.posts().size(), 1u);
  EXPECT_EQ(w.releases, 0);
  // Gone (a Freeze that is over): back to the health decisions.
  w.document = kNone;
  w.run([&] { return w.releases == 1; });
  EXPECT_EQ(w.m.state(), Maintenance::State::kIdle);
  EXPECT_TRUE(w.m.events().empty());
  bool said = false;
  for (const auto& l : w.lines) said |= l.find("azure: maintenance over") == 0;
  EXPECT_TRUE(said);
}

TEST(Maintenance, AcknowledgesAtTheDrainTimeWithConnectionsLeft) {
  World w;
  w.active = 7;
  const auto t0 = Maintenance::Clock::now();
  w.m.on_events({event("P1", "Preempt")}, t0);
  w.run([&] { return !w.posts().empty(); });
  EXPECT_GE(Maintenance::Clock::now() - t0, milliseconds(300));
  w.run([&] { return w.m.state() == Maintenance::State::kAcknowledged; });
  bool counted = false;
  for (const auto& l : w.lines)
    counted |= l.find("with 7 connection(s) active") != std::string::npos;
  EXPECT_TRUE(counted);
}

TEST(Maintenance, ANewEventOnceDrainedIsAcknowledgedAtOnce) {
  World w;
  w.m.on_events({event("F1", "Freeze")}, Maintenance::Clock::now());
  w.run([&] { return w.m.state() == Maintenance::State::kAcknowledged; });
  w.m.on_events({event("F1", "Freeze"), event("R2", "Redeploy")},
                Maintenance::Clock::now());
  w.run([&] { return w.posts().size() == 2; });
  EXPECT_EQ(w.posts()[1], R"({"StartRequests":[{"EventId":"R2"}]})");
  EXPECT_EQ(w.holds.size(), 1u);  // held once
}

TEST(Maintenance, AFailedAcknowledgementIsTriedAgain) {
  World w;
  w.ack_status = 503;
  w.m.on_events({event("T1", "Terminate")}, Maintenance::Clock::now());
  w.run([&] { return w.posts().size() == 1; });
  EXPECT_EQ(w.m.state(), Maintenance::State::kDraining);
  w.ack_status = 200;
  w.run([&] { return w.m.state() == Maintenance::State::kAcknowledged; });
  EXPECT_EQ(w.posts().size(), 2u);
  bool said = false;
  for (const auto& l : w.lines)
    said |= l == "azure: acknowledging T1 failed (http 503); again in 1 s";
  EXPECT_TRUE(said);
}

}  // namespace
}  // namespace nva
